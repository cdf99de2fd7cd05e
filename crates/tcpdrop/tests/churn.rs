//! Races and reuse under load: generators open and close loopback
//! connections continuously, reusing 4-tuples (fixed client ports with
//! `SO_REUSEADDR`), while a dropper drops a filtered subset over and over.
//! Afterwards the generators' own records must show that nothing outside the
//! filter was aborted, no listener was closed, every abort was reported and
//! every connection reported `dropped` did see `ECONNABORTED` (SPEC §3,
//! traps 1, 2 and 4).
//!
//! Each connection's ends are watched exactly: a socket's owner reads its
//! error from the I/O it does, and at the end disconnects it
//! (`connect(AF_UNSPEC)`, which unhashes it so no later drop can find it)
//! before reading `SO_ERROR`. A socket the kernel aborted keeps
//! `ECONNABORTED` pending through the disconnect; one it did not gets
//! `ECONNRESET` or nothing. Reports are matched to ends by socket cookie.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nstest::{in_netns, still_accepts};
use ssfilter::Filter;
use tcpdrop::{DropOptions, DropReport, Method, Outcome, Query, Selection, Session, TcpState};

const GENERATORS: u16 = 3;
/// Client ports per generator: that many connections of one generator are
/// alive at once, each closed `SLOTS` steps after it was opened.
const SLOTS: u16 = 8;
const CONNECTIONS_PER_GENERATOR: usize = 10_000;
/// The longest pause between two steps of a generator, in microseconds.
const HOLD_MAX_US: u64 = 2_000;
const MIN_CONNECTIONS: usize = 10_000;
/// A bound on the run, reached only on a machine far slower than CI's.
const TIME_LIMIT: Duration = Duration::from_secs(90);

/// Listener ports, plus the generator's number. Connections to the first
/// have their client end in the filter, to the second their server end; the
/// other two are outside it.
const LISTENER_BASES: [u16; 4] = [5000, 6000, 7000, 7100];
const CLIENT_PORT_BASE: u16 = 30000;
const FILTER: &str = "( dport >= :5000 and dport < :5100 ) or ( sport >= :6000 and sport < :6100 )";

const ECONNABORTED: i32 = libc::ECONNABORTED;
/// `SO_COOKIE` (asm-generic/socket.h); the libc crate does not name it.
const SO_COOKIE: libc::c_int = 57;
const IO_TIMEOUT: Duration = Duration::from_secs(2);
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(1);

/// What the owner of one end saw first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// No error: the end was still open when its owner disconnected it.
    Nothing,
    /// An operation failed with this errno (or `SO_ERROR` held it).
    Errno(i32),
    /// A read returned end of file.
    Eof,
    /// An operation timed out.
    TimedOut,
}

/// One end of a connection, as its owner recorded it.
#[derive(Clone, Debug)]
struct End {
    cookie: u64,
    local: SocketAddr,
    remote: SocketAddr,
    in_filter: bool,
    seen: Seen,
    /// What was pending on it just before the churn's own disconnect,
    /// which leaves `ECONNRESET` on a socket it resets itself.
    before_close: Seen,
}

/// One connection a generator made.
#[derive(Clone, Debug)]
struct Conn {
    client: End,
    /// `None` if the listener never handed the connection over.
    server: Option<End>,
    opened: Instant,
    closed: Instant,
}

/// One row a drop reported.
#[derive(Debug)]
struct Reported {
    conn: tcpdrop::Connection,
    outcome: Outcome,
    started: Instant,
    ended: Instant,
}

#[test]
fn churn_never_kills_outside_the_filter_and_never_reports_a_false_drop() {
    churn(None);
}

/// The same churn, every drop through the holder's own descriptor.
#[test]
fn churn_by_owner_never_kills_outside_the_filter_nor_reports_a_false_drop() {
    churn(Some(Method::Owner));
}

/// The same churn, every drop by the kernel's own walk (bpf), which leaves
/// `ECONNABORTED` as destroy does: every abort is matched both ways.
#[test]
fn churn_by_bpf_never_kills_outside_the_filter_nor_reports_a_false_drop() {
    if !nstest::require_bpf() {
        return;
    }
    churn(Some(Method::Bpf));
}

