//! Evaluating a filter expression against one socket, as the kernel runs
//! `ss`'s bytecode (`net/ipv4/inet_diag.c`, `inet_diag_bc_run`), or as `ss`
//! re-checks it in user space (`misc/ss.c`, `run_ssfilter`).

use std::net::IpAddr;

use super::{BinOp, End, Expr, PortOp, Prefix};
use crate::{Socket, State, StateSet};

/// Whose semantics to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// The kernel's: an address term of one family never matches a socket
    /// of the other, except an IPv4 term on a v4-mapped IPv6 socket.
    Kernel,
    /// `ss`'s user-space check: prefixes are compared as raw bytes whatever
    /// the families, and a `/0` prefix matches anything.
    SsUserspace,
}

/// A socket as the kernel sees it: its family and its addresses in the
/// kernel's 16-byte form (IPv4 in the first four bytes of an `AF_INET`
/// socket, `::ffff:a.b.c.d` on an `AF_INET6` one).
pub(super) struct Sock {
    state: State,
    v6: bool,
    local: [u8; 16],
    remote: [u8; 16],
    lport: u16,
    rport: u16,
}

impl Sock {
    pub(super) fn of<S: Socket + ?Sized>(conn: &S) -> Sock {
        let v6 = conn.inet6();
        let (local, remote) = (conn.local(), conn.remote());
        Sock {
            state: conn.state(),
            v6,
            local: kernel_bytes(local.ip(), v6),
            remote: kernel_bytes(remote.ip(), v6),
            lport: local.port(),
            rport: remote.port(),
        }
    }
}

fn kernel_bytes(ip: IpAddr, v6: bool) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) if v6 => v4.to_ipv6_mapped().octets(),
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Whether `expr` holds for `sock`.
pub(super) fn eval(expr: &Expr, sock: &Sock, mode: Mode) -> bool {
    match expr {
        Expr::Host { end, addr, port } => {
            let (have_addr, have_port) = match end {
                End::Src => (&sock.local, sock.lport),
                End::Dst => (&sock.remote, sock.rport),
            };
            if port.is_some_and(|p| p != have_port) {
                return false;
            }
            match addr {
                None => true,
                Some(prefix) => match mode {
                    Mode::Kernel => kernel_addr_match(prefix, sock.v6, have_addr),
                    Mode::SsUserspace => ss_addr_match(prefix, sock.v6, have_addr),
                },
            }
        }
        Expr::Port { end, op, port } => {
            let have = match end {
                End::Src => sock.lport,
                End::Dst => sock.rport,
            };
            // `*` is ss's port -1: equal to any port, below every port.
            let want = port.map_or(-1, i32::from);
            let have = i32::from(have);
            match op {
                PortOp::Eq => port.is_none_or(|p| i32::from(p) == have),
                PortOp::Ne => !port.is_none_or(|p| i32::from(p) == have),
                PortOp::Le => have <= want,
                PortOp::Ge => have >= want,
                PortOp::Lt => have < want,
                PortOp::Gt => have > want,
            }
        }
        Expr::State { exclude, set, .. } => set.contains(sock.state) != *exclude,
        Expr::Not(inner) => !eval(inner, sock, mode),
        Expr::Seq(first, rest) => {
            rest.iter()
                .fold(eval(first, sock, mode), |acc, (op, e)| match op {
                    BinOp::And => acc && eval(e, sock, mode),
                    BinOp::Or => acc || eval(e, sock, mode),
                })
        }
    }
}

/// The states in which `expr` can be `want` (true or false): exact for the
/// `state` conditions, every state for an address or port term, whose
/// outcome does not depend on the state. A superset of the truth, so a dump
/// narrowed to it misses nothing.
pub(super) fn possible_states(expr: &Expr, want: bool) -> StateSet {
    match expr {
        Expr::Host { .. } | Expr::Port { .. } => StateSet::ALL,
        Expr::State { exclude, set, .. } => {
            if *exclude != want {
                *set
            } else {
                complement(*set)
            }
        }
        Expr::Not(inner) => possible_states(inner, !want),
        Expr::Seq(first, rest) => {
            rest.iter()
                .fold(possible_states(first, want), |acc, (op, e)| {
                    let next = possible_states(e, want);
                    // `a and b` is true only where both can be, false where
                    // either can be; `or` the other way round.
                    match (op, want) {
                        (BinOp::And, true) | (BinOp::Or, false) => acc.intersection(next),
                        (BinOp::And, false) | (BinOp::Or, true) => acc.union(next),
                    }
                })
        }
    }
}

/// Whether `expr` holds a `state listening` condition that is not negated
/// (`positive`: under an even number of `not`s).
pub(super) fn names_listening(expr: &Expr, positive: bool) -> bool {
    match expr {
        Expr::Host { .. } | Expr::Port { .. } => false,
        Expr::State { exclude, set, .. } => {
            positive != *exclude && *set == StateSet::only(State::Listen)
        }
        Expr::Not(inner) => names_listening(inner, !positive),
        Expr::Seq(first, rest) => {
            names_listening(first, positive)
                || rest.iter().any(|(_, e)| names_listening(e, positive))
        }
    }
}

/// Every state not in `set`.
fn complement(set: StateSet) -> StateSet {
    set.iter().fold(StateSet::ALL, StateSet::without)
}

/// `INET_DIAG_BC_S_COND`/`D_COND`: the families must agree, but an IPv4
/// prefix also matches the IPv4 address inside a v4-mapped IPv6 socket.
fn kernel_addr_match(prefix: &Prefix, sock_v6: bool, addr: &[u8; 16]) -> bool {
    if prefix.v6 != sock_v6 {
        return sock_v6
            && mapped_v4(addr).is_some_and(|v4| bits_match(v4, &prefix.bytes, prefix.len));
    }
    bits_match(addr, &prefix.bytes, prefix.len)
}

/// `ss`'s `inet2_addr_match`: raw bytes first, whatever the families; then
/// an IPv4 prefix against the IPv4 address inside a v4-mapped one.
fn ss_addr_match(prefix: &Prefix, sock_v6: bool, addr: &[u8; 16]) -> bool {
    bits_match(addr, &prefix.bytes, prefix.len)
        || (!prefix.v6
            && sock_v6
            && mapped_v4(addr).is_some_and(|v4| bits_match(v4, &prefix.bytes, prefix.len)))
}

/// The IPv4 address of a v4-mapped IPv6 address (`::ffff:a.b.c.d`).
fn mapped_v4(addr: &[u8; 16]) -> Option<&[u8]> {
    let (head, v4) = addr.split_at(12);
    (head == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]).then_some(v4)
}

/// Whether the first `bits` bits of `a` and `b` agree (bits past the end of
/// either never do, unless `bits` stops before).
fn bits_match(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    let rest = bits % 8;
    match (a.get(..whole), b.get(..whole)) {
        (Some(x), Some(y)) if x == y => {}
        _ => return false,
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(whole), b.get(whole)) {
        (Some(x), Some(y)) => (x ^ y) & mask == 0,
        _ => false,
    }
}
