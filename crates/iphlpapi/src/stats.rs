//! `GetTcpStatistics`, `GetTcpStatisticsEx` and `GetTcpStatisticsEx2`: the
//! kernel's TCP MIB (RFC 4022) as `MIB_TCPSTATS` / `MIB_TCPSTATS2`.
//!
//! The counters are the `Tcp:` lines of `/proc/net/snmp` of the calling
//! thread's network namespace (read through `/proc/thread-self/net`, since
//! `/proc/self/net` follows the main thread's namespace; [`proc_net(5)`]),
//! field by field: `RtoAlgorithm`, `RtoMin`, `RtoMax`, `MaxConn`,
//! `ActiveOpens`, `PassiveOpens`, `AttemptFails`, `EstabResets`,
//! `CurrEstab`, `InSegs`, `OutSegs`, `RetransSegs`, `InErrs`, `OutRsts`.
//! `MaxConn` -1 (no limit) is [`MIB_TCP_MAXCONN_DYNAMIC`], as on Windows;
//! 32-bit members hold the counters modulo 2^32, as Windows' 32-bit
//! counters wrap.
//!
//! Linux keeps one TCP MIB for IPv4 and IPv6 together, so both families
//! get the same counters. `dwNumConns`, which the kernel does not count, is
//! the number of that family's sockets in any state but LISTEN: the rows
//! `GetExtendedTcpTable(..., TCP_TABLE_BASIC_CONNECTIONS, ...)` returns.
//!
//! [`proc_net(5)`]: https://man7.org/linux/man-pages/man5/proc_net.5.html

use std::collections::HashMap;

use super::codes::*;
use super::error::Win32Error;
use super::table::{entries, table_of, Select};
use super::types::*;

/// Where the calling thread's namespace shows its IP, ICMP, TCP and UDP MIBs.
const SNMP: &str = "/proc/thread-self/net/snmp";

/// The `Tcp:` counters of an `snmp` file, by name: its first `Tcp:` line
/// names them, the second holds their values.
fn tcp_mib(snmp: &str) -> Option<HashMap<&str, i128>> {
    let mut lines = snmp.lines().filter_map(|l| l.strip_prefix("Tcp:"));
    let names = lines.next()?.split_ascii_whitespace();
    let values = lines.next()?.split_ascii_whitespace();
    names
        .zip(values)
        .map(|(name, value)| Some((name, value.parse().ok()?)))
        .collect()
}

/// [`MIB_TCPSTATS2`] from an `snmp` file's counters and the number of
/// connections.
fn from_mib(mib: &HashMap<&str, i128>, connections: usize) -> Option<MIB_TCPSTATS2> {
    // 32-bit members wrap as Windows' counters do; -1 becomes 0xFFFFFFFF.
    let dword = |name: &str| mib.get(name).map(|&v| v as u32);
    let qword = |name: &str| mib.get(name).map(|&v| v as u64);
    Some(MIB_TCPSTATS2 {
        RtoAlgorithm: dword("RtoAlgorithm")?,
        dwRtoMin: dword("RtoMin")?,
        dwRtoMax: dword("RtoMax")?,
        dwMaxConn: dword("MaxConn")?,
        dwActiveOpens: dword("ActiveOpens")?,
        dwPassiveOpens: dword("PassiveOpens")?,
        dwAttemptFails: dword("AttemptFails")?,
        dwEstabResets: dword("EstabResets")?,
        dwCurrEstab: dword("CurrEstab")?,
        dw64InSegs: qword("InSegs")?,
        dw64OutSegs: qword("OutSegs")?,
        dwRetransSegs: dword("RetransSegs")?,
        dwInErrs: dword("InErrs")?,
        dwOutRsts: dword("OutRsts")?,
        dwNumConns: u32::try_from(connections).unwrap_or(u32::MAX),
    })
}

/// `GetTcpStatisticsEx2` without the pointer: the TCP MIB of the calling
/// thread's network namespace with 64-bit segment counters, for family
/// `af` ([`AF_INET`], or `AF_INET6` as Windows, 23, or Linux, 10, numbers
/// it; another → 87).
///
/// `ERROR_NOT_SUPPORTED` (50) when the namespace shows no TCP MIB (no
/// `/proc`, or a kernel without IPv4).
#[doc(alias = "GetTcpStatisticsEx2")]
pub fn tcp_statistics2(af: u32) -> Result<MIB_TCPSTATS2, Win32Error> {
    let table = table_of(af)?;
    let unsupported = Win32Error(ERROR_NOT_SUPPORTED);
    let snmp = std::fs::read_to_string(SNMP).map_err(|_| unsupported)?;
    let mib = tcp_mib(&snmp).ok_or(unsupported)?;
    let connections = entries(table, Select::Connections, false, false)?.len();
    from_mib(&mib, connections).ok_or(unsupported)
}

