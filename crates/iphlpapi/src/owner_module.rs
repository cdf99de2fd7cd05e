//! `GetOwnerModuleFromTcpEntry` and `GetOwnerModuleFromTcp6Entry`, and the
//! `TCP_TABLE_OWNER_MODULE_*` rows they read.
//!
//! Windows names the module (program) of the process that opened a socket.
//! Linux knows the processes that hold a socket ([`tcpdrop::procs`]); the
//! module here is the owning process's program: its command name
//! (`/proc/PID/comm`) and its executable (`/proc/PID/exe`, [`proc_pid_exe(5)`]).
//!
//! A row's `OwningModuleInfo` is opaque to callers. tcpdrop keeps in it
//! what finding the owner again needs: `[0]` the owner's start time (field
//! 22 of `/proc/PID/stat`, [`proc_pid_stat(5)`]) and `[1]` the socket's
//! inode. With the start time, a pid that a new process took after the
//! owner exited is told from the owner: the call answers `ERROR_NOT_FOUND`
//! instead of naming an unrelated program.
//!
//! Linux keeps no creation time for a connection, so `liCreateTimestamp`
//! is 0: never a time that is not the connection's.
//!
//! [`proc_pid_exe(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_exe.5.html
//! [`proc_pid_stat(5)`]: https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html

use core::ffi::c_void;
use core::mem::size_of;
use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

use super::codes::*;
use super::error::Win32Error;
use super::table::Entry;
use super::types::*;

/// The program of the process that owns a socket, as
/// `GetOwnerModuleFromTcpEntry` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerModule {
    /// `pModuleName`: the command name (`/proc/PID/comm`, at most 15 bytes).
    pub name: String,
    /// `pModulePath`: the executable (`/proc/PID/exe`).
    pub path: PathBuf,
}

/// The start time of process `pid` (clock ticks after boot), the 22nd field
/// of `/proc/PID/stat`; `None` if there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces and
    // parentheses itself: count fields from the last ')'. After it comes
    // field 3, so field 22 is the 19th (0-based) from there.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// The rows of a `TCP_TABLE_OWNER_MODULE_*` table: each entry with the
/// module information of its owner (zero when it has none).
pub(super) fn module_rows<R>(
    entries: &[Entry],
    row: fn(&Entry, [u64; TCPIP_OWNING_MODULE_SIZE]) -> R,
) -> Vec<R> {
    let mut started: HashMap<u32, Option<u64>> = HashMap::new();
    entries
        .iter()
        .map(|e| {
            let mut info = [0u64; TCPIP_OWNING_MODULE_SIZE];
            if e.pid != 0 {
                let start = *started.entry(e.pid).or_insert_with(|| start_time(e.pid));
                // An owner that exited since the scan keeps its pid in the
                // row and start time 0, which no live process matches.
                for (slot, value) in info
                    .iter_mut()
                    .zip([start.unwrap_or(0), u64::from(e.inode)])
                {
                    *slot = value;
                }
            }
            row(e, info)
        })
        .collect()
}

/// A `MIB_TCPROW_OWNER_MODULE` of an entry.
pub(super) fn v4_module_row(
    e: &Entry,
    info: [u64; TCPIP_OWNING_MODULE_SIZE],
) -> MIB_TCPROW_OWNER_MODULE {
    MIB_TCPROW_OWNER_MODULE {
        dwState: e.state,
        dwLocalAddr: e.local.in_addr(),
        dwLocalPort: e.local.port_dword(),
        dwRemoteAddr: e.remote.in_addr(),
        dwRemotePort: e.remote.port_dword(),
        dwOwningPid: e.pid,
        liCreateTimestamp: 0,
        OwningModuleInfo: info,
    }
}

/// A `MIB_TCP6ROW_OWNER_MODULE` of an entry.
pub(super) fn v6_module_row(
    e: &Entry,
    info: [u64; TCPIP_OWNING_MODULE_SIZE],
) -> MIB_TCP6ROW_OWNER_MODULE {
    MIB_TCP6ROW_OWNER_MODULE {
        ucLocalAddr: e.local.in6_addr(),
        dwLocalScopeId: e.local.scope,
        dwLocalPort: e.local.port_dword(),
        ucRemoteAddr: e.remote.in6_addr(),
        dwRemoteScopeId: e.remote.scope,
        dwRemotePort: e.remote.port_dword(),
        dwState: e.state,
        dwOwningPid: e.pid,
        liCreateTimestamp: 0,
        OwningModuleInfo: info,
    }
}

