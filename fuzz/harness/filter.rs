//! The `ss` filter language on arbitrary input: shared by the `filter`
//! fuzz target and `crates/tcpdrop/tests/fuzz_corpus.rs`.
//!
//! The first 72 bytes are a `struct inet_diag_msg` (its family forced to
//! `AF_INET` or `AF_INET6` by the low bit of the first byte), turned into a
//! [`Connection`] as a dump would; the rest is the filter's words, split at
//! newlines. A filter that parses must print (`Display`) as words that parse
//! back to the same filter, and must evaluate on the connection without a
//! panic.

use sockdiag::{InetDiagMsg, INET_DIAG_MSG_LEN};
use tcpdrop::filter::Filter;
use tcpdrop::Connection;

/// The connection in the first 72 bytes of `data` (zero-padded), if its
/// state is one a dump shows.
pub fn connection(data: &[u8]) -> Option<Connection> {
    let mut raw = [0u8; INET_DIAG_MSG_LEN];
    let n = data.len().min(INET_DIAG_MSG_LEN);
    raw[..n].copy_from_slice(&data[..n]);
    raw[0] = if raw[0] & 1 == 0 {
        libc::AF_INET as u8
    } else {
        libc::AF_INET6 as u8
    };
    let msg = InetDiagMsg::parse(&raw).expect("72 bytes of a known family always parse");
    let conn = Connection::from_diag(&msg)?;
    // The id a drop would send names the same socket.
    let id = conn.sock_id();
    assert_eq!(
        (id.sport, id.dport, id.cookie),
        (msg.id.sport, msg.id.dport, msg.id.cookie)
    );
    Some(conn)
}

/// Parse the words after the first 72 bytes and evaluate the filter.
pub fn run(data: &[u8]) {
    let conn = connection(data);
    let Some(text) = data.get(INET_DIAG_MSG_LEN..) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let words: Vec<&str> = text.split('\n').collect();
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
    if let Some(conn) = conn {
        let matches = filter.matches(&conn);
        if matches {
            assert!(filter.states().contains(conn.state));
        }
        let _ = filter.matches_like_ss(&conn);
    }
}
