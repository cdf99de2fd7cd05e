//! Listing and the safe drop procedure (SPEC §3), over one diag socket.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::os::fd::AsFd;

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
use sockdiag::{Client, DumpRequest};

use crate::conn::{Connection, Family, State, StateSet};
use crate::error::Error;
use crate::filter::Filter;
use crate::netns::Netns;

/// How many times a dump the kernel flags as interrupted is repeated.
const DUMP_ATTEMPTS: usize = 3;

/// A drop re-dumps its selection and drops what still matches (a socket a
/// dump skipped, or one that appeared since), and stops after this many
/// rounds in a row that dropped nothing...
const IDLE_ROUNDS: usize = 3;
/// ... or after this many rounds in all.
const MAX_ROUNDS: usize = 8;

/// Destroys are spread over several diag sockets, one thread each, only
/// when every thread gets at least this many: below it a thread costs more
/// than it saves. (The kernel's work per destroy, the abort, the reset and
/// the owner's wake-up, runs on the sending thread's CPU.)
const MIN_PER_THREAD: usize = 2048;
/// At most this many threads destroy at once.
const MAX_THREADS: usize = 8;

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
    /// The namespace the session's sockets belong to, for the extra diag
    /// sockets of a parallel drop (`None` if it could not be opened: then
    /// drops stay on one socket).
    home: Option<File>,
    /// Extra diag sockets in the same namespace, made on the first large
    /// drop and kept.
    helpers: Vec<Client>,
    /// Both families are dumped in one walk (`TCPDIAG_GETSOCK`) until the
    /// kernel refuses that request.
    one_walk: bool,
}

impl Session {
    /// A session in the calling thread's network namespace.
    pub fn new() -> Result<Session, Error> {
        Ok(Session {
            client: Client::new().map_err(Error::from_diag)?,
            home: File::open("/proc/thread-self/ns/net").ok(),
            helpers: Vec::new(),
            one_walk: true,
        })
    }

    /// A session in the network namespace `netns`. The calling thread stays
    /// where it is; the socket is made on a helper thread that entered it.
    pub fn in_netns(netns: &Netns) -> Result<Session, Error> {
        let (client, home) = netns.run(|| {
            let client = Client::new().map_err(Error::from_diag)?;
            Ok::<_, Error>((client, File::open("/proc/thread-self/ns/net").ok()))
        })??;
        Ok(Session {
            client,
            home,
            helpers: Vec::new(),
            one_walk: true,
        })
    }