/// The same churn, every drop by an injected reset.
#[test]
fn churn_by_inject_never_kills_outside_the_filter_nor_reports_a_false_drop() {
    churn(Some(Method::Inject));
}

/// Run the churn with drops by `method` (`None`: auto, which is destroy
/// here) and check the generators' records against the reports.
///
/// Destroy and bpf leave a mark no other event leaves, `ECONNABORTED`, so every
/// abort can be matched to a report both ways. Owner and inject leave
/// `ECONNRESET`/`EPIPE`, which the churn's own closing also leaves on the
/// other end, so for them: every `dropped` end saw an error, and no
/// connection of which neither end is in the filter was touched (its
/// client end, closed first by the churn, saw nothing).
fn churn(method: Option<Method>) {
    in_netns(|| {
        let begun = Instant::now();
        let deadline = begun + TIME_LIMIT;
        let filter = Filter::parse(&[FILTER]).expect("the churn filter parses");
        let listeners: Vec<Vec<TcpListener>> = (0..GENERATORS)
            .map(|g| {
                LISTENER_BASES
                    .iter()
                    .map(|base| nstest::listen(&format!("127.0.0.1:{}", base + g)))
                    .collect()
            })
            .collect();
        let finished = AtomicUsize::new(0);
        let stray = Mutex::new(Vec::new());
        let (conns, connect_failures, reports, rounds, drop_errors) = std::thread::scope(|s| {
            let generators: Vec<_> = listeners
                .iter()
                .enumerate()
                .map(|(g, ls)| {
                    let (finished, stray) = (&finished, &stray);
                    s.spawn(move || {
                        let out = generate(g as u16, ls, deadline, stray);
                        finished.fetch_add(1, Ordering::SeqCst);
                        out
                    })
                })
                .collect();
            let mut session = Session::new().expect("diag socket");
            let mut reports = Vec::new();
            let (mut rounds, mut drop_errors) = (0usize, 0usize);
            while finished.load(Ordering::SeqCst) < usize::from(GENERATORS) {
                let started = Instant::now();
                // Every third drop pauses between its dump and its aborts
                // (0.5 to 8.5 ms, about a connection's life), so that the
                // churn closes and reuses some of what it found: a drop of
                // a few sockets is over in a few hundred microseconds, and
                // drops that quick find every connection young, too soon
                // to lose a race.
                if rounds % 3 == 1 {
                    let pause = Duration::from_micros(500 + (rounds as u64 * 3571) % 8000);
                    tcpdrop::testing::before_abort(move || std::thread::sleep(pause));
                }
                let selection = Selection::all(Query::all()).and(|c| filter.matches(c));
                let mut report = DropReport::default();
                match session.drop(selection, DropOptions { method }, &mut report) {
                    Ok(_) => {
                        let ended = Instant::now();
                        reports.extend(report.results.into_iter().map(|(conn, outcome)| {
                            Reported {
                                conn,
                                outcome,
                                started,
                                ended,
                            }
                        }));
                    }
                    Err(err) => {
                        eprintln!("churn: drop round {rounds} failed: {err}");
                        drop_errors += 1;
                    }
                }
                rounds += 1;
                // Vary the phase against the generators' rhythm.
                std::thread::sleep(Duration::from_micros((rounds as u64 * 7919) % 1500));
            }
            let mut conns = Vec::new();
            let mut connect_failures = 0;
            for generator in generators {
                let (c, f) = generator.join().expect("generator thread");
                conns.extend(c);
                connect_failures += f;
            }
            (conns, connect_failures, reports, rounds, drop_errors)
        });
        let stray = stray.into_inner().expect("stray list");

        // Every end, by cookie.
        let mut ends: HashMap<u64, &End> = HashMap::new();
        for end in conns
            .iter()
            .flat_map(|c| std::iter::once(&c.client).chain(&c.server))
            .chain(&stray)
        {
            assert!(
                ends.insert(end.cookie, end).is_none(),
                "cookie {} seen twice",
                end.cookie
            );
        }
        let listener_cookies: HashSet<u64> = listeners.iter().flatten().map(cookie_of).collect();

        let mut false_reports = Vec::new();
        let mut dropped_cookies = HashSet::new();
        let (mut dropped, mut gone, mut failed, mut requests) = (0, 0, 0, 0);
        let mut failed_without_holder = 0;
        let mut failed_not_full = 0;
        for r in &reports {
            assert!(
                !r.conn.is_listener() && !listener_cookies.contains(&r.conn.cookie),
                "a listener was chosen: {r:?}"
            );
            assert!(
                end_in_filter(&r.conn.local, &r.conn.remote),
                "a row outside the filter was chosen: {r:?}"
            );
            match &r.outcome {
                Outcome::Dropped(_) => dropped += 1,
                Outcome::Gone(_) => {
                    gone += 1;
                    continue;
                }
                Outcome::Failed(err) => {
                    failed += 1;
                    if matches!(err, tcpdrop::Error::NoHolder) {
                        failed_without_holder += 1;
                    }
                    if matches!(err, tcpdrop::Error::NotFullSocket) {
                        failed_not_full += 1;
                    }
                    eprintln!("churn: failed drop {r:?}: {err}");
                    continue;
                }
            }
            dropped_cookies.insert(r.conn.cookie);
            let honest = match ends.get(&r.conn.cookie) {
                Some(end) => {
                    aborted_by(method, end.seen)
                        && end.in_filter
                        && end.local == r.conn.local
                        && end.remote == r.conn.remote
                }
                // A request socket is dropped from its listener's queue: no
                // socket of its own ever reaches an owner. Its connection
                // was then never accepted, while the drop ran.
                None if r.conn.kernel_state == TcpState::NewSynRecv => {
                    requests += 1;
                    conns.iter().any(|c| {
                        c.server.is_none()
                            && c.client.remote == r.conn.local
                            && c.client.local == r.conn.remote
                            && c.opened <= r.ended
                            && c.closed >= r.started
                    })
                }
                None => false,
            };
            if !honest {
                false_reports.push(r);
            }
        }

        let mut wrong_kills = Vec::new();
        let mut unreported = Vec::new();
        if matches!(method, None | Some(Method::Bpf)) {
            for end in ends.values() {
                if end.seen != Seen::Errno(ECONNABORTED) {
                    continue;
                }
                if !end.in_filter {
                    wrong_kills.push(*end);
                } else if !dropped_cookies.contains(&end.cookie) {
                    unreported.push(*end);
                }
            }
        } else {
            for conn in &conns {
                let selected =
                    conn.client.in_filter || conn.server.as_ref().is_some_and(|s| s.in_filter);
                if !selected && matches!(conn.client.before_close, Seen::Errno(_)) {
                    wrong_kills.push(&conn.client);
                }
            }
        }
        let closed_listeners: Vec<_> = listeners
            .iter()
            .flatten()
            .filter(|l| !still_accepts(l))
            .map(|l| l.local_addr().expect("local_addr"))
            .collect();
        let odd: Vec<_> = ends
            .values()
            .filter(|e| matches!(e.seen, Seen::Eof | Seen::TimedOut))
            .collect();

        eprintln!(
            "churn: {rounds} drop rounds, {} connections ({} ends, {} never accepted, \
             {connect_failures} failed connects), {dropped} dropped ({requests} request \
             sockets), {gone} gone, {failed} failed, {drop_errors} failed rounds; \
             {} wrong kills, {} unreported aborts, {} false reports, {} listeners closed, \
             {} ends saw EOF or timed out; {:.1} s",
            conns.len(),
            ends.len(),
            conns.iter().filter(|c| c.server.is_none()).count(),
            wrong_kills.len(),
            unreported.len(),
            false_reports.len(),
            closed_listeners.len(),
            odd.len(),
            begun.elapsed().as_secs_f64()
        );
        if let Some(first) = wrong_kills.first() {
            eprintln!("churn: first wrong kill: {first:?}");
        }
        assert!(
            wrong_kills.is_empty(),
            "connections outside the filter were aborted: {wrong_kills:#?}"
        );
        assert!(
            unreported.is_empty(),
            "connections were aborted without a `dropped` report: {unreported:#?}"
        );
        assert!(
            false_reports.is_empty(),
            "`dropped` reported for connections that were not aborted: {false_reports:#?}"
        );
        assert!(
            closed_listeners.is_empty(),
            "listeners closed: {closed_listeners:?}"
        );
        // Only the forced owner way may fail, and only on sockets no process
        // holds yet (still in the listener's accept queue) or any more; and
        // the forced bpf way, only on request sockets (not full sockets).
        assert_eq!(
            failed,
            failed_without_holder + failed_not_full,
            "drops failed"
        );
        match method {
            Some(Method::Owner) => assert_eq!(failed_not_full, 0, "drops failed"),
            Some(Method::Bpf) => assert_eq!(failed_without_holder, 0, "drops failed"),
            _ => assert_eq!(failed, 0, "drops failed"),
        }
        assert!(
            conns.len() >= MIN_CONNECTIONS,
            "only {} connections in {TIME_LIMIT:?}",
            conns.len()
        );
        // The run means something only if drops raced the churn.
        assert!(dropped >= 100, "only {dropped} drops");
        assert!(gone > 0, "no drop ever lost a race: the churn is too slow");
    });
}

