//! `[node.meet]`: a node that is a meet backend, and whose users it serves.
//!
//! ```toml
//! [node.meet]
//! availability = "a.txt"   # an EE450 availability file, relative to the cluster file
//! ```
//!
//! The cluster file's reader hands the table to [`MeetSection`] (a
//! [`Section`]); a node without it is no backend.
//!
//! A meet *main node* is any node with a `client_port`; a cluster may have
//! several, and each talks to every backend, so a client may ask any of
//! them. A cluster with backends but no main node is refused: no client
//! could ever ask for their users.

use std::path::PathBuf;

use convene_cluster::{ClusterConfig, ConfigError, NodeConfig, NodeContext, Section};
use serde::Deserialize;

/// `[node.meet]`: this node serves the users of one availability file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetSection {
    /// The EE450 availability file, already resolved against the cluster file.
    pub availability: PathBuf,
}

impl MeetSection {
    /// Node `node`'s section, if it is a meet backend.
    pub fn of(node: &NodeConfig) -> Option<&MeetSection> {
        node.section::<MeetSection>()
    }
}

/// What serde reads; the name shows in type errors ("expected struct
/// RawMeet").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeet {
    availability: PathBuf,
}

impl Section for MeetSection {
    const NAME: &'static str = "meet";
    type Raw = RawMeet;

    fn from_raw(raw: RawMeet, node: &NodeContext<'_>) -> Result<Self, ConfigError> {
        Ok(MeetSection {
            availability: node.resolve(&raw.availability),
        })
    }

    fn check(cluster: &ClusterConfig) -> Result<(), ConfigError> {
        let has_main = cluster.nodes.iter().any(|n| n.client_port.is_some());
        match cluster.nodes.iter().find(|n| MeetSection::of(n).is_some()) {
            Some(backend) if !has_main => Err(cluster.invalid(
                &backend.id,
                "[node.meet]",
                "makes this node a meet backend, but no node of the cluster has a \
                 `client_port` (a meet main node), so no client could ask for its users: \
                 give at least one node a `client_port`"
                    .to_string(),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
        ClusterConfig::from_toml(
            text,
            Path::new("/etc/convene/cluster.toml"),
            &[MeetSection::READER],
        )
    }

    #[test]
    fn the_availability_file_is_resolved_against_the_cluster_file() {
        let c = parse(
            "[[node]]\nid='M'\nhost='::1'\npeer_port=1\nclient_port=3\n\
             [[node]]\nid='A'\nhost='::1'\npeer_port=2\n[node.meet]\navailability = 'a.txt'\n",
        )
        .unwrap();
        assert!(MeetSection::of(c.node("M").unwrap()).is_none());
        assert_eq!(
            MeetSection::of(c.node("A").unwrap()).unwrap().availability,
            Path::new("/etc/convene/a.txt")
        );
    }

    #[test]
    fn the_section_takes_one_key() {
        let base = "[[node]]\nid='M'\nhost='::1'\npeer_port=2\nclient_port=3\n\
                    [[node]]\nid='A'\nhost='::1'\npeer_port=1\n[node.meet]\n";
        let err = parse(base).unwrap_err().to_string();
        assert!(err.contains("missing field `availability`"), "{err}");
        let err = parse(&format!("{base}availability='a.txt'\nusers=3\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 12") && err.contains("unknown field `users`"),
            "{err}"
        );
    }

    #[test]
    fn backends_need_a_main_node_and_may_have_several() {
        let backends = "[[node]]\nid='A'\nhost='::1'\npeer_port=1\n[node.meet]\navailability='a.txt'\n\
                        [[node]]\nid='B'\nhost='::1'\npeer_port=2\n[node.meet]\navailability='b.txt'\n";
        let err = parse(backends).unwrap_err().to_string();
        assert!(
            err.contains("cluster.toml")
                && err.contains("node \"A\"")
                && err.contains("no node of the cluster has a `client_port`"),
            "{err}"
        );
        let two_mains = format!(
            "{backends}[[node]]\nid='M'\nhost='::1'\npeer_port=3\nclient_port=4\n\
             [[node]]\nid='N'\nhost='::1'\npeer_port=5\nclient_port=6\n"
        );
        let c = parse(&two_mains).unwrap();
        let mains: Vec<&str> = c
            .nodes
            .iter()
            .filter(|n| n.client_port.is_some())
            .map(|n| n.id.as_str())
            .collect();
        assert_eq!(mains, ["M", "N"]);
        // Two main nodes on one address and port are refused by the cluster file's own checks.
        let same_port = two_mains.replace("client_port=6", "client_port=4");
        let err = parse(&same_port).unwrap_err().to_string();
        assert!(err.contains("client_port"), "{err}");
        // No backend, no main node: a cluster without meet is fine.
        parse("[[node]]\nid='A'\nhost='::1'\npeer_port=1\n").unwrap();
    }
}
