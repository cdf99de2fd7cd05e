//! The step after aborting: what each abort's answer means for its socket,
//! which loopback peers the drops reset, and the look afterwards that tells
//! a socket that closed on its own from one whose tuple a newcomer took.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use super::plan::{
    end, key, reverse_key, Batch, KeyedSet, Plan, Rec, ALIVE, DECIDED, OTHER_END_DROPPED,
};
use super::report::{GoneReason, Outcome, Sink};
use crate::conn::Connection;
use crate::error::Error;
use crate::method::Method;

/// What the aborts of a [`Batch`] brought back.
pub(crate) struct Answers {
    /// One per target, in their order: the way that aborted it, or why
    /// none did.
    pub(crate) results: Vec<Result<Method, Error>>,
    /// The peers found by looking up the targets' tuples reversed, by the
    /// index of their target.
    pub(crate) found: Vec<(u32, Rec)>,
    /// For each peer of the batch, then each found one: whether a look
    /// right after the aborts still found it (same tuple, same cookie).
    /// Empty when there was no such look.
    pub(crate) alive: Vec<bool>,
}

/// What the answers of a run's aborts have shown so far.
#[derive(Default)]
pub(crate) struct Confirm {
    /// Sockets found gone whose reason waits for the look afterwards.
    pub(crate) closed: Vec<Connection>,
}

/// What the aborts of one round did.
#[derive(Default)]
pub(crate) struct Tally {
    /// How many were dropped.
    pub(crate) dropped: usize,
    answered: usize,
    refusals: usize,
}

impl Tally {
    /// Every abort was refused for lack of privilege or support: more
    /// rounds would only be refused again.
    pub(crate) fn refused(&self) -> bool {
        self.answered > 0 && self.refusals == self.answered
    }
}

impl Confirm {
    /// Turn a batch's answers (one per target, in the order they were
    /// sent) into outcomes. A socket found gone whose other end this run
    /// dropped *before* it (earlier in the run) was reset by that drop; any
    /// other gone socket waits for [`Confirm::finish`]. The peers of the
    /// dropped targets are reported now if a look right after the aborts
    /// found them gone, else watched until the look afterwards.
    pub(crate) fn batch(
        &mut self,
        batch: Batch,
        answers: Answers,
        plan: &mut Plan,
        tally: &mut Tally,
        sink: &mut dyn Sink,
    ) {
        let Batch { recs, peers, .. } = batch;
        let Answers {
            results,
            found,
            alive,
        } = answers;
        // The targets' tuples, to flag: their slots are brought into the
        // cache all together first.
        let keys: Vec<u64> = recs.iter().map(|r| key(&r.ends())).collect();
        for k in &keys {
            plan.handled.prefetch(*k);
        }
        // A walk (bpf) aborts in the kernel's order, not the targets': each
        // of its drops counts as before every socket of the batch.
        for (k, result) in keys.iter().zip(&results) {
            if let Ok(Method::Bpf) = result {
                plan.handled.flag(*k);
            }
        }
        let dropped: Vec<bool> = results.iter().map(Result::is_ok).collect();
        for ((rec, result), k) in recs.iter().zip(results).zip(keys) {
            let Some(conn) = rec.connection() else {
                continue;
            };
            tally.answered += 1;
            if matches!(&result, Err(err) if err.is_refusal()) {
                tally.refusals += 1;
            }
            let ends = rec.ends();
            match result {
                Ok(method) => {
                    tally.dropped += 1;
                    plan.handled.flag(k);
                    // A socket disconnected through its holder may be
                    // connected again, cookie and all.
                    if method == Method::Owner {
                        plan.kept.insert(conn.cookie);
                    }
                    sink.outcome(conn, Outcome::Dropped(method));
                }
                Err(Error::NotFound) if plan.handled.flagged(reverse_key(&ends)) => {
                    sink.outcome(conn, Outcome::Gone(GoneReason::ResetByPeerDrop));
                }
                Err(Error::NotFound) => self.closed.push(conn),
                Err(err) => {
                    plan.kept.insert(conn.cookie);
                    sink.outcome(conn, Outcome::Failed(err));
                }
            }
        }
        let given = peers.len();
        let mut seen = KeyedSet::with_capacity_and_hasher(peers.len(), Default::default());
        for (j, (t, mut peer)) in peers.into_iter().chain(found).enumerate() {
            // A peer is watched only once its other end was dropped.
            if !dropped.get(t as usize).copied().unwrap_or(false) {
                continue;
            }
            // One found by a lookup may be chosen itself, or known.
            if j >= given
                && (plan.handled.contains(key(&peer.ends())) || plan.peers.knows(peer.cookie()))
            {
                continue;
            }
            if !seen.insert(peer.cookie()) {
                continue;
            }
            match alive.get(j) {
                Some(false) => {
                    if let Some(conn) = peer.connection() {
                        sink.collateral(conn);
                    }
                }
                _ => {
                    peer.set(OTHER_END_DROPPED, true);
                    plan.peers.hold(peer);
                }
            }
        }
    }

