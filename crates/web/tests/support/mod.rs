//! A one-node cluster (an event server with a web front) over an in-memory
//! database, served on a free loopback port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use convene_cluster::membership::Membership;
use convene_cluster::shutdown::ShutdownTrigger;
use convene_cluster::{ClusterConfig, Peers, Router, Shutdown};
use convene_events::db::MemoryDb;
use convene_events::service::{EventsContext, EventsService};
use convene_events::working::MemoryWorkingSet;
use convene_web::client::HttpClient;
use convene_web::{WebContext, WebService};
use serde_json::{Value, json};
use tokio::net::{TcpListener, UdpSocket};

/// A running node: its web address and its database.
pub struct TestNode {
    pub addr: SocketAddr,
    pub db: Arc<MemoryDb>,
    trigger: ShutdownTrigger,
    web: Option<WebService>,
    events: Option<EventsService>,
}

/// Limits no test meets by accident: the tests register and log in far
/// more often from one address than a person would.
pub const HIGH_LIMITS: &str = "[limits]
logins_per_minute_per_ip = 1000000
logins_per_minute_per_account = 1000000
registrations_per_hour_per_ip = 1000000
participants_per_event = 100000
open_events_per_user = 100000
";

/// [`HIGH_LIMITS`] with some keys changed (`[("password_hash_queue", 1)]`).
pub fn limits_with(changes: &[(&str, u64)]) -> String {
    let mut out = String::from("[limits]\n");
    for line in HIGH_LIMITS.lines().skip(1) {
        let (key, _) = line.split_once(" = ").unwrap();
        if !changes.iter().any(|(k, _)| *k == key) {
            out.push_str(line);
            out.push('\n');
        }
    }
    for (key, value) in changes {
        out.push_str(&format!("{key} = {value}\n"));
    }
    out
}

impl TestNode {
    /// A node whose limits no test meets by accident.
    pub async fn start() -> TestNode {
        Self::start_with(HIGH_LIMITS).await
    }

    /// A node with `limits`, a `[limits]` table of the cluster file.
    pub async fn start_with(limits: &str) -> TestNode {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = peer.local_addr().unwrap().port();
        let toml = format!(
            "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = {port}\nhttp_port = 0\n{limits}"
        );
        let cluster = Arc::new(
            // No service sections: the file has none.
            ClusterConfig::from_toml(&toml, Path::new("/nonexistent/cluster.toml"), &[]).unwrap(),
        );
        let (trigger, shutdown) = Shutdown::new();
        let router = Arc::new(Router::new());
        let transport_shutdown = shutdown.clone();
        let (client, _transport) = convene_rpc::start(
            peer,
            convene_rpc::Config::default(),
            router.clone(),
            async move { transport_shutdown.wait().await },
        );
        let peers = Peers::new(client, cluster.clone(), 0);
        let (membership, _task) = Membership::start(
            peers.clone(),
            &router,
            cluster.election.clone(),
            shutdown.clone(),
        );
        let db = Arc::new(MemoryDb::default());
        let events = convene_events::service::start(EventsContext {
            metrics: convene_metrics::Metrics::new(),
            peers,
            router,
            membership,
            shutdown: shutdown.clone(),
            db: db.clone(),
            working: Arc::new(MemoryWorkingSet::new()),
            faults: Default::default(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let web_shutdown = shutdown.clone();
        let web = convene_web::start(WebContext {
            metrics: convene_metrics::Metrics::new(),
            events: events.events().clone(),
            listener,
            limits: cluster.limits.clone(),
            shutdown: Box::pin(async move { web_shutdown.wait().await }),
            operations: None,
            tls: None,
        });
        TestNode {
            addr,
            db,
            trigger,
            web: Some(web),
            events: Some(events),
        }
    }

    pub fn client(&self) -> HttpClient {
        HttpClient::new(self.addr)
    }

    /// A client registered and logged in over the API as `name`.
    pub async fn user(&self, name: &str) -> HttpClient {
        self.user_in(name, "UTC").await
    }

    pub async fn user_in(&self, name: &str, zone: &str) -> HttpClient {
        let mut client = self.client();
        let r = client
            .post_json(
                "/api/register",
                &json!({"username": name, "password": "password1", "time_zone": zone}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let r = client
            .post_json(
                "/api/login",
                &json!({"username": name, "password": "password1"}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        client
    }

    pub async fn stop(mut self) {
        self.trigger.trigger();
        if let Some(web) = self.web.take() {
            web.join().await;
        }
        if let Some(events) = self.events.take() {
            events.join().await;
        }
    }
}

/// RFC 3339 for `seconds` from now.
pub fn from_now(seconds: i64) -> String {
    convene_events::zone::format_rfc3339(now() + seconds)
}

pub fn now() -> i64 {
    convene_web::session::now_seconds()
}

/// The value of a hidden `csrf` field in a page.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + page[at..].find('"').unwrap()].to_string()
}

pub fn error_of(response: &convene_web::client::HttpResponse) -> String {
    let body: Value = response.json().unwrap();
    body["error"].as_str().unwrap_or_default().to_string()
}
