//! `tcpdrop`: drop (abort) TCP connections exactly and safely, or list them.

mod cli;
mod exit_codes;
mod output;
mod tuple;

use std::io::{self, IsTerminal};
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::process::ExitCode;

use clap::Parser;
use tcpdrop::filter::Filter;
use tcpdrop::{
    Connection, DropOptions, Error, Family, Netns, Outcome, Query, Session, State, StateSet,
};

use crate::cli::Cli;
use crate::output::{Printer, Row};

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

/// What the positional words named.
enum Target {
    /// Every connection the other options allow.
    Everything,
    /// Exactly one connection.
    Tuple(SocketAddr, SocketAddr),
    /// Those an `ss` filter expression selects.
    Filter(Filter),
}

/// Whether the words name the `listening` state itself (not just a group
/// such as `all` that holds it).
fn names_listening(words: &[String]) -> bool {
    words.iter().any(|word| {
        word.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .any(|token| matches!(State::from_name(token), Some(State::Listen)))
    })
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

fn run(cli: &Cli) -> Result<u8, Failure> {
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::Ipv4),
        (_, true) => Some(Family::Ipv6),
        _ => None,
    };
    let (states, listeners_named) = parse_states(&cli.states)?;
    let (mut typed, mut filter) = (None, None);
    if tuple::is_filter(&cli.args) {
        filter = Some(Filter::parse(&cli.args).map_err(|err| Failure::usage(err.to_string()))?);
    } else if !cli.args.is_empty() {
        typed = Some(tuple::parse(&cli.args).map_err(Failure::usage)?);
    }
    if (typed.is_some() || filter.is_some()) && cli.all {
        return Err(Failure::usage(
            "-a drops everything: give it without a connection or filter",
        ));
    }
    if !cli.list
        && !cli.dry_run
        && typed.is_none()
        && filter.is_none()
        && !cli.all
        && states.is_none()
    {
        return Err(Failure::usage(
            "nothing to drop: name a connection (LADDR LPORT RADDR RPORT), give a filter, \
             -s STATE or -a (-l lists, -n shows what would be dropped)",
        ));
    }
    // A filter's own `state listening` asks for listeners as -s does.
    let listeners_named = listeners_named
        || filter.as_ref().is_some_and(|f| {
            f.explicit_states()
                .is_some_and(|s| s.contains(State::Listen))
                && names_listening(&cli.args)
        });
    if cli.list && (cli.dry_run || cli.all) {
        return Err(Failure::usage("-l lists; it does not go with -a or -n"));
    }

    let mut session = match &cli.netns {
        Some(name) => Session::in_netns(&Netns::open(name)?)?,
        None => Session::new()?,
    };
    let mut wanted_states = states.unwrap_or(StateSet::ALL);
    let target = match (typed, filter) {
        (Some((local, remote)), _) => Target::Tuple(
            socket_addr(&session, &local)?,
            socket_addr(&session, &remote)?,
        ),
        (None, Some(filter)) => {
            wanted_states = wanted_states.intersection(filter.states());
            Target::Filter(filter)
        }
        (None, None) => Target::Everything,
    };
    let query = Query {
        family,
        states: wanted_states,
    };
    let choose = |c: &Connection| match &target {
        Target::Everything => true,
        Target::Tuple(local, remote) => c.has_tuple(local, remote),
        Target::Filter(filter) => filter.matches(c),
    };
    let header = !cli.no_header && !cli.json && io::stdout().is_terminal();
    let mut printer = Printer::new(io::stdout().lock(), cli.json, header);

    if cli.list || cli.dry_run {
        let rows: Vec<Connection> = session
            .list(&query)?
            .into_iter()
            .filter(|c| choose(c) && (cli.list || listeners_named || !c.is_listener()))
            .collect();
        let result = if cli.dry_run {
            Some("would-drop")
        } else {
            None
        };
        let scope_name = |index: u32| session.interface_name(index);
        let shown: Vec<Row<'_>> = rows
            .iter()
            .map(|conn| Row {
                conn,
                result,
                detail: None,
                collateral: false,
            })
            .collect();
        printer.rows(&shown, &scope_name)?;
        if cli.dry_run {
            eprintln!("would drop {}", rows.len());
        }
        if rows.is_empty() {
            return Err(nothing_matched(&mut session, &target, listeners_named));
        }
        return Ok(exit_codes::OK);
    }

    let options = DropOptions {
        listeners: listeners_named,
    };
    let report = session.drop_where(&query, options, choose)?;
    if report.results.is_empty() {
        return Err(nothing_matched(&mut session, &target, listeners_named));
    }
    let (dropped, gone, failed) = report.counts();
    // When the kernel refused the very first drop for lack of privilege or
    // support, nothing was dropped and one line says why.
    let refusal = report
        .results
        .iter()
        .find_map(|(_, outcome)| match outcome {
            Outcome::Failed(err @ (Error::AccessDenied(_) | Error::NotSupported)) => Some(err),
            _ => None,
        });
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
        })
        .collect();
    rows.extend(report.collateral.iter().map(|conn| Row {
        conn,
        result: Some("gone"),
        detail: Some(tcpdrop::GoneReason::ResetByPeerDrop.describe().to_string()),
        collateral: true,
    }));
    let scope_name = |index: u32| session.interface_name(index);
    let everything_refused = dropped == 0 && gone == 0 && refusal.is_some();
    if cli.json || !everything_refused {
        printer.rows(&rows, &scope_name)?;
    }
    let collateral = report.collateral.len();
    eprintln!(
        "dropped {dropped}, gone {}, failed {failed}",
        gone + collateral
    );
    if let Some(err) = refusal {
        let code = Failure::from(clone_refusal(err)).code;
        let suffix = if dropped == 0 {
            " (nothing was dropped)"
        } else {
            ""
        };
        return Err(Failure {
            code,
            message: format!("{err}{suffix}"),
        });
    }
    if failed > 0 {
        return Err(Failure {
            code: exit_codes::PARTIAL,
            message: format!("{failed} of {} drops failed", report.results.len()),
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
fn nothing_matched(session: &mut Session, target: &Target, listeners_named: bool) -> Failure {
    let message = match target {
        Target::Everything => "no connection matched".to_string(),
        Target::Filter(filter) => format!("no connection matched the filter '{filter}'"),
        Target::Tuple(local, remote) => {
            let listener = !listeners_named
                && session.list(&Query::all()).is_ok_and(|all| {
                    all.iter()
                        .any(|c| c.is_listener() && c.has_tuple(local, remote))
                });
            if listener {
                format!("{local} is a listening socket: add -s listening to drop it")
            } else {
                format!("no such connection: {local} {remote}")
            }
        }
    };
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
