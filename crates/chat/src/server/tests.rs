//! Tests of the chat server: the reference's golden exchange output by output, each
//! refusal, the leaving paths, claims decided late, and a property test that plays
//! the coordinator against random clients.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

const ADEL: ClientId = 1;
const MARIA: ClientId = 2;
const BOB: ClientId = 3;

fn s(text: &str) -> String {
    text.to_string()
}

/// Every output queued so far.
fn drain(server: &mut ChatServer) -> Vec<Output> {
    std::iter::from_fn(|| server.poll_output()).collect()
}

fn send(to: ClientId, message: ServerMessage) -> Output {
    Output::Send { to, message }
}

fn rc(identity: &str, former: &str, roomid: &str) -> ServerMessage {
    ServerMessage::RoomChange {
        identity: s(identity),
        former: s(former),
        roomid: s(roomid),
    }
}

fn release(identity: Option<&str>, room: Option<&str>) -> Output {
    Output::Release {
        identity: identity.map(s),
        room: room.map(s),
    }
}

/// No room lives on another server.
fn nowhere(_: &str) -> Option<RemoteRoom> {
    None
}

/// `jokes` lives on s1, at the port of the reference's golden exchange.
fn jokes_on_s1(room: &str) -> Option<RemoteRoom> {
    (room == "jokes").then(|| RemoteRoom {
        server_id: s("s1"),
        host: s("127.0.0.1"),
        port: 4544,
    })
}

fn handle(server: &mut ChatServer, client: ClientId, message: ClientMessage) -> Vec<Output> {
    server.handle(client, message, &nowhere);
    drain(server)
}

fn new_identity(identity: &str) -> ClientMessage {
    ClientMessage::NewIdentity {
        identity: s(identity),
    }
}

fn create(roomid: &str) -> ClientMessage {
    ClientMessage::CreateRoom { roomid: s(roomid) }
}

fn join(roomid: &str) -> ClientMessage {
    ClientMessage::JoinRoom { roomid: s(roomid) }
}

fn delete(roomid: &str) -> ClientMessage {
    ClientMessage::DeleteRoom { roomid: s(roomid) }
}

fn identity_claim(client: ClientId, identity: &str) -> Claim {
    Claim::Identity {
        client,
        identity: s(identity),
    }
}

fn room_claim(client: ClientId, roomid: &str) -> Claim {
    Claim::Room {
        client,
        roomid: s(roomid),
    }
}

/// Connects `client` as `identity`, the cluster agreeing; returns what was sent.
fn arrive(server: &mut ChatServer, client: ClientId, identity: &str) -> Vec<Output> {
    server.connect(client);
    let claim = identity_claim(client, identity);
    assert_eq!(
        handle(server, client, new_identity(identity)),
        [Output::Claim(claim.clone())]
    );
    server.decide(claim, true);
    drain(server)
}

/// Has member `client` create `roomid`, the cluster agreeing.
fn create_approved(server: &mut ChatServer, client: ClientId, roomid: &str) -> Vec<Output> {
    let claim = room_claim(client, roomid);
    assert_eq!(
        handle(server, client, create(roomid)),
        [Output::Claim(claim.clone())]
    );
    server.decide(claim, true);
    drain(server)
}

fn who_of(server: &mut ChatServer, client: ClientId) -> ServerMessage {
    match handle(server, client, ClientMessage::Who).as_slice() {
        [Output::Send { to, message }] if *to == client => message.clone(),
        other => panic!("who answered {other:?}"),
    }
}

fn contents(roomid: &str, identities: &[&str], owner: &str) -> ServerMessage {
    ServerMessage::RoomContents {
        roomid: s(roomid),
        identities: identities.iter().map(|i| s(i)).collect(),
        owner: s(owner),
    }
}

