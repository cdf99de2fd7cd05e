//! TCP segments as IP packets: building and parsing the IPv4 ([RFC 791]) and
//! IPv6 ([RFC 8200]) headers and the TCP header ([RFC 9293]), with their
//! checksums ([RFC 1071]).
//!
//! Nothing here knows about sockets: a [`Segment`] is the header fields of
//! one segment between two socket addresses, [`Segment::write`] lays it out
//! as a whole IP packet (as `IP_HDRINCL` raw sockets and `SOCK_DGRAM`
//! packet sockets carry it), and [`parse`] reads one back. The probe and the
//! RSTs of `inject` are built here, and a router's for the connections it
//! forwards. It stands alone (no `crate::` paths), so that the packet
//! fuzz target can compile it by path.
//!
//! [RFC 791]: https://www.rfc-editor.org/rfc/rfc791
//! [RFC 8200]: https://www.rfc-editor.org/rfc/rfc8200
//! [RFC 9293]: https://www.rfc-editor.org/rfc/rfc9293
//! [RFC 1071]: https://www.rfc-editor.org/rfc/rfc1071

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// TCP header flags (the low byte of the flags field).
pub(crate) mod flags {
    /// FIN: no more data from the sender.
    pub(crate) const FIN: u8 = 0x01;
    /// SYN: synchronize sequence numbers.
    pub(crate) const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub(crate) const RST: u8 = 0x04;
    /// ACK: the acknowledgment field is significant.
    pub(crate) const ACK: u8 = 0x10;
}

/// Length of an IPv4 header without options.
pub(crate) const IPV4_HEADER_LEN: usize = 20;
/// Length of the fixed IPv6 header.
pub(crate) const IPV6_HEADER_LEN: usize = 40;
/// Length of a TCP header without options.
pub(crate) const TCP_HEADER_LEN: usize = 20;

/// `IPPROTO_TCP`, in the IPv4 protocol and IPv6 next-header fields.
const IPPROTO_TCP: u8 = 6;
/// The hop limit the segments go out with (Linux's default TTL).
const HOP_LIMIT: u8 = 64;

/// The header fields of one TCP segment, without options or payload.
///
/// `src` and `dst` are of one family; a v4-mapped IPv6 address
/// (`::ffff:a.b.c.d`) is written as the IPv4 address it carries, since
/// that is what such a connection is on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Source address and port.
    pub src: SocketAddr,
    /// Destination address and port.
    pub dst: SocketAddr,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// [`flags`], or-ed.
    pub flags: u8,
    /// Window (unscaled).
    pub window: u16,
}

/// A parsed segment and how much payload it carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Its header fields.
    pub segment: Segment,
    /// Bytes of payload after the TCP header (and its options).
    pub payload_len: usize,
}

/// An address as it goes on the wire: v4-mapped IPv6 as IPv4.
pub(crate) fn wire_ip(ip: IpAddr) -> IpAddr {
    // What `tcpdrop::canonical_ip` does, written here so that this file
    // stands alone (the fuzz target compiles it by path).
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

impl Segment {
    /// Append this segment as a complete IP packet to `out`: an IPv4 header
    /// (no options, don't-fragment) or an IPv6 header, then the TCP header,
    /// both checksums filled in. `None` (and nothing appended) when the two
    /// addresses are of different families.
    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        self.write_with(&[], out)
    }

    /// [`Segment::write`] with `payload` after the TCP header (a probe with
    /// data is answered whatever `tcp_invalid_ratelimit` says: the kernel
    /// rate-limits only its answers to segments without data). `None` also
    /// for a payload that does not fit one packet.
    pub(crate) fn write_with(&self, payload: &[u8], out: &mut Vec<u8>) -> Option<()> {
        let tcp_len = u16::try_from(TCP_HEADER_LEN.checked_add(payload.len())?)
            .ok()
            .filter(|&len| usize::from(len) <= 1400)?;
        match (wire_ip(self.src.ip()), wire_ip(self.dst.ip())) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let start = out.len();
                let total = (IPV4_HEADER_LEN as u16).saturating_add(tcp_len);
                out.extend_from_slice(&[0x45, 0]); // version 4, IHL 5; TOS
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&[0, 0, 0x40, 0]); // id; DF, offset 0
                out.extend_from_slice(&[HOP_LIMIT, IPPROTO_TCP, 0, 0]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                let sum = checksum(0, out.get(start..).unwrap_or_default());
                set_u16(out, start.saturating_add(10), sum);
                let pseudo = pseudo_v4(src, dst, tcp_len);
                self.write_tcp(out, pseudo, payload);
                Some(())
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                out.extend_from_slice(&[0x60, 0, 0, 0]); // version 6, class, flow
                out.extend_from_slice(&tcp_len.to_be_bytes());
                out.extend_from_slice(&[IPPROTO_TCP, HOP_LIMIT]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                let pseudo = pseudo_v6(src, dst, u32::from(tcp_len));
                self.write_tcp(out, pseudo, payload);
                Some(())
            }
            _ => None,
        }
    }

    /// Append the TCP header and `payload`, the checksum started from
    /// `pseudo` (the pseudo-header's sum).
    fn write_tcp(&self, out: &mut Vec<u8>, pseudo: u32, payload: &[u8]) {
        let start = out.len();
        out.extend_from_slice(&self.src.port().to_be_bytes());
        out.extend_from_slice(&self.dst.port().to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ack.to_be_bytes());
        out.extend_from_slice(&[(TCP_HEADER_LEN as u8 / 4) << 4, self.flags]);
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]); // checksum; urgent pointer
        out.extend_from_slice(payload);
        let sum = checksum(pseudo, out.get(start..).unwrap_or_default());
        set_u16(out, start.saturating_add(16), sum);
    }
}

