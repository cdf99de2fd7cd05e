//! The compatibility headers (`pkg-config iphlpapi-compat`): Windows IP
//! Helper programs compile unchanged, with GCC and Clang, as C and C++,
//! after `make install-lib`, and what they print agrees with `ss`,
//! `/proc/PID/exe` and `/proc/net/snmp`. And the library they link: its
//! SONAME and its exported symbols.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, SocketAddrV6, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use nstest::{connect, in_netns, listen, listen_dual, read_errno, ss_rows};

use crate::util::{
    c_source, checked, compile, crate_dir, include_dir, library_dir, link_dir, run, scratch,
    WARNINGS,
};

const ECONNABORTED: i32 = 103;
const ECONNRESET: i32 = 104;

/// Every call the library exports: its whole ABI.
const API: &[&str] = &[
    "GetExtendedTcpTable",
    "GetOwnerModuleFromTcp6Entry",
    "GetOwnerModuleFromTcpEntry",
    "GetTcp6Table",
    "GetTcp6Table2",
    "GetTcpStatistics",
    "GetTcpStatisticsEx",
    "GetTcpStatisticsEx2",
    "GetTcpTable",
    "GetTcpTable2",
    "IpHlpFormatError",
    "SetTcpEntry",
];

fn compat_dir() -> PathBuf {
    include_dir().join("compat")
}

/// (compiler, flags) for every language mode the compatibility headers
/// support. g++ before 13 ignores `#pragma GCC diagnostic` for the
/// preprocessor's own warnings (GCC bug 53431), so the `#pragma comment`
/// of Windows code draws -Wunknown-pragmas there; the C compilers and
/// clang++ take the headers' word.
const MODES: &[(&str, &[&str])] = &[
    ("cc", &["-std=c99", "-Wpedantic"]),
    ("cc", &["-std=c11", "-Wpedantic"]),
    ("cc", &["-std=gnu11"]),
    ("clang", &["-std=c99", "-Wpedantic"]),
    ("clang", &["-std=gnu17"]),
    (
        "c++",
        &[
            "-x",
            "c++",
            "-std=c++11",
            "-Wpedantic",
            "-Wno-unknown-pragmas",
        ],
    ),
    (
        "c++",
        &[
            "-x",
            "c++",
            "-std=c++20",
            "-Wpedantic",
            "-Wno-unknown-pragmas",
        ],
    ),
    ("clang++", &["-x", "c++", "-std=c++17", "-Wpedantic"]),
    ("clang++", &["-x", "c++", "-std=c++20", "-Wpedantic"]),
];

#[test]
fn the_compat_headers_compile_in_every_order_and_language_mode_with_gcc_and_clang() {
    for source in ["compat_order", "win_tool", "win_loader"] {
        for (i, (compiler, lang)) in MODES.iter().enumerate() {
            let mut args: Vec<String> = lang.iter().map(|s| s.to_string()).collect();
            args.extend(["-Wall", "-Wextra", "-Werror"].map(String::from));
            args.push(format!("-I{}", compat_dir().display()));
            args.push(format!("-I{}", include_dir().display()));
            args.push("-c".into());
            args.push(c_source(source).display().to_string());
            args.push("-o".into());
            args.push(
                scratch()
                    .join(format!("{source}{i}.o"))
                    .display()
                    .to_string(),
            );
            compile(compiler, &args);
        }
    }
}

#[test]
fn the_base_types_block_of_iphlpapi_h_and_windef_h_is_the_same() {
    // Both define the types under one guard, so whichever comes first
    // wins: the two copies must not drift apart.
    let block = |path: PathBuf| {
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text
            .find("/* BEGIN tcpdrop base types")
            .expect("BEGIN marker");
        let end = text
            .find("/* END tcpdrop base types */")
            .expect("END marker");
        text[start..end].to_string()
    };
    assert_eq!(
        block(include_dir().join("iphlpapi.h")),
        block(compat_dir().join("windef.h"))
    );
}

