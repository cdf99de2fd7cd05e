//! The client against the real kernel. Each test builds its sockets in a fresh
//! network namespace (`nstest::in_netns`), so a dump lists exactly them, and
//! checks what the kernel did from the sockets' side.

// A panic is how a test fails, in its helpers as in its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use linux_raw_sys::errno::{ECONNABORTED, ECONNRESET};
use nstest::{connect, in_netns, listen, read_errno, so_error, still_accepts};
use sockdiag::{
    Client, DumpRequest, Error, Family, InetDiagMsg, SockId, TcpState, ALL_TCP_STATES,
    INET_DIAG_NOCOOKIE,
};

/// The inode of a socket, from its `/proc/self/fd` link `socket:[N]`.
fn inode(fd: &impl AsRawFd) -> u32 {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("readlink");
    let link = link.to_str().expect("UTF-8 link");
    link.strip_prefix("socket:[")
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a socket: {link}"))
        .parse()
        .expect("inode number")
}

fn dump(client: &mut Client, request: &DumpRequest) -> Vec<InetDiagMsg> {
    client
        .dump(request)
        .expect("start dump")
        .collect::<Result<_, _>>()
        .expect("dump")
}

fn dump_inet(client: &mut Client) -> Vec<InetDiagMsg> {
    dump(client, &DumpRequest::tcp(Family::Inet, ALL_TCP_STATES))
}

/// The record of the socket `fd`, found by inode.
fn record_of<'a>(records: &'a [InetDiagMsg], fd: &impl AsRawFd) -> &'a InetDiagMsg {
    let ino = inode(fd);
    let mut found = records.iter().filter(|r| r.inode == ino);
    let record = found
        .next()
        .unwrap_or_else(|| panic!("no record with inode {ino} in {records:#?}"));
    assert!(found.next().is_none(), "two records with inode {ino}");
    record
}

const LOOPBACK: [u8; 16] = [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn port(stream: &TcpStream) -> u16 {
    stream.local_addr().expect("local_addr").port()
}

fn lport(listener: &TcpListener) -> u16 {
    listener.local_addr().expect("local_addr").port()
}

/// Data still flows both ways.
fn alive(client: &mut TcpStream, server: &mut TcpStream) -> bool {
    let mut buf = [0; 4];
    client.write_all(b"ping").is_ok()
        && server.read_exact(&mut buf).is_ok()
        && &buf == b"ping"
        && so_error(client) == 0
}

#[test]
fn dump_lists_listener_and_both_ends_with_stable_cookies() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (client, server) = connect(&listener);
        let mut diag = Client::new().expect("netlink socket");

        let first = dump_inet(&mut diag);
        assert_eq!(first.len(), 3, "{first:#?}");

        let l = record_of(&first, &listener);
        assert_eq!(l.family, Family::Inet);
        assert_eq!(l.state, TcpState::Listen);
        assert_eq!((l.id.sport, l.id.dport), (lport(&listener), 0));
        assert_eq!((l.id.src, l.id.dst), (LOOPBACK, [0; 16]));

        let c = record_of(&first, &client);
        assert_eq!(c.state, TcpState::Established);
        assert_eq!((c.id.sport, c.id.dport), (port(&client), lport(&listener)));
        assert_eq!((c.id.src, c.id.dst), (LOOPBACK, LOOPBACK));

        let s = record_of(&first, &server);
        assert_eq!(s.state, TcpState::Established);
        assert_eq!((s.id.sport, s.id.dport), (lport(&listener), port(&client)));

        for r in &first {
            assert_ne!(r.id.cookie, 0, "{r:?}");
            assert_ne!(r.id.cookie, INET_DIAG_NOCOOKIE, "{r:?}");
        }
        assert!(l.id.cookie != c.id.cookie && c.id.cookie != s.id.cookie);

        let second = dump_inet(&mut diag);
        for r in &first {
            let again = second
                .iter()
                .find(|x| x.inode == r.inode)
                .expect("still there");
            assert_eq!(again.id, r.id, "the id, cookie included, is stable");
        }

        // AF_INET sockets are not in the AF_INET6 tables.
        let v6 = dump(&mut diag, &DumpRequest::tcp(Family::Inet6, ALL_TCP_STATES));
        assert!(v6.is_empty(), "{v6:#?}");
    });
}

