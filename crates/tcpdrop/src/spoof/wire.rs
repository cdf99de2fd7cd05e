//! The sockets `inject` and `--forwarded` send and read segments with: raw
//! sockets with the IP header included, a packet socket filtered to the
//! segments a probe can bring back ([`Wire`]), and one filtered to the
//! segments that open connections ([`Syns`]).

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{
    eth, ipproto, sockopt, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType,
};

use super::segment::{self as packet, flags, Segment};
use crate::error::Error;

/// The packet socket's receive buffer, forced past `rmem_max` when allowed.
const PACKET_RCVBUF: usize = 8 << 20;

/// The sockets segments go out and come in by.
#[derive(Debug)]
pub(crate) struct Wire {
    raw4: OwnedFd,
    /// `None` on a kernel without IPv6 (`EAFNOSUPPORT`).
    raw6: Option<OwnedFd>,
    packet: OwnedFd,
    buf: Vec<u8>,
}

impl Wire {
    /// Open the raw sockets ([`raw(7)`], `IPPROTO_RAW`) and the packet
    /// socket ([`packet(7)`], `SOCK_DGRAM`, `ETH_P_ALL`: outgoing segments
    /// too, non-blocking), the latter filtered to what `keep` says
    /// (SO_ATTACH_FILTER) before anything is sent. `EPERM` means no
    /// `CAP_NET_RAW`.
    ///
    /// [`raw(7)`]: https://man7.org/linux/man-pages/man7/raw.7.html
    /// [`packet(7)`]: https://man7.org/linux/man-pages/man7/packet.7.html
    ///
    /// Only [`super::Spoof::wire`] calls this, in the target's namespace.
    pub(super) fn open(keep: Keep) -> Result<Wire, Errno> {
        let packet = rustix::net::socket_with(
            AddressFamily::PACKET,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(eth::ALL),
        )?;
        attach_filter(&packet, keep)?;
        grow_receive_buffer(&packet);
        let raw = |family| {
            rustix::net::socket_with(
                family,
                SocketType::RAW,
                SocketFlags::CLOEXEC,
                Some(ipproto::RAW),
            )
        };
        let raw6 = match raw(AddressFamily::INET6) {
            Ok(fd) => Some(fd),
            Err(Errno::AFNOSUPPORT) => None,
            Err(errno) => return Err(errno),
        };
        let mut wire = Wire {
            raw4: raw(AddressFamily::INET)?,
            raw6,
            packet,
            buf: Vec::with_capacity(64),
        };
        // What came in before the filter was attached is anything at all.
        wire.forget();
        Ok(wire)
    }

    /// Send `segment` as an IP packet ([`sendto(2)`] on a raw socket; the
    /// destination address routes it).
    ///
    /// [`sendto(2)`]: https://man7.org/linux/man-pages/man2/sendto.2.html
    pub(crate) fn send(&mut self, segment: &Segment) -> Result<(), Error> {
        self.buf.clear();
        segment
            .write(&mut self.buf)
            .ok_or_else(|| Error::InvalidArgument("a segment between two families".into()))?;
        let sent = match packet::wire_ip(segment.dst.ip()) {
            IpAddr::V4(v4) => rustix::net::sendto(
                &self.raw4,
                &self.buf,
                SendFlags::empty(),
                &SocketAddrV4::new(v4, 0),
            ),
            IpAddr::V6(v6) => {
                let scope = match segment.dst {
                    SocketAddr::V6(d) => d.scope_id(),
                    SocketAddr::V4(_) => 0,
                };
                let Some(raw6) = &self.raw6 else {
                    return Err(Error::NotAborted(
                        "this kernel has no IPv6 (raw IPv6 sockets: EAFNOSUPPORT)".into(),
                    ));
                };
                rustix::net::sendto(
                    raw6,
                    &self.buf,
                    SendFlags::empty(),
                    &SocketAddrV6::new(v6, 0, 0, scope),
                )
            }
        };
        sent.map(|_| ()).map_err(|errno| Error::Io(errno.into()))
    }

