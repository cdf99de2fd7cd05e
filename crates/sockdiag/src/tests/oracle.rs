//! A second opinion: rust-netlink's `netlink-packet-sock-diag` must read our
//! requests as we meant them, and we must read its replies as it meant them.
//!
//! Its `SockDiagMessage` decides request or response by message type alone
//! and takes every `SOCK_DIAG_BY_FAMILY` payload for a response (it is a
//! client library), and `SOCK_DESTROY` is not a type it deserializes; so our
//! requests are checked with its lower-level parts instead: `NetlinkBuffer`,
//! `NetlinkHeader`, `InetRequest` and `NlasIterator`/`DefaultNla`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroI32;
use std::time::Duration;

use netlink_packet_core::{
    DefaultNla, DoneMessage, ErrorMessage, NetlinkBuffer, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, Nla as _, NlasIterator, Parseable,
};
use netlink_packet_sock_diag::inet::{
    nlas::Nla, InetRequest, InetResponse, InetResponseHeader, SocketId, Timer,
};
use netlink_packet_sock_diag::SockDiagMessage;
use proptest::collection::vec;
use proptest::prelude::*;

use crate::{
    encode_destroy, encode_dump, parse_datagram, DumpRequest, Family, InetDiagMsg, Reply, SockId,
    TcpInfo, TcpState, INET_DIAG_NOCOOKIE, INET_DIAG_REQ_BYTECODE,
};

/// `idiag_cookie` as the kernel (and the oracle) stores it: two host-order
/// words, the low half first.
fn cookie_bytes(cookie: u64) -> [u8; 8] {
    let mut out = [0; 8];
    out[..4].copy_from_slice(&(cookie as u32).to_ne_bytes());
    out[4..].copy_from_slice(&((cookie >> 32) as u32).to_ne_bytes());
    out
}

fn oracle_addr(family: Family, raw: [u8; 16]) -> IpAddr {
    match family {
        Family::Inet => IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3])),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::from(raw)),
    }
}

fn oracle_id(family: Family, id: &SockId) -> SocketId {
    SocketId {
        source_port: id.sport,
        destination_port: id.dport,
        source_address: oracle_addr(family, id.src),
        destination_address: oracle_addr(family, id.dst),
        interface_id: id.ifindex,
        cookie: cookie_bytes(id.cookie),
    }
}

/// Our request, as the oracle reads it: header, request, attributes.
fn oracle_read(bytes: &[u8]) -> (NetlinkHeader, InetRequest, Vec<DefaultNla>) {
    let buf = NetlinkBuffer::new_checked(&bytes).expect("a netlink message");
    assert_eq!(buf.length() as usize, bytes.len(), "one message");
    let header = NetlinkHeader::parse(&buf).expect("nlmsghdr");
    let payload = buf.payload();
    let request = InetRequest::parse(payload).expect("inet_diag_req_v2");
    let attrs = NlasIterator::new(&payload[56..])
        .map(|nla| DefaultNla::parse(&nla.expect("attribute")).expect("attribute"))
        .collect();
    (header, request, attrs)
}

/// The state bits the oracle knows (it drops 0, 12 and up when parsing).
const ORACLE_STATES: u32 = 0xffe;

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

/// Our `SockId`, as it reads once the oracle's `SocketId` has been through
/// the wire: an IPv4 address keeps only its first four bytes.
fn as_seen(family: Family, id: &SockId) -> SockId {
    let mut id = *id;
    if family == Family::Inet {
        id.src[4..].fill(0);
        id.dst[4..].fill(0);
    }
    id
}

