//! Compiling a filter expression to `inet_diag` bytecode
//! (`INET_DIAG_REQ_BYTECODE`), so the kernel leaves out the sockets that
//! cannot match and they never cross into user space.
//!
//! The machine is the kernel's `inet_diag_bc_run` (`net/ipv4/inet_diag.c`):
//! a program is a list of `struct inet_diag_bc_op { u8 code; u8 yes; u16 no; }`,
//! each followed by its operand; after an op the program moves on by `yes`
//! bytes if the condition held and by `no` bytes if not. A socket matches
//! when the program runs off its end exactly, and fails when it jumps past
//! it. `inet_diag_bc_audit` refuses (`EINVAL`) a program whose jumps are
//! not multiples of four, shorter than their op, beyond the end + 4, or
//! into the middle of an op.
//!
//! Every block compiled here keeps one convention, the one of iproute2's
//! `ssfilter_bytecompile`: true falls off the block's end, false jumps to
//! its end + 4. Then `a and b` is `a` (its false jumps moved to the new
//! end + 4) followed by `b`; `a or b` is `a`, a jump over `b`, `b` (a's
//! false lands on `b`); `not a` is `a` followed by a jump to end + 4.
//!
//! The kernel has no condition on the state, so a `state` term inside an
//! expression is compiled as a bound: "true" where a superset is wanted,
//! "false" where a subset is (under `not` the two swap). The program is then
//! a superset of the filter ([`Bytecode::is_exact`] says whether it is the
//! filter itself), and the rows it lets through must still be checked with
//! [`Filter::matches`](super::Filter::matches), the reference.

use super::{BinOp, End, Expr, PortOp, Prefix};

const NOP: u8 = 0;
const JMP: u8 = 1;
const S_GE: u8 = 2;
const S_LE: u8 = 3;
const D_GE: u8 = 4;
const D_LE: u8 = 5;
const S_COND: u8 = 7;
const D_COND: u8 = 8;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// The longest program sent: a jump offset is 16 bits, and the attribute's
/// length too.
const MAX_LEN: usize = 60_000;

/// An `inet_diag` filter program compiled from a [`Filter`](super::Filter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bytecode {
    bytes: Vec<u8>,
    exact: bool,
}

impl Bytecode {
    /// The program, as the `INET_DIAG_REQ_BYTECODE` attribute carries it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the program selects exactly what the expression does. When
    /// not (the expression has `state` conditions), it selects a superset.
    pub fn is_exact(&self) -> bool {
        self.exact
    }
}

/// One compiled block: the ops, with jumps relative to each op's start.
#[derive(Clone, Debug)]
struct Block {
    code: Vec<u8>,
}

impl Block {
    fn truth() -> Block {
        Block { code: Vec::new() }
    }

    /// A block that is always false: a jump to its end + 4.
    fn falsity() -> Block {
        let mut code = Vec::new();
        op(&mut code, JMP, 4, 8);
        Block { code }
    }

    fn len(&self) -> usize {
        self.code.len()
    }

    /// Move every jump that lands on this block's end + 4 (false) by `by`
    /// bytes, for a block that is no longer last.
    fn relocate_false(&mut self, by: usize) -> Option<()> {
        let fail = self.len() + 4;
        let mut at = 0;
        while at < self.len() {
            let code = *self.code.get(at)?;
            let size = op_size(code, self.code.get(at + 4).copied());
            // inet_diag_bc_op: `yes` is the u8 at +1, `no` the u16 at +2.
            for (field, width) in [(1usize, 1usize), (2, 2)] {
                let pos = at.checked_add(field)?;
                let value = if width == 1 {
                    usize::from(*self.code.get(pos)?)
                } else {
                    usize::from(u16::from_ne_bytes(
                        self.code.get(pos..pos.checked_add(2)?)?.try_into().ok()?,
                    ))
                };
                if at.checked_add(value)? == fail {
                    let moved = value.checked_add(by)?;
                    if width == 1 {
                        *self.code.get_mut(pos)? = u8::try_from(moved).ok()?;
                    } else {
                        let bytes = u16::try_from(moved).ok()?.to_ne_bytes();
                        self.code
                            .get_mut(pos..pos.checked_add(2)?)?
                            .copy_from_slice(&bytes);
                    }
                }
            }
            at += size;
        }
        Some(())
    }

