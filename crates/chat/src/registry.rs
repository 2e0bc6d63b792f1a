//! [`Registry`]: the coordinator's record of every identity and room in the
//! cluster, and the one place where claims are decided.
//!
//! An identity and a room id must be unique in the whole system (reference
//! §2.3), but each server sees only its own clients. So a server turns every new
//! name into a [`Claim`](crate::server::Claim) and asks the coordinator, which
//! answers from this registry. Because every claim goes through the one
//! coordinator, the order in which claims *arrive there* is the cluster's order:
//! when two clients race for `Adel` on two servers, the first claim to arrive is
//! approved and the second refused, with no further agreement needed.
//!
//! Like [`ChatServer`](crate::server::ChatServer), this is plain state: no I/O, no
//! clock. The caller (the coordinator's chat service) feeds it what the servers
//! say and what membership reports, and sends the answers back.
//!
//! # What the caller feeds it
//!
//! | event                                     | call                                   |
//! |-------------------------------------------|----------------------------------------|
//! | a server's [`Output::Claim`]              | [`claim`](Registry::claim), answer it  |
//! | a server's [`Output::Release`]            | [`release`](Registry::release)         |
//! | a server accepted a `movejoin`            | [`moved`](Registry::moved)             |
//! | membership: a server is up                | [`add_server`](Registry::add_server)   |
//! | membership: a server is down or restarted | [`server_down`](Registry::server_down) |
//! | membership: a server is unreachable       | [`server_away`](Registry::server_away) |
//! | a copy of the approved names holds a name | [`reserve`](Registry::reserve)         |
//! | this node became coordinator              | [`rebuild`](Registry::rebuild)         |
//!
//! [`Output::Claim`]: crate::server::Output::Claim
//! [`Output::Release`]: crate::server::Output::Release
//!
//! One server's messages must be applied in the order that server sent them.
//! A retry may repeat the latest one (a claim whose answer was lost), but must
//! not overtake a later message: a claim retried after the same server's release
//! of that name would take the name back for a client that is gone.
//!
//! # Who holds a name
//!
//! Every name is held by one **live** server: one added by
//! [`add_server`](Registry::add_server) (or by a [`rebuild`](Registry::rebuild))
//! and not since reported down. That is what makes
//! [`server_down`](Registry::server_down) complete: everything a dead server
//! holds is released at once, and a late claim from it is refused instead of
//! taking a name that nothing would ever release again. A server that restarts
//! has lost its clients even if the failure detector never saw it down (it came
//! back within `suspect_after`), so the caller reports a restart, such as the
//! server's `IAmUp`, as `server_down` then `add_server`.
//!
//! Each live server holds its MainHall, `MainHall-<server>`. Rooms and MainHalls
//! share one namespace, which is why a MainHall id is never granted as a room,
//! even for a server not live yet: it would collide with that server's MainHall
//! the moment it came up. Identities and room ids are separate namespaces: an
//! identity `jokes` and a room `jokes` can coexist, as in the reference.
//!
//! The registry does not re-check the syntax of names (each server does, and the
//! implementations in the wild disagree by a character); it only keeps them
//! unique.
//!
//! # Answers that go missing
//!
//! - **A lost answer.** The server's transport re-sends the claim. A claim by the
//!   name's holder is approved again, so the retry gets the answer the first
//!   attempt got.
//! - **A server that gives up.** A server must decide every claim, with `false`
//!   if the coordinator cannot be reached (see the [server's
//!   docs](crate::server#claims-uniqueness-is-the-clusters)). But the coordinator
//!   may have approved the claim and only the answer was lost, so a server that
//!   gives up on a claim must stop retrying it and then
//!   [`release`](Registry::release) the name. If it was never granted, the
//!   release is ignored: only the holder can release.
//! - **A lost coordinator.** The new coordinator starts empty and
//!   [`rebuild`](Registry::rebuild)s from the [`ServerView`] of every live
//!   server. A view lists the claims the server is still waiting on, and those
//!   count as held: the old coordinator may have approved one just before it
//!   died, and granting the name to someone else would give it out twice. The
//!   server then re-sends each waiting claim to the new coordinator, which
//!   approves it, since the rebuild already credited the name to that server
//!   and a claim by the holder is approved. (The caller should ignore answers
//!   from a coordinator it no longer follows: the re-sent claim gets the
//!   answer that counts.)
//! - **A late view.** A live server whose view missed the rebuild is not live
//!   here, and its claims are refused. Ask every live server for its view again
//!   and rebuild: current views are complete, since a name in flight is still
//!   pending in its server's view.
//!
//! # Conflicts
//!
//! Two views can hold the same name only if the old coordinator died between
//! deciding a claim and telling the server, or after a partition healed (each
//! half had its own coordinator). The rebuild keeps exactly one holder, by a
//! rule that depends only on the views, not on the order they arrived in:
//!
//! 1. a name the server holds beats a name it is still claiming: the holder's
//!    client was told yes and is using it, while the claimant was told nothing
//!    yet, so refusing it costs only a refusal;
//! 2. between equals, the server whose id sorts first wins.
//!
//! Every other claimant is returned as a [`Conflict`]. The caller tells the
//! loser's server to drop that client or room: close the client (or decide its
//! claim `false`), or delete the room. Whatever that server then releases is
//! ignored here, since it is not the holder.
//!
//! # Example
//!
//! ```
//! use convene_chat::registry::{Kind, Registry, ServerView};
//!
//! let mut registry = Registry::new();
//! registry.add_server("s1");
//! registry.add_server("s2");
//!
//! // Two clients race for "Adel": the claim that arrives first wins.
//! assert!(registry.claim("s2", Kind::Identity, "Adel"));
//! assert!(!registry.claim("s1", Kind::Identity, "Adel"));
//! assert!(registry.claim("s2", Kind::Identity, "Adel")); // a retry: same answer
//! assert!(registry.claim("s1", Kind::Room, "jokes"));
//! assert_eq!(registry.rooms(), ["MainHall-s1", "MainHall-s2", "jokes"]);
//!
//! // s2 dies: its identity and its MainHall go with it.
//! registry.server_down("s2");
//! assert_eq!(registry.holder(Kind::Identity, "Adel"), None);
//! assert_eq!(registry.rooms(), ["MainHall-s1", "jokes"]);
//!
//! // A new coordinator rebuilds from the views; s1 was still waiting on "Maria".
//! let view = ServerView {
//!     rooms: vec![("MainHall-s1".into(), "".into()), ("jokes".into(), "Bob".into())],
//!     identities: vec!["Bob".into()],
//!     pending_identities: vec!["Maria".into()],
//!     pending_rooms: vec![],
//! };
//! let (rebuilt, conflicts) = Registry::rebuild(&[("s1".into(), view)]);
//! assert!(conflicts.is_empty());
//! assert_eq!(rebuilt.identities_of("s1"), ["Bob", "Maria"]);
//! ```
//!
//! # Cost
//!
//! Names are kept in ordered maps, so a claim, release or move is logarithmic in
//! the number of names, and [`rooms`](Registry::rooms) comes out sorted for free.
//! Each server's names are also indexed under it, so
//! [`server_down`](Registry::server_down) touches only what that server held. A
//! rebuild sorts every name of every view once.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{MAIN_HALL_PREFIX, is_main_hall, main_hall};

