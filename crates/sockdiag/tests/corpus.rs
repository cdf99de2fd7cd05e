//! Every committed fuzz input of the `netlink_reply` target (the corpus in
//! `fuzz/corpus/netlink_reply`: real dumps and acks captured in a
//! namespace, crafted broken replies, what the fuzzer kept; and any crash
//! reproducer in `fuzz/regressions/netlink_reply`), run through the same
//! code as the fuzz target: parsing must end in records or errors, never a
//! panic.

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/harness/netlink_reply.rs"]
mod harness;

/// The committed inputs of fuzz target `target`.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut found = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read the corpus directory").path();
            let data = std::fs::read(&path).expect("read a corpus file");
            found.push((path, data));
        }
    }
    found.sort();
    found
}

#[test]
fn every_committed_netlink_reply_input_parses_without_a_panic() {
    let inputs = inputs("netlink_reply");
    assert!(
        inputs.len() >= 30,
        "only {} inputs: is fuzz/corpus/netlink_reply there?",
        inputs.len()
    );
    let failed: Vec<_> = inputs
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| harness::run(data)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "panicked on {failed:#?}");
}
