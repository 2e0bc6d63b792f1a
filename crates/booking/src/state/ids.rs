//! Confirmation ids: unique across a cluster, and routable back to their owner.

/// Sequence numbers per node stay below this: node `n` issues
/// `n * SEQ_LIMIT + seq` for `seq` in `1..SEQ_LIMIT`.
pub const SEQ_LIMIT: u32 = 1_000_000;

/// How confirmation ids are made, and how to tell which node made one.
///
/// The seed numbers its bookings `CONF000001`, `CONF000002`, … from one
/// counter. A cluster has several nodes booking at once, each owning some
/// facilities, and a change, extend or cancel carries only the id. Folding the
/// node number into the id gives both properties without coordination: ids
/// from different nodes can never collide, and any node can read the owner off
/// an id ([`owner_of`](Self::owner_of)) and forward the request there.
///
/// Node `n` issues the number `n * 1_000_000 + seq`, printed as `CONF{:06}`.
/// Node 0's ids are therefore exactly the seed's, and node 2's first is
/// `CONF2000001`.
///
/// ```
/// use convene_booking::state::IdScheme;
///
/// assert_eq!(IdScheme { node: 0 }.format(1), "CONF000001");
/// assert_eq!(IdScheme { node: 2 }.format(1), "CONF2000001");
/// assert_eq!(IdScheme::owner_of("CONF2000001"), Some(2));
/// assert_eq!(IdScheme::owner_of("conf000001"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdScheme {
    /// This node's number in the cluster file.
    pub node: u32,
}

impl IdScheme {
    /// The id for this node's `seq`-th booking. `seq` should be below
    /// [`SEQ_LIMIT`]; a larger one would print an id [`owner_of`](Self::owner_of)
    /// assigns to a different node.
    pub fn format(&self, seq: u32) -> String {
        format!(
            "CONF{:06}",
            u64::from(self.node) * u64::from(SEQ_LIMIT) + u64::from(seq)
        )
    }

    /// Which node issued `id`: `CONF` followed by ASCII digits only (no sign,
    /// no spaces), else `None`.
    ///
    /// A well-formed id that was never issued still has an owner; that node is
    /// the one to answer `Invalid confirmation ID` for it.
    pub fn owner_of(id: &str) -> Option<u32> {
        Self::parse(id).map(|(node, _)| node)
    }

    /// `id` split into `(node, seq)`, if it is `CONF` and digits.
    pub fn parse(id: &str) -> Option<(u32, u32)> {
        let digits = id.strip_prefix("CONF")?;
        // `u64::from_str` would also take a leading `+`; the id format has none.
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number: u64 = digits.parse().ok()?;
        let node = u32::try_from(number / u64::from(SEQ_LIMIT)).ok()?;
        // The remainder is below SEQ_LIMIT, so it fits.
        let seq = (number % u64::from(SEQ_LIMIT)) as u32;
        Some((node, seq))
    }

    /// The sequence number of `id` if this node issued it.
    pub(super) fn own_seq(&self, id: &str) -> Option<u32> {
        Self::parse(id).and_then(|(node, seq)| (node == self.node).then_some(seq))
    }
}
