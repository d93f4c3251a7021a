//! Offer/answer state for one call: o= versioning, hold and resume (RFC 6337), re-offers.

use crate::model::{Direction, MediaDescription, Origin, SessionDescription};
use crate::negotiate::{
    self, description, offer_section, rejected, CodecKind, LocalCaps, NegotiatedMedia,
    NegotiationError, PtPlan,
};

/// The SDP side of one call. Sans-IO: the SIP layer carries the descriptions.
///
/// - outgoing INVITE, re-INVITE, or a 200 OK to a re-INVITE without SDP: [`Self::create_offer`],
///   then [`Self::process_answer`] (or [`Self::cancel_offer`] if the request failed);
/// - incoming offer: [`Self::create_answer`] (an error means "send 488", state is unchanged);
/// - hold/resume: [`Self::hold`] / [`Self::resume`] give the re-offer to send.
#[derive(Debug, Clone)]
pub struct MediaSession {
    caps: LocalCaps,
    origin: Origin,
    /// Every description we sent shares one version counter (RFC 3264 section 8).
    last_sent: Option<SessionDescription>,
    pending: Option<Pending>,
    local_hold: bool,
    remote_hold: bool,
    negotiated: Option<NegotiatedMedia>,
    /// Our m= lines as last agreed; re-offers keep their count and order.
    layout: Vec<MediaDescription>,
    audio_index: usize,
    /// Dynamic payload types agreed on (opus, te/8000, te/48000), reused in re-offers
    /// (RFC 3264 section 8.3.2).
    learned: [Option<u8>; 3],
}

#[derive(Debug, Clone)]
struct Pending {
    offer: SessionDescription,
    local_hold_before: bool,
}

impl MediaSession {
    /// A session whose o= line carries `session_id` (caller-chosen, e.g. from an NTP time).
    pub fn new(caps: LocalCaps, session_id: u64) -> Self {
        let origin = Origin::new(session_id, 1, caps.address);
        MediaSession {
            caps,
            origin,
            last_sent: None,
            pending: None,
            local_hold: false,
            remote_hold: false,
            negotiated: None,
            layout: vec![],
            audio_index: 0,
            learned: [None; 3],
        }
    }

    /// Local capabilities; change the address or codecs here before the next offer or answer.
    pub fn caps_mut(&mut self) -> &mut LocalCaps {
        &mut self.caps
    }

    /// What the last completed exchange agreed on.
    pub fn negotiated(&self) -> Option<&NegotiatedMedia> {
        self.negotiated.as_ref()
    }

    /// Whether we hold the call.
    pub fn is_local_hold(&self) -> bool {
        self.local_hold
    }

    /// Whether the remote side holds us (its last offer refused media from us).
    pub fn is_remote_hold(&self) -> bool {
        self.remote_hold
    }

    /// Our direction given both hold states: sendonly when we hold, recvonly when held.
    fn wanted_direction(&self) -> Direction {
        Direction::from_flags(!self.remote_hold, !self.local_hold)
    }

    /// An offer from the current state: the initial offer, a session refresh, or the offer for
    /// a 200 OK to a re-INVITE without SDP. An unchanged re-offer keeps the o= version.
    pub fn create_offer(&mut self) -> SessionDescription {
        let before = self.local_hold;
        self.offer_with_hold(before)
    }

    /// Put the call on hold: sendonly if we were sendrecv, inactive if the remote holds us.
    pub fn hold(&mut self) -> SessionDescription {
        let before = self.local_hold;
        self.local_hold = true;
        self.offer_with_hold(before)
    }

    /// Resume: sendrecv, or recvonly while the remote still holds us.
    pub fn resume(&mut self) -> SessionDescription {
        let before = self.local_hold;
        self.local_hold = false;
        self.offer_with_hold(before)
    }

