//! Sending segments to the ends of forwarded connections, and hearing
//! what they answer.
//!
//! Segments go out on a packet socket ([`packet(7)`], `SOCK_DGRAM`) to the
//! interface and next hop of the route to their destination
//! ([`super::route`]), as the end's peer would have sent them. Answers are
//! read on `inject`'s filtered packet socket ([`Wire`]), which sees every
//! segment this host forwards, ours going out included. Each segment is
//! matched to an end by its addresses: from the end (its answer: `seq` is
//! its SND.NXT, `ack` its RCV.NXT; or an RST: it has no such connection)
//! or, with data, toward it (`seq` + length is what it will expect next).
//! Our own segments, seen on their way out, are recognised and skipped.
//!
//! [`packet(7)`]: https://man7.org/linux/man-pages/man7/packet.7.html

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::flows::End;
use super::route::Path;
use crate::abort::inject::wire::Wire;
use crate::abort::packet::{flags, Parsed, Segment};
use crate::conn::canonical_ip;

/// How long to go on listening once every end waited for has been heard:
/// an end's RST may follow a segment of its that was already on the way.
const GRACE: Duration = Duration::from_millis(2);

/// A packet socket that sends whole IP packets out of a chosen interface.
pub(super) struct Link {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Link {
    /// Open it (`CAP_NET_RAW`: `EPERM` without). Protocol 0: it receives
    /// nothing.
    pub(super) fn open() -> Result<Link, Errno> {
        let fd = rustix::net::socket_with(
            AddressFamily::PACKET,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        Ok(Link {
            fd,
            buf: Vec::with_capacity(128),
        })
    }

    /// Send `segment` with `payload` out of `path`'s interface to its next
    /// hop ([`sendto(2)`] with a `sockaddr_ll`; the kernel adds the link
    /// header).
    ///
    /// [`sendto(2)`]: https://man7.org/linux/man-pages/man2/sendto.2.html
    pub(super) fn send(
        &mut self,
        path: &Path,
        segment: &Segment,
        payload: &[u8],
    ) -> Result<(), String> {
        self.buf.clear();
        segment
            .write_with(payload, &mut self.buf)
            .ok_or_else(|| "a segment between two address families".to_string())?;
        let ethertype: u16 = match self.buf.first().map(|b| b >> 4) {
            Some(6) => 0x86dd,
            _ => 0x0800,
        };
        let mut lladdr = [0u8; 8];
        for (slot, byte) in lladdr.iter_mut().zip(&path.lladdr) {
            *slot = *byte;
        }
        let addr = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: ethertype.to_be(),
            sll_ifindex: i32::try_from(path.ifindex).unwrap_or(0),
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: path.lladdr.len().min(8) as u8,
            sll_addr: lladdr,
        };
        // SAFETY: the buffer and the sockaddr_ll are alive for the call,
        // and their lengths are the ones passed.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                self.buf.as_ptr().cast(),
                self.buf.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(format!(
                "sending on interface index {}: {}",
                path.ifindex,
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    }
}

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
