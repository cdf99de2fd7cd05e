//! `tcpdrop`: drop (abort) TCP connections exactly and safely, or list them.

mod cli;
mod echo;
mod exit_codes;
mod forwarded;
mod generate;
mod output;
mod owners;
mod tuple;
mod watch;

use std::io::{self, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tcpdrop::filter::Filter;
use tcpdrop::procs::{InodeSet, SocketOwners};
use tcpdrop::{
    Connection, DropOptions, Error, Family, Netns, Outcome, Query, Selection, Session, Sink, State,
    StateSet,
};

use crate::cli::Cli;
use crate::output::{Printer, Row};
use crate::owners::OwnerFilter;

/// A reason to stop: the exit status and the one line that explains it
/// (empty for a quiet exit, such as a closed pipe).
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: exit_codes::USAGE,
            message: message.into(),
        }
    }
}

/// The exit status an error of the library gets.
fn exit_code(err: &Error) -> u8 {
    match err {
        Error::NotFound => exit_codes::NO_MATCH,
        Error::AccessDenied(_) | Error::MissingCapability { .. } => exit_codes::PERMISSION,
        Error::NoWay(_) if err.is_privilege() => exit_codes::PERMISSION,
        Error::NotSupported | Error::NoWay(_) => exit_codes::UNSUPPORTED,
        Error::InvalidArgument(_) | Error::Namespace { .. } => exit_codes::USAGE,
        Error::Netlink(_) | Error::Io(_) | Error::NoHolder | Error::NotAborted(_) => {
            exit_codes::PARTIAL
        }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        Failure {
            code: exit_code(&err),
            message: err.to_string(),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        if err.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`tcpdrop -l | head`): not an error.
            return Failure {
                code: exit_codes::OK,
                message: String::new(),
            };
        }
        Failure {
            code: exit_codes::OUTPUT,
            message: output_error(&err),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = err.print();
                return ExitCode::SUCCESS;
            }
            // clap's message spans several lines; keep its first, which names
            // the cause, and point at --help for the remedy.
            let text = err.to_string();
            let first = text.lines().next().unwrap_or("bad usage");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("tcpdrop: {} (see tcpdrop --help)", echo::shorten(first));
            return ExitCode::from(exit_codes::USAGE);
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("tcpdrop: {}", echo::shorten(&failure.message));
            }
            ExitCode::from(failure.code)
        }
    }
}

/// What the positional words named, in one namespace.
enum Target {
    /// Every connection the other options allow.
    Everything,
    /// Exactly the connections with these ends (one, or `-f`'s list).
    Tuples(Vec<(SocketAddr, SocketAddr)>),
    /// Those an `ss` filter expression selects.
    Filter(Filter),
}

/// What the positional words named, as typed: a tuple's `%scope` is looked
/// up in each namespace.
enum Typed {
    Everything,
    Tuples(Vec<(tuple::Endpoint, tuple::Endpoint)>),
    Filter(Filter),
}

/// What the options decided, the same in every namespace.
struct Plan {
    query: Query,
    typed: Typed,
    /// Listeners may be chosen: `listening` was named.
    listeners: bool,
    owners: OwnerFilter,
    /// `-p`: show the owning processes.
    show_owners: bool,
    /// `--method`: one way to abort, or `None` for auto.
    method: Option<tcpdrop::Method>,
}

/// One network namespace to work in.
struct Space {
    /// Its name or path, when namespaces were named (`-N`, `--all-netns`).
    label: Option<String>,
    session: Session,
    target: Target,
}

/// How `--watch` runs.
struct WatchPlan {
    interval: Duration,
    count: Option<u64>,
    timeout: Option<Duration>,
}

/// The outcomes of a run, summed over namespaces and rounds.
#[derive(Default)]
struct Totals {
    chosen: usize,
    /// Failures that were refusals (no privilege, no support), and the
    /// exit status of the first.
    refused: usize,
    refusal_code: Option<u8>,
    /// Named tuples (`-f`) that matched no connection.
    not_found: usize,
    dropped: u64,
    gone: usize,
    failed: usize,
    /// Sockets the other options chose whose owners could not be read, so
    /// `--pid`/`--process` could not tell whether to choose them.
    unreadable: usize,
    /// Why the output stopped, if it did; the drops went on without it.
    output: Option<io::Error>,
}

