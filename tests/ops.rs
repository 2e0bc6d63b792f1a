//! What an operator runs around a cluster: `convene --version`, the health
//! endpoints a load balancer or systemd asks, and `convene check` before a
//! start.

use std::path::Path;
use std::time::Duration;

use convene_web::client::HttpClient;

use crate::util::{SPEC_B, TestCluster, convene, eventually, plain, ready, web, write};

/// `--version` names the version and the commit, so a bug report says which
/// code it is about.
#[test]
fn version_names_the_version_and_the_commit() {
    let output = convene().arg("--version").output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text.trim();
    assert!(
        line.starts_with(&format!("convene {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{line:?}"
    );
    let commit = line
        .rsplit_once("(commit ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no commit in {line:?}"));
    // A short hash from git, or `unknown` for a build outside a checkout.
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit:?}"
    );
}

/// A of three nodes has the web front; B and C only take part in the
/// membership.
async fn three_nodes() -> TestCluster {
    TestCluster::bind(&[web("A"), plain("B"), plain("C")]).await
}

fn front(c: &TestCluster) -> HttpClient {
    HttpClient::new(c.cluster.node("A").unwrap().http_addr().unwrap())
}

/// `GET /readyz` until its status is `want`; returns the last JSON.
async fn readyz_until(c: &TestCluster, want: u16) -> serde_json::Value {
    let what = format!("/readyz to answer {want}");
    eventually(Duration::from_secs(15), &what, || async {
        let r = front(c).get("/readyz").await.map_err(|e| e.to_string())?;
        let json = r.json().map_err(|e| e.to_string())?;
        ready(r.status == want, format!("{} {json}", r.status))?;
        Ok::<_, String>(json)
    })
    .await
}

/// `/healthz` answers `ok` without a login; `/readyz` is `200` on a
/// healthy cluster, and `503` naming why once the node's peers are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_peers_and_healthz_the_process() {
    let mut c = three_nodes().await;
    for id in ["A", "B", "C"] {
        c.start_node(id).await;
    }
    let r = front(&c).get("/healthz").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text().trim(), "ok");
    assert!(
        r.header("content-type").unwrap().starts_with("text/plain"),
        "{r:?}"
    );

    let json = readyz_until(&c, 200).await;
    assert_eq!(json["ready"], true, "{json}");
    assert_eq!(json["node"], "A", "{json}");
    assert!(json["coordinator"].is_string(), "{json}");
    assert_eq!(json["reasons"], serde_json::json!([]), "{json}");

    c.stop_node("B").await;
    c.stop_node("C").await;
    let json = readyz_until(&c, 503).await;
    assert_eq!(json["ready"], false, "{json}");
    let error = json["error"].as_str().unwrap();
    assert!(error.contains("no peer heard from"), "{json}");
    assert_eq!(json["live"], serde_json::json!(["A"]), "{json}");
    // Alive all the same: a supervisor must not restart it for this.
    assert_eq!(front(&c).get("/healthz").await.unwrap().status, 200);

    // B back: ready again.
    c.start_node("B").await;
    readyz_until(&c, 200).await;
    c.stop().await;
}

/// A node started while its peers are absent is alive but not ready: it
/// hears nobody and knows no coordinator it could reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_peers_are_absent_is_not_ready() {
    let mut c = three_nodes().await;
    c.start_node("A").await;
    assert_eq!(front(&c).get("/healthz").await.unwrap().status, 200);
    let r = front(&c).get("/readyz").await.unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    let json = r.json().unwrap();
    assert_eq!(json["ready"], false, "{json}");
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("no peer heard from"),
        "{json}"
    );
    // Still so once its election has run its course alone.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = front(&c).get("/readyz").await.unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    c.stop().await;
}

/// Runs `convene check` in `dir` with `args`; returns its exit code and
/// what it printed on standard output.
fn check(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = convene()
        .arg("check")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    (output.status.code(), stdout)
}

/// A file that would start: exit 0, and every node listed with what it
/// runs.
#[test]
fn check_passes_a_good_file_and_lists_the_services() {
    let dir = tempfile::tempdir().unwrap();
    convene_cluster::ClusterSecret::create_file(&dir.path().join("cluster.secret")).unwrap();
    write(dir.path(), "b.txt", SPEC_B);
    write(
        dir.path(),
        "cluster.toml",
        "secret_file = \"cluster.secret\"\n\
         [[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\nclient_port = 0\nhttp_port = 0\n\
         [[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = 0\n\
         [node.meet]\navailability = \"b.txt\"\n",
    );
    let (code, out) = check(dir.path(), &["--config", "cluster.toml"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("A (peer 127.0.0.1:0, checked here): meet main :0; web :0"),
        "{out}"
    );
    assert!(
        out.contains("B (peer 127.0.0.1:0, checked here): meet backend"),
        "{out}"
    );
    assert!(out.contains("ok: A, B would start here"), "{out}");
    // Nothing started, nothing left behind.
    assert!(!dir.path().join("convene-data").exists(), "{out}");

    let (code, out) = check(dir.path(), &["--config", "cluster.toml", "--id", "B"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("A (peer 127.0.0.1:0, elsewhere)"), "{out}");
    assert!(out.contains("ok: B would start here"), "{out}");
}

/// An unknown key: exit 1, naming it (the parser's line and column too).
#[test]
fn check_names_a_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "cluster.toml",
        "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_prot = 7000\n",
    );
    let (code, out) = check(dir.path(), &["--config", "cluster.toml", "--id", "A"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("1 problem (node A would not start)"), "{out}");
    assert!(out.contains("unknown field `peer_prot`"), "{out}");
}

/// Everything wrong at once, each named: a secret that cannot be read, a
/// TCP and a UDP port held by this test, a data directory and a shared
/// folder that cannot be made (a file stands where their parent should
/// be; unlike permission bits, that holds for root too), and a node the
/// file does not have.
#[test]
fn check_names_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (http, peer) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );
    write(dir.path(), "in-the-way", "a file, not a directory");
    write(
        dir.path(),
        "cluster.toml",
        &format!(
            "secret_file = \"missing.secret\"\n\
             [[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\nhttp_port = {http}\n\
             data_dir = \"in-the-way/A\"\n\
             [[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = {peer}\n\
             [node.files]\ndir = \"in-the-way/shared\"\n"
        ),
    );
    let (code, out) = check(dir.path(), &["--config", "cluster.toml"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("5 problems"), "{out}");
    for needle in [
        "secret_file missing.secret: cannot be read",
        &format!("node \"A\": http_port = {http} cannot be bound on 127.0.0.1 (TCP)"),
        "node \"A\": data_dir in-the-way/A cannot be written",
        &format!("node \"B\": peer_port = {peer} cannot be bound on 127.0.0.1 (UDP)"),
        "node \"B\": [node.files] dir in-the-way/shared cannot be written",
    ] {
        assert!(out.contains(needle), "{needle:?} in {out}");
    }
    // The nodes are still listed, so the operator sees what would run.
    assert!(out.contains(&format!("web :{http}")), "{out}");

    let (code, out) = check(dir.path(), &["--config", "cluster.toml", "--id", "C"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("no node with id \"C\""), "{out}");
    drop((tcp, udp));
}
