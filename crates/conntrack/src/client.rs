//! A blocking `NETLINK_NETFILTER` socket speaking ctnetlink: streamed dumps
//! of the conntrack table and exact deletes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::flow::{Family, Flow, FlowKey, Tuple};
use crate::msg::{self, Ctnetlink, Reply, IPPROTO_UDP};
use crate::Error;

/// A netlink socket speaking ctnetlink, in the network namespace of the
/// thread that created it.
#[derive(Debug)]
pub struct Client {
    socket: netlink::Socket,
}

impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
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
        Ok(Client {
            socket: netlink::Socket::open::<Ctnetlink>()?,
        })
    }

    /// Start a dump of the conntrack table (`IPCTNL_MSG_CT_GET` with
    /// `NLM_F_DUMP`): the entries of `family`, or of both for `None`, every
    /// protocol. The entries stream in as the returned iterator is driven,
    /// one datagram at a time.
    pub fn dump(&mut self, family: Option<Family>) -> Result<Dump<'_>, Error> {
        let inner = self.socket.dump::<Ctnetlink>(|seq, out| {
            msg::encode_dump(family, seq, out);
            Ok(())
        })?;
        Ok(Dump { inner })
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
        self.request(
            |seq, out| msg::encode_get(tuple, zone, seq, out),
            |reply| match reply {
                Reply::Record(flow) => Some(Ok(Some(flow))),
                Reply::Ack { errno: 0 } => Some(Ok(None)),
                Reply::Ack { errno } => Some(match Error::from_errno(errno) {
                    Error::NotFound { .. } => Ok(None),
                    err => Err(err),
                }),
                _ => None,
            },
        )
    }

    /// Send the one request `encode` writes and read replies until
    /// `answer` makes one of a reply to it (`None`: not the answer, read
    /// on); replies to other requests (an abandoned earlier one) are
    /// skipped ([`netlink::Socket::request`]).
    fn request<T>(
        &mut self,
        encode: impl FnOnce(u32, &mut Vec<u8>) -> Result<(), Error>,
        answer: impl Fn(Reply) -> Option<Result<T, Error>>,
    ) -> Result<T, Error> {
        self.socket.request::<Ctnetlink, T>(encode, answer)
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
        self.request(
            |seq, out| msg::encode_delete(key, seq, out),
            |reply| match reply {
                Reply::Ack { errno: 0 } => Some(Ok(())),
                Reply::Ack { errno } => Some(Err(Error::from_errno(errno))),
                _ => None,
            },
        )
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
                    Ok(()) | Err(Error::NotFound { .. }) => {}
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
    inner: netlink::Dump<'a, Ctnetlink>,
}

impl Iterator for Dump<'_> {
    type Item = Result<Flow, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
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
