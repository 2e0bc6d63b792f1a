//! [`ChatServer`]: the state of one chat server, as a sans-IO state machine.
//!
//! One server of the chat system holds its connected clients, its rooms (its
//! MainHall and the rooms created on it), who is in which room and who owns which.
//! This module is that state and the rules of reference §2.2 that change it: what
//! the server sends for each client message, in which order, to whom. It opens no
//! socket, reads no clock and awaits nothing. The caller feeds it events
//! ([`connect`](ChatServer::connect), [`handle`](ChatServer::handle),
//! [`decide`](ChatServer::decide), [`disconnect`](ChatServer::disconnect)) and
//! drains [`Output`]s with [`poll_output`](ChatServer::poll_output), so every flow
//! is tested line by line without a network.
//!
//! # What the caller does with each output
//!
//! - [`Output::Send`]: write the message ([`ServerMessage::to_line`]) to that
//!   connection.
//! - [`Output::Close`]: close that connection once the sends queued before it are
//!   written (a refusal must reach the client before the socket goes).
//! - [`Output::Claim`]: ask the cluster, then answer with
//!   [`decide`](ChatServer::decide).
//! - [`Output::Release`]: tell the cluster an identity or room id is free again.
//!
//! Outputs are in the order the reference sends them; the caller keeps that order
//! per connection.
//!
//! # Claims: uniqueness is the cluster's
//!
//! An identity and a room id must be unique in the *whole* system, which one server
//! cannot know. So an identity or a room that passes the local checks becomes a
//! [`Claim`], and the answer comes back later through
//! [`decide`](ChatServer::decide), when the caller has heard from the coordinator.
//! Keeping the question out of this machine is what lets it be tested alone, with
//! the test playing the coordinator.
//!
//! While a claim is outstanding its name is reserved *here*: a second local client
//! asking for the same identity, or the same room id, is refused at once rather
//! than racing the first to the coordinator. The reservation lasts until the claim
//! is decided, even if the claimant leaves meanwhile: the cluster may grant the name
//! to this server at any moment, and only then can the server give it back. An
//! approved claim whose client is gone is therefore answered with a
//! [`Output::Release`]. So **every claim must be decided exactly once**, with
//! `false` if the coordinator cannot be reached; a claim never decided keeps its
//! name reserved on this server for ever. A decision for a claim this server does
//! not hold (never made, or decided already) is ignored.
//!
//! # A connection's life
//!
//! ```text
//!            newidentity ok         decide(true)
//!   connect ---------------> claiming ----------> member --- quit / disconnect --> gone
//!      |                        |                   |
//!      | movejoin ok            | decide(false),    +-- joinroom to another server:
//!      +------------> member    | quit              |   route, gone here (no quit)
//!      |                        v                   |
//!      +-- bad id, quit ----> gone                  +-- everything else: stays a member
//! ```
//!
//! Before it is a member, a connection's only meaningful lines are its first
//! (`newidentity` or `movejoin`) and `quit`; anything else is ignored, since the
//! client has no room to act in. A member's `newidentity` or `movejoin` is ignored
//! too: the reference leaves a mid-session rename undefined, and refusing it would
//! make the Java client exit (it treats any `newidentity` refusal as fatal).
//!
//! Once gone, a connection is unknown: its later lines and its
//! [`disconnect`](ChatServer::disconnect) are ignored. That is what makes the EOF
//! after a `route` harmless: the client left for another server, taking its
//! identity with it, and must not be reported as having quit.
//!
//! # Where the reference is silent
//!
//! - **No `Close` after a `route`.** The reference has the client close its old
//!   connection itself once it has read the `route`. A server that closed first
//!   could cut the line off, and the caller sees the client's EOF anyway.
//! - **An owner who quits or disconnects** has its room deleted as by
//!   `deleteroom` (every member told, in the same order), but gets no `deleteroom`
//!   reply: it did not ask for one. The room is released with its identity, in one
//!   [`Output::Release`].
//! - **A `movejoin` is refused** (`serverchange` with `"approved":"false"`, then
//!   closed) if its identity is not valid or is already used on this server: the
//!   server cannot hold two members of one name.
//!
//! # Invariants
//!
//! Whatever the events, in any order:
//!
//! - every member is in exactly one local room, and appears once in it;
//! - every room but the MainHall has an owner, who is a connected member, and each
//!   member owns at most one room;
//! - the identities of members, and the names of outstanding claims, are unique on
//!   this server.
//!
//! Members are kept in join order, which is the order `who` lists them and the
//! order broadcasts go out in.
//!
//! # Example
//!
//! ```
//! use convene_chat::server::{ChatServer, Claim, Output};
//! use convene_chat::{ClientMessage, ServerMessage};
//!
//! let mut s1 = ChatServer::new("s1");
//! let no_remote_rooms = |_: &str| None;
//! s1.connect(7);
//! s1.handle(7, ClientMessage::NewIdentity { identity: "Adel".into() }, &no_remote_rooms);
//!
//! // The server cannot answer alone: the identity must be unique in the cluster.
//! let claim = Claim::Identity { client: 7, identity: "Adel".into() };
//! assert_eq!(s1.poll_output(), Some(Output::Claim(claim.clone())));
//! assert_eq!(s1.poll_output(), None);
//!
//! // The coordinator says yes.
//! s1.decide(claim, true);
//! let sends: Vec<_> = std::iter::from_fn(|| s1.poll_output()).collect();
//! assert_eq!(sends, [
//!     Output::Send { to: 7, message: ServerMessage::NewIdentity { approved: true } },
//!     Output::Send {
//!         to: 7,
//!         message: ServerMessage::RoomChange {
//!             identity: "Adel".into(),
//!             former: "".into(),
//!             roomid: "MainHall-s1".into(),
//!         },
//!     },
//! ]);
//! assert_eq!(s1.identities(), ["Adel"]);
//! ```
//!
//! # Cost
//!
//! Clients, identities and rooms are found through hash maps. A room's members are
//! a `Vec` in join order: leaving a room is linear in its size, which is the cost
//! of the broadcast that goes with it anyway.

