//! Integration tests of the tcpdrop library against the real kernel, each in
//! a fresh network namespace (see the `nstest` crate).

// A panic is how a test fails, in its helpers as in its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod bulk;
mod churn;
mod drop_safety;
mod forwarded;
mod fuzz_corpus;
mod listing;
mod lookup;
mod namespaces;
mod races;
mod shadow;

use std::ops::ControlFlow;

use tcpdrop::{Connection, ListOptions, Selection, Session};

/// Every socket `selection` chooses, listeners included.
pub fn listed(session: &mut Session, selection: Selection) -> Vec<Connection> {
    let mut rows = Vec::new();
    let options = ListOptions::default();
    session
        .list(selection.listeners(true), options, |conn, _| {
            rows.push(conn);
            ControlFlow::Continue(())
        })
        .expect("list");
    rows
}
