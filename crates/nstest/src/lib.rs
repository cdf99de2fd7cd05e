//! `nstest`: run each of the workspace's tests against the real kernel in a
//! network namespace of its own, with the sockets, hosts and tools it needs.
//!
//! Each test runs its body with [`in_netns`]: on a thread of its own that has
//! left for a fresh network namespace (`unshare(CLONE_NEWNET)`) with `lo` up.
//! Processes spawned from that thread (`ss`, the `tcpdrop` binary, C test
//! programs) inherit the namespace, so what they see is what the test built.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

mod caps;
pub mod shadow;
pub mod topology;

pub use caps::without_net_admin;

/// How this test process can make network namespaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Root in the initial user namespace, as CI runs: every test runs.
    RealRoot,
    /// Root inside a user namespace (a test re-run by [`in_netns`] under
    /// `unshare --user`, or the whole suite run that way): namespaces work,
    /// but no other uid exists and nothing outside can be touched.
    UserNamespace,
    /// A normal user who may make user namespaces: each test that needs a
    /// network namespace re-runs itself in a user + network namespace.
    Unprivileged,
    /// A normal user who may not: such tests are skipped, with the reason.
    Unavailable(String),
}

/// The [`Mode`] of this process, found once.
pub fn mode() -> &'static Mode {
    static MODE: std::sync::OnceLock<Mode> = std::sync::OnceLock::new();
    MODE.get_or_init(|| {
        if std::env::var_os(INNER).is_some() {
            return Mode::UserNamespace;
        }
        // SAFETY: geteuid has no failure mode and touches no memory.
        if unsafe { libc::geteuid() } == 0 {
            // The initial user namespace maps all 2^32 ids onto themselves.
            let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
            let identity = map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"];
            return if identity {
                Mode::RealRoot
            } else {
                Mode::UserNamespace
            };
        }
        match Command::new("unshare")
            .args(["--user", "--map-root-user", "--net", "true"])
            .output()
        {
            Ok(out) if out.status.success() => Mode::Unprivileged,
            Ok(out) => Mode::Unavailable(format!(
                "not root, and unprivileged user namespaces are refused here ({}); run as root",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(err) => Mode::Unavailable(format!(
                "not root, and unshare(1) cannot run ({err}); run as root"
            )),
        }
    })
}

/// Set in a test re-run inside a user namespace.
const INNER: &str = "NSTEST_IN_USERNS";

/// The name of the running test (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unknown test")
        .to_string()
}

/// Say that the running test is skipped, and why, where the test runner's
/// output capture does not hide it (a direct write to stderr, not
/// `eprintln!`). Skipping happens only when not real root: as root (CI),
/// nothing is ever skipped.
pub fn skip(reason: &str) {
    use std::io::Write;
    let line = format!("nstest: SKIPPED {}: {reason}\n", test_name());
    let _ = io::stderr().write_all(line.as_bytes());
}

/// Whether the running test may go on: `true` as real root; otherwise the
/// test is reported skipped with `reason` (what it needs that only real root
/// has, such as other uids for `setpriv` or mounts for `ip netns add`).
pub fn require_real_root(reason: &str) -> bool {
    if *mode() == Mode::RealRoot {
        return true;
    }
    skip(&format!("needs real root: {reason}"));
    false
}

/// Whether the running test may load BPF programs that call
/// `bpf_sock_destroy` (tcpdrop's `--method bpf`): as real root (the kernel
/// checks `CAP_BPF` and `CAP_PERFMON` in the initial user namespace) on
/// Linux 6.5 or later that publishes its BTF; otherwise the test is
/// reported skipped, saying which is missing.
pub fn require_bpf() -> bool {
    if !require_real_root("loading BPF programs needs CAP_BPF in the initial user namespace") {
        return false;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let version = (
        parts.next().and_then(|p| p.parse::<u32>().ok()),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    );
    let recent = matches!(version, (Some(major), Some(minor)) if (major, minor) >= (6, 5));
    if !recent || !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        skip(&format!(
            "needs Linux 6.5 or later with BTF (/sys/kernel/btf/vmlinux) for bpf_sock_destroy; \
             this is {}",
            release.trim()
        ));
        return false;
    }
    true
}

