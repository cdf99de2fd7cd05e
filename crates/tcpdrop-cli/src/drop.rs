//! Dropping: each place's drop (a namespace's sockets, or the connections
//! this host forwards), its outcomes printed as they come (a `Sink`), once
//! or `--watch`ed, and the exit status they add up to.

use std::borrow::Cow;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::time::Instant;

use tcpdrop::procs::{InodeSet, ProcRefusals, SocketOwners};
use tcpdrop::{Connection, DropOptions, ListOptions, Outcome, Selection, Session, Sink, What};

use crate::failure::{exit_code, output_error, Failure};
use crate::output::{Printer, Row};
use crate::plan::{Plan, Source, Space, Spaces, WatchPlan};
use crate::totals::Totals;
use crate::{exit_codes, forwarded, watch};

/// One place's drop, at most `limit` of what the options choose, each
/// outcome printed as it is known and added to `totals`. The refusal that
/// stops the run, if the kernel refused.
pub(crate) fn drop_space<W: Write>(
    space: &mut Space,
    plan: &Plan,
    limit: Option<u64>,
    printer: &mut Printer<W>,
    totals: &mut Totals,
) -> Result<Option<Failure>, Failure> {
    let Space {
        source,
        selection,
        label,
    } = space;
    match source {
        Source::Local(session) => {
            let label = label.as_deref();
            drop_sockets(session, selection, label, plan, limit, printer, totals)
        }
        Source::Forwarded(fw) => {
            forwarded::drop_flows(fw, selection, limit, printer, totals)?;
            Ok(None)
        }
    }
}

/// One namespace's drop: the owners looked up first when they select or
/// are shown, then the safe drop of what the options choose.
fn drop_sockets<W: Write>(
    session: &mut Session,
    selection: &Selection,
    label: Option<&str>,
    plan: &Plan,
    limit: Option<u64>,
    printer: &mut Printer<W>,
    totals: &mut Totals,
) -> Result<Option<Failure>, Failure> {
    let owners = if plan.show_owners || plan.owners.needs_processes() {
        let mut inodes = InodeSet::default();
        let every = selection.clone().listeners(true);
        session.list(every, ListOptions::default(), |c, _| {
            inodes.insert(c.inode);
            ControlFlow::Continue(())
        })?;
        let owners = SocketOwners::scan(&inodes);
        totals.keep_refusals(owners.refusals());
        Some(owners)
    } else {
        None
    };
    let names = session.interface_names()?;
    let scope_name = |index: u32| names.name(index);
    let mut taken: u64 = 0;
    let mut unreadable: usize = 0;
    let quiet = totals.output.is_some();
    let choose = |c: &Connection| {
        // A socket that appeared after the owner scan has no owner in it,
        // so --pid/--process leave it for the next look.
        let owned = owners.as_ref().map_or(&[][..], |o| o.owners(c.inode));
        let chosen = plan.owners.admits(c, owned) && limit.is_none_or(|l| taken < l);
        if chosen {
            taken = taken.saturating_add(1);
        } else if let Some(o) = owners.as_ref() {
            // Asked only of what the rest of the selection chose.
            let undecided = plan.owners.undecided(c, o);
            unreadable = unreadable.saturating_add(usize::from(undecided));
        }
        chosen
    };
    // A filter runs in the kernel too, so only what it matches is copied
    // out; each named tuple is one exact lookup, no walk of every socket.
    let selection = selection.clone().and(choose);
    let mut shown = Shown {
        printer,
        owners: owners.as_ref(),
        scope_name: &scope_name,
        netns: label,
        show_owners: plan.show_owners,
        quiet,
        // One named tuple that is missing is the run's one error line.
        report_missing: matches!(selection.what(), What::Tuples(t) if t.len() > 1),
        refused: None,
        refusals: 0,
        held: Vec::new(),
        decided: 0,
        failed: None,
        collateral: Vec::new(),
    };
    let options = DropOptions {
        method: plan.method,
    };
    let counts = session.drop(selection, options, &mut shown)?;
    // Refusals are shown one by one only beside something that was not
    // refused; alone, one line says why.
    let stop = if shown.decided == 0 {
        shown.refused.take()
    } else {
        for (conn, why) in std::mem::take(&mut shown.held) {
            shown.print(&conn, "failed", Some(why.into()), false);
        }
        None
    };
    if let Some((code, _)) = &shown.refused {
        totals.refusal_code.get_or_insert(*code);
    }
    totals.refused = totals.refused.saturating_add(shown.refusals);
    let Shown {
        printer,
        failed,
        collateral,
        ..
    } = shown;
    // The output stopped, and the drops went on: what was chosen is
    // dropped, and the summary on stderr counts it.
    let mut failed = failed.or_else(|| totals.output.take());
    if failed.is_none() && !collateral.is_empty() {
        let inodes: InodeSet = collateral.iter().map(|c| c.inode).collect();
        let owners = SocketOwners::scan(&inodes);
        let reason = tcpdrop::GoneReason::ResetByPeerDrop.describe();
        for conn in &collateral {
            let row = Row {
                conn,
                result: Some("gone"),
                method: None,
                detail: Some(reason.into()),
                collateral: true,
                owners: Some(owners.owners(conn.inode)),
                owners_unknown: owners.is_unknown(conn.inode),
                netns: label,
            };
            if let Err(err) = printer.row(&row, &scope_name) {
                failed = Some(err);
                break;
            }
        }
    }
    if failed.is_none() {
        failed = printer.finish().err();
    }
    totals.output = failed;
    totals.unreadable = totals.unreadable.saturating_add(unreadable);
    totals.chosen = totals.chosen.saturating_add(counts.chosen());
    totals.dropped = totals.dropped.saturating_add(counts.dropped as u64);
    totals.gone = totals
        .gone
        .saturating_add(counts.gone)
        .saturating_add(counts.collateral);
    totals.failed = totals.failed.saturating_add(counts.failed);
    totals.not_found = totals.not_found.saturating_add(counts.not_found);
    Ok(stop.map(|(code, message)| {
        let suffix = if totals.dropped == 0 {
            " (nothing was dropped)"
        } else {
            ""
        };
        Failure {
            code,
            message: format!("{message}{suffix}"),
        }
    }))
}

