//! The one packet layer below the ways that forge segments: `inject`
//! (a local socket reset by an RST spoofed from its peer) and
//! `--forwarded` (both ends of a connection this host forwards). SPEC §5.
//!
//! - [`segment`]: a TCP segment as a whole IP packet, written and parsed;
//! - [`answer`]: an end's answer told from the rest of what is read (its
//!   addresses, its sequence numbers, our own segments seen going out);
//! - [`wire`]: raw IP sockets to send, a packet socket filtered to the
//!   answers a probe can bring back, and one to the segments that open
//!   connections;
//! - [`link`]: a packet socket that sends out of a chosen interface to a
//!   chosen next hop (a router's segments);
//! - [`Spoof`]: where those sockets are opened.
//!
//! Raw and packet sockets, like netlink sockets, belong to the network
//! namespace they were created in, and a segment sent from the wrong one
//! reaches whatever holds the same tuple *there* (SPEC §5, "Namespaces,
//! again"). So no socket of this layer is opened but through [`Spoof`],
//! which opens them inside the target's namespace: on the calling thread
//! when it is there already, else on a thread that entered it.

pub(crate) mod answer;
pub(crate) mod link;
pub(crate) mod segment;
pub(crate) mod wire;

use std::time::Duration;

use rustix::io::Errno;

use crate::error::Error;
use crate::netns::Netns;
use link::Link;
pub(crate) use wire::Keep;
use wire::{Syns, Wire};

/// Segments probed together: their answers (a forwarded one seen twice, in
/// and out) must fit the packet socket's receive buffer.
pub(crate) const ROUND: usize = 256;

/// A probe's `ack` is its `seq` xor this: a number no end expects, and a
/// mark by which [`Keep::Replies`] leaves our own probes out.
pub(crate) const PROBE_MARK: u32 = 0x5a5a_5a5a;

/// The window of the RSTs inject sends (an RST's window is never read),
/// by which [`Keep::Replies`] leaves them out.
pub(crate) const RST_MARK: u16 = 0x7e57;

/// The sysctls of the target's namespace that decide what a forged
/// segment can do there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `net.ipv4.tcp_rfc1337 = 1`: TIME-WAIT sockets ignore RSTs.
    pub rfc1337: bool,
    /// `net.ipv4.tcp_invalid_ratelimit`: one answer to an out-of-window
    /// segment per socket per this long (500 ms by default).
    pub invalid_ratelimit: Duration,
}

/// The default of `net.ipv4.tcp_invalid_ratelimit`.
const DEFAULT_INVALID_RATELIMIT: Duration = Duration::from_millis(500);

/// The network namespace segments are forged for, where their sockets are
/// opened and their sysctls read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spoof<'a> {
    /// `None` when it is not known (`/proc/thread-self/ns/net` could not be
    /// opened when the session was made): then nothing is opened or sent.
    netns: Option<&'a Netns>,
}

impl<'a> Spoof<'a> {
    /// Forge segments for sockets of `netns`.
    pub(crate) fn new(netns: Option<&'a Netns>) -> Spoof<'a> {
        Spoof { netns }
    }

    /// Run `work` inside the target's namespace.
    fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, Error> {
        match self.netns {
            Some(netns) => netns.run(work),
            None => Err(Error::Namespace {
                path: "/proc/thread-self/ns/net".into(),
                reason: "the target's network namespace is not known (it could not be opened \
                         when the session was made; is /proc mounted?), so no segment was sent"
                    .into(),
            }),
        }
    }

    /// The raw sockets and the packet socket filtered to what `keep` says
    /// ([`Wire`]), opened in the target's namespace. Without
    /// `CAP_NET_RAW`: [`Error::MissingCapability`] naming `needed_for`.
    pub(crate) fn wire(&self, keep: Keep, needed_for: &'static str) -> Result<Wire, Error> {
        self.run(|| Wire::open(keep))?
            .map_err(|errno| open_error(errno, needed_for))
    }

    /// A packet socket that sees the segments with SYN set ([`Syns`]),
    /// opened in the target's namespace.
    pub(crate) fn syns(&self, needed_for: &'static str) -> Result<Syns, Error> {
        self.run(Syns::open)?
            .map_err(|errno| open_error(errno, needed_for))
    }

    /// A packet socket to send out of a chosen interface ([`Link`]), opened
    /// in the target's namespace.
    pub(crate) fn link(&self, needed_for: &'static str) -> Result<Link, Error> {
        self.run(Link::open)?
            .map_err(|errno| open_error(errno, needed_for))
    }

    /// The target namespace's [`Limits`] (`/proc/sys/net` shows the
    /// namespace of the thread that reads it).
    pub(crate) fn limits(&self) -> Result<Limits, Error> {
        self.run(|| Limits {
            rfc1337: sysctl("tcp_rfc1337") == Some(1),
            invalid_ratelimit: sysctl("tcp_invalid_ratelimit")
                .map_or(DEFAULT_INVALID_RATELIMIT, Duration::from_millis),
        })
    }
}

/// A sysctl of the calling thread's network namespace, as a number.
fn sysctl(name: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Why a raw or packet socket could not be opened.
fn open_error(errno: Errno, needed_for: &'static str) -> Error {
    match errno {
        Errno::PERM | Errno::ACCESS => Error::MissingCapability {
            capability: "CAP_NET_RAW",
            needed_for,
        },
        other => Error::Io(other.into()),
    }
}

/// The sockets of this layer opened in the calling thread's namespace, for
/// tests that play a peer inside the namespace they made.
#[cfg(test)]
pub(crate) mod here {
    use super::{Keep, Link, Spoof, Wire};
    use crate::netns::Netns;

    /// A [`Wire`] in the calling thread's namespace.
    pub(crate) fn wire() -> Wire {
        let netns = Netns::current().unwrap();
        Spoof::new(Some(&netns))
            .wire(Keep::Answers, "a test")
            .unwrap()
    }

    /// A [`Link`] in the calling thread's namespace.
    pub(crate) fn link() -> Link {
        let netns = Netns::current().unwrap();
        Spoof::new(Some(&netns)).link("a test").unwrap()
    }
}
