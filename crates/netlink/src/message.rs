//! The framing every netlink protocol shares: `struct nlmsghdr`, its flags,
//! and the control messages (`include/uapi/linux/netlink.h`).
//!
//! The splitter works on untrusted bytes: lengths are checked before use
//! and a malformed message is the protocol's [`Error::invalid`], never a
//! panic. Netlink headers are host-endian.

use std::marker::PhantomData;

use crate::{Error, Protocol};

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;

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
/// `NLM_F_DUMP_INTR`: the dump was inconsistent because the tables changed.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`): dump everything that matches.
pub const NLM_F_DUMP: u16 = 0x300;

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

impl Header {
    /// How far the next message starts from this one's start: `nlmsg_len`
    /// rounded up to four (`NLMSG_ALIGN`).
    pub fn advance(&self) -> usize {
        align4(usize::try_from(self.len).unwrap_or(usize::MAX))
    }
}

/// What one netlink message in a reply says, with the protocol's records
/// decoded into `T`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply<T> {
    /// A record of the protocol (a dump part, or the answer to a lookup).
    Record(T),
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
    /// `NLMSG_NOOP` or a type the protocol does not read.
    Other,
    /// `NLMSG_OVERRUN`: the kernel dropped data.
    Overrun,
}

/// An iterator over the netlink messages of one datagram, each decoded by
/// the protocol `P`.
///
/// It stops after the first malformed message: a length that does not fit
/// means nothing after it can be trusted.
pub struct Messages<'a, P> {
    rest: &'a [u8],
    protocol: PhantomData<fn() -> P>,
}

// By hand: a derive would ask `P` (a marker) to be `Clone` and `Debug` too.
impl<P> Clone for Messages<'_, P> {
    fn clone(&self) -> Self {
        Messages {
            rest: self.rest,
            protocol: PhantomData,
        }
    }
}

impl<P> std::fmt::Debug for Messages<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages")
            .field("rest", &self.rest)
            .finish()
    }
}

/// Split a received datagram into its messages, decoding records with `P`.
pub fn parse_datagram<P: Protocol>(buf: &[u8]) -> Messages<'_, P> {
    Messages {
        rest: buf,
        protocol: PhantomData,
    }
}

impl<P: Protocol> Iterator for Messages<'_, P> {
    type Item = Result<(Header, Reply<P::Record>), P::Error>;

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

impl<P: Protocol> Messages<'_, P> {
    fn split(&mut self) -> Result<(Header, Reply<P::Record>), P::Error> {
        let buf = self.rest;
        let truncated = || P::Error::invalid("truncated header".into());
        let header = Header {
            len: u32_ne(buf, 0).ok_or_else(|| {
                P::Error::invalid(format!("{} stray bytes after the last message", buf.len()))
            })?,
            kind: array(buf, 4)
                .map(u16::from_ne_bytes)
                .ok_or_else(truncated)?,
            flags: array(buf, 6)
                .map(u16::from_ne_bytes)
                .ok_or_else(truncated)?,
            seq: u32_ne(buf, 8).ok_or_else(truncated)?,
            pid: u32_ne(buf, 12).ok_or_else(truncated)?,
        };
        let len = usize::try_from(header.len).unwrap_or(usize::MAX);
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(P::Error::invalid(format!(
                "message length {len} outside the {} bytes received",
                buf.len()
            )));
        }
        let payload = buf.get(NLMSG_HDRLEN..len).unwrap_or_default();
        self.rest = buf.get(align4(len).min(buf.len())..).unwrap_or_default();
        let reply = match header.kind {
            NLMSG_ERROR => Reply::Ack {
                errno: negated_errno::<P::Error>(payload, "NLMSG_ERROR")?,
            },
            NLMSG_DONE => Reply::Done {
                // The kernel always sends the int; an empty DONE is tolerated.
                errno: if payload.is_empty() {
                    0
                } else {
                    negated_errno::<P::Error>(payload, "NLMSG_DONE")?
                },
            },
            NLMSG_OVERRUN => Reply::Overrun,
            NLMSG_NOOP => Reply::Other,
            _ => P::decode(&header, payload)?.map_or(Reply::Other, Reply::Record),
        };
        Ok((header, reply))
    }
}

fn negated_errno<E: Error>(payload: &[u8], what: &str) -> Result<i32, E> {
    let raw = array(payload, 0)
        .map(i32::from_ne_bytes)
        .ok_or_else(|| E::invalid(format!("{what} without its error code")))?;
    // The kernel sends -errno; anything positive is not something it sends.
    if raw > 0 {
        return Err(E::invalid(format!("{what} with positive error code {raw}")));
    }
    Ok(raw.checked_neg().unwrap_or(i32::MAX))
}

const fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

fn u32_ne(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_ne_bytes)
}
