//! The wire format: `inet_diag_req_v2`, `inet_diag_msg` and their
//! attributes (`include/uapi/linux/inet_diag.h`). The `nlmsghdr` framing
//! around them, the attributes' layout, and the splitting of a datagram
//! into messages, are the `netlink` crate's; this module writes the
//! requests and decodes the records.
//!
//! Every parser here works on untrusted bytes: lengths are checked before use
//! and a malformed message is an [`Error::Invalid`], never a panic.

pub use netlink::{
    Family, Header, NLMSG_HDRLEN, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI,
    NLM_F_REQUEST,
};

use netlink::bytes::{array, u32_ne};
use netlink::{attrs, push_message, AttrWriter};

use crate::tcp_info::TcpInfo;
use crate::Error;

/// Length of `struct inet_diag_req_v2`.
pub const REQ_V2_LEN: usize = 56;
/// Length of `struct inet_diag_req`, the request of [`TCPDIAG_GETSOCK`].
pub const REQ_V1_LEN: usize = 60;
/// Length of `struct inet_diag_msg`.
pub const INET_DIAG_MSG_LEN: usize = 72;
/// Length of `struct inet_diag_sockid`.
const SOCKID_LEN: usize = 48;

/// `SOCK_DIAG_BY_FAMILY`: dump (or look up) sockets of one family.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `SOCK_DESTROY`: abort one socket, found by its `inet_diag_sockid`.
pub const SOCK_DESTROY: u16 = 21;
/// `TCPDIAG_GETSOCK`: the older TCP dump request (`struct inet_diag_req`).
/// The kernel serves its dumps with `sdiag_family = AF_UNSPEC`
/// (`inet_diag_dump_compat` in `net/ipv4/inet_diag.c`), so one walk of the
/// shared TCP hash tables returns the sockets of both families; the replies
/// carry this type too.
pub const TCPDIAG_GETSOCK: u16 = 18;

/// `INET_DIAG_REQ_BYTECODE`: request attribute carrying a filter program.
pub const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// `INET_DIAG_INFO`: reply attribute carrying `struct tcp_info`.
pub const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_SHUTDOWN: u16 = 8;
const INET_DIAG_SKV6ONLY: u16 = 11;

/// `INET_DIAG_NOCOOKIE`: both cookie words all ones means "any socket".
pub const INET_DIAG_NOCOOKIE: u64 = u64::MAX;

/// The TCP states a dump may ask for: bits 1 (`TCP_ESTABLISHED`) to 12
/// (`TCP_NEW_SYN_RECV`). Bit 13 (`TCP_BOUND_INACTIVE`, Linux 6.5+) would also
/// list bound-but-unused sockets, which `ss` does not show; `!0` would too.
pub const ALL_TCP_STATES: u32 = 0x1FFE;

const IPPROTO_TCP: u8 = 6;

/// A TCP state as the kernel numbers it (`include/net/tcp_states.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// `TCP_ESTABLISHED` (1).
    Established,
    /// `TCP_SYN_SENT` (2).
    SynSent,
    /// `TCP_SYN_RECV` (3).
    SynRecv,
    /// `TCP_FIN_WAIT1` (4).
    FinWait1,
    /// `TCP_FIN_WAIT2` (5).
    FinWait2,
    /// `TCP_TIME_WAIT` (6).
    TimeWait,
    /// `TCP_CLOSE` (7).
    Close,
    /// `TCP_CLOSE_WAIT` (8).
    CloseWait,
    /// `TCP_LAST_ACK` (9).
    LastAck,
    /// `TCP_LISTEN` (10).
    Listen,
    /// `TCP_CLOSING` (11).
    Closing,
    /// `TCP_NEW_SYN_RECV` (12): a request socket waiting in a listener's queue.
    NewSynRecv,
    /// `TCP_BOUND_INACTIVE` (13): bound, neither listening nor connected.
    BoundInactive,
    /// A number this crate does not know.
    Unknown(u8),
}

impl TcpState {
    /// The state with the kernel's number `raw`.
    pub fn from_raw(raw: u8) -> TcpState {
        use TcpState::*;
        match raw {
            1 => Established,
            2 => SynSent,
            3 => SynRecv,
            4 => FinWait1,
            5 => FinWait2,
            6 => TimeWait,
            7 => Close,
            8 => CloseWait,
            9 => LastAck,
            10 => Listen,
            11 => Closing,
            12 => NewSynRecv,
            13 => BoundInactive,
            other => Unknown(other),
        }
    }

