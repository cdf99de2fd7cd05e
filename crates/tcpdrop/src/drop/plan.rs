//! The step between finding sockets and aborting them: which of the rows a
//! dump hands over become targets, which are loopback peers to watch, and
//! which are newcomers on a tuple this run already handled (left alone).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv6Addr, SocketAddr};

use hashbrown::HashTable;

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

/// The abort target a connection is.
pub(crate) fn target(conn: &Connection) -> Target {
    Target {
        family: conn.socket_family(),
        id: conn.sock_id(),
        inode: conn.inode,
        state: conn.kernel_state,
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

type KeyedMap<K, V> = HashMap<K, V, Keyed>;

/// A 4-tuple (the ends of a socket, local first) as 64 bits: a keyed hash
/// of its ends, even and never 0 (bit 0 is left for a flag of [`Keys`]).
/// Two different tuples share a key with odds of about 2⁻⁶³ a pair.
pub(crate) fn key(ends: &(End, End)) -> u64 {
    match Keyed::default().hash_one(ends) & !1 {
        0 => 2,
        k => k,
    }
}

/// The key of the tuple the other end of `ends` has.
pub(crate) fn reverse_key(ends: &(End, End)) -> u64 {
    key(&(ends.1, ends.0))
}

/// The kernel's number of `TCP_LISTEN`.
const LISTEN: u8 = 10;

/// A socket as a drop holds it between the dump and its report: what the
/// abort and the report need. A connection between two IPv4 ends bound to
/// no device (nearly every one) takes 40 bytes inline; any other is boxed.
/// (A [`Connection`] takes 104.)
#[derive(Clone, Debug)]
pub(crate) enum Rec {
    /// Two IPv4 ends, no device.
    V4(V4),
    /// IPv6, or bound to a device.
    Wide(Box<Wide>),
}

/// [`Rec::V4`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct V4 {
    cookie: u64,
    /// Local and remote address.
    addrs: [[u8; 4]; 2],
    /// Local and remote port.
    ports: [u16; 2],
    uid: u32,
    inode: u32,
    /// Receive and send queue.
    queues: [u32; 2],
    /// The kernel's number of its state.
    state: u8,
    /// [`MAPPED`] and the holder's flags ([`Rec::flags`]).
    bits: u8,
}

/// [`Rec::Wide`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wide {
    target: Target,
    extra: Extra,
    bits: u8,
}

/// [`V4::bits`]: the socket is `AF_INET6` (an IPv4 connection of a
/// dual-stack socket, whose kernel id has `::ffff:` addresses).
const MAPPED: u8 = 1;
/// The bits of [`V4::bits`] and [`Wide::bits`] that hold the holder's flags.
const FLAG_BITS: u8 = !MAPPED;

const _: () = assert!(std::mem::size_of::<V4>() == 40);
const _: () = assert!(std::mem::size_of::<Rec>() <= 48);

impl Rec {
    /// The record of `conn`.
    pub(crate) fn of(conn: &Connection) -> Rec {
        match (conn.local, conn.remote) {
            (SocketAddr::V4(l), SocketAddr::V4(r)) if conn.ifindex == 0 => Rec::V4(V4 {
                cookie: conn.cookie,
                addrs: [l.ip().octets(), r.ip().octets()],
                ports: [l.port(), r.port()],
                uid: conn.uid,
                inode: conn.inode,
                queues: [conn.recv_q, conn.send_q],
                state: conn.kernel_state.raw(),
                bits: if conn.socket_family() == sockdiag::Family::Inet6 {
                    MAPPED
                } else {
                    0
                },
            }),
            _ => Rec::Wide(Box::new(Wide {
                target: target(conn),
                extra: Extra::of(conn),
                bits: 0,
            })),
        }
    }

    /// The record of a socket a lookup found.
    pub(crate) fn of_record(record: &sockdiag::InetDiagMsg) -> Option<Rec> {
        Connection::from_diag(record).map(|conn| Rec::of(&conn))
    }

    pub(crate) fn cookie(&self) -> u64 {
        match self {
            Rec::V4(v4) => v4.cookie,
            Rec::Wide(wide) => wide.target.id.cookie,
        }
    }

    /// The abort target it is.
    pub(crate) fn target(&self) -> Target {
        match self {
            Rec::V4(v4) => {
                let family = if v4.bits & MAPPED != 0 {
                    sockdiag::Family::Inet6
                } else {
                    sockdiag::Family::Inet
                };
                let addr = |a: [u8; 4]| crate::conn::kernel_addr(std::net::IpAddr::from(a), family);
                Target {
                    family,
                    id: sockdiag::SockId {
                        sport: v4.ports[0],
                        dport: v4.ports[1],
                        src: addr(v4.addrs[0]),
                        dst: addr(v4.addrs[1]),
                        ifindex: 0,
                        cookie: v4.cookie,
                    },
                    inode: v4.inode,
                    state: sockdiag::TcpState::from_raw(v4.state),
                }
            }
            Rec::Wide(wide) => wide.target,
        }
    }

    /// The connection it is, for its report.
    pub(crate) fn connection(&self) -> Option<Connection> {
        match self {
            Rec::V4(v4) => {
                let ([la, ra], [lp, rp]) = (v4.addrs, v4.ports);
                Connection::of_ipv4(
                    (
                        std::net::SocketAddrV4::new(la.into(), lp),
                        std::net::SocketAddrV4::new(ra.into(), rp),
                    ),
                    v4.bits & MAPPED != 0,
                    sockdiag::TcpState::from_raw(v4.state),
                    v4.cookie,
                    (v4.uid, v4.inode),
                    v4.queues,
                )
            }
            Rec::Wide(wide) => connection(&wide.target, &wide.extra),
        }
    }

    /// Its ends, local first, as [`ends`] has them.
    pub(crate) fn ends(&self) -> (End, End) {
        match self {
            Rec::V4(v4) => {
                let end = |a: [u8; 4], port: u16| {
                    let mut ip = [0; 16];
                    if let Some(head) = ip.get_mut(..4) {
                        head.copy_from_slice(&a);
                    }
                    End::new(false, ip, port, 0)
                };
                (end(v4.addrs[0], v4.ports[0]), end(v4.addrs[1], v4.ports[1]))
            }
            Rec::Wide(wide) => ends(wide.target.family, &wide.target.id),
        }
    }

    /// How two records order: as their ends do (two IPv4 pairs compare as
    /// one number each, address and port after address and port).
    pub(crate) fn order(&self, other: &Rec) -> std::cmp::Ordering {
        match (self.packed(), other.packed()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => self.ends().cmp(&other.ends()),
        }
    }

