//! Which addresses are this namespace's own: the other end of a
//! connection can be here (a loopback peer, which a drop reports when its
//! reset closes it) only if the connection's remote address is local.
//!
//! Local means what the kernel delivers here: the `RTN_LOCAL` routes of
//! the `local` routing table (`ip route show table local`): each
//! interface's addresses, all of `127.0.0.0/8`, and ranges routed locally
//! (`ip route add local 10.9.0.0/24 dev lo`, which `getifaddrs` would
//! miss). One dump of that table, asked for with strict checking so that
//! the kernel sends only it (a router's main table may be large).

use std::collections::HashSet;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use super::plan::{Keyed, Local};
use crate::conn::canonical_ip;
use crate::netns::Netns;

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const RTA_DST: u16 = 1;
const RTA_TABLE: u16 = 15;
const RT_TABLE_LOCAL: u8 = 255;
const RTN_LOCAL: u8 = 2;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// `SOL_NETLINK` and `NETLINK_GET_STRICT_CHK` (`linux/netlink.h`).
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_GET_STRICT_CHK: libc::c_int = 12;

/// This namespace's local addresses and ranges.
#[derive(Debug, Default)]
pub(crate) struct Locals {
    /// Single addresses (`/32`, `/128`).
    hosts: HashSet<IpAddr, Keyed>,
    /// Ranges: address and prefix length.
    ranges: Vec<(IpAddr, u8)>,
}

/// Every address counts as local (where the table could not be read: a
/// drop then waits for every target's other end).
pub(crate) struct Anywhere;

impl Local for Anywhere {
    fn is_local(&self, _: IpAddr) -> bool {
        true
    }
}

impl Local for Locals {
    fn is_local(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        // A loopback address is routed here whenever a socket can use it.
        ip.is_loopback()
            || self.hosts.contains(&ip)
            || self.ranges.iter().any(|(net, len)| within(ip, *net, *len))
    }
}

/// Whether `ip` is in `net/len`.
fn within(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

impl Locals {
    /// The local addresses of `netns` (the calling thread's namespace when
    /// `None`), or `None` if they could not be read.
    pub(crate) fn of(netns: Option<&Netns>) -> Option<Locals> {
        match netns {
            Some(netns) => netns.run(read).ok().flatten(),
            None => read(),
        }
    }

    fn add(&mut self, ip: IpAddr, len: u8) {
        let host = match ip {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if len >= host {
            self.hosts.insert(ip);
        } else {
            self.ranges.push((ip, len));
        }
    }
}

/// Dump the local table of the calling thread's namespace.
fn read() -> Option<Locals> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        // NETLINK_ROUTE is protocol 0.
        None,
    )
    .ok()?;
    strict(&fd);
    let mut locals = Locals::default();
    for (seq, family) in [(1u32, AF_INET), (2, AF_INET6)] {
        dump(&fd, seq, family, &mut locals)?;
    }
    Some(locals)
}

/// Ask the kernel to honour the dump's filter (table and type), so that
/// it sends only the local table; older kernels send every route, which
/// [`dump`] filters itself.
fn strict(fd: &OwnedFd) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with an int of its size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            SOL_NETLINK,
            NETLINK_GET_STRICT_CHK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// One `RTM_GETROUTE` dump of `family`'s local table into `locals`.
