//! Every committed fuzz input of the `c_abi` target (`fuzz/corpus/c_abi`
//! and any crash reproducer in `fuzz/regressions/c_abi`), run through the
//! same code as the fuzz target, in a fresh network namespace with the
//! harness's own loopback connections: every call returns a Windows code
//! it may return, fills no byte past the buffer it was given, and never
//! panics.

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/harness/c_abi.rs"]
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
fn every_committed_c_abi_input_keeps_to_the_windows_contract() {
    let inputs = inputs("c_abi");
    assert!(
        inputs.len() >= 8,
        "only {} inputs: is fuzz/corpus/c_abi there?",
        inputs.len()
    );
    nstest::in_netns(|| {
        let mut fixture = harness::Fixture::new();
        let failed: Vec<_> = inputs
            .iter()
            .filter(|(_, data)| {
                let run = std::panic::AssertUnwindSafe(|| harness::run(&mut fixture, data));
                std::panic::catch_unwind(run).is_err()
            })
            .map(|(path, _)| path.display().to_string())
            .collect();
        assert!(failed.is_empty(), "failed on {failed:#?}");
    });
}
