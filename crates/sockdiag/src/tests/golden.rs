//! Golden bytes: what the kernel reads from us and what it sends back, one
//! field per line. Netlink is host-endian; these arrays are written for a
//! little-endian host (the `cfg` on this module in `tests.rs`).

use super::wire::cat;
use crate::{
    encode_destroy, encode_dump, encode_dump_both_families, encode_lookup, parse_datagram,
    DumpRequest, Error, Family, Header, InetDiagMsg, Reply, SockId, TcpInfo, TcpState,
    ALL_TCP_STATES,
};

#[rustfmt::skip]
const DUMP_INET: [u8; 72] = [
    // nlmsghdr
    72, 0, 0, 0,                // nlmsg_len: 16 + 56
    20, 0,                      // nlmsg_type: SOCK_DIAG_BY_FAMILY
    0x01, 0x03,                 // nlmsg_flags: NLM_F_REQUEST | NLM_F_DUMP
    7, 0, 0, 0,                 // nlmsg_seq
    0, 0, 0, 0,                 // nlmsg_pid: 0, the kernel's
    // inet_diag_req_v2
    2,                          // sdiag_family: AF_INET
    6,                          // sdiag_protocol: IPPROTO_TCP
    0,                          // idiag_ext: no attributes
    0,                          // pad
    0xfe, 0x1f, 0, 0,           // idiag_states: ALL_TCP_STATES, bits 1..=12
    // inet_diag_sockid: a wildcard
    0, 0,                       // idiag_sport
    0, 0,                       // idiag_dport
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_src
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_dst
    0, 0, 0, 0,                 // idiag_if
    0xff, 0xff, 0xff, 0xff,     // idiag_cookie[0]: INET_DIAG_NOCOOKIE
    0xff, 0xff, 0xff, 0xff,     // idiag_cookie[1]: INET_DIAG_NOCOOKIE
];

#[rustfmt::skip]
const DUMP_INET6_BYTECODE_INFO: [u8; 84] = [
    // nlmsghdr
    84, 0, 0, 0,                // nlmsg_len: 16 + 56 + 12
    20, 0,                      // nlmsg_type: SOCK_DIAG_BY_FAMILY
    0x01, 0x03,                 // nlmsg_flags: NLM_F_REQUEST | NLM_F_DUMP
    0x04, 0x03, 0x02, 0x01,     // nlmsg_seq: 0x01020304
    0, 0, 0, 0,                 // nlmsg_pid
    // inet_diag_req_v2
    10,                         // sdiag_family: AF_INET6
    6,                          // sdiag_protocol: IPPROTO_TCP
    0x02,                       // idiag_ext: 1 << (INET_DIAG_INFO - 1)
    0,                          // pad
    0x02, 0x04, 0, 0,           // idiag_states: ESTABLISHED | LISTEN
    // inet_diag_sockid: a wildcard
    0, 0,                       // idiag_sport
    0, 0,                       // idiag_dport
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_src
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_dst
    0, 0, 0, 0,                 // idiag_if
    0xff, 0xff, 0xff, 0xff,     // idiag_cookie[0]
    0xff, 0xff, 0xff, 0xff,     // idiag_cookie[1]
    // nlattr
    12, 0,                      // nla_len: 4 + 8
    1, 0,                       // nla_type: INET_DIAG_REQ_BYTECODE
    // "sport >= 1024", as ss compiles it
    2, 8, 12, 0,                // inet_diag_bc_op: INET_DIAG_BC_S_GE, yes 8, no 12
    0, 0, 0x00, 0x04,           // inet_diag_bc_op: operand, no = port 1024
];

#[rustfmt::skip]
const DUMP_UNALIGNED_BYTECODE_TAIL: [u8; 12] = [
    // nlattr after the 72 bytes of header and inet_diag_req_v2
    9, 0,                       // nla_len: 4 + 5, padding not counted
    1, 0,                       // nla_type: INET_DIAG_REQ_BYTECODE
    0xa1, 0xa2, 0xa3, 0xa4, 0xa5, // five bytes of "program"
    0, 0, 0,                    // padding to four bytes, counted in nlmsg_len
];

#[test]
fn encode_dump_without_bytecode() {
    let mut out = Vec::new();
    encode_dump(&DumpRequest::tcp(Family::Inet, ALL_TCP_STATES), 7, &mut out).unwrap();
    assert_eq!(out, DUMP_INET);
}

#[test]
fn encode_dump_with_bytecode_and_tcp_info() {
    let request = DumpRequest {
        bytecode: Some(vec![2, 8, 12, 0, 0, 0, 0x00, 0x04]),
        ..DumpRequest::tcp(Family::Inet6, 1 << 1 | 1 << 10).with_tcp_info()
    };
    let mut out = Vec::new();
    encode_dump(&request, 0x0102_0304, &mut out).unwrap();
    assert_eq!(out, DUMP_INET6_BYTECODE_INFO);
}

#[test]
fn encode_dump_pads_an_unaligned_bytecode() {
    let request = DumpRequest {
        bytecode: Some(vec![0xa1, 0xa2, 0xa3, 0xa4, 0xa5]),
        ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
    };
    let mut out = Vec::new();
    encode_dump(&request, 7, &mut out).unwrap();
    let mut want = DUMP_INET.to_vec();
    want[0] = 84; // nlmsg_len: 16 + 56 + 12
    want.extend_from_slice(&DUMP_UNALIGNED_BYTECODE_TAIL);
    assert_eq!(out, want);
}

