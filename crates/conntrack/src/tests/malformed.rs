//! Replies no kernel should send, each of which must end in a clean
//! `Error::Invalid`: no panic, no loop, nothing read past the fault.

use super::golden::{nat_flow, REPLY_V4_NAT};
use crate::{parse_datagram, Error, Flow, Reply};

/// The record of the golden reply (without the `NLMSG_DONE` after it).
fn record() -> Vec<u8> {
    REPLY_V4_NAT[..220].to_vec()
}

/// `record()` with the bytes at `at` replaced by `with`.
fn patched(at: usize, with: &[u8]) -> Vec<u8> {
    let mut r = record();
    r[at..at + with.len()].copy_from_slice(with);
    r
}

/// `record()` with `bytes` inserted at `at` and every enclosing length
/// (`nlmsg_len` and the `nla_len`s at `parents`) grown to match.
fn inserted(at: usize, bytes: &[u8], parents: &[usize]) -> Vec<u8> {
    let mut r = record();
    r.splice(at..at, bytes.iter().copied());
    let grow = bytes.len() as u32;
    let len = u32::from_ne_bytes(r[..4].try_into().unwrap()) + grow;
    r[..4].copy_from_slice(&len.to_ne_bytes());
    for &p in parents {
        let l = u16::from_ne_bytes([r[p], r[p + 1]]) + grow as u16;
        r[p..p + 2].copy_from_slice(&l.to_ne_bytes());
    }
    r
}

/// Offsets in the record: CTA_TUPLE_ORIG at 20, its CTA_TUPLE_IP at 24
/// (V4_SRC at 28, V4_DST at 36), its CTA_TUPLE_PROTO at 44 (PROTO_NUM at
/// 48, SRC_PORT at 56); CTA_TUPLE_REPLY at 72 (its PROTO_NUM's byte at
/// 104); CTA_ZONE at 124; CTA_STATUS at 132; CTA_MARK at 140; CTA_ID at
/// 148; CTA_USE at 156; CTA_TIMEOUT at 164; CTA_PROTOINFO at 172 (its TCP
/// nest at 176, STATE at 180), ending the record at 220.
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("nfgen_family 7", patched(16, &[7])),
        ("nfgenmsg cut to 3 bytes", {
            let mut r = record()[..19].to_vec();
            r[0] = 19;
            r
        }),
        (
            "CTA_TUPLE_ORIG longer than the message",
            patched(20, &[0xff, 0]),
        ),
        ("CTA_TUPLE_ORIG of length 3", patched(20, &[3, 0])),
        ("CTA_TUPLE_IP longer than its parent", patched(24, &[52, 0])),
        ("CTA_TUPLE_IP of length 2", patched(24, &[2, 0])),
        (
            "CTA_IP_V4_SRC longer than CTA_TUPLE_IP",
            patched(28, &[20, 0]),
        ),
        ("CTA_IP_V4_SRC of 3 bytes", patched(28, &[7, 0])),
        (
            "CTA_IP_V4_SRC of 8 bytes",
            inserted(32, &[0, 0, 0, 0], &[20, 24, 28]),
        ),
        ("CTA_IP_V6_SRC in an AF_INET record", patched(30, &[3, 0])),
        ("CTA_TUPLE_IP without its source", patched(30, &[9, 0])),
        (
            "CTA_TUPLE_PROTO without CTA_PROTO_NUM",
            patched(50, &[9, 0]),
        ),
        ("CTA_PROTO_NUM of 2 bytes", patched(48, &[6, 0])),
        ("CTA_PROTO_SRC_PORT of 1 byte", patched(56, &[5, 0])),
        ("a tuple without CTA_TUPLE_IP", patched(26, &[9, 0x80])),
        ("a tuple without CTA_TUPLE_PROTO", patched(46, &[9, 0x80])),
        ("no CTA_TUPLE_ORIG", patched(22, &[99, 0x80])),
        ("no CTA_TUPLE_REPLY", patched(74, &[99, 0x80])),
        ("no CTA_ID", patched(150, &[99, 0])),
        ("CTA_STATUS of 3 bytes", patched(132, &[7, 0])),
        ("CTA_ID of 2 bytes", patched(148, &[6, 0])),
        ("CTA_ZONE of 4 bytes", patched(124, &[8, 0])),
        (
            "CTA_PROTOINFO_TCP longer than CTA_PROTOINFO",
            patched(176, &[48, 0]),
        ),
        ("CTA_PROTOINFO_TCP_STATE of 2 bytes", patched(180, &[6, 0])),
        ("CTA_PROTOINFO_TCP_STATE of 0 bytes", patched(180, &[4, 0])),
        (
            "an attribute header cut short at the end of the record",
            inserted(220, &[5, 0], &[]),
        ),
    ]
}

