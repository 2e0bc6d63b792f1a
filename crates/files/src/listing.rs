//! The composite listing: every node's folder shown as one, one numbered line
//! per file name.
//!
//! Lab 1 asks Server A to merge its listing with Server B's into one list
//! sorted by file name, showing each file's name, size and time. Lab 2 adds
//! that the list "ignores the replicated files": a name both folders hold is
//! shown once. Lab 3 numbers the lines `[0]` to `[n-1]` so that a user can
//! say `-lock -3`, and marks locked files `<locked>`:
//!
//! ```text
//! [0] a.jpg 575.1kB 20-Aug
//! [3] notes.txt 12B 21-Aug <locked>
//! ```
//!
//! Three steps, each a plain function:
//!
//! - [`merge`] folds the nodes' listings into one [`Entry`] per name. When
//!   nodes disagree about a file, the copy with the latest modification time
//!   gives the size and time shown, because that is the copy sync will spread
//!   (Lab 2: "duplicated files being made consistent based on the most-recent
//!   modified-at time"). The listing shows where the folders are heading.
//! - [`render`] turns entries into the lines above.
//! - [`by_index`] maps a user's `[3]` back to the file.
//!
//! An index is a position in *one* listing, not a name: a file created
//! since the user looked shifts every name after it. So the client should
//! resolve an index against the listing it showed, and send the
//! [`SharedPath`] on.
//!
//! ```
//! use convene_files::listing::{by_index, merge, render, Entry};
//! use convene_files::path::SharedPath;
//!
//! let entry = |name: &str, size, modified| Entry {
//!     path: SharedPath::parse(name).unwrap(),
//!     size,
//!     modified,
//! };
//! let aug_20 = 1_724_112_000; // 2024-08-20 00:00:00 UTC
//! let node_a = vec![entry("notes.txt", 12, aug_20 + 86_400), entry("a.jpg", 500_000, aug_20 - 60)];
//! let node_b = vec![entry("a.jpg", 575_100, aug_20)]; // B's a.jpg is newer
//!
//! let listing = merge([node_a, node_b]);
//! let locked = |path: &SharedPath| path.as_str() == "notes.txt";
//! assert_eq!(
//!     render(&listing, &locked, aug_20),
//!     ["[0] a.jpg 575.1kB 20-Aug", "[1] notes.txt 12B 21-Aug <locked>"]
//! );
//! assert_eq!(by_index(&listing, 1).unwrap().path.as_str(), "notes.txt");
//! assert_eq!(
//!     by_index(&listing, 7).unwrap_err().to_string(),
//!     "no file [7]: the listing has 2 files, [0] to [1]"
//! );
//! ```

use std::collections::BTreeMap;
use std::collections::btree_map;

use crate::civil::Utc;
use crate::path::SharedPath;

/// Half of an average Gregorian year (365.2425 days), in seconds: how far a
/// time may be from now and still be shown without its year. The constant
/// is GNU `ls`'s.
const SIX_MONTHS: u64 = 15_778_476;

/// The units after bytes, each 1000 times the one before (decimal, like the
/// handout's `575.1kB`, and like file managers on macOS and GNOME).
const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];

/// Month abbreviations, as `ls` prints them in the C locale.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// One file as a node lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its name in the shared folder.
    pub path: SharedPath,
    /// Its size in bytes.
    pub size: u64,
    /// When its content last changed, in Unix seconds.
    pub modified: i64,
}

/// Why an index names no file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListingError {
    /// The index is past the end of the listing.
    #[error("no file [{index}]: {}", describe_range(.len))]
    NoSuchIndex {
        /// The index asked for.
        index: usize,
        /// How many files the listing has.
        len: usize,
    },
}

/// Merges the nodes' listings into one entry per name, sorted by name.
///
/// Among the entries for one name, the most recently modified wins; on equal
/// times the larger size, since a file that only grew within one second of
/// its clock is more likely the later write than one that shrank; on equal
/// times and sizes the first seen (which is then the same entry). So the
/// result does not depend on the order of the listings, or of the entries
/// within one: every node computes the same composite listing.
///
/// Sorted by [`SharedPath`]'s order, the bytes of the name: `B` before `a`,
/// the same on every node whatever its locale.
pub fn merge(listings: impl IntoIterator<Item = Vec<Entry>>) -> Vec<Entry> {
    let mut by_name: BTreeMap<SharedPath, Entry> = BTreeMap::new();
    for entry in listings.into_iter().flatten() {
        match by_name.entry(entry.path.clone()) {
            btree_map::Entry::Vacant(slot) => {
                slot.insert(entry);
            }
            btree_map::Entry::Occupied(mut slot) => {
                let kept = slot.get();
                if (entry.modified, entry.size) > (kept.modified, kept.size) {
                    slot.insert(entry);
                }
            }
        }
    }
    by_name.into_values().collect()
}

