//! Glue between a call's agreed SDP (`seatline-sdp`) and the RTP engine (`seatline-media`):
//! starts the engine when the offer/answer completes, applies re-negotiations (hold, resume,
//! new address), and turns the engine's DTMF events into phone events.

use crate::config::{AudioIo, PhoneConfig};
use crate::events::{CallQuality, PhoneEvent, RecordingState};
use crate::recording::CallRecording;
use crate::RecordingNotice;
use seatline_media::codec::Codec as RtpCodec;
use seatline_media::engine::{
    Direction, MediaConfig, MediaEngine, MediaEvent, MediaHandle, Sink, Source, SrtpConfig,
};
use seatline_media::srtp::{SrtpKey as MasterKey, SrtpProfile};
use seatline_sdp::{Codec, CryptoSuite, Host, KeyParam, NegotiatedMedia, SrtpKey};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tracing::warn;

/// Codecs the engine can run.
pub(crate) fn supports(codec: &Codec) -> bool {
    matches!(codec, Codec::Pcmu | Codec::Pcma | Codec::Opus(_))
}

fn remote_addr(neg: &NegotiatedMedia) -> Result<SocketAddr, String> {
    match &neg.remote.host {
        Host::Ip(ip) => Ok(SocketAddr::new(*ip, neg.remote.rtp_port)),
        Host::Name(name) => (name.as_str(), neg.remote.rtp_port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve the media host {name:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("media host {name:?} has no address")),
    }
}

/// Fresh SDES keys for one call, one per suite we offer (the _80 suite first), from the OS
/// CSPRNG. They live in the call's SDP only; nothing logs them.
pub(crate) fn fresh_srtp_keys() -> Result<Vec<SrtpKey>, String> {
    [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
    ]
    .into_iter()
    .map(|suite| {
        let key = MasterKey::generate().map_err(|e| e.to_string())?;
        Ok(SrtpKey {
            suite,
            key: KeyParam::inline(key.to_inline()),
        })
    })
    .collect()
}

/// The engine's SRTP from the agreed keys (`None`: plain RTP).
fn srtp_config(neg: &NegotiatedMedia) -> Result<Option<SrtpConfig>, String> {
    let Some(s) = &neg.srtp else {
        return Ok(None);
    };
    let profile = match s.suite {
        CryptoSuite::AesCm128HmacSha1_80 => SrtpProfile::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32 => SrtpProfile::AesCm128HmacSha1_32,
    };
    let key = |k: &KeyParam, whose: &str| {
        MasterKey::from_inline(&k.key_salt).map_err(|e| format!("{whose} SRTP key: {e}"))
    };
    Ok(Some(SrtpConfig {
        profile,
        local: key(&s.local_key, "our")?,
        remote: key(&s.remote_key, "the peer's")?,
    }))
}

/// How often a live `PhoneEvent::Quality` goes out during a call.
const QUALITY_INTERVAL: Duration = Duration::from_secs(2);

/// Where our RTCP goes without rtcp-mux: the peer's RTCP port (`a=rtcp` or RTP + 1), from our
/// RTCP socket (RTP + 1), where the peer's reports arrive too. `None`: mux.
fn rtcp_target(neg: &NegotiatedMedia) -> Option<SocketAddr> {
    if neg.rtcp_mux {
        return None;
    }
    match &neg.remote.rtcp_host {
        Host::Ip(ip) => Some(SocketAddr::new(*ip, neg.remote.rtcp_port)),
        Host::Name(name) => (name.as_str(), neg.remote.rtcp_port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next()),
    }
}

fn direction(neg: &NegotiatedMedia) -> Direction {
    match (neg.send, neg.receive) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// The WAV a call's audio is recorded to: `<dir>/<call id with unsafe characters replaced>.wav`.
pub(crate) fn recording_path(audio: &AudioIo, call_id: &str) -> Option<PathBuf> {
    match audio {
        AudioIo::Files {
            record_dir: Some(dir),
            ..
        } => {
            let safe: String = call_id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            Some(dir.join(format!("{safe}.wav")))
        }
        _ => None,
    }
}

/// A call's reserved media sockets: RTP on an even port, RTCP on the next.
pub(crate) struct MediaPorts {
    pub(crate) rtp: UdpSocket,
    pub(crate) rtcp: UdpSocket,
    /// The RTP socket's address.
    pub(crate) addr: SocketAddr,
}

pub(crate) struct CallMedia {
    handle: Arc<Mutex<Option<MediaHandle>>>,
    /// The SRTP keys the engine runs with, to notice new ones in a re-negotiation.
    srtp: Mutex<Option<SrtpConfig>>,
    /// The peer's RTCP address as last signalled (`None`: mux), to notice a change; the
    /// engine's may have latched elsewhere since.
    rtcp_signalled: Mutex<Option<SocketAddr>>,
    /// The call recording, completed when the call ends.
    recording: Option<CallRecording>,
    call_id: String,
    events: UnboundedSender<PhoneEvent>,
}

impl CallMedia {
    pub(crate) fn start(
        ports: MediaPorts,
        neg: &NegotiatedMedia,
        settings: &PhoneConfig,
        call_id: &str,
        muted: bool,
        recording: Option<CallRecording>,
        events: UnboundedSender<PhoneEvent>,
    ) -> Result<CallMedia, String> {
        let codec = RtpCodec::from_rtpmap(
            neg.codec.send_pt,
            neg.codec.kind.name(),
            neg.codec.clock_rate,
        )
        .map_err(|e| e.to_string())?;
        let audio = &settings.audio;
        let mut config = MediaConfig::new(ports.rtp, remote_addr(neg)?, codec);
        if !settings.opus_fec {
            // No LBRR in what we send (the benchmark's "Opus without FEC"); what we receive
            // is still rebuilt from the peer's FEC.
            config.opus.expected_loss_percent = 0;
        }
        config.telephone_event_pt = neg.telephone_event.as_ref().map(|t| t.send_pt);
        config.comfort_noise_pt = neg.comfort_noise_pt;
        config.ptime = Duration::from_millis(u64::from(neg.ptime.clamp(10, 60)));
        config.direction = direction(neg);
        config.srtp = srtp_config(neg)?;
        config.rtcp_remote = rtcp_target(neg);
        // Kept (idle) while mux is agreed: a re-INVITE may turn mux off, and our offers keep
        // stating this port.
        config.rtcp_socket = Some(ports.rtcp);
        let srtp = config.srtp.clone();
        let rtcp_signalled = config.rtcp_remote;
        if let AudioIo::Devices { input, output } = audio {
            // The sound card's clock paces the call (crates/media); a device that cannot open
            // leaves the call running with silence and a DeviceError event.
            config.source = Source::Device { id: input.clone() };
            config.sink = Sink::Device { id: output.clone() };
        }
        if let AudioIo::Files {
            source: Some(path), ..
        } = audio
        {
            config.source = Source::Wav {
                path: path.clone(),
                looped: true,
            };
        }
        if let Some(path) = recording_path(audio, call_id) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            config.sink = Sink::Wav(path);
        }
        config.recording = recording.as_ref().map(|r| r.wav.clone());
        config.recording_notice = settings.recording_notice.clone();
        config.muted = muted;
        let handle = MediaEngine::start(config).map_err(|e| e.to_string())?;
        let handle = Arc::new(Mutex::new(Some(handle)));
        // The engine reports on a std channel owned by its handle; poll it off the audio
        // threads and forward what the agent must see.
        let shared = handle.clone();
        let call = call_id.to_string();
        let mut next_quality = Instant::now() + QUALITY_INTERVAL;
        // What the recording's start tells the agent the caller hears (none once the
        // announcement failed to load; the engine reports that first).
        let mut notice = match &settings.recording_notice {
            RecordingNotice::Off => None,
            RecordingNotice::Tone => Some("tone".to_string()),
            RecordingNotice::Announcement(_) => Some("announcement".to_string()),
        };
        let events_out = events.clone();
        std::thread::Builder::new()
            .name("media-events".into())
            .spawn(move || loop {
                let (next, quality) = match shared.lock() {
                    Ok(guard) => match guard.as_ref() {
                        Some(h) => {
                            let quality = (Instant::now() >= next_quality).then(|| {
                                next_quality += QUALITY_INTERVAL;
                                h.stats()
                            });
                            (h.events().try_recv().ok(), quality)
                        }
                        None => return,
                    },
                    Err(_) => return,
                };
                if let Some(q) = quality {
                    let _ = events.send(PhoneEvent::Quality {
                        call: call.clone(),
                        quality: CallQuality::from(&q),
                    });
                }
                match next {
                    Some(MediaEvent::DtmfReceived(digit)) => {
                        let _ = events.send(PhoneEvent::DtmfReceived {
                            call: call.clone(),
                            digit,
                            method: "rfc4733".into(),
                        });
                    }
                    Some(MediaEvent::DeviceError(message)) => {
                        let _ = events.send(PhoneEvent::Error {
                            call: Some(call.clone()),
                            message: format!("sound device: {message}"),
                        });
                    }
                    Some(MediaEvent::DeviceFallback(f)) => {
                        let _ = events.send(PhoneEvent::DeviceFallback {
                            call: Some(call.clone()),
                            device: f.kind.to_string(),
                            wanted: f.wanted,
                            message: format!("{}; using the system default", f.reason),
                        });
                    }
                    Some(MediaEvent::RecordingStarted(path)) => {
                        let _ = events.send(PhoneEvent::Recording {
                            call: call.clone(),
                            state: RecordingState::Started {
                                file: path.display().to_string(),
                                notice: notice.clone(),
                            },
                        });
                    }
                    Some(MediaEvent::RecordingFailed(message)) => {
                        let _ = events.send(PhoneEvent::Recording {
                            call: call.clone(),
                            state: RecordingState::Failed { message },
                        });
                    }
                    Some(MediaEvent::RecordingNoticeFailed(message)) => {
                        notice = None;
                        let _ = events.send(PhoneEvent::Error {
                            call: Some(call.clone()),
                            message: format!("recording notice not played: {message}"),
                        });
                    }
                    Some(_) => {}
                    None => std::thread::sleep(Duration::from_millis(20)),
                }
            })
            .map_err(|e| format!("cannot start the media event thread: {e}"))?;
        Ok(CallMedia {
            handle,
            srtp: Mutex::new(srtp),
            rtcp_signalled: Mutex::new(rtcp_signalled),
            recording,
            call_id: call_id.to_string(),
            events: events_out,
        })
    }

    fn with<R>(&self, f: impl FnOnce(&MediaHandle) -> R) -> Option<R> {
        self.handle.lock().ok().and_then(|g| g.as_ref().map(f))
    }

    /// A new offer/answer completed: new direction (hold/resume), remote address, or rtcp-mux
    /// turned on or off.
    /// A codec change mid-call is not applied (the engine keeps the first codec).
    pub(crate) fn update(&self, neg: &NegotiatedMedia) {
        let remote = remote_addr(neg);
        match srtp_config(neg) {
            Ok(new) => {
                let mut current = self.srtp.lock().unwrap_or_else(|e| e.into_inner());
                if *current != new {
                    tracing::info!(
                        srtp = new.as_ref().map(|c| c.profile.name()),
                        "SRTP keys changed in a re-negotiation"
                    );
                    match self.with(|h| h.set_srtp(new.as_ref())) {
                        Some(Err(e)) => warn!(error = %e, "new SRTP keys not applied"),
                        _ => *current = new,
                    }
                }
            }
            Err(e) => warn!(error = %e, "re-negotiated SRTP keys unusable"),
        }
        self.with(|h| {
            h.set_direction(direction(neg));
            match remote {
                // A hold offer with c=0.0.0.0 (RFC 2543 style) keeps the old address.
                Ok(addr) if !addr.ip().is_unspecified() && addr != h.remote() => h.set_remote(addr),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "re-negotiated media address unusable"),
            }
            // Only a changed signal moves the RTCP target: a latched one stays otherwise.
            let rtcp = rtcp_target(neg);
            let hold_address = rtcp.is_some_and(|a| a.ip().is_unspecified());
            let mut signalled = self
                .rtcp_signalled
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if rtcp != *signalled && !hold_address {
                tracing::info!(mux = rtcp.is_none(), remote = ?rtcp, "RTCP path re-negotiated");
                h.set_rtcp_remote(rtcp);
                *signalled = rtcp;
            }
        });
    }

    pub(crate) fn set_muted(&self, muted: bool) {
        self.with(|h| h.set_muted(muted));
    }

    /// Moves the call to other sound devices (only a call running on devices moves).
    pub(crate) fn set_devices(&self, input: Option<String>, output: Option<String>) {
        self.with(|h| h.set_devices(input, output));
    }

    pub(crate) fn send_dtmf(&self, digit: char) {
        self.with(|h| {
            if let Err(e) = h.send_dtmf(digit, Duration::from_millis(160)) {
                warn!(error = %e, "DTMF not sent");
            }
        });
    }

    /// Pauses or resumes the call recording; false when the call is not being recorded.
    pub(crate) fn set_recording_paused(&self, paused: bool) -> bool {
        self.with(|h| h.set_recording_paused(paused))
            .unwrap_or(false)
    }

    /// Stops the engine (finalizing the recordings and the sidecar, sending the RTCP BYE) and
    /// returns the call's final quality.
    pub(crate) fn stop(self) -> Option<CallQuality> {
        let taken = self.handle.lock().ok().and_then(|mut g| g.take())?;
        // Read before stopping: a failed recording must not lose the call's figures.
        let quality = CallQuality::from(&taken.stats());
        let (result, summary) = taken.stop_with_recording();
        if let Err(e) = result {
            warn!(error = %e, "media stopped with an error");
        }
        if let Some(rec) = self.recording {
            let file = rec.wav.display().to_string();
            let written = summary.as_ref().is_some_and(|s| s.error.is_none());
            if let Err(e) = rec.finish(summary) {
                warn!(error = %e, "recording sidecar not completed");
            }
            if written {
                let _ = self.events.send(PhoneEvent::Recording {
                    call: self.call_id,
                    state: RecordingState::Stopped { file },
                });
            }
        }
        Some(quality)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use seatline_sdp::{
        create_answer, Direction as SdpDirection, LocalCaps, Origin, SessionDescription,
    };

    /// Our answer to a peer's G.711 offer from `ip:port`, with or without rtcp-mux.
    fn agree(ours: SocketAddr, ip: &str, port: u16, mux: bool) -> NegotiatedMedia {
        let offer = format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n{}",
            if mux { "a=rtcp-mux\r\n" } else { "" }
        );
        let offer = SessionDescription::parse(offer.as_bytes()).unwrap();
        let mut caps = LocalCaps::new(ours.ip(), ours.port());
        caps.rtcp_mux = true;
        caps.rtcp_port = Some(ours.port() + 1);
        let origin = Origin::new(1, 1, ours.ip());
        create_answer(&offer, &caps, &origin, SdpDirection::SendRecv)
            .unwrap()
            .1
    }

    fn ports() -> MediaPorts {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = rtp.local_addr().unwrap();
        MediaPorts { rtp, rtcp, addr }
    }

    /// Re-INVITEs that turn mux on and off or move the peer reach the running engine; a hold
    /// with c=0.0.0.0 keeps the RTCP target.
    #[test]
    fn renegotiation_moves_the_rtcp_path() {
        let p = ports();
        let ours = p.addr;
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let first = agree(ours, "127.0.0.1", 40000, false);
        let media =
            CallMedia::start(p, &first, &PhoneConfig::default(), "call", false, None, tx).unwrap();
        let rtcp = || media.with(|h| h.rtcp_remote()).unwrap();
        assert_eq!(rtcp(), Some("127.0.0.1:40001".parse().unwrap()));
        assert!(media.with(|h| h.local_rtcp_addr().is_some()).unwrap());
        // Mux agreed in a re-INVITE.
        media.update(&agree(ours, "127.0.0.1", 40000, true));
        assert_eq!(rtcp(), None);
        assert!(media.with(|h| h.stats().rtcp_mux).unwrap());
        // Mux dropped, the peer moved.
        media.update(&agree(ours, "127.0.0.2", 41000, false));
        assert_eq!(rtcp(), Some("127.0.0.2:41001".parse().unwrap()));
        assert_eq!(
            media.with(|h| h.remote()).unwrap(),
            "127.0.0.2:41000".parse().unwrap()
        );
        // An RFC 2543 hold (c=0.0.0.0) keeps both targets.
        media.update(&agree(ours, "0.0.0.0", 41000, false));
        assert_eq!(rtcp(), Some("127.0.0.2:41001".parse().unwrap()));
        assert!(media.stop().is_some());
    }
}
