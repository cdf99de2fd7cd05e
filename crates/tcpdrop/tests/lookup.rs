//! Named tuples are found by exact lookups (no dump): what the kernel's
//! lookup finds, and what it must never be taken to find.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

use nstest::{connect, connect_to, in_netns, listen, read_errno, still_accepts};
use tcpdrop::{GoneReason, Method, Outcome, Selection, Session, State};

use crate::drop_safety::{drop_all, drop_tuple};

const ECONNABORTED: i32 = 103;

#[test]
fn the_server_end_of_a_dual_stack_listener_is_found_by_its_ipv4_tuple() {
    in_netns(|| {
        let dual = nstest::listen_dual(0);
        let to: SocketAddr = format!("127.0.0.1:{}", dual.local_addr().unwrap().port())
            .parse()
            .unwrap();
        let (mut client, mut server) = connect_to(&dual, to);
        // The server end is an AF_INET6 socket with ::ffff: addresses.
        let local = client.peer_addr().unwrap();
        let remote = client.local_addr().unwrap();
        let found = Session::new()
            .unwrap()
            .find(local, remote)
            .unwrap()
            .unwrap();
        assert!(found.mapped, "{found:?}");
        let report = drop_tuple(local, remote);
        assert!(
            matches!(report.results[..], [(_, Outcome::Dropped(Method::Destroy))]),
            "{report:?}"
        );
        assert_eq!(read_errno(&mut server), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut client), Some(104));
        assert!(still_accepts(&dual));
    });
}

#[test]
fn a_link_local_connection_is_found_with_its_scope_and_without_it() {
    in_netns(|| {
        // A link-local address on a veth interface: its connections are
        // bound to that interface, so the kernel's lookup needs the scope.
        let ip = |args: &str| {
            let ok = std::process::Command::new("ip")
                .args(args.split_whitespace())
                .status()
                .unwrap()
                .success();
            assert!(ok, "ip {args}");
        };
        ip("link add d0 type veth peer name d1");
        ip("link set d1 up");
        ip("link set d0 up");
        ip("addr add fe80::1/64 dev d0 nodad");
        let scope = Session::new().unwrap().interface_index("d0").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let bind = || loop {
            match TcpListener::bind(format!("[fe80::1%{scope}]:0")) {
                Ok(l) => break l,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("bind fe80::1%d0: {e}"),
            }
        };
        for scoped in [true, false] {
            let listener = bind();
            let (mut client, _server) = connect(&listener);
            let l = client.local_addr().unwrap();
            let r = client.peer_addr().unwrap();
            let strip = |a: SocketAddr| match a {
                SocketAddr::V6(mut v6) if !scoped => {
                    v6.set_scope_id(0);
                    SocketAddr::V6(v6)
                }
                other => other,
            };
            let report = drop_tuple(strip(l), strip(r));
            assert!(
                matches!(report.results[..], [(_, Outcome::Dropped(_))]),
                "scoped {scoped}: {report:?}"
            );
            assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
            assert!(still_accepts(&listener));
        }
    });
}

#[test]
fn a_time_wait_socket_is_found_and_dropped_by_its_tuple() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = nstest::time_wait(&listener);
        let remote = listener.local_addr().unwrap();
        let mut session = Session::new().unwrap();
        let found = session
            .find(local, remote)
            .unwrap()
            .expect("TIME-WAIT found");
        assert_eq!(found.state, State::TimeWait);
        let report = drop_tuple(local, remote);
        assert!(
            matches!(report.results[..], [(_, Outcome::Dropped(_))]),
            "{report:?}"
        );
        assert!(session.find(local, remote).unwrap().is_none());
        assert!(still_accepts(&listener));
    });
}

#[test]
fn a_syn_recv_request_is_found_and_dropped_by_its_tuple() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        // With TCP_DEFER_ACCEPT the listener ignores the bare final ACK,
        // so the connection stays a request socket (SYN-RECV).
        let secs: libc::c_int = 30;
        // SAFETY: setsockopt with a correctly sized int.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                (&secs as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let local = listener.local_addr().unwrap();
        let remote = client.local_addr().unwrap();
        let mut session = Session::new().unwrap();
        let found = session
            .find(local, remote)
            .unwrap()
            .expect("request socket found");
        assert_eq!(found.state, State::SynReceived, "{found:?}");
        let report = drop_tuple(local, remote);
        assert!(
            matches!(report.results[..], [(_, Outcome::Dropped(_))]),
            "{report:?}"
        );
        assert!(session.find(local, remote).unwrap().is_none());
        assert!(still_accepts(&listener));
    });
}

#[test]
fn a_listener_is_found_only_by_its_own_tuple_and_dropped_only_when_allowed() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = listener.local_addr().unwrap();
        let none: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let found = Session::new().unwrap().find(local, none).unwrap();
        assert!(found.is_some_and(|c| c.is_listener()));
        let report = drop_tuple(local, none);
        assert!(report.results.is_empty(), "{report:?}");
        assert_eq!(report.not_found, vec![(local, none)]);
        assert!(still_accepts(&listener));
        let report = drop_all(Selection::tuple(local, none).listeners(true));
        assert!(
            matches!(report.results[..], [(_, Outcome::Dropped(_))]),
            "{report:?}"
        );
        assert!(!still_accepts(&listener));
    });
}

#[test]
fn many_tuples_are_dropped_in_one_call_each_reported_once() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let mut pairs: Vec<_> = (0..300).map(|_| connect(&listener)).collect();
        let mut tuples: Vec<(SocketAddr, SocketAddr)> = pairs
            .iter()
            .step_by(2)
            .map(|(c, _)| (c.local_addr().unwrap(), c.peer_addr().unwrap()))
            .collect();
        // A missing one, and one named twice.
        tuples.push((
            "127.0.0.1:1".parse().unwrap(),
            listener.local_addr().unwrap(),
        ));
        tuples.push(tuples[0]);
        let report = drop_all(Selection::tuples(tuples));
        assert_eq!(report.results.len(), 150, "{:?}", report.counts());
        assert!(report
            .results
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Dropped(_))));
        assert_eq!(report.collateral.len(), 150);
        assert_eq!(report.not_found.len(), 1);
        for (i, (client, _server)) in pairs.iter_mut().enumerate() {
            let expect = if i % 2 == 0 { Some(ECONNABORTED) } else { None };
            if i % 2 == 0 || i < 6 {
                assert_eq!(read_errno(client), expect, "pair {i}");
            }
        }
        assert!(still_accepts(&listener));
    });
}

#[test]
fn a_connection_closed_before_its_drop_is_gone_closed_not_replaced() {
    in_netns(|| {
        let listener = std::rc::Rc::new(listen("127.0.0.1:0"));
        let (client, server) = connect(&listener);
        let (l, r) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        tcpdrop::testing::before_abort(move || {
            nstest::abort_close(client);
            drop(server);
        });
        let report = drop_tuple(l, r);
        assert!(
            matches!(report.results[..], [(_, Outcome::Gone(GoneReason::Closed))]),
            "{report:?}"
        );
        assert!(report.collateral.is_empty(), "{report:?}");
        assert!(still_accepts(&listener));
    });
}
