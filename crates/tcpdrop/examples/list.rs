//! Print every TCP connection, as `ss -tan` would.
use std::ops::ControlFlow;

use tcpdrop::{ListOptions, Query, Selection, Session};

fn main() -> Result<(), tcpdrop::Error> {
    let every = Selection::all(Query::all()).listeners(true);
    Session::new()?.list(every, ListOptions::default(), |c, _| {
        println!(
            "{:<12} {:<30} {:<30} mapped={} cookie={} inode={}",
            c.state.ss_name(),
            c.local,
            c.remote,
            c.mapped,
            c.cookie,
            c.inode
        );
        ControlFlow::Continue(())
    })
}
