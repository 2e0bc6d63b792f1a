//! `[node.meet]`: a node that is a meet backend, and whose users it serves.
//!
//! ```toml
//! [node.meet]
//! availability = "a.txt"   # an EE450 availability file, relative to the cluster file
//! ```
//!
//! The cluster file's reader hands the table to [`MeetSection`] (a
//! [`Section`]); a node without it is no backend.

use std::path::PathBuf;

use convene_cluster::{ConfigError, NodeConfig, NodeContext, Section};
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
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use convene_cluster::ClusterConfig;

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
            "[[node]]\nid='M'\nhost='::1'\npeer_port=1\n\
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
        let base = "[[node]]\nid='A'\nhost='::1'\npeer_port=1\n[node.meet]\n";
        let err = parse(base).unwrap_err().to_string();
        assert!(err.contains("missing field `availability`"), "{err}");
        let err = parse(&format!("{base}availability='a.txt'\nusers=3\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 7") && err.contains("unknown field `users`"),
            "{err}"
        );
    }
}
