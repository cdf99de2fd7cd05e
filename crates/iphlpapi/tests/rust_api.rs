//! The Rust face of `iphlpapi` against the real kernel: every return code of
//! SetTcpEntry and the GetTcpTable family (SPEC §1–2), in fresh namespaces.

use std::io::{Read, Write};
use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};
use std::ptr;

use iphlpapi::{codes::*, *};
use nstest::{
    connect, in_netns, listen, listen_dual, read_errno, ss_rows, still_accepts, without_net_admin,
};
use rustix::thread::{capabilities, set_capabilities, CapabilitySet};

const ECONNABORTED: i32 = 103;

/// The row naming `stream`'s connection from its own end, ready to abort.
fn row_of(stream: &TcpStream) -> MIB_TCPROW {
    row_for(stream.local_addr().unwrap(), stream.peer_addr().unwrap())
}

fn row_for(local: SocketAddr, remote: SocketAddr) -> MIB_TCPROW {
    let v4 = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => u32::from_ne_bytes(v4.octets()),
        IpAddr::V6(v6) => u32::from_ne_bytes(v6.to_ipv4_mapped().expect("IPv4 end").octets()),
    };
    MIB_TCPROW {
        dwState: MIB_TCP_STATE_DELETE_TCB,
        dwLocalAddr: v4(local),
        dwLocalPort: u32::from(local.port().to_be()),
        dwRemoteAddr: v4(remote),
        dwRemotePort: u32::from(remote.port().to_be()),
    }
}

/// Whether the connection still carries data from `server` to `client`.
fn alive(client: &mut TcpStream, server: &mut TcpStream) -> bool {
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 1];
    server.write_all(b"x").is_ok() && client.read_exact(&mut buf).is_ok()
}

fn port(dword: u32) -> u16 {
    u16::from_be(dword as u16)
}

fn v4(dword: u32) -> Ipv4Addr {
    Ipv4Addr::from(dword.to_ne_bytes())
}

/// `ss`'s name for a MIB state.
fn ss_state(mib: u32) -> &'static str {
    match mib {
        MIB_TCP_STATE_CLOSED => "UNCONN",
        MIB_TCP_STATE_LISTEN => "LISTEN",
        MIB_TCP_STATE_SYN_SENT => "SYN-SENT",
        MIB_TCP_STATE_SYN_RCVD => "SYN-RECV",
        MIB_TCP_STATE_ESTAB => "ESTAB",
        MIB_TCP_STATE_FIN_WAIT1 => "FIN-WAIT-1",
        MIB_TCP_STATE_FIN_WAIT2 => "FIN-WAIT-2",
        MIB_TCP_STATE_CLOSE_WAIT => "CLOSE-WAIT",
        MIB_TCP_STATE_CLOSING => "CLOSING",
        MIB_TCP_STATE_LAST_ACK => "LAST-ACK",
        MIB_TCP_STATE_TIME_WAIT => "TIME-WAIT",
        other => panic!("no MIB state {other}"),
    }
}

fn v6_end(addr: [u8; 16], scope: u32, port_dword: u32) -> String {
    let ip = Ipv6Addr::from(addr);
    match ip.to_ipv4_mapped() {
        Some(v4) => format!("{v4}:{}", port(port_dword)),
        None => SocketAddrV6::new(ip, port(port_dword), 0, scope).to_string(),
    }
}

fn v4_triple(r: &MIB_TCPROW) -> (String, String, String) {
    (
        ss_state(r.dwState).to_string(),
        format!("{}:{}", v4(r.dwLocalAddr), port(r.dwLocalPort)),
        format!("{}:{}", v4(r.dwRemoteAddr), port(r.dwRemotePort)),
    )
}

fn v6_triple(r: &MIB_TCP6ROW) -> (String, String, String) {
    (
        ss_state(r.State).to_string(),
        v6_end(r.LocalAddr, r.dwLocalScopeId, r.dwLocalPort),
        v6_end(r.RemoteAddr, r.dwRemoteScopeId, r.dwRemotePort),
    )
}

/// A buffer of `bytes` bytes, DWORD-aligned so tables can be read from it.
fn buffer(bytes: u32) -> Vec<u32> {
    vec![0u32; (bytes as usize).div_ceil(4).max(1)]
}

// ---- SetTcpEntry ---------------------------------------------------------

#[test]
fn set_tcp_entry_null_row_is_invalid_parameter() {
    in_netns(|| {
        assert_eq!(set_tcp_entry(None), ERROR_INVALID_PARAMETER);
    });
}

#[test]
fn set_tcp_entry_other_state_is_invalid_parameter_and_touches_nothing() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        for state in [0, MIB_TCP_STATE_CLOSED, MIB_TCP_STATE_ESTAB, 13, u32::MAX] {
            let row = MIB_TCPROW {
                dwState: state,
                ..row_of(&client)
            };
            assert_eq!(set_tcp_entry(Some(&row)), ERROR_INVALID_PARAMETER);
        }
        assert!(alive(&mut client, &mut server));
    });
}

#[test]
fn set_tcp_entry_missing_row_is_not_found_and_the_listener_still_accepts() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = listener.local_addr().unwrap();
        let row = row_for(local, "127.0.0.1:1".parse().unwrap());
        assert_eq!(set_tcp_entry(Some(&row)), ERROR_MR_MID_NOT_FOUND);
        assert!(still_accepts(&listener));
    });
}

#[test]
fn set_tcp_entry_live_row_aborts_it_and_the_owner_sees_econnaborted() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let (mut other, mut other_server) = connect(&listener);
        let row = row_of(&client);
        assert_eq!(set_tcp_entry(Some(&row)), NO_ERROR);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
        assert!(alive(&mut other, &mut other_server));
        assert!(still_accepts(&listener));
        // It is gone now: the same row again matches nothing.
        assert_eq!(set_tcp_entry(Some(&row)), ERROR_MR_MID_NOT_FOUND);
    });
}