/// The listing's lines, numbered from 0: `[i] name size date`, then
/// ` <locked>` when `locked` says so.
///
/// The size is in bytes under 1000 (`12B`), else in decimal units with one
/// decimal (`575.1kB`, `1.5MB`), rounded half up; a size that would round to
/// `1000.0` of a unit is shown as `1.0` of the next.
///
/// The date is the modification day in UTC, as `DD-Mon` (`20-Aug`). Like
/// `ls -l`, a time more than about six months from `now_unix` adds the
/// year (`20-Aug-2023`), since a day and month alone would be ambiguous.
/// Unlike `ls`, which also shows the year for any time in the future, the
/// window is the same on both sides: listings come from other nodes, whose
/// clocks may run a little ahead, and a file from "tomorrow" is not worth a
/// year.
///
/// Names are shown as they are, spaces included. They hold no control
/// characters ([`SharedPath`] refuses them), so a name cannot break a line.
pub fn render(
    entries: &[Entry],
    locked: &dyn Fn(&SharedPath) -> bool,
    now_unix: i64,
) -> Vec<String> {
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let mut line = format!(
                "[{index}] {} {} {}",
                entry.path,
                human_size(entry.size),
                date_label(entry.modified, now_unix)
            );
            if locked(&entry.path) {
                line.push_str(" <locked>");
            }
            line
        })
        .collect()
}

/// The entry a user's `[index]` names.
pub fn by_index(entries: &[Entry], index: usize) -> Result<&Entry, ListingError> {
    entries.get(index).ok_or(ListingError::NoSuchIndex {
        index,
        len: entries.len(),
    })
}

/// `12B`, `575.1kB`, `1.0MB`, …
fn human_size(bytes: u64) -> String {
    if bytes < 1000 {
        return format!("{bytes}B");
    }
    // Tenths of a unit, rounded half up; u128 so `bytes * 10` cannot overflow.
    let tenths = |divisor: u128| (u128::from(bytes) * 10 + divisor / 2) / divisor;
    let mut unit = 0;
    let mut divisor: u128 = 1000;
    while tenths(divisor) >= 10_000 && unit + 1 < UNITS.len() {
        unit += 1;
        divisor *= 1000;
    }
    let shown = tenths(divisor);
    format!("{}.{}{}", shown / 10, shown % 10, UNITS[unit])
}

/// `20-Aug`, or `20-Aug-2023` when far from now.
fn date_label(modified: i64, now_unix: i64) -> String {
    let t = Utc::from_unix(modified);
    let month = MONTHS[usize::from(t.month - 1)]; // `month` is 1..=12
    if modified.abs_diff(now_unix) > SIX_MONTHS {
        format!("{:02}-{month}-{}", t.day, t.year)
    } else {
        format!("{:02}-{month}", t.day)
    }
}

