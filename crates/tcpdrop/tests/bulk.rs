//! Drops large enough that their aborts go to worker threads while the
//! dump goes on (batches of a few hundred): every chosen socket is
//! reported once and aborted, every loopback peer the drops reset is
//! reported once as collateral, and nothing else is touched, whichever way
//! the drop finds its sockets (a filter of ports, whose peers are looked
//! up; a filter program, whose peers come in the dump, before or after
//! their targets; everything, where both ends are chosen).

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, TcpListener, TcpStream};

use nstest::{carries_data, in_netns, listen, so_error, still_accepts};
use ssfilter::Filter;
use tcpdrop::{GoneReason, Method, Outcome, Query, Selection};

use crate::drop_safety::drop_all;

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
/// dropped (their owners see `ECONNABORTED`), their server ends either
/// chosen too (`both`) or reported once as collateral (their owners see
/// `ECONNRESET`); the bystanders carry data, the listeners accept.
fn check(
    report: &tcpdrop::DropReport,
    chosen: &mut [(TcpStream, TcpStream)],
    tuples: &[(SocketAddr, SocketAddr)],
    bystanders: &mut [(TcpStream, TcpStream)],
    listeners: &[&TcpListener],
    both: bool,
) {
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
            (Some(Outcome::Dropped(Method::Destroy)), None) if !both => {
                assert_eq!(ce, ECONNABORTED, "{c:?}");
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
                        matches!(o, Outcome::Dropped(Method::Destroy)) && *e == ECONNABORTED
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

fn large_drop(form: &str) {
    in_netns(|| {
        // Client ports away from the servers' (a client on the chosen
        // port would be chosen too).
        std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "20000 60999").unwrap();
        let chosen_l = listen("127.0.0.1:10000");
        let other_l = listen("127.0.0.2:10001");
        let port = chosen_l.local_addr().unwrap().port();
        let mut chosen = open(&chosen_l, CHOSEN);
        let mut bystanders = open(&other_l, 200);
        let tuples: Vec<_> = chosen
            .iter()
            .map(|(c, _)| (c.local_addr().unwrap(), c.peer_addr().unwrap()))
            .collect();
        let report = match form {
            "ports" => {
                let filter = Filter::parse(&[&format!("dport = :{port}")]).unwrap();
                assert!(filter.ports().is_some());
                drop_all(Selection::matching(Query::all(), filter))
            }
            "program" => {
                let text = format!("dst 127.0.0.1 and dport >= :{port} and dport <= :{port}");
                let filter = Filter::parse(&[&text]).unwrap();
                assert!(filter.ports().is_none());
                drop_all(Selection::matching(Query::all(), filter))
            }
            _ => drop_all(
                Selection::all(Query::all())
                    .and(move |c| c.local.port() == port || c.remote.port() == port),
            ),
        };
        check(
            &report,
            &mut chosen,
            &tuples,
            &mut bystanders,
            &[&chosen_l, &other_l],
            form == "both",
        );
    });
}
