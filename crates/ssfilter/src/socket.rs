//! What the filter reads of a socket: a small trait, so that a caller's own
//! connection type is evaluated as it is, and [`Row`], the plain socket a
//! dump record describes.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use sockdiag::{Family, InetDiagMsg};

use crate::State;

/// A TCP socket as [`Filter::matches`](crate::Filter::matches) reads it:
/// its state, its two ends and the family of the kernel socket, which
/// decides how an address term of the other family matches.
pub trait Socket {
    /// Its state.
    fn state(&self) -> State;
    /// The local address and port; an end of an IPv4 connection carried by
    /// an IPv6 socket may be given as IPv4 or as `::ffff:a.b.c.d`.
    fn local(&self) -> SocketAddr;
    /// The remote address and port (`0.0.0.0:0` / `[::]:0` for a listener).
    fn remote(&self) -> SocketAddr;
    /// Whether the kernel socket is `AF_INET6`, also when it carries an
    /// IPv4 connection (`::ffff:a.b.c.d`).
    fn inet6(&self) -> bool;
}

impl<T: Socket + ?Sized> Socket for &T {
    fn state(&self) -> State {
        (**self).state()
    }

    fn local(&self) -> SocketAddr {
        (**self).local()
    }

    fn remote(&self) -> SocketAddr {
        (**self).remote()
    }

    fn inet6(&self) -> bool {
        (**self).inet6()
    }
}

/// One socket of a dump, as much of it as the filter reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Row {
    /// Its state.
    pub state: State,
    /// Local address and port; IPv4 for a v4-mapped connection.
    pub local: SocketAddr,
    /// Remote address and port; IPv4 for a v4-mapped connection.
    pub remote: SocketAddr,
    /// The kernel socket is `AF_INET6` (also for a v4-mapped connection).
    pub inet6: bool,
}

impl Row {
    /// The socket a dump record describes; `None` for states that `ss`
    /// does not list (`TCP_BOUND_INACTIVE`, unknown numbers). An IPv6
    /// socket whose two ends are IPv4-mapped has IPv4 ends, as `ss` shows
    /// it once its addresses are read as what they carry; an IPv6 end keeps
    /// the socket's interface as its scope.
    pub fn from_diag(msg: &InetDiagMsg) -> Option<Row> {
        let state = State::from_kernel(msg.state)?;
        let id = &msg.id;
        let (local, remote) = match msg.family {
            Family::Inet => (
                SocketAddr::V4(SocketAddrV4::new(ipv4(&id.src), id.sport)),
                SocketAddr::V4(SocketAddrV4::new(ipv4(&id.dst), id.dport)),
            ),
            Family::Inet6 => {
                let l = Ipv6Addr::from(id.src);
                let r = Ipv6Addr::from(id.dst);
                // A listener on [::] has an unspecified remote; a mapped
                // connection has both ends mapped.
                match (l.to_ipv4_mapped(), r.to_ipv4_mapped()) {
                    (Some(l4), Some(r4)) => (
                        SocketAddr::V4(SocketAddrV4::new(l4, id.sport)),
                        SocketAddr::V4(SocketAddrV4::new(r4, id.dport)),
                    ),
                    _ => (
                        SocketAddr::V6(SocketAddrV6::new(l, id.sport, 0, id.ifindex)),
                        SocketAddr::V6(SocketAddrV6::new(r, id.dport, 0, id.ifindex)),
                    ),
                }
            }
        };
        Some(Row {
            state,
            local,
            remote,
            inet6: msg.family == Family::Inet6,
        })
    }

    /// Whether this is an IPv4 connection carried by an IPv6 socket.
    pub fn mapped(&self) -> bool {
        self.inet6 && self.local.is_ipv4()
    }
}

impl Socket for Row {
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
        self.inet6
    }
}

fn ipv4(raw: &[u8; 16]) -> Ipv4Addr {
    let [a, b, c, d, ..] = *raw;
    Ipv4Addr::new(a, b, c, d)
}
