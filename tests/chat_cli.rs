//! `convene chat`, the terminal client, as a newcomer uses it: a piped
//! script in, the course client's lines out; and the chat-config errors of
//! `convene node`.

use crate::util::{TestCluster, chat, convene_with_input};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_piped_script_prints_the_course_clients_lines_in_order() {
    let c = TestCluster::start(&[chat("s1"), chat("s2")]).await;
    let server = c
        .cluster
        .node("s1")
        .unwrap()
        .chat_addr()
        .unwrap()
        .to_string();
    let args = |identity: &str| {
        ["chat", "--server", &server, "--identity", identity]
            .map(String::from)
            .to_vec()
    };
    let script = "#createroom jokes\n#list\n#who\n#bogus\n#joinroom nowhere\n";
    let out = convene_with_input(args("Adel"), script).await;
    assert_eq!(
        stdout(&out),
        "User has been approved.\n\
         Adel moves to MainHall-s1\n\
         Room jokes is created.\n\
         Adel moves from MainHall-s1 to jokes\n\
         List of chat rooms: MainHall-s1 MainHall-s2 jokes\n\
         jokes contains Adel*\n\
         Invalid command!\n\
         room unchanged\n\
         Adel moves from jokes to MainHall-s1\n\
         Adel has quit!\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));

    // An identity the server refuses: the client's line, exit 1.
    let out = convene_with_input(args("1ab"), "").await;
    assert_eq!(stdout(&out), "1ab already in use.\n");
    assert_eq!(out.status.code(), Some(1));
    c.stop().await;
}

#[tokio::test]
async fn a_bad_chat_config_is_refused_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("configuration.txt");
    std::fs::write(
        &path,
        "s1 127.0.0.1 4444 5555 1\ns2 127.0.0.1 4445 nope 2\n",
    )
    .unwrap();
    let args = [
        "node",
        "--chat-config",
        path.to_str().unwrap(),
        "--id",
        "s1",
    ]
    .map(String::from)
    .to_vec();
    let out = convene_with_input(args, "").await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("configuration.txt"), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("coordination port \"nope\""), "{err}");

    // An id the file does not list.
    std::fs::write(&path, "s1 127.0.0.1 4444 5555 1\n").unwrap();
    let args = [
        "node",
        "--chat-config",
        path.to_str().unwrap(),
        "--id",
        "s9",
    ]
    .map(String::from)
    .to_vec();
    let out = convene_with_input(args, "").await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("s9") && err.contains("s1"), "{err}");
}
