//! Three network namespaces in a row, A — R — B: a router R between two
//! hosts, for tests of connections that only pass through a host.
//!
//! ```text
//!  A (a-r) 10.231.1.2/24  fd00:1::2/64      B (b-r) 10.231.2.2/24  fd00:2::2/64
//!     |                                        |
//!  R (r-a) 10.231.1.1/24  fd00:1::1/64      R (r-b) 10.231.2.1/24  fd00:2::1/64
//! ```
//!
//! A and B route everything via R; R forwards IPv4 and IPv6. The addresses
//! are private (RFC 1918, RFC 4193 ULA) and live only inside the three
//! namespaces, which are deleted, links and all, when the [`Topology`] is
//! dropped. Options add connection tracking for forwarded traffic in R
//! (an nftables rule that needs it) and masquerade on R's link toward B.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::NamedNetns;

/// One of the three namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// The host on the left: clients usually run here.
    A,
    /// The router in the middle.
    R,
    /// The host on the right: servers usually run here.
    B,
}

/// A's address on the A—R link.
pub const A_V4: Ipv4Addr = Ipv4Addr::new(10, 231, 1, 2);
/// R's address on the A—R link.
pub const R_A_V4: Ipv4Addr = Ipv4Addr::new(10, 231, 1, 1);
/// R's address on the R—B link (what masquerade rewrites sources to).
pub const R_B_V4: Ipv4Addr = Ipv4Addr::new(10, 231, 2, 1);
/// B's address on the R—B link.
pub const B_V4: Ipv4Addr = Ipv4Addr::new(10, 231, 2, 2);
/// A's IPv6 address on the A—R link.
pub const A_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2);
/// R's IPv6 address on the A—R link.
pub const R_A_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1);
/// R's IPv6 address on the R—B link.
pub const R_B_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 1);
/// B's IPv6 address on the R—B link.
pub const B_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 2);

/// A's interface toward R.
pub const A_IF: &str = "a-r";
/// R's interface toward A.
pub const R_TO_A: &str = "r-a";
/// R's interface toward B.
pub const R_TO_B: &str = "r-b";
/// B's interface toward R.
pub const B_IF: &str = "b-r";

/// What R does besides forwarding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Track forwarded connections: an nftables forward-chain rule
    /// `ct state established,related accept` in R, which attaches
    /// connection tracking to R's packet path.
    pub track: bool,
    /// Masquerade what leaves R toward B (source NAT to R's address there);
    /// implies tracking, as NAT is done by conntrack.
    pub masquerade: bool,
}

impl Options {
    /// Forwarding only: R keeps no conntrack entries.
    pub const PLAIN: Options = Options {
        track: false,
        masquerade: false,
    };
    /// Forwarding with connection tracking in R.
    pub const TRACKED: Options = Options {
        track: true,
        masquerade: false,
    };
    /// Forwarding with connection tracking and masquerade toward B in R.
    pub const MASQUERADE: Options = Options {
        track: true,
        masquerade: true,
    };
}

/// Three fresh namespaces A — R — B, deleted when dropped.
pub struct Topology {
    a: NamedNetns,
    r: NamedNetns,
    b: NamedNetns,
}

impl Topology {
    /// Build the three namespaces and their links, set R to forward, wait
    /// until A reaches B over IPv4 and IPv6 (a TCP connect from A to a
    /// listener in B succeeds on both), then apply `options`.
    ///
    /// Needs real root (`ip netns add`) and, for the options, `nft`
    /// (Debian's `nftables`). Panics, naming the command, if a step fails.
    pub fn new(options: Options) -> Topology {
        let topology = Topology {
            a: NamedNetns::add(),
            r: NamedNetns::add(),
            b: NamedNetns::add(),
        };
        topology.wire();
        // Before any tracking, so the probe connections leave no entries.
        topology.wait_until_routed();
        if options.track || options.masquerade {
            topology.track_forwarded();
        }
        if options.masquerade {
            topology.masquerade();
        }
        topology
    }

    fn wire(&self) {
        let (a, r, b) = (self.a.name(), self.r.name(), self.b.name());
        // Links made after this skip duplicate address detection on their
        // link-local addresses too (`nodad` covers only ours), which
        // halves the wait until IPv6 forwards (2 s to 1 s on 6.18).
        for node in [Node::A, Node::R, Node::B] {
            self.sysctl(node, "net/ipv6/conf/all/accept_dad", "0");
            self.sysctl(node, "net/ipv6/conf/default/accept_dad", "0");
        }
        self.sysctl(Node::R, "net/ipv4/ip_forward", "1");
        self.sysctl(Node::R, "net/ipv6/conf/all/forwarding", "1");
        for (host, host_if, router_if) in [(a, A_IF, R_TO_A), (b, B_IF, R_TO_B)] {
            ip(&[
                "-n", r, "link", "add", router_if, "type", "veth", "peer", "name", host_if,
                "netns", host,
            ]);
        }
        let links = [
            (a, A_IF, A_V4, A_V6),
            (r, R_TO_A, R_A_V4, R_A_V6),
            (r, R_TO_B, R_B_V4, R_B_V6),
            (b, B_IF, B_V4, B_V6),
        ];
        for (ns, dev, v4, v6) in links {
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", dev]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            ip(&["-n", ns, "link", "set", "dev", dev, "up"]);
        }
        for (ns, gw4, gw6) in [(a, R_A_V4, R_A_V6), (b, R_B_V4, R_B_V6)] {
            ip(&["-n", ns, "route", "add", "default", "via", &gw4.to_string()]);
            ip(&[
                "-n",
                ns,
                "-6",
                "route",
                "add",
                "default",
                "via",
                &gw6.to_string(),
            ]);
        }
    }

