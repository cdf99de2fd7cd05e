//! `-n`: what a drop would do, touching nothing. Each socket the drop
//! would choose is shown `would-drop`, or `would-fail` with the reason the
//! drop would give (no privilege, no kernel support, no holder), and the
//! run exits as the drop would.

use std::io::Write;
use std::ops::ControlFlow;

use tcpdrop::procs::{InodeSet, SocketOwners};
use tcpdrop::{Connection, DropOptions, Error, GoneReason, ListOptions, Query, Selection, Session};

use crate::drop::{drops_failed, nothing_matched, owners_unreadable, warn_unreached};
use crate::exit_codes;
use crate::failure::{exit_code, Failure};
use crate::forwarded;
use crate::output::{Printer, Row};
use crate::plan::{Plan, Source, Spaces};
use crate::totals::Totals;

/// `-n`: show what a drop would do to each socket it would choose, and
/// exit with the status the drop would have.
///
/// The decision is the library's ([`tcpdrop::Session::would_drop`]): the
/// drop's own choice of a way, with each way's check in place of its abort.
pub(crate) fn dry_run<W: Write>(
    plan: &Plan,
    spaces: &mut Spaces,
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let mut totals = Totals::default();
    let mut would_reset = 0usize;
    // The first refusal of a namespace where everything would be refused:
    // the drop stops there, with that one line.
    let mut stop: Option<(u8, String)> = None;
    let options = DropOptions {
        method: plan.method,
    };
    for space in spaces.list.iter_mut() {
        let session = match &mut space.source {
            Source::Local(session) => session,
            // What this host forwards: nothing to check before the probes.
            Source::Forwarded(fw) => {
                let mut output = Ok(());
                fw.list(space.selection.clone(), |flow| {
                    totals.chosen = totals.chosen.saturating_add(1);
                    totals.dropped = totals.dropped.saturating_add(1);
                    output = forwarded::print(printer, &flow, Some("would-drop"), None, None);
                    if output.is_ok() {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(())
                    }
                })?;
                output?;
                continue;
            }
        };
        let names = session.interface_names()?;
        let scope_name = |index: u32| names.name(index);
        // What the drop chooses: the selection (listeners only when
        // named), and the owners asked for.
        let mut selected: Vec<Connection> = Vec::new();
        session.list(
            space.selection.clone(),
            ListOptions::default(),
            |conn, _| {
                selected.push(conn);
                ControlFlow::Continue(())
            },
        )?;
        let owners = (plan.show_owners || plan.owners.needs_processes()).then(|| {
            let inodes: InodeSet = selected.iter().map(|c| c.inode).collect();
            SocketOwners::scan(&inodes)
        });
        if let Some(o) = &owners {
            totals.keep_refusals(o.refusals());
        }
        let owned = |c: &Connection| owners.as_ref().map_or(&[][..], |o| o.owners(c.inode));
        let mut chosen = Vec::with_capacity(selected.len());
        for conn in selected {
            if plan.owners.admits(&conn, owned(&conn)) {
                chosen.push(conn);
            } else if let Some(o) = &owners {
                let undecided = plan.owners.undecided(&conn, o);
                totals.unreadable = totals.unreadable.saturating_add(usize::from(undecided));
            }
        }
        let verdicts = session.would_drop(&chosen, options);
        let mut refusals = 0usize;
        let mut first_refusal = None;
        let mut dropping: Vec<&Connection> = Vec::new();
        for (conn, verdict) in chosen.iter().zip(verdicts) {
            let (result, detail) = match verdict {
                Ok(_) => {
                    totals.dropped = totals.dropped.saturating_add(1);
                    dropping.push(conn);
                    ("would-drop", None)
                }
                // It closed since the listing: the drop would say so.
                Err(Error::NotFound) => {
                    totals.gone = totals.gone.saturating_add(1);
                    ("gone", Some(GoneReason::Closed.describe().into()))
                }
                Err(err) => {
                    totals.failed = totals.failed.saturating_add(1);
                    if err.is_refusal() {
                        refusals = refusals.saturating_add(1);
                        totals.refusal_code.get_or_insert(exit_code(&err));
                        first_refusal.get_or_insert_with(|| (exit_code(&err), err.to_string()));
                    }
                    ("would-fail", Some(err.to_string().into()))
                }
            };
            let unknown = owners.as_ref().is_some_and(|o| o.is_unknown(conn.inode));
            let row = Row {
                conn,
                result: Some(result),
                method: None,
                detail,
                collateral: false,
                owners: plan.show_owners.then(|| owned(conn)),
                owners_unknown: plan.show_owners && unknown,
                netns: space.label.as_deref(),
            };
            printer.row(&row, &scope_name)?;
        }
        // The loopback peers the drops would reset, as the real run reports
        // them afterwards (`gone`, collateral).
        for peer in peers(session, &chosen, &dropping)? {
            let row = Row {
                conn: &peer,
                result: Some("would-reset"),
                method: None,
                detail: Some(PEER_DETAIL.into()),
                collateral: true,
                owners: None,
                owners_unknown: false,
                netns: space.label.as_deref(),
            };
            printer.row(&row, &scope_name)?;
            would_reset = would_reset.saturating_add(1);
        }
        totals.chosen = totals.chosen.saturating_add(chosen.len());
        totals.refused = totals.refused.saturating_add(refusals);
        // As the drop: a namespace where every socket is refused stops the
        // run, before anything in it (or after it) is touched.
        if refusals > 0 && refusals == chosen.len() {
            stop = first_refusal;
            break;
        }
    }
    printer.finish()?;
    eprintln!("{}", summary(&totals, would_reset));
    if let Some((code, message)) = stop {
        warn_unreached(spaces);
        return Err(Failure {
            code,
            message: format!("{message} (nothing would be dropped)"),
        });
    }
    if let Some(stop) = owners_unreadable(totals.unreadable, &totals.refusals, totals.chosen) {
        warn_unreached(spaces);
        return Err(stop);
    }
    if totals.chosen == 0 {
        return Err(nothing_matched(spaces, plan));
    }
    warn_unreached(spaces);
    if totals.failed > 0 {
        let mut failure = drops_failed(&totals);
        failure.message = failure.message.replacen(" failed", " would fail", 1);
        return Err(failure);
    }
    Ok(exit_codes::OK)
}