impl Totals {
    fn summary(&self) -> String {
        let mut text = format!(
            "dropped {}, gone {}, failed {}",
            self.dropped, self.gone, self.failed
        );
        if self.not_found > 0 {
            text.push_str(&format!(", not found {}", self.not_found));
        }
        text
    }
}

/// The states named with `-s`, and whether `listening` was named explicitly.
fn parse_states(names: &[String]) -> Result<(Option<StateSet>, bool), Failure> {
    let mut set: Option<StateSet> = None;
    let mut listeners = false;
    for name in names {
        let named = StateSet::from_name(name).ok_or_else(|| {
            Failure::usage(format!(
                "unknown state '{name}': use established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, \
                 time-wait, closed, close-wait, last-ack, listening, closing, or a group: \
                 connected, synchronized, bucket, big, all"
            ))
        })?;
        listeners |= State::from_name(name) == Some(State::Listen);
        set = Some(set.map_or(named, |s| s.union(named)));
    }
    Ok((set, listeners))
}

/// The method `--method` names (`auto`: none forced).
fn method_named(name: &str) -> Option<tcpdrop::Method> {
    match name {
        "destroy" => Some(tcpdrop::Method::Destroy),
        "owner" => Some(tcpdrop::Method::Owner),
        "inject" => Some(tcpdrop::Method::Inject),
        _ => None,
    }
}

/// Read the options into a plan; every usage error is found here, before
/// anything is opened or touched.
fn plan(cli: &Cli) -> Result<Plan, Failure> {
    cli.check().map_err(Failure::usage)?;
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::Ipv4),
        (_, true) => Some(Family::Ipv6),
        _ => None,
    };
    let (states, listeners_named) = parse_states(&cli.states)?;
    let typed = if let Some(file) = &cli.file {
        if !cli.args.is_empty() {
            return Err(Failure::usage(
                "-f reads the connections from FILE: give no CONNECTION or FILTER with it",
            ));
        }
        Typed::Tuples(tuple::read_file(file).map_err(Failure::usage)?)
    } else if tuple::is_filter(&cli.args) {
        Typed::Filter(Filter::parse(&cli.args).map_err(|err| Failure::usage(err.to_string()))?)
    } else if !cli.args.is_empty() {
        let (local, remote) = tuple::parse(&cli.args).map_err(Failure::usage)?;
        Typed::Tuples(vec![(local, remote)])
    } else {
        Typed::Everything
    };
    let named = !matches!(typed, Typed::Everything);
    let owners = OwnerFilter::new(&cli.pid, &cli.process, &cli.uid).map_err(Failure::usage)?;
    if named && cli.all {
        return Err(Failure::usage(
            "-a drops everything: give it without a connection or filter",
        ));
    }
    // A dry run refuses what the real run would refuse.
    if !cli.list && !named && !cli.all && states.is_none() && !owners.is_active() {
        return Err(Failure::usage(
            "nothing to drop: name a connection (LADDR LPORT RADDR RPORT), give a filter, \
             -s STATE, --pid, --process, --uid or -a (-l lists everything)",
        ));
    }
    if cli.list && (cli.dry_run || cli.all) {
        return Err(Failure::usage("-l lists; it does not go with -a or -n"));
    }
    // A filter's own `state listening` asks for listeners as -s does.
    let listeners = listeners_named || matches!(&typed, Typed::Filter(f) if f.names_listening());
    let mut wanted = states.unwrap_or(StateSet::ALL);
    if let Typed::Filter(filter) = &typed {
        wanted = wanted.intersection(filter.states());
    }
    Ok(Plan {
        query: Query {
            family,
            states: wanted,
        },
        typed,
        listeners,
        owners,
        show_owners: cli.processes,
        method: cli.method.as_deref().and_then(method_named),
    })
}

