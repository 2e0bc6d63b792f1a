//! The test fixture: a cluster on free loopback ports in a temporary
//! directory, each node in this process with its on-screen lines captured.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use convene_cluster::screen::Captured;
use convene_cluster::{ClusterConfig, Screen};
use convene_node::{NodeSockets, RunningNode};

mod eventually;
mod process;
pub mod skip;

pub use eventually::{eventually, eventually_blocking, eventually_every, ready, within};
pub use process::{Held, NodeProcess};
pub use skip::require_browser;

/// Defines, for each named `async fn test(backend: &str)`, a module of four
/// tests: on SQLite, and on MySQL, PostgreSQL and SQLite + Redis when the
/// environment names their servers (`util::skip::database_var`); a test
/// whose server is not named says it is skipped, or fails under
/// `CONVENE_REQUIRE_DATABASES=1`.
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() { super::$test("sqlite").await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() { run("mysql").await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() { run("postgres").await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() { run("redis").await }

                async fn run(backend: &str) {
                    // This module's path ends with the test's name.
                    if $crate::util::skip::database_url(backend, module_path!()).is_ok() {
                        super::$test(backend).await
                    }
                }
            }
        )*
    };
}

/// One node of a test cluster.
pub struct NodeSpec {
    pub id: &'static str,
    /// Serve meet clients (a main node).
    pub main: bool,
    /// The availability file's text, for a backend.
    pub availability: Option<&'static str>,
    /// A booking front door (booking_port = 0).
    pub booking_port: bool,
    /// The body of `[node.booking]`, if any.
    pub booking: Option<&'static str>,
    /// A chat server (chat_port = 0).
    pub chat: bool,
    /// The folder this node shares (`[node.files] dir`), relative to the
    /// test's directory.
    pub files: Option<&'static str>,
    /// A web front for events (http_port = 0).
    pub web: bool,
    /// Not an event server (`event_server = false`).
    pub web_only: bool,
    /// Serve the web front over TLS, with a self-signed certificate for
    /// `localhost` and `127.0.0.1` made for the test (`<id>.crt`,
    /// `<id>.key` in the test's directory).
    pub tls: bool,
    /// A probe server (`metrics_port = 0`).
    pub metrics: bool,
}

pub const fn main(id: &'static str) -> NodeSpec {
    NodeSpec {
        main: true,
        ..plain(id)
    }
}

pub const fn backend(id: &'static str, availability: &'static str) -> NodeSpec {
    NodeSpec {
        availability: Some(availability),
        ..plain(id)
    }
}

/// A node with no service of its own (it still takes part in membership).
pub const fn plain(id: &'static str) -> NodeSpec {
    NodeSpec {
        id,
        main: false,
        availability: None,
        booking_port: false,
        booking: None,
        chat: false,
        files: None,
        web: false,
        web_only: false,
        tls: false,
        metrics: false,
    }
}

/// A web front that computes nothing itself (`event_server = false`).
pub const fn web_only(id: &'static str) -> NodeSpec {
    NodeSpec {
        web_only: true,
        ..web(id)
    }
}

/// An event server with a web front.
pub const fn web(id: &'static str) -> NodeSpec {
    NodeSpec {
        web: true,
        ..plain(id)
    }
}

/// A booking node: a front door if `port`, with this `[node.booking]` body.
pub const fn booking(id: &'static str, port: bool, table: &'static str) -> NodeSpec {
    NodeSpec {
        booking_port: port,
        booking: Some(table),
        ..plain(id)
    }
}

/// A node sharing folder `dir` (created empty under the test's directory).
pub const fn files(id: &'static str, dir: &'static str) -> NodeSpec {
    NodeSpec {
        files: Some(dir),
        ..plain(id)
    }
}

/// A node sharing folder `dir` with a web front (so an event server too).
pub const fn web_files(id: &'static str, dir: &'static str) -> NodeSpec {
    NodeSpec {
        web: true,
        ..files(id, dir)
    }
}

/// A cluster file's first line naming the secret every test cluster's
/// folder has (`cluster.secret`, written by `TestCluster::bind_full`).
pub const SECRET: &str = "secret_file = \"cluster.secret\"\n";

/// A chat server and nothing else.
pub const fn chat(id: &'static str) -> NodeSpec {
    NodeSpec {
        chat: true,
        ..plain(id)
    }
}

/// Election timings fast enough for tests (heartbeats every 50 ms).
pub const FAST_ELECTION: &str = "[election]\nheartbeat_ms = 50\nsuspect_after_ms = 250\nt2_ms = 100\nt3_ms = 100\nt4_ms = 200\n";

