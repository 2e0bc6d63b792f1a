use super::*;
use proptest::prelude::*;

#[test]
fn accepted_names() {
    for (text, why) in [
        ("a.jpg", "the handout's"),
        ("notes.txt", "the handout's"),
        ("my holiday photo.jpg", "spaces are ordinary characters"),
        ("photos/2024/a.jpg", "nested directories"),
        ("日本語/ファイル.txt", "Unicode"),
        ("Zoë's café.md", "Unicode and an apostrophe"),
        (".bashrc", "a dot file"),
        ("...", "three dots are a name, not '..'"),
        ("a..b", "'..' inside a name climbs nothing"),
        ("..a", "neither is a leading '..'"),
        ("a.", "a trailing dot"),
        (
            "-rf",
            "a leading dash (the runtime never passes names to a shell)",
        ),
        (".convene", "the reserved prefix includes the '-'"),
        ("x/.convenex", "likewise"),
        (
            "a/convene-tmp-1",
            "without the leading dot it is not reserved",
        ),
    ] {
        let path = SharedPath::parse(text);
        assert_eq!(
            path.as_ref().map(SharedPath::as_str),
            Ok(text),
            "{text:?}: {why}"
        );
    }
    let longest_component = "x".repeat(MAX_COMPONENT_BYTES);
    assert!(SharedPath::parse(&longest_component).is_ok());
    let longest_path = vec!["y".repeat(127); 32].join("/"); // 32 * 128 - 1 bytes
    assert_eq!(longest_path.len(), MAX_PATH_BYTES - 1);
    assert!(SharedPath::parse(&longest_path).is_ok());
    let exactly = format!("{longest_path}z");
    assert!(SharedPath::parse(&exactly).is_ok());
}

