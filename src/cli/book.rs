//! `convene book`: the seed's interactive client, scriptable commands, and
//! the invocation-semantics experiment.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use convene_booking::client::{self, Client, DAY_NAMES};
use convene_booking::wire::{DayAvailability, Reply, Request};
use convene_time::WeekTime;

use super::book_experiment;

/// The booking front door of the demo cluster (the course lab's port).
pub const DEMO_BOOKING: &str = "127.0.0.1:2222";

#[derive(clap::Args)]
pub struct BookArgs {
    /// The booking front door to talk to.
    #[arg(long, short, default_value = DEMO_BOOKING, global = true)]
    server: String,
    /// Shown in the menu, as in the seed (the server's semantics decide).
    #[arg(long, default_value = "at-most-once", value_parser = ["at-most-once", "at-least-once"], global = true)]
    semantics: String,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 5.0, global = true)]
    timeout: f64,
    /// Retries after the first attempt (same request id).
    #[arg(long, default_value_t = 2, global = true)]
    retries: u32,
    #[command(subcommand)]
    command: Option<BookCommand>,
}

#[derive(clap::Subcommand)]
enum BookCommand {
    /// Free slots of a facility on some days; one line per day.
    Query {
        #[arg(long)]
        facility: String,
        /// Days, comma separated: 0=Mon ... 6=Sun.
        #[arg(long, value_delimiter = ',', default_value = "0,1,2,3,4,5,6")]
        days: Vec<u8>,
    },
    /// Book a facility; prints the confirmation id.
    Book {
        #[arg(long)]
        facility: String,
        /// Start, e.g. Mon:10:00 or 0:10:00.
        #[arg(long, value_parser = parse_week_time)]
        start: WeekTime,
        /// End (exclusive), e.g. Mon:11:00; Sun:24:00 is the end of the week.
        #[arg(long, value_parser = parse_week_time)]
        end: WeekTime,
    },
    /// Move a booking by an offset, keeping its length.
    Change {
        #[arg(long)]
        id: String,
        /// Minutes: negative to advance, positive to postpone.
        #[arg(long, allow_hyphen_values = true)]
        offset: i32,
    },
    /// Extend a booking from its original end (idempotent).
    Extend {
        #[arg(long)]
        id: String,
        #[arg(long)]
        minutes: u32,
    },
    /// Cancel a booking (not idempotent).
    Cancel {
        #[arg(long)]
        id: String,
    },
    /// Watch a facility: print its week after every change, for a while.
    Monitor {
        #[arg(long)]
        facility: String,
        #[arg(long)]
        seconds: u32,
    },
    /// The seed's experiment: cancel and extend under reply loss, at-least-once against at-most-once.
    Experiment(book_experiment::ExperimentArgs),
}

pub fn run(args: BookArgs) -> anyhow::Result<ExitCode> {
    if let Some(BookCommand::Experiment(e)) = args.command {
        return book_experiment::run(e);
    }
    let server = super::resolve(&args.server)?;
    let mut client = Client::new(server).context("cannot open a UDP socket")?;
    client.timeout = Duration::from_secs_f64(args.timeout.max(0.001));
    client.attempts = args.retries.saturating_add(1);
    let Some(command) = args.command else {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            tracing::debug!("standard input is not a terminal: reading answers line by line");
        }
        client::run_menu(
            &mut client,
            &args.semantics,
            &mut stdin.lock(),
            &mut std::io::stdout().lock(),
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    // Scriptable commands: results on stdout, retries and errors on stderr.
    let mut err = std::io::stderr();
    let mut out = std::io::stdout().lock();
    let reply = match command {
        BookCommand::Query { facility, days } => {
            client.call(&Request::Query { facility, days }, &mut err)?
        }
        BookCommand::Book {
            facility,
            start,
            end,
        } => client.call(
            &Request::Book {
                facility,
                start,
                end,
            },
            &mut err,
        )?,
        BookCommand::Change { id, offset } => client.call(
            &Request::Change {
                confirmation: id,
                offset_minutes: offset,
            },
            &mut err,
        )?,
        BookCommand::Extend { id, minutes } => client.call(
            &Request::Extend {
                confirmation: id,
                minutes,
            },
            &mut err,
        )?,
        BookCommand::Cancel { id } => {
            client.call(&Request::Cancel { confirmation: id }, &mut err)?
        }
        BookCommand::Monitor { facility, seconds } => {
            client.monitor(&facility, seconds, &mut out)?
        }
        BookCommand::Experiment(_) => unreachable!("handled above"),
    };
    let Some(reply) = reply else {
        eprintln!(
            "convene book: no reply from {server} after {} attempts",
            client.attempts
        );
        return Ok(ExitCode::from(3));
    };
    match reply {
        Reply::Error { code, message } => {
            eprintln!("Error [{code}]: {message}");
            return Ok(ExitCode::FAILURE);
        }
        Reply::Availability { days, .. } => print_days(&days, &mut out)?,
        Reply::Booked { confirmation } => writeln!(out, "{confirmation}")?,
        Reply::Changed => writeln!(out, "changed")?,
        Reply::Extended { message } | Reply::Cancelled { message } => writeln!(out, "{message}")?,
        // Monitor printed its updates as they came.
        Reply::Monitoring { .. } | Reply::Update { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per day: `Monday 00:00-10:00 11:00-24:00`, or `Monday none`.
fn print_days(days: &[DayAvailability], out: &mut dyn Write) -> std::io::Result<()> {
    for d in days {
        let name = DAY_NAMES.get(usize::from(d.day)).copied().unwrap_or("?");
        write!(out, "{name}")?;
        if d.slots.is_empty() {
            write!(out, " none")?;
        }
        for (s, e) in &d.slots {
            write!(
                out,
                " {:02}:{:02}-{:02}:{:02}",
                s.hour(),
                s.minute(),
                e.hour(),
                e.minute()
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `Mon:10:00`, `mon:10:00`, `0:10:00`, `Sun:24:00`.
pub fn parse_week_time(text: &str) -> Result<WeekTime, String> {
    let bad = || {
        format!("{text:?} is not a time of the week: write DAY:HH:MM, e.g. Mon:10:00 or 0:10:00")
    };
    let mut parts = text.trim().splitn(3, ':');
    let (Some(day), Some(hour), Some(minute)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let day = match day.parse::<u8>() {
        Ok(d) => d,
        Err(_) => DAY_NAMES
            .iter()
            .position(|n| n[..3].eq_ignore_ascii_case(day) || n.eq_ignore_ascii_case(day))
            .ok_or_else(bad)? as u8,
    };
    let hour = hour.parse::<u8>().map_err(|_| bad())?;
    let minute = minute.parse::<u8>().map_err(|_| bad())?;
    WeekTime::new(day, hour, minute).map_err(|e| format!("{text:?}: {e}"))
}
