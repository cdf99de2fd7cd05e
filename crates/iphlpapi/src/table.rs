//! The `GetTcpTable` family: the TCP sockets of the namespace as MIB rows,
//! as `Vec`s for Rust callers and written into a caller's buffer with the
//! Windows size protocol for C callers. Both go through the same code: the
//! buffer functions write out what the `Vec` functions return.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::ControlFlow;

use super::codes::*;
use super::error::Win32Error;
use super::owner_module::{module_rows, v4_module_row, v6_module_row};
use super::types::*;
use tcpdrop::procs::SocketOwners;
use tcpdrop::{Connection, ListOptions, Query, Selection, Session, State, StateSet};

/// Which kernel sockets a table holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Table {
    /// `AF_INET` sockets.
    V4,
    /// `AF_INET6` sockets, v4-mapped connections included.
    V6,
}

/// Which states a table holds (`TCP_TABLE_*_LISTENER` / `_CONNECTIONS` / `_ALL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Select {
    Listeners,
    Connections,
    All,
}

impl Select {
    /// The kernel states of the sockets this selection holds.
    fn states(self) -> StateSet {
        match self {
            Select::Listeners => StateSet::only(State::Listen),
            Select::Connections => StateSet::all_but_listen(),
            Select::All => StateSet::ALL,
        }
    }
}

/// One end of a row, as the numbers `bOrder` compares: the address as a
/// host-order number, then (IPv6) the scope id, then the port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct End {
    addr: u128,
    pub(super) scope: u32,
    port: u16,
}

impl End {
    fn new(table: Table, end: &SocketAddr) -> End {
        let (addr, scope) = match (table, end) {
            (Table::V4, SocketAddr::V4(v4)) => (u128::from(u32::from(*v4.ip())), 0),
            // A v4-mapped connection is shown as ::ffff:a.b.c.d again.
            (Table::V6, SocketAddr::V4(v4)) => (u128::from(v4.ip().to_ipv6_mapped()), 0),
            (_, SocketAddr::V6(v6)) => (u128::from(*v6.ip()), v6.scope_id()),
        };
        End {
            addr,
            scope,
            port: end.port(),
        }
    }

    /// The IPv4 address in `in_addr` byte order, as a DWORD holds it.
    pub(super) fn in_addr(&self) -> u32 {
        u32::from_ne_bytes((self.addr as u32).to_be_bytes())
    }

    /// The IPv6 address bytes (`IN6_ADDR`).
    pub(super) fn in6_addr(&self) -> [u8; 16] {
        self.addr.to_be_bytes()
    }

    /// The port as a row holds it: network order in the low 16 bits.
    pub(super) fn port_dword(&self) -> u32 {
        u32::from(self.port.to_be())
    }
}

/// A socket as every row type is built from it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub(super) local: End,
    pub(super) remote: End,
    pub(super) state: u32,
    pub(super) inode: u32,
    pub(super) pid: u32,
}

/// The sockets of one table, in the kernel's order or, with `order`,
/// sorted as `bOrder` asks; with `pids`, their owning processes.
pub(super) fn entries(
    table: Table,
    select: Select,
    order: bool,
    pids: bool,
) -> Result<Vec<Entry>, Win32Error> {
    let kernel_family = match table {
        Table::V4 => sockdiag::Family::Inet,
        Table::V6 => sockdiag::Family::Inet6,
    };
    let query = Query {
        family: None,
        states: select.states(),
    };
    let mut out = Vec::new();
    let every = Selection::all(query).listeners(true);
    Session::new()?.list(every, ListOptions::default(), |conn: Connection, _| {
        if conn.socket_family() == kernel_family {
            let listener = conn.is_listener();
            out.push(Entry {
                local: End::new(table, &conn.local),
                // LISTEN rows carry remote address and port 0.
                remote: if listener {
                    End::default()
                } else {
                    End::new(table, &conn.remote)
                },
                state: mib_state(conn.state),
                inode: conn.inode,
                pid: 0,
            });
        }
        ControlFlow::Continue(())
    })?;
    if order {
        out.sort_by_key(|e| (e.local, e.remote));
    }
    if pids {
        let inodes: HashSet<u32> = out.iter().map(|e| e.inode).collect();
        let owners = SocketOwners::scan(&inodes);
        for e in &mut out {
            e.pid = owners.pid(e.inode);
        }
    }
    Ok(out)
}