/// Whether an end's record shows the abort `method` (`None`: destroy).
fn aborted_by(method: Option<Method>, seen: Seen) -> bool {
    match method {
        None | Some(Method::Destroy | Method::Bpf) => seen == Seen::Errno(ECONNABORTED),
        Some(_) => matches!(seen, Seen::Errno(_) | Seen::Eof),
    }
}

/// Whether the socket with these ends is one the filter selects (the
/// oracle, written out by hand): the client end of a connection to a
/// listener of the first kind, or the server end of one to the second kind.
fn end_in_filter(local: &SocketAddr, remote: &SocketAddr) -> bool {
    let first = LISTENER_BASES[0]..LISTENER_BASES[0] + 100;
    let second = LISTENER_BASES[1]..LISTENER_BASES[1] + 100;
    first.contains(&remote.port()) || second.contains(&local.port())
}

/// One generator: cycle over `SLOTS` fixed client ports on 127.0.0.(10+g),
/// each connecting to one of `listeners`, until it has made its share of
/// connections or time is up. Returns its connections and how many connects
/// failed before any socket could be followed.
fn generate(
    g: u16,
    listeners: &[TcpListener],
    deadline: Instant,
    stray: &Mutex<Vec<End>>,
) -> (Vec<Conn>, usize) {
    let ip = Ipv4Addr::new(127, 0, 0, 10 + g as u8);
    let mut live: Vec<Option<Live>> = (0..SLOTS).map(|_| None).collect();
    let mut conns = Vec::with_capacity(CONNECTIONS_PER_GENERATOR);
    let mut connect_failures = 0;
    let mut step = 0usize;
    while conns.len() < CONNECTIONS_PER_GENERATOR && Instant::now() < deadline {
        let slot = step % usize::from(SLOTS);
        let cycle = step / usize::from(SLOTS);
        if let Some(done) = live[slot].take() {
            conns.push(done.finish());
        }
        // Half the ports always go to the same listener, so their 4-tuple
        // comes back every `SLOTS` steps; the others rotate.
        let which = if slot < usize::from(SLOTS) / 2 {
            slot % listeners.len()
        } else {
            (slot + cycle) % listeners.len()
        };
        let client = SocketAddr::V4(SocketAddrV4::new(
            ip,
            CLIENT_PORT_BASE + g * 100 + slot as u16,
        ));
        match open(client, &listeners[which], stray) {
            Ok(Opened::Live(l)) => live[slot] = Some(l),
            Ok(Opened::Done(c)) => conns.push(c),
            Err(err) => {
                if connect_failures < 5 {
                    eprintln!("churn: {client} -> listener {which}: {err}");
                }
                connect_failures += 1;
            }
        }
        step += 1;
        // Hold the open connections a while, for a varying time: some are
        // caught alive, some close as the drop races them.
        std::thread::sleep(Duration::from_micros((step as u64 * 104_729) % HOLD_MAX_US));
    }
    conns.extend(live.into_iter().flatten().map(Live::finish));
    (conns, connect_failures)
}

