use netlink::bytes::{array, u32_ne};

/// The parts of `struct tcp_info` (`include/uapi/linux/tcp.h`) this crate reads.
///
/// The structure grows with kernel versions and the kernel sends only as much
/// as it has, so it is parsed by its length: a field past the end of what was
/// sent is `None`, never garbage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// `tcpi_state`.
    pub state: Option<u8>,
    /// `tcpi_ca_state`: congestion-avoidance state.
    pub ca_state: Option<u8>,
    /// `tcpi_retransmits`.
    pub retransmits: Option<u8>,
    /// `tcpi_rto`, microseconds.
    pub rto: Option<u32>,
    /// `tcpi_snd_mss`.
    pub snd_mss: Option<u32>,
    /// `tcpi_rcv_mss`.
    pub rcv_mss: Option<u32>,
    /// `tcpi_unacked`.
    pub unacked: Option<u32>,
    /// `tcpi_lost`.
    pub lost: Option<u32>,
    /// `tcpi_last_data_sent`, milliseconds ago.
    pub last_data_sent: Option<u32>,
    /// `tcpi_last_data_recv`, milliseconds ago.
    pub last_data_recv: Option<u32>,
    /// `tcpi_last_ack_recv`, milliseconds ago.
    pub last_ack_recv: Option<u32>,
    /// `tcpi_pmtu`.
    pub pmtu: Option<u32>,
    /// `tcpi_rtt`, microseconds (smoothed).
    pub rtt: Option<u32>,
    /// `tcpi_rttvar`, microseconds.
    pub rttvar: Option<u32>,
    /// `tcpi_snd_cwnd`, segments.
    pub snd_cwnd: Option<u32>,
    /// `tcpi_total_retrans`.
    pub total_retrans: Option<u32>,
    /// `tcpi_bytes_acked` (Linux 4.1+).
    pub bytes_acked: Option<u64>,
    /// `tcpi_bytes_received` (Linux 4.1+).
    pub bytes_received: Option<u64>,
    /// `tcpi_segs_out` (Linux 4.2+).
    pub segs_out: Option<u32>,
    /// `tcpi_segs_in` (Linux 4.2+).
    pub segs_in: Option<u32>,
    /// `tcpi_min_rtt`, microseconds (Linux 4.6+).
    pub min_rtt: Option<u32>,
    /// `tcpi_delivery_rate`, bytes per second (Linux 4.9+).
    pub delivery_rate: Option<u64>,
    /// `tcpi_bytes_sent` (Linux 4.19+).
    pub bytes_sent: Option<u64>,
    /// `tcpi_bytes_retrans` (Linux 4.19+).
    pub bytes_retrans: Option<u64>,
    /// `tcpi_snd_wnd` (Linux 5.4+).
    pub snd_wnd: Option<u32>,
}

impl TcpInfo {
    /// Parse as much of `struct tcp_info` as `b` holds.
    pub fn parse(b: &[u8]) -> TcpInfo {
        let u64_at = |off| array(b, off).map(u64::from_ne_bytes);
        let u32_at = |off| u32_ne(b, off);
        TcpInfo {
            state: b.first().copied(),
            ca_state: b.get(1).copied(),
            retransmits: b.get(2).copied(),
            rto: u32_at(8),
            snd_mss: u32_at(16),
            rcv_mss: u32_at(20),
            unacked: u32_at(24),
            lost: u32_at(32),
            last_data_sent: u32_at(44),
            last_data_recv: u32_at(52),
            last_ack_recv: u32_at(56),
            pmtu: u32_at(60),
            rtt: u32_at(68),
            rttvar: u32_at(72),
            snd_cwnd: u32_at(80),
            total_retrans: u32_at(100),
            bytes_acked: u64_at(120),
            bytes_received: u64_at(128),
            segs_out: u32_at(136),
            segs_in: u32_at(140),
            min_rtt: u32_at(148),
            delivery_rate: u64_at(160),
            bytes_sent: u64_at(200),
            bytes_retrans: u64_at(208),
            snd_wnd: u32_at(228),
        }
    }
}