/// Where a drop's outcomes go: printed as they come.
pub(crate) struct Shown<'a, W: Write> {
    pub(crate) printer: &'a mut Printer<W>,
    pub(crate) owners: Option<&'a SocketOwners>,
    pub(crate) scope_name: &'a dyn Fn(u32) -> Option<String>,
    pub(crate) netns: Option<&'a str>,
    pub(crate) show_owners: bool,
    /// The output failed earlier in the run: print nothing more.
    pub(crate) quiet: bool,
    /// Say of each named tuple that matched nothing (`-f`).
    pub(crate) report_missing: bool,
    /// The first refusal (no privilege, no support): its exit status and
    /// message.
    pub(crate) refused: Option<(u8, String)>,
    /// How many outcomes were refusals.
    pub(crate) refusals: usize,
    /// Refused sockets not yet shown, with why.
    pub(crate) held: Vec<(Connection, String)>,
    /// Outcomes other than a refusal so far.
    pub(crate) decided: usize,
    /// Writing failed: nothing more is printed.
    pub(crate) failed: Option<io::Error>,
    /// The reset peers were not chosen, so their owners were not looked
    /// up: with -p they wait for a scan of their own.
    pub(crate) collateral: Vec<Connection>,
}

impl<W: Write> Shown<'_, W> {
    fn print(
        &mut self,
        conn: &Connection,
        result: &'static str,
        detail: Option<Cow<'static, str>>,
        collateral: bool,
    ) {
        self.print_as(conn, result, None, detail, collateral);
    }

    fn print_as(
        &mut self,
        conn: &Connection,
        result: &'static str,
        method: Option<&'static str>,
        detail: Option<Cow<'static, str>>,
        collateral: bool,
    ) {
        if self.quiet || self.failed.is_some() {
            return;
        }
        let owned = self.owners.map_or(&[][..], |o| o.owners(conn.inode));
        let row = Row {
            conn,
            result: Some(result),
            method,
            detail,
            collateral,
            owners: self.show_owners.then_some(owned),
            owners_unknown: self.show_owners
                && self.owners.is_some_and(|o| o.is_unknown(conn.inode)),
            netns: self.netns,
        };
        if let Err(err) = self.printer.row(&row, self.scope_name) {
            self.failed = Some(err);
        }
    }
}

impl<W: Write> Sink for Shown<'_, W> {
    fn outcome(&mut self, conn: Connection, outcome: Outcome) {
        if let Outcome::Failed(err) = &outcome {
            if err.is_refusal() {
                self.refusals += 1;
                self.refused
                    .get_or_insert_with(|| (exit_code(err), err.to_string()));
                // Held back: if nothing else happens, one line says why.
                if !self.printer.is_json() {
                    self.held.push((conn, err.to_string()));
                    return;
                }
            }
        }
        if !matches!(&outcome, Outcome::Failed(err) if err.is_refusal()) {
            self.decided += 1;
        }
        let (detail, method) = match &outcome {
            Outcome::Dropped(method) => (None, Some(method.name())),
            Outcome::Gone(reason) => (Some(reason.describe().into()), None),
            Outcome::Failed(err) => (Some(err.to_string().into()), None),
        };
        self.print_as(&conn, outcome.name(), method, detail, false);
    }

    fn collateral(&mut self, conn: Connection) {
        if self.show_owners {
            self.collateral.push(conn);
        } else {
            let reason = tcpdrop::GoneReason::ResetByPeerDrop.describe();
            self.print(&conn, "gone", Some(reason.into()), true);
        }
    }

    fn not_found(&mut self, local: SocketAddr, remote: SocketAddr) {
        if self.quiet || self.failed.is_some() || !self.report_missing {
            return;
        }
        if let Err(err) = self.printer.not_found(&local, &remote, self.scope_name) {
            self.failed = Some(err);
        }
    }
}

