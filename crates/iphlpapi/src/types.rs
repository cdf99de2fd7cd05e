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
/// `AF_INET6` as Windows numbers it (23). The calls that take a family
/// accept it and Linux's own [`AF_INET6_LINUX`] alike.
pub const AF_INET6: u32 = 23;
/// `AF_INET6` as Linux numbers it (10): what a Windows program compiled on
/// Linux passes when it takes `AF_INET6` from the system's socket headers.
pub const AF_INET6_LINUX: u32 = 10;

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
/// `TCP_TABLE_OWNER_MODULE_LISTENER`: `MIB_TCPTABLE_OWNER_MODULE` /
/// `MIB_TCP6TABLE_OWNER_MODULE` of LISTEN sockets.
pub const TCP_TABLE_OWNER_MODULE_LISTENER: u32 = 6;
/// `TCP_TABLE_OWNER_MODULE_CONNECTIONS`: the same, every socket but the listeners.
pub const TCP_TABLE_OWNER_MODULE_CONNECTIONS: u32 = 7;
/// `TCP_TABLE_OWNER_MODULE_ALL`: the same, every socket.
pub const TCP_TABLE_OWNER_MODULE_ALL: u32 = 8;

/// `TCPIP_OWNER_MODULE_INFO_BASIC`: the one `TCPIP_OWNER_MODULE_INFO_CLASS`,
/// asking `GetOwnerModuleFromTcpEntry` for a
/// [`TCPIP_OWNER_MODULE_BASIC_INFO`].
pub const TCPIP_OWNER_MODULE_INFO_BASIC: u32 = 0;
/// `TCPIP_OWNING_MODULE_SIZE`: the length of `OwningModuleInfo`, in
/// `ULONGLONG`s.
pub const TCPIP_OWNING_MODULE_SIZE: usize = 16;

/// `MIB_TCP_RTO_OTHER`: the `TCP_RTO_ALGORITHM` value for "none of the
/// others"; Linux's TCP MIB reports 1 (RFC 2012's `other`).
pub const MIB_TCP_RTO_OTHER: u32 = 1;
/// `MIB_TCP_MAXCONN_DYNAMIC` (-1 as a DWORD): the number of connections is
/// limited only by resources, as Linux's `MaxConn` -1 says.
pub const MIB_TCP_MAXCONN_DYNAMIC: u32 = u32::MAX;

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

/// `MIB_TCPROW_OWNER_MODULE`: [`MIB_TCPROW_OWNER_PID`], a creation time
/// and the owner's module information, 160 bytes, 8-byte aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCPROW_OWNER_MODULE {
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
    /// `LARGE_INTEGER` creation time of the connection. Always 0: Linux
    /// keeps no creation time for a socket, and no other time is the
    /// connection's.
    pub liCreateTimestamp: i64,
    /// Opaque to callers: what `GetOwnerModuleFromTcpEntry` needs to find
    /// the owner again (see [`owner_module`](mod@super::owner_module)).
    pub OwningModuleInfo: [u64; TCPIP_OWNING_MODULE_SIZE],
}

/// `MIB_TCPTABLE_OWNER_MODULE`: `dwNumEntries` [`MIB_TCPROW_OWNER_MODULE`]s,
/// from offset 8 (the rows are 8-byte aligned).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCPTABLE_OWNER_MODULE {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCPROW_OWNER_MODULE; ANY_SIZE],
}

/// `MIB_TCP6ROW_OWNER_MODULE`: [`MIB_TCP6ROW_OWNER_PID`], a creation time
/// and the owner's module information, 192 bytes, 8-byte aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCP6ROW_OWNER_MODULE {
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
    /// Always 0, as in [`MIB_TCPROW_OWNER_MODULE::liCreateTimestamp`].
    pub liCreateTimestamp: i64,
    /// Opaque to callers, as in [`MIB_TCPROW_OWNER_MODULE::OwningModuleInfo`].
    pub OwningModuleInfo: [u64; TCPIP_OWNING_MODULE_SIZE],
}

/// `MIB_TCP6TABLE_OWNER_MODULE`: `dwNumEntries`
/// [`MIB_TCP6ROW_OWNER_MODULE`]s, from offset 8.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIB_TCP6TABLE_OWNER_MODULE {
    /// How many rows follow.
    pub dwNumEntries: u32,
    /// The rows; the buffer holds `dwNumEntries` of them.
    pub table: [MIB_TCP6ROW_OWNER_MODULE; ANY_SIZE],
}

