//! The step between finding sockets and aborting them: which of the rows a
//! dump hands over become targets, which are loopback peers to watch, and
//! which are newcomers on a tuple this run already handled (left alone).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv6Addr, SocketAddr};

use crate::abort::Target;
use crate::conn::Connection;

/// One end of a connection as a key that compares as the [`SocketAddr`]
/// does (IPv6 or not, the address, the port and, IPv6, the scope), in
/// three words: it is hashed and compared once per socket and more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct End {
    /// The address's 16 bytes (IPv4 in the first four), big-endian: the
    /// numbers compare as the bytes do.
    addr: [u64; 2],
    /// IPv6 (bit 63), the port (bits 32 to 47) and the scope (bits 0 to 31).
    meta: u64,
}

impl End {
    fn new(v6: bool, addr: [u8; 16], port: u16, scope: u32) -> End {
        let half = |range: std::ops::Range<usize>| {
            let mut word = [0; 8];
            if let Some(bytes) = addr.get(range) {
                word.copy_from_slice(bytes);
            }
            u64::from_be_bytes(word)
        };
        End {
            addr: [half(0..8), half(8..16)],
            meta: (u64::from(v6) << 63) | (u64::from(port) << 32) | u64::from(scope),
        }
    }
}

impl Ord for End {
    fn cmp(&self, other: &End) -> std::cmp::Ordering {
        let v6 = |e: &End| e.meta >> 63;
        v6(self)
            .cmp(&v6(other))
            .then(self.addr.cmp(&other.addr))
            .then(self.meta.cmp(&other.meta))
    }
}

impl PartialOrd for End {
    fn partial_cmp(&self, other: &End) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for End {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.addr[0]);
        state.write_u64(self.addr[1]);
        state.write_u64(self.meta);
    }
}

