//! "Did you mean ...?": the filter keywords and state names closest to a
//! word that is neither, by edit distance.

use std::fmt;

/// The words a condition starts with, and the joining words, as `ss` spells
/// them (`autobound` included: ss knows it, though tcpdrop refuses it).
pub(super) const KEYWORDS: &[&str] = &[
    "src",
    "dst",
    "sport",
    "dport",
    "state",
    "exclude",
    "not",
    "and",
    "or",
    "autobound",
];

/// The state names `state` (and the command's `-s`) read, groups
/// included, as ss spells them.
pub const STATE_WORDS: &[&str] = &[
    "established",
    "syn-sent",
    "syn-recv",
    "fin-wait-1",
    "fin-wait-2",
    "time-wait",
    "closed",
    "close-wait",
    "last-ack",
    "listening",
    "closing",
    "all",
    "connected",
    "synchronized",
    "bucket",
    "big",
];

/// At most this many edits make a word a typo of another.
const MAX_EDITS: usize = 2;

/// A word that is not a filter keyword but nearly is: `dprot` for `dport`.
///
/// Its [`Display`](fmt::Display) is the message: `unknown word 'dprot' in
/// the filter: did you mean dport?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Typo {
    /// The word as written.
    pub word: String,
    /// The keywords it is closest to (several when they are equally close).
    pub meant: Vec<&'static str>,
    /// How many edits away they are (an insertion, a deletion, a changed
    /// character or two neighbours swapped each count one).
    pub edits: usize,
}

impl Typo {
    /// Whether the word is clearly a misspelt keyword rather than something
    /// else (a host name): it keeps more than half of its letters.
    pub fn is_clear(&self) -> bool {
        self.edits.saturating_mul(2) < self.word.chars().count()
    }
}

impl fmt::Display for Typo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown word '{}' in the filter: did you mean {}?",
            self.word,
            self.meant.join(" or ")
        )
    }
}

/// The filter keyword(s) `word` most likely misspells (`src`, `dst`,
/// `sport`, `dport`, `state`, `exclude`, `not`, `and`, `or`, `autobound`):
/// those at most two edits away, and fewer edits than `word` has
/// characters; `None` for a keyword itself or a word far from all.
pub fn keyword_typo(word: &str) -> Option<Typo> {
    let (edits, meant) = closest(word, KEYWORDS)?;
    Some(Typo {
        word: word.to_string(),
        meant,
        edits,
    })
}

/// The candidates closest to `word` (any case), and how many edits away;
/// `None` if `word` is one of them or none is close enough.
pub(super) fn closest(
    word: &str,
    candidates: &[&'static str],
) -> Option<(usize, Vec<&'static str>)> {
    let word = word.to_ascii_lowercase();
    let len = word.chars().count();
    let mut best: Option<(usize, Vec<&'static str>)> = None;
    for &candidate in candidates {
        let edits = distance(&word, candidate);
        if edits == 0 {
            return None;
        }
        if edits > MAX_EDITS || edits >= len {
            continue;
        }
        match &mut best {
            Some((least, words)) if *least == edits => words.push(candidate),
            Some((least, _)) if *least < edits => {}
            _ => best = Some((edits, vec![candidate])),
        }
    }
    best
}

/// The optimal string alignment distance: Levenshtein's, with a swap of
/// two neighbours counted as one edit (`dprot` is one from `dport`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the table: two back, one back, this one.
    let mut two: Vec<usize> = vec![0; b.len().saturating_add(1)];
    let mut one: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len().saturating_add(1)];
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = row.first_mut() {
            *first = i.saturating_add(1);
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let get = |r: &Vec<usize>, k: usize| r.get(k).copied().unwrap_or(usize::MAX);
            let mut d = (get(&one, j.saturating_add(1)).saturating_add(1))
                .min(get(&row, j).saturating_add(1))
                .min(get(&one, j).saturating_add(cost));
            if i > 0
                && j > 0
                && a.get(i.wrapping_sub(1)) == Some(cb)
                && b.get(j.wrapping_sub(1)) == Some(ca)
            {
                d = d.min(get(&two, j.wrapping_sub(1)).saturating_add(1));
            }
            if let Some(slot) = row.get_mut(j.saturating_add(1)) {
                *slot = d;
            }
        }
        std::mem::swap(&mut two, &mut one);
        std::mem::swap(&mut one, &mut row);
    }
    one.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        for (a, b, d) in [
            ("dport", "dport", 0),
            ("dprot", "dport", 1),
            ("dpot", "dport", 1),
            ("dpoort", "dport", 1),
            ("dpart", "dport", 1),
            ("drpot", "dport", 2),
            ("", "src", 3),
            ("src", "", 3),
            ("ro", "or", 1),
            ("ca", "abc", 3),
        ] {
            assert_eq!(distance(a, b), d, "{a} {b}");
            assert_eq!(distance(b, a), d, "{b} {a}");
        }
    }

    #[test]
    fn typos_name_the_closest_keywords() {
        let meant = |w: &str| keyword_typo(w).map(|t| t.meant);
        assert_eq!(meant("dprot"), Some(vec!["dport"]));
        assert_eq!(meant("DPROT"), Some(vec!["dport"]));
        assert_eq!(meant("stat"), Some(vec!["state"]));
        assert_eq!(meant("exlude"), Some(vec!["exclude"]));
        assert_eq!(meant("ro"), Some(vec!["or"]));
        assert_eq!(meant("port"), Some(vec!["sport", "dport"]));
        assert_eq!(meant("autobond"), Some(vec!["autobound"]));
        // Keywords themselves, and words far from all of them.
        for word in ["dport", "or", "db", "x", "localhost", "10.0.0.1", ""] {
            assert_eq!(meant(word), None, "{word}");
        }
        assert_eq!(
            keyword_typo("dprot").unwrap().to_string(),
            "unknown word 'dprot' in the filter: did you mean dport?"
        );
        assert_eq!(
            keyword_typo("port").unwrap().to_string(),
            "unknown word 'port' in the filter: did you mean sport or dport?"
        );
    }

    #[test]
    fn a_clear_typo_keeps_more_than_half_its_letters() {
        assert!(keyword_typo("dprot").unwrap().is_clear());
        assert!(keyword_typo("stat").unwrap().is_clear());
        // Two edits in a short word: as likely a host name.
        assert!(!keyword_typo("dns").unwrap().is_clear());
        assert!(!keyword_typo("host").unwrap().is_clear());
    }

    #[test]
    fn state_names() {
        assert_eq!(
            closest("establishd", STATE_WORDS),
            Some((1, vec!["established"]))
        );
        assert_eq!(
            closest("time_wait", STATE_WORDS),
            Some((1, vec!["time-wait"]))
        );
        assert_eq!(closest("listening", STATE_WORDS), None);
        assert_eq!(closest("zzz", STATE_WORDS), None);
    }
}
