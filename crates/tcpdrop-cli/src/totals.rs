//! The outcomes of a run, summed over namespaces and rounds, for both
//! sources (local sockets, forwarded flows): what the summary line and the
//! exit status are made of.

use std::io;

use tcpdrop::procs::ProcRefusals;

/// The outcomes of a run, summed over namespaces and rounds.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) chosen: usize,
    /// Failures that were refusals (no privilege, no support), and the
    /// exit status of the first.
    pub(crate) refused: usize,
    pub(crate) refusal_code: Option<u8>,
    /// Named tuples (`-f`) that matched no connection.
    pub(crate) not_found: usize,
    pub(crate) dropped: u64,
    pub(crate) gone: usize,
    pub(crate) failed: usize,
    /// Forwarded flows reset at one end only (counted in `failed` too).
    pub(crate) partial: usize,
    /// A named forwarded connection found gone: the run's one error line.
    pub(crate) missing: Option<String>,
    /// Sockets the other options chose whose owners could not be read, so
    /// `--pid`/`--process` could not tell whether to choose them.
    pub(crate) unreadable: usize,
    /// The processes whose descriptors could not be read, and why.
    pub(crate) refusals: ProcRefusals,
    /// Why the output stopped, if it did; the drops went on without it.
    pub(crate) output: Option<io::Error>,
}

impl Totals {
    /// Remember why processes could not be read, from the scan that
    /// refused the most (every scan reads the same `/proc`).
    pub(crate) fn keep_refusals(&mut self, refusals: ProcRefusals) {
        if refusals.count() > self.refusals.count() {
            self.refusals = refusals;
        }
    }

    pub(crate) fn summary(&self) -> String {
        let mut text = format!(
            "dropped {}, gone {}, failed {}",
            self.dropped, self.gone, self.failed
        );
        if self.not_found > 0 {
            text.push_str(&format!(", not found {}", self.not_found));
        }
        if self.partial > 0 {
            text.push_str(&format!(" ({} reset at one end only)", self.partial));
        }
        text
    }
}