#[test]
fn set_tcp_entry_drops_a_mapped_connection_by_its_ipv4_tuple() {
    in_netns(|| {
        let dual = listen_dual(0);
        let dual_port = dual.local_addr().unwrap().port();
        let client = TcpStream::connect(("127.0.0.1", dual_port)).unwrap();
        let (mut server, _) = dual.accept().unwrap();
        // The server end is an AF_INET6 socket with ::ffff:127.0.0.1 ends.
        assert!(server.local_addr().unwrap().is_ipv6());
        let row = row_for(client.peer_addr().unwrap(), client.local_addr().unwrap());
        assert_eq!(set_tcp_entry(Some(&row)), NO_ERROR);
        assert_eq!(read_errno(&mut server), Some(ECONNABORTED));
    });
}

#[test]
fn set_tcp_entry_ignores_the_upper_port_bits() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, _server) = connect(&listener);
        let mut row = row_of(&client);
        row.dwLocalPort |= 0xDEAD_0000;
        row.dwRemotePort |= 0xBEEF_0000;
        assert_eq!(set_tcp_entry(Some(&row)), NO_ERROR);
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED));
    });
}

#[test]
fn set_tcp_entry_drops_a_listener_only_when_the_row_names_it() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let local = listener.local_addr().unwrap();
        let (_client, server) = connect(&listener);
        // A connection's row aborts the connection, never its listener.
        assert_eq!(set_tcp_entry(Some(&row_of(&server))), NO_ERROR);
        assert!(still_accepts(&listener));
        // The listener's own row (remote 0.0.0.0:0), as GetTcpTable lists it.
        let mut row = iphlpapi::tcp_table(false)
            .unwrap()
            .into_iter()
            .find(|r| r.dwState == MIB_TCP_STATE_LISTEN && port(r.dwLocalPort) == local.port())
            .expect("listener listed");
        assert_eq!((row.dwRemoteAddr, row.dwRemotePort), (0, 0));
        row.dwState = MIB_TCP_STATE_DELETE_TCB;
        assert_eq!(set_tcp_entry(Some(&row)), NO_ERROR);
        assert!(!still_accepts(&listener));
    });
}

/// A connection to `listener` whose client end another user's process
/// holds, not dumpable: a caller without `CAP_SYS_PTRACE` may not take its
/// descriptor. Returns the holder, the server end and the client's row.
fn held_by_another_user(
    listener: &std::net::TcpListener,
) -> (nstest::OwnerChild, std::net::TcpStream, MIB_TCPROW) {
    let to = listener.local_addr().unwrap();
    let child = nstest::spawn_owner_with(to, b"holder", Some(65534), Some(false));
    let (server, _) = listener.accept().unwrap();
    let row = row_of(&server);
    let row = MIB_TCPROW {
        dwLocalAddr: row.dwRemoteAddr,
        dwLocalPort: row.dwRemotePort,
        dwRemoteAddr: row.dwLocalAddr,
        dwRemotePort: row.dwLocalPort,
        ..row
    };
    assert_eq!(endpoint_of(&row), child.local_addr());
    (child, server, row)
}

fn endpoint_of(row: &MIB_TCPROW) -> std::net::SocketAddr {
    std::net::SocketAddr::from((
        row.dwLocalAddr.to_ne_bytes(),
        u16::from_be(row.dwLocalPort as u16),
    ))
}

/// Whether the connection whose client end `child` holds still exists.
fn still_there(child: &nstest::OwnerChild, to: std::net::SocketAddr) -> bool {
    tcpdrop::Session::new()
        .unwrap()
        .find(child.local_addr(), to)
        .unwrap()
        .is_some_and(|c| c.state == tcpdrop::State::Established)
}

#[test]
fn set_tcp_entry_not_elevated_is_317_and_touches_nothing() {
    if !nstest::require_real_root("the socket is held by another uid's process") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let (child, _server, row) = held_by_another_user(&listener);
        let (code, outcome) = without_net_admin(false, || {
            assert_eq!(
                tcpdrop::privilege::net_admin(),
                tcpdrop::Privilege::PermittedOnly
            );
            // The library's own outcome tells this 317 from "not found".
            let mut session = tcpdrop::Session::new().unwrap();
            let mut report = tcpdrop::DropReport::default();
            let selection = tcpdrop::Selection::tuple(child.local_addr(), to);
            session
                .drop(selection, tcpdrop::DropOptions::default(), &mut report)
                .unwrap();
            let outcome = report.results.remove(0).1;
            (set_tcp_entry(Some(&row)), outcome)
        });
        match &outcome {
            tcpdrop::Outcome::Failed(tcpdrop::Error::NoWay(tried)) => {
                assert!(
                    matches!(
                        tried[0],
                        (
                            tcpdrop::Method::Destroy,
                            tcpdrop::Error::AccessDenied(tcpdrop::Privilege::PermittedOnly)
                        )
                    ),
                    "{outcome:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(code, ERROR_MR_MID_NOT_FOUND);
        assert!(still_there(&child, to));
    });
}

#[test]
fn set_tcp_entry_without_cap_net_admin_is_access_denied() {
    if !nstest::require_real_root("the socket is held by another uid's process") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let to = listener.local_addr().unwrap();
        let (child, _server, row) = held_by_another_user(&listener);
        let code = without_net_admin(true, || {
            assert_eq!(tcpdrop::privilege::net_admin(), tcpdrop::Privilege::Missing);
            set_tcp_entry(Some(&row))
        });
        assert_eq!(code, ERROR_ACCESS_DENIED);
        assert!(still_there(&child, to));
        // With the privilege (this thread), the same row is aborted.
        assert_eq!(set_tcp_entry(Some(&row)), NO_ERROR);
        assert_eq!(child.read_outcome(), Some(ECONNABORTED));
    });
}

