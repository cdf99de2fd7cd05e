//! The TCP/IP segment parser and writer of `inject` and `--forwarded`
//! (`crates/tcpdrop/src/spoof/segment.rs`) over arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

// Private to the tcpdrop crate; it stands alone so that it compiles here.
#[path = "../../crates/tcpdrop/src/spoof/segment.rs"]
#[allow(dead_code)]
mod segment;

#[path = "../harness/packet.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
