//! rtnetlink (`NETLINK_ROUTE`, [`rtnetlink(7)`]): the route the kernel
//! would take to an address, its neighbour table, and a request to resolve
//! a neighbour it has no entry for. Only what the route lookup of
//! forwarded connections asks.
//!
//! - `RTM_GETROUTE` for one address answers with one `RTM_NEWROUTE`: its
//!   type (`RTN_LOCAL` for an address of this host), interface and gateway
//!   ([`Client::route`]);
//! - an `RTM_GETNEIGH` dump lists the neighbours of both families with
//!   their link-layer addresses ([`Client::neighbours`]);
//! - `RTM_NEWNEIGH` with `NTF_USE` makes the kernel resolve a neighbour as
//!   it would for a packet of its own (`neigh_event_send`;
//!   [`Client::resolve`]);
//! - an `RTM_GETROUTE` dump of the `local` table gives this host's own
//!   addresses and locally routed ranges ([`Client::local_routes`]), which
//!   a drop reads to tell whether a connection's other end can be here.
//!
//! The kernel's own errnos are kept as they are ([`Error::Io`]): a lookup
//! fails in its own words ("Network is unreachable").
//!
//! [`rtnetlink(7)`]: https://man7.org/linux/man-pages/man7/rtnetlink.7.html

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::bytes::{array, u16_ne, u32_ne};
use crate::{
    attrs, push_message, AttrWriter, Error, Family, Header, Protocol, Reply, Socket, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_REQUEST,
};

/// `RTM_NEWROUTE`: a route (the answer to `RTM_GETROUTE`).
pub const RTM_NEWROUTE: u16 = 24;
/// `RTM_GETROUTE`: the route to an address.
pub const RTM_GETROUTE: u16 = 26;
/// `RTM_NEWNEIGH`: a neighbour entry (a dump's records), or a request to
/// add or use one.
pub const RTM_NEWNEIGH: u16 = 28;
/// `RTM_GETNEIGH`: with `NLM_F_DUMP`, every neighbour entry.
pub const RTM_GETNEIGH: u16 = 30;
/// `NLM_F_REPLACE`: a new request may replace an existing entry.
const NLM_F_REPLACE: u16 = 0x100;
/// `NLM_F_CREATE`: a new request may create the entry.
const NLM_F_CREATE: u16 = 0x400;
/// `ndm_flags`: use the entry as a packet would, starting resolution.
const NTF_USE: u8 = 0x01;
/// `RTA_DST`: the destination address.
pub const RTA_DST: u16 = 1;
/// `RTA_OIF`: the outgoing interface's index.
pub const RTA_OIF: u16 = 4;
/// `RTA_GATEWAY`: the next hop, of the route's family.
pub const RTA_GATEWAY: u16 = 5;
/// `RTA_VIA`: the next hop, of another family (`struct rtvia`).
pub const RTA_VIA: u16 = 18;
/// `RTA_TABLE`: the route's table, where it does not fit `rtm_table`.
pub const RTA_TABLE: u16 = 15;
/// `RT_TABLE_LOCAL`: the table of this host's own addresses.
pub const RT_TABLE_LOCAL: u8 = 255;
/// `NDA_DST`: the neighbour's network address.
pub const NDA_DST: u16 = 1;
/// `NDA_LLADDR`: the neighbour's link-layer address.
pub const NDA_LLADDR: u16 = 2;
/// `rtm_type` of a route to an address of this host.
pub const RTN_LOCAL: u8 = 2;
/// `NUD_INCOMPLETE`: resolution is under way; no link-layer address yet.
pub const NUD_INCOMPLETE: u16 = 0x01;
/// `NUD_FAILED`: resolution failed.
pub const NUD_FAILED: u16 = 0x20;
/// Length of `struct rtmsg`.
const RTMSG_LEN: usize = 12;
/// Length of `struct ndmsg`.
const NDMSG_LEN: usize = 12;
/// How long an answer is waited for.
const RECV_TIMEOUT: Duration = Duration::from_secs(2);