#[test]
fn encode_dump_appends_to_what_is_there() {
    let mut out = vec![0xee; 3];
    encode_dump(&DumpRequest::tcp(Family::Inet, ALL_TCP_STATES), 7, &mut out).unwrap();
    assert_eq!(out[..3], [0xee; 3]);
    assert_eq!(out[3..], DUMP_INET);
}

#[test]
fn encode_dump_takes_the_longest_bytecode_an_attribute_holds() {
    let request = DumpRequest {
        bytecode: Some(vec![0; 65531]),
        ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
    };
    let mut out = Vec::new();
    encode_dump(&request, 7, &mut out).unwrap();
    #[rustfmt::skip]
    let attr_header: [u8; 4] = [
        0xff, 0xff,             // nla_len: 4 + 65531, the most a u16 holds
        1, 0,                   // nla_type: INET_DIAG_REQ_BYTECODE
    ];
    assert_eq!(out[72..76], attr_header);
    // nlmsg_len: 16 + 56 + 65536 (nla_len padded) = 0x10048
    assert_eq!(out[..4], [0x48, 0x00, 0x01, 0x00]);
    assert_eq!(out.len(), 0x10048);
}

#[test]
fn encode_dump_refuses_a_bytecode_nla_len_cannot_count() {
    // nla_len would wrap to 0 and the kernel would misread the request.
    let request = DumpRequest {
        bytecode: Some(vec![0; 65532]),
        ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
    };
    let mut out = vec![0xee];
    let result = encode_dump(&request, 7, &mut out);
    assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
    assert_eq!(out, [0xee], "nothing appended");
}

#[rustfmt::skip]
const DUMP_BOTH_BYTECODE: [u8; 88] = [
    // nlmsghdr
    88, 0, 0, 0,                // nlmsg_len: 16 + 60 + 12
    18, 0,                      // nlmsg_type: TCPDIAG_GETSOCK
    0x01, 0x03,                 // nlmsg_flags: NLM_F_REQUEST | NLM_F_DUMP
    9, 0, 0, 0,                 // nlmsg_seq
    0, 0, 0, 0,                 // nlmsg_pid
    // inet_diag_req (v1): the kernel dumps it with AF_UNSPEC, both families
    2,                          // idiag_family: AF_INET, ignored by a dump
    0,                          // idiag_src_len: unused
    0,                          // idiag_dst_len: unused
    0x02,                       // idiag_ext: 1 << (INET_DIAG_INFO - 1)
    // inet_diag_sockid: a wildcard, before the states in this layout
    0, 0,                       // idiag_sport
    0, 0,                       // idiag_dport
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_src
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_dst
    0, 0, 0, 0,                 // idiag_if
    0xff, 0xff, 0xff, 0xff,     // idiag_cookie[0]: INET_DIAG_NOCOOKIE
    0xff, 0xff, 0xff, 0xff,     // idiag_cookie[1]: INET_DIAG_NOCOOKIE
    0xfe, 0x1f, 0, 0,           // idiag_states: ALL_TCP_STATES
    0, 0, 0, 0,                 // idiag_dbs: unused
    // nlattr, as after inet_diag_req_v2
    12, 0,                      // nla_len: 4 + 8
    1, 0,                       // nla_type: INET_DIAG_REQ_BYTECODE
    2, 8, 12, 0,                // inet_diag_bc_op: INET_DIAG_BC_S_GE, yes 8, no 12
    0, 0, 0x00, 0x04,           // inet_diag_bc_op: operand, no = port 1024
];

#[test]
fn encode_dump_both_families_as_tcpdiag_getsock() {
    let request = DumpRequest {
        bytecode: Some(vec![2, 8, 12, 0, 0, 0, 0x00, 0x04]),
        ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES).with_tcp_info()
    };
    let mut out = vec![0xee];
    encode_dump_both_families(&request, 9, &mut out).unwrap();
    assert_eq!(out[..1], [0xee], "appended after what was there");
    assert_eq!(out[1..], DUMP_BOTH_BYTECODE);
}

#[test]
fn encode_dump_both_families_without_bytecode_is_header_and_request() {
    let mut out = Vec::new();
    encode_dump_both_families(
        &DumpRequest::tcp(Family::Inet6, ALL_TCP_STATES),
        9,
        &mut out,
    )
    .unwrap();
    let mut want = DUMP_BOTH_BYTECODE[..76].to_vec();
    want[0] = 76; // nlmsg_len: 16 + 60
    want[16] = 10; // idiag_family: AF_INET6
    want[19] = 0; // idiag_ext: none
    assert_eq!(out, want);
}

#[test]
fn encode_dump_both_families_refuses_a_bytecode_nla_len_cannot_count() {
    let request = DumpRequest {
        bytecode: Some(vec![0; 65532]),
        ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
    };
    let mut out = vec![0xee];
    let result = encode_dump_both_families(&request, 7, &mut out);
    assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
    assert_eq!(out, [0xee], "nothing appended");
}

