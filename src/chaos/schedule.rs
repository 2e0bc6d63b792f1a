//! The fault schedule: which node is killed or cut off when, and when it
//! comes back, as a pure function of the seed, the run's length, the number
//! of nodes and whether partitions are possible. So the same seed replays
//! the same schedule (the workload's timing, which depends on the machine,
//! is not part of it).

use std::fmt;
use std::time::Duration;

use super::rng::Rng;

/// One fault or its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `kill -9` the node.
    Kill(usize),
    /// Start the killed node again.
    Restart(usize),
    /// Take the node's host off the network.
    Cut(usize),
    /// Put it back.
    Heal(usize),
}

/// An action at a time since the run began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// When, since the start of the workload.
    pub at: Duration,
    /// What.
    pub action: Action,
}

/// Every step of a run, in time order; every fault ends before `seconds`.
pub fn schedule(seed: u64, seconds: u64, nodes: usize, partitions: bool) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    // At most a minority is faulty at once, so a majority can always work.
    let most = (nodes.saturating_sub(1) / 2)
        .max(1)
        .min(nodes.saturating_sub(1));
    let end = Duration::from_secs(seconds);
    let mut steps = Vec::new();
    // (node, until) of the faults under way.
    let mut faulty: Vec<(usize, Duration)> = Vec::new();
    let mut now = Duration::from_millis(rng.between(1000, 3000));
    while now < end && most > 0 {
        faulty.retain(|&(_, until)| until > now);
        if faulty.len() < most {
            let healthy: Vec<usize> = (0..nodes)
                .filter(|n| faulty.iter().all(|&(f, _)| f != *n))
                .collect();
            let node = healthy[rng.below(healthy.len() as u64) as usize];
            let lasts = Duration::from_millis(rng.between(2000, 8000));
            let until = (now + lasts).min(end);
            let cut = partitions && rng.chance(0.5);
            let (start, stop) = if cut {
                (Action::Cut(node), Action::Heal(node))
            } else {
                (Action::Kill(node), Action::Restart(node))
            };
            if until > now {
                steps.push(Step {
                    at: now,
                    action: start,
                });
                steps.push(Step {
                    at: until,
                    action: stop,
                });
                faulty.push((node, until));
            }
        }
        now += Duration::from_millis(rng.between(1000, 5000));
    }
    steps.sort_by_key(|s| s.at);
    steps
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Kill(n) => write!(f, "kill -9 {}", node_name(*n)),
            Action::Restart(n) => write!(f, "restart {}", node_name(*n)),
            Action::Cut(n) => write!(f, "cut {} off", node_name(*n)),
            Action::Heal(n) => write!(f, "heal {}", node_name(*n)),
        }
    }
}

/// A node's id in a chaos cluster: A, B, C, ...
pub fn node_name(n: usize) -> String {
    char::from(b'A' + n as u8).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_replays_the_same_schedule_and_a_majority_stays_healthy() {
        let a = schedule(42, 60, 3, true);
        assert_eq!(a, schedule(42, 60, 3, true));
        assert_ne!(a, schedule(43, 60, 3, true));
        assert!(a.iter().any(|s| matches!(s.action, Action::Kill(_))));
        assert!(a.iter().any(|s| matches!(s.action, Action::Cut(_))));
        // Replay the steps: never more than one of three nodes faulty, and
        // every fault ended by the end.
        let mut down = 0i32;
        for step in &a {
            down += match step.action {
                Action::Kill(_) | Action::Cut(_) => 1,
                Action::Restart(_) | Action::Heal(_) => -1,
            };
            assert!((0..=1).contains(&down), "{a:?}");
            assert!(step.at <= Duration::from_secs(60));
        }
        assert_eq!(down, 0);
        // Without partitions, only kills.
        assert!(
            schedule(42, 60, 3, false)
                .iter()
                .all(|s| matches!(s.action, Action::Kill(_) | Action::Restart(_)))
        );
    }
}
