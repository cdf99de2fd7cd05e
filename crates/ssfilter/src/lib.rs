//! The filter language of `ss` (ss(8), "FILTER") for TCP sockets: parsed
//! without `ss`, evaluated on each socket of a dump, and compiled to
//! `inet_diag` bytecode for the kernel to run while it dumps.
//!
//! ```
//! use ssfilter::Filter;
//! let f = Filter::parse(&["state", "established", "( dport = :443 or src 10.0.0.0/8 )"])?;
//! // State words are not part of the expression: no parentheses needed.
//! assert_eq!(f.to_string(), "state established dport = :443 or src 10.0.0.0/8");
//! # Ok::<(), ssfilter::FilterError>(())
//! ```
//!
//! A filter reads a socket through the [`Socket`] trait (its state, its two
//! ends, the family of the kernel socket), so a caller's own connection
//! type is evaluated as it is; [`Row`] is the plain socket of a dump
//! record. The states and their names are [`State`] and [`StateSet`];
//! service and host names are looked up in [`names`].
//!
//! The grammar is the one of iproute2's `misc/ssfilter.y` and `misc/ss.c`
//! (checked against ss 6.1):
//!
//! ```text
//! filter   := { ("state" | "exclude" | "excl") STATE } [ exprlist ]
//! exprlist := expr { [ "and" | "&&" | "&" | "or" | "||" | "|" ] expr }
//! expr     := "(" exprlist ")" | ("not" | "!") expr
//!           | ("src" | "dst") [ "=" ] HOST
//!           | ("sport" | "dport") [ OP ] PORT
//!           | ("state" | "exclude" | "excl") STATE      (not in ss)
//! ```
//!
//! - `state`/`exclude` words come first, as `ss` reads them before the
//!   expression: the first sets the state mask (`state` from nothing,
//!   `exclude` from `all`), later ones add (`state`) or remove (`exclude`).
//!   Without them every state may match ([`Filter::states`]).
//! - Past the leading words, `state NAME` and `exclude NAME` are conditions
//!   like any other: true when the connection's state is (is not) one that
//!   NAME names. So `dport = :443 or ( src 10.0.0.0/8 and state
//!   established )` works, which `ss` 6.1 refuses ("an inet prefix is
//!   expected rather than state"). A filter that starts with `state` keeps
//!   `ss`'s reading: those words apply to the whole expression.
//! - `and` and `or` have the same precedence and group left to right, as in
//!   `ss`: `a or b and c` is `(a or b) and c`. Two terms side by side are
//!   joined by `and`. `not` binds to the one term after it.
//! - `OP` is `=` `==` `eq` (also when left out), `!=` `ne` `neq`, `<` `lt`,
//!   `>` `gt`, `<=` `le` `leq`, `>=` `ge` `geq`; `PORT` is `:N` or `N`
//!   (C notation: `0x50` is 80, `010` is 8, as `ss` reads it), or `*` for any.
//! - `HOST` is `ADDR[/LEN][:PORT]`, `[ADDR[/LEN]][:PORT]`, `*[:PORT]` or
//!   `:PORT`; `ADDR` is IPv4 in `ss`'s legacy notation (`10.8` is
//!   `10.8.0.0`), IPv6 (in brackets unless it has a `/LEN`), `any`/`all`
//!   for any address, or a host name; `LEN` is a number or a dotted mask.
//! - A `PORT` may be a TCP service name (`:http`, `https`), and a host name
//!   stands for every address it has (`src localhost` is `src 127.0.0.1 or
//!   src [::1]`), as `ss` reads them; both are looked up without the
//!   network ([`names`]: `/etc/services`, `/etc/hosts`,
//!   `localhost`), so the filter holds (and prints) addresses and ports.
//!
//! Operators may be glued to their operands (`dport=:443`, `(src`, `!src`)
//! and one word may hold several tokens (`'sport = :22 or sport = :80'`).
//!
//! Where this crate and `ss` differ, it is stricter or saner; see
//! [`Filter::matches_like_ss`] for the one difference in what matches.