/// Whether the program `tool` is on `PATH`; if not, the running test is
/// reported skipped with the Debian package that brings it (as root in CI
/// that fails the run, as every skip does). A test that needs a tool asks
/// first, so a missing one is a line saying so, never a panic.
pub fn require_tool(tool: &str, package: &str) -> bool {
    let found = installed(tool);
    if !found {
        skip(&format!(
            "needs {tool}, which is not installed (apt-get install {package}; `make test` as root installs it)"
        ));
    }
    found
}

/// Whether the program `tool` is on `PATH` or in `/usr/sbin` or `/sbin`
/// (where Debian puts `insmod`, `nft` and `setcap`, off a normal user's
/// `PATH`).
pub fn installed(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir: std::path::PathBuf| dir.join(tool).is_file())
}

/// Run `body` in a fresh network namespace with `lo` up, on its own thread.
///
/// As root, the thread unshares its network namespace. As a normal user
/// who may make user namespaces, the test re-runs itself (`--exact`) under
/// `unshare --user --map-root-user`, where it is root of its own user and
/// network namespaces, and this call returns once that run passed, failing
/// the test if it did not. Where neither works the test is skipped, saying
/// why.
pub fn in_netns(body: impl FnOnce() + Send) {
    match mode() {
        Mode::RealRoot | Mode::UserNamespace => in_own_netns(body),
        Mode::Unprivileged => rerun_in_user_namespace(),
        Mode::Unavailable(reason) => skip(reason),
    }
}

/// Raise the soft limit on open files to the hard limit, once: some tests
/// open more than a thousand sockets, past the usual soft limit of 1024
/// that a normal user's shell starts with.
fn raise_open_files_limit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the rlimit we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    });
}

fn in_own_netns(body: impl FnOnce() + Send) {
    raise_open_files_limit();
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: unshare(2) with CLONE_NEWNET touches only this
                // thread's namespace membership.
                let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                assert_eq!(
                    rc,
                    0,
                    "unshare(CLONE_NEWNET) failed: {} (the tests need root)",
                    io::Error::last_os_error()
                );
                lo_up();
                body()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A process with threads cannot enter a new user namespace, so the test
/// binary runs this one test again, alone, in a new one.
fn rerun_in_user_namespace() {
    let name = test_name();
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--"])
        .arg(&exe)
        .args([name.as_str(), "--exact", "--test-threads=1", "--nocapture"])
        .env(INNER, "1")
        .output()
        .expect("run unshare(1)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in stderr.lines().filter(|l| l.starts_with("nstest: SKIPPED")) {
        use std::io::Write;
        let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
    }
    // A filter that matched nothing also exits 0: demand the one test ran.
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} in a user namespace failed:\n{stdout}\n{stderr}"
    );
}

/// Bring `lo` up in the calling thread's network namespace (`SIOCSIFFLAGS`).
pub fn lo_up() {
    // SAFETY: a plain datagram socket used only for the ioctls below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: req is a valid ifreq naming "lo"; the union's flags member is
    // the one SIOCGIFFLAGS/SIOCSIFFLAGS use.
    unsafe {
        assert_eq!(
            libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req),
            0,
            "SIOCGIFFLAGS lo"
        );
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        assert_eq!(
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &req),
            0,
            "SIOCSIFFLAGS lo: {}",
            io::Error::last_os_error()
        );
        libc::close(fd);
    }
}

/// A listener on `addr` (`"127.0.0.1:0"` picks a free port).
pub fn listen(addr: &str) -> TcpListener {
    TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"))
}

