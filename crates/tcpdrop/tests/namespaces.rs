//! A session is bound to the network namespace it was made in: every socket
//! it opens for its targets (diag, raw, packet) is opened there, whichever
//! thread drops (SPEC §5, "Namespaces, again"). Each test puts the same
//! 4-tuple on both sides of the caller, in the target's namespace and in
//! the caller's own, drops the target's, and checks from outside that the
//! caller's twin still carries data.

use std::net::{SocketAddr, TcpListener, TcpStream};

use nstest::{carries_data, connect_from, in_netns, listen, read_errno, NamedNetns};
use tcpdrop::{DropOptions, DropReport, Method, Netns, Outcome, Selection, Session};

const ECONNRESET: i32 = 104;
const ECONNABORTED: i32 = 103;

/// One connection between fixed addresses: (listener, client, server).
type Pair = (TcpListener, TcpStream, TcpStream);

/// `server` listening, and a client from `from`, in the calling thread's
/// namespace.
fn twin(server: &str, from: SocketAddr) -> Pair {
    let listener = listen(server);
    let (client, accepted) = connect_from(from, listener.local_addr().unwrap(), &listener);
    (listener, client, accepted)
}

/// The same tuple in `ns` and in the caller's namespace; drop it in `ns`
/// with `method` through `session`, and check who was hit.
fn drop_in_ns_leaves_the_callers_twin(
    server: &'static str,
    from: &'static str,
    method: Method,
    session: impl FnOnce(&NamedNetns) -> Session,
) {
    let ns = NamedNetns::add();
    let from: SocketAddr = from.parse().unwrap();
    let (_l_in, mut client_in, mut server_in) = ns.run(|| twin(server, from));
    let (_l_here, mut client_here, mut server_here) = twin(server, from);
    let to = client_here.peer_addr().unwrap();

    let mut session = session(&ns);
    let mut report = DropReport::default();
    session
        .drop(
            Selection::tuple(from, to),
            DropOptions {
                method: Some(method),
            },
            &mut report,
        )
        .unwrap();
    assert!(
        matches!(report.results.as_slice(), [(_, Outcome::Dropped(m))] if *m == method),
        "{method:?}: {report:?}"
    );
    let expected = match method {
        Method::Destroy | Method::Bpf => ECONNABORTED,
        _ => ECONNRESET,
    };
    assert_eq!(
        read_errno(&mut client_in),
        Some(expected),
        "{method:?}: the target"
    );
    assert!(read_errno(&mut server_in).is_some(), "{method:?}: its peer");
    assert!(
        carries_data(&mut client_here, &mut server_here),
        "{method:?}: the caller's twin on the same tuple was hit"
    );
}

#[test]
fn inject_through_a_session_in_another_namespace_resets_only_there() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        for (server, from) in [
            ("127.0.0.1:9301", "127.0.0.1:42301"),
            ("[::1]:9302", "[::1]:42302"),
        ] {
            for method in [Method::Inject, Method::Destroy, Method::Owner, Method::Bpf] {
                if method == Method::Bpf && !nstest::require_bpf() {
                    continue;
                }
                drop_in_ns_leaves_the_callers_twin(server, from, method, |ns| {
                    Session::in_netns(&Netns::open(ns.name()).unwrap()).unwrap()
                });
            }
        }
    });
}

/// A large forced inject through a session in another namespace goes to
/// worker threads in batches, and each worker opens its raw and packet
/// sockets in the session's namespace, not its own thread's: the 2,100
/// connections there are reset, their 2,100 twins on the same tuples in
/// the caller's namespace all still carry data.
#[test]
fn a_streamed_inject_in_another_namespace_resets_only_there() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    // More than a drop finds before its aborts go to workers (2,048).
    const N: u16 = 2100;
    in_netns(|| {
        let ns = NamedNetns::add();
        let pairs = || {
            let listener = listen("127.0.0.1:9303");
            let pairs: Vec<(TcpStream, TcpStream)> = (0..N)
                .map(|i| {
                    let from = SocketAddr::from(([127, 0, 0, 1], 30_000 + i));
                    connect_from(from, listener.local_addr().unwrap(), &listener)
                })
                .collect();
            (listener, pairs)
        };
        let (_l_in, mut there) = ns.run(pairs);
        let (_l_here, mut here) = pairs();
        let mut session = Session::in_netns(&Netns::open(ns.name()).unwrap()).unwrap();
        let filter = ssfilter::Filter::parse(&["dport = :9303"]).unwrap();
        let mut report = DropReport::default();
        session
            .drop(
                Selection::matching(tcpdrop::Query::all(), filter),
                DropOptions {
                    method: Some(Method::Inject),
                },
                &mut report,
            )
            .unwrap();
        assert_eq!(
            report.results.len(),
            usize::from(N),
            "{:?}",
            report.counts()
        );
        assert!(
            report
                .results
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Dropped(Method::Inject))),
            "{:?}",
            report.counts()
        );
        for (client, server) in there.iter_mut() {
            assert_eq!(read_errno(client), Some(ECONNRESET), "the target");
            assert_eq!(read_errno(server), Some(ECONNRESET), "its peer");
        }
        for (client, server) in here.iter_mut() {
            assert!(
                carries_data(client, server),
                "a twin in the caller's namespace was hit"
            );
        }
    });
}

