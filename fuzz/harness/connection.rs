//! tcpdrop's [`Connection`] on the `filter` target's input: shared by the
//! `filter` fuzz target and `crates/tcpdrop/tests/fuzz_corpus.rs`, next to
//! `harness/filter.rs` (as module `filter`), which reads the input.
//!
//! The record in the first 72 bytes, turned into a [`Connection`] as a dump
//! would, must name the same socket (the id a drop would send) and be the
//! same socket to the filter language as the record's [`Row`]: a filter in
//! the rest of the input selects both or neither.

use ssfilter::{Filter, Row};
use tcpdrop::Connection;

/// Build the connection and check it against the record and its row.
pub fn run(data: &[u8]) {
    let msg = super::filter::record(data);
    let row = Row::from_diag(&msg);
    let Some(conn) = Connection::from_diag(&msg) else {
        assert_eq!(row, None, "a row but no connection");
        return;
    };
    // The id a drop would send names the same socket.
    let id = conn.sock_id();
    assert_eq!(
        (id.sport, id.dport, id.cookie),
        (msg.id.sport, msg.id.dport, msg.id.cookie)
    );
    let row = row.expect("a connection but no row");
    assert_eq!(
        (conn.state, conn.local, conn.remote, conn.mapped),
        (row.state, row.local, row.remote, row.mapped())
    );
    let Some(filter) = super::filter::words(data).and_then(|w| Filter::parse(&w).ok()) else {
        return;
    };
    assert_eq!(filter.matches(&conn), filter.matches(&row), "{filter}");
    assert_eq!(
        filter.matches_like_ss(&conn),
        filter.matches_like_ss(&row),
        "{filter}"
    );
}
