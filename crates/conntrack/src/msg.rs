//! The wire format: `nlmsghdr`, `struct nfgenmsg` and ctnetlink's nested
//! attributes (`include/uapi/linux/netlink.h`,
//! `include/uapi/linux/netfilter/nfnetlink.h`,
//! `include/uapi/linux/netfilter/nfnetlink_conntrack.h`,
//! `include/uapi/linux/netfilter/nf_conntrack_tcp.h`,
//! `include/uapi/linux/netfilter/nf_conntrack_common.h`).
//!
//! Every parser here works on untrusted bytes: lengths are checked before use
//! and a malformed message is an [`Error::Invalid`], never a panic. Netlink
//! headers are host-endian; ctnetlink's attribute payloads are big-endian
//! (addresses, ports, and every `u16`/`u32` it sends).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Error;

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Length of `struct nfgenmsg`.
pub const NFGENMSG_LEN: usize = 4;

/// `NFNL_SUBSYS_CTNETLINK`: the conntrack subsystem of nfnetlink.
pub const NFNL_SUBSYS_CTNETLINK: u8 = 1;
/// `NFNETLINK_V0`, the only `nfgenmsg.version` there is.
pub const NFNETLINK_V0: u8 = 0;
/// `IPCTNL_MSG_CT_NEW`: the kernel's records (dump parts, events) carry it.
pub const IPCTNL_MSG_CT_NEW: u8 = 0;
/// `IPCTNL_MSG_CT_GET`: get one entry, or with `NLM_F_DUMP` all of them.
pub const IPCTNL_MSG_CT_GET: u8 = 1;
/// `IPCTNL_MSG_CT_DELETE`: delete one entry (or, without a tuple, flush).
pub const IPCTNL_MSG_CT_DELETE: u8 = 2;

/// `nlmsg_type` of a ctnetlink message: subsystem in the high byte,
/// operation in the low one (`NFNL_SUBSYS_ID`, `NFNL_MSG_TYPE`).
pub const fn ctnetlink_type(operation: u8) -> u16 {
    ((NFNL_SUBSYS_CTNETLINK as u16) << 8) | operation as u16
}

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`: this message is a request.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a multi-part reply ending in `NLMSG_DONE`.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`: the sender wants an `NLMSG_ERROR` acknowledgement.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_DUMP_INTR`: the dump was inconsistent because the table changed.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`): dump everything that matches.
pub const NLM_F_DUMP: u16 = 0x300;

/// `NLA_F_NESTED`: the attribute holds attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
/// The bits of `nla_type` that are the type (`NLA_TYPE_MASK`).
const NLA_TYPE_MASK: u16 = 0x3fff;

// enum ctattr_type
/// `CTA_TUPLE_ORIG`: the originator's direction (nested tuple).
pub const CTA_TUPLE_ORIG: u16 = 1;
/// `CTA_TUPLE_REPLY`: the reply direction (nested tuple).
pub const CTA_TUPLE_REPLY: u16 = 2;
/// `CTA_STATUS`: the `IPS_*` bits, big-endian `u32`.
pub const CTA_STATUS: u16 = 3;
/// `CTA_PROTOINFO`: per-protocol state (nested).
pub const CTA_PROTOINFO: u16 = 4;
/// `CTA_TIMEOUT`: seconds until the entry expires, big-endian `u32`.
pub const CTA_TIMEOUT: u16 = 7;
/// `CTA_MARK`: the connection mark, big-endian `u32`.
pub const CTA_MARK: u16 = 8;
/// `CTA_ID`: the entry's id, big-endian `u32`; a delete that carries it
/// is refused (`ENOENT`) by an entry with another id.
pub const CTA_ID: u16 = 12;
/// `CTA_ZONE`: the conntrack zone, big-endian `u16` (absent: zone 0).
pub const CTA_ZONE: u16 = 18;

// enum ctattr_tuple
/// `CTA_TUPLE_IP`: the addresses (nested).
pub const CTA_TUPLE_IP: u16 = 1;
/// `CTA_TUPLE_PROTO`: protocol and ports (nested).
pub const CTA_TUPLE_PROTO: u16 = 2;

// enum ctattr_ip
/// `CTA_IP_V4_SRC`: 4 bytes.
pub const CTA_IP_V4_SRC: u16 = 1;
/// `CTA_IP_V4_DST`: 4 bytes.
pub const CTA_IP_V4_DST: u16 = 2;
/// `CTA_IP_V6_SRC`: 16 bytes.
pub const CTA_IP_V6_SRC: u16 = 3;
/// `CTA_IP_V6_DST`: 16 bytes.
pub const CTA_IP_V6_DST: u16 = 4;