/// Drop what is selected, in every namespace, once.
pub(crate) fn drop_once<W: Write>(
    plan: &Plan,
    spaces: &mut Spaces,
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let mut totals = Totals::default();
    for space in spaces.list.iter_mut() {
        if let Some(stop) = drop_space(space, plan, None, printer, &mut totals)? {
            eprintln!("{}", totals.summary());
            warn_unreached(spaces);
            return Err(stop);
        }
    }
    if let Some(stop) = owners_unreadable(totals.unreadable, &totals.refusals, totals.chosen) {
        warn_unreached(spaces);
        return Err(stop);
    }
    if totals.chosen == 0 {
        return Err(match totals.missing {
            Some(message) => Failure {
                code: exit_codes::NO_MATCH,
                message,
            },
            None => nothing_matched(spaces, plan),
        });
    }
    eprintln!("{}", totals.summary());
    warn_unreached(spaces);
    if let Some(stop) = output_stopped(&totals) {
        return Err(stop);
    }
    if totals.failed > 0 {
        return Err(drops_failed(&totals));
    }
    Ok(exit_codes::OK)
}

/// Say which namespaces `--all-netns` could not enter or see, if any.
pub(crate) fn warn_unreached(spaces: &Spaces) {
    if let Some(line) = &spaces.unreached {
        eprintln!("tcpdrop: {line}");
    }
}

