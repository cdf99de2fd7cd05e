//! The command on a real kernel without `SOCK_DESTROY`: user-mode Linux
//! 6.1 (`# CONFIG_INET_DIAG_DESTROY is not set`), booted by
//! `.ci/uml/run` around this test binary, which there runs the `uml_inner_`
//! tests (ignored on the host, where they would prove nothing). Each runs
//! the real `tcpdrop` there, as a user would, and checks the effect from
//! the sockets' side.

use std::net::SocketAddr;

use nstest::{carries_data, connect, in_netns, listen, still_accepts, time_wait};

use crate::util::{json_lines, tcpdrop, tcpdrop_unprivileged};

#[test]
fn on_a_kernel_without_sock_destroy() {
    nstest::uml::run_tests_inside("uml::uml_inner_", 6);
}

fn inside_uml() {
    assert!(nstest::uml::inside(), "runs inside user-mode Linux only");
}

/// The socket with these ends, if the kernel still has it.
fn exists(local: SocketAddr, remote: SocketAddr) -> bool {
    tcpdrop::Session::new()
        .unwrap()
        .find(local, remote)
        .unwrap()
        .is_some()
}

/// The `method` of the JSON row whose local end is `local`.
fn method_of(stdout: &str, local: SocketAddr) -> String {
    let rows = json_lines(stdout);
    let row = rows
        .iter()
        .find(|r| r["local"] == local.to_string().as_str())
        .unwrap_or_else(|| panic!("no row for {local}: {stdout}"));
    assert_eq!(row["result"], "dropped", "{stdout}");
    row["method"].as_str().unwrap_or("").to_string()
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by on_a_kernel_without_sock_destroy"]
fn uml_inner_a_tuple_a_filter_and_everything_are_dropped_and_listeners_spared() {
    inside_uml();
    in_netns(|| {
        assert!(!tcpdrop::Session::new()
            .unwrap()
            .destroy_supported()
            .unwrap());
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();

        // By tuple: through the holder (this process).
        let (client, _server) = connect(&listener);
        let (l, r) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let run = tcpdrop(&["--json", &l.to_string(), &r.to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(method_of(&run.stdout, l), "owner");
        assert!(!exists(l, r));

        // By filter, with a bystander on another port.
        let other = listen("127.0.0.1:0");
        let (mut by_c, mut by_s) = connect(&other);
        let (client, _server) = connect(&listener);
        let l = client.local_addr().unwrap();
        let run = tcpdrop(&["--json", &format!("dport = :{port}")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(method_of(&run.stdout, l), "owner");
        assert!(!exists(l, r));
        assert!(carries_data(&mut by_c, &mut by_s), "a bystander was hit");

        // Everything: every connection goes, no listener does.
        let (c2, _s2) = connect(&listener);
        let (l2, r2) = (c2.local_addr().unwrap(), c2.peer_addr().unwrap());
        let run = tcpdrop(&["-a"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!exists(l2, r2));
        assert!(!carries_data(&mut by_c, &mut by_s));
        assert!(still_accepts(&listener));
        assert!(still_accepts(&other));
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by on_a_kernel_without_sock_destroy"]
fn uml_inner_a_time_wait_socket_is_dropped_by_inject() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = time_wait(&listener);
        let remote = listener.local_addr().unwrap();
        assert!(exists(local, remote));
        let run = tcpdrop(&["--json", &local.to_string(), &remote.to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(method_of(&run.stdout, local), "inject");
        assert!(!exists(local, remote));
        assert!(still_accepts(&listener));
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by on_a_kernel_without_sock_destroy"]
fn uml_inner_a_missing_tuple_spares_the_listener_on_its_port() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let run = tcpdrop(&[&format!("127.0.0.1:{port}"), "127.0.0.1:9"]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(still_accepts(&listener));
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by on_a_kernel_without_sock_destroy"]
fn uml_inner_a_normal_user_drops_its_own_connection_and_not_anothers() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let mine = nstest::spawn_owner_with(to, b"mine", Some(65534), Some(true));
        let (_server, _) = listener.accept().unwrap();
        let local = mine.local_addr();
        let run = tcpdrop_unprivileged(&["--json", &local.to_string(), &to.to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(method_of(&run.stdout, local), "owner");
        assert!(mine.read_outcome().is_some());

        // Root's connection: refused, named, untouched.
        let (mut client, mut server) = connect(&listener);
        let (l, r) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let run = tcpdrop_unprivileged(&[&l.to_string(), &r.to_string()]);
        assert_eq!(run.code, 4, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("owner: needs CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE"),
            "{}",
            run.stderr
        );
        assert!(carries_data(&mut client, &mut server));
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by on_a_kernel_without_sock_destroy"]
fn uml_inner_forcing_destroy_exits_5_and_touches_nothing() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let (l, r) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let run = tcpdrop(&["--method", "destroy", &l.to_string(), &r.to_string()]);
        assert_eq!(run.code, 5, "{}", run.stderr);
        assert!(carries_data(&mut client, &mut server));
    });
}

#[test]
#[ignore = "runs inside user-mode Linux, booted by on_a_kernel_without_sock_destroy"]
fn uml_inner_forcing_bpf_exits_5_with_the_reason_and_touches_nothing() {
    inside_uml();
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let (l, r) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let run = tcpdrop(&["--method", "bpf", &l.to_string(), &r.to_string()]);
        assert_eq!(run.code, 5, "{}", run.stderr);
        assert!(
            run.stderr.contains(
                "the kernel cannot abort sockets from a BPF socket iterator: \
                 it needs Linux 6.5 or later (bpf_sock_destroy); this kernel is 6.1"
            ),
            "{}",
            run.stderr
        );
        assert!(!run.stdout.contains("dropped ("), "{}", run.stdout);
        assert!(carries_data(&mut client, &mut server));
        assert!(still_accepts(&listener));
        // Auto, for the same connection, goes on as before (owner here).
        let run = tcpdrop(&["--json", &l.to_string(), &r.to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(method_of(&run.stdout, l), "owner");
    });
}
