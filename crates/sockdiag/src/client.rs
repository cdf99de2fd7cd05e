//! A blocking `NETLINK_SOCK_DIAG` socket: streamed dumps and batched destroys.
//!
//! The socket, the dump stream and the batching are the `netlink` crate's;
//! what is ours is the requests, and the fault injection that stands in for
//! kernels we cannot test on.

use std::os::fd::{AsFd, BorrowedFd};

use crate::msg::{self, DumpRequest, Family, InetDiagMsg, Reply, SockDiag, SockId};
use crate::Error;

use crate::fault::DumpFault as FaultKind;

/// Destroy requests sent in one `sendmsg`. Each earns its own ack in the
/// socket's receive queue; a batch must stay well under the receive buffer
/// or the kernel drops acks (and flags `ENOBUFS`).
pub const DESTROY_BATCH: usize = 128;

/// A netlink socket speaking `NETLINK_SOCK_DIAG`, in the network namespace of
/// the thread that created it.
#[derive(Debug)]
pub struct Client {
    socket: netlink::Socket,
    #[cfg(feature = "fault-injection")]
    faults: crate::fault::Faults,
}

impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
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
        Ok(Client {
            socket: netlink::Socket::open::<SockDiag>()?,
            #[cfg(feature = "fault-injection")]
            faults: crate::fault::Faults::from_env(),
        })
    }

    /// Start a dump ([`SOCK_DIAG_BY_FAMILY`](crate::SOCK_DIAG_BY_FAMILY)).
    ///
    /// The records stream in as the returned iterator is driven, one
    /// datagram at a time; nothing holds the whole dump in memory.
    pub fn dump(&mut self, request: &DumpRequest) -> Result<Dump<'_>, Error> {
        self.start_dump(false, |seq, out| msg::encode_dump(request, seq, out))
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
        self.start_dump(true, |seq, out| {
            msg::encode_dump_both_families(request, seq, out)
        })
    }

    /// Send the dump request `encode` writes and start reading its reply,
    /// as a kernel with the faults asked for would answer it.
    fn start_dump(
        &mut self,
        both_families: bool,
        encode: impl FnOnce(u32, &mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<Dump<'_>, Error> {
        #[cfg_attr(not(feature = "fault-injection"), allow(unused_mut))]
        let mut inner = self.socket.dump::<SockDiag>(encode)?;
        #[cfg(feature = "fault-injection")]
        let fault = match self.faults.both_families() {
            Some(errno) if both_families => Some(FaultKind::Errno(errno)),
            _ => self.faults.next_dump(),
        };
        #[cfg(not(feature = "fault-injection"))]
        let _ = both_families;
        #[cfg(not(feature = "fault-injection"))]
        let fault = None;
        if fault == Some(FaultKind::Interrupted) {
            inner.mark_interrupted();
        }
        Ok(Dump {
            inner,
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
        let answer = |reply| match reply {
            Reply::Ack { errno: 0 } => Some(Ok(())),
            Reply::Ack { errno } => Some(Err(Error::from_errno(errno))),
            _ => None,
        };
        // A destroy that succeeds is an empty acknowledgement: ask for it
        // once a `sendmsg`, and hear only of the failures.
        self.batched(targets, results, msg::encode_destroy, answer, Some(|| ()))
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
        let answer = |reply| match reply {
            Reply::Record(record) => Some(Ok(Some(record))),
            Reply::Ack { errno: 0 } => Some(Ok(None)),
            Reply::Ack { errno } => Some(match Error::from_errno(errno) {
                Error::NotFound { .. } => Ok(None),
                err => Err(err),
            }),
            _ => None,
        };
        self.batched(targets, results, msg::encode_lookup, answer, None)
    }

    /// Send one request per target, `DESTROY_BATCH` per `sendmsg`, and
    /// push one answer per target onto `results`, in the order of `targets`
    /// ([`netlink::Socket::batched`]); `answer` reads a reply (`None`: not
    /// an answer, skip it); `quiet` is the success of a request the kernel
    /// answers only when it fails.
    fn batched<T>(
        &mut self,
        targets: &[(Family, SockId)],
        results: &mut Vec<Result<T, Error>>,
        encode: fn(Family, &SockId, u32, &mut Vec<u8>),
        answer: impl Fn(Reply) -> Option<Result<T, Error>>,
        quiet: Option<fn() -> T>,
    ) -> Result<(), Error> {
        self.socket.batched::<SockDiag, _, _>(
            targets,
            DESTROY_BATCH,
            |(family, id), seq, out| {
                encode(*family, id, seq, out);
                Ok(())
            },
            answer,
            quiet,
            results,
        )
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
    inner: netlink::Dump<'a, SockDiag>,
    /// An errno to fail with before the first record (fault injection).
    failure: Option<i32>,
}

impl Iterator for Dump<'_> {
    type Item = Result<InetDiagMsg, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(errno) = self.failure.take() {
            // As the kernel would say it; its real reply is still coming,
            // and dropping the dump drains it.
            self.inner.stop();
            return Some(Err(Error::from_errno(errno)));
        }
        self.inner.next()
    }
}
