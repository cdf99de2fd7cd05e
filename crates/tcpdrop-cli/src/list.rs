//! `-l`: print what is selected, touch nothing.

use std::io::{self, Write};
use std::ops::ControlFlow;

use tcpdrop::procs::{InodeSet, ProcRefusals, SocketOwners};
use tcpdrop::{Connection, ListOptions};

use crate::cli::Cli;
use crate::drop::{nothing_matched, owners_unreadable, warn_unreached};
use crate::exit_codes;
use crate::failure::Failure;
use crate::forwarded;
use crate::output::{Printer, Row};
use crate::plan::{Plan, Source, Spaces};

/// `-l`: print what is selected, touch nothing.
///
/// Without owners to look up, each row is written as the kernel hands it
/// over; with them, the selection is listed first, as the scan of
/// `/proc/*/fd` reads only the owners of the sockets listed.
pub(crate) fn list<W: Write>(
    cli: &Cli,
    plan: &Plan,
    spaces: &mut Spaces,
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let mut shown_total: usize = 0;
    let mut unreadable: usize = 0;
    let mut refusals = ProcRefusals::default();
    for space in spaces.list.iter_mut() {
        // `-l` lists everything selected, listeners too.
        let selection = space.selection.clone().listeners(true);
        let netns = space.label.as_deref();
        let mut failed: Option<io::Error> = None;
        let session = match &mut space.source {
            Source::Local(session) => session,
            Source::Forwarded(fw) => {
                // A tuple is shown as conntrack knows it, or as named.
                fw.list(selection, |flow| {
                    let row = forwarded::print(printer, &flow, None, None, None);
                    written(row, &mut shown_total, &mut failed)
                })?;
                if let Some(err) = failed {
                    return Err(err.into());
                }
                continue;
            }
        };
        let names = session.interface_names()?;
        let scope_name = |index: u32| names.name(index);
        if plan.show_owners || plan.owners.needs_processes() {
            let mut conns: Vec<Connection> = Vec::new();
            session.list(selection, ListOptions::default(), |conn, _| {
                conns.push(conn);
                ControlFlow::Continue(())
            })?;
            let inodes: InodeSet = conns.iter().map(|c| c.inode).collect();
            let owners = SocketOwners::scan(&inodes);
            if owners.refusals().count() > refusals.count() {
                refusals = owners.refusals();
            }
            for conn in &conns {
                let owned = owners.owners(conn.inode);
                let unknown = owners.is_unknown(conn.inode);
                if !plan.owners.admits(conn, owned) {
                    unreadable += usize::from(plan.owners.undecided(conn, &owners));
                    continue;
                }
                unreadable += usize::from(unknown);
                let row = Row {
                    conn,
                    result: None,
                    method: None,
                    detail: None,
                    collateral: false,
                    owners: plan.show_owners.then_some(owned),
                    owners_unknown: plan.show_owners && unknown,
                    netns,
                };
                printer.row(&row, &scope_name)?;
                shown_total = shown_total.saturating_add(1);
            }
        } else {
            let owners = &plan.owners;
            let selection = selection.and(|conn| owners.admits(conn, &[]));
            session.list(selection, ListOptions::default(), |conn, _| {
                let row = Row {
                    conn: &conn,
                    result: None,
                    method: None,
                    detail: None,
                    collateral: false,
                    owners: None,
                    owners_unknown: false,
                    netns,
                };
                written(
                    printer.row(&row, &scope_name),
                    &mut shown_total,
                    &mut failed,
                )
            })?;
            if let Some(err) = failed {
                return Err(err.into());
            }
        }
    }
    // Once, after every namespace: the look-ahead sizes the columns of
    // their rows together.
    printer.finish()?;
    let nothing = shown_total == 0 && cli.narrows();
    let unreadable = owners_unreadable(unreadable, &refusals, shown_total);
    if !nothing || unreadable.is_some() {
        warn_unreached(spaces);
    }
    if let Some(stop) = unreadable {
        return Err(stop);
    }
    if nothing {
        return Err(nothing_matched(spaces, plan));
    }
    Ok(exit_codes::OK)
}

/// Count a row written, or keep why it could not be and stop the listing.
fn written(
    row: io::Result<()>,
    shown: &mut usize,
    failed: &mut Option<io::Error>,
) -> ControlFlow<()> {
    match row {
        Ok(()) => {
            *shown = shown.saturating_add(1);
            ControlFlow::Continue(())
        }
        Err(err) => {
            *failed = Some(err);
            ControlFlow::Break(())
        }
    }
}