#[test]
fn dump_with_tcp_info_reports_it_for_each_socket() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (_client, _server) = connect(&listener);
        let mut diag = Client::new().expect("netlink socket");
        let request = DumpRequest::tcp(Family::Inet, ALL_TCP_STATES).with_tcp_info();
        let records = dump(&mut diag, &request);
        assert_eq!(records.len(), 3);
        for r in &records {
            let info = r.tcp_info.as_deref().expect("tcp_info was asked for");
            assert_eq!(info.state, Some(r.state.raw()), "{r:?}");
            // Every kernel this crate runs on sends at least the base struct.
            assert!(info.total_retrans.is_some(), "{info:?}");
        }
        // Without the extension bit the kernel sends none.
        let plain = dump_inet(&mut diag);
        assert!(plain.iter().all(|r| r.tcp_info.is_none()));
    });
}

#[test]
fn dump_asks_only_for_the_states_in_its_mask() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (_client, _server) = connect(&listener);
        let mut diag = Client::new().expect("netlink socket");
        let listeners = dump(
            &mut diag,
            &DumpRequest::tcp(Family::Inet, TcpState::Listen.mask()),
        );
        assert_eq!(listeners.len(), 1);
        assert_eq!(listeners[0].inode, inode(&listener));
        let established = dump(
            &mut diag,
            &DumpRequest::tcp(Family::Inet, TcpState::Established.mask()),
        );
        assert_eq!(established.len(), 2);
    });
}

#[test]
fn a_dump_with_an_oversized_filter_is_refused_before_sending() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let mut diag = Client::new().expect("netlink socket");
        let request = DumpRequest {
            bytecode: Some(vec![0; 70_000]),
            ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
        };
        let result = diag.dump(&request).map(|_| ());
        assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
        // Nothing was sent, so nothing is left to read before the next dump.
        let records = dump_inet(&mut diag);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].inode, inode(&listener));
    });
}

#[test]
fn a_dump_dropped_early_is_drained_and_the_next_one_works() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        // About 400 records of ~350 bytes with tcp_info: well over one
        // 32 KiB dump datagram, so an early drop leaves parts unread.
        let conns: Vec<_> = (0..200).map(|_| connect(&listener)).collect();
        let want = 1 + 2 * conns.len();
        let mut diag = Client::new().expect("netlink socket");
        let request = DumpRequest::tcp(Family::Inet, ALL_TCP_STATES).with_tcp_info();

        drop(diag.dump(&request).expect("start dump"));
        {
            let mut partial = diag.dump(&request).expect("start dump");
            assert!(partial.next().expect("a record").is_ok());
            assert!(partial.next().expect("a record").is_ok());
        }
        let all = dump(&mut diag, &request);
        assert_eq!(all.len(), want);
        let mut inodes: Vec<u32> = all.iter().map(|r| r.inode).collect();
        inodes.sort_unstable();
        inodes.dedup();
        assert_eq!(
            inodes.len(),
            want,
            "a record twice: leftovers of a drained dump"
        );

        // A finished dump iterator stays finished.
        let mut it = diag.dump(&request).expect("start dump");
        assert_eq!(it.by_ref().count(), want);
        assert!(it.next().is_none());
    });
}

#[test]
fn destroy_by_id_and_cookie_aborts_then_is_not_found() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let mut diag = Client::new().expect("netlink socket");
        let target = record_of(&dump_inet(&mut diag), &client).clone();

        diag.destroy(Family::Inet, &target.id).expect("destroy");
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED as i32));
        assert_eq!(read_errno(&mut server), Some(ECONNRESET as i32));

        let again = diag.destroy(Family::Inet, &target.id);
        assert!(
            matches!(again, Err(Error::NotFound { .. })),
            "second destroy: {again:?}"
        );
        // The cookie kept the lookup off the listener (SPEC §3, trap 1).
        assert!(still_accepts(&listener));
        let left = dump_inet(&mut diag);
        assert!(left.iter().all(|r| r.id.cookie != target.id.cookie));
    });
}

