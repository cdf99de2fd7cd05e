//! Every committed input of the `filter` fuzz target (`fuzz/corpus/filter`,
//! `fuzz/regressions/filter`), run through the same code as the target: a
//! filter parses or names its error, prints as words that parse back to the
//! same filter, and evaluates on the socket a dump record describes, without
//! a panic.

#[path = "../../../fuzz/harness/filter.rs"]
mod harness;

#[test]
fn every_committed_filter_input_round_trips_without_a_panic() {
    nstest::replay_fuzz_inputs("filter", 15, harness::run);
}
