//! The crate against the real kernel, in a router namespace R between two
//! hosts A and B (`nstest::topology`): what R's conntrack table says about
//! connections it forwards, and what deleting an entry does. `tcpkill`
//! records what dsniff's tool does to forwarded connections, for the
//! README's comparison. `corpus` replays the `conntrack_reply` fuzz
//! corpus through the parser (one test binary for the crate).

// A panic is how a test fails, in its helpers as in its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod corpus;
mod flows;
mod tcpkill;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use nstest::topology::{Node, Topology};

/// A connection from A to a listener in B at `b_addr`, data exchanged both
/// ways, so that R has seen the whole handshake and traffic each way.
pub struct Forwarded {
    pub client: TcpStream,
    pub server: TcpStream,
    pub listener: TcpListener,
    /// A's end as A sees it.
    pub a_end: SocketAddr,
    /// B's end as A dialled it.
    pub b_end: SocketAddr,
    /// A's end as B sees it (R's address under masquerade).
    pub seen_by_b: SocketAddr,
}

pub fn connect_through(topology: &Topology, b_addr: IpAddr) -> Forwarded {
    let listener = topology.run(Node::B, || {
        TcpListener::bind(SocketAddr::new(b_addr, 0)).expect("bind in B")
    });
    let b_end = listener.local_addr().unwrap();
    let client = topology.run(Node::A, || {
        TcpStream::connect(b_end).expect("connect from A")
    });
    let (server, seen_by_b) = listener.accept().unwrap();
    let mut forwarded = Forwarded {
        a_end: client.local_addr().unwrap(),
        client,
        server,
        listener,
        b_end,
        seen_by_b,
    };
    assert!(exchange(&mut forwarded), "a fresh connection carries data");
    forwarded
}

/// Whether one byte each way still gets through, within two seconds.
pub fn exchange(f: &mut Forwarded) -> bool {
    let timeout = Some(Duration::from_secs(2));
    f.client.set_read_timeout(timeout).unwrap();
    f.server.set_read_timeout(timeout).unwrap();
    let mut byte = [0u8; 1];
    f.client.write_all(b"a").is_ok()
        && f.server.read_exact(&mut byte).is_ok()
        && byte == *b"a"
        && f.server.write_all(b"b").is_ok()
        && f.client.read_exact(&mut byte).is_ok()
        && byte == *b"b"
}
