//! The files service over real nodes on loopback: the composite listing
//! (lab 1), asked of any node's web front with `convene files ls` (as the
//! operator, or a logged-in account), live sync, and locks that belong to
//! accounts.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::util::{
    CliUser, SECRET, TestCluster, eventually, eventually_every, files, ready, web, web_files,
};

/// Writes `content` to `dir/name` with the given modified time (Unix seconds).
fn put(dir: &Path, name: &str, content: &[u8], modified: u64) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(modified))
        .unwrap();
}

/// `convene files ls` as the cluster's operator, asking node `id`'s web
/// front.
async fn ls(c: &TestCluster, id: &str) -> (String, String, Option<i32>) {
    let config = c.write_bound_config();
    let server = web_url(c, id);
    let ran = CliUser::new()
        .run(
            &[
                "files",
                "ls",
                "--config",
                config.to_str().unwrap(),
                "--server",
                &server,
            ],
            "",
        )
        .await;
    (ran.stdout, ran.stderr, ran.code)
}

/// Node `id`'s web front, as a URL.
fn web_url(c: &TestCluster, id: &str) -> String {
    let node = c.cluster.node(id).unwrap();
    format!("http://{}", node.http_addr().expect("a web front"))
}

const AUG_20_2024: u64 = 1_724_112_000; // 2024-08-20 00:00:00 UTC
const AUG_21_2024: u64 = AUG_20_2024 + 86_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_lists_every_folder_once_sorted_and_numbered() {
    let mut c = TestCluster::bind_full(
        &[
            web("M"),
            web_files("A", "directory_a"),
            web_files("B", "directory_b"),
        ],
        SECRET,
        crate::util::FAST_ELECTION,
    )
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
    // A and B reconcile at start; list once they have.
    let picture = [7u8; 575_100];
    let synced: &[(&str, &[u8])] = &[
        ("Zebra.txt", b""),
        ("a.jpg", &picture),
        ("notes/todo list.txt", b"12"),
        ("shared.txt", b"newer"),
    ];
    both_hold(&a, &b, synced).await;

    let expected = "[0] Zebra.txt 0B 20-Aug-2024\n\
                    [1] a.jpg 575.1kB 20-Aug-2024\n\
                    [2] notes/todo list.txt 2B 21-Aug-2024\n\
                    [3] shared.txt 5B 21-Aug-2024\n";
    // M shares no folder itself; A and B do. Every node gives the same list.
    for id in ["M", "A", "B"] {
        let (out, err, code) = ls(&c, id).await;
        assert_eq!(out, expected, "asking {id}; stderr: {err}");
        assert_eq!(code, Some(0), "{err}");
        assert!(err.is_empty(), "{err}");
    }

    // With B down, the list (A's copies) says B did not answer.
    c.stop_node("B").await;
    let (out, err, code) = ls(&c, "M").await;
    assert_eq!(out, expected);
    assert!(err.contains("no answer from node B"), "{err}");
    assert_eq!(code, Some(0));
    c.stop().await;
}

#[tokio::test]
async fn a_server_that_is_not_a_web_front_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    convene_cluster::ClusterSecret::create_file(&dir.path().join("cluster.secret")).unwrap();
    let config = dir.path().join("cluster.toml");
    std::fs::write(
        &config,
        format!(
            "{SECRET}[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 1\nhttp_port = 2\n"
        ),
    )
    .unwrap();
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let user = CliUser::new();
    let config = config.to_str().unwrap();
    let ran = user
        .run(
            &["files", "ls", "--config", config, "--server", &server],
            "",
        )
        .await;
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("cannot reach {server}")),
        "{}",
        ran.stderr
    );
    // Without a login for it, the client says so before trying.
    let ran = user.run(&["files", "ls", "--server", &server], "").await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains(&format!(
            "not logged in to {server}: run `convene login --server {server}` first"
        )),
        "{}",
        ran.stderr
    );
}

/// The names and contents of every file under `dir` (not Convene's own).
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if !name.starts_with(".convene-") {
                    out.push((name, std::fs::read(&path).unwrap()));
                }
            }
        }
    }
    out.sort();
    out
}

