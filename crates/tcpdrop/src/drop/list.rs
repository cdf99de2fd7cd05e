//! Listing: the first two steps of a drop alone. What a [`Selection`]
//! chooses is found (a dump narrowed in the kernel) and handed to the
//! caller; nothing is touched.

use std::ops::ControlFlow;

use sockdiag::TcpInfo;

use super::select::{Selection, What};
use crate::conn::Connection;
use crate::error::Error;
use crate::session::{in_kernel, Narrow, Session};

/// What a listing reads besides each socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Ask for each socket's `tcp_info` (`INET_DIAG_INFO`): byte counters,
    /// RTT. The live view (`tcpdrop --top`) reads traffic this way; a
    /// listing without it dumps about a third as much. TIME-WAIT and
    /// request sockets have none.
    pub tcp_info: bool,
}

impl Session {
    /// Hand each socket `selection` chooses to `visit`, which may stop
    /// early, with its `tcp_info` when `options` ask for it (else `None`).
    ///
    /// A filter's expression runs in the kernel as `inet_diag` bytecode
    /// ([`Filter::bytecode`](ssfilter::Filter::bytecode)), so the
    /// sockets it rejects are never copied out; each row the kernel lets
    /// through is checked again with
    /// [`Filter::matches`](ssfilter::Filter::matches), the reference.
    /// Named tuples are picked out of one dump of the selection's query,
    /// in the kernel's order. As for a drop, a listener is handed over only
    /// when the selection allows listeners.
    ///
    /// An interrupted dump is repeated from the start (up to three times)
    /// only if nothing was visited yet; otherwise it is reported.
    ///
    /// ```no_run
    /// use std::ops::ControlFlow;
    /// use tcpdrop::{ListOptions, Query, Selection, Session};
    /// # fn main() -> Result<(), tcpdrop::Error> {
    /// let mut session = Session::new()?;
    /// let every = Selection::all(Query::all()).listeners(true);
    /// session.list(every, ListOptions::default(), |conn, _| {
    ///     println!("{} {} {}", conn.state, conn.local, conn.remote);
    ///     ControlFlow::Continue(())
    /// })?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn list<C: FnMut(&Connection) -> bool>(
        &mut self,
        selection: Selection<C>,
        options: ListOptions,
        mut visit: impl FnMut(Connection, Option<&TcpInfo>) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let mut selection = selection.resolved_in(self)?;
        let (query, program) = match &selection.what {
            What::Matching(filter) => in_kernel(&selection.query, filter),
            _ => (selection.query, None),
        };
        let narrow = match &selection.what {
            What::Matching(filter) => Narrow::by(filter, program.as_ref()),
            _ => Narrow::default(),
        };
        self.dump_with(&query, narrow, options.tcp_info, |conn, info| {
            if selection.names(&conn) && selection.chooses(&conn) {
                visit(conn, info)
            } else {
                ControlFlow::Continue(())
            }
        })
    }
}
