//! `tcpdrop::filter::Filter`: parse, print and parse again, evaluate on a
//! connection built from a dump record.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/filter.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::run(data));
