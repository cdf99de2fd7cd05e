//! `ssfilter` against `ss` itself: in a namespace full of varied sockets, a
//! filter must select exactly the rows `ss -tanH FILTER` lists.

use nstest::{in_netns, ss_rows_with};
use ssfilter::{Filter, Row, State, StateSet};

use crate::dump::dump;
use crate::population::populate;

/// A row as `ss` writes it: state (or nothing), local end, remote end.
type SsRow = (String, String, String);

/// Our rows for `filter`, chosen by `select`, written as `ss` writes them
/// (no state when `ss` hides its State column: a single state selected).
fn our_rows(
    filter: &Filter,
    states: StateSet,
    select: impl Fn(&Filter, &Row) -> bool,
) -> Vec<SsRow> {
    // ss hides the column when its mask has one bit; an empty mask it
    // replaces by several states.
    let one_state = filter.states().iter().count() == 1;
    let mut rows: Vec<SsRow> = dump(states, None)
        .into_iter()
        .filter(|c| select(filter, c))
        .map(|c| {
            let state = if one_state { "" } else { c.state.ss_name() };
            (state.to_string(), c.local.to_string(), c.remote.to_string())
        })
        .collect();
    rows.sort();
    rows
}

/// How our [`Filter::matches`] should relate to `ss`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The same rows.
    Same,
    /// `ss` hides some rows we select, all of the other address family than
    /// the negated address term: ss's family-blind user-space check.
    SsHides,
    /// A negated address term: `ss` may hide some of our rows, never more.
    SsSubset,
    /// No state is selected: we list nothing, `ss` ignores the empty mask
    /// and lists its default states.
    NoStates,
}

