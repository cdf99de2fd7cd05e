//! C programs linked with libiphlpapi, run in fresh network namespaces
//! (spawned from the namespaced thread, which they inherit).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use nstest::{connect, in_netns, listen, listen_dual, read_errno, ss_rows, still_accepts};

use crate::util::{checked, library_dir, program, run, Link};

const ECONNABORTED: i32 = 103;

/// `ss`'s name for the state names the sample prints.
fn ss_state(sample: &str) -> &'static str {
    match sample {
        "CLOSED" => "UNCONN",
        "LISTEN" => "LISTEN",
        "SYN-SENT" => "SYN-SENT",
        "SYN-RECEIVED" => "SYN-RECV",
        "ESTABLISHED" => "ESTAB",
        "FIN-WAIT-1" => "FIN-WAIT-1",
        "FIN-WAIT-2" => "FIN-WAIT-2",
        "CLOSE-WAIT" => "CLOSE-WAIT",
        "CLOSING" => "CLOSING",
        "LAST-ACK" => "LAST-ACK",
        "TIME-WAIT" => "TIME-WAIT",
        other => panic!("state {other} in the sample's output"),
    }
}

/// The rows the Microsoft sample printed: (state, local, remote) in its
/// order, and the size its first call was told.
fn parse_sample(out: &str) -> (Option<u32>, Vec<(String, String, String)>) {
    let mut needed = None;
    let mut rows = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for line in out.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("First call: 122, size needed ") {
            needed = Some(rest.parse().expect("size"));
        } else if let Some((_, value)) = line.split_once("] ") {
            let (field, value) = value.split_once(": ").expect("FIELD: VALUE");
            current.push(match field {
                "State" => value.split(" - ").nth(1).expect("N - NAME").to_string(),
                _ => value.trim().to_string(),
            });
            if current.len() == 5 {
                rows.push((
                    ss_state(&current[0]).to_string(),
                    format!("{}:{}", current[1], current[2]),
                    format!("{}:{}", current[3], current[4]),
                ));
                current.clear();
            }
        }
    }
    (needed, rows)
}

#[test]
fn microsofts_get_tcp_table_sample_prints_the_table_ss_shows() {
    in_netns(|| {
        let a = listen("127.0.0.1:0");
        let b = listen("127.0.0.2:0");
        let _c1 = connect(&a);
        let _c2 = connect(&b);
        let _c3 = connect(&a);
        nstest::time_wait(&b);
        let out = run(&program("gettcptable", Link::Shared), &[]);
        let (needed, rows) = parse_sample(&out);
        // 2 listeners, 3 connections with two ends, 1 TIME-WAIT.
        assert_eq!(rows.len(), 9, "{out}");
        assert_eq!(needed, Some(4 + 9 * 20), "{out}");
        assert!(out.contains("Number of entries: 9"), "{out}");
        let mut sorted = rows.clone();
        sorted.sort();
        assert_eq!(sorted, ss_rows());
        // bOrder TRUE: ascending local address, then local port.
        let keys: Vec<(std::net::Ipv4Addr, u16)> = rows
            .iter()
            .map(|r| {
                let a: std::net::SocketAddrV4 = r.1.parse().unwrap();
                (*a.ip(), a.port())
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    });
}

#[test]
fn the_sample_works_linked_statically_too() {
    in_netns(|| {
        let l = listen("127.0.0.1:0");
        let _c = connect(&l);
        let out = run(&program("gettcptable", Link::Static), &[]);
        let (needed, mut rows) = parse_sample(&out);
        assert_eq!(needed, Some(4 + 3 * 20), "{out}");
        rows.sort();
        assert_eq!(rows, ss_rows());
    });
}

fn set_tcp_entry(state: u32, local: SocketAddr, remote: SocketAddr) -> String {
    run(
        &program("settcpentry", Link::Shared),
        &[
            &state.to_string(),
            &local.ip().to_string(),
            &local.port().to_string(),
            &remote.ip().to_string(),
            &remote.port().to_string(),
        ],
    )
}

#[test]
fn set_tcp_entry_from_c_aborts_a_live_connection() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let out = set_tcp_entry(
            12,
            client.local_addr().unwrap(),
            client.peer_addr().unwrap(),
        );
        assert_eq!(out, "code 0: The operation completed successfully.\n");
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert!(still_accepts(&listener));
    });
}

