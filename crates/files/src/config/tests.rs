use super::*;

fn parse(text: &str) -> Result<ClusterConfig, ConfigError> {
    ClusterConfig::from_toml(
        text,
        Path::new("/etc/convene/cluster.toml"),
        &[FilesSection::READER],
    )
}

#[test]
fn files_sections_resolve_their_folder_and_are_checked() {
    let two = |a: &str, b: &str| {
        format!(
            "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 1\n[node.files]\n{a}\n\
             [[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = 2\n[node.files]\n{b}\n"
        )
    };
    let config = parse(&two("dir = \"directory_a\"", "dir = \"/srv/directory_b\"")).unwrap();
    let dir = |i: usize| FilesSection::of(&config.nodes[i]).unwrap().dir.clone();
    assert_eq!(dir(0), Path::new("/etc/convene/directory_a"));
    assert_eq!(dir(1), Path::new("/srv/directory_b"));
    assert_eq!(files_nodes(&config).count(), 2);
    assert_eq!(
        FilesSection::of(&config.nodes[0]).unwrap().lease,
        DEFAULT_LEASE
    );

    let error = parse(&two("dir = \"same\"", "dir = \"same\"")).unwrap_err();
    assert!(error.to_string().contains("dir"), "{error}");
    assert!(error.to_string().contains("\"A\"'s folder too"), "{error}");
    let error = parse(&two("dir = \"a\"\nlocks = true", "dir = \"b\"")).unwrap_err();
    assert!(error.to_string().contains("locks"), "{error}");
    assert!(parse(&two("", "dir = \"b\"")).is_err(), "dir is required");

    // Locks: the marked holder, else the highest priority.
    assert_eq!(lock_holder(&config).unwrap().id, "B");
    let marked = parse(&two(
        "dir = \"a\"\nlock_holder = true\nlease_seconds = 60",
        "dir = \"b\"",
    ))
    .unwrap();
    assert_eq!(lock_holder(&marked).unwrap().id, "A");
    let lease = FilesSection::of(&marked.nodes[0]).unwrap().lease;
    assert_eq!(lease, Duration::from_secs(60));
    for (text, key) in [
        (
            two(
                "dir = \"a\"\nlock_holder = true",
                "dir = \"b\"\nlock_holder = true",
            ),
            "lock_holder",
        ),
        (
            two("dir = \"a\"\nlease_seconds = 0", "dir = \"b\""),
            "lease_seconds",
        ),
    ] {
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains(key), "{key}: {error}");
    }
}

#[test]
fn a_cluster_without_files_nodes_has_no_lock_holder() {
    let config = parse("[[node]]\nid='a'\nhost='::1'\npeer_port=1\n").unwrap();
    assert_eq!(files_nodes(&config).count(), 0);
    assert!(lock_holder(&config).is_none());
}
