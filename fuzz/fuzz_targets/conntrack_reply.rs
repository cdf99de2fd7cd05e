//! `conntrack::parse_datagram`, `Flow::parse` and `parse_tuple` over
//! arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/conntrack_reply.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
