//! Every committed fuzz input of the `netlink_reply` target (the corpus in
//! `fuzz/corpus/netlink_reply`: real dumps and acks captured in a
//! namespace, crafted broken replies, what the fuzzer kept; and any crash
//! reproducer in `fuzz/regressions/netlink_reply`), run through the same
//! code as the fuzz target: parsing must end in records or errors, never a
//! panic.

#[path = "../../../fuzz/harness/netlink_reply.rs"]
mod harness;

#[test]
fn every_committed_netlink_reply_input_parses_without_a_panic() {
    nstest::replay_fuzz_inputs("netlink_reply", 30, harness::run);
}