/// §2.6 with Adel and Maria on the same server: no route, every move local.
#[test]
fn golden_exchange_on_one_server() {
    let mut s1 = ChatServer::new("s1");
    assert_eq!(s1.rooms(), ["MainHall-s1"]);

    assert_eq!(
        arrive(&mut s1, ADEL, "Adel"),
        [
            send(ADEL, ServerMessage::NewIdentity { approved: true }),
            send(ADEL, rc("Adel", "", "MainHall-s1")),
        ]
    );
    assert_eq!(
        create_approved(&mut s1, ADEL, "jokes"),
        [
            send(
                ADEL,
                ServerMessage::CreateRoom {
                    roomid: s("jokes"),
                    approved: true
                }
            ),
            send(ADEL, rc("Adel", "MainHall-s1", "jokes")),
        ]
    );
    s1.set_cluster_rooms(vec![
        s("MainHall-s1"),
        s("MainHall-s2"),
        s("MainHall-s3"),
        s("jokes"),
    ]);
    assert_eq!(
        handle(&mut s1, ADEL, ClientMessage::List),
        [send(
            ADEL,
            ServerMessage::RoomList {
                rooms: vec![
                    s("MainHall-s1"),
                    s("MainHall-s2"),
                    s("MainHall-s3"),
                    s("jokes")
                ]
            }
        )]
    );

    assert_eq!(
        arrive(&mut s1, MARIA, "Maria"),
        [
            send(MARIA, ServerMessage::NewIdentity { approved: true }),
            send(MARIA, rc("Maria", "", "MainHall-s1")),
        ]
    );
    // A local join: the former room (Maria) and the new one (Adel) are told.
    assert_eq!(
        handle(&mut s1, MARIA, join("jokes")),
        [
            send(MARIA, rc("Maria", "MainHall-s1", "jokes")),
            send(ADEL, rc("Maria", "MainHall-s1", "jokes")),
        ]
    );
    assert_eq!(
        handle(
            &mut s1,
            ADEL,
            ClientMessage::Message {
                content: s("hi all")
            }
        ),
        [send(
            MARIA,
            ServerMessage::Message {
                identity: s("Adel"),
                content: s("hi all")
            }
        )]
    );
    let jokes = contents("jokes", &["Adel", "Maria"], "Adel");
    assert_eq!(who_of(&mut s1, ADEL), jokes);
    assert_eq!(who_of(&mut s1, MARIA), jokes);

    assert_eq!(
        handle(&mut s1, ADEL, delete("jokes")),
        [
            send(ADEL, rc("Adel", "jokes", "MainHall-s1")),
            send(MARIA, rc("Adel", "jokes", "MainHall-s1")),
            send(ADEL, rc("Maria", "jokes", "MainHall-s1")),
            send(MARIA, rc("Maria", "jokes", "MainHall-s1")),
            send(
                ADEL,
                ServerMessage::DeleteRoom {
                    roomid: s("jokes"),
                    approved: true
                }
            ),
            release(None, Some("jokes")),
        ]
    );
    assert_eq!(s1.rooms(), ["MainHall-s1"]);
    assert_eq!(
        who_of(&mut s1, MARIA),
        contents("MainHall-s1", &["Adel", "Maria"], "")
    );

    assert_eq!(
        handle(&mut s1, ADEL, ClientMessage::Quit),
        [
            send(ADEL, rc("Adel", "MainHall-s1", "")),
            send(MARIA, rc("Adel", "MainHall-s1", "")),
            Output::Close { client: ADEL },
            release(Some("Adel"), None),
        ]
    );
    assert_eq!(s1.identities(), ["Maria"]);
    // The connection is gone: its EOF, and any line still in flight, do nothing.
    s1.disconnect(ADEL);
    assert_eq!(handle(&mut s1, ADEL, ClientMessage::Who), []);

    // "Bob@s3 while Bob is on s1": the cluster says no.
    s1.connect(BOB);
    assert_eq!(
        handle(&mut s1, BOB, new_identity("Bob")),
        [Output::Claim(identity_claim(BOB, "Bob"))]
    );
    s1.decide(identity_claim(BOB, "Bob"), false);
    assert_eq!(
        drain(&mut s1),
        [
            send(BOB, ServerMessage::NewIdentity { approved: false }),
            Output::Close { client: BOB },
        ]
    );
    // "1ab" is refused without asking anyone.
    s1.connect(4);
    assert_eq!(
        handle(&mut s1, 4, new_identity("1ab")),
        [
            send(4, ServerMessage::NewIdentity { approved: false }),
            Output::Close { client: 4 },
        ]
    );
}

/// §2.6's route: Maria, on s2, joins `jokes` on s1 and moves there.
#[test]
fn golden_exchange_across_servers() {
    let mut s1 = ChatServer::new("s1");
    let mut s2 = ChatServer::new("s2");
    arrive(&mut s1, ADEL, "Adel");
    create_approved(&mut s1, ADEL, "jokes");

    // Maria and Bob on s2; Bob stays, to see Maria leave.
    arrive(&mut s2, 20, "Maria");
    assert_eq!(
        arrive(&mut s2, 21, "Bob"),
        [
            send(21, ServerMessage::NewIdentity { approved: true }),
            send(20, rc("Bob", "", "MainHall-s2")),
            send(21, rc("Bob", "", "MainHall-s2")),
        ]
    );
    s2.handle(20, join("jokes"), &jokes_on_s1);
    let route = ServerMessage::Route {
        roomid: s("jokes"),
        host: s("127.0.0.1"),
        port: 4544,
    };
    assert_eq!(
        drain(&mut s2),
        [
            send(20, route.clone()),
            send(21, rc("Maria", "MainHall-s2", "jokes")),
        ]
    );
    assert_eq!(
        route.to_line(),
        "{\"type\":\"route\",\"roomid\":\"jokes\",\"host\":\"127.0.0.1\",\"port\":\"4544\"}\n"
    );
    // Maria is gone from s2, but her identity went with her: no Release. The EOF
    // of her old connection is not a quit.
    assert_eq!(s2.identities(), ["Bob"]);
    s2.disconnect(20);
    assert_eq!(drain(&mut s2), []);
    assert_eq!(who_of(&mut s2, 21), contents("MainHall-s2", &["Bob"], ""));

    // Maria's new connection on s1.
    s1.connect(MARIA);
    let serverchange = ServerMessage::ServerChange {
        approved: true,
        serverid: s("s1"),
    };
    assert_eq!(
        handle(
            &mut s1,
            MARIA,
            ClientMessage::MoveJoin {
                identity: s("Maria"),
                former: s("MainHall-s2"),
                roomid: s("jokes"),
            }
        ),
        [
            send(MARIA, serverchange.clone()),
            send(ADEL, rc("Maria", "MainHall-s2", "jokes")),
            send(MARIA, rc("Maria", "MainHall-s2", "jokes")),
        ]
    );
    assert_eq!(
        serverchange.to_line(),
        "{\"type\":\"serverchange\",\"approved\":\"true\",\"serverid\":\"s1\"}\n"
    );
    assert_eq!(
        who_of(&mut s1, MARIA),
        contents("jokes", &["Adel", "Maria"], "Adel")
    );
    assert_eq!(s1.identities(), ["Adel", "Maria"]);
    // From here on Maria is local to s1: her quit releases her identity there.
    assert_eq!(
        handle(&mut s1, MARIA, ClientMessage::Quit),
        [
            send(ADEL, rc("Maria", "jokes", "")),
            send(MARIA, rc("Maria", "jokes", "")),
            Output::Close { client: MARIA },
            release(Some("Maria"), None),
        ]
    );
}

