//! `--forwarded`: the TCP connections this host forwards (a router, a
//! firewall, a NAT gateway), listed from connection tracking and dropped
//! by resetting both ends (`tcpdrop::forwarded`).

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use ssfilter::Filter;
use tcpdrop::forwarded::{
    EntryOutcome, Forwarded, ForwardedFlow, ForwardedOutcome, Side, Tracking,
};
use tcpdrop::{Family, State, StateSet};

use crate::cli::Cli;
use crate::failure::Failure;
use crate::output::{self, Printer, Row};
use crate::plan::parse_states;
use crate::{exit_codes, tuple, watch};

/// What the words chose.
enum Chosen {
    /// One connection, by its two ends (either order).
    Tuple(SocketAddr, SocketAddr),
    /// What connection tracking lists, narrowed by a filter (or not, `-a`).
    Tracked(Option<Filter>),
}

/// Which listed flows are chosen, and how often (`--watch`).
struct Choice {
    chosen: Chosen,
    states: StateSet,
    family: Option<Family>,
    /// `--watch`'s interval and `--timeout`.
    watch: Option<(Duration, Option<Duration>)>,
}

impl Choice {
    fn admits(&self, flow: &ForwardedFlow) -> bool {
        let conn = flow.connection();
        self.states.contains(conn.state)
            && self.family.is_none_or(|f| f == conn.family)
            && match &self.chosen {
                Chosen::Tracked(Some(filter)) => filter.matches(&conn),
                _ => true,
            }
    }
}

/// How many flows ended each way over the run.
#[derive(Default)]
struct Totals {
    dropped: usize,
    gone: usize,
    failed: usize,
    /// Flows reset at one end only (counted in `failed` too).
    partial: usize,
}

impl Totals {
    fn summary(&self) -> String {
        let mut text = format!(
            "dropped {}, gone {}, failed {}",
            self.dropped, self.gone, self.failed
        );
        if self.partial > 0 {
            text.push_str(&format!(" ({} reset at one end only)", self.partial));
        }
        text
    }
}

/// Run `tcpdrop --forwarded ...`.
pub fn run(cli: &Cli) -> Result<u8, Failure> {
    let choice = choice(cli)?;
    let mut fw = Forwarded::new()?;
    let header = !cli.no_header && !cli.json && io::stdout().is_terminal();
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
    if let Chosen::Tracked(_) = choice.chosen {
        require_tracking(&mut fw)?;
    }
    if cli.list || cli.dry_run {
        return list(cli, &choice, &mut fw, &mut printer);
    }
    if let Some((interval, timeout)) = choice.watch {
        return watch_drops(cli, interval, timeout, &choice, &mut fw, &mut printer);
    }
    let flows = select(&choice, &mut fw)?;
    let mut totals = Totals::default();
    let mut missing = None;
    drop_flows(
        &choice,
        &mut fw,
        &flows,
        &mut printer,
        &mut totals,
        &mut missing,
    )?;
    if let Some(message) = missing {
        return Err(Failure {
            code: exit_codes::NO_MATCH,
            message,
        });
    }
    if flows.is_empty() {
        return Err(nothing_matched(&choice));
    }
    eprintln!("{}", totals.summary());
    if totals.failed > 0 {
        return Err(Failure {
            code: exit_codes::PARTIAL,
            message: format!("{} of {} drops failed", totals.failed, flows.len()),
        });
    }
    Ok(exit_codes::OK)
}

