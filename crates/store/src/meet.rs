//! The meet service's table: meetings registered on this backend.
//!
//! A backend's availability comes from its EE450 file; registered meetings
//! are what it has removed from that availability since. On start the backend
//! loads the file and subtracts every stored meeting again, so a restart
//! shows the same availability as before it.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{OptionalExtension, params};

use crate::error::StoreError;
use crate::store::Store;

/// A meeting registered on this backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingRecord {
    /// Chosen by the main node; the same id on every backend involved.
    pub id: u64,
    /// Start of the meeting slot.
    pub start: u32,
    /// End of the meeting slot.
    pub end: u32,
    /// The users of this backend who attend, in request order.
    pub users: Vec<String>,
}

impl Store {
    /// Records a meeting. Returns `false` (and changes nothing) if a meeting
    /// with this id is already recorded: a retried request is not applied twice.
    pub fn insert_meeting(&self, m: &MeetingRecord) -> Result<bool, StoreError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let changed = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO meet_meetings (id, slot_start, slot_end, users, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![m.id as i64, m.start, m.end, m.users.join(","), now],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok(changed == 1)
    }

    /// Forgets a meeting; returns it if it was recorded.
    pub fn delete_meeting(&self, id: u64) -> Result<Option<MeetingRecord>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "DELETE FROM meet_meetings WHERE id = ?1 RETURNING id, slot_start, slot_end, users",
                params![id as i64],
                read_row,
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        row.map(|r| self.check(r)).transpose()
    }

    /// Every recorded meeting, oldest first.
    pub fn meetings(&self) -> Result<Vec<MeetingRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, slot_start, slot_end, users FROM meet_meetings ORDER BY created_at, rowid")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], read_row)
            .map_err(|e| self.sqlite(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        rows.into_iter().map(|r| self.check(r)).collect()
    }

    fn check(&self, m: MeetingRecord) -> Result<MeetingRecord, StoreError> {
        if m.start >= m.end {
            return Err(StoreError::Corrupt {
                path: self.path().to_path_buf(),
                table: "meet_meetings",
                problem: format!("meeting {} has slot [{},{}]", m.id, m.start, m.end),
            });
        }
        Ok(m)
    }
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MeetingRecord> {
    let users: String = r.get(3)?;
    Ok(MeetingRecord {
        id: r.get::<_, i64>(0)? as u64,
        start: r.get(1)?,
        end: r.get(2)?,
        users: users
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meeting(id: u64) -> MeetingRecord {
        MeetingRecord {
            id,
            start: 17,
            end: 18,
            users: vec!["alice".into(), "eliana".into()],
        }
    }

    #[test]
    fn meetings_survive_reopening_and_ids_are_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let big_id = u64::MAX - 3; // stored as a negative i64, read back intact
        assert!(store.insert_meeting(&meeting(big_id)).unwrap());
        assert!(!store.insert_meeting(&meeting(big_id)).unwrap());
        assert!(store.insert_meeting(&meeting(7)).unwrap());
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.meetings().unwrap(), vec![meeting(big_id), meeting(7)]);
        assert_eq!(store.delete_meeting(big_id).unwrap(), Some(meeting(big_id)));
        assert_eq!(store.delete_meeting(big_id).unwrap(), None);
        assert_eq!(store.meetings().unwrap(), vec![meeting(7)]);
    }
}
