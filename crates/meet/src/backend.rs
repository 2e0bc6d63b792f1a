//! A backend's users and their availability: the state behind `Server A`.
//!
//! This is plain data with no I/O, so the rules (strict overlap, meetings
//! that split intervals, retries applied once) are tested directly. The
//! backend service wraps it in a lock and adds the network and the store.
//!
//! Privacy, as the seed requires: nothing here hands out one user's schedule.
//! A query gets only the intersection of the requested users of this backend.

use std::collections::HashMap;

use convene_store::MeetingRecord;
use convene_time::{Interval, SlotList, intersect_all};

use crate::availability::UserAvailability;

/// The users one backend serves.
#[derive(Debug, Default)]
pub struct Backend {
    users: HashMap<Box<str>, SlotList>,
    /// Meetings applied here, so a retried registration is recognised and a
    /// refused one can be undone.
    meetings: HashMap<u64, MeetingRecord>,
}

/// One user's availability before and after a registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The user.
    pub name: String,
    /// Availability before.
    pub before: SlotList,
    /// Availability after.
    pub after: SlotList,
}

/// A registration that has been checked and can be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// What will be stored.
    pub record: MeetingRecord,
    /// What changes, user by user.
    pub updates: Vec<Update>,
}

/// What a registration request turns out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    /// New and possible: apply this plan.
    Apply(Plan),
    /// This meeting id is registered already (a retry): nothing to do.
    AlreadyDone,
    /// The slot is not inside this user's availability (or the user is
    /// unknown): refuse without changing anything.
    Conflict(String),
}

impl Backend {
    /// A backend serving these users.
    pub fn new(users: Vec<UserAvailability>) -> Self {
        Backend {
            users: users
                .into_iter()
                .map(|u| (u.name.into_boxed_str(), u.slots))
                .collect(),
            meetings: HashMap::new(),
        }
    }

    /// How many users this backend serves.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// How many intervals it stores in all.
    pub fn interval_count(&self) -> usize {
        self.users.values().map(SlotList::len).sum()
    }

