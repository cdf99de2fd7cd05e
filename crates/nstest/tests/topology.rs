//! The A — R — B topology does what it says: A reaches B through R on both
//! families, masquerade shows B R's address, and nothing is left after drop.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;

use nstest::topology::{Node, Options, Topology, A_V4, A_V6, B_V4, B_V6, R_B_V4, R_B_V6};

/// Connect from A to a listener in B at `b`; the address B sees A at.
fn peer_seen_by_b(topology: &Topology, b: IpAddr) -> IpAddr {
    let listener = topology.run(Node::B, || nstest::listen_dual(0));
    let to = SocketAddr::new(b, listener.local_addr().unwrap().port());
    let mut client = topology.run(Node::A, || TcpStream::connect(to).unwrap());
    let (mut server, peer) = listener.accept().unwrap();
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    // A dual-stack listener shows IPv4 peers as ::ffff:a.b.c.d.
    match peer.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn netns_names() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_reaches_b_through_r_on_both_families_and_b_sees_a() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    assert_eq!(
        peer_seen_by_b(&topology, IpAddr::V4(B_V4)),
        IpAddr::V4(A_V4)
    );
    assert_eq!(
        peer_seen_by_b(&topology, IpAddr::V6(B_V6)),
        IpAddr::V6(A_V6)
    );
    // R forwards: it is not an endpoint, so it has no socket for either.
    let r_sockets = topology.run(Node::R, || nstest::ss(&["-tanH"]));
    assert_eq!(r_sockets.trim(), "", "R holds no TCP sockets");
}

#[test]
fn with_masquerade_b_sees_r_instead_of_a() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::MASQUERADE);
    assert_eq!(
        peer_seen_by_b(&topology, IpAddr::V4(B_V4)),
        IpAddr::V4(R_B_V4)
    );
    assert_eq!(
        peer_seen_by_b(&topology, IpAddr::V6(B_V6)),
        IpAddr::V6(R_B_V6)
    );
}

#[test]
fn dropping_the_topology_deletes_its_namespaces() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::TRACKED);
    let names: Vec<String> = [Node::A, Node::R, Node::B]
        .iter()
        .map(|&n| topology.netns(n).name().to_string())
        .collect();
    let before = netns_names();
    for name in &names {
        assert!(before.contains(name.as_str()), "{name} in {before}");
    }
    drop(topology);
    let after = netns_names();
    for name in &names {
        assert!(!after.contains(name.as_str()), "{name} still in {after}");
    }
}
