//! The rtnetlink codec on golden bytes (for a little-endian host, where
//! marked), and the client against the kernel of a fresh network
//! namespace.

use super::*;
use crate::parse_datagram;

#[cfg(target_endian = "little")]
#[test]
fn a_route_request_names_the_destination() {
    let mut out = Vec::new();
    encode_get_route("10.1.2.3".parse().unwrap(), 5, &mut out).unwrap();
    #[rustfmt::skip]
    let want: [u8; 36] = [
        // nlmsghdr
        36, 0, 0, 0,            // nlmsg_len: 16 + 12 + 8
        26, 0,                  // nlmsg_type: RTM_GETROUTE
        0x01, 0,                // nlmsg_flags: NLM_F_REQUEST
        5, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        // rtmsg
        2, 32, 0, 0,            // family AF_INET, dst_len 32, src_len, tos
        0, 0, 0, 0,             // table, protocol, scope, type
        0, 0, 0, 0,             // flags
        // rtattr
        8, 0, 1, 0,             // rta_len 8, RTA_DST
        10, 1, 2, 3,
    ];
    assert_eq!(out, want);
}

#[cfg(target_endian = "little")]
#[test]
fn a_resolve_request_uses_the_entry() {
    let mut out = Vec::new();
    encode_resolve(3, "fd00::1".parse().unwrap(), 9, &mut out).unwrap();
    #[rustfmt::skip]
    let want: [u8; 48] = [
        // nlmsghdr
        48, 0, 0, 0,            // nlmsg_len: 16 + 12 + 20
        28, 0,                  // nlmsg_type: RTM_NEWNEIGH
        0x05, 0x05,             // NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE
        9, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        // ndmsg
        10, 0, 0, 0,            // family AF_INET6, pads
        3, 0, 0, 0,             // ndm_ifindex
        0, 0,                   // ndm_state: none
        0x01, 0,                // ndm_flags NTF_USE, ndm_type
        // rtattr
        20, 0, 1, 0,            // rta_len 20, NDA_DST
        0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    assert_eq!(out, want);
}

#[cfg(target_endian = "little")]
#[test]
fn a_route_reply_gives_its_interface_and_gateway() {
    #[rustfmt::skip]
    let reply: [u8; 48] = [
        // nlmsghdr
        48, 0, 0, 0,            // nlmsg_len: 16 + 12 + 8 + 8 + 4
        24, 0,                  // nlmsg_type: RTM_NEWROUTE
        0, 0,                   // nlmsg_flags
        5, 0, 0, 0,             // nlmsg_seq
        0, 0, 0, 0,             // nlmsg_pid
        // rtmsg
        2, 32, 0, 0,            // family AF_INET, dst_len 32, src_len, tos
        254, 0, 0, 1,           // table main, protocol, scope, type RTN_UNICAST
        0, 0, 0, 0,             // flags
        // rtattr
        8, 0, 4, 0,             // RTA_OIF
        7, 0, 0, 0,
        8, 0, 5, 0,             // RTA_GATEWAY
        10, 0, 0, 1,
        4, 0, 15, 0,            // RTA_TABLE, empty: skipped
    ];
    let messages: Vec<_> = parse_datagram::<Rtnetlink>(&reply).collect();
    assert_eq!(messages.len(), 1);
    let (header, reply) = messages.into_iter().next().unwrap().unwrap();
    assert_eq!(header.seq, 5);
    assert_eq!(
        reply,
        Reply::Record(Record::Route(Route {
            kind: 1,
            table: 254,
            dst: None,
            dst_len: 32,
            oif: Some(7),
            gateway: Some("10.0.0.1".parse().unwrap()),
        }))
    );
}

#[test]
fn a_neighbour_has_a_usable_address_only_when_resolved() {
    let entry = |state| Neighbour {
        ifindex: 2,
        ip: Some("10.0.0.1".parse().unwrap()),
        state,
        lladdr: vec![2, 0, 0, 0, 0, 1],
    };
    assert_eq!(entry(0x02).usable_lladdr(), Some(&[2, 0, 0, 0, 0, 1][..])); // NUD_REACHABLE
    assert_eq!(entry(NUD_INCOMPLETE).usable_lladdr(), None);
    assert_eq!(entry(NUD_FAILED).usable_lladdr(), None);
    let empty = Neighbour {
        lladdr: Vec::new(),
        ..entry(0x80) // NUD_PERMANENT, on a link without addresses
    };
    assert_eq!(empty.usable_lladdr(), None);
}

#[test]
fn a_short_header_is_invalid() {
    assert!(matches!(Route::parse(&[2, 32, 0]), Err(Error::Invalid(_))));
    assert!(matches!(Neighbour::parse(&[0; 9]), Err(Error::Invalid(_))));
}

/// In a fresh namespace only `lo` is up: 127.0.0.1 has a local route,
/// other addresses none, and the kernel says so in its own words.
#[test]
fn the_kernel_answers_in_a_fresh_namespace() {
    nstest::in_netns(|| {
        let mut client = Client::new().unwrap();
        let local = client.route("127.0.0.1".parse().unwrap()).unwrap().unwrap();
        assert_eq!(local.kind, RTN_LOCAL);
        assert_eq!(local.gateway, None);
        let Err(Error::Io(err)) = client.route("192.0.2.1".parse().unwrap()) else {
            panic!("a route where there is none")
        };
        assert_eq!(
            err.raw_os_error(),
            Some(linux_raw_sys::errno::ENETUNREACH as i32)
        );
        assert!(err.to_string().contains("unreachable"), "{err}");
        // The socket is still in step after an error.
        assert!(client.neighbours().unwrap().iter().all(|n| n.ip.is_some()));
        let again = client.route("127.0.0.1".parse().unwrap()).unwrap();
        assert_eq!(again.map(|r| r.kind), Some(RTN_LOCAL));
    });
}
