//! `sockdiag::parse_datagram` and `InetDiagMsg::parse` over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/netlink_reply.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
