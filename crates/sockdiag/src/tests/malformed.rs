//! Replies no kernel should send, each of which must end the datagram with a
//! clean `Error::Invalid`: no panic, no loop, nothing read past the fault.

use super::wire::{ack, attr, cat, diag_payload, done, nlmsg, Record};
use crate::{parse_datagram, Error, InetDiagMsg, Reply, SockId, SOCK_DIAG_BY_FAMILY};

fn record() -> Record {
    Record {
        family: 2,
        state: 1,
        timer: 0,
        retrans: 0,
        id: SockId {
            sport: 1,
            dport: 2,
            src: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ifindex: 0,
            cookie: 5,
        },
        expires: 0,
        rqueue: 0,
        wqueue: 0,
        uid: 0,
        inode: 9,
    }
}

/// A record message whose payload is the record followed by `tail` (which
/// is not padded, so a test can put exactly the bytes it wants there).
fn record_with_tail(tail: &[u8]) -> Vec<u8> {
    let payload = cat(&[&diag_payload(&record(), &[]), tail]);
    let mut out = nlmsg(SOCK_DIAG_BY_FAMILY, 2, 7, &payload);
    out.truncate(16 + payload.len());
    out
}

/// Rewrite `nlmsg_len` of the message at the front of `msg`.
fn with_len(mut msg: Vec<u8>, len: u32) -> Vec<u8> {
    msg[..4].copy_from_slice(&len.to_ne_bytes());
    msg
}

/// The corpus: (what is wrong, datagram, how many good messages precede it).
fn corpus() -> Vec<(&'static str, Vec<u8>, usize)> {
    let good = done(7, 0);
    let rec = nlmsg(SOCK_DIAG_BY_FAMILY, 2, 7, &diag_payload(&record(), &[]));
    vec![
        ("truncated header: 1 byte", vec![20], 0),
        ("truncated header: 4 bytes", 20u32.to_ne_bytes().to_vec(), 0),
        ("truncated header: 10 bytes", good[..10].to_vec(), 0),
        ("truncated header: 15 bytes", good[..15].to_vec(), 0),
        ("nlmsg_len 0", with_len(good.clone(), 0), 0),
        ("nlmsg_len 4", with_len(good.clone(), 4), 0),
        ("nlmsg_len 15", with_len(good.clone(), 15), 0),
        ("nlmsg_len beyond the buffer", with_len(good.clone(), 21), 0),
        ("nlmsg_len u32::MAX", with_len(good.clone(), u32::MAX), 0),
        (
            "second message beyond the buffer",
            cat(&[&good, &with_len(good.clone(), 400)]),
            1,
        ),
        ("misaligned trailing bytes: 1", cat(&[&good, &[0]]), 1),
        ("misaligned trailing bytes: 3", cat(&[&good, &[1, 2, 3]]), 1),
        ("trailing half header", cat(&[&good, &good[..8]]), 1),
        ("NLMSG_ERROR without its int", nlmsg(2, 0, 7, &[]), 0),
        (
            "NLMSG_ERROR with half an int",
            with_len(nlmsg(2, 0, 7, &[0xfe, 0xff, 0, 0]), 18),
            0,
        ),
        (
            "NLMSG_ERROR with a positive code",
            nlmsg(2, 0, 7, &2i32.to_ne_bytes()),
            0,
        ),
        (
            "NLMSG_ERROR with a positive code after an ack",
            cat(&[&ack(1, 0), &nlmsg(2, 0, 2, &1i32.to_ne_bytes())]),
            1,
        ),
        (
            "NLMSG_DONE with a positive code",
            nlmsg(3, 2, 7, &4i32.to_ne_bytes()),
            0,
        ),
        (
            "NLMSG_DONE with two bytes",
            with_len(nlmsg(3, 2, 7, &[0, 0]), 18),
            0,
        ),
        (
            "inet_diag_msg empty",
            nlmsg(SOCK_DIAG_BY_FAMILY, 2, 7, &[]),
            0,
        ),
        (
            "inet_diag_msg of 71 bytes",
            with_len(rec.clone(), 16 + 71),
            0,
        ),
        (
            "inet_diag_msg of family AF_UNIX",
            {
                let mut r = rec.clone();
                r[16] = 1;
                r
            },
            0,
        ),
        (
            "attribute with nla_len 0",
            record_with_tail(&[0, 0, 8, 0]),
            0,
        ),
        (
            "attribute with nla_len 3",
            record_with_tail(&[3, 0, 8, 0]),
            0,
        ),
        (
            "attribute beyond the message",
            record_with_tail(&[9, 0, 8, 0, 1, 0, 0, 0]),
            0,
        ),
        (
            "attribute of 0xffff bytes",
            record_with_tail(&[0xff, 0xff, 2, 0, 1, 0, 0, 0]),
            0,
        ),
        ("attribute header cut to 1 byte", record_with_tail(&[5]), 0),
        (
            "attribute header cut to 3 bytes",
            record_with_tail(&[5, 0, 8]),
            0,
        ),
        (
            "good attribute, then a bad one",
            record_with_tail(&cat(&[&attr(8, &[1]), &[2, 0, 0, 0]])),
            0,
        ),
        (
            "bad record after a good one",
            cat(&[&rec, &record_with_tail(&[0, 0, 0, 0]), &good]),
            1,
        ),
    ]
}

#[test]
fn malformed_replies_end_in_invalid() {
    for (what, datagram, good) in corpus() {
        // A bound on the messages seen: more would mean the parser loops.
        let items: Vec<_> = parse_datagram(&datagram).take(64).collect();
        assert_eq!(items.len(), good + 1, "{what}: {items:?}");
        for item in &items[..good] {
            assert!(item.is_ok(), "{what}: {item:?}");
        }
        match &items[good] {
            Err(Error::Invalid(msg)) => assert!(!msg.is_empty(), "{what}"),
            other => panic!("{what}: want Error::Invalid, got {other:?}"),
        }
    }
}

#[test]
fn the_iterator_stays_finished_after_an_error() {
    let datagram = cat(&[&with_len(done(7, 0), 3), &done(8, 0)]);
    let mut messages = parse_datagram(&datagram);
    assert!(matches!(messages.next(), Some(Err(Error::Invalid(_)))));
    assert!(messages.next().is_none());
    assert!(messages.next().is_none());
}

#[test]
fn an_unpadded_last_message_is_accepted() {
    // nlmsg_len counts no padding and the datagram ends right there: the
    // kernel never does this, but nothing is missing, so it is not an error.
    let mut msg = nlmsg(99, 0, 1, &[1, 2]);
    msg.truncate(18);
    let items: Vec<_> = parse_datagram(&msg).collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap().1, Reply::Other);
}

#[test]
fn inet_diag_msg_parse_rejects_short_payloads() {
    let payload = diag_payload(&record(), &[]);
    for len in 0..payload.len() {
        assert!(
            matches!(InetDiagMsg::parse(&payload[..len]), Err(Error::Invalid(_))),
            "{len} bytes"
        );
    }
    assert!(InetDiagMsg::parse(&payload).is_ok());
}
