//! Every service a node runs, in one list: [`SERVICES`].
//!
//! The layers below know no service but their own. A service owns its tag
//! on the peer transport (the first byte of its payloads, a `TAG` in its
//! crate) and, if it has one, its section of a node in the cluster file
//! (`[node.<name>]`, a [`Section`] in its crate:
//! the struct, its serde `Raw` form, its checks). This list is where the
//! node learns of them: the cluster file is read with every listed section
//! ([`load_cluster`]), and the tests below check that no two services share a
//! tag or a section name, and that no tag has changed.
//!
//! Starting is not in the list: each service takes a context of its own and
//! has a typed slot in the running node (see [`running`](crate::running)),
//! and the order matters (membership first, the web front after events and
//! files), so [`start`](crate::running::start) starts them one by one.
//!
//! Adding a service: its crate (with `TAG`, and its section if it has
//! one), an entry here, and its start in `running.rs`.

use std::path::Path;

use convene_booking::BookingSection;
use convene_cluster::{ClusterConfig, ConfigError, NodeConfig, Section, SectionReader, ServiceTag};
use convene_files::FilesSection;
use convene_meet::MeetSection;

/// One service of a node.
pub struct Service {
    /// Its name, for docs and logs.
    pub name: &'static str,
    /// The first byte of its payloads on the peer transport.
    pub tag: ServiceTag,
    /// Its section of a node in the cluster file, if it has one.
    pub section: Option<&'static dyn SectionReader>,
}

/// Every service, by tag. Sections are read and checked in this order.
pub const SERVICES: &[Service] = &[
    Service {
        name: "meet",
        tag: convene_meet::TAG,
        section: Some(MeetSection::READER),
    },
    Service {
        name: "booking",
        tag: convene_booking::TAG,
        section: Some(BookingSection::READER),
    },
    Service {
        name: "election",
        tag: convene_cluster::membership::TAG,
        section: None,
    },
    Service {
        name: "chat",
        tag: convene_chat::TAG,
        section: None,
    },
    Service {
        name: "files",
        tag: convene_files::TAG,
        section: Some(FilesSection::READER),
    },
    Service {
        name: "events",
        tag: convene_events::TAG,
        section: None,
    },
];

/// What `node` runs according to the cluster file, one short line per
/// service, for the web front's status page and `GET /api/status`:
/// `meet main :PORT` (a `client_port`), `meet backend` (a `[node.meet]`),
/// `booking :PORT (FACILITIES)` (either part may be missing), `chat :PORT`, `files (FOLDER)`, `web :PORT`,
/// `metrics :PORT` (the probe server).
pub fn describe(node: &NodeConfig) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(port) = node.client_port {
        lines.push(format!("meet main :{port}"));
    }
    if MeetSection::of(node).is_some() {
        lines.push("meet backend".to_string());
    }
    // A node with facilities keeps them even without a `booking_port`
    // (clients then reach them through another node's port).
    let facilities = BookingSection::facilities_of(node);
    if node.booking_port.is_some() || !facilities.is_empty() {
        let mut line = String::from("booking");
        if let Some(port) = node.booking_port {
            line.push_str(&format!(" :{port}"));
        }
        if !facilities.is_empty() {
            line.push_str(&format!(" ({})", facilities.join(", ")));
        }
        lines.push(line);
    }
    if let Some(port) = node.chat_port {
        lines.push(format!("chat :{port}"));
    }
    if let Some(files) = FilesSection::of(node) {
        lines.push(format!("files ({})", files.dir.display()));
    }
    if let Some(port) = node.http_port {
        lines.push(format!("web :{port}"));
    }
    if let Some(port) = node.metrics_port {
        lines.push(format!("metrics :{port}"));
    }
    lines
}

/// Every service's section reader, in the order of [`SERVICES`].
pub fn sections() -> Vec<&'static dyn SectionReader> {
    SERVICES.iter().filter_map(|s| s.section).collect()
}

/// Reads and validates a cluster file, with every service's section.
pub fn load_cluster(path: &Path) -> Result<ClusterConfig, ConfigError> {
    ClusterConfig::load(path, &sections())
}

