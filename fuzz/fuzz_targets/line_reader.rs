//! The bounded line framer: any bytes, cut into any pieces, frame exactly as
//! one whole read does, never panic, never hold more than `limit + 1` bytes
//! between reads, and once out of step stay so.
#![no_main]

use convene_wire::line::{LineError, LineReader};
use libfuzzer_sys::fuzz_target;

/// Feeds `pieces` to a framer, ends the stream, and returns every read up to
/// the first error.
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
                    assert!(rest.is_empty());
                    break;
                }
                Some(Ok(line)) => {
                    assert!(line.len() <= limit);
                    out.push(Ok(line));
                }
                Some(Err(e)) => {
                    assert_eq!(e, LineError::TooLong { limit });
                    assert!(lines.is_out_of_step());
                    assert_eq!(lines.take(b"x\n"), (0, Some(Err(e))));
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

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limit, the second how to cut the rest.
    let [limit, step, stream @ ..] = data else { return };
    let limit = usize::from(*limit % 32);
    let whole = frame(limit, &[stream]);
    let step = usize::from(*step).max(1);
    let pieces: Vec<&[u8]> = stream.chunks(step).collect();
    assert_eq!(frame(limit, &pieces), whole);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(frame(limit, &bytes), whole);
});
