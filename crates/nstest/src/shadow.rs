//! Two connections on one 4-tuple, one of them bound to a device
//! (`SO_BINDTODEVICE`): the shadowed tuple of SPEC §5, built for real in
//! the calling thread's network namespace.
//!
//! What the kernel allows, and in which order (verified on Linux 6.18):
//!
//! - Both addresses live on a veth device, [`DEVICE`] (its peer is there
//!   only so that the link is up). Traffic between two local addresses runs
//!   through loopback, but the kernel takes the device of the destination's
//!   local route as the input device (`rt_iif`), so a socket bound to
//!   [`DEVICE`] talks to a local peer as usual.
//! - The bound socket connects first (`SO_REUSEADDR`, `SO_BINDTODEVICE`,
//!   bind, connect) and carries data both ways.
//! - Its server end is closed without a segment (`TCP_REPAIR` on, then
//!   close: no FIN, no RST; needs `CAP_NET_ADMIN`): on this host both
//!   server ends would have the same 4-tuple, both unbound, and the second
//!   client's SYN would land on the first one's. The bound client stays
//!   ESTABLISHED, idle. ([`Shadow::time_wait`] instead closes the bound
//!   connection properly, leaving the bound end in TIME-WAIT.)
//! - The unbound socket binds the same address and port (`SO_REUSEADDR` on
//!   both: bind lets two such sockets share a port while neither listens)
//!   and connects to the same listener. `connect`'s uniqueness check
//!   (`__inet_check_established`) compares devices with the connecting
//!   socket's, none: a bound socket matches only its own device, so the
//!   bound one is no conflict. The other order is refused (EADDRNOTAVAIL):
//!   an unbound socket matches every device.
//! - The newer socket goes to the head of the hash chain. Every lookup by
//!   the tuple, whatever device it names, finds the unbound one first, so
//!   `SOCK_DESTROY` with the bound one's cookie is refused (ENOENT), and
//!   segments for the tuple go to the unbound one.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::process::Command;
use std::time::Duration;

use crate::{add_address_to, carries_data, raw_sockaddr};

/// The device the bound socket is bound to, which carries both addresses.
pub const DEVICE: &str = "sh0";
/// Its veth peer.
const PEER: &str = "sh1";

/// The clients' address.
pub const LOCAL_V4: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 1);
/// The listener's address.
pub const REMOTE_V4: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 2);
/// The clients' IPv6 address.
pub const LOCAL_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x66, 0, 0, 0, 0, 0, 1);
/// The listener's IPv6 address.
pub const REMOTE_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x66, 0, 0, 0, 0, 0, 2);

/// The unbound connection that shadows a bound one on the same 4-tuple.
pub struct Shadow {
    /// The unbound connection's client end: the socket every lookup by the
    /// tuple finds.
    pub client: TcpStream,
    /// Its server end.
    pub server: TcpStream,
    /// The listener both clients connected to.
    pub listener: TcpListener,
}

impl Shadow {
    /// A bound connection, ESTABLISHED, shadowed by an unbound one on the
    /// same tuple: the shadow, and the bound socket's client end (its
    /// server end is gone; see the module's text).
    pub fn established(v6: bool) -> (Shadow, TcpStream) {
        let (listener, to, from) = setup(v6);
        let mut bound = client(from, to, Some(DEVICE));
        let (mut server, _) = listener.accept().expect("accept the bound client");
        assert!(
            carries_data(&mut bound, &mut server),
            "the bound connection carries data before it is shadowed"
        );
        close_silently(server);
        let shadow = shadow(listener, to, bound.local_addr().expect("local_addr"));
        (shadow, bound)
    }

    /// A bound socket in TIME-WAIT (no process holds it), shadowed by an
    /// unbound connection on the same tuple.
    pub fn time_wait(v6: bool) -> Shadow {
        let (listener, to, from) = setup(v6);
        let bound = client(from, to, Some(DEVICE));
        let (mut server, _) = listener.accept().expect("accept the bound client");
        let local = bound.local_addr().expect("local_addr");
        bound.shutdown(Shutdown::Write).expect("shutdown");
        let mut buf = [0u8; 1];
        assert_eq!(io::Read::read(&mut server, &mut buf).expect("EOF"), 0);
        drop(server);
        // Let the bound end take the server's FIN before it is closed.
        std::thread::sleep(Duration::from_millis(50));
        drop(bound);
        shadow(listener, to, local)
    }

    /// The 4-tuple both connections have: (local, remote) of the clients.
    pub fn tuple(&self) -> (SocketAddr, SocketAddr) {
        (
            self.client.local_addr().expect("local_addr"),
            self.client.peer_addr().expect("peer_addr"),
        )
    }
}

/// The device, its addresses and a listener: (listener, its address, the
/// clients' address with port 0).
fn setup(v6: bool) -> (TcpListener, SocketAddr, SocketAddr) {
    ip(&["link", "add", DEVICE, "type", "veth", "peer", "name", PEER]);
    ip(&["link", "set", PEER, "up"]);
    ip(&["link", "set", DEVICE, "up"]);
    let (local, remote) = if v6 {
        (IpAddr::V6(LOCAL_V6), IpAddr::V6(REMOTE_V6))
    } else {
        (IpAddr::V4(LOCAL_V4), IpAddr::V4(REMOTE_V4))
    };
    let len = if v6 { 128 } else { 32 };
    add_address_to(DEVICE, &format!("{local}/{len}"));
    add_address_to(DEVICE, &format!("{remote}/{len}"));
    let listener = TcpListener::bind(SocketAddr::new(remote, 0)).expect("listen");
    let to = listener.local_addr().expect("local_addr");
    (listener, to, SocketAddr::new(local, 0))
}

/// The unbound connection from `local` to `to`, made after the bound one.
fn shadow(listener: TcpListener, to: SocketAddr, local: SocketAddr) -> Shadow {
    let client = client(local, to, None);
    let (server, _) = listener.accept().expect("accept the unbound client");
    Shadow {
        client,
        server,
        listener,
    }
}

/// A client from `from` to `to` with `SO_REUSEADDR`, bound to `device`
/// when given.
fn client(from: SocketAddr, to: SocketAddr, device: Option<&str>) -> TcpStream {
    let (family, storage, len) = raw_sockaddr(from);
    let (_, to_storage, to_len) = raw_sockaddr(to);
    // SAFETY: plain socket calls on a descriptor we own, with buffers of
    // the lengths given.
    unsafe {
        let fd = libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "SO_REUSEADDR: {}", io::Error::last_os_error());
        if let Some(device) = device {
            let rc = libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                device.as_ptr().cast(),
                device.len() as libc::socklen_t,
            );
            assert_eq!(rc, 0, "SO_BINDTODEVICE: {}", io::Error::last_os_error());
        }
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
            "connect {from} -> {to} (device {device:?}): {}",
            io::Error::last_os_error()
        );
        stream
    }
}

/// Close `stream` without sending anything: in repair mode `close` only
/// takes the socket out of the tables (`tcp_disconnect`).
fn close_silently(stream: TcpStream) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: setsockopt on a descriptor we own, with an int of its size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_REPAIR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "TCP_REPAIR (needs CAP_NET_ADMIN): {}",
        io::Error::last_os_error()
    );
    drop(stream);
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
