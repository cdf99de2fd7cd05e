//! What a conntrack entry is ([`Flow`]: both tuples, conntrack's TCP
//! state, status bits, id, zone, mark), how its attributes nest, and how a
//! tuple is written back for a lookup or a delete
//! (`include/uapi/linux/netfilter/nfnetlink_conntrack.h`,
//! `nf_conntrack_tcp.h`, `nf_conntrack_common.h`). ctnetlink's payloads
//! are big-endian: addresses, ports, and every `u16`/`u32` it sends.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink::bytes::array;

use crate::attr::{attrs, be16, be32, exact, AttrWriter};
use crate::msg::{
    CTA_ID, CTA_IP_V4_DST, CTA_IP_V4_SRC, CTA_IP_V6_DST, CTA_IP_V6_SRC, CTA_MARK, CTA_PROTOINFO,
    CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE, CTA_PROTO_DST_PORT, CTA_PROTO_NUM,
    CTA_PROTO_SRC_PORT, CTA_STATUS, CTA_TIMEOUT, CTA_TUPLE_IP, CTA_TUPLE_ORIG, CTA_TUPLE_PROTO,
    CTA_TUPLE_REPLY, CTA_ZONE, IPPROTO_TCP, NFGENMSG_LEN,
};
use crate::Error;

/// Address family of a conntrack entry (`nfgen_family`, the entry's l3num).
pub use netlink::Family;

/// Conntrack's own TCP states (`enum tcp_conntrack`), which are not the
/// socket states: the router sees both ends' segments and follows the
/// connection as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// `TCP_CONNTRACK_NONE` (0).
    None,
    /// `TCP_CONNTRACK_SYN_SENT` (1).
    SynSent,
    /// `TCP_CONNTRACK_SYN_RECV` (2).
    SynRecv,
    /// `TCP_CONNTRACK_ESTABLISHED` (3).
    Established,
    /// `TCP_CONNTRACK_FIN_WAIT` (4).
    FinWait,
    /// `TCP_CONNTRACK_CLOSE_WAIT` (5).
    CloseWait,
    /// `TCP_CONNTRACK_LAST_ACK` (6).
    LastAck,
    /// `TCP_CONNTRACK_TIME_WAIT` (7).
    TimeWait,
    /// `TCP_CONNTRACK_CLOSE` (8).
    Close,
    /// `TCP_CONNTRACK_SYN_SENT2` (9, once `LISTEN`): simultaneous open.
    SynSent2,
    /// A number this crate does not know.
    Unknown(u8),
}

impl TcpState {
    /// The state with the kernel's number `raw`.
    pub fn from_raw(raw: u8) -> TcpState {
        use TcpState::*;
        match raw {
            0 => None,
            1 => SynSent,
            2 => SynRecv,
            3 => Established,
            4 => FinWait,
            5 => CloseWait,
            6 => LastAck,
            7 => TimeWait,
            8 => Close,
            9 => SynSent2,
            other => Unknown(other),
        }
    }

    /// The kernel's number for this state.
    pub fn raw(self) -> u8 {
        use TcpState::*;
        match self {
            None => 0,
            SynSent => 1,
            SynRecv => 2,
            Established => 3,
            FinWait => 4,
            CloseWait => 5,
            LastAck => 6,
            TimeWait => 7,
            Close => 8,
            SynSent2 => 9,
            Unknown(raw) => raw,
        }
    }
}

/// The entry's `IPS_*` status bits (`enum ip_conntrack_status`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Status(pub u32);