/// A chat server's id, e.g. `"s1"`: the first column of the cluster file.
pub type ServerId = String;

/// Which namespace a name lives in.
///
/// Identities and room ids are unique each in their own namespace: a room may
/// share its id with an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A client's identity.
    Identity,
    /// A room id (MainHalls included).
    Room,
}

/// What one server holds right now, as it reports it to a new coordinator (its
/// `view`, in the reference's Fast Bully terms).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ServerView {
    /// The identities of its connected clients.
    pub identities: Vec<String>,
    /// Its rooms, each as `(room id, owner identity)`; the owner of its MainHall
    /// is `""`. The registry needs only the ids: a room's owner is always a
    /// client of the same server.
    pub rooms: Vec<(String, String)>,
    /// The identities it has claimed and not yet had decided.
    pub pending_identities: Vec<String>,
    /// The room ids it has claimed and not yet had decided.
    pub pending_rooms: Vec<String>,
}

/// A name two or more views held, and which server keeps it.
///
/// Returned by [`Registry::rebuild`]: the caller tells `dropped` to drop its
/// client or room of that name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Conflict {
    /// The name's namespace.
    pub kind: Kind,
    /// The name.
    pub name: String,
    /// The server that keeps it. For a room id that is another server's MainHall,
    /// that server, whether live or not: the id is reserved for it.
    pub kept: ServerId,
    /// A server that also held or claimed it, and must drop it.
    pub dropped: ServerId,
}

