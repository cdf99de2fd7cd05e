//! `tcpdrop-bench`: time tcpdrop against `ss` on the same work, at scale.
//!
//! In a fresh network namespace (so nothing outside is touched, and the
//! namespace vanishes with the process) it opens N established loopback
//! connections — clients on 127.0.1.1–4, servers on 127.0.0.1–2, ports
//! 5000–5099 — holds both ends, and watches every descriptor with epoll as
//! a server would. Then, for each N, it times side by side:
//!
//! | work | tcpdrop | ss |
//! |---|---|---|
//! | list all | `tcpdrop -l` | `ss -tan` |
//! | list 1 % | `tcpdrop -l dport = :5000` | `ss -tan dport = :5000` |
//! | list with owners | `tcpdrop -l -p` | `ss -tanp` |
//! | drop all clients | `tcpdrop dport >= :5000 and dport <= :5099` | `ss -K -tn` + the same |
//! | drop 1 % | `tcpdrop dport = :5000` | `ss -K -tn dport = :5000` |
//! | drop all clients, by one way | `tcpdrop --method destroy` (`bpf`, `owner`, `inject`) + the all-clients filter | `ss -K -tn` + the same |
//! | drop 1 %, bpf | `tcpdrop --method bpf dport = :5000` | `ss -K -tn dport = :5000` |
//! | drop one by tuple | `tcpdrop LADDR:LPORT RADDR:RPORT` | `ss -K -tn src LADDR:LPORT dst RADDR:RPORT` |
//! | `SetTcpEntry` ×100, `-f` 1,000 tuples | the C ABI's call in a loop; `tcpdrop -f` | — |
//!
//! Every drop is checked from the owners' side: each client socket the
//! filter selects must report `ECONNABORTED` (destroy) or `ECONNRESET`
//! (owner, inject), and no other may; no server end may be aborted. A
//! connection a tool should have dropped and did not is a miss. Between drop
//! runs the dropped connections are opened again, so every run starts from
//! the same population.
//!
//! CPU time is `wait4`'s, user and system apart; `--csv PATH` also writes
//! the medians as CSV, for `bench/plot`.
//!
//! Usage (as root): `tcpdrop-bench [--n 1000,10000,100000] [--reps 3]
//! [--only list,drop,methods,tuple] [--csv PATH] [--tcpdrop PATH] [--ss PATH]`;
//! `bench/run` builds and runs it.

// A benchmark that cannot set up its work stops there, loudly: it is run by
// hand, not shipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Server addresses (127.0.0.SERVER) and client addresses (127.0.1.CLIENT).
const SERVERS: u8 = 2;
const CLIENTS: u8 = 4;
/// Listeners on ports BASE_PORT.., one per port, spread over the servers:
/// a filter on one port selects 1 % of the connections.
const LISTENERS: u16 = 100;
const BASE_PORT: u16 = 5000;
/// No single run may take longer than this; a run that does is killed and
/// reported.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

struct Args {
    /// Only these groups of work: `list`, `drop`, `tuple` (all by default).
    only: Vec<String>,
    sizes: Vec<usize>,
    reps: usize,
    tcpdrop: String,
    ss: String,
    /// Where to write the medians as CSV, if anywhere.
    csv: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let beside = exe.with_file_name("tcpdrop");
    let mut args = Args {
        only: vec![
            "list".into(),
            "drop".into(),
            "tuple".into(),
            "methods".into(),
        ],
        sizes: vec![1_000, 10_000],
        reps: 3,
        tcpdrop: beside.display().to_string(),
        ss: "ss".into(),
        csv: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--n" => {
                args.sizes = value()?
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse::<usize>())
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("--n: {e}"))?
            }
            "--only" => args.only = value()?.split(',').map(String::from).collect(),
            "--reps" => args.reps = value()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--tcpdrop" => args.tcpdrop = value()?,
            "--ss" => args.ss = value()?,
            "--csv" => args.csv = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "tcpdrop-bench [--n 1000,10000,100000] [--reps 3] [--only list,drop,methods,tuple] [--csv PATH] [--tcpdrop PATH] [--ss PATH]\n\
                     Runs as root in a fresh network namespace of its own."
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument '{other}' (see --help)")),
        }
    }
    if args.reps == 0 || args.sizes.is_empty() {
        return Err("--reps and --n need at least one".into());
    }
    Ok(args)
}

fn check(rc: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if rc < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("{what}: {err}")));
    }
    Ok(rc)
}

