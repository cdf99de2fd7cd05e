//! `tcpdrop::forwarded` in R of an A — R — B topology (`nstest::topology`):
//! connections from A to B, reset from R at both ends, checked from the
//! ends' own sockets.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use nstest::read_errno;
use nstest::topology::{Newcomer, Node, Options, Reconnecting, Tap, Topology, B_V4, B_V6};
use tcpdrop::forwarded::{
    EntryOutcome, Forwarded, ForwardedFlow, ForwardedOutcome, Side, SENDING_BOUND,
};
use tcpdrop::{DropReport, Query, Selection};

const ECONNRESET: i32 = 104;

/// A connection from A to a listener in B, with data exchanged both ways.
pub struct Through {
    pub client: TcpStream,
    pub server: TcpStream,
    pub _listener: TcpListener,
    /// A's end as A sees it.
    pub a_end: SocketAddr,
    /// B's end as A dialled it.
    pub b_end: SocketAddr,
}

pub fn connect_through(topology: &Topology, b_addr: IpAddr) -> Through {
    let listener = topology.run(Node::B, || {
        TcpListener::bind(SocketAddr::new(b_addr, 0)).expect("bind in B")
    });
    let b_end = listener.local_addr().unwrap();
    let client = topology.run(Node::A, || {
        TcpStream::connect(b_end).expect("connect from A")
    });
    let (server, _) = listener.accept().unwrap();
    let mut t = Through {
        a_end: client.local_addr().unwrap(),
        client,
        server,
        _listener: listener,
        b_end,
    };
    assert!(exchange(&mut t), "a fresh connection carries data");
    t
}

/// Whether one byte each way still gets through, within two seconds.
pub fn exchange(t: &mut Through) -> bool {
    let timeout = Some(Duration::from_secs(2));
    t.client.set_read_timeout(timeout).unwrap();
    t.server.set_read_timeout(timeout).unwrap();
    let mut byte = [0u8; 1];
    t.client.write_all(b"a").is_ok()
        && t.server.read_exact(&mut byte).is_ok()
        && t.server.write_all(b"b").is_ok()
        && t.client.read_exact(&mut byte).is_ok()
}

/// Each flow's two ends as its originator sees them: the selection that
/// names it ([`Forwarded::find`] finds its conntrack entry again, or takes
/// the ends as named).
fn named(flows: &[ForwardedFlow]) -> Selection {
    Selection::tuples(
        flows
            .iter()
            .map(|f| (f.originator.addr, f.originator.peer))
            .collect(),
    )
}

/// Drop `flows` from R; the outcomes in order.
fn drop_in_r(topology: &Topology, flows: Vec<ForwardedFlow>) -> Vec<ForwardedOutcome> {
    topology.run(Node::R, move || {
        let mut fw = Forwarded::new().unwrap();
        let mut report = DropReport::<Forwarded>::default();
        fw.drop(named(&flows), &mut report).unwrap();
        report.results.into_iter().map(|(_, o)| o).collect()
    })
}

/// What R's connection tracking shows it forwarding.
fn listed_in_r(topology: &Topology) -> Vec<ForwardedFlow> {
    topology.run(Node::R, || {
        let mut flows = Vec::new();
        Forwarded::new()
            .unwrap()
            .list(Selection::all(Query::all()), |flow| {
                flows.push(flow);
                ControlFlow::Continue(())
            })
            .unwrap();
        flows
    })
}

fn both_ends_reset(t: &mut Through) {
    assert_eq!(read_errno(&mut t.client), Some(ECONNRESET), "A");
    assert_eq!(read_errno(&mut t.server), Some(ECONNRESET), "B");
}

fn idle_connection_is_reset_at_both_ends(b: IpAddr) {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let mut t = connect_through(&topology, b);
    let mut other = connect_through(&topology, b);
    let (a_end, b_end) = (t.a_end, t.b_end);
    let start = Instant::now();
    let outcomes = drop_in_r(&topology, vec![ForwardedFlow::between(a_end, b_end)]);
    eprintln!(
        "forwarded: one idle connection reset in {:?}",
        start.elapsed()
    );
    assert_eq!(
        outcomes,
        [ForwardedOutcome::Dropped {
            entry: EntryOutcome::None
        }]
    );
    both_ends_reset(&mut t);
    assert!(exchange(&mut other), "the other connection through R lives");
}

