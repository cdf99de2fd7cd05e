//! Property tests: what we encode decodes to what we meant, what the kernel
//! could send parses to what it meant, and no input makes the parser panic
//! or loop.
//!
//! The test-side halves below (an encoder of records, a decoder of
//! requests) are written from the uapi headers, not from `msg.rs`, so a
//! round trip through them checks the crate against the layout.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::prelude::*;

use crate::{
    encode_delete, encode_tuple, parse_datagram, parse_tuple, AttrWriter, Family, Flow, FlowKey,
    Reply, Status, TcpState, Tuple,
};

/// One `nlattr`: header, payload, zero padding to four bytes.
fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = ((4 + payload.len()) as u16).to_ne_bytes().to_vec();
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

/// A nested `nlattr` holding `parts`, flagged `NLA_F_NESTED` as the kernel
/// does since Linux 5.2.
fn nest(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
    attr(kind | 0x8000, &parts.concat())
}

fn tuple_attrs(t: &Tuple, junk: &[(u16, Vec<u8>)]) -> Vec<Vec<u8>> {
    let (src_kind, dst_kind, src, dst) = match (t.src, t.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => (1, 2, s.octets().to_vec(), d.octets().to_vec()),
        (IpAddr::V6(s), IpAddr::V6(d)) => (3, 4, s.octets().to_vec(), d.octets().to_vec()),
        _ => unreachable!("tuples of one family only"),
    };
    let mut ip = vec![attr(src_kind, &src), attr(dst_kind, &dst)];
    let mut proto = vec![
        attr(1, &[t.protocol]),
        attr(2, &t.sport.to_be_bytes()),
        attr(3, &t.dport.to_be_bytes()),
    ];
    // Unknown attributes (types past every enum today) among known ones.
    for (i, (kind, payload)) in junk.iter().enumerate() {
        let a = attr(*kind, payload);
        match i % 3 {
            0 => ip.insert(1, a),
            1 => proto.insert(0, a),
            _ => proto.push(a),
        }
    }
    vec![nest(1, &ip), nest(2, &proto)]
}

/// A conntrack record as the kernel would send it.
fn record(flow: &Flow, seq: u32, junk: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut attrs = vec![
        nest(1, &tuple_attrs(&flow.orig, junk)),
        nest(2, &tuple_attrs(&flow.reply, &[])),
        attr(3, &flow.status.0.to_be_bytes()),
        attr(8, &flow.mark.to_be_bytes()),
        attr(12, &flow.id.to_be_bytes()),
    ];
    if let Some(timeout) = flow.timeout {
        attrs.push(attr(7, &timeout.to_be_bytes()));
    }
    if let Some(state) = flow.tcp_state {
        attrs.push(nest(
            4,
            &[nest(1, &[attr(1, &[state.raw()]), attr(2, &[7])])],
        ));
    }
    if flow.zone != 0 {
        attrs.push(attr(18, &flow.zone.to_be_bytes()));
    }
    for (kind, payload) in junk {
        attrs.insert(attrs.len() / 2, attr(*kind, payload));
    }
    let body = attrs.concat();
    let len = 16 + 4 + body.len();
    let mut out = (len as u32).to_ne_bytes().to_vec();
    out.extend_from_slice(&0x0100u16.to_ne_bytes()); // IPCTNL_MSG_CT_NEW
    out.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[flow.family.raw(), 0, 0, 0]);
    out.extend_from_slice(&body);
    out
}

/// A request's attributes, decoded: (type without flags, nested?, payload).
fn decode_attrs(mut buf: &[u8]) -> Vec<(u16, bool, Vec<u8>)> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]);
        assert!(len >= 4 && len <= buf.len(), "nla_len {len}");
        out.push((kind & 0x3fff, kind & 0x8000 != 0, buf[4..len].to_vec()));
        let padded = (len + 3) & !3;
        assert!(buf[len..padded].iter().all(|&b| b == 0), "padding not zero");
        buf = &buf[padded..];
    }
    out
}

fn find(attrs: &[(u16, bool, Vec<u8>)], kind: u16) -> Option<Vec<u8>> {
    attrs.iter().find(|a| a.0 == kind).map(|a| a.2.clone())
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::Inet), Just(Family::Inet6)]
}

fn address(family: Family) -> BoxedStrategy<IpAddr> {
    match family {
        Family::Inet => any::<[u8; 4]>()
            .prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)))
            .boxed(),
        Family::Inet6 => any::<[u8; 16]>()
            .prop_map(|b| IpAddr::V6(Ipv6Addr::from(b)))
            .boxed(),
    }
}

fn tuple(family: Family) -> impl Strategy<Value = Tuple> {
    (
        address(family),
        any::<u16>(),
        address(family),
        any::<u16>(),
        any::<u8>(),
    )
        .prop_map(|(src, sport, dst, dport, protocol)| Tuple {
            src,
            sport,
            dst,
            dport,
            protocol,
        })
}

