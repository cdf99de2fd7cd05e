//! Resetting ends that answered, and confirming each reset by the end's
//! own answer.
//!
//! Each end gets an RST from its peer with `seq` = its RCV.NXT, and right
//! behind it, on the same link, a probe carrying one byte with a sequence
//! number a quarter of the sequence space behind RCV.NXT: a socket that is
//! still there answers it with an ACK (a segment with data is answered
//! whatever `tcp_invalid_ratelimit` says, and one that far behind is never
//! in its window, so the byte is never taken), and a host without the
//! connection answers with an RST. An ACK means the RST missed (a busy
//! connection's RCV.NXT moved on): it carries the new RCV.NXT, and the
//! next RST uses it. Right before each group of RSTs, a fresh packet
//! socket reads what flows for a moment, so that data still on its way to
//! an end counts (see [`CATCH_UP`] and [`AHEAD`]).
//!
//! An end that does not answer the confirming probe at all is given up
//! on at once, and nothing more is sent to it: its RST went out at the
//! RCV.NXT it gave, so another would add nothing, and a host whose
//! firewall drops conntrack-INVALID segments drops that probe (it is out
//! of the window, and after a reset the connection is closed there) and
//! would be sent RSTs for nothing. Before each round the procedure says
//! which ends must be left alone (a new connection on their tuple, their
//! conntrack entry replaced); and nothing is sent past the time the
//! procedure gives (see [`super::SENDING_BOUND`]).
//!
//! In each round the responders go first, and their answers are waited
//! for before the originators get theirs. A closed end answers the
//! confirming probe with an RST to its peer's tuple, and the originator
//! (the client) is the end that may at once open a new connection from
//! the same port: its own connection tracking, in SYN-SENT, knows nothing
//! yet of the other direction and takes any RST from it, closing the
//! newcomer's entry, whose next segments a `ct state invalid drop` rule
//! there then drops (seen: a newcomer that could not carry a byte, the
//! responder's RST having arrived just after the newcomer's SYN left).
//! Answered first, that RST passes this host before the originator's RST
//! leaves it, on the same link, and reaches the originator while its old
//! connection still holds the tuple, where it is out of the window. An
//! originator reset in one round stops what it was sending, so a busy
//! responder is caught in the next, as when both went together. What is
//! left: a responder whose RST missed is sent its next one after the
//! originator's reset, and if the originator opened a newcomer whose SYN
//! had not yet reached this host when the round began (the time a
//! segment takes from the originator to here), the responder's RST
//! answer can still meet it.

use std::time::{Duration, Instant};

use super::flows::End;
use super::probe::{Ears, Openings};
use super::route::Path;
use crate::spoof::link::Link;
use crate::spoof::segment::{flags, Segment};
use crate::spoof::Spoof;

/// Rounds of RSTs sent to an end before it is reported failed.
const ATTEMPTS: usize = 10;

/// RSTs per round beyond the first, for an end that data is flowing to:
/// at RCV.NXT plus 1, 2, ... times the length of the latest segment on
/// its way there. Sent back to back, faster than segments come, the `k`th
/// lands just when `k` more such segments have arrived, if they have;
/// each one that misses is at most answered with a challenge ACK.
const AHEAD: u32 = 16;

/// How long the segments flowing now are read, on a packet socket opened
/// for the round (for each of its two groups), before its RSTs. A socket opened earlier would hand over
/// a backlog: on a connection busy at line rate the reader falls behind,
/// and the RSTs carry numbers milliseconds old.
const CATCH_UP: Duration = Duration::from_millis(1);

/// How long to wait for the answers to a round of confirming probes.
const ANSWER_WAIT: Duration = Duration::from_millis(500);

/// How far behind RCV.NXT the confirming probe's sequence number is.
const BEHIND: u32 = 0x4000_0000;

/// Which ends must be left alone now, and why: given the connections seen
/// opening and the pending ends, `(index, why)` for each that must not be
/// sent anything more.
pub(super) type Stop<'a> = dyn FnMut(&Openings, &[usize]) -> Vec<(usize, String)> + 'a;