/// The namespaces to work in, each with its session and target.
fn open_spaces(cli: &Cli, plan: &Plan) -> Result<Vec<Space>, Failure> {
    let sessions: Vec<(Option<String>, Session)> = if cli.all_netns {
        Netns::all()
            .into_iter()
            .map(|ns| Ok((Some(ns.name().to_string()), Session::in_netns(&ns)?)))
            .collect::<Result<_, Error>>()?
    } else if let Some(name) = &cli.netns {
        let ns = Netns::open(name)?;
        vec![(Some(ns.name().to_string()), Session::in_netns(&ns)?)]
    } else {
        vec![(None, Session::new()?)]
    };
    sessions
        .into_iter()
        .map(|(label, session)| {
            let target = match &plan.typed {
                Typed::Everything => Target::Everything,
                Typed::Filter(filter) => Target::Filter(filter.clone()),
                Typed::Tuples(tuples) => Target::Tuples(
                    tuples
                        .iter()
                        .map(|(l, r)| Ok((socket_addr(&session, l)?, socket_addr(&session, r)?)))
                        .collect::<Result<_, Failure>>()?,
                ),
            };
            Ok(Space {
                label,
                session,
                target,
            })
        })
        .collect()
}

/// Whether the positional words select `c`.
/// The connections `query` selects, narrowed by a filter target in the
/// kernel (the other targets are applied by [`targeted`]).
fn select(session: &mut Session, target: &Target, query: &Query) -> Result<Vec<Connection>, Error> {
    match target {
        Target::Filter(filter) => session.list_matching(query, filter),
        _ => session.list(query),
    }
}

fn targeted(target: &Target, c: &Connection) -> bool {
    match target {
        Target::Everything => true,
        Target::Tuples(tuples) => tuples.iter().any(|(l, r)| c.has_tuple(l, r)),
        Target::Filter(filter) => filter.matches(c),
    }
}

fn run(cli: &Cli) -> Result<u8, Failure> {
    if let Some(kind) = &cli.generate {
        generate::write(kind, &mut io::stdout().lock())?;
        return Ok(exit_codes::OK);
    }
    if cli.forwarded {
        return forwarded::run(cli);
    }
    let plan = plan(cli)?;
    let watch = match &cli.watch {
        None => None,
        Some(interval) => Some(WatchPlan {
            interval: watch::parse_duration(interval)
                .map_err(|e| Failure::usage(format!("--watch: {e}")))?,
            count: cli.count,
            timeout: cli
                .timeout
                .as_deref()
                .map(watch::parse_duration)
                .transpose()
                .map_err(|e| Failure::usage(format!("--timeout: {e}")))?,
        }),
    };
    if cli.count == Some(0) {
        return Err(Failure::usage(
            "--count 0 would stop before starting: give 1 or more",
        ));
    }
    // Blocked before any thread starts, so that every thread inherits it.
    let signals = match watch {
        Some(_) => Some(watch::Signals::block().map_err(|e| Failure::from(Error::Io(e)))?),
        None => None,
    };
    let mut spaces = open_spaces(cli, &plan)?;
    let header = !cli.no_header && !cli.json && io::stdout().is_terminal();
    // Rows go out in large writes: stdout alone writes line by line.
    let mut printer = Printer::new(
        io::BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        cli.json,
        header,
    );
    printer.colour = output::use_colour(
        io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR"),
        std::env::var_os("TERM"),
        cli.json,
    );
    printer.netns_column = cli.all_netns;
    if cli.all_netns {
        let widest = spaces
            .iter()
            .filter_map(|s| s.label.as_deref())
            .map(str::len);
        printer.pad_netns(widest.max().unwrap_or(0));
    }
    printer.owners_column = cli.processes;

    if cli.list || cli.dry_run {
        return list(cli, &plan, &mut spaces, &mut printer);
    }
    match (watch, signals) {
        (Some(watch), Some(signals)) => {
            watch_drops(&plan, &mut spaces, &mut printer, &watch, &signals)
        }
        _ => drop_once(&plan, &mut spaces, &mut printer),
    }
}

