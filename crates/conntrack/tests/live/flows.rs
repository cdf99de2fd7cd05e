//! Listing and deleting R's conntrack entries for connections A -> B.

use std::net::{IpAddr, SocketAddr, TcpStream};

use conntrack::{Client, Error, Family, Flow, TcpState, Tracking, Tuple};
use nstest::topology::{Node, Options, Topology, A_V4, A_V6, B_V4, B_V6, R_A_V4, R_B_V4, R_B_V6};

use crate::{connect_through, exchange};

/// R's TCP entries, both families.
fn r_flows(topology: &Topology) -> Vec<Flow> {
    topology.run(Node::R, || {
        Client::new()
            .and_then(|mut c| c.tcp_flows(None))
            .expect("dump R's conntrack table")
    })
}

fn with_orig(flows: &[Flow], orig: Tuple) -> Vec<Flow> {
    flows.iter().filter(|f| f.orig == orig).cloned().collect()
}

fn check_listed(b: IpAddr, a: IpAddr) {
    let topology = Topology::new(Options::TRACKED);
    let f = connect_through(&topology, b);
    assert_eq!(f.a_end.ip(), a);
    let flows = r_flows(&topology);
    let orig = Tuple::tcp(f.a_end, f.b_end);
    let found = with_orig(&flows, orig);
    assert_eq!(found.len(), 1, "one entry for {orig:?} in {flows:#?}");
    let flow = &found[0];
    assert_eq!(flow.family, Family::of(b));
    assert_eq!(
        flow.reply,
        Tuple::tcp(f.b_end, f.a_end),
        "no NAT: orig reversed"
    );
    assert_eq!(flow.tcp_state, Some(TcpState::Established));
    assert!(!flow.status.src_nat() && !flow.status.dst_nat(), "{flow:?}");
    assert_eq!((flow.zone, flow.mark), (0, 0));
    assert!(flow.timeout.is_some_and(|t| t > 0), "{flow:?}");
    assert_eq!(f.seen_by_b, f.a_end, "B sees A itself");
}

#[test]
fn a_forwarded_ipv4_connection_is_listed_with_both_tuples_and_established() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    check_listed(IpAddr::V4(B_V4), IpAddr::V4(A_V4));
}

#[test]
fn a_forwarded_ipv6_connection_is_listed_with_both_tuples_and_established() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    check_listed(IpAddr::V6(B_V6), IpAddr::V6(A_V6));
}

fn check_masquerade(b: IpAddr, r_toward_b: IpAddr) {
    let topology = Topology::new(Options::MASQUERADE);
    let f = connect_through(&topology, b);
    let flows = r_flows(&topology);
    let found = with_orig(&flows, Tuple::tcp(f.a_end, f.b_end));
    assert_eq!(found.len(), 1, "{flows:#?}");
    let flow = &found[0];
    // B answers R's address: the reply tuple is B -> R, not B -> A.
    assert_eq!(flow.reply.src_addr(), f.b_end);
    assert_eq!(flow.reply.dst, r_toward_b);
    assert_eq!(
        flow.reply.dst_addr(),
        f.seen_by_b,
        "what B sees as its peer"
    );
    assert!(flow.status.src_nat(), "{flow:?}");
    assert!(!flow.status.dst_nat(), "{flow:?}");
    assert_eq!(flow.tcp_state, Some(TcpState::Established));
}

#[test]
fn with_masquerade_the_ipv4_reply_tuple_shows_the_router() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    check_masquerade(IpAddr::V4(B_V4), IpAddr::V4(R_B_V4));
}

#[test]
fn with_masquerade_the_ipv6_reply_tuple_shows_the_router() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    check_masquerade(IpAddr::V6(B_V6), IpAddr::V6(R_B_V6));
}

#[test]
fn delete_by_tuple_and_id_removes_the_entry_and_a_second_delete_says_not_found() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::TRACKED);
    let mut f = connect_through(&topology, IpAddr::V4(B_V4));
    let mut other = connect_through(&topology, IpAddr::V6(B_V6));
    let orig = Tuple::tcp(f.a_end, f.b_end);
    let flow = with_orig(&r_flows(&topology), orig).pop().expect("listed");
    let (first, second) = topology.run(Node::R, || {
        let mut client = Client::new().unwrap();
        (client.delete(&flow.key()), client.delete(&flow.key()))
    });
    first.expect("the first delete succeeds");
    assert!(
        matches!(second, Err(Error::NotFound { stale: false })),
        "{second:?}"
    );
    let after = r_flows(&topology);
    assert!(with_orig(&after, orig).is_empty(), "gone: {after:#?}");
    let other_orig = Tuple::tcp(other.a_end, other.b_end);
    assert_eq!(with_orig(&after, other_orig).len(), 1, "the other stays");
    // The ends never hear of it: the connection itself lives on, and its
    // next packets make R track it again (conntrack picks up established
    // TCP mid-stream, nf_conntrack_tcp_loose), under a new id.
    assert!(
        exchange(&mut f),
        "deleting the entry does not reset the connection"
    );
    assert!(exchange(&mut other));
    // (Its id may well equal the old one: see the next test.)
    let again = with_orig(&r_flows(&topology), orig);
    assert_eq!(again.len(), 1, "tracked again after new traffic");
}

