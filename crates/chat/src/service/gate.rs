//! The gate in front of every claim the coordinator decides: a name is
//! granted only under [authority](convene_cluster::membership::Membership::authority),
//! that is while this coordinator holds leases from a majority of the
//! cluster, so that a coordinator cut off from the others cannot grant a
//! name the majority side grants too.
//!
//! Without authority the gate does not always refuse at once: a coordinator
//! just elected has none for up to a lease (about 2 s; nobody grants during
//! the first lease after its own start, and the previous coordinator's
//! leases must run out), and a fresh cluster's first clients should not be
//! turned away for that. So during its first [`AUTHORITY_PATIENCE`] as
//! coordinator, a claim made without authority is told to wait (the server
//! asks again every 50 ms, as it does while there is no coordinator); after
//! that, a claim without authority is refused at once, until authority
//! returns. A coordinator that has led for a while and is cut off in a
//! minority thus refuses as soon as its authority lapses (within one lease
//! of the cut, about 2 s).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use convene_cluster::quorum::{NoAuthority, Term};

/// How long a new coordinator keeps claims waiting for authority, counted
/// from when it began to lead (or, if it was never told, from the first
/// claim it could not decide), before it refuses them.
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

/// Since when this coordinator has led (the start of its patience).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    leading_since: Mutex<Option<Instant>>,
}

impl Gate {
    /// The verdict for a claim arriving at `now`, when membership answers
    /// `authority`.
    pub fn verdict(&self, authority: Result<Term, NoAuthority>, now: Instant) -> Verdict {
        let mut since = self.leading_since.lock().unwrap_or_else(|e| e.into_inner());
        match authority {
            Ok(term) => Verdict::Decide(term),
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

    /// Starts the patience afresh at `now`: this node has just become
    /// coordinator.
    pub fn reset(&self, now: Instant) {
        *self.leading_since.lock().unwrap_or_else(|e| e.into_inner()) = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_wait_for_authority_then_are_refused_until_it_returns() {
        let gate = Gate::default();
        let t0 = Instant::now();
        gate.reset(t0);
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
        assert_eq!(
            gate.verdict(none, t1),
            Verdict::Refuse,
            "a coordinator that has led a while and loses authority refuses at once"
        );
    }

    #[test]
    fn a_new_coordinator_is_patient_again() {
        let gate = Gate::default();
        let t0 = Instant::now();
        let none = Err(NoAuthority::NoMajority);
        // Never told when it began to lead: patient from the first claim.
        gate.verdict(none, t0);
        assert_eq!(gate.verdict(none, t0 + AUTHORITY_PATIENCE), Verdict::Refuse);
        gate.reset(t0 + AUTHORITY_PATIENCE);
        assert_eq!(gate.verdict(none, t0 + AUTHORITY_PATIENCE), Verdict::Wait);
        assert_eq!(
            gate.verdict(none, t0 + 2 * AUTHORITY_PATIENCE),
            Verdict::Refuse
        );
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