/// Compare `words` with `ss -tanH WORDS`; returns ss's row count.
fn check(words: &[&str], expect: Expect) -> usize {
    let filter = Filter::parse(words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
    let mut args = vec!["-tanH"];
    args.extend_from_slice(words);
    let ss = ss_rows_with(&args);
    let like_ss = our_rows(&filter, StateSet::ALL, Filter::matches_like_ss);
    assert_eq!(
        like_ss, ss,
        "matches_like_ss vs ss for {words:?} ({filter})"
    );
    let ours = our_rows(&filter, filter.states(), Filter::matches);
    match expect {
        Expect::Same => assert_eq!(ours, ss, "matches vs ss for {words:?} ({filter})"),
        Expect::NoStates => {
            assert!(ours.is_empty(), "{words:?} selects no state, but {ours:?}");
        }
        Expect::SsHides | Expect::SsSubset => {
            let hidden: Vec<&SsRow> = ours.iter().filter(|r| !ss.contains(r)).collect();
            assert!(
                ss.iter().all(|r| ours.contains(r)),
                "ss lists rows we do not for {words:?}: ours {ours:?}, ss {ss:?}"
            );
            if expect == Expect::SsHides {
                assert!(
                    !hidden.is_empty(),
                    "ss no longer hides rows for {words:?}: the divergence is gone"
                );
            }
        }
    }
    ss.len()
}

/// Each entry: the filter as ss's words, and how `matches` relates to ss.
const FIXED: &[(&str, Expect)] = &[
    ("", Expect::Same),
    ("state established", Expect::Same),
    ("state listening", Expect::Same),
    ("state time-wait", Expect::Same),
    ("state fin-wait-2", Expect::Same),
    ("state close-wait", Expect::Same),
    ("state syn-recv", Expect::Same),
    ("state closed", Expect::Same),
    ("state connected", Expect::Same),
    ("state synchronized", Expect::Same),
    ("state bucket", Expect::Same),
    ("state big", Expect::Same),
    ("state all", Expect::Same),
    ("state ESTABLISHED state listening", Expect::Same),
    ("exclude listening", Expect::Same),
    ("excl time-wait", Expect::Same),
    ("exclude listening state listening", Expect::Same),
    // ss ignores an empty state mask (filter_states_set(f, 0) is a no-op)
    // and lists the connected states: a drop must not.
    ("state established exclude established", Expect::NoStates),
    ("sport = :80", Expect::Same),
    ("sport == :80", Expect::Same),
    ("sport eq :80", Expect::Same),
    ("sport :80", Expect::Same),
    ("sport 80", Expect::Same),
    ("sport = :0x50", Expect::Same),
    ("dport != :22", Expect::Same),
    ("dport ne :22", Expect::Same),
    ("dport neq :22", Expect::Same),
    ("dport = :0", Expect::Same),
    ("dport = *", Expect::Same),
    ("sport < :1024", Expect::Same),
    ("sport lt :1024", Expect::Same),
    ("sport > :1024", Expect::Same),
    ("sport gt :8080", Expect::Same),
    ("sport <= :443", Expect::Same),
    ("sport le :443", Expect::Same),
    ("sport leq :443", Expect::Same),
    ("sport >= :8080", Expect::Same),
    ("sport ge :8080", Expect::Same),
    ("sport geq :40000", Expect::Same),
    ("dport >= :40000 and dport <= :42000", Expect::Same),
    ("src 127.0.0.1", Expect::Same),
    ("src 127.0.0.1:80", Expect::Same),
    ("src = 127.0.0.0/8", Expect::Same),
    ("src == 127.0.0.0/255.255.0.0", Expect::Same),
    ("src eq 127.1", Expect::Same),
    ("src 127.1/16", Expect::Same),
    ("dst 127.0.0.0/8:80", Expect::Same),
    ("dst 127.0.0.5", Expect::Same),
    ("src 0.0.0.0/0", Expect::Same),
    ("src 0.0.0.0", Expect::Same),
    ("dst 0.0.0.0", Expect::Same),
    ("dst 0.0.0.0/0", Expect::Same),
    ("src [::1]", Expect::Same),
    ("src [::1]:8080", Expect::Same),
    ("src [fd00::/64]", Expect::Same),
    ("src fd00::/64", Expect::Same),
    ("dst [fd00::2]:42000", Expect::Same),
    ("src [::/0]", Expect::Same),
    ("src ::/0", Expect::Same),
    ("dst [::]", Expect::Same),
    ("src [::ffff:127.0.0.1]", Expect::Same),
    ("src [::ffff:0.0.0.0/96]", Expect::Same),
    ("src *", Expect::Same),
    ("dst *", Expect::Same),
    ("src *:22", Expect::Same),
    ("src :22", Expect::Same),
    ("dst any", Expect::Same),
    ("src [::1]:*", Expect::Same),
    ("src 127.0.0.1 and dport = :80", Expect::Same),
    ("src 127.0.0.1 && sport = :40000", Expect::Same),
    ("src 127.0.0.1 & dst 127.0.0.1", Expect::Same),
    ("sport = :80 or sport = :443", Expect::Same),
    ("sport = :80 || sport = :22", Expect::Same),
    ("sport = :80 | dport = :22", Expect::Same),
    ("sport = :80 dport = :40000", Expect::Same),
    ("not sport = :80", Expect::Same),
    ("! sport = :80", Expect::Same),
    ("not ( sport = :80 or sport = :22 )", Expect::Same),
    // ss groups left to right: (80 or 22) and src 127.0.0.1.
    ("sport = :80 or sport = :22 and src 127.0.0.1", Expect::Same),
    (
        "sport = :80 or ( sport = :22 and src 127.0.0.1 )",
        Expect::Same,
    ),
    (
        "state established ( dport = :80 or dport = :22 )",
        Expect::Same,
    ),
    ("state connected src 127.0.0.0/8 or src [::1]", Expect::Same),
    ("exclude listening not src [::1]", Expect::SsSubset),
    ("not dst 127.0.0.0/8", Expect::SsSubset),
    // ss: an IPv4 /0 matches anything in its user-space check, so `not`
    // hides every IPv6 socket, none of which has an IPv4 source.
    ("not src 0.0.0.0/0", Expect::SsHides),
    // ss compares raw bytes: [::1] and fd00:: start with bytes 0 and 0xfd.
    ("not src 0.0.0.0/8", Expect::SsHides),
    ("not dst [::/0]", Expect::SsHides),
];

#[test]
fn fixed_filters_select_what_ss_lists() {
    in_netns(|| {
        let _population = populate();
        let all = check(&[], Expect::Same);
        assert!(all >= 30, "population too small: {all} rows");
        let mut nonempty = 0;
        for (text, expect) in FIXED {
            let words: Vec<&str> = text.split_whitespace().collect();
            let n = check(&words, *expect);
            if *expect == Expect::NoStates {
                assert!(n > 0, "ss no longer ignores an empty state mask");
            }
            if n > 0 && n < all {
                nonempty += 1;
            }
        }
        assert!(FIXED.len() >= 40);
        assert!(
            nonempty >= 60,
            "only {nonempty} filters select a proper subset"
        );
        // One word holding several tokens is split as ss splits it.
        check(&["sport = :80 or sport = :22"], Expect::Same);
    });
}

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 33) as usize % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PORTS: &[&str] = &[
    "0", "22", "80", "443", "1024", "8080", "40000", "40001", "41000", "42000",
];

/// A random expression: its text and whether an address term sits under a
/// negation (where ss's user-space check may hide rows).
fn gen_expr(rng: &mut Rng, depth: usize) -> (String, bool, bool) {
    let r = if depth == 0 { 0 } else { rng.below(10) };
    match r {
        0..=4 => gen_atom(rng),
        5 | 6 => {
            let (e, addr, neg) = gen_expr(rng, depth - 1);
            let not = rng.pick(&["not", "!"]);
            (format!("{not} {e}"), addr, neg || addr)
        }
        7 => {
            let (e, addr, neg) = gen_expr(rng, depth - 1);
            (format!("( {e} )"), addr, neg)
        }
        _ => {
            let (a, a_addr, a_neg) = gen_expr(rng, depth - 1);
            let (b, b_addr, b_neg) = gen_expr(rng, depth - 1);
            let op = rng.pick(&["and", "or", "", "&&", "||", "&", "|"]);
            let text = if op.is_empty() {
                format!("{a} {b}")
            } else {
                format!("{a} {op} {b}")
            };
            (text, a_addr || b_addr, a_neg || b_neg)
        }
    }
}