/// Raise the soft descriptor limit to the hard one and return it. Raising
/// the hard limit needs CAP_SYS_RESOURCE, which containers often lack, so
/// the connections are spread over worker processes instead.
fn raise_nofile() -> io::Result<usize> {
    // SAFETY: rlimit is plain old data, filled by getrlimit.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit/setrlimit with a valid rlimit value.
    unsafe {
        check(
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit),
            "getrlimit",
        )?;
        // As root, lift the hard limit to the kernel's maximum (fewer
        // worker processes at a million connections); else keep it.
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<libc::rlim_t>().ok());
        if let Some(max) = nr_open.filter(|&m| m > limit.rlim_max) {
            let lifted = libc::rlimit {
                rlim_cur: max,
                rlim_max: max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lifted) == 0 {
                limit = lifted;
            }
        }
        limit.rlim_cur = limit.rlim_max;
        check(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), "setrlimit")?;
    }
    Ok(usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

/// Leave for a fresh network namespace with `lo` up and a deep accept
/// queue. Only the calling thread moves, so this runs first, before any
/// other thread exists; children inherit it.
fn enter_fresh_netns() -> io::Result<()> {
    // SAFETY: unshare(CLONE_NEWNET) only changes this thread's namespace.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    check(rc, "unshare(CLONE_NEWNET) (run as root)")?;
    // SAFETY: a datagram socket used only for the ioctls below; ifreq is
    // plain old data and the flags member is the one SIOC[GS]IFFLAGS use.
    unsafe {
        let fd = check(
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0),
            "socket",
        )?;
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        check(
            libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req),
            "SIOCGIFFLAGS lo",
        )?;
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        check(libc::ioctl(fd, libc::SIOCSIFFLAGS, &req), "SIOCSIFFLAGS lo")?;
        libc::close(fd);
    }
    // Per-namespace knobs, opened from inside the namespace.
    std::fs::write("/proc/sys/net/core/somaxconn", "65535")?;
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "10000 65000")?;
    Ok(())
}

fn sockaddr(a: u8, b: u8, c: u8, d: u8, port: u16) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_port = port.to_be();
    sin.sin_addr.s_addr = u32::from_ne_bytes([a, b, c, d]);
    sin
}

const SIN_LEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

/// One established connection: both descriptors.
#[derive(Clone, Copy)]
struct Conn {
    client: RawFd,
    server: RawFd,
}

/// The address of listener `k`: the ports are spread over the servers.
fn listener_addr(k: u16) -> libc::sockaddr_in {
    sockaddr(127, 0, 0, 1 + (k % u16::from(SERVERS)) as u8, BASE_PORT + k)
}

/// The listener connection `i` goes to: round robin over the ports, so one
/// port holds 1 % of the connections.
fn listener_of(i: usize) -> u16 {
    (i % usize::from(LISTENERS)) as u16
}

/// Open the listeners (in the coordinator; the workers inherit them).
fn open_listeners() -> io::Result<Vec<RawFd>> {
    (0..LISTENERS)
        .map(|k| {
            let addr = listener_addr(k);
            // SAFETY: plain socket calls on a descriptor we own, with a
            // sockaddr_in of the length given.
            unsafe {
                let fd = check(
                    libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0),
                    "socket",
                )?;
                check(
                    libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), SIN_LEN),
                    "bind listener",
                )?;
                check(libc::listen(fd, 65535), "listen")?;
                Ok(fd)
            }
        })
        .collect()
}

/// A worker's share of the population: connections `first..first + cap`,
/// both ends held and watched with epoll, as servers and clients would.
struct Share {
    listeners: Vec<RawFd>,
    first: usize,
    cap: usize,
    conns: Vec<Conn>,
    epoll: RawFd,
}

