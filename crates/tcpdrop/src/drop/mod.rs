//! The safe drop procedure (SPEC §3), top-down. Each step is a file:
//!
//! 1. [`select`]: what the caller chose ([`Selection`]);
//! 2. finding the sockets: a dump narrowed in the kernel (by the filter's
//!    bytecode or its ports), or for named tuples an exact [`lookup`] each;
//! 3. [`plan`]: which rows become targets, which are loopback peers to
//!    watch, which are newcomers on a tuple already handled (left alone);
//! 4. aborting the targets by a method ([`crate::abort`]), each by its id
//!    *and cookie*;
//! 5. [`confirm`]: what each answer means, and a look afterwards;
//! 6. [`report`]: every outcome handed to a [`Sink`] as soon as it is known.
//!
//! A listing ([`Session::list`], in [`list`]) is steps 1 and 2 alone. The
//! connections a router forwards are the other source of the same steps
//! ([`crate::forwarded`]): the same [`Selection`], their own finding,
//! probing and resets, and a [`Sink`] of their own kind ([`Source`]).

mod confirm;
pub(crate) mod hook;
mod list;
mod lookup;
mod plan;
mod report;
mod select;

use std::net::SocketAddr;
use std::ops::ControlFlow;

use ssfilter::StateSet;

pub use list::ListOptions;
pub(crate) use report::Counting;
pub use report::{DropCounts, DropReport, GoneReason, Outcome, Sink, Source};
pub use select::{Endpoint, Everyone, Selection, What};

use crate::abort::{choose, Act};
use crate::conn::{Connection, Family};
use crate::error::Error;
use crate::method::Method;
use crate::session::{Narrow, Query, Session};
use confirm::{Confirm, Look};
use lookup::Found;
use plan::{Plan, Take, Targets};

/// A drop re-dumps its selection and drops what still matches (a socket a
/// dump skipped while the tables changed, or a new connection on a tuple
/// not yet handled), and stops after this many rounds in a row that
/// dropped nothing...
const IDLE_ROUNDS: usize = 3;
/// ... or after this many rounds in all.
const MAX_ROUNDS: usize = 8;

impl Session {
    /// Drop what `selection` chooses, exactly and safely, and hand each
    /// outcome to `sink` as soon as it is known; return the counts.
    ///
    /// - Every socket is named to the kernel by its id *and cookie*: a
    ///   socket that closed, or whose tuple a newer connection took, is
    ///   reported [`Outcome::Gone`] and the newcomer is never touched; no
    ///   request ever falls back to a listener (traps 1 and 2).
    /// - A socket that another socket on its tuple hides from the kernel's
    ///   lookup by tuple (one of the two bound to a device, SPEC §5) is
    ///   never called gone: destroy and inject, which name it by its tuple,
    ///   fail with [`Error::Shadowed`] and touch nothing; auto goes on to
    ///   owner, which reaches it through its holder's descriptor.
    /// - Named tuples ([`Selection::tuples`]) are found by exact lookups,
    ///   one hash lookup each in the kernel, and each names exactly the one
    ///   socket found: there is no second round.
    /// - Other selections are dumped (filtered in the kernel), dropped, and
    ///   dumped again for what a dump skipped or what appeared since, until
    ///   nothing new is found, three rounds in a row drop nothing, or eight
    ///   rounds have run. A socket first seen in a later round is dropped
    ///   only if no socket with its 4-tuple was handled in an earlier round
    ///   of this run: one on a reused tuple is a newcomer, left alone and
    ///   not reported, and the old socket is reported
    ///   [`GoneReason::Replaced`].
    /// - Each socket is reported once. Loopback peers that a drop reset are
    ///   reported as collateral ([`Sink::collateral`]); a socket is
    ///   [`GoneReason::ResetByPeerDrop`] only when this run dropped its
    ///   other end before it vanished.
    ///
    /// How: [`DropOptions::method`]. With `SOCK_DESTROY`, the first abort
    /// goes alone: if the kernel refuses it for lack of privilege or
    /// support, nothing else is sent, and the rest fail alike (a forced
    /// method) or go the next way (auto). With owner or inject, a socket is
    /// reported dropped only once an exact lookup by its cookie no longer
    /// finds it alive.
    pub fn drop<C: FnMut(&Connection) -> bool>(
        &mut self,
        selection: Selection<C>,
        options: DropOptions,
        sink: &mut dyn Sink,
    ) -> Result<DropCounts, Error> {
        let mut counting = Counting::new(sink);
        let mut selection = selection.resolved_in(self)?;
        match std::mem::replace(&mut selection.what, What::All) {
            What::Tuples(tuples) => {
                self.drop_tuples(&tuples, &mut selection, options, &mut counting)?
            }
            What::Matching(filter) => {
                selection.what = What::Matching(filter);
                self.drop_rounds(&mut selection, options, &mut counting)?;
            }
            What::All => self.drop_rounds(&mut selection, options, &mut counting)?,
            // Resolved above: a drop never walks for it.
            What::Named(_) => {
                return Err(Error::InvalidArgument(
                    "named tuples whose scopes were not looked up".to_string(),
                ))
            }
        }
        Ok(counting.counts)
    }

