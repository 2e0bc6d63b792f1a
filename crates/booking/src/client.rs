//! `convene book`: a client for the seed's protocol.
//!
//! [`Client`] sends one request and waits for its reply, retrying on timeout
//! with the same request id (as the seed's client does: 5 s, 3 attempts by
//! default) and printing the seed's retry lines. [`run_menu`] is the seed's
//! interactive menu, with its prompts and messages, reading from any input
//! so it works from a pipe as well as a terminal. The client is synchronous:
//! like the seed's, it has one conversation at a time.

use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use convene_time::WeekTime;

use crate::wire::{DayAvailability, MAX_DATAGRAM, Reply, Request};

/// The seed's day names.
pub const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A client of one booking front door.
pub struct Client {
    socket: UdpSocket,
    server: SocketAddr,
    next_id: u32,
    /// How long to wait for each attempt.
    pub timeout: Duration,
    /// How many attempts in all.
    pub attempts: u32,
}

impl Client {
    /// A client of `server`, numbering its requests from 1.
    pub fn new(server: SocketAddr) -> io::Result<Client> {
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse()
        } else {
            "[::]:0".parse()
        }
        .expect("a literal address");
        Ok(Client {
            socket: UdpSocket::bind(bind)?,
            server,
            next_id: 1,
            timeout: Duration::from_secs(5),
            attempts: 3,
        })
    }

    /// The next request id (1, 2, ...), as the seed numbers them.
    pub fn next_request_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Sends `request` under a new id; see [`Client::call_with_id`].
    pub fn call(&mut self, request: &Request, out: &mut dyn Write) -> io::Result<Option<Reply>> {
        let id = self.next_request_id();
        self.call_with_id(request, id, out)
    }

    /// Sends `request` with id `id` and waits for a reply, retrying on
    /// timeout with the same id. `None` when every attempt timed out (the
    /// seed's "Maximum retries reached" line has been printed).
    pub fn call_with_id(
        &mut self,
        request: &Request,
        id: u32,
        out: &mut dyn Write,
    ) -> io::Result<Option<Reply>> {
        let datagram = request.encode(id);
        for attempt in 1..=self.attempts.max(1) {
            self.socket.send_to(&datagram, self.server)?;
            if let Some(reply) = self.receive_reply(self.timeout)? {
                return Ok(Some(reply));
            }
            if attempt < self.attempts {
                writeln!(
                    out,
                    "Timeout, retrying... (attempt {}/{})",
                    attempt + 1,
                    self.attempts
                )?;
            } else {
                writeln!(out, "Maximum retries reached, request failed")?;
            }
        }
        Ok(None)
    }

    /// Waits up to `timeout` for a reply from the server, skipping monitor
    /// updates, datagrams from elsewhere and undecodable ones.
    fn receive_reply(&self, timeout: Duration) -> io::Result<Option<Reply>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) if from == self.server => match Reply::decode(&buf[..n]) {
                    Ok(Reply::Update { .. }) => continue,
                    Ok(reply) => return Ok(Some(reply)),
                    Err(e) => tracing::debug!("unreadable reply: {e}"),
                },
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Registers to monitor `facility` and prints every update until the
    /// period ends (the client blocks meanwhile, as the seed's does).
    /// Returns the server's answer to the registration; a refusal is not
    /// printed here.
    pub fn monitor(
        &mut self,
        facility: &str,
        seconds: u32,
        out: &mut dyn Write,
    ) -> io::Result<Option<Reply>> {
        let request = Request::Monitor {
            facility: facility.to_string(),
            seconds,
        };
        let id = self.next_request_id();
        // The seed does not retry a registration: one attempt.
        let attempts = std::mem::replace(&mut self.attempts, 1);
        let reply = self.call_with_id(&request, id, out);
        self.attempts = attempts;
        let reply = reply?;
        match &reply {
            Some(Reply::Monitoring { message }) => {
                writeln!(out, "\n{message}")?;
                writeln!(out, "Waiting for updates... (press Ctrl+C to stop)\n")?;
            }
            // A refusal is the caller's to show (the menu prints it, a script
            // command reports it on standard error).
            Some(_) | None => return Ok(reply),
        }
        let end = Instant::now() + Duration::from_secs(u64::from(seconds));
        let mut buf = vec![0u8; MAX_DATAGRAM];
        while Instant::now() < end {
            self.socket.set_read_timeout(Some(
                end.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ))?;
            match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => {
                    if let Ok(Reply::Update { facility, days }) = Reply::decode(&buf[..n]) {
                        show_update(&facility, &days, out)?;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e),
            }
        }
        writeln!(out, "\nMonitoring period ended")?;
        Ok(reply)
    }
}

