//! Telling an end's answer from everything else a packet socket sees:
//! what `inject` (a local socket's answer to its probe) and `--forwarded`
//! (both ends' answers, read as this host forwards them) share.
//!
//! A segment is matched to an end by its addresses ([`key`]); the end's
//! answer to an out-of-window probe carries its sequence numbers
//! ([`Numbers`]: `seq` its SND.NXT, `ack` its RCV.NXT); and the packet
//! socket sees our own segments too, on their way out, which must never
//! be taken for an answer ([`Sent`]).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use super::segment::Segment;
use crate::conn::canonical_ip;

/// A segment's addresses as on the wire: source address and port,
/// destination address and port.
pub(crate) type Key = (IpAddr, u16, IpAddr, u16);

/// The key of a segment from `src` to `dst`: an IPv4-mapped address as the
/// IPv4 address it is on the wire, a scope left out.
pub(crate) fn key(src: SocketAddr, dst: SocketAddr) -> Key {
    (
        canonical_ip(src.ip()),
        src.port(),
        canonical_ip(dst.ip()),
        dst.port(),
    )
}

/// An end's sequence numbers, as its own segments show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Numbers {
    /// The next sequence number it will send (SND.NXT).
    pub snd_nxt: u32,
    /// The next sequence number it expects (RCV.NXT): an RST must carry
    /// exactly this.
    pub rcv_nxt: u32,
}

impl Numbers {
    /// What a segment from the end, carrying `len` bytes, says of them.
    pub(crate) fn of(segment: &Segment, len: u32) -> Numbers {
        Numbers {
            snd_nxt: segment.seq.wrapping_add(len),
            rcv_nxt: segment.ack,
        }
    }
}

/// The segments we sent, to be told from answers.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Addresses, seq, ack and flags of each.
    segments: HashSet<(Key, u32, u32, u8)>,
}

impl Sent {
    /// Remember `segment`, about to be sent.
    pub(crate) fn note(&mut self, segment: &Segment) {
        self.segments.insert(Self::id(segment));
    }

    /// Whether `segment`, as the packet socket saw it, is one of ours.
    pub(crate) fn ours(&self, segment: &Segment) -> bool {
        self.segments.contains(&Self::id(segment))
    }

    fn id(segment: &Segment) -> (Key, u32, u32, u8) {
        (
            key(segment.src, segment.dst),
            segment.seq,
            segment.ack,
            segment.flags,
        )
    }
}