/// An end as a key that compares as the [`SocketAddr`] does: IPv6 or not,
/// the address, the port and (IPv6) the scope.
pub(crate) fn end(addr: &SocketAddr) -> End {
    match addr {
        SocketAddr::V4(v4) => End::new(false, ipv4_raw(*v4.ip()), v4.port(), 0),
        SocketAddr::V6(v6) => End::new(true, v6.ip().octets(), v6.port(), v6.scope_id()),
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
        End::new(false, ip, port, 0)
    };
    match family {
        sockdiag::Family::Inet => (v4(&id.src, id.sport), v4(&id.dst, id.dport)),
        sockdiag::Family::Inet6 => {
            let (l, r) = (Ipv6Addr::from(id.src), Ipv6Addr::from(id.dst));
            match (l.to_ipv4_mapped(), r.to_ipv4_mapped()) {
                (Some(l4), Some(r4)) => (v4(&ipv4_raw(l4), id.sport), v4(&ipv4_raw(r4), id.dport)),
                _ => (
                    End::new(true, id.src, id.sport, id.ifindex),
                    End::new(true, id.dst, id.dport, id.ifindex),
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
    /// The next peer (index in [`Plan::peers`]) whose ends hash alike.
    next: u32,
}

/// No next peer.
const NONE: u32 = u32::MAX;

impl Peer {
    pub(crate) fn new(conn: &Connection) -> Peer {
        Peer {
            target: target(conn),
            extra: Extra::of(conn),
            other_end_dropped: false,
            alive: false,
            next: NONE,
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

/// Hashing for the run's sets and indices (cookies, ends): a multiply and
/// rotate per word, finished by MurmurHash3's `fmix64`, from a seed drawn
/// once per process. SipHash cost more than the planning around it (issue
/// 19: 10 % of a drop of every connection); the seed keeps the remote
/// clients, who choose their addresses and ports, from making the keys of
/// their connections collide.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keyed(u64);

impl Default for Keyed {
    fn default() -> Keyed {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        Keyed(*SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64)))
    }
}

impl BuildHasher for Keyed {
    type Hasher = Mix;

    fn build_hasher(&self) -> Mix {
        Mix(self.0)
    }
}

/// The hasher of [`Keyed`].
pub(crate) struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        // MurmurHash3's fmix64: every bit of the state reaches every bit.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        let mut word = [0; 8];
        for (w, b) in word.iter_mut().zip(chunks.remainder()) {
            *w = *b;
        }
        self.write_u64(u64::from_le_bytes(word) ^ (bytes.len() as u64) << 56);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// A set hashed by [`Keyed`].
pub(crate) type KeyedSet<T> = HashSet<T, Keyed>;

/// A set of 4-tuples (the ends of sockets), exact and compact: a pair of
/// IPv4 ends, nearly every one, is kept as the 96 bits it has (16 bytes a
/// tuple, where the two [`End`]s take 48: a drop of a million connections
/// keeps two such sets of every target); others whole.
#[derive(Default)]
pub(crate) struct TupleSet {
    v4: KeyedSet<u128>,
    other: KeyedSet<(End, End)>,
}

impl TupleSet {
    /// The 96 bits of a pair of IPv4 ends (address and port each), if it
    /// is one.
    fn packed(tuple: &(End, End)) -> Option<u128> {
        let half = |e: &End| {
            // IPv4: not IPv6, no scope, the address in the first 4 bytes.
            let v4 = e.meta >> 63 == 0
                && e.meta & 0xffff_ffff == 0
                && e.addr[0] & 0xffff_ffff == 0
                && e.addr[1] == 0;
            v4.then(|| (u128::from(e.addr[0] >> 32) << 16) | u128::from((e.meta >> 32) & 0xffff))
        };
        Some((half(&tuple.0)? << 48) | half(&tuple.1)?)
    }

    pub(crate) fn insert(&mut self, tuple: (End, End)) -> bool {
        match TupleSet::packed(&tuple) {
            Some(key) => self.v4.insert(key),
            None => self.other.insert(tuple),
        }
    }

    pub(crate) fn contains(&self, tuple: &(End, End)) -> bool {
        match TupleSet::packed(tuple) {
            Some(key) => self.v4.contains(&key),
            None => self.other.contains(tuple),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.other.is_empty()
    }

    pub(crate) fn reserve(&mut self, more: usize) {
        self.v4.reserve(more);
    }
}

impl Extend<(End, End)> for TupleSet {
    fn extend<I: IntoIterator<Item = (End, End)>>(&mut self, tuples: I) {
        for tuple in tuples {
            self.insert(tuple);
        }
    }
}
type KeyedMap<K, V> = HashMap<K, V, Keyed>;

/// A compact key for the ends of a socket: their hash, which an index
/// maps to the first peer with it; peers with the same key are chained
/// (and compared by their ends).
fn key_of(ends: &(End, End)) -> u64 {
    Keyed::default().hash_one(ends)
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
    decided: KeyedSet<u64>,
    /// The tuples of every socket handled in an earlier round.
    handled: TupleSet,
    /// Tuples on which a newcomer was seen (so the old socket was replaced).
    pub(crate) newcomers: TupleSet,
    /// Loopback peers of chosen sockets, in the order they were found.
    pub(crate) peers: Vec<Peer>,
    /// Each peer's cookie, to its index in `peers`.
    peer_cookies: KeyedMap<u64, u32>,
    /// The key of each peer's ends ([`key_of`]), to the first peer (index
    /// in `peers`) with it; the others follow by [`Peer::next`].
    peer_ends: KeyedMap<u64, u32>,
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
        if !conn.is_listener() && !self.peer_cookies.contains_key(&conn.cookie) {
            candidates.push(Peer::new(conn));
        }
    }

    /// Keep the `candidates` whose other end is one of `targets` as peers,
    /// and remember the targets as decided.
    pub(crate) fn settle(&mut self, targets: &Targets, mut candidates: Vec<Peer>) {
        // The targets' ends, reversed: a candidate with those ends is a peer.
        let mut wanted: KeyedMap<u64, u32> = KeyedMap::default();
        wanted.reserve(targets.list.len());
        let mut chain = vec![NONE; targets.list.len()];
        for (i, t) in targets.list.iter().enumerate() {
            let (local, remote) = ends(t.family, &t.id);
            let i = u32::try_from(i).unwrap_or(NONE);
            if let Some(first) = wanted.insert(key_of(&(remote, local)), i) {
                if let Some(c) = chain.get_mut(i as usize) {
                    *c = first;
                }
            }
        }
        self.decided.reserve(targets.list.len());
        candidates.retain(|c| {
            let mine = c.ends();
            let mut at = wanted.get(&key_of(&mine)).copied().unwrap_or(NONE);
            while let Some(t) = targets.list.get(at as usize) {
                let (local, remote) = ends(t.family, &t.id);
                if (remote, local) == mine {
                    return true;
                }
                at = chain.get(at as usize).copied().unwrap_or(NONE);
            }
            false
        });
        self.add_peers(candidates);
        self.decided
            .extend(targets.list.iter().map(|t| t.id.cookie));
    }

    /// Watch these sockets as loopback peers.
    pub(crate) fn add_peers(&mut self, mut new: Vec<Peer>) {
        self.peer_cookies.reserve(new.len());
        self.peer_ends.reserve(new.len());
        // In place: at a million peers a second buffer would hold 88 MB.
        // Each cookie once (a dump may list a socket twice); its index is
        // set below.
        new.retain(|p| {
            !self.decided.contains(&p.cookie())
                && self.peer_cookies.insert(p.cookie(), NONE).is_none()
        });
        let first = self.peers.len();
        if self.peers.is_empty() {
            self.peers = new;
        } else {
            self.peers.reserve_exact(new.len());
            self.peers.append(&mut new);
        }
        for at in first..self.peers.len() {
            let Ok(index) = u32::try_from(at) else {
                self.peers.truncate(at);
                break;
            };
            let Some(peer) = self.peers.get_mut(at) else {
                break;
            };
            if let Some(first) = self.peer_ends.insert(key_of(&peer.ends()), index) {
                peer.next = first;
            }
            self.peer_cookies.insert(peer.cookie(), index);
        }
    }

    /// A look saw `conn`: if it is a watched peer, still on its tuple, it
    /// is alive.
    pub(crate) fn seen(&mut self, conn: &Connection) {
        let Some(&at) = self.peer_cookies.get(&conn.cookie) else {
            return;
        };
        let key = (end(&conn.local), end(&conn.remote));
        if let Some(peer) = self.peers.get_mut(at as usize) {
            if peer.ends() == key {
                peer.alive = true;
            }
        }
    }

    /// The watched peers, ordered by their ends (the order their reports
    /// take).
    pub(crate) fn peers_by_ends(&self) -> Vec<&Peer> {
        let mut sorted: Vec<&Peer> = self.peers.iter().collect();
        // Pointers, not cached keys: an end is three words computed from
        // the id, cheaper to redo per comparison than to hold 48 bytes
        // more per peer.
        sorted.sort_by_key(|p| p.ends());
        sorted
    }

    /// Whether a socket is known to the run: decided, or a watched peer.
    pub(crate) fn knows(&self, cookie: u64) -> bool {
        self.decided.contains(&cookie) || self.peer_cookies.contains_key(&cookie)
    }

    /// The round's targets have been handled: their tuples are taken.
    pub(crate) fn handled(&mut self, targets: &Targets) {
        self.handled.reserve(targets.list.len());
        self.handled
            .extend(targets.list.iter().map(|t| ends(t.family, &t.id)));
    }

    /// Mark the peers whose other end is `dropped` (a target's ends).
    pub(crate) fn other_end_dropped(&mut self, dropped: (End, End)) {
        let key = (dropped.1, dropped.0);
        let mut at = self.peer_ends.get(&key_of(&key)).copied().unwrap_or(NONE);
        while let Some(peer) = self.peers.get_mut(at as usize) {
            at = peer.next;
            if peer.ends() == key {
                peer.other_end_dropped = true;
            }
        }
    }

    /// Whether a socket with this cookie was decided (chosen) in the run.
    pub(crate) fn decided(&self, cookie: u64) -> bool {
        self.decided.contains(&cookie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::hash::BuildHasher;
    use std::net::{Ipv4Addr, SocketAddrV6};

    fn addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port)),
            (any::<[u8; 16]>(), any::<u16>(), 0u32..3).prop_map(|(ip, port, scope)| {
                SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, 0, scope))
            }),
            // Nearby addresses, so that equal prefixes are compared too.
            (0u8..3, 0u16..3, any::<bool>()).prop_map(|(last, port, v6)| {
                if v6 {
                    SocketAddr::new(
                        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, u16::from(last)).into(),
                        port,
                    )
                } else {
                    SocketAddr::new(Ipv4Addr::new(127, 0, 0, last).into(), port)
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn ends_compare_and_hash_as_the_addresses_do(a in addr(), b in addr()) {
            prop_assert_eq!(end(&a).cmp(&end(&b)), a.cmp(&b));
            prop_assert_eq!(end(&a) == end(&b), a == b);
            if a == b {
                let keyed = Keyed::default();
                prop_assert_eq!(keyed.hash_one(end(&a)), keyed.hash_one(end(&b)));
            }
        }
    }

    proptest! {
        #[test]
        fn a_tuple_set_holds_exactly_the_tuples_put_in(
            a in (addr(), addr()),
            b in (addr(), addr()),
        ) {
            let key = |t: &(SocketAddr, SocketAddr)| (end(&t.0), end(&t.1));
            let mut set = TupleSet::default();
            prop_assert!(set.is_empty());
            prop_assert!(set.insert(key(&a)));
            prop_assert!(!set.insert(key(&a)));
            prop_assert!(set.contains(&key(&a)));
            prop_assert_eq!(set.contains(&key(&b)), a == b);
        }
    }

    #[test]
    fn a_v4_mapped_pair_has_the_ends_of_its_ipv4_connection() {
        let id = sockdiag::SockId {
            sport: 80,
            dport: 40000,
            src: Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped().octets(),
            dst: Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped().octets(),
            ifindex: 0,
            cookie: 1,
        };
        let local: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let remote: SocketAddr = "127.0.0.2:40000".parse().unwrap();
        assert_eq!(
            ends(sockdiag::Family::Inet6, &id),
            (end(&local), end(&remote))
        );
    }
}