/// Read the words and options; every usage error before anything is opened.
fn choice(cli: &Cli) -> Result<Choice, Failure> {
    cli.check().map_err(Failure::usage)?;
    if cli.count == Some(0) {
        return Err(Failure::usage(
            "--count 0 would stop before starting: give 1 or more",
        ));
    }
    let watch = match &cli.watch {
        None => None,
        Some(interval) => Some((
            watch::parse_duration(interval).map_err(|e| Failure::usage(format!("--watch: {e}")))?,
            cli.timeout
                .as_deref()
                .map(watch::parse_duration)
                .transpose()
                .map_err(|e| Failure::usage(format!("--timeout: {e}")))?,
        )),
    };
    let (named_states, _) = parse_states(&cli.states)?;
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::Ipv4),
        (_, true) => Some(Family::Ipv6),
        _ => None,
    };
    let names = ssfilter::names::Names::system();
    let mut resolved = Vec::new();
    let chosen = if cli.args.is_empty() {
        if !cli.all && !cli.list && named_states.is_none() {
            return Err(Failure::usage(
                "nothing to drop: name the connection (tcpdrop --forwarded ADDR:PORT ADDR:PORT), \
                 give a filter, -s STATE or -a (-l lists what is forwarded)",
            ));
        }
        Chosen::Tracked(None)
    } else if tuple::is_filter(&cli.args) {
        let (filter, used) =
            Filter::parse_with(&cli.args, names).map_err(|e| Failure::usage(e.to_string()))?;
        resolved = used;
        Chosen::Tracked(Some(filter))
    } else {
        let ((a, b), used) = tuple::parse_with(&cli.args, names).map_err(Failure::usage)?;
        resolved = used;
        let addr = |e: &tuple::Endpoint| SocketAddr::new(e.ip, e.port);
        Chosen::Tuple(addr(&a), addr(&b))
    };
    if cli.all && !matches!(chosen, Chosen::Tracked(None)) {
        return Err(Failure::usage(
            "-a drops everything: give it without a connection or filter",
        ));
    }
    if cli.list && (cli.dry_run || cli.all) {
        return Err(Failure::usage("-l lists; it does not go with -a or -n"));
    }
    if cli.watch.is_some() && matches!(chosen, Chosen::Tuple(..)) {
        return Err(Failure::usage(
            "--watch with --forwarded needs a filter or -a: connection tracking shows what \
             appears (e.g. tcpdrop --forwarded --watch 'dport = :443')",
        ));
    }
    // A connection that ended (TIME-WAIT, CLOSE in conntrack) has no ends
    // to reset: left out unless asked for by state.
    let explicit = match &chosen {
        Chosen::Tracked(Some(filter)) => filter.explicit_states(),
        _ => None,
    };
    let mut states = match (named_states, explicit) {
        (Some(named), _) => named,
        (None, Some(filter)) => filter,
        (None, None) if cli.list => StateSet::ALL,
        (None, None) => StateSet::ALL
            .without(State::TimeWait)
            .without(State::Closed),
    };
    if let (Chosen::Tracked(Some(filter)), Some(_)) = (&chosen, named_states) {
        states = states.intersection(filter.states());
    }
    // Every usage error is behind us: say what the names stand for.
    for name in &resolved {
        eprintln!("tcpdrop: {name}");
    }
    Ok(Choice {
        chosen,
        states,
        family,
        watch,
    })
}

/// Refuse, in one line, where connection tracking cannot list what is
/// forwarded.
fn require_tracking(fw: &mut Forwarded) -> Result<(), Failure> {
    let v4 = fw.tracking(Family::Ipv4)?;
    let v6 = fw.tracking(Family::Ipv6).unwrap_or(v4);
    if v4 == Tracking::Inactive && v6 == Tracking::Inactive {
        return Err(Failure {
            code: exit_codes::UNSUPPORTED,
            message: "connection tracking is not active for forwarded traffic here, so the \
                      connections this host forwards cannot be listed or chosen by a filter; \
                      name one by its two ends: tcpdrop --forwarded ADDR:PORT ADDR:PORT"
                .to_string(),
        });
    }
    Ok(())
}

/// The flows chosen now.
fn select(choice: &Choice, fw: &mut Forwarded) -> Result<Vec<ForwardedFlow>, Failure> {
    Ok(match &choice.chosen {
        Chosen::Tuple(a, b) => vec![fw.find(*a, *b)?],
        Chosen::Tracked(_) => fw
            .list()?
            .into_iter()
            .filter(|f| choice.admits(f))
            .collect(),
    })
}

/// `-l` and `-n`: print what is chosen, touch nothing.
fn list<W: Write>(
    cli: &Cli,
    choice: &Choice,
    fw: &mut Forwarded,
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    // A tuple is shown as conntrack knows it, or as named.
    let flows = select(choice, fw)?;
    let result = cli.dry_run.then_some("would-drop");
    for flow in &flows {
        print(printer, flow, result, None, None)?;
    }
    printer.finish()?;
    if cli.dry_run {
        eprintln!("would drop {}", flows.len());
    }
    let narrowed = !cli.args.is_empty() || !cli.states.is_empty() || cli.ipv4 || cli.ipv6;
    if flows.is_empty() && (cli.dry_run || narrowed) {
        return Err(nothing_matched(choice));
    }
    Ok(exit_codes::OK)
}

/// Print one flow: its originator's view as the row, the responder's view
/// beside it when addresses are translated (and always in JSON).
fn print<W: Write>(
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
        detail,
        collateral: false,
        owners: None,
        owners_unknown: false,
        netns: None,
    };
    printer.row_with(&row, &|_| None, &extra)
}