    fn and(mut self, other: Block) -> Option<Block> {
        self.relocate_false(other.len())?;
        self.code.extend_from_slice(&other.code);
        Some(self)
    }

    fn or(mut self, other: Block) -> Option<Block> {
        // a's false lands on its end + 4: right after the jump, on b.
        let over = u16::try_from(other.len() + 4).ok()?;
        op(&mut self.code, JMP, 4, over);
        self.code.extend_from_slice(&other.code);
        Some(self)
    }

    fn not(mut self) -> Block {
        // a true falls onto the jump, which goes to the new end + 4; a
        // false already lands on the new end.
        op(&mut self.code, JMP, 4, 8);
        self
    }
}

/// The size of the op starting with `code`; a host condition's depends on
/// its family, the byte after the op header.
fn op_size(code: u8, family: Option<u8>) -> usize {
    match code {
        S_GE | S_LE | D_GE | D_LE => 8,
        S_COND | D_COND => {
            8 + match family {
                Some(AF_INET) => 4,
                Some(AF_INET6) => 16,
                _ => 0,
            } + 4
        }
        _ => 4,
    }
}

fn op(out: &mut Vec<u8>, code: u8, yes: u8, no: u16) {
    out.push(code);
    out.push(yes);
    out.extend_from_slice(&no.to_ne_bytes());
}

/// A port comparison: `code` (S_GE ...) and the port in a second op's `no`.
fn port_cmp(code: u8, port: u16) -> Block {
    let mut code_bytes = Vec::with_capacity(8);
    // False jumps to the block's end (8) + 4.
    op(&mut code_bytes, code, 8, 12);
    op(&mut code_bytes, NOP, 0, port);
    Block { code: code_bytes }
}

/// `struct inet_diag_hostcond { u8 family; u8 prefix_len; int port; be32 addr[]; }`
/// after its op: a prefix (or any address) and a port (or -1, any).
fn host_cond(end: End, prefix: Option<&Prefix>, port: Option<u16>) -> Block {
    let (family, len, addr): (u8, u8, &[u8]) = match prefix {
        None => (AF_UNSPEC, 0, &[]),
        Some(p) if p.v6 => (AF_INET6, p.len, &p.bytes[..]),
        Some(p) => (AF_INET, p.len, &p.bytes[..4]),
    };
    let size = 4 + 8 + addr.len();
    let code = match end {
        End::Src => S_COND,
        End::Dst => D_COND,
    };
    let mut out = Vec::with_capacity(size);
    op(&mut out, code, size as u8, (size + 4) as u16);
    out.push(family);
    out.push(len);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&port.map_or(-1i32, i32::from).to_ne_bytes());
    out.extend_from_slice(addr);
    Block { code: out }
}

fn port_term(end: End, op: PortOp, port: Option<u16>) -> Option<Block> {
    let (ge, le) = match end {
        End::Src => (S_GE, S_LE),
        End::Dst => (D_GE, D_LE),
    };
    // `*` is ss's port -1: equal to every port, below every port.
    let Some(p) = port else {
        return Some(match op {
            PortOp::Eq | PortOp::Ge | PortOp::Gt => Block::truth(),
            PortOp::Ne | PortOp::Le | PortOp::Lt => Block::falsity(),
        });
    };
    Some(match op {
        PortOp::Eq => port_cmp(ge, p).and(port_cmp(le, p))?,
        PortOp::Ne => port_cmp(ge, p).and(port_cmp(le, p))?.not(),
        PortOp::Ge => port_cmp(ge, p),
        PortOp::Le => port_cmp(le, p),
        PortOp::Gt => match p.checked_add(1) {
            Some(q) => port_cmp(ge, q),
            None => Block::falsity(),
        },
        PortOp::Lt => match p.checked_sub(1) {
            Some(q) => port_cmp(le, q),
            None => Block::falsity(),
        },
    })
}