/// The name of an error's variant (the start of its `Debug` text), so
/// that a table can say which refusal it expects.
fn variant(error: &PathError) -> String {
    let debug = format!("{error:?}");
    debug
        .split([' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn refused_names() {
    let long_component = format!("a/{}", "x".repeat(MAX_COMPONENT_BYTES + 1));
    let long_path = vec!["y".repeat(200); 21].join("/"); // 4220 bytes
    for (text, expected, why) in [
        ("", "Empty", "names nothing"),
        ("/etc/passwd", "Absolute", "read against the root"),
        ("/", "Absolute", "likewise"),
        ("a//b", "EmptyComponent", "a second spelling of a/b"),
        ("a/", "EmptyComponent", "a trailing '/'"),
        (".", "CurrentDir", "names the folder itself"),
        ("./a", "CurrentDir", "a second spelling of a"),
        ("a/./b", "CurrentDir", "a second spelling of a/b"),
        ("..", "ParentDir", "leaves the folder"),
        ("../x", "ParentDir", "leaves the folder"),
        ("a/../../x", "ParentDir", "leaves it after a detour"),
        ("a/..", "ParentDir", "the folder itself"),
        ("a\0.jpg", "Nul", "the OS would stop at the NUL"),
        ("a\\b", "Backslash", "a Windows separator"),
        ("..\\x", "Backslash", "a Windows climb"),
        ("a\nb", "Control", "a newline forges log lines"),
        ("a\tb", "Control", "a tab"),
        ("\u{1b}[31mred", "Control", "a terminal escape"),
        ("del\u{7f}", "Control", "DEL"),
        ("nel\u{85}", "Control", "a C1 control"),
        (".convene-tmp-123", "Reserved", "the runtime's temp file"),
        ("d/.convene-state/x", "Reserved", "the runtime's state"),
        (".Convene-TMP-1", "Reserved", "case-blind file systems"),
        (&long_component, "ComponentTooLong", "over NAME_MAX"),
        (&long_path, "TooLong", "over PATH_MAX"),
    ] {
        let error = SharedPath::parse(text).expect_err(why);
        assert_eq!(variant(&error), expected, "{text:?}: {why}: {error}");
    }
    // The details.
    assert_eq!(
        SharedPath::parse("a\nb"),
        Err(PathError::Control {
            path: "a\nb".into(),
            character: '\n'
        })
    );
    assert!(matches!(
        SharedPath::parse(&long_component),
        Err(PathError::ComponentTooLong { len: 256, .. })
    ));
    assert!(matches!(
        SharedPath::parse(&long_path),
        Err(PathError::TooLong { len: 4220, .. })
    ));
    assert_eq!(
        SharedPath::parse("x/.CONVENE-tmp"),
        Err(PathError::Reserved {
            path: "x/.CONVENE-tmp".into(),
            component: ".CONVENE-tmp".into()
        })
    );
}

#[test]
fn errors_quote_the_name_cut_and_escaped() {
    let hostile = format!("{}\n{}", "x".repeat(100), "y".repeat(5000));
    let message = SharedPath::parse(&hostile).unwrap_err().to_string();
    assert!(message.len() < 200, "{message}");
    assert!(message.contains('…'));
    let message = SharedPath::parse("a\nFAKE LOG LINE")
        .unwrap_err()
        .to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("\\n"), "{message}");
}

#[test]
fn parts() {
    let path = SharedPath::parse("photos/2024/a.jpg").unwrap();
    assert_eq!(
        path.components().collect::<Vec<_>>(),
        ["photos", "2024", "a.jpg"]
    );
    assert_eq!(path.file_name(), "a.jpg");
    assert_eq!(path.parent().unwrap().as_str(), "photos/2024");
    assert_eq!(path.parent().unwrap().parent().unwrap().as_str(), "photos");
    assert_eq!(path.parent().unwrap().parent().unwrap().parent(), None);
    assert_eq!(path.to_string(), "photos/2024/a.jpg");
    assert_eq!("photos/2024/a.jpg".parse::<SharedPath>(), Ok(path));
    let top = SharedPath::parse("a.jpg").unwrap();
    assert_eq!(top.file_name(), "a.jpg");
    assert_eq!(top.parent(), None);
}

#[test]
fn sorting_is_by_bytes() {
    let mut paths: Vec<SharedPath> = ["b", "a/z", "B", "a", "é", "a b", "a.txt"]
        .into_iter()
        .map(|t| SharedPath::parse(t).unwrap())
        .collect();
    paths.sort();
    let sorted: Vec<&str> = paths.iter().map(SharedPath::as_str).collect();
    // Upper case before lower case, ' ' < '.' < '/', non-ASCII last.
    assert_eq!(sorted, ["B", "a", "a b", "a.txt", "a/z", "b", "é"]);
}

#[test]
fn from_relative_names_watcher_events() {
    let root = Path::new("/srv/shared");
    let ok = |full: &str| SharedPath::from_relative(root, Path::new(full));
    assert_eq!(ok("/srv/shared/a.jpg").unwrap().as_str(), "a.jpg");
    assert_eq!(ok("/srv/shared/d/e/f.txt").unwrap().as_str(), "d/e/f.txt");
    assert_eq!(ok("/srv/shared/d//f.txt").unwrap().as_str(), "d/f.txt");
    assert_eq!(ok("/srv/shared"), Err(PathError::Empty));
    assert!(matches!(
        ok("/srv/sharedx/a"),
        Err(PathError::NotUnderRoot { .. })
    ));
    assert!(matches!(
        ok("/etc/passwd"),
        Err(PathError::NotUnderRoot { .. })
    ));
    assert!(matches!(
        ok("/srv/shared/../x"),
        Err(PathError::ParentDir { .. })
    ));
    assert!(matches!(
        ok("/srv/shared/.convene-tmp-9"),
        Err(PathError::Reserved { .. })
    ));
    assert!(matches!(
        ok("/srv/shared/a\\b"),
        Err(PathError::Backslash { .. })
    ));
}

#[cfg(unix)]
#[test]
fn from_relative_refuses_names_that_are_not_utf8() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let root = Path::new("/srv/shared");
    let full = root.join(OsStr::from_bytes(b"caf\xe9.txt")); // Latin-1 é
    assert_eq!(
        SharedPath::from_relative(root, &full),
        Err(PathError::NotUtf8 {
            path: "caf\u{fffd}.txt".into()
        })
    );
}

