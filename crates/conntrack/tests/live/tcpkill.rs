//! What dsniff's `tcpkill` does to connections a router forwards, run for
//! real in R: it resets only connections whose packets it sniffs while it
//! runs, so an idle connection outlives it untouched.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nstest::topology::{Node, Options, Topology, B_V4, R_TO_B};

use crate::{connect_through, exchange};

/// tcpkill running in R, and a thread reading its stderr (which must stay
/// open: a closed pipe would kill it with SIGPIPE at its next message).
struct Tcpkill {
    child: std::process::Child,
    stderr: std::thread::JoinHandle<String>,
}

/// Start `timeout SECONDS tcpkill -i R_TO_B port PORT` inside R and return
/// once it says it listens, so traffic sent afterwards is traffic it sees.
fn start_tcpkill(topology: &Topology, port: u16, seconds: u32) -> Tcpkill {
    let mut child = Command::new("ip")
        .args(["netns", "exec", topology.netns(Node::R).name()])
        .args(["timeout", &seconds.to_string(), "tcpkill", "-i", R_TO_B])
        .args(["port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tcpkill (Debian's dsniff) in R");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("tcpkill's first line");
    assert!(
        line.contains("listening on"),
        "tcpkill did not start: {line:?}"
    );
    let stderr = std::thread::spawn(move || {
        let mut rest = line;
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    Tcpkill { child, stderr }
}

/// Wait for tcpkill to end; what it said (stdout, then stderr), and the
/// resets it reports having sent, one line each on stderr
/// (`10.231.1.2:40188 > 10.231.2.2:5555: R 82903376:82903376(0) win 0`).
fn finish(tcpkill: Tcpkill) -> (String, Vec<String>) {
    let out = tcpkill.child.wait_with_output().expect("wait for tcpkill");
    let stderr = tcpkill.stderr.join().unwrap_or_default();
    let said = format!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
    let resets = said
        .lines()
        .filter(|l| l.contains(": R "))
        .map(str::to_string)
        .collect();
    (said, resets)
}

#[test]
fn tcpkill_leaves_an_idle_forwarded_connection_alive() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let mut f = connect_through(&topology, IpAddr::V4(B_V4));
    let tcpkill = start_tcpkill(&topology, f.b_end.port(), 3);
    // Nothing is sent for the whole run: tcpkill has nothing to answer.
    let (said, resets) = finish(tcpkill);
    assert!(said.contains("listening on"), "{said}");
    assert!(resets.is_empty(), "tcpkill sent no resets: {said}");
    assert!(
        exchange(&mut f),
        "after tcpkill's 3 s the idle connection still carries data both ways"
    );
    assert!(exchange(&mut f));
}

#[test]
fn tcpkill_resets_a_forwarded_connection_whose_traffic_it_sees() {
    if !nstest::require_real_root("ip netns add") {
        return;
    }
    let topology = Topology::new(Options::PLAIN);
    let mut f = connect_through(&topology, IpAddr::V4(B_V4));
    let tcpkill = start_tcpkill(&topology, f.b_end.port(), 3);
    // A sends a byte every 100 ms and B echoes it, until one of them fails.
    let timeout = Some(Duration::from_millis(500));
    f.client.set_read_timeout(timeout).unwrap();
    f.server.set_read_timeout(timeout).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut failure = None;
    let mut byte = [0u8; 1];
    while Instant::now() < deadline && failure.is_none() {
        let step = f
            .client
            .write_all(b"x")
            .and_then(|()| f.server.read_exact(&mut byte))
            .and_then(|()| f.server.write_all(b"y"))
            .and_then(|()| f.client.read_exact(&mut byte));
        match step {
            Ok(()) => std::thread::sleep(Duration::from_millis(100)),
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(err) => failure = Some(err),
        }
    }
    let (said, resets) = finish(tcpkill);
    let failure = failure.unwrap_or_else(|| {
        panic!("tcpkill did not reset the connection while data flowed; it said:\n{said}")
    });
    assert_eq!(
        failure.kind(),
        ErrorKind::ConnectionReset,
        "{failure}; tcpkill said:\n{said}"
    );
    assert!(
        !resets.is_empty(),
        "tcpkill reports the resets it sent: {said}"
    );
    // And the connection is dead for good.
    assert!(!exchange(&mut f));
}
