//! What the phone tells its front ends (the app's call-event Channel, `seatline phone`'s JSON
//! lines). Serialized with a `type` tag in snake_case, stable for scripts.

use crate::identity::CallerIdentity;
use serde::Serialize;

/// Registration of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RegistrationState {
    Registering,
    Registered {
        /// Seconds the registrar granted.
        expires: u32,
        /// Our address as the registrar saw it (`received`/`rport`), when it differs.
        public_address: Option<String>,
    },
    /// The registrar refused (wrong password: 403, or 401 again) or could not be reached;
    /// `retry_in_ms` says when the next attempt goes out.
    Failed {
        code: Option<u16>,
        reason: String,
        retry_in_ms: u64,
    },
    Unregistered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Incoming,
    Outgoing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldParty {
    Local,
    Remote,
}

/// A call recording's progress (`PhoneEvent::Recording`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecordingState {
    Started {
        file: String,
        /// What the far end is told: `tone` or `announcement` (`None`: nothing, or the
        /// announcement could not be read).
        notice: Option<String>,
    },
    Paused,
    Resumed,
    /// The call ended and the file (and its sidecar) are complete.
    Stopped {
        file: String,
    },
    /// The recording stopped or never started (disk full, folder not writable); the call
    /// goes on unrecorded.
    Failed {
        message: String,
    },
}

/// Media as agreed for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaInfo {
    pub codec: String,
    pub clock_rate: u32,
    pub payload_type: u8,
    pub ptime: u32,
    pub local_rtp: String,
    pub remote_rtp: String,
    /// RTCP shares the RTP port (RFC 5761); else it uses `local_rtcp` / `remote_rtcp`.
    pub rtcp_mux: bool,
    /// Where our RTCP is sent from and received (the RTP address with mux, else RTP + 1).
    pub local_rtcp: String,
    /// Where the peer's RTCP is as signalled (`a=rtcp` or RTP + 1; the RTP address with mux).
    pub remote_rtcp: String,
    pub direction: String,
    pub telephone_event: bool,
    /// The WAV file this call's received audio is recorded to, when recording.
    pub recording: Option<String>,
    /// The SRTP suite when the media is encrypted (`AES_CM_128_HMAC_SHA1_80`...).
    pub srtp: Option<String>,
}

/// A call's media quality from RTP and RTCP (see `seatline_media::quality`): `loss_percent`
/// and `jitter_ms` are what we measure on the peer's stream, `remote_*` what the peer's
/// reports say about ours, `mos` an E-model estimate (1-4.5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallQuality {
    pub mos: Option<f64>,
    pub loss_percent: f64,
    pub remote_loss_percent: Option<f64>,
    pub jitter_ms: f64,
    pub remote_jitter_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub jitter_buffer_ms: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub packets_lost: i64,
    pub reports_sent: u64,
    pub reports_received: u64,
    /// Audio the playout cut in pauses to bring its delay back down after a burst of jitter,
    /// and audio it added in pauses to wait for late packets (time-stretching), ms over the
    /// call: the agent heard neither as a gap.
    pub playout_cut_ms: u64,
    pub playout_added_ms: u64,
    /// Frames the playout had to conceal (lost or too late), and of those the Opus frames
    /// rebuilt from the next packet's in-band FEC rather than guessed.
    pub concealed_frames: u64,
    pub fec_recovered: u64,
}

fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

impl From<&seatline_media::quality::CallQuality> for CallQuality {
    /// Rounded for the wire: nobody reads a MOS past two decimals.
    fn from(q: &seatline_media::quality::CallQuality) -> Self {
        CallQuality {
            mos: q.mos.map(|m| round(m, 2)),
            loss_percent: round(q.loss_percent, 2),
            remote_loss_percent: q.remote_loss_percent.map(|v| round(v, 2)),
            jitter_ms: round(q.jitter_ms, 1),
            remote_jitter_ms: q.remote_jitter_ms.map(|v| round(v, 1)),
            rtt_ms: q.rtt_ms.map(|v| round(v, 1)),
            jitter_buffer_ms: q.jitter_buffer_ms,
            packets_sent: q.packets_sent,
            packets_received: q.packets_received,
            packets_lost: q.packets_lost,
            reports_sent: q.reports_sent,
            reports_received: q.reports_received,
            playout_cut_ms: 0,
            playout_added_ms: 0,
            concealed_frames: 0,
            fec_recovered: 0,
        }
    }
}