/// Windows' `MIB_TCP_STATE` for a kernel state.
fn mib_state(state: State) -> u32 {
    match state {
        State::Closed => MIB_TCP_STATE_CLOSED,
        State::Listen => MIB_TCP_STATE_LISTEN,
        State::SynSent => MIB_TCP_STATE_SYN_SENT,
        State::SynReceived => MIB_TCP_STATE_SYN_RCVD,
        State::Established => MIB_TCP_STATE_ESTAB,
        State::FinWait1 => MIB_TCP_STATE_FIN_WAIT1,
        State::FinWait2 => MIB_TCP_STATE_FIN_WAIT2,
        State::CloseWait => MIB_TCP_STATE_CLOSE_WAIT,
        State::Closing => MIB_TCP_STATE_CLOSING,
        State::LastAck => MIB_TCP_STATE_LAST_ACK,
        State::TimeWait => MIB_TCP_STATE_TIME_WAIT,
    }
}

fn v4_row(e: &Entry) -> MIB_TCPROW {
    MIB_TCPROW {
        dwState: e.state,
        dwLocalAddr: e.local.in_addr(),
        dwLocalPort: e.local.port_dword(),
        dwRemoteAddr: e.remote.in_addr(),
        dwRemotePort: e.remote.port_dword(),
    }
}

fn v4_owner_row(e: &Entry) -> MIB_TCPROW_OWNER_PID {
    let r = v4_row(e);
    MIB_TCPROW_OWNER_PID {
        dwState: r.dwState,
        dwLocalAddr: r.dwLocalAddr,
        dwLocalPort: r.dwLocalPort,
        dwRemoteAddr: r.dwRemoteAddr,
        dwRemotePort: r.dwRemotePort,
        dwOwningPid: e.pid,
    }
}

fn v4_row2(e: &Entry) -> MIB_TCPROW2 {
    let r = v4_row(e);
    MIB_TCPROW2 {
        dwState: r.dwState,
        dwLocalAddr: r.dwLocalAddr,
        dwLocalPort: r.dwLocalPort,
        dwRemoteAddr: r.dwRemoteAddr,
        dwRemotePort: r.dwRemotePort,
        dwOwningPid: e.pid,
        dwOffloadState: TCP_CONNECTION_OFFLOAD_STATE_IN_HOST,
    }
}

fn v6_row(e: &Entry) -> MIB_TCP6ROW {
    MIB_TCP6ROW {
        State: e.state,
        LocalAddr: e.local.in6_addr(),
        dwLocalScopeId: e.local.scope,
        dwLocalPort: e.local.port_dword(),
        RemoteAddr: e.remote.in6_addr(),
        dwRemoteScopeId: e.remote.scope,
        dwRemotePort: e.remote.port_dword(),
    }
}

fn v6_owner_row(e: &Entry) -> MIB_TCP6ROW_OWNER_PID {
    MIB_TCP6ROW_OWNER_PID {
        ucLocalAddr: e.local.in6_addr(),
        dwLocalScopeId: e.local.scope,
        dwLocalPort: e.local.port_dword(),
        ucRemoteAddr: e.remote.in6_addr(),
        dwRemoteScopeId: e.remote.scope,
        dwRemotePort: e.remote.port_dword(),
        dwState: e.state,
        dwOwningPid: e.pid,
    }
}

fn v6_row2(e: &Entry) -> MIB_TCP6ROW2 {
    MIB_TCP6ROW2 {
        LocalAddr: e.local.in6_addr(),
        dwLocalScopeId: e.local.scope,
        dwLocalPort: e.local.port_dword(),
        RemoteAddr: e.remote.in6_addr(),
        dwRemoteScopeId: e.remote.scope,
        dwRemotePort: e.remote.port_dword(),
        State: e.state,
        dwOwningPid: e.pid,
        dwOffloadState: TCP_CONNECTION_OFFLOAD_STATE_IN_HOST,
    }
}

