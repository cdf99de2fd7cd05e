//! The connection model: what a dumped socket is, in the terms users think in.

use std::net::{IpAddr, SocketAddr};

use sockdiag::{InetDiagMsg, SockId, TcpState};
use ssfilter::State;

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
        // The state and the ends as the filter language reads them: a
        // mapped connection has both ends IPv4.
        let row = ssfilter::Row::from_diag(msg)?;
        let id = &msg.id;
        Some(Connection {
            family: if row.local.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            state: row.state,
            local: row.local,
            remote: row.remote,
            mapped: row.mapped(),
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

    /// The connection of a socket between two IPv4 ends bound to no
    /// device, as [`Connection::from_diag`] builds it from its record
    /// (`mapped`: the socket is `AF_INET6`), without a record: what a drop
    /// rebuilds for the report of each socket it held.
    pub(crate) fn of_ipv4(
        ends: (std::net::SocketAddrV4, std::net::SocketAddrV4),
        mapped: bool,
        kernel_state: TcpState,
        cookie: u64,
        owner: (u32, u32),
        queues: [u32; 2],
    ) -> Option<Connection> {
        Some(Connection {
            family: Family::Ipv4,
            state: State::from_kernel(kernel_state)?,
            local: SocketAddr::V4(ends.0),
            remote: SocketAddr::V4(ends.1),
            mapped,
            ifindex: 0,
            cookie,
            uid: owner.0,
            inode: owner.1,
            recv_q: queues[0],
            send_q: queues[1],
            kernel_state,
            socket_family: if mapped {
                sockdiag::Family::Inet6
            } else {
                sockdiag::Family::Inet
            },
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

/// What the filter language reads of a connection: its state, its ends
/// and the family of its kernel socket (`AF_INET6` for a mapped one).
impl ssfilter::Socket for Connection {
    fn state(&self) -> State {
        self.state
    }

    fn local(&self) -> SocketAddr {
        self.local
    }

    fn remote(&self) -> SocketAddr {
        self.remote
    }

    fn inet6(&self) -> bool {
        self.socket_family == sockdiag::Family::Inet6
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

pub(crate) fn kernel_addr(ip: IpAddr, family: sockdiag::Family) -> [u8; 16] {
    let mut out = [0u8; 16];
    match (ip, family) {
        (IpAddr::V4(v4), sockdiag::Family::Inet) => out[..4].copy_from_slice(&v4.octets()),
        (IpAddr::V4(v4), sockdiag::Family::Inet6) => out = v4.to_ipv6_mapped().octets(),
        (IpAddr::V6(v6), _) => out = v6.octets(),
    }
    out
}
