//! The view's worker: a thread that owns the sessions, dumps every
//! interval, merges and sorts, looks owners up on a thread of its own, and
//! drops what the user confirmed, by the library's drop procedure. The
//! input thread never waits for any of it: it is handed each finished
//! [`View`] and each outcome.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ssfilter::Filter;
use tcpdrop::procs::{InodeSet, SocketOwners};
use tcpdrop::{
    Connection, DropOptions, GoneReason, ListOptions, Method, Outcome, Query, Selection, Sink,
};

use super::model::{Key, Life, Owners, OwnersOf, Row, Sample, Sort, Table, View};
use super::sort::arrange;
use super::Msg;
use crate::owners::OwnerFilter;
use crate::plan::Namespace;

/// What the input thread asks of the worker.
#[derive(Debug)]
pub(crate) enum Control {
    /// Refresh now.
    Refresh,
    /// Refresh every this long.
    Interval(Duration),
    /// Stop (or restart) refreshing on the interval.
    Pause(bool),
    /// Show what this filter matches (`None`: everything the options allow).
    Filter(Option<Filter>),
    /// Order the rows so.
    Sort(Sort),
    /// The inodes of the rows on screen: their owners are looked up first.
    Visible(Vec<u32>),
    /// Drop these connections; listeners only if `listeners`.
    Drop {
        targets: Vec<(Key, Connection)>,
        listeners: bool,
    },
    /// A scan of `/proc/*/fd` finished, taking this long.
    Owners(Owners, Duration),
    /// Stop.
    Quit,
}

/// What became of one connection the user dropped, as the command words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RowOutcome {
    /// `dropped`, `gone`, `failed`, or `dropping` while it is under way.
    pub(crate) word: &'static str,
    /// The method (`destroy`, ...) for dropped; the reason otherwise.
    pub(crate) detail: String,
}

impl RowOutcome {
    pub(crate) fn text(&self) -> String {
        match self.word {
            "dropping" => "dropping…".to_string(),
            word => format!("{word} ({})", self.detail),
        }
    }
}

/// What the worker hands the input thread.
#[derive(Debug)]
pub(crate) enum Report {
    View(Arc<View>),
    Outcome(Key, RowOutcome),
    /// A drop finished: dropped, gone, failed, and the first failure's reason.
    Dropped {
        dropped: usize,
        gone: usize,
        failed: usize,
        reason: Option<String>,
    },
    /// A refresh or a drop could not run at all.
    Error(String),
}

/// How often owners may be looked up: a scan of `/proc/*/fd` reads every
/// descriptor of every process (about 0.7 s for 200,000 sockets), so the
/// next may start only after this many times its duration has passed (at
/// most a fifth of a core on scans)...
const SCAN_SPACING: u32 = 4;
/// ... and with nothing pending, owners on screen are read again this often
/// (a process may have passed its socket on, or exited), or after 30 times
/// the last scan's duration if that is longer (at most a thirtieth of a
/// core on scans that find nothing new).
const SCAN_AGAIN: Duration = Duration::from_secs(60);
const SCAN_AGAIN_SPACING: u32 = 30;

/// The worker's state.
pub(crate) struct Worker {
    spaces: Vec<Namespace>,
    query: Query,
    filter: Option<Filter>,
    owner_filter: OwnerFilter,
    method: Option<Method>,
    table: Table,
    owners: Arc<Owners>,
    sort: Sort,
    labels: Arc<Vec<Option<String>>>,
    visible: Vec<u32>,
    interval: Duration,
    paused: bool,
    scanning: bool,
    last_scan: Option<(Instant, Duration)>,
    to_ui: Sender<Msg>,
    to_self: Sender<Control>,
}

/// What the worker starts with.
pub(crate) struct Setup {
    pub(crate) spaces: Vec<Namespace>,
    pub(crate) query: Query,
    pub(crate) filter: Option<Filter>,
    pub(crate) owner_filter: OwnerFilter,
    pub(crate) method: Option<Method>,
    pub(crate) interval: Duration,
    pub(crate) labels: Arc<Vec<Option<String>>>,
}

impl Worker {
    pub(crate) fn new(setup: Setup, to_ui: Sender<Msg>, to_self: Sender<Control>) -> Worker {
        Worker {
            spaces: setup.spaces,
            query: setup.query,
            filter: setup.filter,
            owner_filter: setup.owner_filter,
            method: setup.method,
            table: Table::default(),
            owners: Arc::new(Owners::default()),
            sort: Sort::default(),
            labels: setup.labels,
            visible: Vec::new(),
            interval: setup.interval,
            paused: false,
            scanning: false,
            last_scan: None,
            to_ui,
            to_self,
        }
    }

