//! The sockets `inject` and `--forwarded` send and read segments with: raw
//! sockets with the IP header included, a packet socket filtered to the
//! segments a probe can bring back ([`Wire`]), and one filtered to the
//! segments that open connections ([`Syns`]).

use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{
    eth, ipproto, sockopt, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType,
};

use super::segment::{self as packet, flags, Segment};
use crate::error::Error;

/// The packet socket's receive buffer, forced past `rmem_max` when allowed.
const PACKET_RCVBUF: usize = 8 << 20;

/// The sockets segments go out and come in by.
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
    /// too), the latter filtered to bare ACKs (SO_ATTACH_FILTER) before
    /// anything is sent. `EPERM` means no `CAP_NET_RAW`.
    ///
    /// [`raw(7)`]: https://man7.org/linux/man-pages/man7/raw.7.html
    /// [`packet(7)`]: https://man7.org/linux/man-pages/man7/packet.7.html
    ///
    /// Only [`super::Spoof::wire`] calls this, in the target's namespace.
    pub(super) fn open() -> Result<Wire, Errno> {
        let packet = rustix::net::socket_with(
            AddressFamily::PACKET,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(eth::ALL),
        )?;
        attach_filter(&packet, Keep::Answers)?;
        grow_receive_buffer(&packet);
        sockopt::set_socket_timeout(
            &packet,
            sockopt::Timeout::Recv,
            Some(Duration::from_millis(5)),
        )?;
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
        Ok(Wire {
            raw4: raw(AddressFamily::INET)?,
            raw6,
            packet,
            buf: Vec::with_capacity(64),
        })
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

    /// The next segment the packet socket saw before `deadline` ([`recv(2)`]).
    ///
    /// [`recv(2)`]: https://man7.org/linux/man-pages/man2/recv.2.html
    pub(crate) fn next(&mut self, deadline: Instant) -> Option<packet::Parsed> {
        let mut buf = [0u8; 128];
        while Instant::now() < deadline {
            match rustix::net::recv(&self.packet, &mut buf, RecvFlags::empty()) {
                Ok((_, len)) => {
                    if let Some(parsed) = buf.get(..len.min(buf.len())).and_then(packet::parse) {
                        return Some(parsed);
                    }
                }
                Err(Errno::AGAIN | Errno::INTR) => {}
                Err(_) => return None,
            }
        }
        None
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

/// Which segments a filtered packet socket keeps, by their TCP flags.
#[derive(Clone, Copy, Debug)]
enum Keep {
    /// What a socket answers a probe with: among FIN, SYN, RST and ACK, ACK
    /// alone; and RSTs (a peer's answer to that answer, or a closed end's).
    Answers,
    /// Segments with SYN set: connections being opened.
    Syns,
}

impl Keep {
    /// Keep a segment when `flags & mask == equal`, or `flags & any != 0`
    /// (`any` is a part of `mask`).
    fn test(self) -> (u32, u32, u32) {
        match self {
            Keep::Answers => (
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

/// Attach a classic BPF program ([`SO_ATTACH_FILTER`]) that keeps the TCP
/// segments `keep` says, IPv4 unfragmented or IPv6 without extension
/// headers, cut to 128 bytes. The packet socket is `SOCK_DGRAM`, so the
/// program sees the packet from its IP header.
///
/// [`SO_ATTACH_FILTER`]: https://www.kernel.org/doc/html/latest/networking/filter.html
fn attach_filter(fd: &OwnedFd, keep: Keep) -> Result<(), Errno> {
    const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const LD_H_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
    const LD_B_IND: u16 = 0x50; // BPF_LD | BPF_B | BPF_IND
    const LDX_MSH: u16 = 0xb1; // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (P[k] & 0xf)
    const RSH_K: u16 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
    const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let (mask, equal, any) = keep.test();
    let program = [
        /* 0 */ op(LD_B_ABS, 0, 0, 0), // version
        /* 1 */ op(RSH_K, 0, 0, 4),
        /* 2 */ op(JEQ_K, 0, 7, 4), // IPv4? else 10
        /* 3 */ op(LD_B_ABS, 0, 0, 9), // protocol
        /* 4 */ op(JEQ_K, 0, 13, 6), // TCP? else drop (18)
        /* 5 */ op(LD_H_ABS, 0, 0, 6), // flags, fragment offset
        /* 6 */ op(JSET_K, 11, 0, 0x3fff), // a fragment: drop
        /* 7 */ op(LDX_MSH, 0, 0, 0), // X = IP header length
        /* 8 */ op(LD_B_IND, 0, 0, 13), // TCP flags
        /* 9 */ op(JEQ_K, 4, 4, 0xffff_ffff), // to 14
        /* 10 */ op(JEQ_K, 0, 7, 6), // IPv6? else drop
        /* 11 */ op(LD_B_ABS, 0, 0, 6), // next header
        /* 12 */ op(JEQ_K, 0, 5, 6), // TCP? else drop
        /* 13 */ op(LD_B_ABS, 0, 0, 53), // TCP flags (40 + 13)
        /* 14 */ op(AND_K, 0, 0, mask),
        /* 15 */ op(JEQ_K, 1, 0, equal), // to 17
        /* 16 */ op(JSET_K, 0, 1, any), // else 18
        /* 17 */ op(RET_K, 0, 0, 128),
        /* 18 */ op(RET_K, 0, 0, 0),
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
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
    use crate::spoof::Spoof;
    use std::io::{Read, Write};

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
