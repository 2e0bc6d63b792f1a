//! `convene book experiment`: the seed's finding, measured.
//!
//! A cluster runs in this process: node O owns the facility; front door S
//! (lossless) makes and cleans up bookings; front doors L (at-least-once)
//! and M (at-most-once) drop each reply with the given probability after
//! executing. Each trial books through S, then cancels (not idempotent) or
//! extends (idempotent) through L or M, whose client retries with the same
//! request id until it hears back. A cancel "went wrong" when the client's
//! answer says the booking was already cancelled: its own lost-reply retry
//! executed a second time. An extend goes wrong if its answer is anything
//! but the one end time it must give.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use convene_booking::client::Client;
use convene_booking::wire::{Reply, Request};
use convene_cluster::Screen;
use convene_time::WeekTime;

#[derive(clap::Args)]
pub struct ExperimentArgs {
    /// Trials per operation and semantics.
    #[arg(long, default_value_t = 200)]
    trials: u32,
    /// Probability that a reply is lost after the request executed.
    #[arg(long, default_value_t = 0.3)]
    reply_loss: f64,
    /// Seed of the loss simulation (same seed, same losses).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Client timeout per attempt, in milliseconds.
    #[arg(long, default_value_t = 30)]
    timeout_ms: u64,
    /// Attempts per request before the client gives up.
    #[arg(long, default_value_t = 10)]
    attempts: u32,
}

const FACILITY: &str = "Meeting Room A";

#[derive(Default)]
struct Tally {
    correct: u32,
    wrong: u32,
    no_reply: u32,
}

pub fn run(args: ExperimentArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.reply_loss) {
        bail!("--reply-loss must be a probability from 0.0 to 1.0");
    }
    let dir = std::env::temp_dir().join(format!("convene-experiment-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&dir, &args);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &std::path::Path, args: &ExperimentArgs) -> anyhow::Result<ExitCode> {
    let lossy = |semantics: &str| {
        format!(
            "booking_port = 0\n[node.booking]\nsemantics = \"{semantics}\"\nreply_loss = {}\nloss_seed = {}\n",
            args.reply_loss, args.seed
        )
    };
    let toml = format!(
        "[[node]]\nid = \"O\"\nhost = \"127.0.0.1\"\npeer_port = 0\n[node.booking]\nfacilities = [\"{FACILITY}\"]\n\
         [[node]]\nid = \"S\"\nhost = \"127.0.0.1\"\npeer_port = 0\nbooking_port = 0\n\
         [[node]]\nid = \"L\"\nhost = \"127.0.0.1\"\npeer_port = 0\n{}\
         [[node]]\nid = \"M\"\nhost = \"127.0.0.1\"\npeer_port = 0\n{}",
        lossy("at-least-once"),
        lossy("at-most-once")
    );
    let path = dir.join("cluster.toml");
    std::fs::write(&path, toml)?;
    let cluster = convene_node::load_cluster(&path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (_, nodes) = runtime.block_on(convene_node::start_all(cluster, |_| Screen::discard()))?;
    let front = |i: usize| {
        nodes[i]
            .booking_addr()
            .context("front door has a booking port")
    };
    let (setup, at_least, at_most) = (front(1)?, front(2)?, front(3)?);

    println!(
        "Experiment: {} trials per row, reply loss {}, seed {} (client: {} ms timeout, up to {} attempts, same request id on retry)",
        args.trials, args.reply_loss, args.seed, args.timeout_ms, args.attempts
    );
    println!(
        "{:<26} {:<14} {:>8} {:>8} {:>9}",
        "operation", "semantics", "correct", "wrong", "no reply"
    );
    let mut sink = std::io::sink();
    let mut setup_client = Client::new(setup)?;
    let start = WeekTime::new(0, 10, 0).expect("valid");
    let end = WeekTime::new(0, 11, 0).expect("valid");
    let extended = "Booking extended to Mon 12:00";
    let mut wrong_where_it_matters = 0;
    for (op, idempotent) in [
        ("cancel (non-idempotent)", false),
        ("extend (idempotent)", true),
    ] {
        for (label, addr) in [("at-least-once", at_least), ("at-most-once", at_most)] {
            let mut client = Client::new(addr)?;
            client.timeout = Duration::from_millis(args.timeout_ms.max(1));
            client.attempts = args.attempts.max(1);
            let mut tally = Tally::default();
            for _ in 0..args.trials {
                let booked = setup_client.call(
                    &Request::Book {
                        facility: FACILITY.into(),
                        start,
                        end,
                    },
                    &mut sink,
                )?;
                let Some(Reply::Booked { confirmation }) = booked else {
                    bail!("the lossless front door could not book: {booked:?}");
                };
                let request = if idempotent {
                    Request::Extend {
                        confirmation: confirmation.clone(),
                        minutes: 60,
                    }
                } else {
                    Request::Cancel {
                        confirmation: confirmation.clone(),
                    }
                };
                match client.call(&request, &mut sink)? {
                    None => tally.no_reply += 1,
                    Some(Reply::Cancelled { .. }) if !idempotent => tally.correct += 1,
                    Some(Reply::Extended { message }) if idempotent && message == extended => {
                        tally.correct += 1
                    }
                    Some(_) => tally.wrong += 1,
                }
                if idempotent {
                    // Free the slot for the next trial.
                    setup_client.call(&Request::Cancel { confirmation }, &mut sink)?;
                }
            }
            if label == "at-most-once" || idempotent {
                wrong_where_it_matters += tally.wrong;
            }
            println!(
                "{:<26} {:<14} {:>8} {:>8} {:>9}",
                op, label, tally.correct, tally.wrong, tally.no_reply
            );
        }
    }
    println!(
        "At-least-once re-executes a retried cancel whose reply was lost, so the client hears \"already cancelled\"; \
         at-most-once answers the retry from its reply cache; extend is idempotent, so both are right."
    );
    runtime.block_on(convene_node::stop_all(nodes));
    Ok(if wrong_where_it_matters == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