/// Read the TCP segment in an IP packet (starting at its IP header, as a
/// `SOCK_DGRAM` packet socket delivers it). `None` for anything else: not
/// TCP, an IPv6 packet with extension headers, a fragment other than the
/// first, a header that does not fit. The packet may be cut short after the
/// TCP header (a capture's snap length): the payload length comes from the
/// IP header. Checksums are not verified (an outgoing packet seen by a
/// packet socket may carry a partial one that the device completes).
pub(crate) fn parse(packet: &[u8]) -> Option<Parsed> {
    let version = packet.first()? >> 4;
    let (src, dst, ip_len, payload_end) = match version {
        4 => {
            let ihl = usize::from(packet.first()? & 0x0f).saturating_mul(4);
            if ihl < IPV4_HEADER_LEN || *packet.get(9)? != IPPROTO_TCP {
                return None;
            }
            // More fragments, or not the first: not a whole segment.
            if u16_at(packet, 6)? & 0x3fff != 0 {
                return None;
            }
            let src = Ipv4Addr::from(u32_at(packet, 12)?);
            let dst = Ipv4Addr::from(u32_at(packet, 16)?);
            let total = usize::from(u16_at(packet, 2)?);
            (IpAddr::V4(src), IpAddr::V4(dst), ihl, total)
        }
        6 => {
            if *packet.get(6)? != IPPROTO_TCP {
                return None;
            }
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(packet.get(8..24)?).ok()?);
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(packet.get(24..40)?).ok()?);
            let payload = usize::from(u16_at(packet, 4)?);
            (
                IpAddr::V6(src),
                IpAddr::V6(dst),
                IPV6_HEADER_LEN,
                IPV6_HEADER_LEN.saturating_add(payload),
            )
        }
        _ => return None,
    };
    let tcp = packet.get(ip_len..)?;
    tcp.get(..TCP_HEADER_LEN)?;
    let offset = usize::from(tcp.get(12)? >> 4).saturating_mul(4);
    if offset < TCP_HEADER_LEN {
        return None;
    }
    let segment = Segment {
        src: SocketAddr::new(src, u16_at(tcp, 0)?),
        dst: SocketAddr::new(dst, u16_at(tcp, 2)?),
        seq: u32_at(tcp, 4)?,
        ack: u32_at(tcp, 8)?,
        flags: *tcp.get(13)?,
        window: u16_at(tcp, 14)?,
    };
    let header_end = ip_len.checked_add(offset)?;
    Some(Parsed {
        segment,
        payload_len: payload_end.checked_sub(header_end)?,
    })
}

