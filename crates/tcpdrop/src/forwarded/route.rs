//! Where a segment to one end of a forwarded connection leaves this host:
//! the interface the kernel's route to that end names, and the link-layer
//! address of its next hop ([`rtnetlink(7)`]: `RTM_GETROUTE` for the
//! route, an `RTM_GETNEIGH` dump for the neighbour, and `RTM_NEWNEIGH`
//! with `NTF_USE` to have the kernel resolve a neighbour it has no entry
//! for).
//!
//! The segments are sent on a packet socket to that interface, so they
//! never enter this host's IP stack: the router's connection tracking and
//! NAT do not see them, and neither `rp_filter` nor `accept_local` is
//! consulted, as no packet with a spoofed source is ever received here.
//! Under masquerade a raw IP socket's probe goes unanswered where the
//! packet socket's is answered (the test in `forwarded/mod.rs`): it passes
//! the router's own `OUTPUT` and `POSTROUTING` hooks as a new flow on a
//! tuple the NAT entry holds.
//!
//! [`rtnetlink(7)`]: https://man7.org/linux/man-pages/man7/rtnetlink.7.html

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{netlink, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::Error;

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTM_NEWNEIGH: u16 = 28;
const RTM_GETNEIGH: u16 = 30;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
/// `ndm_flags`: use the entry as a packet would, starting resolution.
const NTF_USE: u8 = 0x01;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_VIA: u16 = 18;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
/// `rtm_type` of a route to an address of this host.
const RTN_LOCAL: u8 = 2;
/// Neighbour states without a usable link-layer address.
const NUD_INCOMPLETE: u16 = 0x01;
const NUD_FAILED: u16 = 0x20;
/// How long address resolution of a next hop is waited for.
const RESOLVE_WAIT: Duration = Duration::from_millis(1000);
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

pub(crate) use crate::spoof::link::Path;

/// Routes and neighbours of the calling thread's network namespace,
/// looked up once per address.
pub(crate) struct Routes {
    fd: OwnedFd,
    seq: u32,
    paths: HashMap<IpAddr, Result<Path, String>>,
    /// Whether each address looked up is this host's, by its route.
    locals: HashMap<IpAddr, bool>,
    neighbours: Option<Vec<Neighbour>>,
}

/// Why a route leads nowhere a segment could be sent.
enum Route {
    /// It is a local one: the address is this host's.
    Local,
    /// There is none, or it names no interface: why, in words.
    None(String),
}

/// One entry of the neighbour table.
struct Neighbour {
    ifindex: u32,
    ip: IpAddr,
    /// `NUD_*` bits.
    state: u16,
    lladdr: Vec<u8>,
}

impl Routes {
    /// A `NETLINK_ROUTE` socket ([`netlink(7)`]); asking needs no privilege.
    ///
    /// [`netlink(7)`]: https://man7.org/linux/man-pages/man7/netlink.7.html
    pub(crate) fn new() -> Result<Routes, Error> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            // NETLINK_ROUTE is protocol 0.
            None,
        )
        .map_err(|e| Error::Io(e.into()))?;
        rustix::net::sockopt::set_socket_timeout(
            &fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(Duration::from_secs(2)),
        )
        .map_err(|e| Error::Io(e.into()))?;
        Ok(Routes {
            fd,
            seq: 0,
            paths: HashMap::new(),
            locals: HashMap::new(),
            neighbours: None,
        })
    }

    /// Forget the routes and neighbours looked up so far (they change: a
    /// drop looks them up afresh).
    pub(crate) fn forget(&mut self) {
        self.paths.clear();
        self.locals.clear();
        self.neighbours = None;
    }

    /// Whether `ip` is an address of this host: the kernel's route to it
    /// is a local one (`RTN_LOCAL`), as for an interface's address and for
    /// every address of a local route (`ip route add local 10.9.0.0/24 dev
    /// lo`, which `getifaddrs` does not show). A segment to it would be
    /// delivered here, not forwarded. Asks nothing of the neighbours and
    /// sends nothing.
    pub(crate) fn is_local(&mut self, ip: IpAddr) -> bool {
        let ip = crate::conn::canonical_ip(ip);
        if let Some(&known) = self.locals.get(&ip) {
            return known;
        }
        let local = ip.is_loopback() || matches!(self.route(ip), Err(Route::Local));
        self.locals.insert(ip, local);
        local
    }

    /// The path to `to`, or why there is none (in words).
    pub(crate) fn path(&mut self, to: IpAddr) -> Result<Path, String> {
        if let Some(known) = self.paths.get(&to) {
            return known.clone();
        }
        let path = self.look_up(to);
        self.paths.insert(to, path.clone());
        path
    }

    fn look_up(&mut self, to: IpAddr) -> Result<Path, String> {
        let (ifindex, next_hop) = self.route(to).map_err(|e| match e {
            Route::Local => format!(
                "{to} is an address of this host: a connection to it is not forwarded \
                 (drop it without --forwarded)"
            ),
            Route::None(why) => why,
        })?;
        if let Some(lladdr) = self.lladdr(ifindex, next_hop)? {
            return Ok(Path { ifindex, lladdr });
        }
        // No entry (the table's garbage collector removes idle ones when it
        // holds many), or a failed one: have the kernel resolve it, as it
        // would for a packet of its own, and wait for the answer.
        self.resolve(ifindex, next_hop)
            .map_err(|e| format!("resolving the next hop {next_hop} toward {to}: {e}"))?;
        let deadline = Instant::now() + RESOLVE_WAIT;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            self.neighbours = None;
            if let Some(lladdr) = self.lladdr(ifindex, next_hop)? {
                return Ok(Path { ifindex, lladdr });
            }
        }
        Err(format!(
            "the next hop {next_hop} toward {to} (interface index {ifindex}) did not answer \
             address resolution within {} ms (see ip neigh): nothing was sent to it",
            RESOLVE_WAIT.as_millis()
        ))
    }

    /// The link-layer address of `ip` on `ifindex`, if the neighbour table
    /// has a usable one.
    fn lladdr(&mut self, ifindex: u32, ip: IpAddr) -> Result<Option<Vec<u8>>, String> {
        let neighbours = match &self.neighbours {
            Some(n) => n,
            None => {
                let dumped = self
                    .neighbours()
                    .map_err(|e| format!("reading neighbours: {e}"))?;
                self.neighbours.insert(dumped)
            }
        };
        Ok(neighbours
            .iter()
            .find(|n| n.ifindex == ifindex && n.ip == ip)
            .filter(|n| n.state & (NUD_INCOMPLETE | NUD_FAILED) == 0 && !n.lladdr.is_empty())
            .map(|n| n.lladdr.clone()))
    }

    /// Start address resolution of `ip` on `ifindex`: `RTM_NEWNEIGH` with
    /// `NTF_USE` (as `ip neigh replace IP dev DEV use`), which makes the
    /// kernel act as if it had a packet for it (`neigh_event_send`). Needs
    /// `CAP_NET_ADMIN`.
    fn resolve(&mut self, ifindex: u32, ip: IpAddr) -> Result<(), Errno> {
        let (family, octets): (u8, Vec<u8>) = match ip {
            IpAddr::V4(v4) => (AF_INET, v4.octets().to_vec()),
            IpAddr::V6(v6) => (AF_INET6, v6.octets().to_vec()),
        };
        // ndmsg: family, pad, pad, ifindex, state (none), flags, type.
        let mut body = vec![family, 0, 0, 0];
        body.extend_from_slice(&ifindex.to_ne_bytes());
        body.extend_from_slice(&0u16.to_ne_bytes());
        body.extend_from_slice(&[NTF_USE, 0]);
        push_attr(&mut body, NDA_DST, &octets);
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        self.request(RTM_NEWNEIGH, flags, &body).map(|_| ())
    }

    /// The route to `to`: its interface and next hop (the gateway, or `to`
    /// itself on a link).
    fn route(&mut self, to: IpAddr) -> Result<(u32, IpAddr), Route> {
        let (family, octets): (u8, Vec<u8>) = match to {
            IpAddr::V4(v4) => (AF_INET, v4.octets().to_vec()),
            IpAddr::V6(v6) => (AF_INET6, v6.octets().to_vec()),
        };
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope,
        // type, flags (u32).
        let mut body = vec![
            family,
            (octets.len() * 8) as u8,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ];
        push_attr(&mut body, RTA_DST, &octets);
        let replies = self
            .request(RTM_GETROUTE, NLM_F_REQUEST, &body)
            .map_err(|e| Route::None(format!("no route to {to}: {e}")))?;
        for (kind, payload) in replies {
            if kind != RTM_NEWROUTE {
                continue;
            }
            let rtm_type = payload.get(7).copied().unwrap_or(0);
            if rtm_type == RTN_LOCAL {
                return Err(Route::Local);
            }
            let mut oif = None;
            let mut gateway = None;
            for (attr, data) in attrs(payload.get(12..).unwrap_or_default()) {
                match attr {
                    RTA_OIF => oif = u32_ne(data),
                    RTA_GATEWAY => gateway = ip_of(data),
                    RTA_VIA => gateway = data.get(2..).and_then(ip_of),
                    _ => {}
                }
            }
            let oif =
                oif.ok_or_else(|| Route::None(format!("the route to {to} names no interface")))?;
            return Ok((oif, gateway.unwrap_or(to)));
        }
        Err(Route::None(format!("no route to {to}")))
    }

    /// Every neighbour entry, of both families.
    fn neighbours(&mut self) -> Result<Vec<Neighbour>, Errno> {
        // ndmsg: family (any), pad, pad, ifindex, state, flags, type.
        let body = [0u8; 12];
        let replies = self.request(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, &body)?;
        let mut out = Vec::new();
        for (kind, payload) in replies {
            if kind != RTM_NEWNEIGH {
                continue;
            }
            let Some(ifindex) = payload.get(4..8).and_then(u32_ne) else {
                continue;
            };
            let state = payload.get(8..10).and_then(u16_ne).unwrap_or(0);
            let (mut ip, mut lladdr) = (None, Vec::new());
            for (attr, data) in attrs(payload.get(12..).unwrap_or_default()) {
                match attr {
                    NDA_DST => ip = ip_of(data),
                    NDA_LLADDR => lladdr = data.to_vec(),
                    _ => {}
                }
            }
            if let Some(ip) = ip {
                out.push(Neighbour {
                    ifindex,
                    ip,
                    state,
                    lladdr,
                });
            }
        }
        Ok(out)
    }

    /// Send one request and read its answer to the end: (type, payload)
    /// of each message, or the errno the kernel answered with.
    fn request(
        &mut self,
        kind: u16,
        flags: u16,
        body: &[u8],
    ) -> Result<Vec<(u16, Vec<u8>)>, Errno> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let len = 16 + body.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        rustix::net::sendto(
            &self.fd,
            &msg,
            SendFlags::empty(),
            &netlink::SocketAddrNetlink::new(0, 0),
        )?;
        let dump = flags & NLM_F_DUMP != 0;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (_, got) = rustix::net::recv(&self.fd, &mut buf, RecvFlags::empty())?;
            let mut rest = buf.get(..got.min(buf.len())).unwrap_or_default();
            while rest.len() >= 16 {
                let mlen = rest.get(0..4).and_then(u32_ne).unwrap_or(0) as usize;
                let mtype = rest.get(4..6).and_then(u16_ne).unwrap_or(0);
                let mseq = rest.get(8..12).and_then(u32_ne).unwrap_or(0);
                if mlen < 16 || mlen > rest.len() {
                    break;
                }
                let payload = rest.get(16..mlen).unwrap_or_default();
                rest = rest.get(align4(mlen).min(rest.len())..).unwrap_or_default();
                if mseq != seq {
                    continue;
                }
                match mtype {
                    NLMSG_DONE => return Ok(out),
                    NLMSG_ERROR => {
                        let errno = payload.get(0..4).and_then(u32_ne).unwrap_or(0) as i32;
                        if errno == 0 {
                            return Ok(out);
                        }
                        return Err(Errno::from_raw_os_error(errno.saturating_neg()));
                    }
                    _ => {
                        out.push((mtype, payload.to_vec()));
                        if !dump {
                            return Ok(out);
                        }
                    }
                }
            }
        }
    }
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn push_attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(align4(out.len()), 0);
}

