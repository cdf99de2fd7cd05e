//! The Winsock and base layer of the compatibility headers, on real
//! sockets in fresh network namespaces: what Windows programs around IP
//! Helper do with sockets (SOCKET, closesocket, ioctlsocket,
//! WSAGetLastError, InetPtonA, Sleep, ...) behaves as on Windows; C++ gets
//! Winsock's int lengths; Linux socket code that includes the headers is
//! untouched; and the IP Helper calls refuse every family but AF_INET and
//! AF_INET6, as Windows does.

use std::collections::BTreeSet;

use nstest::in_netns;

use crate::compat::{build_unchanged, build_unchanged_with, run_installed};
use crate::util::{crate_dir, have};

const ERROR_INVALID_PARAMETER: u32 = 87;
const ERROR_INSUFFICIENT_BUFFER: u32 = 122;

#[test]
fn winsock_calls_on_real_sockets_report_what_windows_reports() {
    let exe = build_unchanged("win_winsock");
    in_netns(|| {
        let out = run_installed(&exe, &[]);
        let want = [
            "bind 0",
            "listen 0",
            "getsockname 0",
            "connect 0",
            "accepted 1",
            "fionbio 0",
            // WSAEWOULDBLOCK: EAGAIN.
            "recv_nothing 10035",
            "send 5",
            "fionread_call 0",
            "fionread 5",
            // Windows' own FIONREAD number is no Linux command: WSAEINVAL.
            "ioctl_other 10022",
            "closesocket 0",
            // WSAENOTSOCK: EBADF.
            "closesocket_again 10038",
            "bind_in_use 10048",
            "connect_refused 10061",
            // WSAENETUNREACH: only lo is up.
            "connect_unreachable 10051",
            "socket_bad_family 10047",
            // A non-blocking connect under way: Windows' WSAEWOULDBLOCK,
            // not WSAEINPROGRESS.
            "connect_nonblocking 10035",
            "last_error_0 0",
            "last_error_87 87",
            "last_error_122 122",
            "last_error_deadbeef 1",
            "last_error_12345678 12345678",
            "wsa_last_error 10054",
            "wsa_errno_is_ewouldblock 1",
            "sleep_keeps_last_error 10035",
            "pton_v6_23 1",
            "pton_v6_10 1",
            "pton_bad 0",
            "pton_af_ban 10047",
            "pton_null 10014",
            "ntop_small 87",
            "ntop_v6 ::1",
            "ntop_v4 127.0.0.1",
            "slept_100ms 1",
            "secure_zero 1",
            "countof 7",
            "arraysize 7",
            // sizeof(BOOLEAN) 1, TRUE 1.
            "boolean 11",
            "invalid_handle 1",
            // ERROR_MOD_NOT_FOUND, ERROR_PROC_NOT_FOUND.
            "load_ws2_32 126",
            "proc_missing 127",
        ];
        assert_eq!(out.lines().collect::<Vec<_>>(), want);
    });
}

#[test]
fn cpp_programs_pass_winsock_int_lengths_and_linux_socklen_t_alike() {
    let source = crate_dir().join("tests/c/win_lengths.cpp");
    let want = [
        "getsockname 0",
        "getsockname_len 16",
        "accept_int 1",
        "accept_int_len 16",
        "accept_null 1",
        "accept_socklen 1",
        "getpeername 0",
        "getpeername_port_matches 1",
        "getsockopt 0",
        "getsockopt_type 1",
        "getsockopt_len 4",
        "recvfrom 1",
        "recvfrom_len 16",
        "recvfrom_from_port_matches 1",
        "recvfrom_nullptr 1",
    ];
    for compiler in ["g++", "clang++"] {
        if !have(compiler) {
            continue;
        }
        for std in ["-std=c++11", "-std=c++17", "-std=c++20"] {
            // g++ before 13 warns about Windows' #pragma comment whatever
            // the header says (GCC bug 53431); see compat.rs.
            let mut flags = vec![std, "-Wall", "-Wextra", "-Wpedantic", "-Werror"];
            if compiler == "g++" {
                flags.push("-Wno-unknown-pragmas");
            }
            let name = format!("win_lengths-{compiler}{std}");
            let exe = build_unchanged_with(compiler, &flags, &source, &name);
            in_netns(|| {
                let out = run_installed(&exe, &[]);
                assert_eq!(out.lines().collect::<Vec<_>>(), want, "{compiler} {std}");
            });
        }
    }
}

#[test]
fn linux_socket_code_that_includes_the_compat_headers_runs_as_without_them() {
    // It compiles in every mode with every warning an error (compat.rs);
    // here it runs: descriptors, errno, poll, select, ioctl, getaddrinfo.
    let exe = build_unchanged("linux_sockets");
    in_netns(|| assert_eq!(run_installed(&exe, &[]), "linux sockets ok\n"));
}

