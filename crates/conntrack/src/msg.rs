//! The framing of ctnetlink: `struct nfgenmsg`, the requests this crate
//! sends, and the messages of a reply
//! (`include/uapi/linux/netfilter/nfnetlink.h`,
//! `include/uapi/linux/netfilter/nfnetlink_conntrack.h`). The `nlmsghdr`
//! around them, and the splitting of a datagram into messages, are the
//! `netlink` crate's; the entries themselves are parsed in `flow.rs`.
//!
//! Every parser here works on untrusted bytes: lengths are checked before use
//! and a malformed message is an [`Error::Invalid`], never a panic. Netlink
//! headers are host-endian.

pub use netlink::{
    Header, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST,
};

use netlink::push_message;

use crate::attr::AttrWriter;
use crate::client::dump_error;
use crate::flow::{encode_tuple, Family, Flow, FlowKey, Tuple};
use crate::Error;

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

fn push_nfgenmsg(out: &mut Vec<u8>, family: u8) {
    out.push(family);
    out.push(NFNETLINK_V0);
    out.extend_from_slice(&0u16.to_be_bytes()); // res_id
}

/// Append a dump request for the conntrack table with sequence number
/// `seq` to `out`: entries of `family`, or of every family for `None`
/// (`AF_UNSPEC`). The kernel filters by family itself; protocols are all
/// dumped, to be filtered by the caller ([`Flow::is_tcp`]).
pub fn encode_dump(family: Option<Family>, seq: u32, out: &mut Vec<u8>) {
    let kind = ctnetlink_type(IPCTNL_MSG_CT_GET);
    // 20 bytes: nothing that can fail.
    let _ = push_message::<Ctnetlink>(out, kind, NLM_F_REQUEST | NLM_F_DUMP, seq, |out| {
        push_nfgenmsg(out, family.map_or(0, Family::raw));
        Ok(())
    });
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
    push_message(out, ctnetlink_type(operation), flags, seq, |out| {
        push_nfgenmsg(out, Family::of(key.orig.src).raw());
        let mut w = AttrWriter::new(out);
        w.nest(CTA_TUPLE_ORIG, |w| encode_tuple(w, &key.orig))?;
        if key.zone != 0 {
            w.put(CTA_ZONE, &key.zone.to_be_bytes())?;
        }
        if let Some(id) = key.id {
            w.put(CTA_ID, &id.to_be_bytes())?;
        }
        Ok(())
    })
}

/// What one netlink message in a reply says: a conntrack record
/// ([`netlink::Reply::Record`], `IPCTNL_MSG_CT_NEW`), or a control message.
pub type Reply = netlink::Reply<Flow>;

/// ctnetlink for the shared netlink code: its records are conntrack
/// entries, its errors are [`Error`]s, and a dump it answers with `EINVAL`
/// is `NotSupported` (no `nf_conntrack_netlink` to hand it to).
#[derive(Clone, Copy, Debug)]
pub struct Ctnetlink;

impl netlink::Protocol for Ctnetlink {
    type Record = Flow;
    const NUMBER: Option<rustix::net::Protocol> = Some(rustix::net::netlink::NETFILTER);
    const NAME: &'static str = "ctnetlink";
    const RECORD: &'static str = "conntrack entry";
    const NEEDS: &'static str = "load nf_conntrack_netlink (CONFIG_NF_CT_NETLINK)";

    fn decode(header: &Header, payload: &[u8]) -> Result<Option<Flow>, Error> {
        if header.kind == ctnetlink_type(IPCTNL_MSG_CT_NEW) {
            Flow::parse(payload).map(Some)
        } else {
            Ok(None)
        }
    }

    fn dump_error(errno: i32) -> Error {
        dump_error(errno)
    }
}

/// An iterator over the netlink messages of one datagram.
///
/// It stops after the first malformed message: a length that does not fit
/// means nothing after it can be trusted.
pub type Messages<'a> = netlink::Messages<'a, Ctnetlink>;

/// Split a received datagram into its messages.
pub fn parse_datagram(buf: &[u8]) -> Messages<'_> {
    netlink::parse_datagram(buf)
}