use std::collections::{HashMap, VecDeque};

use crate::registry::ServerView;
use crate::{ClientMessage, ServerMessage, check_identity, check_room_id, main_hall};

/// A connection, as the caller names it: any number, unique among the
/// connections open at the same time.
///
/// The machine never invents one. A handle may be reused once its connection is
/// gone; [`ChatServer::connect`] with a handle still in use first ends the old
/// connection as a [`disconnect`](ChatServer::disconnect).
pub type ClientId = u64;

/// A question this server must put to the cluster before it can answer a client.
///
/// The caller asks the coordinator whether the name is free in the whole system
/// and hands the claim back, with the answer, to [`ChatServer::decide`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Claim {
    /// A new client asks for `identity` (its `newidentity`).
    Identity {
        /// The connection asking.
        client: ClientId,
        /// The identity asked for; it passed the syntax check and is free here.
        identity: String,
    },
    /// A member asks to create room `roomid` (its `createroom`).
    Room {
        /// The connection asking.
        client: ClientId,
        /// The room id asked for; it passed the syntax check and is free here.
        roomid: String,
    },
}

/// Where a room on another server lives: what `route` tells a client.
///
/// This server knows only its own rooms; the caller, which hears about the rest of
/// the cluster, answers "is this room elsewhere?" with one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRoom {
    /// The id of the server that holds the room.
    pub server_id: String,
    /// That server's address for clients.
    pub host: String,
    /// That server's port for clients.
    pub port: u16,
}

/// Something the caller must do. See the [module docs](self) for each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Write `message` to connection `to`.
    Send {
        /// The connection.
        to: ClientId,
        /// The line to write.
        message: ServerMessage,
    },
    /// Close the connection after writing the sends queued before this.
    Close {
        /// The connection.
        client: ClientId,
    },
    /// Ask the cluster, then call [`ChatServer::decide`] with the answer.
    Claim(Claim),
    /// Tell the cluster these names are free again. At least one is `Some`.
    Release {
        /// An identity no longer used here (its client quit or disconnected).
        identity: Option<String>,
        /// A room id no longer used here (the room was deleted).
        room: Option<String>,
    },
}