/// A `[limits]` table no test meets by accident: tests register and log
/// in far more often from one address than people do. (The tests of the
/// limits themselves set their own.)
pub const HIGH_LIMITS: &str = "[limits]\nlogins_per_minute_per_ip = 1000000\n\
    logins_per_minute_per_account = 1000000\nregistrations_per_hour_per_ip = 1000000\n\
    participants_per_event = 100000\nopen_events_per_user = 100000\n";

/// The spec's example data: A holds eliana and alice, whose common time is
/// [[1,3],[12,18]]; B holds theodore, bob and amy, [[2,5],[17,20]].
pub const SPEC_A: &str = "eliana;[[1,5],[12,18]]\nalice;[[1,3],[10,24]]\n";
pub const SPEC_B: &str = "theodore;[[2,5],[17,20]]\nbob;[[1,6],[16,22]]\namy;[[2,7],[17,21]]";

pub struct TestCluster {
    pub dir: tempfile::TempDir,
    pub cluster: Arc<ClusterConfig>,
    nodes: HashMap<String, RunningNode>,
    unstarted: HashMap<String, NodeSockets>,
    screens: HashMap<String, Captured>,
    /// Held for the cluster's life: a turn on a shared database server.
    pub turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl TestCluster {
    /// Writes the files and binds every socket; starts nothing yet.
    pub async fn bind(specs: &[NodeSpec]) -> TestCluster {
        Self::bind_with(specs, FAST_ELECTION).await
    }

    /// As [`TestCluster::bind`], with `tail` appended to the cluster file
    /// (top-level tables such as `[election]`).
    pub async fn bind_with(specs: &[NodeSpec], tail: &str) -> TestCluster {
        Self::bind_full(specs, "", tail).await
    }

    /// As [`TestCluster::bind_with`], with `head` first in the file (the
    /// top-level keys such as `database_url`).
    pub async fn bind_full(specs: &[NodeSpec], head: &str, tail: &str) -> TestCluster {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap();
        // Every test cluster has a secret of its own, as a real one would.
        convene_cluster::ClusterSecret::create_file(&dir.path().join("cluster.secret")).unwrap();
        let mut toml = if head.contains("secret_file") {
            head.to_string()
        } else {
            format!("secret_file = \"cluster.secret\"\n{head}")
        };
        for spec in specs {
            toml.push_str(&format!(
                "[[node]]\nid = \"{}\"\nhost = \"127.0.0.1\"\npeer_port = 0\n",
                spec.id
            ));
            if spec.main {
                toml.push_str("client_port = 0\n");
            }
            if spec.booking_port {
                toml.push_str("booking_port = 0\n");
            }
            if spec.chat {
                toml.push_str("chat_port = 0\n");
            }
            if spec.web {
                toml.push_str("http_port = 0\n");
            }
            if spec.web_only {
                toml.push_str("event_server = false\n");
            }
            if spec.metrics {
                toml.push_str("metrics_port = 0\n");
            }
            if spec.tls {
                let made = rcgen::generate_simple_self_signed(vec![
                    "localhost".to_string(),
                    "127.0.0.1".to_string(),
                ])
                .unwrap();
                let id = spec.id;
                std::fs::write(dir.path().join(format!("{id}.crt")), made.cert.pem()).unwrap();
                std::fs::write(
                    dir.path().join(format!("{id}.key")),
                    made.signing_key.serialize_pem(),
                )
                .unwrap();
                toml.push_str(&format!(
                    "tls_cert = \"{id}.crt\"\ntls_key = \"{id}.key\"\n"
                ));
            }
            if let Some(folder) = spec.files {
                std::fs::create_dir_all(dir.path().join(folder)).unwrap();
                toml.push_str(&format!("[node.files]\ndir = \"{folder}\"\n"));
            }
            if let Some(table) = spec.booking {
                toml.push_str(&format!("[node.booking]\n{table}\n"));
            }
            if let Some(text) = spec.availability {
                let file = format!("{}.txt", spec.id.to_lowercase());
                std::fs::write(dir.path().join(&file), text).unwrap();
                toml.push_str(&format!("[node.meet]\navailability = \"{file}\"\n"));
            }
        }
        toml.push_str(tail);
        // For a head that says `secret_file = "cluster.secret"` (see SECRET).
        convene_cluster::ClusterSecret::create_file(&dir.path().join("cluster.secret")).unwrap();
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, &toml).unwrap();
        let cluster = convene_node::load_cluster(&path).unwrap();
        let (cluster, sockets) = convene_node::bind_cluster(cluster).await.unwrap();
        let unstarted = cluster
            .nodes
            .iter()
            .map(|n| n.id.clone())
            .zip(sockets)
            .collect();
        TestCluster {
            dir,
            cluster: Arc::new(cluster),
            nodes: HashMap::new(),
            unstarted,
            screens: HashMap::new(),
            turn: None,
        }
    }