#[rustfmt::skip]
const DESTROY_V4: [u8; 72] = [
    // nlmsghdr
    72, 0, 0, 0,                // nlmsg_len: 16 + 56
    21, 0,                      // nlmsg_type: SOCK_DESTROY
    0x05, 0x00,                 // nlmsg_flags: NLM_F_REQUEST | NLM_F_ACK
    42, 0, 0, 0,                // nlmsg_seq
    0, 0, 0, 0,                 // nlmsg_pid
    // inet_diag_req_v2
    2,                          // sdiag_family: AF_INET
    6,                          // sdiag_protocol: IPPROTO_TCP
    0,                          // idiag_ext
    0,                          // pad
    0xff, 0xff, 0xff, 0xff,     // idiag_states: every state
    // inet_diag_sockid
    0x9c, 0x40,                 // idiag_sport: 40000, big-endian
    0x00, 0x50,                 // idiag_dport: 80, big-endian
    127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_src: 127.0.0.1
    127, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_dst: 127.0.0.2
    0, 0, 0, 0,                 // idiag_if
    0x88, 0x77, 0x66, 0x55,     // idiag_cookie[0]: low half of 0x1122334455667788
    0x44, 0x33, 0x22, 0x11,     // idiag_cookie[1]: high half
];

#[rustfmt::skip]
const DESTROY_V6: [u8; 72] = [
    // nlmsghdr
    72, 0, 0, 0,                // nlmsg_len: 16 + 56
    21, 0,                      // nlmsg_type: SOCK_DESTROY
    0x05, 0x00,                 // nlmsg_flags: NLM_F_REQUEST | NLM_F_ACK
    0xff, 0xff, 0xff, 0xff,     // nlmsg_seq: u32::MAX
    0, 0, 0, 0,                 // nlmsg_pid
    // inet_diag_req_v2
    10,                         // sdiag_family: AF_INET6
    6,                          // sdiag_protocol: IPPROTO_TCP
    0,                          // idiag_ext
    0,                          // pad
    0xff, 0xff, 0xff, 0xff,     // idiag_states: every state
    // inet_diag_sockid
    0x01, 0xbb,                 // idiag_sport: 443
    0xc7, 0x38,                 // idiag_dport: 51000
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // idiag_src: 2001:db8::1
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,       // idiag_dst: fe80::2
    3, 0, 0, 0,                 // idiag_if: 3
    0xef, 0xbe, 0xad, 0xde,     // idiag_cookie[0]: low half of 0x1_deadbeef
    0x01, 0x00, 0x00, 0x00,     // idiag_cookie[1]: high half
];

fn v4(a: [u8; 4]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..4].copy_from_slice(&a);
    out
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

#[test]
fn encode_destroy_v4_splits_the_cookie_low_half_first() {
    let id = SockId {
        sport: 40000,
        dport: 80,
        src: v4([127, 0, 0, 1]),
        dst: v4([127, 0, 0, 2]),
        ifindex: 0,
        cookie: 0x1122_3344_5566_7788,
    };
    let mut out = Vec::new();
    encode_destroy(Family::Inet, &id, 42, &mut out);
    assert_eq!(out, DESTROY_V4);
}

#[test]
fn encode_lookup_is_a_destroy_request_typed_as_a_get_without_ack() {
    let id = SockId {
        sport: 40000,
        dport: 80,
        src: v4([127, 0, 0, 1]),
        dst: v4([127, 0, 0, 2]),
        ifindex: 0,
        cookie: 0x1122_3344_5566_7788,
    };
    let mut out = Vec::new();
    encode_lookup(Family::Inet, &id, 42, &mut out);
    let mut want = DESTROY_V4;
    #[rustfmt::skip]
    let header: [u8; 4] = [
        20, 0,                  // nlmsg_type: SOCK_DIAG_BY_FAMILY
        0x01, 0x00,             // nlmsg_flags: NLM_F_REQUEST, no dump, no ack
    ];
    want[4..8].copy_from_slice(&header);
    assert_eq!(out, want);
}

#[test]
fn encode_dump_carries_the_pinned_ports_in_its_id() {
    let request = DumpRequest {
        sport: 22,
        dport: 5000,
        ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
    };
    let mut out = Vec::new();
    encode_dump(&request, 7, &mut out).unwrap();
    let mut want = DUMP_INET;
    #[rustfmt::skip]
    let ports: [u8; 4] = [
        0, 22,                  // idiag_sport, big-endian
        0x13, 0x88,             // idiag_dport: 5000
    ];
    want[24..28].copy_from_slice(&ports);
    assert_eq!(out, want);
    out.clear();
    encode_dump_both_families(&request, 9, &mut out).unwrap();
    assert_eq!(out[20..24], ports, "the v1 request's id comes first");
}

#[test]
fn encode_destroy_v6() {
    let id = SockId {
        sport: 443,
        dport: 51000,
        src: v6("2001:db8::1"),
        dst: v6("fe80::2"),
        ifindex: 3,
        cookie: 0x1_dead_beef,
    };
    let mut out = Vec::new();
    encode_destroy(Family::Inet6, &id, u32::MAX, &mut out);
    assert_eq!(out, DESTROY_V6);
}

#[test]
fn encode_destroy_batches_back_to_back() {
    let ids = [
        (
            Family::Inet,
            SockId {
                sport: 40000,
                dport: 80,
                src: v4([127, 0, 0, 1]),
                dst: v4([127, 0, 0, 2]),
                ifindex: 0,
                cookie: 0x1122_3344_5566_7788,
            },
        ),
        (
            Family::Inet6,
            SockId {
                sport: 443,
                dport: 51000,
                src: v6("2001:db8::1"),
                dst: v6("fe80::2"),
                ifindex: 3,
                cookie: 0x1_dead_beef,
            },
        ),
    ];
    let mut out = Vec::new();
    encode_destroy(ids[0].0, &ids[0].1, 42, &mut out);
    encode_destroy(ids[1].0, &ids[1].1, u32::MAX, &mut out);
    assert_eq!(out, cat(&[&DESTROY_V4, &DESTROY_V6]));
}

