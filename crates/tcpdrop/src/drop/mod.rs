//! The safe drop procedure (SPEC §3), top-down. Each step is a file:
//!
//! 1. [`select`]: what the caller chose ([`Selection`]);
//! 2. finding the sockets: a dump narrowed in the kernel (by the filter's
//!    bytecode or its ports), or for named tuples an exact [`lookup`] each;
//! 3. [`plan`]: which rows become targets, which are loopback peers to
//!    watch (paired in the dump, whose remote address [`local`] says is
//!    this namespace's), which are newcomers on a tuple already handled
//!    (left alone), all held in a few bytes a socket;
//! 4. aborting the targets by a method ([`crate::abort`]), each by its id
//!    *and cookie*, in batches on worker threads while the dump goes on
//!    where `SOCK_DESTROY` (or a forced `inject`) serves ([`stream`]);
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
mod local;
mod lookup;
mod plan;
mod report;
mod select;
mod stream;

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
use crate::session::{Narrow, Query, Session, Shards};
use confirm::{Answers, Confirm, Look, Tally};
use local::{Anywhere, Locals};
use lookup::Found;
use plan::{Batch, Intake, Local, Plan, Rec, Row};

/// A drop whose aborts went on while its dump walked the kernel's tables
/// re-dumps its selection and drops what still matches (a socket the dump
/// skipped because an abort moved it in the table, or a new connection on a
/// tuple not yet handled), and stops after this many rounds in a row that
/// dropped nothing...
const IDLE_ROUNDS: usize = 3;
/// ... or after this many rounds in all.
const MAX_ROUNDS: usize = 8;