/// Compile `expr` as a superset (`upper`) or a subset (`!upper`) of itself;
/// `exact` is cleared when a bound had to stand in for a term.
fn compile(expr: &Expr, upper: bool, exact: &mut bool) -> Option<Block> {
    let block = match expr {
        Expr::Host { end, addr, port } => {
            if addr.is_none() && port.is_none() {
                Block::truth()
            } else {
                host_cond(*end, addr.as_ref(), *port)
            }
        }
        Expr::Port { end, op, port } => port_term(*end, *op, *port)?,
        Expr::State { .. } => {
            *exact = false;
            if upper {
                Block::truth()
            } else {
                Block::falsity()
            }
        }
        Expr::Not(inner) => compile(inner, !upper, exact)?.not(),
        Expr::Seq(first, rest) => {
            let mut acc = compile(first, upper, exact)?;
            for (op, e) in rest {
                let next = compile(e, upper, exact)?;
                acc = match op {
                    BinOp::And => acc.and(next)?,
                    BinOp::Or => acc.or(next)?,
                };
                if acc.len() > MAX_LEN {
                    return None;
                }
            }
            acc
        }
    };
    (block.len() <= MAX_LEN).then_some(block)
}

/// The program for `expr`, a superset of it; `None` when it would select
/// everything anyway (no program is then better than one) or is too long.
pub(super) fn compile_expr(expr: &Expr) -> Option<Bytecode> {
    let mut exact = true;
    let block = compile(expr, true, &mut exact)?;
    if block.len() == 0 {
        return None;
    }
    Some(Bytecode {
        bytes: block.code,
        exact,
    })
}

/// `expr` with `src` and `dst` swapped: what the other end of a matching
/// connection matches.
pub(super) fn swap_ends(expr: &Expr) -> Expr {
    let swap = |end: &End| match end {
        End::Src => End::Dst,
        End::Dst => End::Src,
    };
    match expr {
        Expr::Host { end, addr, port } => Expr::Host {
            end: swap(end),
            addr: *addr,
            port: *port,
        },
        Expr::Port { end, op, port } => Expr::Port {
            end: swap(end),
            op: *op,
            port: *port,
        },
        Expr::State { .. } => expr.clone(),
        Expr::Not(inner) => Expr::Not(Box::new(swap_ends(inner))),
        Expr::Seq(first, rest) => Expr::Seq(
            Box::new(swap_ends(first)),
            rest.iter().map(|(op, e)| (*op, swap_ends(e))).collect(),
        ),
    }
}

/// Check a program the way `inet_diag_bc_audit` does, so a bug here shows
/// in a unit test rather than as `EINVAL` from the kernel.
#[cfg(test)]
pub(super) fn audit(code: &[u8]) -> Result<(), String> {
    if code.len() < 4 {
        return Err("shorter than one op".into());
    }
    let total = code.len();
    // Op starts along the "yes" chain, as valid_cc walks it.
    let mut starts = Vec::new();
    let mut at = 0usize;
    while at < total {
        starts.push(at);
        let len = total - at;
        let c = code[at];
        let yes = usize::from(code[at + 1]);
        let no = usize::from(u16::from_ne_bytes([code[at + 2], code[at + 3]]));
        let min = match c {
            S_COND | D_COND => {
                let family = *code.get(at + 4).ok_or("hostcond cut off")?;
                let prefix = *code.get(at + 5).ok_or("hostcond cut off")?;
                let addr = match family {
                    AF_UNSPEC => 0,
                    AF_INET => 4,
                    AF_INET6 => 16,
                    f => return Err(format!("family {f}")),
                };
                if usize::from(prefix) > 8 * addr {
                    return Err("prefix longer than address".into());
                }
                4 + 8 + addr
            }
            S_GE | S_LE | D_GE | D_LE => 8,
            NOP | JMP => 4,
            other => return Err(format!("code {other}")),
        };
        if min > len {
            return Err(format!("op at {at} cut off"));
        }
        if c != NOP && (no < min || no > len + 4 || no % 4 != 0) {
            return Err(format!("bad no {no} at {at}"));
        }
        if yes < min || yes > len + 4 || yes % 4 != 0 {
            return Err(format!("bad yes {yes} at {at}"));
        }
        at += yes;
    }
    if at != total {
        return Err("yes chain does not end at the end".into());
    }
    // Every jump inside the program lands on an op start.
    for &s in &starts {
        let c = code[s];
        let no = usize::from(u16::from_ne_bytes([code[s + 2], code[s + 3]]));
        if c != NOP && s + no < total && !starts.contains(&(s + no)) {
            return Err(format!("jump from {s} into an op"));
        }
    }
    Ok(())
}

