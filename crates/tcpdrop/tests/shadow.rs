//! Shadowed tuples (SPEC §5): two sockets on one 4-tuple, one of them bound
//! to a device, which every lookup by the tuple misses (see
//! `nstest::shadow` for how the kernel lets them be built, and why the
//! unbound one is found first). A drop that selects the bound one must
//! never call it gone: destroy and inject, which reach sockets by their
//! tuple, fail saying why and leave both sockets untouched; auto goes on to
//! owner, which names the socket itself (and bpf, which matches its cookie
//! in the kernel's own walk); and the other connection on the
//! tuple, the bystander, carries data afterwards, whatever happened.

use std::net::{SocketAddr, SocketAddrV6};

use nstest::shadow::{Shadow, DEVICE};
use nstest::{carries_data, hand_over, in_flight, in_netns, segments_in, OwnerChild};
use ssfilter::Filter;
use tcpdrop::{
    Connection, DropOptions, DropReport, Error, Method, Outcome, Query, Selection, Session,
};

const ECONNRESET: i32 = 104;
const EPIPE: i32 = 32;

/// Drop what `selection` chooses, by `method` (`None`: auto).
fn drop_by(
    selection: Selection<impl FnMut(&Connection) -> bool>,
    method: Option<Method>,
) -> DropReport {
    let mut report = DropReport::default();
    Session::new()
        .unwrap()
        .drop(selection, DropOptions { method }, &mut report)
        .expect("drop");
    report
}

/// The cookie of the socket on `shadow`'s tuple that is bound to the
/// device: the shadowed one.
fn bound_cookie(shadow: &Shadow) -> u64 {
    let (local, remote) = shadow.tuple();
    let rows = crate::listed(&mut Session::new().unwrap(), Selection::all(Query::all()));
    let on_tuple: Vec<_> = rows
        .iter()
        .filter(|c| c.has_tuple(&local, &remote))
        .collect();
    assert_eq!(on_tuple.len(), 2, "two sockets on the tuple: {rows:?}");
    on_tuple
        .iter()
        .find(|c| c.ifindex != 0)
        .map(|c| c.cookie)
        .expect("one of them bound to the device")
}

/// Whether a socket with this cookie is still in the kernel's tables.
fn still_there(cookie: u64) -> bool {
    let rows = crate::listed(&mut Session::new().unwrap(), Selection::all(Query::all()));
    rows.iter().any(|c| c.cookie == cookie)
}

/// How many segments each end of the bystander has received so far.
fn received(shadow: &Shadow) -> (u32, u32) {
    (segments_in(&shadow.client), segments_in(&shadow.server))
}

/// The bystander's counts once nothing is in flight any more (a delayed
/// ACK of the setup's data).
fn settled(shadow: &Shadow) -> (u32, u32) {
    let mut last = received(shadow);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = received(shadow);
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The report has exactly one result, for the socket with `cookie`.
fn only(report: &DropReport, cookie: u64) -> &Outcome {
    match &report.results[..] {
        [(conn, outcome)] if conn.cookie == cookie => outcome,
        _ => panic!("one result, for the shadowed socket: {report:?}"),
    }
}

fn is_shadowed(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Failed(Error::Shadowed))
}

/// Its holder saw the abort (owner's `tcp_disconnect`).
fn holder_saw_the_abort(child: OwnerChild) {
    let seen = child.read_outcome();
    assert!(
        matches!(seen, Some(ECONNRESET | EPIPE)),
        "the holder's read ended with {seen:?}"
    );
}

/// Only the shadowed socket, by its cookie, from a dump of everything.
fn by_cookie(cookie: u64) -> Selection<impl FnMut(&Connection) -> bool> {
    Selection::all(Query::all()).and(move |c| c.cookie == cookie)
}

