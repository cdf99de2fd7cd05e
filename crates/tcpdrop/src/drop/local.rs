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
use std::os::fd::{AsFd, AsRawFd};

use super::plan::{Keyed, Local};
use crate::conn::canonical_ip;
use crate::netns::Netns;

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

/// Dump the local table of the calling thread's namespace
/// ([`netlink::route::Client::local_routes`]).
fn read() -> Option<Locals> {
    let mut client = netlink::route::Client::new().ok()?;
    strict(&client);
    let mut locals = Locals::default();
    for route in client.local_routes().ok()? {
        if let Some(ip) = route.dst {
            locals.add(canonical_ip(ip), route.dst_len);
        }
    }
    Some(locals)
}

/// Ask the kernel to honour the dump's filter (table and type), so that
/// it sends only the local table; older kernels send every route, which
/// the dump filters itself.
fn strict(socket: &impl AsFd) {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we hold, with an int of its size.
    unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            SOL_NETLINK,
            NETLINK_GET_STRICT_CHK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
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

    /// A range routed here (`ip route add local NET dev lo`) is local, as
    /// far as its prefix reaches.
    #[test]
    fn a_range_routed_locally_is_local() {
        nstest::in_netns(|| {
            let added = std::process::Command::new("ip")
                .args(["route", "add", "local", "10.9.0.0/24", "dev", "lo"])
                .status()
                .unwrap();
            assert!(added.success());
            let locals = Locals::of(None).expect("the local table");
            assert!(locals.is_local("10.9.0.200".parse().unwrap()), "{locals:?}");
            assert!(!locals.is_local("10.9.1.1".parse().unwrap()), "{locals:?}");
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