/// The `rtattr`s of `buf`: (type, payload), stopping at a malformed one.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*buf.first()?, *buf.get(1)?]));
        let kind = u16::from_ne_bytes([*buf.get(2)?, *buf.get(3)?]) & 0x3fff;
        let data = buf.get(4..len)?;
        buf = buf.get(align4(len).min(buf.len())..)?;
        Some((kind, data))
    })
}

fn u16_ne(b: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(..2)?.try_into().ok()?))
}

fn u32_ne(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

fn ip_of(data: &[u8]) -> Option<IpAddr> {
    match data.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(data).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(data).ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_written_padded_and_read_back() {
        let mut buf = Vec::new();
        push_attr(&mut buf, RTA_DST, &[10, 0, 0, 1]);
        push_attr(&mut buf, 9, &[1, 2, 3]);
        push_attr(&mut buf, RTA_OIF, &7u32.to_ne_bytes());
        assert_eq!(buf.len(), 8 + 8 + 8);
        let read: Vec<(u16, Vec<u8>)> = attrs(&buf).map(|(k, d)| (k, d.to_vec())).collect();
        assert_eq!(
            read,
            vec![
                (RTA_DST, vec![10, 0, 0, 1]),
                (9, vec![1, 2, 3]),
                (RTA_OIF, 7u32.to_ne_bytes().to_vec())
            ]
        );
        // Cut short: what is whole is read, then nothing.
        assert_eq!(attrs(&buf[..10]).count(), 1);
    }

    #[test]
    fn loopback_is_local_and_has_no_path() {
        nstest::in_netns(|| {
            let mut routes = Routes::new().unwrap();
            let why = routes.path("127.0.0.1".parse().unwrap()).unwrap_err();
            assert!(why.contains("address of this host"), "{why}");
            assert!(routes.is_local("127.0.0.1".parse().unwrap()));
            assert!(!routes.is_local("192.0.2.1".parse().unwrap()));
            let why = routes.path("192.0.2.1".parse().unwrap()).unwrap_err();
            assert!(why.contains("no route"), "{why}");
        });
    }

    /// An address of a local route that no interface carries (as for
    /// AnyIP, or a transparent proxy) is this host's, as the kernel
    /// delivers to it here; `getifaddrs` would not say so.
    #[test]
    fn an_address_of_a_local_route_is_this_hosts() {
        nstest::in_netns(|| {
            let out = std::process::Command::new("ip")
                .args(["route", "add", "local", "198.51.100.0/24", "dev", "lo"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let mut routes = Routes::new().unwrap();
            assert!(routes.is_local("198.51.100.7".parse().unwrap()));
            assert!(!routes.is_local("203.0.113.7".parse().unwrap()));
            let why = routes.path("198.51.100.7".parse().unwrap()).unwrap_err();
            assert!(why.contains("address of this host"), "{why}");
        });
    }
}