/// The state of one chat server. See the [module docs](self).
#[derive(Debug)]
pub struct ChatServer {
    server_id: String,
    /// `MainHall-<server_id>`, the room every client starts in.
    main_hall: String,
    /// Every open connection this server still serves.
    clients: HashMap<ClientId, Client>,
    /// The identity of every member, to its connection.
    names: HashMap<String, ClientId>,
    /// Every local room, the MainHall included.
    rooms: HashMap<String, Room>,
    /// The creation number of the next room (the MainHall's is 0).
    next_seq: u64,
    /// Outstanding identity claims, to the connection that made each. The
    /// connection may be gone; the entry stays until the claim is decided.
    identity_claims: HashMap<String, ClientId>,
    /// Outstanding room claims, likewise.
    room_claims: HashMap<String, ClientId>,
    /// The cluster's room list, if the caller supplies one (for `list`).
    cluster_rooms: Option<Vec<String>>,
    /// What the caller has yet to do, oldest first.
    outputs: VecDeque<Output>,
}

/// Where a connection is in its life.
#[derive(Debug)]
enum Client {
    /// Connected; its first line has not arrived.
    Fresh,
    /// Its `newidentity` is a claim the cluster has not decided.
    Claiming(String),
    /// It has an identity and is in a room.
    Member(Member),
}

/// A client with an identity, in a room.
#[derive(Debug)]
struct Member {
    identity: String,
    /// The local room it is in.
    room: String,
    /// The room it owns, if any (always the room it is in: an owner cannot leave
    /// its room but by deleting it or quitting).
    owns: Option<String>,
    /// The room id it has claimed and not yet heard about.
    claiming: Option<String>,
}

/// A local room.
#[derive(Debug)]
struct Room {
    /// `None` for the MainHall.
    owner: Option<ClientId>,
    /// In join order.
    members: Vec<ClientId>,
    /// Creation number, for listing rooms in creation order.
    seq: u64,
}

/// How a member leaves the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaving {
    /// It said `quit`: it is told, and its connection closed.
    Quit,
    /// Its connection is already gone: nothing is written to it.
    Disconnected,
}

impl ChatServer {
    /// A server named `server_id` with no clients and one room,
    /// `MainHall-<server_id>`, which has no owner.
    pub fn new(server_id: &str) -> Self {
        let hall = main_hall(server_id);
        let mut rooms = HashMap::new();
        rooms.insert(
            hall.clone(),
            Room {
                owner: None,
                members: Vec::new(),
                seq: 0,
            },
        );
        ChatServer {
            server_id: server_id.to_string(),
            main_hall: hall,
            clients: HashMap::new(),
            names: HashMap::new(),
            rooms,
            next_seq: 1,
            identity_claims: HashMap::new(),
            room_claims: HashMap::new(),
            cluster_rooms: None,
            outputs: VecDeque::new(),
        }
    }

    /// This server's id.
    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    /// This server's MainHall, `MainHall-<server id>`.
    pub fn main_hall(&self) -> &str {
        &self.main_hall
    }

    /// A new connection, with no identity yet. Its first line should be
    /// `newidentity` or `movejoin`.
    ///
    /// If `client` is still in use, that older connection is first ended as by
    /// [`disconnect`](ChatServer::disconnect): two connections cannot share a handle,
    /// and the caller only reuses one it believes closed.
    pub fn connect(&mut self, client: ClientId) {
        if self.clients.contains_key(&client) {
            self.disconnect(client);
        }
        self.clients.insert(client, Client::Fresh);
    }

