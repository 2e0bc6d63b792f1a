//! Node processes: `convene node` children, for the tests that kill one
//! with SIGKILL or need a node in a process of its own.
//!
//! No port is guessed. Every socket a node's peers must know before it
//! starts (its peer port; a chat port in the course format, which has no
//! port 0) is bound here by the test, on port 0, and handed to the child as
//! an open descriptor (`convene node --socket peer=FD`); every other port is
//! 0 in the cluster file and the child tells its ports in
//! `--ports-file ID.ports`, which is also how the test learns it started.
//! (A port found free and let go could be taken by any program before the
//! child binds it; a socket held from bind to use cannot.)
//!
//! The test keeps its copy of each handed-down socket, so a node killed and
//! started again has the same addresses, as a restarted server would. While
//! the node is down its ports stay bound: what arrives then (datagrams,
//! connections) is thrown away before the next start, as a dead process
//! would have lost it.

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use super::{convene, eventually};

/// How long a node process may take to start.
const START: Duration = Duration::from_secs(30);

/// A socket bound by the test for a node process (see the module docs).
pub struct Held {
    /// Which of the node's sockets (`peer`, `chat`, ... as `--socket` says).
    pub kind: &'static str,
    socket: Socket,
}

enum Socket {
    Udp(std::net::UdpSocket),
    Tcp(std::net::TcpListener),
}

impl Held {
    /// A UDP socket on a free loopback port (`peer`, `booking`).
    pub fn udp(kind: &'static str) -> Held {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        Held {
            kind,
            socket: Socket::Udp(socket),
        }
    }

    /// A TCP listener on a free loopback port (`client`, `chat`, `http`).
    pub fn tcp(kind: &'static str) -> Held {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Held {
            kind,
            socket: Socket::Tcp(listener),
        }
    }

    /// The port it is bound to, for the cluster file.
    pub fn port(&self) -> u16 {
        match &self.socket {
            Socket::Udp(s) => s.local_addr(),
            Socket::Tcp(l) => l.local_addr(),
        }
        .unwrap()
        .port()
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.socket {
            Socket::Udp(s) => s.as_fd(),
            Socket::Tcp(l) => l.as_fd(),
        }
    }

    /// Throws away what arrived while no process read the socket.
    fn drain(&self) {
        match &self.socket {
            Socket::Udp(s) => {
                s.set_nonblocking(true).unwrap();
                let mut buf = [0u8; 65536];
                while s.recv_from(&mut buf).is_ok() {}
            }
            Socket::Tcp(l) => {
                l.set_nonblocking(true).unwrap();
                while l.accept().is_ok() {}
            }
        }
    }
}

/// A `convene node` process, killed with SIGKILL when dropped (a failed
/// test leaves nothing running). Its screen is in `ID.screen`, its log (at
/// `info`) in `ID.log` and its ports in `ID.ports`, beside the cluster file.
pub struct NodeProcess {
    child: Option<Child>,
    id: String,
    dir: PathBuf,
    args: Vec<OsString>,
    held: Vec<Held>,
    ports: HashMap<String, u16>,
    /// The network namespace it runs in (`ip netns exec`), if not this one.
    namespace: Option<String>,
    /// The address its ports are reached on.
    host: IpAddr,
}