#[test]
fn movejoin_to_a_room_gone_meanwhile_lands_in_the_main_hall() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    s1.connect(MARIA);
    let moved = ClientMessage::MoveJoin {
        identity: s("Maria"),
        former: s("MainHall-s2"),
        roomid: s("jokes"),
    };
    assert_eq!(
        handle(&mut s1, MARIA, moved),
        [
            send(
                MARIA,
                ServerMessage::ServerChange {
                    approved: true,
                    serverid: s("s1")
                }
            ),
            send(ADEL, rc("Maria", "MainHall-s2", "MainHall-s1")),
            send(MARIA, rc("Maria", "MainHall-s2", "MainHall-s1")),
        ]
    );
}

#[test]
fn movejoin_with_a_bad_or_local_identity_is_refused() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    let refused = |client| {
        [
            send(
                client,
                ServerMessage::ServerChange {
                    approved: false,
                    serverid: s("s1"),
                },
            ),
            Output::Close { client },
        ]
    };
    for (client, identity) in [(10, "1ab"), (11, "Adel"), (12, "")] {
        s1.connect(client);
        let moved = ClientMessage::MoveJoin {
            identity: s(identity),
            former: s("MainHall-s2"),
            roomid: s("MainHall-s1"),
        };
        assert_eq!(handle(&mut s1, client, moved), refused(client));
    }
    assert_eq!(s1.identities(), ["Adel"]);
}

#[test]
fn identities_refused_here_never_reach_the_cluster() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    let refused = |client| {
        [
            send(client, ServerMessage::NewIdentity { approved: false }),
            Output::Close { client },
        ]
    };
    // Bad syntax, a member's identity, an identity being claimed by another
    // connection: all refused at once.
    s1.connect(10);
    assert_eq!(handle(&mut s1, 10, new_identity("ab")), refused(10));
    s1.connect(11);
    assert_eq!(handle(&mut s1, 11, new_identity("Adel")), refused(11));
    s1.connect(12);
    assert_eq!(
        handle(&mut s1, 12, new_identity("Maria")),
        [Output::Claim(identity_claim(12, "Maria"))]
    );
    s1.connect(13);
    assert_eq!(handle(&mut s1, 13, new_identity("Maria")), refused(13));
    // Identities are case-sensitive, as the reference's regex is.
    s1.connect(14);
    assert_eq!(
        handle(&mut s1, 14, new_identity("adel")),
        [Output::Claim(identity_claim(14, "adel"))]
    );
}

#[test]
fn nothing_but_quit_counts_before_an_identity() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    s1.connect(MARIA);
    for message in [
        ClientMessage::List,
        ClientMessage::Who,
        create("jokes"),
        join("MainHall-s1"),
        delete("jokes"),
        ClientMessage::Message { content: s("hi") },
    ] {
        assert_eq!(handle(&mut s1, MARIA, message), []);
    }
    // Still waiting for its claim: the same.
    handle(&mut s1, MARIA, new_identity("Maria"));
    assert_eq!(handle(&mut s1, MARIA, ClientMessage::Who), []);
    assert_eq!(handle(&mut s1, MARIA, new_identity("Other")), []);
    assert_eq!(
        handle(&mut s1, MARIA, ClientMessage::Quit),
        [Output::Close { client: MARIA }]
    );
    // A fresh connection's EOF: nothing to tell anyone.
    s1.connect(BOB);
    s1.disconnect(BOB);
    assert_eq!(drain(&mut s1), []);
    // Lines from a connection never opened are ignored.
    assert_eq!(handle(&mut s1, 99, new_identity("Ghost")), []);
}

#[test]
fn a_members_newidentity_and_movejoin_are_ignored() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    assert_eq!(handle(&mut s1, ADEL, new_identity("Bob")), []);
    let moved = ClientMessage::MoveJoin {
        identity: s("Bob"),
        former: s("x"),
        roomid: s("MainHall-s1"),
    };
    assert_eq!(handle(&mut s1, ADEL, moved), []);
    assert_eq!(s1.identities(), ["Adel"]);
}

#[test]
fn createroom_refusals() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    let refused = |client, roomid: &str| {
        [send(
            client,
            ServerMessage::CreateRoom {
                roomid: s(roomid),
                approved: false,
            },
        )]
    };
    for bad in ["MainHall-s1", "MainHall-s9", "ab", "1ab", "jo kes", ""] {
        assert_eq!(handle(&mut s1, ADEL, create(bad)), refused(ADEL, bad));
    }
    create_approved(&mut s1, ADEL, "jokes");
    // A room that exists here.
    assert_eq!(
        handle(&mut s1, MARIA, create("jokes")),
        refused(MARIA, "jokes")
    );
    // Adel owns a room already.
    assert_eq!(handle(&mut s1, ADEL, create("puns")), refused(ADEL, "puns"));
    // A claim pending counts as a room: for its claimant and for everyone else.
    assert_eq!(
        handle(&mut s1, MARIA, create("puns")),
        [Output::Claim(room_claim(MARIA, "puns"))]
    );
    assert_eq!(
        handle(&mut s1, MARIA, create("riddles")),
        refused(MARIA, "riddles")
    );
    arrive(&mut s1, BOB, "Bob");
    assert_eq!(handle(&mut s1, BOB, create("puns")), refused(BOB, "puns"));
    // The cluster says no (the id is taken on another server).
    s1.decide(room_claim(MARIA, "puns"), false);
    assert_eq!(drain(&mut s1), refused(MARIA, "puns"));
    assert_eq!(s1.rooms(), ["MainHall-s1", "jokes"]);
    assert_eq!(
        who_of(&mut s1, MARIA),
        contents("MainHall-s1", &["Maria", "Bob"], "")
    );
    // Refused, the name is free here again.
    assert_eq!(
        handle(&mut s1, BOB, create("puns")),
        [Output::Claim(room_claim(BOB, "puns"))]
    );
}

