//! Membership and the election over a simulated network (turmoil): the real
//! transport and driver, on simulated sockets and simulated time, through a
//! partition that cuts the coordinator off and then heals.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use convene_cluster::membership::Membership;
use convene_cluster::quorum::{NoAuthority, Term};
use convene_cluster::shutdown::{Shutdown, ShutdownTrigger};
use convene_cluster::{ClusterConfig, Peers, Router};
use convene_rpc::DatagramSocket;

/// turmoil's socket, as the transport's socket.
struct SimSocket(turmoil::net::UdpSocket);

impl DatagramSocket for SimSocket {
    fn send_to(
        &self,
        buf: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        self.0.send_to(buf, to)
    }

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        self.0.recv_from(buf)
    }

    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.try_send_to(buf, to)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

const NAMES: [&str; 3] = ["n0", "n1", "n2"];
const PORT: u16 = 9000;

/// The cluster file, with each host's simulated address (priorities follow
/// the order: n2 is the highest).
fn cluster() -> ClusterConfig {
    let mut toml = String::new();
    for name in NAMES {
        toml.push_str(&format!(
            "[[node]]\nid = \"{name}\"\nhost = \"{}\"\npeer_port = {PORT}\n",
            turmoil::lookup(name)
        ));
    }
    toml.push_str("[election]\nheartbeat_ms = 100\nsuspect_after_ms = 400\nt2_ms = 150\nt3_ms = 150\nt4_ms = 300\n");
    // No service sections: the file has none.
    ClusterConfig::from_toml(&toml, Path::new("sim.toml"), &[]).expect("a valid cluster file")
}

/// Starts node `me`'s transport and membership on this simulated host; it
/// runs while the trigger is held.
async fn start_node(me: usize) -> io::Result<(Membership<SimSocket>, ShutdownTrigger)> {
    let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", PORT)).await?;
    let cluster = Arc::new(cluster());
    let router = Arc::new(Router::new());
    let (trigger, shutdown) = Shutdown::new();
    let transport_shutdown = shutdown.clone();
    // Sealed and opened as in production: the election runs through the
    // authenticated transport.
    let auth = cluster.peer_auth(Some(me), 1);
    let (client, _transport) = convene_rpc::start_authenticated(
        SimSocket(socket),
        convene_rpc::Config::default(),
        auth,
        router.clone(),
        async move { transport_shutdown.wait().await },
    );
    let peers = Peers::new(client, cluster.clone(), me);
    let (membership, _driver) =
        Membership::start(peers, &router, cluster.election.clone(), shutdown);
    Ok((membership, trigger))
}

type Views = Arc<Mutex<HashMap<&'static str, Option<usize>>>>;

/// Waits (in simulated time) until every host in `who` follows `expected`.
async fn agree(views: &Views, who: &[&str], expected: usize) {
    for _ in 0..300 {
        let seen: Vec<Option<usize>> = who
            .iter()
            .map(|w| views.lock().unwrap().get(w).copied().flatten())
            .collect();
        if seen.iter().all(|s| *s == Some(expected)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{who:?} never agreed on node {expected}: {:?}",
        views.lock().unwrap()
    );
}

#[test]
fn the_coordinator_cut_off_by_a_partition_is_replaced_and_takes_over_after_healing()
-> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .build();
    let views: Views = Arc::default();
    for (me, name) in NAMES.iter().enumerate() {
        let views = views.clone();
        sim.host(*name, move || {
            let views = views.clone();
            async move {
                let (membership, _running) = start_node(me).await?;
                let mut coordinator = membership.coordinator();
                loop {
                    views
                        .lock()
                        .unwrap()
                        .insert(NAMES[me], *coordinator.borrow_and_update());
                    coordinator.changed().await?;
                }
            }
        });
    }
    sim.client("observer", async move {
        agree(&views, &NAMES, 2).await;
        // n2 is cut off from the others: they elect n1; n2, alone, keeps itself.
        turmoil::partition("n2", "n0");
        turmoil::partition("n2", "n1");
        agree(&views, &["n0", "n1"], 1).await;
        agree(&views, &["n2"], 2).await;
        // Healed: one coordinator again, the highest.
        turmoil::repair("n2", "n0");
        turmoil::repair("n2", "n1");
        agree(&views, &NAMES, 2).await;
        // The middle node cut off from the lowest only: nobody changes.
        turmoil::partition("n1", "n0");
        tokio::time::sleep(Duration::from_secs(2)).await;
        agree(&views, &NAMES, 2).await;
        Ok(())
    });
    sim.run()
}

/// What each host's [`Membership::authority`] said at its last sample.
type Authorities = Arc<Mutex<HashMap<&'static str, Result<Term, NoAuthority>>>>;

