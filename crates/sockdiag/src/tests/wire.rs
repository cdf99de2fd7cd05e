//! Test-only halves of the codec that the crate itself never needs: a decoder
//! for the requests it sends and an encoder for the replies it reads. They are
//! written from `include/uapi/linux/{netlink,inet_diag}.h`, not from `msg.rs`,
//! so that a round trip through them checks the crate against the layout.

use crate::{Header, SockId, NLMSG_HDRLEN, REQ_V2_LEN};

/// One request as the kernel would see it.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub header: Header,
    pub family: u8,
    pub protocol: u8,
    pub ext: u8,
    pub pad: u8,
    pub states: u32,
    pub id: SockId,
    /// Every attribute after the fixed part: (`nla_type`, payload).
    pub attrs: Vec<(u16, Vec<u8>)>,
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes(b[off..off + 2].try_into().unwrap())
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
}

fn be16_at(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes(b[off..off + 2].try_into().unwrap())
}

/// Decode the `inet_diag_sockid` at `b[0..48]`.
pub fn decode_sockid(b: &[u8]) -> SockId {
    assert!(b.len() >= 48, "sockid of {} bytes", b.len());
    SockId {
        sport: be16_at(b, 0),
        dport: be16_at(b, 2),
        src: b[4..20].try_into().unwrap(),
        dst: b[20..36].try_into().unwrap(),
        ifindex: u32_at(b, 36),
        // idiag_cookie[0] is the low half, [1] the high half.
        cookie: u64::from(u32_at(b, 40)) | u64::from(u32_at(b, 44)) << 32,
    }
}

/// Decode a buffer of requests. Our own encoder's output must be well formed,
/// so anything else fails the test with a message.
pub fn decode_requests(mut buf: &[u8]) -> Vec<Request> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        assert!(buf.len() >= NLMSG_HDRLEN, "{} stray bytes", buf.len());
        let header = Header {
            len: u32_at(buf, 0),
            kind: u16_at(buf, 4),
            flags: u16_at(buf, 6),
            seq: u32_at(buf, 8),
            pid: u32_at(buf, 12),
        };
        let len = header.len as usize;
        assert_eq!(len % 4, 0, "nlmsg_len {len} is not aligned");
        assert!(
            len >= NLMSG_HDRLEN + REQ_V2_LEN && len <= buf.len(),
            "nlmsg_len {len}"
        );
        let req = &buf[NLMSG_HDRLEN..len];
        let mut attrs = Vec::new();
        let mut rest = &req[REQ_V2_LEN..];
        while !rest.is_empty() {
            assert!(rest.len() >= 4, "truncated attribute");
            let nla_len = usize::from(u16_at(rest, 0));
            assert!(nla_len >= 4 && nla_len <= rest.len(), "nla_len {nla_len}");
            attrs.push((u16_at(rest, 2), rest[4..nla_len].to_vec()));
            let padded = (nla_len + 3) & !3;
            assert!(padded <= rest.len(), "attribute padding missing");
            assert!(
                rest[nla_len..padded].iter().all(|&b| b == 0),
                "padding not zero"
            );
            rest = &rest[padded..];
        }
        out.push(Request {
            header,
            family: req[0],
            protocol: req[1],
            ext: req[2],
            pad: req[3],
            states: u32_at(req, 4),
            id: decode_sockid(&req[8..56]),
            attrs,
        });
        buf = &buf[len..];
    }
    out
}

/// Append `bytes` and pad to a multiple of four.
fn push_padded(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
    out.resize((out.len() + 3) & !3, 0);
}

/// One netlink message: header, payload, padding.
pub fn nlmsg(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0x1234u32.to_ne_bytes());
    push_padded(&mut out, payload);
    out
}

/// One attribute, padded.
pub fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    push_padded(&mut out, data);
    out
}

/// The fixed fields of one `inet_diag_msg`.
#[derive(Clone, Debug)]
pub struct Record {
    pub family: u8,
    pub state: u8,
    pub timer: u8,
    pub retrans: u8,
    pub id: SockId,
    pub expires: u32,
    pub rqueue: u32,
    pub wqueue: u32,
    pub uid: u32,
    pub inode: u32,
}

/// The payload of a `SOCK_DIAG_BY_FAMILY` reply: `inet_diag_msg` + `attrs`.
pub fn diag_payload(r: &Record, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![r.family, r.state, r.timer, r.retrans];
    out.extend_from_slice(&r.id.sport.to_be_bytes());
    out.extend_from_slice(&r.id.dport.to_be_bytes());
    out.extend_from_slice(&r.id.src);
    out.extend_from_slice(&r.id.dst);
    out.extend_from_slice(&r.id.ifindex.to_ne_bytes());
    out.extend_from_slice(&(r.id.cookie as u32).to_ne_bytes());
    out.extend_from_slice(&((r.id.cookie >> 32) as u32).to_ne_bytes());
    for word in [r.expires, r.rqueue, r.wqueue, r.uid, r.inode] {
        out.extend_from_slice(&word.to_ne_bytes());
    }
    assert_eq!(out.len(), crate::INET_DIAG_MSG_LEN);
    for a in attrs {
        out.extend_from_slice(a);
    }
    out
}

/// An `NLMSG_ERROR` for request `seq` with `-errno`, echoing a capped header.
pub fn ack(seq: u32, errno: i32) -> Vec<u8> {
    let mut payload = (-errno).to_ne_bytes().to_vec();
    payload.extend_from_slice(&nlmsg(crate::SOCK_DESTROY, 5, seq, &[])[..NLMSG_HDRLEN]);
    nlmsg(2, 0x100, seq, &payload)
}

/// An `NLMSG_DONE` ending dump `seq` with `-errno`.
pub fn done(seq: u32, errno: i32) -> Vec<u8> {
    nlmsg(3, crate::NLM_F_MULTI, seq, &(-errno).to_ne_bytes())
}

/// Concatenate byte slices.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