#[test]
fn malformed_records_end_in_invalid() {
    // The corpus is made from a good record: it must parse before patching.
    assert_eq!(
        parse_datagram(&record()).next().unwrap().unwrap().1,
        Reply::Record(nat_flow())
    );
    for (what, datagram) in corpus() {
        // A bound on the messages seen: more would mean the parser loops.
        let items: Vec<_> = parse_datagram(&datagram).take(8).collect();
        assert_eq!(items.len(), 1, "{what}: {items:?}");
        match &items[0] {
            Err(Error::Invalid(msg)) => assert!(!msg.is_empty(), "{what}"),
            other => panic!("{what}: want Error::Invalid, got {other:?}"),
        }
    }
}

#[test]
fn every_truncation_of_a_record_is_an_error_unless_it_ends_between_optional_attributes() {
    // Cut the record at every length, with nlmsg_len saying so. The result
    // parses only where it still holds both tuples and the id and ends at
    // an attribute's end; anything else is Invalid.
    let whole = record();
    let ends = [156, 164, 172, 220];
    for cut in 0..=whole.len() {
        let mut r = whole[..cut].to_vec();
        if cut >= 4 {
            r[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
        }
        let items: Vec<_> = parse_datagram(&r).take(8).collect();
        if cut == 0 {
            assert!(items.is_empty());
            continue;
        }
        assert_eq!(items.len(), 1, "cut at {cut}");
        match (&items[0], ends.contains(&cut)) {
            (Ok((_, Reply::Record(flow))), true) => {
                assert_eq!(flow.orig, nat_flow().orig, "cut at {cut}");
                assert_eq!(flow.id, nat_flow().id, "cut at {cut}");
            }
            (Err(Error::Invalid(_)), false) => {}
            (other, expected_ok) => {
                panic!("cut at {cut} (ok expected: {expected_ok}): {other:?}")
            }
        }
    }
}

#[test]
fn unknown_attributes_are_skipped_at_every_level() {
    // An unknown nested attribute (type 30) holding garbage, in the record,
    // in a tuple and in CTA_TUPLE_IP: all skipped, nothing else changes.
    let junk = [8, 0, 30, 0x80, 0xff, 0xff, 0xff, 0xff];
    for (at, parents) in [(220, &[][..]), (72, &[20][..]), (44, &[20, 24][..])] {
        let r = inserted(at, &junk, parents);
        let (_, reply) = parse_datagram(&r).next().unwrap().unwrap();
        assert_eq!(reply, Reply::Record(nat_flow()), "junk at {at}");
    }
}

#[test]
fn a_record_of_another_protocol_parses_with_its_ports() {
    // UDP: CTA_PROTO_NUM 17 and no CTA_PROTOINFO.
    let mut r = patched(52, &[17]);
    r[104] = 17; // and the reply tuple's
    r[172..220].fill(0);
    r[172..176].copy_from_slice(&[48, 0, 99, 0]); // an unknown attribute now
    let Reply::Record(flow) = parse_datagram(&r).next().unwrap().unwrap().1 else {
        panic!("not a flow")
    };
    assert!(!flow.is_tcp());
    assert_eq!(flow.orig.protocol, 17);
    assert_eq!(flow.tcp_state, None);
    assert_eq!((flow.orig.sport, flow.orig.dport), (40000, 8080));
}

#[test]
fn error_and_done_messages_are_checked() {
    let msg = |kind: u16, payload: &[u8]| {
        let mut m = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(payload);
        m
    };
    for (what, datagram) in [
        ("NLMSG_ERROR without its code", msg(2, &[])),
        (
            "NLMSG_ERROR with a positive code",
            msg(2, &2i32.to_ne_bytes()),
        ),
        ("NLMSG_DONE with two bytes", msg(3, &[0, 0])),
        ("a record without nfgenmsg", msg(0x100, &[])),
        ("nlmsg_len beyond the datagram", {
            let mut m = msg(3, &[0; 4]);
            m[0] = 40;
            m
        }),
        ("a header cut to 10 bytes", msg(3, &[0; 4])[..10].to_vec()),
    ] {
        let items: Vec<_> = parse_datagram(&datagram).take(8).collect();
        assert_eq!(items.len(), 1, "{what}");
        assert!(
            matches!(items[0], Err(Error::Invalid(_))),
            "{what}: {items:?}"
        );
    }
    let ack = msg(2, &(-2i32).to_ne_bytes());
    assert_eq!(
        parse_datagram(&ack).next().unwrap().unwrap().1,
        Reply::Ack { errno: 2 }
    );
}

#[test]
fn flow_parse_rejects_every_short_payload() {
    let payload = &record()[16..];
    for len in 0..payload.len() {
        let _ = Flow::parse(&payload[..len]); // must not panic
    }
    assert_eq!(Flow::parse(payload).unwrap(), nat_flow());
}