    /// The end of a run: each socket found gone is `ResetByPeerDrop` if
    /// its other end was dropped after all (by a batch aborted beside its
    /// own), else `Replaced` if a newer socket holds its tuple (seen as a
    /// newcomer, or by `look`), else `Closed`; then the watched peers the drops reset, which were not
    /// chosen, as collateral. Without a look (it failed), no peer is
    /// claimed.
    pub(crate) fn finish(self, look: Option<&Look>, plan: &Plan, sink: &mut dyn Sink) {
        for conn in self.closed {
            let tuple = (conn.local, conn.remote);
            let ends = (end(&conn.local), end(&conn.remote));
            // Batches abort side by side: its other end may have been
            // dropped by a batch answered after its own.
            if plan.handled.flagged(reverse_key(&ends)) {
                sink.outcome(conn, Outcome::Gone(GoneReason::ResetByPeerDrop));
                continue;
            }
            let newcomer = plan.replaced(key(&ends), conn.cookie)
                || look.is_some_and(|l| l.now.get(&tuple).is_some_and(|c| *c != conn.cookie));
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
        let list = &plan.peers.list;
        let reset =
            |p: &&Rec| p.flags() & (OTHER_END_DROPPED | ALIVE | DECIDED) == OTHER_END_DROPPED;
        // By their ends. Two IPv4 ends (nearly always) are one number of
        // 96 bits each: with the peer's place in the low 32 bits, the
        // numbers alone are sorted, and name their peers.
        let numbers: Option<Vec<u128>> = list
            .iter()
            .enumerate()
            .filter(|(_, p)| reset(p))
            .map(|(at, p)| Some(p.packed()? << 32 | u128::from(u32::try_from(at).ok()?)))
            .collect();
        let order: Vec<&Rec> = match numbers {
            Some(mut numbers) => {
                numbers.sort_unstable();
                numbers
                    .into_iter()
                    .filter_map(|n| list.get(n as u32 as usize))
                    .collect()
            }
            None => {
                let mut order: Vec<&Rec> = list.iter().filter(reset).collect();
                order.sort_unstable_by(|a, b| a.order(b));
                order
            }
        };
        for peer in order {
            if let Some(conn) = peer.connection() {
                sink.collateral(conn);
            }
        }
    }
}

/// What a look after the drops says about the sockets a drop asks about:
/// which of the watched peers are still there (flagged [`ALIVE`] in the
/// plan), and who holds the tuples of the sockets found gone.
pub(crate) struct Look {
    closed: HashSet<(SocketAddr, SocketAddr)>,
    /// The cookie of the socket holding each such tuple now.
    pub(crate) now: HashMap<(SocketAddr, SocketAddr), u64>,
}

impl Look {
    /// Start a look: no peer is alive until seen.
    pub(crate) fn new(plan: &mut Plan, closed: &[Connection]) -> Look {
        for peer in plan.peers.list.iter_mut() {
            peer.set(ALIVE, false);
        }
        Look {
            closed: closed.iter().map(|c| (c.local, c.remote)).collect(),
            now: HashMap::new(),
        }
    }