#[rustfmt::skip]
const MSG_V4: [u8; 72] = [
    // inet_diag_msg
    2,                          // idiag_family: AF_INET
    1,                          // idiag_state: TCP_ESTABLISHED
    1,                          // idiag_timer: retransmit
    3,                          // idiag_retrans
    // inet_diag_sockid
    0x9c, 0x40,                 // idiag_sport: 40000
    0x1f, 0x90,                 // idiag_dport: 8080
    10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_src: 10.0.0.1
    10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_dst: 10.0.0.2
    0, 0, 0, 0,                 // idiag_if
    0x88, 0x77, 0x66, 0x55,     // idiag_cookie[0]
    0x44, 0x33, 0x22, 0x11,     // idiag_cookie[1]
    0xe8, 0x03, 0, 0,           // idiag_expires: 1000 ms
    0x10, 0, 0, 0,              // idiag_rqueue: 16
    0x00, 0x01, 0, 0,           // idiag_wqueue: 256
    0xe8, 0x03, 0, 0,           // idiag_uid: 1000
    0x39, 0x30, 0, 0,           // idiag_inode: 12345
];

#[rustfmt::skip]
const MSG_V6_LISTEN: [u8; 72] = [
    // inet_diag_msg
    10,                         // idiag_family: AF_INET6
    10,                         // idiag_state: TCP_LISTEN
    0,                          // idiag_timer: none
    0,                          // idiag_retrans
    // inet_diag_sockid
    0x00, 0x16,                 // idiag_sport: 22
    0x00, 0x00,                 // idiag_dport: 0
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_src: ::
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // idiag_dst: ::
    0, 0, 0, 0,                 // idiag_if
    0x01, 0, 0, 0,              // idiag_cookie[0]
    0, 0, 0, 0,                 // idiag_cookie[1]
    0, 0, 0, 0,                 // idiag_expires
    0, 0, 0, 0,                 // idiag_rqueue: empty accept queue
    0x80, 0, 0, 0,              // idiag_wqueue: backlog 128
    0, 0, 0, 0,                 // idiag_uid: root
    0x40, 0xe2, 0x01, 0,        // idiag_inode: 123456
];

#[rustfmt::skip]
const ATTR_SHUTDOWN: [u8; 8] = [
    5, 0,                       // nla_len: 4 + 1
    8, 0,                       // nla_type: INET_DIAG_SHUTDOWN
    3,                          // sk_shutdown: RCV_SHUTDOWN | SEND_SHUTDOWN
    0, 0, 0,                    // padding
];

#[rustfmt::skip]
const ATTR_SKV6ONLY: [u8; 8] = [
    5, 0,                       // nla_len: 4 + 1
    11, 0,                      // nla_type: INET_DIAG_SKV6ONLY
    1,                          // ipv6only
    0, 0, 0,                    // padding
];

