//! The `tcpdrop` command's connection parser (`LADDR LPORT RADDR RPORT`,
//! `LADDR:LPORT RADDR:RPORT`) over arbitrary words. The parser lives in the
//! binary crate, so its file is compiled in here by path.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/tcpdrop-cli/src/tuple.rs"]
#[allow(dead_code)]
mod tuple;

#[path = "../harness/tuple.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