#[test]
fn destroy_fails_on_a_shadowed_socket_and_never_calls_it_gone() {
    in_netns(|| {
        let (mut shadow, _bound) = Shadow::established(false);
        let cookie = bound_cookie(&shadow);
        let (local, remote) = shadow.tuple();
        let ports = format!("sport = :{} and dport = :{}", local.port(), remote.port());
        let program = format!("src {} and dport = :{}", local.ip(), remote.port());
        // Every way of selecting that dumps: everything, a filter of ports
        // (dumps pinned to the ports, looks by lookups) and one that runs
        // as bytecode.
        for form in ["all", "ports", "bytecode"] {
            let selection = match form {
                "all" => Selection::all(Query::all()),
                "ports" => Selection::matching(Query::all(), Filter::parse(&[&ports]).unwrap()),
                _ => Selection::matching(Query::all(), Filter::parse(&[&program]).unwrap()),
            }
            .and(move |c| c.cookie == cookie);
            let before = settled(&shadow);
            let report = drop_by(selection, Some(Method::Destroy));
            assert!(
                is_shadowed(only(&report, cookie)),
                "{form}: failed because it is shadowed: {report:?}"
            );
            assert!(report.collateral.is_empty(), "{form}: {report:?}");
            assert!(still_there(cookie), "{form}: the shadowed socket lives");
            assert_eq!(
                received(&shadow),
                before,
                "{form}: nothing reached the bystander"
            );
            assert!(
                carries_data(&mut shadow.client, &mut shadow.server),
                "{form}: the bystander carries data"
            );
        }
    });
}

#[test]
fn inject_sends_nothing_to_a_shadowed_socket() {
    in_netns(|| {
        let (mut shadow, _bound) = Shadow::established(false);
        let cookie = bound_cookie(&shadow);
        let before = settled(&shadow);
        let report = drop_by(by_cookie(cookie), Some(Method::Inject));
        assert!(is_shadowed(only(&report, cookie)), "{report:?}");
        // Not even a probe: it would have reached the bystander.
        assert_eq!(received(&shadow), before, "nothing reached the bystander");
        assert!(still_there(cookie));
        assert!(carries_data(&mut shadow.client, &mut shadow.server));
    });
}

#[test]
fn owner_drops_a_shadowed_socket() {
    in_netns(|| {
        let (mut shadow, bound) = Shadow::established(false);
        let cookie = bound_cookie(&shadow);
        let holder = hand_over(bound, "shadowed");
        let report = drop_by(by_cookie(cookie), Some(Method::Owner));
        assert!(
            matches!(only(&report, cookie), Outcome::Dropped(Method::Owner)),
            "{report:?}"
        );
        holder_saw_the_abort(holder);
        assert!(!still_there(cookie));
        // Its RST went to the bystander's server end (the lookup by tuple
        // again), with a sequence number behind that end's window: both
        // clients' initial sequence numbers come from the same hash of the
        // tuple plus a clock, the bound one's earlier. So it was dropped.
        assert!(carries_data(&mut shadow.client, &mut shadow.server));
    });
}

#[test]
fn owner_never_calls_a_shadowed_socket_whose_holder_it_cannot_find_gone() {
    in_netns(|| {
        let (mut shadow, bound) = Shadow::established(false);
        let cookie = bound_cookie(&shadow);
        // Open, but no process has a descriptor on it: it is in flight in a
        // unix socket's queue. The lookup by cookie that tells owner it is
        // gone misses it as destroy's does.
        let _queue = in_flight(bound);
        let report = drop_by(by_cookie(cookie), Some(Method::Owner));
        assert!(
            matches!(only(&report, cookie), Outcome::Failed(Error::NoHolder)),
            "{report:?}"
        );
        assert!(still_there(cookie));
        assert!(carries_data(&mut shadow.client, &mut shadow.server));
    });
}