/// A Linux extension of Windows' admin-only rule, as kill(1) has: a caller
/// with no privilege at all aborts a connection its own process holds
/// (through that process's own descriptor).
#[test]
fn set_tcp_entry_aborts_the_callers_own_connection_without_privilege() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let row = row_of(&client);
        let code = without_net_admin(true, || set_tcp_entry(Some(&row)));
        assert_eq!(code, NO_ERROR);
        assert_eq!(read_errno(&mut server), Some(104), "the peer is reset");
        assert!(!alive(&mut client, &mut server));
    });
}

// ---- the size protocol -----------------------------------------------------

#[test]
fn get_tcp_table_null_size_is_invalid_parameter() {
    in_netns(|| {
        let mut buf = buffer(4096);
        // SAFETY: the buffer is 4096 bytes; a NULL size is what is tested.
        let code = unsafe { get_tcp_table(buf.as_mut_ptr().cast(), ptr::null_mut(), false) };
        assert_eq!(code, ERROR_INVALID_PARAMETER);
        // SAFETY: as above.
        let code = unsafe {
            get_extended_tcp_table(
                buf.as_mut_ptr().cast(),
                ptr::null_mut(),
                false,
                AF_INET,
                2,
                0,
            )
        };
        assert_eq!(code, ERROR_INVALID_PARAMETER);
    });
}

#[test]
fn get_tcp_table_size_protocol_asks_for_the_exact_size_and_writes_it_on_success() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let _a = connect(&listener);
        let _b = connect(&listener);
        let n = iphlpapi::tcp_table(false).unwrap().len();
        assert_eq!(n, 5);
        let exact = (offset_of!(MIB_TCPTABLE, table) + n * size_of::<MIB_TCPROW>()) as u32;

        let mut size = 0u32;
        // SAFETY: a NULL table with a valid size pointer.
        let code = unsafe { get_tcp_table(ptr::null_mut(), &mut size, false) };
        assert_eq!((code, size), (ERROR_INSUFFICIENT_BUFFER, exact));

        // One byte short: nothing written but the size.
        let mut buf = buffer(exact);
        let mut size = exact - 1;
        // SAFETY: the buffer holds `exact` bytes, more than claimed.
        let code = unsafe { get_tcp_table(buf.as_mut_ptr().cast(), &mut size, false) };
        assert_eq!((code, size), (ERROR_INSUFFICIENT_BUFFER, exact));
        assert!(buf.iter().all(|&w| w == 0));

        // Microsoft's sample: first a one-row table.
        let mut one = MIB_TCPTABLE::default();
        let mut size = size_of::<MIB_TCPTABLE>() as u32;
        // SAFETY: `one` is a MIB_TCPTABLE of `size` bytes.
        let code = unsafe { get_tcp_table(&mut one, &mut size, true) };
        assert_eq!((code, size), (ERROR_INSUFFICIENT_BUFFER, exact));

        let mut size = exact + 100;
        let mut buf = buffer(exact + 100);
        // SAFETY: the buffer holds `exact + 100` bytes.
        let code = unsafe { get_tcp_table(buf.as_mut_ptr().cast(), &mut size, false) };
        assert_eq!((code, size), (NO_ERROR, exact));
        assert_eq!(buf[0] as usize, n);
        // SAFETY: the buffer is DWORD-aligned and holds n rows from offset 4.
        let rows =
            unsafe { std::slice::from_raw_parts(buf.as_ptr().add(1).cast::<MIB_TCPROW>(), n) };
        let mut got = rows.to_vec();
        got.sort_by_key(|r| (r.dwLocalPort, r.dwRemotePort, r.dwState));
        let mut want = iphlpapi::tcp_table(false).unwrap();
        want.sort_by_key(|r| (r.dwLocalPort, r.dwRemotePort, r.dwState));
        assert_eq!(got, want);
    });
}

#[test]
fn every_table_call_uses_its_own_row_size_and_offset() {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        let _a = connect(&v4);
        let _b = connect(&v6);
        let _c = connect(&v6);
        // (rows, row size) per call; IPv4: 3 rows, IPv6: 5 rows.
        type Call = unsafe fn(*mut u8, *mut u32) -> u32;
        let calls: [(&str, Call, usize, usize); 4] = [
            (
                "GetTcpTable",
                |t, s| {
                    // SAFETY: the caller passes a valid size pointer and a
                    // NULL or large enough table.
                    unsafe { get_tcp_table(t.cast(), s, true) }
                },
                3,
                20,
            ),
            (
                "GetTcpTable2",
                |t, s| {
                    // SAFETY: the caller passes a valid size pointer and a
                    // NULL or large enough table.
                    unsafe { get_tcp_table2(t.cast(), s, true) }
                },
                3,
                28,
            ),
            (
                "GetTcp6Table",
                |t, s| {
                    // SAFETY: the caller passes a valid size pointer and a
                    // NULL or large enough table.
                    unsafe { get_tcp6_table(t.cast(), s, true) }
                },
                5,
                52,
            ),
            (
                "GetTcp6Table2",
                |t, s| {
                    // SAFETY: the caller passes a valid size pointer and a
                    // NULL or large enough table.
                    unsafe { get_tcp6_table2(t.cast(), s, true) }
                },
                5,
                60,
            ),
        ];
        for (name, call, n, row) in calls {
            let exact = (4 + n * row) as u32;
            let mut size = 0;
            // SAFETY: NULL table, valid size.
            let code = unsafe { call(ptr::null_mut(), &mut size) };
            assert_eq!((code, size), (ERROR_INSUFFICIENT_BUFFER, exact), "{name}");
            let mut buf = buffer(exact);
            // SAFETY: the buffer holds `exact` bytes.
            let code = unsafe { call(buf.as_mut_ptr().cast(), &mut size) };
            assert_eq!(
                (code, size, buf[0] as usize),
                (NO_ERROR, exact, n),
                "{name}"
            );
        }
        let extended = [
            (AF_INET, TCP_TABLE_BASIC_ALL, 3, 20),
            (AF_INET, TCP_TABLE_BASIC_LISTENER, 1, 20),
            (AF_INET, TCP_TABLE_BASIC_CONNECTIONS, 2, 20),
            (AF_INET, TCP_TABLE_OWNER_PID_ALL, 3, 24),
            (AF_INET, TCP_TABLE_OWNER_PID_LISTENER, 1, 24),
            (AF_INET, TCP_TABLE_OWNER_PID_CONNECTIONS, 2, 24),
            (iphlpapi::AF_INET6, TCP_TABLE_BASIC_ALL, 5, 52),
            (iphlpapi::AF_INET6, TCP_TABLE_BASIC_LISTENER, 1, 52),
            (iphlpapi::AF_INET6, TCP_TABLE_BASIC_CONNECTIONS, 4, 52),
            (iphlpapi::AF_INET6, TCP_TABLE_OWNER_PID_ALL, 5, 56),
            (iphlpapi::AF_INET6, TCP_TABLE_OWNER_PID_LISTENER, 1, 56),
            (iphlpapi::AF_INET6, TCP_TABLE_OWNER_PID_CONNECTIONS, 4, 56),
        ];
        for (af, class, n, row) in extended {
            let exact = (4 + n * row) as u32;
            let mut size = 0;
            // SAFETY: NULL table, valid size.
            let code =
                unsafe { get_extended_tcp_table(ptr::null_mut(), &mut size, false, af, class, 0) };
            assert_eq!(
                (code, size),
                (ERROR_INSUFFICIENT_BUFFER, exact),
                "af {af} class {class}"
            );
            let mut buf = buffer(exact);
            // SAFETY: the buffer holds `exact` bytes.
            let code = unsafe {
                get_extended_tcp_table(buf.as_mut_ptr().cast(), &mut size, false, af, class, 0)
            };
            assert_eq!(
                (code, size, buf[0] as usize),
                (NO_ERROR, exact, n),
                "af {af} class {class}"
            );
        }
    });
}

