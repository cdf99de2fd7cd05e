//! The first step of a drop (and of a listing): what the caller selects.
//! One [`Selection`] serves both sources: the sockets of a [`Session`]
//! and the connections a router forwards ([`crate::forwarded`]).

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};

use ssfilter::Filter;

use crate::conn::Connection;
use crate::error::Error;
use crate::session::{Query, Session};

/// The test of a [`Selection`] without one of the caller's own
/// ([`Selection::and`]): it takes every socket.
pub type Everyone = fn(&Connection) -> bool;

fn everyone(_: &Connection) -> bool {
    true
}

/// Which connections a drop or a listing takes: one value for every way of
/// choosing (every connection a [`Query`] admits, those an `ss` filter
/// matches, or named 4-tuples), narrowed further by an optional test of
/// the caller's own, `C`.
///
/// A LISTEN socket is never chosen unless [`Selection::listeners`] allows it.
/// A selection without a test of its own is plain data: clone it to use it
/// again.
#[derive(Clone)]
pub struct Selection<C = Everyone> {
    pub(crate) query: Query,
    pub(crate) what: What,
    pub(crate) listeners: bool,
    pub(crate) choose: C,
}

/// What a selection names, besides its query.
#[derive(Clone, Debug)]
pub enum What {
    /// Every connection the query admits.
    All,
    /// Those the filter matches (it runs in the kernel as bytecode first).
    Matching(Filter),
    /// Exactly the connections with these ends, `(local, remote)`, found by
    /// exact lookups.
    Tuples(Vec<(SocketAddr, SocketAddr)>),
    /// The same, as typed: each `%scope` is an interface's name or number,
    /// looked up in the network namespace where the selection is used
    /// ([`Selection::resolved_in`]).
    Named(Vec<(Endpoint, Endpoint)>),
}

/// One end of a connection as a person names it: its `%scope`, if any,
/// not yet looked up (the same name is another interface in another
/// network namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The address (an IPv4-mapped IPv6 address is stored as IPv4).
    pub ip: IpAddr,
    /// The port.
    pub port: u16,
    /// The `%scope` suffix of an IPv6 address: an interface name or number.
    pub scope: Option<String>,
}

impl Endpoint {
    /// The end as a socket address, its scope left out.
    pub fn unscoped(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }

    /// The end as a socket address, its `%scope` looked up in `session`'s
    /// network namespace.
    fn in_netns(&self, session: &Session) -> Result<SocketAddr, Error> {
        Ok(match self.ip {
            IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, self.port)),
            IpAddr::V6(ip) => {
                let scope = match &self.scope {
                    None => 0,
                    Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s
                        .parse()
                        .ok()
                        .filter(|&index| session.interface_name(index).is_some())
                        .ok_or_else(|| {
                            Error::InvalidArgument(format!(
                                "%{s}: no interface has index {s} in this network namespace \
                                 (ip link lists them; or give the name, as %eth0)"
                            ))
                        })?,
                    Some(name) => session.interface_index(name)?,
                };
                SocketAddr::V6(SocketAddrV6::new(ip, self.port, 0, scope))
            }
        })
    }
}

impl Selection {
    /// Every connection `query` admits.
    pub fn all(query: Query) -> Selection {
        Selection::new(query, What::All)
    }

    /// The connections `query` admits that `filter` matches.
    pub fn matching(query: Query, filter: Filter) -> Selection {
        Selection::new(query, What::Matching(filter))
    }

    /// The connection with each pair of ends, `(local, remote)`: an IPv4
    /// pair also names the IPv4 connection of a dual-stack socket
    /// (`::ffff:a.b.c.d`), an IPv6 pair with a scope id names it on that
    /// interface. Each is found by an exact lookup in the kernel's hash
    /// tables, never by a walk of every socket; a listener answers only to
    /// its own tuple (remote `0.0.0.0:0` or `[::]:0`), and only with
    /// [`Selection::listeners`].
    ///
    /// For forwarded connections, the two ends in either order
    /// ([`Forwarded::find`](crate::forwarded::Forwarded::find)).
    pub fn tuples(tuples: Vec<(SocketAddr, SocketAddr)>) -> Selection {
        Selection::new(Query::all(), What::Tuples(tuples))
    }