fn gen_port(rng: &mut Rng) -> String {
    if rng.below(5) == 0 {
        rng.below(65536).to_string()
    } else {
        rng.pick(PORTS).to_string()
    }
}

fn gen_atom(rng: &mut Rng) -> (String, bool, bool) {
    if rng.below(2) == 0 {
        let kw = rng.pick(&["sport", "dport"]);
        let op = rng.pick(&[
            "=", "==", "eq", "", "!=", "ne", "neq", "<", "lt", ">", "gt", "<=", "le", "leq", ">=",
            "ge", "geq",
        ]);
        let port = gen_port(rng);
        let colon = rng.pick(&[":", ""]);
        return (format!("{kw} {op} {colon}{port}"), false, false);
    }
    let kw = rng.pick(&["src", "dst"]);
    let eq = rng.pick(&["", "", "=", "==", "eq"]);
    let v4 = [
        "127.0.0.1",
        "127.0.0.2",
        "127.1.2.3",
        "127.0.0.0/8",
        "127.0.0.0/24",
        "0.0.0.0",
        "0.0.0.0/0",
        "0.0.0.0/8",
        "10.0.0.0/8",
        "127.0.0.0/255.255.255.0",
    ];
    let v6 = [
        "::1",
        "fd00::1",
        "fd00::2",
        "fd00::/64",
        "fd00::/16",
        "::/0",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:0.0.0.0/96",
        "::/8",
    ];
    let with_port = rng.below(3) == 0;
    let port = gen_port(rng);
    let (host, addr) = match rng.below(5) {
        0 | 1 => {
            let a = rng.pick(&v4);
            let host = if with_port {
                format!("{a}:{port}")
            } else {
                a.to_string()
            };
            (host, true)
        }
        2 | 3 => {
            let a = rng.pick(&v6);
            let host = if with_port {
                format!("[{a}]:{port}")
            } else {
                format!("[{a}]")
            };
            (host, true)
        }
        _ => {
            let host = match rng.below(4) {
                0 => "*".to_string(),
                1 => format!("*:{port}"),
                2 => format!(":{port}"),
                _ => "any".to_string(),
            };
            (host, false)
        }
    };
    (format!("{kw} {eq} {host}"), addr, false)
}

#[test]
fn random_filters_select_what_ss_lists() {
    in_netns(|| {
        let _population = populate();
        let all = check(&[], Expect::Same);
        let mut rng = Rng(0x7c9d_11e5_a3b2_4f01);
        let states = [
            "established",
            "listening",
            "time-wait",
            "fin-wait-2",
            "close-wait",
            "connected",
            "synchronized",
            "bucket",
            "big",
            "all",
        ];
        let (mut proper, mut negated) = (0, 0);
        for case in 0..200 {
            let mut text = String::new();
            for _ in 0..rng.below(4).saturating_sub(1) {
                let kw = rng.pick(&["state", "exclude"]);
                let state = rng.pick(&states);
                text.push_str(&format!("{kw} {state} "));
            }
            let (expr, _, neg_addr) = gen_expr(&mut rng, 3);
            text.push_str(&expr);
            let words: Vec<&str> = text.split_whitespace().collect();
            let expect = if Filter::parse(&words).is_ok_and(|f| f.states().is_empty()) {
                Expect::NoStates
            } else if neg_addr {
                negated += 1;
                Expect::SsSubset
            } else {
                Expect::Same
            };
            let n = std::panic::catch_unwind(|| check(&words, expect)).unwrap_or_else(|panic| {
                eprintln!("random case {case}: {text}");
                std::panic::resume_unwind(panic)
            });
            if n > 0 && n < all {
                proper += 1;
            }
        }
        // The generator must produce filters that discriminate.
        assert!(proper >= 50, "only {proper} of 200 select a proper subset");
        assert!(negated >= 10, "only {negated} negate an address");
    });
}

#[test]
fn state_words_and_the_state_column() {
    in_netns(|| {
        let _population = populate();
        let filter = Filter::parse(&["state", "listening"]).expect("parse");
        let conns = dump(StateSet::ALL, None);
        let listeners: Vec<_> = conns.iter().filter(|c| filter.matches(c)).collect();
        assert_eq!(listeners.len(), 6);
        assert!(listeners.iter().all(|c| c.state == State::Listen));
        let mapped = Filter::parse(&["src", "127.0.0.5"]).expect("parse");
        let hits: Vec<_> = conns.iter().filter(|c| mapped.matches(c)).collect();
        assert!(
            hits.iter().any(|c| c.mapped()),
            "an IPv4 term matches the v4-mapped server end: {hits:?}"
        );
    });
}