/// `TCPIP_OWNER_MODULE_BASIC_INFO`: two pointers to NUL-terminated
/// UTF-16 strings (`WCHAR`), which `GetOwnerModuleFromTcpEntry` writes into
/// the caller's buffer right after this structure.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TCPIP_OWNER_MODULE_BASIC_INFO {
    /// The module name: the owner's command name (`/proc/PID/comm`).
    pub pModuleName: *mut u16,
    /// The module path: the owner's executable (`/proc/PID/exe`).
    pub pModulePath: *mut u16,
}

/// `MIB_TCPSTATS` (`MIB_TCPSTATS_LH`): the TCP MIB, 32-bit counters, 60 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCPSTATS {
    /// `dwRtoAlgorithm` (`RtoAlgorithm`): a `MIB_TCP_RTO_*` value.
    pub dwRtoAlgorithm: u32,
    /// Minimum retransmission time-out, milliseconds.
    pub dwRtoMin: u32,
    /// Maximum retransmission time-out, milliseconds.
    pub dwRtoMax: u32,
    /// Connection limit; [`MIB_TCP_MAXCONN_DYNAMIC`] for none.
    pub dwMaxConn: u32,
    /// Active opens (connects).
    pub dwActiveOpens: u32,
    /// Passive opens (accepts).
    pub dwPassiveOpens: u32,
    /// Failed connection attempts.
    pub dwAttemptFails: u32,
    /// Established connections reset.
    pub dwEstabResets: u32,
    /// Connections now ESTABLISHED or CLOSE-WAIT.
    pub dwCurrEstab: u32,
    /// Segments received.
    pub dwInSegs: u32,
    /// Segments sent, retransmissions excluded.
    pub dwOutSegs: u32,
    /// Segments retransmitted.
    pub dwRetransSegs: u32,
    /// Segments received in error.
    pub dwInErrs: u32,
    /// Segments sent with RST.
    pub dwOutRsts: u32,
    /// Connections present, in every state but LISTEN.
    pub dwNumConns: u32,
}

