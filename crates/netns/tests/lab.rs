//! A lab's namespaces and links exist while it lives, a cut takes a host's
//! link off the bridge and a heal puts it back, and nothing is left once it
//! is dropped, after a panic too. (That nodes in a lab talk, and stop
//! talking when cut, is the partition test's business: tests/partition_netns.rs.)
//!
//! Skipped where labs cannot be made (not root, no `ip`), or failed under
//! `CONVENE_REQUIRE_NETNS=1`.

use std::process::Command;

use convene_netns::Lab;

fn available(test: &str) -> bool {
    match convene_netns::available() {
        Ok(()) => true,
        Err(why) => {
            assert!(
                std::env::var("CONVENE_REQUIRE_NETNS").as_deref() != Ok("1"),
                "{test}: {why}, and CONVENE_REQUIRE_NETNS=1 requires it"
            );
            eprintln!("skipped: {test}: {why}");
            false
        }
    }
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn namespaces() -> String {
    ip(&["netns", "list"])
}

/// The bridge port of host `i`, as `ip` shows it from the bridge's namespace.
fn port(lab: &Lab, i: usize) -> String {
    let bridge = lab.namespace(0).replace("-h0", "-br");
    ip(&["-n", &bridge, "link", "show", &format!("h{i}")])
}

#[test]
fn a_lab_cuts_and_heals_hosts_and_leaves_nothing_behind() {
    if !available("a_lab_cuts_and_heals_hosts_and_leaves_nothing_behind") {
        return;
    }
    let lab = Lab::new(2).unwrap();
    let names = [lab.namespace(0), lab.namespace(1)];
    let list = namespaces();
    assert!(names.iter().all(|n| list.contains(n.as_str())), "{list}");
    let eth0 = ip(&["-n", &names[1], "addr", "show", "eth0"]);
    assert!(eth0.contains(&format!("{}/24", lab.host_ip(1))), "{eth0}");
    // The host's address is reached over its client link from here.
    let route = ip(&["route", "get", &lab.host_ip(1).to_string()]);
    assert!(route.contains("cv"), "{route}");
    // Commands run inside the host.
    let inside = lab.command(1, "ip").args(["-o", "addr"]).output().unwrap();
    assert!(String::from_utf8_lossy(&inside.stdout).contains(&lab.host_ip(1).to_string()));

    assert!(port(&lab, 1).contains("master br0"));
    lab.cut(1).unwrap();
    assert!(lab.is_cut(1) && !lab.is_cut(0));
    assert!(!port(&lab, 1).contains("master br0"), "{}", port(&lab, 1));
    assert!(port(&lab, 0).contains("master br0"));
    lab.heal(1).unwrap();
    assert!(!lab.is_cut(1));
    assert!(port(&lab, 1).contains("master br0"));

    drop(lab);
    let list = namespaces();
    assert!(names.iter().all(|n| !list.contains(n.as_str())), "{list}");
}

#[test]
fn a_lab_is_removed_when_its_owner_panics() {
    if !available("a_lab_is_removed_when_its_owner_panics") {
        return;
    }
    let made = std::thread::spawn(|| {
        let lab = Lab::new(1).unwrap();
        let name = lab.namespace(0);
        std::panic::panic_any(name);
    })
    .join()
    .unwrap_err();
    let name = made.downcast::<String>().unwrap();
    assert!(!namespaces().contains(name.as_str()), "{name} left behind");
}