    fn offer_with_hold(&mut self, local_hold_before: bool) -> SessionDescription {
        // Keep the agreed codec first so a re-offer does not make the remote switch.
        let mut order = self.caps.codecs.clone();
        if let Some(n) = &self.negotiated {
            order.sort_by_key(|c| c.kind() != n.codec.kind);
        }
        let plan = PtPlan::new(&self.caps, self.learned);
        let audio = offer_section(&self.caps, &order, plan, self.wanted_direction());
        let media = if self.layout.is_empty() {
            vec![audio]
        } else {
            let mut media: Vec<MediaDescription> = self.layout.iter().map(rejected).collect();
            match media.get_mut(self.audio_index) {
                Some(slot) => *slot = audio,
                None => media.push(audio),
            }
            media
        };
        let sdp = description(&self.caps, &self.origin, vec![], media);
        let sdp = self.stamp(sdp);
        self.pending = Some(Pending {
            offer: sdp.clone(),
            local_hold_before,
        });
        sdp
    }

    /// The remote answer to our pending offer.
    pub fn process_answer(
        &mut self,
        answer: &SessionDescription,
    ) -> Result<NegotiatedMedia, NegotiationError> {
        let pending = self
            .pending
            .take()
            .ok_or(NegotiationError::NoPendingOffer)?;
        match negotiate::process_answer(&pending.offer, answer) {
            Ok(neg) => {
                // Only an answer to sendrecv states the remote's own wish; recvonly or inactive
                // in answer to our sendonly/recvonly is forced by our offer, not a hold.
                let offered = pending
                    .offer
                    .media
                    .get(neg.media_index)
                    .and_then(|m| m.direction());
                if offered == Some(Direction::SendRecv) {
                    self.remote_hold = neg.remote_hold;
                }
                self.agreed(&pending.offer.media, neg.clone());
                Ok(neg)
            }
            Err(e) => {
                self.local_hold = pending.local_hold_before;
                Err(e)
            }
        }
    }

    /// The offer was not answered (e.g. 488 or 491 to our re-INVITE): the old session stays.
    pub fn cancel_offer(&mut self) {
        if let Some(p) = self.pending.take() {
            self.local_hold = p.local_hold_before;
        }
    }

    /// Answer a remote offer or re-offer. On error nothing changes; reject with 488.
    pub fn create_answer(
        &mut self,
        offer: &SessionDescription,
    ) -> Result<(SessionDescription, NegotiatedMedia), NegotiationError> {
        let wish = Direction::from_flags(true, !self.local_hold);
        let mut caps = self.caps.clone();
        // Offer the agreed codec first so a re-offer keeps it when still possible.
        if let Some(n) = &self.negotiated {
            caps.codecs.sort_by_key(|c| c.kind() != n.codec.kind);
        }
        let (answer, neg) = negotiate::create_answer(offer, &caps, &self.origin, wish)?;
        let answer = self.stamp(answer);
        self.remote_hold = neg.remote_hold;
        // A pending offer of ours (glare) is left for the SIP layer to cancel after its 491.
        self.agreed(&answer.media, neg.clone());
        Ok((answer, neg))
    }

    fn agreed(&mut self, ours: &[MediaDescription], neg: NegotiatedMedia) {
        self.layout = ours.to_vec();
        self.audio_index = neg.media_index;
        if neg.codec.kind == CodecKind::Opus {
            self.learned[0] = Some(neg.codec.recv_pt);
        }
        if let Some(te) = neg.telephone_event {
            self.learned[if neg.codec.clock_rate == 8000 { 1 } else { 2 }] = Some(te.recv_pt);
        }
        self.negotiated = Some(neg);
    }

    /// Set the o= version: unchanged content keeps it, anything else increments it.
    fn stamp(&mut self, mut sdp: SessionDescription) -> SessionDescription {
        if let Some(last) = &self.last_sent {
            sdp.origin.session_version = last.origin.session_version;
            if sdp != *last {
                sdp.origin.session_version = last.origin.session_version.wrapping_add(1);
            }
        }
        self.origin.session_version = sdp.origin.session_version;
        self.last_sent = Some(sdp.clone());
        sdp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, parse};
    use crate::negotiate::{create_answer, Codec};

    fn session() -> MediaSession {
        MediaSession::new(LocalCaps::new("192.0.2.10".parse().unwrap(), 40000), 4242)
    }

    fn remote_caps() -> LocalCaps {
        LocalCaps::new("198.51.100.1".parse().unwrap(), 30000)
    }

    /// The far end answering with its own caps and wish.
    fn remote_answer(offer: &SessionDescription, wish: Direction) -> SessionDescription {
        let o = Origin::new(1, 1, "198.51.100.1".parse().unwrap());
        create_answer(offer, &remote_caps(), &o, wish).unwrap().0
    }

