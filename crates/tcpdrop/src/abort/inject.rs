//! Aborting a socket with an RST spoofed from its peer: for sockets no
//! process holds (TIME-WAIT, an orphaned FIN-WAIT, a SYN-RECV request) or
//! whose holder may not be touched. Needs `CAP_NET_RAW`; no `SOCK_DESTROY`
//! (SPEC §5, "inject").
//!
//! An RST is accepted only with `seq` exactly the socket's RCV.NXT (RFC
//! 5961 §3), which nothing outside the kernel shows. So each socket is made
//! to say it: a segment spoofed from its peer with an out-of-window
//! sequence number is answered with an ACK (RFC 9293 §3.10.7.4; TIME-WAIT
//! and request sockets answer the same way) whose `ack` is RCV.NXT and
//! `seq` SND.NXT. A packet socket, opened and filtered before the first
//! probe, reads the answer; then an RST from the peer with `seq = RCV.NXT`
//! aborts the socket, and, as `SOCK_DESTROY` does, an RST from the socket
//! with `seq = SND.NXT` resets the peer.
//!
//! Exactness: right before the RSTs each socket is looked up by its cookie
//! (an exact lookup, not a walk), so a tuple that closed and was reused
//! since the dump is reported gone, not reset. What remains is the time
//! between that lookup's answer and the RST, its `max_window`,
//! measured on loopback (Linux 6.18, `inject_many_sockets_at_once` and the
//! single-socket tests, release build): 10-25 µs for one socket, at most
//! 130-185 µs for the last of a group of [`LOOKUP_GROUP`] looked up
//! together. Closing a connection and completing a new handshake on the same
//! tuple within that window is possible on loopback, but the RST carries the
//! old socket's RCV.NXT, which a newcomer (a fresh random ISN) matches with
//! odds of 2^-32; anything else in its window only earns a challenge ACK
//! (RFC 5961). Afterwards a second lookup by cookie confirms the socket is
//! gone.
//!
//! Shadowed tuples (SPEC §5): a segment is demultiplexed by its tuple as
//! the kernel's lookup is, so a socket bound to a device that another
//! socket on its tuple hides can never be reached this way: the probe
//! would go to the other socket. So a socket bound to a device is first
//! looked up by its cookie, and one the lookup does not find is sent
//! nothing at all: it is gone, or [`Error::Shadowed`] ([`shadow::settle`]).
//!
//! Rate limits: the answer to an out-of-window segment without data is
//! limited per socket by `net.ipv4.tcp_invalid_ratelimit` (500 ms by
//! default; `tcp_oow_rate_limited`); the probe carries no SYN and no RST, so
//! the global `net.ipv4.tcp_challenge_ack_limit` (RFC 5961's challenge ACKs
//! for in-window SYNs and RSTs) is never spent. Many sockets are probed in
//! rounds of [`ROUND`], each round's answers collected together; a socket
//! that stays silent is probed once more (with the other half of the
//! sequence space, in case the first probe fell in its window) after the
//! per-socket limit has passed, and is then reported failed with the
//! reason, never dropped. Nothing is raised or changed in the sysctls.
//!
//! `net.ipv4.tcp_rfc1337 = 1` makes TIME-WAIT ignore RSTs: such sockets
//! fail with that reason and no segment is sent to them.
//!
//! Segments are sent through raw sockets with the IP header included
//! (`IPPROTO_RAW` implies `IP_HDRINCL`, for IPv6 too), so the source can be
//! the peer's address; a packet to a local address travels through
//! loopback into the local stack. A v4-mapped target is IPv4 on the wire.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use sockdiag::{Family, SockId, TcpState};

use super::{shadow, Abort, Target};
use crate::error::Error;
use crate::netns::Netns;
use crate::spoof::answer::{key, Key, Numbers, Sent};
use crate::spoof::segment::{self as packet, flags, Parsed, Segment};
use crate::spoof::wire::Wire;
use crate::spoof::{Keep, Limits, Spoof, PROBE_MARK, ROUND, RST_MARK};

/// How long answers are waited for after a round's last probe. The target
/// is local: its answer is on the wire within microseconds.
const ANSWER_WAIT: Duration = Duration::from_millis(100);

/// Sockets looked up together right before their RSTs: the RSTs of a
/// group go out one after another after its lookup, so the group's size
/// bounds the window in which a tuple can be reused unnoticed (each RST
/// costs some 10 µs on loopback, where the stack processes it in the
/// sender's `sendto`). One lookup per round instead made the window 2-4 ms.
const LOOKUP_GROUP: usize = 16;

/// What the capability is needed for, in [`Error::MissingCapability`].
const NEEDED_FOR: &str = "injecting a reset (raw and packet sockets)";

/// Aborting sockets with spoofed RSTs.
pub(crate) struct Inject<'a> {
    /// For the exact lookups; in the targets' network namespace.
    diag: &'a mut sockdiag::Client,
    /// Where the segments are forged: the targets' namespace, the one
    /// `diag` was made in.
    spoof: Spoof<'a>,
    /// The longest time seen between a lookup's answer and its RST.
    max_window: Duration,
    /// Where its sockets are kept for the next batch (a drop's worker),
    /// if anywhere ([`crate::session::Shards::for_worker`]).
    kept: Option<&'a mut Option<Wire>>,
    /// Runs after the answers are in and before the lookups (tests only:
    /// a tuple reused in between).
    #[cfg(test)]
    pub(crate) before_rst: Option<Box<dyn FnMut() + 'a>>,
}

impl std::fmt::Debug for Inject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inject")
            .field("max_window", &self.max_window)
            .finish_non_exhaustive()
    }
}

/// One target's two ends as they are on the wire.
#[derive(Clone, Copy, Debug)]
struct Ends {
    local: SocketAddr,
    remote: SocketAddr,
}