#[test]
fn auto_drops_a_shadowed_socket_through_its_holder() {
    in_netns(|| {
        let (mut shadow, bound) = Shadow::established(false);
        let cookie = bound_cookie(&shadow);
        let holder = hand_over(bound, "shadowed");
        let report = drop_by(by_cookie(cookie), None);
        assert!(
            matches!(only(&report, cookie), Outcome::Dropped(Method::Owner)),
            "destroy cannot reach it, owner can: {report:?}"
        );
        holder_saw_the_abort(holder);
        assert!(!still_there(cookie));
        assert!(carries_data(&mut shadow.client, &mut shadow.server));
    });
}

#[test]
fn auto_fails_on_a_shadowed_time_wait_socket_and_sends_it_nothing() {
    in_netns(|| {
        let mut shadow = Shadow::time_wait(false);
        let cookie = bound_cookie(&shadow);
        let before = settled(&shadow);
        let report = drop_by(by_cookie(cookie), None);
        // Destroy found it shadowed; no process holds it; so inject, which
        // reaches sockets by their tuple like destroy, is not tried.
        match only(&report, cookie) {
            Outcome::Failed(Error::NoWay(tried)) => {
                let ways: Vec<_> = tried.iter().map(|(m, e)| (*m, e.to_string())).collect();
                assert!(
                    matches!(
                        &tried[..],
                        [
                            (Method::Destroy, Error::Shadowed),
                            (Method::Owner, Error::NoHolder),
                            (Method::Inject, Error::Shadowed),
                        ]
                    ),
                    "{ways:?}"
                );
            }
            other => panic!("no way could reach it: {other:?}"),
        }
        assert_eq!(received(&shadow), before, "nothing reached the bystander");
        assert!(still_there(cookie));
        assert!(carries_data(&mut shadow.client, &mut shadow.server));
    });
}

#[test]
fn a_scoped_ipv6_tuple_names_the_shadowed_socket() {
    in_netns(|| {
        let (mut shadow, bound) = Shadow::established(true);
        let cookie = bound_cookie(&shadow);
        let scope = Session::new().unwrap().interface_index(DEVICE).unwrap();
        let (local, remote) = shadow.tuple();
        let SocketAddr::V6(v6) = local else {
            panic!("an IPv6 tuple")
        };
        // The bound socket's tuple: the local end with the device as its
        // scope. The kernel's lookup, given that device, answers with the
        // unbound socket (an unbound socket matches any device).
        let scoped = SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, scope));
        let holder = hand_over(bound, "shadowed");
        let before = settled(&shadow);
        let report = drop_by(Selection::tuple(scoped, remote), Some(Method::Destroy));
        assert!(is_shadowed(only(&report, cookie)), "{report:?}");
        assert!(report.not_found.is_empty(), "{report:?}");
        assert_eq!(received(&shadow), before, "nothing reached the bystander");
        assert!(still_there(cookie));

        let report = drop_by(Selection::tuple(scoped, remote), None);
        assert!(
            matches!(only(&report, cookie), Outcome::Dropped(Method::Owner)),
            "{report:?}"
        );
        holder_saw_the_abort(holder);
        assert!(!still_there(cookie));
        assert!(carries_data(&mut shadow.client, &mut shadow.server));
    });
}

#[test]
fn bpf_drops_a_shadowed_socket_by_its_cookie_and_spares_the_bystander() {
    if !nstest::require_bpf() {
        return;
    }
    // The walk matches cookies, not tuples: it reaches the bound socket
    // itself.
    for ipv6 in [false, true] {
        in_netns(|| {
            let (mut shadow, _bound) = Shadow::established(ipv6);
            let cookie = bound_cookie(&shadow);
            let report = drop_by(by_cookie(cookie), Some(Method::Bpf));
            assert!(
                matches!(only(&report, cookie), Outcome::Dropped(Method::Bpf)),
                "ipv6 {ipv6}: {report:?}"
            );
            assert!(!still_there(cookie), "ipv6 {ipv6}");
            assert!(
                carries_data(&mut shadow.client, &mut shadow.server),
                "ipv6 {ipv6}: the bystander carries data"
            );
        });
    }
}