#[test]
fn get_extended_tcp_table_refuses_bad_arguments() {
    in_netns(|| {
        let _l = listen("127.0.0.1:0");
        let mut buf = buffer(4096);
        let call = |buf: &mut Vec<u32>, af, class, reserved| {
            let mut size = 4096u32;
            // SAFETY: the buffer holds 4096 bytes.
            unsafe {
                get_extended_tcp_table(
                    buf.as_mut_ptr().cast(),
                    &mut size,
                    true,
                    af,
                    class,
                    reserved,
                )
            }
        };
        for class in [9, 100, u32::MAX] {
            assert_eq!(call(&mut buf, AF_INET, class, 0), ERROR_INVALID_PARAMETER);
        }
        for af in [0, 1, 11, 22, 24, u32::MAX] {
            assert_eq!(
                call(&mut buf, af, TCP_TABLE_BASIC_ALL, 0),
                ERROR_INVALID_PARAMETER
            );
        }
        assert_eq!(
            call(&mut buf, AF_INET, TCP_TABLE_BASIC_ALL, 1),
            ERROR_INVALID_PARAMETER
        );
        assert_eq!(call(&mut buf, AF_INET, TCP_TABLE_BASIC_ALL, 0), NO_ERROR);
        assert_eq!(
            iphlpapi::extended_tcp_table(false, 10, 100),
            Err(Win32Error(ERROR_INVALID_PARAMETER))
        );
    });
}

#[test]
fn linux_af_inet6_gives_the_same_table_as_windows_af_inet6() {
    in_netns(|| {
        let v6 = listen("[::1]:0");
        let _conn = connect(&v6);
        for class in 0..=8 {
            let windows = iphlpapi::extended_tcp_table(true, iphlpapi::AF_INET6, class).unwrap();
            let linux = iphlpapi::extended_tcp_table(true, AF_INET6_LINUX, class).unwrap();
            assert_eq!(windows, linux, "class {class}");
            assert!(!linux.is_empty(), "class {class}");
        }
        let windows = iphlpapi::tcp_statistics(iphlpapi::AF_INET6).unwrap();
        let linux = iphlpapi::tcp_statistics(AF_INET6_LINUX).unwrap();
        assert_eq!(windows.dwNumConns, linux.dwNumConns);
    });
}

// ---- TCP_TABLE_OWNER_MODULE_* and GetOwnerModuleFrom*Entry -----------------

/// The start time of `pid` (field 22 of /proc/PID/stat), as the test reads it.
fn start_time_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn owner_module_rows_are_the_owner_pid_rows_with_module_info_and_no_timestamp() {
    in_netns(|| {
        let me = std::process::id();
        let v4 = listen("127.0.0.1:0");
        let _conn = connect(&v4);
        nstest::time_wait(&v4);
        let v6 = listen("[::1]:0");
        let _conn6 = connect(&v6);
        for (class, pid_class) in [(8, 5), (6, 3), (7, 4)] {
            let Ok(ExtendedTcpTable::OwnerPid(pids)) =
                iphlpapi::extended_tcp_table(true, AF_INET, pid_class)
            else {
                panic!("not an OWNER_PID table");
            };
            let Ok(ExtendedTcpTable::OwnerModule(modules)) =
                iphlpapi::extended_tcp_table(true, AF_INET, class)
            else {
                panic!("not an OWNER_MODULE table");
            };
            let same: Vec<MIB_TCPROW_OWNER_PID> = modules
                .iter()
                .map(|m| MIB_TCPROW_OWNER_PID {
                    dwState: m.dwState,
                    dwLocalAddr: m.dwLocalAddr,
                    dwLocalPort: m.dwLocalPort,
                    dwRemoteAddr: m.dwRemoteAddr,
                    dwRemotePort: m.dwRemotePort,
                    dwOwningPid: m.dwOwningPid,
                })
                .collect();
            assert_eq!(same, pids, "class {class}");
            for m in &modules {
                assert_eq!(m.liCreateTimestamp, 0, "{m:?}");
                if m.dwOwningPid == me {
                    assert_eq!(m.OwningModuleInfo[0], start_time_of(me), "{m:?}");
                } else {
                    assert_eq!(m.dwState, MIB_TCP_STATE_TIME_WAIT, "{m:?}");
                    assert_eq!(m.OwningModuleInfo, [0; 16], "{m:?}");
                }
            }
        }
        let Ok(ExtendedTcpTable::OwnerModule6(rows6)) =
            iphlpapi::extended_tcp_table(false, iphlpapi::AF_INET6, 8)
        else {
            panic!("not an OWNER_MODULE IPv6 table");
        };
        assert_eq!(rows6.len(), 3, "{rows6:?}");
        assert!(rows6
            .iter()
            .all(|r| r.dwOwningPid == me && r.liCreateTimestamp == 0));
    });
}