/// A dual-stack listener on `[::]:port` that also accepts IPv4 (mapped).
pub fn listen_dual(port: u16) -> TcpListener {
    // std's IPv6 listeners are dual-stack by default on Linux (bindv6only=0),
    // but set IPV6_V6ONLY=0 explicitly so the test does not depend on sysctl.
    // SAFETY: plain socket calls on a descriptor we own.
    unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        let zero: libc::c_int = 0;
        let one: libc::c_int = 1;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&zero as *const libc::c_int).cast(),
            len,
        );
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            len,
        );
        let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
        sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        sa.sin6_port = port.to_be();
        let rc = libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind [::]:{port}: {}", io::Error::last_os_error());
        assert_eq!(libc::listen(fd, 128), 0);
        use std::os::fd::FromRawFd;
        TcpListener::from_raw_fd(fd)
    }
}

/// An established connection: (client end, server end).
pub fn connect(listener: &TcpListener) -> (TcpStream, TcpStream) {
    let mut addr = listener.local_addr().expect("local_addr");
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => "127.0.0.1".parse().expect("ip"),
            SocketAddr::V6(_) => "::1".parse().expect("ip"),
        });
    }
    connect_to(listener, addr)
}

/// An established connection to `addr`, accepted by `listener`.
pub fn connect_to(listener: &TcpListener, addr: SocketAddr) -> (TcpStream, TcpStream) {
    let client = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// A TIME-WAIT socket: the client closes first, the server answers the FIN
/// and closes, leaving the client's end in TIME-WAIT. Returns its local
/// address.
pub fn time_wait(listener: &TcpListener) -> SocketAddr {
    let (client, mut server) = connect(listener);
    let local = client.local_addr().expect("local_addr");
    client.shutdown(Shutdown::Write).expect("shutdown");
    let mut buf = [0u8; 1];
    assert_eq!(server.read(&mut buf).expect("read EOF"), 0);
    drop(server);
    // Wait for the client's socket to take the server's FIN.
    std::thread::sleep(Duration::from_millis(50));
    drop(client);
    local
}

/// The errno a blocking read on `stream` fails with, within a second
/// (`None` if it returned data, EOF, or timed out).
pub fn read_errno(stream: &mut TcpStream) -> Option<i32> {
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 16];
    match stream.read(&mut buf) {
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
            None
        }
        Err(e) => e.raw_os_error(),
    }
}

/// The socket's pending error (`SO_ERROR`), read without consuming data.
pub fn so_error(stream: &TcpStream) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt with a correctly sized out-buffer.
    unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        );
    }
    err
}

/// How many segments the socket of `stream` has received (`tcpi_segs_in`
/// of `TCP_INFO`, Linux 4.2+): whether anything reached it.
pub fn segments_in(stream: &TcpStream) -> u32 {
    // struct tcp_info: tcpi_segs_in is the u32 at offset 140
    // (include/uapi/linux/tcp.h).
    const SEGS_IN: usize = 140;
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", io::Error::last_os_error());
    assert!(
        len as usize >= SEGS_IN + 4,
        "tcp_info too short: {len} bytes"
    );
    let mut word = [0u8; 4];
    word.copy_from_slice(&info[SEGS_IN..SEGS_IN + 4]);
    u32::from_ne_bytes(word)
}

/// Whether `listener` still accepts: a new connection to it is accepted.
pub fn still_accepts(listener: &TcpListener) -> bool {
    listener.set_nonblocking(false).ok();
    let mut addr = listener.local_addr().expect("local_addr");
    if addr.ip().is_unspecified() {
        addr.set_ip("127.0.0.1".parse().expect("ip"));
    }
    match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
        Ok(_c) => listener.accept().is_ok(),
        Err(_) => false,
    }
}

/// Whether the connection whose two ends are `a` and `b` still carries
/// data both ways: neither end was aborted or reset.
pub fn carries_data(a: &mut TcpStream, b: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1];
    a.write_all(b"x").is_ok()
        && b.read_exact(&mut buf).is_ok()
        && b.write_all(b"y").is_ok()
        && a.read_exact(&mut buf).is_ok()
}

