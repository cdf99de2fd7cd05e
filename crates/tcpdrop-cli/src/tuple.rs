//! The connection a user names on the command line: BSD tcpdrop's four
//! words, or two `ADDR:PORT` words (or `ADDR.PORT`, as BSD netstat prints
//! them). An address may be a host name and a port a service name, looked
//! up without the network ([`ssfilter::names`]).

use std::net::IpAddr;

use ssfilter::keyword_typo;
use ssfilter::names::{self, HostAddrs, Names};
use tcpdrop::canonical_ip;

/// One end of a connection as typed, its `%scope` not yet looked up.
pub use tcpdrop::Endpoint;

/// A connection as typed: (local end, remote end).
pub type Tuple = (Endpoint, Endpoint);

/// One end as typed, before the two ends are matched: a host name may still
/// stand for several addresses.
struct End {
    addrs: Vec<IpAddr>,
    port: u16,
    scope: Option<String>,
    /// The host name the addresses came from.
    name: Option<HostAddrs>,
}

impl End {
    fn of(&self, v4: bool) -> Vec<IpAddr> {
        self.addrs
            .iter()
            .copied()
            .filter(|ip| ip.is_ipv4() == v4)
            .collect()
    }

    /// How a message names it: the address, or the name and its addresses.
    fn shown(&self) -> String {
        match (&self.name, self.addrs.as_slice()) {
            (Some(name), _) => format!("'{}' ({})", name.name, name.list()),
            (None, [ip]) => ip.to_string(),
            (None, _) => String::new(),
        }
    }
}

/// Words that start a filter expression rather than a connection.
const FILTER_WORDS: &[&str] = &[
    "src",
    "dst",
    "sport",
    "dport",
    "state",
    "exclude",
    "excl",
    "not",
    "!",
    "(",
    "and",
    "or",
    "autobound",
];

/// Whether the positional words are a filter expression (`dport = :443`,
/// `( src ... )`) rather than a connection: the first word starts with a
/// filter keyword, or some word holds what no connection's word does (a
/// blank, an operator of the filter language, a keyword), as when the
/// first keyword is misspelt (`'dprot = :9002'`).
pub fn is_filter(args: &[String]) -> bool {
    let Some(first) = args.first() else {
        return false;
    };
    let word = first.split_whitespace().next().unwrap_or("");
    let starts = FILTER_WORDS
        .iter()
        .any(|w| word == *w || word.starts_with(&format!("{w}=")))
        || word.starts_with('(')
        || word.starts_with('!');
    starts
        || args.iter().any(|arg| {
            // An interface name (`%eth=0`) may hold almost anything.
            let text = without_scope(arg);
            text.contains(char::is_whitespace)
                || text.contains(['(', ')', '!', '=', '<', '>', '&', '|'])
                || FILTER_WORDS.contains(&text.as_str())
        })
}

/// `word` without a `%scope` (up to a `]` or the end).
fn without_scope(word: &str) -> String {
    match word.split_once('%') {
        None => word.to_string(),
        Some((before, after)) => match after.split_once(']') {
            Some((_, rest)) => format!("{before}]{rest}"),
            None => before.to_string(),
        },
    }
}

/// The connection `args` name (see the module's text), with names looked
/// up in `names`; also what each host name stood for (the one address used), for the command to show. A first
/// word that is a misspelt filter keyword, not an address or a host name,
/// is named as such (`dprot :9002`).
pub fn parse_with(args: &[String], names: &Names) -> Result<(Tuple, Vec<HostAddrs>), String> {
    tuple_of(args, names).map_err(|err| {
        let first = args.first().map(String::as_str).unwrap_or_default();
        match keyword_typo(first) {
            Some(typo)
                if typo.is_clear() && literal(first).is_err() && names.host(first).is_err() =>
            {
                typo.to_string()
            }
            _ => err,
        }
    })
}

