//! The order of the rows: each row's key made once, as numbers, and the
//! keys sorted; and the counts by state of what is shown.
//!
//! Comparing rows field by field (`SocketAddr` against `SocketAddr`) was
//! the largest single cost of a refresh at 200,000 sockets by `perf`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use tcpdrop::State;

use super::model::{Column, Life, Owners, Row, Sort};

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
        .filter_map(|&i| {
            let row = rows.get(i as usize)?;
            let (l, r) = (&row.conn().local, &row.conn().remote);
            Some(match sort.column {
                Column::Local => (pack(l, r), 0, i),
                Column::Remote => (pack(r, l), 0, i),
                _ => (primary.of(row), pack(l, r), i),
            })
        })
        .collect();
    keys.sort_unstable();
    let full = |i: u32| {
        rows.get(i as usize).map(|row| {
            let (l, r) = (addr_key(&row.conn().local), addr_key(&row.conn().remote));
            match sort.column {
                Column::Remote => (r, l, row.key()),
                _ => (l, r, row.key()),
            }
        })
    };
    for run in keys.chunk_by_mut(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if run.len() > 1 {
            run.sort_unstable_by_key(|k| full(k.2));
        }
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
                .filter_map(|&i| rows.get(i as usize))
                .map(|row| owners.sort_name(row.conn().inode))
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