#![warn(missing_docs)]

use std::fmt;
use std::net::IpAddr;

use names::{HostAddrs, Names};

pub use bytecode::Bytecode;
pub use socket::{Row, Socket};
pub use state::{State, StateSet};
pub use suggest::{keyword_typo, Typo, STATE_WORDS};

mod bytecode;
mod eval;
mod hostcond;
pub mod names;
mod parse;
mod socket;
mod state;
mod suggest;
#[cfg(test)]
mod tests;

/// A parsed `ss` filter: the state terms and the expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    states: Option<StateSet>,
    /// Whether a leading `state` word named `listening` itself (not a
    /// group holding it) and no later `exclude` took it away.
    listening_named: bool,
    expr: Option<Expr>,
}

/// Why a filter could not be parsed, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    message: String,
    word: usize,
    offset: usize,
}

impl FilterError {
    /// The one-line message, e.g. `filter: expected ':PORT' after 'dport =', found 'abc'`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The index (from 0) of the word, among those given to
    /// [`Filter::parse`], that holds the offending token (for a filter that
    /// ends too early: the last word).
    pub fn word(&self) -> usize {
        self.word
    }

    /// The byte offset of the offending token in its word (for a filter
    /// that ends too early: the word's length).
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (word {}, byte {})",
            self.message,
            self.word.saturating_add(1),
            self.offset
        )
    }
}

impl std::error::Error for FilterError {}

impl Filter {
    /// Parse the words of a command line (after the options), as `ss` does;
    /// names are looked up in the system's files ([`Names::system`]).
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Filter, FilterError> {
        parse::parse(words, Names::system()).map(|(filter, _)| filter)
    }

    /// [`Filter::parse`] with names looked up in `names`; also what each
    /// host name in the filter stood for (once per name, in order), for a
    /// caller to show before it acts on the filter.
    pub fn parse_with<S: AsRef<str>>(
        words: &[S],
        names: &Names,
    ) -> Result<(Filter, Vec<HostAddrs>), FilterError> {
        parse::parse(words, names)
    }

    /// Whether `conn` is selected: its state is one of [`Filter::states`]
    /// and the expression holds for it, as the kernel evaluates `ss`'s
    /// filter bytecode. An IPv4 address term matches v4-mapped connections;
    /// an address term never matches a connection of the other family.
    pub fn matches<S: Socket + ?Sized>(&self, conn: &S) -> bool {
        self.leading_states().contains(conn.state())
            && self
                .expr
                .as_ref()
                .is_none_or(|e| eval::eval(e, &eval::Sock::of(conn), eval::Mode::Kernel))
    }

    /// Whether `ss` 6.x would list `conn` for this filter.
    ///
    /// `ss` hands the expression to the kernel as bytecode *and* checks it
    /// again in user space, where an address term ignores the address
    /// family (iproute2 `inet_addr_match` compares raw bytes, and a `/0`
    /// prefix matches anything). A row is shown only if both agree. This
    /// differs from [`Filter::matches`] only for an address term of one
    /// family under `not` and a socket of the other: `not src 0.0.0.0/0`
    /// lists no IPv6 socket in `ss`, though none has an IPv4 source, and
    /// `not src 0.0.0.0/8` hides `[::1]` (its first byte is 0).
    ///
    /// And `ss` ignores an empty state mask (`state established exclude
    /// established`), listing the states it lists without `-a` instead
    /// (established, syn-sent, fin-wait-1/2, close-wait, last-ack, closing),
    /// where [`Filter::matches`] selects nothing. Dump every state to see
    /// those.
    pub fn matches_like_ss<S: Socket + ?Sized>(&self, conn: &S) -> bool {
        let states = match self.states {
            Some(set) if set.is_empty() => [
                State::Listen,
                State::Closed,
                State::TimeWait,
                State::SynReceived,
            ]
            .into_iter()
            .fold(StateSet::ALL, StateSet::without),
            _ => self.leading_states(),
        };
        let sock = eval::Sock::of(conn);
        states.contains(conn.state())
            && self.expr.as_ref().is_none_or(|e| {
                eval::eval(e, &sock, eval::Mode::Kernel)
                    && eval::eval(e, &sock, eval::Mode::SsUserspace)
            })
    }