    /// Binds and starts every node, main nodes first, and waits until every
    /// main node knows every backend's users.
    pub async fn start(specs: &[NodeSpec]) -> TestCluster {
        let mut c = Self::bind(specs).await;
        for spec in specs {
            c.start_node(spec.id).await;
        }
        c.wait_ready().await;
        c
    }

    /// Starts (or restarts, on the same ports) one node.
    pub async fn start_node(&mut self, id: &str) {
        self.try_start_node(id).await.unwrap();
    }

    /// Starts one node, returning why it did not start.
    pub async fn try_start_node(&mut self, id: &str) -> Result<(), convene_node::NodeError> {
        let sockets = match self.unstarted.remove(id) {
            Some(s) => s,
            None => rebind(self.cluster.node(id).unwrap()).await?,
        };
        let (screen, captured) = Screen::capture();
        self.screens.insert(id.to_string(), captured);
        let node = convene_node::start(self.cluster.clone(), id, sockets, screen).await?;
        self.nodes.insert(id.to_string(), node);
        Ok(())
    }

    /// Takes the bound peer socket of a node that was never started: the
    /// address an impostor uses in the security tests.
    pub fn take_peer_socket(&mut self, id: &str) -> tokio::net::UdpSocket {
        self.take_sockets(id).peer
    }

    /// Takes every bound socket of a node that was never started.
    pub fn take_sockets(&mut self, id: &str) -> NodeSockets {
        self.unstarted
            .remove(id)
            .expect("a node that was bound and never started")
    }

    /// Stops one node. Its ports may stay taken for a moment by a task
    /// still ending (a forward failing now that the transport has stopped)
    /// or by a handle the test keeps; starting it again waits for them.
    pub async fn stop_node(&mut self, id: &str) {
        if let Some(node) = self.nodes.remove(id) {
            node.stop().await;
        }
    }

    /// Has one node leave gracefully (`RunningNode::leave`): it finishes
    /// what it is doing and tells the others, then stops.
    pub async fn leave_node(&mut self, id: &str) {
        if let Some(node) = self.nodes.remove(id) {
            node.leave(convene_node::running::DRAIN).await;
        }
    }

    pub async fn stop(mut self) {
        let ids: Vec<String> = self.nodes.keys().cloned().collect();
        for id in ids {
            self.stop_node(&id).await;
        }
    }

    pub fn node(&self, id: &str) -> &RunningNode {
        &self.nodes[id]
    }