/// A connection still open, with both ends' sockets.
struct Live {
    conn: Conn,
    client: OwnedFd,
    server: Option<OwnedFd>,
}

enum Opened {
    Live(Live),
    /// It ended while being set up.
    Done(Conn),
}

impl Live {
    /// Disconnect both ends and record what each owner saw.
    fn finish(mut self) -> Conn {
        observe_and_disconnect(&self.client, &mut self.conn.client);
        if let (Some(fd), Some(end)) = (&self.server, &mut self.conn.server) {
            observe_and_disconnect(fd, end);
        }
        self.conn.closed = Instant::now();
        self.conn
    }
}

/// Note the error pending on the socket (`before_close`), unhash it
/// (`connect(AF_UNSPEC)`: `tcp_disconnect`, which sends a reset from an
/// open state and leaves `ECONNRESET` on the socket itself) so that no drop
/// can reach it any more, then take the error pending on it if its owner
/// had not seen one yet: a drop that came between the two reads is seen
/// by the second.
fn observe_and_disconnect(fd: &OwnedFd, end: &mut End) {
    let pending = getsockopt_int(fd.as_raw_fd(), libc::SO_ERROR);
    end.before_close = match (end.seen, pending) {
        (Seen::Nothing, 0) => Seen::Nothing,
        (Seen::Nothing, err) => Seen::Errno(err),
        (seen, _) => seen,
    };
    // SAFETY: sockaddr is plain old data; zeroed it is AF_UNSPEC.
    let unspec: libc::sockaddr = unsafe { std::mem::zeroed() };
    // SAFETY: connect with a valid sockaddr of the length given, on a
    // socket we own.
    unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &unspec,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        );
    }
    if end.seen == Seen::Nothing {
        let err = match end.before_close {
            Seen::Errno(err) => err,
            _ => getsockopt_int(fd.as_raw_fd(), libc::SO_ERROR),
        };
        if err != 0 {
            end.seen = Seen::Errno(err);
        }
    }
}