    /// The states a connection must be in to match: those the leading
    /// `state` and `exclude` words select (every state if there are none),
    /// narrowed by the `state` conditions of the expression where they
    /// decide the outcome (`sport = :22 and state established`). Every
    /// connection that matches is in one of these, so dump only these.
    pub fn states(&self) -> StateSet {
        let leading = self.leading_states();
        match &self.expr {
            None => leading,
            Some(expr) => leading.intersection(eval::possible_states(expr, true)),
        }
    }

    /// The states the leading words select, every state without them.
    fn leading_states(&self) -> StateSet {
        self.states.unwrap_or(StateSet::ALL)
    }

    /// The states the leading `state`/`exclude` words select, `None`
    /// without such words (a caller may then apply its own default, as `ss`
    /// lists only connected sockets without `-a`). `state` conditions
    /// inside the expression are not counted here; see [`Filter::states`].
    pub fn explicit_states(&self) -> Option<StateSet> {
        self.states
    }

    /// Whether the filter asks for listening sockets by name: a leading
    /// `state listening` (not a group such as `all` that holds it, and not
    /// taken back by a later `exclude`), or a `state listening` condition
    /// that is not negated. A caller that spares listeners unless asked
    /// (as `tcpdrop` does) uses this as the asking.
    pub fn names_listening(&self) -> bool {
        let leading = self.listening_named && self.leading_states().contains(State::Listen);
        let inner = self
            .expr
            .as_ref()
            .is_some_and(|e| eval::names_listening(e, true));
        (leading || inner) && self.states().contains(State::Listen)
    }

    /// Whether the filter has no words at all: it selects every connection.
    pub fn is_empty(&self) -> bool {
        self.states.is_none() && self.expr.is_none()
    }

    /// The ports the filter pins when its expression is nothing but port
    /// equalities joined by `and` (`dport = :443`, `sport = :22 and dport =
    /// :5000`): `(local, remote)`, 0 where it pins none. A dump can then ask
    /// the kernel for those ports alone (`idiag_sport`/`idiag_dport`), which
    /// it compares before it reads more of each socket, as a program would.
    /// The sockets asked for so are a superset of [`Filter::matches`] (the
    /// states are not in it). `None` for any other expression.
    pub fn ports(&self) -> Option<(u16, u16)> {
        fn pin(expr: &Expr, ports: &mut (u16, u16)) -> bool {
            match expr {
                Expr::Port {
                    end,
                    op: PortOp::Eq,
                    port: Some(port),
                } if *port != 0 => {
                    let slot = match end {
                        End::Src => &mut ports.0,
                        End::Dst => &mut ports.1,
                    };
                    if *slot != 0 && *slot != *port {
                        return false;
                    }
                    *slot = *port;
                    true
                }
                Expr::Seq(first, rest) => {
                    pin(first, ports)
                        && rest
                            .iter()
                            .all(|(op, e)| *op == BinOp::And && pin(e, ports))
                }
                _ => false,
            }
        }
        let mut ports = (0, 0);
        pin(self.expr.as_ref()?, &mut ports).then_some(ports)
    }

    /// The expression compiled to `inet_diag` bytecode, for the kernel to
    /// apply while it dumps (`None` when it has no expression, or the
    /// program would select everything or be too long). The program selects
    /// a superset of [`Filter::matches`] (exactly it when
    /// [`Bytecode::is_exact`]); with `swapped`, of the connections whose
    /// *other* end matches (`src` and `dst` exchanged). The states are not
    /// in it: dump [`Filter::states`].
    pub fn bytecode(&self, swapped: bool) -> Option<Bytecode> {
        let expr = self.expr.as_ref()?;
        if swapped {
            bytecode::compile_expr(&bytecode::swap_ends(expr))
        } else {
            bytecode::compile_expr(expr)
        }
    }

