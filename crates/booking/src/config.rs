//! `[node.booking]`: how a node's booking front door behaves and which
//! facilities it owns.
//!
//! ```toml
//! [node.booking]
//! semantics = "at-most-once"   # or "at-least-once"
//! request_loss = 0.0           # probability a received request is dropped
//! reply_loss = 0.0             # probability a reply is dropped after executing
//! facilities = ["Meeting Room A", "Lecture Theatre 1"]
//! ```
//!
//! The cluster file's reader hands the table to [`BookingSection`] (a
//! [`Section`]); a node without the table has the defaults. Each facility
//! belongs to one node ([`facility_owner`]).

use std::collections::HashMap;

use convene_cluster::{ClusterConfig, ConfigError, NodeConfig, NodeContext, Section};
use serde::Deserialize;

/// Invocation semantics of a booking front door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Semantics {
    /// Every received request executes, retries included.
    AtLeastOnce,
    /// A retry gets the first execution's reply; nothing executes twice.
    AtMostOnce,
}

impl std::fmt::Display for Semantics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Semantics::AtLeastOnce => "at-least-once",
            Semantics::AtMostOnce => "at-most-once",
        })
    }
}

/// `[node.booking]`: how this node's booking front door behaves and which
/// facilities it owns.
#[derive(Clone, Debug, PartialEq)]
pub struct BookingSection {
    /// At-least-once or at-most-once (default).
    pub semantics: Semantics,
    /// Probability that a received request is dropped (loss simulation).
    pub request_loss: f64,
    /// Probability that a reply is dropped after executing.
    pub reply_loss: f64,
    /// Probability that a received request is processed twice.
    pub duplicate: f64,
    /// Seed of the loss simulation, so an experiment can be replayed.
    pub loss_seed: u64,
    /// Seconds a cached reply is kept for retries (at-most-once).
    pub reply_cache_seconds: u64,
    /// Most replies kept in the cache; the oldest go first.
    pub reply_cache_entries: usize,
    /// Facilities this node owns, matched exactly (case-sensitive).
    pub facilities: Vec<String>,
}

impl Default for BookingSection {
    fn default() -> Self {
        BookingSection {
            semantics: Semantics::AtMostOnce,
            request_loss: 0.0,
            reply_loss: 0.0,
            duplicate: 0.0,
            loss_seed: 1,
            reply_cache_seconds: 300,
            reply_cache_entries: 100_000,
            facilities: Vec::new(),
        }
    }
}

impl BookingSection {
    /// Node `node`'s settings: its `[node.booking]`, or the defaults.
    pub fn of(node: &NodeConfig) -> BookingSection {
        node.section::<BookingSection>()
            .cloned()
            .unwrap_or_default()
    }

    /// The facilities node `node` owns (none without a `[node.booking]`).
    pub fn facilities_of(node: &NodeConfig) -> &[String] {
        node.section::<BookingSection>()
            .map_or(&[], |b| b.facilities.as_slice())
    }
}

/// The node (its position in the file) that owns a booking facility.
pub fn facility_owner(cluster: &ClusterConfig, facility: &str) -> Option<usize> {
    cluster.nodes.iter().position(|n| {
        BookingSection::facilities_of(n)
            .iter()
            .any(|f| f == facility)
    })
}

/// What serde reads; the name shows in type errors ("expected struct
/// RawBooking").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBooking {
    semantics: Option<Semantics>,
    request_loss: Option<f64>,
    reply_loss: Option<f64>,
    duplicate: Option<f64>,
    loss_seed: Option<u64>,
    reply_cache_seconds: Option<u64>,
    reply_cache_entries: Option<usize>,
    facilities: Option<Vec<String>>,
}

impl Section for BookingSection {
    const NAME: &'static str = "booking";
    type Raw = RawBooking;

    fn from_raw(raw: RawBooking, node: &NodeContext<'_>) -> Result<Self, ConfigError> {
        let defaults = BookingSection::default();
        let probability = |key: &'static str, value: Option<f64>| match value {
            None => Ok(0.0),
            Some(p) if (0.0..=1.0).contains(&p) => Ok(p),
            Some(p) => Err(node.invalid(key, format!("is {p}: use a probability from 0.0 to 1.0"))),
        };
        let facilities = raw.facilities.unwrap_or_default();
        for (i, f) in facilities.iter().enumerate() {
            if f.is_empty() || f.len() > 256 {
                return Err(node.invalid(
                    "facilities",
                    format!("entry {} must be 1 to 256 bytes long", i + 1),
                ));
            }
            if facilities[..i].contains(f) {
                return Err(node.invalid("facilities", format!("lists {f:?} twice")));
            }
        }
        let entries = raw
            .reply_cache_entries
            .unwrap_or(defaults.reply_cache_entries);
        if entries == 0 {
            return Err(node.invalid("reply_cache_entries", "must be at least 1".into()));
        }
        Ok(BookingSection {
            semantics: raw.semantics.unwrap_or(defaults.semantics),
            request_loss: probability("request_loss", raw.request_loss)?,
            reply_loss: probability("reply_loss", raw.reply_loss)?,
            duplicate: probability("duplicate", raw.duplicate)?,
            loss_seed: raw.loss_seed.unwrap_or(defaults.loss_seed),
            reply_cache_seconds: raw
                .reply_cache_seconds
                .unwrap_or(defaults.reply_cache_seconds),
            reply_cache_entries: entries,
            facilities,
        })
    }

    /// Each facility belongs to one node.
    fn check(cluster: &ClusterConfig) -> Result<(), ConfigError> {
        let mut owners: HashMap<&str, &str> = HashMap::new();
        for node in &cluster.nodes {
            for facility in BookingSection::facilities_of(node) {
                if let Some(other) = owners.insert(facility, &node.id) {
                    return Err(cluster.invalid(
                        &node.id,
                        "facilities",
                        format!("lists {facility:?}, which node {other:?} already owns"),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