#[test]
fn createroom_tells_the_former_room() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    assert_eq!(
        create_approved(&mut s1, MARIA, "jokes"),
        [
            send(
                MARIA,
                ServerMessage::CreateRoom {
                    roomid: s("jokes"),
                    approved: true
                }
            ),
            send(ADEL, rc("Maria", "MainHall-s1", "jokes")),
            send(MARIA, rc("Maria", "MainHall-s1", "jokes")),
        ]
    );
}

#[test]
fn joinroom_failures_leave_the_room_unchanged() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    create_approved(&mut s1, ADEL, "jokes");
    create_approved(&mut s1, MARIA, "puns");
    arrive(&mut s1, BOB, "Bob");
    let unchanged = |client, identity, room| [send(client, rc(identity, room, room))];
    // The owner cannot leave its room, not even for a room that exists.
    assert_eq!(
        handle(&mut s1, ADEL, join("puns")),
        unchanged(ADEL, "Adel", "jokes")
    );
    assert_eq!(
        handle(&mut s1, ADEL, join("MainHall-s1")),
        unchanged(ADEL, "Adel", "jokes")
    );
    // Nor be routed away.
    s1.handle(ADEL, join("far"), &|_| {
        Some(RemoteRoom {
            server_id: s("s2"),
            host: s("h"),
            port: 1,
        })
    });
    assert_eq!(drain(&mut s1), unchanged(ADEL, "Adel", "jokes"));
    // A room that exists nowhere, and the room one is in.
    assert_eq!(
        handle(&mut s1, BOB, join("nowhere")),
        unchanged(BOB, "Bob", "MainHall-s1")
    );
    assert_eq!(
        handle(&mut s1, BOB, join("MainHall-s1")),
        unchanged(BOB, "Bob", "MainHall-s1")
    );
    // A room only claimed is not a room yet.
    arrive(&mut s1, 4, "Carl");
    handle(&mut s1, 4, create("riddles"));
    assert_eq!(
        handle(&mut s1, BOB, join("riddles")),
        unchanged(BOB, "Bob", "MainHall-s1")
    );
    // The same room, joined after all: the former and the new room are told.
    assert_eq!(
        handle(&mut s1, BOB, join("jokes")),
        [
            send(BOB, rc("Bob", "MainHall-s1", "jokes")),
            send(4, rc("Bob", "MainHall-s1", "jokes")),
            send(ADEL, rc("Bob", "MainHall-s1", "jokes")),
        ]
    );
    // A non-owner may go back to the MainHall.
    assert_eq!(
        handle(&mut s1, BOB, join("MainHall-s1")),
        [
            send(ADEL, rc("Bob", "jokes", "MainHall-s1")),
            send(BOB, rc("Bob", "jokes", "MainHall-s1")),
            send(4, rc("Bob", "jokes", "MainHall-s1")),
        ]
    );
}

#[test]
fn deleteroom_refusals() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    create_approved(&mut s1, ADEL, "jokes");
    let refused = |client, roomid: &str| {
        [send(
            client,
            ServerMessage::DeleteRoom {
                roomid: s(roomid),
                approved: false,
            },
        )]
    };
    // Not the owner, even from inside the room.
    assert_eq!(
        handle(&mut s1, MARIA, delete("jokes")),
        refused(MARIA, "jokes")
    );
    handle(&mut s1, MARIA, join("jokes"));
    assert_eq!(
        handle(&mut s1, MARIA, delete("jokes")),
        refused(MARIA, "jokes")
    );
    // The MainHall, a room elsewhere, a room that does not exist.
    for room in ["MainHall-s1", "MainHall-s2", "puns", ""] {
        assert_eq!(handle(&mut s1, ADEL, delete(room)), refused(ADEL, room));
    }
    assert_eq!(s1.rooms(), ["MainHall-s1", "jokes"]);
}

#[test]
fn deleteroom_tells_the_main_hall_too() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    arrive(&mut s1, BOB, "Bob");
    create_approved(&mut s1, ADEL, "jokes");
    handle(&mut s1, MARIA, join("jokes"));
    // Members of the room, then of the MainHall as it was, for each move.
    assert_eq!(
        handle(&mut s1, ADEL, delete("jokes")),
        [
            send(ADEL, rc("Adel", "jokes", "MainHall-s1")),
            send(MARIA, rc("Adel", "jokes", "MainHall-s1")),
            send(BOB, rc("Adel", "jokes", "MainHall-s1")),
            send(ADEL, rc("Maria", "jokes", "MainHall-s1")),
            send(MARIA, rc("Maria", "jokes", "MainHall-s1")),
            send(BOB, rc("Maria", "jokes", "MainHall-s1")),
            send(
                ADEL,
                ServerMessage::DeleteRoom {
                    roomid: s("jokes"),
                    approved: true
                }
            ),
            release(None, Some("jokes")),
        ]
    );
    assert_eq!(
        who_of(&mut s1, BOB),
        contents("MainHall-s1", &["Bob", "Adel", "Maria"], "")
    );
    // The owner may create a room again.
    assert_eq!(
        handle(&mut s1, ADEL, create("jokes")),
        [Output::Claim(room_claim(ADEL, "jokes"))]
    );
}

#[test]
fn quit_of_an_owner_deletes_its_room_first() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    create_approved(&mut s1, ADEL, "jokes");
    handle(&mut s1, MARIA, join("jokes"));
    assert_eq!(
        handle(&mut s1, ADEL, ClientMessage::Quit),
        [
            send(ADEL, rc("Adel", "jokes", "MainHall-s1")),
            send(MARIA, rc("Adel", "jokes", "MainHall-s1")),
            send(ADEL, rc("Maria", "jokes", "MainHall-s1")),
            send(MARIA, rc("Maria", "jokes", "MainHall-s1")),
            send(ADEL, rc("Adel", "MainHall-s1", "")),
            send(MARIA, rc("Adel", "MainHall-s1", "")),
            Output::Close { client: ADEL },
            release(Some("Adel"), Some("jokes")),
        ]
    );
    assert_eq!(s1.rooms(), ["MainHall-s1"]);
    assert_eq!(s1.identities(), ["Maria"]);
}