/// Run `ss` with `args` in the calling thread's namespace; its stdout.
pub fn ss(args: &[&str]) -> String {
    let out = Command::new("ss")
        .args(args)
        .output()
        .expect("run ss (iproute2)");
    assert!(
        out.status.success(),
        "ss {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("ss output is UTF-8")
}

/// `ss -tanH state all` as sorted `(STATE, local, remote)` triples, with
/// v4-mapped addresses (`[::ffff:1.2.3.4]:80`) written as IPv4 and
/// `*` ports as 0, so they compare with tcpdrop's listing.
pub fn ss_rows() -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = ss(&["-tanH", "state", "all"])
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 5 {
                return None;
            }
            Some((
                cols[0].to_string(),
                normalize_ss_addr(cols[3]),
                normalize_ss_addr(cols[4]),
            ))
        })
        .collect();
    rows.sort();
    rows
}

/// `ss`'s way of writing an address, turned into Rust's `SocketAddr` text.
pub fn normalize_ss_addr(addr: &str) -> String {
    let (host, port) = addr.rsplit_once(':').expect("ss address has a port");
    let port = if port == "*" { "0" } else { port };
    let host = host
        .strip_prefix("[::ffff:")
        .and_then(|h| h.strip_suffix(']'))
        .map(str::to_string)
        .unwrap_or_else(|| host.to_string());
    let host = match host.as_str() {
        // ss writes the unspecified address of a dual-stack socket as `*`.
        "*" | "[::]" | "[*]" => "[::]".to_string(),
        h => h.to_string(),
    };
    format!("{host}:{port}")
}

/// Close `stream` with a reset (`SO_LINGER` 0), so no TIME-WAIT is left.
pub fn abort_close(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// `ss ARGS` (e.g. `["-tanH", "sport", "=", ":80"]`) as sorted `(STATE,
/// local, remote)` triples, normalized as [`ss_rows`] does. STATE is empty
/// when `ss` leaves out its State column, which it does when the filter
/// selects a single state.
pub fn ss_rows_with(args: &[&str]) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = ss(args)
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            match cols.as_slice() {
                [state, _, _, local, remote, ..] => Some((
                    state.to_string(),
                    normalize_ss_addr(local),
                    normalize_ss_addr(remote),
                )),
                [_, _, local, remote] => Some((
                    String::new(),
                    normalize_ss_addr(local),
                    normalize_ss_addr(remote),
                )),
                _ => None,
            }
        })
        .collect();
    rows.sort();
    rows
}

/// An established connection from the client address `from` (a chosen
/// source address and port; port 0 lets the kernel pick) to `to`, accepted
/// by `listener`: (client end, server end).
pub fn connect_from(
    from: SocketAddr,
    to: SocketAddr,
    listener: &TcpListener,
) -> (TcpStream, TcpStream) {
    use std::os::fd::FromRawFd;
    let (family, storage, len) = raw_sockaddr(from);
    let (_, to_storage, to_len) = raw_sockaddr(to);
    // SAFETY: plain socket calls on a descriptor we own, with sockaddr
    // buffers of the lengths given.
    let client = unsafe {
        let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        let rc = libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len);
        assert_eq!(rc, 0, "bind {from}: {}", io::Error::last_os_error());
        let rc = libc::connect(
            fd,
            (&to_storage as *const libc::sockaddr_storage).cast(),
            to_len,
        );
        assert_eq!(
            rc,
            0,
            "connect {from} -> {to}: {}",
            io::Error::last_os_error()
        );
        stream
    };
    let (server, _) = listener.accept().expect("accept");
    (client, server)
}

/// `addr` as a C socket address: (family, storage, length).
pub(crate) fn raw_sockaddr(
    addr: SocketAddr,
) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any
            // socket address.
            let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            (libc::AF_INET, storage, len)
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            sin6.sin6_scope_id = v6.scope_id();
            let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            (libc::AF_INET6, storage, len)
        }
    }
}

/// Add `addr/len` to `lo` in the calling thread's namespace and wait until
/// it can be used: the kernel installs an IPv6 address's local route from a
/// work queue, even with `nodad`, so a connect right after `ip addr add` can
/// fail with ENETUNREACH.
pub fn add_address(addr_with_len: &str) {
    add_address_to("lo", addr_with_len);
}

