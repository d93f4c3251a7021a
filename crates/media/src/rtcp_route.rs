//! Where RTCP travels when it does not share the RTP port (peers without rtcp-mux: Asterisk's
//! and baresip's defaults). Sans-IO: the engine owns the sockets and asks this which one a
//! report leaves from and where it goes, and tells it where reports came from.
//!
//! RFC 3550 §11 puts RTCP on the port after RTP; RFC 4961 (symmetric RTP/RTCP) has us send
//! from the port we receive on, so a NAT between us and the peer opens the same pinhole both
//! ways; and, like RTP latching, a report that arrives from somewhere other than the signalled
//! address moves our target there (the peer's real, post-NAT source).

use crate::rtcp::RtcpError;
use crate::srtp::SrtpError;
use std::net::SocketAddr;
use thiserror::Error;

/// Which of our sockets a report leaves from (or arrived on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPort {
    /// The RTP socket (rtcp-mux, RFC 5761).
    Rtp,
    /// The RTCP socket (RTP port + 1).
    Rtcp,
}

/// The call's RTCP path, changed by re-negotiations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpRoute {
    /// `None`: rtcp-mux, reports go with RTP. `Some`: the peer's RTCP address.
    separate: Option<SocketAddr>,
    /// We have a socket of our own for RTCP (else non-mux reports leave from the RTP socket).
    own_socket: bool,
    /// A report from the peer already moved `separate` to its real source.
    latched: bool,
}

impl RtcpRoute {
    pub fn new(separate: Option<SocketAddr>, own_socket: bool) -> Self {
        RtcpRoute {
            separate,
            own_socket,
            latched: false,
        }
    }

    /// A new agreement (re-INVITE): mux on (`None`) or off, or a new peer address. Latching
    /// starts over, as for RTP.
    pub fn set_remote(&mut self, separate: Option<SocketAddr>) {
        self.separate = separate;
        self.latched = false;
    }

    /// Whether RTCP shares the RTP port.
    pub fn is_mux(&self) -> bool {
        self.separate.is_none()
    }

    /// The peer's RTCP address (None with rtcp-mux).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.separate
    }

    /// Where our next report goes: with mux, to the RTP target (already latched) from the RTP
    /// socket; without, to the peer's RTCP address from our RTCP socket when we have one.
    pub fn target(&self, rtp_remote: SocketAddr) -> (RtcpPort, SocketAddr) {
        match self.separate {
            None => (RtcpPort::Rtp, rtp_remote),
            Some(addr) if self.own_socket => (RtcpPort::Rtcp, addr),
            Some(addr) => (RtcpPort::Rtp, addr),
        }
    }

    /// A valid report arrived on `port` from `from`. Returns the new target when it latches:
    /// the first report on our RTCP port while mux is off, from other than the signalled
    /// address. Reports on the RTP port never move the RTCP target (that port latches RTP).
    pub fn on_report(&mut self, port: RtcpPort, from: SocketAddr) -> Option<SocketAddr> {
        if port != RtcpPort::Rtcp || self.latched {
            return None;
        }
        let current = self.separate?;
        self.latched = true;
        (current != from).then(|| {
            self.separate = Some(from);
            from
        })
    }
}

