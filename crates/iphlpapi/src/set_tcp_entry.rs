//! `SetTcpEntry`: abort one IPv4 TCP connection named by a [`MIB_TCPROW`].

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::codes::*;
use super::error::Win32Error;
use super::types::{MIB_TCPROW, MIB_TCP_STATE_DELETE_TCB};
use tcpdrop::{DropOptions, DropReport, Outcome, Selection, Session};

/// `SetTcpEntry`: set the TCP connection `row` names to
/// `MIB_TCP_STATE_DELETE_TCB`, i.e. abort it, and return a Win32 code.
///
/// | situation | returns |
/// |---|---|
/// | aborted: its owner sees `ECONNABORTED` (`ECONNRESET` through the holder or an injected reset), the peer an RST | 0 `NO_ERROR` |
/// | `row` is `None` (a NULL pointer) | 87 `ERROR_INVALID_PARAMETER` |
/// | `dwState` ≠ 12 (`MIB_TCP_STATE_DELETE_TCB`); nothing is touched | 87 |
/// | no socket has all four members | 317 `ERROR_MR_MID_NOT_FOUND` |
/// | no way of aborting allowed, `CAP_NET_ADMIN` not even permitted | 5 `ERROR_ACCESS_DENIED` |
/// | no way allowed, `CAP_NET_ADMIN` permitted but not effective ("not elevated") | 317 |
/// | no way of aborting can work at all | 50 `ERROR_NOT_SUPPORTED` |
///
/// It aborts as `tcpdrop --method auto` does ([`tcpdrop::Method`]): by
/// `SOCK_DESTROY` where the kernel has it and the caller may; else through
/// the holding process's own descriptor, which needs no privilege for the
/// caller's own processes (a Linux extension of Windows' rule that only
/// administrators may: as `kill` allows a user to end their own programs;
/// another user's connection stays 5); else by an injected reset
/// (`CAP_NET_RAW`). So on a kernel without `SOCK_DESTROY` it returns 0.
///
/// The row's addresses are `in_addr` bytes; its ports are network-order
/// values in the low 16 bits, and the upper 16 bits are ignored, as Windows
/// ignores them. An IPv4 tuple also finds an IPv4 connection carried by a
/// dual-stack IPv6 socket (`::ffff:a.b.c.d`).
///
/// The safe procedure of SPEC §3: the connection is found by one exact
/// lookup in the kernel's hash tables (no walk of every socket) and
/// destroyed by its kernel id *and cookie*. An answer for another tuple
/// (the kernel falls back to the listener on the port) counts as not
/// found, and a tuple that matches nothing sends no destroy at all, so the
/// listener can never be hit; a connection that closes in between is
/// reported as not found (317), never a newer one on the same tuple hit.
///
/// **Listeners.** A LISTEN socket is aborted only when the row names its
/// own tuple: its local address and port, remote `0.0.0.0:0`. No
/// connection has remote port 0, so such a row can name nothing else; a row
/// naming a connection never reaches the listener it was accepted from.
/// This follows Windows, where a `MIB_TCP_STATE_DELETE_TCB` row copied from
/// a LISTEN entry of `GetTcpTable` closes that listener.
///
/// Privilege is read from the calling thread: capabilities are per thread.
#[doc(alias = "SetTcpEntry")]
pub fn set_tcp_entry(row: Option<&MIB_TCPROW>) -> u32 {
    let Some(row) = row else {
        return ERROR_INVALID_PARAMETER;
    };
    if row.dwState != MIB_TCP_STATE_DELETE_TCB {
        return ERROR_INVALID_PARAMETER;
    }
    let local = endpoint(row.dwLocalAddr, row.dwLocalPort);
    let remote = endpoint(row.dwRemoteAddr, row.dwRemotePort);
    match delete_tcb(local, remote) {
        Ok(()) => NO_ERROR,
        Err(code) => code,
    }
}

/// The socket address a row's `in_addr` and port DWORDs name.
pub(super) fn endpoint(addr: u32, port: u32) -> SocketAddr {
    // The port's two network-order bytes are the DWORD's low 16 bits, the
    // first two bytes in memory: truncate, then swap to host order.
    let port = u16::from_be(port as u16);
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(addr.to_ne_bytes()), port))
}

fn delete_tcb(local: SocketAddr, remote: SocketAddr) -> Result<(), u32> {
    let mut session = Session::new().map_err(|e| Win32Error::from(e).code())?;
    // One exact lookup, then the destroy of that one socket by its id and
    // cookie. A listener's remote is 0.0.0.0:0, so it is chosen only by a
    // row that names it (see above).
    let selection = Selection::tuple(local, remote).listeners(true);
    let mut report = DropReport::default();
    session
        .drop(selection, DropOptions::default(), &mut report)
        .map_err(|e| Win32Error::from(e).code())?;
    match report.results.first() {
        Some((_, Outcome::Dropped(_))) => Ok(()),
        Some((_, Outcome::Failed(err))) => Err(Win32Error::from(err).code()),
        // Gone: it closed after the lookup, so there is nothing to abort.
        Some((_, Outcome::Gone(_))) | None => Err(ERROR_MR_MID_NOT_FOUND),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_the_low_16_bits_in_network_order() {
        let addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let port = u32::from(8080u16.to_be()) | 0xDEAD_0000;
        assert_eq!(
            endpoint(addr, port),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
    }

    #[test]
    fn a_null_row_or_another_state_is_an_invalid_parameter() {
        assert_eq!(set_tcp_entry(None), ERROR_INVALID_PARAMETER);
        for state in (0..=20).filter(|&s| s != MIB_TCP_STATE_DELETE_TCB) {
            let row = MIB_TCPROW {
                dwState: state,
                ..MIB_TCPROW::default()
            };
            assert_eq!(set_tcp_entry(Some(&row)), ERROR_INVALID_PARAMETER);
        }
    }
}