/// [`add_address`] on the device `dev`.
pub fn add_address_to(dev: &str, addr_with_len: &str) {
    let mut args = vec!["addr", "add", addr_with_len, "dev", dev];
    // `nodad` is for IPv6 only.
    if addr_with_len.contains(':') {
        args.push("nodad");
    }
    let status = Command::new("ip")
        .args(&args)
        .status()
        .expect("run ip (iproute2)");
    assert!(status.success(), "ip addr add {addr_with_len} dev {dev}");
    let host = addr_with_len.split('/').next().unwrap_or(addr_with_len);
    let ip: std::net::IpAddr = host.parse().expect("an address");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        // A datagram to the address itself arrives only once the local
        // route is in place.
        if let Ok(receiver) = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)) {
            receiver
                .set_read_timeout(Some(Duration::from_millis(50)))
                .ok();
            let target = receiver.local_addr().expect("local_addr");
            let sender = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).expect("udp");
            let mut buf = [0u8; 1];
            if sender.send_to(b"x", target).is_ok() && receiver.recv(&mut buf).is_ok() {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{host} never became usable"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process that owns one connection: it connected to a listener of
/// the test, then blocks reading from it, and reports how the read ended.
///
/// Made with a bare `fork(2)` (no `exec`), so it is in the network namespace
/// of the thread that made it, and does nothing after the fork but system
/// calls. It closes every descriptor it inherited but its report pipe, so it
/// owns exactly its own socket. Killed when dropped.
pub struct OwnerChild {
    pid: libc::pid_t,
    report: std::fs::File,
    local: SocketAddr,
    reaped: bool,
}

/// Fork a child that connects to `to` (a loopback address; the test accepts
/// the connection on its listener), names itself `comm` (`PR_SET_NAME`, at
/// most 15 bytes) and, with `uid`, first becomes that user and group.
pub fn spawn_owner(to: SocketAddr, comm: &str, uid: Option<u32>) -> OwnerChild {
    spawn_owner_with(to, comm.as_bytes(), uid, None)
}

/// [`spawn_owner`] with a command name of any bytes but NUL: invalid
/// UTF-8, control characters, escape sequences, as `PR_SET_NAME` allows.
pub fn spawn_owner_named(to: SocketAddr, comm: &[u8], uid: Option<u32>) -> OwnerChild {
    spawn_owner_with(to, comm, uid, None)
}

/// [`spawn_owner_named`], and with `dumpable` the child then sets its
/// dumpable flag (`PR_SET_DUMPABLE`): a child that changed uid is not
/// dumpable unless it says so, and `pidfd_getfd(2)` and `/proc/PID/fd` of a
/// process that is not dumpable need `CAP_SYS_PTRACE`, even for its own uid.
pub fn spawn_owner_with(
    to: SocketAddr,
    comm: &[u8],
    uid: Option<u32>,
    dumpable: Option<bool>,
) -> OwnerChild {
    use std::io::Read as _;
    use std::os::fd::FromRawFd;
    let name = std::ffi::CString::new(comm).expect("comm without NUL");
    let (family, storage, len) = raw_sockaddr(to);
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [read_end, write_end] = fds;
    // SAFETY: the child runs only async-signal-safe system calls on data
    // prepared before the fork, then _exit; it never returns into Rust code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: as above; every pointer is to memory prepared before fork.
        unsafe { owner_child(write_end, &name, uid, dumpable, family, &storage, len) }
    }
    // SAFETY: the parent's copy of the write end is ours to close; the read
    // end becomes a File that owns it.
    let mut report = unsafe {
        libc::close(write_end);
        std::fs::File::from_raw_fd(read_end)
    };
    let mut hello = [0u8; 8];
    report
        .read_exact(&mut hello)
        .expect("the owner child reports its connection");
    let status = i32::from_ne_bytes([hello[0], hello[1], hello[2], hello[3]]);
    assert_eq!(
        status,
        0,
        "owner child could not connect to {to}: {}",
        io::Error::from_raw_os_error(status)
    );
    let port = u16::from_be_bytes([hello[4], hello[5]]);
    OwnerChild {
        pid,
        report,
        local: SocketAddr::new(to.ip(), port),
        reaped: false,
    }
}

