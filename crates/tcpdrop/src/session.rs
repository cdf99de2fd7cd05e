//! Listing and the safe drop procedure (SPEC §3), over one diag socket.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::ControlFlow;

use sockdiag::{Client, DumpRequest};

use crate::conn::{Connection, Family, State, StateSet};
use crate::error::Error;
use crate::netns::Netns;

/// How many times a dump the kernel flags as interrupted is repeated.
const DUMP_ATTEMPTS: usize = 3;

/// Which sockets a dump asks the kernel for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    /// Only this family (as shown: IPv4 includes v4-mapped); `None` for both.
    pub family: Option<Family>,
    /// Only these states.
    pub states: StateSet,
}

impl Default for Query {
    fn default() -> Query {
        Query {
            family: None,
            states: StateSet::ALL,
        }
    }
}

impl Query {
    /// Every TCP socket, both families, every state `ss -a` lists.
    pub fn all() -> Query {
        Query::default()
    }

    /// The kernel tables to dump: the IPv6 table holds the v4-mapped
    /// connections, so IPv4 needs both (SPEC §3, trap 3).
    fn tables(&self) -> &'static [sockdiag::Family] {
        match self.family {
            None | Some(Family::Ipv4) => &[sockdiag::Family::Inet, sockdiag::Family::Inet6],
            Some(Family::Ipv6) => &[sockdiag::Family::Inet6],
        }
    }

    fn admits(&self, conn: &Connection) -> bool {
        self.family.is_none_or(|f| f == conn.family) && self.states.contains(conn.state)
    }
}

/// Why a connection chosen for dropping was no longer there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoneReason {
    /// It closed between the listing and the drop (`ENOENT`).
    Closed,
    /// Its 4-tuple now belongs to a newer connection, which was left alone
    /// (the kernel refused the stale cookie: `ESTALE`).
    Replaced,
    /// It was the loopback peer of a connection dropped in the same run: the
    /// reset that drop sent closed it first.
    ResetByPeerDrop,
}

impl GoneReason {
    /// A short English explanation.
    pub fn describe(self) -> &'static str {
        match self {
            GoneReason::Closed => "closed before it could be dropped",
            GoneReason::Replaced => "its tuple now belongs to a newer connection, left untouched",
            GoneReason::ResetByPeerDrop => "reset by the drop of its other end",
        }
    }
}

/// What happened to one connection a drop chose.
#[derive(Debug)]
pub enum Outcome {
    /// The kernel aborted it: its owner sees `ECONNABORTED`.
    Dropped,
    /// It no longer existed when its turn came.
    Gone(GoneReason),
    /// The kernel refused, or the request could not be made.
    Failed(Error),
}

impl Outcome {
    /// `"dropped"`, `"gone"` or `"failed"`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Dropped => "dropped",
            Outcome::Gone(_) => "gone",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// Everything a drop did.
#[derive(Debug, Default)]
pub struct DropReport {
    /// Each chosen connection with its outcome, in the order they were dropped.
    pub results: Vec<(Connection, Outcome)>,
    /// Connections that were not chosen but were closed by a drop: loopback
    /// peers reset when their other end was aborted.
    pub collateral: Vec<Connection>,
}

impl DropReport {
    /// How many were dropped, gone and failed.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.results
            .iter()
            .fold((0, 0, 0), |(d, g, f), (_, o)| match o {
                Outcome::Dropped => (d + 1, g, f),
                Outcome::Gone(_) => (d, g + 1, f),
                Outcome::Failed(_) => (d, g, f + 1),
            })
    }
}

/// Options of a drop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropOptions {
    /// Allow LISTEN sockets to be chosen. Off, a listener is never dropped,
    /// whatever else selects it.
    pub listeners: bool,
}

/// A `NETLINK_SOCK_DIAG` socket in one network namespace, and the operations
/// on it.
#[derive(Debug)]
pub struct Session {
    client: Client,
}

impl Session {
    /// A session in the calling thread's network namespace.
    pub fn new() -> Result<Session, Error> {
        Ok(Session {
            client: Client::new().map_err(Error::from_diag)?,
        })
    }

    /// A session in the network namespace `netns`. The calling thread stays
    /// where it is; the socket is made on a helper thread that entered it.
    pub fn in_netns(netns: &Netns) -> Result<Session, Error> {
        let client = netns.run(|| Client::new().map_err(Error::from_diag))??;
        Ok(Session { client })
    }

    /// The index of the network interface `name` in this session's
    /// namespace (`SIOCGIFINDEX`), for `%scope` suffixes.
    pub fn interface_index(&self, name: &str) -> Result<u32, Error> {
        rustix::net::netdevice::name_to_index(&self.client, name).map_err(|_| {
            Error::InvalidArgument(format!(
                "unknown interface '{name}': `ip link` lists the interfaces of this namespace"
            ))
        })
    }

