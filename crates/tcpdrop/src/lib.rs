//! `tcpdrop`: list the TCP connections of a Linux network namespace and drop
//! (abort) chosen ones, exactly and safely: through the kernel's
//! `SOCK_DESTROY`, or where it cannot (a kernel without it, a caller
//! without `CAP_NET_ADMIN`) through the holding process's own descriptor or
//! an injected reset ([`Method`]).
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use tcpdrop::{DropOptions, DropReport, ListOptions, Query, Selection, Session};
//! # fn main() -> Result<(), tcpdrop::Error> {
//! let mut session = Session::new()?;
//! let every = Selection::all(Query::all()).listeners(true);
//! session.list(every, ListOptions::default(), |conn, _tcp_info| {
//!     println!("{} {} {}", conn.state, conn.local, conn.remote);
//!     ControlFlow::Continue(())
//! })?;
//! let local = "127.0.0.1:8080".parse().unwrap();
//! let remote = "127.0.0.1:51000".parse().unwrap();
//! let mut report = DropReport::default(); // or a Sink of your own
//! session.drop(Selection::tuple(local, remote), DropOptions::default(), &mut report)?;
//! # Ok(())
//! # }
//! ```
//!
//! The safe drop procedure (SPEC §3, the `drop` module): a named tuple is
//! found by an exact lookup, any other selection by a fresh dump; rows
//! match exactly, and each socket is named to the kernel by its id *and
//! cookie*, so a vanished connection is reported gone instead of the kernel
//! falling back to the listener on its port, and a newer connection on the
//! same tuple is never hit. See [`Session::drop`].
#![warn(missing_docs)]
#[cfg(not(target_os = "linux"))]
compile_error!(
    "tcpdrop drops connections through Linux's NETLINK_SOCK_DIAG; it supports Linux only"
);

mod abort;
mod conn;
mod drop;
mod error;
pub mod forwarded;
mod holders;
mod method;
pub mod netns;
pub mod privilege;
pub mod procs;
mod session;
mod spoof;

pub use conn::{canonical_ip, same_end, Connection, Family};
pub use drop::{
    DropCounts, DropOptions, DropReport, Endpoint, Everyone, GoneReason, ListOptions, Outcome,
    Selection, Sink, Source, What,
};
pub use error::Error;
pub use method::Method;
pub use netns::Netns;
pub use privilege::Privilege;
pub use session::{InterfaceNames, Query, Session};
// A connection's state and a query's states are the filter language's: one
// type, whichever crate a caller names it through.
pub use ssfilter::{State, StateSet};

/// Hooks for tests that open race windows on purpose; compiled in only
/// with the `race-hook` feature (test builds).
#[cfg(feature = "race-hook")]
pub mod testing {
    pub use crate::drop::hook::imp::{set as before_abort, ENV};
}
pub use sockdiag::{TcpInfo, TcpState};