fn rows<R>(
    table: Table,
    select: Select,
    order: bool,
    pids: bool,
    row: fn(&Entry) -> R,
) -> Result<Vec<R>, Win32Error> {
    Ok(entries(table, select, order, pids)?
        .iter()
        .map(row)
        .collect())
}

/// `GetTcpTable`: every `AF_INET` TCP socket of the calling thread's network
/// namespace, every state, as [`MIB_TCPROW`]s; with `order`, sorted by local
/// address, local port, remote address, remote port (host-order numbers).
///
/// IPv4 connections on dual-stack IPv6 sockets are in [`tcp6_table`], as
/// Windows (and Wine) report them. LISTEN rows carry remote 0.
#[doc(alias = "GetTcpTable")]
pub fn tcp_table(order: bool) -> Result<Vec<MIB_TCPROW>, Win32Error> {
    rows(Table::V4, Select::All, order, false, v4_row)
}

/// `GetTcpTable2`: [`tcp_table`] with owning pids and offload state.
///
/// Owners are found by reading `/proc/*/fd` (see [`tcpdrop::procs`]); a
/// socket without a visible owner (TIME-WAIT, another user's process for an
/// unprivileged caller) has pid 0.
#[doc(alias = "GetTcpTable2")]
pub fn tcp_table2(order: bool) -> Result<Vec<MIB_TCPROW2>, Win32Error> {
    rows(Table::V4, Select::All, order, true, v4_row2)
}

/// `GetTcp6Table`: every `AF_INET6` TCP socket, v4-mapped connections
/// included (as `::ffff:a.b.c.d`), as [`MIB_TCP6ROW`]s; with `order`,
/// sorted by local address, scope id, port, then remote address, scope id,
/// port.
#[doc(alias = "GetTcp6Table")]
pub fn tcp6_table(order: bool) -> Result<Vec<MIB_TCP6ROW>, Win32Error> {
    rows(Table::V6, Select::All, order, false, v6_row)
}

/// `GetTcp6Table2`: [`tcp6_table`] with owning pids and offload state.
#[doc(alias = "GetTcp6Table2")]
pub fn tcp6_table2(order: bool) -> Result<Vec<MIB_TCP6ROW2>, Win32Error> {
    rows(Table::V6, Select::All, order, true, v6_row2)
}

/// The rows [`extended_tcp_table`] returns: the table type follows the
/// family and the `TCP_TABLE_CLASS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtendedTcpTable {
    /// `AF_INET`, `TCP_TABLE_BASIC_*`: `MIB_TCPTABLE` rows.
    Basic(Vec<MIB_TCPROW>),
    /// `AF_INET`, `TCP_TABLE_OWNER_PID_*`: `MIB_TCPTABLE_OWNER_PID` rows.
    OwnerPid(Vec<MIB_TCPROW_OWNER_PID>),
    /// `AF_INET6`, `TCP_TABLE_BASIC_*`: `MIB_TCP6TABLE` rows.
    Basic6(Vec<MIB_TCP6ROW>),
    /// `AF_INET6`, `TCP_TABLE_OWNER_PID_*`: `MIB_TCP6TABLE_OWNER_PID` rows.
    OwnerPid6(Vec<MIB_TCP6ROW_OWNER_PID>),
    /// `AF_INET`, `TCP_TABLE_OWNER_MODULE_*`: `MIB_TCPTABLE_OWNER_MODULE` rows.
    OwnerModule(Vec<MIB_TCPROW_OWNER_MODULE>),
    /// `AF_INET6`, `TCP_TABLE_OWNER_MODULE_*`: `MIB_TCP6TABLE_OWNER_MODULE` rows.
    OwnerModule6(Vec<MIB_TCP6ROW_OWNER_MODULE>),
}

/// What a `TCP_TABLE_CLASS` says about owners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// `TCP_TABLE_BASIC_*`: none.
    None,
    /// `TCP_TABLE_OWNER_PID_*`: the owning pid.
    Pid,
    /// `TCP_TABLE_OWNER_MODULE_*`: the owning pid and its module information.
    Module,
}

