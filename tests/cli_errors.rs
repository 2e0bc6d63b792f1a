//! What a person reads when a command fails: one line that says what went
//! wrong and why, each part once.
//!
//! The binary prints an error with its causes (`{:#}`), so an error that both
//! shows its cause and chains it would say the cause twice ("Connection
//! refused (os error 111): Connection refused (os error 111)"). Every
//! command's error paths that can be reached cheaply (a closed port, a
//! missing or bad file, an unknown node, a bad address) are run here.

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::util::{convene, eventually_blocking, ready, write};

/// Runs `convene args` in `dir` with `input` on standard input and returns
/// how it ended. A command that should fail but runs on (a node that
/// started after all) is killed after a while, failing the test.
fn run(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = convene()
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    // Killed if it runs on; the panic fails the test.
    let what = format!("convene {args:?} to end");
    let mut child = KillOnDrop(Some(child));
    eventually_blocking(Duration::from_secs(60), &what, || {
        let child = child.0.as_mut().unwrap();
        ready(child.try_wait().unwrap().is_some(), "still running")
    });
    child.0.take().unwrap().wait_with_output().unwrap()
}

/// A child process killed if the test fails while it runs.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The line `convene` failed with (`convene: …`), checked: it says `cause`
/// exactly once, and no part of it (between `": "`) twice.
fn fails_saying_once(dir: &Path, args: &[&str], input: &str, cause: &str) -> String {
    let out = run(dir, args, input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "convene {args:?}: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("convene: ") && !l.starts_with("convene: warning"))
        .unwrap_or_else(|| panic!("convene {args:?} printed no error: {stderr}"))
        .to_string();
    assert_eq!(line.matches(cause).count(), 1, "{cause:?} once in: {line}");
    let parts: Vec<&str> = line.split(": ").collect();
    for (i, part) in parts.iter().enumerate() {
        assert!(!parts[..i].contains(part), "{part:?} said twice in: {line}");
    }
    line
}

/// A port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes `cluster.toml` in `dir`: one node, `a`, with `extra` lines.
fn cluster_file(dir: &Path, extra: &str) {
    let text = format!("[[node]]\nid = \"a\"\nhost = \"127.0.0.1\"\npeer_port = 0\n{extra}");
    write(dir, "cluster.toml", &text);
}

/// `convene node` for node `a` of `cluster.toml`.
const NODE_A: [&str; 5] = ["node", "--config", "cluster.toml", "--id", "a"];

#[test]
fn clients_that_cannot_connect_say_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server = format!("127.0.0.1:{}", closed_port());
    let line = fails_saying_once(
        d,
        &["meet", "--server", &server, "alice"],
        "",
        "Connection refused",
    );
    assert!(
        line.contains(&format!("cannot reach the Main Server at {server}")),
        "{line}"
    );
    let line = fails_saying_once(
        d,
        &["chat", "--server", &server, "--identity", "Adel"],
        "",
        "Connection refused",
    );
    assert!(
        line.contains(&format!("cannot connect to the chat server {server}")),
        "{line}"
    );
    let url = format!("http://{server}");
    let line = fails_saying_once(
        d,
        &["login", "--server", &url, "--user", "ada"],
        "password1\n",
        "Connection refused",
    );
    assert!(line.contains(&format!("cannot reach {url}")), "{line}");
}

#[test]
fn clients_given_a_bad_address_say_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for command in [
        &["meet", "alice"][..],
        &["chat", "--identity", "Adel"],
        &["book", "query", "--facility", "Room"],
    ] {
        let mut args = vec![command[0], "--server", "not an address"];
        args.extend(&command[1..]);
        fails_saying_once(d, &args, "", "invalid socket address");
    }
    for command in ["status", "login"] {
        fails_saying_once(d, &[command, "--server", "ftp://x:1"], "", "expected a URL");
    }
}

#[test]
fn commands_given_a_missing_cluster_file_say_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["node", "--config", "missing.toml", "--id", "a"][..],
        &["up", "--config", "missing.toml"],
        &["status", "--config", "missing.toml"],
        &["files", "ls", "--config", "missing.toml"],
    ] {
        let line = fails_saying_once(d, args, "", "No such file or directory");
        assert!(
            line.contains("missing.toml: cannot read the cluster file"),
            "{line}"
        );
    }
    let line = fails_saying_once(
        d,
        &["node", "--chat-config", "missing.txt", "--id", "s1"],
        "",
        "No such file or directory",
    );
    assert!(line.contains("missing.txt"), "{line}");
}

