//! The step between finding sockets and aborting them: which of the rows a
//! dump hands over become targets, which are loopback peers to watch, and
//! which are newcomers on a tuple this run already handled (left alone).

use std::collections::HashSet;
use std::net::{Ipv6Addr, SocketAddr};

use crate::abort::Target;
use crate::conn::Connection;

/// One end of a connection, as its address compares (see [`end`]).
pub(crate) type End = (bool, [u8; 16], u16, u32);

/// An end as a key that compares as the [`SocketAddr`] does: IPv6 or not,
/// the address, the port and (IPv6) the scope.
pub(crate) fn end(addr: &SocketAddr) -> End {
    match addr {
        SocketAddr::V4(v4) => (false, ipv4_raw(*v4.ip()), v4.port(), 0),
        SocketAddr::V6(v6) => (true, v6.ip().octets(), v6.port(), v6.scope_id()),
    }
}

/// The local and remote end of the socket `id` of `family`, as
/// [`Connection::from_diag`] shows them (a v4-mapped pair as IPv4), without
/// building the connection.
pub(crate) fn ends(family: sockdiag::Family, id: &sockdiag::SockId) -> (End, End) {
    let v4 = |raw: &[u8; 16], port: u16| {
        let mut ip = [0; 16];
        if let (Some(head), Some(addr)) = (ip.get_mut(..4), raw.get(..4)) {
            head.copy_from_slice(addr);
        }
        (false, ip, port, 0)
    };
    match family {
        sockdiag::Family::Inet => (v4(&id.src, id.sport), v4(&id.dst, id.dport)),
        sockdiag::Family::Inet6 => {
            let (l, r) = (Ipv6Addr::from(id.src), Ipv6Addr::from(id.dst));
            match (l.to_ipv4_mapped(), r.to_ipv4_mapped()) {
                (Some(l4), Some(r4)) => (v4(&ipv4_raw(l4), id.sport), v4(&ipv4_raw(r4), id.dport)),
                _ => (
                    (true, id.src, id.sport, id.ifindex),
                    (true, id.dst, id.dport, id.ifindex),
                ),
            }
        }
    }
}

fn ipv4_raw(ip: std::net::Ipv4Addr) -> [u8; 16] {
    let mut raw = [0; 16];
    if let Some(head) = raw.get_mut(..4) {
        head.copy_from_slice(&ip.octets());
    }
    raw
}

/// What a report needs of a socket besides its id.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Extra {
    recv_q: u32,
    send_q: u32,
    uid: u32,
}

impl Extra {
    fn of(conn: &Connection) -> Extra {
        Extra {
            recv_q: conn.recv_q,
            send_q: conn.send_q,
            uid: conn.uid,
        }
    }
}

/// The connection a held target is (rebuilt for its report).
pub(crate) fn connection(target: &Target, extra: &Extra) -> Option<Connection> {
    Connection::from_diag(&sockdiag::InetDiagMsg {
        family: target.family,
        state: target.state,
        timer: 0,
        retrans: 0,
        id: target.id,
        expires: 0,
        rqueue: extra.recv_q,
        wqueue: extra.send_q,
        uid: extra.uid,
        inode: target.inode,
        shutdown: None,
        v6only: None,
        tcp_info: None,
    })
}

/// The sockets a round will abort, held compactly beside what their report
/// needs: about 80 bytes a socket, where a [`Connection`] takes 170; a drop
/// of every connection holds one per socket.
#[derive(Default)]
pub(crate) struct Targets {
    pub(crate) list: Vec<Target>,
    pub(crate) extra: Vec<Extra>,
}

impl Targets {
    pub(crate) fn push(&mut self, conn: &Connection) {
        self.list.push(target(conn));
        self.extra.push(Extra::of(conn));
    }

    /// The connection of the `i`th target.
    pub(crate) fn connection(&self, i: usize) -> Option<Connection> {
        connection(self.list.get(i)?, self.extra.get(i)?)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The ends of the `i`th target.
    pub(crate) fn ends(&self, i: usize) -> Option<(End, End)> {
        self.list.get(i).map(|t| ends(t.family, &t.id))
    }
}

/// The abort target a connection is.
pub(crate) fn target(conn: &Connection) -> Target {
    Target {
        family: conn.socket_family(),
        id: conn.sock_id(),
        inode: conn.inode,
        state: conn.kernel_state,
    }
}

/// A socket that may be the loopback peer of a chosen one, held compactly
/// to the look after the drops.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    pub(crate) target: Target,
    extra: Extra,
    /// Its other end was dropped.
    pub(crate) other_end_dropped: bool,
    /// The last look saw it (same tuple, same cookie).
    pub(crate) alive: bool,
}

impl Peer {
    pub(crate) fn new(conn: &Connection) -> Peer {
        Peer {
            target: target(conn),
            extra: Extra::of(conn),
            other_end_dropped: false,
            alive: false,
        }
    }

