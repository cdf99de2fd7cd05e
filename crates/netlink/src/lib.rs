//! `netlink`: what every netlink client here is built on, whatever protocol
//! it speaks (framing, attributes, one error type, a socket with its request
//! and dump loops), and the route lookup's rtnetlink.
//!
//! `sockdiag` (`NETLINK_SOCK_DIAG`), `conntrack` (ctnetlink over
//! `NETLINK_NETFILTER`) and the route lookup ([`route`], `NETLINK_ROUTE`)
//! frame their messages the same way and drive their sockets the same way;
//! only the payloads differ. This crate holds what they share
//! ([`netlink(7)`], `include/uapi/linux/netlink.h`):
//!
//! - the `nlmsghdr` [`Header`], written by [`push_message`], and the
//!   control messages every protocol answers with ([`Reply`]:
//!   `NLMSG_DONE`, `NLMSG_ERROR`, `NLMSG_OVERRUN`), split out of a datagram
//!   by [`parse_datagram`];
//! - attributes (`struct nlattr`, `struct rtattr`): [`attrs`] walks them,
//!   [`AttrWriter`] writes them, [`align4`] pads them;
//! - one [`Error`] for every protocol, and the address [`Family`];
//! - a blocking [`Socket`] that sends requests and receives datagrams
//!   whole (`MSG_TRUNC` is an error, `EINTR` is retried);
//! - a streamed [`Dump`] that matches its sequence number, notices
//!   `NLM_F_DUMP_INTR` and drains the rest of the reply when dropped;
//! - requests whose answers are matched by sequence number
//!   ([`Socket::request`], [`Socket::batched`]).
//!
//! A protocol plugs in with a [`Protocol`]: how to decode its records, and
//! what its errors call it. Request encoders, the payload codec and the
//! public types stay with the protocol.
//!
//! [`netlink(7)`]: https://man7.org/linux/man-pages/man7/netlink.7.html
#![warn(missing_docs)]
// Replies come from the kernel and are parsed as untrusted bytes: arithmetic
// on their lengths is checked. (The no-panic lints are the workspace's; this
// one is for the parsers of untrusted bytes only.)
#![deny(clippy::arithmetic_side_effects)]

#[cfg(not(target_os = "linux"))]
compile_error!("netlink sockets are a Linux interface");

mod attr;
pub mod bytes;
mod dump;
mod error;
mod family;
mod message;
pub mod route;
mod socket;

pub use attr::{align4, attrs, AttrWriter, Attrs, NLA_F_NESTED};
pub use dump::Dump;
pub use error::Error;
pub use family::Family;
pub use message::{
    parse_datagram, push_message, Header, Messages, Reply, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST,
};
pub use socket::{Socket, RECV_BUF_LEN};

/// A netlink protocol: how its records are decoded, and what its errors
/// call it.
///
/// Implemented by a marker type (`sockdiag::SockDiag`,
/// `conntrack::Ctnetlink`, [`route::Rtnetlink`]) that also names the
/// protocol's [`Error`]: `Error<SockDiag>`.
pub trait Protocol: std::fmt::Debug + Sized + 'static {
    /// What one record of a reply decodes into.
    type Record;

    /// The netlink protocol, `socket(2)`'s third argument
    /// (`NETLINK_SOCK_DIAG`); `None` for `NETLINK_ROUTE`, which is 0.
    const NUMBER: Option<rustix::net::Protocol>;
    /// The protocol's name in error messages (`"ctnetlink"`).
    const NAME: &'static str;
    /// What one record is called in error messages (`"conntrack entry"`).
    const RECORD: &'static str;
    /// What a kernel that does not serve the protocol lacks, as a remedy
    /// for [`Error::NotSupported`]'s message; empty when every kernel
    /// serves it.
    const NEEDS: &'static str;

    /// Decode the payload of a message that is not a control message
    /// (`NLMSG_NOOP`, `NLMSG_ERROR`, `NLMSG_DONE`, `NLMSG_OVERRUN`):
    /// `Ok(None)` for a type the protocol does not read.
    fn decode(header: &Header, payload: &[u8]) -> Result<Option<Self::Record>, Error<Self>>;

    /// The error a dump ends with when the kernel answers it with `errno`
    /// (positive), in an `NLMSG_DONE` or an `NLMSG_ERROR`.
    fn dump_error(errno: i32) -> Error<Self> {
        Error::from_errno(errno)
    }
}
