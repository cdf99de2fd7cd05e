//! `-l --bsd`: each connection as the command that drops it, the form
//! FreeBSD's `tcpdrop -l` prints: `tcpdrop LADDR LPORT RADDR RPORT`.

use std::net::SocketAddr;

use crate::output::Row;

/// The line that drops `row`'s connection, run as it is: `tcpdrop 127.0.0.1
/// 80 127.0.0.1 41000`, an IPv6 address bare with its `%scope` where it has
/// one (`fe80::1%eth0 22 ...`). A listener carries `-s listening` (tcpdrop
/// drops one only when it is named), and a connection of a namespace
/// named with `-N` or found by `--all-netns` carries `-N NAMESPACE`.
pub fn line(row: &Row<'_>, scope_name: &dyn Fn(u32) -> Option<String>) -> String {
    let conn = row.conn;
    let mut words: Vec<String> = vec!["tcpdrop".into()];
    if let Some(netns) = row.netns {
        words.push("-N".into());
        words.push(shell_word(netns));
    }
    if conn.is_listener() {
        words.push("-s".into());
        words.push("listening".into());
    }
    for end in [&conn.local, &conn.remote] {
        words.push(shell_word(&host(end, scope_name)));
        words.push(end.port().to_string());
    }
    words.join(" ")
}

/// The address alone, as BSD tcpdrop reads it: `127.0.0.1`, `::1`,
/// `fe80::1%eth0`.
fn host(end: &SocketAddr, scope_name: &dyn Fn(u32) -> Option<String>) -> String {
    match end {
        SocketAddr::V4(v4) => v4.ip().to_string(),
        SocketAddr::V6(v6) if v6.scope_id() != 0 => {
            let scope = scope_name(v6.scope_id()).unwrap_or_else(|| v6.scope_id().to_string());
            format!("{}%{scope}", v6.ip())
        }
        SocketAddr::V6(v6) => v6.ip().to_string(),
    }
}

/// `text` as one word of a POSIX shell: as it is when it holds nothing a
/// shell reads specially, else in single quotes (an interface or
/// namespace name may hold almost anything).
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%+,-./:=@_".contains(&b));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_where_a_shell_needs_it() {
        for (text, word) in [
            ("fe80::1%eth0.100", "fe80::1%eth0.100"),
            ("/proc/1/ns/net", "/proc/1/ns/net"),
            ("blue", "blue"),
            ("a b", "'a b'"),
            ("it's", r"'it'\''s'"),
            ("$x", "'$x'"),
            ("", "''"),
        ] {
            assert_eq!(shell_word(text), word, "{text}");
        }
    }

    #[test]
    fn an_ipv6_end_is_bare_with_its_scope_name() {
        let names = |index: u32| (index == 2).then(|| "eth0".to_string());
        let end: SocketAddr = "[fe80::1%2]:22".parse().unwrap();
        assert_eq!(host(&end, &names), "fe80::1%eth0");
        let end: SocketAddr = "[fe80::1%7]:22".parse().unwrap();
        assert_eq!(host(&end, &names), "fe80::1%7");
        let end: SocketAddr = "[::1]:22".parse().unwrap();
        assert_eq!(host(&end, &names), "::1");
        let end: SocketAddr = "127.0.0.1:22".parse().unwrap();
        assert_eq!(host(&end, &names), "127.0.0.1");
    }
}