#[test]
fn the_makefile_installs_every_compat_header() {
    let makefile = std::fs::read_to_string(crate_dir().join("Makefile")).unwrap();
    let list = makefile
        .split("COMPAT_HEADERS := ")
        .nth(1)
        .expect("COMPAT_HEADERS in the Makefile");
    let mut listed: Vec<&str> = list
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .flat_map(|l| l.split_whitespace())
        .filter(|w| *w != "\\")
        .collect();
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(compat_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    present.sort();
    assert_eq!(listed, present);
}

#[test]
fn the_library_has_its_soname_and_exports_the_api_alone() {
    let lib = library_dir().join("libiphlpapi.so");
    let dynamic = Command::new("readelf")
        .arg("-d")
        .arg(&lib)
        .output()
        .unwrap();
    let dynamic = checked(Path::new("readelf"), dynamic);
    assert!(
        dynamic.contains("Library soname: [libiphlpapi.so.0]"),
        "{dynamic}"
    );
    let symbols = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .unwrap();
    let symbols = checked(Path::new("nm"), symbols);
    let mut exported: Vec<&str> = symbols
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    exported.sort();
    assert_eq!(exported, API);
}

/// `make install-lib` (the top Makefile) into a fresh prefix, once per run.
fn installed_prefix() -> &'static Path {
    static PREFIX: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = scratch().join("compat-prefix");
        let profile_dir = library_dir();
        let out = Command::new("make")
            .arg("-C")
            .arg(crate_dir().join("../.."))
            .arg("install-lib")
            .arg(format!("PREFIX={}", prefix.display()))
            .arg(format!(
                "PROFILE={}",
                profile_dir.file_name().unwrap().to_str().unwrap()
            ))
            .arg(format!(
                "CARGO_TARGET_DIR={}",
                profile_dir.parent().unwrap().display()
            ))
            .output()
            .expect("run make install-lib");
        checked(Path::new("make install-lib"), out);
        prefix
    })
}

/// Build `tests/c/NAME.c` exactly as the README says a Windows program is
/// built: `cc prog.c $(pkg-config --cflags --libs iphlpapi-compat)`.
fn build_unchanged(name: &str) -> PathBuf {
    let prefix = installed_prefix();
    let exe = scratch().join(format!("{name}-installed"));
    let out = Command::new("sh")
        .args([
            "-ec",
            "cc \"$SRC\" $(pkg-config --cflags --libs iphlpapi-compat) -o \"$OUT\"",
        ])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .env("SRC", c_source(name))
        .env("OUT", &exe)
        .output()
        .expect("run sh");
    checked(Path::new("cc"), out);
    exe
}

#[test]
fn make_install_lib_installs_the_soname_link_and_the_compat_module() {
    let prefix = installed_prefix();
    let lib = prefix.join("lib");
    assert!(lib.join("libiphlpapi.so.0").is_file());
    assert_eq!(
        std::fs::read_link(lib.join("libiphlpapi.so")).unwrap(),
        Path::new("libiphlpapi.so.0")
    );
    for entry in std::fs::read_dir(compat_dir()).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            prefix.join("include/iphlpapi-compat").join(&name).is_file(),
            "{name:?} not installed"
        );
    }
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "iphlpapi-compat"])
        .env("PKG_CONFIG_PATH", lib.join("pkgconfig"))
        .output()
        .unwrap();
    let flags = checked(Path::new("pkg-config"), out);
    for want in [
        format!("-I{}/include/iphlpapi-compat", prefix.display()),
        format!("-I{}/include", prefix.display()),
        format!("-L{}/lib", prefix.display()),
        "-liphlpapi".to_string(),
    ] {
        assert!(
            flags.split_whitespace().any(|f| f == want),
            "{want} not in {flags}"
        );
    }
    // A program linked with it asks for the SONAME.
    let exe = build_unchanged("win_tool");
    let out = Command::new("readelf")
        .arg("-d")
        .arg(&exe)
        .output()
        .unwrap();
    let needed = checked(Path::new("readelf"), out);
    assert!(
        needed.contains("Shared library: [libiphlpapi.so.0]"),
        "{needed}"
    );
}

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

/// Run an installed program with the installed library.
fn run_installed(exe: &Path, args: &[&str]) -> String {
    let out = Command::new(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", installed_prefix().join("lib"))
        .output()
        .expect("run the program");
    checked(exe, out)
}

/// `sleep` holding the client end of a connection, as its descriptor 3:
/// a connection owned by another program. Killed and reaped when dropped.
struct Holder {
    child: std::process::Child,
    local: SocketAddr,
}

impl Holder {
    fn new(listener: &std::net::TcpListener) -> (Holder, TcpStream) {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let (client, server) = connect(listener);
        let local = client.local_addr().unwrap();
        let fd = client.as_raw_fd();
        let mut command = Command::new("sleep");
        command.arg("600");
        // SAFETY: dup2 is async-signal-safe, and the closure touches only
        // the descriptor number copied before the fork.
        unsafe {
            command.pre_exec(move || {
                // dup2 clears close-on-exec on the copy, so sleep keeps it.
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("run sleep");
        // From now on sleep alone holds the client end.
        drop(client);
        (Holder { child, local }, server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
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
