use proptest::prelude::*;

use super::*;

/// Feeds `stream` to a fresh framer in the given pieces, then ends it, and
/// returns every read up to the first error (inclusive). Checks on the way
/// that `None` always means "all consumed" and that at most `limit + 1`
/// bytes wait between calls.
fn frame(limit: usize, pieces: &[&[u8]]) -> Vec<Result<Vec<u8>, LineError>> {
    let mut lines = LineReader::new(limit);
    let mut out = Vec::new();
    for piece in pieces {
        let mut rest = *piece;
        loop {
            let (used, line) = lines.take(rest);
            assert!(used <= rest.len());
            rest = &rest[used..];
            assert!(lines.pending() <= limit + 1);
            match line {
                None => {
                    assert!(rest.is_empty(), "None consumes everything");
                    break;
                }
                Some(Ok(line)) => out.push(Ok(line)),
                Some(Err(e)) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    loop {
        let last = lines.finish();
        let stop = last.is_err();
        out.push(last);
        if stop {
            return out;
        }
    }
}

/// The rule written the obvious way, over the whole stream at once.
fn model(limit: usize, stream: &[u8]) -> Vec<Result<Vec<u8>, LineError>> {
    let mut out = Vec::new();
    let mut rest = stream;
    loop {
        let (segment, ended) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], Some(end + 1)),
            None => (rest, None),
        };
        if ended.is_none() && segment.is_empty() {
            out.push(Err(LineError::Closed));
            return out;
        }
        let body = segment.strip_suffix(b"\r").unwrap_or(segment);
        if body.len() > limit {
            out.push(Err(LineError::TooLong { limit }));
            return out;
        }
        out.push(Ok(body.to_vec()));
        match ended {
            Some(end) => rest = &rest[end..],
            None => {
                out.push(Err(LineError::Closed));
                return out;
            }
        }
    }
}

fn ok(line: &[u8]) -> Result<Vec<u8>, LineError> {
    Ok(line.to_vec())
}

