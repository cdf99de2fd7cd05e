//! Every committed fuzz input of the `conntrack_reply` target (the corpus
//! in `fuzz/corpus/conntrack_reply`: dumps, lookups and acks captured in a
//! namespace with conntrack active, crafted broken replies, what the fuzzer
//! kept; and any crash reproducer in `fuzz/regressions/conntrack_reply`),
//! run through the same code as the fuzz target: parsing ends in records or
//! `Error::Invalid`, never a panic, and a flow read is written again and
//! reads back the same.

#[path = "../../../../fuzz/harness/conntrack_reply.rs"]
mod harness;

#[test]
fn every_committed_conntrack_reply_input_parses_without_a_panic() {
    nstest::replay_fuzz_inputs("conntrack_reply", 30, harness::run);
}