/// The module of the owner a row names by pid and `OwningModuleInfo`.
fn module_of(pid: u32, info: &[u64; TCPIP_OWNING_MODULE_SIZE]) -> Result<OwnerModule, Win32Error> {
    let not_found = Win32Error(ERROR_NOT_FOUND);
    if pid == 0 {
        return Err(not_found);
    }
    let started = start_time(pid).ok_or(not_found)?;
    if info.first() != Some(&started) {
        return Err(not_found);
    }
    // Reading another user's /proc/PID/exe needs ptrace access to it
    // (PTRACE_MODE_READ_FSCREDS): without, the kernel says EACCES.
    let path = match fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(path) => path,
        Err(err) if err.kind() == ErrorKind::PermissionDenied => {
            return Err(Win32Error(ERROR_ACCESS_DENIED))
        }
        Err(_) => return Err(not_found),
    };
    let name = fs::read_to_string(format!("/proc/{pid}/comm"))
        .map_err(|_| not_found)?
        .trim_end_matches('\n')
        .to_string();
    // The owner may have exited, and its pid been taken, while we read.
    if start_time(pid) != Some(started) {
        return Err(not_found);
    }
    Ok(OwnerModule { name, path })
}

/// `GetOwnerModuleFromTcpEntry` without the buffer: the program of the
/// process that owns the socket of `row`, a row of a
/// `TCP_TABLE_OWNER_MODULE_*` table.
///
/// `ERROR_NOT_FOUND` (1168) when the row has no owner (`dwOwningPid` 0) or
/// the owner has exited since the table was read (its pid taken by another
/// process or by none); `ERROR_ACCESS_DENIED` (5) when the caller may not
/// read the owner's `/proc/PID/exe` (another user's process, without
/// `CAP_SYS_PTRACE`).
#[doc(alias = "GetOwnerModuleFromTcpEntry")]
pub fn owner_module(row: &MIB_TCPROW_OWNER_MODULE) -> Result<OwnerModule, Win32Error> {
    module_of(row.dwOwningPid, &row.OwningModuleInfo)
}

/// `GetOwnerModuleFromTcp6Entry` without the buffer: [`owner_module`] for
/// an IPv6 row.
#[doc(alias = "GetOwnerModuleFromTcp6Entry")]
pub fn owner_module6(row: &MIB_TCP6ROW_OWNER_MODULE) -> Result<OwnerModule, Win32Error> {
    module_of(row.dwOwningPid, &row.OwningModuleInfo)
}

/// Write `module` as a `TCPIP_OWNER_MODULE_BASIC_INFO` followed by its two
/// NUL-terminated UTF-16 strings into the caller's buffer, with the Windows
/// size protocol.
///
/// # Safety
///
/// `size` is non-null and valid for reading and writing a `u32`; `buffer`
/// is null or valid for writing `*size` bytes. Neither needs alignment.
unsafe fn deliver(module: OwnerModule, buffer: *mut c_void, size: *mut u32) -> u32 {
    let utf16 = |s: &str| -> Vec<u16> { s.encode_utf16().chain([0]).collect() };
    let name = utf16(&module.name);
    // A path that is not UTF-8 keeps its valid parts; U+FFFD stands for the rest.
    let path = utf16(&module.path.to_string_lossy());
    let head = size_of::<TCPIP_OWNER_MODULE_BASIC_INFO>();
    let name_bytes = name.len().saturating_mul(2);
    let path_bytes = path.len().saturating_mul(2);
    let total = head.saturating_add(name_bytes).saturating_add(path_bytes);
    let needed = u32::try_from(total).unwrap_or(u32::MAX);
    // SAFETY: the caller guarantees `size` is valid for a u32 read.
    let have = unsafe { size.read_unaligned() };
    if buffer.is_null() || have < needed || needed == u32::MAX {
        // SAFETY: the caller guarantees `size` is valid for a u32 write.
        unsafe { size.write_unaligned(needed) };
        return ERROR_INSUFFICIENT_BUFFER;
    }
    let base = buffer.cast::<u8>();
    // SAFETY: `buffer` is valid for `have >= needed = head + name_bytes +
    // path_bytes` bytes (caller): the structure at 0, the name after it,
    // the path after the name. The sources are live Vecs that cannot
    // overlap the caller's buffer.
    unsafe {
        let name_at = base.add(head);
        let path_at = name_at.add(name_bytes);
        core::ptr::copy_nonoverlapping(name.as_ptr().cast::<u8>(), name_at, name_bytes);
        core::ptr::copy_nonoverlapping(path.as_ptr().cast::<u8>(), path_at, path_bytes);
        base.cast::<TCPIP_OWNER_MODULE_BASIC_INFO>()
            .write_unaligned(TCPIP_OWNER_MODULE_BASIC_INFO {
                pModuleName: name_at.cast(),
                pModulePath: path_at.cast(),
            });
        size.write_unaligned(needed);
    }
    NO_ERROR
}

/// The checks and the delivery both calls share.
///
/// # Safety
///
/// As [`get_owner_module_from_tcp_entry`], with `row` already read.
unsafe fn answer(
    module: impl FnOnce() -> Result<OwnerModule, Win32Error>,
    class: u32,
    buffer: *mut c_void,
    size: *mut u32,
) -> u32 {
    if size.is_null() || class != TCPIP_OWNER_MODULE_INFO_BASIC {
        return ERROR_INVALID_PARAMETER;
    }
    match module() {
        // SAFETY: forwarded from this function's contract.
        Ok(module) => unsafe { deliver(module, buffer, size) },
        Err(err) => err.0,
    }
}