/// `struct tcp_info` as Linux 6.7+ sends it (248 bytes); its first 104 bytes
/// are what every kernel since 2.6 sends.
#[rustfmt::skip]
const TCP_INFO: [u8; 248] = [
    1,                          // tcpi_state: TCP_ESTABLISHED
    0,                          // tcpi_ca_state: TCP_CA_Open
    2,                          // tcpi_retransmits
    0,                          // tcpi_probes
    0,                          // tcpi_backoff
    7,                          // tcpi_options
    0x77,                       // tcpi_snd_wscale:4, tcpi_rcv_wscale:4
    0,                          // tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2
    0xe0, 0x1c, 0x03, 0,        // tcpi_rto: 204000
    0x40, 0x9c, 0, 0,           // tcpi_ato: 40000
    0xcb, 0xff, 0, 0,           // tcpi_snd_mss: 65483
    0x18, 0x02, 0, 0,           // tcpi_rcv_mss: 536
    3, 0, 0, 0,                 // tcpi_unacked
    0, 0, 0, 0,                 // tcpi_sacked
    1, 0, 0, 0,                 // tcpi_lost
    0, 0, 0, 0,                 // tcpi_retrans
    0, 0, 0, 0,                 // tcpi_fackets
    10, 0, 0, 0,                // tcpi_last_data_sent
    0, 0, 0, 0,                 // tcpi_last_ack_sent
    20, 0, 0, 0,                // tcpi_last_data_recv
    30, 0, 0, 0,                // tcpi_last_ack_recv
    0xff, 0xff, 0, 0,           // tcpi_pmtu: 65535
    0xcb, 0xff, 0, 0,           // tcpi_rcv_ssthresh
    50, 0, 0, 0,                // tcpi_rtt
    25, 0, 0, 0,                // tcpi_rttvar
    0xff, 0xff, 0xff, 0x7f,     // tcpi_snd_ssthresh: TCP_INFINITE_SSTHRESH
    10, 0, 0, 0,                // tcpi_snd_cwnd
    0xcb, 0xff, 0, 0,           // tcpi_advmss
    3, 0, 0, 0,                 // tcpi_reordering
    0, 0, 0, 0,                 // tcpi_rcv_rtt
    0xcb, 0xff, 0, 0,           // tcpi_rcv_space
    4, 0, 0, 0,                 // tcpi_total_retrans (end of the 104-byte base)
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // tcpi_pacing_rate: unlimited
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // tcpi_max_pacing_rate
    8, 7, 6, 5, 4, 3, 2, 1,     // tcpi_bytes_acked: 0x0102030405060708
    0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, // tcpi_bytes_received
    5, 0, 0, 0,                 // tcpi_segs_out
    6, 0, 0, 0,                 // tcpi_segs_in
    0, 0, 0, 0,                 // tcpi_notsent_bytes
    11, 0, 0, 0,                // tcpi_min_rtt
    2, 0, 0, 0,                 // tcpi_data_segs_in
    3, 0, 0, 0,                 // tcpi_data_segs_out
    0x28, 0x27, 0x26, 0x25, 0x24, 0x23, 0x22, 0x21, // tcpi_delivery_rate
    0, 0, 0, 0, 0, 0, 0, 0,     // tcpi_busy_time
    0, 0, 0, 0, 0, 0, 0, 0,     // tcpi_rwnd_limited
    0, 0, 0, 0, 0, 0, 0, 0,     // tcpi_sndbuf_limited
    4, 0, 0, 0,                 // tcpi_delivered
    0, 0, 0, 0,                 // tcpi_delivered_ce
    0x38, 0x37, 0x36, 0x35, 0x34, 0x33, 0x32, 0x31, // tcpi_bytes_sent
    0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41, // tcpi_bytes_retrans
    0, 0, 0, 0,                 // tcpi_dsack_dups
    0, 0, 0, 0,                 // tcpi_reord_seen
    0, 0, 0, 0,                 // tcpi_rcv_ooopack
    0, 0, 1, 0,                 // tcpi_snd_wnd: 65536
    0xcb, 0xff, 0, 0,           // tcpi_rcv_wnd
    0, 0, 0, 0,                 // tcpi_rehash
    1, 0,                       // tcpi_total_rto
    1, 0,                       // tcpi_total_rto_recoveries
    200, 0, 0, 0,               // tcpi_total_rto_time
];

fn tcp_info_full() -> TcpInfo {
    TcpInfo {
        state: Some(1),
        ca_state: Some(0),
        retransmits: Some(2),
        rto: Some(204_000),
        snd_mss: Some(65483),
        rcv_mss: Some(536),
        unacked: Some(3),
        lost: Some(1),
        last_data_sent: Some(10),
        last_data_recv: Some(20),
        last_ack_recv: Some(30),
        pmtu: Some(65535),
        rtt: Some(50),
        rttvar: Some(25),
        snd_cwnd: Some(10),
        total_retrans: Some(4),
        bytes_acked: Some(0x0102_0304_0506_0708),
        bytes_received: Some(0x1112_1314_1516_1718),
        segs_out: Some(5),
        segs_in: Some(6),
        min_rtt: Some(11),
        delivery_rate: Some(0x2122_2324_2526_2728),
        bytes_sent: Some(0x3132_3334_3536_3738),
        bytes_retrans: Some(0x4142_4344_4546_4748),
        snd_wnd: Some(65536),
    }
}

/// What a kernel that sends only the first 104 bytes tells us.
fn tcp_info_base() -> TcpInfo {
    TcpInfo {
        bytes_acked: None,
        bytes_received: None,
        segs_out: None,
        segs_in: None,
        min_rtt: None,
        delivery_rate: None,
        bytes_sent: None,
        bytes_retrans: None,
        snd_wnd: None,
        ..tcp_info_full()
    }
}

/// What an 8-byte `tcp_info` (the fixed u8 fields only) tells us.
fn tcp_info_short() -> TcpInfo {
    TcpInfo {
        state: Some(1),
        ca_state: Some(0),
        retransmits: Some(2),
        ..TcpInfo::default()
    }
}

fn msg_v4() -> InetDiagMsg {
    InetDiagMsg {
        family: Family::Inet,
        state: TcpState::Established,
        timer: 1,
        retrans: 3,
        id: SockId {
            sport: 40000,
            dport: 8080,
            src: v4([10, 0, 0, 1]),
            dst: v4([10, 0, 0, 2]),
            ifindex: 0,
            cookie: 0x1122_3344_5566_7788,
        },
        expires: 1000,
        rqueue: 16,
        wqueue: 256,
        uid: 1000,
        inode: 12345,
        shutdown: None,
        v6only: None,
        tcp_info: None,
    }
}

fn msg_v6_listen() -> InetDiagMsg {
    InetDiagMsg {
        family: Family::Inet6,
        state: TcpState::Listen,
        timer: 0,
        retrans: 0,
        id: SockId {
            sport: 22,
            dport: 0,
            src: [0; 16],
            dst: [0; 16],
            ifindex: 0,
            cookie: 1,
        },
        expires: 0,
        rqueue: 0,
        wqueue: 128,
        uid: 0,
        inode: 123_456,
        shutdown: None,
        v6only: None,
        tcp_info: None,
    }
}

/// Parse a datagram that must hold exactly one good message.
fn only(datagram: &[u8]) -> (Header, Reply) {
    let mut messages = parse_datagram(datagram);
    let first = messages
        .next()
        .expect("one message")
        .expect("a valid message");
    assert!(messages.next().is_none(), "more than one message");
    first
}