impl ExtendedTcpTable {
    /// How many rows it holds.
    pub fn len(&self) -> usize {
        match self {
            ExtendedTcpTable::Basic(r) => r.len(),
            ExtendedTcpTable::OwnerPid(r) => r.len(),
            ExtendedTcpTable::Basic6(r) => r.len(),
            ExtendedTcpTable::OwnerPid6(r) => r.len(),
            ExtendedTcpTable::OwnerModule(r) => r.len(),
            ExtendedTcpTable::OwnerModule6(r) => r.len(),
        }
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The table a family argument names: [`AF_INET`] (2), or `AF_INET6` as
/// Windows (23, [`AF_INET6`]) or Linux (10, [`AF_INET6_LINUX`]) numbers it;
/// any other is `ERROR_INVALID_PARAMETER`.
pub(super) fn table_of(af: u32) -> Result<Table, Win32Error> {
    match af {
        AF_INET => Ok(Table::V4),
        AF_INET6 | AF_INET6_LINUX => Ok(Table::V6),
        _ => Err(Win32Error(ERROR_INVALID_PARAMETER)),
    }
}

/// `GetExtendedTcpTable` without the buffer: the table of family `af`
/// ([`AF_INET`], or `AF_INET6` as Windows numbers it, 23, or Linux, 10)
/// and class `class` (`TCP_TABLE_*`).
///
/// `TCP_TABLE_OWNER_MODULE_*` (6–8) rows carry the owning pid and what
/// [`owner_module`](mod@super::owner_module) needs to name the owner's program;
/// their `liCreateTimestamp` is 0 (Linux keeps no creation time). Any other
/// family or class is `ERROR_INVALID_PARAMETER` (87).
#[doc(alias = "GetExtendedTcpTable")]
pub fn extended_tcp_table(
    order: bool,
    af: u32,
    class: u32,
) -> Result<ExtendedTcpTable, Win32Error> {
    let table = table_of(af)?;
    let (select, owner) = match class {
        TCP_TABLE_BASIC_LISTENER => (Select::Listeners, Owner::None),
        TCP_TABLE_BASIC_CONNECTIONS => (Select::Connections, Owner::None),
        TCP_TABLE_BASIC_ALL => (Select::All, Owner::None),
        TCP_TABLE_OWNER_PID_LISTENER => (Select::Listeners, Owner::Pid),
        TCP_TABLE_OWNER_PID_CONNECTIONS => (Select::Connections, Owner::Pid),
        TCP_TABLE_OWNER_PID_ALL => (Select::All, Owner::Pid),
        TCP_TABLE_OWNER_MODULE_LISTENER => (Select::Listeners, Owner::Module),
        TCP_TABLE_OWNER_MODULE_CONNECTIONS => (Select::Connections, Owner::Module),
        TCP_TABLE_OWNER_MODULE_ALL => (Select::All, Owner::Module),
        _ => return Err(Win32Error(ERROR_INVALID_PARAMETER)),
    };
    Ok(match (table, owner) {
        (Table::V4, Owner::None) => {
            ExtendedTcpTable::Basic(rows(table, select, order, false, v4_row)?)
        }
        (Table::V4, Owner::Pid) => {
            ExtendedTcpTable::OwnerPid(rows(table, select, order, true, v4_owner_row)?)
        }
        (Table::V4, Owner::Module) => ExtendedTcpTable::OwnerModule(module_rows(
            &entries(table, select, order, true)?,
            v4_module_row,
        )),
        (Table::V6, Owner::None) => {
            ExtendedTcpTable::Basic6(rows(table, select, order, false, v6_row)?)
        }
        (Table::V6, Owner::Pid) => {
            ExtendedTcpTable::OwnerPid6(rows(table, select, order, true, v6_owner_row)?)
        }
        (Table::V6, Owner::Module) => ExtendedTcpTable::OwnerModule6(module_rows(
            &entries(table, select, order, true)?,
            v6_module_row,
        )),
    })
}

/// A row type of the `GetTcpTable` family and the table type that holds it:
/// `DWORD dwNumEntries`, then the rows from [`Row::ROWS_AT`].
trait Row: Copy {
    /// The table, as the caller's buffer holds it.
    type Table;
    /// Where the rows start in [`Row::Table`]: after the count, and after
    /// 4 bytes of padding before rows aligned to 8.
    const ROWS_AT: usize;
}

/// Each row type with its table type.
macro_rules! rows_in {
    ($($row:ty => $table:ty),* $(,)?) => {$(
        impl Row for $row {
            type Table = $table;
            const ROWS_AT: usize = offset_of!($table, table);
        }
    )*};
}

rows_in! {
    MIB_TCPROW => MIB_TCPTABLE,
    MIB_TCPROW2 => MIB_TCPTABLE2,
    MIB_TCP6ROW => MIB_TCP6TABLE,
    MIB_TCP6ROW2 => MIB_TCP6TABLE2,
    MIB_TCPROW_OWNER_PID => MIB_TCPTABLE_OWNER_PID,
    MIB_TCP6ROW_OWNER_PID => MIB_TCP6TABLE_OWNER_PID,
    MIB_TCPROW_OWNER_MODULE => MIB_TCPTABLE_OWNER_MODULE,
    MIB_TCP6ROW_OWNER_MODULE => MIB_TCP6TABLE_OWNER_MODULE,
}

/// Write `rows` as their table (`DWORD dwNumEntries` at 0, the rows from
/// [`Row::ROWS_AT`]) into the caller's buffer with the Windows size protocol:
/// `table` NULL or `*size` too small → `ERROR_INSUFFICIENT_BUFFER` with the
/// needed size in `*size`; else the table, the size in `*size`, and 0.
///
/// # Safety
///
/// `size` is non-null and valid for reading and writing a `u32`; `table`
/// is null or valid for writing `*size` bytes. Neither needs alignment.
unsafe fn deliver<R: Row>(table: *mut u8, size: *mut u32, rows: Vec<R>) -> u32 {
    let rows_at = R::ROWS_AT;
    let bytes = rows.len().saturating_mul(size_of::<R>());
    // A table too large for a DWORD cannot be asked for: the caller gets
    // the largest size and, again, ERROR_INSUFFICIENT_BUFFER.
    let needed = u32::try_from(rows_at.saturating_add(bytes)).unwrap_or(u32::MAX);
    let entries = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    // SAFETY: the caller guarantees `size` is valid for a u32 read.
    let have = unsafe { size.read_unaligned() };
    if table.is_null() || have < needed || needed == u32::MAX {
        // SAFETY: the caller guarantees `size` is valid for a u32 write.
        unsafe { size.write_unaligned(needed) };
        return ERROR_INSUFFICIENT_BUFFER;
    }
    // SAFETY: `table` is valid for `have >= needed` bytes (caller), which
    // covers the count at 0 and `bytes` bytes of rows from `rows_at`; the
    // rows are plain `repr(C)` integers and the source is a live Vec that
    // cannot overlap the caller's buffer.
    unsafe {
        // The bytes between the count and the rows (4 of them before 8-byte
        // aligned rows) are padding: zeroed, not left as the caller's.
        core::ptr::write_bytes(table, 0, rows_at);
        table.cast::<u32>().write_unaligned(entries);
        core::ptr::copy_nonoverlapping(rows.as_ptr().cast::<u8>(), table.add(rows_at), bytes);
        size.write_unaligned(needed);
    }
    NO_ERROR
}

/// The buffer form of a table call: `size` NULL → `ERROR_INVALID_PARAMETER`
/// (before anything is read from the kernel); else the rows `rows` gives, or
/// its error, [delivered](deliver) into `table`.
///
/// # Safety
///
/// `size` is NULL or valid for reading and writing a `u32`; `table` is NULL
/// or valid for writing `*size` bytes.
unsafe fn get_table<R: Row>(
    table: *mut R::Table,
    size: *mut u32,
    rows: impl FnOnce() -> Result<Vec<R>, Win32Error>,
) -> u32 {
    if size.is_null() {
        return ERROR_INVALID_PARAMETER;
    }
    match rows() {
        // SAFETY: forwarded from this function's contract; `size` is not NULL.
        Ok(rows) => unsafe { deliver(table.cast(), size, rows) },
        Err(err) => err.0,
    }
}

/// `GetTcpTable(pTcpTable, pdwSize, bOrder)`: [`tcp_table`] written into
/// the caller's buffer.
///
/// `size` NULL → 87. `table` NULL or `*size` smaller than
/// `offsetof(MIB_TCPTABLE, table) + n * sizeof(MIB_TCPROW)` → 122
/// (`ERROR_INSUFFICIENT_BUFFER`) with that size written to `*size`. On
/// success (0) `*size` holds the same size.
///
/// # Safety
///
/// `size` is NULL or valid for reading and writing a `u32`; `table` is NULL
/// or valid for writing `*size` bytes.
#[doc(alias = "GetTcpTable")]
pub unsafe fn get_tcp_table(table: *mut MIB_TCPTABLE, size: *mut u32, order: bool) -> u32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { get_table(table, size, || tcp_table(order)) }
}

/// `GetTcpTable2(TcpTable, SizePointer, Order)`: [`tcp_table2`] written
/// into the caller's buffer, with [`get_tcp_table`]'s size protocol.
///
/// # Safety
///
/// As [`get_tcp_table`].
#[doc(alias = "GetTcpTable2")]
pub unsafe fn get_tcp_table2(table: *mut MIB_TCPTABLE2, size: *mut u32, order: bool) -> u32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { get_table(table, size, || tcp_table2(order)) }
}