/// Run `GetOwnerModuleFromTcp(6)Entry` through the buffer form: the code,
/// and the name and path on success.
fn module_from_buffer(
    call: impl Fn(*mut std::ffi::c_void, *mut u32) -> u32,
) -> (u32, Option<(String, String)>) {
    let mut size = 0;
    let code = call(ptr::null_mut(), &mut size);
    if code != ERROR_INSUFFICIENT_BUFFER {
        return (code, None);
    }
    let mut buf = vec![0u64; (size as usize).div_ceil(8)];
    let mut given = size;
    let code = call(buf.as_mut_ptr().cast(), &mut given);
    assert_eq!(given, size);
    if code != NO_ERROR {
        return (code, None);
    }
    // SAFETY: the call wrote the structure at the start of `buf`, and its
    // pointers to NUL-terminated UTF-16 strings in `buf`.
    let text = unsafe {
        let info = buf.as_ptr().cast::<TCPIP_OWNER_MODULE_BASIC_INFO>().read();
        let read = |p: *mut u16| {
            let len = (0..).take_while(|&i| *p.add(i) != 0).count();
            String::from_utf16(std::slice::from_raw_parts(p, len)).unwrap()
        };
        (read(info.pModuleName), read(info.pModulePath))
    };
    (code, Some(text))
}

#[test]
fn owner_module_names_the_owners_command_and_executable() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let child = nstest::spawn_owner(listener.local_addr().unwrap(), "modowner", None);
        let (_server, _) = listener.accept().unwrap();
        let Ok(ExtendedTcpTable::OwnerModule(rows)) =
            iphlpapi::extended_tcp_table(false, AF_INET, TCP_TABLE_OWNER_MODULE_CONNECTIONS)
        else {
            panic!("not an OWNER_MODULE table");
        };
        let row = rows
            .iter()
            .find(|r| port(r.dwLocalPort) == child.local_addr().port())
            .expect("the child's row");
        assert_eq!(row.dwOwningPid, child.pid());
        let exe = std::fs::read_link(format!("/proc/{}/exe", child.pid())).unwrap();
        let module = iphlpapi::owner_module(row).unwrap();
        assert_eq!(module.name, "modowner");
        assert_eq!(module.path, exe);
        let (code, text) = module_from_buffer(|b, s| {
            // SAFETY: a live row, and the buffer and size module_from_buffer passes.
            unsafe { get_owner_module_from_tcp_entry(row, TCPIP_OWNER_MODULE_INFO_BASIC, b, s) }
        });
        assert_eq!(code, NO_ERROR);
        assert_eq!(
            text,
            Some(("modowner".to_string(), exe.display().to_string()))
        );
        // Another class, a NULL row or size: 87.
        let mut size = 4096;
        let mut buf = buffer(4096);
        // SAFETY: valid row, buffer and size; then NULL ones on purpose.
        unsafe {
            assert_eq!(
                get_owner_module_from_tcp_entry(row, 1, buf.as_mut_ptr().cast(), &mut size),
                ERROR_INVALID_PARAMETER
            );
            assert_eq!(
                get_owner_module_from_tcp_entry(ptr::null(), 0, buf.as_mut_ptr().cast(), &mut size),
                ERROR_INVALID_PARAMETER
            );
            assert_eq!(
                get_owner_module_from_tcp_entry(row, 0, buf.as_mut_ptr().cast(), ptr::null_mut()),
                ERROR_INVALID_PARAMETER
            );
            assert_eq!(
                get_owner_module_from_tcp6_entry(
                    ptr::null(),
                    0,
                    buf.as_mut_ptr().cast(),
                    &mut size
                ),
                ERROR_INVALID_PARAMETER
            );
        }
        // The owner exits: its row no longer names a module.
        let stale = *row;
        drop(child);
        assert_eq!(
            iphlpapi::owner_module(&stale),
            Err(Win32Error(ERROR_NOT_FOUND))
        );
    });
}

#[test]
fn owner_module_of_a_row_without_owner_is_not_found() {
    in_netns(|| {
        let v6 = listen("[::1]:0");
        nstest::time_wait(&v6);
        let Ok(ExtendedTcpTable::OwnerModule6(rows)) =
            iphlpapi::extended_tcp_table(false, iphlpapi::AF_INET6, TCP_TABLE_OWNER_MODULE_ALL)
        else {
            panic!("not an OWNER_MODULE IPv6 table");
        };
        let tw = rows
            .iter()
            .find(|r| r.dwState == MIB_TCP_STATE_TIME_WAIT)
            .expect("a TIME-WAIT row");
        assert_eq!(tw.dwOwningPid, 0);
        let (code, _) = module_from_buffer(|b, s| {
            // SAFETY: a live row, and the buffer and size module_from_buffer passes.
            unsafe { get_owner_module_from_tcp6_entry(tw, 0, b, s) }
        });
        assert_eq!(code, ERROR_NOT_FOUND);
        let listener = rows
            .iter()
            .find(|r| r.dwState == MIB_TCP_STATE_LISTEN)
            .expect("the listener");
        let module = iphlpapi::owner_module6(listener).unwrap();
        assert_eq!(module.path, std::env::current_exe().unwrap());
    });
}