    /// What each running node believes: the coordinator and the live
    /// nodes, for a failure message.
    pub fn membership_views(&self) -> String {
        let name = |i: usize| self.cluster.nodes[i].id.clone();
        let mut ids: Vec<&String> = self.nodes.keys().collect();
        ids.sort();
        ids.iter()
            .map(|id| {
                let membership = self.nodes[*id].membership();
                let coordinator = membership.coordinator().borrow().map(name);
                let live: Vec<String> = membership
                    .live()
                    .borrow()
                    .iter()
                    .map(|&i| name(i))
                    .collect();
                format!("{id} sees coordinator {coordinator:?}, live {live:?}")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The first main node's client address.
    pub fn main_addr(&self) -> SocketAddr {
        let main = self
            .cluster
            .nodes
            .iter()
            .find(|n| n.client_port.is_some())
            .expect("a main node");
        main.client_addr().unwrap()
    }

    /// Every line node `id` has shown since it last started.
    pub fn lines(&self, id: &str) -> Vec<String> {
        self.screens[id].lines()
    }

    pub fn clear_lines(&self) {
        for s in self.screens.values() {
            s.clear();
        }
    }

    pub async fn wait_for_line(&self, id: &str, needle: &str) {
        let found = self.screens[id]
            .wait_for(Duration::from_secs(10), |l| l.contains(needle))
            .await;
        assert!(
            found,
            "node {id} never showed a line with {needle:?}; it showed {:#?}",
            self.lines(id)
        );
    }

    /// Waits until every running main node knows every running backend's users.
    pub async fn wait_ready(&self) {
        let expected: usize = self
            .cluster
            .nodes
            .iter()
            .filter(|n| self.nodes.contains_key(&n.id))
            .filter_map(convene_meet::MeetSection::of)
            .map(|m| {
                std::fs::read_to_string(&m.availability)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .count()
            })
            .sum();
        for node in self.nodes.values().filter(|n| n.client_addr().is_some()) {
            let what = format!("main {} to know {expected} users", node.id());
            eventually(Duration::from_secs(10), &what, || async {
                let known = node.meet().known_users();
                ready(known >= expected, format!("it knows {known}"))
            })
            .await;
        }
    }

    /// Writes the cluster as it is bound (real ports, not 0) to a file a
    /// separate `convene` process can read (with the web fronts and the
    /// secret, so the operator can use it); returns its path.
    pub fn write_bound_config(&self) -> PathBuf {
        let mut toml = String::new();
        if let Some(secret) = &self.cluster.secret_file {
            toml.push_str(&format!(
                "secret_file = {:?}\n",
                secret.display().to_string()
            ));
        }
        for n in &self.cluster.nodes {
            toml.push_str(&format!(
                "[[node]]\nid = \"{}\"\nhost = \"{}\"\npeer_port = {}\npriority = {}\n",
                n.id, n.host, n.peer_port, n.priority
            ));
            if let Some(port) = n.http_port {
                toml.push_str(&format!("http_port = {port}\n"));
            }
        }
        let path = self.dir.path().join("bound.toml");
        std::fs::write(&path, toml).unwrap();
        path
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

/// Runs the interactive client against `server` with `input` as its
/// standard input; returns what it printed.
pub async fn interactive(server: SocketAddr, input: &str) -> String {
    let input = input.to_string();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        convene_meet::client::run_interactive(server, &mut input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    })
    .await
    .unwrap()
}

/// The client's own port appears in its lines; tests compare without it.
pub fn without_ports(text: &str) -> String {
    text.lines()
        .map(|l| match l.rfind("over port ") {
            Some(i) => format!(
                "{}over port <port>{}",
                &l[..i],
                if l.ends_with(':') { ":" } else { "." }
            ),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Sends raw lines to a main node and returns its reply lines.
pub async fn raw_exchange(server: SocketAddr, send: &[u8]) -> Vec<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(server).await.unwrap();
    s.write_all(send).await.unwrap();
    s.shutdown().await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out.lines().map(str::to_string).collect()
}

/// The `convene` binary built for these tests.
pub fn convene() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
}

/// Runs `convene <args>` with `input` on its standard input, off the async
/// runtime, and returns what it printed.
pub async fn convene_with_input(args: Vec<String>, input: &str) -> std::process::Output {
    let mut command = convene();
    command.args(&args);
    run_with_input(command, input).await
}

/// Runs `command` with `input` on its standard input, off the async
/// runtime, and returns what it printed.
async fn run_with_input(mut command: std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let input = input.to_string();
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// A person at a terminal of their own: `convene` runs with their own
/// config folder (`XDG_CONFIG_HOME`, `HOME`), where `convene login` keeps
/// their session.
pub struct CliUser {
    pub home: tempfile::TempDir,
}

/// What a `convene` process printed, and how it ended.
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl CliUser {
    pub fn new() -> CliUser {
        CliUser {
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The credentials file `convene login` writes.
    pub fn credentials(&self) -> PathBuf {
        self.home
            .path()
            .join("config")
            .join("convene")
            .join("credentials.toml")
    }

    /// Runs `convene <args>` with `input` on standard input.
    pub async fn run(&self, args: &[&str], input: &str) -> Ran {
        let home = self.home.path();
        let mut command = convene();
        command
            .args(args)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .current_dir(home);
        let out = run_with_input(command, input).await;
        Ran {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    /// Registers `name` (password `password1`) on the web front at `web`
    /// and logs in with `convene login`.
    pub async fn log_in(&self, web: SocketAddr, name: &str) {
        register(web, name).await;
        let url = format!("http://{web}");
        let ran = self
            .run(
                &["login", "--server", &url],
                &format!("{name}\npassword1\n"),
            )
            .await;
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        assert_eq!(ran.stdout, format!("Logged in to {url} as {name}.\n"));
    }
}

/// Registers `name` with the password `password1` over the API at `web`.
pub async fn register(web: SocketAddr, name: &str) {
    let mut client = convene_web::client::HttpClient::new(web);
    let body = serde_json::json!({"username": name, "password": "password1"});
    let r = client.post_json("/api/register", &body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
}

#[allow(dead_code)]
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Binds a restarting node's ports, waiting while the previous run's
/// sockets are still being let go (`AddrInUse`).
async fn rebind(
    node: &convene_cluster::NodeConfig,
) -> Result<NodeSockets, convene_node::NodeError> {
    let what = format!("node {}'s ports to be free again", node.id);
    eventually(Duration::from_secs(10), &what, || async {
        match convene_node::bind_node(node).await {
            Err(convene_node::NodeError::Bind { error, .. })
                if error.kind() == std::io::ErrorKind::AddrInUse =>
            {
                Err(error)
            }
            other => Ok(other),
        }
    })
    .await
}