    /// Make sure there are `n` helper diag sockets in the session's
    /// namespace; fewer if they cannot be made.
    fn ensure_helpers(&mut self, n: usize) {
        let Some(home) = &self.home else { return };
        let missing = n.saturating_sub(self.helpers.len());
        if missing == 0 {
            return;
        }
        let made = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // A new thread starts in its creator's namespace, which
                    // need not be the session's: enter it only if it is not
                    // (setns needs CAP_SYS_ADMIN even for the same one).
                    let here = File::open("/proc/thread-self/ns/net").ok();
                    let same = here.is_some_and(|h| same_file(&h, home));
                    if !same
                        && move_into_link_name_space(home.as_fd(), Some(LinkNameSpaceType::Network))
                            .is_err()
                    {
                        return Vec::new();
                    }
                    (0..missing)
                        .map_while(|_| Client::new().ok())
                        .collect::<Vec<_>>()
                })
                .join()
                .unwrap_or_default()
        });
        self.helpers.extend(made);
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
        visit: impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump(query, None, visit)
    }

    /// Stream every socket `query` selects that `filter` matches to `visit`.
    ///
    /// The filter's expression runs in the kernel as `inet_diag` bytecode
    /// ([`Filter::bytecode`]), so the sockets it rejects are never copied
    /// out; each row the kernel lets through is checked again with
    /// [`Filter::matches`], the reference.
    pub fn for_each_matching(
        &mut self,
        query: &Query,
        filter: &Filter,
        mut visit: impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let query = Query {
            states: query.states.intersection(filter.states()),
            ..*query
        };
        let program = filter.bytecode(false);
        self.dump(&query, program.as_ref().map(|p| p.as_bytes()), |conn| {
            if filter.matches(&conn) {
                visit(conn)
            } else {
                ControlFlow::Continue(())
            }
        })
    }

    /// Every socket `query` selects that `filter` matches, filtered in the
    /// kernel first (see [`Session::for_each_matching`]).
    pub fn list_matching(
        &mut self,
        query: &Query,
        filter: &Filter,
    ) -> Result<Vec<Connection>, Error> {
        let mut out = Vec::new();
        self.for_each_matching(query, filter, |conn| {
            out.push(conn);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// A dump of `query`, narrowed in the kernel by `program` when given.
    ///
    /// When both families' tables are wanted, one `TCPDIAG_GETSOCK` walk
    /// returns them both: the kernel keeps IPv4 and IPv6 TCP sockets in the
    /// same hash tables, and a `SOCK_DIAG_BY_FAMILY` dump per family walks
    /// all of them twice. A kernel that refuses that request gets the two
    /// dumps instead, from then on.
    fn dump(
        &mut self,
        query: &Query,
        program: Option<&[u8]>,
        mut visit: impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let tables = query.tables();
        if tables.len() > 1 && self.one_walk {
            match self.dump_table(None, query, program, &mut visit) {
                Ok(_) => return Ok(()),
                Err(failure) if !failure.visited && refuses_request(&failure.error) => {
                    self.one_walk = false;
                }
                Err(failure) => return Err(Error::from_diag(failure.error)),
            }
        }
        for &table in tables {
            match self.dump_table(Some(table), query, program, &mut visit) {
                Ok(ControlFlow::Continue(())) => {}
                Ok(ControlFlow::Break(())) => return Ok(()),
                Err(failure) => return Err(Error::from_diag(failure.error)),
            }
        }
        Ok(())
    }

    /// One dump: of `table`, or of both families in one walk (`None`),
    /// repeated (up to [`DUMP_ATTEMPTS`] times) when the kernel flags it as
    /// interrupted before anything was visited. `Break` when `visit` stopped it.
    fn dump_table(
        &mut self,
        table: Option<sockdiag::Family>,
        query: &Query,
        program: Option<&[u8]>,
        visit: &mut impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, DumpFailure> {
        let family = table.unwrap_or(sockdiag::Family::Inet);
        let mut request = DumpRequest::tcp(family, query.states.kernel_mask());
        request.bytecode = program.map(<[u8]>::to_vec);
        let mut visited = false;
        for attempt in 1..=DUMP_ATTEMPTS {
            let mut failure = None;
            let started = match table {
                Some(_) => self.client.dump(&request),
                None => self.client.dump_both_families(&request),
            };
            let dump = started.map_err(|error| DumpFailure { error, visited })?;
            for record in dump {
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
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                    Err(err) => failure = Some(err),
                }
            }
            match failure {
                None => break,
                Some(sockdiag::Error::Interrupted) if !visited && attempt < DUMP_ATTEMPTS => {}
                Some(error) => return Err(DumpFailure { error, visited }),
            }
        }
        Ok(ControlFlow::Continue(()))
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
            lost = self.destroy_sharded(tail, &mut results);
        }
        drop(ids);

        // A row the kernel no longer found whose other end was dropped in
        // this run was closed by that drop's reset. Look the other ends up
        // only when there is such a row.
        let mut dropped_ends: Vec<(SocketAddr, SocketAddr)> = Vec::new();
        if results
            .iter()
            .any(|r| matches!(r, Err(sockdiag::Error::NotFound { .. })))
        {
            dropped_ends = targets
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_ok())
                .map(|(c, _)| (c.local, c.remote))
                .collect();
            dropped_ends.sort_unstable();
        }
        let mut answers = results.into_iter();
        targets
            .into_iter()
            .map(|conn| {
                let outcome = match answers.next() {
                    Some(Ok(())) => Outcome::Dropped,
                    Some(Err(sockdiag::Error::NotFound { stale })) => {
                        if dropped_ends
                            .binary_search(&(conn.remote, conn.local))
                            .is_ok()
                        {
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

    /// Destroy `ids`, pushing one result each onto `results` in their order:
    /// on this session's socket, or for many, in contiguous shards over
    /// helper sockets on threads of their own (one per CPU). The kernel's
    /// work for a destroy runs on the sending CPU, so shards run in
    /// parallel. Returns the failure of a socket, after which the answers of
    /// its shard's later targets are missing (and so are all that follow).
    fn destroy_sharded(
        &mut self,
        ids: &[(sockdiag::Family, sockdiag::SockId)],
        results: &mut Vec<Result<(), sockdiag::Error>>,
    ) -> Option<sockdiag::Error> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cpus.min(MAX_THREADS).min(ids.len() / MIN_PER_THREAD).max(1);
        if threads > 1 {
            self.ensure_helpers(threads - 1);
        }
        let threads = threads.min(self.helpers.len() + 1);
        if threads <= 1 {
            return self.client.destroy_batch(ids, results).err();
        }
        let per = ids.len().div_ceil(threads);
        let mut shards = ids.chunks(per);
        let mine = shards.next().unwrap_or_default();
        let client = &mut self.client;
        let helpers = &mut self.helpers;
        std::thread::scope(|scope| {
            let handles: Vec<_> = shards
                .zip(helpers.iter_mut())
                .map(|(shard, helper)| {
                    scope.spawn(move || {
                        let mut out = Vec::with_capacity(shard.len());
                        let lost = helper.destroy_batch(shard, &mut out).err();
                        (out, lost)
                    })
                })
                .collect();
            let mut lost = client.destroy_batch(mine, results).err();
            for handle in handles {
                let (out, shard_lost) = handle.join().unwrap_or_else(|_| {
                    (
                        Vec::new(),
                        Some(sockdiag::Error::Invalid("a destroy thread panicked".into())),
                    )
                });
                // Answers stay in target order: once a shard is short, the
                // rest are unknown.
                if lost.is_none() {
                    results.extend(out);
                    lost = shard_lost;
                }
            }
            lost
        })
    }

    /// The safe drop procedure: dump afresh, choose the connections `query`
    /// and `choose` select (never a listener unless `options` allow it), drop
    /// each by its id and cookie, and report every socket the run touched,
    /// loopback peers reset as a side effect included.
    ///
    /// The selection is dumped again after the drops, and what still
    /// matches is dropped in turn (a socket a dump skipped while the tables
    /// changed, or one that appeared since), until a dump finds nothing new,
    /// three rounds in a row drop nothing, or eight rounds have run. Each
    /// socket gets one outcome, however many rounds saw it.
    pub fn drop_where(
        &mut self,
        query: &Query,
        options: DropOptions,
        choose: impl FnMut(&Connection) -> bool,
    ) -> Result<DropReport, Error> {
        self.drop_rounds(query, None, options, choose)
    }

    /// [`Session::drop_where`] for the connections `filter` matches (and
    /// `choose` as well). The filter runs in the kernel as bytecode, so a
    /// drop of a few among many sockets copies out only those few (and the
    /// candidates for their loopback peers).
    pub fn drop_matching(
        &mut self,
        query: &Query,
        filter: &Filter,
        options: DropOptions,
        mut choose: impl FnMut(&Connection) -> bool,
    ) -> Result<DropReport, Error> {
        self.drop_rounds(query, Some(filter), options, |c| {
            filter.matches(c) && choose(c)
        })
    }

    fn drop_rounds(
        &mut self,
        query: &Query,
        filter: Option<&Filter>,
        options: DropOptions,
        mut choose: impl FnMut(&Connection) -> bool,
    ) -> Result<DropReport, Error> {
        // What to dump: the selection and the sockets that may be its
        // loopback peers (whose other end the filter matches). Without a
        // program, everything.
        let program = filter.and_then(|f| {
            let selection = f.bytecode(false)?;
            let peers = f.bytecode(true)?;
            let mut either = Vec::new();
            // `a or b`: a, then a jump over b, then b (see filter::bytecode).
            either.extend_from_slice(selection.as_bytes());
            let over = u16::try_from(peers.as_bytes().len() + 4).ok()?;
            either.extend_from_slice(&[1, 4]);
            either.extend_from_slice(&over.to_ne_bytes());
            either.extend_from_slice(peers.as_bytes());
            Some(either)
        });
        let all = Query {
            family: None,
            states: StateSet::ALL,
        };
        let mut report = DropReport::default();
        // Cookies of the sockets already given an outcome.
        let mut decided: HashSet<u64> = HashSet::new();
        let mut peers: Vec<Connection> = Vec::new();
        let mut peer_cookies: HashSet<u64> = HashSet::new();
        let mut idle = 0;
        // The last dump's answers about the peers and the closed rows, if
        // nothing was dropped after it: then it is the look afterwards.
        let mut last_look: Option<Look> = None;
        for round in 0..MAX_ROUNDS {
            let mut targets = Vec::new();
            // Sockets not chosen, not listeners: their other end may be.
            let mut candidates = Vec::new();
            let mut look = (round > 0).then(|| Look::new(&mut peers, &report.results));
            self.dump(&all, program.as_deref(), |conn| {
                if let Some(look) = &mut look {
                    look.see(&peers, &conn);
                }
                if decided.contains(&conn.cookie) {
                    return ControlFlow::Continue(());
                }
                let chosen = query.admits(&conn)
                    && (options.listeners || !conn.is_listener())
                    && choose(&conn);
                if chosen {
                    targets.push(conn);
                } else if !conn.is_listener() && !peer_cookies.contains(&conn.cookie) {
                    candidates.push(conn);
                }
                ControlFlow::Continue(())
            })?;
            if targets.is_empty() {
                last_look = look;
                break;
            }
            // Keep the candidates whose other end is a target.
            let mut ends: Vec<(SocketAddr, SocketAddr)> =
                targets.iter().map(|c| (c.remote, c.local)).collect();
            ends.sort_unstable();
            candidates.retain(|c| ends.binary_search(&(c.local, c.remote)).is_ok());
            drop(ends);
            peer_cookies.extend(candidates.iter().map(|c| c.cookie));
            peers.append(&mut candidates);
            drop(candidates);
            decided.extend(targets.iter().map(|c| c.cookie));

            let results = self.destroy_rows(targets);
            let refused = results.first().is_some_and(|(_, o)| {
                matches!(
                    o,
                    Outcome::Failed(Error::AccessDenied(_) | Error::NotSupported)
                )
            });
            let dropped = results
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::Dropped))
                .count();
            if report.results.is_empty() {
                report.results = results;
            } else {
                report.results.extend(results);
            }
            if refused {
                break;
            }
            idle = if dropped == 0 { idle + 1 } else { 0 };
            if idle >= IDLE_ROUNDS {
                break;
            }
        }
        drop(decided);
        drop(peer_cookies);

        let needed = !peers.is_empty()
            || report
                .results
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Gone(GoneReason::Closed)));
        if needed && last_look.is_none() {
            // One look afterwards serves both questions: which peers the
            // resets closed, and which "gone" tuples a newer socket holds.
            // Only the sockets asked about are remembered.
            let mut look = Look::new(&mut peers, &report.results);
            self.dump(&all, program.as_deref(), |conn| {
                look.see(&peers, &conn);
                ControlFlow::Continue(())
            })?;
            last_look = Some(look);
        }
        let Some(look) = last_look else {
            return Ok(report);
        };
        mark_replaced(&mut report.results, &look.now);
        // The collateral: peers whose other end was dropped and that are
        // gone now.
        let mut dropped_ends: Vec<(SocketAddr, SocketAddr)> = report
            .results
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Dropped))
            .map(|(c, _)| (c.remote, c.local))
            .collect();
        dropped_ends.sort_unstable();
        let mut alive = look.alive.into_iter();
        peers.retain(|p| {
            !alive.next().unwrap_or(false)
                && dropped_ends.binary_search(&(p.local, p.remote)).is_ok()
        });
        peers.shrink_to_fit();
        report.collateral = peers;
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

/// What a dump after drops says about the sockets a drop asks about: which
/// of the peers (sorted by their ends) are still there, and who holds the
/// tuples of rows found closed.
struct Look {
    alive: Vec<bool>,
    closed: HashSet<(SocketAddr, SocketAddr)>,
    now: HashMap<(SocketAddr, SocketAddr), u64>,
}

impl Look {
    /// Sorts `peers` by their ends, the order `alive` follows.
    fn new(peers: &mut [Connection], results: &[(Connection, Outcome)]) -> Look {
        peers.sort_unstable_by_key(|p| (p.local, p.remote));
        Look {
            alive: vec![false; peers.len()],
            closed: results
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::Gone(GoneReason::Closed)))
                .map(|(c, _)| (c.local, c.remote))
                .collect(),
            now: HashMap::new(),
        }
    }

    fn see(&mut self, peers: &[Connection], conn: &Connection) {
        let key = (conn.local, conn.remote);
        if let Ok(i) = peers.binary_search_by(|p| (p.local, p.remote).cmp(&key)) {
            if peers.get(i).is_some_and(|p| p.cookie == conn.cookie) {
                if let Some(alive) = self.alive.get_mut(i) {
                    *alive = true;
                }
            }
        }
        if self.closed.contains(&key) {
            self.now.insert(key, conn.cookie);
        }
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

/// A dump that failed, and whether it had visited any socket first (then
/// it cannot be repeated without visiting some twice).
struct DumpFailure {
    error: sockdiag::Error,
    visited: bool,
}

/// Whether a dump's error says the kernel does not serve that request
/// (`EOPNOTSUPP` without the compat handler, `EINVAL` or `ENOENT` for a
/// request type it does not know), rather than that the dump failed.
fn refuses_request(error: &sockdiag::Error) -> bool {
    matches!(
        error,
        sockdiag::Error::NotSupported { .. }
            | sockdiag::Error::Invalid(_)
            | sockdiag::Error::NotFound { .. }
    )
}

/// Whether two open files are the same (same device and inode), as two
/// opens of `/proc/thread-self/ns/net` are for one namespace.
fn same_file(a: &File, b: &File) -> bool {
    match (rustix::fs::fstat(a), rustix::fs::fstat(b)) {
        (Ok(x), Ok(y)) => x.st_dev == y.st_dev && x.st_ino == y.st_ino,
        _ => false,
    }
}
