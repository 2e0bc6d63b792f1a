//! `convene bench amplification`: how many bytes a stranger can make a node
//! send for each byte it sends, on every UDP port a node opens.
//!
//! A UDP request's source address is only a claim, so a port that answers a
//! small request with a large reply can be aimed at a victim: the victim
//! receives the replies to requests it never sent. Each row streams requests
//! from one socket (its address standing for the victim's) for `--seconds`
//! at `--rate` requests a second, and reports the bytes that socket received
//! divided by the bytes it sent: over the first second (before the reply
//! budget's burst is spent) and over the whole run.
//!
//! Every row runs against a freshly started one-node cluster in this
//! process (a 2-worker runtime; so every budget starts full), whose node is
//! a booking front door owning two facilities (one fragmented by 5,040
//! one-minute bookings, made once before the first row and kept in the
//! node's store, so a week's query is answered with 30 KB) and shares a
//! folder of 300 files. The streams come from a separate single-threaded
//! runtime.
//!
//! - **booking_port**: each request type of the seed's protocol, with the
//!   worst answers each can get; and the worst case, a monitor registration
//!   renewed ten times a second while another client changes the facility as
//!   fast as it is answered (each change sends the registered address the
//!   facility's whole week).
//! - **peer_port**: garbage, and requests shaped as the cluster's own (a
//!   status query, the files listings, a booking forward) from a socket
//!   that is not a member.
//!
//! `--no-budget` raises the booking limits out of reach, to show what the
//! seed's protocol does without them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use convene_booking::service::peer_msg::PeerRequest;
use convene_booking::wire::{Reply, Request};
use convene_cluster::ServiceTag;
use convene_cluster::config::Limits;
use convene_files::peer_msg::FilesRequest;
use convene_rpc::SplitMix64;
use convene_time::WeekTime;
use convene_wire::Encode;
use tokio::net::UdpSocket;

use super::stats::machine;

/// The facility fragmented into 5,040 one-minute bookings.
const FRAGMENTED: &str = "Fragmented Hall";
/// A facility with no bookings.
const FREE: &str = "Meeting Room A";
/// A made-up confirmation id of the node.
const UNKNOWN_ID: &str = "CONF0-ffffffffffffffff";

pub struct AmplificationBench {
    pub seconds: f64,
    pub rate: u32,
    pub no_budget: bool,
}

/// What one row streams.
#[derive(Clone, Copy)]
enum Stream {
    /// Requests to the booking port, made by `request(id)`.
    Booking(fn(u32) -> Vec<u8>),
    /// A monitor registration renewed ten times a second, while another
    /// client books and cancels on the facility.
    MonitorAndChanges,
    /// Datagrams to the peer port, made by `datagram(id, from)`.
    Peer(fn(u64, SocketAddr) -> Vec<u8>),
}

const ROWS: &[(&str, Stream)] = &[
    ("booking: query, 1 day, free", Stream::Booking(query_free)),
    (
        "booking: query, 7 days, fragmented",
        Stream::Booking(query_fragmented),
    ),
    ("booking: book, slot taken", Stream::Booking(book_taken)),
    (
        "booking: book, unknown facility",
        Stream::Booking(book_unknown),
    ),
    (
        "booking: change, unknown id",
        Stream::Booking(change_unknown),
    ),
    (
        "booking: extend, unknown id",
        Stream::Booking(extend_unknown),
    ),
    (
        "booking: cancel, unknown id",
        Stream::Booking(cancel_unknown),
    ),
    (
        "booking: monitor register (renewed)",
        Stream::Booking(monitor_fragmented),
    ),
    ("booking: unknown type 9", Stream::Booking(unknown_type)),
    ("booking: 3-byte datagram", Stream::Booking(too_short)),
    (
        "booking: monitor + another's changes",
        Stream::MonitorAndChanges,
    ),
    ("peer: random bytes", Stream::Peer(garbage)),
    ("peer: status request", Stream::Peer(status_request)),
    ("peer: files ListAll", Stream::Peer(files_list_all)),
    ("peer: files ListLocal", Stream::Peer(files_list_local)),
    ("peer: booking Execute", Stream::Peer(booking_execute)),
];

