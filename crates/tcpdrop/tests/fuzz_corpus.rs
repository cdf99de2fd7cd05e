//! Every committed fuzz input of the targets that drive this crate, run
//! through the same code as the fuzz targets:
//!
//! - `filter` (`fuzz/corpus/filter`, `fuzz/regressions/filter`), its
//!   connection half: the dump record an input starts with, as a
//!   [`tcpdrop::Connection`], names the same socket, and a filter reads it
//!   as it reads the record's row (the filter language's half runs in
//!   `crates/ssfilter/tests/fuzz_corpus.rs`).
//! - `packet` (`fuzz/corpus/packet`, `fuzz/regressions/packet`): a TCP/IP
//!   segment parses or not, without a panic; what parses is what its header
//!   fields say, and written back it parses to itself with good checksums.

// Only its reading of the input is used here (`record`, `words`).
#[path = "../../../fuzz/harness/filter.rs"]
#[allow(dead_code)]
mod filter;

#[path = "../../../fuzz/harness/connection.rs"]
mod connection;

// Private to the crate; the packet fuzz target compiles it in the same way.
#[path = "../src/spoof/segment.rs"]
#[allow(dead_code)]
mod segment;

#[path = "../../../fuzz/harness/packet.rs"]
mod packet;

#[test]
fn every_committed_filter_input_is_a_connection_naming_its_socket() {
    nstest::replay_fuzz_inputs("filter", 15, connection::run);
}

#[test]
fn every_committed_packet_input_parses_and_writes_back_to_itself() {
    nstest::replay_fuzz_inputs("packet", 20, packet::run);
}
