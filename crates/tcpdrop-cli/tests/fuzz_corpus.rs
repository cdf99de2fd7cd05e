//! Every committed fuzz input of the `tuple` target (`fuzz/corpus/tuple`
//! and any crash reproducer in `fuzz/regressions/tuple`), run through the
//! same code as the fuzz target: the connection parser answers a tuple or a
//! message, and a tuple written back in either form parses to itself.

// The parser lives in the binary; the fuzz target compiles it in the same way.
#[path = "../src/tuple.rs"]
#[allow(dead_code)]
mod tuple;

#[path = "../../../fuzz/harness/tuple.rs"]
mod harness;

#[test]
fn every_committed_tuple_input_parses_without_a_panic() {
    nstest::replay_fuzz_inputs("tuple", 10, harness::run);
}