#[test]
fn destroy_with_a_wrong_cookie_is_not_found_and_harmless() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut client, mut server) = connect(&listener);
        let mut diag = Client::new().expect("netlink socket");
        let live = record_of(&dump_inet(&mut diag), &client).clone();
        let wrong = SockId {
            cookie: live.id.cookie.wrapping_add(1000),
            ..live.id
        };

        // The kernel looks the tuple up, finds the live socket, sees the
        // cookie differ and answers ENOENT (inet_diag_find_one_icsk turns
        // sock_diag_check_cookie's ESTALE into ENOENT), so this reads as
        // NotFound, not as NotFound { stale: true }.
        let result = diag.destroy(Family::Inet, &wrong);
        assert!(matches!(result, Err(Error::NotFound { .. })), "{result:?}");
        assert!(alive(&mut client, &mut server));
        let still = record_of(&dump_inet(&mut diag), &client).clone();
        assert_eq!(still.id, live.id);
        assert_eq!(still.state, TcpState::Established);
    });
}

#[test]
fn destroy_batch_answers_every_id_in_order() {
    in_netns(|| {
        const TARGETS: usize = 300; // more than one DESTROY_BATCH of 128
        let listener = listen("127.0.0.1:0");
        let mut doomed: Vec<_> = (0..10).map(|_| connect(&listener)).collect();
        let mut spared: Vec<_> = (0..10).map(|_| connect(&listener)).collect();
        let mut diag = Client::new().expect("netlink socket");
        let records = dump_inet(&mut diag);

        #[derive(Debug, PartialEq)]
        enum Want {
            Dropped,
            Gone,
            Stale,
        }
        let mut targets = Vec::new();
        let mut wants = Vec::new();
        for i in 0..TARGETS {
            let (id, want) = match (i % 30, i / 30) {
                (7, n) => (record_of(&records, &doomed[n].0).id, Want::Dropped),
                (19, n) => {
                    let id = record_of(&records, &spared[n].0).id;
                    let wrong = id.cookie.wrapping_add(1);
                    (
                        SockId {
                            cookie: wrong,
                            ..id
                        },
                        Want::Stale,
                    )
                }
                // A tuple no socket has, on a port nothing listens on.
                _ => (
                    SockId {
                        sport: 1000 + i as u16,
                        dport: 9,
                        src: LOOPBACK,
                        dst: LOOPBACK,
                        ifindex: 0,
                        cookie: 0xdead_0000 + i as u64,
                    },
                    Want::Gone,
                ),
            };
            targets.push((Family::Inet, id));
            wants.push(want);
        }

        let mut results = Vec::new();
        diag.destroy_batch(&targets, &mut results)
            .expect("destroy_batch");
        assert_eq!(results.len(), TARGETS);
        for (i, (result, want)) in results.iter().zip(&wants).enumerate() {
            let ok = match want {
                Want::Dropped => result.is_ok(),
                // A wrong cookie is ENOENT like a missing tuple (see above).
                Want::Gone | Want::Stale => matches!(result, Err(Error::NotFound { .. })),
            };
            assert!(ok, "target {i}: want {want:?}, got {result:?}");
        }

        for (client, _) in &mut doomed {
            assert_eq!(read_errno(client), Some(ECONNABORTED as i32));
        }
        for (client, server) in &mut spared {
            assert!(alive(client, server));
        }
        assert!(still_accepts(&listener));
    });
}

#[test]
fn ipv6_sockets_are_listed_and_destroyed_through_af_inet6() {
    in_netns(|| {
        let listener = listen("[::1]:0");
        let (mut client, _server) = connect(&listener);
        let mut diag = Client::new().expect("netlink socket");
        let records = dump(&mut diag, &DumpRequest::tcp(Family::Inet6, ALL_TCP_STATES));
        assert_eq!(records.len(), 3);
        let target = record_of(&records, &client);
        let loopback6 = std::net::Ipv6Addr::LOCALHOST.octets();
        assert_eq!(target.family, Family::Inet6);
        assert_eq!((target.id.src, target.id.dst), (loopback6, loopback6));
        assert_eq!(target.id.sport, port(&client));

        diag.destroy(Family::Inet6, &target.id).expect("destroy");
        assert_eq!(read_errno(&mut client), Some(ECONNABORTED as i32));
    });
}

