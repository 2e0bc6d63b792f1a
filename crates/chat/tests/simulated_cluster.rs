//! Three chat servers and a coordinator, simulated message by message: the
//! sans-IO `ChatServer`s and `Registry` wired as the service wires them,
//! with the network's failures injected between them.
//!
//! Each server's messages to the coordinator go through its own ordered link
//! (as `service::link` sends them): the head is delivered, or its answer is
//! lost (the head stays and is retried), or it is delivered twice. The
//! coordinator can crash at any point; its successor rebuilds from every
//! server's view, and the links retry their heads against it. Servers can
//! crash and restart empty. Clients connect with identities from a small
//! pool (so they collide), create rooms from a small pool, quit and vanish.
//!
//! After every step: no identity is a member on two servers, no room id
//! exists on two servers, and every member's identity and every room is held
//! by its own server in the coordinator's registry. At the end the network
//! heals and every link drains.

use std::collections::{BTreeMap, VecDeque};

use convene_chat::ClientMessage;
use convene_chat::registry::{Kind, Registry};
use convene_chat::server::{ChatServer, Claim, ClientId, Output};
use proptest::prelude::*;

const SERVERS: [&str; 3] = ["s1", "s2", "s3"];
const NAMES: [&str; 4] = ["Adel", "Bob", "Cara", "Dora"];
const ROOMS: [&str; 2] = ["jokes", "news"];

#[derive(Clone, Debug)]
enum Op {
    Connect {
        server: usize,
        name: usize,
    },
    CreateRoom {
        server: usize,
        client: usize,
        room: usize,
    },
    Quit {
        server: usize,
        client: usize,
    },
    Vanish {
        server: usize,
        client: usize,
    },
    Deliver {
        server: usize,
    },
    LoseAnswer {
        server: usize,
    },
    Duplicate {
        server: usize,
    },
    CoordinatorCrash,
    /// The coordinator decides the head, then crashes; its answer still
    /// arrives (late), after the successor has rebuilt.
    AnswerOutlivesCoordinator {
        server: usize,
    },
    ServerCrash {
        server: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let s = 0..SERVERS.len();
    prop_oneof![
        3 => (s.clone(), 0..NAMES.len()).prop_map(|(server, name)| Op::Connect { server, name }),
        2 => (s.clone(), 0..8usize, 0..ROOMS.len())
            .prop_map(|(server, client, room)| Op::CreateRoom { server, client, room }),
        1 => (s.clone(), 0..8usize).prop_map(|(server, client)| Op::Quit { server, client }),
        1 => (s.clone(), 0..8usize).prop_map(|(server, client)| Op::Vanish { server, client }),
        6 => s.clone().prop_map(|server| Op::Deliver { server }),
        1 => s.clone().prop_map(|server| Op::LoseAnswer { server }),
        1 => s.clone().prop_map(|server| Op::Duplicate { server }),
        1 => Just(Op::CoordinatorCrash),
        1 => s.clone().prop_map(|server| Op::AnswerOutlivesCoordinator { server }),
        1 => s.prop_map(|server| Op::ServerCrash { server }),
    ]
}

/// What a server's link carries to the coordinator.
#[derive(Clone, Debug)]
enum LinkOp {
    Claim(Claim),
    Release(Kind, String),
}

struct Node {
    server: ChatServer,
    link: VecDeque<LinkOp>,
    /// Open connections, in the order they connected.
    clients: Vec<ClientId>,
}

struct Sim {
    nodes: Vec<Node>,
    registry: Registry,
    next_client: ClientId,
}

impl Sim {
    fn new() -> Sim {
        let mut registry = Registry::new();
        for id in SERVERS {
            registry.add_server(id);
        }
        Sim {
            nodes: SERVERS
                .iter()
                .map(|id| Node {
                    server: ChatServer::new(id),
                    link: VecDeque::new(),
                    clients: Vec::new(),
                })
                .collect(),
            registry,
            next_client: 1,
        }
    }

    /// Moves a server's outputs to its link; closes what it closes.
    fn absorb(&mut self, s: usize) {
        let node = &mut self.nodes[s];
        while let Some(out) = node.server.poll_output() {
            match out {
                Output::Claim(claim) => node.link.push_back(LinkOp::Claim(claim)),
                Output::Release { identity, room } => {
                    if let Some(name) = identity {
                        node.link.push_back(LinkOp::Release(Kind::Identity, name));
                    }
                    if let Some(name) = room {
                        node.link.push_back(LinkOp::Release(Kind::Room, name));
                    }
                }
                Output::Close { client } => node.clients.retain(|&c| c != client),
                Output::Send { .. } => {}
            }
        }
    }

    /// The coordinator applies server `s`'s head message; `answer` says
    /// whether the answer gets back (else the head stays, to be retried).
    fn deliver(&mut self, s: usize, answer: bool) {
        self.deliver_with(s, answer, false);
    }