impl Ends {
    fn of(target: &Target) -> Ends {
        let ip = |raw: &[u8; 16]| -> IpAddr {
            match target.family {
                Family::Inet => IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])),
                Family::Inet6 => packet::wire_ip(IpAddr::V6(Ipv6Addr::from(*raw))),
            }
        };
        let scoped = |ip: IpAddr, port: u16| match ip {
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, port, 0, target.id.ifindex)),
            v4 => SocketAddr::new(v4, port),
        };
        Ends {
            local: scoped(ip(&target.id.src), target.id.sport),
            remote: scoped(ip(&target.id.dst), target.id.dport),
        }
    }

    /// The key answers are matched by: (source, destination) of the
    /// socket's own segments.
    fn key(&self) -> Key {
        key(self.local, self.remote)
    }
}

/// Why `inject` cannot abort a socket in `state`, if it cannot.
fn refusal(state: TcpState, rfc1337: bool) -> Option<String> {
    match state {
        TcpState::Established
        | TcpState::SynRecv
        | TcpState::NewSynRecv
        | TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::CloseWait
        | TcpState::Closing
        | TcpState::LastAck => None,
        TcpState::TimeWait if !rfc1337 => None,
        TcpState::TimeWait => Some(
            "net.ipv4.tcp_rfc1337 = 1: TIME-WAIT sockets ignore RSTs (RFC 1337), so no RST was sent"
                .into(),
        ),
        TcpState::Listen => Some(
            "a listening socket takes no RST from a peer; only destroy or owner can close it"
                .into(),
        ),
        other => Some(format!(
            "a socket in state {other:?} does not answer with its sequence numbers"
        )),
    }
}

/// The probe for a socket in `state`: an out-of-window segment from the
/// peer. A request socket (dumped as SYN-RECV, `TCP_NEW_SYN_RECV` inside)
/// answers one without ACK (with an ACK whose `ack` is not its ISN+1, the
/// listener would reset the peer instead); a full socket drops segments
/// without ACK, SYN or RST unread. A SYN-RECV row can also be a Fast Open
/// child, a full socket: the second probe (`retry`) of a SYN-RECV socket
/// carries an ACK.
fn probe(ends: &Ends, state: TcpState, seq: u32, retry: bool) -> Segment {
    let request = matches!(state, TcpState::SynRecv | TcpState::NewSynRecv);
    Segment {
        src: ends.remote,
        dst: ends.local,
        seq,
        ack: seq ^ PROBE_MARK,
        flags: if request && !retry { 0 } else { flags::ACK },
        window: 0,
    }
}

/// A sequence number to probe with: no window is known, so any number
/// is as likely out of it as another; this one differs per socket and run.
fn probe_seq(id: &SockId) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (id.cookie ^ u64::from(nanos)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 32) as u32
}

/// What was heard from and about one socket.
#[derive(Clone, Copy, Debug, Default)]
struct Heard {
    /// Its answer to the probe: its SND.NXT (`seq`) and RCV.NXT (`ack`).
    answer: Option<Numbers>,
    /// Its peer answered that answer with an RST.
    peer_reset: bool,
    /// Its probe could not be sent (the failure is settled).
    unsent: bool,
}

/// The sockets of one round by the key of their segments ([`Ends::key`]).
type Round = HashMap<Key, usize>;

/// Note what `parsed` says about the sockets of `round` in `heard`: the
/// RST of a socket's peer, or, while answers are awaited (`ours`: the
/// probes just sent), a socket's answer (unless it is one of `ours`, seen
/// coming back on a self-connection). Whether it was a socket's first
/// answer.
fn hear(parsed: &Parsed, round: &Round, ours: Option<&Sent>, heard: &mut [Heard]) -> bool {
    let seg = parsed.segment;
    if seg.flags & flags::RST != 0 {
        // The peer's RST in answer to the socket's ACK (a peer that no
        // longer has the connection, or a listener on its port): it may
        // abort the socket before our RST does.
        if let Some(h) = round
            .get(&key(seg.dst, seg.src))
            .and_then(|&i| heard.get_mut(i))
        {
            h.peer_reset = true;
        }
        return false;
    }
    let Some(ours) = ours else {
        return false;
    };
    if parsed.payload_len != 0 || ours.ours(&seg) {
        return false;
    }
    let Some(h) = round
        .get(&key(seg.src, seg.dst))
        .and_then(|&i| heard.get_mut(i))
    else {
        return false;
    };
    let first = h.answer.is_none();
    h.answer = Some(Numbers::of(&seg, 0));
    first
}

