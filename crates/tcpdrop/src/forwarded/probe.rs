//! Probing the ends of forwarded connections, and hearing what they
//! answer.
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
//!
//! Once the first round is over ([`Ears::fix_first`]), a segment counts
//! only if it can belong to the connection that round heard: its `ack`
//! (the end's RCV.NXT, which never goes back) at or after the one the
//! first round saw, within half the sequence space. That alone cannot
//! tell a newcomer on the same tuple (a client that reconnects from the
//! same port) from a connection that moved on: RFC 6528 puts a
//! newcomer's initial sequence numbers ahead of the old ones. A newcomer
//! is caught by its opening instead ([`Openings`]): it sends a SYN,
//! which passes this host before any other segment of it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::flows::End;
use super::Sockets;
use crate::spoof::answer::{key, Key, Numbers, Sent};
use crate::spoof::link::Path;
use crate::spoof::segment::{flags, Parsed, Segment};
use crate::spoof::wire::{Syns, Wire};

/// How long to go on listening once every end waited for has answered: an
/// RST in answer to that answer follows within microseconds.
const GRACE: Duration = Duration::from_millis(2);

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
    /// Our own segments.
    ours: Sent,
    /// What each end said, by index.
    pub heard: Vec<Heard>,
    /// Each end's numbers as the first round left them, once it is over
    /// ([`Ears::fix_first`]); `None` for an end it did not hear.
    first: Option<Vec<Option<Numbers>>>,
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
            ours: Sent::default(),
            heard: vec![Heard::default(); ends.len()],
            first: None,
        }
    }

    /// End the first round: from now on a segment counts only if it lies
    /// at or after the numbers it left (see the module's text), and an
    /// end it did not hear is not listened to at all.
    pub(super) fn fix_first(&mut self) {
        self.first = Some(self.heard.iter().map(|h| h.numbers).collect());
    }

    /// Whether `rcv_nxt`, read from a segment of end `i` or from data on
    /// its way to it, can be the connection the first round heard.
    fn in_window(&self, i: usize, rcv_nxt: u32) -> bool {
        match &self.first {
            None => true,
            Some(first) => first
                .get(i)
                .copied()
                .flatten()
                .is_some_and(|f| at_or_after(rcv_nxt, f.rcv_nxt)),
        }
    }

    /// Remember a segment we send, so that seeing it go out is not taken
    /// for an answer.
    pub(super) fn sent(&mut self, segment: &Segment) {
        self.ours.note(segment);
    }

    /// Forget who of `ends` answered: what comes next answers what is
    /// sent next.
    pub(super) fn new_phase(&mut self, ends: &[usize]) {
        for &i in ends {
            if let Some(heard) = self.heard.get_mut(i) {
                heard.acked = false;
                heard.reset = false;
            }
        }
    }

    /// Read segments until each end of `waiting` has answered (a segment
    /// or an RST) since the phase began, and a moment more, or until
    /// `deadline`; keep `openings` up to date meanwhile.
    pub(super) fn listen(
        &mut self,
        wire: &mut Wire,
        openings: &mut Openings,
        waiting: &[usize],
        deadline: Instant,
    ) {
        let mut deadline = deadline;
        let mut all_heard = false;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if let Some(parsed) = wire.next(deadline.min(now + OPENINGS_EVERY)) {
                self.take(parsed);
            }
            openings.update_every(OPENINGS_EVERY);
            if !all_heard
                && waiting
                    .iter()
                    .all(|&i| self.heard.get(i).is_none_or(|h| h.acked || h.reset))
            {
                all_heard = true;
                deadline = deadline.min(Instant::now() + GRACE);
            }
        }
        openings.update();
    }

    /// What one segment says about the ends.
    fn take(&mut self, parsed: Parsed) {
        let seg = parsed.segment;
        if self.ours.ours(&seg) {
            return;
        }
        let k = key(seg.src, seg.dst);
        let len = u32::try_from(parsed.payload_len).unwrap_or(0);
        if let Some(i) = self.from.get(&k).copied() {
            let rst = seg.flags & flags::RST != 0;
            // An RST says the end has no such connection, whoever holds
            // the tuple; anything else counts only from the connection the
            // first round heard.
            if rst || self.in_window(i, seg.ack) {
                self.heard_from(i, &parsed, len);
            }
        }
        // Data on its way to an end: what it will expect next, once it has
        // it (an RST sent now follows it on the same link).
        if len > 0 && seg.flags & flags::RST == 0 {
            let next = seg.seq.wrapping_add(len);
            let to = self.to.get(&k).copied();
            if let Some(h) = to
                .filter(|&i| self.in_window(i, next))
                .and_then(|i| self.heard.get_mut(i))
            {
                if let Some(n) = &mut h.numbers {
                    n.rcv_nxt = later(n.rcv_nxt, next);
                }
                h.step = len;
            }
        }
    }

    /// A segment from end `i` that counts: an RST, or its numbers.
    fn heard_from(&mut self, i: usize, parsed: &Parsed, len: u32) {
        let seg = parsed.segment;
        let Some(h) = self.heard.get_mut(i) else {
            return;
        };
        if seg.flags & flags::RST != 0 {
            h.reset = true;
            return;
        }
        h.acked = true;
        let heard = Numbers::of(&seg, len);
        h.numbers = Some(match h.numbers {
            None => heard,
            Some(n) => Numbers {
                snd_nxt: later(n.snd_nxt, heard.snd_nxt),
                rcv_nxt: later(n.rcv_nxt, heard.rcv_nxt),
            },
        });
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

/// How often [`Openings`] is read while listening: often enough that its
/// receive buffer does not fill on a router that forwards many new
/// connections a second.
const OPENINGS_EVERY: Duration = Duration::from_millis(10);

/// The connections opened during a drop, as their segments with SYN set
/// show them ([`Syns`]): an end whose tuple saw one may hold a newcomer,
/// and nothing it says can be told from the newcomer's.
///
/// A newcomer's SYN passes this host before any other segment of it, and
/// the packet sockets here get each segment in the order it passes, so
/// once a segment of a newcomer has been read from a [`Wire`], reading
/// this afterwards shows its SYN.
pub(super) struct Openings {
    socket: Syns,
    /// The tuples of the ends watched, both ways.
    watched: HashSet<Key>,
    /// Those a segment with SYN set passed on.
    seen: HashSet<Key>,
    /// Segments the socket had to drop: a SYN may have gone unseen.
    lost: bool,
    read_at: Instant,
}

impl Openings {
    /// Openings on the tuples of `ends` seen on `socket`, from now on.
    pub(super) fn new<'a>(socket: Syns, ends: impl IntoIterator<Item = &'a End>) -> Openings {
        let watched = ends
            .into_iter()
            .flat_map(|e| [key(e.addr, e.peer), key(e.peer, e.addr)])
            .collect();
        Openings {
            socket,
            watched,
            seen: HashSet::new(),
            lost: false,
            read_at: Instant::now(),
        }
    }

    /// Read what the socket has seen.
    pub(super) fn update(&mut self) {
        let (watched, seen) = (&self.watched, &mut self.seen);
        self.socket.drain(|parsed| {
            let k = key(parsed.segment.src, parsed.segment.dst);
            if watched.contains(&k) {
                seen.insert(k);
            }
        });
        self.lost |= self.socket.lost() > 0;
        self.read_at = Instant::now();
    }

    /// [`Openings::update`], if the last was `every` ago or more.
    fn update_every(&mut self, every: Duration) {
        if self.read_at.elapsed() >= every {
            self.update();
        }
    }

    /// Why nothing an end of `end`'s tuple says can be trusted to be its
    /// connection's any more: a segment with SYN set passed on it, either
    /// way, or one may have passed unseen.
    pub(super) fn on(&self, end: &End) -> Option<String> {
        let opening = [(end.addr, end.peer), (end.peer, end.addr)]
            .into_iter()
            .find(|&(src, dst)| self.seen.contains(&key(src, dst)));
        if let Some((src, dst)) = opening {
            Some(format!(
                "a segment with SYN set passed from {src} to {dst}: a new connection is \
                 being opened on its tuple"
            ))
        } else if self.lost {
            Some(
                "this host's packet socket dropped segments (its receive buffer was full), \
                 so a new connection on its tuple could have gone unseen"
                    .to_string(),
            )
        } else {
            None
        }
    }
}

