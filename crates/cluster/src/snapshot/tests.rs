//! The reader's rule against a scripted server (every request it makes is
//! recorded), and the server's TTL and count under tokio's paused clock.

use std::cell::RefCell;
use std::collections::VecDeque;

use super::*;

/// A server that answers each request with the next scripted page (`None`:
/// a refusal) and records what was asked.
struct Script {
    pages: RefCell<VecDeque<Option<Page<u8>>>>,
    asked: RefCell<Vec<(u64, u32)>>,
}

impl Script {
    fn new(pages: impl IntoIterator<Item = Option<Page<u8>>>) -> Script {
        Script {
            pages: RefCell::new(pages.into_iter().collect()),
            asked: RefCell::new(Vec::new()),
        }
    }

    async fn read(&self, max_total: usize) -> Option<Vec<u8>> {
        read_snapshot(
            |snapshot, offset| {
                self.asked.borrow_mut().push((snapshot, offset));
                let page = self
                    .pages
                    .borrow_mut()
                    .pop_front()
                    .expect("the reader asked for more than the script has");
                std::future::ready(page)
            },
            max_total,
        )
        .await
    }

    fn asked(&self) -> Vec<(u64, u32)> {
        self.asked.borrow().clone()
    }
}

fn items(snapshot: u64, total: u32, items: &[u8]) -> Option<Page<u8>> {
    Some(Page::Items {
        snapshot,
        total,
        items: items.to_vec(),
    })
}

#[tokio::test]
async fn it_reads_every_page_of_the_snapshot_the_first_page_named() {
    let script = Script::new([
        items(7, 5, &[1, 2]),
        items(7, 5, &[3, 4]),
        items(7, 5, &[5]),
    ]);
    assert_eq!(script.read(usize::MAX).await, Some(vec![1, 2, 3, 4, 5]));
    assert_eq!(script.asked(), [(0, 0), (7, 2), (7, 4)]);
}

#[tokio::test]
async fn an_empty_snapshot_is_one_page() {
    let script = Script::new([items(1, 0, &[])]);
    assert_eq!(script.read(usize::MAX).await, Some(vec![]));
    assert_eq!(script.asked(), [(0, 0)]);
}

#[tokio::test]
async fn a_stale_snapshot_starts_the_read_over() {
    let script = Script::new([
        items(1, 3, &[1, 2]),
        Some(Page::Stale),
        items(2, 4, &[1, 2, 3]),
        items(2, 4, &[4]),
    ]);
    assert_eq!(script.read(usize::MAX).await, Some(vec![1, 2, 3, 4]));
    assert_eq!(script.asked(), [(0, 0), (1, 2), (0, 0), (2, 3)]);
}

#[tokio::test]
async fn it_reads_from_the_start_three_times_at_most() {
    let script = Script::new([
        items(1, 2, &[1]),
        Some(Page::Stale),
        Some(Page::Stale),
        items(3, 2, &[1]),
        Some(Page::Stale),
    ]);
    assert_eq!(script.read(usize::MAX).await, None);
    assert_eq!(script.asked(), [(0, 0), (1, 1), (0, 0), (0, 0), (3, 1)]);
    assert_eq!(TRIES, 3);
}

#[tokio::test]
async fn a_page_that_brings_nothing_before_the_total_ends_it() {
    let script = Script::new([items(1, 3, &[1]), items(1, 3, &[])]);
    assert_eq!(script.read(usize::MAX).await, None);
    assert_eq!(script.asked(), [(0, 0), (1, 1)]);
}

#[tokio::test]
async fn a_total_over_the_callers_maximum_ends_it_at_once() {
    let script = Script::new([items(1, 11, &[1])]);
    assert_eq!(script.read(10).await, None);
    let script = Script::new([items(1, 10, &[1; 10])]);
    assert_eq!(script.read(10).await, Some(vec![1; 10]));
    // Checked on every page, not only the first.
    let script = Script::new([items(1, 2, &[1]), items(1, 20, &[2])]);
    assert_eq!(script.read(10).await, None);
}

#[tokio::test]
async fn a_refusal_ends_it_at_once() {
    let script = Script::new([None]);
    assert_eq!(script.read(usize::MAX).await, None);
    let script = Script::new([items(1, 3, &[1]), None]);
    assert_eq!(script.read(usize::MAX).await, None);
    assert_eq!(script.asked(), [(0, 0), (1, 1)]);
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_snapshot_is_readable_until_its_ttl_has_passed() {
    let snapshots = Snapshots::new(16, 30 * SECOND);
    let (id, _) = snapshots.freeze("listing");
    assert_ne!(id, 0, "0 asks for a new snapshot");
    tokio::time::advance(29 * SECOND).await;
    assert_eq!(snapshots.get(id).as_deref(), Some(&"listing"));
    tokio::time::advance(SECOND).await;
    assert_eq!(snapshots.get(id), None);
    assert_eq!(snapshots.get(id + 1), None, "never frozen");
}

#[tokio::test(start_paused = true)]
async fn past_its_count_the_oldest_snapshot_goes_first() {
    let snapshots = Snapshots::new(2, 30 * SECOND);
    let (a, _) = snapshots.freeze('a');
    tokio::time::advance(SECOND).await;
    let (b, _) = snapshots.freeze('b');
    tokio::time::advance(SECOND).await;
    let (c, _) = snapshots.freeze('c');
    assert_eq!(snapshots.get(a), None);
    assert_eq!(snapshots.get(b).as_deref(), Some(&'b'));
    assert_eq!(snapshots.get(c).as_deref(), Some(&'c'));
    assert!(a < b && b < c, "ids grow");
}

#[tokio::test(start_paused = true)]
async fn one_kept_means_the_next_freeze_replaces_it() {
    // Chat's view: a new request for snapshot 0 replaces the one being read.
    let snapshots = Snapshots::new(1, 30 * SECOND);
    let (a, _) = snapshots.freeze(1);
    let (b, _) = snapshots.freeze(2);
    assert_eq!(snapshots.get(a), None);
    assert_eq!(snapshots.get(b).as_deref(), Some(&2));
    // And none is kept means one.
    let snapshots = Snapshots::new(0, 30 * SECOND);
    let (c, _) = snapshots.freeze(3);
    assert_eq!(snapshots.get(c).as_deref(), Some(&3));
}

#[tokio::test(start_paused = true)]
async fn expired_snapshots_do_not_count_against_the_kept_ones() {
    let snapshots = Snapshots::new(2, 30 * SECOND);
    let (_old, _) = snapshots.freeze('o');
    tokio::time::advance(31 * SECOND).await;
    let (a, _) = snapshots.freeze('a');
    let (b, _) = snapshots.freeze('b');
    assert_eq!(snapshots.get(a).as_deref(), Some(&'a'));
    assert_eq!(snapshots.get(b).as_deref(), Some(&'b'));
}