impl<'a> Inject<'a> {
    /// Abort with spoofed RSTs, looking sockets up on `diag`, a sock_diag
    /// socket of the targets' network namespace `netns`, where the raw and
    /// packet sockets are opened too (SPEC §5: a segment sent from another
    /// namespace reaches whatever holds the same tuple there).
    pub(crate) fn new(diag: &'a mut sockdiag::Client, netns: Option<&'a Netns>) -> Inject<'a> {
        Inject {
            diag,
            spoof: Spoof::new(netns),
            max_window: Duration::ZERO,
            kept: None,
            #[cfg(test)]
            before_rst: None,
        }
    }

    /// Keep its sockets in `slot` for the next batch, and take them from
    /// there when they are (`None`: open them for this batch alone).
    pub(crate) fn keeping(mut self, slot: Option<&'a mut Option<Wire>>) -> Inject<'a> {
        self.kept = slot;
        self
    }

    /// Probe the sockets at `indices` of `targets` (noted in `round` by
    /// the key of their segments) and collect what they answered into
    /// `heard`: until each has answered, or [`ANSWER_WAIT`], and what has
    /// come in by then (a peer's RST right behind an answer, on loopback).
    #[allow(clippy::too_many_arguments)]
    fn probe_round(
        &mut self,
        wire: &mut Wire,
        targets: &[Target],
        indices: &[usize],
        heard: &mut [Heard],
        flip: bool,
        round: &mut Round,
        settled: &mut Vec<(usize, Result<(), Error>)>,
    ) {
        let mut ours = Sent::default();
        let mut missing = 0usize;
        for &i in indices {
            let Some(target) = targets.get(i) else {
                continue;
            };
            let ends = Ends::of(target);
            let mut seq = probe_seq(&target.id);
            if flip {
                seq ^= 0x8000_0000;
            }
            let segment = probe(&ends, target.state, seq, flip);
            round.insert(ends.key(), i);
            ours.note(&segment);
            match wire.send(&segment) {
                Ok(()) => missing += 1,
                Err(err) => {
                    if let Some(h) = heard.get_mut(i) {
                        h.unsent = true;
                    }
                    settled.push((i, Err(err)));
                }
            }
        }
        let deadline = Instant::now() + ANSWER_WAIT;
        while missing > 0 {
            let Some(parsed) = wire.next(deadline) else {
                break;
            };
            if hear(&parsed, round, Some(&ours), heard) {
                missing -= 1;
            }
        }
        while let Some(parsed) = wire.next(Instant::now()) {
            hear(&parsed, round, Some(&ours), heard);
        }
    }

    /// Look each of `indices` up by cookie, reset those still there, and
    /// confirm. Pushes `(index, result)` onto `settled`.
    #[allow(clippy::too_many_arguments)]
    fn reset(
        &mut self,
        wire: &mut Wire,
        targets: &[Target],
        indices: &[usize],
        round: &Round,
        heard: &mut [Heard],
        rfc1337: bool,
        settled: &mut Vec<(usize, Result<(), Error>)>,
    ) {
        let mut sent = Vec::with_capacity(indices.len());
        for group in indices.chunks(LOOKUP_GROUP) {
            self.reset_group(wire, targets, group, round, heard, settled, &mut sent);
        }
        self.confirm(targets, &sent, rfc1337, settled);
    }

    /// [`Inject::reset`] for one group: one batch of exact lookups, then
    /// the RSTs of those still there (their indices pushed onto `sent`).
    #[allow(clippy::too_many_arguments)]
    fn reset_group(
        &mut self,
        wire: &mut Wire,
        targets: &[Target],
        indices: &[usize],
        round: &Round,
        heard: &mut [Heard],
        settled: &mut Vec<(usize, Result<(), Error>)>,
        sent: &mut Vec<usize>,
    ) {
        let found = self.look_up(targets, indices);
        let answered = Instant::now();
        for (&i, found) in indices.iter().zip(found) {
            let (Some(target), Some(&h)) = (targets.get(i), heard.get(i)) else {
                continue;
            };
            let Some(answer) = h.answer else {
                continue;
            };
            match found {
                Ok(Some(_)) => {}
                Ok(None) => {
                    // Its peer's RST, if it reset it in answer to its
                    // answer, came in before the lookup said it was gone.
                    while let Some(parsed) = wire.next(Instant::now()) {
                        hear(&parsed, round, None, heard);
                    }
                    // Its peer reset it when it answered the probe (a
                    // TIME-WAIT socket's answer to a listener on the peer's
                    // port is the usual case): aborted, by our probe.
                    let result = match heard.get(i) {
                        Some(h) if h.peer_reset => Ok(()),
                        _ => Err(Error::NotFound),
                    };
                    settled.push((i, result));
                    continue;
                }
                Err(err) => {
                    settled.push((i, Err(err)));
                    continue;
                }
            }
            let ends = Ends::of(target);
            let to_socket = Segment {
                src: ends.remote,
                dst: ends.local,
                seq: answer.rcv_nxt,
                ack: answer.snd_nxt,
                flags: flags::RST | flags::ACK,
                window: RST_MARK,
            };
            if let Err(err) = wire.send(&to_socket) {
                settled.push((i, Err(err)));
                continue;
            }
            self.max_window = self.max_window.max(answered.elapsed());
            // A TIME-WAIT socket's peer has closed: nothing to reset there.
            if target.state != TcpState::TimeWait {
                let to_peer = Segment {
                    src: ends.local,
                    dst: ends.remote,
                    seq: answer.snd_nxt,
                    ack: answer.rcv_nxt,
                    flags: flags::RST | flags::ACK,
                    window: RST_MARK,
                };
                let _ = wire.send(&to_peer);
            }
            sent.push(i);
        }
    }

    /// Confirm by cookie that the sockets at `indices` are gone, giving the
    /// stack a few moments to process the RSTs.
    fn confirm(
        &mut self,
        targets: &[Target],
        indices: &[usize],
        rfc1337: bool,
        settled: &mut Vec<(usize, Result<(), Error>)>,
    ) {
        let mut pending: Vec<usize> = indices.to_vec();
        for attempt in 0..4 {
            if pending.is_empty() {
                return;
            }
            if attempt > 0 {
                // 1, 10, 100 ms: a local socket takes the RST at once; a
                // busy host's softirq may defer it.
                std::thread::sleep(Duration::from_millis(10u64.pow(attempt - 1)));
            }
            let found = self.look_up(targets, &pending);
            let mut still = Vec::new();
            for (&i, found) in pending.iter().zip(found) {
                match found {
                    Ok(None) => settled.push((i, Ok(()))),
                    Ok(Some(record)) if attempt == 3 => {
                        let why = match record.state {
                            TcpState::TimeWait if rfc1337 => {
                                refusal(TcpState::TimeWait, true).unwrap_or_default()
                            }
                            state => format!(
                                "still {state:?} after the RST: its sequence numbers moved on between the probe and the RST"
                            ),
                        };
                        settled.push((i, Err(Error::NotAborted(why))));
                    }
                    Ok(Some(_)) => still.push(i),
                    Err(err) => settled.push((i, Err(err))),
                }
            }
            pending = still;
        }
    }
}

