//! Windows IP Helper programs built unchanged with `cc prog.c $(pkg-config
//! --cflags --libs iphlpapi-compat)` after `make install-lib`, run in fresh
//! network namespaces: what they print agrees with `ss`, `/proc/PID/comm`
//! and `exe`, and `/proc/net/snmp`, and their drops happen. And a C++20
//! program with designated initialisers, built with g++ and clang++.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use nstest::{connect, in_netns, listen, listen_dual, read_errno, ss_rows};

use crate::compat::{build_unchanged, compat_dir, installed_prefix, run_installed};
use crate::util::{
    checked, compile, crate_dir, have, include_dir, link_dir, run, scratch, Holder, WARNINGS,
};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

/// One row a Windows program printed.
#[derive(Debug)]
struct Row {
    state: u32,
    local: String,
    remote: String,
    pid: u32,
    timestamp: i64,
    code: u32,
    name: String,
    path: String,
}

/// What a Windows program printed: its rows, its statistics, other lines.
struct Output {
    rows: Vec<Row>,
    stats: HashMap<String, u64>,
    other: Vec<String>,
}

fn end(family: &str, addr: &str, port: &str) -> String {
    let port: u16 = port.parse().unwrap();
    let ip: IpAddr = addr.parse().unwrap();
    match (family, ip) {
        ("v6", IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), port).to_string(),
            None => SocketAddrV6::new(v6, port, 0, 0).to_string(),
        },
        (_, ip) => SocketAddr::new(ip, port).to_string(),
    }
}

fn parse(out: &str) -> Output {
    let mut parsed = Output {
        rows: Vec::new(),
        stats: HashMap::new(),
        other: Vec::new(),
    };
    for line in out.lines() {
        let f: Vec<&str> = line.splitn(11, ' ').collect();
        match f.as_slice() {
            [family @ ("v4" | "v6"), state, laddr, lport, raddr, rport, pid, ts, code, name, path] => {
                parsed.rows.push(Row {
                    state: state.parse().unwrap(),
                    local: end(family, laddr, lport),
                    remote: end(family, raddr, rport),
                    pid: pid.parse().unwrap(),
                    timestamp: ts.parse().unwrap(),
                    code: code.parse().unwrap(),
                    name: name.to_string(),
                    path: path.to_string(),
                })
            }
            _ => match line.split(' ').collect::<Vec<_>>().as_slice() {
                ["stats", field, value] => {
                    parsed
                        .stats
                        .insert(field.to_string(), value.parse().unwrap());
                }
                _ => parsed.other.push(line.to_string()),
            },
        }
    }
    parsed
}

/// `ss`'s name for a MIB state.
fn ss_state(mib: u32) -> &'static str {
    [
        "",
        "UNCONN",
        "LISTEN",
        "SYN-SENT",
        "SYN-RECV",
        "ESTAB",
        "FIN-WAIT-1",
        "FIN-WAIT-2",
        "CLOSE-WAIT",
        "CLOSING",
        "LAST-ACK",
        "TIME-WAIT",
    ][mib as usize]
}