proptest! {
    #[test]
    fn the_oracle_reads_our_dump_requests(
        family in family(),
        ext in any::<u8>(),
        states in any::<u32>(),
        bytecode in proptest::option::of(vec(any::<u8>(), 0..64)),
        seq in any::<u32>(),
    ) {
        let request = DumpRequest { family, ext, states, bytecode: bytecode.clone(), sport: 0, dport: 0 };
        let mut out = Vec::new();
        encode_dump(&request, seq, &mut out).unwrap();
        let (header, req, attrs) = oracle_read(&out);
        prop_assert_eq!(header.length as usize, out.len());
        prop_assert_eq!(header.message_type, netlink_packet_sock_diag::SOCK_DIAG_BY_FAMILY);
        prop_assert_eq!(header.flags, netlink_packet_core::NLM_F_REQUEST | netlink_packet_core::NLM_F_DUMP);
        prop_assert_eq!(header.sequence_number, seq);
        prop_assert_eq!(header.port_number, 0);
        prop_assert_eq!(req.family, family.raw());
        prop_assert_eq!(req.protocol, netlink_packet_sock_diag::IPPROTO_TCP);
        prop_assert_eq!(req.extensions.bits(), ext);
        prop_assert_eq!(req.states.bits(), states & ORACLE_STATES);
        prop_assert_eq!(req.socket_id, oracle_id(family, &SockId {
            sport: 0, dport: 0, src: [0; 16], dst: [0; 16], ifindex: 0, cookie: INET_DIAG_NOCOOKIE,
        }));
        let want: Vec<DefaultNla> = bytecode
            .into_iter()
            .map(|b| DefaultNla::new(INET_DIAG_REQ_BYTECODE, b))
            .collect();
        prop_assert_eq!(attrs, want);
    }

    #[test]
    fn the_oracle_reads_our_destroy_requests(family in family(), id in sock_id(), seq in any::<u32>()) {
        let mut out = Vec::new();
        encode_destroy(family, &id, seq, &mut out);
        let (header, req, attrs) = oracle_read(&out);
        prop_assert_eq!(header.message_type, netlink_packet_sock_diag::SOCK_DESTROY);
        prop_assert_eq!(header.flags, netlink_packet_core::NLM_F_REQUEST | netlink_packet_core::NLM_F_ACK);
        prop_assert_eq!(header.sequence_number, seq);
        prop_assert_eq!(req.family, family.raw());
        prop_assert_eq!(req.states.bits(), ORACLE_STATES);
        prop_assert_eq!(req.socket_id, oracle_id(family, &as_seen(family, &id)));
        prop_assert!(attrs.is_empty());
    }

    #[test]
    fn we_read_the_oracles_replies(
        family in family(),
        state in 1u8..=12,
        timer in 0u8..=4,
        retrans in any::<u8>(),
        expires in any::<u32>(),
        id in sock_id(),
        queues in any::<[u32; 4]>(),
        shutdown in proptest::option::of(0u8..=3),
        v6only in proptest::option::of(any::<bool>()),
        tcp_info in proptest::option::of(vec(any::<u8>(), 0..260)),
        unknown in proptest::option::of(vec(any::<u8>(), 0..12)),
        seq in any::<u32>(),
    ) {
        let expires_ms = Duration::from_millis(expires.into());
        let oracle_timer = match timer {
            1 => Some(Timer::Retransmit(expires_ms, retrans)),
            2 => Some(Timer::KeepAlive(expires_ms)),
            3 => Some(Timer::TimeWait),
            4 => Some(Timer::Probe(expires_ms)),
            _ => None,
        };
        let [rqueue, wqueue, uid, inode] = queues;
        let mut nlas = Vec::new();
        if let Some(bytes) = &unknown {
            nlas.push(Nla::Other(DefaultNla::new(0x30, bytes.clone())));
        }
        nlas.extend(shutdown.map(Nla::Shutdown));
        nlas.extend(v6only.map(Nla::SkV6Only));
        nlas.extend(tcp_info.clone().map(Nla::TcpInfo));
        let response = InetResponse {
            header: InetResponseHeader {
                family: family.raw(),
                state,
                timer: oracle_timer,
                socket_id: oracle_id(family, &id),
                recv_queue: rqueue,
                send_queue: wqueue,
                uid,
                inode,
            },
            nlas: nlas.into(),
        };
        let mut header = NetlinkHeader::default();
        header.flags = netlink_packet_core::NLM_F_MULTIPART;
        header.sequence_number = seq;
        let mut message = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(Box::new(response))),
        );
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);

        let (parsed_header, reply) = parse_datagram(&bytes)
            .next()
            .expect("a message")
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parsed_header.seq, seq);
        prop_assert_eq!(parsed_header.len as usize, bytes.len());
        // The oracle writes what each timer carries: no expiry for TIME-WAIT,
        // retransmits only for the retransmit timer.
        let (want_expires, want_retrans) = match timer {
            1 => (expires, retrans),
            2 | 4 => (expires, 0),
            _ => (0, 0),
        };
        let want = InetDiagMsg {
            family,
            state: TcpState::from_raw(state),
            timer,
            retrans: want_retrans,
            id: as_seen(family, &id),
            expires: want_expires,
            rqueue,
            wqueue,
            uid,
            inode,
            shutdown,
            v6only,
            tcp_info: tcp_info.as_deref().map(|b| Box::new(TcpInfo::parse(b))),
        };
        prop_assert_eq!(reply, Reply::Record(want));
    }
}