/// A sock_diag error as ours (without consuming it).
fn diag_error(err: &sockdiag::Error) -> Error {
    match err {
        sockdiag::Error::NotFound { .. } => Error::NotFound,
        other => Error::Netlink(other.to_string()),
    }
}

fn lookup_failed(result: &Result<(), sockdiag::Error>) -> Error {
    Error::Netlink(match result {
        Err(err) => format!("the exact lookup failed: {err}"),
        Ok(()) => "the exact lookup gave no answer".into(),
    })
}

impl Inject<'_> {
    /// The target namespace's limits and the sockets that send and read,
    /// all opened there before any segment is sent (or those kept from the
    /// last batch, with what they read since forgotten): a refusal touches
    /// nothing.
    fn open(&mut self) -> Result<(Limits, Wire), Error> {
        let limits = self.spoof.limits()?;
        if let Some(mut wire) = self.kept.as_mut().and_then(|slot| slot.take()) {
            wire.forget();
            return Ok((limits, wire));
        }
        Ok((limits, self.spoof.wire(Keep::Replies, NEEDED_FOR)?))
    }

    /// Done with `wire`: kept for the next batch, or closed.
    fn put_away(&mut self, wire: Wire) {
        if let Some(slot) = self.kept.as_mut() {
            **slot = Some(wire);
        }
    }

    /// Look the targets at `indices` up by their cookies, in one batch:
    /// for each, in their order, its record, `None` where it is gone, or
    /// why the lookup failed.
    fn look_up(
        &mut self,
        targets: &[Target],
        indices: &[usize],
    ) -> Vec<Result<Option<sockdiag::InetDiagMsg>, Error>> {
        let ids: Vec<(Family, SockId)> = indices
            .iter()
            .filter_map(|&i| targets.get(i).map(|t| (t.family, t.id)))
            .collect();
        let mut found = Vec::with_capacity(ids.len());
        let looked_up = self.diag.lookup_batch(&ids, &mut found);
        let mut found = found.into_iter();
        (0..ids.len())
            .map(|_| match found.next() {
                Some(Ok(record)) => Ok(record),
                Some(Err(err)) => Err(diag_error(&err)),
                None => Err(lookup_failed(&looked_up)),
            })
            .collect()
    }
}

/// Where a drop stands before any segment is sent ([`Inject::prepare`]).
struct Prepared {
    limits: Limits,
    wire: Wire,
    /// The outcome of each target settled already.
    outcome: Vec<Option<Result<(), Error>>>,
    /// The targets left to probe.
    candidates: Vec<usize>,
    /// Targets whose state moved on since the dump (a SYN-SENT one that
    /// is now established), with the state to probe them in.
    moved: Vec<(usize, TcpState)>,
}

impl Inject<'_> {
    /// All that comes before the first segment: the sockets opened in the
    /// targets' namespace (a refusal touches nothing), and the targets
    /// settled without a probe: a state no reset ends, a socket another on
    /// its tuple hides, or one gone.
    fn prepare(&mut self, targets: &[Target]) -> Result<Prepared, Error> {
        let (limits, wire) = self.open()?;
        let mut outcome: Vec<Option<Result<(), Error>>> = Vec::new();
        outcome.resize_with(targets.len(), || None);
        let mut candidates = Vec::with_capacity(targets.len());
        let mut connecting = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            match (refusal(target.state, limits.rfc1337), outcome.get_mut(i)) {
                // Both move on by themselves within microseconds on loopback.
                _ if matches!(target.state, TcpState::SynSent | TcpState::SynRecv) => {
                    connecting.push(i)
                }
                (Some(why), Some(slot)) => *slot = Some(Err(Error::NotAborted(why))),
                _ => candidates.push(i),
            }
        }
        let moved = self.connected(targets, &connecting, limits, &mut outcome);
        candidates.extend(moved.iter().map(|&(i, _)| i));
        candidates.sort_unstable();
        let candidates = self.reachable(targets, candidates, &mut outcome);
        Ok(Prepared {
            limits,
            wire,
            outcome,
            candidates,
            moved,
        })
    }

    /// The targets among `connecting` (a connection being opened: SYN-SENT,
    /// or a full socket still SYN-RECV) with the state they are in now. A
    /// SYN-SENT socket answers no probe, and a SYN-RECV full socket that
    /// has become established ignores the first probe meant for SYN-RECV
    /// (its answer comes only to the second, a wait later): each is looked
    /// up again by its cookie. One found is probed in its state now (one
    /// still SYN-SENT is refused); one gone is `NotFound`.
    fn connected(
        &mut self,
        targets: &[Target],
        connecting: &[usize],
        limits: Limits,
        outcome: &mut [Option<Result<(), Error>>],
    ) -> Vec<(usize, TcpState)> {
        if connecting.is_empty() {
            return Vec::new();
        }
        let found = self.look_up(targets, connecting);
        let mut moved = Vec::new();
        for (&i, found) in connecting.iter().zip(found) {
            let result = match found {
                Ok(Some(record)) => match refusal(record.state, limits.rfc1337) {
                    None => {
                        moved.push((i, record.state));
                        continue;
                    }
                    Some(why) => Err(Error::NotAborted(why)),
                },
                Ok(None) => Err(Error::NotFound),
                Err(err) => Err(err),
            };
            if let Some(slot) = outcome.get_mut(i) {
                *slot = Some(result);
            }
        }
        moved
    }
}