impl Status {
    /// `IPS_SEEN_REPLY`: packets have gone both ways.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// `IPS_ASSURED`: the entry is not dropped early when the table fills.
    pub const ASSURED: u32 = 1 << 2;
    /// `IPS_CONFIRMED`: the entry is in the table.
    pub const CONFIRMED: u32 = 1 << 3;
    /// `IPS_SRC_NAT`: the source is rewritten (masquerade, SNAT).
    pub const SRC_NAT: u32 = 1 << 4;
    /// `IPS_DST_NAT`: the destination is rewritten (DNAT, port forward).
    pub const DST_NAT: u32 = 1 << 5;
    /// `IPS_DYING`: the entry is being deleted.
    pub const DYING: u32 = 1 << 9;
    /// `IPS_OFFLOAD`: the flow is in a flowtable; the kernel then sends no
    /// protocol state and no timeout for it.
    pub const OFFLOAD: u32 = 1 << 14;

    /// Whether every bit of `bits` is set.
    pub fn has(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// `IPS_SRC_NAT`: the source address or port is translated.
    pub fn src_nat(self) -> bool {
        self.has(Status::SRC_NAT)
    }

    /// `IPS_DST_NAT`: the destination address or port is translated.
    pub fn dst_nat(self) -> bool {
        self.has(Status::DST_NAT)
    }
}

/// One direction of a flow: who sends to whom, as conntrack saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple {
    /// The sender's address.
    pub src: IpAddr,
    /// The sender's port (0 for protocols without ports, such as ICMP).
    pub sport: u16,
    /// The receiver's address.
    pub dst: IpAddr,
    /// The receiver's port (0 for protocols without ports).
    pub dport: u16,
    /// The IP protocol (`IPPROTO_TCP` = 6).
    pub protocol: u8,
}

impl Tuple {
    /// A TCP tuple.
    pub fn tcp(src: std::net::SocketAddr, dst: std::net::SocketAddr) -> Tuple {
        Tuple {
            src: src.ip(),
            sport: src.port(),
            dst: dst.ip(),
            dport: dst.port(),
            protocol: IPPROTO_TCP,
        }
    }

    /// The sender's socket address.
    pub fn src_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.src, self.sport)
    }

    /// The receiver's socket address.
    pub fn dst_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.dst, self.dport)
    }
}

/// One conntrack entry: a flow the kernel tracks, in both directions.
///
/// For a flow through a NAT the two tuples differ: `reply` is what the far
/// end sends back (with masquerade, to the router's address), not `orig`
/// turned around.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// The entry's family (`nfgen_family`).
    pub family: Family,
    /// `CTA_TUPLE_ORIG`: the direction of the first packet.
    pub orig: Tuple,
    /// `CTA_TUPLE_REPLY`: the direction answers come back in.
    pub reply: Tuple,
    /// `CTA_PROTOINFO_TCP_STATE`, for TCP entries that carry it (an
    /// offloaded flow carries none).
    pub tcp_state: Option<TcpState>,
    /// `CTA_STATUS`: `IPS_*` bits, NAT among them.
    pub status: Status,
    /// `CTA_ID`: the kernel's id for the entry. A delete that carries it is
    /// refused by an entry with another id, but unlike a socket cookie it
    /// is not unique over time: it is a hash of the entry's address in
    /// memory and its original tuple (`nf_ct_get_id`), so an entry
    /// re-created on the same tuple in the freed one's memory has the same
    /// id (seen on Linux 6.18).
    pub id: u32,
    /// `CTA_ZONE`, 0 (the default zone) when absent.
    pub zone: u16,
    /// `CTA_MARK`, 0 when absent.
    pub mark: u32,
    /// `CTA_TIMEOUT`: seconds left before the entry expires, when sent.
    pub timeout: Option<u32>,
}

impl Flow {
    /// Whether this is a TCP entry.
    pub fn is_tcp(&self) -> bool {
        self.orig.protocol == IPPROTO_TCP
    }

    /// What names this entry, and only it, to a delete.
    pub fn key(&self) -> FlowKey {
        FlowKey {
            orig: self.orig,
            zone: self.zone,
            id: Some(self.id),
        }
    }
}