/// The coordinator's record of every identity and room in the cluster and which
/// server holds it. See the [module docs](self).
///
/// Invariants, whatever the calls: every name has at most one holder; every
/// holder is a live or an [away](Registry::server_away) server; every live
/// server holds its MainHall; and no other server holds a MainHall id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registry {
    /// Every identity in the cluster, to the server that holds it.
    identities: BTreeMap<String, ServerId>,
    /// Every room in the cluster, MainHalls included, to the server that holds it.
    rooms: BTreeMap<String, ServerId>,
    /// The live servers, each with the names it holds: the reverse of the two
    /// maps above, so a dead server's names are found without a scan.
    /// Away servers are here too.
    servers: BTreeMap<ServerId, Held>,
    /// Servers that hold names but cannot be reached (down, or on the other
    /// side of a partition): their names stay theirs, they claim nothing.
    away: BTreeSet<ServerId>,
}

/// The names one server holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Held {
    identities: BTreeSet<String>,
    rooms: BTreeSet<String>,
}

impl Held {
    fn names(&mut self, kind: Kind) -> &mut BTreeSet<String> {
        match kind {
            Kind::Identity => &mut self.identities,
            Kind::Room => &mut self.rooms,
        }
    }
}

/// One name a view holds or claims, as a rebuild ranks it: the smallest entry of
/// a name wins it (fields compare in order).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate<'a> {
    kind: Kind,
    name: &'a str,
    /// A held name (`false`) beats a claimed one (`true`).
    pending: bool,
    /// Between equals, the server whose id sorts first.
    server: &'a str,
}

impl Registry {
    /// An empty registry: no live server, no name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Server `server` is up: it becomes live, holding its MainHall
    /// (`MainHall-<server>`).
    ///
    /// Call it when membership first reports the server (and after a restart,
    /// following [`server_down`](Registry::server_down)). Adding a live server
    /// again changes nothing.
    pub fn add_server(&mut self, server: &str) {
        if self.away.remove(server) {
            // Back, with what it held while away.
            self.take_main_hall(server);
            return;
        }
        if self.servers.contains_key(server) {
            return;
        }
        self.servers.insert(server.to_string(), Held::default());
        self.take(server, Kind::Room, &main_hall(server));
    }

    /// Server `server` asks for `name`; `true` if it is approved, and then
    /// `server` holds it.
    ///
    /// Approved if nobody holds the name, or `server` already does: the claim
    /// may be a retry of one whose answer was lost, and must get the same
    /// answer. Refused if another server holds it, if `server` is not live (a
    /// late message from a server reported down: nothing would ever release the
    /// name), and for a room id that is a MainHall (`MainHall-…`), even this
    /// server's own: MainHalls are not created by clients.
    pub fn claim(&mut self, server: &str, kind: Kind, name: &str) -> bool {
        if !self.is_live(server) || (kind == Kind::Room && is_main_hall(name)) {
            return false;
        }
        match self.holder(kind, name) {
            Some(holder) => holder == server,
            None => {
                self.take(server, kind, name);
                true
            }
        }
    }

    /// Server `server` gives `name` back: its client quit, its room was deleted,
    /// or it gave up on a claim.
    ///
    /// Only the holder can release a name; a release by any other server is
    /// ignored. That makes a release safe to send whenever in doubt: from a server
    /// that gave up on a claim that may or may not have been granted, or from the
    /// loser of a [`Conflict`] dropping a client whose identity is someone
    /// else's. A MainHall is never released this way: it goes only with its
    /// server ([`server_down`](Registry::server_down)).
    pub fn release(&mut self, server: &str, kind: Kind, name: &str) {
        if kind == Kind::Room && is_main_hall(name) {
            return;
        }
        if self.holder(kind, name) == Some(server) {
            self.drop_name(kind, name);
        }
    }

