use nstest::{connect, in_netns, listen, read_errno, still_accepts};
use std::net::SocketAddr;

use tcpdrop::{Connection, DropOptions, DropReport, Method, Outcome, Selection, Session};

/// Drop what `selection` chooses in a new session, in memory.
pub fn drop_all(selection: Selection<impl FnMut(&Connection) -> bool>) -> DropReport {
    drop_by(selection, None)
}

/// [`drop_all`] by `method` (`None`: auto).
pub fn drop_by(
    selection: Selection<impl FnMut(&Connection) -> bool>,
    method: Option<Method>,
) -> DropReport {
    let mut report = DropReport::default();
    Session::new()
        .unwrap()
        .drop(selection, DropOptions { method }, &mut report)
        .expect("drop");
    report
}

/// Drop the connection `local`–`remote`.
pub fn drop_tuple(local: SocketAddr, remote: SocketAddr) -> DropReport {
    drop_all(Selection::tuple(local, remote))
}

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

#[test]
fn exact_drop_aborts_the_owner_and_resets_the_peer() {
    exact_drop(None);
}

#[test]
fn exact_drop_by_bpf_aborts_the_owner_and_resets_the_peer() {
    exact_drop(Some(Method::Bpf));
}

/// Drop one connection by its tuple with `method` (`None`: auto, which is
/// destroy here): only it goes, its owner sees `ECONNABORTED`.
fn exact_drop(method: Option<Method>) {
    if method == Some(Method::Bpf) && !nstest::require_bpf() {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let (_other_client, _other_server) = connect(&listener);
        let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let report = drop_by(Selection::tuple(local, remote), method);
        let expected = method.unwrap_or(Method::Destroy);
        assert_eq!(report.results.len(), 1);
        assert!(
            matches!(report.results[0].1, Outcome::Dropped(m) if m == expected),
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
    a_missing_tuple(None);
}

#[test]
fn a_missing_tuple_by_bpf_leaves_the_listener_accepting() {
    a_missing_tuple(Some(Method::Bpf));
}

fn a_missing_tuple(method: Option<Method>) {
    if method == Some(Method::Bpf) && !nstest::require_bpf() {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let local = format!("127.0.0.1:{port}").parse().unwrap();
        let remote = "127.0.0.1:1".parse().unwrap();
        // Not even when listeners may be chosen: the tuple is not the
        // listener's, though the kernel's lookup falls back to it.
        for listeners in [false, true] {
            let report = drop_by(Selection::tuple(local, remote).listeners(listeners), method);
            assert!(report.results.is_empty(), "{report:?}");
            assert_eq!(report.not_found, vec![(local, remote)]);
            assert!(still_accepts(&listener));
        }
    });
}

#[test]
fn a_port_filter_drop_finds_and_reports_the_reset_peers_by_lookup() {
    port_filter_drop(None);
}

#[test]
fn a_port_filter_drop_by_bpf_finds_and_reports_the_reset_peers_by_lookup() {
    port_filter_drop(Some(Method::Bpf));
}

fn port_filter_drop(method: Option<Method>) {
    if method == Some(Method::Bpf) && !nstest::require_bpf() {
        return;
    }
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
            let filter = ssfilter::Filter::parse(&[text.as_str()]).unwrap();
            assert!(filter.ports().is_some(), "{text} is pinned to its port");
            let mut report = DropReport::default();
            session
                .drop(
                    Selection::matching(tcpdrop::Query::all(), filter),
                    DropOptions { method },
                    &mut report,
                )
                .expect("drop");
            let expected = method.unwrap_or(Method::Destroy);
            assert_eq!(report.results.len(), 1, "{text}: {report:?}");
            assert!(
                matches!(report.results[0].1, Outcome::Dropped(m) if m == expected),
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
        let without_privilege = nstest::without_net_admin(true, || {
            Session::new().unwrap().destroy_supported().unwrap()
        });
        assert!(without_privilege, "the probe must not need CAP_NET_ADMIN");
        assert_eq!(nstest::ss_rows(), before, "the probe touched a socket");
        assert_eq!(read_errno(&mut client), None);
        assert!(still_accepts(&listener));
    });
}

/// `Session::would_drop` names the way each drop would take, or why it
/// would fail, the drop's own choice, and touches nothing: the sockets it
/// was asked about still carry data, and the drop that follows takes the
/// way it named.
#[test]
fn would_drop_names_the_way_the_drop_takes_and_touches_nothing() {
    use tcpdrop::{Error, Method, Query};
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let tw = nstest::time_wait(&listener);
        let mut session = Session::new().unwrap();
        let conns: Vec<_> = crate::listed(&mut session, Selection::all(Query::all()))
            .into_iter()
            .filter(|c| !c.is_listener())
            .collect();
        assert_eq!(conns.len(), 3, "{conns:?}");
        let each = |method| DropOptions { method };
        // Auto and forced owner.
        let auto = session.would_drop(&conns, each(None));
        let owner = session.would_drop(&conns, each(Some(Method::Owner)));
        for ((conn, auto), owner) in conns.iter().zip(&auto).zip(&owner) {
            assert!(matches!(auto, Ok(Method::Destroy)), "{conn:?}: {auto:?}");
            if conn.local == tw {
                assert!(matches!(owner, Err(Error::NoHolder)), "{owner:?}");
            } else {
                assert!(matches!(owner, Ok(Method::Owner)), "{conn:?}: {owner:?}");
            }
        }
        let inject = session.would_drop(&conns, each(Some(Method::Inject)));
        assert!(
            inject.iter().all(|r| matches!(r, Ok(Method::Inject))),
            "{inject:?}"
        );
        // Touched nothing.
        assert!(nstest::carries_data(&mut client, &mut server));
        assert!(session
            .find(tw, listener.local_addr().unwrap())
            .unwrap()
            .is_some());
        // The drop goes the way it said.
        let mut report = DropReport::default();
        let selection = Selection::tuple(client.local_addr().unwrap(), client.peer_addr().unwrap());
        session
            .drop(selection, each(Some(Method::Owner)), &mut report)
            .unwrap();
        assert!(
            matches!(report.results[0].1, Outcome::Dropped(Method::Owner)),
            "{report:?}"
        );
    });
}
