//! The client against replies the kernel never sends. Root may unicast to any
//! netlink port, so a second `NETLINK_SOCK_DIAG` socket queues crafted
//! datagrams in front of the kernel's real reply: stray sequence numbers,
//! malformed messages, a datagram larger than the receive buffer. Each must
//! end in a clean error or be skipped, never a panic or a hang, and the
//! client must work for the next request.

// A panic is how a test fails, in its helpers as in its tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc;
use std::time::Duration;

use nstest::{connect, in_netns, listen, read_errno};
use rustix::net::{netlink, AddressFamily, SendFlags, SocketFlags, SocketType};
use sockdiag::{Client, DumpRequest, Error, Family, InetDiagMsg, ALL_TCP_STATES};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_MULTI: u16 = 2;

/// Run `body` with a deadline: a client that loops or blocks fails the test
/// instead of hanging the suite.
fn within(limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(limit) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the client did not finish in {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the client panicked"),
    }
}

/// The netlink port the client's socket is bound to (after its first send).
fn port_of(client: &Client) -> u32 {
    let addr = rustix::net::getsockname(client.as_fd()).expect("getsockname");
    netlink::SocketAddrNetlink::try_from(addr)
        .expect("a netlink address")
        .pid()
}

fn injector() -> OwnedFd {
    rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )
    .expect("netlink socket")
}

fn inject(from: &OwnedFd, port: u32, datagram: &[u8]) {
    let to = netlink::SocketAddrNetlink::new(port, 0);
    let sent = rustix::net::sendto(from, datagram, SendFlags::empty(), &to).expect("inject");
    assert_eq!(sent, datagram.len());
}

fn message(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(16 + payload.len() as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(payload);
    out
}

/// An `inet_diag_msg` for an ESTABLISHED IPv4 socket 10.9.9.9:1 -> :2.
fn fake_record() -> Vec<u8> {
    let mut msg = vec![2, 1, 0, 0];
    msg.extend_from_slice(&1u16.to_be_bytes());
    msg.extend_from_slice(&2u16.to_be_bytes());
    msg.extend_from_slice(&[10, 9, 9, 9]);
    msg.extend_from_slice(&[0; 12]);
    msg.extend_from_slice(&[10, 9, 9, 9]);
    msg.extend_from_slice(&[0; 12]);
    msg.extend_from_slice(&[0; 4 + 8 + 20]);
    assert_eq!(msg.len(), 72);
    msg
}

fn dump_all(client: &mut Client) -> Result<Vec<InetDiagMsg>, Error> {
    client
        .dump(&DumpRequest::tcp(Family::Inet, ALL_TCP_STATES))?
        .collect()
}

/// A client whose socket is bound, and the records a clean dump gives.
fn bound_client() -> (Client, Vec<InetDiagMsg>) {
    let mut client = Client::new().expect("client");
    let records = dump_all(&mut client).expect("a clean dump");
    assert!(!records.is_empty());
    (client, records)
}

#[test]
fn records_and_ends_with_stray_sequence_numbers_are_skipped() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let _pair = connect(&listener);
        let (mut client, clean) = bound_client();
        let port = port_of(&client);
        let from = injector();
        let mut stray = message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 999, &fake_record());
        stray.extend(message(NLMSG_DONE, NLM_F_MULTI, 999, &0i32.to_ne_bytes()));
        inject(&from, port, &stray);
        inject(
            &from,
            port,
            &message(NLMSG_ERROR, 0, 998, &(-1i32).to_ne_bytes()),
        );
        within(Duration::from_secs(10), move || {
            let records = dump_all(&mut client).expect("the real dump, strays skipped");
            assert_eq!(records, clean, "a stray record was taken for ours");
        });
    });
}

#[test]
fn a_malformed_datagram_is_an_error_and_the_client_recovers() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let _pair = connect(&listener);
        let (mut client, clean) = bound_client();
        let port = port_of(&client);
        let from = injector();
        // nlmsg_len 4: shorter than its own header.
        let mut bad = 4u32.to_ne_bytes().to_vec();
        bad.extend_from_slice(&[0xAB; 28]);
        inject(&from, port, &bad);
        within(Duration::from_secs(10), move || {
            let err = dump_all(&mut client).expect_err("a malformed reply");
            assert!(matches!(err, Error::Invalid(_)), "{err:?}");
            // The abandoned dump was drained: the next one is whole.
            assert_eq!(dump_all(&mut client).expect("the next dump"), clean);
        });
    });
}

#[test]
fn a_datagram_larger_than_the_buffer_is_msg_trunc_and_the_client_recovers() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        // Enough sockets that the kernel's reply spans several datagrams, so
        // it is still running when the oversized one is met.
        let _pairs: Vec<_> = (0..250).map(|_| connect(&listener)).collect();
        let (mut client, clean) = bound_client();
        let port = port_of(&client);
        let from = injector();
        let huge = message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, 999, &vec![0u8; 70_000]);
        inject(&from, port, &huge);
        within(Duration::from_secs(10), move || {
            let err = dump_all(&mut client).expect_err("a truncated reply");
            assert!(
                matches!(&err, Error::Invalid(text) if text.contains("MSG_TRUNC")),
                "{err:?}"
            );
            assert_eq!(dump_all(&mut client).expect("the next dump"), clean);
        });
    });
}

#[test]
fn stray_acks_do_not_answer_for_a_destroy() {
    in_netns(|| {
        let listener = listen("127.0.0.1:0");
        let (mut owner, _server) = connect(&listener);
        let local = owner.local_addr().unwrap();
        let (mut client, clean) = bound_client();
        let target = clean
            .iter()
            .find(|r| r.id.sport == local.port())
            .expect("the client end is listed")
            .id;
        let port = port_of(&client);
        let from = injector();
        // Acks for sequence numbers the next batch does not use, and one
        // claiming failure (EPERM) for a number it might: the client's
        // sequence counter is past 1, so 1 is stale.
        for seq in [0u32, 1, 0xFFFF_FFFF] {
            inject(
                &from,
                port,
                &message(NLMSG_ERROR, 0, seq, &(-1i32).to_ne_bytes()),
            );
        }
        let mut results = Vec::new();
        client
            .destroy_batch(&[(Family::Inet, target)], &mut results)
            .expect("the batch");
        assert!(matches!(results.as_slice(), [Ok(())]), "{results:?}");
        assert_eq!(
            read_errno(&mut owner),
            Some(103),
            "the owner sees ECONNABORTED"
        );
    });
}
