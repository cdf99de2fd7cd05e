//! The netlink framing of ctnetlink: `nlmsghdr`, `struct nfgenmsg`, the
//! requests this crate sends, and the messages of a reply
//! (`include/uapi/linux/netlink.h`, `include/uapi/linux/netfilter/nfnetlink.h`,
//! `include/uapi/linux/netfilter/nfnetlink_conntrack.h`). The entries
//! themselves are parsed in `flow.rs`.
//!
//! Every parser here works on untrusted bytes: lengths are checked before use
//! and a malformed message is an [`Error::Invalid`], never a panic. Netlink
//! headers are host-endian.

use crate::attr::{align4, array, invalid, set_len, u32_ne, AttrWriter};
use crate::flow::{encode_tuple, Family, Flow, FlowKey, Tuple};
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

fn push_header(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) {
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, filled in by set_len
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