    /// One program that accepts the sockets this filter matches *or* whose
    /// reversed tuple it matches (their loopback peers, which a drop must
    /// watch): `a or b` as the kernel runs it, `a`, a jump over `b`, `b`.
    /// `None` when either side cannot be compiled.
    pub fn bytecode_with_peers(&self) -> Option<Vec<u8>> {
        let selection = self.bytecode(false)?;
        let peers = self.bytecode(true)?;
        let over = u16::try_from(peers.as_bytes().len().checked_add(4)?).ok()?;
        let mut either =
            Vec::with_capacity(selection.as_bytes().len() + 4 + peers.as_bytes().len());
        either.extend_from_slice(selection.as_bytes());
        // INET_DIAG_BC_JMP (1), yes = 4 (the next op), no = over `b`.
        either.extend_from_slice(&[1, 4]);
        either.extend_from_slice(&over.to_ne_bytes());
        either.extend_from_slice(peers.as_bytes());
        Some(either)
    }
}

/// The normalized filter, which parses back to the same filter: state
/// words first (`state NAME`... for the resulting set), then the expression
/// with `and`/`or`/`not`, spaces between tokens and parentheses only where
/// needed.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(states) = self.states {
            if states == StateSet::ALL && !self.listening_named {
                f.write_str("state all")?;
            } else if states == StateSet::ALL {
                f.write_str("state all state listening")?;
            } else if states.is_empty() {
                f.write_str("exclude all")?;
            } else if states.contains(State::Listen) && !self.listening_named {
                // Naming `listening` would ask for listeners; a group does not.
                f.write_str("state all")?;
                for state in State::ALL.into_iter().filter(|s| !states.contains(*s)) {
                    write!(f, " exclude {}", state_word(state))?;
                }
            } else {
                for state in states.iter() {
                    write!(f, "{sep}state {}", state_word(state))?;
                    sep = " ";
                }
            }
            sep = " ";
        }
        if let Some(expr) = &self.expr {
            // A leading `state` word would be read as one of the state words
            // that come first: group the expression to keep it a condition.
            if expr.starts_with_state_word() {
                write!(f, "{sep}({expr})")?;
            } else {
                write!(f, "{sep}{expr}")?;
            }
        }
        Ok(())
    }
}

/// The word `ss` reads after `state` for this set: a state's name, a
/// group's (`all`, `connected`, `synchronized`, `bucket`, `big`) or
/// `unknown` for none; `None` for a set no single word names.
fn set_word(set: StateSet) -> Option<&'static str> {
    if set.is_empty() {
        return Some("unknown");
    }
    let mut states = set.iter();
    if let (Some(state), None) = (states.next(), states.next()) {
        return Some(state_word(state));
    }
    ["all", "connected", "synchronized", "bucket", "big"]
        .into_iter()
        .find(|group| StateSet::from_name(group) == Some(set))
}

/// The name `ss` reads for a state after `state`.
fn state_word(state: State) -> &'static str {
    match state {
        State::Established => "established",
        State::SynSent => "syn-sent",
        State::SynReceived => "syn-recv",
        State::FinWait1 => "fin-wait-1",
        State::FinWait2 => "fin-wait-2",
        State::TimeWait => "time-wait",
        State::Closed => "closed",
        State::CloseWait => "close-wait",
        State::LastAck => "last-ack",
        State::Listen => "listening",
        State::Closing => "closing",
    }
}

/// Which end of a connection a term looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// `src`, `sport`: the local end.
    Src,
    /// `dst`, `dport`: the remote end.
    Dst,
}

/// A port comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// `and` or `or`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BinOp {
    And,
    Or,
}

/// An address prefix: the address bytes as the kernel keeps them (IPv4 in
/// the first four) and the prefix length in bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefix {
    v6: bool,
    bytes: [u8; 16],
    len: u8,
}

