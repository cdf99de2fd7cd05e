//! The connections this host forwards, as its connection tracking lists
//! them: each conntrack entry whose two ends are other hosts becomes a
//! [`ForwardedFlow`], with the view each end has of it (they differ under
//! NAT) and a [`Connection`] view the filter language and the printer take.

use std::net::SocketAddr;

use ssfilter::State;

use super::route::Routes;
use crate::conn::Connection;
use crate::error::Error;

/// One end of a forwarded connection, as that end sees the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct End {
    /// The end's own address and port.
    pub addr: SocketAddr,
    /// The address and port it sends to (under NAT, the translated one).
    pub peer: SocketAddr,
}

/// Which end of a forwarded connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The end that opened the connection (conntrack's original direction;
    /// for a tuple named without connection tracking, the first end named).
    Originator,
    /// The end that accepted it.
    Responder,
}

impl Side {
    /// `"originator"` or `"responder"`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Originator => "originator",
            Side::Responder => "responder",
        }
    }

    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Originator => Side::Responder,
            Side::Responder => Side::Originator,
        }
    }
}

/// A TCP connection that passes through this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedFlow {
    /// The end that opened it: `addr` is conntrack's original source,
    /// `peer` its original destination.
    pub originator: End,
    /// The end that accepted it: `addr` is conntrack's reply source, `peer`
    /// the reply destination (this host's address under masquerade).
    pub responder: End,
    /// Its state as connection tracking follows it (`ESTABLISHED` when
    /// named without connection tracking).
    pub state: State,
    /// Its conntrack entry, when connection tracking knows it.
    pub entry: Option<conntrack::Flow>,
}

impl ForwardedFlow {
    /// A connection between `originator` and `responder` without address
    /// translation, as named by hand (no conntrack entry).
    pub fn between(originator: SocketAddr, responder: SocketAddr) -> ForwardedFlow {
        ForwardedFlow {
            originator: End {
                addr: originator,
                peer: responder,
            },
            responder: End {
                addr: responder,
                peer: originator,
            },
            state: State::Established,
            entry: None,
        }
    }

    /// The connection a conntrack entry tracks.
    pub fn from_entry(entry: conntrack::Flow) -> ForwardedFlow {
        let state = entry.tcp_state.map_or(State::Established, state_of);
        ForwardedFlow {
            originator: End {
                addr: entry.orig.src_addr(),
                peer: entry.orig.dst_addr(),
            },
            responder: End {
                addr: entry.reply.src_addr(),
                peer: entry.reply.dst_addr(),
            },
            state,
            entry: Some(entry),
        }
    }

    /// The end on `side`.
    pub fn end(&self, side: Side) -> &End {
        match side {
            Side::Originator => &self.originator,
            Side::Responder => &self.responder,
        }
    }

    /// Whether addresses are translated on the way (the responder does not
    /// see the originator's own address and port, or the originator does
    /// not reach the responder's).
    pub fn translated(&self) -> bool {
        self.originator.addr != self.responder.peer || self.originator.peer != self.responder.addr
    }

    /// The connection as the originator sees it: `local` the originator,
    /// `remote` the responder as dialled. This is what filters match (so
    /// `src` and `sport` name the originator, `dst` and `dport` where it
    /// connected to) and what a listing shows.
    pub fn connection(&self) -> Connection {
        Connection::in_transit(self.originator.addr, self.originator.peer, self.state)
    }
}

/// The socket state closest to conntrack's state of a whole connection.
fn state_of(state: conntrack::TcpState) -> State {
    use conntrack::TcpState as Ct;
    match state {
        Ct::SynSent | Ct::SynSent2 => State::SynSent,
        Ct::SynRecv => State::SynReceived,
        Ct::Established => State::Established,
        Ct::FinWait => State::FinWait1,
        Ct::CloseWait => State::CloseWait,
        Ct::LastAck => State::LastAck,
        Ct::TimeWait => State::TimeWait,
        Ct::None | Ct::Close | Ct::Unknown(_) => State::Closed,
    }
}

/// Read conntrack's TCP entries into the flows this host forwards: those
/// whose originator and responder are both other hosts. The table also
/// holds this host's own connections, to and from any address its routes
/// call local ([`Routes::is_local`]: an interface's, or one of a local
/// route's that no interface carries), and those are left out, as a drop
/// refuses them.
pub(crate) fn list(
    client: &mut conntrack::Client,
    routes: &mut Routes,
) -> Result<Vec<ForwardedFlow>, Error> {
    routes.forget();
    let mut flows = Vec::new();
    for entry in client.tcp_flows(None).map_err(conntrack_error)? {
        if routes.is_local(entry.orig.src) || routes.is_local(entry.reply.src) {
            continue;
        }
        flows.push(ForwardedFlow::from_entry(entry));
    }
    Ok(flows)
}

/// A conntrack error as ours.
pub(crate) fn conntrack_error(err: conntrack::Error) -> Error {
    match err {
        conntrack::Error::PermissionDenied { .. } => Error::MissingCapability {
            capability: "CAP_NET_ADMIN",
            needed_for: "reading connection tracking (ctnetlink)",
        },
        conntrack::Error::NotFound { .. } => Error::NotFound,
        conntrack::Error::Io(io) => Error::Io(io),
        other => Error::Netlink(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(orig: (&str, &str), reply: (&str, &str)) -> conntrack::Flow {
        let t =
            |(s, d): (&str, &str)| conntrack::Tuple::tcp(s.parse().unwrap(), d.parse().unwrap());
        conntrack::Flow {
            family: conntrack::Family::Inet,
            orig: t(orig),
            reply: t(reply),
            tcp_state: Some(conntrack::TcpState::Established),
            status: conntrack::Status::default(),
            id: 7,
            zone: 0,
            mark: 0,
            timeout: Some(100),
        }
    }

    #[test]
    fn a_masqueraded_flow_keeps_both_views() {
        let flow = ForwardedFlow::from_entry(entry(
            ("10.0.1.2:40000", "10.0.2.2:80"),
            ("10.0.2.2:80", "10.0.2.1:61000"),
        ));
        assert!(flow.translated());
        assert_eq!(flow.originator.addr, "10.0.1.2:40000".parse().unwrap());
        assert_eq!(flow.responder.peer, "10.0.2.1:61000".parse().unwrap());
        let conn = flow.connection();
        assert_eq!(conn.local, flow.originator.addr);
        assert_eq!(conn.remote, "10.0.2.2:80".parse().unwrap());
        assert_eq!(conn.state, State::Established);
        let filter = ssfilter::Filter::parse(&["dport = :80 and src 10.0.1.0/24"]).unwrap();
        assert!(filter.matches(&conn));
        let filter = ssfilter::Filter::parse(&["sport = :80"]).unwrap();
        assert!(!filter.matches(&conn));
    }

    #[test]
    fn a_plain_flow_is_not_translated() {
        let a: SocketAddr = "[fd00:1::2]:40000".parse().unwrap();
        let b: SocketAddr = "[fd00:2::2]:80".parse().unwrap();
        let flow = ForwardedFlow::between(a, b);
        assert!(!flow.translated());
        assert_eq!(flow.responder, End { addr: b, peer: a });
        assert_eq!(flow.end(Side::Responder).addr, b);
    }
}
