//! Golden bytes: what the kernel reads from us and what it sends back, one
//! field per line. Netlink headers are host-endian (these arrays are for a
//! little-endian host, see `tests.rs`); ctnetlink payloads are big-endian.

use std::net::{IpAddr, Ipv4Addr};

use crate::{
    encode_delete, encode_dump, encode_get, parse_datagram, Family, Flow, FlowKey, Header, Reply,
    Status, TcpState, Tuple, IPPROTO_TCP,
};

#[rustfmt::skip]
pub const DUMP_BOTH: [u8; 20] = [
    // nlmsghdr
    20, 0, 0, 0,                // nlmsg_len: 16 + 4
    0x01, 0x01,                 // nlmsg_type: NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET
    0x01, 0x03,                 // nlmsg_flags: NLM_F_REQUEST | NLM_F_DUMP
    7, 0, 0, 0,                 // nlmsg_seq
    0, 0, 0, 0,                 // nlmsg_pid: 0, the kernel's
    // nfgenmsg
    0,                          // nfgen_family: AF_UNSPEC, both families
    0,                          // version: NFNETLINK_V0
    0, 0,                       // res_id (big-endian): 0
];

#[rustfmt::skip]
pub const DELETE_V4: [u8; 80] = [
    // nlmsghdr
    80, 0, 0, 0,                // nlmsg_len: 16 + 4 + 52 + 8
    0x02, 0x01,                 // nlmsg_type: NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE
    0x05, 0x00,                 // nlmsg_flags: NLM_F_REQUEST | NLM_F_ACK
    9, 0, 0, 0,                 // nlmsg_seq
    0, 0, 0, 0,                 // nlmsg_pid
    // nfgenmsg
    2,                          // nfgen_family: AF_INET, how the kernel reads the tuple
    0,                          // version: NFNETLINK_V0
    0, 0,                       // res_id
    // nlattr CTA_TUPLE_ORIG: without it the request would flush the table
    52, 0,                      // nla_len: 4 + 20 + 28
    0x01, 0x80,                 // nla_type: CTA_TUPLE_ORIG | NLA_F_NESTED
    20, 0,                      //   nla_len: 4 + 8 + 8
    0x01, 0x80,                 //   nla_type: CTA_TUPLE_IP | NLA_F_NESTED
    8, 0,                       //     nla_len: 4 + 4
    1, 0,                       //     nla_type: CTA_IP_V4_SRC
    10, 231, 1, 2,              //     10.231.1.2
    8, 0,                       //     nla_len: 4 + 4
    2, 0,                       //     nla_type: CTA_IP_V4_DST
    10, 231, 2, 2,              //     10.231.2.2
    28, 0,                      //   nla_len: 4 + 8 + 8 + 8
    0x02, 0x80,                 //   nla_type: CTA_TUPLE_PROTO | NLA_F_NESTED
    5, 0,                       //     nla_len: 4 + 1
    1, 0,                       //     nla_type: CTA_PROTO_NUM
    6, 0, 0, 0,                 //     IPPROTO_TCP, 3 bytes of padding
    6, 0,                       //     nla_len: 4 + 2
    2, 0,                       //     nla_type: CTA_PROTO_SRC_PORT
    0x9c, 0x40, 0, 0,           //     40000 (big-endian), padding
    6, 0,                       //     nla_len: 4 + 2
    3, 0,                       //     nla_type: CTA_PROTO_DST_PORT
    0x1f, 0x90, 0, 0,           //     8080 (big-endian), padding
    // nlattr CTA_ID: the kernel refuses (ENOENT) an entry with another id
    8, 0,                       // nla_len: 4 + 4
    12, 0,                      // nla_type: CTA_ID
    0x11, 0x22, 0x33, 0x44,     // 0x11223344 (big-endian)
];

#[rustfmt::skip]
pub const DELETE_ZONE_TAIL: [u8; 8] = [
    // after CTA_TUPLE_ORIG, before CTA_ID, when the entry is not in zone 0
    6, 0,                       // nla_len: 4 + 2
    18, 0,                      // nla_type: CTA_ZONE
    0x01, 0x02, 0, 0,           // zone 0x0102 (big-endian), padding
];

