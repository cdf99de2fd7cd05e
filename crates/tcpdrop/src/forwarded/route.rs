//! Where a segment to one end of a forwarded connection leaves this host:
//! the interface the kernel's route to that end names, and the link-layer
//! address of its next hop ([`rtnetlink(7)`], asked through
//! [`netlink::route`]: `RTM_GETROUTE` for the route, an `RTM_GETNEIGH` dump
//! for the neighbour, and `RTM_NEWNEIGH` with `NTF_USE` to have the kernel
//! resolve a neighbour it has no entry for). What is ours is the policy:
//! each address looked up once per drop, and how long resolution is
//! waited for.
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
use std::time::{Duration, Instant};

use netlink::route::{Client, Neighbour, Rtnetlink, RTN_LOCAL};

use crate::error::Error;

/// How long address resolution of a next hop is waited for.
const RESOLVE_WAIT: Duration = Duration::from_millis(1000);

pub(crate) use crate::spoof::link::Path;

/// Routes and neighbours of the calling thread's network namespace,
/// looked up once per address.
pub(crate) struct Routes {
    client: Client,
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

impl Routes {
    /// A `NETLINK_ROUTE` socket in the calling thread's network namespace
    /// ([`Client::new`]); asking needs no privilege.
    pub(crate) fn new() -> Result<Routes, Error> {
        let client = Client::new().map_err(|err| match err {
            netlink::Error::Io(io) => Error::Io(io),
            other => Error::Netlink(other.to_string()),
        })?;
        Ok(Routes {
            client,
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
        self.client
            .resolve(ifindex, next_hop)
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
                    .client
                    .neighbours()
                    .map_err(|e| format!("reading neighbours: {e}"))?;
                self.neighbours.insert(dumped)
            }
        };
        Ok(neighbours
            .iter()
            .find(|n| n.ifindex == ifindex && n.ip == Some(ip))
            .and_then(Neighbour::usable_lladdr)
            .map(<[u8]>::to_vec))
    }

    /// The route to `to`: its interface and next hop (the gateway, or `to`
    /// itself on a link).
    fn route(&mut self, to: IpAddr) -> Result<(u32, IpAddr), Route> {
        let no_route = |e: netlink::Error<Rtnetlink>| Route::None(format!("no route to {to}: {e}"));
        let route = self
            .client
            .route(to)
            .map_err(no_route)?
            .ok_or_else(|| Route::None(format!("no route to {to}")))?;
        if route.kind == RTN_LOCAL {
            return Err(Route::Local);
        }
        let oif = route
            .oif
            .ok_or_else(|| Route::None(format!("the route to {to} names no interface")))?;
        Ok((oif, route.gateway.unwrap_or(to)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
