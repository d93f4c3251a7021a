//! Seatline's RTP media engine (RTP/AVP, and RTP/SAVP with SDES keys: [`srtp`]).
//!
//! Sans-IO building blocks, each tested without sockets: [`rtp`] packets, [`g711`] and
//! [`opus`] codecs, [`dtmf`] (RFC 4733), an adaptive [`jitter`] buffer, the [`session`]
//! sender/receiver bookkeeping, [`wav`] file devices, [`device`] sound cards (cpal), [`aec`]
//! echo cancellation and [`sim`], the offline call path for quality measurements. [`engine`] runs them on two threads
//! and a UDP socket: the SIP side starts one [`MediaEngine`] per call from the negotiated SDP
//! and steers it through the [`MediaHandle`].
//!
//! ```no_run
//! use seatline_media::{Codec, Direction, MediaConfig, MediaEngine, Sink, Source};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let socket = std::net::UdpSocket::bind("0.0.0.0:40000")?;
//! let mut config = MediaConfig::new(socket, "203.0.113.7:30000".parse()?, Codec::PCMU);
//! config.telephone_event_pt = Some(101);
//! config.source = Source::Wav { path: "prompt.wav".into(), looped: false };
//! config.sink = Sink::Wav("call.wav".into());
//! let media = MediaEngine::start(config)?;
//! media.send_dtmf('5', std::time::Duration::from_millis(100))?;
//! media.set_direction(Direction::SendOnly); // we put the call on hold
//! let stats = media.stop()?;
//! # Ok(()) }
//! ```

pub mod aec;
pub mod cn;
pub mod codec;
pub mod device;
pub mod dtmf;
pub mod engine;
pub mod g711;
pub mod jitter;
pub mod meter;
pub mod notice;
pub mod opus;
pub mod playback;
pub mod plc;
pub mod quality;
pub mod recorder;
pub mod rtcp;
pub mod rtcp_route;
pub mod rtcp_runtime;
pub mod rtp;
pub mod session;
pub mod sim;
pub mod srtp;
pub mod stretch;
pub mod wav;

pub use codec::{Codec, CodecName};
pub use device::{list_devices, AudioDevice, DeviceError};
pub use engine::{
    DeviceStats, Direction, MediaConfig, MediaEngine, MediaError, MediaEvent, MediaHandle,
    MediaStats, Sink, Source, SrtpConfig,
};
pub use notice::RecordingNotice;