impl NodeProcess {
    /// Starts `convene node <config_flag> CONFIG --id ID` with `faults`
    /// injected (the hidden `--fault` flag) and `held` handed down
    /// (`--socket`). `config_flag` is `--config` or `--chat-config`. It
    /// does not wait: start several, then wait for each with
    /// [`NodeProcess::started`].
    pub fn spawn(
        config_flag: &str,
        config: &Path,
        id: &str,
        faults: &[convene_node::Fault],
        held: Vec<Held>,
    ) -> Self {
        let dir = config.parent().unwrap().to_path_buf();
        let mut args: Vec<OsString> = vec!["node".into(), config_flag.into(), config.into()];
        args.extend(["--id".into(), id.into()]);
        args.extend([
            "--ports-file".into(),
            dir.join(format!("{id}.ports")).into(),
        ]);
        for fault in faults {
            args.extend(["--fault".into(), fault.to_string().into()]);
        }
        let mut node = NodeProcess {
            child: None,
            id: id.to_string(),
            dir,
            args,
            held,
            ports: HashMap::new(),
            namespace: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        node.spawn_child();
        node
    }

    /// Starts `convene node --config CONFIG --id ID` inside host `host` of
    /// `lab` (`ip netns exec`), where it binds its own ports on the host's
    /// address (the cluster file names them; nothing is handed down). It
    /// does not wait; see [`NodeProcess::started`].
    pub fn spawn_in(lab: &convene_netns::Lab, host: usize, config: &Path, id: &str) -> Self {
        let dir = config.parent().unwrap().to_path_buf();
        let mut args: Vec<OsString> = vec!["node".into(), "--config".into(), config.into()];
        args.extend(["--id".into(), id.into()]);
        args.extend([
            "--ports-file".into(),
            dir.join(format!("{id}.ports")).into(),
        ]);
        let mut node = NodeProcess {
            child: None,
            id: id.to_string(),
            dir,
            args,
            held: Vec::new(),
            ports: HashMap::new(),
            namespace: Some(lab.namespace(host)),
            host: IpAddr::V4(lab.host_ip(host)),
        };
        node.spawn_child();
        node
    }

    fn spawn_child(&mut self) {
        let _ = std::fs::remove_file(self.file("ports"));
        let out = |kind: &str| std::fs::File::create(self.file(kind)).unwrap();
        let mut command = match &self.namespace {
            None => convene(),
            Some(namespace) => {
                // `ip` execs the binary: the child's pid is the node's.
                let mut command = std::process::Command::new("ip");
                command
                    .args(["netns", "exec", namespace])
                    .arg(env!("CARGO_BIN_EXE_convene"));
                command
            }
        };
        command
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out("screen"))
            .stderr(out("log"));
        let fds: Vec<i32> = self.held.iter().map(|h| h.fd().as_raw_fd()).collect();
        for (held, fd) in self.held.iter().zip(&fds) {
            command.arg("--socket").arg(format!("{}={fd}", held.kind));
        }
        // SAFETY: the closure runs in the child between fork and exec, where
        // only async-signal-safe calls are allowed: it makes system calls
        // (fcntl) on descriptors that are open in the parent, so in the
        // child, and allocates nothing. Clearing close-on-exec there, not
        // in the parent, hands the sockets to this child and to no other
        // process the test binary starts meanwhile.
        unsafe {
            command.pre_exec(move || {
                for fd in &fds {
                    let fd = BorrowedFd::borrow_raw(*fd);
                    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                }
                Ok(())
            });
        }
        self.child = Some(command.spawn().unwrap());
    }

    /// Waits until the node has started (its ports file is there) and
    /// reads its ports; fails the test, with its log, if it exits first.
    pub async fn started(&mut self) {
        let what = format!("node {} to start", self.id);
        let (ports_file, log) = (self.file("ports"), self.file("log"));
        let log = || std::fs::read_to_string(&log).unwrap_or_default();
        let child = std::cell::RefCell::new(self.child.as_mut().expect("a spawned process"));
        let ports = eventually(START, &what, || async {
            if let Ok(text) = std::fs::read_to_string(&ports_file) {
                return Ok(text);
            }
            let exited = child.borrow_mut().try_wait().unwrap();
            assert!(
                exited.is_none(),
                "{what}: it ended ({exited:?}):\n{}",
                log()
            );
            Err(format!("no ports file yet; its log:\n{}", log()))
        })
        .await;
        self.ports = ports
            .lines()
            .map(|l| {
                let (key, port) = l.split_once('=').expect("key=port");
                (key.to_string(), port.parse().expect("a port"))
            })
            .collect();
    }

    /// The port the node bound for `kind` (`peer`, `client`, `booking`,
    /// `chat`, `http`).
    pub fn port(&self, kind: &str) -> u16 {
        *self
            .ports
            .get(kind)
            .unwrap_or_else(|| panic!("node {} has no {kind} port: {:?}", self.id, self.ports))
    }

    /// The address of the node's `kind` socket (on loopback, or on its
    /// host in a lab).
    pub fn addr(&self, kind: &str) -> SocketAddr {
        SocketAddr::new(self.host, self.port(kind))
    }

    /// Kills the process with SIGKILL (no goodbye, no flush) and waits for
    /// it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the process to stop (SIGTERM, as an operator or a service
    /// manager would) and returns how it ended; fails the test if it has
    /// not ended within 10 s.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let what = format!("node {} to stop on SIGTERM", self.id);
        // Left in `self` until it has ended: a failed wait kills it on drop.
        let child = self.child.as_mut().expect("a running process");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM: {status}");
        let ended = super::eventually_blocking(Duration::from_secs(10), &what, || {
            child.try_wait().unwrap().ok_or("still running")
        });
        self.child = None;
        ended
    }

    /// Kills the process if it runs and starts it again, on the same held
    /// sockets, with a new log; waits until it has started.
    pub async fn restart(&mut self) {
        self.kill();
        for held in &self.held {
            held.drain();
        }
        self.spawn_child();
        self.started().await;
    }

    /// What the node has written to its log (standard error) since it last
    /// started.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.file("log")).unwrap_or_default()
    }

    /// What the node has shown on its screen (standard output) since it
    /// last started.
    pub fn screen(&self) -> String {
        std::fs::read_to_string(self.file("screen")).unwrap_or_default()
    }

    fn file(&self, kind: &str) -> PathBuf {
        self.dir.join(format!("{}.{kind}", self.id))
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
