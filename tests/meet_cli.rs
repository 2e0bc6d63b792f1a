//! The `convene` binary as a user runs it: `meet` in both modes, `node` with
//! good and bad cluster files, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{SPEC_A, SPEC_B, TestCluster, backend, convene, convene_with_input, main, write};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_with_names_prints_the_result_and_exits_zero() {
    let c = TestCluster::start(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    let server = c.main_addr().to_string();
    let out = tokio::task::spawn_blocking(move || {
        convene()
            .args(["meet", "--server", &server, "eliana", "luis", "bob"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with(
            "Client is up and running.\nClient finished sending the usernames to Main Server.\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("luis do not exist.\n"), "{stdout}");
    assert!(
        stdout.contains("Time intervals [[1,5],[16,18]] works for eliana, bob.\n"),
        "{stdout}"
    );

    // --register books the meeting in the same run.
    let server = c.main_addr().to_string();
    let out = tokio::task::spawn_blocking(move || {
        convene()
            .args([
                "meet",
                "--server",
                &server,
                "--register",
                "[16,17]",
                "eliana",
                "bob",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("Received the notification that registration has finished."),
        "{out:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meet_reads_a_pipe_and_exits_zero_at_its_end() {
    let c = TestCluster::start(&[main("M"), backend("A", SPEC_A), backend("B", SPEC_B)]).await;
    let server = c.main_addr().to_string();
    let args = ["meet", "--server", &server].map(String::from).to_vec();
    let out = convene_with_input(args, "alice Alice\nalice\n\n").await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("Invalid input: \"Alice\" is not a valid username"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Time intervals [[1,3],[10,24]] works for alice."),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("Please enter the usernames to check schedule availability:"),
        "{stdout}"
    );
    c.stop().await;
}

#[test]
fn meet_fails_clearly_when_the_server_is_unreachable_or_the_input_is_bad() {
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let cases = [
        (
            free.as_str(),
            "alice",
            Some(1),
            "cannot reach the Main Server",
        ),
        (free.as_str(), "Alice", Some(2), "lowercase"),
        ("not an address", "alice", Some(1), "--server"),
    ];
    for (server, name, code, needle) in cases {
        let out = convene()
            .args(["meet", "--server", server, name])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), code, "{server} {name}: {stderr}");
        assert!(stderr.contains(needle), "{server} {name}: {stderr}");
    }
}

#[test]
fn node_refuses_bad_cluster_files_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.toml",
            "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\nclient_prot = 1\n",
            "client_prot",
        ),
        (
            "dup.toml",
            "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 7\n[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 8\n",
            "appears twice",
        ),
        (
            "port.toml",
            "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 7\n[[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = 7\n",
            "peer_port",
        ),
        ("syntax.toml", "[[node]\nid = \"A\"\n", "line 1"),
    ];
    for (file, text, needle) in cases {
        let path = write(dir.path(), file, text);
        let out = convene()
            .args(["node", "--id", "A", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(file) && err.contains(needle),
            "{file}: {err}"
        );
    }
    let out = convene()
        .args(["node", "--id", "A", "--config", "/nonexistent/cluster.toml"])
        .output()
        .unwrap();
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cluster.toml")
    );

    let path = write(
        dir.path(),
        "ok.toml",
        "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\n",
    );
    let out = convene()
        .args(["node", "--id", "Z", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("no node with id \"Z\""),
        "{out:?}"
    );

    write(dir.path(), "bad.txt", "alice;[[1,2]]\nbob;[[2,1]]\n");
    let path = write(
        dir.path(),
        "badfile.toml",
        "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\n[node.meet]\navailability = \"bad.txt\"\n",
    );
    let out = convene()
        .args(["node", "--id", "A", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("bad.txt:2:"), "{err}");
}

#[test]
fn node_stops_cleanly_on_sigterm_and_its_store_reopens() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", SPEC_A);
    let path = write(
        dir.path(),
        "cluster.toml",
        "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\n[node.meet]\navailability = \"a.txt\"\n",
    );
    let mut child = convene()
        .args(["node", "--id", "A", "--config"])
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("Server A is up and running using UDP on port "),
        "{first}"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(code) = child.try_wait().unwrap() {
            break code;
        }
        assert!(Instant::now() < deadline, "node did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "{code:?}");
    let store = convene_store::Store::open(&dir.path().join("convene-data/A")).unwrap();
    assert!(store.meetings().unwrap().is_empty());
}