    fn audio_dir(sdp: &SessionDescription) -> Option<Direction> {
        sdp.media
            .iter()
            .find(|m| m.port != 0)
            .and_then(|m| m.direction())
    }

    fn established() -> MediaSession {
        let mut s = session();
        let offer = s.create_offer();
        s.process_answer(&remote_answer(&offer, Direction::SendRecv))
            .unwrap();
        s
    }

    #[test]
    fn versions_grow_only_when_the_description_changes() {
        let mut s = session();
        let first = s.create_offer();
        assert_eq!(first.origin.session_id, "4242");
        assert_eq!(first.origin.session_version, 1);
        s.process_answer(&remote_answer(&first, Direction::SendRecv))
            .unwrap();
        // Session refresh: same content, same version.
        let refresh = s.create_offer();
        assert_eq!(refresh, first);
        s.process_answer(&remote_answer(&refresh, Direction::SendRecv))
            .unwrap();
        let hold = s.hold();
        assert_eq!(hold.origin.session_version, 2);
        s.process_answer(&remote_answer(&hold, Direction::SendRecv))
            .unwrap();
        let again = s.create_offer();
        assert_eq!(again.origin.session_version, 2);
        s.cancel_offer();
        let resume = s.resume();
        assert_eq!(resume.origin.session_version, 3);
    }

    #[test]
    fn hold_and_resume_rfc6337() {
        let mut s = established();
        assert_eq!(
            s.negotiated().map(|n| n.direction),
            Some(Direction::SendRecv)
        );
        let hold = s.hold();
        assert_eq!(audio_dir(&hold), Some(Direction::SendOnly));
        let neg = s
            .process_answer(&remote_answer(&hold, Direction::SendRecv))
            .unwrap();
        assert!(neg.send && !neg.receive);
        assert!(s.is_local_hold() && !s.is_remote_hold());
        let resume = s.resume();
        assert_eq!(audio_dir(&resume), Some(Direction::SendRecv));
        let neg = s
            .process_answer(&remote_answer(&resume, Direction::SendRecv))
            .unwrap();
        assert!(neg.send && neg.receive);
    }

    #[test]
    fn held_by_remote_then_we_hold_too() {
        let mut s = established();
        // The remote re-offers sendonly: it holds us.
        let mut far = MediaSession::new(remote_caps(), 1);
        far.create_offer();
        let far_hold = far.hold();
        let (ans, neg) = s.create_answer(&far_hold).unwrap();
        assert_eq!(audio_dir(&ans), Some(Direction::RecvOnly));
        assert!(s.is_remote_hold() && !neg.send && neg.receive);
        // We hold as well: recvonly becomes inactive.
        let hold = s.hold();
        assert_eq!(audio_dir(&hold), Some(Direction::Inactive));
        let (far_ans, _) = far.create_answer(&hold).unwrap();
        assert_eq!(audio_dir(&far_ans), Some(Direction::Inactive));
        s.process_answer(&far_ans).unwrap();
        // Our resume while still held: recvonly.
        let resume = s.resume();
        assert_eq!(audio_dir(&resume), Some(Direction::RecvOnly));
        let (far_ans, _) = far.create_answer(&resume).unwrap();
        assert_eq!(audio_dir(&far_ans), Some(Direction::SendOnly));
        s.process_answer(&far_ans).unwrap();
        assert!(s.is_remote_hold());
        // The remote resumes with a sendrecv re-offer.
        let far_resume = far.resume();
        let (ans, neg) = s.create_answer(&far_resume).unwrap();
        assert_eq!(audio_dir(&ans), Some(Direction::SendRecv));
        assert!(!s.is_remote_hold() && neg.send && neg.receive);
    }

    #[test]
    fn remote_holding_in_its_answer() {
        let mut s = established();
        // We hold; the remote answers inactive (it does not want music on hold): not a hold.
        let hold = s.hold();
        s.process_answer(&remote_answer(&hold, Direction::Inactive))
            .unwrap();
        assert!(!s.is_remote_hold());
        let resume = s.resume();
        assert_eq!(audio_dir(&resume), Some(Direction::SendRecv));
        // The remote answers our sendrecv with sendonly: now it holds us.
        let neg = s
            .process_answer(&remote_answer(&resume, Direction::SendOnly))
            .unwrap();
        assert!(s.is_remote_hold() && !neg.send && neg.receive);
        assert_eq!(audio_dir(&s.create_offer()), Some(Direction::RecvOnly));
    }