impl Share {
    fn new(listeners: Vec<RawFd>, first: usize, cap: usize) -> io::Result<Share> {
        // SAFETY: epoll_create1 with a valid flag.
        let epoll = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }, "epoll")?;
        Ok(Share {
            listeners,
            first,
            cap,
            conns: Vec::new(),
            epoll,
        })
    }

    /// Open connection `i` and watch both ends.
    fn open(&self, i: usize) -> io::Result<Conn> {
        let k = listener_of(i);
        let to = listener_addr(k);
        let c = 1 + ((i / usize::from(LISTENERS)) % usize::from(CLIENTS)) as u8;
        let from = sockaddr(127, 0, 1, c, 0);
        let one: libc::c_int = 1;
        // SAFETY: plain socket calls on descriptors we own, with sockaddr
        // and option buffers of the lengths given.
        unsafe {
            let client = check(
                libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0),
                "socket",
            )?;
            // Pick the port at connect time, by the whole 4-tuple, so the
            // ports of one client address serve every server port.
            check(
                libc::setsockopt(
                    client,
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                ),
                "IP_BIND_ADDRESS_NO_PORT",
            )?;
            check(
                libc::bind(client, (&from as *const libc::sockaddr_in).cast(), SIN_LEN),
                "bind client",
            )?;
            check(
                libc::connect(client, (&to as *const libc::sockaddr_in).cast(), SIN_LEN),
                "connect",
            )?;
            // On loopback the handshake completes inside connect(), and only
            // one process opens connections at a time, so the connection
            // waits in the listener's queue, alone.
            let server = check(
                libc::accept4(
                    self.listeners[usize::from(k)],
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_CLOEXEC,
                ),
                "accept",
            )?;
            for fd in [client, server] {
                let mut event = libc::epoll_event {
                    events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
                    u64: fd as u64,
                };
                check(
                    libc::epoll_ctl(self.epoll, libc::EPOLL_CTL_ADD, fd, &mut event),
                    "epoll_ctl",
                )?;
            }
            Ok(Conn { client, server })
        }
    }

    /// Open this share's connections up to global index `end`.
    fn grow(&mut self, end: usize) -> io::Result<usize> {
        let end = end.min(self.first + self.cap);
        while self.first + self.conns.len() < end {
            let conn = self.open(self.first + self.conns.len())?;
            self.conns.push(conn);
        }
        Ok(self.conns.len())
    }

    /// Check a drop from the owners' side: (selected but alive, aborted but
    /// not selected). Then open again every aborted connection, so the next
    /// run starts from the same population.
    fn check(&mut self, selected: &Selected) -> io::Result<(usize, usize)> {
        self.drain_events();
        let (mut missed, mut extra) = (0, 0);
        let mut reopen = Vec::new();
        for (j, conn) in self.conns.iter().enumerate() {
            let i = self.first + j;
            // ECONNABORTED after a destroy; ECONNRESET (or EPIPE) after
            // owner's connect(AF_UNSPEC) or an injected reset.
            let aborted = matches!(
                so_error(conn.client),
                libc::ECONNABORTED | libc::ECONNRESET | libc::EPIPE
            );
            match (selected.contains(i), aborted) {
                (true, false) => missed += 1,
                (false, true) => extra += 1,
                _ => {}
            }
            // The filters select clients only: an aborted server end (not
            // merely reset by its peer) would be a tool's mistake too.
            if so_error(conn.server) == libc::ECONNABORTED {
                extra += 1;
            }
            if aborted {
                reopen.push(j);
            }
        }
        for j in reopen {
            let Conn { client, server } = self.conns[j];
            abort_close(client);
            abort_close(server);
            self.conns[j] = self.open(self.first + j)?;
        }
        Ok((missed, extra))
    }

    /// Take the epoll events that are ready: the owners' wake-ups.
    fn drain_events(&self) -> usize {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 4096];
        let mut total = 0;
        loop {
            // SAFETY: the buffer holds events.len() epoll_event values.
            let n = unsafe {
                libc::epoll_wait(self.epoll, events.as_mut_ptr(), events.len() as i32, 0)
            };
            if n <= 0 {
                return total;
            }
            total += n as usize;
        }
    }
}

/// Which connections a drop should abort, as a worker's `check` names
/// them: `all`, `one` (1 %: the first port), or `idx I,J,...` (exactly
/// those, for drops by tuple).
enum Selected {
    All,
    OnePercent,
    Indices(std::collections::HashSet<usize>),
}

impl Selected {
    fn parse(words: &[&str]) -> io::Result<Selected> {
        match words {
            ["one"] => Ok(Selected::OnePercent),
            ["idx", list] => list
                .split(',')
                .map(|s| s.parse().map_err(io::Error::other))
                .collect::<io::Result<_>>()
                .map(Selected::Indices),
            _ => Ok(Selected::All),
        }
    }

    fn contains(&self, i: usize) -> bool {
        match self {
            Selected::All => true,
            Selected::OnePercent => listener_of(i) == 0,
            Selected::Indices(set) => set.contains(&i),
        }
    }
}

