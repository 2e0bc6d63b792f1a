//! `kill -9` of the coordinator under a running chat system: three
//! `convene node` processes started from the seed's own `configuration.txt`
//! (`--chat-config`), clients on each, the coordinator killed mid-session.
//! Checks re-election, that clients on the other nodes keep chatting, that
//! identities stay unique, that the dead node's identities are kept for it
//! (it could be cut off with its clients) until it restarts, and
//! that the node, restarted, takes over again as the highest priority.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use convene_chat::client::{ChatSession, ClientError};

use crate::chat::say;
use crate::util::{Held, NodeProcess, convene, eventually};

const WAIT: Duration = Duration::from_secs(20);

/// Logs in (the node has started: its listener accepts).
async fn login(server: SocketAddr, identity: &str) -> Result<ChatSession, ClientError> {
    ChatSession::login(server, identity, WAIT).await
}

async fn member(server: SocketAddr, identity: &str) -> ChatSession {
    login(server, identity)
        .await
        .unwrap_or_else(|e| panic!("{identity}: {e}"))
}

fn refused(result: Result<ChatSession, ClientError>) -> bool {
    matches!(result, Err(ClientError::Refused { .. }))
}

/// Waits until `convene status` says `expected` coordinates, once the
/// nodes that answer agree (run off the runtime: it blocks).
async fn coordinator(config: &Path, expected: &str) {
    let wanted = format!("coordinator: {expected} ");
    let what = format!("the nodes to agree on {expected}");
    eventually(WAIT, &what, || async {
        let config = config.to_path_buf();
        let out = tokio::task::spawn_blocking(move || {
            convene()
                .args(["status", "--chat-config"])
                .arg(config)
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if text.contains(&wanted) {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_coordinator_during_a_chat() {
    // The course format has no port 0, and every server must know the
    // others' ports: the test binds both sockets of each and hands them down.
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    let mut chat = Vec::new();
    let mut held = Vec::new();
    for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
        let (client, coordination) = (Held::tcp("chat"), Held::udp("peer"));
        lines.push_str(&format!(
            "{id} localhost {} {} {}\n",
            client.port(),
            coordination.port(),
            i + 1
        ));
        chat.push(SocketAddr::from(([127, 0, 0, 1], client.port())));
        held.push(vec![client, coordination]);
    }
    let config = dir.path().join("configuration.txt");
    std::fs::write(&config, &lines).unwrap();
    let mut nodes: Vec<NodeProcess> = ["s1", "s2", "s3"]
        .into_iter()
        .zip(held)
        .map(|(id, held)| NodeProcess::spawn("--chat-config", &config, id, &[], held))
        .collect();
    for node in &mut nodes {
        node.started().await;
    }
    coordinator(&config, "s3").await;

    let mut adel = member(chat[0], "Adel").await;
    let mut maria = member(chat[0], "Maria").await;
    let _ = adel.recv_timeout(WAIT).await.unwrap(); // Maria arrives
    let mut bob = member(chat[1], "Bob").await;
    let mut carl = member(chat[1], "Carl").await;
    let _ = bob.recv_timeout(WAIT).await.unwrap();
    let _sam = member(chat[2], "Sam").await;
    say(&mut adel, &mut maria, "before").await;

    let killed = Instant::now();
    nodes[2].kill(); // SIGKILL: no goodbye, no flush

    // Clients of the other nodes chat on while the cluster re-elects.
    say(&mut adel, &mut maria, "during").await;
    say(&mut carl, &mut bob, "during").await;
    coordinator(&config, "s2").await;
    eprintln!("failover agreed within {:?}", killed.elapsed());
    // A new name is decided once the new coordinator holds a majority's
    // leases and has read a majority's copies of the approved names.
    let _zed = member(chat[1], "Zed").await;
    eprintln!(
        "first new name approved {:?} after the kill",
        killed.elapsed()
    );
    let _ = bob.recv_timeout(WAIT).await.unwrap(); // Zed arrives
    let _ = carl.recv_timeout(WAIT).await.unwrap();

    // Names stay unique under the new coordinator; the dead node's are kept
    // for it: from here it cannot be told from a node cut off with its
    // clients, whose names must not be given out twice.
    assert!(refused(login(chat[1], "Adel").await));
    assert!(refused(login(chat[0], "Bob").await));
    assert!(refused(login(chat[0], "Sam").await));
    say(&mut maria, &mut adel, "after").await;

    // s3 comes back: the highest priority takes over, without losing a name;
    // its new incarnation holds nothing, so Sam is free.
    nodes[2].restart().await;
    coordinator(&config, "s3").await;
    let _sam_again = member(chat[0], "Sam").await;
    let _ = adel.recv_timeout(WAIT).await.unwrap(); // Sam arrives
    let _ = maria.recv_timeout(WAIT).await.unwrap();
    for (server, name) in [(2, "Adel"), (2, "Bob"), (1, "Sam"), (0, "Carl")] {
        assert!(refused(login(chat[server], name).await), "{name}");
    }
    let _newcomer = member(chat[2], "Newcomer").await;
    say(&mut bob, &mut carl, "end").await;
}