/// Why a `would-reset` row is there.
const PEER_DETAIL: &str = "the loopback peer of a connection this would drop: reset with it";

/// The sockets not chosen that aborting `dropping` would reset: the other
/// end of each on this host, where the abort sends an RST (ESTABLISHED,
/// SYN-RECEIVED, FIN-WAIT-1/2, CLOSE-WAIT: the kernel's `tcp_need_reset`).
/// One dump, only when some socket would be dropped.
fn peers(
    session: &mut Session,
    chosen: &[Connection],
    dropping: &[&Connection],
) -> Result<Vec<Connection>, Failure> {
    use std::collections::HashSet;
    use tcpdrop::State;
    let resets = |c: &&&Connection| {
        matches!(
            c.state,
            State::Established
                | State::SynReceived
                | State::FinWait1
                | State::FinWait2
                | State::CloseWait
        )
    };
    let ends: HashSet<_> = dropping
        .iter()
        .filter(resets)
        .map(|c| (c.remote, c.local))
        .collect();
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    let chosen: HashSet<u64> = chosen.iter().map(|c| c.cookie).collect();
    let every = Selection::all(Query::all()).listeners(true);
    let mut peers = Vec::new();
    session.list(every, ListOptions::default(), |p, _| {
        if ends.contains(&(p.local, p.remote)) && !chosen.contains(&p.cookie) {
            peers.push(p);
        }
        ControlFlow::Continue(())
    })?;
    Ok(peers)
}

/// "would drop 3", and how many would fail or were gone, and the loopback
/// peers the drops would reset, if any.
fn summary(totals: &Totals, would_reset: usize) -> String {
    let mut text = format!("would drop {}", totals.dropped);
    if totals.failed > 0 {
        text.push_str(&format!(", would fail {}", totals.failed));
    }
    if totals.gone > 0 {
        text.push_str(&format!(", gone {}", totals.gone));
    }
    if would_reset > 0 {
        let peers = if would_reset == 1 { "peer" } else { "peers" };
        text.push_str(&format!(", would reset {would_reset} loopback {peers}"));
    }
    text
}
