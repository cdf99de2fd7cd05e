//! The TCP/IP segment parser (`crates/tcpdrop/src/spoof/segment.rs`, private
//! to the tcpdrop crate and included by path where this file is used) on
//! arbitrary bytes: shared by the `packet` fuzz target and
//! `crates/tcpdrop/tests/fuzz_corpus.rs`.
//!
//! The bytes are a packet as `inject`'s packet socket delivers it: from the
//! IP header on, cut to 128 bytes by the socket filter, or with the link's
//! padding after it. What `parse` answers is checked against the header
//! fields read here independently, at their RFC offsets; what it accepts is
//! written back with `Segment::write_with` and must parse to itself with
//! good checksums (summed here independently too).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use super::segment::{
    parse, tcp_checksum_ok, Parsed, Segment, IPV4_HEADER_LEN, IPV6_HEADER_LEN, TCP_HEADER_LEN,
};

/// The largest TCP segment (header and payload) `write_with` builds.
const MAX_TCP_LEN: usize = 1400;
/// The length `inject`'s socket filter cuts every packet to.
const SNAP_LEN: usize = 128;

/// Run the parser, the checksum check and the writer on `data`.
pub fn run(data: &[u8]) {
    let Some(parsed) = parse(data) else {
        assert!(!tcp_checksum_ok(data), "a good checksum on no segment");
        return;
    };
    let layout = Layout::read(data, &parsed);

    // The header fields are all inside the input; options and payload
    // need not be (a capture's snap length), but what the IP header
    // declares holds the TCP header and the payload, and nothing else.
    assert!(data.len() >= layout.ip_len + TCP_HEADER_LEN, "{parsed:?}");
    assert_eq!(
        layout.header_end() + parsed.payload_len,
        layout.declared_end,
        "{parsed:?}"
    );
    assert!(parsed.payload_len <= usize::from(u16::MAX) - TCP_HEADER_LEN);
    if data.len() >= layout.declared_end {
        // A whole packet: its payload is inside the input.
        assert!(layout.header_end() + parsed.payload_len <= data.len());
    }
    assert_eq!(parsed.segment, layout.segment(data), "fields misread");

    // Nothing after the fixed TCP header is read: whatever a snap length
    // leaves of it (the socket filter's 128 bytes included) parses the same,
    // and less does not parse.
    let fixed = layout.ip_len + TCP_HEADER_LEN;
    assert_eq!(parse(&data[..fixed]), Some(parsed));
    assert_eq!(parse(&data[..fixed - 1]), None);
    assert_eq!(
        parse(&data[..data.len().min(SNAP_LEN.max(fixed))]),
        Some(parsed)
    );

    // The checksum check agrees with a sum computed here over the segment
    // as its IP header bounds it, whatever follows (a link's padding); a
    // packet cut short of that cannot be checked.
    let good = data
        .get(layout.ip_len..layout.declared_end)
        .is_some_and(|tcp| tcp_sum(&parsed.segment, tcp) == 0xffff);
    assert_eq!(tcp_checksum_ok(data), good);

    write_back(data, &layout, &parsed);
}

/// Where an accepted packet's parts are, read independently of `parse`.
struct Layout {
    /// The IP header's length: IHL * 4, or the fixed IPv6 header.
    ip_len: usize,
    /// The TCP header's length: data offset * 4.
    tcp_len: usize,
    /// Where the packet ends by its IP header (total length; 40 + payload
    /// length for IPv6).
    declared_end: usize,
}

impl Layout {
    fn read(data: &[u8], parsed: &Parsed) -> Layout {
        let (ip_len, declared_end) = match data[0] >> 4 {
            4 => (
                usize::from(data[0] & 0x0f) * 4,
                usize::from(u16::from_be_bytes([data[2], data[3]])),
            ),
            6 => (
                IPV6_HEADER_LEN,
                IPV6_HEADER_LEN + usize::from(u16::from_be_bytes([data[4], data[5]])),
            ),
            version => panic!("version {version} parsed as {parsed:?}"),
        };
        assert!(
            ip_len >= IPV4_HEADER_LEN,
            "IHL {ip_len} parsed as {parsed:?}"
        );
        let tcp_len = usize::from(data[ip_len + 12] >> 4) * 4;
        assert!(
            tcp_len >= TCP_HEADER_LEN,
            "offset {tcp_len} parsed as {parsed:?}"
        );
        Layout {
            ip_len,
            tcp_len,
            declared_end,
        }
    }

    fn header_end(&self) -> usize {
        self.ip_len + self.tcp_len
    }

    /// The segment's fields from their offsets (RFC 791, 8200, 9293).
    fn segment(&self, data: &[u8]) -> Segment {
        let (src, dst) = if data[0] >> 4 == 4 {
            let v4 = |at: usize| IpAddr::from(<[u8; 4]>::try_from(&data[at..at + 4]).unwrap());
            (v4(12), v4(16))
        } else {
            let v6 = |at: usize| IpAddr::from(<[u8; 16]>::try_from(&data[at..at + 16]).unwrap());
            (v6(8), v6(24))
        };
        let tcp = &data[self.ip_len..];
        let be16 = |at: usize| u16::from_be_bytes([tcp[at], tcp[at + 1]]);
        let be32 = |at: usize| u32::from_be_bytes(tcp[at..at + 4].try_into().unwrap());
        Segment {
            src: SocketAddr::new(src, be16(0)),
            dst: SocketAddr::new(dst, be16(2)),
            seq: be32(4),
            ack: be32(8),
            flags: tcp[13],
            window: be16(14),
        }
    }
}

