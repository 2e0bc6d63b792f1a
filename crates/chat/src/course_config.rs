//! The course's server lists: how the seed and other CS4262 servers describe
//! a chat system, so `convene node --chat-config configuration.txt --id s1`
//! can start from the file a course user already has.
//!
//! Two formats, one server per line, columns separated by spaces or tabs:
//!
//! - the seed's `configuration.txt`, five columns:
//!   `server-id host client-port coordination-port priority`
//!   (`s1 127.0.0.1 4444 5555 1`);
//! - the common course format, four columns:
//!   `server-id host client-port coordination-port`, where the priority is
//!   the number in the id (`s3` has priority 3).
//!
//! Blank lines and lines starting with `#` are skipped. Every line of one
//! file must have the same number of columns. `localhost` means 127.0.0.1.
//! Errors name the line and the column at fault.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use convene_cluster::config::{NodeConfig, Sections};
use convene_cluster::election::ElectionConfig;
use convene_cluster::{ClusterConfig, ConfigError};

/// One chat server of a course configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CourseServer {
    /// The server id (`s1`), also its MainHall's suffix.
    pub id: String,
    /// Where it runs.
    pub host: IpAddr,
    /// TCP port for chat clients.
    pub client_port: u16,
    /// Port for server-to-server traffic (Convene's peer port).
    pub coordination_port: u16,
    /// Election priority: higher wins.
    pub priority: i64,
}

/// Why a course configuration cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct CourseConfigError {
    /// The line, counting from 1 (0 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// The cluster a course configuration describes: one node per server, its
/// client port as `chat_port`, its coordination port as the UDP `peer_port`,
/// its priority as the election priority, its store under
/// `convene-data/<id>` next to the file, and the default election timings.
///
/// The nodes serve chat only (no meet, no booking), which is all a course
/// file can say.
pub fn course_cluster(servers: &[CourseServer], path: &Path) -> Result<ClusterConfig, ConfigError> {
    let base = path.parent().unwrap_or(Path::new(""));
    let nodes = servers
        .iter()
        .map(|server| NodeConfig {
            id: server.id.clone(),
            host: server.host,
            peer_port: server.coordination_port,
            client_port: None,
            priority: server.priority,
            data_dir: base.join("convene-data").join(&server.id),
            booking_port: None,
            chat_port: Some(server.client_port),
            http_port: None,
            tls: None,
            metrics_port: None,
            event_server: false,
            sections: Sections::default(),
        })
        .collect();
    ClusterConfig::from_nodes(path, nodes, ElectionConfig::default())
}

/// Parses a course configuration (either format).
pub fn parse_course_config(text: &str) -> Result<Vec<CourseServer>, CourseConfigError> {
    let mut servers: Vec<CourseServer> = Vec::new();
    let mut columns = None;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |problem: String| CourseConfigError { line, problem };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        if fields.len() != 4 && fields.len() != 5 {
            return Err(fail(format!(
                "expected 4 columns (id host client-port coordination-port) or 5 (... priority), found {}",
                fields.len()
            )));
        }
        match columns {
            None => columns = Some(fields.len()),
            Some(n) if n != fields.len() => {
                return Err(fail(format!(
                    "has {} columns where earlier lines have {n}",
                    fields.len()
                )));
            }
            Some(_) => {}
        }
        let id = fields[0];
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(fail(format!(
                "server id {:?}: use letters, digits, '-' and '_'",
                shorten(id)
            )));
        }
        if servers.iter().any(|s| s.id == id) {
            return Err(fail(format!("server id {id:?} appears twice")));
        }
        let host = if fields[1].eq_ignore_ascii_case("localhost") {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            fields[1].parse().map_err(|_| {
                fail(format!(
                    "host {:?} is not an IP address (or localhost)",
                    shorten(fields[1])
                ))
            })?
        };
        let port = |column: &str, text: &str| -> Result<u16, CourseConfigError> {
            match text.parse::<u16>() {
                Ok(p) if p != 0 => Ok(p),
                _ => Err(fail(format!(
                    "{column} {:?} is not a port (1-65535)",
                    shorten(text)
                ))),
            }
        };
        let client_port = port("client port", fields[2])?;
        let coordination_port = port("coordination port", fields[3])?;
        let priority = match fields.get(4) {
            Some(p) => p
                .parse::<i64>()
                .map_err(|_| fail(format!("priority {:?} is not a whole number", shorten(p))))?,
            None => priority_from_id(id).ok_or_else(|| {
                fail(format!(
                    "server id {id:?} has no number for its priority; add a fifth column or name it like s3"
                ))
            })?,
        };
        for other in &servers {
            if other.host == host
                && (other.client_port == client_port
                    || other.coordination_port == coordination_port)
            {
                return Err(fail(format!(
                    "reuses a port of server {:?} on {host}",
                    other.id
                )));
            }
        }
        servers.push(CourseServer {
            id: id.to_string(),
            host,
            client_port,
            coordination_port,
            priority,
        });
    }
    if servers.is_empty() {
        return Err(CourseConfigError {
            line: 0,
            problem: "the configuration lists no server".into(),
        });
    }
    Ok(servers)
}

