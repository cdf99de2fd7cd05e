//! The C face: `libiphlpapi`'s exported functions.
//!
//! Each function has the exact Windows name and signature (`iphlpapi.h`,
//! shipped in this crate's `include/`), so Windows C code that aborts
//! connections with `SetTcpEntry`, lists them with the `GetTcpTable`
//! family, names their owners with `GetOwnerModuleFromTcpEntry` or reads
//! the TCP counters with `GetTcpStatistics` builds and runs unchanged
//! against `libiphlpapi.so` or `libiphlpapi.a`; `include/compat/` holds
//! the few Windows headers such code includes besides (`<windows.h>`,
//! `<winsock2.h>`, ...). The semantics and return codes are those of the
//! crate's Rust face, which does the work; this module only crosses the
//! boundary: it turns C pointers into the Rust functions' arguments and
//! makes sure no Rust panic unwinds into C (a panic returns
//! `ERROR_GEN_FAILURE`, 31).
//!
//! Everything acts on the calling thread's network namespace, with the
//! calling thread's capabilities.
#![allow(non_snake_case)]

use core::ffi::{c_char, c_void};
use std::panic::{catch_unwind, UnwindSafe};

use crate::codes::*;
use crate::{
    Win32Error, MIB_TCP6ROW_OWNER_MODULE, MIB_TCP6TABLE, MIB_TCP6TABLE2, MIB_TCPROW,
    MIB_TCPROW_OWNER_MODULE, MIB_TCPSTATS, MIB_TCPSTATS2, MIB_TCPTABLE, MIB_TCPTABLE2,
};

/// Windows' `DWORD`: 32 bits unsigned.
pub type DWORD = u32;
/// Windows' `ULONG`: 32 bits unsigned (Windows is LLP64; not C's
/// `unsigned long` on Linux).
pub type ULONG = u32;
/// Windows' `BOOL`: an `int`, nonzero for true.
pub type BOOL = i32;

/// Run `work`, turning a panic into `ERROR_GEN_FAILURE` so that no unwind
/// crosses into C.
fn guard(work: impl FnOnce() -> u32 + UnwindSafe) -> u32 {
    catch_unwind(work).unwrap_or(ERROR_GEN_FAILURE)
}

/// `DWORD SetTcpEntry(PMIB_TCPROW pTcpRow)`: abort the IPv4 connection the
/// row names ([`crate::set_tcp_entry`]).
///
/// Returns 0, or 87 (NULL row, `dwState` ≠ `MIB_TCP_STATE_DELETE_TCB`),
/// 317 (no such connection, or `CAP_NET_ADMIN` permitted but not
/// effective), 5 (no `CAP_NET_ADMIN`), 50 (the kernel cannot destroy
/// sockets).
///
/// # Safety
///
/// `pTcpRow` is NULL or points to a readable `MIB_TCPROW`.
#[no_mangle]
pub unsafe extern "C" fn SetTcpEntry(pTcpRow: *mut MIB_TCPROW) -> DWORD {
    let row = if pTcpRow.is_null() {
        None
    } else {
        // SAFETY: non-null, and the caller guarantees it points to a
        // MIB_TCPROW; read by value, without assuming alignment.
        Some(unsafe { pTcpRow.read_unaligned() })
    };
    guard(move || crate::set_tcp_entry(row.as_ref()))
}

/// `ULONG GetTcpTable(PMIB_TCPTABLE TcpTable, PULONG SizePointer, BOOL
/// Order)`: the `AF_INET` TCP sockets ([`crate::get_tcp_table`]).
///
/// Size protocol: `SizePointer` NULL → 87; `TcpTable` NULL or `*SizePointer`
/// too small → 122 with the needed size in `*SizePointer`; on success 0 and
/// the size written.
///
/// # Safety
///
/// `SizePointer` is NULL or valid for reading and writing a `ULONG`;
/// `TcpTable` is NULL or valid for writing `*SizePointer` bytes.
#[no_mangle]
pub unsafe extern "C" fn GetTcpTable(
    TcpTable: *mut MIB_TCPTABLE,
    SizePointer: *mut ULONG,
    Order: BOOL,
) -> ULONG {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_tcp_table(TcpTable, SizePointer, Order != 0) }
    })
}

/// `ULONG GetTcpTable2(PMIB_TCPTABLE2 TcpTable, PULONG SizePointer, BOOL
/// Order)`: [`GetTcpTable`] with owning pids and offload state.
///
/// # Safety
///
/// As [`GetTcpTable`].
#[no_mangle]
pub unsafe extern "C" fn GetTcpTable2(
    TcpTable: *mut MIB_TCPTABLE2,
    SizePointer: *mut ULONG,
    Order: BOOL,
) -> ULONG {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_tcp_table2(TcpTable, SizePointer, Order != 0) }
    })
}