/// Reset the ends at `indices` (of `ends`, each with numbers in `ears`)
/// and confirm each, sending nothing after `until`; `(index, Ok(()))` for
/// each end confirmed reset, or the reason it was not. In each round the
/// ends for which `first` holds go first and their answers are waited
/// for, then the others (see the module's text).
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    spoof: Spoof<'_>,
    link: &mut Link,
    openings: &mut Openings,
    ends: &[End],
    paths: &[Result<Path, String>],
    ears: &mut Ears,
    indices: &[usize],
    first: &dyn Fn(usize) -> bool,
    until: Instant,
    stop: &mut Stop<'_>,
) -> Vec<(usize, Result<(), String>)> {
    let mut settled = Vec::with_capacity(indices.len());
    let mut pending: Vec<usize> = indices.to_vec();
    // The ends sent an RST so far.
    let mut rst_sent: Vec<usize> = Vec::with_capacity(indices.len());
    let mut rounds = 0;
    while !pending.is_empty() && rounds < ATTEMPTS && Instant::now() < until {
        rounds += 1;
        let (ahead_of, behind): (Vec<usize>, Vec<usize>) =
            pending.drain(..).partition(|&i| first(i));
        for mut group in [ahead_of, behind] {
            if group.is_empty() || Instant::now() >= until {
                pending.extend(group);
                continue;
            }
            // A socket of the group's own: see CATCH_UP.
            let mut wire = match spoof.wire(crate::spoof::Keep::Answers, super::NEEDED_FOR) {
                Ok(wire) => wire,
                Err(err) => {
                    let why = format!("opening a packet socket: {err}");
                    settled.extend(group.into_iter().map(|i| (i, Err(why.clone()))));
                    continue;
                }
            };
            ears.drain(&mut wire, CATCH_UP);
            // After the numbers: a newcomer whose segment was just read
            // has had its SYN seen by now.
            openings.update();
            for (i, why) in stop(openings, &group) {
                group.retain(|&g| g != i);
                let why = if rst_sent.contains(&i) {
                    format!(
                        "an RST was sent to it, but before its reset was confirmed {why}, so \
                         nothing more was sent to it"
                    )
                } else {
                    format!("{why}, so it was sent nothing but the probe")
                };
                settled.push((i, Err(why)));
            }
            ears.new_phase(&group);
            let mut sent = Vec::with_capacity(group.len());
            for i in group {
                match send(link, ends, paths, ears, i) {
                    Ok(()) => {
                        sent.push(i);
                        if !rst_sent.contains(&i) {
                            rst_sent.push(i);
                        }
                    }
                    Err(why) => settled.push((i, Err(why))),
                }
            }
            let sent_at = Instant::now();
            ears.listen(&mut wire, openings, &sent, until.min(sent_at + ANSWER_WAIT));
            let waited = sent_at.elapsed().as_millis();
            for i in sent {
                match ears.heard.get(i) {
                    Some(h) if h.reset => settled.push((i, Ok(()))),
                    Some(h) if h.acked => pending.push(i),
                    _ => settled.push((
                        i,
                        Err(format!(
                            "an RST was sent at the RCV.NXT it gave, but it never answered the \
                             probe that confirms it within {waited} ms, so the reset is not \
                             confirmed: a firewall on its host may drop that probe (it is out \
                             of the connection's window: `ct state invalid drop`), or its \
                             answers take another route back; nothing more was sent to it"
                        )),
                    )),
                }
            }
        }
    }
    for i in pending {
        let why = if rst_sent.contains(&i) {
            format!(
                "it still answered after {rounds} rounds of RSTs: its sequence numbers moved \
                 on faster than the RSTs could follow"
            )
        } else {
            "the time for RSTs ran out before one was sent to it, so nothing but the probe was"
                .to_string()
        };
        settled.push((i, Err(why)));
    }
    settled
}

/// Send end `i` its RSTs and, right behind them, the probe that confirms
/// them, as its numbers in `ears` say.
fn send(
    link: &mut Link,
    ends: &[End],
    paths: &[Result<Path, String>],
    ears: &mut Ears,
    i: usize,
) -> Result<(), String> {
    let (Some(end), Some(Ok(path)), Some(heard)) = (ends.get(i), paths.get(i), ears.heard.get(i))
    else {
        return Err("no path to this end".to_string());
    };
    let Some(n) = heard.numbers else {
        return Err("its sequence numbers are not known".to_string());
    };
    let ahead = if heard.step > 0 { AHEAD } else { 0 };
    let rsts: Vec<Segment> = (0..=ahead)
        .map(|k| Segment {
            src: end.peer,
            dst: end.addr,
            seq: n.rcv_nxt.wrapping_add(k.wrapping_mul(heard.step)),
            ack: n.snd_nxt,
            flags: flags::RST | flags::ACK,
            window: 0,
        })
        .collect();
    let confirm = Segment {
        src: end.peer,
        dst: end.addr,
        seq: n.rcv_nxt.wrapping_sub(BEHIND),
        // Far from anything the peer's socket expects, so the RST a closed
        // end answers with is not one that socket could take.
        ack: n.snd_nxt.wrapping_add(BEHIND),
        flags: flags::ACK,
        window: 0,
    };
    for rst in &rsts {
        ears.sent(rst);
    }
    ears.sent(&confirm);
    rsts.iter()
        .try_for_each(|rst| link.send(path, rst, &[]))
        .and_then(|()| link.send(path, &confirm, &[0]))
}
