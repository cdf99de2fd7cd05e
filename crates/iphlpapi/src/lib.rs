//! Windows' IP Helper TCP calls on Linux with Windows' semantics: for Rust here, for C as `libiphlpapi`.
//!
//! The crate has two faces over one implementation. The Rust face is this
//! crate's root:
//!
//! - [`set_tcp_entry`] (`SetTcpEntry`) aborts the IPv4 connection a
//!   [`MIB_TCPROW`] names, through tcpdrop's safe drop procedure (SPEC §3).
//! - [`tcp_table`], [`tcp_table2`], [`tcp6_table`], [`tcp6_table2`] and
//!   [`extended_tcp_table`] return the `GetTcpTable` family's rows as `Vec`s;
//!   [`get_tcp_table`] and its siblings write the same rows into a caller's
//!   buffer with the Windows size protocol.
//! - [`owner_module()`] (`GetOwnerModuleFromTcpEntry`) names the program of
//!   a `TCP_TABLE_OWNER_MODULE_*` row's owner.
//! - [`tcp_statistics`] and [`tcp_statistics2`] (`GetTcpStatistics*`) read
//!   the namespace's TCP MIB.
//! - [`Win32Error`] carries a return code and its `FormatMessage` text, and
//!   is what a [`tcpdrop::Error`] becomes; [`codes`] names the codes.
//!
//! The C face is [`c_abi`]: the same calls with Windows' exact names and
//! signatures (`iphlpapi.h`, in this crate's `include/`), exported from
//! `libiphlpapi.so.0` and `libiphlpapi.a`, each a thin wrapper that turns C
//! pointers into the Rust face's arguments and keeps panics out of C.
//!
//! The structures ([`MIB_TCPROW`], [`MIB_TCP6ROW_OWNER_PID`], ...) keep
//! Windows' names and layouts, checked at compile time ([`LAYOUT`]).
//!
//! ```no_run
//! use iphlpapi::{Win32Error, MIB_TCP_STATE_DELETE_TCB};
//! # fn main() -> Result<(), Win32Error> {
//! for mut row in iphlpapi::tcp_table(true)? {
//!     if u16::from_be(row.dwLocalPort as u16) == 8080 {
//!         row.dwState = MIB_TCP_STATE_DELETE_TCB;
//!         let code = iphlpapi::set_tcp_entry(Some(&row));
//!         println!("{}", Win32Error(code).message());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Everything acts on the calling thread's network namespace with the
//! calling thread's capabilities. The work itself (listing, the safe drop,
//! owners) is the `tcpdrop` library's; this crate gives it Windows' shape.
#![warn(missing_docs)]
// No panics: this code runs inside other programs, behind a C ABI.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod c_abi;
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
