//! Drops large enough that their aborts go to worker threads while the
//! dump goes on (batches of a few hundred): every chosen socket is
//! reported once and aborted, every loopback peer the drops reset is
//! reported once as collateral, and nothing else is touched, whichever way
//! the drop finds its sockets (a filter of ports, whose peers are looked
//! up; a filter program, whose peers come in the dump, before or after
//! their targets; everything, where both ends are chosen), and whichever
//! way aborts them in batches (`SOCK_DESTROY`, or a forced `inject`).

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nstest::{carries_data, in_netns, listen, so_error, still_accepts};
use ssfilter::Filter;
use tcpdrop::{GoneReason, Method, Outcome, Query, Selection};

use crate::drop_safety::drop_by;

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;
/// Connections to the port the drops choose: more than a few batches, and
/// more than a drop finds before its aborts begin to stream (2,048).
const CHOSEN: usize = 3000;

/// `n` connections to `listener` from client addresses 127.0.1.1–4.
fn open(listener: &TcpListener, n: usize) -> Vec<(TcpStream, TcpStream)> {
    let to = listener.local_addr().unwrap();
    (0..n)
        .map(|i| {
            let from: SocketAddr = format!("127.0.1.{}:0", 1 + i % 4).parse().unwrap();
            nstest::connect_from(from, to, listener)
        })
        .collect()
}

/// The drop's report, checked: each socket once, the chosen clients
/// dropped by `method` (their owners see `ECONNABORTED` after destroy,
/// `ECONNRESET` after inject's reset), their server ends either chosen
/// too (`both`) or reported once as collateral (their owners see
/// `ECONNRESET`); the bystanders carry data, the listeners accept.
fn check(
    report: &tcpdrop::DropReport,
    method: Method,
    chosen: &mut [(TcpStream, TcpStream)],
    tuples: &[(SocketAddr, SocketAddr)],
    bystanders: &mut [(TcpStream, TcpStream)],
    listeners: &[&TcpListener],
    both: bool,
) {
    let aborted = match method {
        Method::Destroy | Method::Bpf => ECONNABORTED,
        Method::Owner | Method::Inject => ECONNRESET,
    };
    let mut seen = HashSet::new();
    for (conn, _) in &report.results {
        assert!(seen.insert(conn.cookie), "reported twice: {conn:?}");
    }
    for conn in &report.collateral {
        assert!(seen.insert(conn.cookie), "reported twice: {conn:?}");
    }
    let outcomes: HashMap<(SocketAddr, SocketAddr), &Outcome> = report
        .results
        .iter()
        .map(|(c, o)| ((c.local, c.remote), o))
        .collect();
    let collateral: HashSet<(SocketAddr, SocketAddr)> = report
        .collateral
        .iter()
        .map(|c| (c.local, c.remote))
        .collect();
    let mut dropped = 0;
    for ((client, server), &c) in chosen.iter().zip(tuples) {
        let s = (c.1, c.0);
        let (ce, se) = (so_error(client), so_error(server));
        match (outcomes.get(&c), outcomes.get(&s)) {
            (Some(Outcome::Dropped(by)), None) if !both && *by == method => {
                assert_eq!(ce, aborted, "{c:?}");
                assert_eq!(se, ECONNRESET, "{s:?}");
                assert!(collateral.contains(&s), "the reset peer {s:?} is reported");
                dropped += 1;
            }
            (Some(a), Some(b)) if both => {
                // One end dropped, the other reset by that drop (or
                // dropped too, if its turn came first).
                let ends = [(a, ce), (b, se)];
                let by_destroy = ends
                    .iter()
                    .filter(|(o, e)| {
                        matches!(o, Outcome::Dropped(by) if *by == method) && *e == aborted
                    })
                    .count();
                let reset = ends
                    .iter()
                    .filter(|(o, e)| {
                        matches!(o, Outcome::Gone(GoneReason::ResetByPeerDrop)) && *e == ECONNRESET
                    })
                    .count();
                assert!(
                    by_destroy >= 1 && by_destroy + reset == 2,
                    "{c:?}: {a:?} {b:?} {ce} {se}"
                );
                dropped += by_destroy;
            }
            other => panic!("{c:?}: {other:?} (client {ce}, server {se})"),
        }
    }
    assert!(dropped >= chosen.len());
    if both {
        assert_eq!(report.results.len(), 2 * chosen.len());
        assert!(report.collateral.is_empty());
    } else {
        assert_eq!(report.results.len(), chosen.len());
        assert_eq!(report.collateral.len(), chosen.len(), "one peer each");
    }
    for (client, server) in bystanders.iter_mut() {
        assert!(carries_data(client, server), "a bystander was hit");
    }
    for listener in listeners {
        assert!(still_accepts(listener));
    }
}