fn flow() -> impl Strategy<Value = Flow> {
    family().prop_flat_map(|family| {
        (
            tuple(family),
            tuple(family),
            proptest::option::of(any::<u8>()),
            any::<u32>(),
            any::<u32>(),
            any::<u16>(),
            any::<u32>(),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(
                move |(orig, reply, state, status, id, zone, mark, timeout)| Flow {
                    family,
                    orig,
                    reply,
                    tcp_state: state.map(TcpState::from_raw),
                    status: Status(status),
                    id,
                    zone,
                    mark,
                    timeout,
                },
            )
    })
}

fn junk() -> impl Strategy<Value = Vec<(u16, Vec<u8>)>> {
    vec((40u16..0x3fff, vec(any::<u8>(), 0..24)), 0..4)
}

proptest! {
    #[test]
    fn a_tuple_survives_our_encoder_and_decoder(
        (family, t) in family().prop_flat_map(|f| (Just(f), tuple(f)))
    ) {
        let mut out = Vec::new();
        encode_tuple(&mut AttrWriter::new(&mut out), &t).unwrap();
        prop_assert_eq!(parse_tuple(&out, family).unwrap(), t);
        // And what we encode is what the test-side encoder writes.
        prop_assert_eq!(out, tuple_attrs(&t, &[]).concat());
    }

    #[test]
    fn a_record_the_kernel_could_send_parses_to_its_flow(
        flow in flow(), seq in any::<u32>(), junk in junk()
    ) {
        let bytes = record(&flow, seq, &junk);
        let items: Vec<_> = parse_datagram(&bytes).collect();
        prop_assert_eq!(items.len(), 1);
        let (header, reply) = items.into_iter().next().unwrap().unwrap();
        prop_assert_eq!(header.seq, seq);
        prop_assert_eq!(reply, Reply::Record(flow));
    }

    #[test]
    fn a_delete_request_carries_the_tuple_zone_and_id(
        flow in flow(), seq in any::<u32>(), with_id in any::<bool>()
    ) {
        let key = FlowKey { id: with_id.then_some(flow.id), ..flow.key() };
        let mut out = Vec::new();
        encode_delete(&key, seq, &mut out).unwrap();
        prop_assert_eq!(u32::from_ne_bytes(out[..4].try_into().unwrap()) as usize, out.len());
        prop_assert_eq!(u16::from_ne_bytes([out[4], out[5]]), 0x0102);
        prop_assert_eq!(u16::from_ne_bytes([out[6], out[7]]), 0x0005);
        prop_assert_eq!(u32::from_ne_bytes(out[8..12].try_into().unwrap()), seq);
        prop_assert_eq!(&out[16..20], &[flow.family.raw(), 0, 0, 0][..]);
        let top = decode_attrs(&out[20..]);
        let orig = top.iter().find(|a| a.0 == 1).unwrap();
        prop_assert!(orig.1, "CTA_TUPLE_ORIG is flagged nested");
        let inner = decode_attrs(&orig.2);
        let ip = decode_attrs(&find(&inner, 1).unwrap());
        let proto = decode_attrs(&find(&inner, 2).unwrap());
        let (src_kind, dst_kind) = match flow.family {
            Family::Inet => (1, 2),
            Family::Inet6 => (3, 4),
        };
        let octets = |a: IpAddr| match a {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        prop_assert_eq!(find(&ip, src_kind).unwrap(), octets(flow.orig.src));
        prop_assert_eq!(find(&ip, dst_kind).unwrap(), octets(flow.orig.dst));
        prop_assert_eq!(find(&proto, 1).unwrap(), vec![flow.orig.protocol]);
        prop_assert_eq!(find(&proto, 2).unwrap(), flow.orig.sport.to_be_bytes().to_vec());
        prop_assert_eq!(find(&proto, 3).unwrap(), flow.orig.dport.to_be_bytes().to_vec());
        prop_assert_eq!(
            find(&top, 18),
            (flow.zone != 0).then(|| flow.zone.to_be_bytes().to_vec())
        );
        prop_assert_eq!(find(&top, 12), with_id.then(|| flow.id.to_be_bytes().to_vec()));
        prop_assert_eq!(find(&top, 2), None, "never the reply tuple");
    }

    #[test]
    fn no_input_makes_the_parser_panic_or_loop(bytes in vec(any::<u8>(), 0..512)) {
        // Each message consumes at least a header, so a datagram holds at
        // most len / 16 + 1 of them before the iterator must stop.
        let n = parse_datagram(&bytes).take(bytes.len() / 16 + 2).count();
        prop_assert!(n <= bytes.len() / 16 + 1);
    }

    #[test]
    fn no_mutation_of_a_real_record_makes_the_parser_panic(
        flow in flow(),
        junk in junk(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = record(&flow, 1, &junk);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let n = parse_datagram(&bytes).take(bytes.len() / 16 + 2).count();
        prop_assert!(n <= bytes.len() / 16 + 1);
    }
}