/// Write `words` (at most two) to descriptor 3, the report pipe of a
/// forked child.
///
/// # Safety
///
/// Call only in a forked child whose descriptor 3 is its report pipe.
unsafe fn say(words: &[i32]) {
    let mut buf = [0u8; 8];
    for (chunk, w) in buf.chunks_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_ne_bytes());
    }
    let n = words.len().min(2) * 4;
    // SAFETY: buf outlives the call and holds at least n bytes.
    unsafe { libc::write(3, buf.as_ptr().cast(), n) };
}

/// The child's side of [`spawn_owner`]; reports on descriptor 3.
///
/// # Safety
///
/// Call only in a freshly forked child: it closes descriptors it does not own.
unsafe fn owner_child(
    report: libc::c_int,
    name: &std::ffi::CStr,
    uid: Option<u32>,
    dumpable: Option<bool>,
    family: libc::c_int,
    to: &libc::sockaddr_storage,
    to_len: libc::socklen_t,
) -> ! {
    // SAFETY: the caller guarantees a forked child; each call below is a
    // plain system call on memory that lives until _exit.
    unsafe {
        let fail = || -> ! {
            say(&[*libc::__errno_location(), 0]);
            libc::_exit(1)
        };
        if report != 3 {
            libc::dup2(report, 3);
        }
        libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_NAME, name.as_ptr());
        if let Some(uid) = uid {
            // Raw system calls: this process has one thread, and glibc's
            // wrappers would try to reach others.
            if libc::syscall(libc::SYS_setresgid, uid, uid, uid) != 0
                || libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0
            {
                fail();
            }
        }
        if let Some(dumpable) = dumpable {
            libc::prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(dumpable));
        }
        let fd = libc::socket(family, libc::SOCK_STREAM, 0);
        if fd < 0 || libc::connect(fd, (to as *const libc::sockaddr_storage).cast(), to_len) != 0 {
            fail();
        }
        let mut me: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        libc::getsockname(
            fd,
            (&mut me as *mut libc::sockaddr_storage).cast(),
            &mut len,
        );
        // sin_port and sin6_port both sit at offset 2, in network order.
        let bytes =
            std::slice::from_raw_parts((&me as *const libc::sockaddr_storage).cast::<u8>(), 4);
        say(&[0, i32::from_ne_bytes([bytes[2], bytes[3], 0, 0])]);
        hold(fd)
    }
}

/// Block reading from `fd` (20 s at most), report how the read ended on
/// descriptor 3, and exit.
///
/// # Safety
///
/// Call only in a forked child whose descriptor 3 is its report pipe.
unsafe fn hold(fd: libc::c_int) -> ! {
    // SAFETY: plain system calls on memory that lives until _exit.
    unsafe {
        let timeout = libc::timeval {
            tv_sec: 20,
            tv_usec: 0,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
        let mut byte = 0u8;
        let n = libc::read(fd, (&mut byte as *mut u8).cast(), 1);
        let outcome = match n {
            n if n < 0 => *libc::__errno_location(),
            0 => 0,
            _ => -1,
        };
        say(&[outcome]);
        libc::_exit(0)
    }
}

/// Put `stream` in flight: send it (`SCM_RIGHTS`) into a unix socket pair
/// and close this process's descriptor, so that the socket stays open with
/// no descriptor of any process on it, as long as the returned end of the
/// pair, which never reads it, lives.
pub fn in_flight(stream: TcpStream) -> std::os::unix::net::UnixStream {
    let (keep, send) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let fd = stream.as_raw_fd();
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: msghdr is plain old data; the pointers set below outlive the
    // sendmsg call, and the control buffer has room for one descriptor.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
        let sent = libc::sendmsg(send.as_raw_fd(), &msg, 0);
        assert_eq!(
            sent,
            1,
            "sendmsg SCM_RIGHTS: {}",
            io::Error::last_os_error()
        );
    }
    drop(stream);
    drop(send);
    keep
}