    /// The next segment the packet socket saw before `deadline` ([`recv(2)`],
    /// then [`poll(2)`] for the time left). A deadline already past reads
    /// only what has come in; [`Wire::forget`] reads it all away.
    ///
    /// [`recv(2)`]: https://man7.org/linux/man-pages/man2/recv.2.html
    /// [`poll(2)`]: https://man7.org/linux/man-pages/man2/poll.2.html
    pub(crate) fn next(&mut self, deadline: Instant) -> Option<packet::Parsed> {
        let mut buf = [0u8; 128];
        loop {
            match rustix::net::recv(&self.packet, &mut buf, RecvFlags::empty()) {
                Ok((_, len)) => {
                    if let Some(parsed) = buf.get(..len.min(buf.len())).and_then(packet::parse) {
                        return Some(parsed);
                    }
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    if left.is_zero() {
                        return None;
                    }
                    let timeout = rustix::time::Timespec {
                        tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                        tv_nsec: i64::from(left.subsec_nanos()),
                    };
                    let mut fds = [PollFd::new(&self.packet, PollFlags::IN)];
                    match rustix::event::poll(&mut fds, Some(&timeout)) {
                        Ok(_) | Err(Errno::INTR) => {}
                        Err(_) => return None,
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Read away whatever has come in (kept between two uses, a wire has
    /// seen the end of the first).
    pub(crate) fn forget(&mut self) {
        let now = Instant::now();
        while self.next(now).is_some() {}
    }
}

/// A packet socket that sees every segment with SYN set that this network
/// namespace receives, sends or forwards, from when it is opened: a new
/// connection on a tuple shows itself by one before anything else of it
/// passes.
pub(crate) struct Syns {
    packet: OwnedFd,
}

impl Syns {
    /// Open it ([`packet(7)`], `ETH_P_ALL`, filtered to segments with SYN
    /// set). `EPERM` means no `CAP_NET_RAW`. Only [`super::Spoof::syns`]
    /// calls this, in the target's namespace.
    ///
    /// [`packet(7)`]: https://man7.org/linux/man-pages/man7/packet.7.html
    pub(super) fn open() -> Result<Syns, Errno> {
        let packet = rustix::net::socket_with(
            AddressFamily::PACKET,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(eth::ALL),
        )?;
        attach_filter(&packet, Keep::Syns)?;
        grow_receive_buffer(&packet);
        let mut syns = Syns { packet };
        // What came in before the filter was attached is anything at all.
        syns.drain(|_| {});
        syns.lost();
        Ok(syns)
    }

    /// Hand each segment with SYN set seen since the last call to `each`.
    pub(crate) fn drain(&mut self, mut each: impl FnMut(packet::Parsed)) {
        let mut buf = [0u8; 128];
        loop {
            match rustix::net::recv(&self.packet, &mut buf, RecvFlags::empty()) {
                Ok((_, len)) => {
                    if let Some(parsed) = buf.get(..len.min(buf.len())).and_then(packet::parse) {
                        if parsed.segment.flags & flags::SYN != 0 {
                            each(parsed);
                        }
                    }
                }
                Err(Errno::INTR) => {}
                Err(_) => return,
            }
        }
    }

    /// How many segments the socket has had to drop since the last call,
    /// its receive buffer full ([`packet(7)`]: `PACKET_STATISTICS`, whose
    /// counters reset when read); `u32::MAX` when that cannot be read.
    ///
    /// [`packet(7)`]: https://man7.org/linux/man-pages/man7/packet.7.html
    pub(crate) fn lost(&mut self) -> u32 {
        let mut stats = libc::tpacket_stats {
            tp_packets: 0,
            tp_drops: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
        // SAFETY: getsockopt(2) writes at most `len` bytes into `stats`,
        // alive for the call.
        let rc = unsafe {
            libc::getsockopt(
                self.packet.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut stats as *mut libc::tpacket_stats).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            stats.tp_drops
        } else {
            u32::MAX
        }
    }
}

/// Which segments a filtered packet socket keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keep {
    /// What an end answers a probe with: among FIN, SYN, RST and ACK, ACK
    /// alone; and RSTs (a peer's answer to that answer, or a closed end's).
    Answers,
    /// [`Keep::Answers`] of local sockets, without the copies of what this
    /// host sends: on loopback (where every segment is seen going out and
    /// coming in again) the outgoing copy; our probes (`ack` is `seq ^`
    /// [`super::PROBE_MARK`]) and our RSTs (window [`super::RST_MARK`]).
    /// An answer that happened to carry either mark (odds of 2^-32 and
    /// 2^-16) would be missed: its socket is then failed, never touched.
    Replies,
    /// Segments with SYN set: connections being opened.
    Syns,
}

impl Keep {
    /// Keep a segment when `flags & mask == equal`, or `flags & any != 0`
    /// (`any` is a part of `mask`).
    fn test(self) -> (u32, u32, u32) {
        match self {
            Keep::Answers | Keep::Replies => (
                u32::from(flags::FIN | flags::SYN | flags::RST | flags::ACK),
                u32::from(flags::ACK),
                u32::from(flags::RST),
            ),
            Keep::Syns => (u32::from(flags::SYN), u32::from(flags::SYN), 0),
        }
    }
}

/// Force the receive buffer of `packet` past `rmem_max` when allowed
/// (`CAP_NET_ADMIN`), else ask for as much as `rmem_max` gives.
fn grow_receive_buffer(packet: &OwnedFd) {
    if sockopt::set_socket_recv_buffer_size_force(packet, PACKET_RCVBUF).is_err() {
        let _ = sockopt::set_socket_recv_buffer_size(packet, PACKET_RCVBUF);
    }
}

/// The classic BPF instructions the filters use.
mod op {
    pub const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    pub const LD_H_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    pub const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    pub const LD_W_IND: u16 = 0x40; // BPF_LD | BPF_W | BPF_IND
    pub const LD_H_IND: u16 = 0x48; // BPF_LD | BPF_H | BPF_IND
    pub const LD_B_IND: u16 = 0x50; // BPF_LD | BPF_B | BPF_IND
    pub const LDX_IMM: u16 = 0x01; // BPF_LDX | BPF_W | BPF_IMM
    pub const LDX_MEM: u16 = 0x61; // BPF_LDX | BPF_W | BPF_MEM
    pub const LDX_MSH: u16 = 0xb1; // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (P[k] & 0xf)
    pub const ST: u16 = 0x02; // BPF_ST: M[k] = A
    pub const RSH_K: u16 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
    pub const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
    pub const XOR_X: u16 = 0xac; // BPF_ALU | BPF_XOR | BPF_X
    pub const JA: u16 = 0x05; // BPF_JMP | BPF_JA
    pub const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    pub const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    pub const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    /// The ancillary loads ([`SKF_AD_OFF`] + n): the packet's type...
    ///
    /// [`SKF_AD_OFF`]: https://www.kernel.org/doc/html/latest/networking/filter.html
    pub const PKTTYPE: u32 = 0xffff_f000 + 4;
    /// ... and its device's index.
    pub const IFINDEX: u32 = 0xffff_f000 + 8;
}

/// Where a jump of a filter goes: on, or to a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum To {
    Next,
    Ipv4,
    Ipv6,
    Tcp,
    Ack,
    Rst,
    Keep,
    Drop,
}

/// A classic BPF program written with labels, which [`Program::resolve`]
/// turns into the forward offsets the kernel takes.
#[derive(Default)]
struct Program {
    ops: Vec<(u16, To, To, u32)>,
    labels: Vec<(To, usize)>,
}

impl Program {
    fn op(&mut self, code: u16, k: u32) {
        self.ops.push((code, To::Next, To::Next, k));
    }

    fn jump(&mut self, code: u16, k: u32, yes: To, no: To) {
        self.ops.push((code, yes, no, k));
    }

    fn label(&mut self, at: To) {
        self.labels.push((at, self.ops.len()));
    }

    /// The instructions, each jump's labels as offsets.
    fn resolve(self) -> Option<Vec<libc::sock_filter>> {
        let labels = self.labels;
        let offset = |from: usize, to: To| -> Option<u32> {
            let at = match to {
                To::Next => from + 1,
                label => labels.iter().find(|(l, _)| *l == label)?.1,
            };
            u32::try_from(at.checked_sub(from + 1)?).ok()
        };
        self.ops
            .iter()
            .enumerate()
            .map(|(i, &(code, yes, no, k))| {
                let (jt, jf, k) = if code == op::JA {
                    (0, 0, offset(i, yes)?)
                } else {
                    (
                        u8::try_from(offset(i, yes)?).ok()?,
                        u8::try_from(offset(i, no)?).ok()?,
                        k,
                    )
                };
                Some(libc::sock_filter { code, jt, jf, k })
            })
            .collect()
    }
}

/// The filter for `keep`: TCP segments, IPv4 unfragmented or IPv6 without
/// extension headers, cut to 128 bytes. The packet socket is `SOCK_DGRAM`,
/// so the program sees the packet from its IP header.
fn program(keep: Keep) -> Option<Vec<libc::sock_filter>> {
    use op::*;
    let mut p = Program::default();
    if keep == Keep::Replies {
        // Loopback's outgoing copy: the same segment comes in next.
        p.op(LD_W_ABS, PKTTYPE);
        p.jump(JEQ_K, u32::from(libc::PACKET_OUTGOING), To::Next, To::Ipv4);
        p.op(LD_W_ABS, IFINDEX);
        p.jump(JEQ_K, 1, To::Drop, To::Ipv4);
    }
    p.label(To::Ipv4);
    p.op(LD_B_ABS, 0); // version
    p.op(RSH_K, 4);
    p.jump(JEQ_K, 4, To::Next, To::Ipv6);
    p.op(LD_B_ABS, 9); // protocol
    p.jump(JEQ_K, 6, To::Next, To::Drop);
    p.op(LD_H_ABS, 6); // flags, fragment offset
    p.jump(JSET_K, 0x3fff, To::Drop, To::Next);
    p.op(LDX_MSH, 0); // X = the IP header's length
    p.jump(JA, 0, To::Tcp, To::Tcp);
    p.label(To::Ipv6);
    p.jump(JEQ_K, 6, To::Next, To::Drop);
    p.op(LD_B_ABS, 6); // next header
    p.jump(JEQ_K, 6, To::Next, To::Drop);
    p.op(LDX_IMM, 40);
    p.label(To::Tcp);
    let (mask, equal, any) = keep.test();
    let (on_equal, on_any) = match keep {
        Keep::Replies => (To::Ack, To::Rst),
        Keep::Answers | Keep::Syns => (To::Keep, To::Keep),
    };
    p.op(LD_B_IND, 13); // TCP flags
    p.op(AND_K, mask);
    p.jump(JEQ_K, equal, on_equal, To::Next);
    p.jump(JSET_K, any, on_any, To::Drop);
    if keep == Keep::Replies {
        // A bare ACK: one of our probes when ack = seq ^ PROBE_MARK.
        p.label(To::Ack);
        p.op(LD_W_IND, 8); // ack
        p.op(ST, 0);
        p.op(LD_W_IND, 4); // seq
        p.op(LDX_MEM, 0);
        p.op(XOR_X, 0);
        p.jump(JEQ_K, super::PROBE_MARK, To::Drop, To::Keep);
        // An RST: one of ours when its window is RST_MARK.
        p.label(To::Rst);
        p.op(LD_H_IND, 14); // window
        p.jump(JEQ_K, u32::from(super::RST_MARK), To::Drop, To::Keep);
    }
    p.label(To::Keep);
    p.op(RET_K, 128);
    p.label(To::Drop);
    p.op(RET_K, 0);
    p.resolve()
}

/// Attach the classic BPF program that keeps what `keep` says
/// ([`SO_ATTACH_FILTER`]).
///
/// [`SO_ATTACH_FILTER`]: https://www.kernel.org/doc/html/latest/networking/filter.html
fn attach_filter(fd: &OwnedFd, keep: Keep) -> Result<(), Errno> {
    let program = program(keep).ok_or(Errno::INVAL)?;
    let prog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| Errno::INVAL)?,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: setsockopt(2) reads a sock_fprog whose filter points at
    // `program`, alive for the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spoof::{Spoof, PROBE_MARK, RST_MARK};
    use std::io::{Read, Write};
    use std::time::Duration;

    /// What `wire` reads in `wait`.
    fn heard(wire: &mut Wire, wait: Duration) -> Vec<Segment> {
        let deadline = Instant::now() + wait;
        std::iter::from_fn(|| wire.next(deadline))
            .map(|p| p.segment)
            .collect()
    }

    /// Inject's filter on loopback, in both families: a probe marked as
    /// ours is not read, nor the outgoing copy of the socket's answer,
    /// which is read once; an RST marked as ours is not read; an ACK not
    /// marked as a probe is, and so is the kernel's RST in answer to it.
    #[test]
    fn replies_are_read_once_and_our_own_segments_not_at_all() {
        for (listen_on, nowhere) in [("127.0.0.1:0", "127.0.0.1:9"), ("[::1]:0", "[::1]:9")] {
            nstest::in_netns(|| {
                let netns = crate::netns::Netns::current().unwrap();
                let mut wire = Spoof::new(Some(&netns))
                    .wire(Keep::Replies, "a test")
                    .unwrap();
                let listener = std::net::TcpListener::bind(listen_on).unwrap();
                let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let _server = listener.accept().unwrap();
                let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
                std::thread::sleep(Duration::from_millis(20));
                // The handshake's last ACK (once).
                assert_eq!(heard(&mut wire, Duration::ZERO).len(), 1);
                let seq = 0x1234_5678;
                let probe = |ack| Segment {
                    src: remote,
                    dst: local,
                    seq,
                    ack,
                    flags: flags::ACK,
                    window: 0,
                };
                wire.send(&probe(seq ^ PROBE_MARK)).unwrap();
                let seen = heard(&mut wire, Duration::from_millis(50));
                assert_eq!(seen.len(), 1, "{seen:?}");
                assert_eq!(
                    (seen[0].src, seen[0].dst, seen[0].flags),
                    (local, remote, flags::ACK)
                );

                let nowhere: SocketAddr = nowhere.parse().unwrap();
                let ours = Segment {
                    src: remote,
                    dst: nowhere,
                    seq,
                    ack: 1,
                    flags: flags::RST | flags::ACK,
                    window: RST_MARK,
                };
                wire.send(&ours).unwrap();
                assert!(heard(&mut wire, Duration::from_millis(20)).is_empty());
                let unmarked = Segment {
                    dst: nowhere,
                    ..probe(seq ^ 1)
                };
                wire.send(&unmarked).unwrap();
                let seen = heard(&mut wire, Duration::from_millis(50));
                let flags: Vec<u8> = seen.iter().map(|s| s.flags).collect();
                assert_eq!(flags, [flags::ACK, flags::RST], "{seen:?}");
                assert_eq!(seen[1].src, nowhere);
            });
        }
    }

    /// The SYN and SYN-ACK of a connection opened after the socket are
    /// seen, in that order; the connection's other segments, data and ACKs
    /// and FINs, are not.
    #[test]
    fn syns_sees_a_connection_open_and_nothing_else_of_it() {
        nstest::in_netns(|| {
            let netns = crate::netns::Netns::current().unwrap();
            let mut syns = Spoof::new(Some(&netns)).syns("a test").unwrap();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            client.write_all(b"x").unwrap();
            let mut byte = [0u8; 1];
            server.read_exact(&mut byte).unwrap();
            drop((client, server));
            std::thread::sleep(Duration::from_millis(50));
            let mut seen = Vec::new();
            syns.drain(|p| seen.push(p.segment));
            // Loopback: each segment is seen going out and coming in.
            let flags: Vec<u8> = seen.iter().map(|s| s.flags).collect();
            assert_eq!(
                flags,
                [
                    flags::SYN,
                    flags::SYN,
                    flags::SYN | flags::ACK,
                    flags::SYN | flags::ACK
                ],
                "{seen:?}"
            );
            assert_eq!(syns.lost(), 0);
        });
    }
}
