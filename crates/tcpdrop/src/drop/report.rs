//! The last step of a drop: what became of each socket, handed to a
//! [`Sink`] as soon as it is known; the sink is the same for both sources
//! ([`Source`]), generic over what it is handed.

use std::net::SocketAddr;

use crate::conn::Connection;
use crate::error::Error;
use crate::method::Method;
use crate::session::Session;

/// Why a connection chosen for dropping was no longer there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoneReason {
    /// It closed on its own (a FIN, or its owner aborted it) after it was
    /// selected and before this run could drop it.
    Closed,
    /// It closed, and a newer connection took its 4-tuple before the drop
    /// came: the kernel refused the old cookie, and the newcomer was left
    /// alone (SPEC §3, trap 2).
    Replaced,
    /// It was the loopback peer of a connection this run dropped before
    /// this one vanished: that drop's reset closed it.
    ResetByPeerDrop,
}

impl GoneReason {
    /// A short English explanation.
    pub fn describe(self) -> &'static str {
        match self {
            GoneReason::Closed => "closed on its own before the drop",
            GoneReason::Replaced => "replaced by a newer connection, left alone",
            GoneReason::ResetByPeerDrop => "reset by the drop of its other end",
        }
    }
}

/// What happened to one connection a drop chose.
#[derive(Debug)]
pub enum Outcome {
    /// It was aborted, by this method: its owner sees the error and its
    /// peer a reset.
    Dropped(Method),
    /// It no longer existed when its turn came.
    Gone(GoneReason),
    /// It could not be dropped, for this reason.
    Failed(Error),
}

impl Outcome {
    /// `"dropped"`, `"gone"` or `"failed"`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Dropped(_) => "dropped",
            Outcome::Gone(_) => "gone",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// Where drops take what they drop from: [`Session`] (the sockets of one
/// network namespace) or [`Forwarded`](crate::forwarded::Forwarded) (the
/// connections a router forwards). Both are selected by a
/// [`Selection`](crate::Selection) and report to a [`Sink`] of their own
/// kind: this names what that sink is handed.
pub trait Source {
    /// What is dropped: a [`Connection`], or a forwarded flow.
    type Item;
    /// What became of one.
    type Outcome;
}

impl Source for Session {
    type Item = Connection;
    type Outcome = Outcome;
}

/// Where a drop hands what it did, item by item, as it learns it: a drop
/// of many sockets then holds only what it needs to finish. [`DropReport`]
/// is the sink that keeps everything in memory. `S` is the source dropped
/// from: a `Sink` is of sockets, a `Sink<Forwarded>` of forwarded flows.
pub trait Sink<S: Source = Session> {
    /// A chosen item and what became of it. Called once per item.
    fn outcome(&mut self, item: S::Item, outcome: S::Outcome);

    /// A socket not chosen that the drops reset: the loopback peer of a
    /// dropped one (it is gone now, [`GoneReason::ResetByPeerDrop`]).
    /// Never for forwarded flows: a reset there reaches only the two ends.
    fn collateral(&mut self, item: S::Item);

    /// A tuple given to [`Selection::tuples`](crate::Selection::tuples) that
    /// names no socket the selection admits. Nothing was sent for it.
    fn not_found(&mut self, local: SocketAddr, remote: SocketAddr) {
        let _ = (local, remote);
    }
}

/// Everything a drop did, in memory.
pub struct DropReport<S: Source = Session> {
    /// Each chosen item with its outcome, in the order they were decided.
    pub results: Vec<(S::Item, S::Outcome)>,
    /// Connections that were not chosen but were closed by a drop: loopback
    /// peers reset when their other end was aborted.
    pub collateral: Vec<S::Item>,
    /// Named tuples that matched no socket.
    pub not_found: Vec<(SocketAddr, SocketAddr)>,
}

impl<S: Source> Default for DropReport<S> {
    fn default() -> DropReport<S> {
        DropReport {
            results: Vec::new(),
            collateral: Vec::new(),
            not_found: Vec::new(),
        }
    }
}

impl<S: Source> std::fmt::Debug for DropReport<S>
where
    S::Item: std::fmt::Debug,
    S::Outcome: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropReport")
            .field("results", &self.results)
            .field("collateral", &self.collateral)
            .field("not_found", &self.not_found)
            .finish()
    }
}

impl<S: Source> Sink<S> for DropReport<S> {
    fn outcome(&mut self, item: S::Item, outcome: S::Outcome) {
        self.results.push((item, outcome));
    }

    fn collateral(&mut self, item: S::Item) {
        self.collateral.push(item);
    }

    fn not_found(&mut self, local: SocketAddr, remote: SocketAddr) {
        self.not_found.push((local, remote));
    }
}

impl DropReport {
    /// How many were dropped, gone and failed.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.results
            .iter()
            .fold((0, 0, 0), |(d, g, f), (_, o)| match o {
                Outcome::Dropped(_) => (d + 1, g, f),
                Outcome::Gone(_) => (d, g + 1, f),
                Outcome::Failed(_) => (d, g, f + 1),
            })
    }
}

/// The counts of a drop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Chosen sockets that were aborted.
    pub dropped: usize,
    /// Chosen sockets that were no longer there.
    pub gone: usize,
    /// Chosen sockets that could not be dropped.
    pub failed: usize,
    /// Chosen forwarded flows reset at one end only (counted in `failed`
    /// too).
    pub partial: usize,
    /// Sockets not chosen that the drops reset (loopback peers).
    pub collateral: usize,
    /// Named tuples that matched nothing.
    pub not_found: usize,
}

impl DropCounts {
    /// How many sockets were chosen: dropped, gone and failed.
    pub fn chosen(&self) -> usize {
        self.dropped
            .saturating_add(self.gone)
            .saturating_add(self.failed)
    }
}

/// A sink that counts what passes through it on the way to another.
pub(crate) struct Counting<'a, S: Source = Session> {
    pub(crate) inner: &'a mut dyn Sink<S>,
    pub(crate) counts: DropCounts,
}

impl<'a, S: Source> Counting<'a, S> {
    pub(crate) fn new(inner: &'a mut dyn Sink<S>) -> Counting<'a, S> {
        Counting {
            inner,
            counts: DropCounts::default(),
        }
    }
}

impl Sink for Counting<'_> {
    fn outcome(&mut self, conn: Connection, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Dropped(_) => &mut self.counts.dropped,
            Outcome::Gone(_) => &mut self.counts.gone,
            Outcome::Failed(_) => &mut self.counts.failed,
        };
        *slot = slot.saturating_add(1);
        self.inner.outcome(conn, outcome);
    }

    fn collateral(&mut self, conn: Connection) {
        self.counts.collateral = self.counts.collateral.saturating_add(1);
        self.inner.collateral(conn);
    }

    fn not_found(&mut self, local: SocketAddr, remote: SocketAddr) {
        self.counts.not_found = self.counts.not_found.saturating_add(1);
        self.inner.not_found(local, remote);
    }
}