#[test]
fn bpf_from_a_session_used_on_another_thread_walks_the_sessions_namespace() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns")
        || !nstest::require_bpf()
    {
        return;
    }
    in_netns(|| {
        // The iterator walks the namespace of the thread that makes it:
        // made here, it would find the caller's twin, not the target.
        drop_in_ns_leaves_the_callers_twin("[::1]:9304", "[::1]:42304", Method::Bpf, |ns| {
            ns.run(|| Session::new().unwrap())
        });
    });
}

#[test]
fn a_session_made_in_a_namespace_keeps_to_it_when_used_from_another_thread() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        // Made by a thread inside the namespace, then used by this one,
        // which is in the caller's namespace.
        drop_in_ns_leaves_the_callers_twin(
            "127.0.0.1:9303",
            "127.0.0.1:42303",
            Method::Inject,
            |ns| ns.run(|| Session::new().unwrap()),
        );
    });
}

/// A follower's scans say which namespaces joined (each once, by its name
/// or the process holding it), which are found by another name since
/// (the name deleted, a process still in it), and which left (nothing
/// holds them any more); a namespace already known does not join again.
#[test]
fn a_follower_sees_namespaces_join_change_names_and_leave() {
    use std::process::Command;
    use tcpdrop::netns::NetnsFollower;

    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        let mut follower = NetnsFollower::new();
        let first = follower.scan();
        assert!(!first.joined.is_empty());
        assert!(first.left.is_empty() && first.relabelled.is_empty());

        let named = NamedNetns::add();
        let held = nstest::ProcessNetns::spawn();
        let named_id = Netns::open(named.name()).unwrap().id();
        let held_id = Netns::open(&held.path()).unwrap().id();
        let scan = follower.scan();
        let joined: Vec<(&str, _)> = scan.joined.iter().map(|ns| (ns.name(), ns.id())).collect();
        assert!(joined.contains(&(named.name(), named_id)), "{joined:?}");
        assert!(
            joined.contains(&(held.path().as_str(), held_id)),
            "{joined:?}"
        );
        let again = follower.scan();
        assert!(
            !again
                .joined
                .iter()
                .any(|ns| [named_id, held_id].contains(&ns.id())),
            "a known namespace joined again"
        );

        // A process in the named namespace, then its name deleted: the
        // same namespace, found by the process now.
        let mut inside = Command::new("ip")
            .args(["netns", "exec", named.name(), "sleep", "infinity"])
            .spawn()
            .expect("run ip netns exec");
        let inside_path = format!("/proc/{}/ns/net", inside.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Netns::open(&inside_path).map(|ns| ns.id()).ok() != Some(named_id) {
            assert!(
                std::time::Instant::now() < deadline,
                "ip netns exec never entered it"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let status = Command::new("ip")
            .args(["netns", "del", named.name()])
            .status()
            .unwrap();
        assert!(status.success());
        let scan = follower.scan();
        assert!(
            scan.relabelled.contains(&(named_id, inside_path.clone())),
            "{:?}",
            scan.relabelled
        );
        assert!(!scan.left.contains(&named_id));

        // Nothing holds either any more.
        let _ = inside.kill();
        let _ = inside.wait();
        drop(held);
        let scan = follower.scan();
        assert!(scan.left.contains(&named_id), "{:?}", scan.left);
        assert!(scan.left.contains(&held_id), "{:?}", scan.left);
        drop(named);
    });
}
