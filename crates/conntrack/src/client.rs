//! A blocking `NETLINK_NETFILTER` socket speaking ctnetlink: streamed dumps
//! of the conntrack table and exact deletes.

use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{
    netlink, AddressFamily, RecvAncillaryBuffer, RecvFlags, ReturnFlags, SendFlags, SocketFlags,
    SocketType,
};

use crate::flow::{Family, Flow, FlowKey, Tuple};
use crate::msg::{self, Header, Reply, IPPROTO_UDP, NLM_F_DUMP_INTR};
use crate::Error;

/// Room for one datagram. The kernel sizes a dump's datagrams by the
/// reader's buffer up to 32 KiB (`netlink_dump`); twice that leaves margin,
/// and a datagram that still does not fit is reported, never cut silently.
const RECV_BUF_LEN: usize = 64 * 1024;

/// What we ask `SO_RCVBUF` to be.
const SOCKET_RCVBUF: usize = 1 << 20;

/// A netlink socket speaking ctnetlink, in the network namespace of the
/// thread that created it.
#[derive(Debug)]
pub struct Client {
    fd: OwnedFd,
    seq: u32,
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Whether the kernel tracks connections in a network namespace.
///
/// Connection tracking is attached to a namespace's packet path only when
/// something there needs it (a rule that matches `ct state`, NAT, ...;
/// `nf_ct_netns_get` in the kernel, seen on 6.18): with nothing asking, forwarded connections pass
/// untracked and the table stays empty, so an empty dump alone cannot say
/// whether there is nothing to list or nothing is being tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracking {
    /// The probe datagram was tracked: connections of this family are.
    Active,
    /// It was not: connection tracking is not active for this family's
    /// traffic (forwarded traffic included) in this namespace.
    Inactive,
}

impl std::fmt::Display for Tracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tracking::Active => "connection tracking is active",
            Tracking::Inactive => {
                "connection tracking is not active for forwarded traffic \
                 (no rule in this network namespace uses it, so the kernel \
                 keeps no table of the connections it forwards)"
            }
        })
    }
}