    /// A socket seen by the look: a watched peer still on its tuple is
    /// alive.
    pub(crate) fn see(&mut self, plan: &mut Plan, conn: &Connection) {
        if !plan.peers.is_empty() {
            if let Some(peer) = plan.peers.get_mut(conn.cookie) {
                if peer.ends() == (end(&conn.local), end(&conn.remote)) {
                    peer.set(ALIVE, true);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drop::plan::tests::conn;
    use crate::drop::DropReport;

    /// The collateral `finish` reports when the peers `watched` are held,
    /// each flagged as given, and the look afterwards sees `seen`.
    fn collateral(watched: &[(Connection, u8)], seen: &[&Connection]) -> Vec<Connection> {
        let mut plan = Plan::default();
        for (c, flags) in watched {
            let mut rec = Rec::of(c);
            rec.set(*flags, true);
            plan.peers.hold(rec);
        }
        let mut look = Look::new(&mut plan, &[]);
        for c in seen {
            look.see(&mut plan, c);
        }
        let mut report = DropReport::default();
        Confirm::default().finish(Some(&look), &plan, &mut report);
        report.collateral
    }

    #[test]
    fn the_collateral_is_what_the_look_missed_in_the_order_of_its_ends() {
        let ends = [
            ("127.0.0.1:5001", "127.0.0.1:40000"),
            ("127.0.0.2:80", "127.0.0.1:1"),
            ("10.0.0.1:7", "127.0.0.1:9"),
            ("127.0.0.1:5001", "127.0.0.1:39999"),
            ("127.0.0.1:5000", "127.0.0.3:65535"),
            ("127.0.0.1:80", "10.0.0.2:2"),
            ("127.0.0.1:80", "10.0.0.1:3"),
        ];
        let conns: Vec<Connection> = ends
            .iter()
            .zip(1..)
            .map(|((l, r), cookie)| conn(l, r, cookie))
            .collect();
        let by_ends = |cs: &mut Vec<Connection>| cs.sort_by_key(|c| (c.local, c.remote));
        // Every one dropped at its other end and missed by the look: all,
        // by their ends (as two IPv4 ends packed in one number each).
        let all: Vec<(Connection, u8)> = conns
            .iter()
            .map(|c| (c.clone(), OTHER_END_DROPPED))
            .collect();
        let mut want = conns.clone();
        by_ends(&mut want);
        assert_eq!(collateral(&all, &[]), want);
        // Seen by the look, chosen later, or never reset: not collateral.
        let mut flagged = all.clone();
        flagged[1].1 = OTHER_END_DROPPED | DECIDED;
        flagged[2].1 = 0;
        let mut want: Vec<Connection> = [0, 4, 5, 6].map(|i| conns[i].clone()).to_vec();
        by_ends(&mut want);
        assert_eq!(collateral(&flagged, &[&conns[3]]), want);
        // A peer seen on another tuple under its cookie was not this one.
        let elsewhere = conn("127.0.0.9:1", "127.0.0.9:2", conns[0].cookie);
        assert!(collateral(&all, &[&elsewhere]).contains(&conns[0]));
        // With an IPv6 peer among them, the ends are compared whole: IPv4
        // ends first, then IPv6.
        let mut mixed = all.clone();
        let v6 = conn("[::1]:80", "[::1]:5", 99);
        mixed.insert(2, (v6.clone(), OTHER_END_DROPPED));
        let mut want = conns.clone();
        by_ends(&mut want);
        want.push(v6);
        assert_eq!(collateral(&mixed, &[]), want);
    }
}
