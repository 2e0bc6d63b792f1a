//! Monitor registrations (service 4): who wants callbacks for which facility.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use convene_cluster::admission::AddressKey;

/// How many registrations one front door holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorLimits {
    /// Live registrations in all (`limits.booking_monitors`).
    pub total: usize,
    /// Live registrations from one address, an IPv6 client counted by its
    /// /64 (`limits.booking_monitors_per_ip`).
    pub per_address: usize,
}

impl Default for MonitorLimits {
    fn default() -> Self {
        MonitorLimits {
            total: 10_000,
            per_address: 64,
        }
    }
}

/// Why a registration was refused; the message is the client's error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MonitorRefused {
    /// The client's address holds as many registrations as one may.
    #[error("Too many monitors from your address (at most {limit}); wait for one to end")]
    PerAddress {
        /// The limit.
        limit: usize,
    },
    /// The front door holds as many registrations as it takes.
    #[error("This server is serving as many monitors as it can (at most {limit}); try again later")]
    Total {
        /// The limit.
        limit: usize,
    },
}

/// The refusal path sweeps expired registrations at most this often, so a
/// client at its limit cannot make every datagram cost a full sweep.
const PURGE_EVERY: Duration = Duration::from_secs(1);

/// Who is monitoring which facility, until when (the seed's `MONITOR_REGISTER`).
///
/// Several clients may monitor one facility at once, and a registration ends
/// at its expiry: the seed's client blocks for the interval it asked for and
/// the server stops calling back when it is over. A client is the callback
/// address, which the server learns from the request.
///
/// Time is passed in, never read, so expiry is exact and testable: a
/// registration made at `t` for `d` is live while `now < t + d`, as in the
/// seed (`expiry_time > current_time`). A zero-length registration is
/// therefore never live.
///
/// # Limits
///
/// The callback address is only what the request claims, so a forger can
/// register a victim's address, and every change to the facility then sends
/// the victim a whole week of availability. The seed has no limit; here a
/// front door holds at most [`MonitorLimits::total`] registrations, at most
/// [`MonitorLimits::per_address`] of them for one address (an IPv6 client by
/// its /64), and refuses more ([`MonitorRefused`]) until some end. (The reply
/// budget bounds what the registrations that are accepted can send.)
///
/// Expired entries are dropped by [`targets`](Self::targets) for one
/// facility, by [`purge`](Self::purge) for all (the node calls it every
/// second), and by a registration that finds its limit reached (at most once
/// a second), so an ended registration frees its place within a second.
///
/// ```
/// use std::time::{Duration, Instant};
/// use convene_booking::state::{MonitorLimits, MonitorRefused, Monitors};
///
/// let t0 = Instant::now();
/// let mut monitors = Monitors::new(MonitorLimits { total: 100, per_address: 2 });
/// let (alice, bob) = ("192.0.2.1:3001".parse().unwrap(), "192.0.2.2:3001".parse().unwrap());
/// monitors.register("Meeting Room A", alice, t0, Duration::from_secs(10))?;
/// monitors.register("Meeting Room A", bob, t0, Duration::from_secs(60))?;
/// assert_eq!(monitors.targets("Meeting Room A", t0), vec![alice, bob]);
/// assert_eq!(monitors.targets("Meeting Room A", t0 + Duration::from_secs(10)), vec![bob]);
///
/// // Two live registrations from one address at most.
/// monitors.register("Conference Hall", bob, t0, Duration::from_secs(60))?;
/// let third = "192.0.2.2:3002".parse().unwrap();
/// assert_eq!(
///     monitors.register("Conference Hall", third, t0, Duration::from_secs(60)),
///     Err(MonitorRefused::PerAddress { limit: 2 })
/// );
/// # Ok::<(), MonitorRefused>(())
/// ```
#[derive(Clone, Debug)]
pub struct Monitors {
    limits: MonitorLimits,
    /// Per facility: each client once, with its expiry (`None`: beyond what an
    /// `Instant` can hold, i.e. never within this process's life). No list is
    /// ever left empty, which is what makes `is_empty` a map check.
    by_facility: HashMap<String, Vec<(SocketAddr, Option<Instant>)>>,
    /// Registrations held per address (expired ones not yet removed
    /// included); only addresses with at least one.
    by_address: HashMap<AddressKey, usize>,
    /// Registrations held in all.
    held: usize,
    last_purge: Option<Instant>,
}

impl Default for Monitors {
    fn default() -> Self {
        Self::new(MonitorLimits::default())
    }
}

impl Monitors {
    /// No registrations; at most `limits` of them.
    pub fn new(limits: MonitorLimits) -> Self {
        Self {
            limits,
            by_facility: HashMap::new(),
            by_address: HashMap::new(),
            held: 0,
            last_purge: None,
        }
    }