/// Why a datagram on the RTCP port was dropped.
#[derive(Debug, Error)]
pub enum RtcpPortError {
    #[error("{len}-byte datagram on the RTCP port is not RTCP (starts {head:02x?})")]
    NotRtcp { len: usize, head: Vec<u8> },
    #[error("SRTCP: {0}")]
    Srtcp(#[from] SrtpError),
    #[error("malformed RTCP: {0}")]
    Malformed(#[from] RtcpError),
}

/// The cheap first check for what arrives on the RTCP port: RTP version 2 and an RTCP packet
/// type (192-223) in the second byte. RTP sent to the wrong port, STUN and garbage fail here
/// with a message that shows the first bytes.
pub fn check_rtcp_datagram(data: &[u8]) -> Result<(), RtcpPortError> {
    let rtcp = data.len() >= 8 && data[0] >> 6 == 2 && (192..=223).contains(&data[1]);
    if rtcp {
        Ok(())
    } else {
        Err(RtcpPortError::NotRtcp {
            len: data.len(),
            head: data.iter().take(4).copied().collect(),
        })
    }
}

/// What the RTCP port saw (all zero when the engine has no RTCP socket).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtcpPortStats {
    /// Valid RTCP compounds received on the RTCP port.
    pub received: u64,
    /// Datagrams dropped there: not RTCP, malformed, or refused by SRTCP.
    pub rejected: u64,
    /// Why the last one was dropped.
    pub last_error: Option<String>,
}

impl RtcpPortStats {
    /// Counts a dropped datagram; returns how many so far (for rate-limited logging).
    pub fn reject(&mut self, e: &RtcpPortError) -> u64 {
        self.rejected += 1;
        self.last_error = Some(e.to_string());
        self.rejected
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::rtcp::{build_compound, parse_compound, RtcpPacket};

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn mux_sends_with_rtp_and_never_latches_the_rtcp_port() {
        let mut r = RtcpRoute::new(None, true);
        assert!(r.is_mux());
        assert_eq!(
            r.target(a("10.0.0.1:4000")),
            (RtcpPort::Rtp, a("10.0.0.1:4000"))
        );
        assert_eq!(r.on_report(RtcpPort::Rtcp, a("10.0.0.9:5001")), None);
        assert_eq!(r.on_report(RtcpPort::Rtp, a("10.0.0.9:5000")), None);
        assert_eq!(r.remote(), None);
    }

    #[test]
    fn without_mux_reports_leave_from_our_rtcp_socket_and_latch_once() {
        let mut r = RtcpRoute::new(Some(a("10.0.0.1:4001")), true);
        assert_eq!(
            r.target(a("10.0.0.1:4000")),
            (RtcpPort::Rtcp, a("10.0.0.1:4001"))
        );
        // A report on the RTP port (a peer that muxes anyway) does not move the RTCP target.
        assert_eq!(r.on_report(RtcpPort::Rtp, a("192.0.2.7:9000")), None);
        // The first on the RTCP port from its NAT's address does, once.
        assert_eq!(
            r.on_report(RtcpPort::Rtcp, a("192.0.2.7:61001")),
            Some(a("192.0.2.7:61001"))
        );
        assert_eq!(r.on_report(RtcpPort::Rtcp, a("198.51.100.1:1")), None);
        assert_eq!(
            r.target(a("10.0.0.1:4000")),
            (RtcpPort::Rtcp, a("192.0.2.7:61001"))
        );
        // A report from the signalled address latches without a change.
        let mut same = RtcpRoute::new(Some(a("10.0.0.1:4001")), true);
        assert_eq!(same.on_report(RtcpPort::Rtcp, a("10.0.0.1:4001")), None);
        assert_eq!(same.remote(), Some(a("10.0.0.1:4001")));
    }

    #[test]
    fn renegotiation_switches_mux_and_restarts_latching() {
        let mut r = RtcpRoute::new(Some(a("10.0.0.1:4001")), true);
        r.on_report(RtcpPort::Rtcp, a("192.0.2.7:61001"));
        // Re-INVITE: mux agreed now.
        r.set_remote(None);
        assert_eq!(
            r.target(a("10.0.0.2:6000")),
            (RtcpPort::Rtp, a("10.0.0.2:6000"))
        );
        // And off again, at a new address: latching may happen again.
        r.set_remote(Some(a("10.0.0.3:7001")));
        assert_eq!(
            r.on_report(RtcpPort::Rtcp, a("192.0.2.8:50001")),
            Some(a("192.0.2.8:50001"))
        );
    }

    #[test]
    fn without_an_rtcp_socket_non_mux_reports_leave_from_the_rtp_socket() {
        let r = RtcpRoute::new(Some(a("10.0.0.1:4001")), false);
        assert_eq!(
            r.target(a("10.0.0.1:4000")),
            (RtcpPort::Rtp, a("10.0.0.1:4001"))
        );
    }

    #[test]
    fn first_check_tells_rtcp_from_rtp_stun_and_garbage() {
        let rr = build_compound(&[RtcpPacket::ReceiverReport {
            ssrc: 1,
            reports: vec![],
        }])
        .unwrap();
        assert!(check_rtcp_datagram(&rr).is_ok());
        parse_compound(&rr).unwrap();
        // A PCMU RTP packet sent to the wrong port.
        let rtp = [0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 0, 0, 0, 1, 0xff, 0xff];
        let e = check_rtcp_datagram(&rtp).unwrap_err();
        assert_eq!(
            e.to_string(),
            "14-byte datagram on the RTCP port is not RTCP (starts [80, 00, 12, 34])"
        );
        // A STUN binding request header.
        let stun = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        assert!(matches!(
            check_rtcp_datagram(&stun),
            Err(RtcpPortError::NotRtcp { len: 8, .. })
        ));
        assert!(check_rtcp_datagram(&[]).is_err());
        assert!(check_rtcp_datagram(&[0x80, 201, 0, 1]).is_err());
        let mut stats = RtcpPortStats::default();
        assert_eq!(stats.reject(&e), 1);
        assert_eq!(stats.last_error.as_deref(), Some(e.to_string().as_str()));
    }
}