/// Whether the TCP checksum of an IP packet (as [`Segment::write`] makes
/// them) is right: the sum over the pseudo-header and the segment is all
/// ones. The segment ends where the IP header says: a link's padding may
/// follow it (a 40-byte IPv4 segment comes off Ethernet with 6 bytes of
/// it), and a packet cut short of that end cannot be checked (false).
// Not for what comes in (see `parse`): the tests and the `packet` fuzz
// target check what `write` makes with it. Built outside tests because the
// fuzz target compiles this file by path, where `cfg(test)` is off.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn tcp_checksum_ok(packet: &[u8]) -> bool {
    let Some(parsed) = parse(packet) else {
        return false;
    };
    let (ip_len, end) = if parsed.segment.src.is_ipv4() {
        let ihl = usize::from(packet.first().copied().unwrap_or(0) & 0x0f).saturating_mul(4);
        (ihl, u16_at(packet, 2).map(usize::from))
    } else {
        let end = u16_at(packet, 4).map(|len| IPV6_HEADER_LEN.saturating_add(usize::from(len)));
        (IPV6_HEADER_LEN, end)
    };
    let Some(tcp) = end.and_then(|end| packet.get(ip_len..end)) else {
        return false;
    };
    let pseudo = match (parsed.segment.src.ip(), parsed.segment.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            pseudo_v4(src, dst, u16::try_from(tcp.len()).unwrap_or(0))
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            pseudo_v6(src, dst, u32::try_from(tcp.len()).unwrap_or(0))
        }
        _ => return false,
    };
    checksum(pseudo, tcp) == 0
}

/// The sum of the IPv4 pseudo-header (not yet folded).
fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, tcp_len: u16) -> u32 {
    let mut sum = sum_words(0, &src.octets());
    sum = sum_words(sum, &dst.octets());
    sum.wrapping_add(u32::from(IPPROTO_TCP))
        .wrapping_add(u32::from(tcp_len))
}

/// The sum of the IPv6 pseudo-header (RFC 8200 §8.1; not yet folded).
fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, tcp_len: u32) -> u32 {
    let mut sum = sum_words(0, &src.octets());
    sum = sum_words(sum, &dst.octets());
    sum.wrapping_add(tcp_len >> 16)
        .wrapping_add(tcp_len & 0xffff)
        .wrapping_add(u32::from(IPPROTO_TCP))
}

/// Add `bytes` as big-endian 16-bit words to `sum` (an odd last byte is
/// padded with zero).
fn sum_words(sum: u32, bytes: &[u8]) -> u32 {
    let mut sum = u64::from(sum);
    let mut words = bytes.chunks_exact(2);
    for word in &mut words {
        sum += u64::from(u16::from_be_bytes([
            word.first().copied().unwrap_or(0),
            word.get(1).copied().unwrap_or(0),
        ]));
    }
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    fold(sum)
}

/// Fold carries back in until the sum fits 16 bits.
fn fold(mut sum: u64) -> u32 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u32
}

/// The Internet checksum (RFC 1071) of `bytes`, starting from `initial`:
/// the one's complement of the one's-complement sum.
fn checksum(initial: u32, bytes: &[u8]) -> u16 {
    !(fold(u64::from(sum_words(initial, bytes))) as u16)
}

