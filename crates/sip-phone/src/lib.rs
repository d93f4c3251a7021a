//! Seatline's SIP user agent.
//!
//! - [`identity`], [`auto_answer`], [`dtmf_info`]: sans-IO rules over SIP headers and bodies
//!   (who is calling, whether to answer by itself, DTMF in INFO), tested and fuzzed alone.
//! - [`ua`]: the running phone on `rsipstack` (transactions, dialogs, digest auth, transports)
//!   with our SDP offer/answer (`seatline-sdp`) and media (`seatline-media`).
//! - [`events`]: what front ends receive (JSON lines in `seatline phone`, a Channel in the app).

pub mod auto_answer;
pub mod compat;
pub mod config;
pub mod dtmf_info;
pub mod events;
pub mod feature_code;
pub mod guard;
pub mod identity;
pub mod keepalive;
mod media;
pub mod netwatch;
mod recording;
mod refer_notify;
pub mod replaces;
pub mod tls;
pub mod ua;

pub use config::{AccountConfig, AudioIo, MediaEncryption, PhoneConfig, SipTransport};
pub use events::{CallQuality, MediaInfo, PhoneEvent, RecordingState, RegistrationState};
pub use feature_code::FeatureCodeOutcome;
pub use seatline_media::RecordingNotice;
pub use ua::{Phone, PhoneHandle};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PhoneError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("SIP transport: {0}")]
    Transport(String),
    #[error("SIP: {0}")]
    Sip(String),
    #[error("media: {0}")]
    Media(String),
    #[error("no call {0:?}")]
    NoSuchCall(String),
    #[error("not now: {0}")]
    WrongState(String),
    #[error("the phone has stopped")]
    Stopped,
}