    /// Refresh on the interval and answer the input thread until it quits
    /// (or goes away).
    pub(crate) fn run(mut self, controls: Receiver<Control>) {
        let mut next = Instant::now();
        loop {
            let wait = if self.paused {
                Duration::from_secs(3600)
            } else {
                next.saturating_duration_since(Instant::now())
            };
            match controls.recv_timeout(wait) {
                Err(RecvTimeoutError::Disconnected) | Ok(Control::Quit) => return,
                Err(RecvTimeoutError::Timeout) => {
                    if !self.paused {
                        next = Instant::now() + self.interval;
                        self.refresh();
                    }
                }
                Ok(Control::Refresh) => {
                    next = Instant::now() + self.interval;
                    self.refresh();
                }
                Ok(Control::Interval(interval)) => {
                    next = next
                        .checked_sub(self.interval)
                        .map_or(next, |last| last + interval);
                    self.interval = interval;
                }
                Ok(Control::Pause(paused)) => {
                    self.paused = paused;
                    next = Instant::now();
                }
                Ok(Control::Filter(filter)) => {
                    self.filter = filter;
                    // What was shown says nothing of what is new or closed
                    // under the new filter.
                    self.table.refilter();
                    next = Instant::now() + self.interval;
                    self.refresh();
                }
                Ok(Control::Sort(sort)) => {
                    self.sort = sort;
                    self.publish();
                }
                Ok(Control::Visible(inodes)) => {
                    self.visible = inodes;
                    self.maybe_scan();
                }
                Ok(Control::Drop { targets, listeners }) => {
                    self.drop(targets, listeners);
                    next = Instant::now() + self.interval;
                    self.refresh();
                }
                Ok(Control::Owners(owners, took)) => {
                    self.scanning = false;
                    self.last_scan = Some((Instant::now(), took));
                    self.owners = Arc::new(owners);
                    self.publish();
                    self.maybe_scan();
                }
            }
        }
    }

    /// Dump every namespace (with `tcp_info`), merge, publish.
    fn refresh(&mut self) {
        let started = Instant::now();
        let mut samples = Vec::with_capacity(self.table.rows().len());
        for (i, space) in self.spaces.iter_mut().enumerate() {
            let index = u16::try_from(i).unwrap_or(u16::MAX);
            let selection = match &self.filter {
                Some(filter) => Selection::matching(self.query, filter.clone()),
                None => Selection::all(self.query),
            };
            let options = ListOptions { tcp_info: true };
            let dumped = space
                .session
                .list(selection.listeners(true), options, |conn, info| {
                    samples.push(Sample::new(index, conn, info));
                    ControlFlow::Continue(())
                });
            if let Err(err) = dumped {
                let label = space
                    .label
                    .as_deref()
                    .map_or(String::new(), |l| format!("{l}: "));
                self.send(Report::Error(format!(
                    "cannot list the connections: {label}{err}"
                )));
                return;
            }
        }
        self.table.merge(samples, started);
        self.maybe_scan();
        self.publish_at(started);
    }

    fn publish(&mut self) {
        self.publish_at(Instant::now());
    }

    /// Sort what the options admit and hand it over.
    fn publish_at(&mut self, at: Instant) {
        let owners = Arc::clone(&self.owners);
        let rows = Arc::clone(self.table.rows());
        let filter = &self.owner_filter;
        let keep = |row: &Row| {
            if !filter.is_active() {
                return true;
            }
            let conn = row.conn();
            match owners.of(conn.inode) {
                OwnersOf::Known(found) => filter.admits(conn, found),
                // Undecided until its owners are known.
                OwnersOf::Pending | OwnersOf::Unreadable if filter.needs_processes() => false,
                _ => filter.admits(conn, &[]),
            }
        };
        let (order, counts) = arrange(&rows, &owners, &self.labels, self.sort, keep);
        let view = View {
            rows,
            order,
            owners,
            counts,
            at,
            labels: Arc::clone(&self.labels),
        };
        self.send(Report::View(Arc::new(view)));
    }

