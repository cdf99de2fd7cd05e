//! A blocking `NETLINK_SOCK_DIAG` socket: streamed dumps and batched destroys.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    netlink, AddressFamily, RecvAncillaryBuffer, RecvFlags, ReturnFlags, SendFlags, SocketFlags,
    SocketType,
};

use crate::msg::{self, DumpRequest, Family, Header, InetDiagMsg, Reply, SockId, NLM_F_DUMP_INTR};
use crate::Error;

use crate::fault::DumpFault as FaultKind;

/// Room for one datagram. The kernel caps a dump skb near 32 KiB
/// (`netlink_dump`, `SKB_WITH_OVERHEAD(32768)`); twice that leaves margin,
/// and a datagram that still does not fit is reported, never cut silently.
const RECV_BUF_LEN: usize = 64 * 1024;

/// Destroy requests sent in one `sendmsg`. Each earns its own ack in the
/// socket's receive queue; a batch must stay well under the receive buffer
/// or the kernel drops acks (and flags `ENOBUFS`).
pub const DESTROY_BATCH: usize = 128;

/// What we ask `SO_RCVBUF` to be, so that a batch of acks always fits.
const SOCKET_RCVBUF: usize = 1 << 20;

/// A netlink socket speaking `NETLINK_SOCK_DIAG`, in the network namespace of
/// the thread that created it.
#[derive(Debug)]
pub struct Client {
    fd: OwnedFd,
    seq: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
    #[cfg(feature = "fault-injection")]
    faults: crate::fault::Faults,
}

impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Client {
    /// Open a `NETLINK_SOCK_DIAG` socket ([`socket(2)`], [`netlink(7)`]).
    ///
    /// The socket belongs to the network namespace of the calling thread,
    /// which after `setns(2)` may differ from the process's.
    ///
    /// [`socket(2)`]: https://man7.org/linux/man-pages/man2/socket.2.html
    /// [`netlink(7)`]: https://man7.org/linux/man-pages/man7/netlink.7.html
    pub fn new() -> Result<Client, Error> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )
        .map_err(|errno| match errno {
            Errno::PROTONOSUPPORT | Errno::AFNOSUPPORT => Error::NotSupported {
                errno: errno.raw_os_error(),
            },
            other => Error::from(other),
        })?;
        // A larger buffer is an optimisation; the default still works.
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&fd, SOCKET_RCVBUF);
        Ok(Client {
            fd,
            seq: 0,
            rx: vec![0; RECV_BUF_LEN],
            tx: Vec::with_capacity(4096),
            #[cfg(feature = "fault-injection")]
            faults: crate::fault::Faults::from_env(),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send_tx(&mut self) -> Result<(), Error> {
        let kernel = netlink::SocketAddrNetlink::new(0, 0);
        loop {
            match rustix::net::sendto(&self.fd, &self.tx, SendFlags::empty(), &kernel) {
                Ok(n) if n == self.tx.len() => return Ok(()),
                Ok(n) => {
                    return Err(Error::Invalid(format!(
                        "sent {n} of {} bytes of a netlink request",
                        self.tx.len()
                    )))
                }
                Err(Errno::INTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
        }
    }

    /// Receive one datagram into `self.rx`, returning its length.
    fn recv(&mut self) -> Result<usize, Error> {
        self.recv_with(RecvFlags::empty())
    }

    fn recv_with(&mut self, flags: RecvFlags) -> Result<usize, Error> {
        loop {
            let mut iov = [IoSliceMut::new(&mut self.rx)];
            let mut control = RecvAncillaryBuffer::default();
            match rustix::net::recvmsg(&self.fd, &mut iov, &mut control, flags) {
                Ok(got) if got.flags.contains(ReturnFlags::TRUNC) => {
                    return Err(Error::Invalid(format!(
                        "a reply did not fit the {RECV_BUF_LEN}-byte receive buffer (MSG_TRUNC)"
                    )))
                }
                Ok(got) => return Ok(got.bytes),
                Err(Errno::INTR) => continue,
                Err(errno) => return Err(errno.into()),
            }
        }
    }

    /// Start a dump ([`SOCK_DIAG_BY_FAMILY`](crate::SOCK_DIAG_BY_FAMILY)).
    ///
    /// The records stream in as the returned iterator is driven, one
    /// datagram at a time; nothing holds the whole dump in memory.
    pub fn dump(&mut self, request: &DumpRequest) -> Result<Dump<'_>, Error> {
        let seq = self.next_seq();
        self.tx.clear();
        msg::encode_dump(request, seq, &mut self.tx)?;
        self.start_dump(seq, false)
    }

    /// Start a dump of the TCP sockets of both families in one walk of the
    /// kernel's tables ([`TCPDIAG_GETSOCK`](crate::TCPDIAG_GETSOCK), see
    /// [`encode_dump_both_families`](crate::encode_dump_both_families));
    /// `request.family` does not narrow it.
    ///
    /// A kernel that does not serve this request answers with an error as
    /// the iterator's first item (`EINVAL`, `ENOENT` or `EOPNOTSUPP`):
    /// then [`Client::dump`] once per family gives the same records.
    pub fn dump_both_families(&mut self, request: &DumpRequest) -> Result<Dump<'_>, Error> {
        let seq = self.next_seq();
        self.tx.clear();
        msg::encode_dump_both_families(request, seq, &mut self.tx)?;
        self.start_dump(seq, true)
    }

    fn start_dump(&mut self, seq: u32, both_families: bool) -> Result<Dump<'_>, Error> {
        self.send_tx()?;
        #[cfg(feature = "fault-injection")]
        let fault = match self.faults.both_families() {
            Some(errno) if both_families => Some(FaultKind::Errno(errno)),
            _ => self.faults.next_dump(),
        };
        #[cfg(not(feature = "fault-injection"))]
        let _ = both_families;
        #[cfg(not(feature = "fault-injection"))]
        let fault = None;
        Ok(Dump {
            client: self,
            seq,
            pos: 0,
            len: 0,
            interrupted: fault == Some(FaultKind::Interrupted),
            done: false,
            finished: false,
            corrupt: false,
            failure: match fault {
                Some(FaultKind::Errno(errno)) => Some(errno),
                _ => None,
            },
        })
    }

    /// Abort one socket ([`SOCK_DESTROY`](crate::SOCK_DESTROY)) and wait for
    /// the kernel's answer.
    ///
    /// `id` should come from a dump, cookie included: without a cookie the
    /// kernel's lookup may settle on a listener or a newer socket.
    pub fn destroy(&mut self, family: Family, id: &SockId) -> Result<(), Error> {
        let mut results = Vec::with_capacity(1);
        self.destroy_batch(&[(family, *id)], &mut results)?;
        results
            .pop()
            .unwrap_or_else(|| Err(Error::Invalid("no answer to SOCK_DESTROY".into())))
    }

    /// Abort many sockets, `DESTROY_BATCH` requests per `sendmsg`, pushing
    /// one result per target onto `results`, in the order of `targets`.
    ///
    /// Acks are matched to requests by sequence number. The outer `Err` is for
    /// a failure of the socket itself, after which the results of the targets
    /// not yet answered are unknown (and not pushed).
    pub fn destroy_batch(
        &mut self,
        targets: &[(Family, SockId)],
        results: &mut Vec<Result<(), Error>>,
    ) -> Result<(), Error> {
        #[cfg(feature = "fault-injection")]
        if let (real, Some(errno)) = self.faults.destroys(targets.len()) {
            let (head, tail) = targets.split_at(real);
            self.destroy_in_batches(head, results)?;
            results.extend(tail.iter().map(|_| Err(Error::from_errno(errno))));
            return Ok(());
        }
        self.destroy_in_batches(targets, results)
    }

    fn destroy_in_batches(
        &mut self,
        targets: &[(Family, SockId)],
        results: &mut Vec<Result<(), Error>>,
    ) -> Result<(), Error> {
        self.batched(targets, results, msg::encode_destroy, |reply| match reply {
            Reply::Ack { errno: 0 } => Some(Ok(())),
            Reply::Ack { errno } => Some(Err(Error::from_errno(errno))),
            _ => None,
        })
    }

    /// Send one request per target, `DESTROY_BATCH` per `sendmsg`, and
    /// push one answer per target onto `results`, in the order of `targets`.
    /// Replies are matched to requests by sequence number; `answer` reads a
    /// reply (`None`: not an answer, skip it). A reply to another request (an
    /// abandoned earlier one) is not counted. The outer `Err` is a failure of
    /// the socket itself, after which the answers not yet read are unknown
    /// (and not pushed).
    fn batched<T>(
        &mut self,
        targets: &[(Family, SockId)],
        results: &mut Vec<Result<T, Error>>,
        encode: fn(Family, &SockId, u32, &mut Vec<u8>),
        answer: impl Fn(Reply) -> Option<Result<T, Error>>,
    ) -> Result<(), Error> {
        for chunk in targets.chunks(DESTROY_BATCH) {
            let first = self.seq.wrapping_add(1);
            self.tx.clear();
            for (family, id) in chunk {
                let seq = self.next_seq();
                encode(*family, id, seq, &mut self.tx);
            }
            self.send_tx()?;
            let mut answers: Vec<Option<Result<T, Error>>> = Vec::new();
            answers.resize_with(chunk.len(), || None);
            let mut missing = chunk.len();
            while missing > 0 {
                let len = self.recv()?;
                let datagram = self.rx.get(..len).unwrap_or_default();
                for message in msg::parse_datagram(datagram) {
                    let (header, reply) = message?;
                    let index = header.seq.wrapping_sub(first) as usize;
                    let Some(slot) = answers.get_mut(index) else {
                        continue;
                    };
                    let Some(answer) = answer(reply) else {
                        continue;
                    };
                    if slot.is_none() {
                        missing = missing.saturating_sub(1);
                    }
                    *slot = Some(answer);
                }
            }
            results.extend(
                answers
                    .into_iter()
                    .map(|a| a.unwrap_or(Err(Error::Interrupted))),
            );
        }
        Ok(())
    }

    /// Look up sockets by their ids (`inet_diag_get_exact`, see
    /// [`encode_lookup`](crate::encode_lookup)), `DESTROY_BATCH` requests
    /// per `sendmsg`, pushing one answer per target onto `results`, in the
    /// order of `targets`: the record, or `None` when the kernel found no
    /// such socket (or none with the cookie given).
    ///
    /// A lookup costs a hash lookup in the kernel, where finding a few
    /// sockets by a dump walks all of them. The kernel falls back to a
    /// listener when no connection has the tuple: check the record's tuple.
    /// The outer `Err` is a failure of the socket itself, after which the
    /// answers not yet read are unknown (and not pushed).
    pub fn lookup_batch(
        &mut self,
        targets: &[(Family, SockId)],
        results: &mut Vec<Result<Option<InetDiagMsg>, Error>>,
    ) -> Result<(), Error> {
        self.batched(targets, results, msg::encode_lookup, |reply| match reply {
            Reply::Diag(record) => Some(Ok(Some(record))),
            Reply::Ack { errno: 0 } => Some(Ok(None)),
            Reply::Ack { errno } => Some(match Error::from_errno(errno) {
                Error::NotFound { .. } => Ok(None),
                err => Err(err),
            }),
            _ => None,
        })
    }
}