fn hhmm(t: &WeekTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

fn day_name(day: u8) -> &'static str {
    DAY_NAMES
        .get(usize::from(day))
        .copied()
        .unwrap_or("Unknown day")
}

/// Prints a MONITOR_UPDATE as the seed's client does.
pub fn show_update(
    facility: &str,
    days: &[DayAvailability],
    out: &mut dyn Write,
) -> io::Result<()> {
    let rule = "=".repeat(60);
    writeln!(out, "\n{rule}")?;
    writeln!(out, "UPDATE: Availability changed for '{facility}'")?;
    writeln!(out, "{rule}")?;
    for d in days {
        writeln!(out, "\n  {}:", day_name(d.day))?;
        if d.slots.is_empty() {
            writeln!(out, "    Fully booked")?;
        }
        for (start, end) in &d.slots {
            writeln!(out, "    {} - {}", hhmm(start), hhmm(end))?;
        }
    }
    writeln!(out, "{rule}\n")
}

/// Prints a reply as the seed's client does.
pub fn show_reply(reply: &Reply, out: &mut dyn Write) -> io::Result<()> {
    match reply {
        Reply::Availability { facility, days } => {
            writeln!(out, "\nAvailability for '{facility}':")?;
            for d in days {
                writeln!(out, "\n  {}:", day_name(d.day))?;
                if d.slots.is_empty() {
                    writeln!(out, "    No available slots")?;
                }
                for (start, end) in &d.slots {
                    writeln!(out, "    {} - {}", hhmm(start), hhmm(end))?;
                }
            }
            Ok(())
        }
        Reply::Booked { confirmation } => {
            writeln!(out, "\nBooking successful!")?;
            writeln!(out, "Confirmation ID: {confirmation}")
        }
        Reply::Changed => writeln!(out, "\nBooking changed successfully!"),
        Reply::Monitoring { message }
        | Reply::Extended { message }
        | Reply::Cancelled { message } => {
            writeln!(out, "\n{message}")
        }
        Reply::Update { facility, days } => show_update(facility, days, out),
        Reply::Error { code, message } => writeln!(out, "\nError [{code}]: {message}"),
    }
}

