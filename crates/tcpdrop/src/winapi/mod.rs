//! The Windows IP Helper TCP calls, with their Windows semantics and codes.
//!
//! - [`set_tcp_entry`] (`SetTcpEntry`) aborts the IPv4 connection a
//!   [`MIB_TCPROW`] names, through the safe drop procedure of SPEC §3.
//! - [`tcp_table`], [`tcp_table2`], [`tcp6_table`], [`tcp6_table2`] and
//!   [`extended_tcp_table`] return the `GetTcpTable` family's rows as `Vec`s;
//!   [`get_tcp_table`] and its siblings write the same rows into a caller's
//!   buffer with the Windows size protocol, ready for a C ABI to wrap.
//! - [`owner_module()`] (`GetOwnerModuleFromTcpEntry`) names the program of
//!   a `TCP_TABLE_OWNER_MODULE_*` row's owner.
//! - [`tcp_statistics`] and [`tcp_statistics2`] (`GetTcpStatistics*`) read
//!   the namespace's TCP MIB.
//! - [`Win32Error`] carries a return code and its `FormatMessage` text;
//!   [`codes`] names the codes.
//!
//! The structures ([`MIB_TCPROW`], [`MIB_TCP6ROW_OWNER_PID`], ...) keep
//! Windows' names and layouts, checked at compile time ([`LAYOUT`]).
//!
//! ```no_run
//! use tcpdrop::winapi::{self, MIB_TCP_STATE_DELETE_TCB};
//! # fn main() -> Result<(), winapi::Win32Error> {
//! for mut row in winapi::tcp_table(true)? {
//!     if u16::from_be(row.dwLocalPort as u16) == 8080 {
//!         row.dwState = MIB_TCP_STATE_DELETE_TCB;
//!         let code = winapi::set_tcp_entry(Some(&row));
//!         println!("{}", winapi::Win32Error(code).message());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Everything acts on the calling thread's network namespace with the
//! calling thread's capabilities.

pub mod codes;
mod error;
pub mod owner_module;
mod set_tcp_entry;
mod stats;
mod table;
mod types;

pub use error::Win32Error;
pub use owner_module::{
    get_owner_module_from_tcp6_entry, get_owner_module_from_tcp_entry, owner_module, owner_module6,
    OwnerModule,
};
pub use set_tcp_entry::set_tcp_entry;
pub use stats::{
    get_tcp_statistics, get_tcp_statistics_ex, get_tcp_statistics_ex2, tcp_statistics,
    tcp_statistics2,
};
pub use table::{
    extended_tcp_table, get_extended_tcp_table, get_tcp6_table, get_tcp6_table2, get_tcp_table,
    get_tcp_table2, tcp6_table, tcp6_table2, tcp_table, tcp_table2, ExtendedTcpTable,
};
pub use types::*;
