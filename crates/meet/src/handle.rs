//! [`MeetHandle`]: the meet service for code on the same node (the web
//! app), answering exactly as a main node answers the seed's client.
//!
//! A query goes to a main node: this node's own main role when it has one
//! (called directly, so the answer keeps its structure), otherwise the
//! cluster's main nodes over their client port, with the terminal client's
//! failover from one main node to the next ([`Connection`]). Either way the
//! main node splits the names by backend, each backend intersects its own
//! users privately, and main intersects the partial results with EE450's
//! strict rule; the handle adds nothing of its own to the answer.
//!
//! A registration is what the seed's client does after a recommendation:
//! ask again for the common time, check that the chosen interval lies
//! inside one recommended interval, then have main register it on every
//! backend involved (all or none). The check is repeated here rather than
//! trusted from an earlier page, since time may have been taken meanwhile.
//!
//! Users that cannot be asked are reported as [`Unreachable`], with the
//! reason issue 13 gave the terminal client: their backend did not answer,
//! or no list from some backend has arrived yet. Over the client protocol
//! that reason comes as an `error` line, read back here by
//! [`parse_unreachable`].

use std::net::SocketAddr;
use std::sync::Arc;

use convene_time::{Interval, SlotList};
use tracing::Instrument;

use crate::client::{ClientError, Connection, MainServers};
use crate::lines;
use crate::observe::{self, kinds};
use crate::protocol::{ProtocolError, Reply, Request, check_names};
use crate::service::MainRole;

/// A cheap, cloneable way to ask the cluster's main nodes.
#[derive(Clone)]
pub struct MeetHandle {
    /// This node's main role, if it is a main node.
    local: Option<Arc<MainRole>>,
    /// The other main nodes' client addresses, in cluster-file order.
    others: Vec<SocketAddr>,
    /// Where calls are counted, as requests at door `web`.
    metrics: convene_metrics::Metrics,
}

/// The answer to a query: who exists, who could not be asked, and when
/// everyone found is free.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Common {
    /// Names that exist, in request order.
    pub found: Vec<String>,
    /// Names no backend holds (every backend's list is known), in request order.
    pub missing: Vec<String>,
    /// Users that could not be asked, grouped by why.
    pub unreachable: Vec<Unreachable>,
    /// When every found user is free (EE450's strict rule: intervals that
    /// only touch do not meet). `None` when nobody was found, or when some
    /// users are unreachable: a recommendation that silently left them out
    /// would be wrong.
    pub slots: Option<SlotList>,
}

/// Users that could not be asked, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreachable {
    /// The users, in request order.
    pub users: Vec<String>,
    /// Why.
    pub reason: Reason,
}

/// Why users could not be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Their backend did not answer.
    NoAnswer {
        /// The backend's node id.
        server: String,
    },
    /// No known list holds them, and these backends have not sent theirs.
    NoList {
        /// The silent backends' node ids.
        silent: Vec<String>,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NoAnswer { server } => write!(f, "Server {server} did not answer"),
            Reason::NoList { silent } => write!(
                f,
                "no username list yet from Server {}",
                lines::servers(silent)
            ),
        }
    }
}

impl Common {
    /// The reply line a main node sends the seed's client for this answer.
    pub fn to_reply(&self) -> Reply {
        if self.unreachable.is_empty() {
            return Reply::Result {
                missing: self.missing.clone(),
                found: self.found.clone(),
                slots: self.slots.clone(),
            };
        }
        let silents: Vec<Vec<&str>> = self
            .unreachable
            .iter()
            .map(|u| match &u.reason {
                Reason::NoList { silent } => silent.iter().map(String::as_str).collect(),
                Reason::NoAnswer { .. } => Vec::new(),
            })
            .collect();
        let unreached: Vec<lines::Unreached<'_>> = self
            .unreachable
            .iter()
            .zip(&silents)
            .map(|(u, silent)| match &u.reason {
                Reason::NoAnswer { server } => lines::Unreached::NoAnswer {
                    server,
                    users: &u.users,
                },
                Reason::NoList { .. } => lines::Unreached::NoList {
                    silent,
                    users: &u.users,
                },
            })
            .collect();
        Reply::Error(
            lines::unreachable_reply(&self.missing, &unreached, "try again later").to_string(),
        )
    }