/// What a delete names: the original tuple, the zone, and the id that makes
/// the kernel refuse an entry with another id on the same tuple (see
/// [`Flow::id`] for what the id cannot tell apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The entry's original tuple.
    pub orig: Tuple,
    /// The entry's zone (0: the default).
    pub zone: u16,
    /// The entry's id; `None` deletes whatever entry has the tuple.
    pub id: Option<u32>,
}

/// Append the attributes of `tuple` (without the enclosing
/// `CTA_TUPLE_ORIG`/`CTA_TUPLE_REPLY`).
pub fn encode_tuple(w: &mut AttrWriter<'_>, tuple: &Tuple) -> Result<(), Error> {
    w.nest(CTA_TUPLE_IP, |w| match (tuple.src, tuple.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            w.put(CTA_IP_V4_SRC, &src.octets())?;
            w.put(CTA_IP_V4_DST, &dst.octets())
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            w.put(CTA_IP_V6_SRC, &src.octets())?;
            w.put(CTA_IP_V6_DST, &dst.octets())
        }
        _ => Err(Error::Invalid(format!(
            "a tuple from {} to {} mixes address families",
            tuple.src, tuple.dst
        ))),
    })?;
    w.nest(CTA_TUPLE_PROTO, |w| {
        w.put(CTA_PROTO_NUM, &[tuple.protocol])?;
        w.put(CTA_PROTO_SRC_PORT, &tuple.sport.to_be_bytes())?;
        w.put(CTA_PROTO_DST_PORT, &tuple.dport.to_be_bytes())
    })
}

/// Parse the attributes of a tuple (the payload of `CTA_TUPLE_ORIG` or
/// `CTA_TUPLE_REPLY`) of an entry of `family`.
pub fn parse_tuple(buf: &[u8], family: Family) -> Result<Tuple, Error> {
    let mut ip = None;
    let mut proto = None;
    for attr in attrs(buf) {
        let (kind, data) = attr?;
        match kind {
            CTA_TUPLE_IP => ip = Some(parse_ip(data, family)?),
            CTA_TUPLE_PROTO => proto = Some(parse_proto(data)?),
            _ => {} // CTA_TUPLE_ZONE, and whatever comes later
        }
    }
    let (src, dst) = ip.ok_or_else(|| Error::Invalid("a tuple without CTA_TUPLE_IP".into()))?;
    let (protocol, sport, dport) =
        proto.ok_or_else(|| Error::Invalid("a tuple without CTA_TUPLE_PROTO".into()))?;
    Ok(Tuple {
        src,
        sport,
        dst,
        dport,
        protocol,
    })
}

fn parse_ip(buf: &[u8], family: Family) -> Result<(IpAddr, IpAddr), Error> {
    let (want_src, want_dst) = match family {
        Family::Inet => (CTA_IP_V4_SRC, CTA_IP_V4_DST),
        Family::Inet6 => (CTA_IP_V6_SRC, CTA_IP_V6_DST),
    };
    let mut src = None;
    let mut dst = None;
    for attr in attrs(buf) {
        let (kind, data) = attr?;
        let slot = match kind {
            k if k == want_src => &mut src,
            k if k == want_dst => &mut dst,
            CTA_IP_V4_SRC..=CTA_IP_V6_DST => {
                return Err(Error::Invalid(format!(
                    "address attribute {kind} in an entry of family {family:?}"
                )))
            }
            _ => continue,
        };
        *slot = Some(address(data, family)?);
    }
    match (src, dst) {
        (Some(src), Some(dst)) => Ok((src, dst)),
        _ => Err(Error::Invalid("CTA_TUPLE_IP without both addresses".into())),
    }
}

fn address(data: &[u8], family: Family) -> Result<IpAddr, Error> {
    match family {
        Family::Inet => <[u8; 4]>::try_from(data).map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        Family::Inet6 => <[u8; 16]>::try_from(data).map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    }
    .map_err(|_| {
        Error::Invalid(format!(
            "an address of {} bytes in an entry of family {family:?}",
            data.len()
        ))
    })
}

