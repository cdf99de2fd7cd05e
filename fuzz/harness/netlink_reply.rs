//! The netlink reply parser on arbitrary bytes: shared by the
//! `netlink_reply` fuzz target and `crates/sockdiag/tests/corpus.rs`.
//!
//! Whatever the bytes (truncated, oversized or misaligned messages, unknown
//! types, attributes with lying lengths), parsing ends with records or
//! errors: never a panic, never more messages than the bytes can hold.

use sockdiag::{parse_datagram, InetDiagMsg, Reply, NLMSG_HDRLEN};

/// Parse `data` as a datagram and as a bare `inet_diag_msg` payload.
pub fn run(data: &[u8]) {
    datagram(data);
    // The same bytes as one record's payload, and as the payload of a
    // SOCK_DIAG_BY_FAMILY message framed around them.
    let _ = InetDiagMsg::parse(data);
    if let Ok(len) = u32::try_from(data.len() + NLMSG_HDRLEN) {
        let mut framed = Vec::with_capacity(data.len() + NLMSG_HDRLEN);
        framed.extend_from_slice(&len.to_ne_bytes());
        framed.extend_from_slice(&sockdiag::SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        framed.extend_from_slice(&sockdiag::NLM_F_MULTI.to_ne_bytes());
        framed.extend_from_slice(&[0; 8]);
        framed.extend_from_slice(data);
        datagram(&framed);
    }
}

fn datagram(data: &[u8]) {
    let mut messages = 0usize;
    let mut failed = false;
    for message in parse_datagram(data) {
        assert!(!failed, "the iterator went on after an error");
        messages += 1;
        // Each message takes at least a header; an error ends the datagram.
        assert!(
            messages <= data.len() / NLMSG_HDRLEN + 1,
            "{messages} messages out of {} bytes",
            data.len()
        );
        match message {
            Ok((header, reply)) => {
                let len = header.len as usize;
                assert!(len >= NLMSG_HDRLEN && len <= data.len(), "{header:?}");
                if let Reply::Ack { errno } | Reply::Done { errno } = reply {
                    assert!(errno >= 0, "negative errno {errno}");
                }
            }
            Err(err) => {
                // An error names its cause.
                assert!(!err.to_string().is_empty());
                failed = true;
            }
        }
    }
}