/// `NETLINK_ROUTE` for the shared netlink code: its records are routes and
/// neighbours.
#[derive(Clone, Copy, Debug)]
pub struct Rtnetlink;

/// One record of an rtnetlink reply this module reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// `RTM_NEWROUTE`.
    Route(Route),
    /// `RTM_NEWNEIGH`.
    Neighbour(Neighbour),
}

/// A route, as `RTM_GETROUTE` answers it (`struct rtmsg` and the
/// attributes read here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `rtm_type`: [`RTN_LOCAL`] for an address of this host.
    pub kind: u8,
    /// `rtm_table`, or `RTA_TABLE` when given.
    pub table: u32,
    /// `RTA_DST`: the destination, `None` for a default route.
    pub dst: Option<IpAddr>,
    /// `rtm_dst_len`: the destination's prefix length.
    pub dst_len: u8,
    /// `RTA_OIF`: the interface it leaves by.
    pub oif: Option<u32>,
    /// `RTA_GATEWAY` (or `RTA_VIA`): the next hop, when it is not the
    /// destination itself.
    pub gateway: Option<IpAddr>,
}

/// One entry of the neighbour table (`struct ndmsg` and the attributes
/// read here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// `ndm_ifindex`.
    pub ifindex: u32,
    /// `NDA_DST`: the neighbour's address.
    pub ip: Option<IpAddr>,
    /// `ndm_state`: `NUD_*` bits.
    pub state: u16,
    /// `NDA_LLADDR`: its link-layer address, empty when there is none.
    pub lladdr: Vec<u8>,
}

impl Neighbour {
    /// The link-layer address, when the entry has a usable one (not being
    /// resolved, not failed).
    pub fn usable_lladdr(&self) -> Option<&[u8]> {
        let unusable = self.state & (NUD_INCOMPLETE | NUD_FAILED) != 0;
        (!unusable && !self.lladdr.is_empty()).then_some(self.lladdr.as_slice())
    }
}

impl Protocol for Rtnetlink {
    type Record = Record;
    const NUMBER: Option<rustix::net::Protocol> = None;
    const NAME: &'static str = "rtnetlink";
    const RECORD: &'static str = "route";
    const NEEDS: &'static str = "";

    fn decode(header: &Header, payload: &[u8]) -> Result<Option<Record>, Error<Rtnetlink>> {
        match header.kind {
            RTM_NEWROUTE => Route::parse(payload).map(|r| Some(Record::Route(r))),
            RTM_NEWNEIGH => Neighbour::parse(payload).map(|n| Some(Record::Neighbour(n))),
            _ => Ok(None),
        }
    }

    /// The kernel's errno as it is: rtnetlink's errnos say what they mean
    /// (`ENETUNREACH`).
    fn dump_error(errno: i32) -> Error<Rtnetlink> {
        kernel_error(errno)
    }
}

fn kernel_error(errno: i32) -> Error<Rtnetlink> {
    Error::Io(io::Error::from_raw_os_error(errno))
}

impl Route {
    /// Parse the payload of an `RTM_NEWROUTE` message.
    pub fn parse(payload: &[u8]) -> Result<Route, Error<Rtnetlink>> {
        let rtmsg: [u8; RTMSG_LEN] = array(payload, 0)
            .ok_or_else(|| Error::Invalid(format!("rtmsg of {} bytes", payload.len())))?;
        let [_family, dst_len, _src_len, _tos, table, _protocol, _scope, kind, ..] = rtmsg;
        let mut route = Route {
            kind,
            table: u32::from(table),
            dst: None,
            dst_len,
            oif: None,
            gateway: None,
        };
        for attr in attrs(payload.get(RTMSG_LEN..).unwrap_or_default()) {
            let (kind, data) = attr?;
            match kind {
                RTA_OIF => route.oif = u32_ne(data, 0),
                RTA_DST => route.dst = ip_of(data),
                RTA_TABLE => route.table = u32_ne(data, 0).unwrap_or(route.table),
                RTA_GATEWAY => route.gateway = ip_of(data),
                // struct rtvia: a u16 family, then the address.
                RTA_VIA => route.gateway = data.get(2..).and_then(ip_of),
                _ => {}
            }
        }
        Ok(route)
    }
}