/// `-l` and `-n`: print what is selected, touch nothing.
///
/// Without owners to look up, each row is written as the kernel hands it
/// over; with them, the selection is listed first, as the scan of
/// `/proc/*/fd` reads only the owners of the sockets listed.
fn list<W: Write>(
    cli: &Cli,
    plan: &Plan,
    spaces: &mut [Space],
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let mut shown_total: usize = 0;
    let mut unreadable: usize = 0;
    let result = cli.dry_run.then_some("would-drop");
    for space in spaces.iter_mut() {
        let names = space.session.interface_names()?;
        let scope_name = |index: u32| names.name(index);
        let netns = space.label.as_deref();
        let target = &space.target;
        let keep = |c: &Connection| {
            targeted(target, c) && (cli.list || plan.listeners || !c.is_listener())
        };
        if plan.show_owners || plan.owners.needs_processes() {
            let conns: Vec<Connection> = select(&mut space.session, target, &plan.query)?
                .into_iter()
                .filter(|c| keep(c))
                .collect();
            let inodes: InodeSet = conns.iter().map(|c| c.inode).collect();
            let owners = SocketOwners::scan(&inodes);
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
                    result,
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
            let mut failed: Option<io::Error> = None;
            let mut visit = |conn: Connection| {
                if !keep(&conn) || !plan.owners.admits(&conn, &[]) {
                    return ControlFlow::Continue(());
                }
                let row = Row {
                    conn: &conn,
                    result,
                    method: None,
                    detail: None,
                    collateral: false,
                    owners: None,
                    owners_unknown: false,
                    netns,
                };
                match printer.row(&row, &scope_name) {
                    Ok(()) => {
                        shown_total = shown_total.saturating_add(1);
                        ControlFlow::Continue(())
                    }
                    Err(err) => {
                        failed = Some(err);
                        ControlFlow::Break(())
                    }
                }
            };
            match target {
                Target::Filter(filter) => {
                    space
                        .session
                        .for_each_matching(&plan.query, filter, &mut visit)?
                }
                _ => space.session.for_each(&plan.query, &mut visit)?,
            }
            if let Some(err) = failed {
                return Err(err.into());
            }
        }
    }
    // Once, after every namespace: the look-ahead sizes the columns of
    // their rows together.
    printer.finish()?;
    if cli.dry_run {
        eprintln!("would drop {shown_total}");
    }
    if let Some(stop) = owners_unreadable(unreadable, shown_total) {
        return Err(stop);
    }
    if shown_total == 0 && (cli.dry_run || cli.narrows()) {
        return Err(nothing_matched(spaces, plan));
    }
    Ok(exit_codes::OK)
}