fn later(a: u32, b: u32) -> u32 {
    if at_or_after(b, a) {
        b
    } else {
        a
    }
}

/// Whether end `i` has said nothing yet and could be sent to.
pub(super) fn unheard(ears: &Ears, unsent: &[Option<String>], i: usize) -> bool {
    unsent.get(i).is_some_and(Option::is_none)
        && ears.heard.get(i).is_some_and(|h| !h.acked && !h.reset)
}

/// Send a probe to each end of `indices`, its sequence number drawn from
/// `base` (see [`probe_base`]), and listen for the answers. An end that
/// cannot be sent to gets its reason in `unsent`.
pub(super) fn probe_ends(
    sockets: &mut Sockets,
    ends: &[End],
    paths: &[Result<Path, String>],
    ears: &mut Ears,
    indices: &[usize],
    base: u64,
    unsent: &mut [Option<String>],
) {
    let mut sent = Vec::with_capacity(indices.len());
    for &i in indices {
        let (Some(end), Some(Ok(path))) = (ends.get(i), paths.get(i)) else {
            continue;
        };
        let seq = probe_seq(base, i);
        let probe = Segment {
            src: end.peer,
            dst: end.addr,
            seq,
            ack: seq ^ crate::spoof::PROBE_MARK,
            flags: flags::ACK,
            window: 0,
        };
        ears.sent(&probe);
        match sockets.link.send(path, &probe, &[]) {
            Ok(()) => sent.push(i),
            Err(why) => {
                if let Some(slot) = unsent.get_mut(i) {
                    *slot = Some(why);
                }
            }
        }
    }
    if !sent.is_empty() {
        ears.listen(
            &mut sockets.wire,
            &mut sockets.openings,
            &sent,
            Instant::now() + super::ANSWER_WAIT,
        );
    }
}

