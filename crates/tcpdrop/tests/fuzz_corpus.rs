//! Every committed fuzz input of the `filter` target (`fuzz/corpus/filter`
//! and any crash reproducer in `fuzz/regressions/filter`), run through the
//! same code as the fuzz target: a filter parses or names its error, prints
//! as words that parse back to the same filter, and evaluates on a
//! connection built from a dump record, without a panic.

use std::path::{Path, PathBuf};

#[path = "../../../fuzz/harness/filter.rs"]
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
fn every_committed_filter_input_round_trips_without_a_panic() {
    let inputs = inputs("filter");
    assert!(
        inputs.len() >= 15,
        "only {} inputs: is fuzz/corpus/filter there?",
        inputs.len()
    );
    let failed: Vec<_> = inputs
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| harness::run(data)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "failed on {failed:#?}");
}