/// A dump part as Linux 6.18 sends it for a masqueraded TCP connection
/// A -> B seen from the router, followed by the end of the dump: captured
/// from the kernel (`nstest::topology` with masquerade), with the port id,
/// the entry id and the timeout replaced by round numbers, and a mark and
/// a zone added where the kernel puts them when a ruleset sets them.
#[rustfmt::skip]
pub const REPLY_V4_NAT: [u8; 240] = [
    // nlmsghdr
    220, 0, 0, 0,               // nlmsg_len: 16 + 4 + 200
    0x00, 0x01,                 // nlmsg_type: NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW
    0x22, 0x00,                 // nlmsg_flags: NLM_F_MULTI | NLM_F_DUMP_FILTERED (by family)
    7, 0, 0, 0,                 // nlmsg_seq
    0x39, 0x30, 0, 0,           // nlmsg_pid: our port id
    // nfgenmsg
    2,                          // nfgen_family: AF_INET
    0,                          // version
    0, 0,                       // res_id
    // CTA_TUPLE_ORIG: A -> B as A sent it
    52, 0, 0x01, 0x80,          // nla_len 52, CTA_TUPLE_ORIG | NLA_F_NESTED
    20, 0, 0x01, 0x80,          //   nla_len 20, CTA_TUPLE_IP | NLA_F_NESTED
    8, 0, 1, 0,                 //     nla_len 8, CTA_IP_V4_SRC
    10, 231, 1, 2,              //     10.231.1.2 (A)
    8, 0, 2, 0,                 //     nla_len 8, CTA_IP_V4_DST
    10, 231, 2, 2,              //     10.231.2.2 (B)
    28, 0, 0x02, 0x80,          //   nla_len 28, CTA_TUPLE_PROTO | NLA_F_NESTED
    5, 0, 1, 0,                 //     nla_len 5, CTA_PROTO_NUM
    6, 0, 0, 0,                 //     IPPROTO_TCP, padding
    6, 0, 2, 0,                 //     nla_len 6, CTA_PROTO_SRC_PORT
    0x9c, 0x40, 0, 0,           //     40000, padding
    6, 0, 3, 0,                 //     nla_len 6, CTA_PROTO_DST_PORT
    0x1f, 0x90, 0, 0,           //     8080, padding
    // CTA_TUPLE_REPLY: B answers the router's masquerading address
    52, 0, 0x02, 0x80,          // nla_len 52, CTA_TUPLE_REPLY | NLA_F_NESTED
    20, 0, 0x01, 0x80,          //   nla_len 20, CTA_TUPLE_IP | NLA_F_NESTED
    8, 0, 1, 0,                 //     nla_len 8, CTA_IP_V4_SRC
    10, 231, 2, 2,              //     10.231.2.2 (B)
    8, 0, 2, 0,                 //     nla_len 8, CTA_IP_V4_DST
    10, 231, 2, 1,              //     10.231.2.1 (R, toward B)
    28, 0, 0x02, 0x80,          //   nla_len 28, CTA_TUPLE_PROTO | NLA_F_NESTED
    5, 0, 1, 0,                 //     nla_len 5, CTA_PROTO_NUM
    6, 0, 0, 0,                 //     IPPROTO_TCP, padding
    6, 0, 2, 0,                 //     nla_len 6, CTA_PROTO_SRC_PORT
    0x1f, 0x90, 0, 0,           //     8080, padding
    6, 0, 3, 0,                 //     nla_len 6, CTA_PROTO_DST_PORT
    0x9c, 0x40, 0, 0,           //     40000, padding
    // CTA_ZONE: only for a zone other than 0, right after the tuples
    6, 0, 18, 0,                // nla_len 6, CTA_ZONE
    0x00, 0x05, 0, 0,           // zone 5, padding
    // CTA_STATUS
    8, 0, 3, 0,                 // nla_len 8, CTA_STATUS
    0x00, 0x00, 0x01, 0x9e,     // SEEN_REPLY|ASSURED|CONFIRMED|SRC_NAT|SRC_NAT_DONE|DST_NAT_DONE
    // CTA_MARK: a dump always sends it
    8, 0, 8, 0,                 // nla_len 8, CTA_MARK
    0, 0, 0, 42,                // 42
    // CTA_ID
    8, 0, 12, 0,                // nla_len 8, CTA_ID
    0xde, 0xad, 0xbe, 0xef,     // 0xdeadbeef
    // CTA_USE: not read, skipped
    8, 0, 11, 0,                // nla_len 8, CTA_USE
    0, 0, 0, 1,                 // 1
    // CTA_TIMEOUT
    8, 0, 7, 0,                 // nla_len 8, CTA_TIMEOUT
    0x00, 0x06, 0x97, 0x80,     // 432000 s: nf_conntrack_tcp_timeout_established
    // CTA_PROTOINFO
    48, 0, 0x04, 0x80,          // nla_len 48, CTA_PROTOINFO | NLA_F_NESTED
    44, 0, 0x01, 0x80,          //   nla_len 44, CTA_PROTOINFO_TCP | NLA_F_NESTED
    5, 0, 1, 0,                 //     nla_len 5, CTA_PROTOINFO_TCP_STATE
    3, 0, 0, 0,                 //     TCP_CONNTRACK_ESTABLISHED, padding
    5, 0, 2, 0,                 //     nla_len 5, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL
    10, 0, 0, 0,                //     10, padding
    5, 0, 3, 0,                 //     nla_len 5, CTA_PROTOINFO_TCP_WSCALE_REPLY
    10, 0, 0, 0,                //     10, padding
    6, 0, 4, 0,                 //     nla_len 6, CTA_PROTOINFO_TCP_FLAGS_ORIGINAL
    0x23, 0x00, 0, 0,           //     flags, mask, padding
    6, 0, 5, 0,                 //     nla_len 6, CTA_PROTOINFO_TCP_FLAGS_REPLY
    0x23, 0x00, 0, 0,           //     flags, mask, padding
    // nlmsghdr of NLMSG_DONE
    20, 0, 0, 0,                // nlmsg_len: 16 + 4
    3, 0,                       // nlmsg_type: NLMSG_DONE
    0x02, 0x00,                 // nlmsg_flags: NLM_F_MULTI
    7, 0, 0, 0,                 // nlmsg_seq
    0x39, 0x30, 0, 0,           // nlmsg_pid
    0, 0, 0, 0,                 // the dump's error: 0, success
];

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

