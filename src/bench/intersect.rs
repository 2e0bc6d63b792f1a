//! `convene bench intersect`: the k-way intersection kernel.

use std::time::Instant;

use convene_rpc::SplitMix64;
use convene_time::{Interval, SlotList, intersect_all_into};

use super::data::{dense_list, random_list};
use super::stats::{machine, median};

pub fn run(users: usize, intervals: usize, rounds: usize) -> anyhow::Result<()> {
    println!(
        "intersection kernel: {users} lists x {intervals} intervals, median of {rounds} rounds"
    );
    println!("machine: {}", machine());
    let mut rng = SplitMix64::new(0x5eed);
    let shapes: [(&str, Vec<SlotList>); 3] = [
        (
            "dense (shared grid, large result)",
            (0..users)
                .map(|_| dense_list(&mut rng, intervals))
                .collect(),
        ),
        (
            "fragmented (1-unit gaps, result ~ input)",
            (0..users)
                .map(|_| random_list(&mut rng, intervals, 1, 100))
                .collect(),
        ),
        (
            "random (independent, sparse result)",
            (0..users)
                .map(|_| random_list(&mut rng, intervals, 40, 60))
                .collect(),
        ),
    ];
    println!(
        "{:<38} {:>12} {:>14} {:>16}",
        "data", "result", "time/round", "input Mint/s"
    );
    for (label, lists) in &shapes {
        let slices: Vec<&[Interval]> = lists.iter().map(|l| l.as_slice()).collect();
        let input: usize = slices.iter().map(|s| s.len()).sum();
        let mut out = Vec::new();
        intersect_all_into(&slices, &mut out); // warm-up
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            intersect_all_into(&slices, &mut out);
            times.push(t.elapsed());
            std::hint::black_box(&out);
        }
        let t = median(times);
        println!(
            "{:<38} {:>12} {:>11.3} ms {:>16.1}",
            label,
            out.len(),
            t.as_secs_f64() * 1e3,
            input as f64 / t.as_secs_f64() / 1e6
        );
    }
    Ok(())
}