    /// One line from connection `client`, parsed.
    ///
    /// `remote` says whether a room this server does not hold lives on another
    /// server, and where; it is asked only for a `joinroom` to a room that is not
    /// local. Lines from an unknown connection (never connected, or gone) are
    /// ignored.
    pub fn handle(
        &mut self,
        client: ClientId,
        message: ClientMessage,
        remote: &dyn Fn(&str) -> Option<RemoteRoom>,
    ) {
        let Some(state) = self.clients.get(&client) else {
            return;
        };
        match (state, message) {
            (Client::Fresh, ClientMessage::NewIdentity { identity }) => {
                self.new_identity(client, identity);
            }
            (
                Client::Fresh,
                ClientMessage::MoveJoin {
                    identity,
                    former,
                    roomid,
                },
            ) => self.move_join(client, identity, former, roomid),
            (Client::Fresh | Client::Claiming(_), ClientMessage::Quit) => self.close(client),
            // No identity yet: nothing else means anything.
            (Client::Fresh | Client::Claiming(_), _) => {}
            (Client::Member(member), message) => {
                let identity = member.identity.clone();
                let room = member.room.clone();
                self.member_message(client, identity, room, message, remote);
            }
        }
    }

    /// The cluster's answer to a [`Claim`] this server emitted.
    ///
    /// An identity granted to a client still waiting makes it a member of the
    /// MainHall; a room granted to a member still waiting is created and the member
    /// moved in. A refusal is told to the client (and a refused identity closes the
    /// connection). A name granted to a client that has gone meanwhile is released
    /// at once. A claim this server does not hold is ignored.
    pub fn decide(&mut self, claim: Claim, approved: bool) {
        match claim {
            Claim::Identity { client, identity } => {
                self.decide_identity(client, identity, approved);
            }
            Claim::Room { client, roomid } => self.decide_room(client, roomid, approved),
        }
    }

    /// Connection `client` ended without `quit` (EOF, a read or write error).
    ///
    /// A member is handled as if it had quit (its room deleted if it owned one, the
    /// others told, its names released), except that nothing is written to it and
    /// no [`Output::Close`] is emitted: the connection is already gone. An unknown
    /// connection, including one that was routed to another server, is ignored.
    pub fn disconnect(&mut self, client: ClientId) {
        match self.clients.get(&client) {
            None => {}
            Some(Client::Fresh | Client::Claiming(_)) => {
                self.clients.remove(&client);
            }
            Some(Client::Member(_)) => self.leave(client, Leaving::Disconnected),
        }
    }

    /// The next thing the caller must do, oldest first; `None` when there is
    /// nothing left.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The rooms of the whole cluster, for `list`, as the caller last heard them.
    ///
    /// One server knows only its own rooms, but `list` must name every room in the
    /// system, MainHalls included. The caller, which hears from the coordinator,
    /// keeps this current; until it is first called, `list` answers with
    /// [`rooms`](ChatServer::rooms).
    pub fn set_cluster_rooms(&mut self, rooms: Vec<String>) {
        self.cluster_rooms = Some(rooms);
    }