    /// Two IPv4 ends as one number of 96 bits that orders as the ends do
    /// (address and port, then address and port); `None` for other
    /// records.
    pub(crate) fn packed(&self) -> Option<u128> {
        let Rec::V4(v4) = self else { return None };
        let [a, b] = v4.addrs.map(u32::from_be_bytes);
        let [p, q] = v4.ports;
        Some((u128::from(a) << 64) | (u128::from(p) << 48) | (u128::from(b) << 16) | u128::from(q))
    }

    /// Its remote address, as shown (a v4-mapped one as IPv4).
    pub(crate) fn remote_ip(&self) -> std::net::IpAddr {
        match self {
            Rec::V4(v4) => std::net::IpAddr::from(v4.addrs[1]),
            Rec::Wide(wide) => {
                let raw = wide.target.id.dst;
                match wide.target.family {
                    sockdiag::Family::Inet => {
                        std::net::IpAddr::from([raw[0], raw[1], raw[2], raw[3]])
                    }
                    sockdiag::Family::Inet6 => {
                        crate::conn::canonical_ip(std::net::IpAddr::from(raw))
                    }
                }
            }
        }
    }

    pub(crate) fn is_listener(&self) -> bool {
        match self {
            Rec::V4(v4) => v4.state == LISTEN,
            Rec::Wide(wide) => wide.target.state == sockdiag::TcpState::Listen,
        }
    }

    fn bits(&mut self) -> &mut u8 {
        match self {
            Rec::V4(v4) => &mut v4.bits,
            Rec::Wide(wide) => &mut wide.bits,
        }
    }

    /// The holder's flags ([`WAITING_TARGET`], [`OTHER_END_DROPPED`]...).
    pub(crate) fn flags(&self) -> u8 {
        match self {
            Rec::V4(v4) => v4.bits & FLAG_BITS,
            Rec::Wide(wide) => wide.bits & FLAG_BITS,
        }
    }

    pub(crate) fn set(&mut self, flag: u8, on: bool) {
        let bits = self.bits();
        if on {
            *bits |= flag & FLAG_BITS;
        } else {
            *bits &= !(flag & FLAG_BITS);
        }
    }
}

/// A flag of a record in [`Open`]: it is a target waiting for its peer
/// (otherwise a socket not chosen, waiting for its target).
const WAITING_TARGET: u8 = 2;
/// Flags of a held peer: its other end was dropped...
pub(crate) const OTHER_END_DROPPED: u8 = 4;
/// ... the last look saw it (same tuple, same cookie) ...
pub(crate) const ALIVE: u8 = 8;
/// ... a later round chose it: it has its own outcome.
pub(crate) const DECIDED: u8 = 16;

/// A set of tuple keys ([`key`]), each with one flag (bit 0), in 8 bytes a
/// slot: open addressing over 64 shards (picked by the key's top bits),
/// each grown on its own (so growing never holds two copies of the whole
/// set), at most 7/8 full.
#[derive(Default)]
pub(crate) struct Keys {
    shards: Vec<Shard>,
    len: usize,
}

#[derive(Default)]
struct Shard {
    /// 0 empty; else the key with the flag in bit 0.
    slots: Vec<u64>,
    len: usize,
}

/// Shards of [`Keys`] (a power of two).
const SHARDS: usize = 64;

impl Shard {
    /// Where `key` is, or the empty slot where it would go: linear probing
    /// from the slot its bits pick (multiplied into the table's length,
    /// which need not be a power of two).
    fn find(&self, key: u64) -> Option<usize> {
        let len = self.slots.len();
        if len == 0 {
            return None;
        }
        let mut at = Shard::home(key, len);
        loop {
            let word = *self.slots.get(at)?;
            if word == 0 || word & !1 == key {
                return Some(at);
            }
            at += 1;
            if at == len {
                at = 0;
            }
        }
    }

    /// The slot where a probe for `key` starts, of `len`: the top bits of
    /// the key picked the shard, the others pick the slot.
    fn home(key: u64, len: usize) -> usize {
        ((u128::from(key << 6) * len as u128) >> 64) as usize
    }

    /// Half as large again (not twice: a set of a million keys then takes
    /// 9 to 14 bytes a key).
    fn grow(&mut self) {
        let size = (self.slots.len() * 3 / 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for word in old.into_iter().filter(|w| *w != 0) {
            if let Some(slot) = self.find(word & !1).and_then(|at| self.slots.get_mut(at)) {
                *slot = word;
            }
        }
    }
}

impl Keys {
    fn shard(&self, key: u64) -> Option<&Shard> {
        self.shards.get((key >> 58) as usize % SHARDS)
    }

    fn shard_mut(&mut self, key: u64) -> Option<&mut Shard> {
        if self.shards.is_empty() {
            self.shards.resize_with(SHARDS, Shard::default);
        }
        self.shards.get_mut((key >> 58) as usize % SHARDS)
    }

    /// Bring the slot where a probe for `key` starts into the cache.
    pub(crate) fn prefetch(&self, key: u64) {
        if let Some(shard) = self.shard(key) {
            if let Some(slot) = shard.slots.get(Shard::home(key, shard.slots.len())) {
                prefetch(slot);
            }
        }
    }

    /// Add `key` (unflagged if new).
    pub(crate) fn insert(&mut self, key: u64) {
        self.put(key, 0);
    }

    /// Add `key` if it is not there, and set `flag` (0 or 1) on it: one
    /// probe of its shard.
    fn put(&mut self, key: u64, flag: u64) {
        let Some(shard) = self.shard_mut(key) else {
            return;
        };
        if (shard.len + 1) * 8 > shard.slots.len() * 7 {
            shard.grow();
        }
        let Some(at) = shard.find(key) else { return };
        let Some(slot) = shard.slots.get_mut(at) else {
            return;
        };
        let new = *slot == 0;
        *slot |= key | flag;
        if new {
            shard.len += 1;
            self.len += 1;
        }
    }

    pub(crate) fn contains(&self, key: u64) -> bool {
        self.shard(key)
            .and_then(|s| s.find(key).and_then(|at| s.slots.get(at)))
            .is_some_and(|w| *w != 0)
    }

    /// Flag `key`, adding it if it is not there.
    pub(crate) fn flag(&mut self, key: u64) {
        self.put(key, 1);
    }