#[test]
fn a_delete_whose_id_does_not_match_is_refused_and_the_entry_stays() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    // The kernel compares CTA_ID after finding the tuple and answers
    // ENOENT on a mismatch. That keeps a delete from taking an entry it
    // did not list, but the id is no generation counter: it is a hash of
    // the entry's address and tuple (nf_ct_get_id), and an entry re-created
    // on the same tuple in the freed one's memory has the same id (seen on
    // 6.18 when the test above deleted and re-tracked a connection).
    let topology = Topology::new(Options::TRACKED);
    let f = connect_through(&topology, IpAddr::V4(B_V4));
    let orig = Tuple::tcp(f.a_end, f.b_end);
    let flow = with_orig(&r_flows(&topology), orig).pop().expect("listed");
    let other_id = conntrack::FlowKey {
        id: Some(flow.id.wrapping_add(1)),
        ..flow.key()
    };
    let refused = topology.run(Node::R, || Client::new().unwrap().delete(&other_id));
    assert!(
        matches!(refused, Err(Error::NotFound { stale: false })),
        "{refused:?}"
    );
    let still = with_orig(&r_flows(&topology), orig);
    assert_eq!(still.len(), 1, "the entry is untouched");
    assert_eq!(still[0].id, flow.id);
    topology.run(Node::R, || {
        Client::new().unwrap().delete(&flow.key()).unwrap()
    });
    assert!(with_orig(&r_flows(&topology), orig).is_empty());
}

#[test]
fn connections_that_do_not_pass_r_are_not_listed_and_rs_own_are() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::TRACKED);
    let forwarded = connect_through(&topology, IpAddr::V4(B_V4));
    // Inside B, over its loopback: R never sees a packet of it.
    let (local_client, local_server, local_orig) = topology.run(Node::B, || {
        let listener = nstest::listen("127.0.0.1:0");
        let (client, server) = nstest::connect(&listener);
        let orig = Tuple::tcp(client.local_addr().unwrap(), client.peer_addr().unwrap());
        (client, server, orig)
    });
    // From A to R itself: R is an end, not a router, for this one, and its
    // conntrack tracks it all the same (the hooks cover local traffic).
    let r_listener = topology.run(Node::R, || nstest::listen(&format!("{R_A_V4}:0")));
    let to_r = r_listener.local_addr().unwrap();
    let r_client = topology.run(Node::A, || TcpStream::connect(to_r).unwrap());
    let (_r_server, _) = r_listener.accept().unwrap();
    let flows = r_flows(&topology);
    assert_eq!(
        with_orig(&flows, Tuple::tcp(forwarded.a_end, forwarded.b_end)).len(),
        1
    );
    assert!(with_orig(&flows, local_orig).is_empty(), "{flows:#?}");
    assert!(
        flows.iter().all(|f| !f.orig.src.is_loopback()),
        "nothing of B's loopback: {flows:#?}"
    );
    let to_router = Tuple::tcp(r_client.local_addr().unwrap(), to_r);
    assert_eq!(
        with_orig(&flows, to_router).len(),
        1,
        "a connection ending at R is in R's table too; telling it from a \
         forwarded one takes R's own addresses: {flows:#?}"
    );
    drop((local_client, local_server));
}

#[test]
fn without_tracking_in_r_the_table_is_empty_and_the_probe_says_so() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let f = connect_through(&topology, IpAddr::V4(B_V4));
    let g = connect_through(&topology, IpAddr::V6(B_V6));
    let (flows, probes) = topology.run(Node::R, || {
        let mut client = Client::new().unwrap();
        let flows = client.tcp_flows(None).unwrap();
        let probes = [Family::Inet, Family::Inet6].map(|fam| client.probe_tracking(fam).unwrap());
        (flows, probes)
    });
    assert!(flows.is_empty(), "R forwards untracked: {flows:#?}");
    assert_eq!(probes, [Tracking::Inactive; 2]);
    assert!(
        Tracking::Inactive
            .to_string()
            .starts_with("connection tracking is not active for forwarded traffic"),
        "what a caller can tell its user"
    );
    // Attaching tracking is what the probe detects, and what the listing
    // then needs: new connections appear.
    topology.track_forwarded();
    let h = connect_through(&topology, IpAddr::V4(B_V4));
    let (flows, probes) = topology.run(Node::R, || {
        let mut client = Client::new().unwrap();
        let probes = [Family::Inet, Family::Inet6].map(|fam| client.probe_tracking(fam).unwrap());
        (client.tcp_flows(None).unwrap(), probes)
    });
    assert_eq!(probes, [Tracking::Active; 2]);
    assert_eq!(with_orig(&flows, Tuple::tcp(h.a_end, h.b_end)).len(), 1);
    // The probe cleans up after itself: no UDP entry of it is left.
    let udp_left = topology.run(Node::R, || {
        let mut client = Client::new().unwrap();
        let all: Vec<Flow> = client.dump(None).unwrap().map(Result::unwrap).collect();
        all.into_iter()
            .filter(|f| f.orig.protocol == conntrack::IPPROTO_UDP)
            .count()
    });
    assert_eq!(udp_left, 0);
    drop((f, g));
}