    /// Start a scan of `/proc/*/fd` when rows on screen (or, when owners
    /// select or sort the rows, any row) wait for their owners, no more
    /// often than [`SCAN_SPACING`] allows.
    fn maybe_scan(&mut self) {
        if self.scanning {
            return;
        }
        let now = Instant::now();
        if let Some((ended, took)) = self.last_scan {
            if now < ended + took * SCAN_SPACING {
                return;
            }
        }
        let asked = &self.owners.asked;
        let pending = |inode: &u32| *inode != 0 && !asked.contains(inode);
        let rows = self.table.rows();
        let wanted = self.visible.iter().any(pending)
            || ((self.owner_filter.needs_processes()
                || self.sort.column == super::model::Column::Process)
                && rows.iter().any(|r| pending(&r.conn().inode)))
            || (!self.visible.is_empty()
                && self.last_scan.is_some_and(|(ended, took)| {
                    now >= ended + SCAN_AGAIN.max(took * SCAN_AGAIN_SPACING)
                }));
        if !wanted {
            return;
        }
        // One pass over /proc costs the same whatever it is asked for:
        // ask for every socket listed.
        let inodes: InodeSet = rows
            .iter()
            .filter(|r| r.life != Life::Closed)
            .map(|r| r.conn().inode)
            .filter(|&i| i != 0)
            .collect();
        self.scanning = true;
        let to_self = self.to_self.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let found = SocketOwners::scan(&inodes);
            let _ = to_self.send(Control::Owners(
                Owners {
                    found,
                    asked: inodes,
                },
                started.elapsed(),
            ));
        });
    }

    /// Drop `targets` through the library's drop procedure, in each
    /// namespace: a dump, and each socket chosen by its cookie, so the
    /// kernel aborts exactly the sockets shown (a newer one on the same
    /// tuple is left alone), listeners only when `listeners`.
    fn drop(&mut self, targets: Vec<(Key, Connection)>, listeners: bool) {
        let mut by_space: HashMap<u16, Vec<(Key, Connection)>> = HashMap::new();
        for (key, conn) in targets {
            by_space.entry(key.space).or_default().push((key, conn));
        }
        let options = DropOptions {
            method: self.method,
        };
        let mut totals = Tally::default();
        for (space, targets) in by_space {
            let Some(session) = self
                .spaces
                .get_mut(usize::from(space))
                .map(|s| &mut s.session)
            else {
                continue;
            };
            let cookies: HashSet<u64> = targets.iter().map(|(k, _)| k.cookie).collect();
            let selection = Selection::all(Query::all())
                .listeners(listeners)
                .and(|c| cookies.contains(&c.cookie));
            let mut sink = Shown {
                space,
                to_ui: &self.to_ui,
                decided: HashSet::new(),
                tally: &mut totals,
            };
            let result = session.drop(selection, options, &mut sink);
            let decided = std::mem::take(&mut sink.decided);
            let reason = match result {
                // A full dump did not find it by its cookie: it had closed.
                Ok(_) => None,
                Err(err) => Some(err.to_string()),
            };
            for (key, _) in targets.iter().filter(|(k, _)| !decided.contains(&k.cookie)) {
                let outcome = match &reason {
                    None => {
                        totals.gone += 1;
                        RowOutcome {
                            word: "gone",
                            detail: GoneReason::Closed.describe().to_string(),
                        }
                    }
                    Some(reason) => {
                        totals.fail(reason);
                        RowOutcome {
                            word: "failed",
                            detail: reason.clone(),
                        }
                    }
                };
                self.send(Report::Outcome(*key, outcome));
            }
        }
        self.send(Report::Dropped {
            dropped: totals.dropped,
            gone: totals.gone,
            failed: totals.failed,
            reason: totals.reason,
        });
    }

    fn send(&self, report: Report) {
        let _ = self.to_ui.send(Msg::Worker(report));
    }
}

/// The counts of one drop.
#[derive(Default)]
struct Tally {
    dropped: usize,
    gone: usize,
    failed: usize,
    reason: Option<String>,
}

impl Tally {
    fn fail(&mut self, reason: &str) {
        self.failed += 1;
        self.reason.get_or_insert_with(|| reason.to_string());
    }
}

/// The sink of a drop from the view: each outcome to its row.
struct Shown<'a> {
    space: u16,
    to_ui: &'a Sender<Msg>,
    /// The cookies that got an outcome.
    decided: HashSet<u64>,
    tally: &'a mut Tally,
}

impl Shown<'_> {
    fn send(&self, conn: &Connection, outcome: RowOutcome) {
        let key = Key {
            space: self.space,
            cookie: conn.cookie,
        };
        let _ = self.to_ui.send(Msg::Worker(Report::Outcome(key, outcome)));
    }
}

impl Sink for Shown<'_> {
    fn outcome(&mut self, conn: Connection, outcome: Outcome) {
        self.decided.insert(conn.cookie);
        let shown = match &outcome {
            Outcome::Dropped(method) => {
                self.tally.dropped += 1;
                RowOutcome {
                    word: "dropped",
                    detail: method.name().to_string(),
                }
            }
            Outcome::Gone(reason) => {
                self.tally.gone += 1;
                RowOutcome {
                    word: "gone",
                    detail: reason.describe().to_string(),
                }
            }
            Outcome::Failed(err) => {
                let reason = err.to_string();
                self.tally.fail(&reason);
                RowOutcome {
                    word: "failed",
                    detail: reason,
                }
            }
        };
        self.send(&conn, shown);
    }

    fn collateral(&mut self, conn: Connection) {
        self.tally.gone += 1;
        self.send(
            &conn,
            RowOutcome {
                word: "gone",
                detail: GoneReason::ResetByPeerDrop.describe().to_string(),
            },
        );
    }
}
