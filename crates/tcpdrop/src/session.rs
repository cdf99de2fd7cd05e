//! A diag socket in one network namespace: dumps narrowed in the kernel,
//! and the support probe. Listing and the drop procedure, which take a
//! `Selection`, are in `drop/`.

use std::ops::ControlFlow;

use sockdiag::{Client, DumpRequest, TcpInfo};
use ssfilter::{Bytecode, Filter, StateSet};

use crate::conn::{Connection, Family};
use crate::error::Error;
use crate::netns::Netns;
use crate::spoof::wire::Wire;

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

    /// Whether `conn` is of the family and in a state this query admits.
    pub(crate) fn admits(&self, conn: &Connection) -> bool {
        self.family.is_none_or(|f| f == conn.family) && self.states.contains(conn.state)
    }
}

/// A `NETLINK_SOCK_DIAG` socket in one network namespace, and the operations
/// on it.
#[derive(Debug)]
pub struct Session {
    client: Client,
    /// Extra diag sockets in the same namespace for parallel destroys.
    shards: Shards,
    /// The namespace `client` was made in, held open: every other socket
    /// the session opens for its targets (shards, inject's raw and packet
    /// sockets) is opened there, whichever thread calls (SPEC §5). `None`
    /// only where `/proc` could not show it; then nothing is forged.
    netns: Option<Netns>,
    /// Both families are dumped in one walk (`TCPDIAG_GETSOCK`) until the
    /// kernel refuses that request.
    one_walk: bool,
}

impl Session {
    /// A session in the calling thread's network namespace.
    pub fn new() -> Result<Session, Error> {
        Ok(Session {
            client: Client::new().map_err(Error::from_diag)?,
            shards: Shards::default(),
            netns: Netns::current().ok(),
            one_walk: true,
        })
    }

    /// A session in the network namespace `netns`. The calling thread stays
    /// where it is; the socket is made on a helper thread that entered it.
    pub fn in_netns(netns: &Netns) -> Result<Session, Error> {
        let client = netns.run(|| Client::new().map_err(Error::from_diag))??;
        Ok(Session {
            client,
            shards: Shards::default(),
            netns: Some(netns.try_clone()?),
            one_walk: true,
        })
    }

    /// The network namespace the session works in, held open; `None` only
    /// where `/proc` could not show the caller's own.
    pub fn netns(&self) -> Option<&Netns> {
        self.netns.as_ref()
    }

    /// The diag socket, for the drop procedure's lookups.
    pub(crate) fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The diag socket, its shards and its namespace, for the ways of
    /// aborting.
    pub(crate) fn parts(&mut self) -> (&mut Client, &mut Shards, Option<&Netns>) {
        (&mut self.client, &mut self.shards, self.netns.as_ref())
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

    /// A dump of `query`, narrowed in the kernel by `program` when given
    /// ([`Dumper::dump`]).
    pub(crate) fn dump(
        &mut self,
        query: &Query,
        narrow: Narrow<'_>,
        visit: impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.split().0.dump(query, narrow, visit)
    }

    /// [`Session::dump`], asking for each socket's `tcp_info` when `info`.
    pub(crate) fn dump_with(
        &mut self,
        query: &Query,
        narrow: Narrow<'_>,
        info: bool,
        visit: impl FnMut(Connection, Option<&TcpInfo>) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.split().0.dump_with(query, narrow, info, visit)
    }

    /// The session as a drop uses it at once: its dumps (and diag socket),
    /// its extra diag sockets, and its namespace.
    pub(crate) fn split(&mut self) -> (Dumper<'_>, &mut Shards, Option<&Netns>) {
        (
            Dumper {
                client: &mut self.client,
                one_walk: &mut self.one_walk,
            },
            &mut self.shards,
            self.netns.as_ref(),
        )
    }
}

/// A session's dumps, apart from the rest of the session (so that a drop
/// can dump while its workers use the other diag sockets).
pub(crate) struct Dumper<'a> {
    client: &'a mut Client,
    one_walk: &'a mut bool,
}