/// What a batch's probe sequence numbers are drawn from: it differs per
/// run. Its top bit, and so each probe's, is flipped for the second
/// probes.
pub(super) fn probe_base() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    u64::from(nanos).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The sequence number of end `i`'s probe: no window is known, so any is
/// as likely out of it as another; the top bit is `base`'s.
fn probe_seq(base: u64, i: usize) -> u32 {
    let mixed = (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33;
    ((base >> 32) as u32 & 0x8000_0000) | ((base as u32 ^ mixed as u32) & 0x7fff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(end: &End, seq: u32, ack: u32, flags: u8, payload_len: usize) -> Parsed {
        Parsed {
            segment: Segment {
                src: end.addr,
                dst: end.peer,
                seq,
                ack,
                flags,
                window: 64,
            },
            payload_len,
        }
    }

    /// After the first round, only segments at or after its numbers count:
    /// a newcomer whose numbers lie behind is not heard, and an end the
    /// first round did not hear is not listened to at all (its numbers
    /// could be anyone's). An RST counts from whoever holds the tuple.
    #[test]
    fn after_the_first_round_only_its_connection_is_heard() {
        let a = End {
            addr: "10.0.1.2:40000".parse().unwrap(),
            peer: "10.0.2.2:80".parse().unwrap(),
        };
        let b = End {
            addr: a.peer,
            peer: a.addr,
        };
        let mut ears = Ears::new(&[a, b]);
        ears.take(from(&a, 1000, 5000, flags::ACK, 0));
        ears.fix_first();
        ears.new_phase(&[0, 1]);
        // Behind the RCV.NXT the first round heard: not this connection.
        ears.take(from(&a, 1000, 4000, flags::ACK, 0));
        assert!(!ears.heard[0].acked);
        // B was not heard in the first round: nothing of it counts now.
        ears.take(from(&b, 5000, 1000, flags::ACK, 0));
        assert!(!ears.heard[1].acked && ears.heard[1].numbers.is_none());
        // Moved on: heard, numbers taken.
        ears.take(from(&a, 1000, 5100, flags::ACK, 10));
        assert!(ears.heard[0].acked);
        assert_eq!(
            ears.heard[0].numbers,
            Some(Numbers {
                snd_nxt: 1010,
                rcv_nxt: 5100
            })
        );
        ears.take(from(&b, 7, 0, flags::RST, 0));
        assert!(ears.heard[1].reset);
    }

    #[test]
    fn second_probes_are_in_the_other_half_of_the_sequence_space() {
        let base = probe_base();
        for i in 0..600 {
            let (first, second) = (probe_seq(base, i), probe_seq(base ^ (1 << 63), i));
            assert_eq!(first ^ second, 0x8000_0000, "{i}");
        }
        let seqs: HashSet<u32> = (0..600).map(|i| probe_seq(base, i)).collect();
        assert!(seqs.len() > 590, "ends get different numbers");
    }

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