pub fn orig() -> Tuple {
    Tuple {
        src: v4(10, 231, 1, 2),
        sport: 40000,
        dst: v4(10, 231, 2, 2),
        dport: 8080,
        protocol: IPPROTO_TCP,
    }
}

pub fn nat_flow() -> Flow {
    Flow {
        family: Family::Inet,
        orig: orig(),
        reply: Tuple {
            src: v4(10, 231, 2, 2),
            sport: 8080,
            dst: v4(10, 231, 2, 1),
            dport: 40000,
            protocol: IPPROTO_TCP,
        },
        tcp_state: Some(TcpState::Established),
        status: Status(0x19e),
        id: 0xdead_beef,
        zone: 5,
        mark: 42,
        timeout: Some(432_000),
    }
}

#[test]
fn encode_dump_of_both_families() {
    let mut out = Vec::new();
    encode_dump(None, 7, &mut out);
    assert_eq!(out, DUMP_BOTH);
}

#[test]
fn encode_dump_of_one_family_sets_nfgen_family() {
    for (family, raw) in [(Family::Inet, 2), (Family::Inet6, 10)] {
        let mut out = vec![0xee];
        encode_dump(Some(family), 7, &mut out);
        let mut want = vec![0xee];
        want.extend_from_slice(&DUMP_BOTH);
        want[1 + 16] = raw;
        assert_eq!(out, want, "{family:?}, appended after what was there");
    }
}

#[test]
fn encode_delete_by_tuple_and_id() {
    let key = FlowKey {
        orig: orig(),
        zone: 0,
        id: Some(0x1122_3344),
    };
    let mut out = Vec::new();
    encode_delete(&key, 9, &mut out).unwrap();
    assert_eq!(out, DELETE_V4);
}

#[test]
fn encode_delete_names_a_zone_other_than_zero() {
    let key = FlowKey {
        orig: orig(),
        zone: 0x0102,
        id: Some(0x1122_3344),
    };
    let mut out = Vec::new();
    encode_delete(&key, 9, &mut out).unwrap();
    let mut want = DELETE_V4[..72].to_vec();
    want[0] = 88; // nlmsg_len: 80 + 8
    want.extend_from_slice(&DELETE_ZONE_TAIL);
    want.extend_from_slice(&DELETE_V4[72..]);
    assert_eq!(out, want);
}

#[test]
fn encode_delete_without_id_leaves_out_cta_id_only() {
    let key = FlowKey {
        orig: orig(),
        zone: 0,
        id: None,
    };
    let mut out = Vec::new();
    encode_delete(&key, 9, &mut out).unwrap();
    let mut want = DELETE_V4[..72].to_vec();
    want[0] = 72;
    assert_eq!(out, want);
}

#[test]
fn encode_delete_refuses_a_tuple_of_mixed_families_and_appends_nothing() {
    let key = FlowKey {
        orig: Tuple {
            dst: "fd00:2::2".parse().unwrap(),
            ..orig()
        },
        zone: 0,
        id: Some(1),
    };
    let mut out = vec![0xee];
    let result = encode_delete(&key, 9, &mut out);
    assert!(
        matches!(result, Err(crate::Error::Invalid(_))),
        "{result:?}"
    );
    assert_eq!(out, [0xee]);
}

#[test]
fn parse_a_masqueraded_record_and_the_end_of_the_dump() {
    let items: Vec<_> = parse_datagram(&REPLY_V4_NAT)
        .collect::<Result<_, _>>()
        .unwrap();
    let header = |len, kind, flags| Header {
        len,
        kind,
        flags,
        seq: 7,
        pid: 0x3039,
    };
    assert_eq!(
        items,
        [
            (header(220, 0x100, 0x22), Reply::Record(nat_flow())),
            (header(20, 3, 0x02), Reply::Done { errno: 0 }),
        ]
    );
    let flow = nat_flow();
    assert!(flow.status.src_nat());
    assert!(!flow.status.dst_nat());
    assert!(flow.is_tcp());
    assert_eq!(
        flow.key(),
        FlowKey {
            orig: orig(),
            zone: 5,
            id: Some(0xdead_beef)
        }
    );
}

#[test]
fn encode_get_is_the_delete_without_ack_or_id() {
    let mut out = Vec::new();
    encode_get(&orig(), 0, 9, &mut out).unwrap();
    let mut want = DELETE_V4[..72].to_vec();
    want[0] = 72; // nlmsg_len: 16 + 4 + 52
    want[4] = 0x01; // nlmsg_type: ... | IPCTNL_MSG_CT_GET
    want[6] = 0x01; // nlmsg_flags: NLM_F_REQUEST, one answer and no ack
    assert_eq!(out, want);
}
