//! The main role: fan a query out to the backends involved, intersect what
//! they return, register meetings across them.

use std::sync::{Arc, Mutex, RwLock};

use convene_cluster::{Peers, Screen, Unordered};
use convene_rpc::SplitMix64;
use convene_time::{Interval, SlotList, intersect_all};
use convene_wire::{Decode, Encode};

use crate::config::MeetSection;
use crate::directory::{ChunkOutcome, Directory};
use crate::handle::{Common, Reason, Unreachable};
use crate::known_lists::KnownLists;
use crate::lines;
use crate::observe::outcomes;
use crate::peer_msg::{MeetReply, MeetRequest, TAG};
use crate::protocol::Reply;

/// A main node's state: the directory and what it needs to reach backends.
pub struct MainRole {
    peers: Peers,
    screen: Screen,
    directory: Arc<RwLock<Directory>>,
    boot: u64,
    ids: Mutex<SplitMix64>,
    /// The lists kept on disk, for a restart while a backend is down.
    kept: KnownLists,
    /// Writes of kept lists run one at a time.
    keeping: Arc<tokio::sync::Mutex<()>>,
}

impl MainRole {
    pub(crate) fn new(
        peers: Peers,
        screen: Screen,
        boot: u64,
        ids: SplitMix64,
        kept: KnownLists,
    ) -> Self {
        let backends = peers
            .cluster()
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| MeetSection::of(n).is_some())
            .map(|(i, _)| i);
        let directory = Directory::new(backends);
        MainRole {
            peers,
            screen,
            directory: Arc::new(RwLock::new(directory)),
            boot,
            ids: Mutex::new(ids),
            kept,
            keeping: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Puts in force the lists kept by an earlier run of this node (see
    /// [`crate::known_lists`]); a damaged one is set aside with a warning.
    /// Blocking: it reads files.
    pub(crate) fn restore_kept_lists(&self) {
        for (node, config) in self.peers.cluster().nodes.iter().enumerate() {
            if MeetSection::of(config).is_none() {
                continue;
            }
            match self.kept.load(&config.id) {
                Ok(None) => {}
                Ok(Some(list)) => {
                    let users = list.names.len();
                    let outcome = self
                        .directory
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .restore(node, list);
                    if matches!(outcome, ChunkOutcome::Complete { .. }) {
                        tracing::info!(
                            users,
                            "restored the last user list of Server {} kept by this node",
                            config.id
                        );
                    }
                }
                Err(e) => tracing::warn!(
                    "cannot use the kept user list of Server {}: {e}; waiting for it to announce",
                    config.id
                ),
            }
        }
    }

    /// Writes backend `node`'s list in force to disk, in the background.
    /// Writes run one at a time and each takes the list in force when it
    /// runs, so the last write is of the latest list.
    pub(crate) fn keep_list(&self, node: usize) {
        let (Some(config), Ok(runtime)) = (
            self.peers.cluster().nodes.get(node).cloned(),
            tokio::runtime::Handle::try_current(),
        ) else {
            return;
        };
        let keeping = self.keeping.clone();
        let kept = self.kept.clone();
        let directory = self.directory.clone();
        runtime.spawn(async move {
            let _one_at_a_time = keeping.lock().await;
            let list = directory
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .list(node)
                .cloned();
            let Some(list) = list else { return };
            let written = tokio::task::spawn_blocking(move || kept.save(&config.id, &list)).await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("cannot keep a user list: {e}"),
                Err(e) => tracing::warn!("the task keeping a user list failed: {e}"),
            }
        });
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

    /// The ids of backends `nodes`, for the screen and replies.
    fn ids(&self, nodes: &[usize]) -> Vec<&str> {
        nodes.iter().map(|n| self.node_id(*n)).collect()
    }

    /// Every user name the directory knows, sorted.
    pub(crate) fn users(&self) -> Vec<String> {
        let mut names = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .names();
        names.sort_unstable();
        names
    }

    /// The ids of the backends whose lists are not known yet.
    pub(crate) fn silent_backends(&self) -> Vec<String> {
        let silent = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .silent();
        self.ids(&silent).into_iter().map(str::to_string).collect()
    }

    /// Answers a query: which names exist, and when all of them are free.
    ///
    /// A name is said not to exist only if every backend's list is known and
    /// none holds it. If a backend involved does not answer, or a name may be
    /// on a backend whose list is not known, the answer is an `error` line
    /// naming those users as unreachable and why
    /// ([`lines::unreachable_reply`]); the seed's client shows an `error`
    /// reply as it is, and a recommendation that silently left users out
    /// would be wrong.
    pub async fn query(&self, names: Vec<String>) -> Reply {
        match self.common(names).await {
            Ok(common) => common.to_reply(),
            Err(message) => Reply::Error(message),
        }
    }

    /// The answer to a query with its structure kept (see [`Self::query`]);
    /// `Err` with the reason when a backend gave an unreadable answer.
    pub(crate) async fn common(&self, names: Vec<String>) -> Result<Common, String> {
        let split = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .split(&names);
        let mut missing = split.missing;
        if !missing.is_empty() {
            self.screen.line(lines::main_missing(&missing));
        }
        let silent = self.ids(&split.silent);
        if !split.unplaced.is_empty() {
            self.screen
                .line(lines::main_unplaced(&split.unplaced, &silent));
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
        let mut no_answer: Vec<(usize, String, Vec<String>)> = Vec::new();
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
                    self.screen.line(lines::main_unreachable(&group, &server));
                    no_answer.push((node, server, group));
                }
            }
        }
        if let Some(message) = failure {
            return Err(message);
        }
        // In request order, as every list in a reply is.
        let in_order = |set: &[String]| -> Vec<String> {
            names.iter().filter(|n| set.contains(n)).cloned().collect()
        };
        let missing = in_order(&missing);
        let mut unreachable: Vec<Unreachable> = Vec::new();
        no_answer.sort_by_key(|(node, ..)| *node);
        for (_, server, users) in no_answer {
            unreachable.push(Unreachable {
                users,
                reason: Reason::NoAnswer { server },
            });
        }
        if !split.unplaced.is_empty() {
            unreachable.push(Unreachable {
                users: split.unplaced.clone(),
                reason: Reason::NoList {
                    silent: silent.iter().map(|s| s.to_string()).collect(),
                },
            });
        }
        if !unreachable.is_empty() {
            let found = names
                .iter()
                .filter(|n| {
                    !missing.contains(n) && !unreachable.iter().any(|u| u.users.contains(n))
                })
                .cloned()
                .collect();
            return Ok(Common {
                found,
                missing,
                unreachable,
                slots: None,
            });
        }
        let found: Vec<String> = names
            .iter()
            .filter(|n| !missing.contains(n))
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
        Ok(Common {
            found,
            missing,
            unreachable,
            slots,
        })
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
        self.register_observed(slot, names).await.0
    }