#[test]
fn the_operator_who_cannot_reach_the_web_front_is_told_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    convene_cluster::ClusterSecret::create_file(&d.join("cluster.secret")).unwrap();
    let port = closed_port();
    let text = format!(
        "secret_file = \"cluster.secret\"\n[[node]]\nid = \"a\"\nhost = \"127.0.0.1\"\n\
         peer_port = 1\nhttp_port = {port}\n"
    );
    write(d, "cluster.toml", &text);
    for args in [
        &["status", "--config", "cluster.toml"][..],
        &["files", "ls", "--config", "cluster.toml"],
    ] {
        let line = fails_saying_once(d, args, "", "Connection refused");
        assert!(
            line.contains(&format!("cannot reach http://127.0.0.1:{port}")),
            "{line}"
        );
    }
}

#[test]
fn a_node_that_cannot_start_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cluster_file(d, "");
    let line = fails_saying_once(
        d,
        &["node", "--config", "cluster.toml", "--id", "zz"],
        "",
        "no node with id \"zz\"",
    );
    assert!(line.contains("(the file declares a)"), "{line}");

    // A bad availability file: the meet service refuses it.
    write(d, "a.txt", "alice;[[2,1]]\n");
    cluster_file(
        d,
        "client_port = 0\n[node.meet]\navailability = \"a.txt\"\n",
    );
    let line = fails_saying_once(d, &NODE_A, "", "the start must be less than the end");
    assert!(line.contains("node a: a.txt:1:"), "{line}");

    // A port another program holds.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    cluster_file(d, &format!("client_port = {port}\n"));
    let line = fails_saying_once(d, &NODE_A, "", "Address already in use");
    assert!(
        line.contains(&format!("cannot bind client_port (TCP) 127.0.0.1:{port}")),
        "{line}"
    );
    drop(held);

    // A file where the data directory should be.
    write(d, "in-the-way", "");
    cluster_file(d, "data_dir = \"in-the-way/a\"\n");
    let line = fails_saying_once(d, &NODE_A, "", "Not a directory");
    assert!(line.contains("cannot create the data directory"), "{line}");

    // A certificate that is not there.
    cluster_file(
        d,
        "http_port = 0\ntls_cert = \"missing.crt\"\ntls_key = \"missing.key\"\n",
    );
    let line = fails_saying_once(d, &NODE_A, "", "No such file or directory");
    assert!(line.contains("cannot read tls_cert"), "{line}");

    // A screen mode that does not exist, on the command line or in the file.
    cluster_file(d, "");
    let mut args = NODE_A.to_vec();
    args.extend(["--screen", "loud"]);
    let out = run(d, &args, "");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("is not a screen mode: use \"seed\", \"summary\" or \"quiet\""),
        "{said}"
    );
    cluster_file(d, "");
    let file = std::fs::read_to_string(d.join("cluster.toml")).unwrap();
    write(d, "cluster.toml", &format!("screen = \"loud\"\n{file}"));
    fails_saying_once(d, &NODE_A, "", "is not a screen mode");

    // `convene up` starts the same nodes in one process.
    write(d, "a.txt", "alice;[[2,1]]\n");
    cluster_file(
        d,
        "client_port = 0\n[node.meet]\navailability = \"a.txt\"\n",
    );
    let line = fails_saying_once(
        d,
        &["up", "--config", "cluster.toml"],
        "",
        "the start must be less than the end",
    );
    assert!(
        line.contains("the cluster did not start: node a: a.txt:1:"),
        "{line}"
    );
}

#[test]
fn a_benchmark_whose_database_cannot_be_reached_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://postgres@127.0.0.1:{}/none", closed_port());
    let line = fails_saying_once(
        dir.path(),
        &[
            "bench",
            "events",
            "--database-url",
            &url,
            "--users",
            "1",
            "--seconds",
            "0",
            "--participants",
            "0",
            "--renders",
            "0",
        ],
        "",
        "Connection refused",
    );
    assert!(line.contains(&format!("cannot connect to {url}")), "{line}");
}