fn tuple_of(args: &[String], names: &Names) -> Result<(Tuple, Vec<HostAddrs>), String> {
    let (local, remote) = match args {
        [l, r]
            if joined(l, "LADDR:LPORT", names).is_ok() || address(l, names).is_err() =>
        {
            (
                joined(l, "LADDR:LPORT", names)?,
                joined(r, "RADDR:RPORT", names)?,
            )
        }
        [la, lp, ra, rp] => (separate(la, lp, names)?, separate(ra, rp, names)?),
        [one, two] if port_number(two, names).is_err() => {
            return Err(format!(
                "'{one}' has no port: write IPv6 as [ADDR]:PORT, or give LADDR LPORT RADDR RPORT"
            ))
        }
        [one] | [one, _] | [one, _, _] => {
            // Say what was wrong with the words themselves first, if anything.
            if joined(one, "LADDR:LPORT", names).is_err() {
                address(one, names)?;
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
    pick(local, remote)
}

/// The one address of each end: a host name's addresses narrowed to the
/// family of the other end, which must leave exactly one.
fn pick(local: End, remote: End) -> Result<(Tuple, Vec<HostAddrs>), String> {
    let viable: Vec<bool> = [true, false]
        .into_iter()
        .filter(|&v4| !local.of(v4).is_empty() && !remote.of(v4).is_empty())
        .collect();
    let ambiguous = |end: &End| {
        let name = end.name.as_ref().map_or("", |n| n.name.as_str());
        format!(
            "'{name}' names {} addresses ({}): give one",
            end.addrs.len(),
            end.name.as_ref().map(HostAddrs::list).unwrap_or_default()
        )
    };
    let (l, r) = match viable.as_slice() {
        [] => {
            let family = |end: &End| match end.addrs.first() {
                Some(ip) => family_name(ip),
                None => "",
            };
            return Err(format!(
                "mixed address families: the local address {} is {} and the remote {} is {}",
                local.shown(),
                family(&local),
                remote.shown(),
                family(&remote)
            ));
        }
        [v4] => match (local.of(*v4).as_slice(), remote.of(*v4).as_slice()) {
            ([l], [r]) => (*l, *r),
            ([_], _) => return Err(ambiguous(&remote)),
            _ => return Err(ambiguous(&local)),
        },
        _ if local.addrs.len() > 1 => return Err(ambiguous(&local)),
        _ => return Err(ambiguous(&remote)),
    };
    let mut resolved: Vec<HostAddrs> = Vec::new();
    for (end, ip) in [(&local, l), (&remote, r)] {
        if let Some(name) = &end.name {
            let used = name.only(ip);
            if !resolved.contains(&used) {
                resolved.push(used);
            }
        }
    }
    let endpoint = |end: End, ip: IpAddr| Endpoint {
        ip,
        port: end.port,
        scope: end.scope,
    };
    Ok(((endpoint(local, l), endpoint(remote, r)), resolved))
}

/// How many malformed lines of a `-f` file are named before the rest are
/// only counted.
const MAX_BAD_LINES: usize = 10;

/// The connections named in `path` (`-` for standard input), one per line
/// in either form; blank lines and `#` comments are skipped. Every line is
/// checked before anything is dropped: the error names each malformed line
/// (the first ten) with its number. Also what each host name stood for,
/// once per name and address.
pub fn read_file(path: &str, names: &Names) -> Result<(Vec<Tuple>, Vec<HostAddrs>), String> {
    use std::io::Read;
    let mut text = Vec::new();
    let read = if path == "-" {
        std::io::stdin().lock().read_to_end(&mut text)
    } else {
        // As the user who ran it: a copy with cap_dac_read_search must not
        // quote, in the errors below, a file its user may not read.
        tcpdrop::privilege::open_as_user(std::path::Path::new(path))
            .and_then(|mut f| f.read_to_end(&mut text))
    };
    let shown = if path == "-" { "standard input" } else { path };
    read.map_err(|err| format!("-f {shown}: {err}"))?;
    let text = String::from_utf8_lossy(&text);
    let mut tuples = Vec::new();
    let mut resolved: Vec<HostAddrs> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    let mut bad_count = 0usize;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        match tuple_of(&words, names) {
            Ok((tuple, used)) => {
                tuples.push(tuple);
                for name in used {
                    if !resolved.contains(&name) {
                        resolved.push(name);
                    }
                }
            }
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
    Ok((tuples, resolved))
}

fn family_name(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// `ADDR:PORT`, `[ADDR]:PORT`, `[ADDR%SCOPE]:PORT`, or BSD netstat's
/// `ADDR.PORT` (`127.0.0.1.80`, `::1.80`, `fe80::1%lo.22`): only when the
/// whole word is not itself an address and the part before its last `.`
/// is one.
fn joined(word: &str, what: &str, names: &Names) -> Result<End, String> {
    let (host, port) = if let Some(rest) = word.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{word}': missing ']' (write IPv6 as [ADDR]:PORT)"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("'{word}': expected ':PORT' after ']' ({what})"))?;
        (host, port)
    } else if let Some((host, port)) = dotted(word) {
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
    let mut end = address(host, names)?;
    end.port = port_number(port, names)?;
    Ok(end)
}

/// BSD's `ADDR.PORT`, split at the last `.`, if `word` is one.
fn dotted(word: &str) -> Option<(&str, &str)> {
    let (host, port) = word.rsplit_once('.')?;
    if port.is_empty() || port.contains(':') || literal(host).is_err() {
        return None;
    }
    // `::1.2.3.4` is an address itself. A scoped one is not read so: an
    // interface name may hold dots (`eth0.100`), so `fe80::1%eth0.100.22` is
    // port 22 on eth0.100, as BSD netstat writes `fe80::1%lo0.22`.
    if !word.contains('%') && literal(word).is_ok() {
        return None;
    }
    Some((host, port))
}

/// `ADDR` (or `[ADDR]`, `ADDR%SCOPE`, a host name) and `PORT` as two words.
fn separate(addr: &str, port: &str, names: &Names) -> Result<End, String> {
    let bare = addr
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(addr);
    let mut end = address(bare, names)?;
    end.port = port_number(port, names)?;
    Ok(end)
}

/// An address literal, `ADDR` or `ADDR%SCOPE`.
fn literal(text: &str) -> Result<(IpAddr, Option<String>), String> {
    let (host, scope) = match text.split_once('%') {
        Some((host, scope)) => (host, Some(scope.to_string())),
        None => (text, None),
    };
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("'{text}' is not an IP address"))?;
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
    Ok((ip, scope))
}

/// An address literal or a host name (every address it has).
fn address(text: &str, names: &Names) -> Result<End, String> {
    let end = |addrs, scope, name| End {
        addrs,
        port: 0,
        scope,
        name,
    };
    match literal(text) {
        Ok((ip, scope)) => Ok(end(vec![ip], scope, None)),
        Err(err) => {
            let host = text.split_once('%').map_or(text, |(host, _)| host);
            if !names::is_host_name(host) {
                return Err(err);
            }
            if host != text {
                return Err(format!(
                    "'{text}': a %scope goes with an IPv6 address, not a host name"
                ));
            }
            let found = names.host(text).map_err(|e| e.to_string())?;
            Ok(end(found.addrs.clone(), None, Some(found)))
        }
    }
}

/// A decimal port number, or a TCP service name.
fn port_number(text: &str, names: &Names) -> Result<u16, String> {
    if names::is_service_name(text) {
        return names.port(text).map_err(|e| e.to_string());
    }
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

    /// The names these tests look up, whatever the machine's files say.
    fn names() -> &'static Names {
        static NAMES: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
        NAMES.get_or_init(|| {
            Names::from_text(
                "ssh 22/tcp\nhttp 80/tcp www\nhttps 443/tcp\n",
                "10.0.0.5 db\nfd00::5 db\n10.0.0.6 db4a db4\n10.0.0.7 db4\nfd00::9 six\n\
                 10.0.0.1 srcc\n",
            )
        })
    }

    fn parse(args: &[String]) -> Result<(Endpoint, Endpoint), String> {
        parse_with(args, names()).map(|(tuple, _)| tuple)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
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
            (
                "10.0.0.1 htp 10.0.0.2 5000",
                "'htp' is not a service name in services text: give the port number",
            ),
            ("10.0.0.1 8o 10.0.0.2 5000", "'8o' is not a service name"),
            ("10.0.0.1 8.0 10.0.0.2 5000", "'8.0' is not a port number"),
            ("10.0.0.1 80", "half a connection"),
            ("10.0.0.1:80", "half a connection"),
            ("10.0.0.1:80 [::1]:5000", "mixed address families"),
            ("::1:80 ::1:90", "has no port: write IPv6 as [ADDR]:PORT"),
            ("10.0.0.1:80:90 10.0.0.2:5", "in brackets"),
            ("10.0.0.1%lo 80 10.0.0.2 9", "IPv6 addresses only"),
            (
                "example.com 80 10.0.0.2 9",
                "'example.com' is not a host name in hosts text (DNS is never asked): give an IP address",
            ),
            ("db%eth0 80 10.0.0.2 9", "a %scope goes with an IPv6 address, not a host name"),
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
        // A misspelt first keyword: the rest still says filter.
        assert!(is_filter(&["dprot = :9002".to_string()]));
        assert!(is_filter(&words("dprot = :9002")));
        assert!(is_filter(&words("dprot :9002 or sport :22")));
        assert!(is_filter(&words("dprot>:9002")));
        for tuple in [
            "10.0.0.1 80 10.0.0.2 9",
            "localhost:http 127.0.0.1:5000",
            "127.0.0.1.80 127.0.0.1.5000",
            "[fe80::1%eth0]:22 [fe80::2%eth0]:9",
            // Interface names may hold almost anything.
            "[fe80::1%a=b]:22 [fe80::2%a(b]:9",
            "fe80::1%x|y 22 fe80::2%x!y 9",
        ] {
            assert!(!is_filter(&words(tuple)), "{tuple}");
        }
    }

    #[test]
    fn a_misspelt_keyword_first_is_named_as_one() {
        for (input, want) in [
            (
                "dprot :9002",
                "unknown word 'dprot' in the filter: did you mean dport?",
            ),
            (
                "stat established",
                "unknown word 'stat' in the filter: did you mean state?",
            ),
            // Too far from any keyword, or a host name: the tuple's own error.
            ("dns 53 10.0.0.1 9", "'dns' is not a host name"),
            ("db :9002", "'db' has no port"),
            ("10.0.0.999 1 10.0.0.1 2", "is not an IP address"),
        ] {
            let err = parse(&words(input)).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
        // A host that happens to be named like a misspelt keyword is a host.
        assert!(parse(&words("srcc 80 10.0.0.2 9")).is_ok());
    }

    #[test]
    fn service_names_are_their_tcp_ports() {
        for input in [
            "10.0.0.1:http 10.0.0.2:5000",
            "10.0.0.1 http 10.0.0.2 5000",
            "10.0.0.1 www 10.0.0.2 5000",
            "[::ffff:10.0.0.1]:http 10.0.0.2:5000",
            "10.0.0.1.http 10.0.0.2.5000",
        ] {
            let (l, r) = parse(&words(input)).unwrap();
            assert_eq!(
                (l.ip, l.port, r.port),
                (ip("10.0.0.1"), 80, 5000),
                "{input}"
            );
        }
        let (l, r) = parse(&words("[::1]:ssh [::1]:https")).unwrap();
        assert_eq!((l.port, r.port), (22, 443));
    }

    #[test]
    fn bsd_netstat_addr_dot_port_is_addr_colon_port() {
        for (input, want) in [
            ("127.0.0.1.80 127.0.0.1.5000", "127.0.0.1:80 127.0.0.1:5000"),
            ("::1.80 ::1.5000", "[::1]:80 [::1]:5000"),
            // The whole word is an address (::0.1.2.3): no port in it.
            ("::1.2.3.4.80 ::1.9", "[::1.2.3.4]:80 [::1]:9"),
            (
                "fe80::1%eth0.100.22 fe80::2%eth0.100.9",
                "[fe80::1%eth0.100]:22 [fe80::2%eth0.100]:9",
            ),
            (
                "::ffff:10.0.0.1.80 10.0.0.2.5000",
                "10.0.0.1:80 10.0.0.2:5000",
            ),
        ] {
            assert_eq!(parse(&words(input)), parse(&words(want)), "{input}");
            assert!(parse(&words(input)).is_ok(), "{input}");
        }
        for (input, want) in [
            // ::1.2.3.4 is an address itself: it has no port.
            ("::1.2.3.4 ::1.9", "has no port"),
            // Not an address before the last dot.
            ("10.1.80 10.0.0.2.9", "expected LADDR:LPORT"),
            // A whole address is an address: this end has no port.
            ("10.0.1.80 10.0.0.2.9", "'10.0.1.80' has no port"),
            ("db.80 10.0.0.2.9", "'db.80': expected LADDR:LPORT"),
            ("127.0.0.1. 127.0.0.1.9", "expected LADDR:LPORT"),
        ] {
            let err = parse(&words(input)).unwrap_err();
            assert!(err.contains(want), "{input}: {err}");
        }
    }

    #[test]
    fn a_host_name_is_its_one_address_of_the_other_ends_family() {
        let with = |input: &str| parse_with(&words(input), names());
        // localhost is both loopback addresses: the other end picks.
        let ((l, r), used) = with("localhost:80 127.0.0.1:5000").unwrap();
        assert_eq!((l.ip, r.ip), (ip("127.0.0.1"), ip("127.0.0.1")));
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].to_string(), "'localhost' is 127.0.0.1 (loopback)");
        let ((l, r), _) = with("[::1]:80 localhost:5000").unwrap();
        assert_eq!((l.ip, r.ip), (ip("::1"), ip("::1")));
        let ((l, r), used) = with("db http six 5000").unwrap();
        assert_eq!((l.ip, l.port, r.ip), (ip("fd00::5"), 80, ip("fd00::9")));
        assert_eq!(
            used.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "'db' is fd00::5 (hosts text)",
                "'six' is fd00::9 (hosts text)"
            ]
        );
        let ((l, r), _) = with("db4a:1 db:2").unwrap();
        assert_eq!((l.ip, r.ip), (ip("10.0.0.6"), ip("10.0.0.5")));
        for (input, want) in [
            (
                "localhost:80 localhost:5000",
                "'localhost' names 2 addresses (127.0.0.1, ::1): give one",
            ),
            ("db:1 localhost:2", "'db' names 2 addresses (10.0.0.5, fd00::5): give one"),
            ("10.0.0.1:1 db4:2", "'db4' names 2 addresses (10.0.0.6, 10.0.0.7): give one"),
            (
                "six:1 10.0.0.1:2",
                "mixed address families: the local address 'six' (fd00::9) is IPv6 and the remote 10.0.0.1 is IPv4",
            ),
            (
                "nowhere:1 10.0.0.1:2",
                "'nowhere' is not a host name in hosts text (DNS is never asked): give an IP address",
            ),
        ] {
            let err = with(input).unwrap_err();
            assert_eq!(err, want, "{input}");
        }
    }
}
