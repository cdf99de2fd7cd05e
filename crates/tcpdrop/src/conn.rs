//! The connection model: what a dumped socket is, in the terms users think in.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use sockdiag::{InetDiagMsg, SockId, TcpState};

/// The address family a connection is shown and matched in.
///
/// An IPv4 connection carried by a dual-stack IPv6 socket (`::ffff:a.b.c.d`)
/// is [`Family::Ipv4`] with [`Connection::mapped`] set (SPEC §3, trap 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// `"ipv4"` or `"ipv6"`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// A TCP state, named as RFC 793 names it.
///
/// The kernel's `TCP_NEW_SYN_RECV` request sockets are [`State::SynReceived`],
/// as `ss` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// ESTABLISHED.
    Established,
    /// SYN-SENT.
    SynSent,
    /// SYN-RECEIVED.
    SynReceived,
    /// FIN-WAIT-1.
    FinWait1,
    /// FIN-WAIT-2.
    FinWait2,
    /// TIME-WAIT.
    TimeWait,
    /// CLOSED.
    Closed,
    /// CLOSE-WAIT.
    CloseWait,
    /// LAST-ACK.
    LastAck,
    /// LISTEN.
    Listen,
    /// CLOSING.
    Closing,
}

impl State {
    /// Every state, in the kernel's order.
    pub const ALL: [State; 11] = [
        State::Established,
        State::SynSent,
        State::SynReceived,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Closed,
        State::CloseWait,
        State::LastAck,
        State::Listen,
        State::Closing,
    ];

    /// The state of a kernel socket, `None` for states `ss` does not list.
    pub fn from_kernel(state: TcpState) -> Option<State> {
        Some(match state {
            TcpState::Established => State::Established,
            TcpState::SynSent => State::SynSent,
            TcpState::SynRecv | TcpState::NewSynRecv => State::SynReceived,
            TcpState::FinWait1 => State::FinWait1,
            TcpState::FinWait2 => State::FinWait2,
            TcpState::TimeWait => State::TimeWait,
            TcpState::Close => State::Closed,
            TcpState::CloseWait => State::CloseWait,
            TcpState::LastAck => State::LastAck,
            TcpState::Listen => State::Listen,
            TcpState::Closing => State::Closing,
            TcpState::BoundInactive | TcpState::Unknown(_) => return None,
        })
    }

    /// The RFC 793 name: `ESTABLISHED`, `SYN-SENT`, `TIME-WAIT`, ...
    pub fn rfc_name(self) -> &'static str {
        match self {
            State::Established => "ESTABLISHED",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "CLOSED",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
        }
    }

    /// The name `ss` prints in its State column: `ESTAB`, `SYN-RECV`, `UNCONN`, ...
    pub fn ss_name(self) -> &'static str {
        match self {
            State::Established => "ESTAB",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECV",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "UNCONN",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
        }
    }

    /// The kernel state mask (`1 << TCP_*`) that dumps sockets in this state.
    pub fn kernel_mask(self) -> u32 {
        match self {
            State::Established => TcpState::Established.mask(),
            State::SynSent => TcpState::SynSent.mask(),
            State::SynReceived => TcpState::SynRecv.mask() | TcpState::NewSynRecv.mask(),
            State::FinWait1 => TcpState::FinWait1.mask(),
            State::FinWait2 => TcpState::FinWait2.mask(),
            State::TimeWait => TcpState::TimeWait.mask(),
            State::Closed => TcpState::Close.mask(),
            State::CloseWait => TcpState::CloseWait.mask(),
            State::LastAck => TcpState::LastAck.mask(),
            State::Listen => TcpState::Listen.mask(),
            State::Closing => TcpState::Closing.mask(),
        }
    }

    /// The single state `name` denotes, in `ss`'s spelling, RFC 793's or the
    /// column name `ss` prints; case-insensitive, `_` read as `-`.
    pub fn from_name(name: &str) -> Option<State> {
        let name = name.to_ascii_lowercase().replace('_', "-");
        Some(match name.as_str() {
            "established" | "estab" => State::Established,
            "syn-sent" => State::SynSent,
            "syn-recv" | "syn-rcv" | "syn-received" => State::SynReceived,
            "fin-wait-1" | "fin-wait1" => State::FinWait1,
            "fin-wait-2" | "fin-wait2" => State::FinWait2,
            "time-wait" => State::TimeWait,
            "closed" | "close" | "unconn" | "unconnected" => State::Closed,
            "close-wait" => State::CloseWait,
            "last-ack" => State::LastAck,
            "listening" | "listen" => State::Listen,
            "closing" => State::Closing,
            _ => return None,
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc_name())
    }
}

/// A set of [`State`]s, kept as the kernel's state mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateSet(u32);

impl StateSet {
    /// Every state `ss -a` lists (the kernel mask `0x1FFE`).
    pub const ALL: StateSet = StateSet(sockdiag::ALL_TCP_STATES);
    /// No state.
    pub const EMPTY: StateSet = StateSet(0);