#[test]
fn owner_module_of_another_users_process_without_cap_sys_ptrace_is_access_denied() {
    if !nstest::require_real_root("the owner runs as uid 65534") {
        return;
    }
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let child = nstest::spawn_owner(listener.local_addr().unwrap(), "otheruser", Some(65534));
        let (_server, _) = listener.accept().unwrap();
        let Ok(ExtendedTcpTable::OwnerModule(rows)) =
            iphlpapi::extended_tcp_table(false, AF_INET, TCP_TABLE_OWNER_MODULE_ALL)
        else {
            panic!("not an OWNER_MODULE table");
        };
        let row = *rows
            .iter()
            .find(|r| port(r.dwLocalPort) == child.local_addr().port())
            .expect("the child's row");
        assert_eq!(row.dwOwningPid, child.pid());
        // Root reads it; without CAP_SYS_PTRACE, another user's exe is closed.
        assert_eq!(iphlpapi::owner_module(&row).unwrap().name, "otheruser");
        let code = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut sets = capabilities(None).expect("capget");
                    sets.effective.remove(CapabilitySet::SYS_PTRACE);
                    set_capabilities(None, sets).expect("capset");
                    iphlpapi::owner_module(&row)
                })
                .join()
                .unwrap()
        });
        assert_eq!(code, Err(Win32Error(ERROR_ACCESS_DENIED)));
    });
}

// ---- GetTcpStatistics family -----------------------------------------------

/// The `Tcp:` counters of this thread's namespace, by name.
fn snmp_tcp() -> std::collections::HashMap<String, i64> {
    let text = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap();
    let tcp: Vec<&str> = text.lines().filter(|l| l.starts_with("Tcp:")).collect();
    tcp[0]
        .split_whitespace()
        .zip(tcp[1].split_whitespace())
        .skip(1)
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

/// How many sockets of family `-4`/`-6` `ss` shows in any state but LISTEN.
fn ss_connections(family: &str) -> u32 {
    nstest::ss(&[
        "-H",
        "-t",
        "-n",
        family,
        "state",
        "all",
        "exclude",
        "listening",
    ])
    .lines()
    .count() as u32
}

#[test]
fn tcp_statistics_are_the_namespaces_tcp_mib_field_by_field() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let _a = connect(&listener);
        let _b = connect(&listener);
        nstest::time_wait(&listener);
        let v6 = listen("[::1]:0");
        let _c = connect(&v6);
        // A refused connect: an active open that failed, and an RST sent.
        let closed = listen("127.0.0.1:0");
        let closed_at = closed.local_addr().unwrap();
        drop(closed);
        assert!(TcpStream::connect(closed_at).is_err());

        let mut stats = MIB_TCPSTATS::default();
        // SAFETY: a valid MIB_TCPSTATS.
        assert_eq!(unsafe { get_tcp_statistics(&mut stats) }, NO_ERROR);
        let mut stats2 = MIB_TCPSTATS2::default();
        // SAFETY: a valid MIB_TCPSTATS2.
        let code = unsafe { get_tcp_statistics_ex2(&mut stats2, AF_INET6_LINUX) };
        assert_eq!(code, NO_ERROR);
        let mib = snmp_tcp();
        let dword = |k: &str| mib[k] as u32;
        assert_eq!(
            stats,
            MIB_TCPSTATS {
                dwRtoAlgorithm: dword("RtoAlgorithm"),
                dwRtoMin: dword("RtoMin"),
                dwRtoMax: dword("RtoMax"),
                dwMaxConn: dword("MaxConn"),
                dwActiveOpens: dword("ActiveOpens"),
                dwPassiveOpens: dword("PassiveOpens"),
                dwAttemptFails: dword("AttemptFails"),
                dwEstabResets: dword("EstabResets"),
                dwCurrEstab: dword("CurrEstab"),
                dwInSegs: dword("InSegs"),
                dwOutSegs: dword("OutSegs"),
                dwRetransSegs: dword("RetransSegs"),
                dwInErrs: dword("InErrs"),
                dwOutRsts: dword("OutRsts"),
                dwNumConns: ss_connections("-4"),
            }
        );
        // What this test did, as the kernel counted it in this namespace:
        // 4 connections (time_wait makes one) and a refused attempt.
        assert_eq!(stats.dwActiveOpens, 5);
        assert_eq!(stats.dwPassiveOpens, 4);
        assert_eq!(stats.dwAttemptFails, 1);
        assert_eq!(stats.dwCurrEstab, 2 * 2 + 2);
        assert_eq!(stats.dwMaxConn, MIB_TCP_MAXCONN_DYNAMIC);
        // 2 connections with two ends, 1 TIME-WAIT.
        assert_eq!(stats.dwNumConns, 5);
        assert_eq!(stats2.dwNumConns, ss_connections("-6"));
        assert_eq!(stats2.dwNumConns, 2);
        assert_eq!(stats2.dw64InSegs, mib["InSegs"] as u64);
        assert_eq!(stats2.dw64OutSegs, mib["OutSegs"] as u64);
        assert_eq!(stats2.dwActiveOpens, stats.dwActiveOpens);
        assert_eq!(stats2.dwOutRsts, stats.dwOutRsts);
    });
}

