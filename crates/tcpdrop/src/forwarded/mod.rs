//! Dropping TCP connections that pass through this host (a router, a
//! firewall, a NAT gateway, a container host): no socket here holds them,
//! so `SOCK_DESTROY` cannot reach them (SPEC §5, "Forwarded connections").
//!
//! ```no_run
//! use tcpdrop::forwarded::Forwarded;
//! use tcpdrop::{DropReport, Selection};
//! # fn main() -> Result<(), tcpdrop::Error> {
//! let mut fw = Forwarded::new()?;
//! let (a, b) = ("10.0.1.2:40188".parse().unwrap(), "10.0.2.2:443".parse().unwrap());
//! let mut report = DropReport::<Forwarded>::default(); // or a Sink<Forwarded> of your own
//! fw.drop(Selection::tuple(a, b), &mut report)?;
//! for (flow, outcome) in &report.results {
//!     println!("{} -> {}: {}", flow.originator.addr, flow.originator.peer, outcome.name());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The same procedure as for the sockets of this host (`crate::drop`), for
//! the other source: the same [`Selection`] and a [`Sink`] of its own
//! kind. Top-down ([`Forwarded::drop`]; steps 3 to 6 a batch of flows at a
//! time, in `batch.rs`), each step a file:
//!
//! 1. select: what the caller chose ([`Selection`]), found in connection
//!    tracking (`flows.rs`: its table as [`ForwardedFlow`]s, what filters
//!    select from), or a named tuple looked up there ([`Forwarded::find`]);
//! 2. `check.rs`: every end of every flow is checked before anything is
//!    sent: an end at an address of this host (`route.rs`: its route is a
//!    local one) makes it this host's own connection, and the whole call
//!    is refused;
//! 3. plan, by `route.rs`: for each end, the interface and next hop the
//!    kernel's route to it names; a flow with an end that cannot be
//!    reached is not touched;
//! 4. `probe.rs`: each end gets a segment spoofed from its peer, out of its
//!    window, and answers with an ACK (RFC 5961 §4, RFC 9293 §3.10.7.4)
//!    that this host forwards and reads: `seq` is the end's SND.NXT, `ack`
//!    its RCV.NXT. An end that answers with an RST has no such connection;
//!    then nothing more is sent to that flow. A silent end is probed once
//!    more after the per-socket limit on such answers has passed;
//! 5. abort and confirm, by `reset.rs`: each end that answered gets an RST
//!    from its peer with `seq` = its RCV.NXT, and a probe that confirms
//!    it: a closed end answers with an RST; in each round the responders
//!    first, then the originators;
//! 6. report (`outcome.rs`): each flow's outcome to the sink, and the flow's
//!    conntrack entry, which would linger in ESTABLISHED, removed.
//!
//! Only answers from the connection that was chosen are used (SPEC §5,
//! "Forwarded flows under a firewall"). Once one end is reset, its
//! application may at once open a new connection from the same port; a
//! newcomer's numbers must never aim an RST. So a flow is left alone,
//! nothing more sent to it, as soon as a segment with SYN set passes on
//! either end's tuple (`Openings` in `probe.rs`) or its conntrack entry is no
//! longer the one chosen (another `CTA_ID`, or none: `check::replaced`);
//! and after the first round only numbers at or after the ones it heard
//! count. An end is reported reset only on its own RST in answer to the
//! confirming probe, and all sending ends within [`SENDING_BOUND`].
//!
//! Needs `CAP_NET_RAW` (packet sockets) to drop and `CAP_NET_ADMIN`
//! (ctnetlink) to list. Nothing is sent until every socket is open.

mod batch;
mod check;
mod flows;
mod outcome;
mod probe;
mod reset;
mod route;

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::time::Duration;

pub use conntrack::Tracking;
pub use flows::{End, ForwardedFlow, Side};
pub use outcome::{EntryOutcome, ForwardedOutcome};

use crate::conn::{Connection, Family};
use crate::drop::{Counting, DropCounts, Selection, Sink, Source, What};
use crate::error::Error;
use crate::netns::Netns;
use crate::spoof::link::Link;
use crate::spoof::wire::Wire;
use crate::spoof::{Spoof, ROUND};
use batch::Batch;
use flows::conntrack_error;
use probe::Openings;
use route::Routes;

