//! What the view shows, kept between refreshes: each connection with the
//! traffic its `tcp_info` reports, how long it has been seen, whether it is
//! new or has just closed; the order the rows are sorted in; the counts by
//! state.
//!
//! A refresh is merged into the previous table by the socket's key (its
//! namespace and cookie: a new connection on an old tuple is a new row),
//! which is how rates are measured and closed rows are found.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::Instant;

use tcpdrop::procs::{InodeHasher, InodeSet, Owner, SocketOwners};
use tcpdrop::{Connection, State, TcpInfo};

/// A socket, wherever it is: its namespace (index into the view's list)
/// and its cookie, which no other socket of this boot shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) space: u16,
    pub(crate) cookie: u64,
}

/// What one dump said of one socket.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    pub(crate) space: u16,
    pub(crate) conn: Connection,
    /// `tcpi_bytes_acked` would lag by the unacknowledged bytes; this is
    /// `tcpi_bytes_sent` (Linux 4.19+), what left the socket.
    pub(crate) sent: Option<u64>,
    pub(crate) received: Option<u64>,
    /// Smoothed RTT, microseconds.
    pub(crate) rtt_us: Option<u32>,
}

impl Sample {
    pub(crate) fn new(space: u16, conn: Connection, info: Option<&TcpInfo>) -> Sample {
        Sample {
            space,
            conn,
            sent: info.and_then(|i| i.bytes_sent),
            received: info.and_then(|i| i.bytes_received),
            rtt_us: info.and_then(|i| i.rtt),
        }
    }

    pub(crate) fn key(&self) -> Key {
        Key {
            space: self.space,
            cookie: self.conn.cookie,
        }
    }
}

/// Where a row is in its life on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    /// First seen in the latest refresh (not at the start): highlighted.
    New,
    /// Seen before.
    Seen,
    /// Gone in the latest refresh: shown fading for one refresh, then removed.
    Closed,
}

/// One row of the table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) sample: Sample,
    pub(crate) first_seen: Instant,
    pub(crate) life: Life,
    /// Bytes per second since the previous refresh.
    pub(crate) send_rate: Option<f64>,
    pub(crate) recv_rate: Option<f64>,
}

impl Row {
    pub(crate) fn key(&self) -> Key {
        self.sample.key()
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.sample.conn
    }
}

/// The columns, in the order they are shown; each can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Column {
    State,
    Local,
    Remote,
    Process,
    Uid,
    Netns,
    RecvQ,
    SendQ,
    Sent,
    Received,
    SendRate,
    RecvRate,
    Rtt,
    Age,
}

impl Column {
    /// The columns `s` cycles through, in order.
    pub(crate) const SORTABLE: [Column; 14] = [
        Column::Local,
        Column::Remote,
        Column::State,
        Column::Process,
        Column::Uid,
        Column::Netns,
        Column::RecvQ,
        Column::SendQ,
        Column::Sent,
        Column::Received,
        Column::SendRate,
        Column::RecvRate,
        Column::Rtt,
        Column::Age,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Column::State => "State",
            Column::Local => "Local",
            Column::Remote => "Remote",
            Column::Process => "Process",
            Column::Uid => "UID",
            Column::Netns => "Netns",
            Column::RecvQ => "Recv-Q",
            Column::SendQ => "Send-Q",
            Column::Sent => "Sent",
            Column::Received => "Recv'd",
            Column::SendRate => "Tx/s",
            Column::RecvRate => "Rx/s",
            Column::Rtt => "RTT",
            Column::Age => "Age",
        }
    }

    /// The next column to sort by (`s`); Netns only with several namespaces.
    pub(crate) fn next(self, netns: bool) -> Column {
        let at = Column::SORTABLE
            .iter()
            .position(|&c| c == self)
            .unwrap_or(0);
        // The one after it, the first after the last.
        let mut next = Column::SORTABLE
            .iter()
            .cycle()
            .nth(at + 1)
            .copied()
            .unwrap_or(self);
        if next == Column::Netns && !netns {
            next = next.next(netns);
        }
        next
    }
}

/// How the rows are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sort {
    pub(crate) column: Column,
    pub(crate) reverse: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            column: Column::Local,
            reverse: false,
        }
    }
}

/// The owners found so far: the latest scan of `/proc/*/fd`, and which
/// inodes it was asked about (an inode it was not asked about is pending).
#[derive(Debug, Default)]
pub(crate) struct Owners {
    pub(crate) found: SocketOwners,
    pub(crate) asked: InodeSet,
}

/// What is known of one socket's owners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OwnersOf<'a> {
    /// No process holds it (TIME-WAIT, SYN-RECV, orphaned): `-`.
    None,
    /// These processes.
    Known(&'a [Owner]),
    /// It may belong to a process whose descriptors could not be read: `?`.
    Unreadable,
    /// Not looked up yet: `…`.
    Pending,
}