impl Dumper<'_> {
    /// The diag socket, between dumps.
    pub(crate) fn client(&mut self) -> &mut Client {
        self.client
    }

    /// A dump of `query`, narrowed in the kernel by `program` when given.
    ///
    /// When both families' tables are wanted, one `TCPDIAG_GETSOCK` walk
    /// returns them both: the kernel keeps IPv4 and IPv6 TCP sockets in the
    /// same hash tables, and a `SOCK_DIAG_BY_FAMILY` dump per family walks
    /// all of them twice. A kernel that refuses that request gets the two
    /// dumps instead, from then on.
    pub(crate) fn dump(
        &mut self,
        query: &Query,
        narrow: Narrow<'_>,
        mut visit: impl FnMut(Connection) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_with(query, narrow, false, |conn, _| visit(conn))
    }

    /// [`Dumper::dump`], asking for each socket's `tcp_info` when `info`.
    pub(crate) fn dump_with(
        &mut self,
        query: &Query,
        narrow: Narrow<'_>,
        info: bool,
        mut visit: impl FnMut(Connection, Option<&TcpInfo>) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let tables = query.tables();
        if tables.len() > 1 && *self.one_walk {
            match self.dump_table(None, query, narrow, info, &mut visit) {
                Ok(_) => return Ok(()),
                Err(failure) if !failure.visited && refuses_request(&failure.error) => {
                    *self.one_walk = false;
                }
                Err(failure) => return Err(Error::from_diag(failure.error)),
            }
        }
        for &table in tables {
            match self.dump_table(Some(table), query, narrow, info, &mut visit) {
                Ok(ControlFlow::Continue(())) => {}
                Ok(ControlFlow::Break(())) => return Ok(()),
                Err(failure) => return Err(Error::from_diag(failure.error)),
            }
        }
        Ok(())
    }

    /// One dump: of `table`, or of both families in one walk (`None`),
    /// repeated (up to [`DUMP_ATTEMPTS`] times) when the kernel flags it as
    /// interrupted before anything was visited, with each socket's
    /// `tcp_info` when `info`. `Break` when `visit` stopped it.
    fn dump_table(
        &mut self,
        table: Option<sockdiag::Family>,
        query: &Query,
        narrow: Narrow<'_>,
        info: bool,
        visit: &mut impl FnMut(Connection, Option<&TcpInfo>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, DumpFailure> {
        let family = table.unwrap_or(sockdiag::Family::Inet);
        let mut request = DumpRequest::tcp(family, query.states.kernel_mask());
        if info {
            request = request.with_tcp_info();
        }
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
                        if visit(conn, record.tcp_info.as_deref()).is_break() {
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
}

/// The extra diag sockets of a session's namespace for parallel destroys,
/// made on the first large drop and kept.
#[derive(Debug, Default)]
pub(crate) struct Shards {
    helpers: Vec<Client>,
    /// Whether inject's sockets are kept from one batch to the next
    /// ([`Shards::for_worker`])...
    keeps_wire: bool,
    /// ... and those sockets.
    wire: Option<Wire>,
}

impl Shards {
    /// The shards of one of a drop's worker threads, which keep inject's
    /// raw and packet sockets from one batch to the next: closing a packet
    /// socket waits for an RCU grace period (about 10 ms on a busy 2-CPU
    /// machine; a third of a streamed inject's time when each batch closed
    /// its own). A session's own shards never keep them: a packet socket
    /// left open would be handed a copy of every bare ACK of the namespace
    /// for as long as the session lives.
    pub(crate) fn for_worker() -> Shards {
        Shards {
            keeps_wire: true,
            ..Shards::default()
        }
    }

    /// Where inject keeps its sockets between batches, if these shards
    /// keep them.
    pub(crate) fn wire(&mut self) -> Option<&mut Option<Wire>> {
        self.keeps_wire.then_some(&mut self.wire)
    }

    /// How many helpers there are.
    pub(crate) fn len(&self) -> usize {
        self.helpers.len()
    }

    /// The helpers, to destroy over.
    pub(crate) fn helpers(&mut self) -> &mut [Client] {
        &mut self.helpers
    }

    /// Make sure there are `n` helper diag sockets in `home`, the session's
    /// namespace; fewer if they cannot be made (none where it is not
    /// known: then destroys stay on one socket).
    pub(crate) fn ensure(&mut self, n: usize, home: Option<&Netns>) {
        let Some(home) = home else { return };
        let missing = n.saturating_sub(self.helpers.len());
        if missing == 0 {
            return;
        }
        let made = home
            .run(|| {
                (0..missing)
                    .map_while(|_| Client::new().ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        self.helpers.extend(made);
    }
    /// Up to `n` helper diag sockets of `home`, the session's namespace,
    /// made if need be, for a drop's worker threads (none where `home` is
    /// not known).
    pub(crate) fn lend(&mut self, n: usize, home: Option<&Netns>) -> &mut [Client] {
        self.ensure(n, home);
        let n = n.min(self.helpers.len());
        self.helpers.get_mut(..n).unwrap_or_default()
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

/// How a dump is narrowed in the kernel: by a filter program, and by the
/// ports of the request (0 for any).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Narrow<'a> {
    /// An `inet_diag` bytecode program the kernel runs on each socket.
    pub(crate) program: Option<&'a [u8]>,
    /// Source and destination port the request names (0: any).
    pub(crate) ports: (u16, u16),
}

impl<'a> Narrow<'a> {
    /// The narrowing of a dump for `filter`: its `program` (from
    /// [`in_kernel`]) and its port equalities.
    pub(crate) fn by(filter: &Filter, program: Option<&'a Bytecode>) -> Narrow<'a> {
        Narrow {
            program: program.map(|p| p.as_bytes()),
            ports: filter.ports().unwrap_or_default(),
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

/// What of `filter` the kernel checks in a dump: `query` narrowed to the
/// filter's states, and the filter as `inet_diag` bytecode, unless it is
/// port equalities only, which the kernel's own port match (cheaper per
/// socket than a program) takes instead ([`Narrow::by`]).
pub(crate) fn in_kernel(query: &Query, filter: &Filter) -> (Query, Option<Bytecode>) {
    let query = Query {
        states: query.states.intersection(filter.states()),
        ..*query
    };
    let program = filter
        .ports()
        .map_or_else(|| filter.bytecode(false), |_| None);
    (query, program)
}
