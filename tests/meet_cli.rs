//! The `convene` binary as a user runs it: `meet` in both modes, `node` with
//! good and bad cluster files, and a clean stop on SIGTERM.

use std::time::Duration;

use crate::util::{
    NodeProcess, SPEC_A, SPEC_B, TestCluster, backend, convene, convene_with_input, eventually,
    main, write,
};

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
    let node = "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\n";
    write(dir.path(), "bad.txt", "alice;[[1,2]]\nbob;[[2,1]]\n");
    // (file, its text or None for a missing file, node id asked for, what the error must say)
    let cases: [(&str, Option<String>, &str, &[&str]); 8] = [
        ("unknown.toml", Some(format!("{node}client_prot = 1\n")), "A", &["client_prot"]),
        (
            "dup.toml",
            Some("[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 7\n[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 8\n".into()),
            "A",
            &["appears twice"],
        ),
        (
            "port.toml",
            Some("[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 7\n[[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = 7\n".into()),
            "A",
            &["peer_port"],
        ),
        ("syntax.toml", Some("[[node]\nid = \"A\"\n".into()), "A", &["line 1"]),
        ("missing.toml", None, "A", &["cannot read"]),
        ("ok.toml", Some(node.to_string()), "Z", &["no node with id \"Z\""]),
        ("badfile.toml", Some(format!("{node}client_port = 0\n[node.meet]\navailability = \"bad.txt\"\n")), "A", &["bad.txt:2:"]),
        ("nomain.toml", Some(format!("{node}[node.meet]\navailability = \"bad.txt\"\n")), "A", &["[node.meet]", "no node of the cluster has a `client_port`"]),
    ];
    for (file, text, id, needles) in cases {
        let path = dir.path().join(file);
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        let out = convene()
            .args(["node", "--id", id, "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file}: the node started");
        // The error names the file it is about (the availability file for the last case).
        let named = if file == "badfile.toml" {
            "bad.txt"
        } else {
            file
        };
        assert!(err.contains(named), "{file}: {err}");
        for needle in needles {
            assert!(err.contains(needle), "{file}: {err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_stops_cleanly_on_sigterm_and_its_store_reopens() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", SPEC_A);
    let path = write(
        dir.path(),
        "cluster.toml",
        // M, a main node, is never started: a backend needs one in its cluster.
        "[[node]]\nid = \"M\"\nhost = \"127.0.0.1\"\npeer_port = 0\nclient_port = 0\n\
         [[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\n[node.meet]\navailability = \"a.txt\"\n",
    );
    let mut node = NodeProcess::spawn("--config", &path, "A", &[], Vec::new());
    node.started().await;
    let first = eventually(Duration::from_secs(10), "the node's first line", || async {
        let screen = node.screen();
        match screen.lines().next() {
            Some(line) => Ok(line.to_string()),
            None => Err("nothing on its screen"),
        }
    })
    .await;
    assert!(
        first.starts_with("Server A is up and running using UDP on port "),
        "{first}"
    );
    let code = node.terminate();
    assert!(code.success(), "{code:?}");
    let store = convene_store::Store::open(&dir.path().join("convene-data/A")).unwrap();
    assert!(store.meetings().unwrap().is_empty());
}
