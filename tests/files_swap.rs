//! A folder swapped for a link while a file is on its way into it: two
//! `convene node` processes share folders, the sender serves its chunks
//! slowly (fault injection, `--fault files-chunk-pause=MS`), and a
//! local process on the receiving side replaces the folder the file is
//! going to with a link to a directory outside the shared folder. Nothing
//! may be written outside, and the file is not applied through the link.

use std::path::{Path, PathBuf};
use std::time::Duration;

use convene_node::Fault;

use crate::util::{FAST_ELECTION, Held, NodeProcess, eventually, eventually_every, ready};

/// Chunks of the file (48 KiB each) and the sender's pause before each:
/// the transfer lasts about 2.4 s, time enough to swap the folder.
const CHUNKS: usize = 6;
const PAUSE_MS: u64 = 400;

fn spawn(config: &Path, id: &str, pause_ms: u64, peer: Held) -> NodeProcess {
    let pause = Fault::FilesChunkPause(Duration::from_millis(pause_ms));
    NodeProcess::spawn("--config", config, id, &[pause], vec![peer])
}

/// Every file under `dir` whose name starts with `prefix`, not following
/// links.
fn find(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            found.extend(find(&entry.path(), prefix));
        } else if entry.file_name().to_string_lossy().starts_with(prefix) {
            found.push(entry.path());
        }
    }
    found
}

fn logs(dir: &Path) -> String {
    ["A", "B"]
        .iter()
        .flat_map(|id| ["screen", "log"].map(|kind| (id, kind)))
        .map(|(id, kind)| {
            let text =
                std::fs::read_to_string(dir.join(format!("{id}.{kind}"))).unwrap_or_default();
            format!("--- {id}.{kind}\n{text}")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_swapped_for_a_link_during_a_transfer_leads_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, outside) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("outside"),
    );
    for d in [&a, &b, &outside] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::create_dir_all(a.join("sub")).unwrap();
    let content: Vec<u8> = (0..CHUNKS * 48 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(a.join("sub/x.bin"), &content).unwrap();

    // Each on a peer socket the test bound: the other must know it.
    let mut toml = String::new();
    let mut peers = Vec::new();
    for id in ["A", "B"] {
        let peer = Held::udp("peer");
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = {}\n\
             [node.files]\ndir = \"{}\"\n",
            peer.port(),
            id.to_lowercase()
        ));
        peers.push(peer);
    }
    toml.push_str(FAST_ELECTION);
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, toml).unwrap();
    // A serves slowly; B fetches sub/x.bin from it when they reconcile.
    let (b_peer, a_peer) = (peers.pop().unwrap(), peers.pop().unwrap());
    let _a = spawn(&config, "A", PAUSE_MS, a_peer);
    let b_node = spawn(&config, "B", 0, b_peer);

    // The transfer has begun once B has a temporary file (in the folder
    // the file goes to, or, before this fix, at the top of the folder).
    // (Not waiting for the nodes' ports files: the transfer may begin
    // before they are written.)
    eventually_every(
        Duration::from_millis(5),
        Duration::from_secs(30),
        "B to begin the transfer",
        || async { ready(!find(&b, ".convene-tmp-").is_empty(), logs(dir.path())) },
    )
    .await;
    // Mid-transfer, a local process moves the folder away (if B made it
    // already) and puts a link to a directory outside in its place.
    if b.join("sub").is_dir() {
        std::fs::rename(b.join("sub"), b.join("moved")).unwrap();
    }
    std::os::unix::fs::symlink(&outside, b.join("sub")).unwrap();

    // The transfer ends (about 2.4 s); B says what became of the file.
    let line = eventually(
        Duration::from_secs(30),
        "B to finish the transfer",
        || async {
            let text = b_node.screen();
            match text.lines().find(|l| l.contains("sub/x.bin from A")) {
                Some(line) => Ok(line.to_string()),
                None => Err(logs(dir.path())),
            }
        },
    )
    .await;

    let written_outside: Vec<_> = std::fs::read_dir(&outside).unwrap().flatten().collect();
    assert!(
        written_outside.is_empty(),
        "written outside the shared folder: {written_outside:?}\n{}",
        logs(dir.path())
    );
    assert!(
        line.contains("cannot synchronize sub/x.bin from A"),
        "the file was applied: {line}"
    );
    assert!(
        std::fs::symlink_metadata(b.join("sub"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced"
    );
    assert!(
        !b.join("moved/x.bin").exists(),
        "applied where the name no longer leads"
    );
    assert!(
        find(&b, ".convene-tmp-").is_empty(),
        "a temporary file was left behind"
    );
}