/// A worker process: holds its share and answers the coordinator, one
/// command per line on stdin, one answer per line on stdout.
fn worker_main(mut argv: impl Iterator<Item = String>) -> io::Result<()> {
    let mut next = |what: &str| {
        argv.next()
            .ok_or_else(|| io::Error::other(format!("worker: missing {what}")))
    };
    let listeners: Vec<RawFd> = next("listeners")?
        .split(',')
        .map(|s| s.parse().map_err(io::Error::other))
        .collect::<io::Result<_>>()?;
    let first: usize = next("first")?.parse().map_err(io::Error::other)?;
    let cap: usize = next("cap")?.parse().map_err(io::Error::other)?;
    raise_nofile()?;
    let mut share = Share::new(listeners, first, cap)?;
    let stdin = io::stdin();
    let mut out = io::stdout().lock();
    for line in stdin.lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["grow", end] => {
                let n = share.grow(end.parse().map_err(io::Error::other)?)?;
                writeln!(out, "{n}")?;
            }
            ["check", kind @ ..] => {
                let (missed, extra) = share.check(&Selected::parse(kind)?)?;
                writeln!(out, "{missed} {extra}")?;
            }
            ["tuple", i] => {
                let i: usize = i.parse().map_err(io::Error::other)?;
                let conn = share
                    .conns
                    .get(i.wrapping_sub(share.first))
                    .ok_or_else(|| io::Error::other(format!("worker: no connection {i}")))?;
                let (local, remote) = (local_addr(conn.client)?, peer_addr(conn.client)?);
                writeln!(out, "{local} {remote}")?;
            }
            _ => return Err(io::Error::other(format!("worker: bad command '{line}'"))),
        }
        out.flush()?;
    }
    Ok(())
}

/// One worker process, as the coordinator sees it.
struct Worker {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    first: usize,
}

impl Worker {
    fn ask(&mut self, command: &str) -> io::Result<String> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        let mut answer = String::new();
        if self.stdout.read_line(&mut answer)? == 0 {
            return Err(io::Error::other(format!(
                "worker for connections from {} died (see its error above)",
                self.first
            )));
        }
        Ok(answer.trim().to_string())
    }
}

/// The connections, spread over worker processes that each stay under the
/// descriptor limit.
struct Pool {
    listeners: Vec<RawFd>,
    per_worker: usize,
    workers: Vec<Worker>,
    len: usize,
}

impl Pool {
    fn new(limit: usize) -> io::Result<Pool> {
        Ok(Pool {
            listeners: open_listeners()?,
            // Two descriptors a connection, and room for the listeners,
            // the epoll descriptor and the standard ones.
            per_worker: limit.saturating_sub(usize::from(LISTENERS) + 64) / 2,
            workers: Vec::new(),
            len: 0,
        })
    }

