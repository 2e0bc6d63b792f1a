//! The main role: fan a query out to the backends involved, intersect what
//! they return, register meetings across them.

use std::sync::{Mutex, RwLock};

use convene_cluster::{Peers, Screen, Unordered};
use convene_rpc::SplitMix64;
use convene_time::{Interval, SlotList, intersect_all};
use convene_wire::{Decode, Encode};

use crate::directory::Directory;
use crate::lines;
use crate::peer_msg::{MeetReply, MeetRequest, TAG};
use crate::protocol::Reply;

/// A main node's state: the directory and what it needs to reach backends.
pub struct MainRole {
    peers: Peers,
    screen: Screen,
    directory: RwLock<Directory>,
    boot: u64,
    ids: Mutex<SplitMix64>,
}

impl MainRole {
    pub(crate) fn new(peers: Peers, screen: Screen, boot: u64, ids: SplitMix64) -> Self {
        MainRole {
            peers,
            screen,
            directory: RwLock::new(Directory::new()),
            boot,
            ids: Mutex::new(ids),
        }
    }

    /// When this run of the main node started.
    pub(crate) fn boot(&self) -> u64 {
        self.boot
    }

    pub(crate) fn directory(&self) -> &RwLock<Directory> {
        &self.directory
    }

    pub(crate) fn screen(&self) -> &Screen {
        &self.screen
    }

    pub(crate) fn peer_port(&self) -> u16 {
        self.peers.local_addr().port()
    }

    pub(crate) fn node_id(&self, node: usize) -> &str {
        self.peers
            .cluster()
            .nodes
            .get(node)
            .map_or("?", |n| n.id.as_str())
    }

    /// How many users the directory knows.
    pub fn known_users(&self) -> usize {
        self.directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Answers a query: which names exist, and when all of them are free.
    pub async fn query(&self, names: Vec<String>) -> Reply {
        let split = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .split(&names);
        let mut missing = split.missing;
        if !missing.is_empty() {
            self.screen.line(lines::main_missing(&missing));
        }
        for (node, group) in &split.groups {
            self.screen
                .line(lines::main_found_at(group, self.node_id(*node)));
        }
        // Every backend involved is asked at once; answers are taken as they come.
        let mut calls = Unordered::new(split.groups.into_iter().map(|(node, group)| async move {
            let to = self.peers.cluster().nodes[node].peer_addr();
            let body = MeetRequest::Intersect {
                names: group.clone(),
            }
            .to_bytes();
            let reply = self.peers.call(to, TAG, &body).await;
            (node, self.node_id(node).to_string(), group, reply)
        }));

        let mut partials: Vec<(usize, String, SlotList)> = Vec::new();
        let mut failure = None;
        while let Some((node, server, group, reply)) = calls.next().await {
            match reply.map(|b| MeetReply::from_bytes(&b)) {
                Ok(Ok(MeetReply::Partial { slots, unknown })) => {
                    {
                        let (head, list) =
                            lines::main_got_partial(&server, self.peer_port(), &slots);
                        self.screen.block(&[&head, &list]);
                    }
                    if !unknown.is_empty() {
                        // The backend's list changed under us: those names are gone.
                        self.directory
                            .write()
                            .unwrap_or_else(|e| e.into_inner())
                            .forget(node, &unknown);
                        missing.extend(unknown.iter().cloned());
                    }
                    if group.len() > unknown.len() {
                        partials.push((node, server, slots));
                    }
                }
                Ok(other) => {
                    tracing::warn!("Server {server} answered a query with {other:?}");
                    failure = Some(format!(
                        "Server {server} gave an unreadable answer; try again"
                    ));
                }
                Err(e) => {
                    tracing::warn!("Server {server} did not answer a query: {e}");
                    failure = Some(format!(
                        "Server {server} did not answer ({e}); try again later"
                    ));
                }
            }
        }
        if let Some(message) = failure {
            return Reply::Error(message);
        }
        let found: Vec<String> = names
            .iter()
            .filter(|n| !missing.contains(n))
            .cloned()
            .collect();
        let missing: Vec<String> = names
            .iter()
            .filter(|n| missing.contains(n))
            .cloned()
            .collect();
        let slots = if partials.is_empty() {
            None
        } else {
            partials.sort_by_key(|(node, ..)| *node);
            let lists: Vec<&[Interval]> = partials.iter().map(|(.., s)| s.as_slice()).collect();
            let result = intersect_all(&lists);
            let servers: Vec<&str> = partials.iter().map(|(_, s, _)| s.as_str()).collect();
            {
                let (head, list) = lines::main_final(&servers, &result);
                self.screen.block(&[&head, &list]);
            }
            Some(result)
        };
        Reply::Result {
            missing,
            found,
            slots,
        }
    }

    /// Registers a meeting on every backend involved, or on none.
    ///
    /// Backends are asked one at a time, always in node order, and the first
    /// refusal stops the walk and undoes what was already registered. The
    /// fixed order matters when clients race for one slot: asking every
    /// backend at once would let two racers each win one backend and then
    /// both undo, so nobody gets the slot; in a fixed order they meet at the
    /// first backend, where exactly one wins and the others stop.
    pub async fn register(&self, slot: Interval, names: Vec<String>) -> Reply {
        let split = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .split(&names);
        if !split.missing.is_empty() {
            return Reply::Error(lines::client_missing(&split.missing).to_string());
        }
        let meeting = self
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_u64();
        let mut registered = Vec::new();
        let mut refusal = None;
        for (node, group) in split.groups {
            let server = self.node_id(node).to_string();
            self.screen
                .line(lines::main_forward_registration(&group, &server));
            let to = self.peers.cluster().nodes[node].peer_addr();
            let body = MeetRequest::Register {
                meeting,
                slot,
                names: group,
            }
            .to_bytes();
            let reply = self.peers.call(to, TAG, &body).await;
            match reply.map(|b| MeetReply::from_bytes(&b)) {
                Ok(Ok(MeetReply::Registered)) => {
                    registered.push(to);
                    continue;
                }
                Ok(Ok(MeetReply::Conflict { name })) => {
                    refusal = Some(format!(
                        "{slot} is not free for {name} any more; nothing was registered"
                    ));
                }
                Ok(Ok(MeetReply::Failed { message })) => {
                    refusal = Some(format!("{message}; nothing was registered"));
                }
                Ok(other) => {
                    registered.push(to);
                    refusal = Some(format!(
                        "Server {server} gave an unreadable answer ({other:?}); nothing was registered"
                    ));
                }
                Err(e) => {
                    // It may have applied the meeting and lost the answer: undo there too.
                    registered.push(to);
                    refusal = Some(format!(
                        "Server {server} did not answer ({e}); nothing was registered"
                    ));
                }
            }
            break;
        }
        let Some(message) = refusal else {
            return Reply::Registered(slot);
        };
        let body = MeetRequest::Unregister { meeting }.to_bytes();
        for to in registered {
            if let Err(e) = self.peers.call(to, TAG, &body).await {
                tracing::error!(%to, "could not undo meeting {meeting}: {e}");
            }
        }
        Reply::Error(message)
    }
}