/// What `CAP_NET_RAW` is needed for here, in [`Error::MissingCapability`].
const NEEDED_FOR: &str = "resetting forwarded connections (packet sockets)";

/// How long to wait for the answers to a round of first probes.
const ANSWER_WAIT: Duration = Duration::from_millis(500);

/// When a silent end is probed again: after the default per-socket limit
/// on answers to out-of-window segments (`net.ipv4.tcp_invalid_ratelimit`,
/// 500 ms) on the end's host has passed.
const RETRY_AFTER: Duration = Duration::from_millis(550);

/// How long the rounds of RSTs may go on: a round whose answers come
/// takes a round trip, so this leaves a busy connection many; an end that
/// does not answer is given up on after one.
const RESETTING: Duration = Duration::from_millis(1000);

/// The longest segments are sent to one batch of flows (up to 256; a
/// larger call takes them 256 at a time), from its first probe: 2.05 s,
/// the probes' 1.05 s (an end silent at first is probed again 550 ms
/// later, and its answer waited for up to 500 ms) and at most 1 s of
/// rounds of RSTs and confirming probes. An end that does not answer the
/// confirming probe is given up on after its first round. Nothing is sent
/// to a batch after it, and a call returns soon after its last batch's.
pub const SENDING_BOUND: Duration = Duration::from_millis(
    (RETRY_AFTER.as_millis() + ANSWER_WAIT.as_millis() + RESETTING.as_millis()) as u64,
);

/// Connections forwarded by this host's network namespace (the calling
/// thread's when it was made).
pub struct Forwarded {
    conntrack: conntrack::Client,
    routes: Routes,
    /// The namespace the netlink sockets were made in: the packet sockets
    /// are opened there too, whichever thread drops.
    netns: Option<Netns>,
}

impl Source for Forwarded {
    type Item = ForwardedFlow;
    type Outcome = ForwardedOutcome;
}

impl std::fmt::Debug for Forwarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarded").finish_non_exhaustive()
    }
}

/// The sockets a drop sends and listens with, opened before anything is
/// sent.
struct Sockets {
    wire: Wire,
    link: Link,
    openings: Openings,
}

impl Forwarded {
    /// Open the netlink sockets (no privilege needed yet) in the calling
    /// thread's network namespace.
    pub fn new() -> Result<Forwarded, Error> {
        Ok(Forwarded {
            conntrack: conntrack::Client::new().map_err(conntrack_error)?,
            routes: Routes::new()?,
            netns: Netns::current().ok(),
        })
    }

    /// Whether connection tracking is active for forwarded traffic of
    /// `family` here (see [`conntrack::Client::probe_tracking`]: one UDP
    /// datagram over loopback, its entry looked for and removed).
    pub fn tracking(&mut self, family: Family) -> Result<Tracking, Error> {
        let family = match family {
            Family::Ipv4 => conntrack::Family::Inet,
            Family::Ipv6 => conntrack::Family::Inet6,
        };
        self.conntrack
            .probe_tracking(family)
            .map_err(conntrack_error)
    }