    /// Whether `client` may register for `facility` at `now`: yes if it
    /// holds that registration already (a renewal), otherwise if neither its
    /// address nor the front door is at its limit. Sweeps out expired
    /// registrations first if a limit is reached (at most once a second).
    pub fn admit(
        &mut self,
        facility: &str,
        client: SocketAddr,
        now: Instant,
    ) -> Result<(), MonitorRefused> {
        if self.entry(facility, client).is_some() {
            return Ok(());
        }
        let address = AddressKey::of(client.ip());
        if let Err(refused) = self.check(address) {
            if self
                .last_purge
                .is_some_and(|at| now.saturating_duration_since(at) < PURGE_EVERY)
            {
                return Err(refused);
            }
            self.purge(now);
            self.check(address)?;
        }
        Ok(())
    }

    /// `client` wants callbacks for `facility` from `now` for `duration`.
    ///
    /// The same client registering again for the same facility replaces its
    /// expiry (it is called back once per change, not once per registration),
    /// and is always allowed; registering for another facility is
    /// independent, and refused if the client's address or the front door
    /// is at its limit (see [`admit`](Self::admit)). Whether the facility
    /// exists is the caller's check (code 1, before registering).
    pub fn register(
        &mut self,
        facility: &str,
        client: SocketAddr,
        now: Instant,
        duration: Duration,
    ) -> Result<(), MonitorRefused> {
        self.admit(facility, client, now)?;
        let expiry = now.checked_add(duration);
        if let Some(entry) = self.entry(facility, client) {
            entry.1 = expiry;
            return Ok(());
        }
        self.by_facility
            .entry(facility.to_owned())
            .or_default()
            .push((client, expiry));
        *self
            .by_address
            .entry(AddressKey::of(client.ip()))
            .or_default() += 1;
        self.held += 1;
        Ok(())
    }

    fn entry(
        &mut self,
        facility: &str,
        client: SocketAddr,
    ) -> Option<&mut (SocketAddr, Option<Instant>)> {
        self.by_facility
            .get_mut(facility)
            .and_then(|list| list.iter_mut().find(|(a, _)| *a == client))
    }

    /// Whether `address` may add a registration.
    fn check(&self, address: AddressKey) -> Result<(), MonitorRefused> {
        if self.by_address.get(&address).copied().unwrap_or(0) >= self.limits.per_address {
            return Err(MonitorRefused::PerAddress {
                limit: self.limits.per_address,
            });
        }
        if self.held >= self.limits.total {
            return Err(MonitorRefused::Total {
                limit: self.limits.total,
            });
        }
        Ok(())
    }

    /// The clients to call back about `facility` at `now`, in registration
    /// order; expired registrations for it are removed on the way.
    pub fn targets(&mut self, facility: &str, now: Instant) -> Vec<SocketAddr> {
        let Some(list) = self.by_facility.get_mut(facility) else {
            return Vec::new();
        };
        let (by_address, held) = (&mut self.by_address, &mut self.held);
        list.retain(|(client, expiry)| keep(*client, *expiry, now, by_address, held));
        let out = list.iter().map(|(a, _)| *a).collect();
        if list.is_empty() {
            self.by_facility.remove(facility);
        }
        out
    }

    /// Each facility with live registrations, and how long the last of
    /// them runs from `now` (`None`: longer than this process will); what a
    /// front door asks a facility's (new) owner to keep telling it about.
    pub fn interest(&self, now: Instant) -> Vec<(String, Option<std::time::Duration>)> {
        self.by_facility
            .iter()
            .filter_map(|(facility, list)| {
                let mut longest = Some(std::time::Duration::ZERO);
                for (_, expiry) in list {
                    match expiry {
                        None => longest = None,
                        Some(at) if *at > now => {
                            longest = longest.map(|l| l.max(*at - now));
                        }
                        Some(_) => {}
                    }
                }
                (longest != Some(std::time::Duration::ZERO)).then(|| (facility.clone(), longest))
            })
            .collect()
    }

    /// Registrations held, counting expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether no registration is held.
    pub fn is_empty(&self) -> bool {
        self.by_facility.is_empty()
    }

    /// Registrations held for `client`'s address (its /64 for IPv6),
    /// counting expired ones not yet removed.
    pub fn held_for(&self, client: SocketAddr) -> usize {
        self.by_address
            .get(&AddressKey::of(client.ip()))
            .copied()
            .unwrap_or(0)
    }

    /// Removes every registration that has expired at `now`.
    pub fn purge(&mut self, now: Instant) {
        let (by_address, held) = (&mut self.by_address, &mut self.held);
        self.by_facility.retain(|_, list| {
            list.retain(|(client, expiry)| keep(*client, *expiry, now, by_address, held));
            !list.is_empty()
        });
        self.last_purge = Some(now);
    }
}

/// Whether a registration is live at `now`; if not, it is uncounted (the
/// caller removes it).
fn keep(
    client: SocketAddr,
    expiry: Option<Instant>,
    now: Instant,
    by_address: &mut HashMap<AddressKey, usize>,
    held: &mut usize,
) -> bool {
    if expiry.is_none_or(|at| now < at) {
        return true;
    }
    *held -= 1;
    let address = AddressKey::of(client.ip());
    if let Some(count) = by_address.get_mut(&address) {
        *count -= 1;
        if *count == 0 {
            by_address.remove(&address);
        }
    }
    false
}