#[test]
fn listing_needs_cap_net_admin() {
    if !nstest::require_real_root("ip netns add, capset") {
        return;
    }
    let topology = Topology::new(Options::TRACKED);
    let _f = connect_through(&topology, IpAddr::V4(B_V4));
    let (dump, delete) = topology.run(Node::R, || {
        use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
        // This thread only: capset(2) changes the calling thread's sets.
        let mut sets = capabilities(None).unwrap();
        sets.effective.remove(CapabilitySet::NET_ADMIN);
        set_capabilities(None, sets).unwrap();
        let mut client = Client::new().expect("opening needs no privilege");
        let dump: Result<Vec<Flow>, Error> = client.tcp_flows(None);
        let key = conntrack::FlowKey {
            orig: Tuple::tcp(
                SocketAddr::new(IpAddr::V4(A_V4), 1),
                SocketAddr::new(IpAddr::V4(B_V4), 2),
            ),
            zone: 0,
            id: None,
        };
        (dump, client.delete(&key))
    });
    for result in [dump.map(|_| ()), delete] {
        match result {
            Err(err @ Error::PermissionDenied { .. }) => {
                assert_eq!(err.errno(), Some(libc::EPERM));
                assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
            }
            other => panic!("want PermissionDenied, got {other:?}"),
        }
    }
}

#[test]
fn a_dump_of_many_entries_spans_datagrams_lists_each_once_and_can_stop_early() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    // 600 UDP flows A -> B (one datagram each to a closed port: R tracks
    // each, B answers with ICMP) make a dump of several 32 KiB datagrams.
    let topology = Topology::new(Options::TRACKED);
    let ports: Vec<u16> = (20_000..20_600).collect();
    let from = topology.run(Node::A, || {
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        for &port in &ports {
            socket.send_to(b"x", (B_V4, port)).unwrap();
        }
        socket.local_addr().unwrap().port()
    });
    let (all, first_of_two) = topology.run(Node::R, || {
        let mut client = Client::new().unwrap();
        // Stop after one entry: dropping the dump must drain the rest,
        // or the next dump on this socket would fail (EBUSY).
        let first = client.dump(None).unwrap().next().unwrap().unwrap();
        let all: Vec<Flow> = client.dump(None).unwrap().map(Result::unwrap).collect();
        (all, first)
    });
    let mut seen: Vec<u16> = all
        .iter()
        .filter(|f| {
            f.orig.protocol == conntrack::IPPROTO_UDP
                && f.orig.src == IpAddr::V4(A_V4)
                && f.orig.sport == from
                && f.orig.dst == IpAddr::V4(B_V4)
        })
        .map(|f| f.orig.dport)
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, ports, "each flow listed exactly once");
    assert!(
        all.iter()
            .any(|f| (f.id, f.orig) == (first_of_two.id, first_of_two.orig)),
        "the early stop saw a real entry (timeouts tick on between dumps)"
    );
    // Each record is about 200 bytes: the reply spanned several datagrams.
    assert!(all.len() * 200 > 64 * 1024, "{} entries", all.len());
}

#[test]
fn get_finds_an_entry_by_either_tuple_and_none_for_no_entry() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::MASQUERADE);
    let f = connect_through(&topology, IpAddr::V4(B_V4));
    let orig = Tuple::tcp(f.a_end, f.b_end);
    let listed = with_orig(&r_flows(&topology), orig).pop().expect("listed");
    let (by_orig, by_reply, absent, wrong_zone) = topology.run(Node::R, || {
        let mut client = Client::new().unwrap();
        let absent = Tuple {
            sport: f.a_end.port().wrapping_add(1),
            ..orig
        };
        (
            client.get(&orig, 0).unwrap(),
            client.get(&listed.reply, 0).unwrap(),
            client.get(&absent, 0).unwrap(),
            client.get(&orig, 7).unwrap(),
        )
    });
    let by_orig = by_orig.expect("found by its original tuple");
    assert_eq!(
        (by_orig.id, by_orig.orig, by_orig.reply),
        (listed.id, orig, listed.reply)
    );
    let by_reply = by_reply.expect("found by its reply tuple (B -> R under masquerade)");
    assert_eq!(by_reply.id, listed.id);
    assert_eq!(absent, None);
    assert_eq!(wrong_zone, None, "zones are separate tables");
    // A delete finds the entry by the reply tuple too (same lookup), and
    // the id still has to match.
    let by_reply_key = conntrack::FlowKey {
        orig: listed.reply,
        zone: 0,
        id: Some(listed.id),
    };
    topology.run(Node::R, || {
        Client::new().unwrap().delete(&by_reply_key).unwrap()
    });
    assert!(with_orig(&r_flows(&topology), orig).is_empty());
}
