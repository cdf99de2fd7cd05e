use nstest::{connect, in_netns, listen, read_errno, still_accepts};
use tcpdrop::{DropOptions, Error, GoneReason, Outcome, Session};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

#[test]
fn exact_drop_aborts_the_owner_and_resets_the_peer() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let (_other_client, _other_server) = connect(&listener);
        let report = Session::new()
            .unwrap()
            .drop_tuple(
                client.local_addr().unwrap(),
                client.peer_addr().unwrap(),
                DropOptions::default(),
            )
            .expect("drop");
        assert_eq!(report.results.len(), 1);
        assert!(
            matches!(report.results[0].1, Outcome::Dropped),
            "{report:?}"
        );
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut server), Some(ECONNRESET));
        // The server end, reset by the drop, is reported as collateral.
        assert_eq!(report.collateral.len(), 1, "{report:?}");
        assert_eq!(report.collateral[0].local, server.local_addr().unwrap());
        assert!(still_accepts(&listener));
    });
}

#[test]
fn a_missing_tuple_leaves_the_listener_accepting() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let local = format!("127.0.0.1:{port}").parse().unwrap();
        let remote = "127.0.0.1:1".parse().unwrap();
        let err = Session::new()
            .unwrap()
            .drop_tuple(local, remote, DropOptions::default())
            .unwrap_err();
        assert!(matches!(err, Error::NotFound), "{err:?}");
        assert!(still_accepts(&listener));
    });
}

#[test]
fn a_stale_row_is_gone_and_the_new_connection_on_its_tuple_survives() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let mut session = Session::new().unwrap();
        // A client with a fixed port, so the new connection reuses the tuple.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let connect_from = |port: u16| {
            use std::os::fd::FromRawFd;
            // SAFETY: plain socket calls on a descriptor we own.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                let one: libc::c_int = 1;
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_REUSEADDR,
                    (&one as *const libc::c_int).cast(),
                    4,
                );
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as u16;
                sa.sin_port = port.to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
                assert_eq!(
                    libc::bind(fd, (&sa as *const libc::sockaddr_in).cast(), 16),
                    0
                );
                sa.sin_port = listener.local_addr().unwrap().port().to_be();
                assert_eq!(
                    libc::connect(fd, (&sa as *const libc::sockaddr_in).cast(), 16),
                    0
                );
                std::net::TcpStream::from_raw_fd(fd)
            }
        };
        let old = connect_from(port);
        let (old_server, _) = listener.accept().unwrap();
        let rows = session.list(&tcpdrop::Query::all()).unwrap();
        let old_row = rows
            .into_iter()
            .find(|c| c.local == old.local_addr().unwrap())
            .expect("old connection listed");
        // Close it with RST (linger 0) so no TIME-WAIT holds the tuple.
        nstest::abort_close(old);
        drop(old_server);
        let mut new = connect_from(port);
        let (mut new_server, _) = listener.accept().unwrap();
        let results = session.drop_rows(vec![old_row]);
        assert!(
            matches!(results[0].1, Outcome::Gone(GoneReason::Replaced)),
            "{results:?}"
        );
        assert_eq!(read_errno(&mut new), None, "the new connection was hit");
        use std::io::Write;
        new_server.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        use std::io::Read;
        new.read_exact(&mut buf).unwrap();
    });
}

#[test]
fn a_port_filter_drop_finds_and_reports_the_reset_peers_by_lookup() {
    in_netns(|| {
        // Dumps for `dport = :P` are pinned to the port in the kernel and
        // do not list the server ends; their lookups must still find them,
        // an IPv4 one and a dual-stack (v4-mapped) one.
        let v4 = listen("127.0.0.1:0");
        let dual = nstest::listen_dual(0);
        let (mut c4, mut s4) = connect(&v4);
        let dual_port = dual.local_addr().unwrap().port();
        let mut c6 = std::net::TcpStream::connect(("127.0.0.1", dual_port)).unwrap();
        let (mut s6, _) = dual.accept().unwrap();
        // Connections to other ports stay.
        let other = listen("127.0.0.1:0");
        let (mut keep_c, mut keep_s) = connect(&other);

        let mut session = Session::new().unwrap();
        for (client, server, port) in [
            (&mut c4, &mut s4, v4.local_addr().unwrap().port()),
            (&mut c6, &mut s6, dual_port),
        ] {
            let text = format!("dport = :{port}");
            let filter = tcpdrop::filter::Filter::parse(&[text.as_str()]).unwrap();
            assert!(filter.ports().is_some(), "{text} is pinned to its port");
            let report = session
                .drop_matching(
                    &tcpdrop::Query::all(),
                    &filter,
                    DropOptions::default(),
                    |_| true,
                )
                .expect("drop");
            assert_eq!(report.results.len(), 1, "{text}: {report:?}");
            assert!(
                matches!(report.results[0].1, Outcome::Dropped),
                "{report:?}"
            );
            assert_eq!(report.results[0].0.local, client.local_addr().unwrap());
            assert_eq!(read_errno(client), Some(ECONNABORTED));
            assert_eq!(read_errno(server), Some(ECONNRESET));
            assert_eq!(report.collateral.len(), 1, "{text}: {report:?}");
            assert_eq!(report.collateral[0].local.port(), port);
            assert_eq!(report.collateral[0].remote, client.local_addr().unwrap());
        }
        assert!(still_accepts(&v4));
        assert!(still_accepts(&dual));
        use std::io::{Read, Write};
        keep_c.write_all(b"ok").unwrap();
        let mut buf = [0; 2];
        keep_s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ok");
    });
}

#[test]
fn the_support_probe_says_yes_here_needs_no_privilege_and_touches_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let before = nstest::ss_rows();
        // This kernel has CONFIG_INET_DIAG_DESTROY=y.
        assert!(Session::new().unwrap().destroy_supported().unwrap());
        let without_privilege = crate::winapi::without_net_admin(true, || {
            Session::new().unwrap().destroy_supported().unwrap()
        });
        assert!(without_privilege, "the probe must not need CAP_NET_ADMIN");
        assert_eq!(nstest::ss_rows(), before, "the probe touched a socket");
        assert_eq!(read_errno(&mut client), None);
        assert!(still_accepts(&listener));
    });
}
