//! The IP Helper TCP structures and constants, laid out byte for byte as
//! `iphlpapi.h`, `tcpmib.h` and `iprtrmib.h` declare them.
//!
//! The names are Windows' own so that code ported from Windows reads the
//! same. Every size and field offset is checked at compile time below; the
//! C header of the `iphlpapi` crate is checked against these by its tests.
#![allow(non_camel_case_types, non_snake_case)]

use core::mem::{align_of, offset_of, size_of};

/// `ANY_SIZE`: the declared length of a table's row array. The real tables
/// are longer; the buffer a caller passes holds `dwNumEntries` rows.
pub const ANY_SIZE: usize = 1;

/// `AF_INET`, as `GetExtendedTcpTable` takes it.
pub const AF_INET: u32 = 2;
/// `AF_INET6` as Windows numbers it (23, not Linux's 10), as
/// `GetExtendedTcpTable` takes it.
pub const AF_INET6: u32 = 23;

/// `MIB_TCP_STATE_CLOSED`.
pub const MIB_TCP_STATE_CLOSED: u32 = 1;
/// `MIB_TCP_STATE_LISTEN`.
pub const MIB_TCP_STATE_LISTEN: u32 = 2;
/// `MIB_TCP_STATE_SYN_SENT`.
pub const MIB_TCP_STATE_SYN_SENT: u32 = 3;
/// `MIB_TCP_STATE_SYN_RCVD`.
pub const MIB_TCP_STATE_SYN_RCVD: u32 = 4;
/// `MIB_TCP_STATE_ESTAB`.
pub const MIB_TCP_STATE_ESTAB: u32 = 5;
/// `MIB_TCP_STATE_FIN_WAIT1`.
pub const MIB_TCP_STATE_FIN_WAIT1: u32 = 6;
/// `MIB_TCP_STATE_FIN_WAIT2`.
pub const MIB_TCP_STATE_FIN_WAIT2: u32 = 7;
/// `MIB_TCP_STATE_CLOSE_WAIT`.
pub const MIB_TCP_STATE_CLOSE_WAIT: u32 = 8;
/// `MIB_TCP_STATE_CLOSING`.
pub const MIB_TCP_STATE_CLOSING: u32 = 9;
/// `MIB_TCP_STATE_LAST_ACK`.
pub const MIB_TCP_STATE_LAST_ACK: u32 = 10;
/// `MIB_TCP_STATE_TIME_WAIT`.
pub const MIB_TCP_STATE_TIME_WAIT: u32 = 11;
/// `MIB_TCP_STATE_DELETE_TCB`: the one state `SetTcpEntry` accepts; it
/// aborts the connection.
pub const MIB_TCP_STATE_DELETE_TCB: u32 = 12;

/// `TCP_TABLE_BASIC_LISTENER`: `MIB_TCPTABLE` / `MIB_TCP6TABLE` of LISTEN sockets.
pub const TCP_TABLE_BASIC_LISTENER: u32 = 0;
/// `TCP_TABLE_BASIC_CONNECTIONS`: the same, every socket but the listeners.
pub const TCP_TABLE_BASIC_CONNECTIONS: u32 = 1;
/// `TCP_TABLE_BASIC_ALL`: the same, every socket.
pub const TCP_TABLE_BASIC_ALL: u32 = 2;
/// `TCP_TABLE_OWNER_PID_LISTENER`: `MIB_TCPTABLE_OWNER_PID` /
/// `MIB_TCP6TABLE_OWNER_PID` of LISTEN sockets.
pub const TCP_TABLE_OWNER_PID_LISTENER: u32 = 3;
/// `TCP_TABLE_OWNER_PID_CONNECTIONS`: the same, every socket but the listeners.
pub const TCP_TABLE_OWNER_PID_CONNECTIONS: u32 = 4;
/// `TCP_TABLE_OWNER_PID_ALL`: the same, every socket.
pub const TCP_TABLE_OWNER_PID_ALL: u32 = 5;
/// `TCP_TABLE_OWNER_MODULE_LISTENER`: not supported (`ERROR_NOT_SUPPORTED`).
pub const TCP_TABLE_OWNER_MODULE_LISTENER: u32 = 6;
/// `TCP_TABLE_OWNER_MODULE_CONNECTIONS`: not supported (`ERROR_NOT_SUPPORTED`).
pub const TCP_TABLE_OWNER_MODULE_CONNECTIONS: u32 = 7;
/// `TCP_TABLE_OWNER_MODULE_ALL`: not supported (`ERROR_NOT_SUPPORTED`).
pub const TCP_TABLE_OWNER_MODULE_ALL: u32 = 8;

/// `TcpConnectionOffloadStateInHost`: the only offload state Linux reports.
pub const TCP_CONNECTION_OFFLOAD_STATE_IN_HOST: u32 = 0;

