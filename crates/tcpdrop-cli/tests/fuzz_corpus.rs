//! Every committed fuzz input of the `tuple` target (`fuzz/corpus/tuple`
//! and any crash reproducer in `fuzz/regressions/tuple`), run through the
//! same code as the fuzz target: the connection parser answers a tuple or a
//! message, and a tuple written back in either form parses to itself.

use std::path::{Path, PathBuf};

// The parser lives in the binary; the fuzz target compiles it in the same way.
#[path = "../src/tuple.rs"]
#[allow(dead_code)]
mod tuple;

#[path = "../../../fuzz/harness/tuple.rs"]
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
fn every_committed_tuple_input_parses_without_a_panic() {
    let inputs = inputs("tuple");
    assert!(
        inputs.len() >= 10,
        "only {} inputs: is fuzz/corpus/tuple there?",
        inputs.len()
    );
    let failed: Vec<_> = inputs
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| harness::run(data)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "failed on {failed:#?}");
}