/// Validates cluster-file text as if read from `path`, with every
/// service's section.
pub fn cluster_from_toml(text: &str, path: &Path) -> Result<ClusterConfig, ConfigError> {
    ClusterConfig::from_toml(text, path, &sections())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use convene_cluster::config::NODE_KEYS;

    use super::*;

    #[test]
    fn no_two_services_share_a_tag_or_a_name() {
        let mut bytes = HashSet::new();
        let mut names = HashSet::new();
        for service in SERVICES {
            assert!(
                bytes.insert(service.tag.byte()),
                "{} reuses a tag",
                service.name
            );
            assert!(
                names.insert(service.name),
                "{} is listed twice",
                service.name
            );
            assert_eq!(service.tag.name(), service.name);
        }
    }

    #[test]
    fn section_names_are_unique_and_no_common_key() {
        let mut names = HashSet::new();
        for section in sections() {
            assert!(names.insert(section.name()), "{} twice", section.name());
            assert!(
                !NODE_KEYS.contains(&section.name()),
                "{} is a node key",
                section.name()
            );
        }
        assert_eq!(names, HashSet::from(["meet", "booking", "files"]));
    }

    #[test]
    fn the_tags_are_those_on_the_wire() {
        // A tag is part of the peer wire format: changing one splits a
        // cluster whose nodes run different builds.
        let tags: Vec<(&str, u8)> = SERVICES.iter().map(|s| (s.name, s.tag.byte())).collect();
        assert_eq!(
            tags,
            [
                ("meet", 1),
                ("booking", 2),
                ("election", 3),
                ("chat", 4),
                ("files", 5),
                ("events", 6),
            ]
        );
    }

    #[test]
    fn a_file_with_every_section_reads_each_with_its_service() {
        let text = "[[node]]\nid = 'A'\nhost = '127.0.0.1'\npeer_port = 1\n\
                    [node.meet]\navailability = 'a.txt'\n\
                    [node.files]\ndir = 'shared'\n\
                    [node.booking]\nfacilities = ['Room']\n\
                    [[node]]\nid = 'B'\nhost = '127.0.0.1'\npeer_port = 2\nclient_port = 3\n";
        let cluster = cluster_from_toml(text, Path::new("/srv/cluster.toml")).unwrap();
        let a = cluster.node("A").unwrap();
        assert_eq!(
            MeetSection::of(a).unwrap().availability,
            Path::new("/srv/a.txt")
        );
        assert_eq!(FilesSection::of(a).unwrap().dir, Path::new("/srv/shared"));
        assert_eq!(BookingSection::facilities_of(a), ["Room"]);
        assert_eq!(
            a.sections.names().collect::<Vec<_>>(),
            ["meet", "booking", "files"]
        );
        assert_eq!(cluster.node("B").unwrap().sections.names().count(), 0);
        assert_eq!(
            describe(a),
            ["meet backend", "booking (Room)", "files (/srv/shared)"]
        );
        assert_eq!(describe(cluster.node("B").unwrap()), ["meet main :3"]);
    }

    #[test]
    fn every_service_of_a_node_is_described() {
        let text = "[[node]]\nid = 'A'\nhost = '127.0.0.1'\npeer_port = 1\nclient_port = 2\n\
                    booking_port = 3\nchat_port = 4\nhttp_port = 5\nmetrics_port = 7\n\
                    [node.booking]\nfacilities = ['Hall', 'Lab']\n\
                    [[node]]\nid = 'B'\nhost = '127.0.0.1'\npeer_port = 6\n";
        let cluster = cluster_from_toml(text, Path::new("/srv/cluster.toml")).unwrap();
        assert_eq!(
            describe(cluster.node("A").unwrap()),
            [
                "meet main :2",
                "booking :3 (Hall, Lab)",
                "chat :4",
                "web :5",
                "metrics :7"
            ]
        );
        assert!(describe(cluster.node("B").unwrap()).is_empty());
    }

    #[test]
    fn an_unknown_section_is_refused_naming_it_and_every_known_key() {
        let text = "[[node]]\nid = 'A'\nhost = '127.0.0.1'\npeer_port = 1\n[node.meeting]\nx = 1\n";
        let err = cluster_from_toml(text, Path::new("/srv/cluster.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 5"), "{err}");
        assert!(
            err.contains("unknown field `meeting`, expected one of `id`"),
            "{err}"
        );
        assert!(err.contains("`meet`, `booking`, `files`"), "{err}");
    }
}