/// `MIB_TCPROW` (`MIB_TCPROW_LH`): one IPv4 TCP socket, 20 bytes.
///
/// Addresses are `in_addr` bytes (network order); ports are in network
/// order in the low 16 bits, the upper 16 bits are ignored on input.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCPROW {
    /// A `MIB_TCP_STATE_*` value.
    pub dwState: u32,
    /// Local IPv4 address, network byte order.
    pub dwLocalAddr: u32,
    /// Local port, network byte order in the low 16 bits.
    pub dwLocalPort: u32,
    /// Remote IPv4 address, network byte order (0 for a listener).
    pub dwRemoteAddr: u32,
    /// Remote port, network byte order in the low 16 bits (0 for a listener).
    pub dwRemotePort: u32,
}

/// `MIB_TCPTABLE`: `dwNumEntries` [`MIB_TCPROW`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCPTABLE {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCPROW; ANY_SIZE],
}

/// `MIB_TCPROW_OWNER_PID`: [`MIB_TCPROW`] and the owning process, 24 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCPROW_OWNER_PID {
    /// A `MIB_TCP_STATE_*` value.
    pub dwState: u32,
    /// Local IPv4 address, network byte order.
    pub dwLocalAddr: u32,
    /// Local port, network byte order in the low 16 bits.
    pub dwLocalPort: u32,
    /// Remote IPv4 address, network byte order.
    pub dwRemoteAddr: u32,
    /// Remote port, network byte order in the low 16 bits.
    pub dwRemotePort: u32,
    /// The owning process (0: none, or not visible to the caller).
    pub dwOwningPid: u32,
}

/// `MIB_TCPTABLE_OWNER_PID`: `dwNumEntries` [`MIB_TCPROW_OWNER_PID`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCPTABLE_OWNER_PID {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCPROW_OWNER_PID; ANY_SIZE],
}

/// `MIB_TCPROW2`: [`MIB_TCPROW_OWNER_PID`] and the offload state, 28 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCPROW2 {
    /// A `MIB_TCP_STATE_*` value.
    pub dwState: u32,
    /// Local IPv4 address, network byte order.
    pub dwLocalAddr: u32,
    /// Local port, network byte order in the low 16 bits.
    pub dwLocalPort: u32,
    /// Remote IPv4 address, network byte order.
    pub dwRemoteAddr: u32,
    /// Remote port, network byte order in the low 16 bits.
    pub dwRemotePort: u32,
    /// The owning process (0: none, or not visible to the caller).
    pub dwOwningPid: u32,
    /// `TCP_CONNECTION_OFFLOAD_STATE`: always 0, `TcpConnectionOffloadStateInHost`.
    pub dwOffloadState: u32,
}

/// `MIB_TCPTABLE2`: `dwNumEntries` [`MIB_TCPROW2`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCPTABLE2 {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCPROW2; ANY_SIZE],
}

/// `MIB_TCP6ROW`: one IPv6 TCP socket, 52 bytes. A v4-mapped connection
/// shows `::ffff:a.b.c.d` addresses.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCP6ROW {
    /// A `MIB_TCP_STATE_*` value.
    pub State: u32,
    /// Local address (`IN6_ADDR`).
    pub LocalAddr: [u8; 16],
    /// Local scope id (the interface the socket is bound to, 0 for none).
    pub dwLocalScopeId: u32,
    /// Local port, network byte order in the low 16 bits.
    pub dwLocalPort: u32,
    /// Remote address (`IN6_ADDR`), all zero for a listener.
    pub RemoteAddr: [u8; 16],
    /// Remote scope id.
    pub dwRemoteScopeId: u32,
    /// Remote port, network byte order in the low 16 bits.
    pub dwRemotePort: u32,
}

/// `MIB_TCP6TABLE`: `dwNumEntries` [`MIB_TCP6ROW`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCP6TABLE {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCP6ROW; ANY_SIZE],
}

/// `MIB_TCP6ROW_OWNER_PID`: one IPv6 TCP socket and its owner, 56 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCP6ROW_OWNER_PID {
    /// Local address.
    pub ucLocalAddr: [u8; 16],
    /// Local scope id.
    pub dwLocalScopeId: u32,
    /// Local port, network byte order in the low 16 bits.
    pub dwLocalPort: u32,
    /// Remote address, all zero for a listener.
    pub ucRemoteAddr: [u8; 16],
    /// Remote scope id.
    pub dwRemoteScopeId: u32,
    /// Remote port, network byte order in the low 16 bits.
    pub dwRemotePort: u32,
    /// A `MIB_TCP_STATE_*` value.
    pub dwState: u32,
    /// The owning process (0: none, or not visible to the caller).
    pub dwOwningPid: u32,
}

/// `MIB_TCP6TABLE_OWNER_PID`: `dwNumEntries` [`MIB_TCP6ROW_OWNER_PID`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCP6TABLE_OWNER_PID {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCP6ROW_OWNER_PID; ANY_SIZE],
}

