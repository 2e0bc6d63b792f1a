//! `convene chaos` for a bounded time, as CI runs it: a cluster of three
//! node processes (in network namespaces where this machine allows, else on
//! loopback with kills only), a booking and chat workload, `kill -9`s and
//! partitions from a fixed seed; every check must pass, and the workload
//! must have done something for the checks to mean anything.

use crate::util::{convene, skip};

/// The seed CI replays; a failure names the seed to run by hand.
const SEED: &str = "13";

/// The number before `word` in `line` (e.g. "12 approved").
fn count(text: &str, prefix: &str, word: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"));
    let before = line
        .split(word)
        .next()
        .unwrap_or_else(|| panic!("no {word:?} in {line:?}"));
    before
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {word:?} in {line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chaos_run_with_kills_and_partitions_keeps_every_acknowledged_promise() {
    let netns = skip::require_netns("chaos (partitions; kills still run on loopback)");
    let dir = tempfile::tempdir().unwrap();
    let mut command = convene();
    command
        .args(["chaos", "--seconds", "40", "--seed", SEED, "--dir"])
        .arg(dir.path());
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let logs = || {
        ["A", "B", "C"]
            .iter()
            .map(|id| {
                let log = std::fs::read_to_string(dir.path().join(format!("{id}.log")));
                format!("--- {id}.log:\n{}", log.unwrap_or_default())
            })
            .collect::<String>()
    };
    assert!(
        out.status.success(),
        "convene chaos failed ({}):\n{text}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    assert!(
        text.contains(&format!("chaos: seed {SEED}, 40 s, 3 nodes")),
        "{text}"
    );
    if netns {
        assert!(text.contains("cluster: in network namespaces"), "{text}");
        assert!(text.contains(" off\n") || text.contains("cut "), "{text}");
    }
    assert!(
        text.contains("kill -9 "),
        "the schedule killed nobody:\n{text}"
    );
    assert!(
        count(&text, "booking check:", "acknowledged bookings present") > 0,
        "{text}"
    );
    assert!(count(&text, "chat:", "approved") > 0, "{text}");
    assert!(text.contains("chaos: every check passed"), "{text}");
}