// enum ctattr_l4proto
/// `CTA_PROTO_NUM`: the IP protocol number, one byte.
pub const CTA_PROTO_NUM: u16 = 1;
/// `CTA_PROTO_SRC_PORT`: big-endian `u16`.
pub const CTA_PROTO_SRC_PORT: u16 = 2;
/// `CTA_PROTO_DST_PORT`: big-endian `u16`.
pub const CTA_PROTO_DST_PORT: u16 = 3;

// enum ctattr_protoinfo, enum ctattr_protoinfo_tcp
/// `CTA_PROTOINFO_TCP`: TCP's state (nested).
pub const CTA_PROTOINFO_TCP: u16 = 1;
/// `CTA_PROTOINFO_TCP_STATE`: one byte, `enum tcp_conntrack`.
pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;

/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;

/// Address family of a conntrack entry (`nfgen_family`, the entry's l3num).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `AF_INET` (2).
    Inet,
    /// `AF_INET6` (10).
    Inet6,
}

impl Family {
    /// The kernel's number for this family.
    pub fn raw(self) -> u8 {
        match self {
            Family::Inet => 2,
            Family::Inet6 => 10,
        }
    }

    /// The family with the kernel's number `raw`, if it is one we speak.
    pub fn from_raw(raw: u8) -> Option<Family> {
        match raw {
            2 => Some(Family::Inet),
            10 => Some(Family::Inet6),
            _ => None,
        }
    }

    /// The family of `addr`.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

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

fn push_header(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) {
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set by finish
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel is 0
}

fn push_nfgenmsg(out: &mut Vec<u8>, family: u8) {
    out.push(family);
    out.push(NFNETLINK_V0);
    out.extend_from_slice(&0u16.to_be_bytes()); // res_id
}

/// Write the length of what was appended since `start` into the `u32`
/// (`nlmsghdr`) or `u16` (`nlattr`) length field at `start`.
fn set_len(out: &mut [u8], start: usize, wide: bool) -> Result<(), Error> {
    let len = out.len().saturating_sub(start);
    let field = if wide {
        u32::try_from(len)
            .map_err(|_| invalid(format!("a message of {len} bytes")))?
            .to_ne_bytes()
            .to_vec()
    } else {
        u16::try_from(len)
            .map_err(|_| invalid(format!("an attribute of {len} bytes")))?
            .to_ne_bytes()
            .to_vec()
    };
    let end = start.saturating_add(field.len());
    out.get_mut(start..end)
        .ok_or_else(|| invalid("length field outside the message".into()))?
        .copy_from_slice(&field);
    Ok(())
}

fn pad4(out: &mut Vec<u8>) {
    let padded = align4(out.len());
    out.resize(padded, 0);
}

const fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// An attribute encoder: appends `nlattr`s, nested ones included, to a
/// buffer. `nla_len` counts header and payload, not the padding that
/// follows to a multiple of four.
pub struct AttrWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> AttrWriter<'a> {
    /// Append attributes to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> AttrWriter<'a> {
        AttrWriter { out }
    }

    /// One attribute with `payload`.
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> Result<(), Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        self.out.extend_from_slice(&kind.to_ne_bytes());
        self.out.extend_from_slice(payload);
        set_len(self.out, start, false)?;
        pad4(self.out);
        Ok(())
    }

    /// One nested attribute (`NLA_F_NESTED` set, as `nla_nest_start` does)
    /// whose payload `body` writes.
    pub fn nest(
        &mut self,
        kind: u16,
        body: impl FnOnce(&mut AttrWriter<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let start = self.out.len();
        self.out.extend_from_slice(&[0, 0]);
        self.out
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        body(&mut AttrWriter { out: self.out })?;
        set_len(self.out, start, false)
    }
}

/// The attributes of a buffer, one at a time: `(type, payload)`, the type
/// with its flag bits masked off. Stops after the first malformed one.
#[derive(Clone, Debug)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

/// Iterate over the attributes in `buf`.
pub fn attrs(buf: &[u8]) -> Attrs<'_> {
    Attrs { rest: buf }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = self.rest;
        let header = array::<4>(buf, 0).ok_or_else(|| {
            invalid(format!(
                "attribute header cut short: {} bytes left",
                buf.len()
            ))
        });
        let result = header.and_then(|[l0, l1, t0, t1]| {
            let len = usize::from(u16::from_ne_bytes([l0, l1]));
            let kind = u16::from_ne_bytes([t0, t1]) & NLA_TYPE_MASK;
            if len < 4 || len > buf.len() {
                return Err(invalid(format!(
                    "attribute {kind} of length {len} outside its {} bytes",
                    buf.len()
                )));
            }
            let data = buf.get(4..len).unwrap_or_default();
            self.rest = buf.get(align4(len).min(buf.len())..).unwrap_or_default();
            Ok((kind, data))
        });
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