    /// Identity `identity` moved with its client from server `from` to server
    /// `to` (a `route`, then a `movejoin` that `to` accepted); `true` if `to`
    /// now holds it.
    ///
    /// `to` reports the move once it has accepted the `movejoin`, since only then
    /// is the client there. The name stays taken throughout: it passes from
    /// `from` to `to` without ever being free. It is also given to `to` if
    /// nobody holds it (`from` died while its client was on the way, and its
    /// names were released): the client is connected to `to` under that
    /// identity, so the name must not be granted to anyone else. A repeated move
    /// is `true` again.
    ///
    /// `false`, with nothing changed, if another server holds the identity (it
    /// was released, by `from`'s death, and claimed again before the move was
    /// reported) or `to` is not live. Then the caller tells `to` to drop the
    /// client: its identity is not its own.
    pub fn moved(&mut self, identity: &str, from: &str, to: &str) -> bool {
        if !self.is_live(to) {
            return false;
        }
        match self.holder(Kind::Identity, identity) {
            Some(holder) if holder == to => true,
            Some(holder) if holder != from => false,
            _ => {
                self.drop_name(Kind::Identity, identity);
                self.take(to, Kind::Identity, identity);
                true
            }
        }
    }

    /// Server `server` is dead: every identity and room it held is released,
    /// its MainHall included, and it is no longer live.
    ///
    /// Its clients were connected to it and are gone with it, so their names
    /// are free for anyone. Reporting a server down again changes nothing.
    pub fn server_down(&mut self, server: &str) {
        self.away.remove(server);
        let Some(held) = self.servers.remove(server) else {
            return;
        };
        for name in &held.identities {
            self.identities.remove(name);
        }
        for name in &held.rooms {
            self.rooms.remove(name);
        }
    }

    /// The registry a new coordinator starts with, rebuilt from the views of
    /// the live servers, and the conflicts it had to resolve.
    ///
    /// Every server with a view becomes live, holding its MainHall. Every name
    /// in a view is held by that server, the names it is still claiming
    /// included (see the [module docs](self#answers-that-go-missing)), so no
    /// live name is lost and none can be granted twice. Where several servers
    /// hold or claim one name, the [rule](self#conflicts) keeps one and each
    /// other one is a [`Conflict`]; so is a room id in a view that is another
    /// server's MainHall. The result does not depend on the order of `views`.
    /// Two views of one server are merged.
    ///
    /// Conflicts come sorted by kind, name and servers.
    pub fn rebuild(views: &[(ServerId, ServerView)]) -> (Registry, Vec<Conflict>) {
        let mut registry = Registry::new();
        let mut conflicts = Vec::new();
        // MainHalls first: each is its server's, whatever the views say.
        for (server, _) in views {
            registry.add_server(server);
        }
        let mut candidates = Vec::new();
        for (server, view) in views {
            let held = (view.identities.iter().map(|name| (Kind::Identity, name)))
                .chain(view.rooms.iter().map(|(name, _owner)| (Kind::Room, name)))
                .map(|(kind, name)| (kind, name, false));
            let pending = (view.pending_identities.iter())
                .map(|name| (Kind::Identity, name))
                .chain(view.pending_rooms.iter().map(|name| (Kind::Room, name)))
                .map(|(kind, name)| (kind, name, true));
            candidates.extend(held.chain(pending).map(|(kind, name, pending)| Candidate {
                kind,
                name: name.as_str(),
                pending,
                server: server.as_str(),
            }));
        }
        candidates.sort_unstable();
        for candidate in candidates {
            let Candidate {
                kind, name, server, ..
            } = candidate;
            let reserved_for = name.strip_prefix(MAIN_HALL_PREFIX);
            if let (Kind::Room, Some(owner)) = (kind, reserved_for) {
                // Its own MainHall is registered already; another's, never.
                if owner != server {
                    conflicts.push(Conflict {
                        kind,
                        name: name.to_string(),
                        kept: owner.to_string(),
                        dropped: server.to_string(),
                    });
                }
                continue;
            }
            match registry.holder(kind, name) {
                None => registry.take(server, kind, name),
                // Listed twice by one server (held and pending, or in two views).
                Some(kept) if kept == server => {}
                Some(kept) => conflicts.push(Conflict {
                    kind,
                    name: name.to_string(),
                    kept: kept.to_string(),
                    dropped: server.to_string(),
                }),
            }
        }
        // One loser listing a name twice loses it once.
        conflicts.sort_unstable();
        conflicts.dedup();
        (registry, conflicts)
    }

