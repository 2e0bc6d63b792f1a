use super::*;

fn parse_str(text: &str) -> Result<Vec<UserAvailability>, AvailabilityError> {
    parse(text, Path::new("a.txt"))
}

fn slots(text: &str) -> String {
    parse_slot_list(text).unwrap().to_string()
}

#[test]
fn official_sample_lines_parse() {
    let users =
        parse_str("khloe;[[5,6],[11,12],[15,18],[21,22],[24,29],[30,35],[39,42]]\naddison;[[3,7]]")
            .unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].name, "khloe");
    assert_eq!(
        users[0].slots.to_string(),
        "[[5,6],[11,12],[15,18],[21,22],[24,29],[30,35],[39,42]]"
    );
    assert_eq!(users[1].slots.to_string(), "[[3,7]]");
}

#[test]
fn white_space_anywhere_but_inside_a_name() {
    let users = parse_str(
        "saylor      ;[[1     ,10]      ,[11,12] ]\r\n\
         eli     ;    [    [5    ,    10  ]  ,[46,4   8]]\n\
         \n   \n\
         eliana;[[4,5],[23,2   6]] \n",
    )
    .unwrap();
    assert_eq!(users[0].slots.to_string(), "[[1,10],[11,12]]");
    assert_eq!(users[1].slots.to_string(), "[[5,10],[46,48]]");
    assert_eq!(users[2].slots.to_string(), "[[4,5],[23,26]]");
}

#[test]
fn an_empty_list_is_a_user_with_no_free_time() {
    assert_eq!(slots("[]"), "[]");
    assert_eq!(slots(" [ ] "), "[]");
}

#[test]
fn errors_name_the_file_the_line_and_the_problem() {
    let cases = [
        ("alice;[[1,2]]\nbob [[1,2]]", 2, "no ';'"),
        ("Alice;[[1,2]]", 1, "lowercase"),
        ("al ice;[[1,2]]", 1, "no spaces inside a name"),
        ("abcdefghijklmnopqrstu;[[1,2]]", 1, "at most 20"),
        (";[[1,2]]", 1, "empty"),
        ("a;[[3,3]]", 1, "start must be less than the end"),
        (
            "a;[[5,9],[9,12]]",
            1,
            "must start after the previous one ends",
        ),
        (
            "a;[[5,9],[1,2]]",
            1,
            "must start after the previous one ends",
        ),
        ("a;[[1,2]", 1, "expected ',' or ']' but found end of line"),
        ("a;[[1,2]]x", 1, "expected end of line but found 'x'"),
        ("a;[[1,-2]]", 1, "expected a number but found '-'"),
        ("a;[[1,99999999999]]", 1, "too large"),
        (
            "a;[[1,2]]\nb;[[1,2]]\na;[[4,5]]",
            3,
            "already appears on line 1",
        ),
    ];
    for (text, line, problem) in cases {
        let err = parse_str(text).unwrap_err();
        assert_eq!(err.line, line, "{text:?}: {err}");
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("a.txt:{line}: ")), "{shown}");
        assert!(shown.contains(problem), "{text:?} gave {shown}");
    }
}

#[test]
fn unreadable_and_non_utf8_files_are_errors() {
    let err = load(Path::new("/nonexistent/a.txt")).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt");
    std::fs::write(&path, b"alice;[[1,2]]\nb\xffb;[[1,2]]\n").unwrap();
    let err = load(&path).unwrap_err();
    assert_eq!(err.line, 2, "{err}");
}

#[test]
fn meeting_times_parse_with_spaces() {
    assert_eq!(
        parse_interval(" [ 17 , 18 ] ").unwrap(),
        Interval::new(17, 18).unwrap()
    );
    assert!(parse_interval("[18,17]").is_err());
    assert!(parse_interval("17,18").is_err());
    assert!(parse_interval("[17,18]]").is_err());
}

proptest::proptest! {
    #[test]
    fn the_parser_never_panics(text in "\\PC{0,80}") {
        let _ = parse_str(&text);
        let _ = parse_slot_list(&text);
    }

    #[test]
    fn written_lists_read_back(raw in proptest::collection::vec((0u32..1000, 1u32..50), 0..12)) {
        let mut at = 0u32;
        let mut intervals = Vec::new();
        for (gap, len) in raw {
            let start = at + gap + 1;
            intervals.push(Interval::new(start, start + len).unwrap());
            at = start + len;
        }
        let list = SlotList::from_sorted(intervals).unwrap();
        proptest::prop_assert_eq!(parse_slot_list(&list.to_string()).unwrap(), list);
    }
}