impl Abort for Inject<'_> {
    fn abort(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        let Prepared {
            limits,
            mut wire,
            mut outcome,
            candidates,
            moved,
        } = match self.prepare(targets) {
            Ok(prepared) => prepared,
            Err(err) => {
                results.extend(targets.iter().map(|_| Err(err.again())));
                return;
            }
        };
        // Probed in the state they are in now.
        let mut now = std::borrow::Cow::Borrowed(targets);
        for (i, state) in moved {
            if let Some(target) = now.to_mut().get_mut(i) {
                target.state = state;
            }
        }
        if !candidates.is_empty() {
            for (i, result) in self.run(&mut wire, &now, &candidates, limits) {
                if let Some(slot) = outcome.get_mut(i) {
                    *slot = Some(result);
                }
            }
        }
        self.put_away(wire);
        results.extend(outcome.into_iter().map(|o| {
            o.unwrap_or_else(|| Err(Error::NotAborted("no outcome was recorded".into())))
        }));
    }

    /// What the abort meets before it sends anything ([`Inject::prepare`]:
    /// its sockets opened and closed again, lookups only); the targets
    /// left would be probed.
    fn check(&mut self, targets: &[Target], results: &mut Vec<Result<(), Error>>) {
        match self.prepare(targets) {
            Ok(prepared) => {
                self.put_away(prepared.wire);
                results.extend(prepared.outcome.into_iter().map(|o| o.unwrap_or(Ok(()))))
            }
            Err(err) => results.extend(targets.iter().map(|_| Err(err.again()))),
        }
    }
}

impl Inject<'_> {
    /// The `candidates` a probe may be sent to. A socket bound to a device
    /// may be hidden by another on its tuple, which the probe would reach
    /// instead: each such socket is looked up by its cookie first, and one
    /// the lookup does not find is settled in `outcome` (gone, or
    /// [`Error::Shadowed`]) and sent nothing.
    fn reachable(
        &mut self,
        targets: &[Target],
        candidates: Vec<usize>,
        outcome: &mut [Option<Result<(), Error>>],
    ) -> Vec<usize> {
        let (bound, mut reachable): (Vec<usize>, Vec<usize>) = candidates
            .into_iter()
            .partition(|&i| targets.get(i).is_some_and(shadow::may_be_shadowed));
        if bound.is_empty() {
            return reachable;
        }
        let asked: Vec<Target> = bound
            .iter()
            .filter_map(|&i| targets.get(i).copied())
            .collect();
        let mut answers: Vec<Result<(), Error>> = self
            .look_up(targets, &bound)
            .into_iter()
            .map(|found| match found {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(Error::NotFound),
                Err(err) => Err(err),
            })
            .collect();
        shadow::settle(self.diag, &asked, &mut answers);
        for (i, answer) in bound.into_iter().zip(answers) {
            match (answer, outcome.get_mut(i)) {
                (Ok(()), _) => reachable.push(i),
                (Err(err), Some(slot)) => *slot = Some(Err(err)),
                (Err(_), None) => {}
            }
        }
        reachable.sort_unstable();
        reachable
    }

    /// Probe, reset and confirm the `candidates` of `targets`, [`ROUND`] at
    /// a time, returning `(index, result)` for each.
    fn run(
        &mut self,
        wire: &mut Wire,
        targets: &[Target],
        candidates: &[usize],
        limits: Limits,
    ) -> Vec<(usize, Result<(), Error>)> {
        let ratelimit = limits.invalid_ratelimit.min(Duration::from_secs(2));
        let mut heard: Vec<Heard> = vec![Heard::default(); targets.len()];
        let mut settled = Vec::with_capacity(candidates.len());
        let silent = |heard: &[Heard], round: &[usize]| -> Vec<usize> {
            round
                .iter()
                .copied()
                .filter(|&i| {
                    heard
                        .get(i)
                        .is_some_and(|h| h.answer.is_none() && !h.unsent)
                })
                .collect()
        };
        for round in candidates.chunks(ROUND) {
            let started = Instant::now();
            let mut keys = Round::with_capacity(round.len());
            self.probe_round(
                wire,
                targets,
                round,
                &mut heard,
                false,
                &mut keys,
                &mut settled,
            );
            let again = silent(&heard, round);
            if !again.is_empty() {
                // The socket may have answered someone else within the
                // per-socket limit: wait it out, then probe the other half
                // of the sequence space.
                std::thread::sleep(ratelimit.saturating_sub(started.elapsed()));
                self.probe_round(
                    wire,
                    targets,
                    &again,
                    &mut heard,
                    true,
                    &mut keys,
                    &mut settled,
                );
            }
            #[cfg(test)]
            if let Some(hook) = self.before_rst.as_mut() {
                hook();
            }
            let answered: Vec<usize> = round
                .iter()
                .copied()
                .filter(|&i| heard.get(i).is_some_and(|h| h.answer.is_some()))
                .collect();
            self.reset(
                wire,
                targets,
                &answered,
                &keys,
                &mut heard,
                limits.rfc1337,
                &mut settled,
            );
            let never = silent(&heard, round);
            self.silent(targets, &never, ratelimit, &mut settled);
        }
        settled
    }
}