#[test]
fn disconnect_is_a_quit_that_writes_nothing_to_the_dead_connection() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    create_approved(&mut s1, ADEL, "jokes");
    handle(&mut s1, MARIA, join("jokes"));
    s1.disconnect(ADEL);
    assert_eq!(
        drain(&mut s1),
        [
            send(MARIA, rc("Adel", "jokes", "MainHall-s1")),
            send(MARIA, rc("Maria", "jokes", "MainHall-s1")),
            send(MARIA, rc("Adel", "MainHall-s1", "")),
            release(Some("Adel"), Some("jokes")),
        ]
    );
    // A plain member's disconnect.
    arrive(&mut s1, BOB, "Bob");
    s1.disconnect(MARIA);
    assert_eq!(
        drain(&mut s1),
        [
            send(BOB, rc("Maria", "MainHall-s1", "")),
            release(Some("Maria"), None),
        ]
    );
    // Its name is free again here.
    s1.connect(MARIA);
    assert_eq!(
        handle(&mut s1, MARIA, new_identity("Maria")),
        [Output::Claim(identity_claim(MARIA, "Maria"))]
    );
}

#[test]
fn a_route_leaves_no_trace_and_its_eof_is_not_a_quit() {
    let mut s2 = ChatServer::new("s2");
    arrive(&mut s2, MARIA, "Maria");
    // A room claim still pending when Maria leaves.
    handle(&mut s2, MARIA, create("puns"));
    s2.handle(MARIA, join("jokes"), &jokes_on_s1);
    assert_eq!(
        drain(&mut s2),
        [send(
            MARIA,
            ServerMessage::Route {
                roomid: s("jokes"),
                host: s("127.0.0.1"),
                port: 4544
            }
        )]
    );
    assert_eq!(s2.identities(), Vec::<String>::new());
    assert_eq!(
        s2.rooms.get("MainHall-s2").map(|r| r.members.len()),
        Some(0)
    );
    s2.disconnect(MARIA);
    assert_eq!(handle(&mut s2, MARIA, ClientMessage::Quit), []);
    assert_eq!(drain(&mut s2), []);
    // The claim granted after Maria left is handed straight back.
    s2.decide(room_claim(MARIA, "puns"), true);
    assert_eq!(drain(&mut s2), [release(None, Some("puns"))]);
    assert_eq!(s2.rooms(), ["MainHall-s2"]);
    // Her identity is free on s2 (she may come back) but was never released.
    s2.connect(7);
    assert_eq!(
        handle(&mut s2, 7, new_identity("Maria")),
        [Output::Claim(identity_claim(7, "Maria"))]
    );
}

#[test]
fn route_to_another_servers_main_hall() {
    let mut s2 = ChatServer::new("s2");
    arrive(&mut s2, MARIA, "Maria");
    s2.handle(MARIA, join("MainHall-s1"), &|room| {
        (room == "MainHall-s1").then(|| RemoteRoom {
            server_id: s("s1"),
            host: s("10.0.0.1"),
            port: 4444,
        })
    });
    assert_eq!(
        drain(&mut s2),
        [send(
            MARIA,
            ServerMessage::Route {
                roomid: s("MainHall-s1"),
                host: s("10.0.0.1"),
                port: 4444
            }
        )]
    );
}

#[test]
fn claims_decided_after_their_client_left() {
    let mut s1 = ChatServer::new("s1");
    // Identity claim, client quits, cluster says yes: released.
    s1.connect(10);
    handle(&mut s1, 10, new_identity("Adel"));
    assert_eq!(
        handle(&mut s1, 10, ClientMessage::Quit),
        [Output::Close { client: 10 }]
    );
    // Reserved until decided, even though its client is gone.
    s1.connect(11);
    assert_eq!(
        handle(&mut s1, 11, new_identity("Adel")),
        [
            send(11, ServerMessage::NewIdentity { approved: false }),
            Output::Close { client: 11 },
        ]
    );
    s1.decide(identity_claim(10, "Adel"), true);
    assert_eq!(drain(&mut s1), [release(Some("Adel"), None)]);

    // Identity claim, client disconnects, cluster says no: nothing to release.
    s1.connect(12);
    handle(&mut s1, 12, new_identity("Bob"));
    s1.disconnect(12);
    s1.decide(identity_claim(12, "Bob"), false);
    assert_eq!(drain(&mut s1), []);

    // The handle reused by a new connection asking for another identity: the old
    // claim's answer is not the new connection's.
    s1.connect(13);
    handle(&mut s1, 13, new_identity("Carl"));
    s1.disconnect(13);
    s1.connect(13);
    handle(&mut s1, 13, new_identity("Dora"));
    s1.decide(identity_claim(13, "Carl"), true);
    assert_eq!(drain(&mut s1), [release(Some("Carl"), None)]);
    s1.decide(identity_claim(13, "Dora"), true);
    assert_eq!(
        drain(&mut s1),
        [
            send(13, ServerMessage::NewIdentity { approved: true }),
            send(13, rc("Dora", "", "MainHall-s1")),
        ]
    );

    // Room claim, owner-to-be quits: released once granted.
    handle(&mut s1, 13, create("jokes"));
    handle(&mut s1, 13, ClientMessage::Quit);
    s1.decide(room_claim(13, "jokes"), true);
    assert_eq!(drain(&mut s1), [release(None, Some("jokes"))]);
    assert_eq!(s1.rooms(), ["MainHall-s1"]);
}