fn set_u16(out: &mut [u8], at: usize, value: u16) {
    if let Some(slot) = out.get_mut(at..at.saturating_add(2)) {
        slot.copy_from_slice(&value.to_be_bytes());
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rst_v4() -> Segment {
        Segment {
            src: "10.0.0.1:80".parse().unwrap(),
            dst: "10.0.0.2:4660".parse().unwrap(),
            seq: 0x0102_0304,
            ack: 0x0a0b_0c0d,
            flags: flags::RST | flags::ACK,
            window: 0,
        }
    }

    #[test]
    #[rustfmt::skip]
    fn an_ipv4_rst_is_laid_out_field_by_field() {
        let mut out = Vec::new();
        rst_v4().write(&mut out).unwrap();
        let want: [u8; 40] = [
            0x45, 0x00,             // version 4, IHL 5; TOS
            0x00, 0x28,             // total length 40
            0x00, 0x00, 0x40, 0x00, // id 0; DF
            0x40, 0x06,             // TTL 64; protocol TCP
            0x26, 0xce,             // header checksum
            10, 0, 0, 1,            // source
            10, 0, 0, 2,            // destination
            0x00, 0x50,             // source port 80
            0x12, 0x34,             // destination port 4660
            0x01, 0x02, 0x03, 0x04, // sequence number
            0x0a, 0x0b, 0x0c, 0x0d, // acknowledgment number
            0x50, 0x14,             // data offset 5; RST|ACK
            0x00, 0x00,             // window
            0x6f, 0x2c,             // checksum
            0x00, 0x00,             // urgent pointer
        ];
        assert_eq!(out, want);
        assert!(tcp_checksum_ok(&out));
        // The IPv4 header sums to all ones with its checksum in.
        assert_eq!(checksum(0, &out[..20]), 0);
    }

    #[test]
    fn a_v4_mapped_segment_goes_out_as_ipv4() {
        let mut seg = rst_v4();
        seg.src = "[::ffff:10.0.0.1]:80".parse().unwrap();
        let (mut mapped, mut plain) = (Vec::new(), Vec::new());
        seg.write(&mut mapped).unwrap();
        rst_v4().write(&mut plain).unwrap();
        assert_eq!(mapped, plain);
    }

    #[test]
    fn a_segment_with_data_counts_it_in_both_lengths_and_the_checksum() {
        for seg in [rst_v4(), {
            let mut v6 = rst_v4();
            v6.src = "[fd00::1]:80".parse().unwrap();
            v6.dst = "[fd00::2]:4660".parse().unwrap();
            v6
        }] {
            let mut out = Vec::new();
            seg.write_with(b"xyz", &mut out).unwrap();
            assert_eq!(
                parse(&out),
                Some(Parsed {
                    segment: seg,
                    payload_len: 3
                })
            );
            assert!(tcp_checksum_ok(&out));
            assert!(out.ends_with(b"xyz"));
        }
        assert_eq!(rst_v4().write_with(&[0; 2000], &mut Vec::new()), None);
    }

    #[test]
    fn link_padding_after_a_segment_is_not_in_its_checksum() {
        let mut out = Vec::new();
        rst_v4().write_with(b"xyz", &mut out).unwrap();
        let whole = out.len();
        out.extend_from_slice(&[0; 6]);
        assert!(tcp_checksum_ok(&out));
        // Cut short of where its IP header ends it: it cannot be checked.
        assert!(!tcp_checksum_ok(&out[..whole - 1]));
    }

    #[test]
    fn mixed_families_are_refused() {
        let mut seg = rst_v4();
        seg.src = "[2001:db8::1]:80".parse().unwrap();
        let mut out = vec![7];
        assert_eq!(seg.write(&mut out), None);
        assert_eq!(out, [7]);
    }

    #[test]
    fn not_tcp_or_cut_short_is_not_a_segment() {
        let mut out = Vec::new();
        rst_v4().write(&mut out).unwrap();
        for len in 0..IPV4_HEADER_LEN + TCP_HEADER_LEN {
            assert_eq!(parse(&out[..len]), None, "cut at {len}");
        }
        let mut udp = out.clone();
        udp[9] = 17;
        assert_eq!(parse(&udp), None);
        let mut fragment = out.clone();
        fragment[7] = 1; // offset 8 bytes
        assert_eq!(parse(&fragment), None);
        let mut v5 = out;
        v5[0] = 0x55;
        assert_eq!(parse(&v5), None);
    }

    fn addr_pair() -> impl Strategy<Value = (SocketAddr, SocketAddr)> {
        prop_oneof![
            (
                any::<[u8; 4]>(),
                any::<u16>(),
                any::<[u8; 4]>(),
                any::<u16>()
            )
                .prop_map(|(a, p, b, q)| (SocketAddr::from((a, p)), SocketAddr::from((b, q)))),
            (
                any::<[u8; 16]>(),
                any::<u16>(),
                any::<[u8; 16]>(),
                any::<u16>()
            )
                .prop_filter("not v4-mapped", |(a, _, b, _)| {
                    Ipv6Addr::from(*a).to_ipv4_mapped().is_none()
                        && Ipv6Addr::from(*b).to_ipv4_mapped().is_none()
                })
                .prop_map(|(a, p, b, q)| (
                    SocketAddr::from((Ipv6Addr::from(a), p)),
                    SocketAddr::from((Ipv6Addr::from(b), q))
                )),
        ]
    }

    proptest! {
        #[test]
        fn written_segments_parse_back_with_good_checksums(
            (src, dst) in addr_pair(),
            seq in any::<u32>(),
            ack in any::<u32>(),
            flags in any::<u8>(),
            window in any::<u16>(),
        ) {
            let seg = Segment { src, dst, seq, ack, flags, window };
            let mut out = Vec::new();
            seg.write(&mut out).unwrap();
            prop_assert_eq!(parse(&out), Some(Parsed { segment: seg, payload_len: 0 }));
            prop_assert!(tcp_checksum_ok(&out));
            let mut bad = out.clone();
            let last = bad.len() - 5;
            bad[last] ^= 0x40;
            prop_assert!(!tcp_checksum_ok(&bad));
        }

        #[test]
        fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = parse(&bytes);
            let _ = tcp_checksum_ok(&bytes);
        }
    }
}
