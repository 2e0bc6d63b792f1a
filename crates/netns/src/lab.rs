//! A lab: hosts on a bridge, each also reachable from this program.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::ip::{NetnsError, ip};
use crate::leftovers::{PREFIX, remove_leftovers};

/// Labs made by this process so far (part of their names).
static LABS: AtomicU32 = AtomicU32::new(0);

/// Held while a lab picks its subnet and claims it, so two labs of one
/// process (tests run in parallel threads) never pick the same.
static CLAIMING: Mutex<()> = Mutex::new(());

/// A set of hosts (network namespaces) on one bridge; see the crate docs.
/// Dropping it deletes every namespace and link it made.
#[derive(Debug)]
pub struct Lab {
    /// `cvn-<pid>-<lab>`: every namespace's name starts with it.
    tag: String,
    /// The third octet of every address: `10.213.S.x` on the bridge,
    /// `10.214.S.x` on the client links.
    subnet: u8,
    hosts: usize,
    /// Which hosts are cut off now.
    cut: Mutex<Vec<bool>>,
}

impl Lab {
    /// Makes `hosts` hosts (at most 60) on a new bridge, every link up.
    /// Deletes leftovers of killed programs first.
    pub fn new(hosts: usize) -> Result<Lab, NetnsError> {
        assert!(
            (1..=60).contains(&hosts),
            "a lab has 1 to 60 hosts, not {hosts}"
        );
        remove_leftovers();
        let _claiming = CLAIMING.lock().unwrap_or_else(|e| e.into_inner());
        // Another program may pick the same free subnet at the same moment;
        // the one that comes second fails to add a link or route that is
        // there already, deletes what it made, and tries the next subnet.
        let mut tried = Vec::new();
        loop {
            let subnet = free_subnet(&tried)?;
            tried.push(subnet);
            let tag = format!(
                "{PREFIX}{}-{}",
                std::process::id(),
                LABS.fetch_add(1, Ordering::Relaxed)
            );
            // A failure drops the lab, which deletes what was made.
            let lab = Lab {
                tag,
                subnet,
                hosts,
                cut: Mutex::new(vec![false; hosts]),
            };
            match lab.build() {
                Ok(()) => return Ok(lab),
                Err(e) if tried.len() >= 5 => return Err(e),
                Err(_) => continue,
            }
        }
    }