    /// Hand each connection `selection` chooses to `visit`, which may stop
    /// early: for a filter or a query, those connection tracking shows
    /// this host forwarding (its own connections, an end at an address its
    /// routes call local, left out; needs `CAP_NET_ADMIN`), matched against
    /// the originator's view ([`ForwardedFlow::connection`]); for named
    /// tuples, each as [`Forwarded::find`] finds it.
    pub fn list<C: FnMut(&Connection) -> bool>(
        &mut self,
        selection: Selection<C>,
        mut visit: impl FnMut(ForwardedFlow) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let mut selection = selection.unscoped();
        let flows = match &selection.what {
            What::Tuples(tuples) => tuples
                .iter()
                .map(|&(a, b)| self.find(a, b))
                .collect::<Result<Vec<_>, Error>>()?,
            _ => flows::list(&mut self.conntrack, &mut self.routes)?,
        };
        for flow in flows {
            if selection.chooses(&flow.connection()) && visit(flow).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The connection between `a` and `b`, either one the originator: its
    /// conntrack entry's view when connection tracking knows it (under NAT,
    /// either end's view of the tuple finds it), else the two ends as named,
    /// `a` taken for the originator.
    pub fn find(&mut self, a: SocketAddr, b: SocketAddr) -> Result<ForwardedFlow, Error> {
        for tuple in [conntrack::Tuple::tcp(a, b), conntrack::Tuple::tcp(b, a)] {
            match self.conntrack.get(&tuple, 0) {
                Ok(Some(entry)) => return Ok(ForwardedFlow::from_entry(entry)),
                Ok(None) => {}
                // Without ctnetlink (or the right to use it) the ends are
                // probed as named.
                Err(_) => break,
            }
        }
        Ok(ForwardedFlow::between(a, b))
    }

    /// Reset each connection `selection` chooses ([`Forwarded::list`]) at
    /// both ends and confirm it, handing each outcome to `sink` as it is
    /// known; return the counts (a flow reset at one end only is `failed`
    /// and `partial`; one an end has no connection for is `gone`).
    ///
    /// Only an end's own answers decide: a flow is
    /// [`ForwardedOutcome::Dropped`] when both ends answered the
    /// confirming probe with an RST, [`ForwardedOutcome::NoSuchConnection`]
    /// when an end answered the first probe with one. A flow whose
    /// connection is replaced on the way (see the module's text) is left
    /// alone from then on. Segments go to each batch of 256 flows for at
    /// most [`SENDING_BOUND`].
    ///
    /// Refused, with nothing sent: a flow with an end at an address of
    /// this host (one of its own connections: [`Error::InvalidArgument`],
    /// whose text says to drop it without `--forwarded`), or whose ends are
    /// not two hosts' addresses and ports of one family (the same error);
    /// without `CAP_NET_RAW`, [`Error::MissingCapability`].
    pub fn drop<C: FnMut(&Connection) -> bool>(
        &mut self,
        selection: Selection<C>,
        sink: &mut dyn Sink<Forwarded>,
    ) -> Result<DropCounts, Error> {
        let mut sink = Counting::new(sink);
        // 1. Select.
        let mut flows = Vec::new();
        self.list(selection, |flow| {
            flows.push(flow);
            ControlFlow::Continue(())
        })?;
        if flows.is_empty() {
            return Ok(sink.counts);
        }
        // 2. Check every end of every flow before anything is sent.
        self.routes.forget();
        for flow in &flows {
            check::forwarded(&mut self.routes, flow)?;
        }
        let spoof = Spoof::new(self.netns.as_ref());
        let mut sockets = Sockets {
            wire: spoof.wire(crate::spoof::Keep::Answers, NEEDED_FOR)?,
            link: spoof.link(NEEDED_FOR)?,
            openings: Openings::new(
                spoof.syns(NEEDED_FOR)?,
                flows.iter().flat_map(|f| [&f.originator, &f.responder]),
            ),
        };
        // 3 to 6, a batch at a time.
        for batch in flows.chunks(ROUND) {
            self.drop_batch(batch, &mut sockets, &mut sink);
        }
        Ok(sink.counts)
    }

    /// Steps 3 to 6 for one batch ([`Batch`]), each flow's outcome to
    /// `sink`.
    fn drop_batch(
        &mut self,
        flows: &[ForwardedFlow],
        sockets: &mut Sockets,
        sink: &mut dyn Sink<Forwarded>,
    ) {
        let mut batch = Batch::new(flows);
        batch.plan(&mut self.routes, &mut self.conntrack, &mut sockets.openings);
        batch.probe(sockets);
        batch.decide(&mut self.conntrack, &sockets.openings);
        let spoof = Spoof::new(self.netns.as_ref());
        batch.reset(spoof, &mut self.conntrack, sockets);
        batch.report(
            &mut |flow, openings| self.remove_entry(flow, openings),
            &mut sockets.openings,
            sink,
        );
    }

    /// Remove the conntrack entry of `flow`: the one chosen (by its tuple
    /// and id), or for a flow named without one, the one its tuple has
    /// now. Left alone when a new connection may be using it: one whose
    /// SYN has passed may have taken it over (conntrack follows a SYN that
    /// a SYN-ACK answers on an entry it thought established), and under
    /// NAT it would lose its translation.
    fn remove_entry(&mut self, flow: &ForwardedFlow, openings: &mut Openings) -> EntryOutcome {
        openings.update();
        if let Some(why) = openings
            .on(&flow.originator)
            .or_else(|| openings.on(&flow.responder))
        {
            return match flow.entry {
                Some(_) => EntryOutcome::Left(why),
                None => EntryOutcome::None,
            };
        }
        let key = match &flow.entry {
            Some(entry) => entry.key(),
            None => {
                let tuple = conntrack::Tuple::tcp(flow.originator.addr, flow.originator.peer);
                match self.conntrack.get(&tuple, 0) {
                    Ok(Some(entry)) => entry.key(),
                    Ok(None) | Err(conntrack::Error::NotSupported { .. }) => {
                        return EntryOutcome::None
                    }
                    Err(err) => return EntryOutcome::Failed(conntrack_error(err).to_string()),
                }
            }
        };
        match self.conntrack.delete(&key) {
            Ok(()) => EntryOutcome::Removed,
            Err(conntrack::Error::NotFound { .. }) => EntryOutcome::None,
            Err(err) => EntryOutcome::Failed(conntrack_error(err).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::probe::Ears;
    use super::*;
    use crate::spoof::segment::{flags, Segment};
    use nstest::topology::{Node, Options, Topology, B_V4};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Instant;

    /// Send `probe` from R by a raw IP socket (`raw`) or by the packet
    /// socket the procedure uses; whether its destination answered.
    fn answered(topology: &Topology, probe: Segment, raw: bool) -> bool {
        topology.run(Node::R, move || {
            let mut wire = crate::spoof::here::wire();
            let mut routes = Routes::new().unwrap();
            let path = routes.path(probe.dst.ip()).unwrap();
            let dst = End {
                addr: probe.dst,
                peer: probe.src,
            };
            let mut ears = Ears::new(&[dst]);
            ears.sent(&probe);
            if raw {
                wire.send(&probe).unwrap();
            } else {
                crate::spoof::here::link().send(&path, &probe, &[]).unwrap();
            }
            let netns = Netns::current().unwrap();
            let syns = Spoof::new(Some(&netns)).syns("a test").unwrap();
            let mut openings = Openings::new(syns, [&dst]);
            let until = Instant::now() + Duration::from_millis(300);
            ears.listen(&mut wire, &mut openings, &[0], until);
            ears.heard[0].acked
        })
    }

    /// Why segments go out on a packet socket: under masquerade, a probe
    /// spoofed from the far end and sent by a raw IP socket passes R's own
    /// connection tracking and NAT, and the end never answers it (to A: a
    /// segment B -> A that no entry's tuple has; to B: one from R's
    /// address on a port the NAT entry holds); the same probe sent on a
    /// packet socket is answered. Without NAT both are answered.
    #[test]
    fn under_masquerade_a_raw_socket_probe_goes_unanswered_and_a_packet_socket_one_is_answered() {
        if !nstest::require_real_root("ip netns add") {
            return;
        }
        for (options, raw_answered) in [(Options::PLAIN, true), (Options::MASQUERADE, false)] {
            let topology = Topology::new(options);
            let listener = topology.run(Node::B, || TcpListener::bind((B_V4, 0)).unwrap());
            let b_end = listener.local_addr().unwrap();
            let client = topology.run(Node::A, || TcpStream::connect(b_end).unwrap());
            let (_server, seen_by_b) = listener.accept().unwrap();
            let a_end = client.local_addr().unwrap();
            let probe = |src: SocketAddr, dst: SocketAddr, seq: u32| Segment {
                src,
                dst,
                seq,
                ack: seq ^ crate::spoof::PROBE_MARK,
                flags: flags::ACK,
                window: 0,
            };
            // To A, from B as A sees it; to B, from A as B sees it.
            for (src, dst) in [(b_end, a_end), (seen_by_b, b_end)] {
                let raw = answered(&topology, probe(src, dst, 0x1234_5678), true);
                // Past the end's limit on answers to out-of-window segments.
                std::thread::sleep(Duration::from_millis(600));
                let packet = answered(&topology, probe(src, dst, 0x9234_5678), false);
                let what = format!("{options:?}: {src} -> {dst}");
                assert!(packet, "{what}: the packet socket's probe is answered");
                assert_eq!(raw, raw_answered, "{what}: the raw socket's probe");
            }
        }
    }
}