/// The `Tcp:` counters of this thread's network namespace.
fn snmp_tcp() -> HashMap<String, i64> {
    let text = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap();
    let tcp: Vec<&str> = text.lines().filter(|l| l.starts_with("Tcp:")).collect();
    tcp[0]
        .split_whitespace()
        .zip(tcp[1].split_whitespace())
        .skip(1)
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

/// Check a Windows program's listing and statistics against the kernel:
/// the rows are `ss`'s, each owner module is its process's comm and exe,
/// and the statistics are `/proc/net/snmp`'s `Tcp:` line.
fn check_against_the_kernel(out: &Output, child_pid: u32) {
    let mut rows: Vec<(String, String, String)> = out
        .rows
        .iter()
        .map(|r| {
            (
                ss_state(r.state).to_string(),
                r.local.clone(),
                r.remote.clone(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(rows, ss_rows());
    let me = std::process::id();
    for r in &out.rows {
        assert_eq!(r.timestamp, 0, "{r:?}");
        if r.pid == 0 {
            assert_eq!((r.code, r.name.as_str(), r.path.as_str()), (1168, "-", "-"));
            continue;
        }
        assert!(r.pid == me || r.pid == child_pid, "{r:?}");
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", r.pid)).unwrap();
        let exe = std::fs::read_link(format!("/proc/{}/exe", r.pid)).unwrap();
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.name, comm.trim_end(), "{r:?}");
        assert_eq!(Path::new(&r.path), exe, "{r:?}");
    }
    let child_rows: Vec<&Row> = out.rows.iter().filter(|r| r.pid == child_pid).collect();
    assert_eq!(child_rows.len(), 1, "{:?}", out.rows);
    assert_eq!(child_rows[0].name, "sleep");
    assert_ne!(
        Path::new(&child_rows[0].path),
        std::env::current_exe().unwrap()
    );
    assert!(
        out.rows.iter().any(|r| r.pid == 0 && r.state == 11),
        "no TIME-WAIT row"
    );

    let snmp = snmp_tcp();
    for field in [
        "RtoAlgorithm",
        "RtoMin",
        "RtoMax",
        "MaxConn",
        "ActiveOpens",
        "PassiveOpens",
        "AttemptFails",
        "EstabResets",
        "CurrEstab",
        "InSegs",
        "OutSegs",
        "RetransSegs",
        "InErrs",
        "OutRsts",
    ] {
        // 32-bit members: MaxConn -1 is 0xFFFFFFFF.
        let want = if field == "MaxConn" {
            u64::from(snmp[field] as u32)
        } else {
            snmp[field] as u64
        };
        assert_eq!(out.stats[field], want, "{field}");
    }
    let connections = nstest::ss(&[
        "-H",
        "-t",
        "-n",
        "-4",
        "state",
        "all",
        "exclude",
        "listening",
    ])
    .lines()
    .count() as u64;
    assert_eq!(out.stats["NumConns"], connections);
    assert_eq!(out.stats.len(), 15);
}

/// Sockets of every kind a Windows tool meets: IPv4 and IPv6 connections,
/// a v4-mapped one, a TIME-WAIT, and one owned by another program; `body`
/// gets the test's IPv4 client end, the other program, and the test's end
/// of the other program's connection.
fn population(body: impl FnOnce(&mut TcpStream, &Holder, &mut TcpStream) + Send) {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&v4);
        let (holder, mut held_peer) = Holder::new(&v4);
        nstest::time_wait(&v4);
        let v6 = listen("[::1]:0");
        let _c6 = connect(&v6);
        let dual = listen_dual(0);
        let mapped = (
            std::net::Ipv4Addr::LOCALHOST,
            dual.local_addr().unwrap().port(),
        );
        let _mapped = TcpStream::connect(mapped).unwrap();
        let _mapped_server = dual.accept().unwrap();
        body(&mut client, &holder, &mut held_peer);
    });
}

#[test]
fn a_winsock2_program_built_unchanged_lists_names_owners_counts_and_drops_as_the_kernel_says() {
    let exe = build_unchanged("win_tool");
    population(|client, holder, _| {
        let child_pid = holder.pid();
        let out = parse(&run_installed(&exe, &[]));
        assert!(out.other.is_empty(), "{:?}", out.other);
        check_against_the_kernel(&out, child_pid);
        let port = client.local_addr().unwrap().port().to_string();
        assert_eq!(run_installed(&exe, &["drop", &port]), "drop 0\n");
        assert_eq!(read_errno(client), Some(ECONNABORTED));
    });
}

#[test]
fn a_windows_h_program_loading_iphlpapi_dll_built_unchanged_agrees_with_the_kernel() {
    let exe = build_unchanged("win_loader");
    population(|_client, holder, held_peer| {
        let child_pid = holder.pid();
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let out = parse(&run_installed(&exe, &[]));
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        check_against_the_kernel(&out, child_pid);
        assert_eq!(out.other[0], "loader ok");
        let now: u64 = out.other[1].strip_prefix("now ").unwrap().parse().unwrap();
        assert!(
            (before..=after).contains(&now),
            "{now} not in {before}..={after}"
        );
        let pid: u32 = out.other[2].strip_prefix("pid ").unwrap().parse().unwrap();
        assert!(pid != 0 && pid != std::process::id() && pid != child_pid);
        assert_eq!(out.other.len(), 3, "{:?}", out.other);
        // It drops the other program's connection: the peer is reset, and
        // the connection is gone from ss.
        let port = holder.local.port().to_string();
        assert_eq!(run_installed(&exe, &["drop", &port]), "loader ok\ndrop 0\n");
        assert_eq!(read_errno(held_peer), Some(ECONNRESET));
        let local = holder.local.to_string();
        assert!(!ss_rows().iter().any(|r| r.1 == local), "{:?}", ss_rows());
    });
}

#[test]
fn cpp20_designated_initialisers_on_mib_tcprow_build_with_gxx_and_clangxx_and_abort() {
    for compiler in ["g++", "clang++"] {
        if !have(compiler) {
            continue;
        }
        let exe = scratch().join(format!("designated-{compiler}"));
        let mut args: Vec<String> = vec!["-std=c++20".into()];
        args.extend(WARNINGS.iter().map(|s| s.to_string()));
        args.push(format!("-I{}", compat_dir().display()));
        args.push(format!("-I{}", include_dir().display()));
        args.push(
            crate_dir()
                .join("tests/c/designated.cpp")
                .display()
                .to_string(),
        );
        args.push(format!("-L{}", link_dir().display()));
        args.push("-liphlpapi".into());
        args.push(format!("-Wl,-rpath,{}", link_dir().display()));
        args.push("-o".into());
        args.push(exe.display().to_string());
        compile(compiler, &args);
        in_netns(|| {
            let listener = listen("127.0.0.1:0");
            let (mut client, _server) = connect(&listener);
            let local = client.local_addr().unwrap();
            let remote = client.peer_addr().unwrap();
            let out = run(
                &exe,
                &[
                    &local.ip().to_string(),
                    &local.port().to_string(),
                    &remote.ip().to_string(),
                    &remote.port().to_string(),
                ],
            );
            assert_eq!(out, "stats OK\ncode 0\n", "{compiler}");
            assert_eq!(read_errno(&mut client), Some(ECONNABORTED), "{compiler}");
        });
    }
}

#[test]
fn the_readme_example_builds_unchanged_and_prints_what_the_kernel_says() {
    let readme = std::fs::read_to_string(crate_dir().join("../../README.md")).unwrap();
    let start = readme.find("#include <winsock2.h>").expect("the example");
    let end = start + readme[start..].find("\n}\n").expect("its end") + 3;
    let source = scratch().join("readme_example.c");
    std::fs::write(&source, &readme[start..end]).unwrap();
    let exe = scratch().join("readme_example");
    let out = Command::new("sh")
        .args([
            "-ec",
            "cc \"$SRC\" $(pkg-config --cflags --libs iphlpapi-compat) -o \"$OUT\"",
        ])
        .env("PKG_CONFIG_PATH", installed_prefix().join("lib/pkgconfig"))
        .env("SRC", &source)
        .env("OUT", &exe)
        .output()
        .unwrap();
    checked(Path::new("cc"), out);
    in_netns(|| {
        let v6 = listen("[::1]:0");
        let v4 = listen("127.0.0.1:0");
        let _conn = connect(&v4);
        let out = run_installed(&exe, &[]);
        let port = v6.local_addr().unwrap().port();
        assert_eq!(
            out,
            format!("port {port}: pid {}\n2 connections\n", std::process::id())
        );
    });
}