/// The trailing number of an id (`s3` → 3), the four-column format's priority.
fn priority_from_id(id: &str) -> Option<i64> {
    let digits: String = id
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_course_file_becomes_a_cluster_of_chat_nodes() {
        let servers = parse_course_config("s1 localhost 4444 5555 1\ns2 127.0.0.1 4445 5556 7\n")
            .expect("valid");
        let cluster = course_cluster(&servers, Path::new("/srv/chat/configuration.txt"))
            .expect("valid cluster");
        let s2 = cluster.node("s2").expect("s2");
        assert_eq!(s2.chat_port, Some(4445));
        assert_eq!(s2.peer_port, 5556);
        assert_eq!(s2.priority, 7);
        assert_eq!(s2.data_dir, Path::new("/srv/chat/convene-data/s2"));
        assert!(
            s2.sections.names().next().is_none()
                && s2.booking_port.is_none()
                && s2.client_port.is_none()
        );
    }

    #[test]
    fn servers_that_clash_are_refused_as_a_cluster_file_would_be() {
        // The parser refuses this itself; built by hand, the cluster check does.
        let server = |id: &str, client_port| CourseServer {
            id: id.into(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            client_port,
            coordination_port: 5555,
            priority: 1,
        };
        let servers = [server("s1", 4444), server("s2", 4445)];
        let error = course_cluster(&servers, Path::new("c.txt")).expect_err("port clash");
        assert!(error.to_string().contains("peer_port"), "{error}");
    }

    #[test]
    fn the_seeds_five_columns_and_the_courses_four() {
        let seed = parse_course_config(
            "s1 localhost 4444 5555 1\ns2\t127.0.0.1\t4445\t5556\t2\n\n# note\n",
        )
        .unwrap();
        assert_eq!(seed.len(), 2);
        assert_eq!(
            seed[1],
            CourseServer {
                id: "s2".into(),
                host: "127.0.0.1".parse().unwrap(),
                client_port: 4445,
                coordination_port: 5556,
                priority: 2
            }
        );
        assert_eq!(seed[0].host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let course = parse_course_config("s1 127.0.0.1 4544 5655\ns3 ::1 4545 5656\n").unwrap();
        assert_eq!((course[0].priority, course[1].priority), (1, 3));
        assert_eq!(course[1].host, "::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn bad_lines_say_where_and_what() {
        let cases = [
            ("s1 127.0.0.1 4444", 1, "expected 4 columns"),
            (
                "s1 127.0.0.1 4444 5555 1\ns2 127.0.0.1 4445 5556",
                2,
                "has 4 columns where earlier lines have 5",
            ),
            ("s1 example.org 4444 5555", 1, "not an IP address"),
            ("s1 127.0.0.1 70000 5555", 1, "client port \"70000\""),
            ("s1 127.0.0.1 4444 0", 1, "coordination port \"0\""),
            ("s1 127.0.0.1 4444 5555 high", 1, "priority \"high\""),
            ("main 127.0.0.1 4444 5555", 1, "no number for its priority"),
            (
                "s1 127.0.0.1 4444 5555\ns1 127.0.0.1 4445 5556",
                2,
                "appears twice",
            ),
            (
                "s1 127.0.0.1 4444 5555\ns2 127.0.0.1 4444 5556",
                2,
                "reuses a port of server \"s1\"",
            ),
            ("s/1 127.0.0.1 4444 5555 1", 1, "server id"),
            ("", 0, "lists no server"),
        ];
        for (text, line, needle) in cases {
            let err = parse_course_config(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
            assert!(err.to_string().contains(needle), "{text:?}: {err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}") {
            let _ = parse_course_config(&text);
        }
    }
}
