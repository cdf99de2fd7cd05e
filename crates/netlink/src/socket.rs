//! A blocking netlink socket: requests out, whole datagrams in, answers
//! matched to requests by sequence number.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    netlink, AddressFamily, RecvAncillaryBuffer, RecvFlags, ReturnFlags, SendFlags, SocketFlags,
    SocketType,
};

use crate::dump::Dump;
use crate::message::{parse_datagram, Reply, NLM_F_ACK};
use crate::{Error, Protocol};

/// Room for one datagram. The kernel caps a dump skb near 32 KiB
/// (`netlink_dump`, `SKB_WITH_OVERHEAD(32768)`, or the reader's buffer if
/// smaller); twice that leaves margin, and a datagram that still does not
/// fit is reported, never cut silently.
pub const RECV_BUF_LEN: usize = 64 * 1024;

/// What we ask `SO_RCVBUF` to be, so that a batch of acks always fits.
const SOCKET_RCVBUF: usize = 1 << 20;

/// A netlink socket of one protocol, in the network namespace of the
/// thread that created it, with its buffers and sequence numbers.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    pub(crate) rx: Vec<u8>,
    tx: Vec<u8>,
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Socket {
    /// Open a netlink socket of the protocol `P` ([`socket(2)`],
    /// [`netlink(7)`]).
    ///
    /// The socket belongs to the network namespace of the calling thread,
    /// which after `setns(2)` may differ from the process's. A kernel
    /// without the protocol is [`Error::NotSupported`].
    ///
    /// [`socket(2)`]: https://man7.org/linux/man-pages/man2/socket.2.html
    /// [`netlink(7)`]: https://man7.org/linux/man-pages/man7/netlink.7.html
    pub fn open<P: Protocol>() -> Result<Socket, Error<P>> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            P::NUMBER,
        )
        .map_err(|errno| match errno {
            Errno::PROTONOSUPPORT | Errno::AFNOSUPPORT => Error::NotSupported {
                errno: errno.raw_os_error(),
            },
            other => Error::from(other),
        })?;
        // A larger buffer is an optimisation; the default still works.
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&fd, SOCKET_RCVBUF);
        Ok(Socket {
            fd,
            seq: 0,
            rx: vec![0; RECV_BUF_LEN],
            tx: Vec::with_capacity(4096),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Send the requests in `self.tx` to the kernel in one [`sendto(2)`].
    ///
    /// [`sendto(2)`]: https://man7.org/linux/man-pages/man2/sendto.2.html
    fn send_tx<P>(&mut self) -> Result<(), Error<P>> {
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

    /// Receive one datagram into `self.rx` ([`recvmsg(2)`]), returning its
    /// length; a datagram cut short (`MSG_TRUNC`) is an [`Error::Invalid`].
    ///
    /// [`recvmsg(2)`]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
    pub(crate) fn recv<P>(&mut self, flags: RecvFlags) -> Result<usize, Error<P>> {
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

    /// Start a dump: `encode` appends the request, with the sequence number
    /// it is given, to an empty buffer, which is then sent. The records
    /// stream in as the returned iterator is driven, one datagram at a
    /// time; nothing holds the whole dump in memory.
    pub fn dump<P: Protocol>(
        &mut self,
        encode: impl FnOnce(u32, &mut Vec<u8>) -> Result<(), Error<P>>,
    ) -> Result<Dump<'_, P>, Error<P>> {
        let seq = self.next_seq();
        self.tx.clear();
        encode(seq, &mut self.tx)?;
        self.send_tx::<P>()?;
        Ok(Dump::new(self, seq))
    }

    /// Send one request, which `encode` appends with the sequence number it
    /// is given, and read replies until `answer` makes one of a reply to it
    /// (`None`: not the answer, read on). Replies to other requests (an
    /// abandoned earlier one) are skipped. The first answer is the one: the
    /// rest of its datagram is not read.
    pub fn request<P: Protocol, T>(
        &mut self,
        encode: impl FnOnce(u32, &mut Vec<u8>) -> Result<(), Error<P>>,
        answer: impl Fn(Reply<P::Record>) -> Option<Result<T, Error<P>>>,
    ) -> Result<T, Error<P>> {
        let seq = self.next_seq();
        self.tx.clear();
        encode(seq, &mut self.tx)?;
        self.send_tx::<P>()?;
        loop {
            let len = self.recv::<P>(RecvFlags::empty())?;
            let datagram = self.rx.get(..len).unwrap_or_default();
            for message in parse_datagram::<P>(datagram) {
                let (header, reply) = message?;
                if header.seq != seq {
                    continue;
                }
                if let Some(result) = answer(reply) {
                    return result;
                }
            }
        }
    }

    /// Send one request per target, `per_send` requests per `sendmsg`, and
    /// push one answer per target onto `results`, in the order of
    /// `targets`; `encode` appends the request for a target with the
    /// sequence number it is given.
    ///
    /// Each request earns its own answer in the socket's receive queue, so
    /// `per_send` must stay well under the receive buffer or the kernel
    /// drops answers (and flags `ENOBUFS`). Replies are matched to requests
    /// by sequence number; `answer` reads a reply (`None`: not an answer,
    /// skip it). A reply to another request (an abandoned earlier one) is
    /// not counted. A target whose answer never came is
    /// [`Error::Interrupted`]. The outer `Err` is a failure of the socket
    /// itself (or of `encode`), after which the answers not yet read are
    /// unknown (and not pushed).
    ///
    /// `quiet`, for requests whose success is an empty acknowledgement
    /// (`SOCK_DESTROY`), is that success: every request of a `sendmsg` but
    /// its last is then sent without `NLM_F_ACK`, so the kernel answers
    /// only its failures. It handles the requests of one `sendmsg` in
    /// order and queues their answers in order, so once the last one's
    /// acknowledgement is read, a request with no answer succeeded: one
    /// `recvmsg` a `sendmsg` instead of one a request. (An answer the
    /// kernel could not queue is `ENOBUFS` on the socket: the outer `Err`.)
    pub fn batched<P: Protocol, R, T>(
        &mut self,
        targets: &[R],
        per_send: usize,
        encode: impl Fn(&R, u32, &mut Vec<u8>) -> Result<(), Error<P>>,
        answer: impl Fn(Reply<P::Record>) -> Option<Result<T, Error<P>>>,
        quiet: Option<fn() -> T>,
        results: &mut Vec<Result<T, Error<P>>>,
    ) -> Result<(), Error<P>> {
        for chunk in targets.chunks(per_send.max(1)) {
            let first = self.seq.wrapping_add(1);
            self.tx.clear();
            let last = chunk.len().saturating_sub(1);
            for (n, target) in chunk.iter().enumerate() {
                let seq = self.next_seq();
                let at = self.tx.len();
                encode(target, seq, &mut self.tx)?;
                if quiet.is_some() && n < last {
                    // All but the last: the flags are bytes 6 and 7 of a header.
                    let range = at.saturating_add(6)..at.saturating_add(8);
                    if let Some(flags) = self.tx.get_mut(range) {
                        if let Ok(bytes) = <[u8; 2]>::try_from(&*flags) {
                            let value = u16::from_ne_bytes(bytes) & !NLM_F_ACK;
                            flags.copy_from_slice(&value.to_ne_bytes());
                        }
                    }
                }
            }
            self.send_tx::<P>()?;
            let mut answers: Vec<Option<Result<T, Error<P>>>> = Vec::new();
            answers.resize_with(chunk.len(), || None);
            let mut missing = if quiet.is_some() { 1 } else { chunk.len() };
            while missing > 0 {
                let len = self.recv::<P>(RecvFlags::empty())?;
                let datagram = self.rx.get(..len).unwrap_or_default();
                for message in parse_datagram::<P>(datagram) {
                    let (header, reply) = message?;
                    let index = header.seq.wrapping_sub(first) as usize;
                    let Some(slot) = answers.get_mut(index) else {
                        continue;
                    };
                    let Some(answer) = answer(reply) else {
                        continue;
                    };
                    if slot.is_none() && (quiet.is_none() || index == last) {
                        missing = missing.saturating_sub(1);
                    }
                    *slot = Some(answer);
                }
            }
            results.extend(answers.into_iter().map(|a| match (a, &quiet) {
                (Some(answer), _) => answer,
                (None, Some(success)) => Ok(success()),
                (None, None) => Err(Error::Interrupted),
            }));
        }
        Ok(())
    }
}
