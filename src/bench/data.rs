//! Synthetic availability for benchmarks, from a seeded generator so runs
//! are comparable.

use convene_rpc::SplitMix64;
use convene_time::{Interval, SlotList};

/// A user name for number `n`: a prefix letter then base-26 letters, so
/// every name is valid (lowercase, at most 20 letters) and unique.
pub fn name(prefix: char, mut n: usize) -> String {
    let mut s = String::new();
    s.push(prefix);
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s
}

/// `count` intervals on a shared grid of period 100, each jittered, so lists
/// of different users overlap at almost every grid point: the intersection is
/// large and every input interval is visited (the kernel's worst case).
pub fn dense_list(rng: &mut SplitMix64, count: usize) -> SlotList {
    let mut v = Vec::with_capacity(count);
    for i in 0..count as u32 {
        let base = i * 100;
        let start = base + (rng.next_u64() % 20) as u32;
        let end = base + 60 + (rng.next_u64() % 30) as u32;
        v.push(Interval::new(start, end).expect("start < end"));
    }
    SlotList::from_sorted(v).expect("grid intervals are sorted with gaps")
}

/// `count` intervals with random gaps and lengths, independent per user.
pub fn random_list(rng: &mut SplitMix64, count: usize, max_gap: u32, max_len: u32) -> SlotList {
    let mut v = Vec::with_capacity(count);
    let mut at = 0u32;
    for _ in 0..count {
        let start = at + 1 + (rng.next_u64() % max_gap as u64) as u32;
        let end = start + 1 + (rng.next_u64() % max_len as u64) as u32;
        v.push(Interval::new(start, end).expect("start < end"));
        at = end;
    }
    SlotList::from_sorted(v).expect("generated in order with gaps")
}
