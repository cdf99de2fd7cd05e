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
use std::net::SocketAddr;
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
        let mut next = Column::SORTABLE[(at + 1) % Column::SORTABLE.len()];
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
    fn sort_name(&self, inode: u32) -> &[u8] {
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

/// The indexes of the rows `keep` admits, sorted by `sort`, and the counts
/// by state of the open ones.
pub(crate) fn arrange(
    rows: &[Row],
    owners: &Owners,
    labels: &[Option<String>],
    sort: Sort,
    keep: impl Fn(&Row) -> bool,
) -> (Vec<u32>, Vec<(State, usize)>) {
    let mut counts = [0usize; State::ALL.len()];
    let mut kept: Vec<u32> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        if !keep(row) {
            continue;
        }
        if row.life != Life::Closed {
            if let Some(n) = State::ALL
                .iter()
                .position(|&s| s == row.conn().state)
                .and_then(|at| counts.get_mut(at))
            {
                *n += 1;
            }
        }
        kept.push(u32::try_from(i).unwrap_or(u32::MAX));
    }
    // Each row's sort key is made once and the keys sorted as plain
    // numbers: comparing rows field by field was most of a refresh's time
    // at 200,000 sockets (measured with perf). The ends are packed into one
    // number, exactly for IPv4 and by their first bits for IPv6; rows the
    // packing cannot tell apart are then put in order by their whole ends.
    let primary = Primary::new(rows, &kept, owners, labels, sort.column);
    let mut keys: Vec<(u128, u128, u32)> = kept
        .iter()
        .map(|&i| {
            let row = &rows[i as usize];
            let (l, r) = (&row.conn().local, &row.conn().remote);
            match sort.column {
                Column::Local => (pack(l, r), 0, i),
                Column::Remote => (pack(r, l), 0, i),
                _ => (primary.of(row), pack(l, r), i),
            }
        })
        .collect();
    keys.sort_unstable();
    let full = |i: u32| {
        let row = &rows[i as usize];
        let (l, r) = (addr_key(&row.conn().local), addr_key(&row.conn().remote));
        match sort.column {
            Column::Remote => (r, l, row.key()),
            _ => (l, r, row.key()),
        }
    };
    let mut at = 0;
    while at < keys.len() {
        let run = keys[at..]
            .iter()
            .take_while(|k| (k.0, k.1) == (keys[at].0, keys[at].1))
            .count();
        if run > 1 {
            keys[at..at + run].sort_unstable_by_key(|k| full(k.2));
        }
        at += run;
    }
    let mut order: Vec<u32> = keys.into_iter().map(|k| k.2).collect();
    if sort.reverse {
        order.reverse();
    }
    let counts = State::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| (*s, n))
        .collect();
    (order, counts)
}

/// An end as numbers that sort as the address does (IPv4 before IPv6),
/// then the port.
type AddrKey = (u8, u128, u16);

fn addr_key(addr: &SocketAddr) -> AddrKey {
    match addr {
        SocketAddr::V4(v4) => (4, u128::from(u32::from(*v4.ip())), v4.port()),
        SocketAddr::V6(v6) => (6, u128::from(*v6.ip()), v6.port()),
    }
}

/// Two ends as one number in their order (IPv4 before IPv6): exact for
/// IPv4 (address and port of each), the first 63 bits of each address
/// for IPv6 (rows that share them are ordered by their whole ends after).
fn pack(first: &SocketAddr, then: &SocketAddr) -> u128 {
    let half = |a: &SocketAddr| -> u128 {
        match a {
            SocketAddr::V4(v4) => (u128::from(u32::from(*v4.ip())) << 16) | u128::from(v4.port()),
            SocketAddr::V6(v6) => (1 << 63) | (u128::from(*v6.ip()) >> 65),
        }
    };
    (half(first) << 64) | half(then)
}

/// The sorted column's value of a row, as a number; names become their
/// rank among the names shown.
struct Primary<'a> {
    column: Column,
    owners: &'a Owners,
    now: Instant,
    ranks: HashMap<Vec<u8>, u128>,
    labels: &'a [Option<String>],
}

impl<'a> Primary<'a> {
    fn new(
        rows: &[Row],
        kept: &[u32],
        owners: &'a Owners,
        labels: &'a [Option<String>],
        column: Column,
    ) -> Primary<'a> {
        let mut names: Vec<&[u8]> = match column {
            Column::Process => kept
                .iter()
                .map(|&i| owners.sort_name(rows[i as usize].conn().inode))
                .collect(),
            Column::Netns => labels
                .iter()
                .map(|l| l.as_deref().unwrap_or_default().as_bytes())
                .collect(),
            Column::State => State::ALL.iter().map(|s| s.ss_name().as_bytes()).collect(),
            _ => Vec::new(),
        };
        names.sort_unstable();
        names.dedup();
        let ranks = names
            .into_iter()
            .enumerate()
            .map(|(rank, name)| (name.to_vec(), rank as u128))
            .collect();
        Primary {
            column,
            owners,
            now: Instant::now(),
            ranks,
            labels,
        }
    }

    fn rank(&self, name: &[u8]) -> u128 {
        self.ranks.get(name).copied().unwrap_or(0)
    }

    fn of(&self, row: &Row) -> u128 {
        let c = row.conn();
        // A number that may be missing sorts before every number.
        let opt = |n: Option<u64>| n.map_or(0, |n| u128::from(n) + 1);
        // Rates are never negative: their bits sort as their values.
        let rate = |r: Option<f64>| opt(r.map(|r| r.max(0.0).to_bits()));
        match self.column {
            Column::Local | Column::Remote => 0,
            Column::State => self.rank(c.state.ss_name().as_bytes()),
            Column::Process => self.rank(self.owners.sort_name(c.inode)),
            Column::Netns => {
                let label = self.labels.get(usize::from(row.sample.space));
                self.rank(
                    label
                        .and_then(|l| l.as_deref())
                        .unwrap_or_default()
                        .as_bytes(),
                )
            }
            Column::Uid => u128::from(c.uid),
            Column::RecvQ => u128::from(c.recv_q),
            Column::SendQ => u128::from(c.send_q),
            Column::Sent => opt(row.sample.sent),
            Column::Received => opt(row.sample.received),
            Column::SendRate => rate(row.send_rate),
            Column::RecvRate => rate(row.recv_rate),
            Column::Rtt => opt(row.sample.rtt_us.map(u64::from)),
            // The youngest first: seen the shortest time.
            Column::Age => self
                .now
                .saturating_duration_since(row.first_seen)
                .as_nanos(),
        }
    }
}
