//! `-l --bsd`: the listing as FreeBSD's `tcpdrop -l` prints it, one
//! `tcpdrop LADDR LPORT RADDR RPORT` a line, each line run as it is by a
//! shell and checked to drop exactly its connection.

use std::net::{SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

use nstest::{connect, connect_to, in_netns, listen, read_errno, ss_rows, NamedNetns};

use crate::util::{json_lines, tcpdrop, Run};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

/// Run `line` with `sh -c`, `tcpdrop` on the PATH being the binary under test.
fn run_line(line: &str) -> Run {
    let dir = Path::new(env!("CARGO_BIN_EXE_tcpdrop")).parent().unwrap();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .env("PATH", path)
        .output()
        .expect("run sh")
        .into()
}

/// The line `tcpdrop -l --bsd` printed for the socket whose local end is
/// `local`.
fn line_of(lines: &str, local: SocketAddr) -> String {
    let host = local.ip().to_string();
    let port = local.port().to_string();
    lines
        .lines()
        .find(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            words.len() == 5 && words[1] == host && words[2] == port
        })
        .unwrap_or_else(|| panic!("no line for {local} in\n{lines}"))
        .to_string()
}

#[test]
fn every_line_is_the_tuple_of_a_connection_and_runs_as_it_is() {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        let (mut client4, mut server4) = connect(&v4);
        let (mut bystander4, _b4) = connect(&v4);
        let (mut client6, mut server6) = connect(&v6);
        let (mut bystander6, _b6) = connect(&v6);
        let p4 = v4.local_addr().unwrap().port();
        let p6 = v6.local_addr().unwrap().port();

        let run = tcpdrop(&["-l", "--bsd"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stderr, "");
        let listed = tcpdrop(&["-l", "--json"]);
        assert_eq!(
            run.stdout.lines().count(),
            json_lines(&listed.stdout).len(),
            "{}",
            run.stdout
        );
        for line in run.stdout.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(words[0], "tcpdrop", "{line}");
            assert!(words.len() == 5 || words.len() == 7, "{line}");
        }
        // Exactly the form, listeners named as tcpdrop needs them named.
        let c4 = client4.local_addr().unwrap().port();
        let c6 = client6.local_addr().unwrap().port();
        for want in [
            format!("tcpdrop 127.0.0.1 {c4} 127.0.0.1 {p4}"),
            format!("tcpdrop 127.0.0.1 {p4} 127.0.0.1 {c4}"),
            format!("tcpdrop ::1 {c6} ::1 {p6}"),
            format!("tcpdrop -s listening 127.0.0.1 {p4} 0.0.0.0 0"),
            format!("tcpdrop -s listening ::1 {p6} :: 0"),
        ] {
            assert!(
                run.stdout.lines().any(|l| l == want),
                "no {want:?} in\n{}",
                run.stdout
            );
        }

        for (client, server, bystander) in [
            (&mut client4, &mut server4, &mut bystander4),
            (&mut client6, &mut server6, &mut bystander6),
        ] {
            let line = line_of(&run.stdout, client.local_addr().unwrap());
            let ran = run_line(&line);
            assert_eq!(ran.code, 0, "{line}: {}", ran.stderr);
            assert_eq!(read_errno(client), Some(ECONNABORTED), "{line}");
            assert_eq!(read_errno(server), Some(ECONNRESET), "{line}");
            assert_eq!(read_errno(bystander), None, "{line} hit a bystander");
        }

        // A listener's line drops the listener, and only it.
        let line = format!("tcpdrop -s listening 127.0.0.1 {p4} 0.0.0.0 0");
        let ran = run_line(&line);
        assert_eq!(ran.code, 0, "{line}: {}", ran.stderr);
        let listening: Vec<String> = ss_rows()
            .into_iter()
            .filter(|r| r.0 == "LISTEN")
            .map(|r| r.1)
            .collect();
        assert_eq!(listening, [format!("[::1]:{p6}")], "{listening:?}");
        assert_eq!(
            read_errno(&mut bystander4),
            None,
            "the listener's drop hit a connection"
        );
    });
}

#[test]
fn a_link_local_line_carries_its_scope_and_runs() {
    in_netns(|| {
        for args in [
            // veth: what the test topologies use (no dummy module needed).
            &["link", "add", "td0", "type", "veth", "peer", "name", "td1"][..],
            &["link", "set", "td0", "up"],
            &["link", "set", "td1", "up"],
            &["-6", "addr", "add", "fe80::1/64", "dev", "td0", "nodad"],
        ] {
            let status = Command::new("ip")
                .args(args)
                .status()
                .expect("run ip (iproute2)");
            assert!(status.success(), "ip {args:?}");
        }
        // SAFETY: a NUL-terminated name; if_nametoindex only reads it.
        let index = unsafe { libc::if_nametoindex(c"td0".as_ptr()) };
        assert_ne!(index, 0, "td0 has no index");
        let at = SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 0, 0, index));
        // The address's local route comes from a work queue: retry a little.
        let listener = (0..50)
            .find_map(|_| {
                TcpListener::bind(at).ok().or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                })
            })
            .expect("bind fe80::1%td0");
        let to = listener.local_addr().unwrap();
        let (mut client, mut server) = connect_to(&listener, to);
        let run = tcpdrop(&["-l", "--bsd", &format!("dport = :{}", to.port())]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let c = client.local_addr().unwrap().port();
        assert_eq!(
            run.stdout,
            format!("tcpdrop fe80::1%td0 {c} fe80::1%td0 {}\n", to.port())
        );
        let ran = run_line(run.stdout.trim());
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert_eq!(read_errno(&mut server), Some(ECONNRESET));
    });
}

#[test]
fn a_line_from_a_named_namespace_carries_it() {
    if !nstest::require_real_root("`ip netns add` mounts under /run/netns") {
        return;
    }
    in_netns(|| {
        let ns = NamedNetns::add();
        let (_listener, mut client, _server): (TcpListener, TcpStream, TcpStream) = ns.run(|| {
            let listener = listen("127.0.0.1:0");
            let (client, server) = connect(&listener);
            (listener, client, server)
        });
        let c = client.local_addr().unwrap();
        let s = client.peer_addr().unwrap();
        let run = tcpdrop(&[
            "-N",
            ns.name(),
            "-l",
            "--bsd",
            &format!("sport = :{}", c.port()),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let line = format!(
            "tcpdrop -N {} 127.0.0.1 {} 127.0.0.1 {}",
            ns.name(),
            c.port(),
            s.port()
        );
        assert_eq!(run.stdout, format!("{line}\n"));
        let ran = run_line(&line);
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
    });
}

#[test]
fn bsd_goes_with_a_listing_only_and_touches_nothing_else() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let before = ss_rows();
        for (args, want) in [
            (
                &["--bsd", "-a"][..],
                "--bsd is a form of listing: give it with -l",
            ),
            (
                &["-n", "--bsd", "-a"],
                "--bsd is a form of listing: give it with -l",
            ),
            (&["-l", "--bsd", "--json"], "cannot be used with"),
            (&["-l", "--bsd", "-p"], "cannot be used with"),
        ] {
            let run = tcpdrop(args);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
            assert_eq!(run.stdout, "");
        }
        assert_eq!(ss_rows(), before);
        assert_eq!(read_errno(&mut client), None);
    });
}
