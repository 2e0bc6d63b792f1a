//! The files service over real nodes on loopback: the composite listing
//! (lab 1), asked of any node, with `convene files ls`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::util::{TestCluster, convene_with_input, files, plain};

/// Writes `content` to `dir/name` with the given modified time (Unix seconds).
fn put(dir: &Path, name: &str, content: &[u8], modified: u64) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(modified))
        .unwrap();
}

async fn ls(server: &str) -> (String, String, Option<i32>) {
    let args = ["files", "ls", "--server", server]
        .map(String::from)
        .to_vec();
    let out = convene_with_input(args, "").await;
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

const AUG_20_2024: u64 = 1_724_112_000; // 2024-08-20 00:00:00 UTC
const AUG_21_2024: u64 = AUG_20_2024 + 86_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_lists_every_folder_once_sorted_and_numbered() {
    let mut c = TestCluster::bind(&[
        plain("M"),
        files("A", "directory_a"),
        files("B", "directory_b"),
    ])
    .await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    put(&a, "a.jpg", &vec![7u8; 575_100], AUG_20_2024);
    put(&a, "shared.txt", b"old", AUG_20_2024);
    put(&b, "shared.txt", b"newer", AUG_21_2024);
    put(&b, "notes/todo list.txt", b"12", AUG_21_2024);
    put(&b, "Zebra.txt", b"", AUG_20_2024);
    for id in ["M", "A", "B"] {
        c.start_node(id).await;
    }

    let expected = "[0] Zebra.txt 0B 20-Aug-2024\n\
                    [1] a.jpg 575.1kB 20-Aug-2024\n\
                    [2] notes/todo list.txt 2B 21-Aug-2024\n\
                    [3] shared.txt 5B 21-Aug-2024\n";
    // M shares no folder itself; A and B do. Every node gives the same list.
    for id in ["M", "A", "B"] {
        let server = c.cluster.node(id).unwrap().peer_addr().to_string();
        let (out, err, code) = ls(&server).await;
        assert_eq!(out, expected, "asking {id}; stderr: {err}");
        assert_eq!(code, Some(0), "{err}");
        assert!(err.is_empty(), "{err}");
    }

    // With B down, the list says so instead of silently shrinking.
    c.stop_node("B").await;
    let server = c.cluster.node("M").unwrap().peer_addr().to_string();
    let (out, err, code) = ls(&server).await;
    assert_eq!(
        out,
        "[0] a.jpg 575.1kB 20-Aug-2024\n[1] shared.txt 3B 20-Aug-2024\n"
    );
    assert!(err.contains("no answer from node B"), "{err}");
    assert_eq!(code, Some(0));
    c.stop().await;
}

#[tokio::test]
async fn a_server_that_is_not_a_node_is_a_clear_error() {
    // A port nothing listens on (bound, then released).
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (out, err, code) = ls(&format!("127.0.0.1:{port}")).await;
    assert_eq!(out, "");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no answer from 127.0.0.1"), "{err}");
}
