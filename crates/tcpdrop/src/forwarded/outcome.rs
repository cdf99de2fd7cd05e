//! What became of each forwarded connection a drop was given, and the
//! counts: only what the ends themselves said (see [`super`]).

use super::flows::Side;

/// What became of a flow's conntrack entry after its ends were reset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryOutcome {
    /// It was removed.
    Removed,
    /// There was none (connection tracking is not active, or it had no
    /// entry for this flow).
    None,
    /// It could not be removed, and why (it expires on its own).
    Failed(String),
    /// It was left in place on purpose, and why: a new connection may be
    /// using it (under NAT, removing it would break that one).
    Left(String),
}

/// What became of one forwarded connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardedOutcome {
    /// Both ends were reset, each confirmed by its own answer.
    Dropped {
        /// Its conntrack entry.
        entry: EntryOutcome,
    },
    /// An end answered the probe with an RST: it has no such connection.
    /// Nothing was sent after the probes.
    NoSuchConnection {
        /// The end that said so.
        side: Side,
    },
    /// The connection chosen was gone before any RST was sent: its
    /// conntrack entry was removed or replaced by another, or a new
    /// connection was being opened on its tuple. Nothing but probes (if
    /// any) was sent.
    Gone {
        /// What showed it, in words.
        why: String,
    },
    /// Only one end could be reset.
    OneEnd {
        /// The end that was reset (confirmed).
        reset: Side,
        /// Why the other end was not.
        why: String,
        /// Its conntrack entry.
        entry: EntryOutcome,
    },
    /// Neither end was reset, and why.
    Failed {
        /// Why, in words: which end did not answer, and what that can mean.
        why: String,
    },
}

impl ForwardedOutcome {
    /// `"dropped"`, `"not-found"`, `"gone"`, `"partial"` or `"failed"`.
    pub fn name(&self) -> &'static str {
        match self {
            ForwardedOutcome::Dropped { .. } => "dropped",
            ForwardedOutcome::NoSuchConnection { .. } => "not-found",
            ForwardedOutcome::Gone { .. } => "gone",
            ForwardedOutcome::OneEnd { .. } => "partial",
            ForwardedOutcome::Failed { .. } => "failed",
        }
    }
}

/// How many flows ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardedCounts {
    /// Reset at both ends.
    pub dropped: usize,
    /// No such connection.
    pub not_found: usize,
    /// Gone, or replaced by another, before any RST.
    pub gone: usize,
    /// Reset at one end only.
    pub partial: usize,
    /// Reset at neither end.
    pub failed: usize,
}

impl ForwardedCounts {
    /// Count `outcome`.
    pub(super) fn count(&mut self, outcome: &ForwardedOutcome) {
        match outcome {
            ForwardedOutcome::Dropped { .. } => self.dropped += 1,
            ForwardedOutcome::NoSuchConnection { .. } => self.not_found += 1,
            ForwardedOutcome::Gone { .. } => self.gone += 1,
            ForwardedOutcome::OneEnd { .. } => self.partial += 1,
            ForwardedOutcome::Failed { .. } => self.failed += 1,
        }
    }
}