/// `--watch`: drop what is selected, round after round, until a signal,
/// `--count` or `--timeout`; then the summary.
pub(crate) fn watch_drops<W: Write>(
    plan: &Plan,
    spaces: &mut Spaces,
    printer: &mut Printer<W>,
    watch: &WatchPlan,
    signals: &watch::Signals,
) -> Result<u8, Failure> {
    let deadline = watch.timeout.map(|t| Instant::now() + t);
    let mut totals = Totals::default();
    let mut rounds: u64 = 0;
    let count_reached = |totals: &Totals| watch.count.is_some_and(|c| totals.dropped >= c);
    // The most sockets whose owners could not be read in one round: the
    // same sockets come back round after round.
    let mut unreadable = 0;
    // SIGTERM is how a service manager (systemd, the kubelet) stops a
    // watch: a policy that held until then, with nothing to drop, is a
    // success. A person's ^C still hears that nothing matched.
    let mut terminated = false;
    loop {
        rounds = rounds.saturating_add(1);
        unreadable = unreadable.max(std::mem::take(&mut totals.unreadable));
        if rounds > 1 {
            crate::plan::follow_spaces(spaces, plan);
        }
        for space in spaces.list.iter_mut() {
            if count_reached(&totals) {
                break;
            }
            let limit = watch.count.map(|c| c.saturating_sub(totals.dropped));
            if let Some(stop) = drop_space(space, plan, limit, printer, &mut totals)? {
                eprintln!("{} in {}", totals.summary(), crate::watch::rounds(rounds));
                warn_unreached(spaces);
                return Err(stop);
            }
        }
        // Nobody reads the drops any more (`| head`): stop watching.
        if count_reached(&totals) || totals.output.is_some() {
            break;
        }
        let wait = match deadline {
            None => watch.interval,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                left.min(watch.interval)
            }
        };
        if let Some(signal) = signals.wait(wait) {
            terminated = signal == libc::SIGTERM;
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    totals.unreadable = unreadable.max(totals.unreadable);
    eprintln!("{} in {}", totals.summary(), crate::watch::rounds(rounds));
    if totals.chosen == 0 {
        if let Some(line) = &spaces.unreached {
            return Err(Failure {
                code: exit_codes::PERMISSION,
                message: format!(
                    "no connection matched in {} in the network namespaces it could \
                     enter; {line}",
                    crate::watch::rounds(rounds)
                ),
            });
        }
    }
    warn_unreached(spaces);
    if let Some(stop) = output_stopped(&totals) {
        return Err(stop);
    }
    if totals.failed > 0 {
        return Err(drops_failed(&totals));
    }
    if let Some(stop) = owners_unreadable(totals.unreadable, &totals.refusals, totals.chosen) {
        return Err(stop);
    }
    if totals.chosen == 0 && !terminated {
        return Err(Failure {
            code: exit_codes::NO_MATCH,
            message: format!(
                "no {}connection matched in {}",
                if plan.forwarded { "forwarded " } else { "" },
                crate::watch::rounds(rounds)
            ),
        });
    }
    Ok(exit_codes::OK)
}

/// Some drops failed: exit 3, or the refusal's own status (4, 5) when
/// every failure was a refusal (the caller may not, or the kernel cannot).
pub(crate) fn drops_failed(totals: &Totals) -> Failure {
    let mut message = format!("{} of {} drops failed", totals.failed, totals.chosen);
    let code = match totals.refusal_code {
        Some(code) if totals.refused == totals.failed => {
            message.push_str(" (refused: see each row)");
            code
        }
        _ => exit_codes::PARTIAL,
    };
    Failure { code, message }
}

/// Exit 1, saying what did not match; for a tuple that names a listener not
/// asked for, say how to ask.
pub(crate) fn nothing_matched(spaces: &mut Spaces, plan: &Plan) -> Failure {
    let noun = if plan.forwarded {
        "forwarded connection"
    } else {
        "connection"
    };
    let mut message = match spaces.list.first_mut() {
        None => "no network namespace found".to_string(),
        Some(space) => {
            let tuples: Vec<(SocketAddr, SocketAddr)> = match space.selection.what() {
                What::All => Vec::new(),
                What::Matching(_) => Vec::new(),
                What::Tuples(tuples) => tuples.clone(),
                What::Named(named) => named
                    .iter()
                    .map(|(l, r)| (l.unscoped(), r.unscoped()))
                    .collect(),
            };
            match (space.selection.what(), tuples.as_slice()) {
                (What::Matching(filter), _) => {
                    format!("no {noun} matched the filter '{filter}'")
                }
                (What::All, _) => format!("no {noun} matched"),
                (_, [(local, remote)]) => {
                    // One exact lookup: the tuple of a listener finds it.
                    let listener = !space.selection.allows_listeners()
                        && match &mut space.source {
                            Source::Local(session) => session
                                .find(*local, *remote)
                                .is_ok_and(|c| c.is_some_and(|c| c.is_listener())),
                            Source::Forwarded(_) => false,
                        };
                    if listener {
                        format!("{local} is a listening socket: add -s listening to drop it")
                    } else {
                        format!("no such connection: {local} {remote}")
                    }
                }
                _ => format!("none of the {} connections named exists", tuples.len()),
            }
        }
    };
    if plan.owners.is_active() {
        message.push_str(" (with the owners asked for by --pid/--process/--uid)");
    }
    // Where it could not look, "nothing matched" is not known: a refusal.
    if let Some(line) = &spaces.unreached {
        let n = spaces.list.len();
        return Failure {
            code: exit_codes::PERMISSION,
            message: format!(
                "{message} in the {n} network namespace{} it could enter; {line}",
                if n == 1 { "" } else { "s" }
            ),
        };
    }
    if spaces.list.len() > 1 {
        message.push_str(" in any network namespace");
    }
    Failure {
        code: exit_codes::NO_MATCH,
        message,
    }
}

/// The failure to report when the output stopped early; none for a closed
/// pipe (`tcpdrop ... | head`), which is how a reader says it has enough.
pub(crate) fn output_stopped(totals: &Totals) -> Option<Failure> {
    let err = totals.output.as_ref()?;
    (err.kind() != io::ErrorKind::BrokenPipe).then(|| Failure {
        code: exit_codes::OUTPUT,
        message: format!(
            "{} (the drops went on: {})",
            output_error(err),
            totals.summary()
        ),
    })
}

/// Say how many sockets' owners could not be read (`--pid`, `--process`,
/// `-p`) and why (`refusals`: the capabilities missing, or the security
/// module that refused a caller who has them); if nothing was chosen, that
/// is the reason: exit 4, not "no connection matched".
pub(crate) fn owners_unreadable(
    unreadable: usize,
    refusals: &ProcRefusals,
    chosen: usize,
) -> Option<Failure> {
    if unreadable == 0 {
        return None;
    }
    let message = format!(
        "the owners of {unreadable} selected socket{} could not be read: {}",
        if unreadable == 1 { "" } else { "s" },
        refusals.reason("/proc/PID/fd")
    );
    if chosen > 0 {
        eprintln!("tcpdrop: {message}");
        return None;
    }
    Some(Failure {
        code: exit_codes::PERMISSION,
        message: format!("{message} (nothing matched among the owners that could be read)"),
    })
}