#[test]
fn an_idle_ipv4_connection_through_r_is_reset_at_both_ends() {
    idle_connection_is_reset_at_both_ends(IpAddr::V4(B_V4));
}

#[test]
fn an_idle_ipv6_connection_through_r_is_reset_at_both_ends() {
    idle_connection_is_reset_at_both_ends(IpAddr::V6(B_V6));
}

#[test]
fn a_connection_named_responder_first_is_reset_too() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let mut t = connect_through(&topology, IpAddr::V4(B_V4));
    let outcomes = drop_in_r(&topology, vec![ForwardedFlow::between(t.b_end, t.a_end)]);
    assert!(
        matches!(outcomes[..], [ForwardedOutcome::Dropped { .. }]),
        "{outcomes:?}"
    );
    both_ends_reset(&mut t);
}

#[test]
fn a_busy_connection_through_r_is_reset_at_both_ends() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let t = connect_through(&topology, IpAddr::V4(B_V4));
    let (a_end, b_end) = (t.a_end, t.b_end);
    let Through {
        mut client,
        mut server,
        ..
    } = t;
    // A streams to B and B to A until reset.
    // 16 KiB every 200 us each way, some 80 MB/s: sequence numbers move
    // between probe and RST, without taking the CPUs from the tests that
    // run beside this one (the command's test streams at line rate).
    let writer = |mut s: TcpStream| {
        std::thread::spawn(move || {
            let chunk = [7u8; 16 * 1024];
            loop {
                if let Err(err) = s.write_all(&chunk) {
                    return err.kind();
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let reader = |mut s: TcpStream| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => return ErrorKind::UnexpectedEof,
                    Ok(_) => {}
                    Err(err) => return err.kind(),
                }
            }
        })
    };
    let a = (
        writer(client.try_clone().unwrap()),
        reader(client.try_clone().unwrap()),
    );
    let b = (
        writer(server.try_clone().unwrap()),
        reader(server.try_clone().unwrap()),
    );
    std::thread::sleep(Duration::from_millis(200));
    let outcomes = drop_in_r(&topology, vec![ForwardedFlow::between(a_end, b_end)]);
    assert!(
        matches!(outcomes[..], [ForwardedOutcome::Dropped { .. }]),
        "{outcomes:?}"
    );
    for (end, (w, r)) in [("A", a), ("B", b)] {
        let (w, r) = (w.join().unwrap(), r.join().unwrap());
        // The reset's error goes to whichever call meets it first; the
        // other sees the stream's end (EPIPE, EOF).
        assert!(
            w == ErrorKind::ConnectionReset || r == ErrorKind::ConnectionReset,
            "{end}: writes {w:?}, reads {r:?}"
        );
    }
    let _ = (client.flush(), server.flush());
}

#[test]
fn no_such_connection_is_reported_and_the_real_one_is_untouched() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let mut t = connect_through(&topology, IpAddr::V4(B_V4));
    // A port on A that holds no connection, to B's listening port.
    let mut wrong = t.a_end;
    wrong.set_port(if t.a_end.port() == 65535 {
        1024
    } else {
        t.a_end.port() + 1
    });
    let outcomes = drop_in_r(&topology, vec![ForwardedFlow::between(wrong, t.b_end)]);
    assert!(
        matches!(
            outcomes[..],
            [ForwardedOutcome::NoSuchConnection {
                side: Side::Originator | Side::Responder
            }]
        ),
        "{outcomes:?}"
    );
    assert!(exchange(&mut t), "the real connection lives");
}