/// `ULONG GetTcp6Table(PMIB_TCP6TABLE TcpTable, PULONG SizePointer, BOOL
/// Order)`: the `AF_INET6` TCP sockets, v4-mapped connections included.
///
/// # Safety
///
/// As [`GetTcpTable`].
#[no_mangle]
pub unsafe extern "C" fn GetTcp6Table(
    TcpTable: *mut MIB_TCP6TABLE,
    SizePointer: *mut ULONG,
    Order: BOOL,
) -> ULONG {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_tcp6_table(TcpTable, SizePointer, Order != 0) }
    })
}

/// `ULONG GetTcp6Table2(PMIB_TCP6TABLE2 TcpTable, PULONG SizePointer, BOOL
/// Order)`: [`GetTcp6Table`] with owning pids and offload state.
///
/// # Safety
///
/// As [`GetTcpTable`].
#[no_mangle]
pub unsafe extern "C" fn GetTcp6Table2(
    TcpTable: *mut MIB_TCP6TABLE2,
    SizePointer: *mut ULONG,
    Order: BOOL,
) -> ULONG {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_tcp6_table2(TcpTable, SizePointer, Order != 0) }
    })
}

/// `DWORD GetExtendedTcpTable(PVOID pTcpTable, PDWORD pdwSize, BOOL bOrder,
/// ULONG ulAf, TCP_TABLE_CLASS TableClass, ULONG Reserved)`
/// ([`crate::get_extended_tcp_table`]).
///
/// `ulAf` is `AF_INET` (2) or `AF_INET6`, as Windows (23,
/// `WINAPI_AF_INET6` in `iphlpapi.h`) or Linux (10) numbers it. Classes
/// `TCP_TABLE_BASIC_*`, `TCP_TABLE_OWNER_PID_*` and
/// `TCP_TABLE_OWNER_MODULE_*`; another class or family, or `Reserved` ≠ 0
/// → 87.
///
/// # Safety
///
/// As [`GetTcpTable`].
#[no_mangle]
pub unsafe extern "C" fn GetExtendedTcpTable(
    pTcpTable: *mut c_void,
    pdwSize: *mut DWORD,
    bOrder: BOOL,
    ulAf: ULONG,
    TableClass: u32,
    Reserved: ULONG,
) -> DWORD {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe {
            crate::get_extended_tcp_table(
                pTcpTable,
                pdwSize,
                bOrder != 0,
                ulAf,
                TableClass,
                Reserved,
            )
        }
    })
}

/// `ULONG GetTcpStatistics(PMIB_TCPSTATS Statistics)`: the TCP MIB of the
/// calling thread's network namespace ([`crate::tcp_statistics`]). NULL → 87.
///
/// # Safety
///
/// `Statistics` is NULL or valid for writing a `MIB_TCPSTATS`.
#[no_mangle]
pub unsafe extern "C" fn GetTcpStatistics(Statistics: *mut MIB_TCPSTATS) -> ULONG {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_tcp_statistics(Statistics) }
    })
}

/// `ULONG GetTcpStatisticsEx(PMIB_TCPSTATS Statistics, ULONG Family)`:
/// [`GetTcpStatistics`] for `AF_INET` or `AF_INET6` (23 or 10); another
/// family or NULL → 87.
///
/// # Safety
///
/// As [`GetTcpStatistics`].
#[no_mangle]
pub unsafe extern "C" fn GetTcpStatisticsEx(Statistics: *mut MIB_TCPSTATS, Family: ULONG) -> ULONG {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_tcp_statistics_ex(Statistics, Family) }
    })
}

/// `ULONG GetTcpStatisticsEx2(PMIB_TCPSTATS2 Statistics, ULONG Family)`:
/// [`GetTcpStatisticsEx`] with 64-bit segment counters.
///
/// # Safety
///
/// `Statistics` is NULL or valid for writing a `MIB_TCPSTATS2`.
#[no_mangle]
pub unsafe extern "C" fn GetTcpStatisticsEx2(
    Statistics: *mut MIB_TCPSTATS2,
    Family: ULONG,
) -> ULONG {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_tcp_statistics_ex2(Statistics, Family) }
    })
}

/// `DWORD GetOwnerModuleFromTcpEntry(PMIB_TCPROW_OWNER_MODULE pTcpEntry,
/// TCPIP_OWNER_MODULE_INFO_CLASS Class, PVOID pBuffer, PDWORD pdwSize)`:
/// the program owning the socket of a `TCP_TABLE_OWNER_MODULE_*` row
/// ([`crate::get_owner_module_from_tcp_entry`]).
///
/// 87 for a NULL row or size or a class other than
/// `TCPIP_OWNER_MODULE_INFO_BASIC`; 1168 when the row has no owner or it
/// has exited; 5 when the caller may not read the owner; 122 with the
/// needed size when the buffer is NULL or too small.
///
/// # Safety
///
/// `pTcpEntry` is NULL or points to a readable `MIB_TCPROW_OWNER_MODULE`;
/// `pdwSize` is NULL or valid for reading and writing a `DWORD`; `pBuffer`
/// is NULL or valid for writing `*pdwSize` bytes.
#[no_mangle]
pub unsafe extern "C" fn GetOwnerModuleFromTcpEntry(
    pTcpEntry: *mut MIB_TCPROW_OWNER_MODULE,
    Class: u32,
    pBuffer: *mut c_void,
    pdwSize: *mut DWORD,
) -> DWORD {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_owner_module_from_tcp_entry(pTcpEntry, Class, pBuffer, pdwSize) }
    })
}

