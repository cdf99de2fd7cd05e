//! `tcpdrop`: drop (abort) TCP connections exactly and safely, or list them.

mod cli;
mod exit_codes;
mod generate;
mod output;
mod owners;
mod tuple;
mod watch;

use std::io::{self, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tcpdrop::filter::Filter;
use tcpdrop::procs::SocketOwners;
use tcpdrop::{
    Connection, DropOptions, DropReport, Error, Family, Netns, Outcome, Query, Session, State,
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

impl From<Error> for Failure {
    fn from(err: Error) -> Failure {
        let code = match &err {
            Error::NotFound => exit_codes::NO_MATCH,
            Error::AccessDenied(_) => exit_codes::PERMISSION,
            Error::NotSupported => exit_codes::UNSUPPORTED,
            Error::InvalidArgument(_) | Error::Namespace { .. } => exit_codes::USAGE,
            Error::Netlink(_) | Error::Io(_) => exit_codes::PARTIAL,
        };
        Failure {
            code,
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
            code: exit_codes::PARTIAL,
            message: format!("writing output: {err}"),
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
            eprintln!("tcpdrop: {first} (see tcpdrop --help)");
            return ExitCode::from(exit_codes::USAGE);
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("tcpdrop: {}", failure.message);
            }
            ExitCode::from(failure.code)
        }
    }
}

/// What the positional words named, in one namespace.
enum Target {
    /// Every connection the other options allow.
    Everything,
    /// Exactly one connection.
    Tuple(SocketAddr, SocketAddr),
    /// Those an `ss` filter expression selects.
    Filter(Filter),
}

/// What the positional words named, as typed: a tuple's `%scope` is looked
/// up in each namespace.
enum Typed {
    Everything,
    Tuple(tuple::Endpoint, tuple::Endpoint),
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
    dropped: u64,
    gone: usize,
    failed: usize,
}

impl Totals {
    fn summary(&self) -> String {
        format!(
            "dropped {}, gone {}, failed {}",
            self.dropped, self.gone, self.failed
        )
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

/// Read the options into a plan; every usage error is found here, before
/// anything is opened or touched.
fn plan(cli: &Cli) -> Result<Plan, Failure> {
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::Ipv4),
        (_, true) => Some(Family::Ipv6),
        _ => None,
    };
    let (states, listeners_named) = parse_states(&cli.states)?;
    let typed = if tuple::is_filter(&cli.args) {
        Typed::Filter(Filter::parse(&cli.args).map_err(|err| Failure::usage(err.to_string()))?)
    } else if !cli.args.is_empty() {
        let (local, remote) = tuple::parse(&cli.args).map_err(Failure::usage)?;
        Typed::Tuple(local, remote)
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
    if !cli.list && !cli.dry_run && !named && !cli.all && states.is_none() && !owners.is_active() {
        return Err(Failure::usage(
            "nothing to drop: name a connection (LADDR LPORT RADDR RPORT), give a filter, \
             -s STATE, --pid, --process, --uid or -a (-l lists, -n shows what would be dropped)",
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
                Typed::Tuple(local, remote) => Target::Tuple(
                    socket_addr(&session, local)?,
                    socket_addr(&session, remote)?,
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
        Target::Tuple(local, remote) => c.has_tuple(local, remote),
        Target::Filter(filter) => filter.matches(c),
    }
}

fn run(cli: &Cli) -> Result<u8, Failure> {
    if let Some(kind) = &cli.generate {
        generate::write(kind, &mut io::stdout().lock())?;
        return Ok(exit_codes::OK);
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
    let mut printer = Printer::new(io::stdout().lock(), cli.json, header);
    printer.colour = output::use_colour(
        io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR"),
        cli.json,
    );
    printer.netns_column = cli.all_netns;
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
fn list<W: Write>(
    cli: &Cli,
    plan: &Plan,
    spaces: &mut [Space],
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let mut shown_total = 0;
    for space in spaces.iter_mut() {
        let conns: Vec<Connection> = select(&mut space.session, &space.target, &plan.query)?
            .into_iter()
            .filter(|c| {
                targeted(&space.target, c) && (cli.list || plan.listeners || !c.is_listener())
            })
            .collect();
        let owners = (plan.show_owners || plan.owners.needs_processes())
            .then(|| SocketOwners::scan(&conns.iter().map(|c| c.inode).collect()));
        let owners_of = |c: &Connection| owners.as_ref().map_or(&[][..], |o| o.owners(c.inode));
        let result = if cli.dry_run {
            Some("would-drop")
        } else {
            None
        };
        let shown: Vec<Row<'_>> = conns
            .iter()
            .filter(|c| plan.owners.admits(c, owners_of(c)))
            .map(|conn| Row {
                conn,
                result,
                detail: None,
                collateral: false,
                owners: plan.show_owners.then(|| owners_of(conn)),
                netns: space.label.as_deref(),
            })
            .collect();
        let scope_name = |index: u32| space.session.interface_name(index);
        printer.rows(&shown, &scope_name)?;
        shown_total += shown.len();
    }
    if cli.dry_run {
        eprintln!("would drop {shown_total}");
    }
    if shown_total == 0 {
        return Err(nothing_matched(spaces, plan));
    }
    Ok(exit_codes::OK)
}

/// One namespace's drop: the owners looked up first when they select or
/// are shown, then the safe drop of what the options choose, at most
/// `limit` of them.
fn drop_space(
    space: &mut Space,
    plan: &Plan,
    limit: Option<u64>,
) -> Result<(DropReport, Option<SocketOwners>), Failure> {
    let Space {
        session, target, ..
    } = space;
    let owners = if plan.show_owners || plan.owners.needs_processes() {
        let inodes = select(session, target, &plan.query)?
            .iter()
            .filter(|c| targeted(target, c))
            .map(|c| c.inode)
            .collect();
        Some(SocketOwners::scan(&inodes))
    } else {
        None
    };
    let target: &Target = target;
    let mut taken: u64 = 0;
    let options = DropOptions {
        listeners: plan.listeners,
    };
    let choose = |c: &Connection| {
        // A socket that appeared after the owner scan has no owner in it,
        // so --pid/--process leave it for the next look.
        let owned = owners.as_ref().map_or(&[][..], |o| o.owners(c.inode));
        let chosen =
            targeted(target, c) && plan.owners.admits(c, owned) && limit.is_none_or(|l| taken < l);
        if chosen {
            taken = taken.saturating_add(1);
        }
        chosen
    };
    // A filter runs in the kernel too, so only what it matches is copied out.
    let report = match target {
        Target::Filter(filter) => session.drop_matching(&plan.query, filter, options, choose)?,
        _ => session.drop_where(&plan.query, options, choose)?,
    };
    let owners = match owners {
        // The reset peers were not chosen, so not looked up: look now.
        Some(mut owners) if plan.show_owners && !report.collateral.is_empty() => {
            owners.extend(SocketOwners::scan(
                &report.collateral.iter().map(|c| c.inode).collect(),
            ));
            Some(owners)
        }
        other => other,
    };
    Ok((report, owners))
}

/// The refusal that stopped a drop before anything was touched: no
/// privilege, or no kernel support.
fn refusal(report: &DropReport) -> Option<&Error> {
    report
        .results
        .iter()
        .find_map(|(_, outcome)| match outcome {
            Outcome::Failed(err @ (Error::AccessDenied(_) | Error::NotSupported)) => Some(err),
            _ => None,
        })
}

/// Print one namespace's report and add it to `totals`; the refusal that
/// stops the run, if the kernel refused.
fn print_report<W: Write>(
    space: &Space,
    plan: &Plan,
    report: &DropReport,
    owners: Option<&SocketOwners>,
    printer: &mut Printer<W>,
    totals: &mut Totals,
) -> Result<Option<Failure>, Failure> {
    let (dropped, gone, failed) = report.counts();
    let shown_owners = |c: &Connection| {
        plan.show_owners
            .then(|| owners.map_or(&[][..], |o| o.owners(c.inode)))
    };
    let netns = space.label.as_deref();
    let mut rows: Vec<Row<'_>> = report
        .results
        .iter()
        .map(|(conn, outcome)| Row {
            conn,
            result: Some(outcome.name()),
            detail: match outcome {
                Outcome::Dropped => None,
                Outcome::Gone(reason) => Some(reason.describe().to_string()),
                Outcome::Failed(err) => Some(err.to_string()),
            },
            collateral: false,
            owners: shown_owners(conn),
            netns,
        })
        .collect();
    rows.extend(report.collateral.iter().map(|conn| Row {
        conn,
        result: Some("gone"),
        detail: Some(tcpdrop::GoneReason::ResetByPeerDrop.describe().to_string()),
        collateral: true,
        owners: shown_owners(conn),
        netns,
    }));
    let refused = refusal(report);
    // When the kernel refused the very first drop for lack of privilege or
    // support, nothing was dropped and one line says why.
    let everything_refused = dropped == 0 && gone == 0 && refused.is_some();
    if printer.is_json() || !everything_refused {
        let scope_name = |index: u32| space.session.interface_name(index);
        printer.rows(&rows, &scope_name)?;
    }
    totals.chosen = totals.chosen.saturating_add(report.results.len());
    totals.dropped = totals.dropped.saturating_add(dropped as u64);
    totals.gone = totals
        .gone
        .saturating_add(gone)
        .saturating_add(report.collateral.len());
    totals.failed = totals.failed.saturating_add(failed);
    Ok(refused.map(|err| {
        let code = Failure::from(clone_refusal(err)).code;
        let suffix = if totals.dropped == 0 {
            " (nothing was dropped)"
        } else {
            ""
        };
        Failure {
            code,
            message: format!("{err}{suffix}"),
        }
    }))
}

/// Drop what is selected, in every namespace, once.
fn drop_once<W: Write>(
    plan: &Plan,
    spaces: &mut [Space],
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let mut totals = Totals::default();
    for space in spaces.iter_mut() {
        let (report, owners) = drop_space(space, plan, None)?;
        if let Some(stop) =
            print_report(space, plan, &report, owners.as_ref(), printer, &mut totals)?
        {
            eprintln!("{}", totals.summary());
            return Err(stop);
        }
    }
    if totals.chosen == 0 {
        return Err(nothing_matched(spaces, plan));
    }
    eprintln!("{}", totals.summary());
    if totals.failed > 0 {
        return Err(Failure {
            code: exit_codes::PARTIAL,
            message: format!("{} of {} drops failed", totals.failed, totals.chosen),
        });
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
    loop {
        rounds = rounds.saturating_add(1);
        for space in spaces.iter_mut() {
            if count_reached(&totals) {
                break;
            }
            let limit = watch.count.map(|c| c.saturating_sub(totals.dropped));
            let (report, owners) = drop_space(space, plan, limit)?;
            if let Some(stop) =
                print_report(space, plan, &report, owners.as_ref(), printer, &mut totals)?
            {
                eprintln!("{} in {rounds} rounds", totals.summary());
                return Err(stop);
            }
        }
        if count_reached(&totals) {
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
    eprintln!("{} in {rounds} rounds", totals.summary());
    if totals.failed > 0 {
        return Err(Failure {
            code: exit_codes::PARTIAL,
            message: format!("{} of {} drops failed", totals.failed, totals.chosen),
        });
    }
    if totals.chosen == 0 {
        return Err(Failure {
            code: exit_codes::NO_MATCH,
            message: format!("no connection matched in {rounds} rounds"),
        });
    }
    Ok(exit_codes::OK)
}

/// The error kinds a refusal can be, rebuilt (library errors are not `Clone`).
fn clone_refusal(err: &Error) -> Error {
    match err {
        Error::AccessDenied(p) => Error::AccessDenied(*p),
        _ => Error::NotSupported,
    }
}

/// Exit 1, saying what did not match; for a tuple that names a listener not
/// asked for, say how to ask.
fn nothing_matched(spaces: &mut [Space], plan: &Plan) -> Failure {
    let mut message = match spaces.first_mut() {
        None => "no network namespace found".to_string(),
        Some(space) => match &space.target {
            Target::Everything => "no connection matched".to_string(),
            Target::Filter(filter) => format!("no connection matched the filter '{filter}'"),
            Target::Tuple(local, remote) => {
                let listener = !plan.listeners
                    && space.session.list(&Query::all()).is_ok_and(|all| {
                        all.iter()
                            .any(|c| c.is_listener() && c.has_tuple(local, remote))
                    });
                if listener {
                    format!("{local} is a listening socket: add -s listening to drop it")
                } else {
                    format!("no such connection: {local} {remote}")
                }
            }
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
                    .map_err(|_| Failure::usage(format!("%{s}: interface number out of range")))?,
                Some(name) => session.interface_index(name).map_err(Failure::from)?,
            };
            SocketAddr::V6(SocketAddrV6::new(ip, end.port, 0, scope))
        }
    })
}
