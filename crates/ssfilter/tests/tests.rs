//! Integration tests of the filter language against the real kernel and
//! `ss`, each in a fresh network namespace (see the `nstest` crate).

// A panic is how a test fails, in its helpers as in its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod bytecode;
mod dump;
mod fuzz_corpus;
mod population;
mod vs_ss;