    #[test]
    fn old_style_hold_from_remote() {
        let mut s = session();
        let (ans, neg) = s.create_answer(&parse(fixtures::OLD_HOLD_LF)).unwrap();
        assert!(s.is_remote_hold() && !neg.send);
        assert_eq!(audio_dir(&ans), Some(Direction::RecvOnly));
        // A re-offer from us now asks only to receive.
        assert_eq!(audio_dir(&s.create_offer()), Some(Direction::RecvOnly));
    }

    #[test]
    fn reoffer_keeps_layout_and_agreed_payload_types() {
        let mut s = session();
        let (ans, neg) = s.create_answer(&parse(fixtures::LINPHONE_IPV6)).unwrap();
        assert_eq!((neg.codec.kind, neg.codec.recv_pt), (CodecKind::Opus, 96));
        assert_eq!(ans.origin.session_version, 1);
        // Re-INVITE without SDP: we offer from the current state.
        let offer = s.create_offer();
        assert_eq!(offer.media.len(), 2);
        assert_eq!(
            (offer.media[1].media.as_str(), offer.media[1].port),
            ("video", 0)
        );
        let audio = &offer.media[0];
        // Opus keeps 96 and comes first; telephone-event/48000 keeps 101, so 8 kHz moves off it.
        assert_eq!(audio.formats[0], "96");
        assert_eq!(audio.rtpmap(101).map(|r| r.clock_rate), Some(48000));
        assert_eq!(audio.payload_types().len(), 5);
        assert_eq!(offer.origin.session_version, 2);
    }

    #[test]
    fn reoffer_puts_the_agreed_codec_first() {
        let mut s = session();
        let offer = s.create_offer();
        let mut pcma_only = remote_caps();
        pcma_only.codecs = vec![Codec::Pcma];
        let o = Origin::new(1, 1, pcma_only.address);
        let (ans, _) = create_answer(&offer, &pcma_only, &o, Direction::SendRecv).unwrap();
        s.process_answer(&ans).unwrap();
        let re = s.create_offer();
        assert_eq!(re.media[0].formats[0], "8");
    }

    #[test]
    fn failed_exchanges_leave_the_call_as_it_was() {
        let mut s = established();
        let before = s.negotiated().cloned();
        let e = s.create_answer(&parse(fixtures::ASTERISK_T38)).unwrap_err();
        assert_eq!(e, NegotiationError::NoUsableAudioStream);
        assert_eq!(s.negotiated().cloned(), before);
        // A hold re-INVITE refused with 491: not on hold after all.
        s.hold();
        s.cancel_offer();
        assert!(!s.is_local_hold());
        assert_eq!(
            s.process_answer(&parse(fixtures::ASTERISK)),
            Err(NegotiationError::NoPendingOffer)
        );
        // An unusable answer to a hold re-offer rolls the hold flag back too.
        let hold = s.hold();
        let mut bad = remote_answer(&hold, Direction::SendRecv);
        bad.media[0].port = 0;
        assert_eq!(
            s.process_answer(&bad),
            Err(NegotiationError::StreamRejected)
        );
        assert!(!s.is_local_hold());
    }

    #[test]
    fn unchanged_remote_reoffer_gets_the_same_answer() {
        let mut s = session();
        let offer = parse(fixtures::ASTERISK);
        let (a1, _) = s.create_answer(&offer).unwrap();
        let (a2, _) = s.create_answer(&offer).unwrap();
        assert_eq!(a1, a2);
        // FreeSWITCH also offers PCMU, which stays preferred as the agreed codec: same answer.
        let (a3, neg) = s.create_answer(&parse(fixtures::FREESWITCH)).unwrap();
        assert_eq!(neg.codec.kind, CodecKind::Pcmu);
        assert_eq!(a3, a1);
        let (a4, neg) = s.create_answer(&parse(fixtures::OLD_HOLD_LF)).unwrap();
        assert_eq!(neg.codec.kind, CodecKind::Pcma);
        assert_eq!(a4.origin.session_version, a1.origin.session_version + 1);
    }
}