/// `GetTcpStatisticsEx` without the pointer: [`tcp_statistics2`] with
/// 32-bit segment counters (modulo 2^32).
#[doc(alias = "GetTcpStatisticsEx")]
#[doc(alias = "GetTcpStatistics")]
pub fn tcp_statistics(af: u32) -> Result<MIB_TCPSTATS, Win32Error> {
    let s = tcp_statistics2(af)?;
    Ok(MIB_TCPSTATS {
        dwRtoAlgorithm: s.RtoAlgorithm,
        dwRtoMin: s.dwRtoMin,
        dwRtoMax: s.dwRtoMax,
        dwMaxConn: s.dwMaxConn,
        dwActiveOpens: s.dwActiveOpens,
        dwPassiveOpens: s.dwPassiveOpens,
        dwAttemptFails: s.dwAttemptFails,
        dwEstabResets: s.dwEstabResets,
        dwCurrEstab: s.dwCurrEstab,
        dwInSegs: s.dw64InSegs as u32,
        dwOutSegs: s.dw64OutSegs as u32,
        dwRetransSegs: s.dwRetransSegs,
        dwInErrs: s.dwInErrs,
        dwOutRsts: s.dwOutRsts,
        dwNumConns: s.dwNumConns,
    })
}

/// Write `stats` to `out`, or return the error.
///
/// # Safety
///
/// `out` is non-null and valid for writing a `T`, without alignment.
unsafe fn deliver<T>(out: *mut T, stats: Result<T, Win32Error>) -> u32 {
    match stats {
        Ok(stats) => {
            // SAFETY: the caller's contract.
            unsafe { out.write_unaligned(stats) };
            NO_ERROR
        }
        Err(err) => err.0,
    }
}

/// `GetTcpStatistics(pStats)`: [`tcp_statistics`] of [`AF_INET`] into
/// `*stats`. NULL → 87.
///
/// # Safety
///
/// `stats` is NULL or valid for writing a [`MIB_TCPSTATS`].
#[doc(alias = "GetTcpStatistics")]
pub unsafe fn get_tcp_statistics(stats: *mut MIB_TCPSTATS) -> u32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { get_tcp_statistics_ex(stats, AF_INET) }
}

/// `GetTcpStatisticsEx(pStats, dwFamily)`: [`tcp_statistics`] of `af` into
/// `*stats`. NULL, or a family other than `AF_INET` / `AF_INET6` → 87.
///
/// # Safety
///
/// `stats` is NULL or valid for writing a [`MIB_TCPSTATS`].
#[doc(alias = "GetTcpStatisticsEx")]
pub unsafe fn get_tcp_statistics_ex(stats: *mut MIB_TCPSTATS, af: u32) -> u32 {
    if stats.is_null() {
        return ERROR_INVALID_PARAMETER;
    }
    // SAFETY: non-null; valid for a write (caller).
    unsafe { deliver(stats, tcp_statistics(af)) }
}

/// `GetTcpStatisticsEx2(pStats, Family)`: [`tcp_statistics2`] of `af` into
/// `*stats`. NULL, or a family other than `AF_INET` / `AF_INET6` → 87.
///
/// # Safety
///
/// `stats` is NULL or valid for writing a [`MIB_TCPSTATS2`].
#[doc(alias = "GetTcpStatisticsEx2")]
pub unsafe fn get_tcp_statistics_ex2(stats: *mut MIB_TCPSTATS2, af: u32) -> u32 {
    if stats.is_null() {
        return ERROR_INVALID_PARAMETER;
    }
    // SAFETY: non-null; valid for a write (caller).
    unsafe { deliver(stats, tcp_statistics2(af)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Tcp:` lines of a 6.x kernel's `/proc/net/snmp`, between others.
    const SNMP_TEXT: &str = "\
Icmp: InMsgs InErrors
Icmp: 7 0
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 12 11 1 2 3 8589934597 40 4 5 6 0
Udp: InDatagrams NoPorts
Udp: 0 0
";

    #[test]
    fn the_tcp_lines_map_field_by_field() {
        let mib = tcp_mib(SNMP_TEXT).unwrap();
        let s = from_mib(&mib, 9).unwrap();
        assert_eq!(
            s,
            MIB_TCPSTATS2 {
                RtoAlgorithm: 1,
                dwRtoMin: 200,
                dwRtoMax: 120000,
                dwMaxConn: MIB_TCP_MAXCONN_DYNAMIC,
                dwActiveOpens: 12,
                dwPassiveOpens: 11,
                dwAttemptFails: 1,
                dwEstabResets: 2,
                dwCurrEstab: 3,
                dw64InSegs: 8589934597,
                dw64OutSegs: 40,
                dwRetransSegs: 4,
                dwInErrs: 5,
                dwOutRsts: 6,
                dwNumConns: 9,
            }
        );
    }

    #[test]
    fn a_file_without_the_tcp_mib_gives_nothing() {
        assert!(tcp_mib("Udp: InDatagrams\nUdp: 0\n").is_none());
        let mut mib = tcp_mib(SNMP_TEXT).unwrap();
        mib.remove("OutRsts");
        assert!(from_mib(&mib, 0).is_none());
    }
}