#[test]
fn under_masquerade_both_ends_are_reset_and_the_entry_removed() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::MASQUERADE);
    let mut t = connect_through(&topology, IpAddr::V4(B_V4));
    let (a_end, b_end) = (t.a_end, t.b_end);
    let flows = listed_in_r(&topology);
    let flow = flows
        .into_iter()
        .find(|f| f.originator.addr == a_end && f.originator.peer == b_end)
        .expect("conntrack lists the connection");
    assert!(flow.translated(), "{flow:?}");
    let outcomes = drop_in_r(&topology, vec![flow]);
    assert_eq!(
        outcomes,
        [ForwardedOutcome::Dropped {
            entry: EntryOutcome::Removed
        }]
    );
    both_ends_reset(&mut t);
    let left = listed_in_r(&topology);
    assert!(
        !left.iter().any(|f| f.originator.addr == a_end),
        "the entry is gone: {left:?}"
    );
}

#[test]
fn an_idle_connection_is_reset_after_r_has_forgotten_its_neighbours() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let mut v4 = connect_through(&topology, IpAddr::V4(B_V4));
    let mut v6 = connect_through(&topology, IpAddr::V6(B_V6));
    // As the neighbour table's garbage collector does to idle hosts.
    for family in ["-4", "-6"] {
        let out = topology.exec(Node::R, "ip", &[family, "neigh", "flush", "all"]);
        assert!(out.status.success(), "{out:?}");
    }
    let flows = vec![
        ForwardedFlow::between(v4.a_end, v4.b_end),
        ForwardedFlow::between(v6.a_end, v6.b_end),
    ];
    let outcomes = drop_in_r(&topology, flows);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ForwardedOutcome::Dropped { .. })),
        "{outcomes:?}"
    );
    both_ends_reset(&mut v4);
    both_ends_reset(&mut v6);
}

/// How long past the bound on sending a drop call may take: route and
/// conntrack look-ups, opening the sockets, a loaded machine.
const MARGIN: Duration = Duration::from_millis(500);

/// Issue 16: an end host whose firewall drops conntrack-INVALID segments
/// (`ct state invalid drop`) drops the out-of-window probe or the
/// confirming one, so it never answers it; each client in A, once reset,
/// reconnects at once from the same port, and the newcomer carries data
/// all along. No RST reaches a newcomer, no end is called reset that was
/// not, and the run ends within the bound. Several connections, since
/// whether the firewalled end answers the first probe depends on where
/// its random sequence number falls (about one in two); before the fix
/// those that did were sent RSTs for 5 s, the newcomer's numbers among
/// them.
fn under_a_firewall_that_drops_invalid_segments(firewalled: Node) {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    topology.drop_invalid(firewalled);
    let conns: Vec<Through> = (0..4)
        .map(|_| connect_through(&topology, IpAddr::V4(B_V4)))
        .collect();
    let clients: Vec<Reconnecting> = conns
        .iter()
        .map(|t| {
            Reconnecting::start(
                &topology,
                t.client.try_clone().unwrap(),
                &t._listener,
                t.b_end,
                SENDING_BOUND + MARGIN,
            )
        })
        .collect();
    let flows = conns
        .iter()
        .map(|t| ForwardedFlow::between(t.a_end, t.b_end))
        .collect();
    let start = Instant::now();
    let outcomes = drop_in_r(&topology, flows);
    let took = start.elapsed();
    eprintln!("firewall on {firewalled:?}: {took:?}: {outcomes:#?}");
    // What a newcomer meets after the run, too.
    std::thread::sleep(Duration::from_millis(300));
    let newcomers: Vec<Option<Newcomer>> = clients.into_iter().map(Reconnecting::finish).collect();
    let mut reconnected = 0;
    for (i, ((outcome, newcomer), t)) in outcomes.iter().zip(newcomers).zip(conns).enumerate() {
        let claims = |side: Side| match outcome {
            ForwardedOutcome::Dropped { .. } => true,
            ForwardedOutcome::OneEnd { reset, .. } => *reset == side,
            _ => false,
        };
        // Every end the report calls reset was: A's client saw its
        // connection fail, B's old socket reads ECONNRESET.
        if claims(Side::Originator) {
            assert!(newcomer.is_some(), "flow {i}: A reset, said {outcome:?}");
        }
        let mut server = t.server;
        if claims(Side::Responder) {
            assert_eq!(
                read_errno(&mut server),
                Some(ECONNRESET),
                "flow {i}: B reset, said {outcome:?}"
            );
        }
        // The firewalled end's host drops the confirming probe (out of
        // window, and the connection closed there once reset), so it
        // cannot have confirmed; A's may let it pass once a newcomer holds
        // the tuple there, and then A answers with an RST: its old end is
        // gone, and saying so is true.
        if firewalled == Node::B {
            assert!(
                !claims(Side::Responder),
                "flow {i}: B said reset: {outcome:?}"
            );
        } else {
            assert!(
                claims(Side::Responder),
                "flow {i}: B not reset: {outcome:?}"
            );
        }
        let Some(mut n) = newcomer else {
            continue;
        };
        reconnected += 1;
        assert!(
            n.failed.is_none(),
            "flow {i}: the newcomer on the reused tuple was hit ({} exchanges, reconnected \
             after {:?}): {}",
            n.exchanges,
            n.reconnected_after,
            n.failed.unwrap_or_default()
        );
        assert!(
            nstest::carries_data(&mut n.client, &mut n.server),
            "flow {i}: the newcomer lives after the run"
        );
    }
    if firewalled == Node::B {
        assert_eq!(
            reconnected, 4,
            "every client in A was reset and reconnected"
        );
    }
    assert!(
        took <= SENDING_BOUND + MARGIN,
        "the run took {took:?}: past the bound of {SENDING_BOUND:?} on sending"
    );
}

