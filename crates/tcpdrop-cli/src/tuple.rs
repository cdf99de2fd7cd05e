//! The connection a user names on the command line: BSD tcpdrop's four
//! words, or two `ADDR:PORT` words.

use std::net::IpAddr;

use tcpdrop::canonical_ip;

/// One end of a connection as typed, its `%scope` not yet looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The address (an IPv4-mapped IPv6 address is stored as IPv4).
    pub ip: IpAddr,
    /// The port.
    pub port: u16,
    /// The `%scope` suffix of an IPv6 address: an interface name or number.
    pub scope: Option<String>,
}

/// Words that start a filter expression rather than a connection.
const FILTER_WORDS: &[&str] = &[
    "src",
    "dst",
    "sport",
    "dport",
    "state",
    "exclude",
    "not",
    "!",
    "(",
    "and",
    "or",
    "autobound",
];

/// Whether the positional words are a filter expression (`dport = :443`,
/// `( src ... )`) rather than a connection.
pub fn is_filter(args: &[String]) -> bool {
    args.first().is_some_and(|first| {
        let word = first.split_whitespace().next().unwrap_or("");
        FILTER_WORDS
            .iter()
            .any(|w| word == *w || word.starts_with(&format!("{w}=")))
            || word.starts_with('(')
            || word.starts_with('!')
    })
}

/// Read `LADDR LPORT RADDR RPORT` or `LADDR:LPORT RADDR:RPORT`.
pub fn parse(args: &[String]) -> Result<(Endpoint, Endpoint), String> {
    let (local, remote) = match args {
        [l, r] if joined(l, "LADDR:LPORT").is_ok() || address(l).is_err() => {
            (joined(l, "LADDR:LPORT")?, joined(r, "RADDR:RPORT")?)
        }
        [la, lp, ra, rp] => (separate(la, lp)?, separate(ra, rp)?),
        [one, two] if port_number(two).is_err() => {
            return Err(format!(
                "'{one}' has no port: write IPv6 as [ADDR]:PORT, or give LADDR LPORT RADDR RPORT"
            ))
        }
        [one] | [one, _] | [one, _, _] => {
            // Say what was wrong with the words themselves first, if anything.
            if joined(one, "LADDR:LPORT").is_err() {
                address(one)?;
            }
            return Err(format!(
                "half a connection ({} word{}): give LADDR LPORT RADDR RPORT or LADDR:LPORT RADDR:RPORT",
                args.len(),
                if args.len() == 1 { "" } else { "s" }
            ));
        }
        _ => {
            return Err(format!(
                "{} words do not name a connection: give LADDR LPORT RADDR RPORT or LADDR:LPORT RADDR:RPORT",
                args.len()
            ))
        }
    };
    if local.ip.is_ipv4() != remote.ip.is_ipv4() {
        return Err(format!(
            "mixed address families: the local address {} is {} and the remote {} is {}",
            local.ip,
            family_name(&local.ip),
            remote.ip,
            family_name(&remote.ip)
        ));
    }
    Ok((local, remote))
}

/// How many malformed lines of a `-f` file are named before the rest are
/// only counted.
const MAX_BAD_LINES: usize = 10;

/// The connections named in `path` (`-` for standard input), one per line
/// in either form; blank lines and `#` comments are skipped. Every line is
/// checked before anything is dropped: the error names each malformed line
/// (the first ten) with its number.
pub fn read_file(path: &str) -> Result<Vec<(Endpoint, Endpoint)>, String> {
    use std::io::Read;
    let mut text = Vec::new();
    let read = if path == "-" {
        std::io::stdin().lock().read_to_end(&mut text)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut text))
    };
    let shown = if path == "-" { "standard input" } else { path };
    read.map_err(|err| format!("-f {shown}: {err}"))?;
    let text = String::from_utf8_lossy(&text);
    let mut tuples = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut bad_count = 0usize;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        match parse(&words) {
            Ok(tuple) => tuples.push(tuple),
            Err(err) => {
                bad_count += 1;
                if bad.len() < MAX_BAD_LINES {
                    bad.push(format!("line {}: {err}", number + 1));
                }
            }
        }
    }
    if bad_count > 0 {
        let more = bad_count - bad.len();
        let tail = if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        };
        return Err(format!(
            "-f {shown}: {bad_count} malformed line{} ({}{tail}); nothing was dropped",
            if bad_count == 1 { "" } else { "s" },
            bad.join("; ")
        ));
    }
    if tuples.is_empty() {
        return Err(format!("-f {shown}: no connection in it: nothing to drop"));
    }
    Ok(tuples)
}