impl Owners {
    pub(crate) fn of(&self, inode: u32) -> OwnersOf<'_> {
        if inode == 0 {
            return OwnersOf::None;
        }
        let owners = self.found.owners(inode);
        if !owners.is_empty() {
            OwnersOf::Known(owners)
        } else if !self.asked.contains(&inode) {
            OwnersOf::Pending
        } else if self.found.is_unknown(inode) {
            OwnersOf::Unreadable
        } else {
            OwnersOf::None
        }
    }

    /// The first owner's command, for sorting.
    pub(crate) fn sort_name(&self, inode: u32) -> &[u8] {
        match self.of(inode) {
            OwnersOf::Known(o) => o.first().map_or(&[][..], |o| &o.command[..]),
            _ => &[],
        }
    }
}

/// One refresh's table, ready to draw: every row (the closed ones too),
/// the order to show them in, and the counts.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) rows: Arc<Vec<Row>>,
    /// Indexes into `rows` of the rows shown, sorted.
    pub(crate) order: Vec<u32>,
    pub(crate) owners: Arc<Owners>,
    /// Open connections shown, by state, in the kernel's order of states.
    pub(crate) counts: Vec<(State, usize)>,
    /// When the dump was taken.
    pub(crate) at: Instant,
    /// The namespaces' labels (with -N or --all-netns), by `Key::space`.
    pub(crate) labels: Arc<Vec<Option<String>>>,
}

impl View {
    /// An empty view, before the first refresh.
    pub(crate) fn empty(labels: Arc<Vec<Option<String>>>) -> View {
        View {
            rows: Arc::new(Vec::new()),
            order: Vec::new(),
            owners: Arc::new(Owners::default()),
            counts: Vec::new(),
            at: Instant::now(),
            labels,
        }
    }

    /// The row shown at `index`.
    pub(crate) fn row(&self, index: usize) -> Option<&Row> {
        let at = *self.order.get(index)?;
        self.rows.get(at as usize)
    }

    /// How many rows are shown.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Where the row with `key` is shown, if it is.
    pub(crate) fn position(&self, key: Key) -> Option<usize> {
        self.order
            .iter()
            .position(|&i| self.rows.get(i as usize).is_some_and(|r| r.key() == key))
    }

    /// How many connections are open (closed rows are not counted).
    pub(crate) fn open(&self) -> usize {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// Cookies are the kernel's counter, not chosen by an adversary: one
/// multiplication hashes them well enough (as `InodeHasher` does inodes).
#[derive(Default)]
struct KeyHasher(InodeHasher);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
    fn write_u16(&mut self, n: u16) {
        self.0.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0.write_u64(n);
    }
}

/// The table across refreshes.
#[derive(Debug, Default)]
pub(crate) struct Table {
    rows: Arc<Vec<Row>>,
    refreshed: Option<Instant>,
    /// The next merge neither highlights nor closes rows: the filter changed.
    refiltered: bool,
}

impl Table {
    /// Merge a new dump taken at `at`: rows seen before keep their first
    /// sighting and get rates; rows not seen before are new (except in the
    /// first dump); rows that were open and are missing now are closed,
    /// shown once more, and then dropped.
    pub(crate) fn merge(&mut self, samples: Vec<Sample>, at: Instant) {
        let first = self.refreshed.is_none() || std::mem::take(&mut self.refiltered);
        let since = self
            .refreshed
            .map(|t| at.saturating_duration_since(t).as_secs_f64())
            .filter(|&s| s > 0.0);
        let mut previous: KeyMap<usize> = KeyMap::default();
        previous.reserve(self.rows.len());
        for (i, row) in self.rows.iter().enumerate() {
            if row.life != Life::Closed {
                previous.insert(row.key(), i);
            }
        }
        let mut rows = Vec::with_capacity(samples.len() + previous.len() / 16);
        for sample in samples {
            let before = previous
                .remove(&sample.key())
                .and_then(|i| self.rows.get(i));
            let rate = |now: Option<u64>, then: Option<u64>| {
                let (now, then, secs) = (now?, then?, since?);
                Some(now.saturating_sub(then) as f64 / secs)
            };
            let row = match before {
                Some(before) => Row {
                    send_rate: rate(sample.sent, before.sample.sent),
                    recv_rate: rate(sample.received, before.sample.received),
                    first_seen: before.first_seen,
                    life: Life::Seen,
                    sample,
                },
                None => Row {
                    sample,
                    first_seen: at,
                    life: if first { Life::Seen } else { Life::New },
                    send_rate: None,
                    recv_rate: None,
                },
            };
            rows.push(row);
        }
        let mut closed: Vec<usize> = if first {
            Vec::new()
        } else {
            previous.into_values().collect()
        };
        closed.sort_unstable();
        for i in closed {
            if let Some(row) = self.rows.get(i) {
                rows.push(Row {
                    life: Life::Closed,
                    send_rate: None,
                    recv_rate: None,
                    ..row.clone()
                });
            }
        }
        self.rows = Arc::new(rows);
        self.refreshed = Some(at);
    }

    /// The filter changed: what was shown is no measure of what is new or
    /// closed under the new one, so the next merge marks neither (rows
    /// still listed keep their age and rates).
    pub(crate) fn refilter(&mut self) {
        self.refiltered = true;
    }

    pub(crate) fn rows(&self) -> &Arc<Vec<Row>> {
        &self.rows
    }
}
