//! The first step of a drop: what the caller selects.

use std::net::SocketAddr;

use ssfilter::Filter;

use crate::conn::Connection;
use crate::session::Query;

/// Which sockets a drop may touch: one value for every way of choosing
/// (every connection a [`Query`] admits, those an `ss` filter matches, or
/// named 4-tuples), narrowed further by an optional predicate.
///
/// A LISTEN socket is never chosen unless [`Selection::listeners`] allows it.
pub struct Selection<'a> {
    pub(crate) query: Query,
    pub(crate) what: What,
    pub(crate) listeners: bool,
    pub(crate) choose: Option<Chooser<'a>>,
}

/// A caller's own test of each candidate socket.
type Chooser<'a> = Box<dyn FnMut(&Connection) -> bool + 'a>;

/// The kinds of selection.
pub(crate) enum What {
    /// Every socket the query admits.
    All,
    /// Those the filter matches (it runs in the kernel as bytecode first).
    Matching(Filter),
    /// Exactly the sockets with these ends, found by exact lookups.
    Tuples(Vec<(SocketAddr, SocketAddr)>),
}

impl<'a> Selection<'a> {
    /// Every connection `query` admits.
    pub fn all(query: Query) -> Selection<'a> {
        Selection::new(query, What::All)
    }

    /// The connections `query` admits that `filter` matches.
    pub fn matching(query: Query, filter: Filter) -> Selection<'a> {
        Selection::new(query, What::Matching(filter))
    }

    /// The connection with each pair of ends, `(local, remote)`: an IPv4
    /// pair also names the IPv4 connection of a dual-stack socket
    /// (`::ffff:a.b.c.d`), an IPv6 pair with a scope id names it on that
    /// interface. Each is found by an exact lookup in the kernel's hash
    /// tables, never by a walk of every socket; a listener answers only to
    /// its own tuple (remote `0.0.0.0:0` or `[::]:0`), and only with
    /// [`Selection::listeners`].
    pub fn tuples(tuples: Vec<(SocketAddr, SocketAddr)>) -> Selection<'a> {
        Selection::new(Query::all(), What::Tuples(tuples))
    }

    /// The one connection whose ends are `local` and `remote`
    /// ([`Selection::tuples`] with one pair).
    pub fn tuple(local: SocketAddr, remote: SocketAddr) -> Selection<'a> {
        Selection::tuples(vec![(local, remote)])
    }

    fn new(query: Query, what: What) -> Selection<'a> {
        Selection {
            query,
            what,
            listeners: false,
            choose: None,
        }
    }

    /// Allow LISTEN sockets to be chosen (off by default: then a listener
    /// is never dropped, whatever else selects it).
    pub fn listeners(mut self, allow: bool) -> Selection<'a> {
        self.listeners = allow;
        self
    }

    /// Only the sockets `query` admits (for [`Selection::tuples`], a state
    /// or family condition on the named connections).
    pub fn query(mut self, query: Query) -> Selection<'a> {
        self.query = query;
        self
    }

    /// Only the sockets `choose` also accepts. It is asked once per
    /// candidate socket, just before the socket is chosen, so it may count
    /// (a limit) or consult owners.
    pub fn and(mut self, choose: impl FnMut(&Connection) -> bool + 'a) -> Selection<'a> {
        self.choose = Some(Box::new(choose));
        self
    }

    /// Whether `conn` is chosen: admitted by the query, not a listener
    /// unless allowed, matched by the filter, and accepted by the predicate
    /// (asked last). A tuple's exact match is checked where it is looked up.
    pub(crate) fn chooses(&mut self, conn: &Connection) -> bool {
        self.query.admits(conn)
            && (self.listeners || !conn.is_listener())
            && match &self.what {
                What::Matching(filter) => filter.matches(conn),
                What::All | What::Tuples(_) => true,
            }
            && self.choose.as_mut().is_none_or(|choose| choose(conn))
    }
}

impl std::fmt::Debug for Selection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.what {
            What::All => "all".to_string(),
            What::Matching(filter) => format!("matching '{filter}'"),
            What::Tuples(t) => format!("{} tuples", t.len()),
        };
        f.debug_struct("Selection")
            .field("query", &self.query)
            .field("what", &what)
            .field("listeners", &self.listeners)
            .field("choose", &self.choose.is_some())
            .finish()
    }
}
