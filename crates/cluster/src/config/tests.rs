use super::*;
use crate::election::ElectionConfig;

/// A service's section, as a service would define one: `[node.meet]` of
/// the example, with a path to resolve and a check across nodes.
#[derive(Clone, Debug, PartialEq)]
struct Meet {
    availability: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeet {
    availability: PathBuf,
}

impl Section for Meet {
    const NAME: &'static str = "meet";
    type Raw = RawMeet;

    fn from_raw(raw: RawMeet, node: &NodeContext<'_>) -> Result<Self, ConfigError> {
        if raw.availability.as_os_str().is_empty() {
            return Err(node.invalid("availability", "is empty".into()));
        }
        Ok(Meet {
            availability: node.resolve(&raw.availability),
        })
    }

    fn check(cluster: &ClusterConfig) -> Result<(), ConfigError> {
        let mut files = HashMap::new();
        for node in &cluster.nodes {
            let Some(meet) = node.section::<Meet>() else {
                continue;
            };
            if let Some(other) = files.insert(&meet.availability, &node.id) {
                let problem = format!("is node {other:?}'s too");
                return Err(cluster.invalid(&node.id, "availability", problem));
            }
        }
        Ok(())
    }
}

const EXAMPLE: &str = r#"
[[node]]
id = "M"
host = "127.0.0.1"
peer_port = 23092
client_port = 24092
priority = 1
data_dir = "data/M"

[[node]]
id = "A"
host = "127.0.0.1"
peer_port = 21092
[node.meet]
availability = "a.txt"
"#;

fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
    ClusterConfig::from_toml(
        text,
        Path::new("/etc/convene/cluster.toml"),
        &[Meet::READER],
    )
}

#[test]
fn the_issue_example_parses_with_paths_resolved_against_the_file() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.nodes.len(), 2);
    let m = c.node("M").unwrap();
    assert_eq!(m.peer_addr(), "127.0.0.1:23092".parse().unwrap());
    assert_eq!(m.client_addr(), Some("127.0.0.1:24092".parse().unwrap()));
    assert_eq!(m.data_dir, Path::new("/etc/convene/data/M"));
    assert!(m.section::<Meet>().is_none());
    let a = c.node("A").unwrap();
    assert_eq!(
        a.priority, 2,
        "default priority is the position in the file"
    );
    assert_eq!(a.data_dir, Path::new("/etc/convene/convene-data/A"));
    assert_eq!(
        a.section::<Meet>().unwrap().availability,
        Path::new("/etc/convene/a.txt")
    );
}

#[test]
fn ipv6_and_localhost_hosts() {
    let c = parse(
        "[[node]]\nid='a'\nhost='::1'\npeer_port=1\n[[node]]\nid='b'\nhost='localhost'\npeer_port=2\n",
    )
    .unwrap();
    assert_eq!(c.nodes[0].host, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(c.nodes[1].host, "127.0.0.1".parse::<IpAddr>().unwrap());
}

#[test]
fn unknown_key_names_the_key_and_the_line() {
    let err = parse("[[node]]\nid='a'\nhost='::1'\npeer_prot=1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/etc/convene/cluster.toml"), "{err}");
    assert!(err.contains("peer_prot"), "{err}");
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn duplicate_ids_are_refused() {
    let err = parse(
        "[[node]]\nid='a'\nhost='::1'\npeer_port=1\n[[node]]\nid='a'\nhost='::1'\npeer_port=2\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("\"a\"") && err.contains("`id` appears twice"),
        "{err}"
    );
}

#[test]
fn duplicate_ports_on_one_host_are_refused_but_port_zero_is_not() {
    let err = parse("[[node]]\nid='a'\nhost='127.0.0.1'\npeer_port=7\n[[node]]\nid='b'\nhost='127.0.0.1'\npeer_port=7\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("peer_port") && err.contains("\"a\""), "{err}");
    // Different hosts may share a port, UDP and TCP may share a number, and 0
    // means "any free port".
    parse("[[node]]\nid='a'\nhost='127.0.0.1'\npeer_port=7\nclient_port=7\n[[node]]\nid='b'\nhost='127.0.0.2'\npeer_port=7\n").unwrap();
    parse("[[node]]\nid='a'\nhost='127.0.0.1'\npeer_port=0\n[[node]]\nid='b'\nhost='127.0.0.1'\npeer_port=0\n").unwrap();
}