#[test]
fn set_tcp_entry_from_c_on_a_missing_row_is_317_and_the_listener_survives() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = listener.local_addr().unwrap();
        let out = set_tcp_entry(12, local, "127.0.0.1:1".parse().unwrap());
        assert!(out.starts_with("code 317: "), "{out}");
        assert!(still_accepts(&listener));
    });
}

#[test]
fn set_tcp_entry_from_c_with_another_state_or_null_is_87_and_touches_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let local = client.local_addr().unwrap();
        let remote = client.peer_addr().unwrap();
        for state in [5, 2, 11, 13] {
            let out = set_tcp_entry(state, local, remote);
            assert_eq!(out, "code 87: The parameter is incorrect.\n");
        }
        let out = run(&program("settcpentry", Link::Shared), &["null"]);
        assert_eq!(out, "code 87: The parameter is incorrect.\n");
        use std::io::{Read, Write};
        server.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        client.read_exact(&mut buf).unwrap();
    });
}

/// A directory removed when dropped, even when the test fails.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A copy of the program and the library that user `nobody` can run: the
/// build tree need not be readable by others.
fn world_runnable(name: &str) -> (PathBuf, TempDir) {
    let dir = std::env::temp_dir().join(format!("iphlpapi-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Under its SONAME, the name the program asks the loader for.
    let lib = dir.join("libiphlpapi.so.0");
    std::fs::copy(library_dir().join("libiphlpapi.so"), &lib).unwrap();
    let exe = dir.join(name);
    std::fs::copy(program(name, Link::Shared), &exe).unwrap();
    for f in [&lib, &exe] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (exe, TempDir(dir))
}

#[test]
fn set_tcp_entry_from_c_without_cap_net_admin_is_access_denied() {
    if !nstest::require_real_root("the C program runs as uid 65534 under setpriv") {
        return;
    }
    let (exe, dir) = world_runnable("settcpentry");
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let local = client.local_addr().unwrap();
        let remote = client.peer_addr().unwrap();
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(&exe)
            .args([
                "12",
                &local.ip().to_string(),
                &local.port().to_string(),
                &remote.ip().to_string(),
                &remote.port().to_string(),
            ])
            .env("LD_LIBRARY_PATH", &dir.0)
            .output()
            .expect("run setpriv (util-linux)");
        let out = checked(&exe, out);
        assert_eq!(out, "code 5: Access is denied.\n");
        use std::io::{Read, Write};
        server.write_all(b"x").unwrap();
        let mut buf = [0u8; 1];
        client.read_exact(&mut buf).unwrap();
    });
}

/// One row `extended` printed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    state: u32,
    local: String,
    local_scope: u32,
    local_port: u16,
    remote: String,
    remote_scope: u32,
    remote_port: u16,
    pid: u32,
}

/// Run `extended AF CLASS ORDER [own]`: its pid, the code, the rows.
fn extended(args: &[&str]) -> (u32, u32, Vec<Row>) {
    let out = run(&program("extended", Link::Shared), args);
    let mut lines = out.lines();
    let pid = lines
        .next()
        .unwrap()
        .strip_prefix("pid ")
        .unwrap()
        .parse()
        .unwrap();
    let code = lines
        .next()
        .unwrap()
        .strip_prefix("code ")
        .unwrap()
        .parse()
        .unwrap();
    let rows = lines
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 8, "{line}");
            Row {
                state: f[0].parse().unwrap(),
                local: f[1].to_string(),
                local_scope: f[2].parse().unwrap(),
                local_port: f[3].parse().unwrap(),
                remote: f[4].to_string(),
                remote_scope: f[5].parse().unwrap(),
                remote_port: f[6].parse().unwrap(),
                pid: f[7].parse().unwrap(),
            }
        })
        .collect();
    (pid, code, rows)
}