/// Run a program as `inet_diag_bc_run` does, on a socket given by its
/// family, addresses (kernel 16-byte form) and ports.
#[cfg(test)]
pub(super) fn run(code: &[u8], v6: bool, src: &[u8; 16], dst: &[u8; 16], sp: u16, dp: u16) -> bool {
    let mut at: isize = 0;
    let total = code.len() as isize;
    while at < total {
        let i = at as usize;
        let c = code[i];
        let yes_off = isize::from(code[i + 1]);
        let no_off =
            isize::from(u16::from_ne_bytes([code[i + 2], code[i + 3]]) as i16).rem_euclid(1 << 16);
        let operand = || u16::from_ne_bytes([code[i + 6], code[i + 7]]);
        let yes = match c {
            NOP => true,
            JMP => false,
            S_GE => sp >= operand(),
            S_LE => sp <= operand(),
            D_GE => dp >= operand(),
            D_LE => dp <= operand(),
            S_COND | D_COND => {
                let family = code[i + 4];
                let plen = code[i + 5];
                let port =
                    i32::from_ne_bytes([code[i + 8], code[i + 9], code[i + 10], code[i + 11]]);
                let (addr, have_port) = if c == S_COND { (src, sp) } else { (dst, dp) };
                let want = &code[i + 12..];
                let sock_family = if v6 { AF_INET6 } else { AF_INET };
                if port != -1 && port != i32::from(have_port) {
                    false
                } else if family != AF_UNSPEC && family != sock_family {
                    sock_family == AF_INET6
                        && family == AF_INET
                        && addr[..12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
                        && prefix_match(&addr[12..], want, plen)
                } else {
                    plen == 0 || prefix_match(addr, want, plen)
                }
            }
            _ => false,
        };
        at += if yes { yes_off } else { no_off };
    }
    at == total
}

#[cfg(test)]
fn prefix_match(a: &[u8], b: &[u8], bits: u8) -> bool {
    let whole = usize::from(bits / 8);
    if a.get(..whole) != b.get(..whole) {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        (a[whole] ^ b[whole]) & mask == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Filter, Row};

    /// Filters with every kind of term, nesting and edge (port 0, 65535, `*`,
    /// /0 and odd prefixes, both families).
    const FILTERS: &[&str] = &[
        "dport = :5000",
        "dport >= :5000 and dport <= :5099",
        "sport != :22",
        "sport < :1024 or dport > :1023",
        "dport < :0",
        "dport > :65535",
        "sport > :65534",
        "dport = *",
        "dport != *",
        "src 127.0.0.1",
        "src 127.0.0.0/8 and not dst 127.0.0.2",
        "dst 10.1.0.0/15:80",
        "src [::1]",
        "dst [::ffff:127.0.0.1]",
        "src [fe80::/10] or src 0.0.0.0/0",
        "not src 0.0.0.0/0",
        "src *:443",
        "dst *",
        "not ( dport = :80 or dport = :443 ) and src 127.0.0.0/9",
        "( sport = :1 or sport = :2 ) and ( dport = :3 or not dport = :4 )",
        "not not not dport = :7",
        "src 127.0.0.1:5000 or dst 127.0.0.1:5000 or sport = :6000",
        "dport = :443 or ( src 127.0.0.0/8 and state established )",
        "not ( state established and dport = :80 )",
        "dport = :1 or exclude listening",
    ];

    fn connection(v6: bool, src: [u8; 16], dst: [u8; 16], sp: u16, dp: u16) -> Row {
        let msg = sockdiag::InetDiagMsg {
            family: if v6 {
                sockdiag::Family::Inet6
            } else {
                sockdiag::Family::Inet
            },
            state: sockdiag::TcpState::Established,
            timer: 0,
            retrans: 0,
            id: sockdiag::SockId {
                sport: sp,
                dport: dp,
                src,
                dst,
                ifindex: 0,
                cookie: 1,
            },
            expires: 0,
            rqueue: 0,
            wqueue: 0,
            uid: 0,
            inode: 0,
            shutdown: None,
            v6only: None,
            tcp_info: None,
        };
        Row::from_diag(&msg).expect("an established row")
    }

    /// A socket for [`run`]: IPv6?, source, destination, ports.
    type RawSock = (bool, [u8; 16], [u8; 16], u16, u16);

    fn sockets() -> Vec<RawSock> {
        let v4 = |a: [u8; 4]| {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a);
            b
        };
        let mapped = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets();
        let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let addrs: Vec<(bool, [u8; 16])> = vec![
            (false, v4([127, 0, 0, 1])),
            (false, v4([127, 0, 0, 2])),
            (false, v4([10, 0, 0, 1])),
            (false, v4([10, 1, 2, 3])),
            (false, v4([0, 0, 0, 0])),
            (true, mapped([127, 0, 0, 1])),
            (true, mapped([10, 1, 0, 9])),
            (true, v6("::1")),
            (true, v6("fe80::1")),
            (true, v6("::")),
        ];
        let ports = [
            0u16, 1, 2, 3, 4, 7, 22, 80, 443, 1023, 1024, 4999, 5000, 5099, 5100, 6000, 65534,
            65535,
        ];
        let mut out = Vec::new();
        for (i, &(fam, a)) in addrs.iter().enumerate() {
            for &(fam2, b) in addrs.iter().skip(i % 3) {
                if fam != fam2 {
                    continue;
                }
                for (j, &p) in ports.iter().enumerate() {
                    let q = ports[(j * 7 + i) % ports.len()];
                    out.push((fam, a, b, p, q));
                }
            }
        }
        out
    }

    #[test]
    fn programs_pass_the_kernel_audit_and_agree_with_the_evaluator() {
        for text in FILTERS {
            let words: Vec<&str> = text.split(' ').collect();
            let filter = Filter::parse(&words).unwrap_or_else(|e| panic!("{text}: {e}"));
            let expr = filter.expr.as_ref().expect("an expression");
            let Some(program) = compile_expr(expr) else {
                assert!(matches!(*text, "dport = *" | "dst *"), "{text}: no program");
                continue;
            };
            audit(program.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
            let has_state = text.contains("state") || text.contains("exclude");
            assert_eq!(program.is_exact(), !has_state, "{text}");
            for (v6, src, dst, sp, dp) in sockets() {
                let want = filter.matches(&connection(v6, src, dst, sp, dp));
                let got = run(program.as_bytes(), v6, &src, &dst, sp, dp);
                if program.is_exact() {
                    assert_eq!(got, want, "{text} on {v6} {src:?}:{sp} {dst:?}:{dp}");
                } else {
                    assert!(
                        got || !want,
                        "{text}: not a superset on {src:?}:{sp} {dst:?}:{dp}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_program_too_long_for_16_bit_jumps_is_not_made() {
        let words: Vec<String> = (0..7000)
            .flat_map(|i| ["or".to_string(), format!("sport = :{i}")])
            .skip(1)
            .collect();
        let filter = Filter::parse(&words).unwrap();
        assert_eq!(compile_expr(filter.expr.as_ref().unwrap()), None);
    }
}