#[test]
fn tcp_statistics_refuse_null_and_other_families() {
    in_netns(|| {
        let mut stats = MIB_TCPSTATS::default();
        let mut stats2 = MIB_TCPSTATS2::default();
        // SAFETY: NULL pointers on purpose, valid ones otherwise.
        unsafe {
            assert_eq!(get_tcp_statistics(ptr::null_mut()), ERROR_INVALID_PARAMETER);
            assert_eq!(
                get_tcp_statistics_ex(ptr::null_mut(), AF_INET),
                ERROR_INVALID_PARAMETER
            );
            assert_eq!(
                get_tcp_statistics_ex2(ptr::null_mut(), AF_INET),
                ERROR_INVALID_PARAMETER
            );
            for af in [0, 1, 11, 22, 24, u32::MAX] {
                assert_eq!(
                    get_tcp_statistics_ex(&mut stats, af),
                    ERROR_INVALID_PARAMETER
                );
                assert_eq!(
                    get_tcp_statistics_ex2(&mut stats2, af),
                    ERROR_INVALID_PARAMETER
                );
            }
            for af in [AF_INET, iphlpapi::AF_INET6, AF_INET6_LINUX] {
                assert_eq!(get_tcp_statistics_ex(&mut stats, af), NO_ERROR);
                assert_eq!(get_tcp_statistics_ex2(&mut stats2, af), NO_ERROR);
            }
        }
    });
}

// ---- rows ------------------------------------------------------------------

#[test]
fn table_rows_match_ss() {
    in_netns(|| {
        let _sockets = nstest::every_kind_of_socket();
        let mut ours: Vec<_> = iphlpapi::tcp_table(false)
            .unwrap()
            .iter()
            .map(v4_triple)
            .chain(iphlpapi::tcp6_table(false).unwrap().iter().map(v6_triple))
            .collect();
        ours.sort();
        assert_eq!(ours, ss_rows());
        assert!(ours.iter().any(|r| r.0 == "TIME-WAIT"), "{ours:?}");
    });
}

#[test]
fn the_ipv6_table_holds_ipv6_and_v4_mapped_rows_and_the_ipv4_table_neither() {
    in_netns(|| {
        let v6 = listen("[::1]:0");
        let (v6_client, _v6_server) = connect(&v6);
        let dual = listen_dual(0);
        let dual_port = dual.local_addr().unwrap().port();
        let mapped_client = TcpStream::connect(("127.0.0.1", dual_port)).unwrap();
        let _server = dual.accept().unwrap();

        let six = iphlpapi::tcp6_table(false).unwrap();
        let ends: Vec<_> = six
            .iter()
            .map(|r| (Ipv6Addr::from(r.LocalAddr), port(r.dwLocalPort), r.State))
            .collect();
        let loopback6 = Ipv6Addr::LOCALHOST;
        let mapped = Ipv4Addr::LOCALHOST.to_ipv6_mapped();
        let v6_port = v6_client.local_addr().unwrap().port();
        assert!(
            ends.contains(&(loopback6, v6_port, MIB_TCP_STATE_ESTAB)),
            "{ends:?}"
        );
        assert!(
            ends.contains(&(mapped, dual_port, MIB_TCP_STATE_ESTAB)),
            "{ends:?}"
        );
        assert!(ends.contains(&(Ipv6Addr::UNSPECIFIED, dual_port, MIB_TCP_STATE_LISTEN)));
        let mapped_row = six
            .iter()
            .find(|r| Ipv6Addr::from(r.LocalAddr) == mapped)
            .unwrap();
        assert_eq!(Ipv6Addr::from(mapped_row.RemoteAddr), mapped);
        assert_eq!(
            port(mapped_row.dwRemotePort),
            mapped_client.local_addr().unwrap().port()
        );

        // The IPv4 table: just the AF_INET client end of the mapped connection.
        let four = iphlpapi::tcp_table(false).unwrap();
        assert_eq!(four.len(), 1, "{four:?}");
        assert_eq!(
            port(four[0].dwLocalPort),
            mapped_client.local_addr().unwrap().port()
        );
        assert_eq!(port(four[0].dwRemotePort), dual_port);
    });
}