/// `GetTcp6Table(TcpTable, SizePointer, Order)`: [`tcp6_table`] written
/// into the caller's buffer, with [`get_tcp_table`]'s size protocol.
///
/// # Safety
///
/// As [`get_tcp_table`].
#[doc(alias = "GetTcp6Table")]
pub unsafe fn get_tcp6_table(table: *mut MIB_TCP6TABLE, size: *mut u32, order: bool) -> u32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { get_table(table, size, || tcp6_table(order)) }
}

/// `GetTcp6Table2(TcpTable, SizePointer, Order)`: [`tcp6_table2`] written
/// into the caller's buffer, with [`get_tcp_table`]'s size protocol.
///
/// # Safety
///
/// As [`get_tcp_table`].
#[doc(alias = "GetTcp6Table2")]
pub unsafe fn get_tcp6_table2(table: *mut MIB_TCP6TABLE2, size: *mut u32, order: bool) -> u32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { get_table(table, size, || tcp6_table2(order)) }
}

/// `GetExtendedTcpTable(pTcpTable, pdwSize, bOrder, ulAf, TableClass,
/// Reserved)`: [`extended_tcp_table`] written into the caller's buffer as
/// the table type the class names, with [`get_tcp_table`]'s size protocol.
///
/// `size` NULL, `reserved` ≠ 0, a family other than [`AF_INET`] (2) and
/// `AF_INET6` (Windows' 23 or Linux's 10), or an unknown class → 87. The
/// `TCP_TABLE_OWNER_MODULE_*` tables hold their rows from offset 8.
///
/// # Safety
///
/// As [`get_tcp_table`].
#[doc(alias = "GetExtendedTcpTable")]
pub unsafe fn get_extended_tcp_table(
    table: *mut c_void,
    size: *mut u32,
    order: bool,
    af: u32,
    class: u32,
    reserved: u32,
) -> u32 {
    if size.is_null() || reserved != 0 {
        return ERROR_INVALID_PARAMETER;
    }
    let table = table.cast::<u8>();
    let rows = match extended_tcp_table(order, af, class) {
        Ok(rows) => rows,
        Err(err) => return err.0,
    };
    // SAFETY: forwarded from this function's contract; `size` is not NULL.
    unsafe {
        match rows {
            ExtendedTcpTable::Basic(rows) => deliver(table, size, rows),
            ExtendedTcpTable::OwnerPid(rows) => deliver(table, size, rows),
            ExtendedTcpTable::Basic6(rows) => deliver(table, size, rows),
            ExtendedTcpTable::OwnerPid6(rows) => deliver(table, size, rows),
            ExtendedTcpTable::OwnerModule(rows) => deliver(table, size, rows),
            ExtendedTcpTable::OwnerModule6(rows) => deliver(table, size, rows),
        }
    }
}
