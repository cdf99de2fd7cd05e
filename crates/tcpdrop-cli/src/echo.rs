//! Error messages echo what was typed (`'x1' is not a port number`); an
//! argument of 100 KB must not come back whole. Every message goes through
//! [`shorten`] on its way to stderr.

/// Longest echo kept whole, in characters: a long filter expression is
/// still quoted whole.
const LONGEST: usize = 160;
/// How much of a longer one is kept.
const KEPT: usize = 60;

/// `message` with every overlong echo cut: a quoted span (`'...'`) or a
/// word longer than [`LONGEST`] characters keeps its first [`KEPT`] and
/// says how many bytes it had. Everything else (the cause, the remedy) is
/// left as it is.
pub fn shorten(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    let mut rest = message;
    // A quote opens an echo only where a word starts (not `users' files`).
    let mut at_word_start = true;
    while !rest.is_empty() {
        // The next piece: a quoted span, a run of spaces, or a word.
        let len = if let (true, Some(inner)) = (at_word_start, rest.strip_prefix('\'')) {
            inner.find('\'').map_or(rest.len(), |end| end + 2)
        } else if rest.starts_with(' ') {
            rest.find(|c| c != ' ').unwrap_or(rest.len())
        } else {
            rest.find(' ').unwrap_or(rest.len())
        };
        let (piece, after) = rest.split_at(len);
        out.push_str(&cut(piece));
        at_word_start = piece.ends_with(' ');
        rest = after;
    }
    out
}

/// `piece` whole if short, else its head and its size.
fn cut(piece: &str) -> String {
    if piece.chars().count() <= LONGEST {
        return piece.to_string();
    }
    let head: String = piece.chars().take(KEPT).collect();
    let quoted = piece.starts_with('\'') && piece.ends_with('\'') && piece.len() > 1;
    let close = if quoted { "'" } else { "" };
    format!("{head}...{close} ({} bytes)", piece.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_are_untouched() {
        for m in [
            "'x1' is not a port number (0-65535)",
            "unknown state 'establishd': use established, syn-sent",
            "",
            "a  b",
            "it's",
            "other users' processes need CAP_SYS_PTRACE; a 'quoted' word",
            "(the 'word' in parentheses)",
            "no connection matched the filter 'dport = :443 or ( src 10.0.0.0/8 and state \
             established ) or ( dst 192.168.100.0/24 and sport >= :1024 )'",
        ] {
            assert_eq!(shorten(m), m);
        }
    }

    #[test]
    fn long_echoes_are_cut_and_the_rest_kept() {
        let long = "a".repeat(100_000);
        let m = shorten(&format!(
            "'{long}' is not an IP address (give a numeric address)"
        ));
        assert_eq!(
            m,
            format!(
                "'{}...' (100002 bytes) is not an IP address (give a numeric address)",
                "a".repeat(KEPT - 1)
            )
        );
        let spaced = "a ".repeat(50_000);
        let m = shorten(&format!("filter: '{spaced}' is bad: fix it"));
        assert!(m.len() < 200, "{m}");
        assert!(m.ends_with("is bad: fix it"), "{m}");
        let m = shorten(&format!("unexpected argument {long} found"));
        assert!(m.len() < 200 && m.ends_with(" found"), "{m}");
        let m = shorten(&format!("unclosed '{long}"));
        assert!(m.len() < 200, "{m}");
    }
}