#[test]
fn conflict_names() {
    let at = 1_724_112_000 + 13 * 3600 + 45 * 60 + 1; // 2024-08-20 13:45:01 UTC
    let conflict = |path: &str, node: &str| {
        SharedPath::parse(path)
            .unwrap()
            .conflict_name(node, at)
            .to_string()
    };
    assert_eq!(
        conflict("a.jpg", "B"),
        "a.sync-conflict-B-20240820-134501.jpg"
    );
    assert_eq!(
        conflict("d/archive.tar.gz", "node-2"),
        "d/archive.tar.sync-conflict-node-2-20240820-134501.gz"
    );
    assert_eq!(
        conflict("README", "A"),
        "README.sync-conflict-A-20240820-134501"
    );
    assert_eq!(
        conflict("x/.bashrc", "A"),
        "x/.bashrc.sync-conflict-A-20240820-134501"
    );
    assert_eq!(conflict("a.", "A"), "a.sync-conflict-A-20240820-134501.");
    assert_eq!(
        conflict("日記.txt", "A"),
        "日記.sync-conflict-A-20240820-134501.txt"
    );
    // The node id is a peer's word: it cannot add a component or a control character.
    assert_eq!(
        conflict("a.jpg", "../../e\tvil é"),
        "a.sync-conflict-______e_vil__-20240820-134501.jpg"
    );
    assert_eq!(
        conflict("a.jpg", ""),
        "a.sync-conflict-unknown-20240820-134501.jpg"
    );
    let long_node = "n".repeat(100);
    assert_eq!(
        conflict("a", &long_node),
        format!("a.sync-conflict-{}-20240820-134501", "n".repeat(32))
    );
}

#[test]
fn conflict_times_are_utc_and_clamped() {
    let path = SharedPath::parse("a").unwrap();
    let name = |t| path.conflict_name("A", t).to_string();
    assert_eq!(name(0), "a.sync-conflict-A-19700101-000000");
    assert_eq!(name(951_782_400), "a.sync-conflict-A-20000229-000000");
    assert_eq!(name(-1), "a.sync-conflict-A-19700101-000000");
    assert_eq!(name(i64::MAX), "a.sync-conflict-A-99991231-235959");
}

#[test]
fn conflict_names_fit_the_limits() {
    let at = 1_724_112_000;
    // A 255-byte name: the stem is cut to make room, the extension stays.
    let long = format!("{}.txt", "é".repeat(125)); // 254 bytes
    let copy = SharedPath::parse(&long).unwrap().conflict_name("A", at);
    assert_eq!(copy.file_name().len(), MAX_COMPONENT_BYTES - 1); // cut between 'é's
    assert!(
        copy.file_name()
            .ends_with(".sync-conflict-A-20240820-000000.txt")
    );
    // A huge extension: it goes, the marker stays.
    let huge_extension = format!("a.{}", "x".repeat(250));
    let copy = SharedPath::parse(&huge_extension)
        .unwrap()
        .conflict_name("A", at);
    assert_eq!(copy.as_str(), "a.sync-conflict-A-20240820-000000");
    // A directory so deep that two bytes are left for the file name.
    let directory = format!("{}/{}", vec!["d".repeat(254); 16].join("/"), "e".repeat(13));
    assert_eq!(directory.len(), MAX_PATH_BYTES - 3);
    let deep = format!("{directory}/ab");
    let path = SharedPath::parse(&deep).unwrap();
    let copy = path.conflict_name("A", at);
    assert_eq!(copy.as_str().len(), MAX_PATH_BYTES);
    assert_eq!(copy.parent(), path.parent());
    assert_eq!(copy.file_name(), "sy");
}