#[test]
fn record_with_short_tcp_info() {
    #[rustfmt::skip]
    let header: [u8; 16] = [
        116, 0, 0, 0,           // nlmsg_len: 16 + 72 + 8 + 8 + 12
        20, 0,                  // nlmsg_type: SOCK_DIAG_BY_FAMILY
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid: our port id
    ];
    #[rustfmt::skip]
    let info: [u8; 4] = [
        12, 0,                  // nla_len: 4 + 8
        2, 0,                   // nla_type: INET_DIAG_INFO
    ];
    let datagram = cat(&[
        &header,
        &MSG_V4,
        &ATTR_SHUTDOWN,
        &ATTR_SKV6ONLY,
        &info,
        &TCP_INFO[..8],
    ]);
    let (head, reply) = only(&datagram);
    assert_eq!(
        head,
        Header {
            len: 116,
            kind: 20,
            flags: 2,
            seq: 7,
            pid: 0x1234
        }
    );
    let want = InetDiagMsg {
        shutdown: Some(3),
        v6only: Some(true),
        tcp_info: Some(Box::new(tcp_info_short())),
        ..msg_v4()
    };
    assert_eq!(reply, Reply::Record(want));
}

#[test]
fn record_answering_tcpdiag_getsock_is_a_record() {
    #[rustfmt::skip]
    let header: [u8; 16] = [
        88, 0, 0, 0,            // nlmsg_len: 16 + 72
        18, 0,                  // nlmsg_type: TCPDIAG_GETSOCK, as the request
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        9, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
    ];
    let datagram = cat(&[&header, &MSG_V4]);
    let (head, reply) = only(&datagram);
    assert_eq!(head.kind, 18);
    assert_eq!(reply, Reply::Record(msg_v4()));
}

#[test]
fn record_with_base_tcp_info() {
    #[rustfmt::skip]
    let header: [u8; 16] = [
        0xd4, 0, 0, 0,          // nlmsg_len: 212 = 16 + 72 + 8 + 8 + 108
        20, 0,                  // nlmsg_type: SOCK_DIAG_BY_FAMILY
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
    ];
    #[rustfmt::skip]
    let info: [u8; 4] = [
        108, 0,                 // nla_len: 4 + 104
        2, 0,                   // nla_type: INET_DIAG_INFO
    ];
    let datagram = cat(&[
        &header,
        &MSG_V4,
        &ATTR_SHUTDOWN,
        &ATTR_SKV6ONLY,
        &info,
        &TCP_INFO[..104],
    ]);
    let (_, reply) = only(&datagram);
    let Reply::Record(msg) = reply else {
        panic!("not a record: {reply:?}")
    };
    assert_eq!(msg.tcp_info.as_deref(), Some(&tcp_info_base()));
    assert_eq!(msg.id, msg_v4().id);
}

#[test]
fn record_with_full_tcp_info() {
    #[rustfmt::skip]
    let header: [u8; 16] = [
        0x64, 0x01, 0, 0,       // nlmsg_len: 356 = 16 + 72 + 8 + 8 + 252
        20, 0,                  // nlmsg_type: SOCK_DIAG_BY_FAMILY
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
    ];
    #[rustfmt::skip]
    let info: [u8; 4] = [
        0xfc, 0,                // nla_len: 252 = 4 + 248
        2, 0,                   // nla_type: INET_DIAG_INFO
    ];
    let datagram = cat(&[
        &header,
        &MSG_V4,
        &info,
        &TCP_INFO,
        &ATTR_SHUTDOWN,
        &ATTR_SKV6ONLY,
    ]);
    let (_, reply) = only(&datagram);
    let want = InetDiagMsg {
        shutdown: Some(3),
        v6only: Some(true),
        tcp_info: Some(Box::new(tcp_info_full())),
        ..msg_v4()
    };
    assert_eq!(reply, Reply::Record(want));
}

#[test]
fn tcp_info_longer_than_we_know_is_read_by_its_prefix() {
    // A future kernel appends fields; what we know stays where it was.
    let mut longer = TCP_INFO.to_vec();
    longer.extend_from_slice(&[0xaa; 16]);
    assert_eq!(TcpInfo::parse(&longer), tcp_info_full());
    assert_eq!(TcpInfo::parse(&[]), TcpInfo::default());
    // A field cut in half is absent, not half-read.
    let cut = TcpInfo::parse(&TCP_INFO[..10]);
    assert_eq!(cut.rto, None);
    assert_eq!(cut.retransmits, Some(2));
}

#[test]
fn ack_zero_is_success() {
    #[rustfmt::skip]
    let datagram: [u8; 36] = [
        // nlmsghdr
        36, 0, 0, 0,            // nlmsg_len: 16 + 4 + 16
        2, 0,                   // nlmsg_type: NLMSG_ERROR
        0x00, 0x01,             // nlmsg_flags: NLM_F_CAPPED (only the header is echoed)
        42, 0, 0, 0,            // nlmsg_seq: the request's
        0x34, 0x12, 0, 0,       // nlmsg_pid
        // nlmsgerr
        0, 0, 0, 0,             // error: 0, an acknowledgement
        72, 0, 0, 0,            // msg.nlmsg_len
        21, 0,                  // msg.nlmsg_type: SOCK_DESTROY
        0x05, 0x00,             // msg.nlmsg_flags
        42, 0, 0, 0,            // msg.nlmsg_seq
        0, 0, 0, 0,             // msg.nlmsg_pid
    ];
    let (header, reply) = only(&datagram);
    assert_eq!(header.seq, 42);
    assert_eq!(reply, Reply::Ack { errno: 0 });
}

