//! The step after aborting: what each abort's answer means for its socket,
//! and the look afterwards that tells a socket that closed on its own from
//! one whose tuple a newcomer took, and finds the loopback peers the drops
//! reset.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use super::plan::{end, Plan, Targets, TupleSet};
use super::report::{GoneReason, Outcome, Sink};
use crate::conn::Connection;
use crate::error::Error;
use crate::method::Method;

/// What the answers of a run's aborts have shown so far.
#[derive(Default)]
pub(crate) struct Confirm {
    /// The ends of every socket dropped so far, in the order of the run.
    dropped: TupleSet,
    /// Sockets found gone whose reason waits for the look afterwards.
    pub(crate) closed: Vec<Connection>,
}

/// What one round of aborts did.
pub(crate) struct Round {
    /// How many were dropped.
    pub(crate) dropped: usize,
    /// Every abort was refused for lack of privilege or support: more
    /// rounds would only be refused again.
    pub(crate) refused: bool,
}

impl Confirm {
    /// Turn a round's answers (one per target, in the order they were
    /// sent) into outcomes. A socket found gone whose other end this run
    /// dropped *before* it (earlier in the run) was reset by that drop;
    /// any other gone socket waits for [`Confirm::finish`].
    pub(crate) fn round(
        &mut self,
        targets: &Targets,
        results: Vec<Result<Method, Error>>,
        plan: &mut Plan,
        sink: &mut dyn Sink,
    ) -> Round {
        let mut round = Round {
            dropped: 0,
            refused: !results.is_empty(),
        };
        // A walk (bpf) aborts in the kernel's order, not the targets': each
        // of its drops counts as before every socket of the round.
        for (i, result) in results.iter().enumerate() {
            if let (Ok(Method::Bpf), Some(ends)) = (result, targets.ends(i)) {
                self.dropped.insert(ends);
            }
        }
        for (i, result) in results.into_iter().enumerate() {
            let (Some(conn), Some(ends)) = (targets.connection(i), targets.ends(i)) else {
                continue;
            };
            round.refused &= matches!(&result, Err(err) if err.is_refusal());
            match result {
                Ok(method) => {
                    round.dropped += 1;
                    self.dropped.insert(ends);
                    plan.other_end_dropped(ends);
                    sink.outcome(conn, Outcome::Dropped(method));
                }
                Err(Error::NotFound) if self.dropped.contains(&(ends.1, ends.0)) => {
                    sink.outcome(conn, Outcome::Gone(GoneReason::ResetByPeerDrop));
                }
                Err(Error::NotFound) => self.closed.push(conn),
                Err(err) => sink.outcome(conn, Outcome::Failed(err)),
            }
        }
        round
    }

    /// The end of a run: each socket found gone is `Replaced` if a newer
    /// socket holds its tuple (seen as a newcomer in a later round, or by
    /// `look`), else `Closed`; then the peers the drops reset, which were
    /// not chosen, as collateral. Without a look (it failed), no peer is
    /// claimed.
    pub(crate) fn finish(self, look: Option<&Look>, plan: &Plan, sink: &mut dyn Sink) {
        for conn in self.closed {
            let key = (conn.local, conn.remote);
            let newcomer = plan
                .newcomers
                .contains(&(end(&conn.local), end(&conn.remote)))
                || look.is_some_and(|l| l.now.get(&key).is_some_and(|c| *c != conn.cookie));
            let reason = if newcomer {
                GoneReason::Replaced
            } else {
                GoneReason::Closed
            };
            sink.outcome(conn, Outcome::Gone(reason));
        }
        if look.is_none() {
            return;
        }
        for peer in plan
            .peers_by_ends()
            .into_iter()
            .filter(|p| p.other_end_dropped && !p.alive && !plan.decided(p.cookie()))
        {
            if let Some(conn) = peer.connection() {
                sink.collateral(conn);
            }
        }
    }
}

/// What a look after the drops says about the sockets a drop asks about:
/// which of the peers are still there (marked `alive` in the plan), and
/// who holds the tuples of the sockets found gone.
pub(crate) struct Look {
    closed: HashSet<(SocketAddr, SocketAddr)>,
    /// The cookie of the socket holding each such tuple now.
    pub(crate) now: HashMap<(SocketAddr, SocketAddr), u64>,
}

impl Look {
    /// Start a look: no peer is alive until seen.
    pub(crate) fn new(plan: &mut Plan, closed: &[Connection]) -> Look {
        for peer in plan.peers.iter_mut() {
            peer.alive = false;
        }
        Look {
            closed: closed.iter().map(|c| (c.local, c.remote)).collect(),
            now: HashMap::new(),
        }
    }

    /// A socket seen by the look.
    pub(crate) fn see(&mut self, plan: &mut Plan, conn: &Connection) {
        if !plan.peers.is_empty() {
            plan.seen(conn);
        }
        if !self.closed.is_empty() {
            let key = (conn.local, conn.remote);
            if self.closed.contains(&key) {
                self.now.insert(key, conn.cookie);
            }
        }
    }
}
