//! The parser and evaluator on their own; `tests/vs_ss.rs` checks them
//! against `ss` on real sockets.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::{Filter, FilterError};
use crate::names::Names;
use crate::{Row, State, StateSet};
use sockdiag::{InetDiagMsg, TcpState};

/// A connection as a dump reports it: `v6_socket` puts IPv4 ends in an
/// `AF_INET6` socket as `::ffff:a.b.c.d`.
fn conn(state: TcpState, local: &str, remote: &str, v6_socket: bool) -> Row {
    let local: SocketAddr = local.parse().expect("local");
    let remote: SocketAddr = remote.parse().expect("remote");
    let v6_socket = v6_socket || local.is_ipv6();
    let raw = |a: &SocketAddr| -> [u8; 16] {
        match a {
            SocketAddr::V4(v4) if v6_socket => v4.ip().to_ipv6_mapped().octets(),
            SocketAddr::V4(v4) => {
                let mut b = [0u8; 16];
                b[..4].copy_from_slice(&v4.ip().octets());
                b
            }
            SocketAddr::V6(v6) => v6.ip().octets(),
        }
    };
    // inet_diag_msg, 72 bytes: family, state, timer, retrans, sockid
    // (sport, dport big-endian; src, dst; if; cookie), expires, rqueue,
    // wqueue, uid, inode.
    let mut m = vec![if v6_socket { 10u8 } else { 2 }, state.raw(), 0, 0];
    m.extend_from_slice(&local.port().to_be_bytes());
    m.extend_from_slice(&remote.port().to_be_bytes());
    m.extend_from_slice(&raw(&local));
    m.extend_from_slice(&raw(&remote));
    m.extend_from_slice(&[0u8; 4 + 8 + 20]);
    let msg = InetDiagMsg::parse(&m).expect("a valid inet_diag_msg");
    Row::from_diag(&msg).expect("a listed state")
}

fn est(local: &str, remote: &str) -> Row {
    conn(TcpState::Established, local, remote, false)
}

/// The names these tests look up, whatever the machine's files say.
fn names() -> &'static Names {
    static NAMES: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        Names::from_text(
            "ssh 22/tcp\nhttp 80/tcp www\nhttps 443/tcp\ndomain 53/udp\n",
            "10.0.0.5 db\nfd00::5 db\n192.168.1.9 printer\n::ffff:10.0.0.7 mapped\n",
        )
    })
}

/// Parse with [`names`].
fn parse<S: AsRef<str>>(words: &[S]) -> Result<Filter, FilterError> {
    Filter::parse_with(words, names()).map(|(filter, _)| filter)
}

