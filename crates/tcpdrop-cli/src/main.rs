//! `tcpdrop`: drop (abort) TCP connections exactly and safely, or list them.

mod bsd;
mod cli;
mod drop;
mod dry;
mod echo;
mod exit_codes;
mod failure;
mod forwarded;
mod generate;
mod list;
mod output;
mod owners;
mod plan;
mod top;
mod totals;
mod tuple;
mod watch;

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use clap::Parser;
use tcpdrop::Error;

use crate::cli::Cli;
use crate::drop::{drop_once, watch_drops};
use crate::failure::Failure;
use crate::list::list;
use crate::output::Printer;
use crate::plan::{open_spaces, plan};

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

fn run(cli: &Cli) -> Result<u8, Failure> {
    if let Some(kind) = &cli.generate {
        generate::write(kind, &mut io::stdout().lock())?;
        return Ok(exit_codes::OK);
    }
    if cli.top.is_some() {
        return top::run(cli);
    }
    let plan = plan(cli)?;
    // Blocked before any thread starts, so that every thread inherits it.
    let signals = match plan.watch {
        Some(_) => Some(watch::Signals::block().map_err(|e| Failure::from(Error::Io(e)))?),
        None => None,
    };
    // Once every usage error is behind us (a %scope is looked up in each
    // namespace), say which addresses the names stand for before anything
    // is listed or dropped (on stderr, out of a JSON stream). Forwarded
    // connections need no scope: said before anything is opened.
    let say_resolved = || {
        for name in &plan.resolved {
            eprintln!("tcpdrop: {name}");
        }
    };
    if plan.forwarded {
        say_resolved();
    }
    let mut spaces = open_spaces(cli, &plan)?;
    if !plan.forwarded {
        say_resolved();
    }
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
            .list
            .iter()
            .filter_map(|s| s.label.as_deref())
            .map(str::len);
        printer.pad_netns(widest.max().unwrap_or(0));
    }
    printer.owners_column = cli.processes;
    printer.bsd = cli.bsd;

    if cli.list {
        return list(cli, &plan, &mut spaces, &mut printer);
    }
    if cli.dry_run {
        return dry::dry_run(&plan, &mut spaces, &mut printer);
    }
    match (&plan.watch, signals) {
        (Some(watch), Some(signals)) => {
            watch_drops(&plan, &mut spaces, &mut printer, watch, &signals)
        }
        _ => drop_once(&plan, &mut spaces, &mut printer),
    }
}