/// One namespace's drop: the owners looked up first when they select or
/// are shown, then the safe drop of what the options choose, at most
/// `limit` of them, each outcome printed as it is known and added to
/// `totals`. The refusal that stops the run, if the kernel refused.
fn drop_space<W: Write>(
    space: &mut Space,
    plan: &Plan,
    limit: Option<u64>,
    printer: &mut Printer<W>,
    totals: &mut Totals,
) -> Result<Option<Failure>, Failure> {
    let Space {
        session,
        target,
        label,
    } = space;
    let owners = if plan.show_owners || plan.owners.needs_processes() {
        let inodes: InodeSet = select(session, target, &plan.query)?
            .iter()
            .filter(|c| targeted(target, c))
            .map(|c| c.inode)
            .collect();
        Some(SocketOwners::scan(&inodes))
    } else {
        None
    };
    let names = session.interface_names()?;
    let scope_name = |index: u32| names.name(index);
    let target: &Target = target;
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
            let undecided = targeted(target, c) && plan.owners.undecided(c, o);
            unreadable = unreadable.saturating_add(usize::from(undecided));
        }
        chosen
    };
    let selection = match target {
        Target::Everything => Selection::all(plan.query),
        // A filter runs in the kernel too, so only what it matches is copied out.
        Target::Filter(filter) => Selection::matching(plan.query, filter.clone()),
        // Each named tuple is one exact lookup: no walk of every socket.
        Target::Tuples(tuples) => Selection::tuples(tuples.clone()).query(plan.query),
    };
    let selection = selection.listeners(plan.listeners).and(choose);
    let mut shown = Shown {
        printer,
        owners: owners.as_ref(),
        scope_name: &scope_name,
        netns: label.as_deref(),
        show_owners: plan.show_owners,
        quiet,
        // One named tuple that is missing is the run's one error line.
        report_missing: matches!(target, Target::Tuples(t) if t.len() > 1),
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
            shown.print(&conn, "failed", Some(why), false);
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
                detail: Some(reason.to_string()),
                collateral: true,
                owners: Some(owners.owners(conn.inode)),
                owners_unknown: owners.is_unknown(conn.inode),
                netns: label.as_deref(),
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
struct Shown<'a, W: Write> {
    printer: &'a mut Printer<W>,
    owners: Option<&'a SocketOwners>,
    scope_name: &'a dyn Fn(u32) -> Option<String>,
    netns: Option<&'a str>,
    show_owners: bool,
    /// The output failed earlier in the run: print nothing more.
    quiet: bool,
    /// Say of each named tuple that matched nothing (`-f`).
    report_missing: bool,
    /// The first refusal (no privilege, no support): its exit status and
    /// message.
    refused: Option<(u8, String)>,
    /// How many outcomes were refusals.
    refusals: usize,
    /// Refused sockets not yet shown, with why.
    held: Vec<(Connection, String)>,
    /// Outcomes other than a refusal so far.
    decided: usize,
    /// Writing failed: nothing more is printed.
    failed: Option<io::Error>,
    /// The reset peers were not chosen, so their owners were not looked
    /// up: with -p they wait for a scan of their own.
    collateral: Vec<Connection>,
}

