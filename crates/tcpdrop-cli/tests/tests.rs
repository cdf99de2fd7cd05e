//! The `tcpdrop` command against the real kernel: each test builds a fresh
//! network namespace, runs the binary inside it and checks the effect from
//! the outside (the sockets' owners, `ss`).

// A panic is how a test fails, in its helpers as in its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod util;

mod bad_input;
mod bsd;
mod corners;
mod docs;
mod drop;
mod faults;
mod file;
mod file_caps;
mod filter_expr;
mod forwarded;
mod fuzz_corpus;
mod kubernetes;
mod list;
mod methods;
mod names;
mod netns;
mod owners;
mod privilege;
mod races;
mod shadow;
mod top;
mod uml;
mod vs_ss;
mod watch;