fn f(text: &str) -> Filter {
    parse(&[text]).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(words: &[&str]) -> FilterError {
    match parse(words) {
        Ok(f) => panic!("{words:?} parsed as {f}"),
        Err(e) => e,
    }
}

fn norm(text: &str) -> String {
    f(text).to_string()
}

#[test]
fn every_operator_spelling_parses_to_its_normal_form() {
    for (input, want) in [
        ("sport = :80", "sport = :80"),
        ("sport == :80", "sport = :80"),
        ("sport eq :80", "sport = :80"),
        ("sport :80", "sport = :80"),
        ("sport 80", "sport = :80"),
        ("dport != :80", "dport != :80"),
        ("dport ne :80", "dport != :80"),
        ("dport neq :80", "dport != :80"),
        ("dport < :80", "dport < :80"),
        ("dport lt :80", "dport < :80"),
        ("dport > :80", "dport > :80"),
        ("dport gt :80", "dport > :80"),
        ("sport <= :80", "sport <= :80"),
        ("sport le :80", "sport <= :80"),
        ("sport leq :80", "sport <= :80"),
        ("sport >= :80", "sport >= :80"),
        ("sport ge :80", "sport >= :80"),
        ("sport geq :80", "sport >= :80"),
        ("sport = :0x50", "sport = :80"),
        ("sport = :010", "sport = :8"),
        ("sport = *", "sport = *"),
        ("sport != :*", "sport != *"),
        (
            "src 10.0.0.1 and dst 10.0.0.2",
            "src 10.0.0.1 and dst 10.0.0.2",
        ),
        (
            "src 10.0.0.1 && dst 10.0.0.2",
            "src 10.0.0.1 and dst 10.0.0.2",
        ),
        (
            "src 10.0.0.1 & dst 10.0.0.2",
            "src 10.0.0.1 and dst 10.0.0.2",
        ),
        ("src 10.0.0.1 dst 10.0.0.2", "src 10.0.0.1 and dst 10.0.0.2"),
        (
            "src 10.0.0.1 or dst 10.0.0.2",
            "src 10.0.0.1 or dst 10.0.0.2",
        ),
        (
            "src 10.0.0.1 || dst 10.0.0.2",
            "src 10.0.0.1 or dst 10.0.0.2",
        ),
        (
            "src 10.0.0.1 | dst 10.0.0.2",
            "src 10.0.0.1 or dst 10.0.0.2",
        ),
        ("not src 10.0.0.1", "not src 10.0.0.1"),
        ("! src 10.0.0.1", "not src 10.0.0.1"),
        ("src = 10.0.0.1", "src 10.0.0.1"),
        ("dst == 10.0.0.1", "dst 10.0.0.1"),
        ("dst eq 10.0.0.1", "dst 10.0.0.1"),
        ("( src 10.0.0.1 )", "src 10.0.0.1"),
    ] {
        assert_eq!(norm(input), want, "{input}");
    }
}

#[test]
fn host_forms_parse_as_ss_reads_them() {
    for (input, want) in [
        ("src 127.0.0.1", "src 127.0.0.1"),
        ("src 127.0.0.1:80", "src 127.0.0.1:80"),
        ("src 127.0.0.0/8", "src 127.0.0.0/8"),
        ("src 127.0.0.0/8:80", "src 127.0.0.0/8:80"),
        ("src 127.0.0.0/255.0.0.0", "src 127.0.0.0/8"),
        ("src 10.8", "src 10.8.0.0"),
        ("src 10", "src 10.0.0.0"),
        ("src 0x7f.0.0.01", "src 127.0.0.1"),
        ("src 0.0.0.0/0", "src 0.0.0.0/0"),
        ("src :80", "src *:80"),
        ("src *:80", "src *:80"),
        ("src *", "src *"),
        ("src *:*", "src *"),
        ("src any", "src *"),
        ("src all:22", "src *:22"),
        ("src [::1]", "src [::1]"),
        ("src [::1]:80", "src [::1]:80"),
        ("src [fd00::/64]", "src [fd00::/64]"),
        ("src [fd00::/64]:443", "src [fd00::/64]:443"),
        ("src fd00::/64", "src [fd00::/64]"),
        ("src ::/0", "src [::/0]"),
        ("src ::1/128:80", "src [::1]:80"),
        ("src [::ffff:127.0.0.1]", "src [::ffff:127.0.0.1]"),
        ("src [127.0.0.1]:80", "src 127.0.0.1:80"),
        ("dst 127.0.0.1:", "dst 127.0.0.1"),
    ] {
        assert_eq!(norm(input), want, "{input}");
    }
}

#[test]
fn and_and_or_group_left_to_right_with_equal_precedence() {
    // ssfilter.y: `exprlist: exprlist '|' expr | exprlist '&' expr`.
    let filter = f("sport = :1 or sport = :2 and sport = :3");
    assert_eq!(
        filter.to_string(),
        "sport = :1 or sport = :2 and sport = :3"
    );
    let one = est("127.0.0.1:1", "127.0.0.1:9");
    assert!(!filter.matches(&one), "(1 or 2) and 3, not 1 or (2 and 3)");
    let grouped = f("sport = :1 or ( sport = :2 and sport = :3 )");
    assert_eq!(
        grouped.to_string(),
        "sport = :1 or (sport = :2 and sport = :3)"
    );
    assert!(grouped.matches(&one));
    // Parentheses on the left change nothing and are not kept.
    assert_eq!(
        norm("( sport = :1 or sport = :2 ) and sport = :3"),
        filter.to_string()
    );
    // `not` takes one term.
    let not = f("not sport = :1 and sport = :1");
    assert!(!not.matches(&one));
    assert_eq!(not.to_string(), "not sport = :1 and sport = :1");
    let not_group = f("not ( sport = :2 and sport = :1 )");
    assert!(not_group.matches(&one));
    assert_eq!(not_group.to_string(), "not (sport = :2 and sport = :1)");
    assert_eq!(norm("! ! sport = :1"), "not not sport = :1");
}

#[test]
fn tokens_may_be_glued_or_share_a_word() {
    for (words, want) in [
        (&["dport=:443"][..], "dport = :443"),
        (&["dport>=:1024"][..], "dport >= :1024"),
        (&["dport!=:1024"][..], "dport != :1024"),
        (
            &["(src", "127.0.0.1", "or", "!dport=:22)"][..],
            "src 127.0.0.1 or not dport = :22",
        ),
        (
            &["!(sport<:1024||sport>:2000)"][..],
            "not (sport < :1024 or sport > :2000)",
        ),
        (
            &["dport = :443 or ( src 10.0.0.0/8 and dport = :80 )"][..],
            "dport = :443 or (src 10.0.0.0/8 and dport = :80)",
        ),
        (
            &["state", "established", "sport", "=", ":22"][..],
            "state established sport = :22",
        ),
        (&["\tsport\t=\t:22 "][..], "sport = :22"),
        (
            &["src 127.0.0.1&&dst 127.0.0.2"][..],
            "src 127.0.0.1 and dst 127.0.0.2",
        ),
    ] {
        let filter = Filter::parse(words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
        assert_eq!(filter.to_string(), want, "{words:?}");
    }
}

#[test]
fn state_words_set_the_mask_as_ss_does() {
    let states = |text: &str| f(text).states();
    let only = StateSet::only;
    assert_eq!(states("sport = :1"), StateSet::ALL);
    assert_eq!(f("sport = :1").explicit_states(), None);
    assert_eq!(states("state established"), only(State::Established));
    assert_eq!(states("state ESTABLISHED"), only(State::Established));
    assert_eq!(
        states("state established state time-wait"),
        only(State::Established).with(State::TimeWait)
    );
    assert_eq!(
        states("exclude listening"),
        StateSet::ALL.without(State::Listen)
    );
    assert_eq!(
        states("excl listening"),
        StateSet::ALL.without(State::Listen)
    );
    // A later `state` adds back what an `exclude` took.
    assert_eq!(states("exclude listening state listening"), StateSet::ALL);
    assert_eq!(
        states("state established exclude established"),
        StateSet::EMPTY
    );
    assert_eq!(
        f("state established exclude established").to_string(),
        "exclude all"
    );
    assert_eq!(states("state all"), StateSet::ALL);
    assert_eq!(states("state unknown"), StateSet::EMPTY);
    assert_eq!(
        states("state connected"),
        StateSet::ALL.without(State::Closed).without(State::Listen)
    );
    assert_eq!(
        states("state synchronized"),
        StateSet::ALL
            .without(State::Closed)
            .without(State::Listen)
            .without(State::SynSent)
    );
    assert_eq!(
        states("state bucket"),
        only(State::SynReceived).with(State::TimeWait)
    );
    assert_eq!(
        states("state big"),
        StateSet::ALL
            .without(State::SynReceived)
            .without(State::TimeWait)
    );
    for (name, state) in [
        ("syn-sent", State::SynSent),
        ("syn-recv", State::SynReceived),
        ("syn-rcv", State::SynReceived),
        ("fin-wait-1", State::FinWait1),
        ("fin-wait-2", State::FinWait2),
        ("time-wait", State::TimeWait),
        ("closed", State::Closed),
        ("close", State::Closed),
        ("unconnected", State::Closed),
        ("close-wait", State::CloseWait),
        ("last-ack", State::LastAck),
        ("listening", State::Listen),
        // RFC 793 spellings, which ss itself refuses, are read too.
        ("listen", State::Listen),
        ("SYN-RECEIVED", State::SynReceived),
        ("closing", State::Closing),
    ] {
        assert_eq!(states(&format!("state {name}")), only(state), "{name}");
    }
    let filter = f("state listening state time-wait dport = :0");
    assert_eq!(
        filter.to_string(),
        "state time-wait state listening dport = :0"
    );
    let listener = conn(TcpState::Listen, "127.0.0.1:80", "0.0.0.0:0", false);
    assert!(filter.matches(&listener));
    assert!(!f("state established").matches(&listener));
}

#[test]
fn empty_filters() {
    let none: [&str; 0] = [];
    assert!(Filter::parse(&none).expect("empty").is_empty());
    assert!(f("  ").is_empty());
    assert!(!f("state all").is_empty());
    assert!(!f("sport = :1").is_empty());
    assert_eq!(f("").to_string(), "");
}

#[test]
fn errors_name_the_word_what_was_expected_and_where() {
    let e = err(&["dport", "=", "abc"]);
    assert_eq!(
        e.message(),
        "filter: 'abc' is not a service name in services text: give the port number"
    );
    assert_eq!((e.word(), e.offset()), (2, 0));
    let e = err(&["dport", "=", "1.5"]);
    assert_eq!(
        e.to_string(),
        "filter: expected ':PORT' after 'dport =', found '1.5' (word 3, byte 0)"
    );
    let e = err(&["sport = :22 or dport = :htp"]);
    assert_eq!(
        e.message(),
        "filter: 'htp' is not a service name in services text: give the port number"
    );
    assert_eq!((e.word(), e.offset()), (0, 23));
    // A UDP-only service is not a TCP port.
    let e = err(&["dport = :domain"]);
    assert!(
        e.message().contains("'domain' is not a service name"),
        "{e}"
    );
    let e = err(&["dport", ">", ":70000"]);
    assert_eq!(
        e.message(),
        "filter: expected ':PORT' after 'dport >', found ':70000' (a port is 0 to 65535)"
    );
    let e = err(&["dport", ">", "*"]);
    assert!(e.message().contains("only be compared with = or !="), "{e}");
    let e = err(&["src", "dbb"]);
    assert_eq!(
        e.message(),
        "filter: 'dbb' is not a host name in hosts text (DNS is never asked): give an IP address"
    );
    assert_eq!((e.word(), e.offset()), (1, 0));
    let e = err(&["dst", "db/24"]);
    assert!(
        e.message()
            .ends_with("(a prefix length goes with an address, not a host name: 'db')"),
        "{e}"
    );
    let e = err(&["src", "::1"]);
    assert_eq!(
        e.message(),
        "filter: expected an address after 'src', found '::1' (write an IPv6 address in brackets: '[::1]', or '[ADDR]:PORT')"
    );
    let e = err(&["src [fe80::1%lo]"]);
    assert!(e.message().contains("'%scope'"), "{e}");
    assert_eq!((e.word(), e.offset()), (0, 4));
    let e = err(&["src", "10.0.0.0/33"]);
    assert!(
        e.message()
            .ends_with("(a prefix length is 0 to 32 or a netmask)"),
        "{e}"
    );
    let e = err(&["src", "256.0.0.1"]);
    assert_eq!(
        e.message(),
        "filter: expected an address after 'src', found '256.0.0.1'"
    );
    let e = err(&["src", "and", "dst", "1.2.3.4"]);
    assert_eq!(
        e.message(),
        "filter: expected an address after 'src', found 'and'"
    );
    let e = err(&["src"]);
    assert_eq!(
        e.message(),
        "filter: expected an address after 'src', found the end of the filter"
    );
    assert_eq!((e.word(), e.offset()), (0, 3));
    let e = err(&["state", "listenning"]);
    assert_eq!(
        e.message(),
        "filter: expected a state name after 'state', found 'listenning': did you mean listening?"
    );
    assert_eq!((e.word(), e.offset()), (1, 0));
    let e = err(&["sport = :22", "state", "establishd"]);
    assert_eq!(
        e.message(),
        "filter: expected a state name after 'state', found 'establishd': did you mean established?"
    );
    assert_eq!((e.word(), e.offset()), (2, 0));
    let e = err(&["state", "stuck"]);
    assert!(
        e.message().starts_with(
            "filter: expected a state name after 'state', found 'stuck' (established, "
        ),
        "{e}"
    );
    let e = err(&["sport = :22 and exclude"]);
    assert!(
        e.message()
            .starts_with("filter: expected a state name after 'exclude', found the end"),
        "{e}"
    );
    let e = err(&["state established or dport = :80"]);
    assert!(
        e.message().starts_with(
            "filter: expected a condition after 'state established', found 'or' (state words at the start"
        ),
        "{e}"
    );
    assert_eq!((e.word(), e.offset()), (0, 18));
    let e = err(&["( sport = :22"]);
    assert_eq!(
        e.message(),
        "filter: expected ')', found the end of the filter (to close the '(' of word 1 byte 0)"
    );
    let e = err(&["sport = :22 )"]);
    assert_eq!(e.message(), "filter: found ')' with no '(' open");
    assert_eq!((e.word(), e.offset()), (0, 12));
    let e = err(&["( )"]);
    assert_eq!(
        e.message(),
        "filter: expected a condition after '(', found ')'"
    );
    let e = err(&["sport = :22 and"]);
    assert_eq!(
        e.message(),
        "filter: expected a condition after 'and', found the end of the filter"
    );
    let e = err(&["sport = :22 or or sport = :1"]);
    assert_eq!(
        e.message(),
        "filter: expected a condition after 'or', found 'or'"
    );
    assert_eq!((e.word(), e.offset()), (0, 15));
    let e = err(&["sport = :22 bogus"]);
    assert_eq!(
        e.message(),
        "filter: expected a condition (src, dst, sport, dport, state, not, '(') after ':22', found 'bogus'"
    );
    let e = err(&["not"]);
    assert!(e.message().ends_with("found the end of the filter"), "{e}");
    // A misspelt keyword is named, with the keyword it is closest to.
    let e = err(&["dprot = :9002"]);
    assert_eq!(
        e.to_string(),
        "unknown word 'dprot' in the filter: did you mean dport? (word 1, byte 0)"
    );
    let e = err(&["sport = :22 ro dport = :80"]);
    assert_eq!(
        e.message(),
        "unknown word 'ro' in the filter: did you mean or?"
    );
    assert_eq!((e.word(), e.offset()), (0, 12));
    let e = err(&["( stat established )"]);
    assert_eq!(
        e.message(),
        "unknown word 'stat' in the filter: did you mean state?"
    );
    let e = err(&["port", "=", ":80"]);
    assert_eq!(
        e.message(),
        "unknown word 'port' in the filter: did you mean sport or dport?"
    );
    let e = err(&["dev", "lo"]);
    assert_eq!(
        e.message(),
        "filter: ss's 'dev' condition is not supported by tcpdrop"
    );
    let e = err(&["src", "inet6:[::1]"]);
    assert!(e.message().contains("'inet6:' address prefix"), "{e}");
    let e = err(&["src", "[::1]80"]);
    assert!(e.message().contains("expected ':PORT' after ']'"), "{e}");
    let e = err(&["src", "any/8"]);
    assert!(e.message().contains("takes no prefix length"), "{e}");
    let e = err(&["src", "[::1"]);
    assert!(e.message().contains("no ']'"), "{e}");
    let e = err(&["sport", "=", ":08"]);
    assert_eq!(
        e.message(),
        "filter: expected ':PORT' after 'sport =', found ':08'"
    );
}

#[test]
fn nesting_is_bounded_without_overflowing_the_stack() {
    let deep = format!("{}sport = :1{}", "( ".repeat(100), " )".repeat(100));
    assert!(Filter::parse(&[deep]).is_ok());
    let deeper = format!("{}sport = :1{}", "(".repeat(100_000), ")".repeat(100_000));
    let e = err(&[deeper.as_str()]);
    assert!(e.message().contains("nest deeper than 100"), "{e}");
    assert_eq!(e.offset(), 100);
    let nots = format!("{}sport = :1", "! ".repeat(100_000));
    assert!(Filter::parse(&[nots]).is_err());
    // A long flat chain is not nesting.
    let chain = vec!["sport = :1 or"; 100_000].join(" ") + " sport = :2";
    let filter = Filter::parse(&[chain]).expect("a long chain");
    assert!(filter.matches(&est("127.0.0.1:2", "127.0.0.1:9")));
}

#[test]
fn address_terms_follow_the_kernels_family_rules() {
    let v4 = est("127.0.0.1:80", "127.0.0.2:5000");
    let mapped = conn(
        TcpState::Established,
        "127.0.0.1:80",
        "127.0.0.2:5000",
        true,
    );
    assert!(mapped.mapped());
    let v6 = est("[::1]:80", "[::1]:5000");
    let v4_listener = conn(TcpState::Listen, "0.0.0.0:80", "0.0.0.0:0", false);
    let dual_listener = conn(TcpState::Listen, "[::]:80", "[::]:0", true);
    let all = [&v4, &mapped, &v6, &v4_listener, &dual_listener];
    let which = |text: &str| -> Vec<bool> {
        let filter = f(text);
        all.iter().map(|c| filter.matches(c)).collect()
    };
    // v4, mapped, v6, v4 listener, dual-stack listener
    assert_eq!(which("src 127.0.0.1"), [true, true, false, false, false]);
    assert_eq!(
        which("src 127.0.0.0/8:80"),
        [true, true, false, false, false]
    );
    assert_eq!(which("src 0.0.0.0/0"), [true, true, false, true, false]);
    assert_eq!(which("src ::/0"), [false, true, true, false, true]);
    assert_eq!(
        which("src [::ffff:0.0.0.0/96]"),
        [false, true, false, false, false]
    );
    assert_eq!(which("src *"), [true; 5]);
    assert_eq!(which("dst *"), [true; 5]);
    assert_eq!(which("src any"), [true; 5]);
    assert_eq!(which("src *:80"), [true; 5]);
    assert_eq!(which("src :81"), [false; 5]);
    assert_eq!(which("dst 0.0.0.0"), [false, false, false, true, false]);
    assert_eq!(which("dst [::]"), [false, false, false, false, true]);
    assert_eq!(which("dport = :0"), [false, false, false, true, true]);
    assert_eq!(
        which("dst 127.0.0.2:5000"),
        [true, true, false, false, false]
    );
    assert_eq!(which("dst [::1]:5000"), [false, false, true, false, false]);
    assert_eq!(
        which("not src 0.0.0.0/0"),
        [false, false, true, false, true]
    );
    assert_eq!(which("sport > :79 and sport < :81"), [true; 5]);
    assert_eq!(which("dport >= :5000"), [true, true, true, false, false]);
    assert_eq!(which("dport <= :0"), [false, false, false, true, true]);
    assert_eq!(which("sport != *"), [false; 5]);
}

#[test]
fn ss_compatible_matching_keeps_ss_family_blind_user_space_check() {
    let v6 = est("[::1]:80", "[::1]:5000");
    let v4 = est("127.0.0.1:80", "127.0.0.2:5000");
    for (text, ours, ss) in [
        // No IPv6 socket has an IPv4 source, so `not` selects them all; ss
        // hides them: its user-space check says a /0 prefix matches anything.
        ("not src 0.0.0.0/0", true, false),
        // ... and compares raw bytes: ::1 starts with the byte 0.
        ("not src 0.0.0.0/8", true, false),
        ("not src 127.0.0.0/8", true, true),
        ("src 0.0.0.0/0", false, false),
    ] {
        let filter = f(text);
        assert_eq!(filter.matches(&v6), ours, "{text}");
        assert_eq!(filter.matches_like_ss(&v6), ss, "{text} in ss");
    }
    assert!(f("not src [::/0]").matches(&v4) && !f("not src [::/0]").matches_like_ss(&v4));
}

#[test]
fn state_conditions_inside_the_expression() {
    let tw = conn(TcpState::TimeWait, "10.1.2.3:80", "10.9.9.9:5000", false);
    let est10 = est("10.1.2.3:80", "10.9.9.9:5000");
    let est_other = est("192.168.1.1:80", "10.9.9.9:5000");
    let https = conn(TcpState::SynSent, "192.168.1.1:5000", "1.1.1.1:443", false);
    let listener = conn(TcpState::Listen, "10.1.2.3:80", "0.0.0.0:0", false);
    let done = f("dport = :443 or ( src 10.0.0.0/8 and state established )");
    assert_eq!(
        done.to_string(),
        "dport = :443 or (src 10.0.0.0/8 and state established)"
    );
    assert_eq!(done.explicit_states(), None);
    assert!(done.matches(&est10));
    assert!(done.matches(&https));
    assert!(!done.matches(&tw), "TIME-WAIT is not established");
    assert!(!done.matches(&est_other), "not in 10.0.0.0/8");
    assert!(!done.matches(&listener));
    // `dport = :443` may hold in any state: nothing can narrow the dump.
    assert_eq!(done.states(), StateSet::ALL);

    // Where the state decides, the dump is narrowed; never below what matches.
    let only = StateSet::only;
    assert_eq!(
        f("sport = :80 and state established").states(),
        only(State::Established)
    );
    assert_eq!(
        f("sport = :80 and exclude listening").states(),
        StateSet::ALL.without(State::Listen)
    );
    assert_eq!(
        f("not state listening").states(),
        StateSet::ALL.without(State::Listen)
    );
    assert_eq!(
        f("not ( sport = :1 or exclude time-wait )").states(),
        only(State::TimeWait)
    );
    assert_eq!(
        f("( state time-wait or state established ) and sport = :80").states(),
        only(State::TimeWait).with(State::Established)
    );
    assert_eq!(
        f("state established ( sport = :80 and state time-wait )").states(),
        StateSet::EMPTY
    );
    assert_eq!(
        f("( state bucket )").states(),
        StateSet::from_name("bucket").unwrap()
    );
    assert!(f("sport = :80 and state unknown").states().is_empty());
    assert!(f("sport = :80 exclude big").matches(&tw));
    assert!(!f("sport = :80 exclude big").matches(&est10));

    // A filter whose expression starts with a state condition prints with
    // parentheses, or it would read back as leading state words.
    for text in [
        "( state established or sport = :22 )",
        "( exclude synchronized )",
        "state listening ( state established or sport = :22 )",
    ] {
        let filter = f(text);
        assert_eq!(f(&filter.to_string()), filter, "{text} -> {filter}");
    }
    assert_eq!(
        norm("( state established or sport = :22 )"),
        "(state established or sport = :22)"
    );
    assert_eq!(
        norm("sport = :22 state ESTAB"),
        "sport = :22 and state established"
    );
    assert_eq!(
        norm("sport = :22 excl connected"),
        "sport = :22 and exclude connected"
    );
}

#[test]
fn listeners_are_named_only_by_listening_itself() {
    for (text, named) in [
        ("state listening", true),
        ("state listen sport = :80", true),
        ("state all", false),
        ("exclude established", false),
        ("state listening exclude listening", false),
        ("state listening exclude all state listening", true),
        ("state listening exclude big", false),
        ("state listening state established", true),
        ("sport = :80", false),
        ("sport = :80 and state listening", true),
        ("sport = :80 or not state listening", false),
        ("sport = :80 and not exclude listening", true),
        ("sport = :80 and exclude listening", false),
        (
            "sport = :80 and ( state listening or state time-wait )",
            true,
        ),
        (
            "state established ( sport = :80 or state listening )",
            false,
        ),
    ] {
        assert_eq!(f(text).names_listening(), named, "{text}");
    }
}

fn arb_port() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u16..=65535).prop_map(|p| format!(":{p}")),
        (0u16..=65535).prop_map(|p| p.to_string()),
        Just("*".to_string()),
        Just(":http".to_string()),
        Just("ssh".to_string()),
    ]
}