impl<W: Write> Shown<'_, W> {
    fn print(
        &mut self,
        conn: &Connection,
        result: &'static str,
        detail: Option<String>,
        collateral: bool,
    ) {
        self.print_as(conn, result, None, detail, collateral);
    }

    fn print_as(
        &mut self,
        conn: &Connection,
        result: &'static str,
        method: Option<&'static str>,
        detail: Option<String>,
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
            Outcome::Gone(reason) => (Some(reason.describe().to_string()), None),
            Outcome::Failed(err) => (Some(err.to_string()), None),
        };
        self.print_as(&conn, outcome.name(), method, detail, false);
    }

    fn collateral(&mut self, conn: Connection) {
        if self.show_owners {
            self.collateral.push(conn);
        } else {
            let reason = tcpdrop::GoneReason::ResetByPeerDrop.describe();
            self.print(&conn, "gone", Some(reason.to_string()), true);
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
fn drop_once<W: Write>(
    plan: &Plan,
    spaces: &mut [Space],
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let mut totals = Totals::default();
    for space in spaces.iter_mut() {
        if let Some(stop) = drop_space(space, plan, None, printer, &mut totals)? {
            eprintln!("{}", totals.summary());
            return Err(stop);
        }
    }
    if let Some(stop) = owners_unreadable(totals.unreadable, totals.chosen) {
        return Err(stop);
    }
    if totals.chosen == 0 {
        return Err(nothing_matched(spaces, plan));
    }
    eprintln!("{}", totals.summary());
    if let Some(stop) = output_stopped(&totals) {
        return Err(stop);
    }
    if totals.failed > 0 {
        return Err(drops_failed(&totals));
    }
    Ok(exit_codes::OK)
}

/// `--watch`: drop what is selected, round after round, until a signal,
/// `--count` or `--timeout`; then the summary.
fn watch_drops<W: Write>(
    plan: &Plan,
    spaces: &mut [Space],
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
    loop {
        rounds = rounds.saturating_add(1);
        unreadable = unreadable.max(std::mem::take(&mut totals.unreadable));
        for space in spaces.iter_mut() {
            if count_reached(&totals) {
                break;
            }
            let limit = watch.count.map(|c| c.saturating_sub(totals.dropped));
            if let Some(stop) = drop_space(space, plan, limit, printer, &mut totals)? {
                eprintln!("{} in {rounds} rounds", totals.summary());
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
        if signals.wait(wait).is_some() {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    totals.unreadable = unreadable.max(totals.unreadable);
    eprintln!("{} in {rounds} rounds", totals.summary());
    if let Some(stop) = output_stopped(&totals) {
        return Err(stop);
    }
    if totals.failed > 0 {
        return Err(drops_failed(&totals));
    }
    if let Some(stop) = owners_unreadable(totals.unreadable, totals.chosen) {
        return Err(stop);
    }
    if totals.chosen == 0 {
        return Err(Failure {
            code: exit_codes::NO_MATCH,
            message: format!("no connection matched in {rounds} rounds"),
        });
    }
    Ok(exit_codes::OK)
}

/// Some drops failed: exit 3, or the refusal's own status (4, 5) when
/// every failure was a refusal (the caller may not, or the kernel cannot).
fn drops_failed(totals: &Totals) -> Failure {
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
fn nothing_matched(spaces: &mut [Space], plan: &Plan) -> Failure {
    let mut message = match spaces.first_mut() {
        None => "no network namespace found".to_string(),
        Some(space) => match &space.target {
            Target::Everything => "no connection matched".to_string(),
            Target::Filter(filter) => format!("no connection matched the filter '{filter}'"),
            Target::Tuples(tuples) => match tuples.as_slice() {
                [(local, remote)] => {
                    // One exact lookup: the tuple of a listener finds it.
                    let listener = !plan.listeners
                        && space
                            .session
                            .find(*local, *remote)
                            .is_ok_and(|c| c.is_some_and(|c| c.is_listener()));
                    if listener {
                        format!("{local} is a listening socket: add -s listening to drop it")
                    } else {
                        format!("no such connection: {local} {remote}")
                    }
                }
                _ => format!("none of the {} connections named exists", tuples.len()),
            },
        },
    };
    if plan.owners.is_active() {
        message.push_str(" (with the owners asked for by --pid/--process/--uid)");
    }
    if spaces.len() > 1 {
        message.push_str(" in any network namespace");
    }
    Failure {
        code: exit_codes::NO_MATCH,
        message,
    }
}

/// A typed end as a socket address, its `%scope` looked up in the session's
/// namespace.
fn socket_addr(session: &Session, end: &tuple::Endpoint) -> Result<SocketAddr, Failure> {
    Ok(match end.ip {
        IpAddr::V4(ip) => SocketAddr::V4(SocketAddrV4::new(ip, end.port)),
        IpAddr::V6(ip) => {
            let scope = match &end.scope {
                None => 0,
                Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => s
                    .parse()
                    .ok()
                    .filter(|&index| session.interface_name(index).is_some())
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "%{s}: no interface has index {s} in this network namespace \
                             (ip link lists them; or give the name, as %eth0)"
                        ))
                    })?,
                Some(name) => session.interface_index(name).map_err(Failure::from)?,
            };
            SocketAddr::V6(SocketAddrV6::new(ip, end.port, 0, scope))
        }
    })
}

/// The line that says why writing the output failed, and what to do.
fn output_error(err: &io::Error) -> String {
    format!("cannot write the output: {err} (free some space, or send it elsewhere)")
}

/// The failure to report when the output stopped early; none for a closed
/// pipe (`tcpdrop ... | head`), which is how a reader says it has enough.
fn output_stopped(totals: &Totals) -> Option<Failure> {
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
/// `-p` without `CAP_SYS_PTRACE`); if nothing was chosen, that is the
/// reason: exit 4, not "no connection matched".
fn owners_unreadable(unreadable: usize, chosen: usize) -> Option<Failure> {
    if unreadable == 0 {
        return None;
    }
    let message = format!(
        "the owners of {unreadable} selected socket{} could not be read: reading other \
         users' processes (/proc/PID/fd) needs CAP_SYS_PTRACE; run as root",
        if unreadable == 1 { "" } else { "s" }
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