/// `MIB_TCPSTATS2`: [`MIB_TCPSTATS`] with 64-bit segment counters, 72 bytes,
/// 8-byte aligned.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIB_TCPSTATS2 {
    /// `TCP_RTO_ALGORITHM`: a `MIB_TCP_RTO_*` value.
    pub RtoAlgorithm: u32,
    /// Minimum retransmission time-out, milliseconds.
    pub dwRtoMin: u32,
    /// Maximum retransmission time-out, milliseconds.
    pub dwRtoMax: u32,
    /// Connection limit; [`MIB_TCP_MAXCONN_DYNAMIC`] for none.
    pub dwMaxConn: u32,
    /// Active opens (connects).
    pub dwActiveOpens: u32,
    /// Passive opens (accepts).
    pub dwPassiveOpens: u32,
    /// Failed connection attempts.
    pub dwAttemptFails: u32,
    /// Established connections reset.
    pub dwEstabResets: u32,
    /// Connections now ESTABLISHED or CLOSE-WAIT.
    pub dwCurrEstab: u32,
    /// Segments received.
    pub dw64InSegs: u64,
    /// Segments sent, retransmissions excluded.
    pub dw64OutSegs: u64,
    /// Segments retransmitted.
    pub dwRetransSegs: u32,
    /// Segments received in error.
    pub dwInErrs: u32,
    /// Segments sent with RST.
    pub dwOutRsts: u32,
    /// Connections present, in every state but LISTEN.
    pub dwNumConns: u32,
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
    ($( $ty:ident = $size:literal / $align:literal { $( $field:ident @ $off:literal ),* $(,)? } )*) => {
        // Checked at compile time: a wrong layout does not build.
        $(
            const _: () = assert!(size_of::<$ty>() == $size);
            // A table's rows start at its rows' alignment: 4, or 8 for the
            // rows holding 64-bit members.
            const _: () = assert!(align_of::<$ty>() == $align);
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
    MIB_TCPROW = 20 / 4 {
        dwState @ 0, dwLocalAddr @ 4, dwLocalPort @ 8, dwRemoteAddr @ 12, dwRemotePort @ 16,
    }
    MIB_TCPTABLE = 24 / 4 { dwNumEntries @ 0, table @ 4 }
    MIB_TCPROW_OWNER_PID = 24 / 4 {
        dwState @ 0, dwLocalAddr @ 4, dwLocalPort @ 8, dwRemoteAddr @ 12, dwRemotePort @ 16,
        dwOwningPid @ 20,
    }
    MIB_TCPTABLE_OWNER_PID = 28 / 4 { dwNumEntries @ 0, table @ 4 }
    MIB_TCPROW2 = 28 / 4 {
        dwState @ 0, dwLocalAddr @ 4, dwLocalPort @ 8, dwRemoteAddr @ 12, dwRemotePort @ 16,
        dwOwningPid @ 20, dwOffloadState @ 24,
    }
    MIB_TCPTABLE2 = 32 / 4 { dwNumEntries @ 0, table @ 4 }
    MIB_TCP6ROW = 52 / 4 {
        State @ 0, LocalAddr @ 4, dwLocalScopeId @ 20, dwLocalPort @ 24, RemoteAddr @ 28,
        dwRemoteScopeId @ 44, dwRemotePort @ 48,
    }
    MIB_TCP6TABLE = 56 / 4 { dwNumEntries @ 0, table @ 4 }
    MIB_TCP6ROW_OWNER_PID = 56 / 4 {
        ucLocalAddr @ 0, dwLocalScopeId @ 16, dwLocalPort @ 20, ucRemoteAddr @ 24,
        dwRemoteScopeId @ 40, dwRemotePort @ 44, dwState @ 48, dwOwningPid @ 52,
    }
    MIB_TCP6TABLE_OWNER_PID = 60 / 4 { dwNumEntries @ 0, table @ 4 }
    MIB_TCP6ROW2 = 60 / 4 {
        LocalAddr @ 0, dwLocalScopeId @ 16, dwLocalPort @ 20, RemoteAddr @ 24,
        dwRemoteScopeId @ 40, dwRemotePort @ 44, State @ 48, dwOwningPid @ 52,
        dwOffloadState @ 56,
    }
    MIB_TCP6TABLE2 = 64 / 4 { dwNumEntries @ 0, table @ 4 }
    MIB_TCPROW_OWNER_MODULE = 160 / 8 {
        dwState @ 0, dwLocalAddr @ 4, dwLocalPort @ 8, dwRemoteAddr @ 12, dwRemotePort @ 16,
        dwOwningPid @ 20, liCreateTimestamp @ 24, OwningModuleInfo @ 32,
    }
    MIB_TCPTABLE_OWNER_MODULE = 168 / 8 { dwNumEntries @ 0, table @ 8 }
    MIB_TCP6ROW_OWNER_MODULE = 192 / 8 {
        ucLocalAddr @ 0, dwLocalScopeId @ 16, dwLocalPort @ 20, ucRemoteAddr @ 24,
        dwRemoteScopeId @ 40, dwRemotePort @ 44, dwState @ 48, dwOwningPid @ 52,
        liCreateTimestamp @ 56, OwningModuleInfo @ 64,
    }
    MIB_TCP6TABLE_OWNER_MODULE = 200 / 8 { dwNumEntries @ 0, table @ 8 }
    TCPIP_OWNER_MODULE_BASIC_INFO = 16 / 8 { pModuleName @ 0, pModulePath @ 8 }
    MIB_TCPSTATS = 60 / 4 {
        dwRtoAlgorithm @ 0, dwRtoMin @ 4, dwRtoMax @ 8, dwMaxConn @ 12, dwActiveOpens @ 16,
        dwPassiveOpens @ 20, dwAttemptFails @ 24, dwEstabResets @ 28, dwCurrEstab @ 32,
        dwInSegs @ 36, dwOutSegs @ 40, dwRetransSegs @ 44, dwInErrs @ 48, dwOutRsts @ 52,
        dwNumConns @ 56,
    }
    MIB_TCPSTATS2 = 72 / 8 {
        RtoAlgorithm @ 0, dwRtoMin @ 4, dwRtoMax @ 8, dwMaxConn @ 12, dwActiveOpens @ 16,
        dwPassiveOpens @ 20, dwAttemptFails @ 24, dwEstabResets @ 28, dwCurrEstab @ 32,
        dw64InSegs @ 40, dw64OutSegs @ 48, dwRetransSegs @ 56, dwInErrs @ 60, dwOutRsts @ 64,
        dwNumConns @ 68,
    }
}