fn arb_host() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32)
            .prop_map(|(a, l)| format!("{}.{}.{}.{}/{l}", a[0], a[1], a[2], a[3])),
        any::<[u8; 4]>().prop_map(|a| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(a, l)| format!("[{}/{l}]", std::net::Ipv6Addr::from(a))),
        (any::<u128>(), 0u16..=65535)
            .prop_map(|(a, p)| format!("[{}]:{p}", std::net::Ipv6Addr::from(a))),
        (0u16..=65535).prop_map(|p| format!("*:{p}")),
        Just("*".to_string()),
        // Host names stand for all their addresses: one, or an `or` of two.
        prop_oneof![
            Just("localhost"),
            Just("db"),
            Just("printer"),
            Just("mapped")
        ]
        .prop_map(String::from),
        prop_oneof![Just("localhost:https"), Just("db:22"), Just("printer:*")]
            .prop_map(String::from),
    ]
}

fn arb_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (prop_oneof![Just("src"), Just("dst")], arb_host()).prop_map(|(k, h)| format!("{k} {h}")),
        (
            prop_oneof![Just("sport"), Just("dport")],
            prop_oneof![Just("="), Just("!="), Just("eq"), Just("ne")],
            arb_port()
        )
            .prop_map(|(k, o, p)| format!("{k} {o} {p}")),
        (
            prop_oneof![Just("sport"), Just("dport")],
            prop_oneof![
                Just("<"),
                Just(">"),
                Just("<="),
                Just(">="),
                Just("lt"),
                Just("ge")
            ],
            0u16..=65535
        )
            .prop_map(|(k, o, p)| format!("{k} {o} :{p}")),
        (
            prop_oneof![Just("state"), Just("exclude")],
            prop_oneof![
                Just("established"),
                Just("listening"),
                Just("bucket"),
                Just("unknown"),
                Just("all")
            ]
        )
            .prop_map(|(k, s)| format!("{k} {s}")),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("not {e}")),
            inner.clone().prop_map(|e| format!("( {e} )")),
            (
                inner.clone(),
                prop_oneof![Just("and"), Just("or"), Just(""), Just("||"), Just("&&")],
                inner
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        ]
    })
}