    /// The name of the network interface with index `index` in this
    /// session's namespace, if there is one.
    pub fn interface_name(&self, index: u32) -> Option<String> {
        rustix::net::netdevice::index_to_name(&self.client, index).ok()
    }

    /// Stream every socket `query` selects to `visit`, which may stop early.
    ///
    /// An interrupted dump is repeated from the start (up to three times) only
    /// if nothing was visited yet; otherwise it is reported.
    pub fn for_each(
        &mut self,
        query: &Query,
        mut visit: impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        for &table in query.tables() {
            let request = DumpRequest::tcp(table, query.states.kernel_mask());
            let mut visited = false;
            for attempt in 1..=DUMP_ATTEMPTS {
                let mut stop = false;
                let mut failure = None;
                for record in self.client.dump(&request).map_err(Error::from_diag)? {
                    match record {
                        Ok(record) => {
                            let Some(conn) = Connection::from_diag(&record) else {
                                continue;
                            };
                            if !query.admits(&conn) {
                                continue;
                            }
                            visited = true;
                            if visit(conn).is_break() {
                                stop = true;
                                break;
                            }
                        }
                        Err(err) => failure = Some(err),
                    }
                }
                if stop {
                    return Ok(());
                }
                match failure {
                    None => break,
                    Some(sockdiag::Error::Interrupted) if !visited && attempt < DUMP_ATTEMPTS => {}
                    Some(err) => return Err(Error::from_diag(err)),
                }
            }
        }
        Ok(())
    }

