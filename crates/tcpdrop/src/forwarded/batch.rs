//! Steps 3 to 6 of a forwarded drop for one batch of flows (up to
//! [`ROUND`](crate::spoof::ROUND)): plan each end's path, probe, decide,
//! reset and confirm, report. End `2 * i` is flow `i`'s originator,
//! `2 * i + 1` its responder. Nothing is sent to the batch after
//! [`SENDING_BOUND`] from its first probe.

use std::time::Instant;

use super::flows::{End, ForwardedFlow, Side};
use super::outcome::{EntryOutcome, ForwardedOutcome};
use super::probe::{probe_base, probe_ends, unheard, Ears, Openings};
use super::route::Routes;
use super::{check, reset, Forwarded, Sockets, RESETTING, RETRY_AFTER, SENDING_BOUND};
use crate::drop::Sink;
use crate::spoof::link::Path;
use crate::spoof::Spoof;

/// One batch of flows on its way through the steps.
pub(super) struct Batch<'b> {
    flows: &'b [ForwardedFlow],
    /// Both ends of every flow, in order.
    ends: Vec<End>,
    /// Each end's path, or why there is none.
    paths: Vec<Result<Path, String>>,
    /// Each flow's outcome, once decided before its resets.
    decided: Vec<Option<ForwardedOutcome>>,
    /// What each end said.
    ears: Ears,
    /// Why an end could not be probed.
    unsent: Vec<Option<String>>,
    /// Each end's reset: confirmed, or why not.
    results: Vec<Option<Result<(), String>>>,
    /// The first probe.
    started: Instant,
}

impl<'b> Batch<'b> {
    pub(super) fn new(flows: &'b [ForwardedFlow]) -> Batch<'b> {
        let ends: Vec<End> = flows
            .iter()
            .flat_map(|f| [f.originator, f.responder])
            .collect();
        Batch {
            flows,
            ears: Ears::new(&ends),
            unsent: vec![None; ends.len()],
            results: vec![None; ends.len()],
            paths: Vec::new(),
            decided: vec![None; flows.len()],
            ends,
            started: Instant::now(),
        }
    }

    /// Step 3, plan the paths: a flow with an end that cannot be reached is not
    /// touched, so that it is not left half-open; nor is one whose
    /// connection is gone already.
    pub(super) fn plan(
        &mut self,
        routes: &mut Routes,
        conntrack: &mut conntrack::Client,
        openings: &mut Openings,
    ) {
        self.paths = self.ends.iter().map(|e| routes.path(e.addr.ip())).collect();
        for (f, slot) in self.decided.iter_mut().enumerate() {
            let unreachable: Vec<String> =
                [(2 * f, Side::Originator), (2 * f + 1, Side::Responder)]
                    .into_iter()
                    .filter_map(|(i, side)| match self.paths.get(i) {
                        Some(Ok(_)) => None,
                        Some(Err(why)) => Some(format!("the {} end: {why}", side.name())),
                        None => Some(format!("the {} end: no path", side.name())),
                    })
                    .collect();
            if !unreachable.is_empty() {
                *slot = Some(ForwardedOutcome::Failed {
                    why: format!("{}; nothing was sent to either end", unreachable.join("; ")),
                });
            }
        }
        openings.update();
        for (flow, slot) in self.flows.iter().zip(self.decided.iter_mut()) {
            if slot.is_none() {
                if let Some(why) = check::replaced(conntrack, flow, openings) {
                    *slot = Some(ForwardedOutcome::Gone {
                        why: format!("{why}; nothing was sent"),
                    });
                }
            }
        }
    }

    /// Step 4, probe every end of a flow still undecided; again, after the rate
    /// limit, those silent.
    pub(super) fn probe(&mut self, sockets: &mut Sockets) {
        let live = |i: usize| self.decided.get(i / 2).is_some_and(Option::is_none);
        let all: Vec<usize> = (0..self.ends.len()).filter(|&i| live(i)).collect();
        self.started = Instant::now();
        let base = probe_base();
        let (ends, paths) = (&self.ends, &self.paths);
        probe_ends(
            sockets,
            ends,
            paths,
            &mut self.ears,
            &all,
            base,
            &mut self.unsent,
        );
        let silent: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| unheard(&self.ears, &self.unsent, i))
            .collect();
        if !silent.is_empty() {
            std::thread::sleep(RETRY_AFTER.saturating_sub(self.started.elapsed()));
            // The other half of the sequence space, in case the first probe
            // fell in the end's window.
            let base = base ^ 0x8000_0000_0000_0000;
            probe_ends(
                sockets,
                ends,
                paths,
                &mut self.ears,
                &silent,
                base,
                &mut self.unsent,
            );
        }
        self.ears.fix_first();
    }