impl Client {
    /// Open a `NETLINK_NETFILTER` socket ([`socket(2)`], [`netlink(7)`]).
    ///
    /// The socket belongs to the network namespace of the calling thread,
    /// which after `setns(2)` may differ from the process's. Opening needs
    /// no privilege; every request does (`CAP_NET_ADMIN`).
    ///
    /// [`socket(2)`]: https://man7.org/linux/man-pages/man2/socket.2.html
    /// [`netlink(7)`]: https://man7.org/linux/man-pages/man7/netlink.7.html
    pub fn new() -> Result<Client, Error> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::NETFILTER),
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
            tx: Vec::with_capacity(256),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Send `self.tx` to the kernel ([`sendto(2)`]).
    ///
    /// [`sendto(2)`]: https://man7.org/linux/man-pages/man2/sendto.2.html
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

    /// Receive one datagram into `self.rx` ([`recvmsg(2)`]), returning its
    /// length; a datagram cut short (`MSG_TRUNC`) is an error.
    ///
    /// [`recvmsg(2)`]: https://man7.org/linux/man-pages/man2/recvmsg.2.html
    fn recv(&mut self, flags: RecvFlags) -> Result<usize, Error> {
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

    /// Start a dump of the conntrack table (`IPCTNL_MSG_CT_GET` with
    /// `NLM_F_DUMP`): the entries of `family`, or of both for `None`, every
    /// protocol. The entries stream in as the returned iterator is driven,
    /// one datagram at a time.
    pub fn dump(&mut self, family: Option<Family>) -> Result<Dump<'_>, Error> {
        let seq = self.next_seq();
        self.tx.clear();
        msg::encode_dump(family, seq, &mut self.tx);
        self.send_tx()?;
        Ok(Dump {
            client: self,
            seq,
            pos: 0,
            len: 0,
            interrupted: false,
            done: false,
            finished: false,
            corrupt: false,
        })
    }

    /// The TCP entries of `family` (both for `None`), read to the end.
    pub fn tcp_flows(&mut self, family: Option<Family>) -> Result<Vec<Flow>, Error> {
        let mut flows = Vec::new();
        for flow in self.dump(family)? {
            let flow = flow?;
            if flow.is_tcp() {
                flows.push(flow);
            }
        }
        Ok(flows)
    }

    /// Look up the one entry that has `tuple`, as its original or its reply
    /// tuple, in `zone` (`IPCTNL_MSG_CT_GET` without `NLM_F_DUMP`: a hash
    /// lookup in the kernel, where finding one entry by a dump reads them
    /// all). `None` when there is no such entry.
    pub fn get(&mut self, tuple: &Tuple, zone: u16) -> Result<Option<Flow>, Error> {
        let seq = self.next_seq();
        self.tx.clear();
        msg::encode_get(tuple, zone, seq, &mut self.tx)?;
        self.send_tx()?;
        self.answer(seq, |reply| match reply {
            Reply::Flow(flow) => Some(Ok(Some(flow))),
            Reply::Ack { errno: 0 } => Some(Ok(None)),
            Reply::Ack { errno } => Some(match Error::from_errno(errno) {
                Error::NotFound => Ok(None),
                err => Err(err),
            }),
            _ => None,
        })
    }

    /// Read replies until `answer` makes one of a reply to request `seq`
    /// (`None`: not the answer, read on); replies to other requests (an
    /// abandoned earlier one) are skipped.
    fn answer<T>(
        &mut self,
        seq: u32,
        answer: impl Fn(Reply) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        loop {
            let len = self.recv(RecvFlags::empty())?;
            let datagram = self.rx.get(..len).unwrap_or_default();
            for message in msg::parse_datagram(datagram) {
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

    /// Delete the one entry `key` names (`IPCTNL_MSG_CT_DELETE`) and wait
    /// for the kernel's answer.
    ///
    /// With an id (as [`Flow::key`] gives) the kernel deletes only the entry
    /// that has both the tuple and the id: an entry on the same tuple with
    /// another id is left alone and the answer is [`Error::NotFound`], as it
    /// is for an entry that is already gone. (A re-created entry may carry
    /// the old id; see [`Flow::id`].)
    ///
    /// Deleting the entry does not end the connection: neither end hears of
    /// it, and the next packet of an established TCP connection creates a
    /// new entry (`nf_conntrack_tcp_loose`, on by default).
    pub fn delete(&mut self, key: &FlowKey) -> Result<(), Error> {
        let seq = self.next_seq();
        self.tx.clear();
        msg::encode_delete(key, seq, &mut self.tx)?;
        self.send_tx()?;
        self.answer(seq, |reply| match reply {
            Reply::Ack { errno: 0 } => Some(Ok(())),
            Reply::Ack { errno } => Some(Err(Error::from_errno(errno))),
            _ => None,
        })
    }

    /// Find out whether this namespace tracks connections of `family`: send
    /// one UDP datagram over loopback (`127.0.0.1` or `::1`) to a socket of
    /// our own, look for its entry in the table, and delete it again.
    ///
    /// The datagram goes out in the calling thread's network namespace,
    /// which must be the one this client was opened in. Conntrack attaches
    /// to all of a family's hooks at once, so a tracked loopback datagram
    /// means forwarded traffic is tracked too; a ruleset that exempts
    /// loopback (`notrack` on `lo`) reads as [`Tracking::Inactive`].
    pub fn probe_tracking(&mut self, family: Family) -> Result<Tracking, Error> {
        let lo = match family {
            Family::Inet => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        let socket = UdpSocket::bind((lo, 0))?;
        let me = socket.local_addr()?;
        socket.set_read_timeout(Some(Duration::from_secs(1)))?;
        socket.send_to(b"tcpdrop conntrack probe", me)?;
        let mut buf = [0u8; 64];
        // Once it is read it has passed every hook, confirmation included.
        socket.recv(&mut buf)?;
        let want = Tuple {
            src: lo,
            sport: me.port(),
            dst: lo,
            dport: me.port(),
            protocol: IPPROTO_UDP,
        };
        let found = self.get(&want, 0)?;
        drop(socket);
        match found {
            Some(flow) => {
                match self.delete(&flow.key()) {
                    Ok(()) | Err(Error::NotFound) => {}
                    Err(err) => return Err(err),
                }
                Ok(Tracking::Active)
            }
            None => Ok(Tracking::Inactive),
        }
    }
}

/// A dump in progress: an iterator over the entries of one
/// `IPCTNL_MSG_CT_GET` reply.
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
    /// The kernel's reply has ended (or the socket failed).
    done: bool,
    /// The iterator has returned `None` or an error and is fused.
    finished: bool,
    /// A malformed message was seen: the end of the reply may have been in
    /// the rest of its datagram, so draining must not block.
    corrupt: bool,
}

impl Dump<'_> {
    fn step(&mut self) -> Result<Option<Flow>, Error> {
        loop {
            if self.pos >= self.len {
                // The kernel fills the next part of a dump inside recvmsg,
                // so a non-blocking read still drains a live dump; EAGAIN
                // then means the reply has ended.
                let flags = if self.corrupt {
                    RecvFlags::DONTWAIT
                } else {
                    RecvFlags::empty()
                };
                self.len = match self.client.recv(flags) {
                    Ok(len) => len,
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
                    self.done = true;
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
            match reply {
                Reply::Flow(flow) => return Ok(Some(flow)),
                Reply::Done { errno: 0 } => {
                    self.done = true;
                    return if self.interrupted {
                        Err(Error::Interrupted)
                    } else {
                        Ok(None)
                    };
                }
                Reply::Done { errno } | Reply::Ack { errno } if errno != 0 => {
                    self.done = true;
                    return Err(dump_error(errno));
                }
                Reply::Overrun => {
                    self.done = true;
                    return Err(Error::Io(std::io::Error::from_raw_os_error(
                        Errno::NOBUFS.raw_os_error(),
                    )));
                }
                Reply::Done { .. } | Reply::Ack { .. } | Reply::Other => continue,
            }
        }
    }
}

/// A dump request carries nothing but the family, so the kernel's
/// `EINVAL` to one means it found no ctnetlink subsystem to hand it to
/// (`nfnetlink_rcv_msg`: no `nf_conntrack_netlink`).
pub(crate) fn dump_error(errno: i32) -> Error {
    if errno.unsigned_abs() == linux_raw_sys::errno::EINVAL {
        Error::NotSupported { errno }
    } else {
        Error::from_errno(errno)
    }
}

fn advance(header: &Header) -> usize {
    let len = usize::try_from(header.len).unwrap_or(usize::MAX);
    len.saturating_add(3) & !3
}

impl Iterator for Dump<'_> {
    type Item = Result<Flow, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.step() {
            Ok(Some(flow)) => Some(Ok(flow)),
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
        // the socket, so read this one to its end. A malformed message is
        // skipped; only the end of the reply or a failing socket stops it.
        while !self.done {
            let _ = self.step();
        }
    }
}