impl From<&seatline_media::engine::MediaStats> for CallQuality {
    /// The call's quality with what the playout's time-stretching did.
    fn from(stats: &seatline_media::engine::MediaStats) -> Self {
        CallQuality {
            playout_cut_ms: stats.stretch.accelerated_ms,
            playout_added_ms: stats.stretch.expanded_ms,
            concealed_frames: stats.jitter.concealed,
            fec_recovered: stats.fec_recovered,
            ..CallQuality::from(&stats.quality)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PhoneEvent {
    /// The phone listens for SIP on these addresses.
    Started {
        sip_addresses: Vec<String>,
    },
    Registration {
        account: String,
        #[serde(flatten)]
        state: RegistrationState,
    },
    /// The local address towards the registrar changed or the machine slept; every account
    /// re-registers now. `reason` says which (for the log and the status line).
    NetworkChanged {
        reason: String,
    },
    /// The route towards the registrar now leaves from another address and the old one is
    /// gone or no call needs it: SIP and RTP sockets moved to `to` and every account
    /// registers its new Contact. `calls_ended` calls were on the vanished address and ended
    /// (reason `network_lost`).
    AddressMoved {
        from: String,
        to: String,
        sip_addresses: Vec<String>,
        calls_ended: usize,
    },
    /// A new call is ringing here. `auto_answer_in_ms` is set when it will be answered by itself.
    IncomingCall {
        call: String,
        account: String,
        caller: CallerIdentity,
        auto_answer_in_ms: Option<u64>,
        /// Another call is already up: this one is call waiting.
        waiting: bool,
        /// The call this one takes over (attended transfer, RFC 3891): answered at once, and
        /// the replaced call ends.
        replaces: Option<String>,
    },
    /// Our INVITE went out.
    Dialing {
        call: String,
        account: String,
        target: String,
    },
    /// The far end rings (180/183).
    RemoteRinging {
        call: String,
        early_media: bool,
    },
    /// Answered; media flows.
    Established {
        call: String,
        direction: CallDirection,
        media: Option<MediaInfo>,
    },
    /// A re-negotiation changed the media (hold, resume, codec change, new address).
    MediaChanged {
        call: String,
        media: MediaInfo,
    },
    Held {
        call: String,
        by: HoldParty,
    },
    Resumed {
        call: String,
        by: HoldParty,
    },
    Muted {
        call: String,
        muted: bool,
    },
    DtmfSent {
        call: String,
        digits: String,
        method: String,
    },
    DtmfReceived {
        call: String,
        digit: char,
        method: String,
    },
    /// The far end asked us to transfer to `target` (REFER); we follow it with a new call.
    TransferRequested {
        call: String,
        target: String,
    },
    /// Progress of a transfer we asked for (from NOTIFY sipfrag), or its final result.
    TransferProgress {
        call: String,
        status: u16,
        done: bool,
    },
    Ended {
        call: String,
        reason: String,
        /// SIP status when the call failed or was refused.
        code: Option<u16>,
        duration_ms: Option<u64>,
        /// The media quality over the whole call, when media ran.
        quality: Option<CallQuality>,
    },
    /// The live media quality of an established call, about every 2 s.
    Quality {
        call: String,
        #[serde(flatten)]
        quality: CallQuality,
    },
    /// The call recording started, paused (card payment), resumed, stopped or failed.
    Recording {
        call: String,
        #[serde(flatten)]
        state: RecordingState,
    },
    /// A chosen sound device was not found, so the system default is used instead (an
    /// unplugged headset, a stale id in the settings). `device` says which role: `input`,
    /// `output` (a call's), `ring` or `call_waiting`; `wanted` is the id that was asked for.
    DeviceFallback {
        call: Option<String>,
        device: String,
        wanted: String,
        message: String,
    },
    /// Something failed that the agent should know about (not a call end).
    Error {
        call: Option<String>,
        message: String,
    },
}

impl PhoneEvent {
    /// The call this event is about, if any.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            PhoneEvent::IncomingCall { call, .. }
            | PhoneEvent::Dialing { call, .. }
            | PhoneEvent::RemoteRinging { call, .. }
            | PhoneEvent::Established { call, .. }
            | PhoneEvent::MediaChanged { call, .. }
            | PhoneEvent::Held { call, .. }
            | PhoneEvent::Resumed { call, .. }
            | PhoneEvent::Muted { call, .. }
            | PhoneEvent::DtmfSent { call, .. }
            | PhoneEvent::DtmfReceived { call, .. }
            | PhoneEvent::TransferRequested { call, .. }
            | PhoneEvent::TransferProgress { call, .. }
            | PhoneEvent::Ended { call, .. }
            | PhoneEvent::Quality { call, .. } => Some(call),
            PhoneEvent::Recording { call, .. } => Some(call),
            PhoneEvent::Error { call, .. } | PhoneEvent::DeviceFallback { call, .. } => {
                call.as_deref()
            }
            PhoneEvent::Started { .. }
            | PhoneEvent::Registration { .. }
            | PhoneEvent::NetworkChanged { .. }
            | PhoneEvent::AddressMoved { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn json_shape_is_stable() {
        let e = PhoneEvent::Registration {
            account: "main".into(),
            state: RegistrationState::Registered {
                expires: 300,
                public_address: None,
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "registration");
        assert_eq!(v["state"], "registered");
        assert_eq!(v["expires"], 300);
        let d = PhoneEvent::DtmfReceived {
            call: "c1".into(),
            digit: '#',
            method: "rfc4733".into(),
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["type"], "dtmf_received");
        assert_eq!(v["digit"], "#");
        assert_eq!(d.call_id(), Some("c1"));
        let n = PhoneEvent::NetworkChanged {
            reason: "local address changed".into(),
        };
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["type"], "network_changed");
        assert_eq!(v["reason"], "local address changed");
        assert_eq!(n.call_id(), None);
        let stats = seatline_media::engine::MediaStats {
            quality: seatline_media::quality::CallQuality {
                mos: Some(4.123_456),
                loss_percent: 1.234_5,
                rtt_ms: Some(42.04),
                ..Default::default()
            },
            stretch: seatline_media::playback::StretchStats {
                accelerated: 2,
                accelerated_ms: 140,
                expanded: 3,
                expanded_ms: 60,
                ..Default::default()
            },
            ..Default::default()
        };
        let q = PhoneEvent::Quality {
            call: "c2".into(),
            quality: CallQuality::from(&stats),
        };
        let v = serde_json::to_value(&q).unwrap();
        assert_eq!(v["type"], "quality");
        assert_eq!(v["call"], "c2");
        assert_eq!(v["mos"], 4.12);
        assert_eq!(v["loss_percent"], 1.23);
        assert_eq!(v["rtt_ms"], 42.0);
        assert_eq!(v["remote_loss_percent"], Value::Null);
        assert_eq!(v["playout_cut_ms"], 140);
        assert_eq!(v["playout_added_ms"], 60);
        assert_eq!(q.call_id(), Some("c2"));
        let f = PhoneEvent::DeviceFallback {
            call: Some("c3".into()),
            device: "output".into(),
            wanted: "alsa:hw:CARD=Headset,DEV=0".into(),
            message: "no output device; using the system default".into(),
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["type"], "device_fallback");
        assert_eq!(v["device"], "output");
        assert_eq!(v["wanted"], "alsa:hw:CARD=Headset,DEV=0");
        assert_eq!(f.call_id(), Some("c3"));
    }
}