#[test]
fn evicting_a_name_another_server_keeps() {
    use crate::registry::Kind;
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, 1, "Adel");
    arrive(&mut s1, 2, "Maria");
    create_approved(&mut s1, 1, "jokes");
    drain(&mut s1);

    // The room goes as by its owner's deleteroom, with no reply to the owner.
    s1.evict(Kind::Room, "jokes");
    assert_eq!(
        drain(&mut s1),
        [
            send(1, rc("Adel", "jokes", "MainHall-s1")),
            send(2, rc("Adel", "jokes", "MainHall-s1")),
        ]
    );
    assert_eq!(s1.rooms(), ["MainHall-s1"]);

    // The identity's member is made to quit: told, closed, the room told.
    s1.evict(Kind::Identity, "Maria");
    assert_eq!(
        drain(&mut s1),
        [
            // Adel rejoined the MainHall after Maria: join order.
            send(2, rc("Maria", "MainHall-s1", "")),
            send(1, rc("Maria", "MainHall-s1", "")),
            Output::Close { client: 2 },
            release(Some("Maria"), None),
        ]
    );
    assert_eq!(s1.identities(), ["Adel"]);

    // A claim still outstanding is refused.
    s1.connect(3);
    handle(&mut s1, 3, new_identity("Bob"));
    s1.evict(Kind::Identity, "Bob");
    assert_eq!(
        drain(&mut s1),
        [
            send(3, ServerMessage::NewIdentity { approved: false }),
            Output::Close { client: 3 },
        ]
    );
    // The MainHall and unknown names are left alone.
    s1.evict(Kind::Room, "MainHall-s1");
    s1.evict(Kind::Identity, "Nobody");
    assert_eq!(drain(&mut s1), []);
    assert_eq!(s1.rooms(), ["MainHall-s1"]);
}

#[test]
fn decisions_for_claims_not_held_are_ignored() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    // Never asked; decided twice; the right name for the wrong client.
    s1.decide(identity_claim(50, "Zed"), true);
    s1.decide(room_claim(ADEL, "jokes"), true);
    s1.decide(identity_claim(ADEL, "Adel"), true);
    s1.decide(identity_claim(ADEL, "Adel"), false);
    assert_eq!(drain(&mut s1), []);
    handle(&mut s1, ADEL, create("jokes"));
    s1.decide(room_claim(MARIA, "jokes"), true);
    assert_eq!(drain(&mut s1), []);
    assert_eq!(s1.rooms(), ["MainHall-s1"]);
    assert_eq!(s1.identities(), ["Adel"]);
}

#[test]
fn a_room_claim_granted_after_a_local_move_moves_from_where_the_client_is() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    create_approved(&mut s1, ADEL, "jokes");
    handle(&mut s1, MARIA, create("puns"));
    handle(&mut s1, MARIA, join("jokes"));
    s1.decide(room_claim(MARIA, "puns"), true);
    assert_eq!(
        drain(&mut s1),
        [
            send(
                MARIA,
                ServerMessage::CreateRoom {
                    roomid: s("puns"),
                    approved: true
                }
            ),
            send(ADEL, rc("Maria", "jokes", "puns")),
            send(MARIA, rc("Maria", "jokes", "puns")),
        ]
    );
    assert_eq!(s1.rooms(), ["MainHall-s1", "jokes", "puns"]);
}

#[test]
fn messages_go_to_the_others_in_the_room_only() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    arrive(&mut s1, BOB, "Bob");
    create_approved(&mut s1, BOB, "jokes");
    let hi = ClientMessage::Message { content: s("hi") };
    let from_adel = ServerMessage::Message {
        identity: s("Adel"),
        content: s("hi"),
    };
    assert_eq!(handle(&mut s1, ADEL, hi.clone()), [send(MARIA, from_adel)]);
    // Alone in a room: said to nobody.
    assert_eq!(handle(&mut s1, BOB, hi), []);
}

#[test]
fn list_is_local_until_the_cluster_list_is_set() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    create_approved(&mut s1, MARIA, "zebra");
    create_approved(&mut s1, ADEL, "apple");
    let list = |rooms: &[&str]| {
        [send(
            ADEL,
            ServerMessage::RoomList {
                rooms: rooms.iter().map(|r| s(r)).collect(),
            },
        )]
    };
    // Creation order, MainHall first.
    assert_eq!(
        handle(&mut s1, ADEL, ClientMessage::List),
        list(&["MainHall-s1", "zebra", "apple"])
    );
    s1.set_cluster_rooms(vec![s("MainHall-s1"), s("MainHall-s2")]);
    assert_eq!(
        handle(&mut s1, ADEL, ClientMessage::List),
        list(&["MainHall-s1", "MainHall-s2"])
    );
    assert_eq!(s1.identities(), ["Adel", "Maria"]);
    assert_eq!(s1.server_id(), "s1");
    assert_eq!(s1.main_hall(), "MainHall-s1");
}

#[test]
fn connect_with_a_live_handle_ends_the_old_connection() {
    let mut s1 = ChatServer::new("s1");
    arrive(&mut s1, ADEL, "Adel");
    arrive(&mut s1, MARIA, "Maria");
    s1.connect(ADEL);
    assert_eq!(
        drain(&mut s1),
        [
            send(MARIA, rc("Adel", "MainHall-s1", "")),
            release(Some("Adel"), None),
        ]
    );
    assert_eq!(s1.identities(), ["Maria"]);
    assert_eq!(handle(&mut s1, ADEL, ClientMessage::Who), []);
}

// ---------------------------------------------------------------------------
// Property test: random clients against one server, the test as coordinator.

/// Connection handles the test uses.
const CLIENTS: ClientId = 6;