    pub(crate) fn flagged(&self, key: u64) -> bool {
        self.shard(key)
            .and_then(|s| s.find(key).and_then(|at| s.slots.get(at)))
            .is_some_and(|w| *w & 1 == 1)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What [`Open::insert`] did.
#[derive(Debug)]
pub(crate) enum Put {
    /// Held, waiting for its other end.
    Held,
    /// The same socket (same tuple, same cookie) is already held: a row the
    /// dump gave twice.
    Twice,
    /// No room: it is not held (here it is back).
    Full(Rec),
}

/// The rows of one dump waiting for their other end: a target whose peer
/// may come later in the dump, a socket not chosen whose target may. The
/// dump's order is the kernel's hash order, so the two ends of a
/// connection come in any order; at most about half the connections wait
/// at once (at the middle of the dump), and at most `room` of them.
pub(crate) struct Open {
    slab: Vec<Option<Rec>>,
    free: Vec<u32>,
    /// The top 32 bits of a key (its [`Tag`]) to the slot of the first
    /// record with it, in 8 bytes a row, probed and grown without reading
    /// a record...
    first: HashTable<Tag>,
    /// ... and the rare others whose tag is already in `first`, with their
    /// whole key: sockets on one tuple (one of them bound to a device),
    /// and tuples whose keys share their top 32 bits (a few in a million).
    more: Vec<(u64, u32)>,
    len: usize,
    room: usize,
}

impl Open {
    pub(crate) fn new(room: usize) -> Open {
        Open {
            slab: Vec::new(),
            free: Vec::new(),
            first: HashTable::new(),
            more: Vec::new(),
            len: 0,
            room,
        }
    }

    /// Hold `rec`, whose tuple has key `key`, as a waiting target or not.
    pub(crate) fn insert(&mut self, key: u64, mut rec: Rec, waiting_target: bool) -> Put {
        let cookie = rec.cookie();
        let same = |slab: &[Option<Rec>], at: u32| {
            slab.get(at as usize)
                .and_then(Option::as_ref)
                .is_some_and(|r| r.cookie() == cookie)
        };
        let tag = Tag::of(key);
        let first = self.first.find(tag.hash(), |t| t.same(tag)).map(Tag::at);
        if first.is_some_and(|at| same(&self.slab, at))
            || self
                .more
                .iter()
                .any(|(k, at)| *k == key && same(&self.slab, *at))
        {
            return Put::Twice;
        }
        if self.len >= self.room || (first.is_some() && self.more.len() >= MORE_ROOM) {
            return Put::Full(rec);
        }
        rec.set(WAITING_TARGET, waiting_target);
        let at = match self.free.pop() {
            Some(at) => {
                if let Some(slot) = self.slab.get_mut(at as usize) {
                    *slot = Some(rec);
                }
                at
            }
            None => {
                let Ok(at) = u32::try_from(self.slab.len()) else {
                    rec.set(WAITING_TARGET, false);
                    return Put::Full(rec);
                };
                self.slab.push(Some(rec));
                at
            }
        };
        if first.is_some() {
            self.more.push((key, at));
        } else {
            self.first
                .insert_unique(tag.hash(), tag.with(at), Tag::hash);
        }
        self.len += 1;
        Put::Held
    }

    /// Take out into `out` every record with key `key` and ends `ends`
    /// (targets only, when `targets_only`), each with whether it was a
    /// waiting target.
    pub(crate) fn take(
        &mut self,
        key: u64,
        ends: &(End, End),
        targets_only: bool,
        out: &mut Vec<(Rec, bool)>,
    ) {
        out.clear();
        if self.len == 0 {
            return;
        }
        let fits =
            |rec: &Rec| (!targets_only || rec.flags() & WAITING_TARGET != 0) && rec.ends() == *ends;
        let unflag = |mut rec: Rec| {
            let was_target = rec.flags() & WAITING_TARGET != 0;
            rec.set(WAITING_TARGET, false);
            (rec, was_target)
        };
        // Whether the index still names a record with this key's tag.
        let mut indexed = false;
        let slab = &mut self.slab;
        let tag = Tag::of(key);
        if let Ok(entry) = self.first.find_entry(tag.hash(), |t| t.same(tag)) {
            let at = entry.get().at();
            match slab
                .get_mut(at as usize)
                .and_then(|s| s.take_if(|r| fits(r)))
            {
                Some(rec) => {
                    entry.remove();
                    self.free.push(at);
                    self.len -= 1;
                    out.push(unflag(rec));
                }
                None => indexed = true,
            }
        }
        if !self.more.is_empty() {
            let mut i = 0;
            while let Some(&(k, at)) = self.more.get(i) {
                let taken = (k == key)
                    .then(|| self.slab.get_mut(at as usize))
                    .flatten()
                    .and_then(|s| s.take_if(|r| fits(r)));
                match taken {
                    Some(rec) => {
                        self.more.swap_remove(i);
                        self.free.push(at);
                        self.len -= 1;
                        out.push(unflag(rec));
                    }
                    None => i += 1,
                }
            }
            // A key whose first record left while others stay: promote one.
            if !indexed {
                if let Some(i) = self.more.iter().position(|(k, _)| *k == key) {
                    let (_, at) = self.more.swap_remove(i);
                    self.first
                        .insert_unique(tag.hash(), tag.with(at), Tag::hash);
                }
            }
        }
    }

    /// Bring the first held record with `key`, if any, into the cache.
    fn prefetch(&self, key: u64) {
        let tag = Tag::of(key);
        if let Some(t) = self.first.find(tag.hash(), |t| t.same(tag)) {
            if let Some(slot) = self.slab.get(t.at() as usize) {
                prefetch(slot);
            }
        }
    }

    /// Once the dump has ended: take out up to `most` of the waiting
    /// targets; the rows not chosen are forgotten. Empty when none is left.
    pub(crate) fn drain_targets(&mut self, most: usize) -> Vec<Rec> {
        // No more rows come: the index is no longer needed.
        self.first = HashTable::new();
        self.more = Vec::new();
        self.free = Vec::new();
        let mut out = Vec::new();
        while out.len() < most {
            let Some(slot) = self.slab.pop() else { break };
            if let Some(mut rec) = slot.filter(|r| r.flags() & WAITING_TARGET != 0) {
                rec.set(WAITING_TARGET, false);
                out.push(rec);
            }
        }
        self.len = 0;
        out
    }
}

/// An entry of [`Open`]'s index: the top 32 bits of a tuple's [`key`],
/// its tag, and the place of a record with it. The index hashes the tag
/// alone, so it is probed, and grown, without reading any record; a tag
/// names part of its record's key, not the key: whoever finds one checks
/// the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tag(u64);

impl Tag {
    /// The tag of `hash`, at place 0.
    fn of(hash: u64) -> Tag {
        Tag(hash & !u64::from(u32::MAX))
    }

    /// The same tag at place `at`.
    fn with(self, at: u32) -> Tag {
        Tag(self.0 | u64::from(at))
    }

    fn at(&self) -> u32 {
        self.0 as u32
    }

    fn same(&self, other: Tag) -> bool {
        self.0 >> 32 == other.0 >> 32
    }

    /// What the index files it under: the tag's 32 bits in the high half
    /// (which picks the index's control byte) and the low half (which
    /// picks its slot).
    fn hash(&self) -> u64 {
        let tag = self.0 >> 32;
        tag << 32 | tag
    }
}

/// At most this many records of [`Open`] share a tag with another.
const MORE_ROOM: usize = 64;

/// The loopback peers a drop watches until it knows whether its drops
/// reset them (a look afterwards), each with its [`OTHER_END_DROPPED`],
/// [`ALIVE`] and [`DECIDED`] flags.
#[derive(Default)]
pub(crate) struct Peers {
    pub(crate) list: Vec<Rec>,
    /// The place in `list` of each, found by its cookie (4 bytes a peer:
    /// the cookie is the peer's own, read from `list`).
    by_cookie: HashTable<u32>,
}

/// The hash [`Peers`] files a cookie under.
fn hash_cookie(cookie: u64) -> u64 {
    Keyed::default().hash_one(cookie)
}

impl Peers {
    /// Watch `rec`, unless it is already watched.
    pub(crate) fn hold(&mut self, rec: Rec) {
        let Ok(at) = u32::try_from(self.list.len()) else {
            return;
        };
        let cookie = rec.cookie();
        let list = &self.list;
        let cookie_at = |at: &u32| list.get(*at as usize).map(Rec::cookie);
        let entry = self.by_cookie.entry(
            hash_cookie(cookie),
            |at| cookie_at(at) == Some(cookie),
            |at| cookie_at(at).map_or(0, hash_cookie),
        );
        if let hashbrown::hash_table::Entry::Vacant(slot) = entry {
            slot.insert(at);
            self.list.push(rec);
        }
    }

    fn find(&self, cookie: u64) -> Option<u32> {
        let list = &self.list;
        self.by_cookie
            .find(hash_cookie(cookie), |at| {
                list.get(*at as usize).is_some_and(|r| r.cookie() == cookie)
            })
            .copied()
    }

    pub(crate) fn knows(&self, cookie: u64) -> bool {
        self.find(cookie).is_some()
    }

    pub(crate) fn get_mut(&mut self, cookie: u64) -> Option<&mut Rec> {
        let at = self.find(cookie)?;
        self.list.get_mut(at as usize)
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// What a run remembers from round to round, in a few bytes a socket.
///
/// The rule (issue: exactness under races): a drop acts on what its dumps
/// saw before its first abort. A socket first seen after a socket with its
/// 4-tuple was sent to be aborted (in a later round, or later in the same
/// dump once aborts have begun) is a newcomer on a reused tuple, left
/// alone and not reported.
#[derive(Default)]
pub(crate) struct Plan {
    /// The tuples of the targets sent to be aborted, flagged once dropped.
    pub(crate) handled: Keys,
    /// Cookies of targets that may still be seen after their outcome:
    /// those that failed (still in the kernel's tables) and those dropped
    /// through their holder (which may connect the same socket again).
    pub(crate) kept: KeyedSet<u64>,
    /// Sockets seen on a handled tuple: up to two cookies a tuple key (if
    /// one of them is the handled socket itself, seen twice, the other is
    /// not).
    newcomers: KeyedMap<u64, [u64; 2]>,
    /// The loopback peers still watched.
    pub(crate) peers: Peers,
}

impl Plan {
    /// A socket with `cookie` was seen on the handled tuple `key`.
    pub(crate) fn newcomer(&mut self, key: u64, cookie: u64) {
        let seen = self.newcomers.entry(key).or_insert([0; 2]);
        if seen.contains(&cookie) {
            return;
        }
        if let Some(slot) = seen.iter_mut().find(|c| **c == 0) {
            *slot = cookie;
        }
    }

    /// Whether a socket other than `cookie` was seen on the handled tuple
    /// `key`: then the socket with `cookie` was replaced.
    pub(crate) fn replaced(&self, key: u64, cookie: u64) -> bool {
        self.newcomers
            .get(&key)
            .is_some_and(|seen| seen.iter().any(|c| *c != 0 && *c != cookie))
    }
}

/// At most this many targets' room is made ready for the next batch.
const READY_ROOM: usize = 4096;

/// Sockets chosen to abort together, with the peers found for them.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) recs: Vec<Rec>,
    /// The targets (indices in `recs`) whose peers are looked up by their
    /// tuple reversed: the dump did not show them.
    pub(crate) find: Vec<u32>,
    /// Peers the dump showed, by the index of their target in `recs`.
    pub(crate) peers: Vec<(u32, Rec)>,
    cookies: KeyedSet<u64>,
}

impl Batch {
    /// An empty batch with room for `n` targets and their peers: the next
    /// batch of a dump is about as large as the last.
    fn with_room(n: usize) -> Batch {
        Batch {
            recs: Vec::with_capacity(n),
            find: Vec::new(),
            peers: Vec::with_capacity(n),
            cookies: KeyedSet::with_capacity_and_hasher(n, Keyed::default()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.recs.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// The batch cut into batches of about `n` targets each, in order (the
    /// two ends of one connection, when both are targets, stay together).
    pub(crate) fn cut(self, n: usize) -> Vec<Batch> {
        let n = n.max(1);
        let Batch {
            recs, find, peers, ..
        } = self;
        let mut find = find.into_iter().peekable();
        let mut peers = peers.into_iter().peekable();
        let mut out: Vec<Batch> = Vec::new();
        let mut current = Batch::default();
        let mut last: Option<(End, End)> = None;
        for (i, rec) in recs.into_iter().enumerate() {
            let ends = rec.ends();
            let pair = last.is_some_and(|(l, r)| ends == (r, l));
            if current.recs.len() >= n && !pair {
                out.push(std::mem::take(&mut current));
            }
            last = Some(ends);
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let at = u32::try_from(current.recs.len()).unwrap_or(u32::MAX);
            current.recs.push(rec);
            while find.next_if(|f| *f == i).is_some() {
                current.find.push(at);
            }
            while let Some((_, peer)) = peers.next_if(|(t, _)| *t == i) {
                current.peers.push((at, peer));
            }
        }
        if !current.recs.is_empty() {
            out.push(current);
        }
        out
    }

    /// The batches one after the other, as one.
    pub(crate) fn merge(batches: Vec<Batch>) -> Batch {
        let mut batches = batches.into_iter();
        let mut all = batches.next().unwrap_or_default();
        for batch in batches {
            let Ok(base) = u32::try_from(all.recs.len()) else {
                break;
            };
            all.recs.extend(batch.recs);
            all.find.extend(batch.find.into_iter().map(|i| base + i));
            all.peers
                .extend(batch.peers.into_iter().map(|(i, p)| (base + i, p)));
        }
        all
    }

    /// Whether a target with this cookie is in the batch.
    pub(crate) fn has(&self, cookie: u64) -> bool {
        self.cookies.contains(&cookie)
    }

    /// Add a target with the peers found for it, and whether its peers are
    /// still to be looked up. A socket already in the batch is not added
    /// again.
    pub(crate) fn push(&mut self, rec: Rec, peers: impl IntoIterator<Item = Rec>, find: bool) {
        if !self.cookies.insert(rec.cookie()) {
            return;
        }
        let Ok(at) = u32::try_from(self.recs.len()) else {
            return;
        };
        self.recs.push(rec);
        self.peers.extend(peers.into_iter().map(|p| (at, p)));
        if find {
            self.find.push(at);
        }
    }
}

/// [`Intake::ahead`] looks ahead once the rows held and the tuples handled
/// are this many (about 16 MiB of tables): a drop of up to about 100,000
/// connections never does (measured: its tables stay in the cache, and a
/// look ahead costs it more than it saves), a drop of a million does from
/// a fifth of its dump on (its user time then about 15 % less).
const AHEAD_FROM: usize = 262_144;

/// A row of a dump as an [`Intake`] takes it: the connection, its record,
/// its ends, and the keys of its tuple and of the tuple reversed (its other
/// end's), computed once.
pub(crate) struct Row {
    pub(crate) conn: Connection,
    rec: Rec,
    ends: (End, End),
    key: u64,
    reverse: u64,
}

impl Row {
    pub(crate) fn of(conn: Connection) -> Row {
        let rec = Rec::of(&conn);
        let ends = rec.ends();
        Row {
            key: key(&ends),
            reverse: reverse_key(&ends),
            conn,
            rec,
            ends,
        }
    }
}

/// Ask the processor to bring `value` into its cache: a hint, which
/// changes nothing the program computes.
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault;
    // the address is a live reference's anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            std::ptr::from_ref(value).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Where local addresses end: [`Locals`] answers whether a remote address
/// is one of this namespace's, so that its other end may be here.
pub(crate) trait Local {
    fn is_local(&self, ip: std::net::IpAddr) -> bool;
}

/// How one dump's rows are taken: chosen or not, paired with their other
/// ends, and gathered into [`Batch`]es.
pub(crate) struct Intake {
    /// Rows on a handled tuple are newcomers: this is a later round, or
    /// aborts have begun in this one.
    pub(crate) later: bool,
    /// The dump shows the peers (a filter program that lets them through,
    /// or no program): targets and peers are paired here; otherwise each
    /// target's peer is looked up.
    pair: bool,
    open: Open,
    /// A socket not chosen was turned away ([`Put::Full`]): a target left
    /// waiting may have lost its peer, so it is looked up.
    lost: bool,
    /// The targets ready to abort.
    pub(crate) ready: Batch,
    /// How many targets this round took.
    pub(crate) taken: usize,
    /// Watched peers may show up (a later round).
    watching: bool,
    /// Room for what [`Open::take`] takes out.
    scratch: Vec<(Rec, bool)>,
}

impl Intake {
    pub(crate) fn new(later: bool, pair: bool, room: usize) -> Intake {
        Intake {
            later,
            pair,
            open: Open::new(room),
            lost: false,
            ready: Batch::default(),
            taken: 0,
            watching: later,
            scratch: Vec::new(),
        }
    }

    /// Before the rows of a chunk are taken one by one: look up, all
    /// together, what taking each will read (whether its tuple was
    /// handled, the held row of its other end), so that their cache misses
    /// overlap rather than come one after another. Changes nothing.
    pub(crate) fn ahead(&self, rows: &[Row], plan: &Plan) {
        // Smaller tables stay in the cache: looking twice would only cost.
        if self.open.len + plan.handled.len < AHEAD_FROM {
            return;
        }
        for row in rows {
            if self.later {
                plan.handled.prefetch(row.key);
            }
            if self.pair {
                self.open.prefetch(row.reverse);
            }
        }
    }

    /// Take one row of the dump. `choose` says whether the selection
    /// chooses it; `local` whether an address is this namespace's.
    pub(crate) fn row(
        &mut self,
        row: Row,
        plan: &mut Plan,
        choose: impl FnOnce(&Connection) -> bool,
        local: &dyn Local,
    ) {
        let Row {
            conn,
            rec,
            ends,
            key,
            reverse,
        } = row;
        if !plan.kept.is_empty() && plan.kept.contains(&conn.cookie) {
            return;
        }
        let watched = self.watching && plan.peers.knows(conn.cookie);
        if self.later && plan.handled.contains(key) {
            plan.newcomer(key, conn.cookie);
            return;
        }
        if choose(&conn) {
            // A watched peer chosen now has its own outcome.
            if !plan.peers.is_empty() {
                if let Some(peer) = plan.peers.get_mut(conn.cookie) {
                    peer.set(DECIDED, true);
                }
            }
            self.taken += 1;
            self.target(rec, (key, reverse), &ends, local);
        } else if !watched && self.pair && !rec.is_listener() && local.is_local(rec.remote_ip()) {
            self.candidate(rec, (key, reverse), &ends);
        }
    }

    /// A chosen row, with the keys of its tuple and of its other end's.
    fn target(
        &mut self,
        rec: Rec,
        (key, reverse): (u64, u64),
        ends: &(End, End),
        local: &dyn Local,
    ) {
        // A listener, or a connection to an address not of this namespace,
        // has no other end here.
        let lonely = rec.is_listener() || !local.is_local(rec.remote_ip());
        if !self.pair || lonely {
            self.ready.push(rec, None, !self.pair && !lonely);
            return;
        }
        // The same row twice (a dump may repeat one), its first already
        // paired and ready: not again.
        if self.ready.has(rec.cookie()) {
            return;
        }
        let mut others = std::mem::take(&mut self.scratch);
        self.open
            .take(reverse, &(ends.1, ends.0), false, &mut others);
        if !others.is_empty() {
            // Its other end came first: a waiting target goes before it
            // (both are dropped), a socket not chosen is its peer (nearly
            // always one of them; more are sockets on one tuple).
            let (mut one, mut more) = (None, Vec::new());
            for (other, was_target) in others.drain(..) {
                if was_target {
                    self.ready.push(other, None, false);
                } else if one.is_none() {
                    one = Some(other);
                } else {
                    more.push(other);
                }
            }
            self.scratch = others;
            self.ready.push(rec, one.into_iter().chain(more), false);
            return;
        }
        self.scratch = others;
        if let Put::Full(rec) = self.open.insert(key, rec, true) {
            self.ready.push(rec, None, true);
        }
    }

    /// A row not chosen that may be a target's other end, with the keys of
    /// its tuple and of the target's.
    fn candidate(&mut self, rec: Rec, (key, reverse): (u64, u64), ends: &(End, End)) {
        let mut targets = std::mem::take(&mut self.scratch);
        self.open
            .take(reverse, &(ends.1, ends.0), true, &mut targets);
        if targets.len() == 1 {
            if let Some((target, _)) = targets.pop() {
                self.ready.push(target, Some(rec), false);
            }
            self.scratch = targets;
            return;
        }
        if !targets.is_empty() {
            for (target, _) in targets.drain(..) {
                self.ready.push(target, Some(rec.clone()), false);
            }
            self.scratch = targets;
            return;
        }
        self.scratch = targets;
        if let Put::Full(_) = self.open.insert(key, rec, false) {
            self.lost = true;
        }
    }

    /// The dump has ended: the targets still waiting have no peer in it
    /// (or lost it to [`Put::Full`]: then it is looked up).
    /// Make up to `most` of them ready; whether none is left waiting.
    pub(crate) fn finish(&mut self, most: usize) -> bool {
        let lost = self.lost;
        let drained = self.open.drain_targets(most);
        let done = drained.len() < most;
        for rec in drained {
            self.ready.push(rec, None, lost);
        }
        done
    }

    /// Take the ready targets out, to be sent: from now on their tuples
    /// are handled.
    pub(crate) fn batch(&mut self, plan: &mut Plan) -> Batch {
        // Never more than a streamed batch: the last batch of a drop that
        // does not stream holds every target.
        let room = self.ready.len().min(READY_ROOM);
        let batch = std::mem::replace(&mut self.ready, Batch::with_room(room));
        let keys: Vec<u64> = batch.recs.iter().map(|r| key(&r.ends())).collect();
        // The slots first, all together, then the keys into them.
        for k in &keys {
            plan.handled.prefetch(*k);
        }
        for k in keys {
            plan.handled.insert(k);
        }
        self.later = true;
        batch
    }
}

#[cfg(test)]
pub(super) mod tests {
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
        fn a_key_set_holds_exactly_the_tuples_put_in_and_their_flags(
            tuples in proptest::collection::vec((addr(), addr()), 1..200),
            other in (addr(), addr()),
        ) {
            let k = |t: &(SocketAddr, SocketAddr)| key(&(end(&t.0), end(&t.1)));
            let mut set = Keys::default();
            prop_assert!(set.is_empty());
            for (i, t) in tuples.iter().enumerate() {
                set.insert(k(t));
                if i % 3 == 0 {
                    set.flag(k(t));
                }
            }
            for (i, t) in tuples.iter().enumerate() {
                prop_assert!(set.contains(k(t)));
                let flagged = tuples.iter().enumerate().any(|(j, u)| j % 3 == 0 && u == t);
                prop_assert_eq!(set.flagged(k(t)), flagged, "{}", i);
            }
            prop_assert_eq!(set.contains(k(&other)), tuples.contains(&other));
        }
    }

    /// An established connection between `local` and `remote` (IPv4 or
    /// IPv6, as written), as a dump gives it.
    pub(crate) fn conn(local: &str, remote: &str, cookie: u64) -> Connection {
        let (local, remote): (SocketAddr, SocketAddr) =
            (local.parse().unwrap(), remote.parse().unwrap());
        let family = match local {
            SocketAddr::V4(_) => sockdiag::Family::Inet,
            SocketAddr::V6(_) => sockdiag::Family::Inet6,
        };
        let raw = |a: SocketAddr| crate::conn::kernel_addr(a.ip(), family);
        Connection::from_diag(&sockdiag::InetDiagMsg {
            family,
            state: sockdiag::TcpState::Established,
            timer: 0,
            retrans: 0,
            id: sockdiag::SockId {
                sport: local.port(),
                dport: remote.port(),
                src: raw(local),
                dst: raw(remote),
                ifindex: 0,
                cookie,
            },
            expires: 0,
            rqueue: 3,
            wqueue: 4,
            uid: 1000,
            inode: 77,
            shutdown: None,
            v6only: None,
            tcp_info: None,
        })
        .unwrap()
    }

    #[test]
    fn a_record_gives_back_its_connection_target_and_ends() {
        for (l, r) in [
            ("127.0.0.1:80", "127.0.1.2:40000"),
            ("[::1]:80", "[::1]:40000"),
            ("[fe80::1%2]:80", "[fe80::2%2]:40000"),
        ] {
            let c = conn(l, r, 42);
            let rec = Rec::of(&c);
            assert_eq!(rec.connection().unwrap(), c);
            assert_eq!(rec.cookie(), 42);
            assert_eq!(rec.ends(), (end(&c.local), end(&c.remote)));
            assert_eq!(rec.target().id, c.sock_id());
            assert_eq!(rec.remote_ip(), c.remote.ip());
            assert!(!rec.is_listener());
        }
        assert!(matches!(
            Rec::of(&conn("127.0.0.1:1", "127.0.0.2:2", 1)),
            Rec::V4(_)
        ));
        // The IPv4 connection of a dual-stack socket: held as two IPv4
        // ends, given back mapped, with its kernel id in `::ffff:` form.
        let mapped = conn("[::ffff:127.0.0.1]:80", "[::ffff:127.0.0.3]:40000", 7);
        assert!(mapped.mapped);
        let rec = Rec::of(&mapped);
        assert!(matches!(rec, Rec::V4(_)));
        assert_eq!(rec.connection().unwrap(), mapped);
        assert_eq!(rec.target().id, mapped.sock_id());
    }

    proptest! {
        #[test]
        fn records_order_as_their_ends_do(
            a in (any::<[u8; 4]>(), any::<u16>(), any::<[u8; 4]>(), any::<u16>()),
            b in (any::<[u8; 4]>(), any::<u16>(), any::<[u8; 4]>(), any::<u16>()),
        ) {
            let rec = |(l, lp, r, rp): ([u8; 4], u16, [u8; 4], u16)| {
                let l = SocketAddr::new(Ipv4Addr::from(l).into(), lp);
                let r = SocketAddr::new(Ipv4Addr::from(r).into(), rp);
                Rec::of(&conn(&l.to_string(), &r.to_string(), 1))
            };
            let (x, y) = (rec(a), rec(b));
            prop_assert_eq!(x.order(&y), x.ends().cmp(&y.ends()));
        }
    }

    struct Everywhere;
    impl Local for Everywhere {
        fn is_local(&self, _: std::net::IpAddr) -> bool {
            true
        }
    }

    struct Nowhere;
    impl Local for Nowhere {
        fn is_local(&self, _: std::net::IpAddr) -> bool {
            false
        }
    }

    /// Feed `rows` (local, remote, cookie, chosen) to an intake; the batch.
    fn intake(rows: &[(&str, &str, u64, bool)], room: usize, local: &dyn Local) -> Batch {
        let mut plan = Plan::default();
        let mut intake = Intake::new(false, true, room);
        // As a dump's chunk: looked ahead at together, then taken in order.
        let chunk: Vec<Row> = rows
            .iter()
            .map(|(l, r, cookie, _)| Row::of(conn(l, r, *cookie)))
            .collect();
        intake.ahead(&chunk, &plan);
        for (row, (.., chosen)) in chunk.into_iter().zip(rows) {
            intake.row(row, &mut plan, |_| *chosen, local);
        }
        while !intake.finish(2) {}
        intake.batch(&mut plan)
    }

    fn cookies(batch: &Batch) -> Vec<u64> {
        batch.recs.iter().map(Rec::cookie).collect()
    }

    fn peers(batch: &Batch) -> Vec<(u32, u64)> {
        batch.peers.iter().map(|(t, p)| (*t, p.cookie())).collect()
    }

    #[test]
    fn targets_and_peers_pair_up_in_either_order() {
        let rows = [
            // Target first, then its peer.
            ("127.0.1.1:40000", "127.0.0.1:80", 1, true),
            ("127.0.0.1:80", "127.0.1.1:40000", 2, false),
            // Peer first, then its target.
            ("127.0.0.1:80", "127.0.1.1:40001", 3, false),
            ("127.0.1.1:40001", "127.0.0.1:80", 4, true),
            // Both ends chosen: both targets, the first seen first.
            ("127.0.1.1:40002", "127.0.0.1:80", 5, true),
            ("127.0.0.1:80", "127.0.1.1:40002", 6, true),
            // A target without a peer here, and a socket not chosen
            // without a target.
            ("127.0.1.1:40003", "127.0.0.1:81", 7, true),
            ("127.0.0.1:82", "127.0.1.1:40004", 8, false),
        ];
        let batch = intake(&rows, 100, &Everywhere);
        assert_eq!(cookies(&batch), [1, 4, 5, 6, 7]);
        assert_eq!(peers(&batch), [(0, 2), (1, 3)]);
        assert!(batch.find.is_empty());
        // The same rows twice: each socket once.
        let twice: Vec<_> = rows.iter().chain(rows.iter()).copied().collect();
        let batch = intake(&twice, 100, &Everywhere);
        assert_eq!(cookies(&batch), [1, 4, 5, 6, 7]);
    }

    #[test]
    fn without_room_targets_look_their_peers_up() {
        let rows = [
            ("127.0.0.1:80", "127.0.1.1:40000", 1, false),
            ("127.0.0.1:80", "127.0.1.1:40001", 2, false),
            ("127.0.1.1:40001", "127.0.0.1:80", 3, true),
            ("127.0.1.1:40000", "127.0.0.1:80", 4, true),
        ];
        // Room for one: the second socket not chosen is turned away, and
        // so is its target, which looks its peer up; the first pairs.
        let batch = intake(&rows, 1, &Everywhere);
        assert_eq!(cookies(&batch), [3, 4]);
        assert_eq!(peers(&batch), [(1, 1)]);
        assert_eq!(batch.find, [0]);
    }

    #[test]
    fn a_remote_address_not_of_this_namespace_has_no_peer_to_wait_for() {
        let rows = [
            ("127.0.0.1:80", "127.0.1.1:40000", 1, false),
            ("127.0.1.1:40000", "127.0.0.1:80", 2, true),
        ];
        let batch = intake(&rows, 100, &Nowhere);
        assert_eq!(cookies(&batch), [2]);
        assert!(batch.peers.is_empty() && batch.find.is_empty());
    }

    #[test]
    fn once_a_tuple_is_handled_a_socket_on_it_is_a_newcomer() {
        let mut plan = Plan::default();
        let mut intake = Intake::new(false, false, 10);
        let old = conn("127.0.1.1:40000", "127.0.0.1:80", 1);
        intake.row(Row::of(old.clone()), &mut plan, |_| true, &Nowhere);
        let sent = intake.batch(&mut plan);
        assert_eq!(cookies(&sent), [1]);
        intake.row(
            Row::of(conn("127.0.1.1:40000", "127.0.0.1:80", 2)),
            &mut plan,
            |_| true,
            &Nowhere,
        );
        assert!(intake.ready.is_empty());
        let k = key(&(end(&old.local), end(&old.remote)));
        assert!(plan.replaced(k, 1));
        assert!(!plan.replaced(k, 2));
    }

    #[test]
    fn a_chunk_looked_ahead_at_over_large_tables_pairs_as_without() {
        // More targets wait than AHEAD_FROM, so every chunk of their peers
        // is looked ahead at before it is taken: each still pairs with its
        // own target, once.
        let n = AHEAD_FROM + 1000;
        let end_of = |i: usize| {
            let [a, b, c, d] = (i as u32 + (10 << 24)).to_be_bytes();
            format!("{a}.{b}.{c}.{d}:{}", 1024 + i % 60_000)
        };
        let mut plan = Plan::default();
        let mut intake = Intake::new(false, true, usize::MAX);
        let targets: Vec<(Connection, bool)> = (0..n)
            .map(|i| (conn(&end_of(i), "127.0.0.1:80", i as u64 + 1), true))
            .collect();
        let peers: Vec<(Connection, bool)> = (0..n)
            .rev()
            .map(|i| (conn("127.0.0.1:80", &end_of(i), (n + i) as u64 + 1), false))
            .collect();
        let mut feed = |intake: &mut Intake, rows: &[(Connection, bool)]| {
            for chunk in rows.chunks(256) {
                let rows: Vec<Row> = chunk.iter().map(|(c, _)| Row::of(c.clone())).collect();
                intake.ahead(&rows, &plan);
                for (row, (_, chosen)) in rows.into_iter().zip(chunk) {
                    intake.row(row, &mut plan, |_| *chosen, &Everywhere);
                }
            }
        };
        feed(&mut intake, &targets);
        assert!(intake.open.len >= AHEAD_FROM);
        feed(&mut intake, &peers);
        assert!(intake.finish(usize::MAX));
        let batch = intake.batch(&mut plan);
        assert_eq!(batch.len(), n);
        assert!(batch.find.is_empty());
        assert_eq!(batch.peers.len(), n);
        for (t, peer) in &batch.peers {
            let target = &batch.recs[*t as usize];
            assert_eq!(peer.cookie(), target.cookie() + n as u64);
            assert_eq!(peer.ends(), (target.ends().1, target.ends().0));
        }
    }

    #[test]
    fn tuples_whose_keys_share_a_tag_are_each_held_and_found() {
        // Three tuples whose keys share their top 32 bits (their tag): the
        // index names only the first; the others wait beside it, by their
        // whole keys, and each comes back for its own key alone.
        let tuples = [
            ("10.0.0.1:5000", "10.0.0.2:80"),
            ("10.0.0.1:5001", "10.0.0.2:80"),
            ("10.0.0.1:5002", "10.0.0.2:80"),
        ];
        let recs: Vec<Rec> = tuples
            .iter()
            .zip(1..)
            .map(|((l, r), cookie)| Rec::of(&conn(l, r, cookie)))
            .collect();
        let keys = [
            0xabcd_0123_0000_0010_u64,
            0xabcd_0123_0000_0020,
            0xabcd_0123_0000_0030,
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            let mut open = Open::new(10);
            for &i in &order {
                assert!(matches!(
                    open.insert(keys[i], recs[i].clone(), i == 1),
                    Put::Held
                ));
            }
            // The same socket again is known as such, whichever entry holds it.
            for &i in &order {
                assert!(matches!(
                    open.insert(keys[i], recs[i].clone(), false),
                    Put::Twice
                ));
            }
            let mut out = Vec::new();
            // The first inserted is taken: the others are still found.
            for &i in &order {
                let ends = recs[i].ends();
                // A tuple not held whose key has the same tag finds nothing.
                let absent = Rec::of(&conn("10.0.0.1:6000", "10.0.0.2:80", 9)).ends();
                open.take(0xabcd_0123_0000_0040, &absent, false, &mut out);
                assert!(out.is_empty());
                // Each comes back once, as a target only if it waited as one.
                open.take(keys[i], &ends, false, &mut out);
                let got: Vec<(u64, bool)> = out.iter().map(|(r, t)| (r.cookie(), *t)).collect();
                assert_eq!(got, [(recs[i].cookie(), i == 1)]);
                open.take(keys[i], &ends, false, &mut out);
                assert!(out.is_empty());
            }
            assert!(open.drain_targets(usize::MAX).is_empty());
        }
    }

    #[test]
    fn the_waiting_rows_of_one_tuple_each_come_back_once() {
        let rec = |cookie| Rec::of(&conn("10.0.0.1:5000", "10.0.0.2:80", cookie));
        let ends = rec(1).ends();
        let k = key(&ends);
        let mut open = Open::new(3);
        assert!(matches!(open.insert(k, rec(1), false), Put::Held));
        assert!(matches!(open.insert(k, rec(1), true), Put::Twice));
        // A second socket on the tuple (one bound to a device) waits too.
        assert!(matches!(open.insert(k, rec(2), true), Put::Held));
        let other = Rec::of(&conn("10.0.0.1:5001", "10.0.0.2:80", 3));
        let other_ends = other.ends();
        assert!(matches!(
            open.insert(key(&other_ends), other, false),
            Put::Held
        ));
        assert!(matches!(open.insert(k, rec(4), false), Put::Full(_)));
        let mut out = Vec::new();
        // Only the waiting target...
        open.take(k, &ends, true, &mut out);
        let cookies: Vec<(u64, bool)> = out.iter().map(|(r, t)| (r.cookie(), *t)).collect();
        assert_eq!(cookies, [(2, true)]);
        // ... then the other, still found by its key, once.
        assert!(matches!(open.insert(k, rec(1), false), Put::Twice));
        open.take(k, &ends, false, &mut out);
        let cookies: Vec<(u64, bool)> = out.iter().map(|(r, t)| (r.cookie(), *t)).collect();
        assert_eq!(cookies, [(1, false)]);
        open.take(k, &ends, false, &mut out);
        assert!(out.is_empty());
        // The row on another tuple stays until its own key is asked for.
        open.take(key(&other_ends), &other_ends, false, &mut out);
        assert_eq!(out.len(), 1);
        assert!(open.drain_targets(usize::MAX).is_empty());

        // The first row of a tuple taken, the next is still held, once.
        let mut open = Open::new(3);
        assert!(matches!(open.insert(k, rec(1), true), Put::Held));
        assert!(matches!(open.insert(k, rec(2), false), Put::Held));
        open.take(k, &ends, true, &mut out);
        assert_eq!(out.iter().map(|(r, _)| r.cookie()).collect::<Vec<_>>(), [1]);
        assert!(matches!(open.insert(k, rec(2), false), Put::Twice));
        open.take(k, &ends, false, &mut out);
        assert_eq!(out.iter().map(|(r, _)| r.cookie()).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn many_waiting_rows_and_peers_are_each_found_again() {
        let rec = |i: u32, cookie: u64| {
            let [a, b] = (i as u16 + 1024).to_be_bytes().map(u16::from);
            Rec::of(&conn(&format!("10.1.{a}.{b}:4000"), "10.2.0.1:80", cookie))
        };
        let mut open = Open::new(usize::MAX);
        let mut peers = Peers::default();
        for i in 0..20_000 {
            let r = rec(i, u64::from(i) + 1);
            assert!(matches!(
                open.insert(key(&r.ends()), r.clone(), i % 2 == 0),
                Put::Held
            ));
            peers.hold(r.clone());
            peers.hold(r);
        }
        assert_eq!(peers.len(), 20_000);
        let mut out = Vec::new();
        for i in (0..20_000).rev() {
            let cookie = u64::from(i) + 1;
            assert!(peers.knows(cookie));
            assert_eq!(peers.get_mut(cookie).map(|r| r.cookie()), Some(cookie));
            let ends = rec(i, cookie).ends();
            open.take(key(&ends), &ends, false, &mut out);
            assert_eq!(out.len(), 1);
            assert_eq!((out[0].0.cookie(), out[0].1), (cookie, i % 2 == 0));
        }
        assert!(!peers.knows(0) && !peers.knows(20_001));
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
