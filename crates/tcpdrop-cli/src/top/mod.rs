//! `tcpdrop --top`: a full-screen live view of the connections, to watch
//! them come and go and close the ones picked (Windows' TCPView, whose
//! "Close Connection" is `SetTcpEntry`).
//!
//! Three threads: this one reads keys and draws (`keys.rs`; `render.rs`,
//! `dialogs.rs`, `names.rs`); the worker (`worker.rs`) owns the sessions,
//! dumps on the interval, merges (`model.rs`), sorts (`sort.rs`) and
//! drops, through the library's drop procedure as the command does; a scan of `/proc/*/fd` for owners runs on a thread of
//! its own when the rows on screen need it. Nothing the kernel is asked
//! runs on this thread, so a refresh of 100,000 connections never holds a
//! key up.

mod dialogs;
mod keys;
mod model;
mod names;
mod render;
mod sort;
#[cfg(test)]
mod tests;
mod worker;

use std::io::{self, IsTerminal};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::Event;
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use ssfilter::Filter;
use tcpdrop::{Family, Query, StateSet};

use crate::cli::Cli;
use crate::exit_codes;
use crate::failure::Failure;
use crate::owners::OwnerFilter;
use crate::plan::{method_named, open_namespaces, parse_states, Namespaces};
use crate::tuple;
use crate::watch::parse_duration;
use keys::App;
use model::View;
use worker::{Control, Report, Setup, Worker};

/// What reaches the drawing thread.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A key, a resize.
    Input(Event),
    Worker(Report),
    /// SIGINT, SIGTERM or SIGHUP: quit as `q` does.
    Signal,
}

/// What the options select, read before anything is opened.
struct Chosen {
    query: Query,
    filter: Option<Filter>,
    filter_text: String,
    listening_named: bool,
    owners: OwnerFilter,
    method: Option<tcpdrop::Method>,
    interval: Duration,
}

/// The options, as the view takes them: the same selection as every
/// other form (FILTER, -s, -4/-6, --pid, --process, --uid), every state by
/// default, listeners included (as `ss -tan` lists them).
fn chosen(cli: &Cli) -> Result<Chosen, Failure> {
    let interval = parse_duration(cli.top.as_deref().unwrap_or("1s"))
        .map_err(|e| Failure::usage(format!("--top: {e}")))?;
    let (states, listening_named) = parse_states(&cli.states)?;
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::Ipv4),
        (_, true) => Some(Family::Ipv6),
        _ => None,
    };
    let (filter, filter_text) = if cli.args.is_empty() {
        (None, String::new())
    } else if tuple::is_filter(&cli.args) {
        let filter = Filter::parse(&cli.args).map_err(|err| Failure::usage(err.to_string()))?;
        (Some(filter), cli.args.join(" "))
    } else {
        return Err(Failure::usage(
            "--top shows what a FILTER selects, not one connection: write it as a filter, \
             e.g. tcpdrop --top 'src 10.0.0.5:443 and dst 10.0.0.9:51234'",
        ));
    };
    let owners = OwnerFilter::new(&cli.pid, &cli.process, &cli.uid).map_err(Failure::usage)?;
    Ok(Chosen {
        query: Query {
            family,
            states: states.unwrap_or(StateSet::ALL),
        },
        filter,
        filter_text,
        listening_named,
        owners,
        method: cli.method.as_deref().and_then(method_named),
        interval,
    })
}