#[derive(Clone, Debug)]
enum Op {
    Connect(ClientId),
    Disconnect(ClientId),
    Handle(ClientId, ClientMessage),
    /// Decide the outstanding claim at this index (modulo their number); the
    /// coordinator grants it if `grant` and the name is free in the cluster.
    Decide {
        index: usize,
        grant: bool,
    },
}

/// Rooms the `remote` lookup places on other servers.
const FAR: &[&str] = &["far", "MainHall-s2"];

fn remote(room: &str) -> Option<RemoteRoom> {
    FAR.contains(&room).then(|| RemoteRoom {
        server_id: s("s2"),
        host: s("127.0.0.1"),
        port: 4445,
    })
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Adel", "Maria", "Bob", "Carl", "Dora", "Emil", "Fay", "Gus", "1ab",
    ])
    .prop_map(s)
}

/// Mostly rooms that can be created here, some elsewhere, some never valid.
fn room() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(s("jokes")),
        4 => Just(s("puns")),
        2 => Just(s("quiz")),
        1 => Just(s("far")),
        1 => Just(s("MainHall-s1")),
        1 => Just(s("x")),
    ]
}

fn message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        4 => name().prop_map(|identity| ClientMessage::NewIdentity { identity }),
        2 => (name(), room(), room()).prop_map(|(identity, former, roomid)| {
            ClientMessage::MoveJoin {
                identity,
                former,
                roomid,
            }
        }),
        1 => Just(ClientMessage::List),
        1 => Just(ClientMessage::Who),
        4 => room().prop_map(|roomid| ClientMessage::CreateRoom { roomid }),
        4 => room().prop_map(|roomid| ClientMessage::JoinRoom { roomid }),
        2 => room().prop_map(|roomid| ClientMessage::DeleteRoom { roomid }),
        1 => Just(ClientMessage::Message { content: s("hi") }),
        1 => Just(ClientMessage::Quit),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let client = || 0..CLIENTS;
    prop_oneof![
        2 => client().prop_map(Op::Connect),
        1 => client().prop_map(Op::Disconnect),
        8 => (client(), message()).prop_map(|(c, m)| Op::Handle(c, m)),
        4 => (any::<usize>(), prop::bool::weighted(0.8))
            .prop_map(|(index, grant)| Op::Decide { index, grant }),
    ]
}

/// The test's view of the cluster: names held, and who may be written to.
#[derive(Default)]
struct Cluster {
    /// Claims emitted and not yet decided.
    pending: Vec<Claim>,
    /// Identities the cluster holds for this server's clients, or for clients
    /// routed away from it.
    identities: HashSet<String>,
    /// Identities that left with a route (still held by the cluster).
    away: HashSet<String>,
    /// Room ids the cluster holds for this server.
    rooms: HashSet<String>,
    /// Connections that may be written to: opened, not closed, gone or routed.
    writable: HashSet<ClientId>,
}

impl Cluster {
    /// Takes the server's outputs, checking each against the cluster's view;
    /// returns the connections routed away.
    fn absorb(&mut self, server: &mut ChatServer) -> Result<Vec<ClientId>, TestCaseError> {
        let mut routed = Vec::new();
        while let Some(output) = server.poll_output() {
            match output {
                Output::Send { to, message } => {
                    prop_assert!(self.writable.contains(&to), "{message:?} to closed {to}");
                    if let ServerMessage::Route { .. } = message {
                        self.writable.remove(&to);
                        routed.push(to);
                    }
                }
                Output::Close { client } => {
                    prop_assert!(self.writable.remove(&client), "double close of {client}");
                }
                Output::Claim(claim) => self.pending.push(claim),
                Output::Release { identity, room } => {
                    prop_assert!(identity.is_some() || room.is_some());
                    if let Some(identity) = identity {
                        prop_assert!(self.identities.remove(&identity), "{identity} not held");
                        prop_assert!(!self.away.contains(&identity), "{identity} is away");
                    }
                    if let Some(room) = room {
                        prop_assert!(self.rooms.remove(&room), "{room} not held");
                    }
                }
            }
        }
        Ok(routed)
    }

    /// Decides claim `index`, granting it if `grant` and the name is free.
    fn decide(&mut self, server: &mut ChatServer, index: usize, grant: bool) {
        let claim = self.pending.remove(index % self.pending.len());
        let approved = grant
            && match &claim {
                Claim::Identity { identity, .. } => self.identities.insert(identity.clone()),
                Claim::Room { roomid, .. } => self.rooms.insert(roomid.clone()),
            };
        server.decide(claim, approved);
    }
}

/// The module's invariants, checked on the server's private state.
fn check_invariants(server: &ChatServer, cluster: &Cluster) -> Result<(), TestCaseError> {
    let mut seen = HashSet::new();
    for (id, room) in &server.rooms {
        for member in &room.members {
            prop_assert!(seen.insert(*member), "{member} in two rooms");
            match server.clients.get(member) {
                Some(Client::Member(m)) => prop_assert_eq!(&m.room, id),
                other => prop_assert!(false, "{member} in {id} is {other:?}"),
            }
        }
        if *id == server.main_hall {
            prop_assert!(room.owner.is_none());
            continue;
        }
        let owner = room.owner.and_then(|o| server.clients.get(&o));
        match owner {
            Some(Client::Member(m)) => {
                prop_assert_eq!(m.owns.as_deref(), Some(id.as_str()));
                prop_assert_eq!(&m.room, id, "owner outside its room");
            }
            other => prop_assert!(false, "room {id} owned by {other:?}"),
        }
        prop_assert!(cluster.rooms.contains(id), "room {id} not held");
    }
    for (client, state) in &server.clients {
        if let Client::Member(m) = state {
            prop_assert!(seen.contains(client), "{client} in no room");
            prop_assert_eq!(server.names.get(&m.identity), Some(client));
            if let Some(owned) = &m.owns {
                prop_assert_eq!(server.rooms.get(owned).and_then(|r| r.owner), Some(*client));
            }
            prop_assert!(cluster.identities.contains(&m.identity));
        }
    }
    prop_assert_eq!(server.names.len(), seen.len());
    Ok(())
}

