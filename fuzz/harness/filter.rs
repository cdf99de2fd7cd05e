//! The `ss` filter language on arbitrary input: shared by the `filter`
//! fuzz target and `crates/ssfilter/tests/fuzz_corpus.rs`.
//!
//! The first 72 bytes are a `struct inet_diag_msg` (its family forced to
//! `AF_INET` or `AF_INET6` by the low bit of the first byte), turned into a
//! [`Row`] as a dump would; the rest is the filter's words, split at
//! newlines. A filter that parses must print (`Display`) as words that parse
//! back to the same filter, and must evaluate on the row without a panic.

use sockdiag::{InetDiagMsg, INET_DIAG_MSG_LEN};
use ssfilter::{Filter, Row};

/// The dump record in the first 72 bytes of `data` (zero-padded).
pub fn record(data: &[u8]) -> InetDiagMsg {
    let mut raw = [0u8; INET_DIAG_MSG_LEN];
    let n = data.len().min(INET_DIAG_MSG_LEN);
    raw[..n].copy_from_slice(&data[..n]);
    raw[0] = if raw[0] & 1 == 0 {
        sockdiag::Family::Inet.raw()
    } else {
        sockdiag::Family::Inet6.raw()
    };
    InetDiagMsg::parse(&raw).expect("72 bytes of a known family always parse")
}

/// The filter's words: what follows the first 72 bytes, split at newlines
/// (`None` when nothing follows or it is not UTF-8).
pub fn words(data: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(data.get(INET_DIAG_MSG_LEN..)?).ok()?;
    Some(text.split('\n').collect())
}

/// Parse the words after the first 72 bytes and evaluate the filter.
pub fn run(data: &[u8]) {
    let row = Row::from_diag(&record(data));
    let Some(words) = words(data) else {
        return;
    };
    let filter = match Filter::parse(&words) {
        Ok(filter) => filter,
        Err(err) => {
            assert!(!err.message().is_empty());
            assert!(err.word() < words.len(), "{err:?} for {words:?}");
            assert!(
                err.offset() <= words[err.word()].len(),
                "{err:?} for {words:?}"
            );
            return;
        }
    };
    let printed = filter.to_string();
    let again = Filter::parse(&[printed.as_str()])
        .unwrap_or_else(|err| panic!("{printed:?} (from {words:?}) does not parse: {err}"));
    assert_eq!(
        again, filter,
        "{printed:?} parses to another filter (from {words:?})"
    );
    assert_eq!(again.to_string(), printed);
    let _ = filter.states();
    let _ = filter.explicit_states();
    let _ = filter.is_empty();
    if let Some(row) = row {
        let matches = filter.matches(&row);
        if matches {
            assert!(filter.states().contains(row.state));
        }
        let _ = filter.matches_like_ss(&row);
    }
}