/// Run the view until `q`, Ctrl-C or a signal; exit status 0.
pub(crate) fn run(cli: &Cli) -> Result<u8, Failure> {
    let chosen = chosen(cli)?;
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(Failure::usage(
            "--top needs a terminal: its standard input and output must be one \
             (without a terminal, tcpdrop -l lists the connections)",
        ));
    }
    // Blocked before any thread starts, so that every thread inherits it
    // and the signal thread alone takes them.
    let signals = block_signals().map_err(|e| Failure::from(tcpdrop::Error::Io(e)))?;
    let Namespaces {
        list: spaces,
        unreached,
        ..
    } = open_namespaces(cli)?;
    let labels: Arc<Vec<Option<String>>> =
        Arc::new(spaces.iter().map(|s| s.label.clone()).collect());

    let filter_listening = chosen.filter.as_ref().is_some_and(Filter::names_listening);
    let (to_ui, from_all) = mpsc::channel::<Msg>();
    let (to_worker, controls) = mpsc::channel::<Control>();
    let worker = Worker::new(
        Setup {
            spaces,
            query: chosen.query,
            filter: chosen.filter,
            owner_filter: chosen.owners,
            method: chosen.method,
            interval: chosen.interval,
            labels: Arc::clone(&labels),
        },
        to_ui.clone(),
        to_worker.clone(),
    );
    let worker = std::thread::Builder::new()
        .name("top-worker".into())
        .spawn(move || worker.run(controls))
        .map_err(|e| Failure::from(tcpdrop::Error::Io(e)))?;
    spawn_signal_thread(signals, to_ui.clone());

    let mut app = App::new(Arc::new(View::empty(labels)), chosen.interval);
    app.filter_text = chosen.filter_text;
    app.filter_listening = filter_listening;
    app.listening_named = chosen.listening_named;
    app.netns_column = cli.all_netns;

    let screen = Screen::enter().map_err(output_failure)?;
    spawn_input_thread(to_ui);
    let result = event_loop(&mut app, &from_all, &to_worker);
    let _ = to_worker.send(Control::Quit);
    drop(screen);
    // A drop under way finishes before the worker reads Quit; the keys
    // are back to the shell already.
    let _ = worker.join();
    // The namespaces --all-netns could not enter, said where it stays on
    // the screen: after the view.
    if let Some(line) = unreached {
        eprintln!("tcpdrop: {line}");
    }
    result.map_err(output_failure)?;
    Ok(exit_codes::OK)
}

fn output_failure(err: io::Error) -> Failure {
    Failure {
        code: exit_codes::OUTPUT,
        message: format!("cannot draw on the terminal: {err}"),
    }
}

/// Draw, wait for the next message, handle every message that has come,
/// draw again; until a quit.
fn event_loop(
    app: &mut App,
    from_all: &mpsc::Receiver<Msg>,
    to_worker: &Sender<Control>,
) -> io::Result<()> {
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let mut visible: Vec<u32> = Vec::new();
    loop {
        terminal.draw(|frame| render::draw(frame, app))?;
        let now_visible = app.visible_inodes();
        if now_visible != visible {
            visible = now_visible;
            let _ = to_worker.send(Control::Visible(visible.clone()));
        }
        let Ok(first) = from_all.recv() else {
            return Ok(());
        };
        // Keys typed while a frame was drawn are all handled before the
        // next one: holding `j` down moves as fast as the keys come.
        for msg in std::iter::once(first).chain(from_all.try_iter()) {
            match msg {
                Msg::Input(Event::Key(key)) => {
                    for control in app.key(key) {
                        let _ = to_worker.send(control);
                    }
                }
                Msg::Input(_) => {}
                Msg::Worker(report) => app.report(report),
                Msg::Signal => app.quit = true,
            }
            if app.quit {
                return Ok(());
            }
        }
    }
}

/// The terminal in raw mode on the alternate screen, the cursor hidden;
/// put back as it was when dropped, and on a panic.
struct Screen;

impl Screen {
    fn enter() -> io::Result<Screen> {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            default_hook(info);
        }));
        enable_raw_mode()?;
        let screen = Screen;
        execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
        Ok(screen)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Keys and resizes, read on a thread of their own.
fn spawn_input_thread(to_ui: Sender<Msg>) {
    let _ = std::thread::Builder::new()
        .name("top-input".into())
        .spawn(move || {
            while let Ok(event) = crossterm::event::read() {
                if to_ui.send(Msg::Input(event)).is_err() {
                    return;
                }
            }
        });
}

/// SIGINT, SIGTERM and SIGHUP, blocked in this thread (and so in every
/// thread started after), to be taken by [`spawn_signal_thread`].
fn block_signals() -> io::Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t, the signal numbers are valid, and
    // pthread_sigmask changes only this thread's mask.
    let rc = unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(set)
}

/// A signal quits as `q` does, so the terminal is put back.
fn spawn_signal_thread(set: libc::sigset_t, to_ui: Sender<Msg>) {
    let _ = std::thread::Builder::new()
        .name("top-signals".into())
        .spawn(move || loop {
            let mut signo: libc::c_int = 0;
            // SAFETY: `set` is an initialised sigset_t blocked in every
            // thread; sigwait writes the signal number into `signo`.
            let rc = unsafe { libc::sigwait(&set, &mut signo) };
            if rc == 0 && to_ui.send(Msg::Signal).is_err() {
                return;
            }
        });
}
