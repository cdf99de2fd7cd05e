//! `netlink`: what our netlink clients share, whatever protocol they speak.
//!
//! `sockdiag` (`NETLINK_SOCK_DIAG`) and `conntrack` (ctnetlink over
//! `NETLINK_NETFILTER`) frame their messages the same way and drive their
//! sockets the same way; only the payloads differ. This crate holds the
//! common half ([`netlink(7)`], `include/uapi/linux/netlink.h`):
//!
//! - the `nlmsghdr` [`Header`] and the control messages every protocol
//!   answers with ([`Reply`]: `NLMSG_DONE`, `NLMSG_ERROR`, `NLMSG_OVERRUN`),
//!   split out of a datagram by [`parse_datagram`];
//! - a blocking [`Socket`] that sends requests and receives datagrams
//!   whole (`MSG_TRUNC` is an error, `EINTR` is retried);
//! - a streamed [`Dump`] that matches its sequence number, notices
//!   `NLM_F_DUMP_INTR` and drains the rest of the reply when dropped;
//! - batched requests whose answers are matched by sequence number
//!   ([`Socket::batched`], [`Socket::request`]).
//!
//! A protocol crate plugs in with a [`Protocol`]: how to decode its
//! records, and its error type ([`Error`]). Request encoders, the payload
//! codec and the public types stay in the protocol crate.
//!
//! [`netlink(7)`]: https://man7.org/linux/man-pages/man7/netlink.7.html
#![warn(missing_docs)]
// No panics on any input: replies come from the kernel and are parsed as
// untrusted bytes, and arithmetic on their lengths is checked.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

#[cfg(not(target_os = "linux"))]
compile_error!("netlink sockets are a Linux interface");

mod dump;
mod message;
mod socket;

pub use dump::Dump;
pub use message::{
    parse_datagram, Header, Messages, Reply, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_MULTI, NLM_F_REQUEST,
};
pub use socket::{Socket, RECV_BUF_LEN};

/// What the shared code needs of a protocol crate's error type.
pub trait Error: From<rustix::io::Errno> {
    /// A malformed request or reply (the protocol's `Invalid` case).
    fn invalid(message: String) -> Self;
    /// Whether this is an error made by [`Error::invalid`]: a malformed
    /// reply, after which a dump may still go on.
    fn is_invalid(&self) -> bool;
    /// The dump was flagged inconsistent (`NLM_F_DUMP_INTR`).
    fn interrupted() -> Self;
    /// The kernel has no such netlink protocol (`socket(2)` failed with
    /// `EPROTONOSUPPORT` or `EAFNOSUPPORT`, the raw errno given).
    fn not_supported(errno: i32) -> Self;
}

/// A netlink protocol: how its records are decoded, and how its errors
/// are made.
pub trait Protocol {
    /// What one record of a reply decodes into.
    type Record;
    /// The protocol's error type.
    type Error: Error;

    /// Decode the payload of a message that is not a control message
    /// (`NLMSG_NOOP`, `NLMSG_ERROR`, `NLMSG_DONE`, `NLMSG_OVERRUN`):
    /// `Ok(None)` for a type the protocol does not read.
    fn decode(header: &Header, payload: &[u8]) -> Result<Option<Self::Record>, Self::Error>;

    /// The error a dump ends with when the kernel answers it with `errno`
    /// (positive), in an `NLMSG_DONE` or an `NLMSG_ERROR`.
    fn dump_error(errno: i32) -> Self::Error;
}