/// `DWORD GetOwnerModuleFromTcp6Entry(PMIB_TCP6ROW_OWNER_MODULE pTcpEntry,
/// TCPIP_OWNER_MODULE_INFO_CLASS Class, PVOID pBuffer, PDWORD pdwSize)`:
/// [`GetOwnerModuleFromTcpEntry`] for an IPv6 row.
///
/// # Safety
///
/// As [`GetOwnerModuleFromTcpEntry`], `pTcpEntry` pointing to a
/// `MIB_TCP6ROW_OWNER_MODULE`.
#[no_mangle]
pub unsafe extern "C" fn GetOwnerModuleFromTcp6Entry(
    pTcpEntry: *mut MIB_TCP6ROW_OWNER_MODULE,
    Class: u32,
    pBuffer: *mut c_void,
    pdwSize: *mut DWORD,
) -> DWORD {
    guard(move || {
        // SAFETY: the caller's contract, forwarded unchanged.
        unsafe { crate::get_owner_module_from_tcp6_entry(pTcpEntry, Class, pBuffer, pdwSize) }
    })
}

/// `DWORD IpHlpFormatError(DWORD code, char *buf, DWORD len)`: the English
/// text `FormatMessage` gives for `code`, except that 317, for which
/// Windows has only a placeholder, says what these calls mean by it
/// ([`Win32Error::meaning`]); copied into `buf` with a terminating NUL.
///
/// Returns 0; 87 if `buf` is NULL; 122 (`ERROR_INSUFFICIENT_BUFFER`) if the
/// text and its NUL need more than `len` bytes, in which case `buf` holds as
/// much of the text as fits, NUL-terminated (nothing when `len` is 0).
/// This call is tcpdrop's own: Windows code calls `FormatMessage`.
///
/// # Safety
///
/// `buf` is NULL or valid for writing `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn IpHlpFormatError(code: DWORD, buf: *mut c_char, len: DWORD) -> DWORD {
    if buf.is_null() {
        return ERROR_INVALID_PARAMETER;
    }
    let message = match catch_unwind(|| Win32Error(code).meaning().into_owned()) {
        Ok(message) => message,
        Err(_) => return ERROR_GEN_FAILURE,
    };
    let text = message.as_bytes();
    let room = len as usize;
    if room == 0 {
        return ERROR_INSUFFICIENT_BUFFER;
    }
    let copied = text.len().min(room - 1);
    // SAFETY: `buf` is valid for `len` bytes (caller); `copied + 1 <= len`,
    // and a Rust String cannot overlap the caller's buffer.
    unsafe {
        core::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), copied);
        buf.add(copied).write(0);
    }
    if copied < text.len() {
        ERROR_INSUFFICIENT_BUFFER
    } else {
        NO_ERROR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_gen_failure_instead_of_unwinding_into_c() {
        assert_eq!(guard(|| panic!("boom")), ERROR_GEN_FAILURE);
        assert_eq!(guard(|| 7), 7);
    }

    #[test]
    fn format_error_copies_the_text_with_its_nul_or_truncates_it() {
        let mut buf = [0x55 as c_char; 64];
        // SAFETY: `buf` holds 64 bytes.
        let code = unsafe { IpHlpFormatError(87, buf.as_mut_ptr(), 64) };
        assert_eq!(code, NO_ERROR);
        // SAFETY: the call NUL-terminated `buf`.
        let text = unsafe { core::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(text.to_str().unwrap(), "The parameter is incorrect.");
        let mut short = [0x55 as c_char; 8];
        // SAFETY: `short` holds 8 bytes.
        let code = unsafe { IpHlpFormatError(87, short.as_mut_ptr(), 8) };
        assert_eq!(code, ERROR_INSUFFICIENT_BUFFER);
        // SAFETY: the call NUL-terminated `short`.
        let text = unsafe { core::ffi::CStr::from_ptr(short.as_ptr()) };
        assert_eq!(text.to_str().unwrap(), "The par");
        // SAFETY: a NULL buffer is what is tested; nothing is written.
        let code = unsafe { IpHlpFormatError(87, core::ptr::null_mut(), 8) };
        assert_eq!(code, ERROR_INVALID_PARAMETER);
    }
}