pub fn run(b: &AmplificationBench) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!(
        "convene-bench-amplification-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&dir, b);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &Path, b: &AmplificationBench) -> anyhow::Result<()> {
    let limits = Limits::default();
    println!(
        "UDP amplification: bytes received / bytes sent by one socket, {:.0} s at {} requests/s",
        b.seconds, b.rate
    );
    println!("machine: {}", machine());
    if b.no_budget {
        println!("booking limits raised out of reach (--no-budget): the seed's behaviour");
    } else {
        println!(
            "booking limits: booking_reply_factor {}, booking_burst_bytes {}, booking_monitors_per_ip {}",
            limits.booking_reply_factor, limits.booking_burst_bytes, limits.booking_monitors_per_ip
        );
    }
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "{:<38} {:>8} {:>11} {:>11} {:>10} {:>10} {:>9}",
        "stream", "requests", "sent B", "received B", "first s ×", "whole ×", "dropped"
    );
    let duration = Duration::from_secs_f64(b.seconds);
    let path = prepare(dir, b.no_budget)?;
    let screen = convene_cluster::Screen::writer(std::io::sink());
    let (_, nodes) = servers.block_on(convene_node::start_all(
        convene_node::load_cluster(&path)?,
        |_| screen.clone(),
    ))?;
    let booking = nodes[0].booking_addr().context("front door")?;
    load.block_on(fragment(booking))?;
    servers.block_on(convene_node::stop_all(nodes));
    for (label, stream) in ROWS {
        let (_, nodes) = servers.block_on(convene_node::start_all(
            convene_node::load_cluster(&path)?,
            |_| screen.clone(),
        ))?;
        let node = &nodes[0];
        let booking = node.booking_addr().context("front door")?;
        let peer = node.peer_addr();
        let measured = load.block_on(measure(*stream, booking, peer, b.rate, duration))?;
        let dropped = node.booking().budget_stats().map_or(0, |s| s.dropped);
        println!(
            "{:<38} {:>8} {:>11} {:>11} {:>10} {:>10} {:>9}",
            label,
            measured.requests,
            measured.sent,
            measured.received,
            ratio(measured.received_first, measured.sent_first),
            ratio(measured.received, measured.sent),
            dropped,
        );
        servers.block_on(convene_node::stop_all(nodes));
    }
    Ok(())
}

fn ratio(received: u64, sent: u64) -> String {
    if sent == 0 {
        return "-".into();
    }
    format!("{:.2}", received as f64 / sent as f64)
}

/// Writes a one-node cluster under `dir`, its file and its shared folder;
/// returns the file's path.
fn prepare(dir: &Path, no_budget: bool) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir.join("shared"))?;
    for i in 0..300 {
        std::fs::write(
            dir.join("shared")
                .join(format!("minutes-of-the-weekly-meeting-{i:04}.txt")),
            format!("notes {i}\n"),
        )?;
    }
    let mut limits = String::new();
    if no_budget {
        limits = "[limits]\nbooking_reply_factor = 1000000\nbooking_burst_bytes = 1000000000000\n\
                  booking_monitors_per_ip = 1000000\nbooking_monitors = 1000000\n"
            .into();
    }
    let toml = format!(
        "[[node]]\nid = \"F\"\nhost = \"127.0.0.1\"\npeer_port = 0\nbooking_port = 0\ndata_dir = \"F\"\n\
         [node.booking]\nfacilities = [\"{FRAGMENTED}\", \"{FREE}\"]\n\
         [node.files]\ndir = \"shared\"\n{limits}"
    );
    let path = dir.join("cluster.toml");
    std::fs::write(&path, toml)?;
    Ok(path)
}