    /// Every unreachable user, in the order the groups list them.
    pub fn unreachable_users(&self) -> Vec<String> {
        self.unreachable
            .iter()
            .flat_map(|u| u.users.iter().cloned())
            .collect()
    }
}

/// Why a call through the handle got no answer.
#[derive(Debug, thiserror::Error)]
pub enum MeetCallError {
    /// The names break the EE450 rules (lowercase letters, at most 20; at
    /// most 10 names).
    #[error(transparent)]
    BadRequest(#[from] ProtocolError),
    /// The cluster has no main node to ask.
    #[error("the cluster has no meet main node (a node with a client_port)")]
    NoMain,
    /// No main node could be reached, or the conversation broke.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The main node could not answer (its words).
    #[error("the Main Server could not answer: {0}")]
    Failed(String),
}

/// Why a meeting was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// No answer at all (see [`MeetCallError`]).
    #[error(transparent)]
    Call(#[from] MeetCallError),
    /// Some names do not exist.
    #[error("{} do not exist", lines::names(.0))]
    Missing(Vec<String>),
    /// Some users could not be asked; nothing was registered.
    #[error("{}; nothing was registered", describe_unreachable(.0))]
    Unreachable(Vec<Unreachable>),
    /// The interval lies inside no interval of the users' common free time.
    #[error(
        "time interval {slot} is not inside the common free time {common} of {}",
        lines::names(users)
    )]
    NotInCommon {
        /// The interval asked for.
        slot: Interval,
        /// The common free time now.
        common: SlotList,
        /// The users.
        users: Vec<String>,
    },
    /// The backends refused it (taken meanwhile, or a backend failed
    /// mid-way); nothing was registered. The main node's words.
    #[error("{0}")]
    Refused(String),
}

/// `bob, amy unreachable (Server B did not answer); ghost unreachable (…)`.
fn describe_unreachable(list: &[Unreachable]) -> String {
    let each: Vec<String> = list
        .iter()
        .map(|u| format!("{} unreachable ({})", lines::names(&u.users), u.reason))
        .collect();
    each.join("; ")
}

impl MeetHandle {
    pub(crate) fn new(
        local: Option<Arc<MainRole>>,
        others: Vec<SocketAddr>,
        metrics: convene_metrics::Metrics,
    ) -> MeetHandle {
        MeetHandle {
            local,
            others,
            metrics,
        }
    }

    /// Whether this node is a main node (and so knows every user's name).
    pub fn is_main(&self) -> bool {
        self.local.is_some()
    }

    /// Every user name this node's main role knows, sorted; `None` when
    /// this node is not a main node (the client protocol has no listing).
    pub fn users(&self) -> Option<Vec<String>> {
        self.local.as_ref().map(|main| main.users())
    }

    /// The backends whose user list this node's main role has not received
    /// yet (node ids); empty when it is not a main node.
    pub fn silent_backends(&self) -> Vec<String> {
        self.local
            .as_ref()
            .map(|main| main.silent_backends())
            .unwrap_or_default()
    }

    /// Which of `names` exist, who cannot be asked, and when all the found
    /// users are free. The names are checked (and de-duplicated, first
    /// occurrence kept) as the seed's client checks them.
    pub async fn common<S: AsRef<str>>(&self, names: &[S]) -> Result<Common, MeetCallError> {
        let request = self
            .metrics
            .begin(observe::SERVICE, observe::WEB, kinds::QUERY, None);
        let result = self
            .unobserved_common(names)
            .instrument(request.span().clone())
            .await;
        request.finish(match &result {
            Ok(common) => observe::query_outcome(common),
            Err(error) => observe::call_outcome(error),
        });
        result
    }

    async fn unobserved_common<S: AsRef<str>>(&self, names: &[S]) -> Result<Common, MeetCallError> {
        let names = check_names(names.iter().map(AsRef::as_ref))?;
        if let Some(main) = &self.local {
            return main.common(names).await.map_err(MeetCallError::Failed);
        }
        let servers = self.remote()?;
        blocking(move || {
            let mut conn = Connection::open(servers)?;
            ask(&mut conn, names)
        })
        .await
    }