    /// Every user name, sorted (so announcements are reproducible).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.users.keys().map(|k| k.to_string()).collect();
        names.sort_unstable();
        names
    }

    /// The intersection of the named users' availability (strict rule), and
    /// the names this backend does not hold. Unknown names are left out of
    /// the intersection; with no known name the result is empty.
    pub fn intersect(&self, names: &[String]) -> (SlotList, Vec<String>) {
        let mut lists: Vec<&[Interval]> = Vec::with_capacity(names.len());
        let mut unknown = Vec::new();
        for name in names {
            match self.users.get(name.as_str()) {
                Some(slots) => lists.push(slots.as_slice()),
                None => unknown.push(name.clone()),
            }
        }
        (intersect_all(&lists), unknown)
    }

    /// Checks a registration without changing anything.
    pub fn plan(&self, meeting: u64, slot: Interval, names: &[String]) -> Registration {
        if self.meetings.contains_key(&meeting) {
            return Registration::AlreadyDone;
        }
        let mut updates = Vec::with_capacity(names.len());
        for name in names {
            let Some(before) = self.users.get(name.as_str()) else {
                return Registration::Conflict(name.clone());
            };
            if !before.covers(&slot) {
                return Registration::Conflict(name.clone());
            }
            updates.push(Update {
                name: name.clone(),
                before: before.clone(),
                after: before.subtract(&slot),
            });
        }
        Registration::Apply(Plan {
            record: MeetingRecord {
                id: meeting,
                start: slot.start(),
                end: slot.end(),
                users: names.to_vec(),
            },
            updates,
        })
    }

    /// Applies a plan made by [`Backend::plan`] on this same state.
    pub fn apply(&mut self, plan: &Plan) {
        for u in &plan.updates {
            if let Some(slots) = self.users.get_mut(u.name.as_str()) {
                *slots = u.after.clone();
            }
        }
        self.meetings.insert(plan.record.id, plan.record.clone());
    }

    /// Undoes a registered meeting: its slot is free again for its users.
    /// Returns the meeting if it was registered here.
    pub fn undo(&mut self, meeting: u64) -> Option<MeetingRecord> {
        let record = self.meetings.remove(&meeting)?;
        if let Ok(slot) = Interval::new(record.start, record.end) {
            for name in &record.users {
                if let Some(slots) = self.users.get_mut(name.as_str()) {
                    *slots = slots.add(&slot);
                }
            }
        }
        Some(record)
    }

    /// Re-applies meetings registered before a restart. A user who is no
    /// longer in the file is skipped; the slot is removed wherever it still is.
    pub fn restore(&mut self, records: Vec<MeetingRecord>) {
        for record in records {
            if let Ok(slot) = Interval::new(record.start, record.end) {
                for name in &record.users {
                    if let Some(slots) = self.users.get_mut(name.as_str()) {
                        *slots = slots.subtract(&slot);
                    }
                }
            }
            self.meetings.insert(record.id, record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::availability::parse;
    use std::path::Path;

    fn backend(text: &str) -> Backend {
        Backend::new(parse(text, Path::new("t.txt")).unwrap())
    }

    fn iv(a: u32, b: u32) -> Interval {
        Interval::new(a, b).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn intersects_only_the_named_users_and_reports_unknown_ones() {
        let b =
            backend("eliana;[[1,5],[12,18]]\nalice;[[1,3],[10,24]]\nzed;[[15,17]]\nyan;[[17,18]]");
        let (slots, unknown) = b.intersect(&names(&["eliana", "alice", "ghost"]));
        assert_eq!(slots.to_string(), "[[1,3],[12,18]]");
        assert_eq!(unknown, ["ghost"]);
        // The strict rule: [15,17] and [17,18] do not meet.
        assert_eq!(b.intersect(&names(&["zed", "yan"])).0.to_string(), "[]");
        // One user: that user's own list.
        assert_eq!(b.intersect(&names(&["zed"])).0.to_string(), "[[15,17]]");
    }

    #[test]
    fn registration_splits_intervals_like_the_spec_example() {
        let mut b = backend("eliana;[[1,5],[12,18]]\nalice;[[1,3],[10,24]]");
        let Registration::Apply(plan) = b.plan(7, iv(17, 18), &names(&["alice", "eliana"])) else {
            panic!("expected a plan");
        };
        let shown: Vec<String> = plan
            .updates
            .iter()
            .map(|u| format!("{}: {} -> {}", u.name, u.before, u.after))
            .collect();
        assert_eq!(
            shown,
            [
                "alice: [[1,3],[10,24]] -> [[1,3],[10,17],[18,24]]",
                "eliana: [[1,5],[12,18]] -> [[1,5],[12,17]]",
            ]
        );
        b.apply(&plan);
        assert_eq!(
            b.plan(7, iv(17, 18), &names(&["alice"])),
            Registration::AlreadyDone
        );
        // The slot is taken now: a second meeting there conflicts.
        assert_eq!(
            b.plan(8, iv(17, 18), &names(&["alice"])),
            Registration::Conflict("alice".into())
        );
        assert_eq!(
            b.plan(9, iv(1, 2), &names(&["ghost"])),
            Registration::Conflict("ghost".into())
        );
        // Undo puts everything back.
        assert!(b.undo(7).is_some());
        assert_eq!(
            b.intersect(&names(&["alice"])).0.to_string(),
            "[[1,3],[10,24]]"
        );
        assert!(b.undo(7).is_none());
    }

    #[test]
    fn restore_replays_stored_meetings() {
        let mut b = backend("alice;[[1,3],[10,24]]");
        b.restore(vec![MeetingRecord {
            id: 1,
            start: 17,
            end: 18,
            users: names(&["alice", "gone"]),
        }]);
        assert_eq!(
            b.intersect(&names(&["alice"])).0.to_string(),
            "[[1,3],[10,17],[18,24]]"
        );
        assert_eq!(
            b.plan(1, iv(17, 18), &names(&["alice"])),
            Registration::AlreadyDone
        );
    }
}