fn dump(fd: &OwnedFd, seq: u32, family: u8, locals: &mut Locals) -> Option<()> {
    let mut request = Vec::with_capacity(28);
    request.extend_from_slice(&28u32.to_ne_bytes());
    request.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
    request.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request.extend_from_slice(&seq.to_ne_bytes());
    request.extend_from_slice(&0u32.to_ne_bytes());
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
    // type, flags.
    request.extend_from_slice(&[family, 0, 0, 0, RT_TABLE_LOCAL, 0, 0, RTN_LOCAL]);
    request.extend_from_slice(&0u32.to_ne_bytes());
    let kernel = rustix::net::netlink::SocketAddrNetlink::new(0, 0);
    rustix::net::sendto(fd, &request, SendFlags::empty(), &kernel).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let (_, got) = rustix::net::recv(fd, &mut buf, RecvFlags::empty()).ok()?;
        let mut rest = buf.get(..got)?;
        while rest.len() >= 16 {
            let word = |at: usize| -> Option<u32> {
                Some(u32::from_ne_bytes(rest.get(at..at + 4)?.try_into().ok()?))
            };
            let len = word(0)? as usize;
            let kind = u16::from_ne_bytes(rest.get(4..6)?.try_into().ok()?);
            let msg_seq = word(8)?;
            let message = rest.get(16..len)?;
            rest = rest.get(len.checked_add(3)? & !3..).unwrap_or_default();
            if msg_seq != seq {
                continue;
            }
            match kind {
                NLMSG_DONE => return Some(()),
                // An error (errno is not 0): the table cannot be read.
                NLMSG_ERROR => {
                    let errno = i32::from_ne_bytes(message.get(..4)?.try_into().ok()?);
                    if errno != 0 {
                        return None;
                    }
                }
                RTM_NEWROUTE => route(message, locals),
                _ => {}
            }
        }
    }
}

/// One route: if it is a local one of the local table, its destination.
fn route(message: &[u8], locals: &mut Locals) {
    let Some(&[family, dst_len, _, _, table, _, _, kind]) = message.get(..8) else {
        return;
    };
    let mut table = u32::from(table);
    let mut dst = None;
    let mut attrs = message.get(12..).unwrap_or_default();
    while attrs.len() >= 4 {
        let Some(&[l0, l1, k0, k1]) = attrs.get(..4) else {
            break;
        };
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        let kind = u16::from_ne_bytes([k0, k1]);
        let Some(data) = attrs.get(4..len) else {
            break;
        };
        match kind {
            RTA_TABLE => {
                if let Ok(raw) = <[u8; 4]>::try_from(data) {
                    table = u32::from_ne_bytes(raw);
                }
            }
            RTA_DST => dst = Some(data),
            _ => {}
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or_default();
    }
    if kind != RTN_LOCAL || table != u32::from(RT_TABLE_LOCAL) {
        return;
    }
    let ip = match (family, dst) {
        (AF_INET, Some(d)) => <[u8; 4]>::try_from(d).ok().map(IpAddr::from),
        (AF_INET6, Some(d)) => <[u8; 16]>::try_from(d).ok().map(IpAddr::from),
        _ => None,
    };
    if let Some(ip) = ip {
        locals.add(canonical_ip(ip), dst_len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_the_namespace_addresses_are_local_others_not() {
        nstest::in_netns(|| {
            let locals = Locals::of(None).expect("the local table");
            for ip in ["127.0.0.1", "127.0.1.7", "127.255.255.254", "::1"] {
                assert!(locals.is_local(ip.parse().unwrap()), "{ip}: {locals:?}");
            }
            for ip in ["10.1.2.3", "192.0.2.1", "2001:db8::1", "::ffff:10.1.2.3"] {
                assert!(!locals.is_local(ip.parse().unwrap()), "{ip}: {locals:?}");
            }
            assert!(locals.is_local("::ffff:127.0.0.1".parse().unwrap()));
        });
    }

    #[test]
    fn prefixes_contain_what_they_should() {
        let net: IpAddr = "10.9.0.0".parse().unwrap();
        assert!(within("10.9.0.200".parse().unwrap(), net, 24));
        assert!(!within("10.9.1.0".parse().unwrap(), net, 24));
        assert!(within("1.2.3.4".parse().unwrap(), net, 0));
        let net6: IpAddr = "fe80::".parse().unwrap();
        assert!(within("fe80::1".parse().unwrap(), net6, 64));
        assert!(!within("fe81::1".parse().unwrap(), net6, 64));
        assert!(!within("10.9.0.1".parse().unwrap(), net6, 0));
    }
}