#[test]
fn bad_ids_hosts_and_empty_files_are_refused() {
    assert!(
        parse("[[node]]\nid='a b'\nhost='::1'\npeer_port=1\n")
            .unwrap_err()
            .to_string()
            .contains("`id`")
    );
    assert!(
        parse("[[node]]\nid='a'\nhost='example.org'\npeer_port=1\n")
            .unwrap_err()
            .to_string()
            .contains("`host`")
    );
    assert!(matches!(parse(""), Err(ConfigError::NoNodes { .. })));
    assert!(parse("[[node]]\nid='a'\nhost='::1'\npeer_port=70000\n").is_err());
    assert!(
        parse("[[node]]\nid='a'\nhost='::1'\n")
            .unwrap_err()
            .to_string()
            .contains("peer_port")
    );
}

#[test]
fn unknown_node_lists_the_known_ones() {
    let c = parse(EXAMPLE).unwrap();
    let err = c.node("Z").unwrap_err().to_string();
    assert!(err.contains("\"Z\"") && err.contains("M, A"), "{err}");
}

#[test]
fn unreadable_file_names_the_file() {
    let err = ClusterConfig::load(Path::new("/nonexistent/cluster.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/cluster.toml"), "{err}");
}

#[test]
fn election_timings_are_optional_and_checked() {
    let base = "[[node]]\nid='a'\nhost='::1'\npeer_port=1\n";
    assert_eq!(parse(base).unwrap().election, ElectionConfig::default());
    let c = parse(&format!(
        "{base}[election]\nheartbeat_ms = 100\nsuspect_after_ms = 350\n"
    ))
    .unwrap();
    assert_eq!(c.election.heartbeat, std::time::Duration::from_millis(100));
    assert_eq!(
        c.election.t1,
        std::time::Duration::from_millis(350),
        "t1 follows suspect_after"
    );
    let err = parse(&format!("{base}[election]\nt2_ms = 0\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("t2_ms"), "{err}");
    let err = parse(&format!("{base}[election]\nt9_ms = 5\n"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("t9_ms"), "{err}");
}

#[test]
fn a_section_is_read_by_its_service_and_checked_across_nodes() {
    let node = |id: &str, port: u16, file: &str| {
        format!(
            "[[node]]\nid = '{id}'\nhost = '::1'\npeer_port = {port}\n[node.meet]\navailability = '{file}'\n"
        )
    };
    let err = parse(&node("a", 1, "")).unwrap_err().to_string();
    assert_eq!(
        err,
        "/etc/convene/cluster.toml: node \"a\": `availability` is empty"
    );
    let err = parse(&format!(
        "{}{}",
        node("a", 1, "x.txt"),
        node("b", 2, "x.txt")
    ))
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "/etc/convene/cluster.toml: node \"b\": `availability` is node \"a\"'s too"
    );
    let err = parse(&format!("{}users = 3\n", node("a", 1, "x.txt")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 7, column 1"), "{err}");
    assert!(
        err.contains("unknown field `users`, expected `availability`"),
        "{err}"
    );
}

#[test]
fn a_section_nobody_reads_is_an_unknown_key() {
    let text = "[[node]]\nid='a'\nhost='::1'\npeer_port=1\n[node.booking]\nfacilities = []\n";
    let err = ClusterConfig::from_toml(text, Path::new("/etc/convene/cluster.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 5"), "{err}");
    assert!(
        err.contains("unknown field `booking`, expected one of `id`, `host`"),
        "{err}"
    );
    assert!(err.ends_with("`event_server`"), "{err}");
    let err = parse(text).unwrap_err().to_string();
    assert!(err.contains("`event_server`, `meet`"), "{err}");
}

#[test]
fn clusters_compare_their_sections() {
    let text = |file: &str| EXAMPLE.replace("a.txt", file);
    assert_eq!(
        parse(&text("a.txt")).unwrap(),
        parse(&text("a.txt")).unwrap()
    );
    assert_ne!(
        parse(&text("a.txt")).unwrap(),
        parse(&text("b.txt")).unwrap()
    );
}

#[test]
fn events_keys_default_to_one_sqlite_file_and_are_checked() {
    let node = "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 1\n";
    let plain = parse(node).unwrap();
    assert_eq!(
        plain.events.database_url,
        "sqlite:///etc/convene/convene-data/convene.db"
    );
    assert_eq!(plain.events.redis_url, None);
    assert!(plain.nodes[0].event_server, "event_server defaults to true");
    assert!(!plain.events_enabled(), "no web front, no events service");

    let web = parse(&format!(
        "database_url = \"sqlite://shared/events.db\"\nredis_url = \"redis://127.0.0.1:6379\"\n\
         {node}http_port = 8080\nevent_server = false\n"
    ))
    .unwrap();
    assert_eq!(
        web.events.database_url,
        "sqlite:///etc/convene/shared/events.db"
    );
    assert_eq!(
        web.events.redis_url.as_deref(),
        Some("redis://127.0.0.1:6379")
    );
    assert_eq!(web.nodes[0].http_addr().unwrap().port(), 8080);
    assert!(web.events_enabled());
    assert_eq!(web.event_servers().count(), 0);

    let pg = parse(&format!("database_url = \"postgres://me@db/test\"\n{node}")).unwrap();
    assert_eq!(pg.events.database_url, "postgres://me@db/test");

    for (text, key) in [
        (
            format!("database_url = \"oracle://x\"\n{node}"),
            "database_url",
        ),
        (
            format!("database_url = \"sqlite://\"\n{node}"),
            "database_url",
        ),
        (format!("redis_url = \"http://x\"\n{node}"), "redis_url"),
        (
            format!(
                "{node}http_port = 1\nchat_port = 1\n[[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = 2\nhttp_port = 1\n"
            ),
            "http_port",
        ),
    ] {
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains(key), "{key}: {error}");
    }
}

#[test]
fn the_secret_file_is_read_relative_to_the_cluster_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "0123456789abcdef".repeat(4);
    std::fs::write(dir.path().join("cluster.secret"), format!("{secret}\n")).unwrap();
    let text = "secret_file = 'cluster.secret'\n[[node]]\nid='a'\nhost='10.0.0.1'\npeer_port=1\n";
    let c = ClusterConfig::from_toml(text, &dir.path().join("cluster.toml"), &[]).unwrap();
    assert_eq!(c.secret.as_ref().unwrap().to_hex(), secret);
    assert_eq!(
        c.secret_file.as_deref(),
        Some(dir.path().join("cluster.secret").as_path())
    );
    assert!(!c.check_secret().unwrap(), "runs authenticated");
}

#[test]
fn a_missing_or_malformed_secret_file_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let text = "secret_file = 'nope.secret'\n[[node]]\nid='a'\nhost='::1'\npeer_port=1\n";
    let err = ClusterConfig::from_toml(text, &dir.path().join("cluster.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nope.secret") && err.contains("cannot be read"),
        "{err}"
    );
    std::fs::write(dir.path().join("nope.secret"), "not hex").unwrap();
    let err = ClusterConfig::from_toml(text, &dir.path().join("cluster.toml"), &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected 64 hex digits"), "{err}");
    assert!(err.contains("convene secret"), "{err}");
}

#[test]
fn without_a_secret_only_loopback_clusters_may_run() {
    let loopback = parse("[[node]]\nid='a'\nhost='127.0.0.1'\npeer_port=1\n[[node]]\nid='b'\nhost='::1'\npeer_port=2\n").unwrap();
    assert!(
        loopback.check_secret().unwrap(),
        "runs open, with a warning"
    );
    let wide = parse("[[node]]\nid='a'\nhost='127.0.0.1'\npeer_port=1\n[[node]]\nid='b'\nhost='192.0.2.4'\npeer_port=2\n").unwrap();
    let err = wide.check_secret().unwrap_err().to_string();
    assert!(err.contains("node b (192.0.2.4)"), "{err}");
    assert!(err.contains("convene secret > cluster.secret"), "{err}");
    assert!(err.contains("secret_file = \"cluster.secret\""), "{err}");
}

#[test]
fn limits_have_defaults_and_refuse_zero() {
    let c = parse(EXAMPLE).unwrap();
    assert_eq!(c.limits, Limits::default());
    assert_eq!(c.limits.booking_monitors_per_ip, 64);
    let text = format!("[limits]\nhttp_connections_per_ip = 3\nhttp_header_seconds = 5\n{EXAMPLE}");
    let c = parse(&text).unwrap();
    assert_eq!(c.limits.http_connections_per_ip, 3);
    assert_eq!(c.limits.http_header_timeout, Duration::from_secs(5));
    assert_eq!(
        c.limits.http_connections,
        Limits::default().http_connections
    );
    let err = parse(&format!("[limits]\nchat_connections = 0\n{EXAMPLE}"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`chat_connections` must be at least 1"),
        "{err}"
    );
    let err = parse(&format!("[limits]\nchat_conections = 5\n{EXAMPLE}"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("chat_conections"), "{err}");
}

#[test]
fn trusted_proxies_are_addresses() {
    assert!(parse(EXAMPLE).unwrap().limits.trusted_proxies.is_empty());
    let text = format!("[limits]\ntrusted_proxies = [\"10.0.0.5\", \"::1\"]\n{EXAMPLE}");
    let proxies = parse(&text).unwrap().limits.trusted_proxies;
    assert_eq!(
        proxies,
        [
            "10.0.0.5".parse::<IpAddr>().unwrap(),
            "::1".parse().unwrap()
        ]
    );
    let err = parse(&format!(
        "[limits]\ntrusted_proxies = [\"proxy.lan\"]\n{EXAMPLE}"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid IP address"), "{err}");
}

#[test]
fn tls_takes_both_files_and_an_http_port() {
    let c = parse("[[node]]\nid='a'\nhost='::1'\npeer_port=1\nhttp_port=8443\ntls_cert='a.crt'\ntls_key='keys/a.key'\n").unwrap();
    let tls = c.nodes[0].tls.as_ref().unwrap();
    assert_eq!(tls.cert, Path::new("/etc/convene/a.crt"));
    assert_eq!(tls.key, Path::new("/etc/convene/keys/a.key"));
    let err =
        parse("[[node]]\nid='a'\nhost='::1'\npeer_port=1\nhttp_port=8443\ntls_cert='a.crt'\n")
            .unwrap_err()
            .to_string();
    assert!(err.contains("give both or neither"), "{err}");
    let err =
        parse("[[node]]\nid='a'\nhost='::1'\npeer_port=1\ntls_cert='a.crt'\ntls_key='a.key'\n")
            .unwrap_err()
            .to_string();
    assert!(err.contains("no http_port"), "{err}");
}

#[test]
fn admins_are_account_names() {
    let c = parse(&format!("admins = ['ada', 'bob']\n{EXAMPLE}")).unwrap();
    assert_eq!(c.admins, ["ada", "bob"]);
    let err = parse(&format!("admins = ['a b']\n{EXAMPLE}"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"a b\", which is not an account name"),
        "{err}"
    );
}

#[test]
fn the_log_format_is_text_unless_the_file_says_json() {
    use crate::log_format::LogFormat;
    assert_eq!(parse(EXAMPLE).unwrap().log_format, LogFormat::Text);
    let c = parse(&format!("log_format = 'json'\n{EXAMPLE}")).unwrap();
    assert_eq!(c.log_format, LogFormat::Json);
    let err = parse(&format!("log_format = 'xml'\n{EXAMPLE}"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("log_format") && err.contains("\"xml\"") && err.contains("\"json\""),
        "{err}"
    );
}

#[test]
fn the_screen_mode_is_seed_unless_the_file_says_otherwise() {
    use crate::screen::ScreenMode;
    assert_eq!(parse(EXAMPLE).unwrap().screen, ScreenMode::Seed);
    let c = parse(&format!("screen = 'summary'\n{EXAMPLE}")).unwrap();
    assert_eq!(c.screen, ScreenMode::Summary);
    let err = parse(&format!("screen = 'loud'\n{EXAMPLE}"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("screen") && err.contains("\"summary\""),
        "{err}"
    );
}

#[test]
fn metrics_port_is_a_node_port_like_the_others() {
    let c = parse("[[node]]\nid='a'\nhost='127.0.0.1'\npeer_port=1\nmetrics_port=9100\n").unwrap();
    assert_eq!(c.nodes[0].metrics_port, Some(9100));
    assert_eq!(
        c.nodes[0].metrics_addr(),
        Some("127.0.0.1:9100".parse().unwrap())
    );
    assert!(!c.events_enabled(), "a probe server is no web front");
    let clash = parse(
        "[[node]]\nid='a'\nhost='127.0.0.1'\npeer_port=1\nhttp_port=9100\nmetrics_port=9100\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        clash.contains("metrics_port") && clash.contains("http_port"),
        "{clash}"
    );
}
