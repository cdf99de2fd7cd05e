//! `--forwarded`: what is the forwarded flows' own in the command, the
//! connections this host forwards (a router, a firewall, a NAT gateway)
//! being the other source of the same plan, listing and drop: each flow's
//! row (the responder's view beside the originator's), and what became of
//! it (`tcpdrop::forwarded`).

use std::io::{self, Write};

use serde_json::{json, Value};
use tcpdrop::forwarded::{EntryOutcome, Forwarded, ForwardedFlow, ForwardedOutcome, Side};
use tcpdrop::{Selection, Sink, What};

use crate::failure::Failure;
use crate::output::{Printer, Row};
use crate::totals::Totals;

/// Print one flow: its originator's view as the row, the responder's view
/// beside it when addresses are translated (and always in JSON).
pub(crate) fn print<W: Write>(
    printer: &mut Printer<W>,
    flow: &ForwardedFlow,
    result: Option<&'static str>,
    detail: Option<String>,
    entry: Option<&EntryOutcome>,
) -> io::Result<()> {
    let conn = flow.connection();
    let nat = flow.translated().then(|| {
        format!(
            "translated: the responder sees {} <-> {}",
            flow.responder.addr, flow.responder.peer
        )
    });
    let detail = match (detail, nat) {
        (Some(d), Some(n)) if result.is_some() => Some(format!("{d}; {n}")),
        (Some(d), _) => Some(d),
        (None, n) => n,
    };
    let mut extra = vec![
        ("reply_local", json!(flow.responder.addr.to_string())),
        ("reply_remote", json!(flow.responder.peer.to_string())),
    ];
    if let Some(entry) = entry {
        extra.push((
            "conntrack_entry",
            match entry {
                EntryOutcome::Removed => json!("removed"),
                EntryOutcome::None => Value::Null,
                EntryOutcome::Failed(why) => json!(format!("not removed: {why}")),
                EntryOutcome::Left(why) => json!(format!("left: {why}")),
            },
        ));
    }
    let row = Row {
        conn: &conn,
        result,
        method: None,
        detail: detail.map(Into::into),
        collateral: false,
        owners: None,
        owners_unknown: false,
        netns: None,
    };
    printer.row_with(&row, &|_| None, &extra)
}

/// Drop what `selection` chooses of what this host forwards, at most
/// `limit` of them, printing each outcome as it comes and adding it to
/// `totals`. A named connection that is gone is not a row: it leaves the
/// run's one error line in `totals.missing`.
pub(crate) fn drop_flows<W: Write>(
    fw: &mut Forwarded,
    selection: &Selection,
    limit: Option<u64>,
    printer: &mut Printer<W>,
    totals: &mut Totals,
) -> Result<(), Failure> {
    let mut taken: u64 = 0;
    let selection = selection.clone().and(|_| {
        let chosen = limit.is_none_or(|l| taken < l);
        taken = taken.saturating_add(u64::from(chosen));
        chosen
    });
    let mut shown = Shown {
        named: matches!(selection.what(), What::Named(_) | What::Tuples(_)),
        quiet: totals.output.is_some(),
        printer,
        totals,
        failed: None,
    };
    fw.drop(selection, &mut shown)?;
    let Shown {
        printer,
        totals,
        mut failed,
        ..
    } = shown;
    // The output stopped, and the drops went on: the summary counts them.
    failed = failed.or_else(|| totals.output.take());
    if failed.is_none() {
        failed = printer.finish().err();
    }
    totals.output = failed;
    Ok(())
}

/// Where a forwarded drop's outcomes go: printed as they come, and counted.
struct Shown<'a, W: Write> {
    printer: &'a mut Printer<W>,
    totals: &'a mut Totals,
    /// The connection was named by its two ends.
    named: bool,
    /// The output failed earlier in the run: print nothing more.
    quiet: bool,
    /// Writing failed: nothing more is printed.
    failed: Option<io::Error>,
}

impl<W: Write> Sink<Forwarded> for Shown<'_, W> {
    fn outcome(&mut self, flow: ForwardedFlow, outcome: ForwardedOutcome) {
        let end = |side: Side| flow.end(side).addr;
        let (result, detail, entry) = match &outcome {
            ForwardedOutcome::Dropped { entry } => {
                let detail = match entry {
                    EntryOutcome::Removed => Some("conntrack entry removed".to_string()),
                    EntryOutcome::None => None,
                    EntryOutcome::Failed(why) => {
                        Some(format!("conntrack entry not removed: {why}"))
                    }
                    EntryOutcome::Left(why) => Some(format!("conntrack entry left: {why}")),
                };
                ("dropped", detail, Some(entry))
            }
            ForwardedOutcome::Gone { why } => ("gone", Some(why.clone()), None),
            ForwardedOutcome::NoSuchConnection { side } => {
                let why = format!(
                    "the {} end {} answered with an RST: it has no such connection",
                    side.name(),
                    end(*side)
                );
                ("gone", Some(why), None)
            }
            ForwardedOutcome::OneEnd { reset, why, entry } => {
                let detail = format!(
                    "only the {} end {} was reset; {why}",
                    reset.name(),
                    end(*reset)
                );
                ("failed", Some(detail), Some(entry))
            }
            ForwardedOutcome::Failed { why } => ("failed", Some(why.clone()), None),
        };
        // A named connection that is gone is the run's one error line.
        if result == "gone" && self.named {
            let why = match &outcome {
                ForwardedOutcome::Gone { why } => format!("the one named is gone: {why}"),
                _ => format!(
                    "{}; nothing was sent but the probes",
                    detail.unwrap_or_default()
                ),
            };
            self.totals.missing = Some(format!(
                "no such connection: {} {} ({why})",
                flow.originator.addr, flow.originator.peer
            ));
            return;
        }
        let totals = &mut *self.totals;
        match &outcome {
            ForwardedOutcome::Dropped { .. } => totals.dropped = totals.dropped.saturating_add(1),
            ForwardedOutcome::Gone { .. } | ForwardedOutcome::NoSuchConnection { .. } => {
                totals.gone = totals.gone.saturating_add(1)
            }
            ForwardedOutcome::OneEnd { .. } => {
                totals.partial = totals.partial.saturating_add(1);
                totals.failed = totals.failed.saturating_add(1);
            }
            ForwardedOutcome::Failed { .. } => totals.failed = totals.failed.saturating_add(1),
        }
        totals.chosen = totals.chosen.saturating_add(1);
        if !self.quiet && self.failed.is_none() {
            self.failed = print(self.printer, &flow, Some(result), detail, entry).err();
        }
    }

    fn collateral(&mut self, _: ForwardedFlow) {}
}