    /// The namespace of `node`.
    pub fn netns(&self, node: Node) -> &NamedNetns {
        match node {
            Node::A => &self.a,
            Node::R => &self.r,
            Node::B => &self.b,
        }
    }

    /// Run `body` on a thread inside `node`'s namespace; sockets made there
    /// stay in it whichever thread uses them afterwards.
    pub fn run<T: Send>(&self, node: Node, body: impl FnOnce() -> T + Send) -> T {
        self.netns(node).run(body)
    }

    /// Run `body` on a new thread inside `node`'s namespace, in the
    /// background: for a peer that acts while the test does.
    pub fn spawn<T: Send + 'static>(
        &self,
        node: Node,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let path = format!("/run/netns/{}", self.netns(node).name());
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        std::thread::spawn(move || {
            // SAFETY: setns(2) on a namespace file we opened; it moves only
            // this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", io::Error::last_os_error());
            body()
        })
    }

    /// Run `program` with `args` inside `node` (`ip netns exec`) and wait
    /// for it; its output, whatever its exit status.
    pub fn exec(&self, node: Node, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", self.netns(node).name(), program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {program}: {e}"))
    }

    /// Write `value` to `/proc/sys/KEY` inside `node`.
    pub fn sysctl(&self, node: Node, key: &str, value: &str) {
        let out = self.exec(
            node,
            "sh",
            &["-c", &format!("echo {value} > /proc/sys/{key}")],
        );
        assert!(
            out.status.success(),
            "sysctl {key}={value} in {node:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Load the nftables `ruleset` into `node` (`nft -f -`).
    pub fn nft(&self, node: Node, ruleset: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", self.netns(node).name(), "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("ip netns exec nft: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(ruleset.as_bytes())
                .unwrap_or_else(|e| panic!("feed nft: {e}"));
        }
        let out = child.wait_with_output().expect("wait for nft");
        assert!(
            out.status.success(),
            "nft -f in {node:?} failed (is Debian's nftables installed?): {}\n{ruleset}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Attach connection tracking to R's forwarded traffic: a forward chain
    /// whose rule matches on `ct state`. Conntrack hooks into a namespace
    /// only when a rule there needs it (`nf_ct_netns_get`); before this, R
    /// forwards untracked and its conntrack table stays empty.
    pub fn track_forwarded(&self) {
        self.nft(
            Node::R,
            "table inet nstest_track {\n\
             \tchain forward {\n\
             \t\ttype filter hook forward priority filter; policy accept;\n\
             \t\tct state established,related accept\n\
             \t}\n\
             }\n",
        );
    }

    /// Masquerade what R forwards out toward B, IPv4 and IPv6: B then sees
    /// connections from A as coming from [`R_B_V4`] / [`R_B_V6`].
    pub fn masquerade(&self) {
        self.nft(
            Node::R,
            &format!(
                "table inet nstest_nat {{\n\
                 \tchain postrouting {{\n\
                 \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
                 \t\toifname \"{R_TO_B}\" masquerade\n\
                 \t}}\n\
                 }}\n"
            ),
        );
    }

    /// The firewall rule common on end hosts, in `node`: segments that
    /// connection tracking finds INVALID (out of the connection's window,
    /// as a forged probe usually is) are dropped on input.
    pub fn drop_invalid(&self, node: Node) {
        self.nft(
            node,
            "table inet nstest_invalid {\n\
             \tchain input {\n\
             \t\ttype filter hook input priority filter; policy accept;\n\
             \t\tct state invalid drop\n\
             \t}\n\
             }\n",
        );
    }

    /// Wait until a TCP connect from A reaches a listener in B over both
    /// families (routes, neighbours and forwarding all in place).
    fn wait_until_routed(&self) {
        let listener = self.run(Node::B, || crate::listen_dual(0));
        let port = listener.local_addr().expect("local_addr").port();
        for b in [IpAddr::V4(B_V4), IpAddr::V6(B_V6)] {
            let to = SocketAddr::new(b, port);
            let deadline = Instant::now() + Duration::from_secs(10);
            let connected = self.run(Node::A, || loop {
                // Short tries: a fresh SYN as soon as the path is there,
                // rather than waiting out a lost one's retransmission.
                match TcpStream::connect_timeout(&to, Duration::from_millis(100)) {
                    Ok(stream) => return Ok(stream),
                    Err(err) if Instant::now() >= deadline => return Err(err),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            });
            match connected {
                Ok(stream) => {
                    let (server, _) = listener.accept().expect("accept in B");
                    // Resets, not FINs: no TIME-WAIT left behind in A or B.
                    crate::abort_close(stream);
                    crate::abort_close(server);
                }
                Err(err) => panic!("A never reached {to} through R: {err}"),
            }
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run ip (iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A packet socket in one namespace that keeps every TCP segment it sees
/// (both directions, every interface) until asked: what reached a host.
pub struct Tap {
    fd: OwnedFd,
}

impl Tap {
    /// Open it inside `node` (`AF_PACKET`, `SOCK_DGRAM`, `ETH_P_ALL`).
    pub fn open(topology: &Topology, node: Node) -> Tap {
        topology.run(node, || {
            let all = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: socket(2) with constant arguments; the descriptor is
            // owned at once.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                    i32::from(all),
                )
            };
            assert!(fd >= 0, "packet socket: {}", io::Error::last_os_error());
            // SAFETY: a descriptor just made and owned by nothing else.
            Tap {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
            }
        })
    }

    /// The TCP flags of each segment seen so far, from or to `port`
    /// (each is seen once, in or out), taken from the socket's queue.
    pub fn segments(&self, port: u16) -> Vec<u8> {
        let mut flags = Vec::new();
        let mut buf = [0u8; 128];
        loop {
            // SAFETY: recv(2) into a buffer of the length given.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            let Ok(n) = usize::try_from(n) else {
                return flags;
            };
            let packet = &buf[..n.min(buf.len())];
            let tcp = match packet.first().map(|b| b >> 4) {
                Some(4) if packet.get(9) == Some(&6) => {
                    packet.get(usize::from(packet[0] & 0x0f) * 4..)
                }
                Some(6) if packet.get(6) == Some(&6) => packet.get(40..),
                _ => None,
            };
            let Some(tcp) = tcp.filter(|t| t.len() >= 14) else {
                continue;
            };
            let (sport, dport) = (
                u16::from_be_bytes([tcp[0], tcp[1]]),
                u16::from_be_bytes([tcp[2], tcp[3]]),
            );
            if sport == port || dport == port {
                flags.push(tcp[13]);
            }
        }
    }
}

/// A client in A that, once its connection fails (reset), at once
/// connects again from the same address and port to the same server, as a
/// client that retries does, and then keeps one byte going each way every
/// 20 ms on the new connection: the newcomer on the reused tuple.
pub struct Reconnecting {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Option<Newcomer>>,
}

/// What became of a [`Reconnecting`] client.
pub struct Newcomer {
    /// Its new connection's client end (in A) ...
    pub client: TcpStream,
    /// ... and server end (accepted in B).
    pub server: TcpStream,
    /// How long after the start it found the old connection failed.
    pub reconnected_after: Duration,
    /// Bytes exchanged each way on the new connection.
    pub exchanges: usize,
    /// The first exchange that failed, if one did: the newcomer was hit.
    pub failed: Option<String>,
}

impl Reconnecting {
    /// Watch `client` (an idle connection from A to `to`, accepted by
    /// `listener`) for up to `within`. The listener must be this client's
    /// alone: clients that reconnect at once to one listener would be
    /// handed each other's connections by `accept`.
    pub fn start(
        topology: &Topology,
        client: TcpStream,
        listener: &TcpListener,
        to: SocketAddr,
        within: Duration,
    ) -> Reconnecting {
        let stop = Arc::new(AtomicBool::new(false));
        let listener = listener.try_clone().expect("clone the listener");
        let stopped = Arc::clone(&stop);
        let thread = topology.spawn(Node::A, move || {
            let start = Instant::now();
            let from = client.local_addr().expect("local_addr");
            let mut client = client;
            client
                .set_read_timeout(Some(Duration::from_millis(10)))
                .expect("timeout");
            let mut byte = [0u8; 1];
            loop {
                match client.read(&mut byte) {
                    Ok(_) => return None,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        if start.elapsed() > within || stopped.load(Ordering::Relaxed) {
                            return None;
                        }
                    }
                    Err(_) => break,
                }
            }
            let reconnected_after = start.elapsed();
            drop(client);
            let (mut client, mut server) = crate::connect_from(from, to, &listener);
            for s in [&client, &server] {
                s.set_read_timeout(Some(Duration::from_secs(2)))
                    .expect("timeout");
            }
            let mut exchanges = 0;
            let mut failed = None;
            while !stopped.load(Ordering::Relaxed) {
                if crate::carries_data(&mut client, &mut server) {
                    exchanges += 1;
                } else {
                    failed = Some(format!(
                        "exchange {} on the new connection failed: client {}, server {}",
                        exchanges + 1,
                        io::Error::from_raw_os_error(crate::so_error(&client)),
                        io::Error::from_raw_os_error(crate::so_error(&server)),
                    ));
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(Newcomer {
                client,
                server,
                reconnected_after,
                exchanges,
                failed,
            })
        });
        Reconnecting { stop, thread }
    }

    /// Stop exchanging; the newcomer, if the old connection failed.
    pub fn finish(self) -> Option<Newcomer> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}