    /// The one connection whose ends are `local` and `remote`
    /// ([`Selection::tuples`] with one pair).
    pub fn tuple(local: SocketAddr, remote: SocketAddr) -> Selection {
        Selection::tuples(vec![(local, remote)])
    }

    /// [`Selection::tuples`] as typed: each `%scope` is looked up in the
    /// network namespace of the session that uses the selection (a
    /// forwarded connection needs none: the route to each end names its
    /// interface).
    pub fn named(tuples: Vec<(Endpoint, Endpoint)>) -> Selection {
        Selection::new(Query::all(), What::Named(tuples))
    }

    fn new(query: Query, what: What) -> Selection {
        Selection {
            query,
            what,
            listeners: false,
            choose: everyone,
        }
    }
}

impl<C> Selection<C> {
    /// Allow LISTEN sockets to be chosen (off by default: then a listener
    /// is never dropped, whatever else selects it).
    pub fn listeners(mut self, allow: bool) -> Selection<C> {
        self.listeners = allow;
        self
    }

    /// Only the connections `query` admits (for [`Selection::tuples`], a
    /// state or family condition on the named connections).
    pub fn query(mut self, query: Query) -> Selection<C> {
        self.query = query;
        self
    }

    /// Only the connections `choose` also accepts, in place of any test
    /// given before. It is asked once per candidate, just before the
    /// candidate is chosen, so it may count (a limit) or consult owners.
    pub fn and<F: FnMut(&Connection) -> bool>(self, choose: F) -> Selection<F> {
        Selection {
            query: self.query,
            what: self.what,
            listeners: self.listeners,
            choose,
        }
    }

    /// What the selection names, besides its query.
    pub fn what(&self) -> &What {
        &self.what
    }

    /// Whether listeners may be chosen ([`Selection::listeners`]).
    pub fn allows_listeners(&self) -> bool {
        self.listeners
    }

    /// This selection with its named ends' `%scope`s looked up in
    /// `session`'s network namespace ([`Selection::named`]); an unknown
    /// interface is [`Error::InvalidArgument`].
    pub fn resolved_in(mut self, session: &Session) -> Result<Selection<C>, Error> {
        if let What::Named(named) = &self.what {
            let tuples = named
                .iter()
                .map(|(l, r)| Ok((l.in_netns(session)?, r.in_netns(session)?)))
                .collect::<Result<_, Error>>()?;
            self.what = What::Tuples(tuples);
        }
        Ok(self)
    }

    /// This selection with its named ends as plain addresses, their
    /// `%scope`s left out (forwarded connections).
    pub(crate) fn unscoped(mut self) -> Selection<C> {
        if let What::Named(named) = &self.what {
            let tuples = named
                .iter()
                .map(|(l, r)| (l.unscoped(), r.unscoped()))
                .collect();
            self.what = What::Tuples(tuples);
        }
        self
    }

    /// Whether `conn` has the ends of one of the named tuples (`true` for
    /// a selection that names none): a listing that walks every socket
    /// asks this, where a drop looks each tuple up instead.
    pub(crate) fn names(&self, conn: &Connection) -> bool {
        match &self.what {
            What::Tuples(tuples) => tuples.iter().any(|(l, r)| conn.has_tuple(l, r)),
            What::All | What::Matching(_) | What::Named(_) => true,
        }
    }
}

impl<C: FnMut(&Connection) -> bool> Selection<C> {
    /// Whether `conn` is chosen: admitted by the query, not a listener
    /// unless allowed, matched by the filter, and accepted by the caller's
    /// test (asked last). A tuple's exact match is checked where it is
    /// looked up ([`Selection::names`] for a walk).
    pub(crate) fn chooses(&mut self, conn: &Connection) -> bool {
        self.query.admits(conn)
            && (self.listeners || !conn.is_listener())
            && match &self.what {
                What::Matching(filter) => filter.matches(conn),
                What::All | What::Tuples(_) | What::Named(_) => true,
            }
            && (self.choose)(conn)
    }
}

impl<C> std::fmt::Debug for Selection<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.what {
            What::All => "all".to_string(),
            What::Matching(filter) => format!("matching '{filter}'"),
            What::Tuples(t) => format!("{} tuples", t.len()),
            What::Named(t) => format!("{} tuples as typed", t.len()),
        };
        f.debug_struct("Selection")
            .field("query", &self.query)
            .field("what", &what)
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}