    /// The exact socket with ends `local` and `remote`, by one lookup in the
    /// kernel's hash tables (an IPv4 pair also finds the IPv4 connection of
    /// a dual-stack socket). `None` when there is none: the listener the
    /// kernel's lookup falls back to is never taken for it.
    pub fn find(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Option<Connection>, Error> {
        let found = self.find_all(&[(local, remote)])?;
        Ok(found.into_iter().next().flatten())
    }

    /// [`Session::find`] for many pairs, in batches.
    fn find_all(
        &mut self,
        tuples: &[(SocketAddr, SocketAddr)],
    ) -> Result<Vec<Option<Connection>>, Error> {
        let found = lookup::tuples(self.client_mut(), tuples)?;
        // Only a link-local pair without its scope, or a scoped pair that
        // another socket on its tuple may hide, needs a walk.
        let mut walk = Vec::new();
        if found.iter().any(|f| matches!(f, Found::NeedsWalk)) {
            let ipv6 = Query {
                family: Some(Family::Ipv6),
                states: StateSet::ALL,
            };
            self.dump(&ipv6, Narrow::default(), |conn| {
                walk.push(conn);
                ControlFlow::Continue(())
            })?;
        }
        Ok(found
            .into_iter()
            .zip(tuples)
            .map(|(f, (local, remote))| match f {
                Found::Socket(conn) => Some(conn),
                Found::Nothing => None,
                Found::NeedsWalk => walk.iter().find(|c| c.has_tuple(local, remote)).cloned(),
            })
            .collect())
    }

    /// Named tuples: look each up, abort exactly what was found, confirm by
    /// lookups. No dump, no second round.
    fn drop_tuples<C: FnMut(&Connection) -> bool>(
        &mut self,
        tuples: &[(SocketAddr, SocketAddr)],
        selection: &mut Selection<C>,
        options: DropOptions,
        sink: &mut Counting<'_>,
    ) -> Result<(), Error> {
        let found = self.find_all(tuples)?;
        let mut targets = Targets::default();
        let mut plan = Plan::default();
        let mut seen = std::collections::HashSet::new();
        for (conn, (local, remote)) in found.into_iter().zip(tuples) {
            match conn {
                // The same socket named twice is dropped once.
                Some(conn) if !seen.insert(conn.cookie) => {}
                Some(conn) if selection.chooses(&conn) => targets.push(&conn),
                _ => sink.not_found(*local, *remote),
            }
        }
        if targets.is_empty() {
            return Ok(());
        }
        plan.settle(&targets, Vec::new());
        lookup::peers(self.client_mut(), &targets, &mut plan)?;
        let results = self.abort(&targets, options);
        let mut confirm = Confirm::default();
        confirm.round(&targets, results, &mut plan, sink);
        let look = lookup::look(self.client_mut(), &mut plan, &confirm.closed);
        confirm.finish(look.as_ref().ok(), &plan, sink);
        look.map(|_| ())
    }

    /// Abort `targets` by the method `options` ask for (after the test
    /// hook, when compiled in).
    fn abort(&mut self, targets: &Targets, options: DropOptions) -> Vec<Result<Method, Error>> {
        hook::before_abort();
        let (client, shards, netns) = self.parts();
        choose::abort(
            Act::Abort,
            options.method,
            client,
            shards,
            netns,
            &targets.list,
        )
    }

    /// What a drop of `conns` by `options` would meet, touching none of
    /// them (a dry run): for each, in their order, the way that would abort
    /// it, or the error the drop would report for it: a refusal (no
    /// privilege, no kernel support; [`Error::is_refusal`]) or what is
    /// known about the socket beforehand (no process holds it, for
    /// [`Method::Owner`]; a state no reset ends, for [`Method::Inject`]; it
    /// is gone).
    ///
    /// The choice is the drop's own ([`DropOptions::method`]), made with
    /// each way's check in place of its abort: for destroy, the kernel's
    /// support probe and `CAP_NET_ADMIN` in effect (the kernel checks the
    /// privilege only once it has found the socket, so this is read from
    /// the caller's capabilities, as auto reads it before destroying); for
    /// owner, the holder's descriptor duplicated (`pidfd_getfd`, the step
    /// that needs the privilege) and closed unused; for inject, its raw and
    /// packet sockets opened and closed, nothing sent. What only an abort
    /// can tell (a socket that moves on, a peer that never answers) is not
    /// known here.
    pub fn would_drop(
        &mut self,
        conns: &[Connection],
        options: DropOptions,
    ) -> Vec<Result<Method, Error>> {
        let targets: Vec<crate::abort::Target> = conns.iter().map(plan::target).collect();
        let (client, shards, netns) = self.parts();
        choose::abort(Act::Check, options.method, client, shards, netns, &targets)
    }

    /// Selections by query and filter: dump, plan, abort, confirm; round
    /// after round (see [`Session::drop`]).
    fn drop_rounds<C: FnMut(&Connection) -> bool>(
        &mut self,
        selection: &mut Selection<C>,
        options: DropOptions,
        sink: &mut Counting<'_>,
    ) -> Result<(), Error> {
        // What to dump: the selection and the sockets that may be its
        // loopback peers (whose other end the filter matches). Without a
        // program, everything. A filter of port equalities is asked for as
        // the kernel's port match instead, which costs a dump about a third
        // less; it leaves the peers out, so they are looked up one by one
        // by their tuples (a hash lookup each, not a walk).
        let filter = match &selection.what {
            What::Matching(filter) => Some(filter.clone()),
            _ => None,
        };
        let ports = filter.as_ref().and_then(|f| f.ports());
        let by_lookup = ports.is_some();
        let program = filter
            .as_ref()
            .filter(|_| !by_lookup)
            .and_then(|f| f.bytecode_with_peers());
        let all = Query::all();
        let narrow = Narrow {
            program: program.as_deref(),
            ports: ports.unwrap_or_default(),
        };
        let mut plan = Plan::default();
        let mut confirm = Confirm::default();
        let mut idle = 0;
        // The last dump's look at the peers and the gone rows, if nothing
        // was dropped after it: then it is the look afterwards.
        let mut last_look: Option<Look> = None;
        for round in 0..MAX_ROUNDS {
            let mut targets = Targets::default();
            // Sockets not chosen, not listeners: their other end may be.
            let mut candidates = Vec::new();
            let mut look = (round > 0 && !by_lookup).then(|| Look::new(&mut plan, &confirm.closed));
            self.dump(&all, narrow, |conn| {
                if let Some(look) = &mut look {
                    look.see(&mut plan, &conn);
                }
                if let Take::Ask = plan.take(&conn) {
                    if selection.chooses(&conn) {
                        targets.push(&conn);
                    } else {
                        plan.candidate(&conn, &mut candidates);
                    }
                }
                ControlFlow::Continue(())
            })?;
            if targets.is_empty() {
                last_look = look;
                break;
            }
            plan.settle(&targets, candidates);
            if by_lookup {
                lookup::peers(self.client_mut(), &targets, &mut plan)?;
            }
            let results = self.abort(&targets, options);
            let done = confirm.round(&targets, results, &mut plan, sink);
            plan.handled(&targets);
            if done.refused {
                break;
            }
            idle = if done.dropped == 0 { idle + 1 } else { 0 };
            if idle >= IDLE_ROUNDS {
                break;
            }
        }
        let asks = !plan.peers.is_empty() || !confirm.closed.is_empty();
        let look = match last_look {
            Some(look) => Ok(look),
            None if !asks => Ok(Look::new(&mut plan, &confirm.closed)),
            None if by_lookup => lookup::look(self.client_mut(), &mut plan, &confirm.closed),
            None => {
                // One look afterwards serves both questions: which peers
                // the resets closed, and which gone tuples a newer socket
                // holds.
                let mut look = Look::new(&mut plan, &confirm.closed);
                self.dump(&all, narrow, |conn| {
                    look.see(&mut plan, &conn);
                    ControlFlow::Continue(())
                })
                .map(|()| look)
            }
        };
        confirm.finish(look.as_ref().ok(), &plan, sink);
        look.map(|_| ())
    }
}

/// How a drop aborts (beyond what it selects).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropOptions {
    /// The one way to abort with (it never falls back), or `None` for the
    /// best that works for each socket: `SOCK_DESTROY` where the kernel has
    /// it and the caller may, else through the holding process's own
    /// descriptor, else an injected reset (see [`Method`]).
    pub method: Option<Method>,
}