    /// The set holding just `state`.
    pub fn only(state: State) -> StateSet {
        StateSet(state.kernel_mask())
    }

    /// Every state except LISTEN: what a drop selects unless asked for listeners.
    pub fn all_but_listen() -> StateSet {
        StateSet::ALL.without(State::Listen)
    }

    /// This set with `state` added.
    pub fn with(self, state: State) -> StateSet {
        StateSet(self.0 | state.kernel_mask())
    }

    /// This set with `state` removed.
    pub fn without(self, state: State) -> StateSet {
        StateSet(self.0 & !state.kernel_mask())
    }

    /// The union of two sets.
    pub fn union(self, other: StateSet) -> StateSet {
        StateSet(self.0 | other.0)
    }

    /// The states in both sets.
    pub fn intersection(self, other: StateSet) -> StateSet {
        StateSet(self.0 & other.0)
    }

    /// Whether `state` is in the set.
    pub fn contains(self, state: State) -> bool {
        self.0 & state.kernel_mask() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kernel mask (`idiag_states`).
    pub fn kernel_mask(self) -> u32 {
        self.0
    }

    /// The set a state name or group names, as `ss` spells them
    /// (`established`, `syn-recv`, `listening`, `connected`,
    /// `synchronized`, `bucket`, `big`, `all`, ...), also accepting the RFC
    /// 793 names (`LISTEN`, `SYN-RECEIVED`, `CLOSE_WAIT`, ...) and the
    /// column names `ss` prints (`ESTAB`, `UNCONN`). Case does not matter,
    /// `_` is read as `-`. `None` for anything else.
    pub fn from_name(name: &str) -> Option<StateSet> {
        let name = name.to_ascii_lowercase().replace('_', "-");
        let connected = StateSet::ALL.without(State::Listen).without(State::Closed);
        Some(match name.as_str() {
            "all" => StateSet::ALL,
            "connected" => connected,
            "synchronized" => connected.without(State::SynSent),
            "bucket" => StateSet::only(State::SynReceived).with(State::TimeWait),
            "big" => StateSet::ALL
                .without(State::SynReceived)
                .without(State::TimeWait),
            _ => StateSet::only(State::from_name(&name)?),
        })
    }

    /// The states in the set, in the kernel's order.
    pub fn iter(self) -> impl Iterator<Item = State> {
        State::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<State> for StateSet {
    fn from_iter<I: IntoIterator<Item = State>>(iter: I) -> StateSet {
        iter.into_iter().fold(StateSet::EMPTY, StateSet::with)
    }
}

/// One TCP socket as the kernel reported it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Connection {
    /// The family it is shown in (IPv4 for a v4-mapped connection).
    pub family: Family,
    /// Its state.
    pub state: State,
    /// Local address and port (IPv4 for a v4-mapped connection).
    pub local: SocketAddr,
    /// Remote address and port (`0.0.0.0:0` / `[::]:0` for a listener).
    pub remote: SocketAddr,
    /// An IPv4 connection carried by an IPv6 socket (`::ffff:a.b.c.d`).
    pub mapped: bool,
    /// The interface the socket is bound to (`idiag_if`), 0 for none.
    pub ifindex: u32,
    /// The kernel's socket cookie: what makes a drop hit this socket and no
    /// later one on the same tuple.
    pub cookie: u64,
    /// Owner's uid (0 for TIME-WAIT and SYN-RECEIVED request sockets).
    pub uid: u32,
    /// Socket inode (0 for TIME-WAIT and SYN-RECEIVED request sockets).
    pub inode: u32,
    /// Bytes not yet read by the owner; for a listener, its accept backlog.
    pub recv_q: u32,
    /// Bytes not yet acknowledged by the peer; for a listener, the backlog limit.
    pub send_q: u32,
    /// The kernel's own state, which tells a request socket
    /// (`TCP_NEW_SYN_RECV`) from a full one.
    pub kernel_state: TcpState,
    socket_family: sockdiag::Family,
}

impl Connection {
    /// Build a connection from a dump record; `None` for states that `ss`
    /// does not list (`TCP_BOUND_INACTIVE`, unknown numbers).
    pub fn from_diag(msg: &InetDiagMsg) -> Option<Connection> {
        let state = State::from_kernel(msg.state)?;
        let id = &msg.id;
        let (family, local, remote, mapped) = match msg.family {
            sockdiag::Family::Inet => {
                let l = ipv4(&id.src);
                let r = ipv4(&id.dst);
                (
                    Family::Ipv4,
                    SocketAddr::V4(SocketAddrV4::new(l, id.sport)),
                    SocketAddr::V4(SocketAddrV4::new(r, id.dport)),
                    false,
                )
            }
            sockdiag::Family::Inet6 => {
                let l = Ipv6Addr::from(id.src);
                let r = Ipv6Addr::from(id.dst);
                // A listener on [::] has an unspecified remote; a mapped
                // connection has both ends mapped.
                match (l.to_ipv4_mapped(), r.to_ipv4_mapped()) {
                    (Some(l4), Some(r4)) => (
                        Family::Ipv4,
                        SocketAddr::V4(SocketAddrV4::new(l4, id.sport)),
                        SocketAddr::V4(SocketAddrV4::new(r4, id.dport)),
                        true,
                    ),
                    _ => (
                        Family::Ipv6,
                        SocketAddr::V6(SocketAddrV6::new(l, id.sport, 0, id.ifindex)),
                        SocketAddr::V6(SocketAddrV6::new(r, id.dport, 0, id.ifindex)),
                        false,
                    ),
                }
            }
        };
        Some(Connection {
            family,
            state,
            local,
            remote,
            mapped,
            ifindex: id.ifindex,
            cookie: id.cookie,
            uid: msg.uid,
            inode: msg.inode,
            recv_q: msg.rqueue,
            send_q: msg.wqueue,
            kernel_state: msg.state,
            socket_family: msg.family,
        })
    }

    /// A connection this host forwards, as its end `local` sees it: no
    /// socket here holds it, so it has no cookie, inode, uid or queues
    /// (all 0), and the filter language applies to it as to a socket.
    pub(crate) fn in_transit(local: SocketAddr, remote: SocketAddr, state: State) -> Connection {
        let (family, socket_family) = match local {
            SocketAddr::V4(_) => (Family::Ipv4, sockdiag::Family::Inet),
            SocketAddr::V6(_) => (Family::Ipv6, sockdiag::Family::Inet6),
        };
        let kernel_state = match state {
            State::Established => TcpState::Established,
            State::SynSent => TcpState::SynSent,
            State::SynReceived => TcpState::SynRecv,
            State::FinWait1 => TcpState::FinWait1,
            State::FinWait2 => TcpState::FinWait2,
            State::TimeWait => TcpState::TimeWait,
            State::Closed => TcpState::Close,
            State::CloseWait => TcpState::CloseWait,
            State::LastAck => TcpState::LastAck,
            State::Listen => TcpState::Listen,
            State::Closing => TcpState::Closing,
        };
        Connection {
            family,
            state,
            local,
            remote,
            mapped: false,
            ifindex: 0,
            cookie: 0,
            uid: 0,
            inode: 0,
            recv_q: 0,
            send_q: 0,
            kernel_state,
            socket_family,
        }
    }

    /// The family of the kernel socket: `AF_INET6` for a mapped connection.
    pub fn socket_family(&self) -> sockdiag::Family {
        self.socket_family
    }

    /// The kernel's id for this socket, cookie included, as a destroy
    /// request must name it (through the IPv6 table for a mapped one).
    pub fn sock_id(&self) -> SockId {
        SockId {
            sport: self.local.port(),
            dport: self.remote.port(),
            src: kernel_addr(self.local.ip(), self.socket_family),
            dst: kernel_addr(self.remote.ip(), self.socket_family),
            ifindex: self.ifindex,
            cookie: self.cookie,
        }
    }

    /// Whether this is a LISTEN socket.
    pub fn is_listener(&self) -> bool {
        self.state == State::Listen
    }

    /// Whether `local` and `remote` name this connection's two ends. IPv4
    /// addresses match v4-mapped connections; a scope id of 0 matches any.
    pub fn has_tuple(&self, local: &SocketAddr, remote: &SocketAddr) -> bool {
        same_end(&self.local, local) && same_end(&self.remote, remote)
    }

    /// Whether `other` is the other end of this connection on this host.
    pub fn is_peer_of(&self, other: &Connection) -> bool {
        self.local == other.remote && self.remote == other.local
    }
}

/// Whether the socket address `have` (from a dump) is the one `want` names:
/// the same port, the same address (IPv4-mapped IPv6 and IPv4 are the same
/// address) and, when `want` names a scope, the same scope.
pub fn same_end(have: &SocketAddr, want: &SocketAddr) -> bool {
    if have.port() != want.port() {
        return false;
    }
    if canonical_ip(have.ip()) != canonical_ip(want.ip()) {
        return false;
    }
    match (have, want) {
        (SocketAddr::V6(h), SocketAddr::V6(w)) => w.scope_id() == 0 || h.scope_id() == w.scope_id(),
        _ => true,
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it carries; any other
/// address unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn ipv4(raw: &[u8; 16]) -> Ipv4Addr {
    Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])
}

pub(crate) fn kernel_addr(ip: IpAddr, family: sockdiag::Family) -> [u8; 16] {
    let mut out = [0u8; 16];
    match (ip, family) {
        (IpAddr::V4(v4), sockdiag::Family::Inet) => out[..4].copy_from_slice(&v4.octets()),
        (IpAddr::V4(v4), sockdiag::Family::Inet6) => out = v4.to_ipv6_mapped().octets(),
        (IpAddr::V6(v6), _) => out = v6.octets(),
    }
    out
}
