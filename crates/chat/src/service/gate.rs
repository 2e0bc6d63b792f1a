//! The gate in front of every claim the coordinator decides: a name is
//! granted only under [authority](convene_cluster::membership::Membership::authority),
//! that is while this coordinator holds leases from a majority of the
//! cluster, so that a coordinator cut off from the others cannot grant a
//! name the majority side grants too.
//!
//! Without authority the gate does not refuse at once: a coordinator just
//! elected has none for up to a lease (about 2 s; nobody grants during the
//! first lease after its own start, and the previous coordinator's leases
//! must run out), and a fresh cluster's first clients should not be turned
//! away for that. So a claim made without authority is told to wait (the
//! server asks again every 50 ms, as it does while there is no coordinator)
//! until this coordinator has been without authority for
//! [`AUTHORITY_PATIENCE`]; from then on claims are refused at once, until
//! authority returns. A coordinator on the minority side of a partition
//! thus refuses within one lease plus the patience of the moment it is cut
//! off (about 5 s), and at once after that.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use convene_cluster::quorum::{NoAuthority, Term};

/// How long this coordinator keeps claims waiting for authority, counted
/// from the first claim it could not decide, before it refuses them.
pub const AUTHORITY_PATIENCE: Duration = Duration::from_secs(3);

/// What to do with a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Decide it, under this term.
    Decide(Term),
    /// Tell the server to ask again (answered as "not coordinator").
    Wait,
    /// Refuse it: no authority for too long.
    Refuse,
}

/// Since when this coordinator has been turning claims away for want of
/// authority.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    without_since: Mutex<Option<Instant>>,
}

impl Gate {
    /// The verdict for a claim arriving at `now`, when membership answers
    /// `authority`.
    pub fn verdict(&self, authority: Result<Term, NoAuthority>, now: Instant) -> Verdict {
        let mut since = self.without_since.lock().unwrap_or_else(|e| e.into_inner());
        match authority {
            Ok(term) => {
                *since = None;
                Verdict::Decide(term)
            }
            // Another node coordinates now: the server should ask it.
            Err(NoAuthority::NotCoordinator(_)) => Verdict::Wait,
            Err(NoAuthority::NoMajority) => {
                let since = *since.get_or_insert(now);
                if now.duration_since(since) < AUTHORITY_PATIENCE {
                    Verdict::Wait
                } else {
                    Verdict::Refuse
                }
            }
        }
    }

    /// Starts counting afresh: this node has just become coordinator.
    pub fn reset(&self) {
        *self.without_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_wait_for_authority_then_are_refused_until_it_returns() {
        let gate = Gate::default();
        let t0 = Instant::now();
        let none = Err(NoAuthority::NoMajority);
        assert_eq!(gate.verdict(none, t0), Verdict::Wait);
        assert_eq!(
            gate.verdict(none, t0 + AUTHORITY_PATIENCE / 2),
            Verdict::Wait
        );
        assert_eq!(gate.verdict(none, t0 + AUTHORITY_PATIENCE), Verdict::Refuse);
        assert_eq!(
            gate.verdict(none, t0 + 10 * AUTHORITY_PATIENCE),
            Verdict::Refuse,
            "still without: refused at once"
        );
        let t1 = t0 + 11 * AUTHORITY_PATIENCE;
        assert_eq!(gate.verdict(Ok(Term(4)), t1), Verdict::Decide(Term(4)));
        assert_eq!(gate.verdict(none, t1), Verdict::Wait, "patience again");
    }

    #[test]
    fn a_new_coordinator_is_patient_again() {
        let gate = Gate::default();
        let t0 = Instant::now();
        let none = Err(NoAuthority::NoMajority);
        gate.verdict(none, t0);
        assert_eq!(gate.verdict(none, t0 + AUTHORITY_PATIENCE), Verdict::Refuse);
        gate.reset();
        assert_eq!(gate.verdict(none, t0 + AUTHORITY_PATIENCE), Verdict::Wait);
    }

    #[test]
    fn another_coordinator_means_ask_again() {
        let gate = Gate::default();
        let t0 = Instant::now();
        let elsewhere = Err(NoAuthority::NotCoordinator(Some(1)));
        assert_eq!(gate.verdict(elsewhere, t0), Verdict::Wait);
        assert_eq!(
            gate.verdict(elsewhere, t0 + 10 * AUTHORITY_PATIENCE),
            Verdict::Wait
        );
    }
}
