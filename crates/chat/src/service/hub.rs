//! [`Hub`]: one node's [`ChatServer`] and the connections it writes to.
//!
//! The server's state sits behind one mutex. A connection's reader locks it,
//! feeds one client line in, and *pumps*: drains every [`Output`] the line
//! caused and carries it out while still holding the lock, so the lines of
//! every connection leave in the order the server decided them. Carrying out
//! never waits: a line goes into the connection's bounded outbox with
//! `try_send`, and its writer task does the socket I/O. Questions for the
//! cluster go, in order, to the [link](super::link).
//!
//! **Slow consumers.** A client that stops reading fills its socket, then its
//! outbox. The hub does not wait for it (that would stall every room it is
//! in) and does not buffer without bound (that would let one client exhaust
//! memory): a full outbox cuts the connection, which the server then handles
//! like any other disconnect. Everyone else keeps chatting.
//!
//! A broadcast is one [`ServerMessage`] sent to many members. The pump
//! serialises it once and hands every outbox the same shared bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};

use super::link_op::LinkOp;
use super::observe;
use crate::ServerMessage;
use crate::registry::Kind;
use crate::server::{ChatServer, ClientId, Output};

/// How many lines may wait for a slow client before it is cut off.
///
/// Behind them sits the kernel's socket buffer (hundreds of KiB on loopback),
/// so a client is cut only after falling far behind, not after a hiccup.
pub const OUTBOX_LINES: usize = 1024;

/// What a connection's writer task is told to do.
#[derive(Debug)]
pub(crate) enum Frame {
    /// Write these bytes (one line, `\n` included).
    Line(Arc<[u8]>),
    /// Write what came before, then close.
    Close,
}

/// What the writer and reader of one connection hold.
pub(crate) struct Attached {
    /// The connection's number in the server.
    pub id: ClientId,
    /// Lines to write.
    pub outbox: mpsc::Receiver<Frame>,
    /// Set to `true` when the hub cuts the connection (both tasks stop at
    /// once); closed when the hub lets go normally (the writer drains first).
    pub kill: watch::Receiver<bool>,
}

/// The hub's side of one connection.
struct Conn {
    outbox: mpsc::Sender<Frame>,
    /// Dropped with the entry (a normal end) or set first (a cut).
    kill: watch::Sender<bool>,
}

impl Conn {
    /// Stops both tasks now, whatever is queued.
    fn cut(self) {
        let _ = self.kill.send(true);
    }
}

/// Counters for benchmarks and `status`.
#[derive(Debug, Default)]
pub struct HubStats {
    /// Lines handed to connections' outboxes.
    pub delivered: AtomicU64,
    /// Connections cut because their outbox was full.
    pub slow_consumers: AtomicU64,
}

/// One node's chat server and its connections. See the [module docs](self).
pub(crate) struct Hub {
    state: Mutex<State>,
    link: mpsc::UnboundedSender<LinkOp>,
    stats: HubStats,
    metrics: convene_metrics::Metrics,
}

pub(crate) struct State {
    pub server: ChatServer,
    conns: HashMap<ClientId, Conn>,
    next_id: ClientId,
}

impl Hub {
    pub fn new(
        server_id: &str,
        link: mpsc::UnboundedSender<LinkOp>,
        metrics: convene_metrics::Metrics,
    ) -> Hub {
        Hub {
            state: Mutex::new(State {
                server: ChatServer::new(server_id),
                conns: HashMap::new(),
                next_id: 1,
            }),
            link,
            stats: HubStats::default(),
            metrics,
        }
    }

    pub fn stats(&self) -> &HubStats {
        &self.stats
    }

    /// The server's state, for a caller that will [`pump`](Hub::pump) after.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as consistent as
        // the last completed call; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection: its number, its outbox and its kill signal.
    pub fn attach(&self) -> Attached {
        let (tx, outbox) = mpsc::channel(OUTBOX_LINES);
        let (kill_tx, kill) = watch::channel(false);
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.server.connect(id);
        state.conns.insert(
            id,
            Conn {
                outbox: tx,
                kill: kill_tx,
            },
        );
        drop(state);
        Attached { id, outbox, kill }
    }

    /// The connection ended on the client's side (EOF, error, or cut).
    pub fn detach(&self, id: ClientId) {
        let mut state = self.lock();
        state.conns.remove(&id);
        state.server.disconnect(id);
        self.pump(&mut state);
    }

    /// Writes a line to one connection outside the protocol (an error notice).
    pub fn send_raw(&self, id: ClientId, line: Arc<[u8]>) {
        let mut state = self.lock();
        if self.deliver(&mut state, id, Frame::Line(line)) {
            self.metrics
                .count(observe::SERVICE, observe::events::MESSAGE_OUT, 1);
        }
        self.pump(&mut state);
    }

    /// Cuts every connection (the node is stopping).
    pub fn detach_all(&self) {
        for (_, conn) in self.lock().conns.drain() {
            conn.cut();
        }
    }

    /// Carries out every output the server has queued. See the [module
    /// docs](self).
    pub fn pump(&self, state: &mut State) {
        let mut last: Option<(ServerMessage, Arc<[u8]>)> = None;
        // Counted once per pump, not per line: a broadcast queues a line
        // for every member of a room.
        let mut sent = 0;
        while let Some(output) = state.server.poll_output() {
            match output {
                Output::Send { to, message } => {
                    let bytes = match &last {
                        Some((m, bytes)) if *m == message => bytes.clone(),
                        _ => {
                            let bytes: Arc<[u8]> = message.to_line().into_bytes().into();
                            last = Some((message, bytes.clone()));
                            bytes
                        }
                    };
                    if self.deliver(state, to, Frame::Line(bytes)) {
                        sent += 1;
                    }
                }
                Output::Close { client } => {
                    if let Some(conn) = state.conns.remove(&client)
                        && conn.outbox.try_send(Frame::Close).is_err()
                    {
                        // Too far behind to hear its last lines: cut.
                        conn.cut();
                    }
                }
                Output::Claim(claim) => self.to_link(LinkOp::Claim(claim)),
                Output::Release { identity, room } => {
                    if let Some(name) = identity {
                        self.to_link(LinkOp::Release(Kind::Identity, name));
                    }
                    if let Some(name) = room {
                        self.to_link(LinkOp::Release(Kind::Room, name));
                    }
                }
            }
        }
        if sent > 0 {
            self.metrics
                .count(observe::SERVICE, observe::events::MESSAGE_OUT, sent);
        }
    }

    pub fn to_link(&self, op: LinkOp) {
        // The link outlives the hub's users; if it is gone the node is
        // stopping and nothing needs telling.
        let _ = self.link.send(op);
    }

    /// Queues `frame` to connection `to`; whether it was queued.
    fn deliver(&self, state: &mut State, to: ClientId, frame: Frame) -> bool {
        let Some(conn) = state.conns.get(&to) else {
            return false; // gone already
        };
        match conn.outbox.try_send(frame) {
            Ok(()) => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(client = to, "chat client not reading; disconnected");
                self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
                if let Some(conn) = state.conns.remove(&to) {
                    conn.cut();
                }
                // Queues its leaving for the loop in `pump`.
                state.server.disconnect(to);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                // The writer died (socket error); its reader will detach.
                state.conns.remove(&to);
                state.server.disconnect(to);
            }
        }
        false
    }
}
