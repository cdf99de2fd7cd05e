//! Integration tests of the tcpdrop library against the real kernel, each in
//! a fresh network namespace (see the `nstest` crate).

mod bytecode;
mod churn;
mod drop_safety;
mod filter;
mod forwarded;
mod fuzz_corpus;
mod listing;
mod lookup;
mod namespaces;
mod races;
mod shadow;
mod winapi;

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