    /// The kernel's number for this state.
    pub fn raw(self) -> u8 {
        use TcpState::*;
        match self {
            Established => 1,
            SynSent => 2,
            SynRecv => 3,
            FinWait1 => 4,
            FinWait2 => 5,
            TimeWait => 6,
            Close => 7,
            CloseWait => 8,
            LastAck => 9,
            Listen => 10,
            Closing => 11,
            NewSynRecv => 12,
            BoundInactive => 13,
            Unknown(raw) => raw,
        }
    }

    /// This state's bit in an `idiag_states` mask (0 for states past bit 31).
    pub fn mask(self) -> u32 {
        1u32.checked_shl(u32::from(self.raw())).unwrap_or(0)
    }
}

/// `struct inet_diag_sockid`: what identifies one socket to the kernel.
///
/// Ports are kept in host order here and written big-endian on the wire.
/// Addresses are the raw bytes: an IPv4 address takes the first four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SockId {
    /// Local port.
    pub sport: u16,
    /// Remote port.
    pub dport: u16,
    /// Local address (IPv4 in bytes 0..4).
    pub src: [u8; 16],
    /// Remote address (IPv4 in bytes 0..4).
    pub dst: [u8; 16],
    /// Bound interface index (`idiag_if`), 0 for none.
    pub ifindex: u32,
    /// The socket cookie (`sock_gen_cookie`), or [`INET_DIAG_NOCOOKIE`].
    pub cookie: u64,
}

impl SockId {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.sport.to_be_bytes());
        out.extend_from_slice(&self.dport.to_be_bytes());
        out.extend_from_slice(&self.src);
        out.extend_from_slice(&self.dst);
        out.extend_from_slice(&self.ifindex.to_ne_bytes());
        // idiag_cookie[0] holds the low half, [1] the high half
        // (sock_diag_save_cookie in net/core/sock_diag.c).
        out.extend_from_slice(&(self.cookie as u32).to_ne_bytes());
        out.extend_from_slice(&((self.cookie >> 32) as u32).to_ne_bytes());
    }

    fn decode(b: &[u8]) -> Option<SockId> {
        Some(SockId {
            sport: u16::from_be_bytes(array(b, 0)?),
            dport: u16::from_be_bytes(array(b, 2)?),
            src: array(b, 4)?,
            dst: array(b, 20)?,
            ifindex: u32_ne(b, 36)?,
            cookie: u64::from(u32_ne(b, 40)?) | (u64::from(u32_ne(b, 44)?) << 32),
        })
    }
}

/// A `SOCK_DIAG_BY_FAMILY` dump request (`struct inet_diag_req_v2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpRequest {
    /// Which family's tables to dump.
    pub family: Family,
    /// `idiag_ext`: bit `n - 1` asks for reply attribute `n` (e.g.
    /// `1 << (INET_DIAG_INFO - 1)` for `tcp_info`).
    pub ext: u8,
    /// `idiag_states`: a mask of `1 << state`.
    pub states: u32,
    /// An `INET_DIAG_REQ_BYTECODE` filter program, if any.
    pub bytecode: Option<Vec<u8>>,
    /// `idiag_sport`, 0 for any: only sockets whose local port is this one.
    /// The kernel compares it before anything else it reads of a socket
    /// (`inet_diag_dump_icsk`), where a filter program first copies out the
    /// socket's mark, cgroup and lock flags: a dump that only wants one port
    /// walks the tables at about two thirds the cost.
    pub sport: u16,
    /// `idiag_dport`, 0 for any: only sockets whose remote port is this one
    /// (which leaves out every listener), compared as early as `sport`.
    pub dport: u16,
}

impl DumpRequest {
    /// A dump of the TCP sockets of `family` in the states of `states`.
    pub fn tcp(family: Family, states: u32) -> DumpRequest {
        DumpRequest {
            family,
            ext: 0,
            states,
            bytecode: None,
            sport: 0,
            dport: 0,
        }
    }

    /// The `inet_diag_sockid` the request carries: any socket, on the
    /// ports asked for.
    fn id(&self) -> SockId {
        SockId {
            sport: self.sport,
            dport: self.dport,
            ..WILDCARD
        }
    }

    /// The same request, also asking for `tcp_info` (`INET_DIAG_INFO`).
    pub fn with_tcp_info(mut self) -> DumpRequest {
        self.ext |= 1 << (INET_DIAG_INFO - 1);
        self
    }
}

fn push_req(out: &mut Vec<u8>, family: Family, ext: u8, states: u32, id: &SockId) {
    out.push(family.raw());
    out.push(IPPROTO_TCP);
    out.push(ext);
    out.push(0); // pad
    out.extend_from_slice(&states.to_ne_bytes());
    id.encode(out);
}