/// Drop `flows`, printing each outcome as it comes and counting it. A named
/// tuple that no end has leaves its message in `missing`.
fn drop_flows<W: Write>(
    choice: &Choice,
    fw: &mut Forwarded,
    flows: &[ForwardedFlow],
    printer: &mut Printer<W>,
    totals: &mut Totals,
    missing: &mut Option<String>,
) -> Result<(), Failure> {
    let tuple = matches!(choice.chosen, Chosen::Tuple(..));
    let mut output: Option<io::Error> = None;
    fw.drop(flows, &mut |flow, outcome| {
        let end = |side: Side| flow.end(side).addr;
        let (result, detail, entry) = match &outcome {
            ForwardedOutcome::Dropped { entry } => {
                totals.dropped += 1;
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
            ForwardedOutcome::Gone { why } => {
                if tuple {
                    *missing = Some(format!(
                        "no such connection: {} {} (the one named is gone: {why})",
                        flow.originator.addr, flow.originator.peer
                    ));
                    return;
                }
                totals.gone += 1;
                ("gone", Some(why.clone()), None)
            }
            ForwardedOutcome::NoSuchConnection { side } => {
                let why = format!(
                    "the {} end {} answered with an RST: it has no such connection",
                    side.name(),
                    end(*side)
                );
                if tuple {
                    *missing = Some(format!(
                        "no such connection: {} {} ({why}; nothing was sent but the probes)",
                        flow.originator.addr, flow.originator.peer
                    ));
                    return;
                }
                totals.gone += 1;
                ("gone", Some(why), None)
            }
            ForwardedOutcome::OneEnd { reset, why, entry } => {
                totals.failed += 1;
                totals.partial += 1;
                let detail = format!(
                    "only the {} end {} was reset; {why}",
                    reset.name(),
                    end(*reset)
                );
                ("failed", Some(detail), Some(entry))
            }
            ForwardedOutcome::Failed { why } => {
                totals.failed += 1;
                ("failed", Some(why.clone()), None)
            }
        };
        if output.is_none() {
            output = print(printer, flow, Some(result), detail, entry).err();
        }
    })?;
    if output.is_none() {
        output = printer.finish().err();
    }
    match output {
        Some(err) => Err(err.into()),
        None => Ok(()),
    }
}

/// `--watch`: drop what is chosen, round after round.
fn watch_drops<W: Write>(
    cli: &Cli,
    interval: Duration,
    timeout: Option<Duration>,
    choice: &Choice,
    fw: &mut Forwarded,
    printer: &mut Printer<W>,
) -> Result<u8, Failure> {
    let signals = watch::Signals::block().map_err(|e| Failure::from(tcpdrop::Error::Io(e)))?;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut totals = Totals::default();
    let mut rounds: u64 = 0;
    let mut chosen = 0;
    loop {
        rounds += 1;
        let mut flows = select(choice, fw)?;
        if let Some(count) = cli.count {
            flows.truncate(
                usize::try_from(count)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(totals.dropped),
            );
        }
        chosen += flows.len();
        let mut missing = None;
        drop_flows(choice, fw, &flows, printer, &mut totals, &mut missing)?;
        if cli.count.is_some_and(|c| totals.dropped as u64 >= c) {
            break;
        }
        let wait = match deadline {
            None => interval,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                left.min(interval)
            }
        };
        if signals.wait(wait).is_some() || deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
    }
    eprintln!("{} in {}", totals.summary(), crate::watch::rounds(rounds));
    if totals.failed > 0 {
        return Err(Failure {
            code: exit_codes::PARTIAL,
            message: format!("{} of {chosen} drops failed", totals.failed),
        });
    }
    if chosen == 0 {
        return Err(Failure {
            code: exit_codes::NO_MATCH,
            message: format!(
                "no forwarded connection matched in {}",
                crate::watch::rounds(rounds)
            ),
        });
    }
    Ok(exit_codes::OK)
}

fn nothing_matched(choice: &Choice) -> Failure {
    let message = match &choice.chosen {
        Chosen::Tuple(a, b) => format!("no such connection: {a} {b}"),
        Chosen::Tracked(Some(filter)) => {
            format!("no forwarded connection matched the filter '{filter}'")
        }
        Chosen::Tracked(None) => "no forwarded connection matched".to_string(),
    };
    Failure {
        code: exit_codes::NO_MATCH,
        message,
    }
}