#[test]
fn border_sorts_by_local_then_remote_as_host_order_numbers() {
    in_netns(|| {
        // Addresses whose network-order DWORDs sort differently from their
        // host-order numbers, on several ports.
        let listeners: Vec<TcpListener> =
            ["127.0.1.0:0", "127.0.0.2:0", "127.1.0.0:0", "127.0.0.2:0"]
                .iter()
                .map(|a| listen(a))
                .collect();
        let mut streams = Vec::new();
        for l in &listeners {
            streams.push(connect(l));
            streams.push(connect(l));
        }
        let six_a = listen("[::1]:0");
        let six_b = listen("[::1]:0");
        for l in [&six_b, &six_a, &six_b] {
            streams.push(connect(l));
        }

        let key4 = |r: &MIB_TCPROW| {
            (
                u32::from(v4(r.dwLocalAddr)),
                port(r.dwLocalPort),
                u32::from(v4(r.dwRemoteAddr)),
                port(r.dwRemotePort),
            )
        };
        let sorted = iphlpapi::tcp_table(true).unwrap();
        let keys: Vec<_> = sorted.iter().map(key4).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        let mut unsorted = iphlpapi::tcp_table(false).unwrap();
        unsorted.sort_by_key(key4);
        assert_eq!(unsorted, sorted);
        // Listeners in host order; the DWORDs as stored (network order, read
        // little-endian) would put 127.1.0.0 first and 127.0.0.2 last.
        let listening: Vec<Ipv4Addr> = sorted
            .iter()
            .filter(|r| r.dwState == MIB_TCP_STATE_LISTEN)
            .map(|r| v4(r.dwLocalAddr))
            .collect();
        let want: Vec<Ipv4Addr> = ["127.0.0.2", "127.0.0.2", "127.0.1.0", "127.1.0.0"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(listening, want);

        let key6 = |r: &MIB_TCP6ROW| {
            (
                u128::from_be_bytes(r.LocalAddr),
                r.dwLocalScopeId,
                port(r.dwLocalPort),
                u128::from_be_bytes(r.RemoteAddr),
                r.dwRemoteScopeId,
                port(r.dwRemotePort),
            )
        };
        let sorted6 = iphlpapi::tcp6_table(true).unwrap();
        let keys6: Vec<_> = sorted6.iter().map(key6).collect();
        assert!(keys6.windows(2).all(|w| w[0] < w[1]), "{keys6:?}");
        let sorted2 = iphlpapi::tcp_table2(true).unwrap();
        let keys2: Vec<_> = sorted2
            .iter()
            .map(|r| {
                (
                    u32::from(v4(r.dwLocalAddr)),
                    port(r.dwLocalPort),
                    u32::from(v4(r.dwRemoteAddr)),
                    port(r.dwRemotePort),
                )
            })
            .collect();
        assert_eq!(keys2, keys);
    });
}

#[test]
fn owner_pid_tables_carry_this_process_id_and_time_wait_has_none() {
    in_netns(|| {
        let me = std::process::id();
        let v4 = listen("127.0.0.1:0");
        let (client, _server) = connect(&v4);
        let tw_port = nstest::time_wait(&v4).port();
        let dual = listen_dual(0);
        let dual_port = dual.local_addr().unwrap().port();
        let _mapped = TcpStream::connect(("127.0.0.1", dual_port)).unwrap();
        let _mapped_server = dual.accept().unwrap();

        let Ok(ExtendedTcpTable::OwnerPid(rows)) =
            iphlpapi::extended_tcp_table(true, AF_INET, TCP_TABLE_OWNER_PID_ALL)
        else {
            panic!("not an OWNER_PID table");
        };
        let client_port = client.local_addr().unwrap().port();
        for r in &rows {
            let want = if r.dwState == MIB_TCP_STATE_TIME_WAIT {
                0
            } else {
                me
            };
            assert_eq!(r.dwOwningPid, want, "{r:?}");
        }
        assert!(rows.iter().any(|r| port(r.dwLocalPort) == client_port));
        assert!(rows
            .iter()
            .any(|r| port(r.dwLocalPort) == tw_port && r.dwState == MIB_TCP_STATE_TIME_WAIT));

        let Ok(ExtendedTcpTable::OwnerPid6(rows6)) =
            iphlpapi::extended_tcp_table(false, iphlpapi::AF_INET6, TCP_TABLE_OWNER_PID_ALL)
        else {
            panic!("not an OWNER_PID IPv6 table");
        };
        assert_eq!(rows6.len(), 2, "{rows6:?}");
        assert!(rows6.iter().all(|r| r.dwOwningPid == me), "{rows6:?}");

        for r in iphlpapi::tcp_table2(false).unwrap() {
            let want = if r.dwState == MIB_TCP_STATE_TIME_WAIT {
                0
            } else {
                me
            };
            assert_eq!((r.dwOwningPid, r.dwOffloadState), (want, 0), "{r:?}");
        }
        for r in iphlpapi::tcp6_table2(false).unwrap() {
            assert_eq!((r.dwOwningPid, r.dwOffloadState), (me, 0), "{r:?}");
        }
        // The basic table has no pid column; the buffer form agrees.
        let mut size = 0;
        // SAFETY: NULL table, valid size.
        unsafe { get_extended_tcp_table(ptr::null_mut(), &mut size, false, AF_INET, 5, 0) };
        let mut buf = buffer(size);
        // SAFETY: the buffer holds `size` bytes.
        let code = unsafe {
            get_extended_tcp_table(buf.as_mut_ptr().cast(), &mut size, true, AF_INET, 5, 0)
        };
        assert_eq!(code, NO_ERROR);
        // SAFETY: DWORD-aligned buffer with buf[0] rows from offset 4.
        let from_buffer = unsafe {
            std::slice::from_raw_parts(
                buf.as_ptr().add(1).cast::<MIB_TCPROW_OWNER_PID>(),
                buf[0] as usize,
            )
        };
        assert_eq!(from_buffer, rows.as_slice());
    });
}

#[test]
fn listen_rows_carry_remote_zero() {
    in_netns(|| {
        let _v4 = listen("127.0.0.1:0");
        let _v6 = listen("[::1]:0");
        let four = iphlpapi::tcp_table(false).unwrap();
        let six = iphlpapi::tcp6_table(false).unwrap();
        assert_eq!((four.len(), six.len()), (1, 1));
        assert_eq!(four[0].dwState, MIB_TCP_STATE_LISTEN);
        assert_eq!((four[0].dwRemoteAddr, four[0].dwRemotePort), (0, 0));
        assert_eq!(six[0].State, MIB_TCP_STATE_LISTEN);
        assert_eq!((six[0].RemoteAddr, six[0].dwRemotePort), ([0; 16], 0));
    });
}

#[test]
fn layout_facts_match_the_rust_types() {
    // The compile-time assertions pin these; the list the C header test
    // compares against must say the same.
    let fact = |what: &str| {
        iphlpapi::LAYOUT
            .iter()
            .find(|f| f.what == what)
            .unwrap_or_else(|| panic!("no fact {what}"))
            .value
    };
    assert_eq!(fact("sizeof(MIB_TCPROW)"), size_of::<MIB_TCPROW>());
    assert_eq!(fact("sizeof(MIB_TCP6ROW2)"), size_of::<MIB_TCP6ROW2>());
    assert_eq!(
        fact("offsetof(MIB_TCP6TABLE, table)"),
        offset_of!(MIB_TCP6TABLE, table)
    );
    assert_eq!(
        fact("offsetof(MIB_TCP6ROW_OWNER_PID, dwOwningPid)"),
        offset_of!(MIB_TCP6ROW_OWNER_PID, dwOwningPid)
    );
    assert_eq!(
        fact("offsetof(MIB_TCPTABLE_OWNER_MODULE, table)"),
        offset_of!(MIB_TCPTABLE_OWNER_MODULE, table)
    );
    assert_eq!(
        fact("offsetof(MIB_TCPSTATS2, dw64InSegs)"),
        offset_of!(MIB_TCPSTATS2, dw64InSegs)
    );
    // 19 sizes and 108 field offsets.
    assert_eq!(iphlpapi::LAYOUT.len(), 19 + 108);
}