#[test]
fn get_extended_tcp_table_owner_pid_all_names_the_c_programs_own_pid() {
    in_netns(|| {
        // Sockets of this (Rust) process too: they must not carry its pid.
        let mine = listen("127.0.0.1:0");
        let _conn = connect(&mine);
        let (pid, code, rows) = extended(&["2", "5", "0", "own"]);
        assert_eq!(code, 0);
        // The OWNER_MODULE table: the same rows of this process's sockets,
        // and the other program's own listener and client end as its own.
        let (module_pid, code, module_rows) = extended(&["2", "8", "0", "own"]);
        assert_eq!(code, 0);
        let mine_only = |rows: &[Row]| -> Vec<Row> {
            let port = mine.local_addr().unwrap().port();
            rows.iter()
                .filter(|r| r.local_port == port || r.remote_port == port)
                .cloned()
                .collect()
        };
        assert_eq!(mine_only(&module_rows), mine_only(&rows));
        let own = |r: &&Row| r.pid == module_pid && (r.state == 2 || r.state == 5);
        assert_eq!(module_rows.iter().filter(own).count(), 2, "{module_rows:?}");
        assert_ne!(pid, std::process::id());
        let my_port = mine.local_addr().unwrap().port();
        let theirs: Vec<&Row> = rows
            .iter()
            .filter(|r| r.local_port != my_port && r.remote_port != my_port)
            .collect();
        // Its listener and its client end are its own; the connection it
        // never accepted has no descriptor, so no owner.
        let listener = theirs.iter().find(|r| r.state == 2).expect("its listener");
        assert_eq!(listener.pid, pid);
        let client = theirs
            .iter()
            .find(|r| r.remote_port == listener.local_port)
            .expect("its client end");
        assert_eq!(client.pid, pid);
        for r in rows
            .iter()
            .filter(|r| r.local_port == my_port || r.remote_port == my_port)
        {
            assert_eq!(r.pid, std::process::id(), "{r:?}");
        }
    });
}

#[test]
fn get_extended_tcp_table_with_windows_af_inet6_lists_ipv6_and_v4_mapped() {
    in_netns(|| {
        let v6 = listen("[::1]:0");
        let (_c6, _s6) = connect(&v6);
        let dual = listen_dual(0);
        let dual_port = dual.local_addr().unwrap().port();
        let mapped_client = TcpStream::connect(("127.0.0.1", dual_port)).unwrap();
        let _mapped_server = dual.accept().unwrap();
        // Windows' AF_INET6 and Linux's alike; the OWNER_MODULE table too.
        for (af, class) in [
            ("23", "2"),
            ("23", "5"),
            ("23", "8"),
            ("10", "2"),
            ("10", "8"),
        ] {
            let (_, code, rows) = extended(&[af, class, "0"]);
            assert_eq!(code, 0);
            let has = |local: &str, port: u16, state: u32| {
                rows.iter()
                    .any(|r| r.local == local && r.local_port == port && r.state == state)
            };
            let v6_port = v6.local_addr().unwrap().port();
            assert!(has("::1", v6_port, 2), "{rows:?}");
            assert!(has("::1", v6_port, 5), "{rows:?}");
            assert!(has("::", dual_port, 2), "{rows:?}");
            assert!(has("::ffff:127.0.0.1", dual_port, 5), "{rows:?}");
            let mapped = rows.iter().find(|r| r.local == "::ffff:127.0.0.1").unwrap();
            assert_eq!(mapped.remote, "::ffff:127.0.0.1");
            assert_eq!(
                mapped.remote_port,
                mapped_client.local_addr().unwrap().port()
            );
            assert_eq!(rows.len(), 5, "{rows:?}");
        }
        // The IPv4 table holds only the AF_INET client end.
        let (_, code, rows) = extended(&["2", "2", "0"]);
        assert_eq!(code, 0);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].remote_port, dual_port);
    });
}