    fn spawn(&mut self) -> io::Result<()> {
        let first = self.workers.len() * self.per_worker;
        let fds: Vec<String> = self.listeners.iter().map(|fd| fd.to_string()).collect();
        let listeners = self.listeners.clone();
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("--worker")
            .arg(fds.join(","))
            .arg(first.to_string())
            .arg(self.per_worker.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        // SAFETY: the closure only calls fcntl, which is async-signal-safe,
        // on descriptors the child inherited.
        unsafe {
            command.pre_exec(move || {
                // The listeners are close-on-exec everywhere else (ss and
                // tcpdrop must not own them); the workers keep them.
                for &fd in &listeners {
                    if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        self.workers.push(Worker {
            _child: child,
            stdin,
            stdout,
            first,
        });
        Ok(())
    }

    /// Open connections until there are `n`.
    fn grow_to(&mut self, n: usize) -> io::Result<()> {
        if self.per_worker == 0 {
            return Err(io::Error::other("the descriptor limit is too low"));
        }
        while self.workers.len() * self.per_worker < n {
            self.spawn()?;
        }
        // One worker at a time: each accepts the connection it just made
        // from the shared listeners.
        for w in &mut self.workers {
            if w.first < n {
                w.ask(&format!("grow {n}"))?;
            }
        }
        self.len = n;
        Ok(())
    }

    /// The tuple (client end, server end) of connection `i`.
    fn tuple(&mut self, i: usize) -> io::Result<(SocketAddrV4, SocketAddrV4)> {
        let per = self.per_worker;
        let w = self
            .workers
            .get_mut(i / per)
            .ok_or_else(|| io::Error::other(format!("no worker holds connection {i}")))?;
        let answer = w.ask(&format!("tuple {i}"))?;
        let mut it = answer.split(' ').map(|a| a.parse::<SocketAddrV4>());
        match (it.next(), it.next()) {
            (Some(Ok(l)), Some(Ok(r))) => Ok((l, r)),
            _ => Err(io::Error::other(format!("bad tuple answer '{answer}'"))),
        }
    }

    /// Check a drop from the owners' side and restore the population:
    /// (missed, aborted but not selected), summed over the workers.
    fn check(&mut self, kind: &str) -> io::Result<(usize, usize)> {
        let mut total = (0, 0);
        for w in &mut self.workers {
            if w.first >= self.len {
                continue;
            }
            let answer = w.ask(&format!("check {kind}"))?;
            let mut it = answer.split(' ').map(|x| x.parse::<usize>().unwrap_or(0));
            total.0 += it.next().unwrap_or(0);
            total.1 += it.next().unwrap_or(0);
        }
        Ok(total)
    }
}

fn abort_close(fd: RawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a linger buffer of its size, then close of a
    // descriptor we own and never use again.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        libc::close(fd);
    }
}

/// A socket's own address (`getsockname`).
fn local_addr(fd: RawFd) -> io::Result<SocketAddrV4> {
    name_of(fd, libc::getsockname)
}

/// A socket's peer address (`getpeername`).
fn peer_addr(fd: RawFd) -> io::Result<SocketAddrV4> {
    name_of(fd, libc::getpeername)
}

type NameCall =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

fn name_of(fd: RawFd, call: NameCall) -> io::Result<SocketAddrV4> {
    // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = SIN_LEN;
    // SAFETY: the call fills at most `len` bytes of `sin`.
    let rc = unsafe { call(fd, (&mut sin as *mut libc::sockaddr_in).cast(), &mut len) };
    check(rc, "getsockname/getpeername")?;
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
        u16::from_be(sin.sin_port),
    ))
}

/// The pending error of a socket (`SO_ERROR`), which the kernel's abort
/// sets to `ECONNABORTED`; reading it clears it.
fn so_error(fd: RawFd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into a c_int of the length given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        -1
    } else {
        err
    }
}

/// One timed run of a command.
struct Run {
    wall: Duration,
    user: Duration,
    sys: Duration,
    max_rss_kib: i64,
    lines: usize,
    ok: bool,
    note: String,
}

/// Run `argv`, counting the lines it prints, and measure its wall time, CPU
/// time and peak RSS (`wait4`'s rusage).
fn run(argv: &[String]) -> io::Result<Run> {
    let start = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("run {}: {e}", argv[0])))?;
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + RUN_TIMEOUT;
            while !done.load(Ordering::Relaxed) {
                if Instant::now() > deadline {
                    // SAFETY: kill of our own child, not yet reaped (done is
                    // set before wait4 reaps it).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        })
    };
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0;
    loop {
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child with valid out-pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let killed = watchdog.join().unwrap_or(false);
    check(rc, "wait4")?;
    let stderr = errors.join().unwrap_or_default();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let mut note = String::new();
    if killed {
        note = format!("killed after {RUN_TIMEOUT:?}");
    } else if !exited_ok {
        note = format!(
            "exit {}: {}",
            libc::WEXITSTATUS(status),
            stderr.lines().last().unwrap_or("")
        );
    }
    Ok(Run {
        wall,
        user: tv(usage.ru_utime),
        sys: tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
        lines,
        ok: exited_ok && !killed,
        note,
    })
}

/// What one tool did on one piece of work, over the repetitions.
#[derive(Default)]
struct Sample {
    walls: Vec<Duration>,
    users: Vec<Duration>,
    syss: Vec<Duration>,
    rss: Vec<i64>,
    lines: Vec<usize>,
    /// Selected connections left alive, per run.
    misses: Vec<usize>,
    /// Connections aborted that the filter did not select, per run.
    extras: Vec<usize>,
    notes: Vec<String>,
}

impl Sample {
    fn add(&mut self, run: &Run) {
        self.walls.push(run.wall);
        self.users.push(run.user);
        self.syss.push(run.sys);
        self.rss.push(run.max_rss_kib);
        self.lines.push(run.lines);
        if !run.ok && !self.notes.contains(&run.note) {
            self.notes.push(run.note.clone());
        }
    }

    fn median(&self) -> Duration {
        median(&self.walls)
    }
}

fn median<T: Ord + Copy + Default>(values: &[T]) -> T {
    let mut v = values.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// One row of the table.
struct Row {
    n: usize,
    work: &'static str,
    tcpdrop: Sample,
    ss: Sample,
    drop: bool,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn cmd(tool: &str, args: &str) -> Vec<String> {
    let mut v = vec![tool.to_string()];
    v.extend(words(args));
    v
}

const DROP_ALL_FILTER: &str = "dport >= :5000 and dport <= :5099";
const ONE_PERCENT_FILTER: &str = "dport = :5000";

fn bench_size(args: &Args, pool: &mut Pool, n: usize, has_p: bool) -> io::Result<Vec<Row>> {
    let t = Instant::now();
    pool.grow_to(n)?;
    eprintln!(
        "N = {n}: {n} connections ({} sockets) held by {} workers, opened in {:.1?}",
        2 * n,
        pool.workers.len(),
        t.elapsed()
    );
    let td = &args.tcpdrop;
    let ss = &args.ss;
    let listings: Vec<(&'static str, Vec<String>, Vec<String>)> = {
        let mut v = vec![
            ("list all", cmd(td, "-l"), cmd(ss, "-tan")),
            (
                "list 1 %",
                cmd(td, &format!("-l {ONE_PERCENT_FILTER}")),
                cmd(ss, &format!("-tan {ONE_PERCENT_FILTER}")),
            ),
        ];
        if has_p {
            v.push(("list with owners", cmd(td, "-l -p"), cmd(ss, "-tanp")));
        }
        v
    };
    let mut rows = Vec::new();
    let wants = |group: &str| args.only.iter().any(|g| g == group);
    for (work, ours, theirs) in listings.into_iter().filter(|_| wants("list")) {
        let mut row = Row {
            n,
            work,
            tcpdrop: Sample::default(),
            ss: Sample::default(),
            drop: false,
        };
        for _ in 0..args.reps {
            row.tcpdrop.add(&run(&ours)?);
            row.ss.add(&run(&theirs)?);
        }
        eprintln!(
            "  {work}: tcpdrop {:.3?}, ss {:.3?}",
            row.tcpdrop.median(),
            row.ss.median()
        );
        rows.push(row);
    }
    let drops: [(&'static str, &str, &str, &str); 7] = [
        ("drop all clients", "", DROP_ALL_FILTER, "all"),
        ("drop 1 %", "", ONE_PERCENT_FILTER, "one"),
        (
            "drop all clients, --method destroy",
            "--method destroy ",
            DROP_ALL_FILTER,
            "all",
        ),
        (
            "drop all clients, --method bpf",
            "--method bpf ",
            DROP_ALL_FILTER,
            "all",
        ),
        (
            "drop 1 %, --method bpf",
            "--method bpf ",
            ONE_PERCENT_FILTER,
            "one",
        ),
        (
            "drop all clients, --method owner",
            "--method owner ",
            DROP_ALL_FILTER,
            "all",
        ),
        (
            "drop all clients, --method inject",
            "--method inject ",
            DROP_ALL_FILTER,
            "all",
        ),
    ];
    for (work, method, filter, kind) in drops
        .into_iter()
        .filter(|d| wants("drop") && (d.1.is_empty() || wants("methods")))
    {
        let mut row = Row {
            n,
            work,
            tcpdrop: Sample::default(),
            ss: Sample::default(),
            drop: true,
        };
        let ours = cmd(td, &format!("{method}{filter}"));
        let theirs = cmd(ss, &format!("-K -tn {filter}"));
        for _ in 0..args.reps {
            for (argv, sample) in [(&ours, &mut row.tcpdrop), (&theirs, &mut row.ss)] {
                sample.add(&run(argv)?);
                let (missed, extra) = pool.check(kind)?;
                sample.misses.push(missed);
                sample.extras.push(extra);
            }
        }
        eprintln!(
            "  {work}: tcpdrop {:.3?} (missed {:?}), ss {:.3?} (missed {:?})",
            row.tcpdrop.median(),
            row.tcpdrop.misses,
            row.ss.median(),
            row.ss.misses
        );
        rows.push(row);
    }
    if wants("tuple") {
        rows.extend(bench_tuples(args, pool, n)?);
    }
    Ok(rows)
}

/// `n` indices spread evenly over `0..total`, starting at `offset`.
fn spread(n: usize, total: usize, offset: usize) -> Vec<usize> {
    (0..n)
        .map(|k| (offset + k * (total / n.max(1))) % total.max(1))
        .collect()
}

fn idx_kind(indices: &[usize]) -> String {
    let list: Vec<String> = indices.iter().map(usize::to_string).collect();
    format!("idx {}", list.join(","))
}

/// The drops that name connections by their 4-tuple: one at a time
/// (tcpdrop against `ss -K` with the exact tuple as its filter, a
/// different connection each run), `SetTcpEntry` in a loop (the C ABI's
/// function, called in this process), and `tcpdrop -f` with 1,000 tuples.
fn bench_tuples(args: &Args, pool: &mut Pool, n: usize) -> io::Result<Vec<Row>> {
    let td = &args.tcpdrop;
    let ss = &args.ss;
    let mut rows = Vec::new();

    let mut one = Row {
        n,
        work: "drop one by tuple",
        tcpdrop: Sample::default(),
        ss: Sample::default(),
        drop: true,
    };
    for (k, i) in spread(TUPLE_RUNS * 2, n, 7).into_iter().enumerate() {
        let (local, remote) = pool.tuple(i)?;
        let (argv, sample) = if k % 2 == 0 {
            (cmd(td, &format!("{local} {remote}")), &mut one.tcpdrop)
        } else {
            (
                cmd(ss, &format!("-K -tn src {local} dst {remote}")),
                &mut one.ss,
            )
        };
        sample.add(&run(&argv)?);
        let (missed, extra) = pool.check(&idx_kind(&[i]))?;
        sample.misses.push(missed);
        sample.extras.push(extra);
    }
    eprintln!(
        "  drop one by tuple: tcpdrop {:.4?} (missed {:?}), ss -K {:.4?} (missed {:?})",
        one.tcpdrop.median(),
        one.tcpdrop.misses,
        one.ss.median(),
        one.ss.misses
    );
    rows.push(one);

    let mut looped = Row {
        n,
        work: "SetTcpEntry, per call (100 in a loop)",
        tcpdrop: Sample::default(),
        ss: Sample::default(),
        drop: true,
    };
    for rep in 0..args.reps {
        let indices = spread(100, n, 11 + rep);
        let rows_of: Vec<iphlpapi::MIB_TCPROW> = indices
            .iter()
            .map(|&i| {
                let (local, remote) = pool.tuple(i)?;
                Ok(iphlpapi::MIB_TCPROW {
                    dwState: iphlpapi::MIB_TCP_STATE_DELETE_TCB,
                    dwLocalAddr: u32::from_ne_bytes(local.ip().octets()),
                    dwLocalPort: u32::from(local.port().to_be()),
                    dwRemoteAddr: u32::from_ne_bytes(remote.ip().octets()),
                    dwRemotePort: u32::from(remote.port().to_be()),
                })
            })
            .collect::<io::Result<_>>()?;
        let start = Instant::now();
        let mut failures = 0;
        for row in &rows_of {
            let mut row = *row;
            // SAFETY: a valid, writable MIB_TCPROW, as a C caller passes it.
            if unsafe { iphlpapi::c_abi::SetTcpEntry(&mut row) } != 0 {
                failures += 1;
            }
        }
        let per_call = start.elapsed() / 100;
        looped.tcpdrop.add(&Run {
            wall: per_call,
            user: Duration::ZERO,
            sys: Duration::ZERO,
            max_rss_kib: 0,
            lines: 100 - failures,
            ok: failures == 0,
            note: format!("{failures} of 100 calls did not return 0"),
        });
        let (missed, extra) = pool.check(&idx_kind(&indices))?;
        looped.tcpdrop.misses.push(missed);
        looped.tcpdrop.extras.push(extra);
    }
    eprintln!(
        "  SetTcpEntry per call: {:.4?} (missed {:?})",
        looped.tcpdrop.median(),
        looped.tcpdrop.misses
    );
    rows.push(looped);

    let mut file = Row {
        n,
        work: "tcpdrop -f, 1,000 tuples",
        tcpdrop: Sample::default(),
        ss: Sample::default(),
        drop: true,
    };
    let path = std::env::temp_dir().join(format!("tcpdrop-bench-{}.txt", std::process::id()));
    for rep in 0..args.reps {
        let indices = spread(1000.min(n), n, 13 + rep);
        let mut text = String::new();
        for &i in &indices {
            let (local, remote) = pool.tuple(i)?;
            text.push_str(&format!("{local} {remote}\n"));
        }
        std::fs::write(&path, text)?;
        file.tcpdrop
            .add(&run(&cmd(td, &format!("-f {}", path.display())))?);
        let (missed, extra) = pool.check(&idx_kind(&indices))?;
        file.tcpdrop.misses.push(missed);
        file.tcpdrop.extras.push(extra);
    }
    let _ = std::fs::remove_file(&path);
    eprintln!(
        "  -f 1,000 tuples: {:.4?} (missed {:?})",
        file.tcpdrop.median(),
        file.tcpdrop.misses
    );
    rows.push(file);
    Ok(rows)
}

/// Drops of one tuple per tool and size (a different connection each).
const TUPLE_RUNS: usize = 5;

/// Seconds, with enough digits for sub-millisecond times.
fn secs(d: Duration) -> String {
    if d < Duration::from_millis(10) {
        format!("{:.6}", d.as_secs_f64())
    } else {
        format!("{:.3}", d.as_secs_f64())
    }
}

/// Median user and system CPU seconds, `user / sys`.
fn cpu(s: &Sample) -> String {
    if s.walls.is_empty() {
        return "—".into();
    }
    format!("{} / {}", secs(median(&s.users)), secs(median(&s.syss)))
}

/// The medians as CSV, one line per row and tool, for `bench/plot`.
fn write_csv(path: &str, rows: &[Row]) -> io::Result<()> {
    let mut out = String::from("n,work,tool,wall_s,user_s,sys_s,peak_rss_mib,missed\n");
    for row in rows {
        for (tool, s) in [("tcpdrop", &row.tcpdrop), ("ss", &row.ss)] {
            if s.walls.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "{},\"{}\",{},{:.6},{:.6},{:.6},{:.1},{}\n",
                row.n,
                row.work,
                tool,
                s.median().as_secs_f64(),
                median(&s.users).as_secs_f64(),
                median(&s.syss).as_secs_f64(),
                median(&s.rss) as f64 / 1024.0,
                s.misses.iter().sum::<usize>()
            ));
        }
    }
    std::fs::write(path, out)
}

fn print_table(rows: &[Row], reps: usize) {
    println!(
        "| N | work | tcpdrop s | ss s | tcpdrop/ss | tcpdrop user / sys s | ss user / sys s | tcpdrop peak RSS MiB | ss peak RSS MiB | rows tcpdrop / ss | missed tcpdrop / ss (of {reps} runs) |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for row in rows {
        let (a, b) = (row.tcpdrop.median(), row.ss.median());
        let no_ss = row.ss.walls.is_empty();
        let ratio = if no_ss {
            "—".to_string()
        } else {
            format!("{:.3}", a.as_secs_f64() / b.as_secs_f64().max(1e-9))
        };
        let mib = |s: &Sample| format!("{:.1}", median(&s.rss) as f64 / 1024.0);
        let missed = |s: &Sample| {
            if s.misses.is_empty() {
                "—".to_string()
            } else {
                let total: usize = s.misses.iter().sum();
                let extra: usize = s.extras.iter().sum();
                let runs = s.misses.iter().filter(|&&m| m > 0).count();
                let mut t = if total == 0 {
                    "none".to_string()
                } else {
                    format!("{total} in {runs} of {} runs", s.misses.len())
                };
                if extra > 0 {
                    t.push_str(&format!(", {extra} not selected but aborted"));
                }
                t
            }
        };
        let missed_text = if row.drop {
            format!("{} / {}", missed(&row.tcpdrop), missed(&row.ss))
        } else {
            "—".into()
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} |",
            row.n,
            row.work,
            secs(a),
            if no_ss { "—".to_string() } else { secs(b) },
            ratio,
            cpu(&row.tcpdrop),
            cpu(&row.ss),
            mib(&row.tcpdrop),
            mib(&row.ss),
            median(&row.tcpdrop.lines),
            median(&row.ss.lines),
            missed_text,
        );
    }
    for row in rows {
        for (tool, s) in [("tcpdrop", &row.tcpdrop), ("ss", &row.ss)] {
            for note in &s.notes {
                println!("note: N = {} {} {tool}: {note}", row.n, row.work);
            }
        }
    }
}

fn main() {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some("--worker") {
        argv.next();
        if let Err(e) = worker_main(argv) {
            eprintln!("tcpdrop-bench worker: {e}");
            std::process::exit(1);
        }
        return;
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tcpdrop-bench: {e}");
            std::process::exit(2);
        }
    };
    let limit = match raise_nofile().and_then(|limit| enter_fresh_netns().map(|()| limit)) {
        Ok(limit) => limit,
        Err(e) => {
            eprintln!("tcpdrop-bench: {e}");
            std::process::exit(2);
        }
    };
    let help = Command::new(&args.tcpdrop).arg("--help").output();
    let has_p = match &help {
        Ok(out) => String::from_utf8_lossy(&out.stdout).contains("--processes"),
        Err(e) => {
            eprintln!(
                "tcpdrop-bench: cannot run {}: {e} (build it: cargo build --release)",
                args.tcpdrop
            );
            std::process::exit(2);
        }
    };
    if !has_p {
        eprintln!(
            "tcpdrop-bench: {} has no --processes: skipping the owner listing",
            args.tcpdrop
        );
    }
    let mut pool = match Pool::new(limit) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tcpdrop-bench: {e}");
            std::process::exit(2);
        }
    };
    let mut rows = Vec::new();
    let mut sizes = args.sizes.clone();
    sizes.sort();
    for &n in &sizes {
        match bench_size(&args, &mut pool, n, has_p) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("tcpdrop-bench: N = {n}: {e}");
                print_table(&rows, args.reps);
                std::process::exit(1);
            }
        }
    }
    print_table(&rows, args.reps);
    if let Some(path) = &args.csv {
        if let Err(e) = write_csv(path, &rows) {
            eprintln!("tcpdrop-bench: {path}: {e}");
            std::process::exit(1);
        }
    }
    // The workers exit when their stdin closes; every socket closes with
    // its process, and the namespace with the last of them.
}