    /// Server `server` cannot be reached: it may be dead, or alive with its
    /// clients on the other side of a partition. Unlike
    /// [`server_down`](Registry::server_down) its names stay its own (they
    /// were approved, and its clients may still be using them), but it
    /// claims nothing until [`add_server`](Registry::add_server) brings it
    /// back. Its names go when it is reported down, e.g. after a restart.
    pub fn server_away(&mut self, server: &str) {
        if self.servers.contains_key(server) {
            self.away.insert(server.to_string());
        }
    }

    /// Records that `server` holds `name`, as a copy of the approved names
    /// says, if nobody holds it here; `true` if `server` holds it now. A
    /// server not known here becomes [away](Registry::server_away): this is
    /// how a new coordinator keeps the names of servers it cannot reach. A
    /// room id that is a MainHall is only ever its own server's.
    pub fn reserve(&mut self, server: &str, kind: Kind, name: &str) -> bool {
        if kind == Kind::Room && is_main_hall(name) && main_hall(server) != name {
            return false;
        }
        if !self.servers.contains_key(server) {
            self.servers.insert(server.to_string(), Held::default());
            self.away.insert(server.to_string());
        }
        match self.holder(kind, name) {
            Some(holder) => holder == server,
            None => {
                self.take(server, kind, name);
                true
            }
        }
    }

    /// Whether `server` is live here (added, and not reported down or away
    /// since).
    pub fn is_live(&self, server: &str) -> bool {
        self.servers.contains_key(server) && !self.away.contains(server)
    }

    /// Whether `server` is [away](Registry::server_away): unreachable, its
    /// names kept.
    pub fn is_away(&self, server: &str) -> bool {
        self.away.contains(server)
    }

    /// Every name held, with its holder: identities first, each kind in
    /// name order.
    pub fn held(&self) -> impl Iterator<Item = (Kind, &str, &str)> {
        let identities = self
            .identities
            .iter()
            .map(|(n, s)| (Kind::Identity, n.as_str(), s.as_str()));
        let rooms = self
            .rooms
            .iter()
            .map(|(n, s)| (Kind::Room, n.as_str(), s.as_str()));
        identities.chain(rooms)
    }

    /// The server that holds `name`, if any.
    pub fn holder(&self, kind: Kind, name: &str) -> Option<&str> {
        self.names(kind).get(name).map(String::as_str)
    }

    /// Every room in the cluster, MainHalls included, sorted: what `list`
    /// answers (see
    /// [`ChatServer::set_cluster_rooms`](crate::server::ChatServer::set_cluster_rooms)).
    pub fn rooms(&self) -> Vec<String> {
        self.rooms.keys().cloned().collect()
    }

    /// The identities `server` holds, sorted; none if it is not live.
    pub fn identities_of(&self, server: &str) -> Vec<String> {
        self.servers
            .get(server)
            .map(|held| held.identities.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn names(&self, kind: Kind) -> &BTreeMap<String, ServerId> {
        match kind {
            Kind::Identity => &self.identities,
            Kind::Room => &self.rooms,
        }
    }

    fn names_mut(&mut self, kind: Kind) -> &mut BTreeMap<String, ServerId> {
        match kind {
            Kind::Identity => &mut self.identities,
            Kind::Room => &mut self.rooms,
        }
    }

    /// Gives a server back its MainHall, unless something else holds it.
    fn take_main_hall(&mut self, server: &str) {
        let hall = main_hall(server);
        if self.holder(Kind::Room, &hall).is_none() {
            self.take(server, Kind::Room, &hall);
        }
    }

    /// Records that live server `server` holds the free name `name`.
    fn take(&mut self, server: &str, kind: Kind, name: &str) {
        debug_assert!(self.holder(kind, name).is_none());
        self.names_mut(kind)
            .insert(name.to_string(), server.to_string());
        if let Some(held) = self.servers.get_mut(server) {
            held.names(kind).insert(name.to_string());
        }
    }

    /// Frees `name`, whoever holds it.
    fn drop_name(&mut self, kind: Kind, name: &str) {
        if let Some(server) = self.names_mut(kind).remove(name)
            && let Some(held) = self.servers.get_mut(&server)
        {
            held.names(kind).remove(name);
        }
    }
}

#[cfg(test)]
mod tests;
