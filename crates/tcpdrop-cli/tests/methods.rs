//! `--method`: each way of aborting forced, for IPv4, IPv6 and dual-stack
//! connections, checked from both ends; a forced way never falls back.

use std::net::SocketAddr;

use nstest::{carries_data, connect, connect_to, in_netns, listen, read_errno, still_accepts};

use crate::util::{json_lines, tcpdrop};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;
const EPIPE: i32 = 32;

/// Drop `local`–`remote` with `--method method`: its row says how.
fn drop_by(method: &str, local: SocketAddr, remote: SocketAddr) {
    let run = tcpdrop(&[
        "--json",
        "--method",
        method,
        &local.to_string(),
        &remote.to_string(),
    ]);
    assert_eq!(run.code, 0, "{method}: {}", run.stderr);
    let rows = json_lines(&run.stdout);
    let row = rows
        .iter()
        .find(|r| r["local"] == local.to_string().as_str())
        .unwrap_or_else(|| panic!("{method}: no row for {local}: {rows:?}"));
    assert_eq!(row["result"], "dropped", "{rows:?}");
    assert_eq!(row["method"], method, "{rows:?}");
}

#[test]
fn each_method_drops_ipv4_ipv6_and_dual_stack_connections() {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        let dual = nstest::listen_dual(0);
        let dual_v4: SocketAddr = format!("127.0.0.1:{}", dual.local_addr().unwrap().port())
            .parse()
            .unwrap();
        for method in ["destroy", "owner", "inject", "bpf"] {
            if method == "bpf" && !nstest::require_bpf() {
                continue;
            }
            let pairs = [
                connect(&v4),
                connect(&v6),
                // The server end of this one is an AF_INET6 socket
                // (::ffff:127.0.0.1), named by its IPv4 tuple.
                {
                    let (c, s) = connect_to(&dual, dual_v4);
                    (s, c)
                },
            ];
            let mut bystander = connect(&v4);
            for (mut mine, mut peer) in pairs {
                // A v4-mapped end is named (and shown) by its IPv4 address.
                let v4 = |a: SocketAddr| SocketAddr::new(tcpdrop::canonical_ip(a.ip()), a.port());
                let (l, r) = (
                    v4(mine.local_addr().unwrap()),
                    v4(mine.peer_addr().unwrap()),
                );
                drop_by(method, l, r);
                let holder = read_errno(&mut mine);
                let expected: &[i32] = match method {
                    "destroy" | "bpf" => &[ECONNABORTED],
                    _ => &[ECONNRESET, EPIPE],
                };
                assert!(
                    holder.is_some_and(|e| expected.contains(&e)),
                    "{method} {l}: the holder saw {holder:?}"
                );
                assert_eq!(
                    read_errno(&mut peer),
                    Some(ECONNRESET),
                    "{method} {l}: peer"
                );
            }
            assert!(
                carries_data(&mut bystander.0, &mut bystander.1),
                "{method}: a bystander was hit"
            );
        }
        assert!(still_accepts(&v4) && still_accepts(&v6) && still_accepts(&dual));
    });
}

#[test]
fn a_forced_owner_never_falls_back_for_a_socket_no_process_holds() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = nstest::time_wait(&listener);
        let remote = listener.local_addr().unwrap();
        // A dry run says so first, and exits as the drop does.
        let dry = tcpdrop(&[
            "-n",
            "--method",
            "owner",
            &local.to_string(),
            &remote.to_string(),
        ]);
        assert_eq!(dry.code, 3, "{}", dry.stderr);
        assert!(dry.stdout.starts_with("would-fail "), "{}", dry.stdout);
        assert!(dry.stdout.contains("no process holds"), "{}", dry.stdout);
        let run = tcpdrop(&["--method", "owner", &local.to_string(), &remote.to_string()]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(run.stdout.contains("no process holds"), "{}", run.stdout);
        // Still there: nothing else was tried.
        let there = tcpdrop::Session::new()
            .unwrap()
            .find(local, remote)
            .unwrap();
        assert!(there.is_some());
        // Auto, where the kernel cannot destroy, goes on to inject for it.
        let run = crate::util::tcpdrop_with_faults(
            "destroy=EOPNOTSUPP",
            &["--json", &local.to_string(), &remote.to_string()],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains("\"method\":\"inject\""),
            "{}",
            run.stdout
        );
        let there = tcpdrop::Session::new()
            .unwrap()
            .find(local, remote)
            .unwrap();
        assert!(there.is_none());
    });
}

#[test]
fn a_forced_bpf_never_falls_back_for_a_time_wait_socket() {
    if !nstest::require_bpf() {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = nstest::time_wait(&listener);
        let remote = listener.local_addr().unwrap();
        let run = tcpdrop(&["--method", "bpf", &local.to_string(), &remote.to_string()]);
        assert_eq!(run.code, 3, "{}", run.stderr);
        assert!(
            run.stdout
                .contains("bpf cannot abort a TIME-WAIT or SYN-RECV socket"),
            "{}",
            run.stdout
        );
        // Still there: nothing else was tried.
        let there = tcpdrop::Session::new()
            .unwrap()
            .find(local, remote)
            .unwrap();
        assert!(there.is_some());
        assert!(still_accepts(&listener));
    });
}

#[test]
fn a_forced_bpf_drops_every_client_of_a_port_and_spares_the_rest() {
    if !nstest::require_bpf() {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let other = listen("[::1]:0");
        let mut chosen: Vec<_> = (0..50).map(|_| connect(&listener)).collect();
        let mut spared: Vec<_> = (0..5).map(|_| connect(&other)).collect();
        let run = tcpdrop(&["--json", "--method", "bpf", &format!("dport = :{port}")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        let dropped = rows.iter().filter(|r| r["result"] == "dropped").count();
        let collateral = rows.iter().filter(|r| r["collateral"] == true).count();
        assert_eq!((dropped, collateral), (50, 50), "{rows:?}");
        assert!(rows
            .iter()
            .filter(|r| r["result"] == "dropped")
            .all(|r| r["method"] == "bpf"));
        for (c, s) in &mut chosen {
            assert_eq!(read_errno(c), Some(ECONNABORTED));
            assert_eq!(read_errno(s), Some(ECONNRESET));
        }
        for (c, s) in &mut spared {
            assert!(carries_data(c, s), "a bystander was hit");
        }
        assert!(still_accepts(&listener) && still_accepts(&other));
    });
}
