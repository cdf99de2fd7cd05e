//! The last step of a forwarded drop: what became of each flow, handed to
//! a [`Sink<Forwarded>`](Sink) as soon as it is known: only what the ends
//! themselves said (see [`super`]).

use super::flows::{ForwardedFlow, Side};
use super::Forwarded;
use crate::drop::{Counting, Sink};

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

impl Sink<Forwarded> for Counting<'_, Forwarded> {
    fn outcome(&mut self, flow: ForwardedFlow, outcome: ForwardedOutcome) {
        let counts = &mut self.counts;
        let slot = match &outcome {
            ForwardedOutcome::Dropped { .. } => &mut counts.dropped,
            ForwardedOutcome::NoSuchConnection { .. } | ForwardedOutcome::Gone { .. } => {
                &mut counts.gone
            }
            ForwardedOutcome::OneEnd { .. } => {
                counts.partial = counts.partial.saturating_add(1);
                &mut counts.failed
            }
            ForwardedOutcome::Failed { .. } => &mut counts.failed,
        };
        *slot = slot.saturating_add(1);
        self.inner.outcome(flow, outcome);
    }

    fn collateral(&mut self, flow: ForwardedFlow) {
        self.inner.collateral(flow);
    }
}