    /// Every socket `query` selects.
    pub fn list(&mut self, query: &Query) -> Result<Vec<Connection>, Error> {
        let mut out = Vec::new();
        self.for_each(query, |conn| {
            out.push(conn);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Whether this kernel can destroy sockets at all (SPEC §3, support probe).
    ///
    /// It asks to destroy a socket that cannot exist (local port 0, cookie 0,
    /// which `sock_gen_cookie` never hands out): the kernel checks for
    /// destroy support before it looks anything up, so the answer is
    /// `EOPNOTSUPP` without support and `ENOENT` with it. Needs no privilege
    /// and touches nothing.
    pub fn destroy_supported(&mut self) -> Result<bool, Error> {
        let id = sockdiag::SockId {
            sport: 0,
            dport: 0,
            src: [0; 16],
            dst: [0; 16],
            ifindex: 0,
            cookie: 0,
        };
        match self.client.destroy(sockdiag::Family::Inet, &id) {
            Err(sockdiag::Error::NotFound { .. }) => Ok(true),
            Err(sockdiag::Error::NotSupported { .. }) => Ok(false),
            // Nothing should match; if something did, the cookie check refused it.
            Ok(()) | Err(sockdiag::Error::PermissionDenied) => Ok(true),
            Err(err) => Err(Error::from_diag(err)),
        }
    }

    /// Drop exactly the connections in `targets`, rows from an earlier dump,
    /// each by its own id and cookie, and say what became of each.
    ///
    /// A row whose socket closed, or whose tuple a newer connection took, is
    /// [`Outcome::Gone`]: the cookie makes the kernel refuse instead of
    /// killing the newcomer or falling back to a listener (traps 1 and 2).
    /// Listeners in `targets` are dropped: choosing them is the caller's
    /// business ([`DropOptions::listeners`] is applied by the selecting
    /// calls). Once the kernel refuses for lack of privilege, the rest are not
    /// tried and fail the same way.
    pub fn drop_rows(&mut self, targets: Vec<Connection>) -> Vec<(Connection, Outcome)> {
        let mut results = self.destroy_rows(targets);
        if results
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Gone(GoneReason::Closed)))
        {
            if let Ok(alive) = self.alive() {
                mark_replaced(&mut results, &alive);
            }
        }
        results
    }

    /// The sockets alive now, by tuple, with their cookies.
    fn alive(&mut self) -> Result<HashMap<(SocketAddr, SocketAddr), u64>, Error> {
        let mut alive = HashMap::new();
        self.for_each(&Query::all(), |conn| {
            alive.insert((conn.local, conn.remote), conn.cookie);
            ControlFlow::Continue(())
        })?;
        Ok(alive)
    }

    /// [`Session::drop_rows`] without the look afterwards.
    fn destroy_rows(&mut self, targets: Vec<Connection>) -> Vec<(Connection, Outcome)> {
        let ids: Vec<_> = targets
            .iter()
            .map(|c| (c.socket_family(), c.sock_id()))
            .collect();
        let mut results = Vec::with_capacity(ids.len());
        // The first request goes alone: if the kernel refuses it for lack of
        // privilege or support, nothing more is sent and the rest fail alike.
        // (A TIME-WAIT row may be refused for its state alone before Linux 6.0.)
        let (head, tail) = ids.split_at(ids.len().min(1));
        let mut lost = self.client.destroy_batch(head, &mut results).err();
        let refusal = match (results.first(), targets.first()) {
            (Some(Err(err @ sockdiag::Error::PermissionDenied)), _) => err.errno(),
            (Some(Err(err @ sockdiag::Error::NotSupported { .. })), Some(first))
                if first.state != State::TimeWait =>
            {
                err.errno()
            }
            _ => None,
        };
        if lost.is_none() && refusal.is_none() {
            lost = self.client.destroy_batch(tail, &mut results).err();
        }

        let mut dropped: HashSet<(SocketAddr, SocketAddr)> = HashSet::new();
        let mut answers = results.into_iter();
        targets
            .into_iter()
            .map(|conn| {
                let outcome = match answers.next() {
                    Some(Ok(())) => {
                        dropped.insert((conn.local, conn.remote));
                        Outcome::Dropped
                    }
                    Some(Err(sockdiag::Error::NotFound { stale })) => {
                        if dropped.contains(&(conn.remote, conn.local)) {
                            Outcome::Gone(GoneReason::ResetByPeerDrop)
                        } else if stale {
                            Outcome::Gone(GoneReason::Replaced)
                        } else {
                            Outcome::Gone(GoneReason::Closed)
                        }
                    }
                    Some(Err(err)) => Outcome::Failed(Error::from_diag(err)),
                    None => Outcome::Failed(match (refusal, &lost) {
                        (Some(errno), _) => Error::from_diag(sockdiag::Error::from_errno(errno)),
                        (None, Some(err)) => Error::Netlink(format!(
                            "no answer from the kernel ({err}): it may or may not have been dropped"
                        )),
                        (None, None) => Error::Netlink("no answer from the kernel".into()),
                    }),
                };
                (conn, outcome)
            })
            .collect()
    }

    /// The safe drop procedure: dump afresh, choose the connections `query`
    /// and `choose` select (never a listener unless `options` allow it), drop
    /// each by its id and cookie, and report every socket the run touched,
    /// loopback peers reset as a side effect included.
    pub fn drop_where(
        &mut self,
        query: &Query,
        options: DropOptions,
        mut choose: impl FnMut(&Connection) -> bool,
    ) -> Result<DropReport, Error> {
        let mut targets = Vec::new();
        // Sockets not chosen whose other end was, by (local, remote): they may
        // be reset by the drop.
        let mut others: HashMap<(SocketAddr, SocketAddr), Connection> = HashMap::new();
        let mut wanted: HashSet<(SocketAddr, SocketAddr)> = HashSet::new();
        self.for_each(
            &Query {
                family: None,
                states: StateSet::ALL,
            },
            |conn| {
                let chosen = query.admits(&conn)
                    && (options.listeners || !conn.is_listener())
                    && choose(&conn);
                if chosen {
                    wanted.insert((conn.remote, conn.local));
                    targets.push(conn);
                } else if !conn.is_listener() {
                    others.insert((conn.local, conn.remote), conn);
                }
                ControlFlow::Continue(())
            },
        )?;
        others.retain(|key, _| wanted.contains(key));
        let results = self.destroy_rows(targets);
        let mut report = DropReport {
            results,
            collateral: Vec::new(),
        };
        let mut peers: Vec<Connection> = report
            .results
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Dropped))
            .filter_map(|(c, _)| others.remove(&(c.remote, c.local)))
            .collect();
        let closed = report
            .results
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Gone(GoneReason::Closed)));
        if !peers.is_empty() || closed {
            // One look afterwards serves both questions: which peers the
            // resets closed, and which "gone" tuples a newer socket holds.
            let alive = self.alive()?;
            mark_replaced(&mut report.results, &alive);
            peers.retain(|p| alive.get(&(p.local, p.remote)) != Some(&p.cookie));
            report.collateral = peers;
        }
        Ok(report)
    }

    /// Drop the one connection whose ends are `local` and `remote` (an IPv4
    /// tuple also finds a v4-mapped connection). [`Error::NotFound`] when
    /// there is none: then nothing at all is sent to the kernel, so no
    /// listener can be hit by a fallback lookup (trap 1).
    pub fn drop_tuple(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        options: DropOptions,
    ) -> Result<DropReport, Error> {
        let report = self.drop_where(&Query::all(), options, |c| c.has_tuple(&local, &remote))?;
        if report.results.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(report)
    }
}

/// The kernel answers `ENOENT` both for a socket that closed and for a
/// cookie that no longer matches the socket on the tuple (TCP's lookup folds
/// `ESTALE` into `ENOENT`), so tell them apart by looking: a "closed" row
/// whose tuple is held by a socket with another cookie was replaced.
fn mark_replaced(
    results: &mut [(Connection, Outcome)],
    alive: &HashMap<(SocketAddr, SocketAddr), u64>,
) {
    for (conn, outcome) in results.iter_mut() {
        if matches!(outcome, Outcome::Gone(GoneReason::Closed)) {
            if let Some(cookie) = alive.get(&(conn.local, conn.remote)) {
                if *cookie != conn.cookie {
                    *outcome = Outcome::Gone(GoneReason::Replaced);
                }
            }
        }
    }
}
