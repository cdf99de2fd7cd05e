//! The ways of aborting on a kernel without `SOCK_DESTROY`: user-mode Linux
//! 6.1 (`# CONFIG_INET_DIAG_DESTROY is not set`), booted by
//! [`in_user_mode_linux`] around this test binary, which there runs the
//! `uml_inner_` tests (ignored on the host, where they would prove nothing).

use std::net::SocketAddr;

use nstest::{connect, in_netns, listen, read_errno, spawn_owner_with, still_accepts, time_wait};
use sockdiag::TcpState;

use super::bpf::Bpf;
use super::inject::Inject;
use super::owner::Owner;
use super::tests_util::{as_user, find, target, CHILD_UID};
use super::{Abort, Target};
use crate::error::Error;

/// Why the inner tests are ignored on the host.
const INNER: &str = "runs inside user-mode Linux, booted by in_user_mode_linux";

#[test]
fn in_user_mode_linux() {
    nstest::uml::run_tests_inside("abort::uml_tests::uml_inner_", 7);
}

fn inside_uml() {
    assert!(nstest::uml::inside(), "{INNER}, not on the host");
}

fn abort_with(method: &mut dyn Abort, targets: &[Target]) -> Vec<Result<(), Error>> {
    let mut results = Vec::new();
    method.abort(targets, &mut results);
    assert_eq!(results.len(), targets.len());
    results
}

fn owner(targets: &[Target]) -> Vec<Result<(), Error>> {
    let mut diag = sockdiag::Client::new().unwrap();
    abort_with(&mut Owner::new(&mut diag), targets)
}

fn inject(targets: &[Target]) -> Vec<Result<(), Error>> {
    let mut diag = sockdiag::Client::new().unwrap();
    let here = crate::netns::Netns::current().unwrap();
    let mut inject = Inject::new(&mut diag, Some(&here));
    abort_with(&mut inject, targets)
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by in_user_mode_linux"]
fn uml_inner_sock_destroy_is_refused_with_eopnotsupp() {
    inside_uml();
    in_netns(|| {
        assert!(!crate::session::Session::new()
            .unwrap()
            .destroy_supported()
            .unwrap());
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let t = target(client.local_addr().unwrap(), server.local_addr().unwrap());
        let mut diag = sockdiag::Client::new().unwrap();
        match diag.destroy(t.family, &t.id) {
            Err(sockdiag::Error::NotSupported { errno }) => {
                assert_eq!(errno, libc::EOPNOTSUPP)
            }
            other => panic!("SOCK_DESTROY answered {other:?}"),
        }
        assert_eq!(read_errno(&mut client), None);
        assert_eq!(read_errno(&mut server), None);
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by in_user_mode_linux"]
fn uml_inner_owner_aborts_a_real_connection() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let child = spawn_owner_with(to, b"holder", None, None);
        let (mut server, _) = listener.accept().unwrap();
        let results = owner(&[target(child.local_addr(), to)]);
        assert!(results[0].is_ok(), "{results:?}");
        let outcome = child.read_outcome();
        assert!(
            matches!(outcome, Some(libc::ECONNRESET | libc::EPIPE)),
            "the holder saw {outcome:?}"
        );
        assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET), "peer");
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by in_user_mode_linux"]
fn uml_inner_inject_aborts_real_connections() {
    inside_uml();
    in_netns(|| {
        // .ci/uml/run loads the kernel's IPv6 module.
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let listener = listen(addr);
            let (mut client, mut server) = connect(&listener);
            let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
            let results = inject(&[target(local, remote)]);
            assert!(results[0].is_ok(), "{addr}: {results:?}");
            assert_eq!(read_errno(&mut client), Some(libc::ECONNRESET), "holder");
            assert_eq!(read_errno(&mut server), Some(libc::ECONNRESET), "peer");
            assert!(find(local, remote).is_none());
        }
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by in_user_mode_linux"]
fn uml_inner_inject_aborts_a_time_wait_socket() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = time_wait(&listener);
        let remote = listener.local_addr().unwrap();
        let t = target(local, remote);
        assert_eq!(t.state, TcpState::TimeWait);
        let results = inject(&[t]);
        assert!(results[0].is_ok(), "{results:?}");
        assert!(find(local, remote).is_none());
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by in_user_mode_linux"]
fn uml_inner_a_missing_tuple_with_a_listener_on_its_port_leaves_the_listener_alone() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (client, server) = connect(&listener);
        let t = target(server.local_addr().unwrap(), client.local_addr().unwrap());
        let gone: SocketAddr = client.local_addr().unwrap();
        nstest::abort_close(client);
        drop(server);
        assert!(find(listener.local_addr().unwrap(), gone).is_none());
        assert!(matches!(owner(&[t])[0], Err(Error::NotFound)));
        assert!(matches!(inject(&[t])[0], Err(Error::NotFound)));
        assert!(still_accepts(&listener));
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by in_user_mode_linux"]
fn uml_inner_owner_refused_by_yama_names_cap_sys_ptrace_and_touches_nothing() {
    inside_uml();
    // Yama (built into UML's kernel, not the host's) at 2 lets only
    // CAP_SYS_PTRACE attach: the holder's descriptors can be read (same
    // uid, dumpable) but pidfd_getfd is refused, the refusal the /proc
    // scan cannot catch.
    let scope = "/proc/sys/kernel/yama/ptrace_scope";
    std::fs::write(scope, "2").unwrap();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let child = spawn_owner_with(to, b"holder", Some(CHILD_UID), Some(true));
        let (mut server, _) = listener.accept().unwrap();
        let t = target(child.local_addr(), to);
        let results = as_user(CHILD_UID, || owner(&[t]));
        assert!(
            matches!(
                results[0],
                Err(Error::MissingCapability {
                    capability: "CAP_SYS_PTRACE",
                    ..
                })
            ),
            "{results:?}"
        );
        assert_eq!(read_errno(&mut server), None, "touched");
        // Root has CAP_SYS_PTRACE: the same abort goes through.
        assert!(owner(&[t])[0].is_ok());
        assert!(matches!(
            child.read_outcome(),
            Some(libc::ECONNRESET | libc::EPIPE)
        ));
    });
    std::fs::write(scope, "0").unwrap();
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by in_user_mode_linux"]
fn uml_inner_bpf_is_refused_before_6_5_with_the_reason_and_touches_nothing() {
    inside_uml();
    in_netns(|| {
        assert!(!crate::session::Session::new().unwrap().bpf_supported());
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let t = target(client.local_addr().unwrap(), server.local_addr().unwrap());
        let mut diag = sockdiag::Client::new().unwrap();
        let here = crate::netns::Netns::current().unwrap();
        let results = abort_with(
            &mut Bpf {
                client: &mut diag,
                netns: Some(&here),
            },
            &[t],
        );
        match &results[0] {
            Err(err @ Error::BpfUnsupported(reason)) => {
                assert!(reason.contains("Linux 6.5 or later"), "{reason}");
                assert!(err.is_refusal() && !err.is_privilege());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read_errno(&mut client), None);
        assert_eq!(read_errno(&mut server), None);
        assert!(still_accepts(&listener));
    });
}