/// The longest filter program one `INET_DIAG_REQ_BYTECODE` attribute can
/// carry: its `nla_len` is a `u16` that counts the 4-byte header too.
const MAX_BYTECODE_LEN: usize = u16::MAX as usize - 4;

/// Append a dump request with sequence number `seq` to `out`.
///
/// Fails with [`Error::Invalid`], appending nothing, when the bytecode is
/// longer than an attribute can hold (65531 bytes).
pub fn encode_dump(req: &DumpRequest, seq: u32, out: &mut Vec<u8>) -> Result<(), Error> {
    let flags = NLM_F_REQUEST | NLM_F_DUMP;
    push_message(out, SOCK_DIAG_BY_FAMILY, flags, seq, |out| {
        push_req(out, req.family, req.ext, req.states, &req.id());
        push_bytecode(out, req)
    })
}

/// Append the same dump as a [`TCPDIAG_GETSOCK`] request (`struct
/// inet_diag_req`) with sequence number `seq` to `out`: the kernel answers
/// it with the TCP sockets of **both** families from one walk of its hash
/// tables, where a [`SOCK_DIAG_BY_FAMILY`] request per family walks them
/// once each. `req.family` goes into `idiag_family`, which the kernel
/// ignores for a dump (`inet_diag_dump_compat` sets `AF_UNSPEC`).
///
/// Fails with [`Error::Invalid`], appending nothing, when the bytecode is
/// longer than an attribute can hold (65531 bytes).
pub fn encode_dump_both_families(
    req: &DumpRequest,
    seq: u32,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let flags = NLM_F_REQUEST | NLM_F_DUMP;
    push_message(out, TCPDIAG_GETSOCK, flags, seq, |out| {
        out.push(req.family.raw());
        out.push(0); // idiag_src_len: unused by the kernel
        out.push(0); // idiag_dst_len: unused by the kernel
        out.push(req.ext);
        req.id().encode(out);
        out.extend_from_slice(&req.states.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes()); // idiag_dbs: unused
        push_bytecode(out, req)
    })
}

/// The `inet_diag_sockid` of a dump: any socket.
const WILDCARD: SockId = SockId {
    sport: 0,
    dport: 0,
    src: [0; 16],
    dst: [0; 16],
    ifindex: 0,
    cookie: INET_DIAG_NOCOOKIE,
};

/// Append the request's `INET_DIAG_REQ_BYTECODE` attribute, if it has a
/// program; [`Error::Invalid`] when the program is too long for one.
fn push_bytecode(out: &mut Vec<u8>, req: &DumpRequest) -> Result<(), Error> {
    let Some(code) = &req.bytecode else {
        return Ok(());
    };
    if code.len() > MAX_BYTECODE_LEN {
        return Err(Error::Invalid(format!(
            "a filter program of {} bytes; an attribute holds {MAX_BYTECODE_LEN}",
            code.len()
        )));
    }
    AttrWriter::new(out).put(INET_DIAG_REQ_BYTECODE, code)
}

/// Append a `SOCK_DESTROY` request for the socket `id` of `family`, asking
/// for an acknowledgement, with sequence number `seq`.
///
/// The request names every state: the kernel looks the socket up by its
/// tuple, then checks the cookie, so a cookie from a dump is what keeps the
/// lookup from settling on a listener or on a newer socket (SPEC §3).
pub fn encode_destroy(family: Family, id: &SockId, seq: u32, out: &mut Vec<u8>) {
    push_one(
        out,
        SOCK_DESTROY,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        family,
        id,
    );
}

/// Append a request for the one socket `id` of `family`
/// (`SOCK_DIAG_BY_FAMILY` without `NLM_F_DUMP`: `inet_diag_get_exact`),
/// with sequence number `seq`. The kernel answers with its record, or an
/// `NLMSG_ERROR` (`ENOENT` when there is none; a cookie other than
/// [`INET_DIAG_NOCOOKIE`] must match). No acknowledgement is asked for: each
/// request gets exactly one answer.
///
/// The kernel's lookup falls back to a listener on the local port when no
/// connection has the tuple (trap 1): check the answer's tuple.
pub fn encode_lookup(family: Family, id: &SockId, seq: u32, out: &mut Vec<u8>) {
    push_one(out, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, family, id);
}

/// Append a request about the one socket `id` of `family`, in every state.
fn push_one(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, family: Family, id: &SockId) {
    // 72 bytes and no attribute: nothing that can fail.
    let _ = push_message::<SockDiag>(out, kind, flags, seq, |out| {
        push_req(out, family, 0, u32::MAX, id);
        Ok(())
    });
}