#[test]
fn a_firewall_on_b_that_drops_the_probe_leaves_the_newcomer_alone_and_b_unclaimed() {
    under_a_firewall_that_drops_invalid_segments(Node::B);
}

#[test]
fn a_firewall_on_a_that_drops_the_probe_leaves_the_newcomer_alone_and_claims_only_ends_reset() {
    under_a_firewall_that_drops_invalid_segments(Node::A);
}

/// Issue 16: R's own connection (to B) named for `--forwarded`, alone or
/// with a forwarded one, is refused before anything is sent: B sees no
/// segment, both connections carry data after.
#[test]
fn the_routers_own_connection_is_refused_before_anything_is_sent() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let mut forwarded = connect_through(&topology, IpAddr::V4(B_V4));
    let listener = topology.run(Node::B, || TcpListener::bind((B_V4, 0)).unwrap());
    let b_end = listener.local_addr().unwrap();
    let mut own_client = topology.run(Node::R, || TcpStream::connect(b_end).unwrap());
    let (mut own_server, r_end) = listener.accept().unwrap();
    assert!(nstest::carries_data(&mut own_client, &mut own_server));
    let tap = Tap::open(&topology, Node::B);
    for flows in [
        vec![ForwardedFlow::between(r_end, b_end)],
        vec![ForwardedFlow::between(b_end, r_end)],
        vec![
            ForwardedFlow::between(forwarded.a_end, forwarded.b_end),
            ForwardedFlow::between(r_end, b_end),
        ],
    ] {
        let result = topology.run(Node::R, move || {
            let mut report = DropReport::<Forwarded>::default();
            let result = Forwarded::new().unwrap().drop(named(&flows), &mut report);
            assert!(report.results.is_empty(), "nothing is dropped: {report:?}");
            result
        });
        match result {
            Err(tcpdrop::Error::InvalidArgument(why)) => assert!(
                why.contains(&r_end.to_string()) && why.contains("without --forwarded"),
                "{why}"
            ),
            other => panic!("refused: {other:?}"),
        }
    }
    for port in [b_end.port(), forwarded.b_end.port()] {
        assert_eq!(
            tap.segments(port),
            Vec::<u8>::new(),
            "B saw nothing on port {port}"
        );
    }
    assert!(nstest::carries_data(&mut own_client, &mut own_server));
    assert!(exchange(&mut forwarded), "the forwarded connection lives");
}