/// A dump in progress: an iterator over the records of one
/// `SOCK_DIAG_BY_FAMILY` reply.
///
/// It yields `Err(Error::Interrupted)` last if the kernel flagged the dump as
/// inconsistent (`NLM_F_DUMP_INTR`), and stops after any error. Dropping it
/// early reads and discards the rest of the reply, so the socket is ready
/// for the next request.
#[derive(Debug)]
pub struct Dump<'a> {
    client: &'a mut Client,
    seq: u32,
    pos: usize,
    len: usize,
    interrupted: bool,
    /// The kernel's reply has ended (or the socket failed): nothing more to read.
    done: bool,
    /// The iterator has returned `None` or an error and is fused.
    finished: bool,
    /// An errno to fail with before the first record (fault injection).
    failure: Option<i32>,
    /// A malformed message was seen: the rest of its datagram, where the
    /// end of the reply might have been, is lost, so draining must not
    /// block waiting for an end that may never come.
    corrupt: bool,
}

impl Dump<'_> {
    fn step(&mut self) -> Result<Option<InetDiagMsg>, Error> {
        if let Some(errno) = self.failure.take() {
            // As the kernel would say it; its real reply is still coming,
            // and Drop drains it.
            return Err(Error::from_errno(errno));
        }
        loop {
            if self.pos >= self.len {
                // The kernel produces the next part of a dump inside
                // recvmsg, so a non-blocking read still drains a live dump;
                // EAGAIN then means the reply has ended.
                let flags = if self.corrupt {
                    RecvFlags::DONTWAIT
                } else {
                    RecvFlags::empty()
                };
                self.len = match self.client.recv_with(flags) {
                    Ok(len) => len,
                    // A datagram too big for the buffer (MSG_TRUNC) is lost,
                    // but the reply goes on: drain it without blocking.
                    Err(err @ Error::Invalid(_)) => {
                        self.corrupt = true;
                        return Err(err);
                    }
                    Err(err) => {
                        self.done = true;
                        return Err(err);
                    }
                };
                self.pos = 0;
                if self.len == 0 {
                    return Err(Error::Invalid("the netlink socket returned no data".into()));
                }
            }
            let rest = self.client.rx.get(self.pos..self.len).unwrap_or_default();
            let Some(message) = msg::parse_datagram(rest).next() else {
                self.pos = self.len;
                continue;
            };
            let (header, reply) = match message {
                Ok(parsed) => parsed,
                Err(err) => {
                    self.pos = self.len;
                    self.corrupt = true;
                    return Err(err);
                }
            };
            self.pos = self.pos.saturating_add(advance(&header)).min(self.len);
            if header.seq != self.seq {
                continue; // left over from an earlier request
            }
            if header.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            if matches!(reply, Reply::Done { .. } | Reply::Overrun)
                || matches!(reply, Reply::Ack { errno } if errno != 0)
            {
                self.done = true;
            }
            match reply {
                Reply::Diag(record) => return Ok(Some(record)),
                Reply::Done { errno: 0 } => {
                    return if self.interrupted {
                        Err(Error::Interrupted)
                    } else {
                        Ok(None)
                    };
                }
                Reply::Done { errno } | Reply::Ack { errno } if errno != 0 => {
                    return Err(Error::from_errno(errno))
                }
                Reply::Overrun => {
                    return Err(Error::Io(std::io::Error::from_raw_os_error(
                        Errno::NOBUFS.raw_os_error(),
                    )))
                }
                Reply::Done { .. } | Reply::Ack { .. } | Reply::Other => continue,
            }
        }
    }
}

fn advance(header: &Header) -> usize {
    let len = usize::try_from(header.len).unwrap_or(usize::MAX);
    len.saturating_add(3) & !3
}

impl Iterator for Dump<'_> {
    type Item = Result<InetDiagMsg, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.step() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(err) => {
                self.finished = true;
                Some(Err(err))
            }
        }
    }
}

impl Drop for Dump<'_> {
    fn drop(&mut self) {
        // The kernel refuses a new dump (EBUSY) while one is unfinished on
        // the socket, so read this one to its end. A socket error ends it too.
        // A malformed message is skipped; only the end of the reply or a
        // failing socket stops the draining.
        while !self.done {
            let _ = self.step();
        }
    }
}