/// Windows' numbers for the families Linux has no name for.
const WINDOWS_ONLY: &[(&str, u32)] = &[
    ("AF_IMPLINK", 3),
    ("AF_PUP", 4),
    ("AF_CHAOS", 5),
    ("AF_NS", 6),
    ("AF_ISO", 7),
    ("AF_OSI", 7),
    ("AF_ECMA", 8),
    ("AF_DATAKIT", 9),
    ("AF_DLI", 13),
    ("AF_LAT", 14),
    ("AF_HYLINK", 15),
    ("AF_NETBIOS", 17),
    ("AF_VOICEVIEW", 18),
    ("AF_FIREFOX", 19),
    ("AF_UNKNOWN1", 20),
    ("AF_BAN", 21),
    ("AF_ATM", 22),
    ("AF_CLUSTER", 24),
    ("AF_12844", 25),
    ("AF_NETDES", 28),
    ("AF_TCNPROCESS", 29),
    ("AF_TCNMESSAGE", 30),
    ("AF_ICLFXBM", 31),
    ("AF_BTH", 32),
    ("AF_LINK", 33),
    ("AF_HYPERV", 34),
];

#[test]
fn windows_families_from_the_headers_are_refused_by_the_ip_helper_calls_as_on_windows() {
    let exe = build_unchanged("win_families");
    in_netns(|| {
        let out = run_installed(&exe, &[]);
        let rows: Vec<(&str, u32, [u32; 3])> = out
            .lines()
            .map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                let n = |i: usize| f[i].parse::<u32>().unwrap();
                (f[0], n(1), [n(2), n(3), n(4)])
            })
            .collect();
        for (name, number) in WINDOWS_ONLY {
            assert!(
                rows.iter().any(|r| r.0 == *name && r.1 == *number),
                "{name} is not Windows' {number}: {out}"
            );
        }
        // AF_CCITT is Windows' 10, Linux's AF_INET6: left out, so that it
        // cannot silently name the IPv6 table.
        assert!(!rows.iter().any(|r| r.0 == "AF_CCITT"), "{out}");
        for (name, number, codes) in &rows {
            // AF_INET, AF_INET6 as Linux (10) or Windows (23) numbers it.
            // Linux's AF_IRDA is 23 too, Windows' AF_INET6: the calls
            // cannot tell them apart.
            let accepted = matches!(number, 2 | 10 | 23);
            let want = if accepted {
                [ERROR_INSUFFICIENT_BUFFER, 0, 0]
            } else {
                [ERROR_INVALID_PARAMETER; 3]
            };
            assert_eq!(codes, &want, "{name} ({number})");
        }
        let accepted: BTreeSet<&str> = rows.iter().filter(|r| r.2[1] == 0).map(|r| r.0).collect();
        assert_eq!(
            accepted,
            BTreeSet::from(["AF_INET", "AF_INET6", "AF_IRDA", "WINAPI_AF_INET6"])
        );
    });
}

#[test]
fn the_calls_that_take_a_family_accept_2_10_and_23_and_no_other_number() {
    use iphlpapi::{MIB_TCPSTATS, MIB_TCPSTATS2};
    // Every small number, and larger ones whose low 16 or 8 bits are an
    // accepted family (a truncating comparison would take them).
    let families = (0..=300u32).chain([
        0x1_0002,
        0x1_000A,
        0x1_0017,
        0x102,
        0x8000_0002,
        0x8000_0017,
        u32::MAX,
    ]);
    in_netns(|| {
        let mut accepted = Vec::new();
        for af in families {
            let mut size = 0u32;
            let mut stats = std::mem::MaybeUninit::<MIB_TCPSTATS>::uninit();
            let mut stats2 = std::mem::MaybeUninit::<MIB_TCPSTATS2>::uninit();
            // SAFETY: a size query (NULL table, valid size pointer), and
            // statistics written to buffers of the right types.
            let codes = unsafe {
                [
                    iphlpapi::c_abi::GetExtendedTcpTable(
                        std::ptr::null_mut(),
                        &mut size,
                        0,
                        af,
                        2, // TCP_TABLE_BASIC_ALL
                        0,
                    ),
                    iphlpapi::c_abi::GetTcpStatisticsEx(stats.as_mut_ptr(), af),
                    iphlpapi::c_abi::GetTcpStatisticsEx2(stats2.as_mut_ptr(), af),
                ]
            };
            match codes {
                [ERROR_INSUFFICIENT_BUFFER, 0, 0] => accepted.push(af),
                [ERROR_INVALID_PARAMETER, ERROR_INVALID_PARAMETER, ERROR_INVALID_PARAMETER] => {}
                other => panic!("family {af}: {other:?}"),
            }
        }
        assert_eq!(accepted, [2, 10, 23]);
    });
}
