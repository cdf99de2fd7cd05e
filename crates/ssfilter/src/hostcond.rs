//! The words of a condition: `HOST` after `src`/`dst` and `PORT` after
//! `sport`/`dport`, read as iproute2's `misc/ss.c` `parse_hostcond` and
//! `lib/utils.c` (`get_prefix_1`, `get_addr_ipv4`, `get_netmask`) read
//! them, names looked up in [`crate::names`].

use std::net::Ipv6Addr;

use super::Prefix;
use crate::names::{self, HostAddrs, NameError, Names};

/// Why a port or host word was refused: a hint for an "expected ..."
/// message, or a name that is not known.
pub(super) enum Refusal {
    Hint(String),
    Name(NameError),
}

impl From<String> for Refusal {
    fn from(hint: String) -> Refusal {
        Refusal::Hint(hint)
    }
}

/// What a host word's address part named.
pub(super) enum HostAddr {
    /// Any address (`*`, `any`, nothing).
    Any,
    /// An address or prefix.
    Prefix(Prefix),
    /// A host name: every address it has.
    Named(HostAddrs),
}

/// `ss.c` `parse_hostcond` for an internet address: `ADDR[/LEN][:PORT]`,
/// `[ADDR[/LEN]][:PORT]`, `*[:PORT]`, `:PORT`, where `ADDR` may be a host
/// name and `PORT` a service name.
pub(super) fn host(word: &str, names: &Names) -> Result<(HostAddr, Option<u16>), Refusal> {
    for family in ["inet:", "inet6:", "unix:", "link:", "netlink:", "vsock:"] {
        if word.starts_with(family) {
            return Err(Refusal::Hint(format!(
                " (ss's '{family}' address prefix is not supported by tcpdrop)"
            )));
        }
    }
    let (addr, port) = if let Some(inner) = word.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(" (no ']' after '[')".to_string().into());
        };
        match after {
            "" => (addr, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (addr, Some(port)),
                None => return Err(" (expected ':PORT' after ']')".to_string().into()),
            },
        }
    } else if let Some(after) = word.strip_prefix('*') {
        match after {
            "" => ("", None),
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return Err(" (expected ':PORT' after '*')".to_string().into()),
            },
        }
    } else {
        // ss takes the last ':' (after the '/' if there is one) as the
        // port's, so a bare IPv6 address would lose its last group: ss
        // reads `fd00::1:80` as [fd00::1]:80 and rejects `::1`. Ask for
        // brackets instead of guessing.
        let slash = word.find('/');
        if slash.is_none() && word.matches(':').count() >= 2 {
            return Err(Refusal::Hint(format!(
                " (write an IPv6 address in brackets: '[{word}]', or '[ADDR]:PORT')"
            )));
        }
        let from = slash.unwrap_or(0);
        match word
            .get(from..)
            .and_then(|tail| tail.rfind(':'))
            .and_then(|i| i.checked_add(from))
        {
            Some(colon) => (
                word.get(..colon).unwrap_or_default(),
                word.get(colon.saturating_add(1)..),
            ),
            None => (word, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => port_spec(p, names)?,
    };
    let addr = match addr {
        "" | "*" => HostAddr::Any,
        a => match prefix(a)? {
            Some(p) => HostAddr::Prefix(p),
            None if matches!(a, "any" | "all" | "default") => HostAddr::Any,
            None => HostAddr::Named(names.host(a).map_err(Refusal::Name)?),
        },
    };
    Ok((addr, port))
}

/// A port: a number in C notation (`ss` reads it with `strtol(.., 0)`), a
/// TCP service name (`http`, as ss looks it up with getservbyname(3)), or
/// `*`/nothing for any port.
pub(super) fn port_spec(text: &str, names: &Names) -> Result<Option<u16>, Refusal> {
    if text.is_empty() || text == "*" {
        return Ok(None);
    }
    match c_number(text) {
        Some((n, used)) if used == text.len() => u16::try_from(n)
            .map(Some)
            .map_err(|_| " (a port is 0 to 65535)".to_string().into()),
        _ if names::is_service_name(text) => names.port(text).map(Some).map_err(Refusal::Name),
        _ => Err(String::new().into()),
    }
}

/// An address prefix, `None` for `any`/`all`/`default` and for a word that
/// may be a host name (`lib/utils.c` `get_prefix_1`).
fn prefix(text: &str) -> Result<Option<Prefix>, String> {
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    if matches!(addr, "any" | "all" | "default") {
        return match len {
            None => Ok(None),
            Some(_) => Err(format!(" ('{addr}' takes no prefix length)")),
        };
    }
    let (v6, bytes) = if addr.contains(':') {
        match addr.parse::<Ipv6Addr>() {
            Ok(a) => (true, a.octets()),
            Err(_) if addr.contains('%') => {
                return Err(" (ss takes no '%scope' on IPv6 addresses)".to_string())
            }
            Err(_) => return Err(String::new()),
        }
    } else {
        match ipv4_legacy(addr) {
            Some([a, b, c, d]) => (false, [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            None if names::is_host_name(addr) && len.is_some() => {
                return Err(format!(
                    " (a prefix length goes with an address, not a host name: '{addr}')"
                ))
            }
            None if names::is_host_name(addr) => return Ok(None),
            None => return Err(String::new()),
        }
    };
    let max: u8 = if v6 { 128 } else { 32 };
    let len = match len {
        None => max,
        Some(l) => match netmask(l) {
            Some(n) if n <= u32::from(max) => u8::try_from(n).unwrap_or(max),
            _ => return Err(format!(" (a prefix length is 0 to {max} or a netmask)")),
        },
    };
    Ok(Some(Prefix { v6, bytes, len }))
}

/// `lib/utils.c` `get_netmask`: a number in C notation, or a dotted
/// contiguous netmask.
fn netmask(text: &str) -> Option<u32> {
    match c_number(text) {
        Some((n, used)) if used == text.len() => u32::try_from(n).ok(),
        _ => {
            let mask = u32::from_be_bytes(ipv4_legacy(text)?);
            // Contiguous ones from the top: inverting gives 2^k - 1.
            let inv = !mask;
            (inv & inv.wrapping_add(1) == 0).then_some(mask.leading_ones())
        }
    }
}

/// `lib/utils.c` `get_addr_ipv4`: up to four dot-separated numbers in C
/// notation, missing ones zero (`10.8` is `10.8.0.0`, `10` is `10.0.0.0`).
fn ipv4_legacy(text: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut rest = text;
    for (i, slot) in out.iter_mut().enumerate() {
        let (n, used) = c_number(rest)?;
        *slot = u8::try_from(n).ok()?;
        let after = rest.get(used..)?;
        if after.is_empty() {
            return Some(out);
        }
        if i == 3 {
            return None;
        }
        rest = after.strip_prefix('.')?;
    }
    None
}

/// The number at the start of `text` as `strtoul(text, &end, 0)` reads it
/// (`0x` hex, leading `0` octal, else decimal; no sign, no blanks), and how
/// many bytes it took; `None` without digits. Saturates on overflow, which
/// every caller rejects as out of range.
fn c_number(text: &str) -> Option<(u64, usize)> {
    let bytes = text.as_bytes();
    let hex_digit = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
    let (radix, start) = match (bytes.first(), bytes.get(1)) {
        (Some(b'0'), Some(b'x' | b'X')) if hex_digit(2) => (16, 2),
        (Some(b'0'), _) => (8, 0),
        _ => (10, 0),
    };
    let mut value: u64 = 0;
    let mut used = start;
    while let Some(d) = bytes.get(used).and_then(|&b| char::from(b).to_digit(radix)) {
        value = value
            .saturating_mul(u64::from(radix))
            .saturating_add(u64::from(d));
        used = used.saturating_add(1);
    }
    (used > start).then_some((value, used))
}