impl Neighbour {
    /// Parse the payload of an `RTM_NEWNEIGH` message.
    pub fn parse(payload: &[u8]) -> Result<Neighbour, Error<Rtnetlink>> {
        let short = || Error::Invalid(format!("ndmsg of {} bytes", payload.len()));
        let ifindex = u32_ne(payload, 4).ok_or_else(short)?;
        let state = u16_ne(payload, 8).ok_or_else(short)?;
        let mut neighbour = Neighbour {
            ifindex,
            ip: None,
            state,
            lladdr: Vec::new(),
        };
        for attr in attrs(payload.get(NDMSG_LEN..).unwrap_or_default()) {
            let (kind, data) = attr?;
            match kind {
                NDA_DST => neighbour.ip = ip_of(data),
                NDA_LLADDR => neighbour.lladdr = data.to_vec(),
                _ => {}
            }
        }
        Ok(neighbour)
    }
}

/// The address in an attribute's payload: four bytes or sixteen.
fn ip_of(data: &[u8]) -> Option<IpAddr> {
    match data.len() {
        4 => array::<4>(data, 0).map(IpAddr::from),
        16 => array::<16>(data, 0).map(IpAddr::from),
        _ => None,
    }
}

fn octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Append an `RTM_GETROUTE` request for the route to `to`, with sequence
/// number `seq`.
pub fn encode_get_route(to: IpAddr, seq: u32, out: &mut Vec<u8>) -> Result<(), Error<Rtnetlink>> {
    push_message(out, RTM_GETROUTE, NLM_F_REQUEST, seq, |out| {
        let octets = octets(to);
        let dst_len = if to.is_ipv4() { 32 } else { 128 };
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
        // type, flags (u32).
        out.extend_from_slice(&[Family::of(to).raw(), dst_len, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&0u32.to_ne_bytes());
        AttrWriter::new(out).put(RTA_DST, &octets)
    })
}

/// Append an `RTM_GETROUTE` dump request for the local routes
/// (`RTN_LOCAL`) of `family`'s local table, with sequence number `seq`. A
/// kernel honours the table and type only on a socket with strict checking
/// ([`Client::local_routes`]); others send every route.
pub fn encode_get_local_routes(
    family: Family,
    seq: u32,
    out: &mut Vec<u8>,
) -> Result<(), Error<Rtnetlink>> {
    push_message(out, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, |out| {
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
        // type, flags (u32).
        out.extend_from_slice(&[family.raw(), 0, 0, 0, RT_TABLE_LOCAL, 0, 0, RTN_LOCAL]);
        out.extend_from_slice(&0u32.to_ne_bytes());
        Ok(())
    })
}

/// Append an `RTM_GETNEIGH` dump request for the neighbours of both
/// families, with sequence number `seq`.
pub fn encode_get_neighbours(seq: u32, out: &mut Vec<u8>) -> Result<(), Error<Rtnetlink>> {
    push_message(out, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq, |out| {
        // ndmsg: family (any), pad, pad, ifindex, state, flags, type.
        out.extend_from_slice(&[0; NDMSG_LEN]);
        Ok(())
    })
}

/// Append an `RTM_NEWNEIGH` request that has the kernel resolve `ip` on
/// the interface `ifindex` (`NTF_USE`, as `ip neigh replace IP dev DEV
/// use`), asking for an acknowledgement, with sequence number `seq`.
pub fn encode_resolve(
    ifindex: u32,
    ip: IpAddr,
    seq: u32,
    out: &mut Vec<u8>,
) -> Result<(), Error<Rtnetlink>> {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    push_message(out, RTM_NEWNEIGH, flags, seq, |out| {
        // ndmsg: family, pad, pad, ifindex, state (none), flags, type.
        out.extend_from_slice(&[Family::of(ip).raw(), 0, 0, 0]);
        out.extend_from_slice(&ifindex.to_ne_bytes());
        out.extend_from_slice(&0u16.to_ne_bytes());
        out.extend_from_slice(&[NTF_USE, 0]);
        AttrWriter::new(out).put(NDA_DST, &octets(ip))
    })
}

/// A `NETLINK_ROUTE` socket, in the network namespace of the thread that
/// created it. Asking for routes and neighbours needs no privilege;
/// [`Client::resolve`] needs `CAP_NET_ADMIN`.
#[derive(Debug)]
pub struct Client {
    socket: Socket,
}

impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl Client {
    /// Open a `NETLINK_ROUTE` socket ([`netlink(7)`]) whose answers are
    /// waited for at most 2 s each.
    ///
    /// The socket belongs to the network namespace of the calling thread,
    /// which after `setns(2)` may differ from the process's.
    ///
    /// [`netlink(7)`]: https://man7.org/linux/man-pages/man7/netlink.7.html
    pub fn new() -> Result<Client, Error<Rtnetlink>> {
        let socket = Socket::open::<Rtnetlink>()?;
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(RECV_TIMEOUT),
        )?;
        Ok(Client { socket })
    }

    /// The route to `to`, or `None` when the kernel's answer holds none.
    /// No route at all is the kernel's errno (`ENETUNREACH`, in
    /// [`Error::Io`]).
    pub fn route(&mut self, to: IpAddr) -> Result<Option<Route>, Error<Rtnetlink>> {
        self.socket.request::<Rtnetlink, _>(
            |seq, out| encode_get_route(to, seq, out),
            |reply| match reply {
                Reply::Record(Record::Route(route)) => Some(Ok(Some(route))),
                Reply::Ack { errno } if errno != 0 => Some(Err(kernel_error(errno))),
                // The one answer is not a route.
                _ => Some(Ok(None)),
            },
        )
    }

    /// Every entry of the neighbour table that names an address, of both
    /// families.
    ///
    /// A dump the kernel flags as interrupted still gives every entry it
    /// read: a caller that waits for one entry asks again anyway.
    pub fn neighbours(&mut self) -> Result<Vec<Neighbour>, Error<Rtnetlink>> {
        let mut out = Vec::new();
        for record in self.socket.dump::<Rtnetlink>(encode_get_neighbours)? {
            match record {
                Ok(Record::Neighbour(n)) if n.ip.is_some() => out.push(n),
                Ok(_) | Err(Error::Interrupted) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }

    /// The local routes of the local table, both families: this host's
    /// addresses and the ranges routed to it (`ip route show table local
    /// type local`). On a socket with strict checking
    /// (`NETLINK_GET_STRICT_CHK`, set by the caller) the kernel sends only
    /// that table (a router's main table may be large); the routes are
    /// filtered here too, for a socket or kernel that sends every one. A
    /// dump the kernel flags as interrupted gives what it read.
    pub fn local_routes(&mut self) -> Result<Vec<Route>, Error<Rtnetlink>> {
        let mut out = Vec::new();
        for family in [Family::Inet, Family::Inet6] {
            let dump = self
                .socket
                .dump::<Rtnetlink>(|seq, out| encode_get_local_routes(family, seq, out))?;
            for record in dump {
                match record {
                    Ok(Record::Route(route))
                        if route.kind == RTN_LOCAL && route.table == u32::from(RT_TABLE_LOCAL) =>
                    {
                        out.push(route)
                    }
                    Ok(_) | Err(Error::Interrupted) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(out)
    }

    /// Start address resolution of `ip` on the interface `ifindex`
    /// ([`encode_resolve`]) and wait for the kernel's acknowledgement.
    pub fn resolve(&mut self, ifindex: u32, ip: IpAddr) -> Result<(), Error<Rtnetlink>> {
        self.socket.request::<Rtnetlink, _>(
            |seq, out| encode_resolve(ifindex, ip, seq, out),
            |reply| match reply {
                Reply::Ack { errno } if errno != 0 => Some(Err(kernel_error(errno))),
                _ => Some(Ok(())),
            },
        )
    }
}

#[cfg(test)]
mod tests;