/// `the listing has 5 files, [0] to [4]`, in good English for 0 and 1.
fn describe_range(len: &usize) -> String {
    match *len {
        0 => "the listing is empty".to_owned(),
        1 => "the listing has 1 file, [0]".to_owned(),
        len => format!("the listing has {len} files, [0] to [{}]", len - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2024-08-20 00:00:00 UTC, the handout's `20-Aug`.
    const AUG_20: i64 = 1_724_112_000;
    const DAY: i64 = 86_400;

    fn entry(name: &str, size: u64, modified: i64) -> Entry {
        Entry {
            path: SharedPath::parse(name).unwrap(),
            size,
            modified,
        }
    }

    fn names(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.path.as_str()).collect()
    }

    fn unlocked(_: &SharedPath) -> bool {
        false
    }

    #[test]
    fn merge_is_the_union_sorted_by_name() {
        let a = vec![entry("c.txt", 1, AUG_20), entry("a.jpg", 2, AUG_20)];
        let b = vec![entry("b.pdf", 3, AUG_20), entry("d", 4, AUG_20)];
        assert_eq!(names(&merge([a, b])), ["a.jpg", "b.pdf", "c.txt", "d"]);
        assert_eq!(merge(Vec::<Vec<Entry>>::new()), []);
        assert_eq!(merge([vec![], vec![]]), []);
    }

    #[test]
    fn merge_keeps_the_newest_copy_of_a_name() {
        let a = vec![entry("a.jpg", 100, AUG_20)];
        let b = vec![entry("a.jpg", 50, AUG_20 + 1)];
        assert_eq!(merge([a.clone(), b.clone()]), b);
        assert_eq!(merge([b.clone(), a.clone()]), b);
        // Equal times: the larger.
        let c = vec![entry("a.jpg", 200, AUG_20)];
        assert_eq!(merge([a.clone(), c.clone()]), c);
        assert_eq!(merge([c.clone(), a.clone()]), c);
        // Three nodes, and a name twice in one listing.
        let twice = vec![entry("a.jpg", 1, AUG_20 + 5), entry("a.jpg", 1, AUG_20 + 9)];
        assert_eq!(merge([a, twice, b]), [entry("a.jpg", 1, AUG_20 + 9)]);
    }

    #[test]
    fn merge_sorts_by_bytes_with_spaces_and_unicode() {
        let listing = vec![
            entry("été.txt", 1, AUG_20),
            entry("my file.txt", 1, AUG_20),
            entry("My File.txt", 1, AUG_20),
            entry("my-file.txt", 1, AUG_20),
            entry("日本.txt", 1, AUG_20),
            entry("zebra", 1, AUG_20),
        ];
        assert_eq!(
            names(&merge([listing])),
            [
                "My File.txt",
                "my file.txt",
                "my-file.txt",
                "zebra",
                "été.txt",
                "日本.txt"
            ]
        );
    }

    #[test]
    fn render_matches_the_handout() {
        let listing = merge([vec![
            entry("a.jpg", 575_100, AUG_20 + 3600),
            entry("b.png", 2_048_000, AUG_20 - DAY),
            entry("c d.txt", 999, AUG_20),
            entry("notes.txt", 12, AUG_20 + DAY),
        ]]);
        let locked = |path: &SharedPath| path.as_str() == "notes.txt";
        assert_eq!(
            render(&listing, &locked, AUG_20),
            [
                "[0] a.jpg 575.1kB 20-Aug",
                "[1] b.png 2.0MB 19-Aug",
                "[2] c d.txt 999B 20-Aug",
                "[3] notes.txt 12B 21-Aug <locked>",
            ]
        );
        assert_eq!(render(&[], &unlocked, AUG_20), Vec::<String>::new());
    }

    #[test]
    fn render_shows_unicode_names_and_many_lines() {
        let listing: Vec<Entry> = (0..12)
            .map(|i| entry(&format!("фото {i:02}.jpg"), 1, AUG_20))
            .collect();
        let lines = render(&listing, &unlocked, AUG_20);
        assert_eq!(lines[0], "[0] фото 00.jpg 1B 20-Aug");
        assert_eq!(lines[11], "[11] фото 11.jpg 1B 20-Aug");
    }

    #[test]
    fn sizes() {
        for (bytes, shown) in [
            (0, "0B"),
            (12, "12B"),
            (999, "999B"),
            (1000, "1.0kB"),
            (1049, "1.0kB"),
            (1050, "1.1kB"), // half up
            (575_100, "575.1kB"),
            (999_949, "999.9kB"),
            (999_950, "1.0MB"), // not 1000.0kB
            (1_500_000, "1.5MB"),
            (2_147_483_648, "2.1GB"),
            (999_950_000_000, "1.0TB"),
            (u64::MAX, "18.4EB"),
        ] {
            assert_eq!(human_size(bytes), shown, "{bytes}");
        }
    }

    #[test]
    fn dates_add_the_year_when_far_from_now() {
        assert_eq!(date_label(AUG_20, AUG_20), "20-Aug");
        assert_eq!(date_label(AUG_20 + DAY - 1, AUG_20), "20-Aug"); // UTC, end of day
        assert_eq!(date_label(AUG_20 - 180 * DAY, AUG_20), "22-Feb");
        assert_eq!(date_label(AUG_20 - 183 * DAY, AUG_20), "19-Feb-2024");
        assert_eq!(date_label(AUG_20 - 366 * DAY, AUG_20), "20-Aug-2023");
        assert_eq!(date_label(AUG_20 + 30 * DAY, AUG_20), "19-Sep"); // a fast clock
        assert_eq!(date_label(AUG_20 + 200 * DAY, AUG_20), "08-Mar-2025");
        assert_eq!(date_label(0, AUG_20), "01-Jan-1970");
        assert_eq!(date_label(-1, AUG_20), "31-Dec-1969");
        // The boundary itself is still recent.
        let edge = AUG_20 - SIX_MONTHS as i64;
        assert!(!date_label(edge, AUG_20).ends_with("2024"));
        assert!(date_label(edge - 1, AUG_20).ends_with("2024"));
        // Nothing overflows at the ends of i64.
        assert!(date_label(i64::MIN, i64::MAX).contains('-'));
        assert!(date_label(i64::MAX, i64::MIN).contains('-'));
    }

    #[test]
    fn by_index_names_the_range() {
        let listing = merge([vec![
            entry("a", 1, AUG_20),
            entry("b", 1, AUG_20),
            entry("c", 1, AUG_20),
            entry("d", 1, AUG_20),
            entry("e", 1, AUG_20),
        ]]);
        assert_eq!(by_index(&listing, 0).unwrap().path.as_str(), "a");
        assert_eq!(by_index(&listing, 4).unwrap().path.as_str(), "e");
        let error = by_index(&listing, 7).unwrap_err();
        assert_eq!(error, ListingError::NoSuchIndex { index: 7, len: 5 });
        assert_eq!(
            error.to_string(),
            "no file [7]: the listing has 5 files, [0] to [4]"
        );
        assert_eq!(
            by_index(&listing[..1], 1).unwrap_err().to_string(),
            "no file [1]: the listing has 1 file, [0]"
        );
        assert_eq!(
            by_index(&[], 0).unwrap_err().to_string(),
            "no file [0]: the listing is empty"
        );
        assert!(by_index(&listing, usize::MAX).is_err());
    }

    fn listing() -> impl Strategy<Value = Vec<Entry>> {
        let name = prop::sample::select(vec!["a", "b", "c d", "é", "x/y", "Z"]);
        prop::collection::vec(
            (name, 0u64..4, -2i64..3)
                .prop_map(|(name, size, modified)| entry(name, size, AUG_20 + modified)),
            0..8,
        )
    }

    proptest! {
        #[test]
        fn merge_picks_the_newest_and_ignores_order(
            listings in prop::collection::vec(listing(), 0..4),
        ) {
            let merged = merge(listings.clone());
            // Strictly sorted: each name once.
            prop_assert!(merged.windows(2).all(|w| w[0].path < w[1].path));
            // Every input name is there, and nothing else.
            let all: Vec<&Entry> = listings.iter().flatten().collect();
            prop_assert!(all.iter().all(|e| merged.iter().any(|m| m.path == e.path)));
            for m in &merged {
                // The winner is one of the inputs, and no input beats it.
                prop_assert!(all.contains(&m));
                prop_assert!(all.iter().filter(|e| e.path == m.path)
                    .all(|e| (e.modified, e.size) <= (m.modified, m.size)));
            }
            let mut reversed = listings.clone();
            reversed.reverse();
            for listing in &mut reversed {
                listing.reverse();
            }
            prop_assert_eq!(merge(reversed), merged);
        }

        #[test]
        fn render_numbers_every_entry(listings in prop::collection::vec(listing(), 0..4)) {
            let merged = merge(listings);
            let lines = render(&merged, &|p: &SharedPath| p.as_str() == "a", AUG_20);
            prop_assert_eq!(lines.len(), merged.len());
            for (i, (line, entry)) in lines.iter().zip(&merged).enumerate() {
                let expected_prefix = format!("[{}] {} ", i, entry.path);
                prop_assert!(line.starts_with(&expected_prefix));
                prop_assert_eq!(line.ends_with(" <locked>"), entry.path.as_str() == "a");
                prop_assert!(!line.contains('\n'));
            }
        }
    }
}
