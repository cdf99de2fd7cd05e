//! `tcpdrop`: list the TCP connections of a Linux network namespace and drop
//! (abort) chosen ones, exactly and safely, through the kernel's
//! `SOCK_DESTROY`; and [`winapi`], Windows' `SetTcpEntry` and `GetTcpTable`
//! family with their Windows semantics.
//!
//! ```no_run
//! use tcpdrop::{DropOptions, Query, Session};
//! # fn main() -> Result<(), tcpdrop::Error> {
//! let mut session = Session::new()?;
//! for conn in session.list(&Query::all())? {
//!     println!("{} {} {}", conn.state, conn.local, conn.remote);
//! }
//! let local = "127.0.0.1:8080".parse().unwrap();
//! let remote = "127.0.0.1:51000".parse().unwrap();
//! let report = session.drop_tuple(local, remote, DropOptions::default())?;
//! # Ok(())
//! # }
//! ```
//!
//! The safe drop procedure (SPEC §3): a drop always starts from a fresh
//! dump, matches rows exactly, and names each socket to the kernel by its
//! id *and cookie*, so a vanished connection is reported gone instead of the
//! kernel falling back to the listener on its port, and a newer connection
//! on the same tuple is never hit.
#![warn(missing_docs)]
// No panics in the library: it runs inside other programs (and behind a C ABI).
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

#[cfg(not(target_os = "linux"))]
compile_error!(
    "tcpdrop drops connections through Linux's NETLINK_SOCK_DIAG; it supports Linux only"
);

// Until the drop procedure calls them (issue 10, merged by the lead).
#[allow(dead_code)]
mod abort;
mod conn;
mod error;
pub mod filter;
#[allow(dead_code)]
mod holders;
pub mod netns;
pub mod privilege;
pub mod procs;
mod session;
pub mod winapi;

pub use conn::{canonical_ip, same_end, Connection, Family, State, StateSet};
pub use error::{Error, Privilege};
pub use netns::Netns;
pub use session::{
    DropCounts, DropOptions, DropReport, GoneReason, InterfaceNames, Outcome, Query, Session,
};
pub use sockdiag::TcpState;

/// Every TCP connection of the calling thread's network namespace, both
/// families, every state `ss -a` shows.
pub fn list() -> Result<Vec<Connection>, Error> {
    Session::new()?.list(&Query::all())
}
