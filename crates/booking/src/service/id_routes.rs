//! Which facility a confirmation id belongs to, remembered by a front door.
//!
//! A request that names a booking by id must reach the node serving the
//! booking's facility, which moves when a node dies; the id alone does not
//! say. The front door remembers the facility of every booking made through
//! it (a client usually changes or cancels where it booked) and asks the
//! database for any other. A booking never changes facility, so a
//! remembered answer never goes stale. Bounded: the oldest are forgotten
//! first, and asked for again if needed.

use std::collections::{HashMap, VecDeque};

/// Ids remembered at most.
pub const MAX_REMEMBERED: usize = 65_536;

/// Confirmation id → facility, oldest forgotten first.
#[derive(Default)]
pub struct IdRoutes {
    facility_of: HashMap<String, String>,
    order: VecDeque<String>,
}

impl IdRoutes {
    /// The facility of `id`, if remembered.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.facility_of.get(id).map(String::as_str)
    }

    /// Remembers that `id` is a booking of `facility`.
    pub fn insert(&mut self, id: String, facility: String) {
        if self.facility_of.contains_key(&id) {
            return;
        }
        if self.order.len() >= MAX_REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.facility_of.remove(&oldest);
        }
        self.order.push_back(id.clone());
        self.facility_of.insert(id, facility);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_remembers_a_bounded_number_forgetting_the_oldest() {
        let mut routes = IdRoutes::default();
        for i in 0..MAX_REMEMBERED + 10 {
            routes.insert(format!("CONF0-{i}"), "A".into());
        }
        assert_eq!(routes.order.len(), MAX_REMEMBERED);
        assert_eq!(routes.facility_of.len(), MAX_REMEMBERED);
        assert_eq!(routes.get("CONF0-0"), None);
        assert_eq!(
            routes.get(&format!("CONF0-{}", MAX_REMEMBERED + 9)),
            Some("A")
        );
        // Remembering an id again changes nothing.
        routes.insert(format!("CONF0-{}", MAX_REMEMBERED + 9), "B".into());
        assert_eq!(
            routes.get(&format!("CONF0-{}", MAX_REMEMBERED + 9)),
            Some("A")
        );
    }
}