/// Open one connection from `client` to `listener`, accept it and pass a
/// byte each way.
fn open(client: SocketAddr, listener: &TcpListener, stray: &Mutex<Vec<End>>) -> io::Result<Opened> {
    let server_addr = listener.local_addr()?;
    // SAFETY: socket(2) returns a new descriptor we then own, or -1.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_timeouts(raw)?;
    let (sa, len) = sockaddr_in(client);
    // SAFETY: bind with a sockaddr_in of the length given.
    if unsafe { libc::bind(raw, (&sa as *const libc::sockaddr_in).cast(), len) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The cookie exists from the start: a drop may catch the socket in
    // SYN-SENT, and then connect fails with ECONNABORTED.
    let mut conn = Conn {
        client: End {
            cookie: cookie_of(&fd),
            local: client,
            remote: server_addr,
            in_filter: end_in_filter(&client, &server_addr),
            seen: Seen::Nothing,
            before_close: Seen::Nothing,
        },
        server: None,
        opened: Instant::now(),
        closed: Instant::now(),
    };
    let (to, to_len) = sockaddr_in(server_addr);
    // SAFETY: connect with a sockaddr_in of the length given.
    if unsafe { libc::connect(raw, (&to as *const libc::sockaddr_in).cast(), to_len) } != 0 {
        conn.client.seen = seen_of(io::Error::last_os_error());
        conn.closed = Instant::now();
        return Ok(Opened::Done(conn));
    }
    let server = accept_from(listener, client, stray)?;
    let mut live = Live {
        conn,
        client: fd,
        server: None,
    };
    if let Some(server_fd) = server {
        set_timeouts(server_fd.as_raw_fd())?;
        live.conn.server = Some(End {
            cookie: cookie_of(&server_fd),
            local: server_addr,
            remote: client,
            in_filter: end_in_filter(&server_addr, &client),
            seen: Seen::Nothing,
            before_close: Seen::Nothing,
        });
        live.server = Some(server_fd);
    }
    // A byte each way; each end stops at the first error it sees.
    let client_sent = send_byte(&live.client, &mut live.conn.client);
    if let (Some(fd), Some(end)) = (&live.server, &mut live.conn.server) {
        if client_sent && recv_byte(fd, end) && send_byte(fd, end) {
            recv_byte(&live.client, &mut live.conn.client);
        }
    }
    Ok(Opened::Live(live))
}

/// Accept the connection from `client` on `listener`. Another one there is
/// a late arrival of an earlier connection whose accept timed out: it is
/// observed and closed as a stray end. `None` if nothing came in time (the
/// request socket was dropped, or the client was aborted in SYN-SENT).
fn accept_from(
    listener: &TcpListener,
    client: SocketAddr,
    stray: &Mutex<Vec<End>>,
) -> io::Result<Option<OwnedFd>> {
    let until = Instant::now() + ACCEPT_TIMEOUT;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as libc::c_int) };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ready == 0 {
            return Ok(None);
        }
        // SAFETY: sockaddr_in is plain old data.
        let mut peer: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: accept4 with an out-buffer of the length given. The
        // address comes from the accepted socket even if it was already
        // aborted, where getpeername would fail.
        let raw = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                (&mut peer as *mut libc::sockaddr_in).cast(),
                &mut len,
                libc::SOCK_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: accept4 returned a new descriptor we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let from = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(peer.sin_addr.s_addr)),
            u16::from_be(peer.sin_port),
        ));
        if from == client {
            return Ok(Some(fd));
        }
        let local = listener.local_addr()?;
        let mut end = End {
            cookie: cookie_of(&fd),
            local,
            remote: from,
            in_filter: end_in_filter(&local, &from),
            seen: Seen::Nothing,
            before_close: Seen::Nothing,
        };
        observe_and_disconnect(&fd, &mut end);
        stray.lock().expect("stray list").push(end);
    }
}

