//! Every committed fuzz input of the `filter` target (`fuzz/corpus/filter`
//! and any crash reproducer in `fuzz/regressions/filter`), run through the
//! same code as the fuzz target: a filter parses or names its error, prints
//! as words that parse back to the same filter, and evaluates on a
//! connection built from a dump record, without a panic.

#[path = "../../../fuzz/harness/filter.rs"]
mod harness;

#[test]
fn every_committed_filter_input_round_trips_without_a_panic() {
    nstest::replay_fuzz_inputs("filter", 15, harness::run);
}