fn parse_proto(buf: &[u8]) -> Result<(u8, u16, u16), Error> {
    let mut num = None;
    let mut sport = 0;
    let mut dport = 0;
    for attr in attrs(buf) {
        let (kind, data) = attr?;
        match kind {
            CTA_PROTO_NUM => num = Some(exact::<1>(data, "CTA_PROTO_NUM")?[0]),
            CTA_PROTO_SRC_PORT => sport = be16(data, "CTA_PROTO_SRC_PORT")?,
            CTA_PROTO_DST_PORT => dport = be16(data, "CTA_PROTO_DST_PORT")?,
            _ => {} // ICMP ids, types and codes
        }
    }
    let num = num.ok_or_else(|| Error::Invalid("CTA_TUPLE_PROTO without CTA_PROTO_NUM".into()))?;
    Ok((num, sport, dport))
}

fn parse_protoinfo(buf: &[u8]) -> Result<Option<TcpState>, Error> {
    let mut state = None;
    for attr in attrs(buf) {
        let (kind, data) = attr?;
        if kind != CTA_PROTOINFO_TCP {
            continue; // DCCP, SCTP
        }
        for attr in attrs(data) {
            let (kind, data) = attr?;
            if kind == CTA_PROTOINFO_TCP_STATE {
                let [raw] = exact::<1>(data, "CTA_PROTOINFO_TCP_STATE")?;
                state = Some(TcpState::from_raw(raw));
            }
        }
    }
    Ok(state)
}

impl Flow {
    /// Parse the payload of a conntrack record (`nfgenmsg` and attributes).
    pub fn parse(payload: &[u8]) -> Result<Flow, Error> {
        let [raw_family, _version, _, _] = array::<NFGENMSG_LEN>(payload, 0).ok_or_else(|| {
            Error::Invalid(format!(
                "a record of {} bytes has no nfgenmsg",
                payload.len()
            ))
        })?;
        let family = Family::from_raw(raw_family)
            .ok_or_else(|| Error::Invalid(format!("unknown address family {raw_family}")))?;
        let mut orig = None;
        let mut reply = None;
        let mut flow = FlowRest::default();
        for attr in attrs(payload.get(NFGENMSG_LEN..).unwrap_or_default()) {
            let (kind, data) = attr?;
            match kind {
                CTA_TUPLE_ORIG => orig = Some(parse_tuple(data, family)?),
                CTA_TUPLE_REPLY => reply = Some(parse_tuple(data, family)?),
                CTA_STATUS => flow.status = Status(be32(data, "CTA_STATUS")?),
                CTA_PROTOINFO => flow.tcp_state = parse_protoinfo(data)?,
                CTA_TIMEOUT => flow.timeout = Some(be32(data, "CTA_TIMEOUT")?),
                CTA_MARK => flow.mark = be32(data, "CTA_MARK")?,
                CTA_ID => flow.id = Some(be32(data, "CTA_ID")?),
                CTA_ZONE => flow.zone = be16(data, "CTA_ZONE")?,
                _ => {} // counters, helpers, labels, timestamps, ...
            }
        }
        Ok(Flow {
            family,
            orig: orig.ok_or_else(|| Error::Invalid("a record without CTA_TUPLE_ORIG".into()))?,
            reply: reply
                .ok_or_else(|| Error::Invalid("a record without CTA_TUPLE_REPLY".into()))?,
            tcp_state: flow.tcp_state,
            status: flow.status,
            id: flow
                .id
                .ok_or_else(|| Error::Invalid("a record without CTA_ID".into()))?,
            zone: flow.zone,
            mark: flow.mark,
            timeout: flow.timeout,
        })
    }
}

#[derive(Default)]
struct FlowRest {
    tcp_state: Option<TcpState>,
    status: Status,
    id: Option<u32>,
    zone: u16,
    mark: u32,
    timeout: Option<u32>,
}