#[test]
fn a_large_drop_by_a_filter_of_ports_reports_each_target_and_peer_once() {
    large_drop("ports");
}

#[test]
fn a_large_drop_by_a_filter_program_reports_each_target_and_peer_once() {
    large_drop("program");
}

#[test]
fn a_large_drop_of_both_ends_reports_each_socket_once() {
    large_drop("both");
}

/// A forced inject streams its batches to worker threads as destroy does
/// (threads named `tcpdrop-abort` are seen while it runs), each keeping
/// its raw and packet sockets from batch to batch (no more packet sockets
/// are seen in the namespace than there are workers), and reports as
/// destroy does.
#[test]
fn a_large_drop_by_inject_goes_to_workers_and_reports_each_target_and_peer_once() {
    // Everything inside: as a normal user, the test runs again in a user
    // namespace of its own, and this call only waits for that run.
    in_netns(|| {
        let seen = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let packet_sockets = Arc::new(Mutex::new(HashSet::new()));
        let (seen_w, stop_w, sockets_w) = (
            Arc::clone(&seen),
            Arc::clone(&stop),
            Arc::clone(&packet_sockets),
        );
        // Set on the drop's thread (in the test's namespace, which the
        // watcher inherits), run right before its first batch is sent.
        let watch = move || {
            std::thread::spawn(move || {
                while !stop_w.load(Ordering::SeqCst) {
                    if workers_running() {
                        seen_w.store(true, Ordering::SeqCst);
                    }
                    sockets_w.lock().unwrap().extend(nstest::packet_sockets());
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            });
        };
        large_drop_here(
            "program",
            CHOSEN,
            Some(Method::Inject),
            Some(Box::new(watch)),
        );
        stop.store(true, Ordering::SeqCst);
        assert!(seen.load(Ordering::SeqCst), "no worker thread aborted");
        let workers = std::thread::available_parallelism().unwrap().get().min(8);
        let opened = packet_sockets.lock().unwrap().len();
        assert!(
            (1..=workers).contains(&opened),
            "{opened} packet sockets for {workers} workers"
        );
    });
}

/// Whether this process has a thread named `tcpdrop-abort` (a drop's
/// worker).
fn workers_running() -> bool {
    std::fs::read_dir("/proc/self/task").unwrap().any(|task| {
        std::fs::read_to_string(task.unwrap().path().join("comm"))
            .is_ok_and(|comm| comm.trim() == "tcpdrop-abort")
    })
}

fn large_drop(form: &str) {
    in_netns(|| large_drop_here(form, CHOSEN, None, None));
}

/// [`large_drop`] of `n` connections by `method` (`None`: auto, where
/// destroy serves), with `hook` run right before the first batch goes, in
/// the calling thread's namespace.
fn large_drop_here(
    form: &str,
    n: usize,
    method: Option<Method>,
    hook: Option<Box<dyn FnOnce() + Send>>,
) {
    // Client ports away from the servers' (a client on the chosen
    // port would be chosen too).
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "20000 60999").unwrap();
    let chosen_l = listen("127.0.0.1:10000");
    let other_l = listen("127.0.0.2:10001");
    let port = chosen_l.local_addr().unwrap().port();
    let mut chosen = open(&chosen_l, n);
    let mut bystanders = open(&other_l, 200);
    let tuples: Vec<_> = chosen
        .iter()
        .map(|(c, _)| (c.local_addr().unwrap(), c.peer_addr().unwrap()))
        .collect();
    if let Some(hook) = hook {
        tcpdrop::testing::before_abort(hook);
    }
    let report = match form {
        "ports" => {
            let filter = Filter::parse(&[&format!("dport = :{port}")]).unwrap();
            assert!(filter.ports().is_some());
            drop_by(Selection::matching(Query::all(), filter), method)
        }
        "program" => {
            let text = format!("dst 127.0.0.1 and dport >= :{port} and dport <= :{port}");
            let filter = Filter::parse(&[&text]).unwrap();
            assert!(filter.ports().is_none());
            drop_by(Selection::matching(Query::all(), filter), method)
        }
        _ => drop_by(
            Selection::all(Query::all())
                .and(move |c| c.local.port() == port || c.remote.port() == port),
            method,
        ),
    };
    check(
        &report,
        method.unwrap_or(Method::Destroy),
        &mut chosen,
        &tuples,
        &mut bystanders,
        &[&chosen_l, &other_l],
        form == "both",
    );
}
