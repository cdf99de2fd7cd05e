//! The framing every netlink protocol shares: `struct nlmsghdr`, its flags,
//! and the control messages (`include/uapi/linux/netlink.h`).
//!
//! The splitter works on untrusted bytes: lengths are checked before use
//! and a malformed message is an [`Error::Invalid`], never a panic.
//! Netlink headers are host-endian.

use std::marker::PhantomData;

use crate::attr::align4;
use crate::bytes::{array, u32_ne};
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
#[derive(Clone, Debug)]
pub struct Messages<'a, P> {
    rest: &'a [u8],
    protocol: PhantomData<fn() -> P>,
}

/// Split a received datagram into its messages, decoding records with `P`.
pub fn parse_datagram<P: Protocol>(buf: &[u8]) -> Messages<'_, P> {
    Messages {
        rest: buf,
        protocol: PhantomData,
    }
}

impl<P: Protocol> Iterator for Messages<'_, P> {
    type Item = Result<(Header, Reply<P::Record>), Error<P>>;

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
    fn split(&mut self) -> Result<(Header, Reply<P::Record>), Error<P>> {
        let buf = self.rest;
        let truncated = || Error::Invalid("truncated header".into());
        let header = Header {
            len: u32_ne(buf, 0).ok_or_else(|| {
                Error::Invalid(format!("{} stray bytes after the last message", buf.len()))
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
            return Err(Error::Invalid(format!(
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
                // The kernel always sends the int; an empty DONE is tolerated.
                errno: if payload.is_empty() {
                    0
                } else {
                    negated_errno(payload, "NLMSG_DONE")?
                },
            },
            NLMSG_OVERRUN => Reply::Overrun,
            NLMSG_NOOP => Reply::Other,
            _ => P::decode(&header, payload)?.map_or(Reply::Other, Reply::Record),
        };
        Ok((header, reply))
    }
}

fn negated_errno<P>(payload: &[u8], what: &str) -> Result<i32, Error<P>> {
    let raw = array(payload, 0)
        .map(i32::from_ne_bytes)
        .ok_or_else(|| Error::Invalid(format!("{what} without its error code")))?;
    // The kernel sends -errno; anything positive is not something it sends.
    if raw > 0 {
        return Err(Error::Invalid(format!(
            "{what} with positive error code {raw}"
        )));
    }
    Ok(raw.checked_neg().unwrap_or(i32::MAX))
}

/// Append one message to `out`: an `nlmsghdr` of type `kind` with `flags`
/// and sequence number `seq` (to the kernel, port id 0), then the payload
/// `body` appends, with `nlmsg_len` set to the whole. On error nothing is
/// appended.
pub fn push_message<P>(
    out: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), Error<P>>,
) -> Result<(), Error<P>> {
    let start = out.len();
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set below
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel is 0
    let result = body(out).and_then(|()| {
        let len = out.len().saturating_sub(start);
        let len =
            u32::try_from(len).map_err(|_| Error::Invalid(format!("a message of {len} bytes")))?;
        if let Some(field) = out.get_mut(start..start.saturating_add(4)) {
            field.copy_from_slice(&len.to_ne_bytes());
        }
        Ok(())
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}