    pub(crate) fn ends(&self) -> (End, End) {
        ends(self.target.family, &self.target.id)
    }

    pub(crate) fn cookie(&self) -> u64 {
        self.target.id.cookie
    }

    pub(crate) fn connection(&self) -> Option<Connection> {
        connection(&self.target, &self.extra)
    }
}

/// The indices of the `peers` (sorted by their ends) whose ends are `key`.
pub(crate) fn equal_range(peers: &[Peer], key: &(End, End)) -> std::ops::Range<usize> {
    let start = peers.partition_point(|p| p.ends() < *key);
    let end = peers.partition_point(|p| p.ends() <= *key);
    start..end.max(start)
}

/// What a run remembers from round to round.
///
/// The rule (issue: exactness under races): a drop acts on what its first
/// dump saw. A socket first seen in a later round is chosen only if no
/// socket with its 4-tuple was handled (dropped or found gone) in an
/// earlier round of the same run; otherwise it is a newcomer on a reused
/// tuple, left alone and not reported.
#[derive(Default)]
pub(crate) struct Plan {
    /// Cookies of the sockets already given an outcome.
    decided: HashSet<u64>,
    /// The tuples of every socket handled in an earlier round.
    handled: HashSet<(End, End)>,
    /// Tuples on which a newcomer was seen (so the old socket was replaced).
    pub(crate) newcomers: HashSet<(End, End)>,
    /// Loopback peers of chosen sockets, sorted by their ends.
    pub(crate) peers: Vec<Peer>,
    /// Their cookies.
    peer_cookies: HashSet<u64>,
}

/// How a row of a dump is taken.
pub(crate) enum Take {
    /// Already decided, or a newcomer on a handled tuple: leave it.
    Skip,
    /// Ask the selection whether it is chosen.
    Ask,
}

impl Plan {
    /// Whether a dumped row may be chosen at all.
    pub(crate) fn take(&mut self, conn: &Connection) -> Take {
        if self.decided.contains(&conn.cookie) {
            return Take::Skip;
        }
        if !self.handled.is_empty() {
            let key = (end(&conn.local), end(&conn.remote));
            if self.handled.contains(&key) {
                self.newcomers.insert(key);
                return Take::Skip;
            }
        }
        Take::Ask
    }

    /// A row not chosen: it may be the loopback peer of a target.
    pub(crate) fn candidate(&self, conn: &Connection, candidates: &mut Vec<Peer>) {
        if !conn.is_listener() && !self.peer_cookies.contains(&conn.cookie) {
            candidates.push(Peer::new(conn));
        }
    }

    /// Keep the `candidates` whose other end is one of `targets` as peers,
    /// and remember the targets as decided.
    pub(crate) fn settle(&mut self, targets: &Targets, mut candidates: Vec<Peer>) {
        candidates.sort_unstable_by_key(Peer::ends);
        let mut keep = vec![false; candidates.len()];
        for t in &targets.list {
            let (local, remote) = ends(t.family, &t.id);
            for i in equal_range(&candidates, &(remote, local)) {
                if let Some(k) = keep.get_mut(i) {
                    *k = true;
                }
            }
        }
        let mut kept = keep.into_iter();
        candidates.retain(|_| kept.next().unwrap_or(false));
        self.add_peers(candidates);
        self.decided
            .extend(targets.list.iter().map(|t| t.id.cookie));
    }

    /// Watch these sockets as loopback peers.
    pub(crate) fn add_peers(&mut self, new: Vec<Peer>) {
        let fresh: Vec<Peer> = new
            .into_iter()
            .filter(|p| !self.decided.contains(&p.cookie()) && self.peer_cookies.insert(p.cookie()))
            .collect();
        if !fresh.is_empty() {
            self.peers.extend(fresh);
            self.peers.sort_unstable_by_key(Peer::ends);
        }
    }

    /// Whether a socket is known to the run: decided, or a watched peer.
    pub(crate) fn knows(&self, cookie: u64) -> bool {
        self.decided.contains(&cookie) || self.peer_cookies.contains(&cookie)
    }

    /// The round's targets have been handled: their tuples are taken.
    pub(crate) fn handled(&mut self, targets: &Targets) {
        self.handled
            .extend(targets.list.iter().map(|t| ends(t.family, &t.id)));
    }

    /// Mark the peers whose other end is `dropped` (a target's ends).
    pub(crate) fn other_end_dropped(&mut self, dropped: (End, End)) {
        let key = (dropped.1, dropped.0);
        for i in equal_range(&self.peers, &key) {
            if let Some(peer) = self.peers.get_mut(i) {
                peer.other_end_dropped = true;
            }
        }
    }

    /// Whether a socket with this cookie was decided (chosen) in the run.
    pub(crate) fn decided(&self, cookie: u64) -> bool {
        self.decided.contains(&cookie)
    }
}