    /// Registers `slot` as a meeting of `names`, if it lies inside their
    /// common free time now; on every backend involved, or on none.
    /// Returns the users it was registered for (the found names, in
    /// request order).
    pub async fn register<S: AsRef<str>>(
        &self,
        slot: Interval,
        names: &[S],
    ) -> Result<Vec<String>, RegisterError> {
        let request = self
            .metrics
            .begin(observe::SERVICE, observe::WEB, kinds::REGISTER, None);
        let result = self
            .unobserved_register(slot, names)
            .instrument(request.span().clone())
            .await;
        request.finish(observe::register_outcome(&result));
        result
    }

    async fn unobserved_register<S: AsRef<str>>(
        &self,
        slot: Interval,
        names: &[S],
    ) -> Result<Vec<String>, RegisterError> {
        let names = check_names(names.iter().map(AsRef::as_ref)).map_err(MeetCallError::from)?;
        if let Some(main) = &self.local {
            let common = main.common(names).await.map_err(MeetCallError::Failed)?;
            let users = admit(slot, common)?;
            return match main.register(slot, users.clone()).await {
                Reply::Registered(_) => Ok(users),
                Reply::Error(message) => Err(RegisterError::Refused(message)),
                Reply::Result { .. } => Err(RegisterError::Refused(
                    "the Main Server answered a registration with a query result".into(),
                )),
            };
        }
        let servers = self.remote().map_err(RegisterError::from)?;
        blocking(move || {
            let mut conn = Connection::open(servers).map_err(MeetCallError::from)?;
            let users = admit(slot, ask(&mut conn, names)?)?;
            match conn
                .exchange(&Request::Register(slot, users.clone()))
                .map_err(MeetCallError::from)?
            {
                Reply::Registered(_) => Ok(users),
                Reply::Error(message) => Err(RegisterError::Refused(message)),
                Reply::Result { .. } => Err(RegisterError::Call(MeetCallError::Client(
                    ProtocolError::BadReply("result (to a registration)".into()).into(),
                ))),
            }
        })
        .await
    }

    /// The other main nodes, or [`MeetCallError::NoMain`].
    fn remote(&self) -> Result<MainServers, MeetCallError> {
        MainServers::new(self.others.clone()).map_err(|_| MeetCallError::NoMain)
    }
}

/// Runs blocking client code off the async threads.
async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<MeetCallError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(MeetCallError::Failed(format!("the meet client task failed: {e}")).into()),
    }
}

/// One query over the client protocol, its reply as a [`Common`].
fn ask(conn: &mut Connection, names: Vec<String>) -> Result<Common, MeetCallError> {
    match conn.exchange(&Request::Query(names.clone()))? {
        Reply::Result {
            missing,
            found,
            slots,
        } => Ok(Common {
            found,
            missing,
            unreachable: Vec::new(),
            slots,
        }),
        Reply::Error(message) => match parse_unreachable(&message) {
            Some((missing, unreachable)) => {
                // The line names the others; the rest of the request exists.
                let named = |n: &String| {
                    missing.contains(n) || unreachable.iter().any(|u| u.users.contains(n))
                };
                Ok(Common {
                    found: names.iter().filter(|n| !named(n)).cloned().collect(),
                    missing,
                    unreachable,
                    slots: None,
                })
            }
            None => Err(MeetCallError::Failed(message)),
        },
        Reply::Registered(_) => {
            Err(ProtocolError::BadReply("registered (to a query)".into()).into())
        }
    }
}

/// The users a registration of `slot` is for, if `common` allows it: all
/// found and reachable, and `slot` inside one recommended interval.
fn admit(slot: Interval, common: Common) -> Result<Vec<String>, RegisterError> {
    if !common.missing.is_empty() {
        return Err(RegisterError::Missing(common.missing));
    }
    if !common.unreachable.is_empty() {
        return Err(RegisterError::Unreachable(common.unreachable));
    }
    let slots = common.slots.unwrap_or_default();
    if !slots.covers(&slot) {
        return Err(RegisterError::NotInCommon {
            slot,
            common: slots,
            users: common.found,
        });
    }
    Ok(common.found)
}

