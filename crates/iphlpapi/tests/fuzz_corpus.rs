//! Every committed fuzz input of the `c_abi` target (`fuzz/corpus/c_abi`
//! and any crash reproducer in `fuzz/regressions/c_abi`), run through the
//! same code as the fuzz target, in a fresh network namespace with the
//! harness's own loopback connections: every call returns a Windows code
//! it may return, fills no byte past the buffer it was given, and never
//! panics.

#[path = "../../../fuzz/harness/c_abi.rs"]
mod harness;

#[test]
fn every_committed_c_abi_input_keeps_to_the_windows_contract() {
    nstest::in_netns(|| {
        let mut fixture = harness::Fixture::new();
        nstest::replay_fuzz_inputs("c_abi", 8, |data| harness::run(&mut fixture, data));
    });
}