/// The segment written back with a payload of the parsed length (what the
/// input holds of it, then zeros) parses to itself, v4-mapped addresses as
/// IPv4, with good checksums.
fn write_back(data: &[u8], layout: &Layout, parsed: &Parsed) {
    let mut payload = data
        .get(layout.header_end()..layout.declared_end.min(data.len()))
        .unwrap_or_default()
        .to_vec();
    payload.resize(parsed.payload_len.min(MAX_TCP_LEN), 0);

    // Appended after what the buffer held, which stays.
    let mut out = vec![0xa5; 3];
    let wrote = parsed.segment.write_with(&payload, &mut out);
    let packet = &out[3..];
    assert_eq!(out[..3], [0xa5; 3]);

    let on_wire = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let want = Segment {
        src: SocketAddr::new(on_wire(parsed.segment.src.ip()), parsed.segment.src.port()),
        dst: SocketAddr::new(on_wire(parsed.segment.dst.ip()), parsed.segment.dst.port()),
        ..parsed.segment
    };
    if want.src.is_ipv4() != want.dst.is_ipv4() || TCP_HEADER_LEN + parsed.payload_len > MAX_TCP_LEN
    {
        // One end v4-mapped and the other not, or too much payload for
        // one packet: refused, and nothing appended.
        assert_eq!(wrote, None, "{want:?}, {} bytes", parsed.payload_len);
        assert!(packet.is_empty());
        return;
    }
    assert_eq!(wrote, Some(()), "{want:?}, {} bytes", parsed.payload_len);
    check_written(packet, &want, &payload);

    // The same segment between v4-mapped addresses goes out as IPv4,
    // byte for byte; between an IPv4 and an IPv6 address, not at all.
    if let (IpAddr::V4(src), IpAddr::V4(dst)) = (want.src.ip(), want.dst.ip()) {
        let mapped = Segment {
            src: SocketAddr::new(src.to_ipv6_mapped().into(), want.src.port()),
            dst: SocketAddr::new(dst.to_ipv6_mapped().into(), want.dst.port()),
            ..want
        };
        let mut as_mapped = Vec::new();
        mapped.write_with(&payload, &mut as_mapped).unwrap();
        assert_eq!(as_mapped, packet);
        let documentation = Ipv6Addr::from((0x2001_0db8_u128 << 96) | u128::from(dst.to_bits()));
        let mixed = Segment {
            dst: SocketAddr::new(documentation.into(), want.dst.port()),
            ..want
        };
        let mut none = vec![1];
        assert_eq!(mixed.write_with(&payload, &mut none), None);
        assert_eq!(none, [1]);
    }

    // Any one bit flipped in the TCP segment spoils its checksum (a
    // one's-complement sum changes by a power of two, never by 0xffff).
    let ip_len = if want.src.is_ipv4() {
        IPV4_HEADER_LEN
    } else {
        IPV6_HEADER_LEN
    };
    let bits = (packet.len() - ip_len) * 8;
    let bit = data
        .iter()
        .fold(data.len(), |h, &b| h.wrapping_mul(31) ^ usize::from(b))
        % bits;
    let mut flipped = packet.to_vec();
    flipped[ip_len + bit / 8] ^= 1 << (bit % 8);
    assert!(!tcp_checksum_ok(&flipped), "bit {bit} flipped unnoticed");
}

/// What `write_with` made of `want` and `payload`: one IP packet of the
/// right family and lengths, holding exactly the segment, both checksums
/// good.
fn check_written(packet: &[u8], want: &Segment, payload: &[u8]) {
    let tcp_len = TCP_HEADER_LEN + payload.len();
    let ip_len = match want.src.ip() {
        IpAddr::V4(_) => {
            assert_eq!(packet[0], 0x45, "IPv4 without options");
            assert_eq!(
                usize::from(u16::from_be_bytes([packet[2], packet[3]])),
                packet.len()
            );
            // The IPv4 header sums to all ones with its checksum in.
            assert_eq!(fold(sum_words(0, &packet[..IPV4_HEADER_LEN])), 0xffff);
            IPV4_HEADER_LEN
        }
        IpAddr::V6(_) => {
            assert_eq!(packet[0] >> 4, 6);
            assert_eq!(
                usize::from(u16::from_be_bytes([packet[4], packet[5]])),
                tcp_len
            );
            IPV6_HEADER_LEN
        }
    };
    assert_eq!(packet.len(), ip_len + tcp_len);
    assert!(packet.ends_with(payload));
    assert_eq!(
        parse(packet),
        Some(Parsed {
            segment: *want,
            payload_len: payload.len()
        })
    );
    assert!(tcp_checksum_ok(packet));
    assert_eq!(tcp_sum(want, &packet[ip_len..]), 0xffff);
}

/// The one's-complement sum of the pseudo-header of `segment` (RFC 9293
/// §3.1, RFC 8200 §8.1) and `tcp`, the whole TCP segment: 0xffff when its
/// checksum is right.
fn tcp_sum(segment: &Segment, tcp: &[u8]) -> u32 {
    let mut pseudo = Vec::new();
    match (segment.src.ip(), segment.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&(tcp.len() as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 6]);
        }
        _ => unreachable!("parsed addresses are of one family"),
    }
    fold(sum_words(sum_words(0, &pseudo), tcp))
}

fn sum_words(mut sum: u64, bytes: &[u8]) -> u64 {
    for pair in bytes.chunks(2) {
        sum += (u64::from(pair[0]) << 8) | u64::from(pair.get(1).copied().unwrap_or(0));
    }
    sum
}

fn fold(mut sum: u64) -> u32 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u32
}
