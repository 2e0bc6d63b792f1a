//! `convene node --ports-file FILE`: the ports a node bound, for the
//! program that started it.
//!
//! A cluster file may give a port of 0 ("any free port"); the node then
//! binds a port the operating system chooses, and a program that started
//! it (the tests do) needs to know which. Once the node has started, it
//! writes one `key=port` line per socket, in this order, those it has:
//!
//! ```text
//! peer=40211     # UDP, node-to-node traffic (peer_port)
//! client=40212   # TCP, meet clients (client_port)
//! booking=40213  # UDP, the booking front door (booking_port)
//! chat=40214     # TCP, chat clients (chat_port)
//! http=40215     # TCP, the web front (http_port)
//! metrics=40216  # TCP, the probe server (metrics_port)
//! ```
//!
//! The file is written beside its final name and renamed into place, so a
//! reader sees no file or the whole file, never half of one; its presence
//! means the node has started (every service is running).

use std::path::Path;

use anyhow::Context;
use convene_cluster::NodeConfig;

/// The `key=port` lines for `node`, whose ports are the bound ones.
pub fn render(node: &NodeConfig) -> String {
    let ports = [
        ("peer", Some(node.peer_port)),
        ("client", node.client_port),
        ("booking", node.booking_port),
        ("chat", node.chat_port),
        ("http", node.http_port),
        ("metrics", node.metrics_port),
    ];
    ports
        .into_iter()
        .filter_map(|(key, port)| port.map(|port| format!("{key}={port}\n")))
        .collect()
}

/// Writes `node`'s ports to `path` at once (a temporary file, renamed).
pub fn write(path: &Path, node: &NodeConfig) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = Path::new(&temporary);
    std::fs::write(temporary, render(node))
        .and_then(|()| std::fs::rename(temporary, path))
        .with_context(|| format!("cannot write the ports file {}", path.display()))
}

#[cfg(test)]
mod tests {

    #[test]
    fn one_line_per_socket_the_node_has_in_a_fixed_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.toml");
        let toml = "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 7000\n\
                    http_port = 7003\nclient_port = 7001\nmetrics_port = 7004\n";
        std::fs::write(&path, toml).unwrap();
        let cluster = convene_node::load_cluster(&path).unwrap();
        assert_eq!(
            super::render(&cluster.nodes[0]),
            "peer=7000\nclient=7001\nhttp=7003\nmetrics=7004\n"
        );
        let ports = dir.path().join("A.ports");
        super::write(&ports, &cluster.nodes[0]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&ports).unwrap(),
            "peer=7000\nclient=7001\nhttp=7003\nmetrics=7004\n"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 2, "no temporary file left: {left:?}");
    }
}