/// Append a dump request for the conntrack table with sequence number
/// `seq` to `out`: entries of `family`, or of every family for `None`
/// (`AF_UNSPEC`). The kernel filters by family itself; protocols are all
/// dumped, to be filtered by the caller ([`Flow::is_tcp`]).
pub fn encode_dump(family: Option<Family>, seq: u32, out: &mut Vec<u8>) {
    let start = out.len();
    push_header(
        out,
        ctnetlink_type(IPCTNL_MSG_CT_GET),
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    );
    push_nfgenmsg(out, family.map_or(0, Family::raw));
    // 20 bytes: a u32 holds it.
    let _ = set_len(out, start, true);
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
        _ => Err(invalid(format!(
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

/// Append a request that deletes the one entry `key` names, asking for an
/// acknowledgement, with sequence number `seq`.
///
/// The request always carries `CTA_TUPLE_ORIG`: a delete without a tuple
/// is a *flush* of the whole table (`ctnetlink_del_conntrack`). It carries
/// `CTA_ID` when the key has one, so that the kernel refuses (`ENOENT`) an
/// entry on the same tuple with another id. The kernel finds an entry by
/// either of its tuples (both are in its hash table), so a key holding an
/// entry's reply tuple names that entry too. On error nothing is appended.
pub fn encode_delete(key: &FlowKey, seq: u32, out: &mut Vec<u8>) -> Result<(), Error> {
    encode_by_tuple(
        IPCTNL_MSG_CT_DELETE,
        NLM_F_REQUEST | NLM_F_ACK,
        key,
        seq,
        out,
    )
}

/// Append a request for the one entry that has `tuple` (in either
/// direction) in `zone`, with sequence number `seq`: `IPCTNL_MSG_CT_GET`
/// without `NLM_F_DUMP`, one hash lookup in the kernel. It answers with the
/// entry's record, or an `NLMSG_ERROR` (`ENOENT` when there is none); no
/// acknowledgement is asked for, so each request gets exactly one answer.
/// On error nothing is appended.
pub fn encode_get(tuple: &Tuple, zone: u16, seq: u32, out: &mut Vec<u8>) -> Result<(), Error> {
    let key = FlowKey {
        orig: *tuple,
        zone,
        id: None,
    };
    encode_by_tuple(IPCTNL_MSG_CT_GET, NLM_F_REQUEST, &key, seq, out)
}

fn encode_by_tuple(
    operation: u8,
    flags: u16,
    key: &FlowKey,
    seq: u32,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let start = out.len();
    push_header(out, ctnetlink_type(operation), flags, seq);
    push_nfgenmsg(out, Family::of(key.orig.src).raw());
    let result = (|| {
        let mut w = AttrWriter::new(out);
        w.nest(CTA_TUPLE_ORIG, |w| encode_tuple(w, &key.orig))?;
        if key.zone != 0 {
            w.put(CTA_ZONE, &key.zone.to_be_bytes())?;
        }
        if let Some(id) = key.id {
            w.put(CTA_ID, &id.to_be_bytes())?;
        }
        set_len(out, start, true)
    })();
    if result.is_err() {
        out.truncate(start);
    }
    result
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
    let (src, dst) = ip.ok_or_else(|| invalid("a tuple without CTA_TUPLE_IP".into()))?;
    let (protocol, sport, dport) =
        proto.ok_or_else(|| invalid("a tuple without CTA_TUPLE_PROTO".into()))?;
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
                return Err(invalid(format!(
                    "address attribute {kind} in an entry of family {family:?}"
                )))
            }
            _ => continue,
        };
        *slot = Some(address(data, family)?);
    }
    match (src, dst) {
        (Some(src), Some(dst)) => Ok((src, dst)),
        _ => Err(invalid("CTA_TUPLE_IP without both addresses".into())),
    }
}

fn address(data: &[u8], family: Family) -> Result<IpAddr, Error> {
    match family {
        Family::Inet => <[u8; 4]>::try_from(data).map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        Family::Inet6 => <[u8; 16]>::try_from(data).map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    }
    .map_err(|_| {
        invalid(format!(
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
    let num = num.ok_or_else(|| invalid("CTA_TUPLE_PROTO without CTA_PROTO_NUM".into()))?;
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

fn exact<const N: usize>(data: &[u8], what: &str) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(data)
        .map_err(|_| invalid(format!("{what} of {} bytes, want {N}", data.len())))
}

fn be16(data: &[u8], what: &str) -> Result<u16, Error> {
    exact::<2>(data, what).map(u16::from_be_bytes)
}

fn be32(data: &[u8], what: &str) -> Result<u32, Error> {
    exact::<4>(data, what).map(u32::from_be_bytes)
}

impl Flow {
    /// Parse the payload of a conntrack record (`nfgenmsg` and attributes).
    pub fn parse(payload: &[u8]) -> Result<Flow, Error> {
        let [raw_family, _version, _, _] = array::<NFGENMSG_LEN>(payload, 0).ok_or_else(|| {
            invalid(format!(
                "a record of {} bytes has no nfgenmsg",
                payload.len()
            ))
        })?;
        let family = Family::from_raw(raw_family)
            .ok_or_else(|| invalid(format!("unknown address family {raw_family}")))?;
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
            orig: orig.ok_or_else(|| invalid("a record without CTA_TUPLE_ORIG".into()))?,
            reply: reply.ok_or_else(|| invalid("a record without CTA_TUPLE_REPLY".into()))?,
            tcp_state: flow.tcp_state,
            status: flow.status,
            id: flow
                .id
                .ok_or_else(|| invalid("a record without CTA_ID".into()))?,
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

/// `struct nlmsghdr`, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// `nlmsg_len`: the whole message, header included.
    pub len: u32,
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`: the sequence number of the request this answers.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
}

/// What one netlink message in a reply says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A conntrack record (`IPCTNL_MSG_CT_NEW`).
    Flow(Flow),
    /// `NLMSG_DONE`: the end of a dump; a non-zero errno means it failed.
    Done {
        /// The positive errno the dump ended with, 0 for success.
        errno: i32,
    },
    /// `NLMSG_ERROR`: errno 0 is an acknowledgement, anything else a failure.
    Ack {
        /// The positive errno, 0 for success.
        errno: i32,
    },
    /// `NLMSG_NOOP` or a type this crate does not read.
    Other,
    /// `NLMSG_OVERRUN`: the kernel dropped data.
    Overrun,
}

/// An iterator over the netlink messages of one datagram.
///
/// It stops after the first malformed message: a length that does not fit
/// means nothing after it can be trusted.
#[derive(Clone, Debug)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

/// Split a received datagram into its messages.
pub fn parse_datagram(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

impl Iterator for Messages<'_> {
    type Item = Result<(Header, Reply), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let result = self.split();
        if result.is_err() {
            self.rest = &[];
        }
        Some(result)
    }
}

impl Messages<'_> {
    fn split(&mut self) -> Result<(Header, Reply), Error> {
        let buf = self.rest;
        let short = || invalid(format!("a message header cut to {} bytes", buf.len()));
        let header = Header {
            len: u32_ne(buf, 0).ok_or_else(short)?,
            kind: array(buf, 4).map(u16::from_ne_bytes).ok_or_else(short)?,
            flags: array(buf, 6).map(u16::from_ne_bytes).ok_or_else(short)?,
            seq: u32_ne(buf, 8).ok_or_else(short)?,
            pid: u32_ne(buf, 12).ok_or_else(short)?,
        };
        let len = usize::try_from(header.len).unwrap_or(usize::MAX);
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(invalid(format!(
                "message length {len} outside the {} bytes received",
                buf.len()
            )));
        }
        let payload = buf.get(NLMSG_HDRLEN..len).unwrap_or_default();
        self.rest = buf.get(align4(len).min(buf.len())..).unwrap_or_default();
        let reply = match header.kind {
            NLMSG_ERROR => Reply::Ack {
                errno: negated_errno(payload, "NLMSG_ERROR")?,
            },
            NLMSG_DONE => Reply::Done {
                errno: if payload.is_empty() {
                    0
                } else {
                    negated_errno(payload, "NLMSG_DONE")?
                },
            },
            NLMSG_OVERRUN => Reply::Overrun,
            NLMSG_NOOP => Reply::Other,
            kind if kind == ctnetlink_type(IPCTNL_MSG_CT_NEW) => Reply::Flow(Flow::parse(payload)?),
            _ => Reply::Other,
        };
        Ok((header, reply))
    }
}

fn negated_errno(payload: &[u8], what: &str) -> Result<i32, Error> {
    let raw = array(payload, 0)
        .map(i32::from_ne_bytes)
        .ok_or_else(|| invalid(format!("{what} without its error code")))?;
    // The kernel sends -errno; anything positive is not something it sends.
    if raw > 0 {
        return Err(invalid(format!("{what} with positive error code {raw}")));
    }
    Ok(raw.checked_neg().unwrap_or(i32::MAX))
}

fn invalid(msg: String) -> Error {
    Error::Invalid(msg)
}

fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn u32_ne(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_ne_bytes)
}
