//! Property tests: what we encode decodes to what we meant, what the kernel
//! could send parses to what it meant, and no input makes the parser panic
//! or loop.

use proptest::collection::vec;
use proptest::prelude::*;

use super::wire::{ack, attr, decode_requests, diag_payload, done, nlmsg, Record};
use crate::{
    encode_destroy, encode_dump, parse_datagram, DumpRequest, Family, Header, InetDiagMsg, Reply,
    SockId, TcpInfo, TcpState, INET_DIAG_NOCOOKIE, INET_DIAG_REQ_BYTECODE, NLMSG_HDRLEN, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_REQUEST, REQ_V2_LEN, SOCK_DESTROY, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK,
};

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::Inet), Just(Family::Inet6)]
}

prop_compose! {
    fn sock_id()(
        sport in any::<u16>(),
        dport in any::<u16>(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        ifindex in any::<u32>(),
        cookie in any::<u64>(),
    ) -> SockId {
        SockId { sport, dport, src, dst, ifindex, cookie }
    }
}

prop_compose! {
    fn dump_request()(
        family in family(),
        ext in any::<u8>(),
        states in any::<u32>(),
        bytecode in proptest::option::of(vec(any::<u8>(), 0..300)),
    ) -> DumpRequest {
        DumpRequest { family, ext, states, bytecode, sport: 0, dport: 0 }
    }
}

// A record's fixed part, with a family we speak.
prop_compose! {
    fn record()(
        family in family(),
        state in any::<u8>(),
        timer in any::<u8>(),
        retrans in any::<u8>(),
        id in sock_id(),
        words in any::<[u32; 5]>(),
    ) -> Record {
        let [expires, rqueue, wqueue, uid, inode] = words;
        Record { family: family.raw(), state, timer, retrans, id, expires, rqueue, wqueue, uid, inode }
    }
}

/// A record with the attributes we read, in any order, among ones we skip.
#[derive(Clone, Debug)]
struct Attrs {
    shutdown: Option<u8>,
    v6only: Option<u8>,
    tcp_info: Option<Vec<u8>>,
    unknown: Vec<(u16, Vec<u8>)>,
}

prop_compose! {
    fn attrs()(
        shutdown in proptest::option::of(any::<u8>()),
        v6only in proptest::option::of(any::<u8>()),
        tcp_info in proptest::option::of(vec(any::<u8>(), 0..300)),
        // Types past INET_DIAG_MAX today, so never one we read.
        unknown in vec((32u16..0x3fff, vec(any::<u8>(), 0..20)), 0..4),
    ) -> Attrs {
        Attrs { shutdown, v6only, tcp_info, unknown }
    }
}

impl Attrs {
    fn encode(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = self.unknown.iter().map(|(k, v)| attr(*k, v)).collect();
        // Known attributes go between the unknown ones, not only after them.
        if let Some(s) = self.shutdown {
            out.insert(out.len() / 2, attr(8, &[s]));
        }
        if let Some(v) = self.v6only {
            out.insert(0, attr(11, &[v]));
        }
        if let Some(info) = &self.tcp_info {
            out.push(attr(2, info));
        }
        out
    }

    fn expect(&self, r: &Record) -> InetDiagMsg {
        InetDiagMsg {
            family: Family::from_raw(r.family).unwrap(),
            state: TcpState::from_raw(r.state),
            timer: r.timer,
            retrans: r.retrans,
            id: r.id,
            expires: r.expires,
            rqueue: r.rqueue,
            wqueue: r.wqueue,
            uid: r.uid,
            inode: r.inode,
            shutdown: self.shutdown,
            v6only: self.v6only.map(|v| v != 0),
            tcp_info: self
                .tcp_info
                .as_deref()
                .map(|b| Box::new(TcpInfo::parse(b))),
        }
    }
}

/// One message a kernel could send, and what it means.
fn reply() -> impl Strategy<Value = (Vec<u8>, Header, Reply)> {
    let header = |bytes: &[u8]| Header {
        len: u32::from_ne_bytes(bytes[..4].try_into().unwrap()),
        kind: u16::from_ne_bytes(bytes[4..6].try_into().unwrap()),
        flags: u16::from_ne_bytes(bytes[6..8].try_into().unwrap()),
        seq: u32::from_ne_bytes(bytes[8..12].try_into().unwrap()),
        pid: 0x1234,
    };
    prop_oneof![
        (any::<u32>(), record(), attrs()).prop_map(move |(seq, r, a)| {
            let bytes = nlmsg(SOCK_DIAG_BY_FAMILY, 2, seq, &diag_payload(&r, &a.encode()));
            let h = header(&bytes);
            (bytes, h, Reply::Record(a.expect(&r)))
        }),
        (any::<u32>(), 0..4096i32).prop_map(move |(seq, errno)| {
            let bytes = ack(seq, errno);
            let h = header(&bytes);
            (bytes, h, Reply::Ack { errno })
        }),
        (any::<u32>(), 0..4096i32).prop_map(move |(seq, errno)| {
            let bytes = done(seq, errno);
            let h = header(&bytes);
            (bytes, h, Reply::Done { errno })
        }),
        (any::<u32>(), 5u16..0xffff, vec(any::<u8>(), 0..40))
            .prop_filter("not a type we read", |(_, k, _)| {
                *k != SOCK_DIAG_BY_FAMILY && *k != TCPDIAG_GETSOCK
            })
            .prop_map(move |(seq, kind, payload)| {
                let bytes = nlmsg(kind, 0, seq, &payload);
                let h = header(&bytes);
                (bytes, h, Reply::Other)
            }),
    ]
}

/// A datagram of several messages.
fn datagram() -> impl Strategy<Value = (Vec<u8>, Vec<(Header, Reply)>)> {
    vec(reply(), 1..6).prop_map(|parts| {
        let mut bytes = Vec::new();
        let mut meaning = Vec::new();
        for (b, h, r) in parts {
            bytes.extend_from_slice(&b);
            meaning.push((h, r));
        }
        (bytes, meaning)
    })
}

/// Drive the parser over `bytes`, failing if it yields more messages than
/// the bytes could hold (each takes 16 bytes at least; an error ends it).
fn parse_bounded(bytes: &[u8]) -> Vec<Result<(Header, Reply), crate::Error>> {
    let bound = bytes.len() / NLMSG_HDRLEN + 1;
    let items: Vec<_> = parse_datagram(bytes).take(bound + 1).collect();
    assert!(
        items.len() <= bound,
        "{} messages from {} bytes",
        items.len(),
        bytes.len()
    );
    if let Some(pos) = items.iter().position(Result::is_err) {
        assert_eq!(pos, items.len() - 1, "messages after an error");
    }
    items
}

proptest! {
    #[test]
    fn destroy_round_trips(family in family(), id in sock_id(), seq in any::<u32>()) {
        let mut out = Vec::new();
        encode_destroy(family, &id, seq, &mut out);
        let reqs = decode_requests(&out);
        prop_assert_eq!(reqs.len(), 1);
        let req = &reqs[0];
        prop_assert_eq!(req.header, Header {
            len: (NLMSG_HDRLEN + REQ_V2_LEN) as u32,
            kind: SOCK_DESTROY,
            flags: NLM_F_REQUEST | NLM_F_ACK,
            seq,
            pid: 0,
        });
        prop_assert_eq!((req.family, req.protocol, req.ext, req.pad), (family.raw(), 6, 0, 0));
        prop_assert_eq!(req.states, u32::MAX);
        prop_assert_eq!(req.id, id);
        prop_assert!(req.attrs.is_empty());
    }

    #[test]
    fn destroy_batches_round_trip(targets in vec((family(), sock_id()), 0..20), first in any::<u32>()) {
        let mut out = Vec::new();
        for (i, (family, id)) in targets.iter().enumerate() {
            encode_destroy(*family, id, first.wrapping_add(i as u32), &mut out);
        }
        let reqs = decode_requests(&out);
        prop_assert_eq!(reqs.len(), targets.len());
        for (i, (req, (family, id))) in reqs.iter().zip(&targets).enumerate() {
            prop_assert_eq!(req.header.seq, first.wrapping_add(i as u32));
            prop_assert_eq!(req.family, family.raw());
            prop_assert_eq!(req.id, *id);
        }
    }

    #[test]
    fn dump_round_trips(request in dump_request(), seq in any::<u32>()) {
        let mut out = Vec::new();
        encode_dump(&request, seq, &mut out).unwrap();
        prop_assert_eq!(out.len() % 4, 0);
        let reqs = decode_requests(&out);
        prop_assert_eq!(reqs.len(), 1);
        let req = &reqs[0];
        prop_assert_eq!(req.header.len as usize, out.len());
        prop_assert_eq!(req.header.kind, SOCK_DIAG_BY_FAMILY);
        prop_assert_eq!(req.header.flags, NLM_F_REQUEST | NLM_F_DUMP);
        prop_assert_eq!(req.header.seq, seq);
        prop_assert_eq!(req.header.pid, 0);
        prop_assert_eq!((req.family, req.protocol, req.ext, req.pad), (request.family.raw(), 6, request.ext, 0));
        prop_assert_eq!(req.states, request.states);
        prop_assert_eq!(req.id, SockId {
            sport: 0, dport: 0, src: [0; 16], dst: [0; 16], ifindex: 0, cookie: INET_DIAG_NOCOOKIE,
        });
        let want: Vec<(u16, Vec<u8>)> = request.bytecode.iter().map(|b| (INET_DIAG_REQ_BYTECODE, b.clone())).collect();
        prop_assert_eq!(&req.attrs, &want);
    }

    #[test]
    fn replies_parse_to_what_they_mean((bytes, meaning) in datagram()) {
        let parsed: Vec<(Header, Reply)> = parse_bounded(&bytes)
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed, meaning);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        parse_bounded(&bytes);
    }

    #[test]
    fn arbitrary_headers_never_panic(
        // Plausible headers over random payloads reach deeper than random bytes.
        parts in vec((0u32..200, prop_oneof![Just(2u16), Just(3), Just(20), any::<u16>()], vec(any::<u8>(), 0..120)), 1..5),
    ) {
        let mut bytes = Vec::new();
        for (len, kind, payload) in parts {
            bytes.extend_from_slice(&len.to_ne_bytes());
            bytes.extend_from_slice(&kind.to_ne_bytes());
            bytes.extend_from_slice(&[0; 10]);
            bytes.extend_from_slice(&payload);
        }
        parse_bounded(&bytes);
    }

    #[test]
    fn truncations_fail_only_at_the_cut((bytes, meaning) in datagram(), cut in any::<prop::sample::Index>()) {
        let cut = cut.index(bytes.len() + 1);
        let items = parse_bounded(&bytes[..cut]);
        // Every message wholly before the cut still parses to what it meant.
        let mut end = 0;
        for (i, (header, reply)) in meaning.iter().enumerate() {
            let len = header.len as usize;
            if end + len > cut {
                break;
            }
            match &items[i] {
                Ok(parsed) => prop_assert_eq!(parsed, &(*header, reply.clone())),
                Err(e) => prop_assert!(false, "message {} before the cut failed: {}", i, e),
            }
            end += (len + 3) & !3;
        }
    }

    #[test]
    fn mutations_never_panic(
        (bytes, _) in datagram(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = bytes;
        for (at, value) in flips {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        parse_bounded(&bytes);
    }
}