/// One `struct inet_diag_msg` and the attributes this crate reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InetDiagMsg {
    /// The socket's family (`idiag_family`).
    pub family: Family,
    /// The socket's state (`idiag_state`).
    pub state: TcpState,
    /// Which timer is pending (`idiag_timer`).
    pub timer: u8,
    /// Retransmits of the pending timer (`idiag_retrans`).
    pub retrans: u8,
    /// The socket's identity, cookie included.
    pub id: SockId,
    /// Milliseconds until the timer fires (`idiag_expires`).
    pub expires: u32,
    /// Receive queue bytes, or the accept backlog for a listener.
    pub rqueue: u32,
    /// Send queue bytes, or the backlog limit for a listener.
    pub wqueue: u32,
    /// Owner's uid (0 for TIME-WAIT and request sockets).
    pub uid: u32,
    /// Socket inode (0 for TIME-WAIT and request sockets).
    pub inode: u32,
    /// `INET_DIAG_SHUTDOWN`: the shutdown bits, when the kernel sent them.
    pub shutdown: Option<u8>,
    /// `INET_DIAG_SKV6ONLY`: whether an IPv6 socket is `IPV6_V6ONLY`.
    pub v6only: Option<bool>,
    /// `INET_DIAG_INFO`, when it was asked for and sent.
    pub tcp_info: Option<Box<TcpInfo>>,
}

impl InetDiagMsg {
    /// Parse the payload of a `SOCK_DIAG_BY_FAMILY` reply message.
    pub fn parse(payload: &[u8]) -> Result<InetDiagMsg, Error> {
        let fixed = payload.get(..INET_DIAG_MSG_LEN).ok_or_else(|| {
            Error::Invalid(format!("inet_diag_msg of {} bytes, want 72", payload.len()))
        })?;
        let [raw_family, raw_state, timer, retrans] =
            array(fixed, 0).ok_or_else(|| Error::Invalid("short inet_diag_msg".into()))?;
        let family = Family::from_raw(raw_family)
            .ok_or_else(|| Error::Invalid(format!("unknown address family {raw_family}")))?;
        let id = SockId::decode(fixed.get(4..4 + SOCKID_LEN).unwrap_or_default())
            .ok_or_else(|| Error::Invalid("short inet_diag_sockid".into()))?;
        let word =
            |off| u32_ne(fixed, off).ok_or_else(|| Error::Invalid("short inet_diag_msg".into()));
        let mut msg = InetDiagMsg {
            family,
            state: TcpState::from_raw(raw_state),
            timer,
            retrans,
            id,
            expires: word(52)?,
            rqueue: word(56)?,
            wqueue: word(60)?,
            uid: word(64)?,
            inode: word(68)?,
            shutdown: None,
            v6only: None,
            tcp_info: None,
        };
        for attr in attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default()) {
            let (kind, data) = attr?;
            match kind {
                INET_DIAG_INFO => msg.tcp_info = Some(Box::new(TcpInfo::parse(data))),
                INET_DIAG_SHUTDOWN => msg.shutdown = data.first().copied(),
                INET_DIAG_SKV6ONLY => msg.v6only = data.first().map(|&b| b != 0),
                _ => {} // attributes grow with kernel versions; skip the rest
            }
        }
        Ok(msg)
    }
}

/// What one netlink message in a reply says: a socket record
/// ([`netlink::Reply::Record`]), or a control message.
pub type Reply = netlink::Reply<InetDiagMsg>;

/// `NETLINK_SOCK_DIAG` for the shared netlink code: its records are
/// `inet_diag_msg`s, and its errors are [`Error`]s.
#[derive(Clone, Copy, Debug)]
pub struct SockDiag;

impl netlink::Protocol for SockDiag {
    type Record = InetDiagMsg;
    const NUMBER: Option<rustix::net::Protocol> = Some(rustix::net::netlink::SOCK_DIAG);
    const NAME: &'static str = "sock_diag";
    const RECORD: &'static str = "socket";
    const NEEDS: &'static str =
        "it needs CONFIG_INET_DIAG, and CONFIG_INET_DIAG_DESTROY to destroy sockets";

    fn decode(header: &Header, payload: &[u8]) -> Result<Option<InetDiagMsg>, Error> {
        match header.kind {
            // Records answer both dump requests in the same layout; each
            // reply carries the type of the request it answers.
            SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => InetDiagMsg::parse(payload).map(Some),
            _ => Ok(None),
        }
    }
}

/// An iterator over the netlink messages of one datagram.
///
/// It stops after the first malformed message: a length that does not fit
/// means nothing after it can be trusted.
pub type Messages<'a> = netlink::Messages<'a, SockDiag>;

/// Split a received datagram into its messages.
pub fn parse_datagram(buf: &[u8]) -> Messages<'_> {
    netlink::parse_datagram(buf)
}