/// Waits (in simulated time, at most `within`) until `ok(name, answer)`
/// holds for every host in `who`; returns how long it took.
async fn until(
    authorities: &Authorities,
    who: &[&'static str],
    within: Duration,
    ok: impl Fn(Result<Term, NoAuthority>) -> bool,
) -> Duration {
    let start = tokio::time::Instant::now();
    while start.elapsed() <= within {
        let all = who.iter().all(|w| {
            let answer = authorities.lock().unwrap().get(w).copied();
            answer.is_some_and(&ok)
        });
        if all {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{who:?} not as expected within {within:?}: {:?}",
        authorities.lock().unwrap()
    );
}

#[test]
fn authority_follows_the_majority_through_a_partition() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .build();
    let authorities: Authorities = Arc::default();
    // Two holders at one sample would be the split brain this prevents.
    let overlaps = Arc::new(Mutex::new(0usize));
    for (me, name) in NAMES.iter().enumerate() {
        let authorities = authorities.clone();
        let overlaps = overlaps.clone();
        sim.host(*name, move || {
            let authorities = authorities.clone();
            let overlaps = overlaps.clone();
            async move {
                let (membership, _running) = start_node(me).await?;
                loop {
                    {
                        let mut all = authorities.lock().unwrap();
                        all.insert(NAMES[me], membership.authority());
                        if all.values().filter(|a| a.is_ok()).count() > 1 {
                            *overlaps.lock().unwrap() += 1;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
    }
    sim.client("observer", async move {
        let holds = |a: Result<Term, NoAuthority>| a.is_ok();
        // Nobody grants during the first lease: n2 decides only after it.
        let waited = until(&authorities, &["n2"], Duration::from_secs(5), holds).await;
        assert!(waited >= Duration::from_millis(1900), "{waited:?}");
        let first = authorities.lock().unwrap()["n2"].unwrap();
        until(&authorities, &["n0", "n1"], Duration::from_secs(1), |a| {
            matches!(a, Err(NoAuthority::NotCoordinator(Some(2))))
        })
        .await;

        turmoil::partition("n2", "n0");
        turmoil::partition("n2", "n1");
        let lost = until(&authorities, &["n2"], Duration::from_secs(3), |a| {
            a == Err(NoAuthority::NoMajority)
        })
        .await;
        assert!(lost <= Duration::from_millis(2100), "lost after {lost:?}");
        let after = until(&authorities, &["n1"], Duration::from_secs(6), holds).await;
        // n0 and n1 promised n2 a lease each: n1 waits for them to run out.
        assert!(after > Duration::ZERO, "n1 decided while n2's leases ran");
        let taken = authorities.lock().unwrap()["n1"].unwrap();
        assert!(taken > first, "{taken} after {first}");
        // The minority side stays without authority for as long as it lasts.
        tokio::time::sleep(Duration::from_secs(3)).await;
        until(&authorities, &["n2"], Duration::ZERO, |a| a.is_err()).await;

        turmoil::repair("n2", "n0");
        turmoil::repair("n2", "n1");
        until(&authorities, &["n2"], Duration::from_secs(10), holds).await;
        let third = authorities.lock().unwrap()["n2"].unwrap();
        assert!(third > taken, "{third} after {taken}");
        assert_eq!(
            *overlaps.lock().unwrap(),
            0,
            "two nodes held authority at once"
        );
        Ok(())
    });
    sim.run()
}

#[test]
fn a_coordinator_heard_but_not_hearing_is_replaced_by_one_with_authority() -> turmoil::Result {
    let mut sim = turmoil::Builder::new()
        .simulation_duration(Duration::from_secs(120))
        .build();
    let authorities: Authorities = Arc::default();
    let overlaps = Arc::new(Mutex::new(0usize));
    for (me, name) in NAMES.iter().enumerate() {
        let authorities = authorities.clone();
        let overlaps = overlaps.clone();
        sim.host(*name, move || {
            let authorities = authorities.clone();
            let overlaps = overlaps.clone();
            async move {
                let (membership, _running) = start_node(me).await?;
                loop {
                    {
                        let mut all = authorities.lock().unwrap();
                        all.insert(NAMES[me], membership.authority());
                        if all.values().filter(|a| a.is_ok()).count() > 1 {
                            *overlaps.lock().unwrap() += 1;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
    }
    sim.client("observer", async move {
        let holds = |a: Result<Term, NoAuthority>| a.is_ok();
        until(&authorities, &["n2"], Duration::from_secs(5), holds).await;
        let first = authorities.lock().unwrap()["n2"].unwrap();

        // Whatever n0 and n1 send n2 is lost; n2's messages still reach
        // them. n2 hears nobody and claims the role alone; its claims say
        // so, and the others elect n1, which gets their leases.
        turmoil::partition_oneway("n0", "n2");
        turmoil::partition_oneway("n1", "n2");
        let after = until(&authorities, &["n1"], Duration::from_secs(8), holds).await;
        let taken = authorities.lock().unwrap()["n1"].unwrap();
        assert!(taken > first, "{taken} after {first}");
        until(&authorities, &["n0"], Duration::ZERO, |a| {
            a == Err(NoAuthority::NotCoordinator(Some(1)))
        })
        .await;
        // It lasts: n2's requests, still arriving, win no grant.
        tokio::time::sleep(Duration::from_secs(3)).await;
        until(&authorities, &["n1"], Duration::ZERO, holds).await;
        until(&authorities, &["n2"], Duration::ZERO, |a| a.is_err()).await;
        eprintln!("n1 held authority {after:?} after n2 stopped hearing the others");

        // Mended: n2 hears the others again and takes over, in a newer term.
        turmoil::repair("n0", "n2");
        turmoil::repair("n1", "n2");
        until(&authorities, &["n2"], Duration::from_secs(10), holds).await;
        let third = authorities.lock().unwrap()["n2"].unwrap();
        assert!(third > taken, "{third} after {taken}");
        assert_eq!(
            *overlaps.lock().unwrap(),
            0,
            "two nodes held authority at once"
        );
        Ok(())
    });
    sim.run()
}