impl Inject<'_> {
    /// Settle the sockets that never answered: gone, or failed saying so.
    fn silent(
        &mut self,
        targets: &[Target],
        indices: &[usize],
        ratelimit: Duration,
        settled: &mut Vec<(usize, Result<(), Error>)>,
    ) {
        if indices.is_empty() {
            return;
        }
        let found = self.look_up(targets, indices);
        for (&i, found) in indices.iter().zip(found) {
            settled.push((
                i,
                match found {
                    Ok(None) => Err(Error::NotFound),
                    Ok(Some(_)) => Err(Error::NotAborted(format!(
                        "it never answered the probe (twice, {} ms apart): nothing was sent to it but the probes",
                        ratelimit.as_millis()
                    ))),
                    Err(err) => Err(err),
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abort::tests_util::{as_user, find, target};
    use nstest::{
        abort_close, connect, connect_from, in_netns, listen, listen_dual, read_errno,
        still_accepts, time_wait,
    };
    use rustix::io::Errno;
    use rustix::net::{eth, sockopt, AddressFamily, RecvFlags, SocketFlags, SocketType};
    use std::cell::RefCell;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::OwnedFd;
    use std::process::Command;

    /// Abort `targets` by inject, on a fresh sock_diag socket; the results
    /// and the longest lookup-to-RST window.
    fn inject(targets: &[Target]) -> (Vec<Result<(), Error>>, Duration) {
        let mut diag = sockdiag::Client::new().unwrap();
        let here = Netns::current().unwrap();
        let mut inject = Inject::new(&mut diag, Some(&here));
        let mut results = Vec::new();
        inject.abort(targets, &mut results);
        assert_eq!(results.len(), targets.len());
        (results, inject.max_window)
    }

    fn set_sysctl(name: &str, value: &str) {
        std::fs::write(format!("/proc/sys/net/ipv4/{name}"), value).unwrap();
    }

    /// Inject on the client end of a fresh connection: the client (the
    /// holder) sees ECONNRESET, and so does the server, its peer.
    fn holder_and_peer_are_reset(listener: &TcpListener, to: Option<SocketAddr>) {
        let (mut client, mut server) = match to {
            Some(to) => nstest::connect_to(listener, to),
            None => connect(listener),
        };
        let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let t = target(local, remote);
        let (results, window) = inject(&[t]);
        eprintln!("inject: one socket's lookup-to-RST window {window:?}");
        assert!(results[0].is_ok(), "{results:?}");
        assert_eq!(read_errno(&mut client), Some(libc::ECONNRESET), "holder");
        assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET), "peer");
        assert!(find(local, remote).is_none());
        assert!(still_accepts(listener));
    }

    #[test]
    fn inject_aborts_an_ipv4_connection_and_resets_its_peer() {
        in_netns(|| holder_and_peer_are_reset(&listen("127.0.0.1:0"), None));
    }

    #[test]
    fn inject_aborts_an_ipv6_connection_and_resets_its_peer() {
        in_netns(|| holder_and_peer_are_reset(&listen("[::1]:0"), None));
    }

    #[test]
    fn inject_aborts_a_v4_mapped_connection_of_a_dual_stack_socket() {
        in_netns(|| {
            let listener = listen_dual(0);
            let port = listener.local_addr().unwrap().port();
            let (mut client, mut server) =
                nstest::connect_to(&listener, SocketAddr::from(([127, 0, 0, 1], port)));
            // The server's end: AF_INET6, dumped with ::ffff: addresses.
            let t = target(server.local_addr().unwrap(), server.peer_addr().unwrap());
            assert_eq!(t.family, Family::Inet6);
            let (results, _) = inject(&[t]);
            assert!(results[0].is_ok(), "{results:?}");
            assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET), "holder");
            assert_eq!(read_errno(&mut client), Some(libc::ECONNRESET), "peer");
        });
    }

    #[test]
    fn inject_aborts_a_time_wait_socket() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let local = time_wait(&listener);
            let remote = listener.local_addr().unwrap();
            let t = target(local, remote);
            assert_eq!(t.state, TcpState::TimeWait);
            let (results, _) = inject(&[t]);
            assert!(results[0].is_ok(), "{results:?}");
            assert!(find(local, remote).is_none(), "still in TIME-WAIT");
        });
    }

    #[test]
    fn under_rfc1337_time_wait_fails_saying_so_and_nothing_is_sent() {
        in_netns(|| {
            set_sysctl("tcp_rfc1337", "1");
            let listener = listen("[::1]:0");
            let local = time_wait(&listener);
            let remote = listener.local_addr().unwrap();
            let t = target(local, remote);
            let (results, _) = inject(&[t]);
            match &results[0] {
                Err(Error::NotAborted(why)) => assert!(why.contains("tcp_rfc1337"), "{why}"),
                other => panic!("{other:?}"),
            }
            assert_eq!(find(local, remote).map(|f| f.id.cookie), Some(t.id.cookie));
        });
    }

    /// A connection the dump showed opening (SYN-SENT) has connected by
    /// the time of the drop: it is looked up again and reset in the state
    /// it is in now, where the dump's state alone refused it.
    #[test]
    fn a_connection_dumped_while_opening_is_reset_once_connected() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut client, mut server) = connect(&listener);
            let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
            let mut t = target(local, remote);
            t.state = TcpState::SynSent;
            let (results, _) = inject(&[t]);
            assert!(results[0].is_ok(), "{results:?}");
            assert_eq!(read_errno(&mut client), Some(libc::ECONNRESET), "holder");
            assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET), "peer");
            assert!(still_accepts(&listener));
        });
    }

    /// A connection still opening (its peer never answers) is refused,
    /// saying why, and left as it is; one that closed since the dump is
    /// gone.
    #[test]
    fn a_connection_still_opening_is_refused_and_one_closed_is_gone() {
        in_netns(|| {
            fake_peer();
            let (_opening, local, peer) = connecting_to_fake_peer();
            let stuck = target(local, peer);
            assert_eq!(stuck.state, TcpState::SynSent);

            let listener = listen("127.0.0.1:0");
            let (client, _server) = connect(&listener);
            let (c_local, c_remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
            let mut closed = target(c_local, c_remote);
            closed.state = TcpState::SynSent;
            abort_close(client);

            let (results, _) = inject(&[stuck, closed]);
            match &results[0] {
                Err(Error::NotAborted(why)) => assert!(why.contains("SynSent"), "{why}"),
                other => panic!("{other:?}"),
            }
            assert!(
                matches!(results[1], Err(Error::NotFound)),
                "{:?}",
                results[1]
            );
            assert_eq!(
                find(local, peer).map(|f| f.id.cookie),
                Some(stuck.id.cookie)
            );
        });
    }

    /// A peer at 10.99.0.2 that does not exist: behind a veth whose other
    /// end has no address, reached through a static neighbour entry (so
    /// segments to it go out at once, not held waiting for ARP) and never
    /// answering. Segments "from" it are ours, sent with [`Wire`].
    fn fake_peer() {
        for args in [
            &["link", "add", "v0", "type", "veth", "peer", "name", "v1"][..],
            &["link", "set", "v0", "up"],
            &["link", "set", "v1", "up"],
            &["addr", "add", "10.99.0.1/24", "dev", "v0"],
            &[
                "neigh",
                "add",
                "10.99.0.2",
                "lladdr",
                "02:00:00:00:00:02",
                "dev",
                "v0",
            ],
        ] {
            assert!(Command::new("ip").args(args).status().unwrap().success());
        }
    }

    /// A socket connecting to [`fake_peer`]'s 10.99.0.2:80 (SYN-SENT until
    /// someone answers for the peer), with its two ends.
    fn connecting_to_fake_peer() -> (OwnedFd, SocketAddr, SocketAddr) {
        let peer: SocketAddr = "10.99.0.2:80".parse().unwrap();
        let socket = rustix::net::socket_with(
            AddressFamily::INET,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        match rustix::net::connect(&socket, &peer) {
            Err(Errno::INPROGRESS) => {}
            other => panic!("connect: {other:?}"),
        }
        let local = SocketAddr::try_from(rustix::net::getsockname(&socket).unwrap()).unwrap();
        (socket, local, peer)
    }

    /// A packet socket that sees every segment (no filter), for the tests
    /// that play the peer.
    fn capture() -> OwnedFd {
        let fd =
            rustix::net::socket(AddressFamily::PACKET, SocketType::DGRAM, Some(eth::ALL)).unwrap();
        sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(Duration::from_secs(2)))
            .unwrap();
        fd
    }

    /// The next segment `capture` sees from `src` to `dst` with `flag` set.
    fn captured(capture: &OwnedFd, src: SocketAddr, dst: SocketAddr, flag: u8) -> Segment {
        let mut buf = [0u8; 256];
        loop {
            let (_, len) = rustix::net::recv(capture, &mut buf, RecvFlags::empty())
                .expect("the segment was never seen");
            if let Some(p) = packet::parse(&buf[..len.min(buf.len())]) {
                let s = p.segment;
                if s.src == src && s.dst == dst && s.flags & flag != 0 {
                    return s;
                }
            }
        }
    }

    #[test]
    fn a_time_wait_socket_whose_peer_never_answers_is_reset_by_our_rst() {
        in_netns(|| {
            // The TIME-WAIT of the other tests dies of its peer's RST (its
            // answer to the probe reaches the peer's listener, which resets
            // it); here the peer is played by hand and answers nothing, so
            // only inject's own RST can end it.
            fake_peer();
            let sniff = capture();
            let (client, local, peer) = connecting_to_fake_peer();
            let syn = captured(&sniff, local, peer, flags::SYN);
            let mut wire = crate::spoof::here::wire();
            let from_peer = |seq: u32, ack: u32, flags: u8| Segment {
                src: peer,
                dst: local,
                seq,
                ack,
                flags,
                window: 65535,
            };
            let isn = syn.seq;
            wire.send(&from_peer(
                5000,
                isn.wrapping_add(1),
                flags::SYN | flags::ACK,
            ))
            .unwrap();
            captured(&sniff, local, peer, flags::ACK);
            rustix::net::shutdown(&client, rustix::net::Shutdown::Write).unwrap();
            captured(&sniff, local, peer, flags::FIN);
            wire.send(&from_peer(
                5001,
                isn.wrapping_add(2),
                flags::FIN | flags::ACK,
            ))
            .unwrap();
            captured(&sniff, local, peer, flags::ACK);
            drop(client);
            let t = target(local, peer);
            assert_eq!(t.state, TcpState::TimeWait);
            let (results, _) = inject(&[t]);
            assert!(results[0].is_ok(), "{results:?}");
            assert!(find(local, peer).is_none(), "still in TIME-WAIT");
        });
    }

    #[test]
    fn a_syn_recv_request_socket_is_dropped_from_the_listeners_queue() {
        in_netns(|| {
            // The SYN comes from a peer that never completes the handshake.
            fake_peer();
            let listener = listen("10.99.0.1:0");
            let local = listener.local_addr().unwrap();
            let remote: SocketAddr = "10.99.0.2:40000".parse().unwrap();
            let mut wire = crate::spoof::here::wire();
            wire.send(&Segment {
                src: remote,
                dst: local,
                seq: 1000,
                ack: 0,
                flags: flags::SYN,
                window: 65535,
            })
            .unwrap();
            let t = target(local, remote);
            assert_eq!(t.state, TcpState::SynRecv, "a request socket");
            assert_eq!(t.inode, 0);
            let (results, _) = inject(&[t]);
            assert!(results[0].is_ok(), "{results:?}");
            assert!(find(local, remote).is_none(), "the request is still queued");
            assert!(still_accepts(&listener));
        });
    }

    #[test]
    fn inject_without_cap_net_raw_is_refused_and_touches_nothing() {
        if !nstest::require_real_root("the caller runs as another uid") {
            return;
        }
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut client, mut server) = connect(&listener);
            let t = target(client.local_addr().unwrap(), server.local_addr().unwrap());
            let (results, _) = as_user(65534, || inject(&[t]));
            assert!(
                matches!(
                    results[0],
                    Err(Error::MissingCapability {
                        capability: "CAP_NET_RAW",
                        ..
                    })
                ),
                "{results:?}"
            );
            assert_eq!(read_errno(&mut client), None);
            assert_eq!(read_errno(&mut server), None);
        });
    }

    #[test]
    fn a_tuple_reused_between_probe_and_rst_is_reported_gone_and_not_touched() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let to = listener.local_addr().unwrap();
            let from: SocketAddr = "127.0.0.1:47001".parse().unwrap();
            let (client, server) = connect_from(from, to, &listener);
            let t = target(from, to);
            let newcomer: RefCell<Option<(TcpStream, TcpStream)>> = RefCell::new(None);
            let old = RefCell::new(Some((client, server)));
            let mut diag = sockdiag::Client::new().unwrap();
            let here = Netns::current().unwrap();
            let mut inject = Inject::new(&mut diag, Some(&here));
            inject.before_rst = Some(Box::new(|| {
                let (client, server) = old.borrow_mut().take().unwrap();
                abort_close(client);
                drop(server);
                *newcomer.borrow_mut() = Some(connect_from(from, to, &listener));
            }));
            let mut results = Vec::new();
            inject.abort(&[t], &mut results);
            drop(inject);
            assert!(matches!(results[0], Err(Error::NotFound)), "{results:?}");
            let (mut client, mut server) = newcomer.take().unwrap();
            let now = target(from, to);
            assert_ne!(now.id.cookie, t.id.cookie, "the tuple was reused");
            assert_eq!(read_errno(&mut client), None);
            assert_eq!(read_errno(&mut server), None);
        });
    }

    #[test]
    fn a_missing_tuple_with_a_listener_on_its_port_leaves_the_listener_alone() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (client, server) = connect(&listener);
            let t = target(server.local_addr().unwrap(), client.local_addr().unwrap());
            abort_close(client);
            drop(server);
            let (results, _) = inject(&[t]);
            assert!(matches!(results[0], Err(Error::NotFound)), "{results:?}");
            assert!(still_accepts(&listener));
        });
    }

    #[test]
    fn a_socket_that_never_answers_fails_with_the_reason_and_survives() {
        in_netns(|| {
            // One answer per minute per socket: after the probe below, the
            // socket stays silent for longer than inject waits.
            set_sysctl("tcp_invalid_ratelimit", "60000");
            let listener = listen("127.0.0.1:0");
            let (mut client, mut server) = connect(&listener);
            let t = target(client.local_addr().unwrap(), server.local_addr().unwrap());
            let mut wire = crate::spoof::here::wire();
            wire.send(&probe(&Ends::of(&t), t.state, 12345, false))
                .unwrap();
            let (results, _) = inject(&[t]);
            match &results[0] {
                Err(Error::NotAborted(why)) => assert!(why.contains("never answered"), "{why}"),
                other => panic!("{other:?}"),
            }
            assert_eq!(read_errno(&mut client), None);
            assert_eq!(read_errno(&mut server), None);
        });
    }

    #[test]
    fn listeners_are_refused_without_a_segment() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let t = target(listener.local_addr().unwrap(), "0.0.0.0:0".parse().unwrap());
            assert_eq!(t.state, TcpState::Listen);
            let (results, _) = inject(&[t]);
            assert!(
                matches!(&results[0], Err(Error::NotAborted(_))),
                "{results:?}"
            );
            assert!(still_accepts(&listener));
        });
    }

    /// Kept for the next batch (as a drop's worker keeps them), inject's
    /// sockets stay open between batches and serve the next one: after
    /// each batch exactly one packet socket is open in the namespace, the
    /// same one, and each batch's socket is reset (with the namespace's
    /// traffic in between, which the next batch reads away). Not kept,
    /// none is left open.
    #[test]
    fn a_kept_wire_serves_the_next_batch_and_an_unkept_one_is_closed() {
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let mut diag = sockdiag::Client::new().unwrap();
            let here = Netns::current().unwrap();
            let mut slot = None;
            let mut kept = Vec::new();
            for batch in 0..3 {
                let (mut client, mut server) = connect(&listener);
                let t = target(client.local_addr().unwrap(), client.peer_addr().unwrap());
                let mut results = Vec::new();
                Inject::new(&mut diag, Some(&here))
                    .keeping(Some(&mut slot))
                    .abort(&[t], &mut results);
                assert!(results[0].is_ok(), "batch {batch}: {results:?}");
                assert_eq!(read_errno(&mut client), Some(libc::ECONNRESET));
                assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET));
                kept.push(nstest::packet_sockets());
                // Traffic the kept socket sees before the next batch.
                let (mut a, mut b) = connect(&listener);
                assert!(nstest::carries_data(&mut a, &mut b));
            }
            assert!(slot.is_some());
            assert_eq!(kept[0].len(), 1, "{kept:?}");
            assert!(kept.iter().all(|k| *k == kept[0]), "{kept:?}");
            drop(slot);
            let (client, _server) = connect(&listener);
            let t = target(client.local_addr().unwrap(), client.peer_addr().unwrap());
            let mut results = Vec::new();
            Inject::new(&mut diag, Some(&here)).abort(&[t], &mut results);
            assert!(results[0].is_ok(), "{results:?}");
            assert!(nstest::packet_sockets().is_empty());
        });
    }

    /// Many sockets in one call, of both families; prints the time per
    /// socket and the longest lookup-to-RST window (run with --nocapture;
    /// `NSTEST_INJECT_N` sockets, default 600).
    #[test]
    fn inject_many_sockets_at_once() {
        in_netns(|| {
            let v4 = listen("127.0.0.1:0");
            let v6 = listen("[::1]:0");
            let n: usize = std::env::var("NSTEST_INJECT_N")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(600);
            let mut pairs = Vec::new();
            for i in 0..n {
                pairs.push(connect(if i % 2 == 0 { &v4 } else { &v6 }));
            }
            let targets: Vec<Target> = pairs
                .iter()
                .map(|(c, _)| target(c.local_addr().unwrap(), c.peer_addr().unwrap()))
                .collect();
            let start = Instant::now();
            let (results, window) = inject(&targets);
            let took = start.elapsed();
            eprintln!(
                "inject: {} sockets in {took:?} ({:?} per socket); longest lookup-to-RST window {window:?}",
                targets.len(),
                took / targets.len() as u32
            );
            for (i, r) in results.iter().enumerate() {
                assert!(r.is_ok(), "{i}: {r:?}");
            }
            for (mut client, mut server) in pairs {
                assert_eq!(read_errno(&mut client), Some(libc::ECONNRESET));
                assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET));
            }
        });
    }
}