/// The seed's interactive menu, until choice 7 or the end of `input`.
pub fn run_menu(
    client: &mut Client,
    semantics: &str,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut ask = |prompt: &str, out: &mut dyn Write| -> io::Result<Option<String>> {
        write!(out, "{prompt}")?;
        out.flush()?;
        let mut line = String::new();
        Ok((input.read_line(&mut line)? > 0).then(|| line.trim().to_string()))
    };
    loop {
        let rule = "=".repeat(60);
        writeln!(
            out,
            "\n{rule}\nFacility Booking System Client\nSemantics: {semantics}\n{rule}"
        )?;
        writeln!(
            out,
            "\n1. Query Availability\n2. Book Facility\n3. Change Booking\n4. Monitor Facility"
        )?;
        writeln!(
            out,
            "5. Extend Booking (Idempotent)\n6. Cancel Booking (Non-Idempotent)\n7. Exit\n"
        )?;
        let Some(choice) = ask("Enter choice (1-7): ", out)? else {
            return Ok(());
        };
        macro_rules! read {
            ($prompt:expr) => {
                match ask($prompt, out)? {
                    Some(v) => v,
                    None => return Ok(()),
                }
            };
        }
        let reply = match choice.as_str() {
            "1" => {
                let facility = read!("Enter facility name: ");
                let days = read!("Enter days (0=Mon, 1=Tue, ..., 6=Sun, comma-separated): ");
                let Ok(days) = days
                    .split(',')
                    .map(|d| d.trim().parse::<u8>())
                    .collect::<Result<Vec<_>, _>>()
                else {
                    writeln!(out, "Invalid day format")?;
                    continue;
                };
                writeln!(
                    out,
                    "\nQuerying availability for '{facility}' on days {}...",
                    py_list(&days)
                )?;
                client.call(&Request::Query { facility, days }, out)?
            }
            "2" => {
                let facility = read!("Enter facility name: ");
                let mut fields = Vec::new();
                for prompt in [
                    "Start day (0=Mon, 1=Tue, ..., 6=Sun): ",
                    "Start hour (0-23): ",
                    "Start minute (0-59): ",
                    "End day (0=Mon, 1=Tue, ..., 6=Sun): ",
                    "End hour (0-23): ",
                    "End minute (0-59): ",
                ] {
                    let v = read!(prompt);
                    match v.parse::<u8>() {
                        Ok(v) => fields.push(v),
                        Err(_) => break,
                    }
                }
                let times = (fields.len() == 6).then(|| {
                    (
                        WeekTime::new(fields[0], fields[1], fields[2]),
                        WeekTime::new(fields[3], fields[4], fields[5]),
                    )
                });
                let Some((Ok(start), Ok(end))) = times else {
                    writeln!(out, "Invalid input format")?;
                    continue;
                };
                writeln!(
                    out,
                    "\nBooking '{facility}' from {} {} to {} {}...",
                    day_name(start.day()),
                    hhmm(&start),
                    day_name(end.day()),
                    hhmm(&end)
                )?;
                client.call(
                    &Request::Book {
                        facility,
                        start,
                        end,
                    },
                    out,
                )?
            }
            "3" => {
                let confirmation = read!("Enter confirmation ID: ");
                let offset =
                    read!("Enter offset in minutes (negative to advance, positive to postpone): ");
                let Ok(offset_minutes) = offset.parse::<i32>() else {
                    writeln!(out, "Invalid offset format")?;
                    continue;
                };
                let direction = if offset_minutes < 0 {
                    "advance"
                } else {
                    "postpone"
                };
                writeln!(
                    out,
                    "\nChanging booking {confirmation} to {direction} by {} minutes...",
                    offset_minutes.unsigned_abs()
                )?;
                client.call(
                    &Request::Change {
                        confirmation,
                        offset_minutes,
                    },
                    out,
                )?
            }
            "4" => {
                let facility = read!("Enter facility name: ");
                let seconds = read!("Enter monitoring duration in seconds: ");
                let Ok(seconds) = seconds.parse::<u32>() else {
                    writeln!(out, "Invalid duration format")?;
                    continue;
                };
                writeln!(
                    out,
                    "\nRegistering to monitor '{facility}' for {seconds} seconds..."
                )?;
                match client.monitor(&facility, seconds, out)? {
                    Some(Reply::Monitoring { .. }) | None => continue,
                    refusal => refusal,
                }
            }
            "5" => {
                let confirmation = read!("Enter confirmation ID: ");
                let minutes = read!("Enter extension in minutes: ");
                let Ok(minutes) = minutes.parse::<u32>() else {
                    writeln!(out, "Invalid extension format")?;
                    continue;
                };
                writeln!(
                    out,
                    "\nExtending booking {confirmation} by {minutes} minutes..."
                )?;
                client.call(
                    &Request::Extend {
                        confirmation,
                        minutes,
                    },
                    out,
                )?
            }
            "6" => {
                let confirmation = read!("Enter confirmation ID: ");
                writeln!(out, "\nCancelling booking {confirmation}...")?;
                client.call(&Request::Cancel { confirmation }, out)?
            }
            "7" => {
                writeln!(out, "\nExiting client...")?;
                return Ok(());
            }
            _ => {
                writeln!(out, "\nInvalid choice, please try again")?;
                continue;
            }
        };
        if let Some(reply) = reply {
            show_reply(&reply, out)?;
        }
    }
}

/// A list as Python prints it: `[0, 1, 2]`.
fn py_list(days: &[u8]) -> String {
    let items: Vec<String> = days.iter().map(u8::to_string).collect();
    format!("[{}]", items.join(", "))
}