/// `expected` as [`contents`] gives it.
fn owned(expected: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    expected
        .iter()
        .map(|(n, c)| (n.to_string(), c.to_vec()))
        .collect()
}

/// Waits until both folders hold exactly `expected` (name, content) pairs.
async fn both_hold(a: &Path, b: &Path, expected: &[(&str, &[u8])]) {
    let want = owned(expected);
    let what = format!("both folders to hold {want:?}");
    eventually(Duration::from_secs(15), &what, || async {
        let (got_a, got_b) = (contents(a), contents(b));
        ready(
            got_a == want && got_b == want,
            format!("A {got_a:?}\nB {got_b:?}"),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_reconcile_at_start_keep_deletions_and_never_lose_a_write() {
    let mut c = TestCluster::bind(&[files("A", "directory_a"), files("B", "directory_b")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    put(&a, "only_a.txt", b"from A", AUG_20_2024);
    put(&b, "sub/only_b.txt", b"from B", AUG_20_2024);
    put(&a, "shared.txt", b"older", AUG_20_2024);
    put(&b, "shared.txt", b"newer", AUG_21_2024);
    c.start_node("A").await;
    c.start_node("B").await;
    // Union; the duplicate takes the most recent copy (first inventories: no
    // conflict copy, as the seed asks).
    both_hold(
        &a,
        &b,
        &[
            ("only_a.txt", b"from A"),
            ("shared.txt", b"newer"),
            ("sub/only_b.txt", b"from B"),
        ],
    )
    .await;
    c.wait_for_line("A", "synchronized shared.txt from B").await;
    // The copy keeps the original's modified time.
    let modified = std::fs::metadata(a.join("shared.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        modified,
        SystemTime::UNIX_EPOCH + Duration::from_secs(AUG_21_2024)
    );

    // While both are stopped: A deletes a file, and both edit shared.txt.
    c.stop_node("A").await;
    c.stop_node("B").await;
    std::fs::remove_file(a.join("only_a.txt")).unwrap();
    put(&a, "shared.txt", b"A's edit", AUG_21_2024 + 10);
    put(&b, "shared.txt", b"B's later edit", AUG_21_2024 + 20);
    c.start_node("B").await;
    c.start_node("A").await;
    // The deletion is not undone by B's copy; B's later edit keeps the name
    // and A's edit is kept beside it, on both nodes.
    both_hold(
        &a,
        &b,
        &[
            ("shared.sync-conflict-A-20240821-000010.txt", b"A's edit"),
            ("shared.txt", b"B's later edit"),
            ("sub/only_b.txt", b"from B"),
        ],
    )
    .await;
    c.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_out_of_the_folder_is_not_followed_or_shared() {
    let mut c = TestCluster::bind(&[files("A", "directory_a"), files("B", "directory_b")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    let outside = c.path("outside");
    put(&outside, "secret.txt", b"not for sharing", AUG_20_2024);
    std::os::unix::fs::symlink(&outside, a.join("escape")).unwrap();
    put(&a, "fine.txt", b"shared", AUG_20_2024);
    c.start_node("A").await;
    c.start_node("B").await;
    eventually(
        Duration::from_secs(15),
        "something to synchronize",
        || async { ready(!contents(&b).is_empty(), "B is empty") },
    )
    .await;
    assert_eq!(contents(&b), [("fine.txt".to_string(), b"shared".to_vec())]);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_while_running_reach_the_other_node_both_ways() {
    let mut c = TestCluster::bind(&[files("A", "directory_a"), files("B", "directory_b")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    put(&a, "start.txt", b"0", AUG_20_2024);
    c.start_node("A").await;
    c.start_node("B").await;
    both_hold(&a, &b, &[("start.txt", b"0")]).await;

    // Created on A.
    std::fs::write(a.join("new.txt"), b"hello").unwrap();
    both_hold(&a, &b, &[("new.txt", b"hello"), ("start.txt", b"0")]).await;
    c.wait_for_line("B", "synchronized new.txt from A").await;

    // Modified on B.
    std::fs::write(b.join("new.txt"), b"hello, world").unwrap();
    both_hold(&a, &b, &[("new.txt", b"hello, world"), ("start.txt", b"0")]).await;

    // Renamed on A, into a new subfolder.
    std::fs::create_dir(a.join("sub")).unwrap();
    std::fs::rename(a.join("new.txt"), a.join("sub/renamed.txt")).unwrap();
    both_hold(
        &a,
        &b,
        &[("start.txt", b"0"), ("sub/renamed.txt", b"hello, world")],
    )
    .await;

    // Deleted on B.
    std::fs::remove_file(b.join("start.txt")).unwrap();
    both_hold(&a, &b, &[("sub/renamed.txt", b"hello, world")]).await;
    c.wait_for_line("A", "deleted start.txt (deleted on B)")
        .await;

    // A whole folder removed on A.
    std::fs::remove_dir_all(a.join("sub")).unwrap();
    both_hold(&a, &b, &[]).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_nothing_from_the_peer_port_not_even_a_listing_or_a_lock() {
    use convene_files::path::SharedPath;
    use convene_files::peer_msg::{FilesRequest, LockAction};
    use convene_wire::Encode;

    let mut c = TestCluster::bind(&[files("A", "directory_a")]).await;
    put(&c.path("directory_a"), "a.txt", b"private", AUG_20_2024);
    c.start_node("A").await;
    let node = c.cluster.node("A").unwrap().peer_addr();

    // A client outside the cluster, with short timeouts.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let config = convene_rpc::Config {
        timeout: Duration::from_millis(200),
        retries: 1,
        ..Default::default()
    };
    let (trigger, shutdown) = convene_cluster::shutdown::Shutdown::new();
    let (client, task) = convene_rpc::start(
        socket,
        config,
        std::sync::Arc::new(convene_rpc::socket::handler_fn(|_, _| async { None })),
        async move { shutdown.wait().await },
    );
    let ask = |request: Vec<u8>| {
        let client = client.clone();
        async move {
            let mut body = vec![convene_files::TAG.byte()];
            body.extend(request);
            client.call(node, body).await
        }
    };
    let path = SharedPath::parse("a.txt").unwrap();
    for private in [
        FilesRequest::Records {
            snapshot: 0,
            offset: 0,
        },
        FilesRequest::Fetch {
            path: path.clone(),
            checksum: convene_files::transfer::checksum(b"private"),
            offset: 0,
        },
        FilesRequest::Hello,
        // Listings and locks were answered to anyone before: now only
        // through a web front, to people who log in.
        FilesRequest::ListAll {
            snapshot: 0,
            offset: 0,
        },
        FilesRequest::ListLocal {
            snapshot: 0,
            offset: 0,
        },
        FilesRequest::Locks,
        FilesRequest::Lock {
            path: path.clone(),
            owner: "mallory".into(),
            action: LockAction::Lock,
        },
    ] {
        assert!(
            ask(private.to_bytes()).await.is_err(),
            "{private:?} answered"
        );
    }
    // Garbage, and a name that tries to leave the folder: dropped.
    assert!(ask(vec![4, 0, 0, 0, 2, b'.', b'.']).await.is_err());
    assert!(ask(vec![0xff; 40]).await.is_err());
    // Nothing was locked, and the node is unharmed.
    let listing = c.node("A").files().handle().listing().await;
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.entries[0].path, path);
    assert!(listing.locked.is_empty(), "{listing:?}");
    trigger.trigger();
    let _ = task.await;
    c.stop().await;
}

/// `convene files <args>` as `user`, at their latest login's server.
async fn files_cli(user: &CliUser, args: &[&str]) -> (String, String, Option<i32>) {
    let mut all = vec!["files"];
    all.extend(args);
    let ran = user.run(&all, "").await;
    (ran.stdout, ran.stderr, ran.code)
}

/// `name`, registered and logged in (`convene login`) at node `id`'s web
/// front.
async fn user_at(c: &TestCluster, id: &str, name: &str) -> CliUser {
    let user = CliUser::new();
    let web = c.cluster.node(id).unwrap().http_addr().unwrap();
    user.log_in(web, name).await;
    user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_3_scenario_updates_to_a_locked_file_wait_and_apply_in_order() {
    // A comes second, so it has the higher priority: it holds the locks.
    // People ask B's web front, which passes lock requests on to A.
    let mut c =
        TestCluster::bind(&[web_files("B", "directory_b"), files("A", "directory_a")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    put(&a, "a.txt", b"orig", AUG_20_2024);
    put(&a, "b.txt", b"other", AUG_20_2024);
    c.start_node("B").await;
    c.start_node("A").await;
    both_hold(&a, &b, &[("a.txt", b"orig"), ("b.txt", b"other")]).await;
    let alice = user_at(&c, "B", "alice").await;
    let bob = user_at(&c, "B", "bob").await;

    let (out, err, code) = files_cli(&alice, &["lock", "0"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Locked a.txt (for 3600 s unless renewed).\n");
    c.wait_for_line("A", "Files: a.txt is locked by alice.")
        .await;
    let (out, _, _) = files_cli(&bob, &["ls"]).await;
    assert!(
        out.starts_with("[0] a.txt 4B 20-Aug-2024 <locked>\n[1] b.txt 5B"),
        "{out}"
    );

    // B changes the locked file twice, and another file once.
    std::fs::write(b.join("a.txt"), b"first change").unwrap();
    c.wait_for_line("A", "a.txt is locked; B's update is held (1 waiting)")
        .await;
    std::fs::write(b.join("a.txt"), b"second change, longer").unwrap();
    c.wait_for_line("A", "(2 waiting)").await;
    std::fs::write(b.join("b.txt"), b"synced meanwhile").unwrap();
    c.wait_for_line("A", "synchronized b.txt from B").await;
    // A's copy of the locked file is untouched; the other file synced.
    assert_eq!(std::fs::read(a.join("a.txt")).unwrap(), b"orig");
    assert_eq!(std::fs::read(a.join("b.txt")).unwrap(), b"synced meanwhile");

    // The holder restarts: the lock and its held updates survive.
    c.stop_node("A").await;
    c.start_node("A").await;
    let (out, _, _) = files_cli(&bob, &["ls"]).await;
    assert!(out.contains("<locked>"), "{out}");

    // Only the owner unlocks, or breaks it; a number past the end is refused.
    let (_, err, code) = files_cli(&bob, &["unlock", "0"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err,
        "convene files: cannot unlock a.txt: the lock belongs to alice\n"
    );
    let (_, err, code) = files_cli(&bob, &["unlock", "0", "--force"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("it belongs to alice, and only alice or an admin"),
        "{err}"
    );
    let (_, err, code) = files_cli(&bob, &["lock", "9"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no file [9]"), "{err}");

    let (out, err, code) = files_cli(&alice, &["unlock", "0"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Unlocked a.txt; 2 held updates applied.\n");
    let lines = c.lines("A");
    let first = lines
        .iter()
        .position(|l| l.contains("held update of a.txt (1 of 2)"));
    let second = lines
        .iter()
        .position(|l| l.contains("held update of a.txt (2 of 2)"));
    assert!(first.is_some() && first < second, "{lines:#?}");
    both_hold(
        &a,
        &b,
        &[
            ("a.txt", b"second change, longer"),
            ("b.txt", b"synced meanwhile"),
        ],
    )
    .await;
    let (out, _, _) = files_cli(&alice, &["ls"]).await;
    assert!(!out.contains("<locked>"), "{out}");
    c.stop().await;
}

/// Nodes B and A sharing `a.txt` ("orig"), locked by alice at A, which
/// holds the locks (it comes second: higher priority) and has the web
/// front. Returns the cluster, A's and B's folders, and alice.
async fn a_txt_locked_at_a() -> (TestCluster, PathBuf, PathBuf, CliUser) {
    let mut c =
        TestCluster::bind(&[files("B", "directory_b"), web_files("A", "directory_a")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    put(&a, "a.txt", b"orig", AUG_20_2024);
    c.start_node("B").await;
    c.start_node("A").await;
    both_hold(&a, &b, &[("a.txt", b"orig")]).await;
    let alice = user_at(&c, "A", "alice").await;
    let (_, err, code) = files_cli(&alice, &["lock", "0"]).await;
    assert_eq!(code, Some(0), "{err}");
    (c, a, b, alice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_on_the_lock_holder_during_the_lock_is_kept_at_unlock() {
    let (mut c, a, b, alice) = a_txt_locked_at_a().await;

    // B's edit is held, and B goes away; then the file is edited on A
    // itself, later. Only A has its own edit.
    put(&b, "a.txt", b"B's edit", AUG_21_2024);
    c.wait_for_line("A", "a.txt is locked; B's update is held (1 waiting)")
        .await;
    c.stop_node("B").await;
    put(&a, "a.txt", b"A's later edit", AUG_21_2024 + 60);
    c.wait_for_line("A", "Files: a.txt is changed here.").await;
    assert_eq!(std::fs::read(a.join("a.txt")).unwrap(), b"A's later edit");

    let (out, err, code) = files_cli(&alice, &["unlock", "0"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Unlocked a.txt; 1 held update applied.\n");
    // The held update is weighed against A's edit as if it arrived now:
    // they conflict, A's (newer) keeps the name, B's becomes a copy.
    let both: &[(&str, &[u8])] = &[
        ("a.sync-conflict-B-20240821-000000.txt", b"B's edit"),
        ("a.txt", b"A's later edit"),
    ];
    assert_eq!(contents(&a), owned(both));
    c.start_node("B").await;
    both_hold(&a, &b, both).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_that_arrives_during_a_lock_waits_for_the_unlock() {
    let (c, a, b, alice) = a_txt_locked_at_a().await;

    // Both edit at once; B's is newer, so it wins the name.
    let staging = c.path("staging");
    put(&staging, "from_a", b"A's edit", AUG_21_2024);
    put(&staging, "from_b", b"B's newer edit", AUG_21_2024 + 60);
    std::fs::rename(staging.join("from_a"), a.join("a.txt")).unwrap();
    std::fs::rename(staging.join("from_b"), b.join("a.txt")).unwrap();
    // B resolves it at once: its own under the name, A's as a copy, which
    // reaches A too. A's locked file stays as it is until the unlock.
    let copy = "a.sync-conflict-A-20240821-000000.txt";
    c.wait_for_line("A", &format!("synchronized {copy} from B"))
        .await;
    c.wait_for_line("A", "a.txt is locked; B's update is held")
        .await;
    assert_eq!(std::fs::read(a.join("a.txt")).unwrap(), b"A's edit");

    let (_, err, code) = files_cli(&alice, &["unlock", "1"]).await;
    assert_eq!(code, Some(0), "{err}"); // [1]: the conflict copy sorts first
    both_hold(&a, &b, &[(copy, b"A's edit"), ("a.txt", b"B's newer edit")]).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_cut_by_a_stop_is_never_applied_half_and_completes_after_restart() {
    let mut c = TestCluster::bind(&[files("A", "directory_a"), files("B", "directory_b")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    c.start_node("A").await;
    c.start_node("B").await;
    // A large file appears on A (written aside, then moved in whole).
    let big: Vec<u8> = (0..64 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
    std::fs::write(a.join(".convene-staging"), &big).unwrap();
    std::fs::rename(a.join(".convene-staging"), a.join("big.bin")).unwrap();
    // Stop B as soon as its transfer has begun.
    let every = Duration::from_millis(1);
    let torn = eventually_every(
        every,
        Duration::from_secs(15),
        "the transfer to begin",
        || async {
            let started = std::fs::read_dir(&b).unwrap().flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(".convene-tmp-") && e.metadata().is_ok_and(|m| m.len() > 0)
            });
            if started || b.join("big.bin").exists() {
                Ok(started)
            } else {
                Err("no temporary file with content, no big.bin")
            }
        },
    )
    .await;
    c.stop_node("B").await;
    if torn {
        // Cut mid-way: the real name was never written.
        assert!(!b.join("big.bin").exists(), "half a file was applied");
    }
    c.start_node("B").await;
    eventually(
        Duration::from_secs(30),
        "big.bin to be complete at B",
        || async {
            let got = std::fs::read(b.join("big.bin")).ok();
            let size = got.as_ref().map(Vec::len);
            ready(got.as_ref() == Some(&big), format!("{size:?} bytes there"))
        },
    )
    .await;
    // Nothing of the torn transfer is left behind.
    let litter: Vec<_> = std::fs::read_dir(&b)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".convene-tmp-"))
        .collect();
    assert!(litter.is_empty(), "{litter:?}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_edits_on_running_nodes_keep_both_writes() {
    let mut c = TestCluster::bind(&[files("A", "directory_a"), files("B", "directory_b")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    put(&a, "doc.txt", b"v0", AUG_20_2024);
    c.start_node("A").await;
    c.start_node("B").await;
    both_hold(&a, &b, &[("doc.txt", b"v0")]).await;
    // Both edit before either hears of the other. The watcher waits 50 ms
    // for quiet, so the two edits are made ready outside the folders and
    // then moved in back to back: a test thread descheduled on a busy
    // machine between two slow writes could otherwise let A's edit reach B
    // first, and B's would then simply be the later edit, not a conflict.
    let staging = c.path("staging");
    put(&staging, "from_a", b"A wrote this", AUG_21_2024);
    put(&staging, "from_b", b"B wrote this later", AUG_21_2024 + 5);
    std::fs::rename(staging.join("from_a"), a.join("doc.txt")).unwrap();
    std::fs::rename(staging.join("from_b"), b.join("doc.txt")).unwrap();
    both_hold(
        &a,
        &b,
        &[
            ("doc.sync-conflict-A-20240821-000000.txt", b"A wrote this"),
            ("doc.txt", b"B wrote this later"),
        ],
    )
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_folder() {
    let mut c = TestCluster::bind(&[
        files("A", "directory_a"),
        files("B", "directory_b"),
        files("C", "directory_c"),
    ])
    .await;
    let dirs = [
        c.path("directory_a"),
        c.path("directory_b"),
        c.path("directory_c"),
    ];
    put(&dirs[0], "from_a.txt", b"a", AUG_20_2024);
    put(&dirs[2], "from_c.txt", b"c", AUG_20_2024);
    for id in ["A", "B", "C"] {
        c.start_node(id).await;
    }
    let expected: &[(&str, &[u8])] = &[("from_a.txt", b"a"), ("from_c.txt", b"c")];
    both_hold(&dirs[0], &dirs[1], expected).await;
    both_hold(&dirs[1], &dirs[2], expected).await;
    // A change on one reaches both others.
    std::fs::write(dirs[1].join("from_b.txt"), b"b").unwrap();
    let expected: &[(&str, &[u8])] = &[
        ("from_a.txt", b"a"),
        ("from_b.txt", b"b"),
        ("from_c.txt", b"c"),
    ];
    both_hold(&dirs[0], &dirs[2], expected).await;
    c.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_file_is_never_written_through_a_link() {
    let mut c = TestCluster::bind(&[files("A", "directory_a"), files("B", "directory_b")]).await;
    let (a, b) = (c.path("directory_a"), c.path("directory_b"));
    let outside = c.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // On B, `sub` leads out of the folder; on A it is a real folder.
    std::os::unix::fs::symlink(&outside, b.join("sub")).unwrap();
    put(&a, "sub/x.txt", b"payload", AUG_20_2024);
    c.start_node("A").await;
    c.start_node("B").await;
    c.wait_for_line("B", "cannot synchronize sub/x.txt from A")
        .await;
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "a file was written outside the shared folder"
    );
    c.stop().await;
}