/// Reads back an `error` reply written by
/// [`lines::unreachable_reply`]: the names that do not exist and the
/// unreachable groups. `None` for any other error text.
pub fn parse_unreachable(text: &str) -> Option<(Vec<String>, Vec<Unreachable>)> {
    let parts: Vec<&str> = text.split("; ").collect();
    let (_then, parts) = parts.split_last()?;
    let list = |s: &str| -> Vec<String> { s.split(", ").map(str::to_string).collect() };
    let mut missing = Vec::new();
    let mut unreachable = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i == 0
            && let Some(names) = part.strip_suffix(" do not exist")
        {
            missing = list(names);
            continue;
        }
        let (users, why) = part.split_once(" unreachable (")?;
        let why = why.strip_suffix(')')?;
        let reason = if let Some(server) = why
            .strip_prefix("Server ")
            .and_then(|s| s.strip_suffix(" did not answer"))
        {
            Reason::NoAnswer {
                server: server.to_string(),
            }
        } else {
            let silent = why.strip_prefix("no username list yet from Server ")?;
            let (init, last) = match silent.rsplit_once(" and ") {
                Some((init, last)) => (list(init), last.to_string()),
                None => (Vec::new(), silent.to_string()),
            };
            let mut silent = init;
            silent.push(last);
            Reason::NoList { silent }
        };
        unreachable.push(Unreachable {
            users: list(users),
            reason,
        });
    }
    if unreachable.is_empty() {
        return None;
    }
    Some((missing, unreachable))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_unreachable_reply_reads_back_as_written() {
        let common = Common {
            found: names(&["eliana"]),
            missing: names(&["luis"]),
            unreachable: vec![
                Unreachable {
                    users: names(&["bob", "amy"]),
                    reason: Reason::NoAnswer { server: "B".into() },
                },
                Unreachable {
                    users: names(&["ghost"]),
                    reason: Reason::NoList {
                        silent: names(&["C", "D", "E"]),
                    },
                },
            ],
            slots: None,
        };
        let Reply::Error(text) = common.to_reply() else {
            panic!("an unreachable answer is an error line");
        };
        assert_eq!(
            text,
            "luis do not exist; bob, amy unreachable (Server B did not answer); \
             ghost unreachable (no username list yet from Server C, D and E); try again later"
        );
        let (missing, unreachable) = parse_unreachable(&text).unwrap();
        assert_eq!(missing, common.missing);
        assert_eq!(unreachable, common.unreachable);

        let alone = "bob unreachable (Server B did not answer); try again later";
        let (missing, unreachable) = parse_unreachable(alone).unwrap();
        assert!(missing.is_empty());
        assert_eq!(unreachable[0].users, names(&["bob"]));
    }

    #[test]
    fn other_error_lines_are_not_read_as_unreachable() {
        for text in [
            "\"Bob\" is not a valid username: use lowercase letters a-z only",
            "Server A gave an unreadable answer; try again",
            "luis do not exist; try again later",
            "",
        ] {
            assert_eq!(parse_unreachable(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_registration_must_lie_inside_one_recommended_interval() {
        let slots = |v: &[(u32, u32)]| {
            SlotList::from_sorted(
                v.iter()
                    .map(|&(s, e)| Interval::new(s, e).unwrap())
                    .collect(),
            )
            .unwrap()
        };
        let common = Common {
            found: names(&["eliana", "theodore"]),
            slots: Some(slots(&[(1, 3), (8, 10)])),
            ..Common::default()
        };
        let at = |s, e| Interval::new(s, e).unwrap();
        for ok in [at(1, 2), at(2, 3), at(1, 3), at(8, 10)] {
            assert_eq!(admit(ok, common.clone()).unwrap(), common.found);
        }
        for bad in [at(2, 4), at(3, 8), at(0, 1)] {
            assert!(matches!(
                admit(bad, common.clone()),
                Err(RegisterError::NotInCommon { .. })
            ));
        }
        let missing = Common {
            missing: names(&["luis"]),
            ..common.clone()
        };
        assert_eq!(
            admit(at(1, 2), missing).unwrap_err().to_string(),
            "luis do not exist"
        );
        let nobody = Common::default();
        assert!(matches!(
            admit(at(1, 2), nobody),
            Err(RegisterError::NotInCommon { .. })
        ));
    }
}
