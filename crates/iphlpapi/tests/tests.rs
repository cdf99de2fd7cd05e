//! Tests of libiphlpapi from C: the header against the Rust layouts, C
//! programs linked with the built library running in fresh network
//! namespaces, and `make install` with pkg-config.

mod fuzz_corpus;
mod header;
mod install;
mod programs;
mod util;
