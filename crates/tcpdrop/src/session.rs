//! Listing and the safe drop procedure (SPEC §3), over one diag socket.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::net::{Ipv6Addr, SocketAddr};
use std::ops::ControlFlow;
use std::os::fd::AsFd;

use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};
use sockdiag::{Client, DumpRequest, TcpState};

use crate::conn::{Connection, Family, StateSet};
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
    /// A callback for [`Session::drop_where_each`] that fills this report.
    fn collector(&mut self) -> impl FnMut(Connection, Outcome, bool) + '_ {
        |conn, outcome, collateral| {
            if collateral {
                self.collateral.push(conn);
            } else {
                self.results.push((conn, outcome));
            }
        }
    }

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

    /// The interface names of this session's namespace, to look up while
    /// the session itself is busy (streaming a dump).
    pub fn interface_names(&self) -> Result<InterfaceNames, Error> {
        let fd = rustix::io::fcntl_dupfd_cloexec(&self.client, 0)
            .map_err(|errno| Error::Io(errno.into()))?;
        Ok(InterfaceNames { fd })
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
        self.dump(query, Narrow::default(), visit)
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
        // A filter of port equalities is the kernel's own port match, which
        // costs less per socket than a program; anything else runs as one.
        let program = filter
            .ports()
            .map_or_else(|| filter.bytecode(false), |_| None);
        let narrow = Narrow {
            program: program.as_ref().map(|p| p.as_bytes()),
            ports: filter.ports().unwrap_or_default(),
        };
        self.dump(&query, narrow, |conn| {
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
        narrow: Narrow<'_>,
        mut visit: impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let tables = query.tables();
        if tables.len() > 1 && self.one_walk {
            match self.dump_table(None, query, narrow, &mut visit) {
                Ok(_) => return Ok(()),
                Err(failure) if !failure.visited && refuses_request(&failure.error) => {
                    self.one_walk = false;
                }
                Err(failure) => return Err(Error::from_diag(failure.error)),
            }
        }
        for &table in tables {
            match self.dump_table(Some(table), query, narrow, &mut visit) {
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
        narrow: Narrow<'_>,
        visit: &mut impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, DumpFailure> {
        let family = table.unwrap_or(sockdiag::Family::Inet);
        let mut request = DumpRequest::tcp(family, query.states.kernel_mask());
        request.bytecode = narrow.program.map(<[u8]>::to_vec);
        (request.sport, request.dport) = narrow.ports;
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
        let mut held = Targets::default();
        for conn in &targets {
            held.push(conn);
        }
        drop(targets);
        let mut results = Vec::with_capacity(held.len());
        self.destroy_targets(&held, |conn, outcome| results.push((conn, outcome)));
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

    /// Destroy `targets` and hand each, with its outcome, to `emit`, in
    /// their order; without the look afterwards that tells a closed row
    /// from a replaced one.
    fn destroy_targets(&mut self, targets: &Targets, mut emit: impl FnMut(Connection, Outcome)) {
        let ids = &targets.ids;
        let mut results = Vec::with_capacity(ids.len());
        // The first request goes alone: if the kernel refuses it for lack of
        // privilege or support, nothing more is sent and the rest fail alike.
        // (A TIME-WAIT row may be refused for its state alone before Linux 6.0.)
        let (head, tail) = ids.split_at(ids.len().min(1));
        let mut lost = self.client.destroy_batch(head, &mut results).err();
        let first_state = targets.extra.first().map(|e| e.state);
        let refusal = match (results.first(), first_state) {
            (Some(Err(err @ sockdiag::Error::PermissionDenied)), _) => err.errno(),
            (Some(Err(err @ sockdiag::Error::NotSupported { .. })), Some(first))
                if first != TcpState::TimeWait =>
            {
                err.errno()
            }
            _ => None,
        };
        if lost.is_none() && refusal.is_none() {
            lost = self.destroy_sharded(tail, &mut results);
        }

        // A row the kernel no longer found whose other end was dropped in
        // this run was closed by that drop's reset. Look the other ends up
        // only when there is such a row.
        let mut dropped_ends: Vec<(End, End)> = Vec::new();
        if results
            .iter()
            .any(|r| matches!(r, Err(sockdiag::Error::NotFound { .. })))
        {
            dropped_ends = ids
                .iter()
                .zip(&results)
                .filter(|(_, r)| r.is_ok())
                .map(|((family, id), _)| ends(*family, id))
                .collect();
            dropped_ends.sort_unstable();
        }
        let mut answers = results.into_iter();
        for (i, (family, id)) in ids.iter().enumerate() {
            let answer = answers.next();
            let Some(conn) = targets.extra.get(i).and_then(|e| e.connection(*family, id)) else {
                continue;
            };
            let outcome = match answer {
                Some(Ok(())) => Outcome::Dropped,
                Some(Err(sockdiag::Error::NotFound { stale })) => {
                    let (local, remote) = ends(*family, id);
                    if dropped_ends.binary_search(&(remote, local)).is_ok() {
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
            emit(conn, outcome);
        }
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
    ///
    /// The whole report is built in memory; [`Session::drop_where_each`]
    /// hands each outcome over as it is known instead.
    pub fn drop_where(
        &mut self,
        query: &Query,
        options: DropOptions,
        choose: impl FnMut(&Connection) -> bool,
    ) -> Result<DropReport, Error> {
        let mut report = DropReport::default();
        self.drop_rounds(query, None, options, choose, report.collector())?;
        Ok(report)
    }

    /// [`Session::drop_where`], handing each socket to `on_outcome` as soon
    /// as its outcome is known, rather than building a report: a drop of
    /// many sockets then holds only what it needs to finish (their ids, and
    /// the loopback peers it may have reset).
    ///
    /// `on_outcome(conn, outcome, collateral)` is called once per socket:
    /// for the chosen ones, round after round as they are dropped (a
    /// [`GoneReason::Closed`] one at the end, once a last look has told it
    /// from a replaced one), then for the collateral (`collateral` true,
    /// [`GoneReason::ResetByPeerDrop`]).
    pub fn drop_where_each(
        &mut self,
        query: &Query,
        options: DropOptions,
        choose: impl FnMut(&Connection) -> bool,
        on_outcome: impl FnMut(Connection, Outcome, bool),
    ) -> Result<DropCounts, Error> {
        self.drop_rounds(query, None, options, choose, on_outcome)
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
        choose: impl FnMut(&Connection) -> bool,
    ) -> Result<DropReport, Error> {
        let mut report = DropReport::default();
        self.drop_matching_each(query, filter, options, choose, report.collector())?;
        Ok(report)
    }

    /// [`Session::drop_matching`], handing each outcome to `on_outcome` as
    /// [`Session::drop_where_each`] does.
    pub fn drop_matching_each(
        &mut self,
        query: &Query,
        filter: &Filter,
        options: DropOptions,
        mut choose: impl FnMut(&Connection) -> bool,
        on_outcome: impl FnMut(Connection, Outcome, bool),
    ) -> Result<DropCounts, Error> {
        self.drop_rounds(
            query,
            Some(filter),
            options,
            |c| filter.matches(c) && choose(c),
            on_outcome,
        )
    }

    fn drop_rounds(
        &mut self,
        query: &Query,
        filter: Option<&Filter>,
        options: DropOptions,
        mut choose: impl FnMut(&Connection) -> bool,
        mut on_outcome: impl FnMut(Connection, Outcome, bool),
    ) -> Result<DropCounts, Error> {
        // What to dump: the selection and the sockets that may be its
        // loopback peers (whose other end the filter matches). Without a
        // program, everything. A filter of port equalities is asked for as
        // the kernel's port match instead, which costs a dump about a third
        // less; it leaves the peers out, so they are looked up one by one
        // by their tuples (a hash lookup each, not a walk).
        let ports = filter.and_then(Filter::ports);
        let by_lookup = ports.is_some();
        let program = filter.filter(|_| !by_lookup).and_then(|f| {
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
        let narrow = Narrow {
            program: program.as_deref(),
            ports: ports.unwrap_or_default(),
        };
        let mut counts = DropCounts::default();
        let mut count = |outcome: &Outcome| match outcome {
            Outcome::Dropped => counts.dropped += 1,
            Outcome::Gone(_) => counts.gone += 1,
            Outcome::Failed(_) => counts.failed += 1,
        };
        // Cookies of the sockets already given an outcome.
        let mut decided: HashSet<u64> = HashSet::new();
        // Loopback peers of chosen sockets, sorted by their ends, and their
        // cookies.
        let mut peers: Vec<Peer> = Vec::new();
        let mut peer_cookies: HashSet<u64> = HashSet::new();
        // Rows found closed: held to the end, when a look tells whether a
        // newer socket holds their tuple.
        let mut closed: Vec<(Connection, Outcome)> = Vec::new();
        let mut idle = 0;
        // The last dump's answers about the peers and the closed rows, if
        // nothing was dropped after it: then it is the look afterwards.
        let mut last_look: Option<Look> = None;
        for round in 0..MAX_ROUNDS {
            let mut targets = Targets::default();
            // Sockets not chosen, not listeners: their other end may be.
            let mut candidates: Vec<Peer> = Vec::new();
            let mut look = (round > 0 && !by_lookup).then(|| Look::new(&mut peers, &closed));
            self.dump(&all, narrow, |conn| {
                if let Some(look) = &mut look {
                    look.see(&mut peers, &conn);
                }
                if decided.contains(&conn.cookie) {
                    return ControlFlow::Continue(());
                }
                let chosen = query.admits(&conn)
                    && (options.listeners || !conn.is_listener())
                    && choose(&conn);
                if chosen {
                    targets.push(&conn);
                } else if !conn.is_listener() && !peer_cookies.contains(&conn.cookie) {
                    candidates.push(Peer::new(&conn));
                }
                ControlFlow::Continue(())
            })?;
            if targets.is_empty() {
                last_look = look;
                break;
            }
            // Keep the candidates whose other end is a target.
            candidates.sort_unstable_by_key(Peer::ends);
            let mut keep = vec![false; candidates.len()];
            for (family, id) in &targets.ids {
                let (local, remote) = ends(*family, id);
                for i in equal_range(&candidates, &(remote, local)) {
                    if let Some(k) = keep.get_mut(i) {
                        *k = true;
                    }
                }
            }
            let mut kept = keep.into_iter();
            candidates.retain(|_| kept.next().unwrap_or(false));
            peer_cookies.extend(candidates.iter().map(|c| c.cookie()));
            peers.append(&mut candidates);
            drop(candidates);
            peers.sort_unstable_by_key(Peer::ends);
            decided.extend(targets.ids.iter().map(|(_, id)| id.cookie));
            if by_lookup {
                self.find_peers(&targets, &decided, &mut peer_cookies, &mut peers)?;
                peers.sort_unstable_by_key(Peer::ends);
            }

            let mut dropped = 0usize;
            let mut refused = false;
            let mut first = true;
            self.destroy_targets(&targets, |conn, outcome| {
                if first {
                    first = false;
                    refused = matches!(
                        outcome,
                        Outcome::Failed(Error::AccessDenied(_) | Error::NotSupported)
                    );
                }
                if let Outcome::Dropped = outcome {
                    dropped += 1;
                    // Its loopback peer, if one was seen, was reset by it.
                    let key = (end(&conn.remote), end(&conn.local));
                    for i in equal_range(&peers, &key) {
                        if let Some(peer) = peers.get_mut(i) {
                            peer.other_end_dropped = true;
                        }
                    }
                }
                if let Outcome::Gone(GoneReason::Closed) = outcome {
                    closed.push((conn, outcome));
                } else {
                    count(&outcome);
                    on_outcome(conn, outcome, false);
                }
            });
            drop(targets);
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

        if by_lookup {
            if !peers.is_empty() || !closed.is_empty() {
                last_look = Some(self.look_up(&mut peers, &closed)?);
            }
        } else if (!peers.is_empty() || !closed.is_empty()) && last_look.is_none() {
            // One look afterwards serves both questions: which peers the
            // resets closed, and which "gone" tuples a newer socket holds.
            // Only the sockets asked about are remembered.
            let mut look = Look::new(&mut peers, &closed);
            self.dump(&all, narrow, |conn| {
                look.see(&mut peers, &conn);
                ControlFlow::Continue(())
            })?;
            last_look = Some(look);
        }
        if let Some(look) = &last_look {
            mark_replaced(&mut closed, &look.now);
        }
        for (conn, outcome) in closed {
            count(&outcome);
            on_outcome(conn, outcome, false);
        }
        if last_look.is_some() {
            // The collateral: peers whose other end was dropped and that
            // are gone now.
            for peer in peers.iter().filter(|p| p.other_end_dropped && !p.alive) {
                if let Some(conn) = peer.connection() {
                    counts.collateral += 1;
                    on_outcome(conn, Outcome::Gone(GoneReason::ResetByPeerDrop), true);
                }
            }
        }
        Ok(counts)
    }

    /// The loopback peers of `targets` not yet known, found by looking up
    /// each one's tuple reversed (a dump pinned to the targets' ports does
    /// not list them): connections, not listeners (the kernel's lookup falls
    /// back to one), not chosen themselves.
    fn find_peers(
        &mut self,
        targets: &Targets,
        decided: &HashSet<u64>,
        peer_cookies: &mut HashSet<u64>,
        peers: &mut Vec<Peer>,
    ) -> Result<(), Error> {
        let reversed: Vec<(sockdiag::Family, sockdiag::SockId)> = targets
            .ids
            .iter()
            .map(|(family, id)| {
                let other = sockdiag::SockId {
                    sport: id.dport,
                    dport: id.sport,
                    src: id.dst,
                    dst: id.src,
                    ifindex: id.ifindex,
                    cookie: sockdiag::INET_DIAG_NOCOOKIE,
                };
                (*family, other)
            })
            .collect();
        let mut found = Vec::with_capacity(reversed.len());
        self.client
            .lookup_batch(&reversed, &mut found)
            .map_err(Error::from_diag)?;
        drop(reversed);
        for ((family, id), answer) in targets.ids.iter().zip(found) {
            let Ok(Some(record)) = answer else {
                continue;
            };
            let Some(conn) = Connection::from_diag(&record) else {
                continue;
            };
            if conn.is_listener()
                || decided.contains(&conn.cookie)
                || peer_cookies.contains(&conn.cookie)
            {
                continue;
            }
            let (local, remote) = ends(*family, id);
            if (end(&conn.local), end(&conn.remote)) != (remote, local) {
                continue;
            }
            peer_cookies.insert(conn.cookie);
            peers.push(Peer::new(&conn));
        }
        Ok(())
    }

    /// The look after the drops by lookups, for a drop whose dumps were
    /// pinned to ports: which peers are still there (same tuple, same
    /// cookie), and who holds the tuples of the rows found closed.
    fn look_up(
        &mut self,
        peers: &mut [Peer],
        closed: &[(Connection, Outcome)],
    ) -> Result<Look, Error> {
        let mut look = Look::new(peers, closed);
        let mut asked: Vec<(sockdiag::Family, sockdiag::SockId)> =
            peers.iter().map(|p| (p.family, p.id)).collect();
        asked.extend(closed.iter().map(|(c, _)| {
            let id = sockdiag::SockId {
                cookie: sockdiag::INET_DIAG_NOCOOKIE,
                ..c.sock_id()
            };
            (c.socket_family(), id)
        }));
        let mut answers = Vec::with_capacity(asked.len());
        self.client
            .lookup_batch(&asked, &mut answers)
            .map_err(Error::from_diag)?;
        let mut answers = answers.into_iter();
        for peer in peers.iter_mut() {
            peer.alive = match answers.next() {
                Some(Ok(Some(record))) => record.id.cookie == peer.cookie(),
                Some(Ok(None)) => false,
                // No answer: never claim that a drop reset it.
                _ => true,
            };
        }
        for (conn, _) in closed {
            let Some(Ok(Some(record))) = answers.next() else {
                continue;
            };
            if let Some(now) = Connection::from_diag(&record) {
                if (now.local, now.remote) == (conn.local, conn.remote) {
                    look.now.insert((conn.local, conn.remote), now.cookie);
                }
            }
        }
        Ok(look)
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

/// Interface names of one network namespace ([`Session::interface_names`]).
#[derive(Debug)]
pub struct InterfaceNames {
    /// A socket of that namespace, for `SIOCGIFNAME`.
    fd: std::os::fd::OwnedFd,
}

impl InterfaceNames {
    /// The name of the interface with index `index`, if there is one.
    pub fn name(&self, index: u32) -> Option<String> {
        rustix::net::netdevice::index_to_name(&self.fd, index).ok()
    }
}

/// The counts of a drop whose outcomes were handed over one by one
/// ([`Session::drop_where_each`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Chosen sockets the kernel aborted.
    pub dropped: usize,
    /// Chosen sockets that were no longer there.
    pub gone: usize,
    /// Chosen sockets that could not be dropped.
    pub failed: usize,
    /// Sockets not chosen that the drops reset (loopback peers).
    pub collateral: usize,
}

impl DropCounts {
    /// How many sockets were chosen: dropped, gone and failed.
    pub fn chosen(&self) -> usize {
        self.dropped
            .saturating_add(self.gone)
            .saturating_add(self.failed)
    }
}

/// One end of a connection, as its address compares (see [`end`]).
type End = (bool, [u8; 16], u16, u32);

/// An end as a key that compares as the [`SocketAddr`] does: IPv6 or not,
/// the address, the port and (IPv6) the scope.
fn end(addr: &SocketAddr) -> End {
    match addr {
        SocketAddr::V4(v4) => {
            let mut ip = [0; 16];
            if let Some(head) = ip.get_mut(..4) {
                head.copy_from_slice(&v4.ip().octets());
            }
            (false, ip, v4.port(), 0)
        }
        SocketAddr::V6(v6) => (true, v6.ip().octets(), v6.port(), v6.scope_id()),
    }
}

/// The local and remote end of the socket `id` of `family`, as
/// [`Connection::from_diag`] shows them (a v4-mapped pair as IPv4), without
/// building the connection.
fn ends(family: sockdiag::Family, id: &sockdiag::SockId) -> (End, End) {
    let v4 = |raw: &[u8; 16], port: u16| {
        let mut ip = [0; 16];
        if let (Some(head), Some(addr)) = (ip.get_mut(..4), raw.get(..4)) {
            head.copy_from_slice(addr);
        }
        (false, ip, port, 0)
    };
    match family {
        sockdiag::Family::Inet => (v4(&id.src, id.sport), v4(&id.dst, id.dport)),
        sockdiag::Family::Inet6 => {
            let (l, r) = (Ipv6Addr::from(id.src), Ipv6Addr::from(id.dst));
            match (l.to_ipv4_mapped(), r.to_ipv4_mapped()) {
                (Some(l4), Some(r4)) => (v4(&ipv4_raw(l4), id.sport), v4(&ipv4_raw(r4), id.dport)),
                _ => (
                    (true, id.src, id.sport, id.ifindex),
                    (true, id.dst, id.dport, id.ifindex),
                ),
            }
        }
    }
}

fn ipv4_raw(ip: std::net::Ipv4Addr) -> [u8; 16] {
    let mut raw = [0; 16];
    if let Some(head) = raw.get_mut(..4) {
        head.copy_from_slice(&ip.octets());
    }
    raw
}

/// The indices of the `peers` (sorted by their ends) whose ends are `key`.
fn equal_range(peers: &[Peer], key: &(End, End)) -> std::ops::Range<usize> {
    let start = peers.partition_point(|p| p.ends() < *key);
    let end = peers.partition_point(|p| p.ends() <= *key);
    start..end.max(start)
}

/// What a report needs of a socket besides its id.
#[derive(Clone, Copy, Debug)]
struct Extra {
    state: TcpState,
    recv_q: u32,
    send_q: u32,
    uid: u32,
    inode: u32,
}

impl Extra {
    fn of(conn: &Connection) -> Extra {
        Extra {
            state: conn.kernel_state,
            recv_q: conn.recv_q,
            send_q: conn.send_q,
            uid: conn.uid,
            inode: conn.inode,
        }
    }

    /// The connection the socket `id` of `family` with these details is.
    fn connection(&self, family: sockdiag::Family, id: &sockdiag::SockId) -> Option<Connection> {
        Connection::from_diag(&sockdiag::InetDiagMsg {
            family,
            state: self.state,
            timer: 0,
            retrans: 0,
            id: *id,
            expires: 0,
            rqueue: self.recv_q,
            wqueue: self.send_q,
            uid: self.uid,
            inode: self.inode,
            shutdown: None,
            v6only: None,
            tcp_info: None,
        })
    }
}

/// The sockets a round will destroy: their ids, as the destroy requests
/// name them, beside what their report needs. About 80 bytes a socket,
/// where a [`Connection`] and its id would take 170; a drop of every
/// connection holds one per socket.
#[derive(Default)]
struct Targets {
    ids: Vec<(sockdiag::Family, sockdiag::SockId)>,
    extra: Vec<Extra>,
}

impl Targets {
    fn push(&mut self, conn: &Connection) {
        self.ids.push((conn.socket_family(), conn.sock_id()));
        self.extra.push(Extra::of(conn));
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A socket that may be the loopback peer of a chosen one, held compactly
/// to the look after the drops.
#[derive(Clone, Copy, Debug)]
struct Peer {
    family: sockdiag::Family,
    id: sockdiag::SockId,
    extra: Extra,
    /// Its other end was dropped.
    other_end_dropped: bool,
    /// The last look saw it (same tuple, same cookie).
    alive: bool,
}

impl Peer {
    fn new(conn: &Connection) -> Peer {
        Peer {
            family: conn.socket_family(),
            id: conn.sock_id(),
            extra: Extra::of(conn),
            other_end_dropped: false,
            alive: false,
        }
    }

    fn ends(&self) -> (End, End) {
        ends(self.family, &self.id)
    }

    fn cookie(&self) -> u64 {
        self.id.cookie
    }

    fn connection(&self) -> Option<Connection> {
        self.extra.connection(self.family, &self.id)
    }
}

/// What a dump after drops says about the sockets a drop asks about: which
/// of the peers are still there (their `alive`), and who holds the tuples
/// of rows found closed.
struct Look {
    closed: HashSet<(SocketAddr, SocketAddr)>,
    now: HashMap<(SocketAddr, SocketAddr), u64>,
}

impl Look {
    /// Sorts `peers` by their ends and marks none alive yet.
    fn new(peers: &mut [Peer], closed: &[(Connection, Outcome)]) -> Look {
        peers.sort_unstable_by_key(Peer::ends);
        for peer in peers.iter_mut() {
            peer.alive = false;
        }
        Look {
            closed: closed.iter().map(|(c, _)| (c.local, c.remote)).collect(),
            now: HashMap::new(),
        }
    }

    fn see(&mut self, peers: &mut [Peer], conn: &Connection) {
        if !peers.is_empty() {
            let key = (end(&conn.local), end(&conn.remote));
            for i in equal_range(peers, &key) {
                if let Some(peer) = peers.get_mut(i) {
                    if peer.cookie() == conn.cookie {
                        peer.alive = true;
                    }
                }
            }
        }
        if !self.closed.is_empty() {
            let key = (conn.local, conn.remote);
            if self.closed.contains(&key) {
                self.now.insert(key, conn.cookie);
            }
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

/// How a dump is narrowed in the kernel: by a filter program, and by the
/// ports of the request (0 for any).
#[derive(Clone, Copy, Debug, Default)]
struct Narrow<'a> {
    program: Option<&'a [u8]>,
    ports: (u16, u16),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(family: sockdiag::Family, src: [u8; 16], dst: [u8; 16], ifindex: u32) -> Connection {
        Connection::from_diag(&sockdiag::InetDiagMsg {
            family,
            state: TcpState::Established,
            timer: 0,
            retrans: 0,
            id: sockdiag::SockId {
                sport: 41000,
                dport: 8080,
                src,
                dst,
                ifindex,
                cookie: 0x1234_5678_9abc,
            },
            expires: 0,
            rqueue: 7,
            wqueue: 9,
            uid: 1000,
            inode: 4242,
            shutdown: None,
            v6only: None,
            tcp_info: None,
        })
        .unwrap()
    }

    fn samples() -> Vec<Connection> {
        let v4 = |a: [u8; 4]| {
            let mut raw = [0; 16];
            raw[..4].copy_from_slice(&a);
            raw
        };
        let mapped = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets();
        let v6 = |last: u8| {
            let mut raw = [0; 16];
            raw[0] = 0xfe;
            raw[1] = 0x80;
            raw[15] = last;
            raw
        };
        vec![
            record(
                sockdiag::Family::Inet,
                v4([127, 0, 0, 1]),
                v4([127, 0, 1, 2]),
                0,
            ),
            record(
                sockdiag::Family::Inet6,
                mapped([127, 0, 0, 1]),
                mapped([10, 0, 0, 9]),
                0,
            ),
            record(sockdiag::Family::Inet6, v6(1), v6(9), 3),
            record(sockdiag::Family::Inet6, mapped([127, 0, 0, 1]), v6(9), 0),
        ]
    }

    #[test]
    fn held_sockets_give_back_the_connection_they_were_made_from() {
        for conn in samples() {
            assert_eq!(Peer::new(&conn).connection().as_ref(), Some(&conn));
            let mut targets = Targets::default();
            targets.push(&conn);
            let (family, id) = targets.ids[0];
            assert_eq!(
                targets.extra[0].connection(family, &id).as_ref(),
                Some(&conn)
            );
        }
    }

    #[test]
    fn ends_of_an_id_compare_as_the_connection_addresses_do() {
        let conns = samples();
        for a in &conns {
            let (local, remote) = ends(a.socket_family(), &a.sock_id());
            assert_eq!((local, remote), (end(&a.local), end(&a.remote)), "{a:?}");
            for b in &conns {
                let (bl, br) = ends(b.socket_family(), &b.sock_id());
                assert_eq!(local == bl, a.local == b.local, "{a:?} {b:?}");
                assert_eq!(remote == br, a.remote == b.remote, "{a:?} {b:?}");
                assert_eq!(
                    (local, remote).cmp(&(bl, br)) == std::cmp::Ordering::Equal,
                    (a.local, a.remote) == (b.local, b.remote)
                );
            }
        }
        // A v4-mapped connection and an IPv4 one with the same ends meet.
        assert_eq!(end(&conns[0].local), end(&conns[1].local));
    }

    #[test]
    fn equal_range_finds_every_peer_with_the_ends() {
        let conns = samples();
        let mut peers: Vec<Peer> = conns.iter().chain(&conns).map(Peer::new).collect();
        peers.sort_unstable_by_key(Peer::ends);
        for conn in &conns {
            let key = (end(&conn.local), end(&conn.remote));
            let found = equal_range(&peers, &key);
            let same_ends = conns
                .iter()
                .filter(|c| (c.local, c.remote) == (conn.local, conn.remote))
                .count();
            assert_eq!(found.len(), 2 * same_ends, "{conn:?}");
            assert!(found.clone().all(|i| peers[i].ends() == key));
        }
        assert!(equal_range(&peers, &(end(&conns[0].remote), end(&conns[0].local))).is_empty());
    }
}
