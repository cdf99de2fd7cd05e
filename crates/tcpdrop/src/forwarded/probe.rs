//! Hearing what the ends of forwarded connections answer.
//!
//! Segments go out on a packet socket ([`crate::spoof::link`]) to the
//! interface and next hop of the route to their destination
//! ([`super::route`]), as the end's peer would have sent them. Answers are
//! read on the filtered packet socket ([`Wire`]), which sees every
//! segment this host forwards, ours going out included. Each segment is
//! matched to an end by its addresses: from the end (its answer: `seq` is
//! its SND.NXT, `ack` its RCV.NXT; or an RST: it has no such connection)
//! or, with data, toward it (`seq` + length is what it will expect next).
//! Our own segments, seen on their way out, are recognised and skipped.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::flows::End;
use crate::conn::canonical_ip;
use crate::spoof::segment::{flags, Parsed, Segment};
use crate::spoof::wire::Wire;
use crate::spoof::GRACE;

/// A segment's addresses: source address and port, destination address
/// and port, as on the wire.
type Key = (IpAddr, u16, IpAddr, u16);

fn key(src: SocketAddr, dst: SocketAddr) -> Key {
    (
        canonical_ip(src.ip()),
        src.port(),
        canonical_ip(dst.ip()),
        dst.port(),
    )
}

/// An end's sequence numbers, as its own segments show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Numbers {
    /// The next sequence number it will send (SND.NXT).
    pub snd_nxt: u32,
    /// The next sequence number it expects (RCV.NXT): an RST must carry
    /// exactly this.
    pub rcv_nxt: u32,
}

/// What was heard of one end.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Heard {
    /// Its latest sequence numbers, if it was ever heard.
    pub numbers: Option<Numbers>,
    /// It sent a segment other than an RST since [`Ears::new_phase`].
    pub acked: bool,
    /// It sent an RST since [`Ears::new_phase`]: it has no such connection.
    pub reset: bool,
    /// The length of the latest segment with data seen on its way to it.
    pub step: u32,
}

/// Whether `a` is at or after `b` in sequence space (RFC 9293 §3.4).
fn at_or_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// The ends of a batch of flows, what they said, and what we sent.
pub(super) struct Ears {
    /// End index by the addresses of the segments it sends.
    from: HashMap<Key, usize>,
    /// End index by the addresses of the segments sent to it.
    to: HashMap<Key, usize>,
    /// Our own segments: addresses, seq, ack, flags.
    ours: HashSet<(Key, u32, u32, u8)>,
    /// What each end said, by index.
    pub heard: Vec<Heard>,
}

impl Ears {
    /// Ears for `ends` (an end's index is its place in the slice).
    pub(super) fn new(ends: &[End]) -> Ears {
        let mut from = HashMap::with_capacity(ends.len());
        let mut to = HashMap::with_capacity(ends.len());
        for (i, end) in ends.iter().enumerate() {
            from.insert(key(end.addr, end.peer), i);
            to.insert(key(end.peer, end.addr), i);
        }
        Ears {
            from,
            to,
            ours: HashSet::new(),
            heard: vec![Heard::default(); ends.len()],
        }
    }

    /// Remember a segment we send, so that seeing it go out is not taken
    /// for an answer.
    pub(super) fn sent(&mut self, segment: &Segment) {
        self.ours.insert((
            key(segment.src, segment.dst),
            segment.seq,
            segment.ack,
            segment.flags,
        ));
    }

    /// Forget who answered: what comes next answers what is sent next.
    pub(super) fn new_phase(&mut self) {
        for heard in &mut self.heard {
            heard.acked = false;
            heard.reset = false;
        }
    }

    /// Read segments until each end of `waiting` has answered (a segment
    /// or an RST) since the phase began, and a moment more, or until
    /// `deadline`.
    pub(super) fn listen(&mut self, wire: &mut Wire, waiting: &[usize], deadline: Instant) {
        let mut deadline = deadline;
        let mut all_heard = false;
        while let Some(parsed) = wire.next(deadline) {
            self.take(parsed);
            if !all_heard
                && waiting
                    .iter()
                    .all(|&i| self.heard.get(i).is_none_or(|h| h.acked || h.reset))
            {
                all_heard = true;
                deadline = deadline.min(Instant::now() + GRACE);
            }
        }
    }

    /// What one segment says about the ends.
    fn take(&mut self, parsed: Parsed) {
        let seg = parsed.segment;
        let k = key(seg.src, seg.dst);
        if self.ours.contains(&(k, seg.seq, seg.ack, seg.flags)) {
            return;
        }
        let len = u32::try_from(parsed.payload_len).unwrap_or(0);
        if let Some(h) = self.from.get(&k).and_then(|&i| self.heard.get_mut(i)) {
            if seg.flags & flags::RST != 0 {
                h.reset = true;
            } else {
                h.acked = true;
                let snd_nxt = seg.seq.wrapping_add(len);
                h.numbers = Some(match h.numbers {
                    None => Numbers {
                        snd_nxt,
                        rcv_nxt: seg.ack,
                    },
                    Some(n) => Numbers {
                        snd_nxt: later(n.snd_nxt, snd_nxt),
                        rcv_nxt: later(n.rcv_nxt, seg.ack),
                    },
                });
            }
        }
        // Data on its way to an end: what it will expect next, once it has
        // it (an RST sent now follows it on the same link).
        if len > 0 && seg.flags & flags::RST == 0 {
            if let Some(h) = self.to.get(&k).and_then(|&i| self.heard.get_mut(i)) {
                if let Some(n) = &mut h.numbers {
                    n.rcv_nxt = later(n.rcv_nxt, seg.seq.wrapping_add(len));
                }
                h.step = len;
            }
        }
    }

    /// Read what has already come in, for at most `limit`, so that the
    /// numbers are as fresh as they can be right before an RST.
    pub(super) fn drain(&mut self, wire: &mut Wire, limit: Duration) {
        let until = Instant::now() + limit;
        loop {
            let now = Instant::now();
            if now >= until {
                return;
            }
            match wire.next(now + DRAIN_QUIET) {
                Some(parsed) => self.take(parsed),
                None => return,
            }
        }
    }
}

/// How long a drain waits for one more segment before it stops.
const DRAIN_QUIET: Duration = Duration::from_micros(200);

fn later(a: u32, b: u32) -> u32 {
    if at_or_after(b, a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_space_wraps() {
        assert!(at_or_after(5, 5));
        assert!(at_or_after(6, 5));
        assert!(at_or_after(2, u32::MAX - 3));
        assert!(!at_or_after(u32::MAX - 3, 2));
        assert_eq!(later(u32::MAX, 1), 1);
        assert_eq!(later(1, u32::MAX), 1);
    }
}