    /// The local rooms: the MainHall first, then the others in creation order.
    pub fn rooms(&self) -> Vec<String> {
        let mut rooms: Vec<(u64, &String)> =
            self.rooms.iter().map(|(id, room)| (room.seq, id)).collect();
        rooms.sort_unstable();
        rooms.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Whether `room` is a room of this server (its MainHall included).
    pub fn has_room(&self, room: &str) -> bool {
        self.rooms.contains_key(room)
    }

    /// The identity of connection `client`, if it is a member.
    pub fn identity_of(&self, client: ClientId) -> Option<&str> {
        match self.clients.get(&client) {
            Some(Client::Member(m)) => Some(&m.identity),
            _ => None,
        }
    }

    /// Whether `identity` is used here, by a member or by a claim not yet
    /// decided.
    pub fn identity_in_use(&self, identity: &str) -> bool {
        self.names.contains_key(identity) || self.identity_claims.contains_key(identity)
    }

    /// Gives up a name the cluster has given to another server (a
    /// [`Conflict`](crate::registry::Conflict) lost in a coordinator's rebuild).
    ///
    /// An identity: a member of that name is made to quit (told, as for its
    /// own `quit`, and closed); a claim for it is refused. A room: a claim for
    /// it is refused; a local room of that id is deleted as its owner's
    /// `deleteroom` would (members moved to the MainHall and told), with no
    /// reply to the owner, who did not ask. Whatever this emits as a
    /// [`Output::Release`] is ignored by the coordinator, which has given the
    /// name to its other holder. A name not used here is ignored.
    pub fn evict(&mut self, kind: crate::registry::Kind, name: &str) {
        use crate::registry::Kind;
        match kind {
            Kind::Identity => {
                if let Some(&client) = self.identity_claims.get(name) {
                    self.decide_identity(client, name.to_string(), false);
                } else if let Some(&client) = self.names.get(name) {
                    self.leave(client, Leaving::Quit);
                }
            }
            Kind::Room => {
                if let Some(&client) = self.room_claims.get(name) {
                    self.decide_room(client, name.to_string(), false);
                } else if self.rooms.contains_key(name) && name != self.main_hall {
                    self.delete_room(name, None);
                }
            }
        }
    }

    /// The identities of the members (connected clients with an identity), sorted.
    pub fn identities(&self) -> Vec<String> {
        let mut names: Vec<String> = self.names.keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// What this server holds, as a new coordinator rebuilds its registry
    /// from: the identities of its members, its rooms with their owners (the
    /// MainHall's owner is `""`), and the names it has claimed and not yet
    /// heard about. Everything is sorted, so equal states give equal views.
    pub fn view(&self) -> ServerView {
        let owner_of = |room: &Room| {
            room.owner
                .and_then(|c| match self.clients.get(&c) {
                    Some(Client::Member(m)) => Some(m.identity.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        let mut rooms: Vec<(String, String)> = self
            .rooms
            .iter()
            .map(|(id, room)| (id.clone(), owner_of(room)))
            .collect();
        rooms.sort_unstable();
        let mut pending_identities: Vec<String> = self.identity_claims.keys().cloned().collect();
        pending_identities.sort_unstable();
        let mut pending_rooms: Vec<String> = self.room_claims.keys().cloned().collect();
        pending_rooms.sort_unstable();
        ServerView {
            identities: self.identities(),
            rooms,
            pending_identities,
            pending_rooms,
        }
    }

    /// The first line of a new client: ask the cluster, unless it is refused here.
    fn new_identity(&mut self, client: ClientId, identity: String) {
        if check_identity(&identity).is_err() || self.identity_in_use(&identity) {
            self.send(client, ServerMessage::NewIdentity { approved: false });
            self.close(client);
            return;
        }
        self.identity_claims.insert(identity.clone(), client);
        self.clients
            .insert(client, Client::Claiming(identity.clone()));
        self.outputs
            .push_back(Output::Claim(Claim::Identity { client, identity }));
    }

    fn decide_identity(&mut self, client: ClientId, identity: String, approved: bool) {
        if self.identity_claims.get(&identity) != Some(&client) {
            return; // not a claim this server holds
        }
        self.identity_claims.remove(&identity);
        let waiting = matches!(self.clients.get(&client), Some(Client::Claiming(asked)) if *asked == identity);
        if !waiting {
            // The claimant is gone (its handle may even serve a new connection).
            if approved {
                self.release(Some(identity), None);
            }
            return;
        }
        if !approved {
            self.send(client, ServerMessage::NewIdentity { approved: false });
            self.close(client);
            return;
        }
        self.send(client, ServerMessage::NewIdentity { approved: true });
        let hall = self.main_hall.clone();
        self.admit(client, identity, String::new(), hall);
    }

    /// The first line of a client routed here by another server. Its identity is
    /// already its own in the cluster (it moved with the client), so no claim.
    fn move_join(&mut self, client: ClientId, identity: String, former: String, roomid: String) {
        if check_identity(&identity).is_err() || self.identity_in_use(&identity) {
            let serverid = self.server_id.clone();
            self.send(
                client,
                ServerMessage::ServerChange {
                    approved: false,
                    serverid,
                },
            );
            self.close(client);
            return;
        }
        // The room may have been deleted while the client was on its way.
        let target = if self.rooms.contains_key(&roomid) {
            roomid
        } else {
            self.main_hall.clone()
        };
        let serverid = self.server_id.clone();
        self.send(
            client,
            ServerMessage::ServerChange {
                approved: true,
                serverid,
            },
        );
        self.admit(client, identity, former, target);
    }

    /// Makes `client` a member in local room `room` and tells the room (the client
    /// included) that it arrived from `former`.
    fn admit(&mut self, client: ClientId, identity: String, former: String, room: String) {
        self.names.insert(identity.clone(), client);
        self.clients.insert(
            client,
            Client::Member(Member {
                identity: identity.clone(),
                room: room.clone(),
                owns: None,
                claiming: None,
            }),
        );
        let Some(target) = self.rooms.get_mut(&room) else {
            return; // callers pass a local room
        };
        target.members.push(client);
        let recipients = target.members.clone();
        self.broadcast(
            &recipients,
            &ServerMessage::RoomChange {
                identity,
                former,
                roomid: room,
            },
        );
    }

    fn member_message(
        &mut self,
        client: ClientId,
        identity: String,
        room: String,
        message: ClientMessage,
        remote: &dyn Fn(&str) -> Option<RemoteRoom>,
    ) {
        match message {
            ClientMessage::List => {
                let rooms = self.cluster_rooms.clone().unwrap_or_else(|| self.rooms());
                self.send(client, ServerMessage::RoomList { rooms });
            }
            ClientMessage::Who => {
                let Some(current) = self.rooms.get(&room) else {
                    return;
                };
                let identities = current
                    .members
                    .iter()
                    .filter_map(|&m| self.identity_of(m))
                    .map(str::to_string)
                    .collect();
                let owner = current
                    .owner
                    .and_then(|o| self.identity_of(o))
                    .unwrap_or("")
                    .to_string();
                self.send(
                    client,
                    ServerMessage::RoomContents {
                        roomid: room,
                        identities,
                        owner,
                    },
                );
            }
            ClientMessage::CreateRoom { roomid } => self.create_room(client, roomid),
            ClientMessage::JoinRoom { roomid } => {
                self.join_room(client, identity, room, roomid, remote);
            }
            ClientMessage::DeleteRoom { roomid } => self.delete_request(client, roomid),
            ClientMessage::Message { content } => {
                let Some(current) = self.rooms.get(&room) else {
                    return;
                };
                let others: Vec<ClientId> = current
                    .members
                    .iter()
                    .copied()
                    .filter(|&m| m != client)
                    .collect();
                self.broadcast(&others, &ServerMessage::Message { identity, content });
            }
            ClientMessage::Quit => self.leave(client, Leaving::Quit),
            // The reference leaves a rename undefined, and a refusal would make the
            // Java client exit; a member's movejoin makes no sense. Ignored.
            ClientMessage::NewIdentity { .. } | ClientMessage::MoveJoin { .. } => {}
        }
    }

    /// `createroom`: refused here if it cannot be granted, else claimed.
    fn create_room(&mut self, client: ClientId, roomid: String) {
        let taken = self.rooms.contains_key(&roomid) || self.room_claims.contains_key(&roomid);
        // A pending claim counts as an owned room: a member may own only one.
        let busy = match self.clients.get(&client) {
            Some(Client::Member(m)) => m.owns.is_some() || m.claiming.is_some(),
            _ => return,
        };
        if check_room_id(&roomid).is_err() || taken || busy {
            self.send(
                client,
                ServerMessage::CreateRoom {
                    roomid,
                    approved: false,
                },
            );
            return;
        }
        if let Some(Client::Member(m)) = self.clients.get_mut(&client) {
            m.claiming = Some(roomid.clone());
        }
        self.room_claims.insert(roomid.clone(), client);
        self.outputs
            .push_back(Output::Claim(Claim::Room { client, roomid }));
    }

    fn decide_room(&mut self, client: ClientId, roomid: String, approved: bool) {
        if self.room_claims.get(&roomid) != Some(&client) {
            return; // not a claim this server holds
        }
        self.room_claims.remove(&roomid);
        match self.clients.get_mut(&client) {
            Some(Client::Member(m)) if m.claiming.as_ref() == Some(&roomid) => {
                m.claiming = None;
                if approved {
                    m.owns = Some(roomid.clone());
                }
            }
            _ => {
                // The claimant quit, disconnected or moved to another server.
                if approved {
                    self.release(None, Some(roomid));
                }
                return;
            }
        }
        if !approved {
            self.send(
                client,
                ServerMessage::CreateRoom {
                    roomid,
                    approved: false,
                },
            );
            return;
        }
        self.rooms.insert(
            roomid.clone(),
            Room {
                owner: Some(client),
                members: Vec::new(),
                seq: self.next_seq,
            },
        );
        self.next_seq += 1;
        self.send(
            client,
            ServerMessage::CreateRoom {
                roomid: roomid.clone(),
                approved: true,
            },
        );
        self.move_member(client, &roomid);
    }

    /// `joinroom`: a local move, a route to another server, or "room unchanged".
    fn join_room(
        &mut self,
        client: ClientId,
        identity: String,
        current: String,
        roomid: String,
        remote: &dyn Fn(&str) -> Option<RemoteRoom>,
    ) {
        let owns_current = self.rooms.get(&current).and_then(|r| r.owner) == Some(client);
        if !owns_current && roomid != current {
            if self.rooms.contains_key(&roomid) {
                self.move_member(client, &roomid);
                return;
            }
            if let Some(there) = remote(&roomid) {
                self.route(client, roomid, there);
                return;
            }
        }
        // Failure: the client prints "room unchanged".
        self.send(
            client,
            ServerMessage::RoomChange {
                identity,
                former: current.clone(),
                roomid: current,
            },
        );
    }

    /// Sends the client to another server and forgets it here. Its identity is not
    /// released: it moves with the client, which is about to `movejoin` there.
    fn route(&mut self, client: ClientId, roomid: String, there: RemoteRoom) {
        self.send(
            client,
            ServerMessage::Route {
                roomid: roomid.clone(),
                host: there.host,
                port: there.port,
            },
        );
        let Some(member) = self.forget(client) else {
            return;
        };
        // A room claim still outstanding stays reserved until decided, then is
        // released (the claimant is gone).
        let recipients = self.members_of(&member.room);
        self.broadcast(
            &recipients,
            &ServerMessage::RoomChange {
                identity: member.identity,
                former: member.room,
                roomid,
            },
        );
    }

    /// `deleteroom`: only the owner, only a local room other than the MainHall.
    fn delete_request(&mut self, client: ClientId, roomid: String) {
        let owner = self.rooms.get(&roomid).and_then(|r| r.owner);
        if roomid == self.main_hall || owner != Some(client) {
            self.send(
                client,
                ServerMessage::DeleteRoom {
                    roomid,
                    approved: false,
                },
            );
            return;
        }
        self.delete_room(&roomid, None);
        self.send(
            client,
            ServerMessage::DeleteRoom {
                roomid: roomid.clone(),
                approved: true,
            },
        );
        self.release(None, Some(roomid));
    }

    /// Deletes local room `roomid`, moving every member (owner included, in join
    /// order) to the MainHall. Each move is told to the members of the deleted room
    /// and of the MainHall as they were before the deletion, except `skip` (a
    /// connection already gone).
    fn delete_room(&mut self, roomid: &str, skip: Option<ClientId>) {
        if roomid == self.main_hall {
            return;
        }
        let Some(deleted) = self.rooms.remove(roomid) else {
            return;
        };
        if let Some(Client::Member(owner)) = deleted.owner.and_then(|o| self.clients.get_mut(&o)) {
            owner.owns = None;
        }
        let hall = self.main_hall.clone();
        let recipients: Vec<ClientId> = deleted
            .members
            .iter()
            .chain(&self.members_of(&hall))
            .copied()
            .filter(|&m| Some(m) != skip)
            .collect();
        for &moved in &deleted.members {
            let Some(Client::Member(member)) = self.clients.get_mut(&moved) else {
                continue;
            };
            member.room = hall.clone();
            let identity = member.identity.clone();
            self.broadcast(
                &recipients,
                &ServerMessage::RoomChange {
                    identity,
                    former: roomid.to_string(),
                    roomid: hall.clone(),
                },
            );
        }
        if let Some(main) = self.rooms.get_mut(&hall) {
            main.members.extend(deleted.members);
        }
    }

    /// Moves member `client` from its room to local room `to`, telling the members
    /// of both (the client once).
    fn move_member(&mut self, client: ClientId, to: &str) {
        let Some(Client::Member(member)) = self.clients.get_mut(&client) else {
            return;
        };
        let former = std::mem::replace(&mut member.room, to.to_string());
        let identity = member.identity.clone();
        let mut recipients = self.members_of(&former);
        recipients.extend(self.members_of(to));
        if let Some(room) = self.rooms.get_mut(&former) {
            room.members.retain(|&m| m != client);
        }
        if let Some(room) = self.rooms.get_mut(to) {
            room.members.push(client);
        }
        self.broadcast(
            &recipients,
            &ServerMessage::RoomChange {
                identity,
                former,
                roomid: to.to_string(),
            },
        );
    }

    /// A member quits or disconnects: its room deleted if it owns one, its room told
    /// (itself too if it quit), its names released.
    fn leave(&mut self, client: ClientId, how: Leaving) {
        let Some(Client::Member(member)) = self.clients.get(&client) else {
            return;
        };
        let owned = member.owns.clone();
        let skip = (how == Leaving::Disconnected).then_some(client);
        if let Some(room) = &owned {
            // As `deleteroom`, but unasked: no `deleteroom` reply.
            self.delete_room(room, skip);
        }
        // Told before it is forgotten, so a quitting client hears its own leaving.
        let room = match self.clients.get(&client) {
            Some(Client::Member(m)) => m.room.clone(),
            _ => return,
        };
        let recipients: Vec<ClientId> = self
            .members_of(&room)
            .into_iter()
            .filter(|&m| Some(m) != skip)
            .collect();
        let Some(member) = self.forget(client) else {
            return;
        };
        self.broadcast(
            &recipients,
            &ServerMessage::RoomChange {
                identity: member.identity.clone(),
                former: room,
                roomid: String::new(),
            },
        );
        if how == Leaving::Quit {
            self.outputs.push_back(Output::Close { client });
        }
        self.release(Some(member.identity), owned);
    }

    /// Removes a member from the server's state (its connection, its identity, its
    /// place in its room) and returns it. Releases nothing.
    fn forget(&mut self, client: ClientId) -> Option<Member> {
        let Some(Client::Member(member)) = self.clients.remove(&client) else {
            return None;
        };
        self.names.remove(&member.identity);
        if let Some(room) = self.rooms.get_mut(&member.room) {
            room.members.retain(|&m| m != client);
        }
        Some(member)
    }

    /// Ends a connection that is not a member (refused, or quit before it became
    /// one): forget it and close it.
    fn close(&mut self, client: ClientId) {
        self.clients.remove(&client);
        self.outputs.push_back(Output::Close { client });
    }

    /// The members of local room `room` in join order (none if it does not exist).
    fn members_of(&self, room: &str) -> Vec<ClientId> {
        self.rooms
            .get(room)
            .map(|r| r.members.clone())
            .unwrap_or_default()
    }

    fn send(&mut self, to: ClientId, message: ServerMessage) {
        self.outputs.push_back(Output::Send { to, message });
    }

    fn broadcast(&mut self, recipients: &[ClientId], message: &ServerMessage) {
        for &to in recipients {
            self.send(to, message.clone());
        }
    }

    fn release(&mut self, identity: Option<String>, room: Option<String>) {
        if identity.is_some() || room.is_some() {
            self.outputs.push_back(Output::Release { identity, room });
        }
    }
}

#[cfg(test)]
mod tests;