/// `GetOwnerModuleFromTcpEntry(pTcpEntry, Class, pBuffer, pdwSize)`:
/// [`owner_module`] written into the caller's buffer as a
/// [`TCPIP_OWNER_MODULE_BASIC_INFO`] whose two pointers point to the
/// module name and path (NUL-terminated UTF-16) in the same buffer, right
/// after it.
///
/// `entry` or `size` NULL, or `class` other than
/// [`TCPIP_OWNER_MODULE_INFO_BASIC`] → 87; no owner, or it is gone → 1168;
/// an owner the caller may not read → 5; `buffer` NULL or `*size` smaller
/// than the structure and both strings → 122 with that size written to
/// `*size`; on success 0 and the same size written.
///
/// # Safety
///
/// `entry` is NULL or points to a readable `MIB_TCPROW_OWNER_MODULE`;
/// `size` is NULL or valid for reading and writing a `u32`; `buffer` is
/// NULL or valid for writing `*size` bytes.
#[doc(alias = "GetOwnerModuleFromTcpEntry")]
pub unsafe fn get_owner_module_from_tcp_entry(
    entry: *const MIB_TCPROW_OWNER_MODULE,
    class: u32,
    buffer: *mut c_void,
    size: *mut u32,
) -> u32 {
    if entry.is_null() {
        return ERROR_INVALID_PARAMETER;
    }
    // SAFETY: non-null, and the caller guarantees it points to a row; read
    // by value, without assuming alignment.
    let row = unsafe { entry.read_unaligned() };
    // SAFETY: forwarded from this function's contract.
    unsafe { answer(|| owner_module(&row), class, buffer, size) }
}

/// `GetOwnerModuleFromTcp6Entry(pTcpEntry, Class, pBuffer, pdwSize)`:
/// [`get_owner_module_from_tcp_entry`] for a `MIB_TCP6ROW_OWNER_MODULE`.
///
/// # Safety
///
/// As [`get_owner_module_from_tcp_entry`], `entry` pointing to a
/// `MIB_TCP6ROW_OWNER_MODULE`.
#[doc(alias = "GetOwnerModuleFromTcp6Entry")]
pub unsafe fn get_owner_module_from_tcp6_entry(
    entry: *const MIB_TCP6ROW_OWNER_MODULE,
    class: u32,
    buffer: *mut c_void,
    size: *mut u32,
) -> u32 {
    if entry.is_null() {
        return ERROR_INVALID_PARAMETER;
    }
    // SAFETY: non-null, and the caller guarantees it points to a row; read
    // by value, without assuming alignment.
    let row = unsafe { entry.read_unaligned() };
    // SAFETY: forwarded from this function's contract.
    unsafe { answer(|| owner_module6(&row), class, buffer, size) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_found_by_its_start_time_and_a_stale_one_is_not() {
        let me = std::process::id();
        let started = start_time(me).unwrap();
        let mut info = [0u64; TCPIP_OWNING_MODULE_SIZE];
        info[0] = started;
        let module = module_of(me, &info).unwrap();
        assert_eq!(module.path, std::env::current_exe().unwrap());
        let comm = fs::read_to_string("/proc/self/comm").unwrap();
        assert_eq!(module.name, comm.trim_end());
        info[0] = started + 1;
        assert_eq!(module_of(me, &info), Err(Win32Error(ERROR_NOT_FOUND)));
        assert_eq!(module_of(0, &info), Err(Win32Error(ERROR_NOT_FOUND)));
    }

    #[test]
    fn the_buffer_holds_the_structure_then_both_strings() {
        let module = OwnerModule {
            name: "srv".into(),
            path: "/usr/bin/srv".into(),
        };
        let needed = (16 + 2 * 4 + 2 * 13) as u32;
        let mut size = 0u32;
        // SAFETY: NULL buffer, valid size.
        let code = unsafe { deliver(module.clone(), core::ptr::null_mut(), &mut size) };
        assert_eq!((code, size), (ERROR_INSUFFICIENT_BUFFER, needed));
        let mut buf = vec![0u64; 8];
        let mut size = 64u32;
        // SAFETY: `buf` holds 64 bytes.
        let code = unsafe { deliver(module, buf.as_mut_ptr().cast(), &mut size) };
        assert_eq!((code, size), (NO_ERROR, needed));
        // SAFETY: the call wrote the structure at the start of `buf`.
        let info = unsafe { buf.as_ptr().cast::<TCPIP_OWNER_MODULE_BASIC_INFO>().read() };
        let read = |p: *mut u16, n: usize| {
            // SAFETY: the pointers point into `buf`, at `n` UTF-16 units.
            String::from_utf16(unsafe { core::slice::from_raw_parts(p, n) }).unwrap()
        };
        assert_eq!(read(info.pModuleName, 4), "srv\0");
        assert_eq!(read(info.pModulePath, 13), "/usr/bin/srv\0");
        assert_eq!(info.pModuleName as usize, buf.as_ptr() as usize + 16);
    }
}
