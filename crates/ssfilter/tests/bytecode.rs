//! Filters compiled to `inet_diag` bytecode, run by the kernel: over a
//! varied population, the kernel's selection must be exactly the one
//! [`Filter::matches`] makes in user space (a superset when the filter has
//! `state` conditions, which the bytecode cannot express), and every
//! program must pass the kernel's audit.

use nstest::in_netns;
use ssfilter::{Filter, StateSet};

use crate::dump::{dump, sorted};
use crate::population::{populate, KERNEL_FILTERS};

#[test]
fn the_kernel_runs_compiled_filters_as_the_evaluator_does() {
    in_netns(|| {
        // The filter differential test's population: both families,
        // dual-stack, a half-closed pair, TIME-WAIT sockets.
        let _population = populate();
        let all = dump(StateSet::ALL, None);
        assert!(all.len() >= 30, "population too small: {}", all.len());
        for text in KERNEL_FILTERS {
            let words: Vec<&str> = text.split(' ').collect();
            let filter = Filter::parse(&words).unwrap_or_else(|e| panic!("{text}: {e}"));
            let want = sorted(all.iter().filter(|c| filter.matches(c)).copied().collect());
            let Some(program) = filter.bytecode(false) else {
                assert!(
                    ["dport = *"].contains(text),
                    "'{text}' compiled to no program"
                );
                continue;
            };
            // The kernel alone: exactly the reference, or a superset.
            let raw = dump(filter.states(), Some((text, program.as_bytes())));
            if program.is_exact() {
                assert_eq!(raw, want, "kernel vs matches for '{text}'");
            } else {
                assert!(
                    want.iter().all(|c| raw.contains(c)),
                    "kernel dropped rows '{text}' matches"
                );
            }
            // The swapped program passes the audit too.
            if let Some(swapped) = filter.bytecode(true) {
                dump(filter.states(), Some((text, swapped.as_bytes())));
            }
        }
    });
}
