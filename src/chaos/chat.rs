//! The chat workload and its check, through the course client protocol
//! (`convene_chat::client::ChatSession`).
//!
//! Clients log in with names from a small pool on random nodes, so that
//! they contend for them; some create rooms from a small pool too; they hold
//! what they got for a while, asking their server something every 200 ms,
//! then quit. Each client records when it held a name or room: from the
//! moment the approval arrived to the last moment its server still answered
//! it (or it sent its quit). Those moments lie inside the true holding, so
//! if two clients' records for one name overlap, two clients really held it
//! at once: the check's violation.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use convene_chat::client::{ChatSession, ClientError};
use convene_chat::{ClientMessage, ServerMessage};

use super::rng::Rng;

/// Names contended for.
const IDENTITIES: usize = 8;
/// Rooms contended for.
const ROOMS: usize = 4;

/// One holding: who (a client session's number), what, from when to when
/// (since the run began).
#[derive(Clone, Debug)]
pub struct Held {
    session: u64,
    /// The node the session was on.
    node: String,
    what: String,
    from: Duration,
    to: Duration,
}

/// What one client did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Logins asked for, approved, refused ("approved":"false"), failed
    /// (no answer, connection lost).
    pub logins: [u64; 4],
    /// Rooms asked for, approved, refused.
    pub rooms: [u64; 3],
    /// Messages sent and answered while holding.
    pub questions: u64,
    /// Every holding.
    pub held: Vec<Held>,
}

/// Runs one client until `stop`; its session numbers are
/// `client + k * clients`.
pub async fn client(
    client: usize,
    clients: usize,
    servers: Vec<(String, SocketAddr)>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut session_no = client as u64;
    while !stop.load(Ordering::Relaxed) {
        session_no += clients as u64;
        let (node, server) = servers[rng.below(servers.len() as u64) as usize].clone();
        let name = format!("user{}", rng.below(IDENTITIES as u64));
        tally.logins[0] += 1;
        let mut session = match ChatSession::login(server, &name, Duration::from_secs(5)).await {
            Ok(s) => s,
            Err(ClientError::Refused { .. }) => {
                tally.logins[2] += 1;
                pause(&mut rng).await;
                continue;
            }
            Err(_) => {
                tally.logins[3] += 1;
                pause(&mut rng).await;
                continue;
            }
        };
        tally.logins[1] += 1;
        let from = started.elapsed();
        let mut last_alive = from;
        let mut room: Option<(String, Duration)> = None;
        let mut alive = true;
        if rng.chance(0.5) {
            let id = format!("room{}", rng.below(ROOMS as u64));
            tally.rooms[0] += 1;
            match ask(
                &mut session,
                ClientMessage::CreateRoom { roomid: id.clone() },
                |m| match m {
                    ServerMessage::CreateRoom { approved, .. } => Some(*approved),
                    _ => None,
                },
            )
            .await
            {
                Some(true) => {
                    tally.rooms[1] += 1;
                    last_alive = started.elapsed();
                    room = Some((id, last_alive));
                }
                Some(false) => {
                    tally.rooms[2] += 1;
                    last_alive = started.elapsed();
                }
                None => alive = false,
            }
        }
        let until = started.elapsed() + Duration::from_millis(rng.between(300, 3000));
        while alive && started.elapsed() < until && !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let answered = ask(&mut session, ClientMessage::List, |m| {
                matches!(m, ServerMessage::RoomList { .. }).then_some(())
            })
            .await;
            match answered {
                Some(()) => {
                    tally.questions += 1;
                    last_alive = started.elapsed();
                }
                None => alive = false,
            }
        }
        if alive {
            // Held until the quit is sent (the server frees it after).
            last_alive = started.elapsed();
            let _ = session.send(&ClientMessage::Quit).await;
        }
        tally.held.push(Held {
            session: session_no,
            node: node.clone(),
            what: format!("identity {name}"),
            from,
            to: last_alive,
        });
        if let Some((id, since)) = room {
            tally.held.push(Held {
                session: session_no,
                node: node.clone(),
                what: format!("room {id}"),
                from: since,
                to: last_alive,
            });
        }
        drop(session);
        pause(&mut rng).await;
    }
    tally
}

async fn pause(rng: &mut Rng) {
    tokio::time::sleep(Duration::from_millis(rng.between(20, 200))).await;
}

/// Sends `question` and waits (at most 5 s) for the answer `answer` picks
/// out, skipping other lines (other clients' room changes, messages).
/// `None` when the session broke or no answer came.
async fn ask<T>(
    session: &mut ChatSession,
    question: ClientMessage,
    answer: impl Fn(&ServerMessage) -> Option<T>,
) -> Option<T> {
    session.send(&question).await.ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = session.recv_timeout(left).await.ok()?;
        if let Some(t) = answer(&message) {
            return Some(t);
        }
    }
}

/// The holdings that overlap: two sessions holding one name or room at
/// once.
pub fn overlaps(tallies: &[Tally]) -> Vec<String> {
    let mut by_what: BTreeMap<&str, Vec<&Held>> = BTreeMap::new();
    for held in tallies.iter().flat_map(|t| &t.held) {
        by_what.entry(&held.what).or_default().push(held);
    }
    let mut found = Vec::new();
    for (what, mut holds) in by_what {
        holds.sort_by_key(|h| h.from);
        for (i, a) in holds.iter().enumerate() {
            for b in &holds[i + 1..] {
                if b.from > a.to {
                    break;
                }
                if a.session != b.session {
                    found.push(format!(
                        "{what} held by two clients at once: on {} from t={:.3} s to {:.3} s, \
                         and on {} from t={:.3} s to {:.3} s",
                        a.node,
                        a.from.as_secs_f64(),
                        a.to.as_secs_f64(),
                        b.node,
                        b.from.as_secs_f64(),
                        b.to.as_secs_f64()
                    ));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(session: u64, what: &str, from: u64, to: u64) -> Held {
        Held {
            session,
            node: "A".into(),
            what: what.into(),
            from: Duration::from_secs(from),
            to: Duration::from_secs(to),
        }
    }

    #[test]
    fn only_two_sessions_holding_one_thing_at_once_overlap() {
        let tally = Tally {
            held: vec![
                held(1, "identity a", 0, 5),
                held(2, "identity a", 6, 9),
                held(3, "identity b", 0, 5),
                held(4, "identity b", 4, 8),
                held(4, "room r", 4, 8),
            ],
            ..Tally::default()
        };
        let found = overlaps(&[tally]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("identity b held by two clients"));
    }
}