/// Aborts wait for the end of the dump until this many targets are found:
/// a smaller drop is made in one walk of the kernel's tables, which its
/// aborts cannot disturb, and needs no second dump.
const STREAM_FROM: usize = 2048;
/// Once aborts stream, while a worker is idle, the targets found so far go
/// to it once there are this many...
const FIRST_BATCH: usize = 64;
/// ... and while every worker is busy, once there are this many (each
/// worker holds at most two batches; the dump waits for them beyond that).
const BATCH: usize = 2048;
/// Rows read on the dump's thread go to the planning thread this many at a
/// time, at most this many chunks ahead.
const ROW_CHUNK: usize = 256;
const ROW_CHUNKS: usize = 16;
/// At most this many rows of a dump wait for their other end (about 58
/// bytes each: a record and its 8-byte entry in an index of 2¹⁹, which
/// holds this many): beyond it a target's peer is looked up instead. At most
/// about half the connections wait at once, so a drop of up to about
/// 900,000 connections pairs every target with its peer from the dump.
const WAITING_ROOM: usize = 458_000;
/// A look afterwards asks about at most this many sockets by exact lookups
/// (about 2 µs each); for more it dumps (a walk of the tables).
const LOOK_BY_LOOKUP: usize = 8192;
/// At most about this many peers are watched until the look afterwards
/// (about 57 bytes each); beyond it, each batch looks at its peers again
/// right after its aborts and reports those gone at once. With the
/// waiting room full, a drop of a million connections then peaks under
/// 64 MiB.
const PEER_ROOM: usize = 150_000;

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
    /// - Other selections are dumped (filtered in the kernel) and dropped.
    ///   A drop of fewer than a few thousand sockets aborts them once its
    ///   dump has ended: one walk of the kernel's tables, as a listing
    ///   makes. A larger one aborts while its dump goes on, which may make
    ///   the dump skip a socket, so it dumps again for what a dump skipped
    ///   or what appeared since, until nothing new is found, three rounds
    ///   in a row drop nothing, or eight rounds have run. A socket first
    ///   seen after a socket with its 4-tuple was sent to be aborted (in a
    ///   later round, or later in the same dump once a large drop's aborts
    ///   have begun) is a newcomer on a reused tuple: left alone and not
    ///   reported, and the old socket is reported [`GoneReason::Replaced`].
    /// - Each socket is reported once. Loopback peers that a drop reset are
    ///   reported as collateral ([`Sink::collateral`]), among them a chosen
    ///   socket that the drop of its other end reset before the dump
    ///   reached it; a socket is [`GoneReason::ResetByPeerDrop`] only when
    ///   this run dropped its other end.
    /// - A drop holds a few bytes a socket, not the rows of its dump: with
    ///   `SOCK_DESTROY` (or a forced `inject`, with `CAP_NET_ADMIN` too)
    ///   its aborts go to worker threads in batches while the dump goes on,
    ///   and outcomes are reported as they come.
    ///
    /// How: [`DropOptions::method`]. With `SOCK_DESTROY`, the first abort
    /// of a batch goes alone: if the kernel refuses it for lack of
    /// privilege or support, nothing else of the batch is sent and the rest
    /// of the round is not sent in batches, and they fail alike (a forced
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
        let mut batch = Batch::default();
        let mut plan = Plan::default();
        let mut seen = std::collections::HashSet::new();
        for (conn, (local, remote)) in found.into_iter().zip(tuples) {
            match conn {
                // The same socket named twice is dropped once.
                Some(conn) if !seen.insert(conn.cookie) => {}
                Some(conn) if selection.chooses(&conn) => {
                    let rec = Rec::of(&conn);
                    let find = !rec.is_listener();
                    batch.push(rec, None, find);
                }
                _ => sink.not_found(*local, *remote),
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        let (mut dumper, shards, netns) = self.split();
        let job = stream::Job::of(0, &batch, false);
        let answers = stream::run(dumper.client(), shards, netns, options.method, job, true)?;
        let mut confirm = Confirm::default();
        confirm.batch(batch, answers, &mut plan, &mut Tally::default(), sink);
        let look = lookup::look(dumper.client(), &mut plan, &confirm.closed);
        confirm.finish(look.as_ref().ok(), &plan, sink);
        look.map(|_| ())
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
    ///
    /// Where `SOCK_DESTROY` serves (auto, or forced), or a forced `inject`
    /// ([`Session::streams`]), the targets go to worker threads in batches
    /// while the dump goes on ([`stream`]), each with the loopback peers
    /// the dump showed for it, and their outcomes
    /// are reported as their answers come: a drop then holds a few bytes
    /// a socket (the tuples it handled, the rows waiting for their other
    /// end, the peers it watches), not every row. Otherwise each round's
    /// targets are aborted together once its dump has ended (a walk of
    /// the kernel's tables by bpf, or a scan of the processes by owner,
    /// is made once for all of them).
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
        let method = options.method;
        let streams = Session::streams(method);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (mut dumper, shards, netns) = self.split();
        // Where the aborts stream, a row waits for its other end only if
        // its remote address is this namespace's; otherwise every one may.
        let locals = if streams { Locals::of(netns) } else { None };
        let local: &dyn Local = match &locals {
            Some(locals) => locals,
            None => &Anywhere,
        };
        let room = if streams { WAITING_ROOM } else { usize::MAX };
        let (helpers, mut spare): (&mut [sockdiag::Client], Option<&mut Shards>) = if streams {
            (shards.lend(cpus.min(MAX_WORKERS), netns), None)
        } else {
            (&mut [], Some(shards))
        };
        let mut plan = Plan::default();
        let mut confirm = Confirm::default();
        let mut idle = 0;
        // The last dump's look at the peers and the gone rows, if nothing
        // was dropped after it: then it is the look afterwards.
        let mut last_look: Option<Look> = None;
        std::thread::scope(|scope| -> Result<(), Error> {
            let mut pool = stream::Pool::new(scope, helpers, method, netns);
            // Batches go to workers only while their way serves.
            let mut streaming = streams && pool.most() > 0;
            let mut failure: Option<Error> = None;
            for round in 0..MAX_ROUNDS {
                let mut intake = Intake::new(round > 0, !by_lookup, room);
                let mut look =
                    (round > 0 && !by_lookup).then(|| Look::new(&mut plan, &confirm.closed));
                let mut tally = Tally::default();
                let mut rows: usize = 0;
                let mut hand = |batch: Batch,
                                answers: Result<Answers, Error>,
                                plan: &mut Plan,
                                tally: &mut Tally,
                                streaming: &mut bool,
                                failure: &mut Option<Error>| {
                    match answers {
                        Ok(answers) => {
                            if !serves(method, &answers.results) {
                                *streaming = false;
                            }
                            confirm.batch(batch, answers, plan, tally, sink);
                        }
                        Err(err) => {
                            *streaming = false;
                            failure.get_or_insert(err);
                        }
                    }
                };
                // Rows are taken a chunk at a time: what taking them will
                // read is looked up for the whole chunk first.
                let mut keyed: Vec<Row> = Vec::with_capacity(ROW_CHUNK);
                let mut on_rows = |chunk: Vec<Connection>| {
                    keyed.extend(chunk.into_iter().map(Row::of));
                    intake.ahead(&keyed, &plan);
                    for row in keyed.drain(..) {
                        if let Some(look) = &mut look {
                            look.see(&mut plan, &row.conn);
                        }
                        intake.row(row, &mut plan, |c| selection.chooses(c), local);
                        if streaming && (pool.started() || intake.taken >= STREAM_FROM) {
                            let ready = intake.ready.len();
                            let busy = pool.in_flight() >= pool.most();
                            if ready >= if busy { BATCH } else { FIRST_BATCH } {
                                if pool.in_flight() >= 2 * pool.most() {
                                    pool.collect(true, |b, a| {
                                        hand(
                                            b,
                                            a,
                                            &mut plan,
                                            &mut tally,
                                            &mut streaming,
                                            &mut failure,
                                        )
                                    });
                                }
                                if streaming {
                                    hook::before_abort();
                                    let batch = intake.batch(&mut plan);
                                    let verify = by_lookup
                                        || plan.peers.len()
                                            + pool.peers_in_flight
                                            + batch.peers.len()
                                            > PEER_ROOM;
                                    pool.send(batch, verify);
                                }
                            }
                            // What came back is reported as it comes (a look
                            // at the answers now and then).
                            rows += 1;
                            if rows % 256 == 0 {
                                pool.collect(false, |b, a| {
                                    hand(b, a, &mut plan, &mut tally, &mut streaming, &mut failure)
                                });
                            }
                        }
                    }
                };
                let dumped = if streams {
                    // The dump reads on a thread of its own: the kernel fills
                    // its replies there while this thread plans and reports.
                    let dumper = &mut dumper;
                    std::thread::scope(|reading| {
                        let (rows_out, rows_in) = std::sync::mpsc::sync_channel(ROW_CHUNKS);
                        let reader = reading.spawn(move || {
                            let mut chunk = Vec::with_capacity(ROW_CHUNK);
                            let dumped = dumper.dump(&all, narrow, |conn| {
                                chunk.push(conn);
                                if chunk.len() >= ROW_CHUNK {
                                    let full = std::mem::replace(
                                        &mut chunk,
                                        Vec::with_capacity(ROW_CHUNK),
                                    );
                                    if rows_out.send(full).is_err() {
                                        return ControlFlow::Break(());
                                    }
                                }
                                ControlFlow::Continue(())
                            });
                            if !chunk.is_empty() {
                                let _ = rows_out.send(chunk);
                            }
                            dumped
                        });
                        for chunk in rows_in {
                            on_rows(chunk);
                        }
                        reader.join().unwrap_or_else(|_| {
                            Err(Error::Io(std::io::Error::other("the dump's thread failed")))
                        })
                    })
                } else {
                    let mut chunk = Vec::with_capacity(ROW_CHUNK);
                    let dumped = dumper.dump(&all, narrow, |conn| {
                        chunk.push(conn);
                        if chunk.len() >= ROW_CHUNK {
                            on_rows(std::mem::replace(&mut chunk, Vec::with_capacity(ROW_CHUNK)));
                        }
                        ControlFlow::Continue(())
                    });
                    if !chunk.is_empty() {
                        on_rows(chunk);
                    }
                    dumped
                };
                // Whatever happens next, what was sent is reported.
                if dumped.is_err() || failure.is_some() {
                    pool.drain(|b, a| {
                        hand(b, a, &mut plan, &mut tally, &mut streaming, &mut failure)
                    });
                    dumped?;
                    if let Some(err) = failure.take() {
                        return Err(err);
                    }
                }
                if intake.taken == 0 {
                    last_look = look;
                    break;
                }
                // No abort went on during the walk: it saw the tables as a
                // listing does, and a second one would find nothing it
                // skipped.
                let undisturbed = !pool.started();
                // The targets still waiting (and those not yet sent) go to
                // the workers too while destroy serves; what is left then is
                // aborted here, together.
                let mut left = Vec::new();
                if streaming && pool.started() {
                    hook::before_abort();
                    loop {
                        let done = intake.finish(BATCH);
                        for batch in intake.batch(&mut plan).cut(BATCH) {
                            if streaming && pool.in_flight() >= 2 * pool.most() {
                                pool.collect(true, |b, a| {
                                    hand(b, a, &mut plan, &mut tally, &mut streaming, &mut failure)
                                });
                            }
                            if !streaming {
                                left.push(batch);
                                continue;
                            }
                            let verify = by_lookup
                                || plan.peers.len() + pool.peers_in_flight + batch.peers.len()
                                    > PEER_ROOM;
                            pool.send(batch, verify);
                        }
                        if done {
                            break;
                        }
                    }
                } else {
                    intake.finish(usize::MAX);
                    left.push(intake.batch(&mut plan));
                }
                pool.drain(|b, a| hand(b, a, &mut plan, &mut tally, &mut streaming, &mut failure));
                let rest = Batch::merge(left);
                if !rest.is_empty() && failure.is_none() {
                    let mut own = Shards::default();
                    let shards = spare.as_deref_mut().unwrap_or(&mut own);
                    let verify = by_lookup && streams;
                    let job = stream::Job::of(0, &rest, verify);
                    let answers = stream::run(dumper.client(), shards, netns, method, job, true);
                    hand(
                        rest,
                        answers,
                        &mut plan,
                        &mut tally,
                        &mut streaming,
                        &mut failure,
                    );
                }
                if let Some(err) = failure.take() {
                    return Err(err);
                }
                if tally.refused() || undisturbed {
                    break;
                }
                idle = if tally.dropped == 0 { idle + 1 } else { 0 };
                if idle >= IDLE_ROUNDS {
                    break;
                }
            }
            Ok(())
        })?;
        let asks = !plan.peers.is_empty() || !confirm.closed.is_empty();
        let look = match last_look {
            Some(look) => Ok(look),
            None if !asks => Ok(Look::new(&mut plan, &confirm.closed)),
            None if by_lookup || plan.peers.len() + confirm.closed.len() <= LOOK_BY_LOOKUP => {
                lookup::look(dumper.client(), &mut plan, &confirm.closed)
            }
            None => {
                // One look afterwards serves both questions: which peers
                // the resets closed, and which gone tuples a newer socket
                // holds.
                let mut look = Look::new(&mut plan, &confirm.closed);
                dumper
                    .dump(&all, narrow, |conn| {
                        look.see(&mut plan, &conn);
                        ControlFlow::Continue(())
                    })
                    .map(|()| look)
            }
        };
        confirm.finish(look.as_ref().ok(), &plan, sink);
        look.map(|_| ())
    }

    /// Whether this drop's aborts may go to worker threads while its dump
    /// goes on: by `SOCK_DESTROY` (auto or forced), when the caller may use
    /// it, or by a forced `inject` with `CAP_NET_RAW` and `CAP_NET_ADMIN`
    /// (each worker's packet socket reads every worker's answers: its
    /// receive buffer is forced past `rmem_max`). Otherwise the way is
    /// chosen, or refused, for all the round's targets at once, as a drop
    /// always did (`owner` scans the processes, `bpf` walks the tables,
    /// once for all of them). A kernel without `SOCK_DESTROY` refuses the
    /// first batch: then the rest goes that way too ([`serves`]).
    fn streams(method: Option<Method>) -> bool {
        let admin = crate::privilege::net_admin() == crate::Privilege::Effective;
        match method {
            None | Some(Method::Destroy) => admin,
            Some(Method::Inject) => {
                admin && crate::privilege::effective(rustix::thread::CapabilitySet::NET_RAW)
            }
            Some(Method::Owner | Method::Bpf) => false,
        }
    }
}

/// At most this many worker threads abort at once.
const MAX_WORKERS: usize = 8;

/// Whether the way a drop streams by served a batch's aborts (`method`:
/// auto, where it is `SOCK_DESTROY`, or forced): some socket was aborted
/// that way, or found gone, or failed for a reason of its own. Otherwise
/// (refused, not supported after all) the rest of the round is aborted
/// together once its dump has ended, as a drop where it does not serve.
fn serves(method: Option<Method>, results: &[Result<Method, Error>]) -> bool {
    results.is_empty()
        || results.iter().any(|r| match (method, r) {
            (None, Ok(Method::Destroy)) | (_, Err(Error::NotFound)) => true,
            (Some(forced), Ok(used)) => *used == forced,
            (Some(_), Err(err)) => !err.is_refusal(),
            _ => false,
        })
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