#[test]
fn ack_enoent_echoing_the_whole_request() {
    // Without NETLINK_CAP_ACK the kernel echoes the failed request in full.
    #[rustfmt::skip]
    let head: [u8; 20] = [
        // nlmsghdr
        92, 0, 0, 0,            // nlmsg_len: 16 + 4 + 72
        2, 0,                   // nlmsg_type: NLMSG_ERROR
        0, 0,                   // nlmsg_flags
        42, 0, 0, 0,            // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
        // nlmsgerr
        0xfe, 0xff, 0xff, 0xff, // error: -ENOENT
    ];
    let datagram = cat(&[&head, &DESTROY_V4]);
    let (_, reply) = only(&datagram);
    assert_eq!(reply, Reply::Ack { errno: 2 });
    assert!(matches!(
        Error::from_errno(2),
        Error::NotFound { stale: false }
    ));
}

#[test]
fn ack_errors_map_to_what_a_caller_matches() {
    #[rustfmt::skip]
    let cases: [([u8; 4], i32); 4] = [
        ([0xfe, 0xff, 0xff, 0xff], 2),   // -ENOENT
        ([0x8c, 0xff, 0xff, 0xff], 116), // -ESTALE
        ([0xff, 0xff, 0xff, 0xff], 1),   // -EPERM
        ([0xa1, 0xff, 0xff, 0xff], 95),  // -EOPNOTSUPP
    ];
    for (code, errno) in cases {
        #[rustfmt::skip]
        let head: [u8; 16] = [
            20, 0, 0, 0,        // nlmsg_len: 16 + 4, a bare error code
            2, 0,               // nlmsg_type: NLMSG_ERROR
            0x00, 0x01,         // nlmsg_flags: NLM_F_CAPPED
            9, 0, 0, 0,         // nlmsg_seq
            0, 0, 0, 0,         // nlmsg_pid
        ];
        let (_, reply) = only(&cat(&[&head, &code]));
        assert_eq!(reply, Reply::Ack { errno });
        let err = Error::from_errno(errno);
        assert_eq!(err.errno(), Some(errno));
        match errno {
            2 => assert!(matches!(err, Error::NotFound { stale: false })),
            116 => assert!(matches!(err, Error::NotFound { stale: true })),
            1 => assert!(matches!(err, Error::PermissionDenied { errno: 1 })),
            95 => assert!(matches!(err, Error::NotSupported { errno: 95 })),
            _ => unreachable!(),
        }
    }
}

#[test]
fn from_errno_keeps_the_rest_as_io() {
    assert!(matches!(
        Error::from_errno(13),
        Error::PermissionDenied { errno: 13 }
    )); // EACCES
    assert!(matches!(
        Error::from_errno(93),
        Error::NotSupported { errno: 93 }
    )); // EPROTONOSUPPORT
    assert!(matches!(Error::from_errno(22), Error::Invalid(_))); // EINVAL
    let Error::Io(io) = Error::from_errno(105) else {
        panic!("ENOBUFS is not Io")
    };
    assert_eq!(io.raw_os_error(), Some(105));
}

#[test]
fn done_ends_a_dump() {
    #[rustfmt::skip]
    let datagram: [u8; 20] = [
        20, 0, 0, 0,            // nlmsg_len: 16 + 4
        3, 0,                   // nlmsg_type: NLMSG_DONE
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
        0, 0, 0, 0,             // the dump's result: 0
    ];
    assert_eq!(only(&datagram).1, Reply::Done { errno: 0 });
    let mut failed = datagram;
    failed[16..].copy_from_slice(&(-4i32).to_ne_bytes()); // -EINTR
    assert_eq!(only(&failed).1, Reply::Done { errno: 4 });
    // An NLMSG_DONE without its int (some older kernels' families) is a success.
    let mut bare = datagram[..16].to_vec();
    bare[0] = 16;
    assert_eq!(only(&bare).1, Reply::Done { errno: 0 });
}

#[test]
fn one_datagram_holds_many_messages() {
    #[rustfmt::skip]
    let v4_head: [u8; 16] = [
        88, 0, 0, 0,            // nlmsg_len: 16 + 72, no attributes
        20, 0,                  // nlmsg_type: SOCK_DIAG_BY_FAMILY
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
    ];
    #[rustfmt::skip]
    let v6_head: [u8; 16] = [
        96, 0, 0, 0,            // nlmsg_len: 16 + 72 + 8
        20, 0,                  // nlmsg_type: SOCK_DIAG_BY_FAMILY
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
    ];
    #[rustfmt::skip]
    let done: [u8; 20] = [
        20, 0, 0, 0,            // nlmsg_len
        3, 0,                   // nlmsg_type: NLMSG_DONE
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
        0, 0, 0, 0,             // result
    ];
    let datagram = cat(&[
        &v4_head,
        &MSG_V4,
        &v6_head,
        &MSG_V6_LISTEN,
        &ATTR_SKV6ONLY,
        &done,
    ]);
    let replies: Vec<Reply> = parse_datagram(&datagram).map(|m| m.unwrap().1).collect();
    assert_eq!(
        replies,
        [
            Reply::Record(msg_v4()),
            Reply::Record(InetDiagMsg {
                v6only: Some(true),
                ..msg_v6_listen()
            }),
            Reply::Done { errno: 0 },
        ]
    );
}