#[test]
fn one_walk_dumps_both_families_as_the_two_family_dumps_do() {
    in_netns(|| {
        let v4 = listen("127.0.0.1:0");
        let v6 = listen("[::1]:0");
        let (_a, _b) = connect(&v4);
        let (_c, _d) = connect(&v6);
        let mut diag = Client::new().expect("netlink socket");
        let mut want: Vec<(Family, SockId)> = dump_inet(&mut diag)
            .into_iter()
            .chain(dump(
                &mut diag,
                &DumpRequest::tcp(Family::Inet6, ALL_TCP_STATES),
            ))
            .map(|r| (r.family, r.id))
            .collect();
        want.sort_by_key(|(f, id)| (*f, id.cookie));
        assert_eq!(want.len(), 6, "{want:#?}");

        // The request's family does not narrow the one walk.
        for family in [Family::Inet, Family::Inet6] {
            let mut got: Vec<(Family, SockId)> = diag
                .dump_both_families(&DumpRequest::tcp(family, ALL_TCP_STATES))
                .expect("start dump")
                .map(|r| r.map(|r| (r.family, r.id)))
                .collect::<Result<_, _>>()
                .expect("dump");
            got.sort_by_key(|(f, id)| (*f, id.cookie));
            assert_eq!(got, want);
        }

        // The state mask applies as in a family dump ...
        let established = diag
            .dump_both_families(&DumpRequest::tcp(
                Family::Inet,
                TcpState::Established.mask(),
            ))
            .expect("start dump")
            .collect::<Result<Vec<_>, _>>()
            .expect("dump");
        assert_eq!(established.len(), 4, "{established:#?}");
        assert!(established.iter().all(|r| r.state == TcpState::Established));
        assert_eq!(
            established
                .iter()
                .filter(|r| r.family == Family::Inet6)
                .count(),
            2
        );
        // ... and so does a bytecode filter: "sport >= 65535" matches none
        // of these sockets (their ports are ephemeral, below 65535).
        let request = DumpRequest {
            bytecode: Some(vec![2, 8, 12, 0, 0, 0, 0xff, 0xff]),
            ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
        };
        let none = diag
            .dump_both_families(&request)
            .expect("start dump")
            .collect::<Result<Vec<_>, _>>()
            .expect("dump");
        assert!(none.is_empty(), "{none:#?}");
    });
}

#[test]
fn a_port_pinned_dump_and_lookups_find_exactly_their_sockets() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let other = listen("127.0.0.1:0");
        let (client, server) = connect(&listener);
        let (_c2, _s2) = connect(&other);
        let mut diag = Client::new().expect("netlink socket");

        // Pinned to the listener's port as the remote one: the client end only.
        let request = DumpRequest {
            dport: lport(&listener),
            ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
        };
        let pinned = dump(&mut diag, &request);
        assert_eq!(pinned.len(), 1, "{pinned:#?}");
        let c = record_of(&pinned, &client);
        // As the local one: the listener and the server end.
        let request = DumpRequest {
            sport: lport(&listener),
            ..DumpRequest::tcp(Family::Inet, ALL_TCP_STATES)
        };
        assert_eq!(dump(&mut diag, &request).len(), 2);

        let reversed = SockId {
            sport: c.id.dport,
            dport: c.id.sport,
            src: c.id.dst,
            dst: c.id.src,
            ifindex: 0,
            cookie: INET_DIAG_NOCOOKIE,
        };
        let stale = SockId {
            cookie: c.id.cookie.wrapping_add(1),
            ..c.id
        };
        let nowhere = SockId { sport: 1, ..c.id };
        let mut answers = Vec::new();
        diag.lookup_batch(
            &[
                (Family::Inet, c.id),
                (Family::Inet, reversed),
                (Family::Inet, stale),
                (Family::Inet, nowhere),
            ],
            &mut answers,
        )
        .expect("lookups");
        let answers: Vec<Option<InetDiagMsg>> =
            answers.into_iter().map(|a| a.expect("an answer")).collect();
        assert_eq!(answers.len(), 4);
        assert_eq!(answers[0].as_ref().map(|r| r.id), Some(c.id));
        assert_eq!(answers[1].as_ref().map(|r| r.inode), Some(inode(&server)));
        assert!(
            answers[2].is_none(),
            "a cookie that does not match: {answers:#?}"
        );
        assert!(
            answers[3].is_none(),
            "no socket on local port 1: {answers:#?}"
        );
    });
}