#[test]
fn resolve_walks_plain_directories() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("a/b")).unwrap();
    fs::write(root.path().join("a/b/c.txt"), "x").unwrap();
    let resolve_ = |text: &str| resolve(root.path(), &SharedPath::parse(text).unwrap());
    assert_eq!(
        resolve_("a/b/c.txt").unwrap(),
        root.path().join("a/b/c.txt")
    );
    // Not there yet: fine, it will be created.
    assert_eq!(
        resolve_("a/b/new.txt").unwrap(),
        root.path().join("a/b/new.txt")
    );
    assert_eq!(
        resolve_("new/dir/f").unwrap(),
        root.path().join("new/dir/f")
    );
    // A file where a directory is needed.
    assert_eq!(
        resolve_("a/b/c.txt/d"),
        Err(PathError::NotADirectory {
            path: "a/b/c.txt".into()
        })
    );
}

#[cfg(unix)]
#[test]
fn resolve_refuses_symbolic_links() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("d")).unwrap();
    symlink(outside.path(), root.path().join("d/out")).unwrap();
    symlink(outside.path().join("secret"), root.path().join("d/file")).unwrap();
    symlink(root.path().join("d"), root.path().join("inside")).unwrap();
    let resolve_ = |text: &str| resolve(root.path(), &SharedPath::parse(text).unwrap());
    assert_eq!(
        resolve_("d/out/x.txt"),
        Err(PathError::Symlink {
            path: "d/out".into()
        })
    );
    // The last component too, even dangling: writing would follow it.
    assert_eq!(
        resolve_("d/file"),
        Err(PathError::Symlink {
            path: "d/file".into()
        })
    );
    // Even a link that stays inside: what it points to can change.
    assert!(matches!(
        resolve_("inside/x"),
        Err(PathError::Symlink { .. })
    ));
    assert!(resolve_("d/x").is_ok());
}

/// Mostly valid names, with the characters that make names invalid
/// mixed in often enough to matter.
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a./\\\\\\x00\\n é-]{0,12}",
        "(\\.convene-|[a-zA-Z0-9 ._é日-]{1,12})(/[a-zA-Z0-9 ._é日-]{1,12}){0,5}",
        any::<String>(),
    ]
}

fn valid_path() -> impl Strategy<Value = SharedPath> {
    "[a-zA-Z0-9 ._é日-]{1,40}(/[a-zA-Z0-9 ._é日-]{1,40}){0,5}"
        .prop_filter_map("invalid", |t| SharedPath::parse(&t).ok())
}

proptest! {
    #[test]
    fn parsed_paths_stay_inside(text in tricky_text()) {
        if let Ok(path) = SharedPath::parse(&text) {
            prop_assert_eq!(SharedPath::parse(path.as_str()), Ok(path.clone()));
            prop_assert!(!path.as_str().starts_with('/'));
            prop_assert!(path.components().all(|c| c != ".." && c != "." && !c.is_empty()));
            let root = Path::new("/srv/shared");
            let joined = root.join(path.as_str());
            prop_assert!(joined.starts_with(root));
            // `starts_with` is lexical ("/srv/shared/../x" starts with it too),
            // so check that every component past the root is a plain name.
            let below: Vec<_> = joined.components().skip(root.components().count()).collect();
            prop_assert_eq!(below.len(), path.components().count());
            prop_assert!(below.iter().all(|c| matches!(c, Component::Normal(_))));
        }
    }

    #[test]
    fn conflict_names_are_valid_siblings(
        path in valid_path(),
        node in any::<String>(),
        at in any::<i64>(),
    ) {
        let copy = path.conflict_name(&node, at);
        prop_assert_eq!(SharedPath::parse(copy.as_str()), Ok(copy.clone()));
        prop_assert_eq!(copy.parent(), path.parent());
        prop_assert_ne!(&copy, &path);
        prop_assert!(copy.file_name().contains(".sync-conflict-"));
    }

    #[test]
    fn from_relative_agrees_with_parse(path in valid_path()) {
        let root = Path::new("/srv/shared");
        let full = root.join(path.as_str());
        prop_assert_eq!(SharedPath::from_relative(root, &full), Ok(path));
    }
}