proptest! {
    #[test]
    fn random_clients_keep_the_invariants(ops in prop::collection::vec(op(), 0..200)) {
        let mut server = ChatServer::new("s1");
        let mut cluster = Cluster::default();
        for c in 0..CLIENTS {
            server.connect(c);
            cluster.writable.insert(c);
        }
        for op in ops {
            match op {
                // A new connection on a handle whose connection ended.
                Op::Connect(c) => {
                    if !cluster.writable.contains(&c) {
                        server.connect(c);
                        cluster.writable.insert(c);
                    }
                }
                Op::Disconnect(c) => {
                    cluster.writable.remove(&c);
                    server.disconnect(c);
                }
                Op::Handle(c, message) => {
                    let before = match server.clients.get(&c) {
                        Some(Client::Member(m)) => Some(m.identity.clone()),
                        _ => None,
                    };
                    let moving = matches!(message, ClientMessage::MoveJoin { .. });
                    server.handle(c, message, &remote);
                    if let (true, None, Some(Client::Member(m))) =
                        (moving, &before, server.clients.get(&c))
                    {
                        // An accepted movejoin brings an identity the cluster holds
                        // already: for the client's former server, which may be this
                        // one (it routed the client away earlier).
                        let identity = m.identity.clone();
                        prop_assert!(
                            !cluster.identities.contains(&identity) || cluster.away.contains(&identity)
                        );
                        cluster.away.remove(&identity);
                        cluster.identities.insert(identity);
                    }
                    if cluster.absorb(&mut server)?.contains(&c) {
                        // Routed: gone from here, its identity still held.
                        let identity = before.expect("only members are routed");
                        prop_assert!(cluster.identities.contains(&identity));
                        cluster.away.insert(identity);
                    }
                }
                Op::Decide { index, grant } => {
                    if !cluster.pending.is_empty() {
                        cluster.decide(&mut server, index, grant);
                    }
                }
            }
            cluster.absorb(&mut server)?;
            check_invariants(&server, &cluster)?;
        }
        // Everyone leaves and every claim is answered: nothing stays held but the
        // identities that moved to other servers.
        for c in 0..CLIENTS {
            cluster.writable.remove(&c);
            server.disconnect(c);
            cluster.absorb(&mut server)?;
        }
        while !cluster.pending.is_empty() {
            cluster.decide(&mut server, 0, true);
            cluster.absorb(&mut server)?;
        }
        cluster.absorb(&mut server)?;
        prop_assert!(cluster.rooms.is_empty(), "rooms still held: {:?}", cluster.rooms);
        prop_assert_eq!(&cluster.identities, &cluster.away);
        prop_assert_eq!(server.rooms(), ["MainHall-s1"]);
        prop_assert!(server.identities().is_empty());
        prop_assert!(server.identity_claims.is_empty() && server.room_claims.is_empty());
    }
}

/// Plays the coordinator with a real [`Registry`](crate::registry::Registry):
/// decides every claim the server has put, drops the other outputs.
fn settle(server: &mut ChatServer, registry: &mut crate::registry::Registry) {
    use crate::registry::Kind;
    while let Some(out) = server.poll_output() {
        if let Output::Claim(claim) = out {
            let approved = match &claim {
                Claim::Identity { identity, .. } => {
                    registry.claim(server.server_id(), Kind::Identity, identity)
                }
                Claim::Room { roomid, .. } => {
                    registry.claim(server.server_id(), Kind::Room, roomid)
                }
            };
            server.decide(claim, approved);
        }
    }
}

#[test]
fn the_view_rebuilds_the_registry_that_decided_this_servers_claims() {
    use crate::registry::{Kind, Registry};
    let mut registry = Registry::new();
    registry.add_server("s1");
    let mut server = ChatServer::new("s1");
    for (client, name) in [(1, "Adel"), (2, "Maria")] {
        server.connect(client);
        server.handle(client, new_identity(name), &nowhere);
        settle(&mut server, &mut registry);
    }
    server.handle(1, create("jokes"), &nowhere);
    settle(&mut server, &mut registry);
    // Bob's claim is in flight when the coordinator dies.
    server.connect(3);
    server.handle(3, new_identity("Bob"), &nowhere);
    drain(&mut server);

    let view = server.view();
    assert_eq!(view.identities, [s("Adel"), s("Maria")]);
    assert_eq!(
        view.rooms,
        [(s("MainHall-s1"), s("")), (s("jokes"), s("Adel"))]
    );
    assert_eq!(view.pending_identities, [s("Bob")]);
    assert!(view.pending_rooms.is_empty());

    // A new coordinator rebuilds from the view: nothing lost, nothing doubled,
    // and Bob's claim, asked again, is granted.
    let (mut rebuilt, conflicts) = Registry::rebuild(&[(s("s1"), view)]);
    assert!(conflicts.is_empty(), "{conflicts:?}");
    for name in ["Adel", "Maria", "Bob"] {
        assert_eq!(rebuilt.holder(Kind::Identity, name), Some("s1"), "{name}");
    }
    assert_eq!(rebuilt.rooms(), registry.rooms());
    assert!(rebuilt.claim("s1", Kind::Identity, "Bob"));
    rebuilt.add_server("s2");
    assert!(!rebuilt.claim("s2", Kind::Identity, "Adel"), "still taken");
    assert!(
        rebuilt.claim("s2", Kind::Identity, "Zoe"),
        "s2 can claim free names"
    );
}