    /// As [`deliver`](Sim::deliver); with `crash_first`, the coordinator
    /// crashes and its successor rebuilds before the answer arrives.
    fn deliver_with(&mut self, s: usize, answer: bool, crash_first: bool) {
        let id = SERVERS[s];
        let Some(head) = self.nodes[s].link.front().cloned() else {
            return;
        };
        let approved = match &head {
            LinkOp::Claim(Claim::Identity { identity, .. }) => {
                Some(self.registry.claim(id, Kind::Identity, identity))
            }
            LinkOp::Claim(Claim::Room { roomid, .. }) => {
                Some(self.registry.claim(id, Kind::Room, roomid))
            }
            LinkOp::Release(kind, name) => {
                self.registry.release(id, *kind, name);
                None
            }
        };
        if crash_first {
            self.coordinator_crash();
        }
        if !answer {
            return;
        }
        self.nodes[s].link.pop_front();
        if let (LinkOp::Claim(claim), Some(approved)) = (head, approved) {
            self.nodes[s].server.decide(claim, approved);
            self.absorb(s);
        }
    }

    fn client(&self, s: usize, index: usize) -> Option<ClientId> {
        let clients = &self.nodes[s].clients;
        (!clients.is_empty()).then(|| clients[index % clients.len()])
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Connect { server, name } => {
                let c = self.next_client;
                self.next_client += 1;
                let node = &mut self.nodes[server];
                node.clients.push(c);
                node.server.connect(c);
                let hello = ClientMessage::NewIdentity {
                    identity: NAMES[name].into(),
                };
                node.server.handle(c, hello, &|_| None);
                self.absorb(server);
            }
            Op::CreateRoom {
                server,
                client,
                room,
            } => {
                if let Some(c) = self.client(server, client) {
                    let create = ClientMessage::CreateRoom {
                        roomid: ROOMS[room].into(),
                    };
                    self.nodes[server].server.handle(c, create, &|_| None);
                    self.absorb(server);
                }
            }
            Op::Quit { server, client } => {
                if let Some(c) = self.client(server, client) {
                    self.nodes[server]
                        .server
                        .handle(c, ClientMessage::Quit, &|_| None);
                    self.absorb(server);
                }
            }
            Op::Vanish { server, client } => {
                if let Some(c) = self.client(server, client) {
                    self.nodes[server].clients.retain(|&x| x != c);
                    self.nodes[server].server.disconnect(c);
                    self.absorb(server);
                }
            }
            Op::Deliver { server } => self.deliver(server, true),
            Op::LoseAnswer { server } => self.deliver(server, false),
            Op::Duplicate { server } => {
                self.deliver(server, false);
                self.deliver(server, true);
            }
            Op::CoordinatorCrash => self.coordinator_crash(),
            Op::AnswerOutlivesCoordinator { server } => self.deliver_with(server, true, true),
            Op::ServerCrash { server } => {
                let id = SERVERS[server];
                self.registry.server_down(id);
                self.nodes[server] = Node {
                    server: ChatServer::new(id),
                    link: VecDeque::new(),
                    clients: Vec::new(),
                };
                self.registry.add_server(id);
            }
        }
    }

    /// The coordinator's successor rebuilds the registry from the views.
    fn coordinator_crash(&mut self) {
        let views: Vec<_> = SERVERS
            .iter()
            .zip(&self.nodes)
            .map(|(id, n)| (id.to_string(), n.server.view()))
            .collect();
        let (registry, conflicts) = Registry::rebuild(&views);
        self.registry = registry;
        // With one coordinator at a time, a conflict is a claim whose
        // refusal was lost while another server held the name: the
        // claimant is told to let go, as the service does.
        for conflict in conflicts {
            let loser = SERVERS.iter().position(|s| *s == conflict.dropped);
            if let Some(s) = loser {
                self.nodes[s].server.evict(conflict.kind, &conflict.name);
                self.absorb(s);
            }
        }
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let mut identities: BTreeMap<String, &str> = BTreeMap::new();
        let mut rooms: BTreeMap<String, &str> = BTreeMap::new();
        for (id, node) in SERVERS.iter().zip(&self.nodes) {
            for name in node.server.identities() {
                prop_assert_eq!(
                    self.registry.holder(Kind::Identity, &name),
                    Some(*id),
                    "{} is a member on {} but not held by it",
                    name,
                    id
                );
                if let Some(other) = identities.insert(name.clone(), id) {
                    prop_assert!(false, "{} is a member on {} and {}", name, other, id);
                }
            }
            for room in node.server.rooms() {
                prop_assert_eq!(self.registry.holder(Kind::Room, &room), Some(*id));
                if let Some(other) = rooms.insert(room.clone(), id) {
                    prop_assert!(false, "room {} is on {} and {}", room, other, id);
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn names_stay_unique_through_loss_duplication_and_crashes(
        ops in prop::collection::vec(op(), 1..120)
    ) {
        let mut sim = Sim::new();
        for op in ops {
            sim.step(op);
            sim.check()?;
        }
        // The network heals: every link drains, and every claim is decided.
        for _ in 0..50 {
            for s in 0..SERVERS.len() {
                sim.deliver(s, true);
            }
        }
        for node in &sim.nodes {
            prop_assert!(node.link.is_empty());
        }
        sim.check()?;
    }
}