/// `MIB_TCP6ROW2`: one IPv6 TCP socket, its owner and offload state, 60 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCP6ROW2 {
    /// Local address (`IN6_ADDR`).
    pub LocalAddr: [u8; 16],
    /// Local scope id.
    pub dwLocalScopeId: u32,
    /// Local port, network byte order in the low 16 bits.
    pub dwLocalPort: u32,
    /// Remote address (`IN6_ADDR`), all zero for a listener.
    pub RemoteAddr: [u8; 16],
    /// Remote scope id.
    pub dwRemoteScopeId: u32,
    /// Remote port, network byte order in the low 16 bits.
    pub dwRemotePort: u32,
    /// A `MIB_TCP_STATE_*` value.
    pub State: u32,
    /// The owning process (0: none, or not visible to the caller).
    pub dwOwningPid: u32,
    /// `TCP_CONNECTION_OFFLOAD_STATE`: always 0, `TcpConnectionOffloadStateInHost`.
    pub dwOffloadState: u32,
}

/// `MIB_TCP6TABLE2`: `dwNumEntries` [`MIB_TCP6ROW2`]s.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCP6TABLE2 {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCP6ROW2; ANY_SIZE],
}

/// A size or offset of one of the structures, as a C program sees it.
/// The `iphlpapi` crate's tests compare this list with `sizeof`/`offsetof`
/// of the C header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutFact {
    /// `"sizeof(MIB_TCPROW)"` or `"offsetof(MIB_TCPROW, dwLocalPort)"`.
    pub what: &'static str,
    /// Its value in bytes.
    pub value: usize,
}

macro_rules! layout {
    ($( $ty:ident = $size:literal { $( $field:ident @ $off:literal ),* $(,)? } )*) => {
        // Checked at compile time: a wrong layout does not build.
        $(
            const _: () = assert!(size_of::<$ty>() == $size);
            // Rows and tables are DWORD-aligned, so a table's rows start at 4.
            const _: () = assert!(align_of::<$ty>() == 4);
            $( const _: () = assert!(offset_of!($ty, $field) == $off); )*
        )*

        /// Every structure's size and every field's offset, as the
        /// compile-time assertions of this module pin them.
        pub const LAYOUT: &[LayoutFact] = &[
            $(
                LayoutFact { what: concat!("sizeof(", stringify!($ty), ")"), value: $size },
                $( LayoutFact {
                    what: concat!("offsetof(", stringify!($ty), ", ", stringify!($field), ")"),
                    value: $off,
                }, )*
            )*
        ];
    };
}

layout! {
    MIB_TCPROW = 20 {
        dwState @ 0, dwLocalAddr @ 4, dwLocalPort @ 8, dwRemoteAddr @ 12, dwRemotePort @ 16,
    }
    MIB_TCPTABLE = 24 { dwNumEntries @ 0, table @ 4 }
    MIB_TCPROW_OWNER_PID = 24 {
        dwState @ 0, dwLocalAddr @ 4, dwLocalPort @ 8, dwRemoteAddr @ 12, dwRemotePort @ 16,
        dwOwningPid @ 20,
    }
    MIB_TCPTABLE_OWNER_PID = 28 { dwNumEntries @ 0, table @ 4 }
    MIB_TCPROW2 = 28 {
        dwState @ 0, dwLocalAddr @ 4, dwLocalPort @ 8, dwRemoteAddr @ 12, dwRemotePort @ 16,
        dwOwningPid @ 20, dwOffloadState @ 24,
    }
    MIB_TCPTABLE2 = 32 { dwNumEntries @ 0, table @ 4 }
    MIB_TCP6ROW = 52 {
        State @ 0, LocalAddr @ 4, dwLocalScopeId @ 20, dwLocalPort @ 24, RemoteAddr @ 28,
        dwRemoteScopeId @ 44, dwRemotePort @ 48,
    }
    MIB_TCP6TABLE = 56 { dwNumEntries @ 0, table @ 4 }
    MIB_TCP6ROW_OWNER_PID = 56 {
        ucLocalAddr @ 0, dwLocalScopeId @ 16, dwLocalPort @ 20, ucRemoteAddr @ 24,
        dwRemoteScopeId @ 40, dwRemotePort @ 44, dwState @ 48, dwOwningPid @ 52,
    }
    MIB_TCP6TABLE_OWNER_PID = 60 { dwNumEntries @ 0, table @ 4 }
    MIB_TCP6ROW2 = 60 {
        LocalAddr @ 0, dwLocalScopeId @ 16, dwLocalPort @ 20, RemoteAddr @ 24,
        dwRemoteScopeId @ 40, dwRemotePort @ 44, State @ 48, dwOwningPid @ 52,
        dwOffloadState @ 56,
    }
    MIB_TCP6TABLE2 = 64 { dwNumEntries @ 0, table @ 4 }
}