/// The expression. `and`/`or` chains are kept flat (`Seq`), so a long
/// chain costs no recursion; `Seq` never starts with a `Seq`, since `ss`
/// groups left to right.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expr {
    /// `src`/`dst`: an address prefix (`None`: any) and a port (`None`: any).
    Host {
        end: End,
        addr: Option<Prefix>,
        port: Option<u16>,
    },
    /// `sport`/`dport` compared with a port (`None`: `*`, any).
    Port {
        end: End,
        op: PortOp,
        port: Option<u16>,
    },
    /// `state NAME` (true when the connection's state is in the set) or
    /// `exclude NAME` (true when it is not), as a condition inside the
    /// expression; `word` is the name as [`fmt::Display`] writes it.
    State {
        exclude: bool,
        set: StateSet,
        word: &'static str,
    },
    Not(Box<Expr>),
    Seq(Box<Expr>, Vec<(BinOp, Expr)>),
}

impl Expr {
    /// Whether the expression's text starts with a `state`/`exclude` word,
    /// which at the start of a filter would be read as a leading state word.
    fn starts_with_state_word(&self) -> bool {
        match self {
            Expr::State { .. } => true,
            Expr::Seq(first, _) => first.starts_with_state_word(),
            _ => false,
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Host { end, addr, port } => {
                f.write_str(match end {
                    End::Src => "src ",
                    End::Dst => "dst ",
                })?;
                match addr {
                    None if port.is_none() => return f.write_str("*"),
                    None => f.write_str("*")?,
                    Some(p) => write!(f, "{p}")?,
                }
                match port {
                    Some(port) => write!(f, ":{port}"),
                    None => Ok(()),
                }
            }
            Expr::Port { end, op, port } => {
                f.write_str(match end {
                    End::Src => "sport ",
                    End::Dst => "dport ",
                })?;
                f.write_str(match op {
                    PortOp::Eq => "= ",
                    PortOp::Ne => "!= ",
                    PortOp::Lt => "< ",
                    PortOp::Gt => "> ",
                    PortOp::Le => "<= ",
                    PortOp::Ge => ">= ",
                })?;
                match port {
                    Some(port) => write!(f, ":{port}"),
                    None => f.write_str("*"),
                }
            }
            Expr::State { exclude, word, .. } => {
                let kw = if *exclude { "exclude" } else { "state" };
                write!(f, "{kw} {word}")
            }
            Expr::Not(inner) => match **inner {
                Expr::Seq(..) => write!(f, "not ({inner})"),
                _ => write!(f, "not {inner}"),
            },
            Expr::Seq(first, rest) => {
                write!(f, "{first}")?;
                for (op, e) in rest {
                    f.write_str(match op {
                        BinOp::And => " and ",
                        BinOp::Or => " or ",
                    })?;
                    match e {
                        Expr::Seq(..) => write!(f, "({e})")?,
                        _ => write!(f, "{e}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl Prefix {
    /// The prefix that holds `ip` alone (an IPv4-mapped IPv6 address as IPv4).
    fn host(ip: IpAddr) -> Prefix {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let mut bytes = [0u8; 16];
                for (slot, octet) in bytes.iter_mut().zip(v4.octets()) {
                    *slot = octet;
                }
                Prefix {
                    v6: false,
                    bytes,
                    len: 32,
                }
            }
            IpAddr::V6(v6) => Prefix {
                v6: true,
                bytes: v6.octets(),
                len: 128,
            },
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            let addr = std::net::Ipv6Addr::from(self.bytes);
            if self.len == 128 {
                write!(f, "[{addr}]")
            } else {
                write!(f, "[{addr}/{}]", self.len)
            }
        } else {
            let [a, b, c, d, ..] = self.bytes;
            let addr = std::net::Ipv4Addr::new(a, b, c, d);
            if self.len == 32 {
                write!(f, "{addr}")
            } else {
                write!(f, "{addr}/{}", self.len)
            }
        }
    }
}