/// Books every even minute of the week on the fragmented facility (720
/// one-minute gaps a day), from 16 clients at once.
async fn fragment(booking: SocketAddr) -> anyhow::Result<()> {
    const CLIENTS: u32 = 16;
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        clients.spawn(async move {
            let socket = UdpSocket::bind("127.0.0.1:0").await?;
            let mut buf = vec![0u8; 65536];
            let minute = |m| WeekTime::from_minutes(m).expect("in the week");
            let mut id = 0;
            for i in (c..5040).step_by(CLIENTS as usize) {
                let book = Request::Book {
                    facility: FRAGMENTED.into(),
                    start: minute(2 * i),
                    end: minute(2 * i + 1),
                };
                // Retried on a lost reply; a retry of a made booking is
                // answered from the reply cache.
                id += 1;
                let datagram = book.encode(id);
                loop {
                    socket.send_to(&datagram, booking).await?;
                    if let Ok(Ok((n, _))) =
                        tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf))
                            .await
                    {
                        anyhow::ensure!(
                            matches!(Reply::decode(&buf[..n])?, Reply::Booked { .. }),
                            "could not book minute {}",
                            2 * i
                        );
                        break;
                    }
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = clients.join_next().await {
        done??;
    }
    Ok(())
}

/// What one row measured, from the streaming socket's side.
#[derive(Default)]
struct Measured {
    requests: u64,
    sent: u64,
    received: u64,
    sent_first: u64,
    received_first: u64,
}

/// Bytes a socket received, in all and in the first second; and whether
/// the stream has ended.
#[derive(Default)]
struct Tally {
    all: AtomicU64,
    first: AtomicU64,
    done: AtomicBool,
}

async fn measure(
    stream: Stream,
    booking: SocketAddr,
    peer: SocketAddr,
    rate: u32,
    duration: Duration,
) -> anyhow::Result<Measured> {
    // The victim's address: a loopback address no other row's socket uses.
    let socket = Arc::new(UdpSocket::bind("127.0.0.2:0").await?);
    let from = socket.local_addr()?;
    let start = Instant::now();
    let tally = Arc::new(Tally::default());
    let listening = tokio::spawn(count_replies(socket.clone(), start, tally.clone()));
    let mut m = Measured::default();
    let sent_at = |m: &mut Measured, bytes: usize| {
        m.requests += 1;
        m.sent += bytes as u64;
        if start.elapsed() < Duration::from_secs(1) {
            m.sent_first += bytes as u64;
        }
    };
    match stream {
        Stream::Booking(request) => {
            paced(rate, duration, |id| {
                let datagram = request(id as u32);
                sent_at(&mut m, datagram.len());
                let socket = socket.clone();
                async move { socket.send_to(&datagram, booking).await.map(|_| ()) }
            })
            .await?;
        }
        Stream::Peer(datagram) => {
            paced(rate, duration, |id| {
                let datagram = datagram(id, from);
                sent_at(&mut m, datagram.len());
                let socket = socket.clone();
                async move { socket.send_to(&datagram, peer).await.map(|_| ()) }
            })
            .await?;
        }
        Stream::MonitorAndChanges => {
            let changer = tokio::spawn(change_for(booking, start + duration, rate));
            paced(10, duration, |id| {
                let datagram = monitor_fragmented(id as u32);
                sent_at(&mut m, datagram.len());
                let socket = socket.clone();
                async move { socket.send_to(&datagram, booking).await.map(|_| ()) }
            })
            .await?;
            changer.await??;
        }
    }
    tally.done.store(true, Ordering::Relaxed);
    listening.await?;
    m.received = tally.all.load(Ordering::Relaxed);
    m.received_first = tally.first.load(Ordering::Relaxed);
    Ok(m)
}

/// Calls `send(id)` for ids 1, 2, … at `rate` a second until `duration`
/// has passed, in ticks of 10 ms.
async fn paced<F, Fut>(rate: u32, duration: Duration, mut send: F) -> anyhow::Result<()>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = std::io::Result<()>>,
{
    let start = Instant::now();
    let tick = Duration::from_millis(10);
    let mut id = 0u64;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64 + 1;
        while id < due {
            id += 1;
            send(id).await?;
        }
        tokio::time::sleep(tick).await;
    }
    Ok(())
}

/// Counts what `socket` receives until the stream has ended and the socket
/// has been quiet for half a second.
async fn count_replies(socket: Arc<UdpSocket>, start: Instant, tally: Arc<Tally>) {
    let mut buf = vec![0u8; 65536];
    let quiet = Duration::from_millis(500);
    loop {
        match tokio::time::timeout(quiet, socket.recv_from(&mut buf)).await {
            Ok(Ok((n, _))) => {
                tally.all.fetch_add(n as u64, Ordering::Relaxed);
                if start.elapsed() < Duration::from_secs(1) {
                    tally.first.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            Ok(Err(_)) => {}
            Err(_) if tally.done.load(Ordering::Relaxed) => return,
            Err(_) => {}
        }
    }
}

/// Another client (another address) books and cancels one free minute of
/// the fragmented facility, one request at a time, until `until`.
async fn change_for(booking: SocketAddr, until: Instant, rate: u32) -> anyhow::Result<()> {
    let socket = UdpSocket::bind("127.0.0.3:0").await?;
    let mut buf = vec![0u8; 65536];
    let minute = |m| WeekTime::from_minutes(m).expect("in the week");
    let pause = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut id = 0u32;
    while Instant::now() < until {
        id += 1;
        let book = Request::Book {
            facility: FRAGMENTED.into(),
            start: minute(1),
            end: minute(2),
        }
        .encode(id);
        socket.send_to(&book, booking).await?;
        let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await
        else {
            continue;
        };
        if let Ok(Reply::Booked { confirmation }) = Reply::decode(&buf[..n]) {
            id += 1;
            let cancel = Request::Cancel { confirmation }.encode(id);
            socket.send_to(&cancel, booking).await?;
            let _ = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await;
        }
        tokio::time::sleep(pause).await;
    }
    Ok(())
}

fn query_free(id: u32) -> Vec<u8> {
    Request::Query {
        facility: FREE.into(),
        days: vec![0],
    }
    .encode(id)
}

fn query_fragmented(id: u32) -> Vec<u8> {
    Request::Query {
        facility: FRAGMENTED.into(),
        days: (0..7).collect(),
    }
    .encode(id)
}

fn book_taken(id: u32) -> Vec<u8> {
    let minute = |m| WeekTime::from_minutes(m).expect("in the week");
    Request::Book {
        facility: FRAGMENTED.into(),
        start: minute(0),
        end: minute(1),
    }
    .encode(id)
}

fn book_unknown(id: u32) -> Vec<u8> {
    let minute = |m| WeekTime::from_minutes(m).expect("in the week");
    Request::Book {
        facility: "Gym".into(),
        start: minute(0),
        end: minute(1),
    }
    .encode(id)
}

fn change_unknown(id: u32) -> Vec<u8> {
    Request::Change {
        confirmation: UNKNOWN_ID.into(),
        offset_minutes: 30,
    }
    .encode(id)
}

fn extend_unknown(id: u32) -> Vec<u8> {
    Request::Extend {
        confirmation: UNKNOWN_ID.into(),
        minutes: 30,
    }
    .encode(id)
}

fn cancel_unknown(id: u32) -> Vec<u8> {
    Request::Cancel {
        confirmation: UNKNOWN_ID.into(),
    }
    .encode(id)
}

fn monitor_fragmented(id: u32) -> Vec<u8> {
    Request::Monitor {
        facility: FRAGMENTED.into(),
        seconds: 60,
    }
    .encode(id)
}

fn unknown_type(id: u32) -> Vec<u8> {
    let mut datagram = vec![9];
    datagram.extend(id.to_be_bytes());
    datagram
}

fn too_short(_: u32) -> Vec<u8> {
    vec![1, 0, 0]
}

/// Random bytes, 1 to 1,400 of them.
fn garbage(id: u64, _: SocketAddr) -> Vec<u8> {
    let mut rng = SplitMix64::new(id);
    let len = 1 + (rng.next_u64() % 1400) as usize;
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

/// A request as the cluster's transport frames one: its envelope (magic,
/// version, kind 0, a request id), then the service's tag and body.
fn peer_request(id: u64, tag: ServiceTag, body: &[u8]) -> Vec<u8> {
    let mut datagram = vec![
        convene_rpc::envelope::MAGIC,
        convene_rpc::envelope::VERSION,
        0,
    ];
    datagram.extend(id.to_be_bytes());
    datagram.push(tag.byte());
    datagram.extend(body);
    datagram
}

fn status_request(id: u64, _: SocketAddr) -> Vec<u8> {
    // Membership's StatusRequest is the single byte 20.
    peer_request(id, convene_cluster::membership::TAG, &[20])
}

fn files_list_all(id: u64, _: SocketAddr) -> Vec<u8> {
    let body = FilesRequest::ListAll {
        snapshot: 0,
        offset: 0,
    };
    peer_request(id, convene_files::TAG, &body.to_bytes())
}

fn files_list_local(id: u64, _: SocketAddr) -> Vec<u8> {
    let body = FilesRequest::ListLocal {
        snapshot: 0,
        offset: 0,
    };
    peer_request(id, convene_files::TAG, &body.to_bytes())
}

fn booking_execute(id: u64, from: SocketAddr) -> Vec<u8> {
    let body = PeerRequest::Execute {
        client: from,
        dedup: false,
        datagram: query_fragmented(id as u32),
    };
    peer_request(id, convene_booking::TAG, &body.to_bytes())
}
