//! The varied sockets the differential tests run filters against, and the
//! filters the kernel runs as bytecode on them. tcpdrop's listing tests
//! include this file too (`crates/tcpdrop/tests/listing.rs`), to check that
//! its narrowed dumps select what the filter does on the same population.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use nstest::{connect_from, listen, listen_dual, time_wait};

/// The sockets the filters run against; dropping it closes them.
pub(crate) struct Population {
    _listeners: Vec<TcpListener>,
    _streams: Vec<TcpStream>,
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("socket address")
}

/// IPv4 and IPv6 listeners on fixed ports (80 on two addresses, 443 on
/// 0.0.0.0, 8080 on ::1, 22 dual-stack, 1024 on fd00::1), connections of
/// every family to each, v4-mapped ones on the dual-stack listener, chosen
/// source ports (40000, 40001, 41000, 42000), a FIN-WAIT-2/CLOSE-WAIT pair
/// and TIME-WAIT sockets in both families.
pub(crate) fn populate() -> Population {
    for a in ["fd00::1/64", "fd00::2/64"] {
        nstest::add_address(a);
    }
    let l80a = listen("127.0.0.1:80");
    let l80b = listen("127.0.0.2:80");
    let l443 = listen("0.0.0.0:443");
    let l8080 = listen("[::1]:8080");
    let l22 = listen_dual(22);
    let l1024 = listen("[fd00::1]:1024");
    let mut streams = Vec::new();
    for (from, to, listener) in [
        ("127.0.0.1:40000", "127.0.0.1:80", &l80a),
        ("127.0.0.3:40001", "127.0.0.2:80", &l80b),
        ("127.1.2.3:0", "127.1.2.3:443", &l443),
        ("127.0.0.2:0", "127.0.0.1:443", &l443),
        ("[::1]:0", "[::1]:8080", &l8080),
        ("127.0.0.1:41000", "127.0.0.1:22", &l22),
        ("127.0.0.5:0", "127.0.0.5:22", &l22),
        ("[::1]:0", "[::1]:22", &l22),
        ("[fd00::2]:42000", "[fd00::1]:22", &l22),
        ("[fd00::2]:0", "[fd00::1]:1024", &l1024),
    ] {
        let (client, server) = connect_from(addr(from), addr(to), listener);
        streams.extend([client, server]);
    }
    // The client half-closes: it waits in FIN-WAIT-2, the server in CLOSE-WAIT.
    let (client, server) = connect_from(addr("127.0.0.4:0"), addr("127.0.0.1:80"), &l80a);
    client.shutdown(Shutdown::Write).expect("shutdown");
    streams.extend([client, server]);
    std::thread::sleep(Duration::from_millis(50));
    time_wait(&l80a);
    time_wait(&l8080);
    time_wait(&l22);
    Population {
        _listeners: vec![l80a, l80b, l443, l8080, l22, l1024],
        _streams: streams,
    }
}

/// Filters with every kind of term and their edges; the last ones hold
/// `state` conditions inside the expression.
pub(crate) const KERNEL_FILTERS: &[&str] = &[
    "sport = :80",
    "dport != :22",
    "dport = :0",
    "dport = *",
    "dport != *",
    "sport < :1024",
    "sport > :1024",
    "sport <= :443",
    "sport >= :8080",
    "sport > :65534",
    "sport < :1",
    "dport >= :40000 and dport <= :42000",
    "src 127.0.0.1",
    "src 127.0.0.1:80",
    "src 127.0.0.0/8",
    "src 127.1/16",
    "dst 127.0.0.0/8:80",
    "dst 127.0.0.5",
    "src 0.0.0.0/0",
    "not src 0.0.0.0/0",
    "src 0.0.0.0",
    "dst 0.0.0.0",
    "src [::1]",
    "src [::1]:8080",
    "dst [fd00::/16]",
    "src [::/0]",
    "not src [::/0]",
    "src [::ffff:127.0.0.1]",
    "dst [::ffff:127.0.0.0/104]",
    "src *:22",
    "dst *:443",
    "not dst 127.0.0.0/8",
    "sport = :22 or sport = :80",
    "( sport = :22 or sport = :80 ) and not dst 127.0.0.1",
    "not ( dport = :22 or src [::1] )",
    "src 127.0.0.0/8 dport = :22",
    "not not sport = :443",
    "sport = :80 or sport = :443 or sport = :22 or sport = :8080 or sport = :1024",
    "( src 127.0.0.1 or src [::1] ) and ( dport > :1023 or sport = :22 )",
    "state established sport = :22",
    "dport = :22 or ( src 127.0.0.0/8 and state established )",
    "not ( state time-wait or sport = :80 )",
    "sport = :1 or exclude listening",
];