    /// Decide from the probes' answers: an RST anywhere means no such
    /// connection; a connection replaced meanwhile is gone; the ends that
    /// answered are to be reset.
    pub(super) fn decide(&mut self, conntrack: &mut conntrack::Client, openings: &Openings) {
        for (f, (flow, slot)) in self.flows.iter().zip(self.decided.iter_mut()).enumerate() {
            if slot.is_some() {
                continue;
            }
            let (o, r) = (2 * f, 2 * f + 1);
            let said_rst = |i: usize| self.ears.heard.get(i).is_some_and(|h| h.reset);
            if said_rst(o) || said_rst(r) {
                let side = if said_rst(o) {
                    Side::Originator
                } else {
                    Side::Responder
                };
                *slot = Some(ForwardedOutcome::NoSuchConnection { side });
                continue;
            }
            if let Some(why) = check::replaced(conntrack, flow, openings) {
                *slot = Some(ForwardedOutcome::Gone {
                    why: format!("{why}; nothing but the probes was sent"),
                });
            }
        }
    }

    /// Step 5, reset and confirm the ends that answered, of the flows decided
    /// on, leaving alone each flow replaced meanwhile.
    pub(super) fn reset(
        &mut self,
        spoof: Spoof<'_>,
        conntrack: &mut conntrack::Client,
        sockets: &mut Sockets,
    ) {
        let mut to_reset = Vec::new();
        for (f, slot) in self.decided.iter().enumerate() {
            for i in [2 * f, 2 * f + 1] {
                if slot.is_none() && self.ears.heard.get(i).is_some_and(|h| h.numbers.is_some()) {
                    to_reset.push(i);
                }
            }
        }
        let flows = self.flows;
        let mut stop = |openings: &Openings, pending: &[usize]| {
            let mut stopped = Vec::new();
            let mut replaced: Vec<usize> = pending.iter().map(|i| i / 2).collect();
            replaced.dedup();
            for f in replaced {
                let Some(flow) = flows.get(f) else {
                    continue;
                };
                if let Some(why) = check::replaced(conntrack, flow, openings) {
                    for i in [2 * f, 2 * f + 1] {
                        if pending.contains(&i) {
                            stopped.push((i, why.clone()));
                        }
                    }
                }
            }
            stopped
        };
        let settled = reset::run(
            spoof,
            &mut sockets.link,
            &mut sockets.openings,
            &self.ends,
            &self.paths,
            &mut self.ears,
            &to_reset,
            // Responders first in each round (see reset.rs: the confirming
            // RSTs must not meet a newcomer).
            &|i| i % 2 == 1,
            (self.started + SENDING_BOUND).min(Instant::now() + RESETTING),
            &mut stop,
        );
        for (i, result) in settled {
            if let Some(slot) = self.results.get_mut(i) {
                *slot = Some(result);
            }
        }
    }

    /// Step 6, report each flow's outcome to `sink`, the conntrack entry of
    /// each flow reset removed by `entry`.
    pub(super) fn report(
        self,
        entry: &mut dyn FnMut(&ForwardedFlow, &mut Openings) -> EntryOutcome,
        openings: &mut Openings,
        sink: &mut dyn Sink<Forwarded>,
    ) {
        for (f, (flow, decided)) in self.flows.iter().zip(&self.decided).enumerate() {
            let outcome = match decided {
                Some(outcome) => outcome.clone(),
                None => {
                    let ok = |i: usize| matches!(self.results.get(i), Some(Some(Ok(()))));
                    let (o, r) = (2 * f, 2 * f + 1);
                    match (ok(o), ok(r)) {
                        (true, true) => ForwardedOutcome::Dropped {
                            entry: entry(flow, openings),
                        },
                        (true, false) => ForwardedOutcome::OneEnd {
                            reset: Side::Originator,
                            why: self.why(r, Side::Responder),
                            entry: entry(flow, openings),
                        },
                        (false, true) => ForwardedOutcome::OneEnd {
                            reset: Side::Responder,
                            why: self.why(o, Side::Originator),
                            entry: entry(flow, openings),
                        },
                        (false, false) => ForwardedOutcome::Failed {
                            why: format!(
                                "{}; {}",
                                self.why(o, Side::Originator),
                                self.why(r, Side::Responder)
                            ),
                        },
                    }
                }
            };
            sink.outcome(flow.clone(), outcome);
        }
    }

    /// Why end `i`, on `side`, was not reset.
    fn why(&self, i: usize, side: Side) -> String {
        let end = self
            .ends
            .get(i)
            .map(|e| e.addr.to_string())
            .unwrap_or_default();
        let what = match self.results.get(i).cloned().flatten() {
            Some(Err(why)) => why,
            _ => self.unsent.get(i).cloned().flatten().unwrap_or_else(|| {
                "it never answered the probe (twice, 550 ms apart), so nothing more was sent \
                 to it: a firewall may filter it, its route back may not pass this host \
                 (asymmetric routing), or its host is rate-limiting such answers \
                 (net.ipv4.tcp_invalid_ratelimit)"
                    .to_string()
            }),
        };
        format!("the {} end {end}: {what}", side.name())
    }
}
