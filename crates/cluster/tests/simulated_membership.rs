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
use convene_cluster::shutdown::Shutdown;
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
                let socket = turmoil::net::UdpSocket::bind(("0.0.0.0", PORT)).await?;
                let cluster = Arc::new(cluster());
                let router = Arc::new(Router::new());
                let (_trigger, shutdown) = Shutdown::new();
                let transport_shutdown = shutdown.clone();
                // Sealed and opened as in production: the election runs
                // through the authenticated transport.
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
