//! `kill -9` of the file lock holder, with three `convene node` processes
//! sharing folders and one SQLite file: the lock taken before the death is
//! still held at the next files node (and releasable by its owner), the
//! update held for it before the death is applied there at the unlock, and
//! the holder, back, takes the role again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{CliUser, FAST_ELECTION, HIGH_LIMITS, Held, NodeProcess, eventually, ready};

/// A is the configured holder; C (the highest priority after it, being
/// last in the file) is next.
const IDS: [&str; 3] = ["A", "B", "C"];

struct Cluster {
    nodes: Vec<NodeProcess>,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn folder(&self, at: usize) -> PathBuf {
        self.dir.path().join(format!("dir_{}", IDS[at]))
    }

    fn screen(&self, at: usize) -> String {
        self.nodes[at].screen()
    }

    /// Waits until node `at`'s screen shows `line`.
    async fn wait_for(&self, at: usize, line: &str) {
        let what = format!("node {} to show {line:?}", IDS[at]);
        eventually(Duration::from_secs(30), &what, || async {
            let screen = self.screen(at);
            ready(screen.contains(line), screen)
        })
        .await;
    }
}

/// Three node processes sharing a folder each, with web fronts, A marked
/// as the lock holder; `a.txt` ("orig") in A's folder at the start.
async fn start() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut toml = String::new();
    let mut peers = Vec::new();
    for id in IDS {
        let peer = Held::udp("peer");
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = {}\nhttp_port = 0\n\
             [node.files]\ndir = \"dir_{id}\"\nlock_holder = {}\n",
            peer.port(),
            id == "A"
        ));
        peers.push(peer);
    }
    toml.push_str(FAST_ELECTION);
    toml.push_str(HIGH_LIMITS);
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, toml).unwrap();
    std::fs::create_dir_all(dir.path().join("dir_A")).unwrap();
    std::fs::write(dir.path().join("dir_A").join("a.txt"), b"orig").unwrap();
    let mut nodes: Vec<NodeProcess> = IDS
        .iter()
        .zip(peers)
        .map(|(id, peer)| NodeProcess::spawn("--config", &config, id, &[], vec![peer]))
        .collect();
    for node in &mut nodes {
        node.started().await;
    }
    Cluster { nodes, dir }
}

fn read(folder: &Path) -> Option<Vec<u8>> {
    std::fs::read(folder.join("a.txt")).ok()
}

async fn files(user: &CliUser, args: &[&str]) -> (String, String, Option<i32>) {
    let mut all = vec!["files"];
    all.extend(args);
    let ran = user.run(&all, "").await;
    (ran.stdout, ran.stderr, ran.code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_and_held_updates_outlive_the_lock_holder() {
    let mut c = start().await;
    for at in 0..3 {
        let folder = c.folder(at);
        eventually(Duration::from_secs(30), "a.txt everywhere", || async {
            ready(read(&folder).as_deref() == Some(b"orig".as_slice()), at)
        })
        .await;
    }
    c.wait_for(0, "Files: this node holds the file locks now.")
        .await;
    // People use B's web front.
    let web = c.nodes[1].addr("http");
    let alice = CliUser::new();
    alice.log_in(web, "alice").await;
    let bob = CliUser::new();
    bob.log_in(web, "bob").await;

    let (out, err, code) = files(&alice, &["lock", "0"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Locked a.txt (for 3600 s unless renewed).\n");
    // B changes the locked file: A holds the update.
    std::fs::write(c.folder(1).join("a.txt"), b"changed on B").unwrap();
    c.wait_for(0, "a.txt is locked; B's update is held (1 waiting)")
        .await;
    assert_eq!(read(&c.folder(0)).unwrap(), b"orig");

    // The holder dies.
    c.nodes[0].kill();
    let killed = Instant::now();
    c.wait_for(2, "Files: this node holds the file locks now.")
        .await;
    let moved = killed.elapsed();
    println!("the lock holder's role moved {moved:?} after kill -9");

    // The lock is still held, by alice, at C.
    let (out, err, code) = files(&bob, &["ls"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("[0] a.txt") && out.contains("<locked>"),
        "{out}"
    );
    let (_, err, code) = files(&bob, &["lock", "0"]).await;
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("alice"), "{err}");
    // alice unlocks at the new holder: the update held before the death
    // is applied there.
    let (out, err, code) = files(&alice, &["unlock", "0"]).await;
    assert_eq!(code, Some(0), "{err}\n{}", c.screen(2));
    assert_eq!(out, "Unlocked a.txt; 1 held update applied.\n");
    c.wait_for(2, "applied B's held update of a.txt (1 of 1)")
        .await;
    let (out, _, _) = files(&bob, &["ls"]).await;
    assert!(!out.contains("<locked>"), "{out}");

    // A comes back: it has B's change, and the configured holder takes
    // the locks again; C hands them over.
    c.nodes[0].restart().await;
    let folder = c.folder(0);
    eventually(Duration::from_secs(30), "B's change at A", || async {
        let now = read(&folder);
        let seen = format!("{:?}", now.as_deref().map(String::from_utf8_lossy));
        ready(now.as_deref() == Some(b"changed on B".as_slice()), seen)
    })
    .await;
    c.wait_for(0, "Files: this node holds the file locks now.")
        .await;
    c.wait_for(2, "Files: node A holds the file locks now.")
        .await;
    let (out, err, code) = files(&bob, &["lock", "0"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("Locked a.txt"), "{out}");
    for at in 1..3 {
        assert_eq!(read(&c.folder(at)).unwrap(), b"changed on B");
    }
}
