//! `sockdiag`: list, look up and destroy the kernel's TCP sockets over Linux's
//! `NETLINK_SOCK_DIAG`.
//!
//! This crate knows the wire format and nothing of policy: it builds
//! `SOCK_DIAG_BY_FAMILY` dump requests and `SOCK_DESTROY` requests
//! (`struct inet_diag_req_v2`), parses the kernel's `struct inet_diag_msg`
//! replies, and drives a blocking netlink socket. The kernel side lives in
//! `net/ipv4/inet_diag.c` and `net/ipv4/tcp_diag.c`; the structures are in
//! `include/uapi/linux/inet_diag.h`.
//!
//! ```no_run
//! # fn main() -> Result<(), sockdiag::Error> {
//! let mut client = sockdiag::Client::new()?;
//! let request = sockdiag::DumpRequest::tcp(sockdiag::Family::Inet, sockdiag::ALL_TCP_STATES);
//! for record in client.dump(&request)? {
//!     let record = record?;
//!     println!("{:?} {}", record.state, record.id.sport);
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
compile_error!("sockdiag speaks NETLINK_SOCK_DIAG, which only Linux has");

mod client;
mod fault;
mod msg;
mod tcp_info;

#[cfg(test)]
mod tests;

pub use client::{Client, Dump};
pub use msg::{
    encode_destroy, encode_dump, encode_dump_both_families, encode_lookup, parse_datagram,
    DumpRequest, Family, Header, InetDiagMsg, Messages, Reply, SockDiag, SockId, TcpState,
    ALL_TCP_STATES, INET_DIAG_INFO, INET_DIAG_MSG_LEN, INET_DIAG_NOCOOKIE, INET_DIAG_REQ_BYTECODE,
    NLMSG_HDRLEN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST, REQ_V1_LEN,
    REQ_V2_LEN, SOCK_DESTROY, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK,
};
pub use tcp_info::TcpInfo;

/// What went wrong talking to the kernel, as data a caller can match on:
/// netlink's one error type, its messages naming sock_diag.
///
/// The kernel answers a `SOCK_DESTROY` with a negative errno in an
/// `NLMSG_ERROR` message; [`Error::from_errno`](netlink::Error::from_errno)
/// sorts those into the cases a caller has to tell apart. For TCP a stale
/// cookie arrives as `NotFound { stale: false }`: the destroy path
/// (`inet_diag_find_one_icsk` in `net/ipv4/inet_diag.c`) answers a cookie
/// mismatch on a live tuple with `ENOENT` (seen on Linux 6.18).
pub type Error = netlink::Error<SockDiag>;
