//! Every committed fuzz input of the targets that drive this crate, run
//! through the same code as the fuzz targets:
//!
//! - `filter` (`fuzz/corpus/filter`, `fuzz/regressions/filter`): a filter
//!   parses or names its error, prints as words that parse back to the same
//!   filter, and evaluates on a connection built from a dump record,
//!   without a panic.
//! - `packet` (`fuzz/corpus/packet`, `fuzz/regressions/packet`): a TCP/IP
//!   segment parses or not, without a panic; what parses is what its header
//!   fields say, and written back it parses to itself with good checksums.

#[path = "../../../fuzz/harness/filter.rs"]
mod harness;

// Private to the crate; the packet fuzz target compiles it in the same way.
#[path = "../src/spoof/segment.rs"]
#[allow(dead_code)]
mod segment;

#[path = "../../../fuzz/harness/packet.rs"]
mod packet;

#[test]
fn every_committed_filter_input_round_trips_without_a_panic() {
    nstest::replay_fuzz_inputs("filter", 15, harness::run);
}

#[test]
fn every_committed_packet_input_parses_and_writes_back_to_itself() {
    nstest::replay_fuzz_inputs("packet", 20, packet::run);
}