#[test]
fn a_line_split_at_every_place_reads_the_same() {
    let stream = b"first line\r\nsecond\nthird";
    let whole = frame(16, &[stream]);
    assert_eq!(
        whole,
        [
            ok(b"first line"),
            ok(b"second"),
            ok(b"third"),
            Err(LineError::Closed)
        ]
    );
    for a in 0..=stream.len() {
        for b in a..=stream.len() {
            let pieces = [&stream[..a], &stream[a..b], &stream[b..]];
            assert_eq!(frame(16, &pieces), whole, "split at {a} and {b}");
        }
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(frame(16, &bytes), whole);
}

#[test]
fn exactly_the_limit_is_a_line_with_either_ending() {
    for ending in [&b"\n"[..], b"\r\n"] {
        let mut stream = vec![b'x'; 8];
        stream.extend_from_slice(ending);
        assert_eq!(frame(8, &[&stream])[0], ok(&[b'x'; 8]));
    }
    // Cut by the end of the stream, too, with or without a `\r`.
    assert_eq!(frame(8, &[&[b'x'; 8]])[0], ok(&[b'x'; 8]));
    assert_eq!(frame(8, &[b"xxxxxxxx\r"])[0], ok(&[b'x'; 8]));
}

#[test]
fn one_byte_over_is_too_long() {
    let too_long = || vec![Err(LineError::TooLong { limit: 8 })];
    assert_eq!(frame(8, &[b"xxxxxxxxx\n"]), too_long());
    assert_eq!(frame(8, &[b"xxxxxxxxx\r\n"]), too_long());
    assert_eq!(frame(8, &[b"xxxxxxxxx"]), too_long(), "cut");
}

#[test]
fn too_long_is_known_as_soon_as_it_must_be() {
    let mut lines = LineReader::new(4);
    // Five bytes, the last not a `\r`: no line ending can save it.
    assert_eq!(
        lines.take(b"xxxxx"),
        (5, Some(Err(LineError::TooLong { limit: 4 })))
    );
    // Five bytes ending in `\r` may be four and a `\r\n`: wait.
    let mut lines = LineReader::new(4);
    assert_eq!(lines.take(b"xxxx\r"), (5, None));
    assert_eq!(lines.take(b"\nrest"), (1, Some(ok(b"xxxx"))));
    // A sixth byte that is not the `\n`: too long, and not a byte more taken.
    let mut lines = LineReader::new(4);
    assert_eq!(
        lines.take(b"xxxx\r\r\n"),
        (6, Some(Err(LineError::TooLong { limit: 4 })))
    );
}

#[test]
fn a_flood_without_line_ends_is_never_buffered() {
    let mut lines = LineReader::new(10);
    let flood = vec![b'y'; 1 << 20];
    let (used, line) = lines.take(&flood);
    assert!(used <= 12, "at most limit + 2 bytes taken, took {used}");
    assert_eq!(line, Some(Err(LineError::TooLong { limit: 10 })));
    assert_eq!(lines.pending(), 0);
}

#[test]
fn out_of_step_stays_out_of_step() {
    let mut lines = LineReader::new(3);
    assert!(matches!(lines.take(b"abcdef\n"), (_, Some(Err(_)))));
    assert!(lines.is_out_of_step());
    for _ in 0..3 {
        assert_eq!(
            lines.take(b"ok\n"),
            (0, Some(Err(LineError::TooLong { limit: 3 })))
        );
    }
    assert_eq!(lines.finish(), Err(LineError::TooLong { limit: 3 }));
    let mut stream: &[u8] = b"ok\n";
    assert_eq!(
        read_line(&mut stream, &mut lines).unwrap(),
        Err(LineError::TooLong { limit: 3 })
    );
    assert_eq!(stream, b"ok\n", "nothing read once out of step");
}

#[test]
fn a_cut_last_line_then_closed() {
    assert_eq!(
        frame(8, &[b"a\nlast"]),
        [ok(b"a"), ok(b"last"), Err(LineError::Closed)]
    );
    assert_eq!(frame(8, &[b""]), [Err(LineError::Closed)]);
    assert_eq!(frame(8, &[b"a\n"]), [ok(b"a"), Err(LineError::Closed)]);
    // An empty line is a line.
    assert_eq!(
        frame(8, &[b"\n\r\n"]),
        [ok(b""), ok(b""), Err(LineError::Closed)]
    );
}

#[test]
fn bytes_are_not_checked_as_text() {
    assert_eq!(frame(8, &[b"\xff\xfe\n"])[0], ok(b"\xff\xfe"));
    // A lone `\r` inside a line is the line's own.
    assert_eq!(frame(8, &[b"a\rb\n"])[0], ok(b"a\rb"));
}

#[test]
fn the_blocking_driver_reads_across_a_small_buffer() {
    let data = b"one\r\ntwo\nthree";
    let mut reader = std::io::BufReader::with_capacity(2, &data[..]);
    let mut lines = LineReader::new(5);
    let mut got = Vec::new();
    loop {
        let line = read_line(&mut reader, &mut lines).unwrap();
        let stop = line.is_err();
        got.push(line);
        if stop {
            break;
        }
    }
    assert_eq!(got, model(5, data));
}

#[test]
fn a_zero_limit_takes_only_empty_lines() {
    assert_eq!(
        frame(0, &[b"\r\n\nx\n"]),
        [ok(b""), ok(b""), Err(LineError::TooLong { limit: 0 })]
    );
}

/// Streams that exercise the limit: short lines of a few bytes, with `\r`
/// and `\n` common.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(b'x'),
            2 => Just(b'\n'),
            2 => Just(b'\r'),
            1 => any::<u8>(),
        ],
        0..40,
    )
}

proptest! {
    #[test]
    fn any_stream_in_any_pieces_reads_as_the_rule_says(
        limit in 0usize..6,
        data in stream(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in at {
            pieces.push(&data[start..cut]);
            start = cut;
        }
        pieces.push(&data[start..]);
        prop_assert_eq!(frame(limit, &pieces), model(limit, &data));
    }
}
