//! The command line's connection parser (`crates/tcpdrop-cli/src/tuple.rs`,
//! included by path where this file is used) on arbitrary words: shared by
//! the `tuple` fuzz target and the corpus regression test.
//!
//! The input is split into words at newlines, as a shell would hand them
//! over. Whatever they are, parsing answers a tuple or a message; a tuple
//! it answers is written back in both forms and must parse to itself.

use super::tuple::{is_filter, parse_with, Endpoint, Tuple};
use ssfilter::names::Names;

/// The parser as the command runs it, with the system's names (the
/// services and hosts files are read once, then kept).
fn parse(words: &[String]) -> Result<Tuple, String> {
    parse_with(words, Names::system()).map(|(tuple, _)| tuple)
}

/// Words from `data`: at most six, split at `\n`; `None` if not UTF-8.
pub fn words(data: &[u8]) -> Option<Vec<String>> {
    let text = std::str::from_utf8(data).ok()?;
    Some(text.split('\n').take(6).map(String::from).collect())
}

/// Run the parser on the words in `data`.
pub fn run(data: &[u8]) {
    let Some(words) = words(data) else {
        return;
    };
    let _ = is_filter(&words);
    let (local, remote) = match parse(&words) {
        Ok(tuple) => tuple,
        Err(message) => {
            assert!(!message.is_empty());
            return;
        }
    };
    assert_eq!(local.ip.is_ipv4(), remote.ip.is_ipv4(), "mixed families");
    for end in [&local, &remote] {
        if let Some(scope) = &end.scope {
            assert!(!scope.is_empty() && end.ip.is_ipv6(), "{end:?}");
        }
    }
    // A scope holding ']' cannot be written in brackets; one holding '\n'
    // cannot be a word here.
    let writable = |e: &Endpoint| e.scope.as_deref().is_none_or(|s| !s.contains(']'));
    if writable(&local) && writable(&remote) {
        let joined = vec![host_port(&local), host_port(&remote)];
        assert_eq!(
            parse(&joined),
            Ok((local.clone(), remote.clone())),
            "{joined:?}"
        );
        let four = vec![
            host(&local),
            local.port.to_string(),
            host(&remote),
            remote.port.to_string(),
        ];
        assert_eq!(
            parse(&four),
            Ok((local.clone(), remote.clone())),
            "{four:?}"
        );
    }
}

fn host(end: &Endpoint) -> String {
    match (&end.ip, &end.scope) {
        (std::net::IpAddr::V4(ip), _) => ip.to_string(),
        (std::net::IpAddr::V6(ip), None) => format!("[{ip}]"),
        (std::net::IpAddr::V6(ip), Some(scope)) => format!("[{ip}%{scope}]"),
    }
}

fn host_port(end: &Endpoint) -> String {
    format!("{}:{}", host(end), end.port)
}