/// Hand `stream` over to a child process that holds it and nothing else,
/// named `comm` (`PR_SET_NAME`, at most 15 bytes): the child blocks
/// reading from it as a [`spawn_owner`] child does, and this process keeps
/// no descriptor on it. For a connection made in a way `spawn_owner`
/// cannot (bound to a device, from a chosen port).
pub fn hand_over(stream: TcpStream, comm: &str) -> OwnerChild {
    let name = std::ffi::CString::new(comm).expect("comm without NUL");
    let local = stream.local_addr().expect("local_addr");
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [read_end, write_end] = fds;
    let sock = stream.as_raw_fd();
    // SAFETY: the child runs only async-signal-safe system calls on data
    // prepared before the fork, then _exit; it never returns into Rust code.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: as above. The socket is first moved out of the way of
        // descriptors 3 (the report) and 4 (where it is held).
        unsafe {
            let kept = libc::fcntl(sock, libc::F_DUPFD, 10);
            libc::dup2(write_end, 3);
            libc::dup2(kept, 4);
            libc::syscall(libc::SYS_close_range, 5u32, u32::MAX, 0u32);
            libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            say(&[0, 0]);
            hold(4)
        }
    }
    drop(stream);
    // SAFETY: the parent's copy of the write end is ours to close; the read
    // end becomes a File that owns it.
    let mut report = unsafe {
        libc::close(write_end);
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(read_end)
    };
    let mut hello = [0u8; 8];
    report
        .read_exact(&mut hello)
        .expect("the holding child reports");
    OwnerChild {
        pid,
        report,
        local,
        reaped: false,
    }
}

impl OwnerChild {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// Its end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// How its blocking read ended: `Some(errno)` if it failed (ECONNABORTED
    /// when the connection was dropped; EAGAIN after 20 s of nothing),
    /// `None` for end of file or data. Waits for the child.
    pub fn read_outcome(mut self) -> Option<i32> {
        use std::io::Read as _;
        let mut buf = [0u8; 4];
        let got = self.report.read_exact(&mut buf).ok();
        self.reap();
        got.and_then(|()| match i32::from_ne_bytes(buf) {
            e if e > 0 => Some(e),
            _ => None,
        })
    }