proptest! {
    #[test]
    fn the_normal_form_parses_back_to_the_same_filter(
        states in proptest::collection::vec(
            (prop_oneof![Just("state"), Just("exclude")],
             prop_oneof![Just("established"), Just("listening"), Just("bucket"), Just("big"),
                         Just("time-wait"), Just("connected"), Just("all")]),
            0..3),
        expr in proptest::option::of(arb_expr()),
    ) {
        let mut words: Vec<String> = states.iter().flat_map(|(k, s)| [k.to_string(), s.to_string()]).collect();
        // Grouped, so that a state condition at its start stays a condition.
        words.extend(expr.map(|e| format!("( {e} )")));
        let filter = parse(&words).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = parse(&[filter.to_string()]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &filter);
        prop_assert_eq!(again.to_string(), filter.to_string());
    }

    #[test]
    fn states_hold_every_state_a_match_can_be_in(expr in arb_expr()) {
        let filter = parse(&[format!("( {expr} )")]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for state in [TcpState::Established, TcpState::SynSent, TcpState::SynRecv, TcpState::FinWait1,
                      TcpState::FinWait2, TcpState::TimeWait, TcpState::Close, TcpState::CloseWait,
                      TcpState::LastAck, TcpState::Listen, TcpState::Closing] {
            for (local, remote) in [("127.0.0.1:80", "10.0.0.1:443"), ("[::1]:22", "[fd00::1]:5000")] {
                let c = conn(state, local, remote, false);
                if filter.matches(&c) {
                    prop_assert!(filter.states().contains(c.state), "{} matches {:?} outside {:?}", filter, c.state, filter.states());
                }
            }
        }
    }

    #[test]
    fn no_input_makes_the_parser_panic(words in proptest::collection::vec(
        "[ -~]{0,12}|(src|dst|sport|dport|state|not|and|or|db|localhost|http|[()!=<>&|:\\[\\]*/.0-9a-f]){0,6}", 0..8)) {
        if let Ok(filter) = parse(&words) {
            // Whatever parses, prints as something that parses again.
            let again = parse(&[filter.to_string()]);
            prop_assert!(again.is_ok(), "{} from {:?}", filter, words);
            let _ = filter.matches(&est("127.0.0.1:1", "127.0.0.1:2"));
        }
    }
}

#[test]
fn only_port_equalities_joined_by_and_pin_ports() {
    assert_eq!(f("dport = :5000").ports(), Some((0, 5000)));
    assert_eq!(f("sport == 22").ports(), Some((22, 0)));
    assert_eq!(f("sport = :22 and dport = :5000").ports(), Some((22, 5000)));
    assert_eq!(f("state established dport = :443").ports(), Some((0, 443)));
    for text in [
        "dport = :5000 or dport = :5001",
        "dport >= :5000",
        "dport != :5000",
        "not dport = :5000",
        "dport = :5000 and src 10.0.0.0/8",
        "dst :5000",
        "dport = :5000 and dport = :5001",
        "dport = :5000 and state established",
        "dport = :0",
    ] {
        assert_eq!(f(text).ports(), None, "{text}");
    }
    assert_eq!(
        Filter::parse(&["state", "established"]).unwrap().ports(),
        None
    );
    // Every connection the filter selects is on the pinned ports.
    let filter = f("sport = :22 and dport = :5000");
    for (local, remote, want) in [
        ("10.0.0.1:22", "10.0.0.2:5000", true),
        ("10.0.0.1:23", "10.0.0.2:5000", false),
        ("10.0.0.1:22", "10.0.0.2:5001", false),
        ("[::1]:22", "[::1]:5000", true),
    ] {
        assert_eq!(
            filter.matches(&est(local, remote)),
            want,
            "{local} {remote}"
        );
    }
}

#[test]
fn service_names_are_their_tcp_ports() {
    for (input, want) in [
        ("dport = :http", "dport = :80"),
        ("sport = ssh", "sport = :22"),
        ("dport != :www", "dport != :80"),
        ("sport >= :https", "sport >= :443"),
        ("src 127.0.0.1:https", "src 127.0.0.1:443"),
        ("dst [::1]:ssh", "dst [::1]:22"),
        ("dst *:http", "dst *:80"),
    ] {
        assert_eq!(norm(input), want, "{input}");
    }
    assert_eq!(f("dport = :http").ports(), Some((0, 80)));
}

#[test]
fn a_host_name_stands_for_every_address_it_has() {
    for (input, want) in [
        ("dst localhost", "dst 127.0.0.1 or dst [::1]"),
        ("src printer", "src 192.168.1.9"),
        ("src mapped", "src 10.0.0.7"),
        ("src db:http", "src 10.0.0.5:80 or src [fd00::5]:80"),
        (
            "src db:80 and dport = :22",
            "src 10.0.0.5:80 or src [fd00::5]:80 and dport = :22",
        ),
        (
            "dport = :22 and src db",
            "dport = :22 and (src 10.0.0.5 or src [fd00::5])",
        ),
        ("not dst DB", "not (dst 10.0.0.5 or dst [fd00::5])"),
        (
            "state established dst localhost",
            "state established dst 127.0.0.1 or dst [::1]",
        ),
    ] {
        assert_eq!(norm(input), want, "{input}");
        // What it prints parses back to the same filter.
        assert_eq!(f(&norm(input)), f(input), "{input}");
    }
    let local = f("dst localhost");
    assert!(local.matches(&est("127.0.0.1:5000", "127.0.0.1:80")));
    assert!(local.matches(&est("[::1]:5000", "[::1]:80")));
    assert!(!local.matches(&est("127.0.0.1:5000", "127.0.0.2:80")));
    let grouped = f("src db:80 and dport = :22");
    assert!(grouped.matches(&est("[fd00::5]:80", "[fd00::9]:22")));
    assert!(grouped.matches(&est("10.0.0.5:80", "10.0.0.9:22")));
    assert!(!grouped.matches(&est("10.0.0.5:80", "10.0.0.9:23")));
    assert!(!grouped.matches(&est("10.0.0.6:80", "10.0.0.9:22")));
}

#[test]
fn parse_with_says_what_each_host_name_stood_for_once() {
    let (filter, resolved) =
        Filter::parse_with(&["src db or dst db or dst localhost:ssh"], names()).unwrap();
    assert_eq!(
        filter.to_string(),
        "src 10.0.0.5 or src [fd00::5] or (dst 10.0.0.5 or dst [fd00::5]) or (dst 127.0.0.1:22 or dst [::1]:22)"
    );
    let notes: Vec<String> = resolved.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        [
            "'db' is 10.0.0.5, fd00::5 (hosts text)",
            "'localhost' is 127.0.0.1, ::1 (loopback)"
        ]
    );
    let (_, none) = Filter::parse_with(&["dport = :http"], names()).unwrap();
    assert!(none.is_empty());
}
