//! `conntrack`: list, look up and delete the entries of the kernel's
//! connection tracking table over ctnetlink (`NETLINK_NETFILTER`, subsystem
//! `NFNL_SUBSYS_CTNETLINK`).
//!
//! A router or NAT gateway holds no socket for the TCP connections it
//! forwards; its conntrack table is where they are known. This crate knows
//! the wire format and nothing of policy: it dumps the table (streamed,
//! one datagram at a time), looks one entry up by a tuple, parses each
//! entry into a [`Flow`] (both tuples, conntrack's TCP state, NAT bits,
//! id, zone, mark), and deletes one entry by its tuple and id. The kernel
//! side lives in `net/netfilter/nf_conntrack_netlink.c`; the numbers come
//! from `include/uapi/linux/netfilter/nfnetlink_conntrack.h`.
//!
//! What the kernel does, as the tests in `tests/live/` show on Linux 6.18:
//!
//! - Every request, listing included, needs `CAP_NET_ADMIN` over the
//!   network namespace ([`Error::PermissionDenied`]).
//! - A namespace tracks connections only once a rule there needs it; until
//!   then its table is empty. [`Client::probe_tracking`] tells an empty
//!   table from an inactive one.
//! - The table holds the host's own connections as well as forwarded ones.
//! - Deleting an entry does not reset the connection: the ends never hear
//!   of it, and its next packet makes a new entry.
//! - The id is a hash of the entry's address and tuple, not a generation:
//!   see [`Flow::id`].
//!
//! ```no_run
//! # fn main() -> Result<(), conntrack::Error> {
//! let mut client = conntrack::Client::new()?;
//! for flow in client.tcp_flows(None)? {
//!     println!("{} -> {} {:?}", flow.orig.src_addr(), flow.orig.dst_addr(), flow.tcp_state);
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]
// Replies come from the kernel and are parsed as untrusted bytes: arithmetic
// on their lengths is checked. (The no-panic lints are the workspace's; this
// one is for the parsers of untrusted bytes only.)
#![deny(clippy::arithmetic_side_effects)]

#[cfg(not(target_os = "linux"))]
compile_error!("conntrack speaks ctnetlink (NETLINK_NETFILTER), which only Linux has");

mod attr;
mod client;
mod flow;
mod msg;

#[cfg(test)]
mod tests;

pub use attr::{attrs, AttrWriter, Attrs, NLA_F_NESTED};
pub use client::{Client, Dump, Tracking};
pub use flow::{encode_tuple, parse_tuple, Family, Flow, FlowKey, Status, TcpState, Tuple};
pub use msg::{
    ctnetlink_type, encode_delete, encode_dump, encode_get, parse_datagram, Ctnetlink, Header,
    Messages, Reply, CTA_ID, CTA_IP_V4_DST, CTA_IP_V4_SRC, CTA_IP_V6_DST, CTA_IP_V6_SRC, CTA_MARK,
    CTA_PROTOINFO, CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE, CTA_PROTO_DST_PORT, CTA_PROTO_NUM,
    CTA_PROTO_SRC_PORT, CTA_STATUS, CTA_TIMEOUT, CTA_TUPLE_IP, CTA_TUPLE_ORIG, CTA_TUPLE_PROTO,
    CTA_TUPLE_REPLY, CTA_ZONE, IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_NEW,
    IPPROTO_TCP, IPPROTO_UDP, NFGENMSG_LEN, NFNETLINK_V0, NFNL_SUBSYS_CTNETLINK, NLMSG_HDRLEN,
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST,
};

/// What went wrong talking to ctnetlink, as data a caller can match on:
/// netlink's one error type, its messages naming ctnetlink and its remedies.
///
/// The kernel answers with a negative errno in an `NLMSG_ERROR` message (or
/// at the end of a dump); [`Error::from_errno`](netlink::Error::from_errno)
/// sorts those into the cases a caller has to tell apart, each keeping its
/// errno. Of ctnetlink's: `NotFound` when no entry has the tuple, or the one
/// that has it carries another id (`ctnetlink_del_conntrack` compares
/// `CTA_ID` after the lookup); `PermissionDenied` for every request without
/// `CAP_NET_ADMIN`, dumps included (`nfnetlink_rcv` in
/// `net/netfilter/nfnetlink.c`); `NotSupported` without `NETLINK_NETFILTER`
/// or without `nf_conntrack_netlink` (`EOPNOTSUPP`, or `EINVAL` to a dump,
/// which carries nothing else the kernel could reject).
pub type Error = netlink::Error<Ctnetlink>;
