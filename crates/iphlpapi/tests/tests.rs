//! Tests of iphlpapi: its Rust face against the real kernel (`rust_api`),
//! and libiphlpapi from C: the header against the Rust layouts, C programs
//! linked with the built library running in fresh network namespaces,
//! `make install` with pkg-config, and Windows programs built unchanged
//! with the compatibility headers.

// A panic is how a test fails, in its helpers as in its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod compat;
mod fuzz_corpus;
mod header;
mod install;
mod programs;
mod rust_api;
mod uml;
mod util;
mod windows_programs;
mod windows_tools;
mod winsock;