    /// As [`Self::register`], with what became of it (see
    /// [`crate::observe::outcomes`]).
    pub(crate) async fn register_observed(
        &self,
        slot: Interval,
        names: Vec<String>,
    ) -> (Reply, &'static str) {
        let split = self
            .directory
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .split(&names);
        if !split.missing.is_empty() {
            return (
                Reply::Error(lines::client_missing(&split.missing).to_string()),
                outcomes::UNKNOWN_USER,
            );
        }
        if !split.unplaced.is_empty() {
            let silent = self.ids(&split.silent);
            let unreached = [lines::Unreached::NoList {
                silent: &silent,
                users: &split.unplaced,
            }];
            let none: [&str; 0] = [];
            return (
                Reply::Error(
                    lines::unreachable_reply(&none, &unreached, "nothing was registered")
                        .to_string(),
                ),
                outcomes::UNREACHABLE,
            );
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
                names: group.clone(),
            }
            .to_bytes();
            let reply = self.peers.call(to, TAG, &body).await;
            match reply.map(|b| MeetReply::from_bytes(&b)) {
                Ok(Ok(MeetReply::Registered)) => {
                    registered.push(to);
                    continue;
                }
                Ok(Ok(MeetReply::Conflict { name })) => {
                    refusal = Some((
                        format!("{slot} is not free for {name} any more; nothing was registered"),
                        outcomes::REFUSED,
                    ));
                }
                Ok(Ok(MeetReply::Failed { message })) => {
                    refusal = Some((
                        format!("{message}; nothing was registered"),
                        outcomes::ERROR,
                    ));
                }
                Ok(other) => {
                    registered.push(to);
                    refusal = Some((
                        format!(
                            "Server {server} gave an unreadable answer ({other:?}); nothing was registered"
                        ),
                        outcomes::ERROR,
                    ));
                }
                Err(e) => {
                    // It may have applied the meeting and lost the answer: undo there too.
                    tracing::warn!("Server {server} did not answer a registration: {e}");
                    registered.push(to);
                    let unreached = [lines::Unreached::NoAnswer {
                        server: &server,
                        users: &group,
                    }];
                    let none: [&str; 0] = [];
                    refusal = Some((
                        lines::unreachable_reply(&none, &unreached, "nothing was registered")
                            .to_string(),
                        outcomes::UNREACHABLE,
                    ));
                }
            }
            break;
        }
        let Some((message, outcome)) = refusal else {
            return (Reply::Registered(slot), outcomes::OK);
        };
        let body = MeetRequest::Unregister { meeting }.to_bytes();
        for to in registered {
            if let Err(e) = self.peers.call(to, TAG, &body).await {
                tracing::error!(%to, "could not undo meeting {meeting}: {e}");
            }
        }
        (Reply::Error(message), outcome)
    }
}
