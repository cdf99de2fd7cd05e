//! Names as ss and BSD users type them: service names (`:http`), host
//! names (`localhost`), BSD netstat's `ADDR.PORT`, and the misspelt filter
//! keyword; each drop checked from the sockets' owners.
//!
//! Only `http` (80), `ssh` (22) and `https` (443) of `/etc/services` are
//! relied on, and `localhost`, which is 127.0.0.1 and ::1 whatever
//! `/etc/hosts` says.

use std::net::{SocketAddr, TcpStream};

use nstest::{connect, connect_from, in_netns, listen, read_errno, ss_rows};

use crate::util::{json_lines, tcpdrop};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// Whether `stream` was aborted or reset (its own drop, or its peer's).
fn cut(stream: &mut TcpStream) -> bool {
    matches!(read_errno(stream), Some(ECONNABORTED | ECONNRESET))
}

#[test]
fn service_names_in_a_filter_are_their_ports() {
    in_netns(|| {
        let http = listen("127.0.0.1:80");
        let ssh = listen("127.0.0.1:22");
        let https = listen("127.0.0.1:443");
        let other = listen("127.0.0.1:0");
        let (mut to_http, _h) = connect(&http);
        let (mut ssh_client, mut ssh_server) = connect(&ssh);
        let (mut https_client, mut https_server) = connect(&https);
        let (mut bystander, mut bystander_server) = connect(&other);

        // The client's end, by its remote port.
        let run = tcpdrop(&["dport = :http"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(read_errno(&mut to_http), Some(ECONNABORTED));
        // No host name, no note: the summary is all of stderr.
        assert_eq!(run.stderr.trim(), "dropped 1, gone 1, failed 0");

        // The server's end, by its local port (`sport = ssh` without ':').
        let run = tcpdrop(&["sport", "=", "ssh"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(read_errno(&mut ssh_server), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut ssh_client), Some(ECONNRESET));

        // A service name as a host's port.
        let run = tcpdrop(&["--json", "src 127.0.0.1:https"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows = json_lines(&run.stdout);
        assert_eq!(rows[0]["local"], "127.0.0.1:443", "{rows:?}");
        assert_eq!(read_errno(&mut https_server), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut https_client), Some(ECONNRESET));

        assert_eq!(read_errno(&mut bystander), None, "a bystander was hit");
        assert_eq!(read_errno(&mut bystander_server), None);
    });
}

#[test]
fn service_names_in_a_tuple_in_both_forms() {
    in_netns(|| {
        let http = listen("127.0.0.1:80");
        let (mut client, mut server) = connect(&http);
        let c = client.local_addr().unwrap().port().to_string();
        // The server's end: local 127.0.0.1:http.
        let run = tcpdrop(&["127.0.0.1:http", &format!("127.0.0.1:{c}")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(read_errno(&mut server), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut client), Some(ECONNRESET));

        let (mut client, mut server) = connect(&http);
        let c = client.local_addr().unwrap().port().to_string();
        let run = tcpdrop(&["127.0.0.1", &c, "127.0.0.1", "http"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut server), Some(ECONNRESET));
    });
}

#[test]
fn localhost_in_a_filter_is_both_loopback_addresses_and_said_so() {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        // On lo too, but not localhost's 127.0.0.1.
        let far = listen("127.0.0.2:0");
        let (mut v4_client, mut v4_server) = connect(&v4);
        let (mut v6_client, mut v6_server) = connect(&v6);
        let (mut far_client, mut far_server) =
            connect_from(addr("127.0.0.2:0"), far.local_addr().unwrap(), &far);

        let run = tcpdrop(&["--json", "dst localhost"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        // The note comes first, on stderr; stdout is JSON alone.
        assert_eq!(
            run.stderr.lines().next(),
            Some("tcpdrop: 'localhost' is 127.0.0.1, ::1 (loopback)"),
            "{}",
            run.stderr
        );
        assert_eq!(json_lines(&run.stdout).len(), 4, "{}", run.stdout);
        for (name, stream) in [
            ("v4 client", &mut v4_client),
            ("v4 server", &mut v4_server),
            ("v6 client", &mut v6_client),
            ("v6 server", &mut v6_server),
        ] {
            assert!(cut(stream), "{name} lives");
        }
        assert_eq!(
            read_errno(&mut far_client),
            None,
            "127.0.0.2 is not localhost"
        );
        assert_eq!(read_errno(&mut far_server), None);
    });
}

#[test]
fn localhost_in_a_tuple_is_the_address_of_the_other_ends_family() {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        let (mut client, mut server) = connect(&v4);
        let c = client.local_addr().unwrap();
        let s = v4.local_addr().unwrap().port();
        let run = tcpdrop(&[&c.to_string(), &format!("localhost:{s}")]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            run.stderr.lines().next(),
            Some("tcpdrop: 'localhost' is 127.0.0.1 (loopback)"),
            "{}",
            run.stderr
        );
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut server), Some(ECONNRESET));

        let (mut client, mut server) = connect(&v6);
        let c = client.local_addr().unwrap();
        let s = v6.local_addr().unwrap().port();
        let run = tcpdrop(&["localhost", &s.to_string(), "::1", &c.port().to_string()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stderr
                .starts_with("tcpdrop: 'localhost' is ::1 (loopback)\n"),
            "{}",
            run.stderr
        );
        assert_eq!(read_errno(&mut server), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut client), Some(ECONNRESET));
    });
}

#[test]
fn bsd_netstat_addr_dot_port_names_the_connection() {
    in_netns(|| {
        for listener in [listen("127.0.0.1:0"), listen("[::1]:0")] {
            let (mut client, mut server) = connect(&listener);
            let (mut bystander, _b) = connect(&listener);
            let c = client.local_addr().unwrap();
            let s = client.peer_addr().unwrap();
            // 127.0.0.1.41000 127.0.0.1.8080, ::1.41000 ::1.8080
            let dotted = |a: SocketAddr| format!("{}.{}", a.ip(), a.port());
            let run = tcpdrop(&[&dotted(c), &dotted(s)]);
            assert_eq!(run.code, 0, "{}: {}", dotted(c), run.stderr);
            assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
            assert_eq!(read_errno(&mut server), Some(ECONNRESET));
            assert_eq!(read_errno(&mut bystander), None, "a bystander was hit");
        }
    });
}

/// Every case: exit 2, one line on stderr (no note before it), nothing on
/// stdout, no socket touched.
#[test]
fn bad_names_exit_2_with_one_line_and_touch_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:80");
        let (mut client, mut server) = connect(&listener);
        let before = ss_rows();
        let c = client.local_addr().unwrap().port().to_string();
        let cases: Vec<(Vec<String>, &str)> = vec![
            (
                vec!["127.0.0.1:htp".into(), format!("127.0.0.1:{c}")],
                "tcpdrop: 'htp' is not a service name in /etc/services: give the port number",
            ),
            (
                vec!["dport = :htp".into()],
                "tcpdrop: filter: 'htp' is not a service name in /etc/services: give the port number (word 1, byte 8)",
            ),
            (
                vec!["nosuchhost.invalid:80".into(), format!("127.0.0.1:{c}")],
                "tcpdrop: 'nosuchhost.invalid' is not a host name in /etc/hosts (DNS is never asked): give an IP address",
            ),
            (
                vec!["dst nosuchhost.invalid".into()],
                "tcpdrop: filter: 'nosuchhost.invalid' is not a host name in /etc/hosts (DNS is never asked): give an IP address (word 1, byte 4)",
            ),
            (
                vec![format!("localhost:{c}"), "localhost:80".into()],
                "tcpdrop: 'localhost' names 2 addresses (127.0.0.1, ::1): give one",
            ),
            (
                vec!["dprot = :80".into()],
                "tcpdrop: unknown word 'dprot' in the filter: did you mean dport? (word 1, byte 0)",
            ),
            (
                vec!["dprot".into(), ":80".into()],
                "tcpdrop: unknown word 'dprot' in the filter: did you mean dport?",
            ),
            (
                vec!["sport = :80 ro dport = :80".into()],
                "tcpdrop: unknown word 'ro' in the filter: did you mean or? (word 1, byte 12)",
            ),
            (
                vec!["state".into(), "establishd".into()],
                "tcpdrop: filter: expected a state name after 'state', found 'establishd': did you mean established? (word 2, byte 0)",
            ),
            (
                vec!["localhost%lo:80".into(), format!("127.0.0.1:{c}")],
                "a %scope goes with an IPv6 address, not a host name",
            ),
            // Found bad only in the namespace (the scope): still no note first.
            (
                vec!["localhost".into(), "80".into(), "fe80::1%nosuchif".into(), "9".into()],
                "tcpdrop: unknown interface 'nosuchif'",
            ),
        ];
        for (args, want) in cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            for dry in [false, true] {
                let mut all = if dry { vec!["-n"] } else { vec![] };
                all.extend(&args);
                let run = tcpdrop(&all);
                assert_eq!(run.code, 2, "{all:?}: {}", run.stderr);
                assert_eq!(run.stderr.lines().count(), 1, "{all:?}: {}", run.stderr);
                assert!(
                    run.stderr.contains(want),
                    "{all:?}: want {want:?}, got {}",
                    run.stderr
                );
                assert_eq!(run.stdout, "", "{all:?}");
            }
        }
        assert_eq!(ss_rows(), before, "a socket changed");
        assert_eq!(read_errno(&mut client), None);
        assert_eq!(read_errno(&mut server), None);
    });
}

#[test]
fn names_in_a_file_are_looked_up_and_said_once() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut one, mut one_server) = connect(&listener);
        let (mut two, mut two_server) = connect(&listener);
        let (mut bystander, _b) = connect(&listener);
        let p = listener.local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("tcpdrop-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tuples");
        let line = |s: &TcpStream| {
            let c = s.local_addr().unwrap().port();
            format!("127.0.0.1.{c} localhost:{p}\n")
        };
        std::fs::write(&file, line(&one) + &line(&two)).unwrap();
        let run = tcpdrop(&["-f", file.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let notes: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("'localhost'"))
            .collect();
        assert_eq!(notes, ["tcpdrop: 'localhost' is 127.0.0.1 (loopback)"]);
        assert_eq!(read_errno(&mut one), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut two), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut one_server), Some(ECONNRESET));
        assert_eq!(read_errno(&mut two_server), Some(ECONNRESET));
        assert_eq!(read_errno(&mut bystander), None, "a bystander was hit");
    });
}
