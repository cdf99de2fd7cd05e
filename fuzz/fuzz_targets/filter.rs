//! `ssfilter::Filter`: parse, print and parse again, evaluate on the socket
//! a dump record describes, and on tcpdrop's `Connection` of that record.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/filter.rs"]
mod filter;

#[path = "../harness/connection.rs"]
mod connection;

fuzz_target!(|data: &[u8]| {
    filter::run(data);
    connection::run(data);
});