fn family_name(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// `ADDR:PORT`, `[ADDR]:PORT` or `[ADDR%SCOPE]:PORT`.
fn joined(word: &str, what: &str) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = word.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{word}': missing ']' (write IPv6 as [ADDR]:PORT)"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("'{word}': expected ':PORT' after ']' ({what})"))?;
        (host, port)
    } else {
        let (host, port) = word
            .rsplit_once(':')
            .ok_or_else(|| format!("'{word}': expected {what}"))?;
        if host.contains(':') {
            return Err(format!(
                "'{word}': write an IPv6 address in brackets, as [ADDR]:PORT"
            ));
        }
        (host, port)
    };
    let mut end = address(host)?;
    end.port = port_number(port)?;
    Ok(end)
}

/// `ADDR` (or `[ADDR]`, `ADDR%SCOPE`) and `PORT` as two words.
fn separate(addr: &str, port: &str) -> Result<Endpoint, String> {
    let bare = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let mut end = address(bare)?;
    end.port = port_number(port)?;
    Ok(end)
}

fn address(text: &str) -> Result<Endpoint, String> {
    let (host, scope) = match text.split_once('%') {
        Some((host, scope)) => (host, Some(scope.to_string())),
        None => (text, None),
    };
    let ip: IpAddr = host.parse().map_err(|_| {
        format!("'{text}' is not an IP address (names are not resolved: give a numeric address)")
    })?;
    let ip = canonical_ip(ip);
    if let Some(scope) = &scope {
        if scope.is_empty() {
            return Err(format!(
                "'{text}': empty %scope (give an interface name or number)"
            ));
        }
        if ip.is_ipv4() {
            return Err(format!("'{text}': a %scope belongs to IPv6 addresses only"));
        }
    }
    Ok(Endpoint { ip, port: 0, scope })
}

fn port_number(text: &str) -> Result<u16, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{text}' is not a port number (0-65535)"));
    }
    // `080` is not 80 to every reader: ss's filters read it as octal (and
    // refuse it), so one rule for both forms: no leading zeros.
    if text.len() > 1 && text.starts_with('0') {
        let plain = text.trim_start_matches('0');
        let plain = if plain.is_empty() { "0" } else { plain };
        return Err(format!(
            "port '{text}' has a leading zero: write it as {plain} (ports are decimal here, \
             and ss's filters would read it as octal)"
        ));
    }
    text.parse::<u16>()
        .map_err(|_| format!("port {text} is out of range (0-65535)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn both_forms_give_the_same_tuple() {
        let four = parse(&words("10.0.0.1 80 10.0.0.2 5000")).unwrap();
        let two = parse(&words("10.0.0.1:80 10.0.0.2:5000")).unwrap();
        assert_eq!(four, two);
        assert_eq!(four.0.port, 80);
    }

    #[test]
    fn ipv6_with_brackets_and_scope() {
        let (l, r) = parse(&words("[fe80::1%lo]:80 [fe80::2%lo]:9")).unwrap();
        assert_eq!(l.scope.as_deref(), Some("lo"));
        assert_eq!(r.port, 9);
        let (l, _) = parse(&words("fe80::1%2 80 fe80::2%2 9")).unwrap();
        assert_eq!(l.scope.as_deref(), Some("2"));
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        let (l, _) = parse(&words("[::ffff:127.0.0.1]:80 127.0.0.1:9")).unwrap();
        assert!(l.ip.is_ipv4());
    }

    #[test]
    fn bad_input_is_named() {
        let cases = [
            (
                "10.0.0.1 80 10.0.0.999 5000",
                "'10.0.0.999' is not an IP address",
            ),
            ("10.0.0.1 70000 10.0.0.2 5000", "port 70000 is out of range"),
            ("10.0.0.1 http 10.0.0.2 5000", "'http' is not a port number"),
            ("10.0.0.1 80", "half a connection"),
            ("10.0.0.1:80", "half a connection"),
            ("10.0.0.1:80 [::1]:5000", "mixed address families"),
            ("::1:80 ::1:90", "has no port: write IPv6 as [ADDR]:PORT"),
            ("10.0.0.1:80:90 10.0.0.2:5", "in brackets"),
            ("10.0.0.1%lo 80 10.0.0.2 9", "IPv6 addresses only"),
            ("example.com 80 10.0.0.2 9", "not an IP address"),
            ("1 2 3 4 5", "5 words"),
            (
                "10.0.0.1 080 10.0.0.2 5000",
                "port '080' has a leading zero: write it as 80",
            ),
            (
                "10.0.0.1:80 10.0.0.2:00",
                "port '00' has a leading zero: write it as 0",
            ),
        ];
        for (input, want) in cases {
            let err = parse(&words(input)).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn filters_are_told_apart() {
        assert!(is_filter(&words("dport = :443")));
        assert!(is_filter(&words("( src 10.0.0.0/8 )")));
        assert!(is_filter(&["dport=:443".to_string()]));
        assert!(!is_filter(&words("10.0.0.1 80 10.0.0.2 9")));
    }
}