#[test]
fn get_extended_tcp_table_border_true_sorts_by_local_then_remote() {
    in_netns(|| {
        let listeners: Vec<TcpListener> = ["127.1.0.0:0", "127.0.0.2:0", "127.0.1.0:0"]
            .iter()
            .map(|a| listen(a))
            .collect();
        let mut streams = Vec::new();
        for l in &listeners {
            streams.push(connect(l));
            streams.push(connect(l));
        }
        let v6 = listen("[::1]:0");
        streams.push(connect(&v6));
        streams.push(connect(&v6));
        let v4key = |r: &Row| {
            let ip = |s: &str| u32::from(s.parse::<std::net::Ipv4Addr>().unwrap());
            (ip(&r.local), r.local_port, ip(&r.remote), r.remote_port)
        };
        let (_, code, rows) = extended(&["2", "5", "1"]);
        assert_eq!(code, 0);
        assert_eq!(rows.len(), 3 + 6 * 2, "{rows:?}");
        let keys: Vec<_> = rows.iter().map(v4key).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        let listening: Vec<&str> = rows
            .iter()
            .filter(|r| r.state == 2)
            .map(|r| r.local.as_str())
            .collect();
        assert_eq!(listening, ["127.0.0.2", "127.0.1.0", "127.1.0.0"]);

        let v6key = |r: &Row| {
            let ip = |s: &str| u128::from(s.parse::<std::net::Ipv6Addr>().unwrap());
            (
                ip(&r.local),
                r.local_scope,
                r.local_port,
                ip(&r.remote),
                r.remote_scope,
                r.remote_port,
            )
        };
        let (_, code, rows6) = extended(&["23", "2", "1"]);
        assert_eq!(code, 0);
        assert_eq!(rows6.len(), 5, "{rows6:?}");
        let keys6: Vec<_> = rows6.iter().map(v6key).collect();
        assert!(keys6.windows(2).all(|w| w[0] < w[1]), "{rows6:?}");
    });
}

#[test]
fn misuse_from_c_returns_the_documented_codes() {
    in_netns(|| {
        let _l = listen("127.0.0.1:0");
        let out = run(&program("errors", Link::Shared), &[]);
        let got: Vec<(&str, &str)> = out
            .lines()
            .map(|l| l.split_once(' ').expect("NAME CODE"))
            .collect();
        let want = [
            ("set_null", "87"),
            ("set_state_estab", "87"),
            ("set_missing", "317"),
            ("table_null_size", "87"),
            ("table2_null_size", "87"),
            ("table6_null_size", "87"),
            ("table62_null_size", "87"),
            ("table_ok", "0"),
            ("ext_null_size", "87"),
            ("ext_bad_class", "87"),
            ("ext_linux_af_inet6", "0"),
            ("ext_af_24", "87"),
            ("ext_af_unspec", "87"),
            ("ext_reserved", "87"),
            ("ext_ok", "0"),
            ("module_null_row", "87"),
            ("module6_null_row", "87"),
            ("module_null_size", "87"),
            ("module_bad_class", "87"),
            ("module_no_owner", "1168"),
            ("module6_no_owner", "1168"),
            ("stats_null", "87"),
            ("stats_ex_null", "87"),
            ("stats_ex2_null", "87"),
            ("stats_ex_af_unspec", "87"),
            ("stats_ex2_af_24", "87"),
            ("stats_ex_linux_af_inet6", "0"),
            ("stats_ex2_af_inet6", "0"),
            ("format_null", "87"),
            ("format_short", "122"),
            ("format_short_text", "Access "),
            ("format_zero", "122"),
        ];
        assert_eq!(got, want);
    });
}