    fn reap(&mut self) {
        if self.reaped {
            return;
        }
        self.reaped = true;
        // SAFETY: pid is our own child, not yet waited for.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

impl Drop for OwnerChild {
    fn drop(&mut self) {
        self.reap();
    }
}

/// A named network namespace (`ip netns add NAME`), deleted when dropped,
/// even when the test fails.
pub struct NamedNetns {
    name: String,
}

impl NamedNetns {
    /// Make `tcpdrop-test-PID-N`, a fresh name for this test process, with
    /// `lo` up.
    pub fn add() -> NamedNetns {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("tcpdrop-test-{}-{n}", std::process::id());
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip (iproute2)");
        assert!(status.success(), "ip netns add {name}");
        let netns = NamedNetns { name };
        netns.run(lo_up);
        netns
    }

    /// Make one named `name` (which must not exist yet), with `lo` up.
    pub fn with_name(name: &str) -> NamedNetns {
        let status = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .expect("run ip (iproute2)");
        assert!(status.success(), "ip netns add {name}");
        let netns = NamedNetns {
            name: name.to_string(),
        };
        netns.run(lo_up);
        netns
    }

    /// Its name, as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Run `body` on a thread inside this namespace. Sockets made there
    /// stay in it whichever thread uses them afterwards.
    pub fn run<T: Send>(&self, body: impl FnOnce() -> T + Send) -> T {
        run_in(&format!("/run/netns/{}", self.name), body)
    }
}

/// The inodes of the packet sockets of the calling thread's network
/// namespace (`/proc/thread-self/net/packet`): the ones a test's code has
/// open there.
pub fn packet_sockets() -> Vec<u64> {
    std::fs::read_to_string("/proc/thread-self/net/packet")
        .expect("/proc/thread-self/net/packet")
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().last()?.parse().ok())
        .collect()
}

/// Run `body` on a thread moved into the network namespace whose file is
/// `path` (`/run/netns/NAME`, `/proc/PID/ns/net`); its panic is the
/// caller's.
fn run_in<T: Send>(path: &str, body: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
                // SAFETY: setns(2) on a namespace file we opened; it moves
                // only this thread.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", io::Error::last_os_error());
                body()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A network namespace that only a process holds (`unshare --net sleep`,
/// as a container's is): no name under `/run/netns`, found only as
/// `/proc/PID/ns/net`. Made with `lo` up; the process is killed when
/// dropped, and with it the namespace, once no socket holds it either.
pub struct ProcessNetns {
    child: std::process::Child,
}

impl ProcessNetns {
    /// Start the process in a new network namespace, and wait until it is
    /// there.
    pub fn spawn() -> ProcessNetns {
        let child = Command::new("unshare")
            .args(["--net", "--", "sleep", "infinity"])
            .spawn()
            .expect("run unshare(1) (util-linux)");
        let netns = ProcessNetns { child };
        // unshare(1) calls unshare(2), then executes sleep: once the
        // command is sleep, the namespace is the new one.
        let comm = format!("/proc/{}/comm", netns.pid());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&comm).map_or(true, |c| c.trim_end() != "sleep") {
            assert!(
                std::time::Instant::now() < deadline,
                "unshare --net never ran sleep"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        netns.run(lo_up);
        netns
    }

    /// The process holding it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `/proc/PID/ns/net`: where it can be found.
    pub fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.pid())
    }

    /// Run `body` on a thread inside this namespace. Sockets made there
    /// stay in it whichever thread uses them afterwards.
    pub fn run<T: Send>(&self, body: impl FnOnce() -> T + Send) -> T {
        run_in(&self.path(), body)
    }
}

impl Drop for ProcessNetns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replay every committed input of fuzz target `target` (the corpus in
/// `fuzz/corpus/TARGET` and any crash reproducer in `fuzz/regressions/TARGET`)
/// through `run`, the same code the fuzz target runs, and fail naming each
/// input that panicked. At least `min` inputs must be there, so a moved or
/// emptied corpus fails instead of passing on nothing.
pub fn replay_fuzz_inputs(target: &str, min: usize, mut run: impl FnMut(&[u8])) {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut inputs = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read the corpus directory").path();
            let data = std::fs::read(&path).expect("read a corpus file");
            inputs.push((path, data));
        }
    }
    inputs.sort();
    assert!(
        inputs.len() >= min,
        "only {} inputs: is fuzz/corpus/{target} there?",
        inputs.len()
    );
    let failed: Vec<String> = inputs
        .iter()
        .filter(|(_, data)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(data))).is_err()
        })
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "failed on {failed:#?}");
}

/// Sockets held open for as long as this lives.
pub struct Sockets {
    _listeners: Vec<TcpListener>,
    _streams: Vec<TcpStream>,
}

/// One socket of every kind a listing must show, in the calling thread's
/// namespace: IPv4, IPv6 and dual-stack listeners, a connection to each of
/// the first two, an IPv4 connection accepted by the dual-stack listener
/// (v4-mapped), and a TIME-WAIT socket.
pub fn every_kind_of_socket() -> Sockets {
    let v4 = listen("127.0.0.1:0");
    let v6 = listen("[::1]:0");
    let dual = listen_dual(0);
    let (a, a_server) = connect(&v4);
    let (b, b_server) = connect(&v6);
    let mapped = TcpStream::connect(("127.0.0.1", dual.local_addr().expect("local_addr").port()))
        .expect("connect to the dual-stack listener");
    let (mapped_server, _) = dual.accept().expect("accept");
    time_wait(&v4);
    Sockets {
        _listeners: vec![v4, v6, dual],
        _streams: vec![a, a_server, b, b_server, mapped, mapped_server],
    }
}

pub mod uml;
