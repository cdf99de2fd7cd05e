//! A packet socket that sends whole IP packets out of a chosen interface
//! to a chosen next hop, as a neighbour on that link would have sent them:
//! how a router's segments reach the ends of the connections it forwards
//! (a raw IP socket's would pass this host's own NAT and conntrack, SPEC
//! §5).

use std::os::fd::{AsRawFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use super::segment::Segment;

/// Where a segment leaves: the interface and the next hop's link-layer
/// address, as the route and neighbour tables name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Path {
    /// The outgoing interface.
    pub ifindex: u32,
    /// The next hop's link-layer address (empty on a link without one).
    pub lladdr: Vec<u8>,
}

/// A packet socket that sends whole IP packets out of a chosen interface.
pub(crate) struct Link {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Link {
    /// Open it (`CAP_NET_RAW`: `EPERM` without). Protocol 0: it receives
    /// nothing. Only [`super::Spoof::link`] calls this, in the target's
    /// namespace.
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
    pub(crate) fn send(
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