#[test]
fn one_datagram_holds_many_acks() {
    #[rustfmt::skip]
    let datagram: [u8; 60] = [
        20, 0, 0, 0,            // nlmsg_len
        2, 0,                   // nlmsg_type: NLMSG_ERROR
        0x00, 0x01,             // nlmsg_flags: NLM_F_CAPPED
        1, 0, 0, 0,             // nlmsg_seq: 1
        0, 0, 0, 0,             // nlmsg_pid
        0, 0, 0, 0,             // error: 0
        20, 0, 0, 0,            // nlmsg_len
        2, 0,                   // nlmsg_type: NLMSG_ERROR
        0x00, 0x01,             // nlmsg_flags: NLM_F_CAPPED
        2, 0, 0, 0,             // nlmsg_seq: 2
        0, 0, 0, 0,             // nlmsg_pid
        0xfe, 0xff, 0xff, 0xff, // error: -ENOENT
        20, 0, 0, 0,            // nlmsg_len
        2, 0,                   // nlmsg_type: NLMSG_ERROR
        0x00, 0x01,             // nlmsg_flags: NLM_F_CAPPED
        3, 0, 0, 0,             // nlmsg_seq: 3
        0, 0, 0, 0,             // nlmsg_pid
        0x8c, 0xff, 0xff, 0xff, // error: -ESTALE
    ];
    let acks: Vec<(u32, Reply)> = parse_datagram(&datagram)
        .map(|m| m.map(|(h, r)| (h.seq, r)).unwrap())
        .collect();
    assert_eq!(
        acks,
        [
            (1, Reply::Ack { errno: 0 }),
            (2, Reply::Ack { errno: 2 }),
            (3, Reply::Ack { errno: 116 }),
        ]
    );
}

#[test]
fn unknown_attributes_are_skipped() {
    #[rustfmt::skip]
    let head: [u8; 16] = [
        0x80, 0, 0, 0,          // nlmsg_len: 128 = 16 + 72 + 8 + 12 + 4 + 8 + 8
        20, 0,                  // nlmsg_type: SOCK_DIAG_BY_FAMILY
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0x34, 0x12, 0, 0,       // nlmsg_pid
    ];
    #[rustfmt::skip]
    let attrs: [u8; 40] = [
        7, 0,                   // nla_len: 4 + 3
        99, 0,                  // nla_type: 99, unknown to us
        1, 2, 3,                // payload
        0,                      // padding
        12, 0,                  // nla_len: 4 + 8
        0x05, 0x80,             // nla_type: NLA_F_NESTED | 5 (INET_DIAG_TOS with a flag)
        0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, // payload
        4, 0,                   // nla_len: 4, empty
        0x30, 0,                // nla_type: 48, unknown
        5, 0,                   // nla_len: 4 + 1
        0x08, 0x40,             // nla_type: NLA_F_NET_BYTEORDER | INET_DIAG_SHUTDOWN
        1,                      // sk_shutdown: RCV_SHUTDOWN
        0, 0, 0,                // padding
        8, 0,                   // nla_len: 4 + 4
        15, 0,                  // nla_type: INET_DIAG_MARK, not read
        1, 0, 0, 0,             // payload
    ];
    let datagram = cat(&[&head, &MSG_V4, &attrs]);
    let (_, reply) = only(&datagram);
    assert_eq!(
        reply,
        Reply::Record(InetDiagMsg {
            shutdown: Some(1),
            ..msg_v4()
        })
    );
}

#[test]
fn unknown_message_types_are_skipped() {
    #[rustfmt::skip]
    let datagram: [u8; 112] = [
        16, 0, 0, 0,            // nlmsg_len
        1, 0,                   // nlmsg_type: NLMSG_NOOP
        0, 0,                   // nlmsg_flags
        7, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        22, 0, 0, 0,            // nlmsg_len: 16 + 6, padded to 24 below
        0x99, 0x00,             // nlmsg_type: 0x99, unknown
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        1, 2, 3, 4, 5, 6,       // payload
        0, 0,                   // padding
        20, 0, 0, 0,            // nlmsg_len: 16 + 4
        21, 0,                  // nlmsg_type: SOCK_DESTROY, never a reply
        0, 0,                   // nlmsg_flags
        7, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        0, 0, 0, 0,             // payload
        32, 0, 0, 0,            // nlmsg_len: 16 + 16
        4, 0,                   // nlmsg_type: NLMSG_OVERRUN
        0, 0,                   // nlmsg_flags
        7, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // payload
        20, 0, 0, 0,            // nlmsg_len
        3, 0,                   // nlmsg_type: NLMSG_DONE
        0x02, 0x00,             // nlmsg_flags: NLM_F_MULTI
        7, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        0, 0, 0, 0,             // result
    ];
    let replies: Vec<Reply> = parse_datagram(&datagram).map(|m| m.unwrap().1).collect();
    assert_eq!(
        replies,
        [
            Reply::Other,
            Reply::Other,
            Reply::Other,
            Reply::Overrun,
            Reply::Done { errno: 0 }
        ]
    );
}
