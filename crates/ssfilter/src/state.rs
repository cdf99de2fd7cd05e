//! TCP states as `ss` names and groups them, and sets of them kept as the
//! kernel's state mask (`idiag_states`).

use std::fmt;

use sockdiag::TcpState;

/// A TCP state, named as RFC 793 names it.
///
/// The kernel's `TCP_NEW_SYN_RECV` request sockets are [`State::SynReceived`],
/// as `ss` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// ESTABLISHED.
    Established,
    /// SYN-SENT.
    SynSent,
    /// SYN-RECEIVED.
    SynReceived,
    /// FIN-WAIT-1.
    FinWait1,
    /// FIN-WAIT-2.
    FinWait2,
    /// TIME-WAIT.
    TimeWait,
    /// CLOSED.
    Closed,
    /// CLOSE-WAIT.
    CloseWait,
    /// LAST-ACK.
    LastAck,
    /// LISTEN.
    Listen,
    /// CLOSING.
    Closing,
}

impl State {
    /// Every state, in the kernel's order.
    pub const ALL: [State; 11] = [
        State::Established,
        State::SynSent,
        State::SynReceived,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Closed,
        State::CloseWait,
        State::LastAck,
        State::Listen,
        State::Closing,
    ];

    /// The state of a kernel socket, `None` for states `ss` does not list.
    pub fn from_kernel(state: TcpState) -> Option<State> {
        Some(match state {
            TcpState::Established => State::Established,
            TcpState::SynSent => State::SynSent,
            TcpState::SynRecv | TcpState::NewSynRecv => State::SynReceived,
            TcpState::FinWait1 => State::FinWait1,
            TcpState::FinWait2 => State::FinWait2,
            TcpState::TimeWait => State::TimeWait,
            TcpState::Close => State::Closed,
            TcpState::CloseWait => State::CloseWait,
            TcpState::LastAck => State::LastAck,
            TcpState::Listen => State::Listen,
            TcpState::Closing => State::Closing,
            TcpState::BoundInactive | TcpState::Unknown(_) => return None,
        })
    }

    /// The RFC 793 name: `ESTABLISHED`, `SYN-SENT`, `TIME-WAIT`, ...
    pub fn rfc_name(self) -> &'static str {
        match self {
            State::Established => "ESTABLISHED",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "CLOSED",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
        }
    }

    /// The name `ss` prints in its State column: `ESTAB`, `SYN-RECV`, `UNCONN`, ...
    pub fn ss_name(self) -> &'static str {
        match self {
            State::Established => "ESTAB",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECV",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Closed => "UNCONN",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
        }
    }

    /// The kernel state mask (`1 << TCP_*`) that dumps sockets in this state.
    pub fn kernel_mask(self) -> u32 {
        match self {
            State::Established => TcpState::Established.mask(),
            State::SynSent => TcpState::SynSent.mask(),
            State::SynReceived => TcpState::SynRecv.mask() | TcpState::NewSynRecv.mask(),
            State::FinWait1 => TcpState::FinWait1.mask(),
            State::FinWait2 => TcpState::FinWait2.mask(),
            State::TimeWait => TcpState::TimeWait.mask(),
            State::Closed => TcpState::Close.mask(),
            State::CloseWait => TcpState::CloseWait.mask(),
            State::LastAck => TcpState::LastAck.mask(),
            State::Listen => TcpState::Listen.mask(),
            State::Closing => TcpState::Closing.mask(),
        }
    }

    /// The single state `name` denotes, in `ss`'s spelling, RFC 793's or the
    /// column name `ss` prints; case-insensitive, `_` read as `-`.
    pub fn from_name(name: &str) -> Option<State> {
        let name = name.to_ascii_lowercase().replace('_', "-");
        Some(match name.as_str() {
            "established" | "estab" => State::Established,
            "syn-sent" => State::SynSent,
            "syn-recv" | "syn-rcv" | "syn-received" => State::SynReceived,
            "fin-wait-1" | "fin-wait1" => State::FinWait1,
            "fin-wait-2" | "fin-wait2" => State::FinWait2,
            "time-wait" => State::TimeWait,
            "closed" | "close" | "unconn" | "unconnected" => State::Closed,
            "close-wait" => State::CloseWait,
            "last-ack" => State::LastAck,
            "listening" | "listen" => State::Listen,
            "closing" => State::Closing,
            _ => return None,
        })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc_name())
    }
}

/// A set of [`State`]s, kept as the kernel's state mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateSet(u32);

impl StateSet {
    /// Every state `ss -a` lists (the kernel mask `0x1FFE`).
    pub const ALL: StateSet = StateSet(sockdiag::ALL_TCP_STATES);
    /// No state.
    pub const EMPTY: StateSet = StateSet(0);

    /// The set holding just `state`.
    pub fn only(state: State) -> StateSet {
        StateSet(state.kernel_mask())
    }

    /// Every state except LISTEN: what a drop selects unless asked for listeners.
    pub fn all_but_listen() -> StateSet {
        StateSet::ALL.without(State::Listen)
    }

    /// This set with `state` added.
    pub fn with(self, state: State) -> StateSet {
        StateSet(self.0 | state.kernel_mask())
    }

    /// This set with `state` removed.
    pub fn without(self, state: State) -> StateSet {
        StateSet(self.0 & !state.kernel_mask())
    }

    /// The union of two sets.
    pub fn union(self, other: StateSet) -> StateSet {
        StateSet(self.0 | other.0)
    }

    /// The states in both sets.
    pub fn intersection(self, other: StateSet) -> StateSet {
        StateSet(self.0 & other.0)
    }

    /// Whether `state` is in the set.
    pub fn contains(self, state: State) -> bool {
        self.0 & state.kernel_mask() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kernel mask (`idiag_states`).
    pub fn kernel_mask(self) -> u32 {
        self.0
    }

    /// The set a state name or group names, as `ss` spells them
    /// (`established`, `syn-recv`, `listening`, `connected`,
    /// `synchronized`, `bucket`, `big`, `all`, ...), also accepting the RFC
    /// 793 names (`LISTEN`, `SYN-RECEIVED`, `CLOSE_WAIT`, ...) and the
    /// column names `ss` prints (`ESTAB`, `UNCONN`). Case does not matter,
    /// `_` is read as `-`. `None` for anything else.
    pub fn from_name(name: &str) -> Option<StateSet> {
        let name = name.to_ascii_lowercase().replace('_', "-");
        let connected = StateSet::ALL.without(State::Listen).without(State::Closed);
        Some(match name.as_str() {
            "all" => StateSet::ALL,
            "connected" => connected,
            "synchronized" => connected.without(State::SynSent),
            "bucket" => StateSet::only(State::SynReceived).with(State::TimeWait),
            "big" => StateSet::ALL
                .without(State::SynReceived)
                .without(State::TimeWait),
            _ => StateSet::only(State::from_name(&name)?),
        })
    }

    /// The states in the set, in the kernel's order.
    pub fn iter(self) -> impl Iterator<Item = State> {
        State::ALL.into_iter().filter(move |s| self.contains(*s))
    }
}

impl FromIterator<State> for StateSet {
    fn from_iter<I: IntoIterator<Item = State>>(iter: I) -> StateSet {
        iter.into_iter().fold(StateSet::EMPTY, StateSet::with)
    }
}