/// Send one byte; false (with what was seen) if it failed.
fn send_byte(fd: &OwnedFd, end: &mut End) -> bool {
    // SAFETY: send from a one-byte buffer; MSG_NOSIGNAL, as a reset peer
    // must be an error, not a SIGPIPE.
    let n = unsafe { libc::send(fd.as_raw_fd(), b"x".as_ptr().cast(), 1, libc::MSG_NOSIGNAL) };
    if n == 1 {
        return true;
    }
    end.seen = seen_of(io::Error::last_os_error());
    false
}

/// Receive one byte; false (with what was seen) if none came.
fn recv_byte(fd: &OwnedFd, end: &mut End) -> bool {
    let mut byte = 0u8;
    // SAFETY: recv into a one-byte buffer.
    let n = unsafe { libc::recv(fd.as_raw_fd(), (&mut byte as *mut u8).cast(), 1, 0) };
    match n {
        1 => true,
        0 => {
            end.seen = Seen::Eof;
            false
        }
        _ => {
            end.seen = seen_of(io::Error::last_os_error());
            false
        }
    }
}

fn seen_of(err: io::Error) -> Seen {
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINPROGRESS) => Seen::TimedOut,
        Some(errno) => Seen::Errno(errno),
        None => Seen::Errno(0),
    }
}

/// The socket's cookie (`SO_COOKIE`): what the kernel's dump calls it.
fn cookie_of(fd: &impl AsRawFd) -> u64 {
    let mut cookie = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: getsockopt with an out-buffer of the length given.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "SO_COOKIE: {}", io::Error::last_os_error());
    cookie
}

fn getsockopt_int(fd: RawFd, opt: libc::c_int) -> i32 {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt with an out-buffer of the length given.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        );
    }
    value
}

fn set_int(fd: RawFd, level: libc::c_int, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: setsockopt with an int of the length given.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Bound every blocking call on `fd` (connect included, through
/// `SO_SNDTIMEO`), so a lost packet cannot hang the test.
fn set_timeouts(fd: RawFd) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: IO_TIMEOUT.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: setsockopt with a timeval of the length given.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn sockaddr_in(addr: SocketAddr) -> (libc::sockaddr_in, libc::socklen_t) {
    let SocketAddr::V4(v4) = addr else {
        panic!("the churn runs on IPv4 loopback only: {addr}");
    };
    // SAFETY: sockaddr_in is plain old data.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = v4.port().to_be();
    sa.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
    (
        sa,
        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
    )
}