/// An acknowledgement and a dump's end, as the oracle writes them, in one
/// datagram after a record.
#[test]
fn we_read_the_oracles_acks_and_done() {
    let mut datagram = Vec::new();
    let mut push = |payload: NetlinkPayload<SockDiagMessage>, seq: u32| {
        let mut header = NetlinkHeader::default();
        header.sequence_number = seq;
        let mut message = NetlinkMessage::new(header, payload);
        message.finalize();
        let start = datagram.len();
        datagram.resize(start + message.buffer_len(), 0);
        message.serialize(&mut datagram[start..]);
    };
    let mut ok = ErrorMessage::default();
    ok.header = vec![0; 16];
    push(NetlinkPayload::Error(ok), 1);
    let mut stale = ErrorMessage::default();
    stale.code = NonZeroI32::new(-116);
    push(NetlinkPayload::Error(stale), 2);
    let mut eperm = ErrorMessage::default();
    eperm.code = NonZeroI32::new(-1);
    eperm.header = vec![0xab; 72];
    push(NetlinkPayload::Error(eperm), 3);
    push(NetlinkPayload::Done(DoneMessage::default()), 4);
    let mut failed = DoneMessage::default();
    failed.code = -4;
    push(NetlinkPayload::Done(failed), 5);

    let replies: Vec<(u32, Reply)> = parse_datagram(&datagram)
        .map(|m| m.map(|(h, r)| (h.seq, r)).expect("valid"))
        .collect();
    assert_eq!(
        replies,
        [
            (1, Reply::Ack { errno: 0 }),
            (2, Reply::Ack { errno: 116 }),
            (3, Reply::Ack { errno: 1 }),
            (4, Reply::Done { errno: 0 }),
            (5, Reply::Done { errno: 4 }),
        ]
    );
}

/// The oracle's reading of our golden dump request, spelled out once.
#[test]
fn the_oracle_reads_a_tcp_info_dump_as_one() {
    let mut out = Vec::new();
    encode_dump(
        &DumpRequest::tcp(Family::Inet6, crate::ALL_TCP_STATES).with_tcp_info(),
        3,
        &mut out,
    )
    .unwrap();
    let (_, req, _) = oracle_read(&out);
    assert_eq!(
        req.extensions,
        netlink_packet_sock_diag::inet::ExtensionFlags::INFO
    );
    assert!(req
        .states
        .contains(netlink_packet_sock_diag::inet::StateFlags::all()));
    assert_eq!(req.socket_id.cookie, [0xff; 8]);
    assert_eq!(
        req.socket_id.source_address,
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    );
    // `Nla` is in scope for `kind()`: the attribute numbers agree too.
    assert_eq!(Nla::TcpInfo(vec![]).kind(), crate::INET_DIAG_INFO);
}
