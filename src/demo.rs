//! The demo cluster: a main node and two backends with the EE450 sample
//! availability, on loopback, written out as an ordinary cluster file so a
//! newcomer can read and edit what they are running.

use std::path::{Path, PathBuf};

const CLUSTER: &str = include_str!("demo/cluster.toml");
const A_TXT: &str = include_str!("demo/a.txt");
const B_TXT: &str = include_str!("demo/b.txt");

/// Where `convene up` keeps the demo, relative to the working directory.
pub const DEMO_DIR: &str = "convene-data/demo";

/// The demo's main node, where `convene meet` connects by default.
pub const DEMO_SERVER: &str = "127.0.0.1:24092";

/// The demo main node's peer port, where `convene files` asks by default.
pub const DEMO_PEER: &str = "127.0.0.1:23092";

/// The demo main node's chat port, where `convene chat` connects by default.
pub const DEMO_CHAT_SERVER: &str = "127.0.0.1:4444";

/// Writes the demo cluster file and availability files into `dir` (keeping
/// any the user has already edited) and returns the cluster file's path.
pub fn write_demo(dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in [
        ("cluster.toml", CLUSTER),
        ("a.txt", A_TXT),
        ("b.txt", B_TXT),
    ] {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, text)?;
        }
    }
    for (folder, name, text) in DEMO_FILES {
        let folder = dir.join(folder);
        if !folder.exists() {
            std::fs::create_dir_all(&folder)?;
            std::fs::write(folder.join(name), text)?;
        }
    }
    Ok(dir.join("cluster.toml"))
}

/// The shared folders of the demo's files nodes, each with one file to list.
const DEMO_FILES: [(&str, &str, &str); 2] = [
    ("directory_a", "welcome.txt", "Shared by node A.\n"),
    ("directory_b", "notes.txt", "Shared by node B.\n"),
];

/// What `convene up` prints before the nodes' own lines.
pub fn banner(cluster_file: &Path) -> String {
    format!(
        "Convene demo cluster: main node M (meet clients on {DEMO_SERVER}, booking clients on UDP 127.0.0.1:2222), backends A and B; chat on TCP 4444 (M), 4445 (A), 4446 (B).\n\
         Cluster file: {}\n\
         In another terminal, try:\n  \
           convene meet eliana jameson kinsley   (one query)\n  \
           convene meet                          (the interactive EE450 client)\n  \
           convene book query --facility \"Meeting Room A\" --days 0,1\n  \
           convene book                          (the booking seed's interactive menu)\n  \
           convene chat --identity Adel          (the CS4262 chat client, on M)\n  \
           convene files ls                      (every node's shared files, one list)\n  \
           convene status                        (who is up, who coordinates)\n\
         Stop with Ctrl-C.\n",
        cluster_file.display()
    )
}