    fn build(&self) -> Result<(), NetnsError> {
        let bridge = self.bridge_namespace();
        ip(&["netns", "add", &bridge])?;
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &bridge, "link", "set", "br0", "up"])?;
        for i in 0..self.hosts {
            let host = self.namespace(i);
            ip(&["netns", "add", &host])?;
            ip(&["-n", &host, "link", "set", "lo", "up"])?;
            // The cluster link: eth0 in the host, hI on the bridge.
            let port = bridge_port(i);
            ip(&[
                "-n", &host, "link", "add", "eth0", "type", "veth", "peer", "name", &port, "netns",
                &bridge,
            ])?;
            ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"])?;
            let address = format!("{}/24", self.host_ip(i));
            ip(&["-n", &host, "addr", "add", &address, "dev", "eth0"])?;
            ip(&["-n", &host, "link", "set", "eth0", "up"])?;
            // The client link: cl0 in the host, cvS-I here.
            let mine = self.client_link(i);
            ip(&[
                "link", "add", &mine, "type", "veth", "peer", "name", "cl0", "netns", &host,
            ])?;
            let (here, there) = self.client_link_ips(i);
            ip(&["addr", "add", &format!("{here}/30"), "dev", &mine])?;
            ip(&["link", "set", &mine, "up"])?;
            ip(&[
                "-n",
                &host,
                "addr",
                "add",
                &format!("{there}/30"),
                "dev",
                "cl0",
            ])?;
            ip(&["-n", &host, "link", "set", "cl0", "up"])?;
            // This program reaches the host's cluster address over it.
            let host_ip = format!("{}/32", self.host_ip(i));
            ip(&["route", "add", &host_ip, "via", &there.to_string()])?;
        }
        Ok(())
    }

    /// How many hosts.
    pub fn hosts(&self) -> usize {
        self.hosts
    }

    /// Host `i`'s address on the bridge, `10.213.S.(i+1)`: the one to put
    /// in a cluster file, and the one this program reaches it by.
    pub fn host_ip(&self, i: usize) -> Ipv4Addr {
        assert!(i < self.hosts, "host {i} of {}", self.hosts);
        Ipv4Addr::new(10, 213, self.subnet, i as u8 + 1)
    }

    /// Host `i`'s namespace name.
    pub fn namespace(&self, i: usize) -> String {
        format!("{}-h{i}", self.tag)
    }

    /// `ip netns exec <host i> PROGRAM`: a command run inside host `i`.
    /// Add arguments, set its environment, spawn it; `ip` execs the
    /// program, so the child's process id is the program's own (a kill
    /// reaches it).
    pub fn command(&self, i: usize, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace(i)])
            .arg(program);
        command
    }

    /// Cuts host `i` off: its link leaves the bridge, so nothing passes
    /// between it and any other host, both ways, until [`Lab::heal`]. Its
    /// client link to this program stays.
    pub fn cut(&self, i: usize) -> Result<(), NetnsError> {
        ip(&[
            "-n",
            &self.bridge_namespace(),
            "link",
            "set",
            &bridge_port(i),
            "nomaster",
        ])?;
        self.cut.lock().unwrap_or_else(|e| e.into_inner())[i] = true;
        Ok(())
    }

    /// Puts host `i`'s link back on the bridge.
    pub fn heal(&self, i: usize) -> Result<(), NetnsError> {
        ip(&[
            "-n",
            &self.bridge_namespace(),
            "link",
            "set",
            &bridge_port(i),
            "master",
            "br0",
        ])?;
        self.cut.lock().unwrap_or_else(|e| e.into_inner())[i] = false;
        Ok(())
    }

    /// Whether host `i` is cut off now.
    pub fn is_cut(&self, i: usize) -> bool {
        self.cut.lock().unwrap_or_else(|e| e.into_inner())[i]
    }

    fn bridge_namespace(&self) -> String {
        format!("{}-br", self.tag)
    }

    /// The client link's name here: `cvS-I` (a link name has at most 15
    /// bytes; S is unique among live labs, the subnet is claimed by it).
    fn client_link(&self, i: usize) -> String {
        format!("cv{}-{i}", self.subnet)
    }

    /// The client link's two addresses: this program's end, the host's.
    fn client_link_ips(&self, i: usize) -> (Ipv4Addr, Ipv4Addr) {
        let base = 4 * i as u8;
        (
            Ipv4Addr::new(10, 214, self.subnet, base + 1),
            Ipv4Addr::new(10, 214, self.subnet, base + 2),
        )
    }
}

/// Host `i`'s end of its cluster link, on the bridge.
fn bridge_port(i: usize) -> String {
    format!("h{i}")
}

/// A subnet S no live lab uses: none of this machine's addresses or
/// routes mentions `10.214.S.` or `10.213.S.`, and not tried before.
fn free_subnet(tried: &[u8]) -> Result<u8, NetnsError> {
    let taken = format!("{}\n{}", ip(&["-o", "addr"])?, ip(&["route"])?);
    (1..=250u8)
        .filter(|s| !tried.contains(s))
        .find(|s| {
            !taken.contains(&format!("10.214.{s}.")) && !taken.contains(&format!("10.213.{s}."))
        })
        .ok_or(NetnsError::NoSubnet)
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its links, and a veth pair goes
        // with either end: the client links and routes here go too. (A
        // namespace that still holds a process lives on, links and all,
        // until the process ends: stop the nodes before the lab.)
        for i in 0..self.hosts {
            let _ = ip(&["netns", "del", &self.namespace(i)]);
        }
        let _ = ip(&["netns", "del", &self.bridge_namespace()]);
    }
}
