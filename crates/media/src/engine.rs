//! The runtime: two threads around a UDP socket.
//!
//! * The clock thread stands in for a sound card: it wakes on absolute 20 ms deadlines from one
//!   `Instant` (no drift from accumulated sleep overshoot), reads a microphone frame, encodes and
//!   sends it, then pulls one frame from the jitter buffer, decodes and writes it to the sink.
//! * With a sound device the device's clock paces the call instead of a timer: a microphone
//!   (`Source::Device`) sends a frame as soon as its callback has captured 20 ms; a speaker
//!   alone (`Sink::Device`) asks for the next frame when its queue runs low. Capture and
//!   playback clocks drift apart; the playback queue is held near a small target by dropping
//!   or inserting a frame (`DeviceStats`). A failing device becomes a `MediaEvent::DeviceError`
//!   and the call goes on with silence, paced by the timer again. With a microphone and a
//!   speaker, the echo canceller (`MediaConfig::echo_cancellation`, on by default) cleans each
//!   captured frame against what was played.
//! * The receive thread reads the socket, demultiplexes RTP/RTCP, latches the remote address to
//!   the peer's real source (symmetric RTP, for peers behind NAT) and feeds the jitter buffer and
//!   the DTMF receiver.
//! * With [`MediaConfig::rtcp_socket`] (RTP port + 1, for peers without rtcp-mux) a third
//!   thread reads the peer's RTCP there (SRTCP on encrypted calls) and the receive thread sends
//!   our reports from it (symmetric RTCP, RFC 4961); see [`crate::rtcp_route`].
//! * With [`MediaConfig::srtp`] every RTP packet is protected with our key just before it is
//!   sent, and every datagram is unprotected with the peer's key before anything else looks at
//!   it (latching included): what fails (bad tag, replay, garbage) is dropped and counted in
//!   `MediaStats::srtp_rejected`.

use crate::aec::EchoCanceller;
use crate::codec::{AudioDecoder, AudioEncoder, Codec, CodecError, CodecName};
use crate::device::{
    open_or_default, DeviceCounters, DeviceError, DeviceFallback, InputDevice, OutputDevice,
};
use crate::dtmf::{event_code, DtmfReceiver, DtmfSender};
use crate::jitter::{FrameKind, JitterBuffer, JitterConfig, JitterStats, Playout};
use crate::notice::{NoticePlayer, RecordingNotice};
use crate::opus::{planned_loss, OpusSettings};
use crate::playback::{PacketSource, Playback, StretchStats};
use crate::quality::CallQuality;
use crate::recorder::{RecordingControl, RecordingSummary, RecordingTap, RecordingWriter};
use crate::rtcp_route::{check_rtcp_datagram, RtcpPort, RtcpPortError, RtcpPortStats, RtcpRoute};
use crate::rtcp_runtime::{
    pack_last_sent, unpack_last_sent, QualityInputs, RtcpRuntime, SendCounters,
};
use crate::rtp::{classify, PacketKind, RtpPacket};
use crate::session::{ReceiveStats, RtpReceiver, RtpSender};
use crate::srtp::{SrtpContext, SrtpError, SrtpKey, SrtpProfile};
use crate::wav::{WavError, WavSink, WavSource};
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum MediaError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Wav(#[from] WavError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("ptime {0:?} is not a whole number of milliseconds between 10 and 120")]
    BadPtime(Duration),
    #[error("{0:?} is not a DTMF digit")]
    NotADigit(char),
    #[error("no telephone-event payload type was negotiated")]
    NoTelephoneEvent,
    #[error("a media thread panicked")]
    ThreadPanicked,
    #[error("sound device: {0}")]
    Device(#[from] DeviceError),
    #[error("SRTP: {0}")]
    Srtp(#[from] SrtpError),
}

/// SDP media direction (RFC 3264 / RFC 6337), from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// Where the "microphone" audio comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A WAV file (any rate, any channel count); `looped` repeats it (music on hold).
    Wav {
        path: PathBuf,
        looped: bool,
    },
    Silence,
    /// A sound card input (see [`crate::device::list_devices`]); `None` is the system default.
    /// Its clock paces sending.
    Device {
        id: Option<String>,
    },
}

/// Where played audio goes.
#[derive(Debug, Clone)]
pub enum Sink {
    /// A mono 16-bit WAV at the codec's clock rate, one frame per tick (silence included), so
    /// the file's timeline is the call's timeline.
    Wav(PathBuf),
    Discard,
    /// A sound card output (see [`crate::device::list_devices`]); `None` is the system default.
    Device {
        id: Option<String>,
    },
}

/// Everything the engine needs from the SIP/SDP side.
#[derive(Debug)]
pub struct MediaConfig {
    /// Bound to the address/port advertised in our SDP.
    pub socket: UdpSocket,
    /// The peer's `c=`/`m=` address; replaced by the real source once the peer sends (latching).
    pub remote: SocketAddr,
    pub codec: Codec,
    /// The negotiated `telephone-event` payload type (at the codec's clock rate), if any.
    pub telephone_event_pt: Option<u8>,
    /// The negotiated comfort-noise payload type (`CN/8000`, RFC 3389; 13), if any: received
    /// CN packets count as received (not loss) and fill the peer's silence with noise.
    pub comfort_noise_pt: Option<u8>,
    pub ptime: Duration,
    pub direction: Direction,
    pub source: Source,
    pub sink: Sink,
    pub jitter_min: Duration,
    pub jitter_max: Duration,
    /// Opus encoder settings (bitrate: lower it to the peer's `maxaveragebitrate`); the
    /// frame length follows `ptime`.
    pub opus: OpusSettings,
    /// Echo cancellation (AEC3 with noise suppression, see [`crate::aec`]) on the microphone,
    /// with what the speaker plays as the reference. Only acts when both are sound devices.
    pub echo_cancellation: bool,
    /// How often a `MediaEvent::Stats` is emitted.
    pub stats_interval: Duration,
    /// SRTP keys agreed in SDP (SDES); `None` for plain RTP.
    pub srtp: Option<SrtpConfig>,
    /// Where RTCP goes when rtcp-mux was not agreed (the peer's RTCP port); `None`: rtcp-mux,
    /// to the RTP address from the RTP socket.
    pub rtcp_remote: Option<SocketAddr>,
    /// Our RTCP socket (RTP port + 1, advertised in SDP) for peers without rtcp-mux: the peer's
    /// reports are read there, and ours leave from it while `rtcp_remote` is set. Idle (read,
    /// never sent from) while mux is agreed, so a re-INVITE can turn mux off. `None`: RTCP
    /// only on the RTP socket.
    pub rtcp_socket: Option<UdpSocket>,
    /// Call recording: both sides to this stereo WAV (see [`crate::recorder`]), whatever the
    /// sink is. A file that cannot be written is reported and the call runs unrecorded.
    pub recording: Option<PathBuf>,
    /// What the far end hears while the call is recorded (see [`crate::notice`]); only played
    /// when the recording started.
    pub recording_notice: RecordingNotice,
    /// Start muted (the agent muted before the media started): no frame of the microphone
    /// leaves before `set_muted` could run.
    pub muted: bool,
}

/// One call's SRTP: our key protects what we send, the peer's unprotects what we receive.
/// `Debug` shows no key bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpConfig {
    pub profile: SrtpProfile,
    pub local: SrtpKey,
    pub remote: SrtpKey,
}

impl SrtpConfig {
    fn contexts(&self) -> Result<(SrtpContext, SrtpContext), SrtpError> {
        Ok((
            SrtpContext::new(self.profile, &self.local)?,
            SrtpContext::new(self.profile, &self.remote)?,
        ))
    }
}

impl MediaConfig {
    /// Defaults: 20 ms, sendrecv, silence in, discard out, telephone-event 101, 40-300 ms jitter
    /// buffer, stats every 5 s.
    pub fn new(socket: UdpSocket, remote: SocketAddr, codec: Codec) -> Self {
        MediaConfig {
            socket,
            remote,
            codec,
            telephone_event_pt: Some(101),
            comfort_noise_pt: None,
            ptime: Duration::from_millis(20),
            direction: Direction::SendRecv,
            source: Source::Silence,
            sink: Sink::Discard,
            jitter_min: Duration::from_millis(40),
            jitter_max: Duration::from_millis(300),
            opus: OpusSettings::default(),
            echo_cancellation: true,
            stats_interval: Duration::from_secs(5),
            srtp: None,
            rtcp_remote: None,
            rtcp_socket: None,
            recording: None,
            recording_notice: RecordingNotice::Off,
            muted: false,
        }
    }
}

// Stats events come every few seconds; boxing them would change the API for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// The first valid RTP packet from the peer, and where it came from (now the send target).
    FirstPacket {
        from: SocketAddr,
    },
    DtmfReceived(char),
    Stats(MediaStats),
    /// A sound device could not be opened or failed mid-call (unplugged...): the call goes on
    /// with silence in its place. The text is the `MediaError` message.
    DeviceError(String),
    /// A chosen sound device was not found: the system default plays or captures instead.
    DeviceFallback(DeviceFallback),
    /// The call recording (`MediaConfig::recording`) started writing to this file.
    RecordingStarted(PathBuf),
    /// The call recording stopped on an error (disk full...); the call goes on unrecorded.
    RecordingFailed(String),
    /// The recording notice cannot be played (an unreadable announcement file); the call is
    /// recorded without it.
    RecordingNoticeFailed(String),
}

/// Sound-device counters (all zero without devices).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceStats {
    /// Native-rate samples lost because the capture ring was full (engine starved).
    pub capture_overflow_samples: u64,
    /// Playback callbacks that found the queue short and played silence.
    pub playout_underruns: u64,
    /// Over/underruns the audio backend itself reported (ALSA xruns).
    pub xruns: u64,
    /// Frames dropped / inserted to keep the playback queue at its target when the capture and
    /// playback clocks drift apart.
    pub frames_dropped: u64,
    pub frames_inserted: u64,
    /// Audio queued for the playback callback, in ms, at the last tick.
    pub playout_queue_ms: u64,
    /// Devices reopened after a failure (stream error or stall).
    pub reopens: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaStats {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub dtmf_sent: u64,
    pub dtmf_received: u64,
    pub received: ReceiveStats,
    pub jitter: JitterStats,
    /// Lost Opus frames rebuilt from the next packet's in-band FEC (it carried LBRR data);
    /// `jitter.fec` counts the attempts.
    pub fec_recovered: u64,
    /// Frames that carried the recording notice to the far end.
    pub notice_frames: u64,
    /// The loss (%) our Opus encoder plans in-band FEC for: the configured floor, raised to
    /// what the peer's RTCP reports say it loses of our stream. 0 for G.711 or FEC off.
    pub opus_planned_loss: u32,
    /// Periods cut from or repeated in the played audio to move the delay to its target.
    pub stretch: StretchStats,
    pub target_delay_ms: u64,
    pub rtcp_received: u64,
    /// Datagrams that were neither valid RTP nor RTCP, or carried an unknown payload type.
    pub discarded: u64,
    /// SRTP/SRTCP datagrams dropped: authentication failed, replayed, too old or malformed.
    pub srtp_rejected: u64,
    /// Whether the call's media is encrypted (SRTP).
    pub encrypted: bool,
    /// Whether RTCP shares the RTP port now (rtcp-mux agreed).
    pub rtcp_mux: bool,
    /// What arrived on our RTCP socket (peers without rtcp-mux).
    pub rtcp_port: RtcpPortStats,
    pub device: DeviceStats,
    /// Loss both ways, jitter, RTT and estimated MOS, from RTP and RTCP (see [`crate::quality`]).
    pub quality: CallQuality,
}

struct Control {
    remote: SocketAddr,
    latched: bool,
    direction: Direction,
    muted: bool,
    dtmf: VecDeque<(char, Duration)>,
    rtcp: RtcpRoute,
    /// Other sound devices asked for mid-call (input, output): see `MediaHandle::set_devices`.
    switch: Option<(Option<String>, Option<String>)>,
}

struct RxState {
    receiver: RtpReceiver,
    dtmf: DtmfReceiver,
    dtmf_received: u64,
    rtcp: u64,
    discarded: u64,
}

struct Shared {
    stop: AtomicBool,
    control: Mutex<Control>,
    jitter: Mutex<JitterBuffer>,
    rx: Mutex<RxState>,
    packets_sent: AtomicU64,
    bytes_sent: AtomicU64,
    dtmf_sent: AtomicU64,
    fec_recovered: AtomicU64,
    /// Frames that carried the recording notice.
    notice_frames: AtomicU64,
    /// The loss the peer's last report gave for our stream, in hundredths of a percent
    /// (`u32::MAX`: no report yet); the clock thread tunes the Opus FEC to it.
    peer_loss: AtomicU32,
    /// The loss the Opus encoder plans FEC for now (0: none, or not Opus).
    planned_loss: AtomicU32,
    /// Written by the clock thread when the playout's time-stretching changed.
    stretch: Mutex<StretchStats>,
    device: Mutex<DeviceStats>,
    epoch: Instant,
    /// Protects what the clock thread sends (our key).
    srtp_tx: Mutex<Option<SrtpContext>>,
    /// Unprotects what the receive thread reads (the peer's key).
    srtp_rx: Mutex<Option<SrtpContext>>,
    srtp_rejected: AtomicU64,
    /// RTCP reports and the quality snapshot; only the receive thread and `stats` take it.
    rtcp: Mutex<RtcpRuntime>,
    /// The last RTP packet's timestamp and send time ([`pack_last_sent`]), for the SR.
    last_sent: AtomicU64,
    /// Only the RTCP thread and `stats` take it.
    rtcp_port: Mutex<RtcpPortStats>,
}

/// A poisoned lock only means another media thread panicked; its data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn stats(&self) -> MediaStats {
        let jb = lock(&self.jitter);
        let rx = lock(&self.rx);
        let jitter = jb.stats();
        let mut received = rx.receiver.stats();
        received.late = jitter.late;
        received.duplicates = jitter.duplicates;
        let packets_sent = self.packets_sent.load(Ordering::Relaxed);
        let reception = rx.receiver.reception();
        let quality = lock(&self.rtcp).quality(QualityInputs {
            reception: reception.as_ref(),
            lost: received.lost,
            late: jitter.late,
            jitter_ms: received.jitter_ms,
            jitter_buffer: jb.target_delay(),
            packets_sent,
            packets_received: received.packets,
        });
        MediaStats {
            packets_sent,
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            dtmf_sent: self.dtmf_sent.load(Ordering::Relaxed),
            fec_recovered: self.fec_recovered.load(Ordering::Relaxed),
            notice_frames: self.notice_frames.load(Ordering::Relaxed),
            opus_planned_loss: self.planned_loss.load(Ordering::Relaxed),
            stretch: *lock(&self.stretch),
            dtmf_received: rx.dtmf_received,
            received,
            jitter,
            target_delay_ms: jb.target_delay().as_millis() as u64,
            rtcp_received: rx.rtcp,
            discarded: rx.discarded,
            srtp_rejected: self.srtp_rejected.load(Ordering::Relaxed),
            encrypted: lock(&self.srtp_rx).is_some(),
            rtcp_mux: lock(&self.control).rtcp.is_mux(),
            rtcp_port: lock(&self.rtcp_port).clone(),
            device: lock(&self.device).clone(),
            quality,
        }
    }

    fn send_counters(&self) -> SendCounters {
        SendCounters {
            packets: self.packets_sent.load(Ordering::Relaxed),
            octets: self.bytes_sent.load(Ordering::Relaxed),
            last: unpack_last_sent(self.last_sent.load(Ordering::Relaxed)),
        }
    }
}

/// A running engine. Dropping it stops the threads (but `stop` reports errors and stats).
pub struct MediaEngine;

impl MediaEngine {
    /// Opens the source and sink, then starts the clock and receive threads.
    pub fn start(config: MediaConfig) -> Result<MediaHandle, MediaError> {
        let ptime_ms = config.ptime.as_millis();
        if !config.ptime.subsec_nanos().is_multiple_of(1_000_000) || !(10..=120).contains(&ptime_ms)
        {
            return Err(MediaError::BadPtime(config.ptime));
        }
        let rate = config.codec.clock_rate;
        let frame_samples = (u128::from(rate) * ptime_ms / 1000) as usize;
        // A device that cannot be opened does not fail the call: it is reported as an event
        // and replaced by silence.
        let mut device_errors = Vec::new();
        let device_failed = |events: &mut Vec<MediaEvent>, e: DeviceError| {
            tracing::warn!(error = %e, "sound device unavailable; using silence");
            events.push(MediaEvent::DeviceError(MediaError::from(e).to_string()));
        };
        let (source, mic) = match &config.source {
            Source::Wav { path, looped } => (Some(WavSource::open(path, rate, *looped)?), None),
            Source::Silence => (None, None),
            Source::Device { id } => {
                match open_or_default(id.as_deref(), rate, InputDevice::open) {
                    Ok((d, fallback)) => {
                        device_errors.extend(fallback.map(MediaEvent::DeviceFallback));
                        (None, Some(d))
                    }
                    Err(e) => {
                        device_failed(&mut device_errors, e);
                        (None, None)
                    }
                }
            }
        };
        let (sink, speaker) = match &config.sink {
            Sink::Wav(path) => (Some(WavSink::create(path, rate)?), None),
            Sink::Discard => (None, None),
            Sink::Device { id } => match open_or_default(id.as_deref(), rate, OutputDevice::open) {
                Ok((d, fallback)) => {
                    device_errors.extend(fallback.map(MediaEvent::DeviceFallback));
                    (None, Some(d))
                }
                Err(e) => {
                    device_failed(&mut device_errors, e);
                    (None, None)
                }
            },
        };
        // Open speakers echo the far end back into the microphone (home agents without headsets).
        let aec = if config.echo_cancellation && mic.is_some() && speaker.is_some() {
            match EchoCanceller::new(rate) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!(error = %e, "echo cancellation unavailable");
                    None
                }
            }
        } else {
            None
        };
        let encoder = AudioEncoder::with_opus_settings(config.codec, frame_samples, config.opus)?;
        let decoder = AudioDecoder::new(config.codec, frame_samples)?;
        let playback = Playback::new(decoder, config.codec.name, rate, frame_samples);
        let local = config.socket.local_addr()?;
        let stale = discard_queued(&config.socket)?;
        if stale > 0 {
            tracing::debug!(
                stale,
                "media: datagrams queued before the call's media started, discarded"
            );
        }
        // The timeout lets the receive thread notice `stop` without a wake-up packet.
        config
            .socket
            .set_read_timeout(Some(Duration::from_millis(50)))?;
        let rx_socket = config.socket.try_clone()?;
        // The RTCP thread reads it; the receive thread sends our reports from a clone.
        let rtcp_sockets = match &config.rtcp_socket {
            Some(s) => {
                s.set_read_timeout(Some(Duration::from_millis(100)))?;
                Some((s.try_clone()?, s.local_addr()?))
            }
            None => None,
        };
        let (srtp_tx, srtp_rx) = match &config.srtp {
            Some(c) => {
                let (tx, rx) = c.contexts()?;
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };

        let sender = RtpSender::new(config.codec.payload_type, frame_samples as u32);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            control: Mutex::new(Control {
                remote: config.remote,
                latched: false,
                direction: config.direction,
                muted: config.muted,
                dtmf: VecDeque::new(),
                rtcp: RtcpRoute::new(config.rtcp_remote, config.rtcp_socket.is_some()),
                switch: None,
            }),
            jitter: Mutex::new(JitterBuffer::new(JitterConfig {
                clock_rate: rate,
                frame: config.ptime,
                min_delay: config.jitter_min,
                max_delay: config.jitter_max.max(config.jitter_min),
                caller_shrinks: true,
            })),
            rx: Mutex::new(RxState {
                receiver: RtpReceiver::new(rate),
                dtmf: DtmfReceiver::new(),
                dtmf_received: 0,
                rtcp: 0,
                discarded: 0,
            }),
            packets_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            dtmf_sent: AtomicU64::new(0),
            fec_recovered: AtomicU64::new(0),
            notice_frames: AtomicU64::new(0),
            peer_loss: AtomicU32::new(u32::MAX),
            planned_loss: AtomicU32::new(if config.codec.name == CodecName::Opus {
                config.opus.expected_loss_percent.max(0) as u32
            } else {
                0
            }),
            stretch: Mutex::new(StretchStats::default()),
            device: Mutex::new(DeviceStats::default()),
            epoch: Instant::now(),
            srtp_tx: Mutex::new(srtp_tx),
            srtp_rx: Mutex::new(srtp_rx),
            srtp_rejected: AtomicU64::new(0),
            rtcp: Mutex::new(RtcpRuntime::new(
                sender.ssrc(),
                config.codec,
                config.ptime,
                Duration::ZERO,
            )),
            last_sent: AtomicU64::new(0),
            rtcp_port: Mutex::new(RtcpPortStats::default()),
        });
        let (events_tx, events) = channel();
        for e in device_errors {
            let _ = events_tx.send(e);
        }
        let codec = config.codec;
        let te_pt = config.telephone_event_pt;
        let payload_types = PayloadTypes {
            audio: codec.payload_type,
            telephone_event: te_pt,
            comfort_noise: config.comfort_noise_pt,
        };
        // Loaded before the recording starts, so a broken file is reported before
        // `RecordingStarted` (the phone then says no notice was given).
        let notice = match config
            .recording
            .as_ref()
            .map(|_| NoticePlayer::new(&config.recording_notice, rate))
        {
            Some(Ok(player)) => player,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "recording notice not played");
                let _ = events_tx.send(MediaEvent::RecordingNoticeFailed(e.to_string()));
                None
            }
            None => None,
        };
        let (tap, recorder) = match &config.recording {
            Some(path) => match crate::recorder::start_or_report(path, rate, &events_tx) {
                Some((tap, writer)) => (Some(tap), Some(writer)),
                None => (None, None),
            },
            None => (None, None),
        };
        let recording_control = recorder.as_ref().map(|w| Arc::clone(w.control()));
        // Only a recording that started is announced.
        let notice = notice.filter(|_| tap.is_some());

        let rtcp_thread = match (config.rtcp_socket, &rtcp_sockets) {
            (Some(socket), Some(_)) => {
                let shared = Arc::clone(&shared);
                Some(
                    std::thread::Builder::new()
                        .name("media-rtcp".into())
                        .spawn(move || rtcp_receive_loop(&socket, &shared))?,
                )
            }
            _ => None,
        };
        let local_rtcp = rtcp_sockets.as_ref().map(|(_, a)| *a);
        let rx_thread = {
            let rx_shared = Arc::clone(&shared);
            let events_tx = events_tx.clone();
            let rtcp_socket = rtcp_sockets.map(|(s, _)| s);
            match std::thread::Builder::new()
                .name("media-rx".into())
                .spawn(move || {
                    receive_loop(
                        &rx_socket,
                        rtcp_socket.as_ref(),
                        &rx_shared,
                        codec,
                        payload_types,
                        &events_tx,
                    )
                }) {
                Ok(t) => t,
                Err(e) => {
                    shared.stop.store(true, Ordering::Relaxed);
                    if let Some(t) = rtcp_thread {
                        let _ = t.join();
                    }
                    return Err(e.into());
                }
            }
        };
        let clock = ClockThread {
            socket: config.socket,
            shared: Arc::clone(&shared),
            events: events_tx,
            codec,
            te_pt,
            ptime: config.ptime,
            frame_samples,
            source,
            sink,
            mic,
            speaker,
            mic_device: matches!(config.source, Source::Device { .. }),
            speaker_device: matches!(config.sink, Sink::Device { .. }),
            mic_id: match &config.source {
                Source::Device { id } => id.clone(),
                _ => None,
            },
            speaker_id: match &config.sink {
                Sink::Device { id } => id.clone(),
                _ => None,
            },
            device_reopens: 0,
            retired: DeviceStats::default(),
            playout_target: 0,
            playout_underruns: 0,
            playout_calm_since: Instant::now(),
            drift: DriftControl::new(),
            aec,
            encoder,
            loss_floor: config.opus.expected_loss_percent,
            tuned_to: u32::MAX,
            playback,
            last_stretch: StretchStats::default(),
            sender,
            stats_interval: config.stats_interval,
            recording_error: None,
            tap,
            notice,
        };
        let clock_thread = match std::thread::Builder::new()
            .name("media-clock".into())
            .spawn(move || clock.run())
        {
            Ok(t) => t,
            Err(e) => {
                shared.stop.store(true, Ordering::Relaxed);
                let _ = rx_thread.join();
                if let Some(t) = rtcp_thread {
                    let _ = t.join();
                }
                return Err(e.into());
            }
        };
        tracing::info!(
            %local,
            remote = %config.remote,
            rtcp_local = ?local_rtcp,
            rtcp_remote = ?config.rtcp_remote,
            ?codec,
            srtp = config.srtp.as_ref().map(|c| c.profile.name()),
            "media engine started"
        );
        Ok(MediaHandle {
            shared,
            events,
            local,
            local_rtcp,
            clock: Some(clock_thread),
            rx: Some(rx_thread),
            rtcp: rtcp_thread,
            recorder,
            recording_control,
        })
    }
}

/// Control of a running engine; the SIP side keeps one per call.
pub struct MediaHandle {
    shared: Arc<Shared>,
    events: Receiver<MediaEvent>,
    local: SocketAddr,
    local_rtcp: Option<SocketAddr>,
    clock: Option<JoinHandle<Result<(), MediaError>>>,
    rx: Option<JoinHandle<()>>,
    rtcp: Option<JoinHandle<()>>,
    recorder: Option<RecordingWriter>,
    recording_control: Option<Arc<RecordingControl>>,
}

impl MediaHandle {
    /// Pauses (card payments) or resumes the call recording: a paused span is recorded as
    /// silence of its length. Returns false when the call is not being recorded (none asked
    /// for, or it failed).
    pub fn set_recording_paused(&self, paused: bool) -> bool {
        match &self.recording_control {
            Some(c) if !c.has_failed() => {
                c.set_paused(paused);
                true
            }
            _ => false,
        }
    }

    /// Whether the recording is paused (`None`: not recording).
    pub fn recording_paused(&self) -> Option<bool> {
        self.recording_control
            .as_ref()
            .filter(|c| !c.has_failed())
            .map(|c| c.is_paused())
    }

    /// Like [`MediaHandle::stop`], and also waits for the recording to be finalized and says
    /// what it holds (`None`: no recording was asked for or it never started).
    pub fn stop_with_recording(
        mut self,
    ) -> (Result<MediaStats, MediaError>, Option<RecordingSummary>) {
        let result = self.join().map(|()| self.shared.stats());
        let summary = self.recorder.take().and_then(|r| r.finish());
        (result, summary)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A new remote address (re-INVITE). Latching starts over from the next packet.
    pub fn set_remote(&self, addr: SocketAddr) {
        let mut c = lock(&self.shared.control);
        c.remote = addr;
        c.latched = false;
    }

    /// Our RTCP socket's address, when the engine has one.
    pub fn local_rtcp_addr(&self) -> Option<SocketAddr> {
        self.local_rtcp
    }

    /// A re-negotiation changed RTCP: `None` when rtcp-mux is agreed now (reports go with RTP),
    /// else the peer's RTCP address. Latching starts over.
    pub fn set_rtcp_remote(&self, addr: Option<SocketAddr>) {
        lock(&self.shared.control).rtcp.set_remote(addr);
    }

    /// Where RTCP goes without mux (after latching, the peer's real source); `None` with mux.
    pub fn rtcp_remote(&self) -> Option<SocketAddr> {
        lock(&self.shared.control).rtcp.remote()
    }

    /// The address packets go to now (after latching, the peer's real source).
    pub fn remote(&self) -> SocketAddr {
        lock(&self.shared.control).remote
    }

    /// Hold and resume: recvonly/inactive stop sending; sendonly/inactive stop playing (and
    /// drop what arrives), and playout starts afresh when receiving resumes.
    pub fn set_direction(&self, direction: Direction) {
        lock(&self.shared.control).direction = direction;
    }

    /// While muted, encoded silence is sent (keeps the peer's jitter buffer and NAT bindings).
    /// New SRTP keys after a re-negotiation (or `None`: plain RTP from now on). Each direction's
    /// state starts afresh.
    pub fn set_srtp(&self, srtp: Option<&SrtpConfig>) -> Result<(), MediaError> {
        let (tx, rx) = match srtp {
            Some(c) => {
                let (tx, rx) = c.contexts()?;
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        *lock(&self.shared.srtp_tx) = tx;
        *lock(&self.shared.srtp_rx) = rx;
        Ok(())
    }

    pub fn set_muted(&self, muted: bool) {
        lock(&self.shared.control).muted = muted;
    }

    /// Moves a call that runs on sound devices to other ones (`None`: the system default), as
    /// when the agent picks another headset mid-call: the clock thread closes the old devices
    /// and opens these between two frames (a gone one gives way to the default, with a
    /// `DeviceFallback` event). A source or sink that is a file or silence is left alone.
    pub fn set_devices(&self, input: Option<String>, output: Option<String>) {
        lock(&self.shared.control).switch = Some((input, output));
    }

    /// Queues an RFC 4733 digit (0-9, *, #, A-D); digits go out one after another.
    pub fn send_dtmf(&self, digit: char, duration: Duration) -> Result<(), MediaError> {
        if event_code(digit).is_none() {
            return Err(MediaError::NotADigit(digit));
        }
        let mut c = lock(&self.shared.control);
        c.dtmf.push_back((digit, duration));
        Ok(())
    }

    pub fn events(&self) -> &Receiver<MediaEvent> {
        &self.events
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MediaStats {
        self.shared.stats()
    }

    /// Stops both threads, finalizes the recording and returns the final statistics.
    pub fn stop(mut self) -> Result<MediaStats, MediaError> {
        self.join()?;
        Ok(self.shared.stats())
    }

    fn join(&mut self) -> Result<(), MediaError> {
        self.shared.stop.store(true, Ordering::Relaxed);
        let clock = self.clock.take().map(|t| t.join());
        let rx = self.rx.take().map(|t| t.join());
        let rtcp = self.rtcp.take().map(|t| t.join());
        if rx.is_some_and(|r| r.is_err()) || rtcp.is_some_and(|r| r.is_err()) {
            return Err(MediaError::ThreadPanicked);
        }
        match clock {
            Some(Err(_)) => Err(MediaError::ThreadPanicked),
            Some(Ok(r)) => r,
            None => Ok(()),
        }
    }
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        if let Err(e) = self.join() {
            tracing::warn!(error = %e, "media engine stopped with an error");
        }
    }
}

/// The payload types the receive thread accepts.
#[derive(Debug, Clone, Copy)]
struct PayloadTypes {
    audio: u8,
    telephone_event: Option<u8>,
    comfort_noise: Option<u8>,
}

impl PayloadTypes {
    fn accepts(&self, pt: u8) -> bool {
        pt == self.audio || Some(pt) == self.telephone_event || Some(pt) == self.comfort_noise
    }
}

/// What a received media packet is to the jitter buffer: CN by its payload type, Opus DTX by
/// its size (libopus's DTX frames are 2 bytes or less), audio otherwise.
fn frame_kind(codec: Codec, pts: PayloadTypes, pt: u8, payload: &[u8]) -> FrameKind {
    if Some(pt) == pts.comfort_noise {
        FrameKind::ComfortNoise
    } else if codec.name == CodecName::Opus && payload.len() <= 2 {
        FrameKind::Dtx
    } else {
        FrameKind::Audio
    }
}

fn receive_loop(
    socket: &UdpSocket,
    rtcp_socket: Option<&UdpSocket>,
    shared: &Shared,
    codec: Codec,
    pts: PayloadTypes,
    events: &Sender<MediaEvent>,
) {
    let mut buf = [0u8; 2048];
    while !shared.stop.load(Ordering::Relaxed) {
        // RTCP goes out from here, off the audio clock (at most a read timeout late).
        if lock(&shared.rtcp).due(shared.epoch.elapsed()) {
            send_rtcp(socket, rtcp_socket, shared, false);
        }
        let Some((n, from)) = recv_datagram(socket, &mut buf, "media") else {
            continue;
        };
        let arrival = shared.epoch.elapsed();
        let mut plain = None;
        if let Some(srtp) = lock(&shared.srtp_rx).as_mut() {
            // RTCP packet types 192-223 in the second byte (RFC 5761 demultiplexing).
            let rtcp = matches!(buf.get(1), Some(192..=223));
            let result = if rtcp {
                srtp.unprotect_rtcp(&buf[..n])
            } else {
                srtp.unprotect_rtp(&buf[..n])
            };
            match result {
                Ok(p) => plain = Some(p),
                Err(e) => {
                    let count = shared.srtp_rejected.fetch_add(1, Ordering::Relaxed) + 1;
                    // Rate-limited: a flood of forged packets must not flood the log.
                    if count.is_power_of_two() {
                        tracing::warn!(error = %e, %from, rejected = count, "SRTP packet dropped");
                    }
                    continue;
                }
            }
        }
        let data = plain.as_deref().unwrap_or(&buf[..n]);
        match classify(data) {
            PacketKind::Rtcp => {
                lock(&shared.rx).rtcp += 1;
                let mut rtcp = lock(&shared.rtcp);
                if let Err(e) = rtcp.on_datagram(data, arrival) {
                    tracing::debug!(error = %e, %from, "malformed RTCP ignored");
                }
                note_peer_loss(&rtcp, shared);
                continue;
            }
            PacketKind::Other => {
                lock(&shared.rx).discarded += 1;
                continue;
            }
            PacketKind::Rtp => {}
        }
        let packet = match RtpPacket::parse(data) {
            Ok(p) if pts.accepts(p.payload_type) => p,
            Ok(_) | Err(_) => {
                lock(&shared.rx).discarded += 1;
                continue;
            }
        };
        let receiving = {
            let mut c = lock(&shared.control);
            if !c.latched {
                c.latched = true;
                if c.remote != from {
                    tracing::info!(signalled = %c.remote, actual = %from, "latching RTP to the peer's source");
                    c.remote = from;
                }
                let _ = events.send(MediaEvent::FirstPacket { from });
            }
            c.direction.receives()
        };
        if !receiving {
            continue;
        }
        if packet.payload_type == pts.audio || Some(packet.payload_type) == pts.comfort_noise {
            // CN packets share the stream's sequence numbers: counted, they are not loss.
            lock(&shared.rx).receiver.on_packet(&packet, arrival);
            match frame_kind(codec, pts, packet.payload_type, &packet.payload) {
                FrameKind::Audio => lock(&shared.jitter).push(
                    packet.ssrc,
                    packet.sequence,
                    packet.timestamp,
                    packet.marker,
                    packet.payload,
                    arrival,
                ),
                kind => lock(&shared.jitter).push_silence(
                    packet.ssrc,
                    packet.sequence,
                    packet.timestamp,
                    packet.payload,
                    arrival,
                    kind,
                ),
            }
        } else {
            let mut rx = lock(&shared.rx);
            match rx.dtmf.on_packet(
                packet.sequence,
                packet.timestamp,
                packet.marker,
                &packet.payload,
            ) {
                Ok(Some(digit)) => {
                    rx.dtmf_received += 1;
                    drop(rx);
                    tracing::debug!(%digit, "DTMF received");
                    let _ = events.send(MediaEvent::DtmfReceived(digit));
                }
                Ok(None) => {}
                Err(_) => rx.discarded += 1,
            }
        }
    }
    send_rtcp(socket, rtcp_socket, shared, true);
}

/// One datagram from `socket`; `None` after a read timeout, an ICMP port-unreachable for an
/// earlier send (ConnectionReset/Refused), or a failed read (logged, then a short pause so a
/// broken socket does not spin).
fn recv_datagram(socket: &UdpSocket, buf: &mut [u8], what: &str) -> Option<(usize, SocketAddr)> {
    match socket.recv_from(buf) {
        Ok(r) => Some(r),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, what, "receive failed");
            std::thread::sleep(Duration::from_millis(20));
            None
        }
    }
}

/// The RTCP socket's thread (peers without rtcp-mux): reads the peer's reports (through SRTCP
/// on encrypted calls) into the session and latches our RTCP target to their source. It never
/// touches the audio path; the receive thread still sends our reports. Whatever is not a
/// valid report is counted in `MediaStats::rtcp_port` with its reason, and dropped.
fn rtcp_receive_loop(socket: &UdpSocket, shared: &Shared) {
    let mut buf = [0u8; 2048];
    while !shared.stop.load(Ordering::Relaxed) {
        let Some((n, from)) = recv_datagram(socket, &mut buf, "RTCP") else {
            continue;
        };
        let arrival = shared.epoch.elapsed();
        match read_rtcp_port(&buf[..n], shared, arrival) {
            Ok(()) => {
                lock(&shared.rtcp_port).received += 1;
                lock(&shared.rx).rtcp += 1;
                let latched = lock(&shared.control).rtcp.on_report(RtcpPort::Rtcp, from);
                if let Some(to) = latched {
                    tracing::info!(actual = %to, "latching RTCP to the peer's source");
                }
            }
            Err(e) => {
                if matches!(e, RtcpPortError::Srtcp(_)) {
                    shared.srtp_rejected.fetch_add(1, Ordering::Relaxed);
                }
                let count = lock(&shared.rtcp_port).reject(&e);
                // Rate-limited: a flood must not flood the log.
                if count.is_power_of_two() {
                    tracing::warn!(error = %e, %from, rejected = count, "datagram on the RTCP port dropped");
                }
            }
        }
    }
}

/// One datagram from the RTCP port into the session (no lock held across another).
fn read_rtcp_port(data: &[u8], shared: &Shared, arrival: Duration) -> Result<(), RtcpPortError> {
    // The SRTCP header is in the clear: RTP or garbage is refused before any crypto.
    check_rtcp_datagram(data)?;
    let plain = match lock(&shared.srtp_rx).as_mut() {
        Some(srtp) => Some(srtp.unprotect_rtcp(data)?),
        None => None,
    };
    let data = plain.as_deref().unwrap_or(data);
    let mut rtcp = lock(&shared.rtcp);
    rtcp.on_datagram(data, arrival)?;
    note_peer_loss(&rtcp, shared);
    Ok(())
}

/// Keeps the loss the peer reports on our stream where the clock thread reads it.
fn note_peer_loss(rtcp: &RtcpRuntime, shared: &Shared) {
    if let Some((loss, _)) = rtcp.session().remote_loss_and_jitter() {
        let hundredths = (loss * 100.0).round().clamp(0.0, 10_000.0) as u32;
        shared.peer_loss.store(hundredths, Ordering::Relaxed);
    }
}

/// Sends our SR/RR (with a BYE at the end of the call) to the peer's RTP address from the RTP
/// socket (rtcp-mux), else to its RTCP address from our RTCP socket; through SRTCP when the
/// call is encrypted.
fn send_rtcp(socket: &UdpSocket, rtcp_socket: Option<&UdpSocket>, shared: &Shared, bye: bool) {
    let reception = lock(&shared.rx).receiver.reception();
    let now = shared.epoch.elapsed();
    let built = lock(&shared.rtcp).build(now, shared.send_counters(), reception.as_ref(), bye);
    let bytes = match built {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "could not build an RTCP report");
            return;
        }
    };
    let bytes = match lock(&shared.srtp_tx).as_mut() {
        Some(srtp) => match srtp.protect_rtcp(&bytes) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "could not protect an RTCP report");
                return;
            }
        },
        None => bytes,
    };
    let (port, remote) = {
        let c = lock(&shared.control);
        c.rtcp.target(c.remote)
    };
    let socket = match (port, rtcp_socket) {
        (RtcpPort::Rtcp, Some(s)) => s,
        _ => socket,
    };
    if let Err(e) = socket.send_to(&bytes, remote) {
        tracing::debug!(error = %e, %remote, "RTCP send failed");
    }
}

struct ClockThread {
    socket: UdpSocket,
    shared: Arc<Shared>,
    events: Sender<MediaEvent>,
    codec: Codec,
    te_pt: Option<u8>,
    ptime: Duration,
    frame_samples: usize,
    source: Option<WavSource>,
    sink: Option<WavSink>,
    mic: Option<InputDevice>,
    speaker: Option<OutputDevice>,
    /// The call runs on a sound card input / output (not a file or silence).
    mic_device: bool,
    speaker_device: bool,
    mic_id: Option<String>,
    speaker_id: Option<String>,
    device_reopens: u64,
    retired: DeviceStats,
    drift: DriftControl,
    playout_target: usize,
    playout_underruns: u64,
    playout_calm_since: Instant,
    aec: Option<EchoCanceller>,
    encoder: AudioEncoder,
    /// The configured Opus FEC plan (the floor of `planned_loss`), and the peer's report it
    /// was last tuned to.
    loss_floor: i32,
    tuned_to: u32,
    playback: Playback,
    last_stretch: StretchStats,
    sender: RtpSender,
    stats_interval: Duration,
    /// A recording that failed (disk full...): the call goes on, `stop` reports it.
    recording_error: Option<WavError>,
    /// Both sides of the call to the recorder's ring (no I/O on this thread).
    tap: Option<RecordingTap>,
    /// The recording notice mixed into what we send.
    notice: Option<NoticePlayer>,
}

/// A device that delivers nothing for this long has failed (unplugged, suspended).
const DEVICE_STALL: Duration = Duration::from_millis(500);
/// Reopen attempts per call after device failures, before giving up on the devices.
const MAX_REOPENS: u64 = 5;
/// Speaker-paced ticks come when less than this is queued for playback.
const PLAYOUT_TARGET: Duration = Duration::from_millis(15);
const PLAYOUT_TARGET_MAX: Duration = Duration::from_millis(100);

fn native_samples(rate: u32, d: Duration) -> usize {
    (u128::from(rate) * d.as_micros() / 1_000_000) as usize
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DriftAction {
    Keep,
    Drop,
    Insert,
}

/// Holds the playback queue between ~2 ms and 2 frames when the microphone's clock paces the
/// call. Decides on the minimum queue over a window (one reading is skewed by where each
/// device is in its period).
#[derive(Debug)]
struct DriftControl {
    primed: bool,
    seen: u32,
    min_queued: usize,
    last_underruns: u64,
    /// Frames still to drop after a window found a standing excess; dropped on quiet frames
    /// (a pause: nothing missing to hear), or after `DROP_DEFER_TICKS` anyway.
    to_drop: usize,
    /// Ticks the oldest frame owed has waited for a pause.
    waited: u32,
    /// Consecutive windows with more than 2 frames queued.
    high_windows: u32,
    dropped: u64,
    inserted: u64,
}

/// Ticks per drift decision (0.5 s of 20 ms frames).
const DRIFT_WINDOW: u32 = 25;
/// Windows of standing excess before a frame is dropped.
const HIGH_WINDOWS: u32 = 4;
/// Ticks a frame to drop waits for a quiet one (5 s: drift adds 0.5 ms in that time at
/// 100 ppm, so waiting costs nothing audible; a dropped frame of speech is a 20 ms hole).
const DROP_DEFER_TICKS: u32 = 250;

impl DriftControl {
    fn new() -> Self {
        DriftControl {
            primed: false,
            seen: 0,
            min_queued: usize::MAX,
            last_underruns: 0,
            to_drop: 0,
            waited: 0,
            high_windows: 0,
            dropped: 0,
            inserted: 0,
        }
    }

    /// `queued`: native samples waiting for the speaker before this frame is pushed;
    /// `quiet`: whether the frame is a pause in the talk.
    fn observe(&mut self, queued: usize, underruns: u64, frame: usize, quiet: bool) -> DriftAction {
        if self.to_drop > 0 {
            return self.drop_owed(quiet);
        }
        self.min_queued = self.min_queued.min(queued);
        self.seen += 1;
        if self.seen < DRIFT_WINDOW {
            return DriftAction::Keep;
        }
        let underran = underruns != self.last_underruns;
        self.last_underruns = underruns;
        self.seen = 0;
        let min = std::mem::replace(&mut self.min_queued, usize::MAX);
        if underran || min < frame / 10 {
            // Already audible (or about to be): correct at once.
            self.high_windows = 0;
            self.inserted += 1;
            return DriftAction::Insert;
        }
        if min <= 2 * frame {
            self.high_windows = 0;
            return DriftAction::Keep;
        }
        // A standing excess: real drift is slow (100 ppm is 2 ms in 20 s), so only act on it
        // after 2 s, not on a sound server's burst.
        self.high_windows += 1;
        if self.high_windows < HIGH_WINDOWS {
            return DriftAction::Keep;
        }
        self.high_windows = 0;
        // Back down to about one frame of standing queue.
        self.to_drop = (min - frame) / frame.max(1);
        self.waited = 0;
        self.drop_owed(quiet)
    }

    fn drop_owed(&mut self, quiet: bool) -> DriftAction {
        self.waited += 1;
        if !quiet && self.waited < DROP_DEFER_TICKS {
            return DriftAction::Keep;
        }
        // The frames owed with it have waited as long: they go on the next quiet (or any,
        // once past the wait) frames.
        self.to_drop -= 1;
        if self.to_drop == 0 {
            self.waited = 0;
        }
        self.dropped += 1;
        DriftAction::Drop
    }
}

/// Reads away what reached the socket before the engine started (the peer's media before
/// our answer, early media): it is late by however long it waited, and played it would only
/// be a burst that holds the delay up until a pause cuts it. At most 10,000 datagrams.
fn discard_queued(socket: &UdpSocket) -> std::io::Result<usize> {
    socket.set_nonblocking(true)?;
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while n < 10_000 {
        match socket.recv_from(&mut buf) {
            Ok(_) => n += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // An ICMP error queued on the socket (port unreachable): nothing to discard.
            Err(_) => break,
        }
    }
    socket.set_nonblocking(false)?;
    Ok(n)
}

/// The jitter buffer the receive thread fills, locked for each call only.
struct LockedJitter<'a>(&'a Mutex<JitterBuffer>);

impl PacketSource for LockedJitter<'_> {
    fn pop(&mut self) -> Playout {
        lock(self.0).pop()
    }
    fn level(&mut self) -> (Duration, Duration) {
        let jb = lock(self.0);
        (jb.buffered(), jb.target_delay())
    }
    fn next_ready(&mut self) -> bool {
        lock(self.0).next_ready()
    }
    fn take_late(&mut self) -> bool {
        lock(self.0).take_late()
    }
}

/// If the thread falls this far behind (machine suspended, debugger), skip ahead instead of
/// sending a burst.
const MAX_BEHIND_TICKS: u32 = 10;

impl ClockThread {
    fn run(mut self) -> Result<(), MediaError> {
        self.run_ticks();
        // Lets the recorder drain and finalize.
        self.tap = None;
        // Finalize the recording even when a tick failed.
        let finalized = match self.sink.take() {
            Some(sink) => sink.finalize().map_err(MediaError::from),
            None => Ok(()),
        };
        match self.recording_error.take() {
            Some(e) => Err(e.into()),
            None => finalized,
        }
    }

    fn run_ticks(&mut self) {
        let mut start = Instant::now();
        let mut tick: u32 = 0;
        let mut next_stats = start + self.stats_interval;
        let mut dtmf: Option<DtmfSender> = None;
        let mut was_receiving = true;
        while !self.shared.stop.load(Ordering::Relaxed) {
            let switch = lock(&self.shared.control).switch.take();
            if let Some((input, output)) = switch {
                self.switch_devices(input, output);
                // The timer paces from here if no device opened.
                (start, tick) = (Instant::now(), 0);
            }
            // Pacing: the microphone's clock, else the speaker's, else the timer.
            let mut captured = None;
            if let Some(mic) = &mut self.mic {
                match mic.read_frame(
                    self.frame_samples,
                    &self.shared.stop,
                    DEVICE_STALL,
                    5 * self.frame_samples,
                ) {
                    Ok(Some(mut frame)) => {
                        if let Some(aec) = &mut self.aec {
                            aec.capture(&mut frame);
                        }
                        captured = Some(frame);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        if !self.reopen_mic(e) {
                            (start, tick) = (Instant::now(), 0);
                        }
                        continue;
                    }
                }
            } else if self.speaker.is_some() {
                match self.wait_for_playout() {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        if !self.reopen_speaker(e) {
                            (start, tick) = (Instant::now(), 0);
                        }
                        continue;
                    }
                }
            } else {
                let deadline = start + self.ptime * tick;
                let now = Instant::now();
                if now < deadline {
                    std::thread::sleep(deadline - now);
                } else if now - deadline > self.ptime * MAX_BEHIND_TICKS {
                    let behind = ((now - start).as_nanos() / self.ptime.as_nanos().max(1)) as u32;
                    tracing::warn!(
                        skipped = behind - tick,
                        "media clock fell behind; skipping ahead"
                    );
                    tick = behind;
                }
                tick += 1;
            }

            let (remote, direction, muted, queued) = {
                let mut c = lock(&self.shared.control);
                let queued = if dtmf.is_none() {
                    c.dtmf.pop_front()
                } else {
                    None
                };
                (c.remote, c.direction, c.muted, queued)
            };
            if let Some((digit, duration)) = queued {
                if self.te_pt.is_some() {
                    dtmf = DtmfSender::new(digit, duration, self.codec.clock_rate).ok();
                }
            }
            // The microphone runs whether or not we send, like a sound card.
            let mic = match (captured, &mut self.source) {
                (Some(frame), _) => frame,
                (None, Some(src)) => src.next_frame(self.frame_samples),
                (None, None) => vec![0; self.frame_samples],
            };
            if direction.sends() {
                let mut pcm = if muted {
                    vec![0; self.frame_samples]
                } else {
                    mic
                };
                // The notice reaches the far end even while the agent is muted.
                let noticed = self.mix_notice(&mut pcm);
                if let Some(tap) = &mut self.tap {
                    tap.stage_mic((!muted || noticed).then_some(pcm.as_slice()));
                }
                self.send_frame(remote, pcm, &mut dtmf);
            } else {
                dtmf = None;
                self.sender.gap();
            }
            self.sender.tick();

            let receiving = direction.receives();
            let out = if receiving {
                if !was_receiving {
                    // Resume after hold: start playout afresh.
                    lock(&self.shared.jitter).reset();
                    self.playback.reset();
                }
                self.playout_frame()
            } else {
                self.playback.silence()
            };
            was_receiving = receiving;
            if let Some(tap) = &mut self.tap {
                tap.push_staged(&out);
            }
            if let Some(sink) = &mut self.sink {
                if let Err(e) = sink.write(&out) {
                    tracing::warn!(error = %e, "recording failed; the call goes on unrecorded");
                    self.recording_error = Some(e);
                    self.sink = None;
                }
            }
            if self.speaker.is_some() {
                self.play(&out, receiving);
            }
            self.update_device_stats();
            if Instant::now() >= next_stats {
                next_stats += self.stats_interval;
                let _ = self.events.send(MediaEvent::Stats(self.shared.stats()));
            }
        }
    }

    /// Follows the peer's loss reports with the Opus FEC plan (a ctl call, only on a change).
    fn tune_fec(&mut self) {
        let reported = self.shared.peer_loss.load(Ordering::Relaxed);
        if reported == self.tuned_to || !matches!(self.encoder, AudioEncoder::Opus(_)) {
            return;
        }
        self.tuned_to = reported;
        let percent = (reported != u32::MAX).then(|| f64::from(reported) / 100.0);
        let plan = planned_loss(self.loss_floor, percent);
        if plan as u32 == self.shared.planned_loss.load(Ordering::Relaxed) {
            return;
        }
        match self.encoder.set_expected_loss(plan) {
            Ok(()) => {
                tracing::debug!(plan, reported = ?percent, "Opus FEC planned for the peer's loss");
                self.shared
                    .planned_loss
                    .store(plan as u32, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "could not retune the Opus FEC"),
        }
    }

    /// Mixes the recording notice into an outgoing frame; whether any of it went in.
    fn mix_notice(&mut self, pcm: &mut [i16]) -> bool {
        let Some(notice) = &mut self.notice else {
            return false;
        };
        let paused = self.tap.as_ref().is_some_and(|t| t.control().is_paused());
        let sounded = notice.mix(pcm, paused);
        if sounded {
            self.shared.notice_frames.fetch_add(1, Ordering::Relaxed);
        }
        if notice.finished() {
            self.notice = None;
        }
        sounded
    }

    /// Encodes and sends one frame of `pcm` (muting already applied), or the DTMF event due.
    fn send_frame(&mut self, remote: SocketAddr, pcm: Vec<i16>, dtmf: &mut Option<DtmfSender>) {
        let packet = match (dtmf.as_mut(), self.te_pt) {
            (Some(d), Some(te_pt)) => {
                let ep = d.tick(self.sender.timestamp(), self.frame_samples as u32);
                if d.is_done() {
                    *dtmf = None;
                    self.shared.dtmf_sent.fetch_add(1, Ordering::Relaxed);
                }
                self.sender.gap();
                match ep {
                    Some(ep) => self.sender.packet(
                        te_pt,
                        ep.marker,
                        ep.timestamp,
                        ep.payload.to_bytes().to_vec(),
                    ),
                    None => return,
                }
            }
            _ => {
                self.tune_fec();
                match self.encoder.encode(&pcm) {
                    Ok(payload) => self.sender.audio(payload),
                    Err(e) => {
                        tracing::warn!(error = %e, "encoding failed; frame skipped");
                        self.sender.gap();
                        return;
                    }
                }
            }
        };
        let bytes = match packet.to_bytes() {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "could not serialize RTP packet");
                return;
            }
        };
        let bytes = match lock(&self.shared.srtp_tx).as_mut() {
            Some(srtp) => match srtp.protect_rtp(&bytes) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "could not protect RTP packet");
                    return;
                }
            },
            None => bytes,
        };
        match self.socket.send_to(&bytes, remote) {
            Ok(_) => {
                // One atomic store: the SR's RTP timestamp is extrapolated from it.
                self.shared.last_sent.store(
                    pack_last_sent(self.sender.timestamp(), self.shared.epoch.elapsed()),
                    Ordering::Relaxed,
                );
                self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .bytes_sent
                    .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
            }
            // The peer not listening yet (ICMP unreachable) or a network change: keep the clock.
            Err(e) => tracing::debug!(error = %e, %remote, "RTP send failed"),
        }
    }

    /// A failed microphone is reopened (a sound server restarting a stream, a device that
    /// came back) a few times per call; after that, or if reopening fails, the call goes on
    /// with silence. Returns whether a device is open again.
    fn reopen_mic(&mut self, e: DeviceError) -> bool {
        if let Some(old) = self.mic.take() {
            self.retire(old.counters());
        }
        tracing::warn!(error = %e, "microphone failed; reopening");
        if self.device_reopens < MAX_REOPENS {
            self.device_reopens += 1;
            match open_or_default(
                self.mic_id.as_deref(),
                self.codec.clock_rate,
                InputDevice::open,
            ) {
                Ok((d, fallback)) => {
                    if let Some(f) = fallback {
                        let _ = self.events.send(MediaEvent::DeviceFallback(f));
                    }
                    self.mic = Some(d);
                    return true;
                }
                Err(e2) => tracing::warn!(error = %e2, "reopening the microphone failed"),
            }
        }
        self.device_failed(e);
        false
    }

    fn reopen_speaker(&mut self, e: DeviceError) -> bool {
        if let Some(old) = self.speaker.take() {
            self.retire(old.counters());
        }
        tracing::warn!(error = %e, "speaker failed; reopening");
        self.drift.primed = false;
        self.playout_underruns = 0;
        if self.device_reopens < MAX_REOPENS {
            self.device_reopens += 1;
            match open_or_default(
                self.speaker_id.as_deref(),
                self.codec.clock_rate,
                OutputDevice::open,
            ) {
                Ok((d, fallback)) => {
                    if let Some(f) = fallback {
                        let _ = self.events.send(MediaEvent::DeviceFallback(f));
                    }
                    self.speaker = Some(d);
                    return true;
                }
                Err(e2) => tracing::warn!(error = %e2, "reopening the speaker failed"),
            }
        }
        self.device_failed(e);
        false
    }

    /// Closes the devices and opens the ones asked for (`set_devices`).
    fn switch_devices(&mut self, input: Option<String>, output: Option<String>) {
        let rate = self.codec.clock_rate;
        if self.mic_device && (input != self.mic_id || self.mic.is_none()) {
            tracing::info!(from = ?self.mic_id, to = ?input, "switching the microphone");
            if let Some(old) = self.mic.take() {
                self.retire(old.counters());
            }
            self.mic_id = input;
            match open_or_default(self.mic_id.as_deref(), rate, InputDevice::open) {
                Ok((d, fallback)) => {
                    if let Some(f) = fallback {
                        let _ = self.events.send(MediaEvent::DeviceFallback(f));
                    }
                    self.mic = Some(d);
                }
                Err(e) => self.device_failed(e),
            }
        }
        if self.speaker_device && (output != self.speaker_id || self.speaker.is_none()) {
            tracing::info!(from = ?self.speaker_id, to = ?output, "switching the speaker");
            if let Some(old) = self.speaker.take() {
                self.retire(old.counters());
            }
            self.drift.primed = false;
            self.playout_underruns = 0;
            self.speaker_id = output;
            match open_or_default(self.speaker_id.as_deref(), rate, OutputDevice::open) {
                Ok((d, fallback)) => {
                    if let Some(f) = fallback {
                        let _ = self.events.send(MediaEvent::DeviceFallback(f));
                    }
                    self.speaker = Some(d);
                }
                Err(e) => self.device_failed(e),
            }
        }
    }

    /// Keeps a closed device's counters in the totals.
    fn retire(&mut self, c: &DeviceCounters) {
        self.retired.capture_overflow_samples += c.overflows.load(Ordering::Relaxed);
        self.retired.playout_underruns += c.underruns.load(Ordering::Relaxed);
        self.retired.xruns += c.xruns.load(Ordering::Relaxed);
    }

    fn device_failed(&mut self, e: DeviceError) {
        tracing::warn!(error = %e, "sound device failed; the call goes on with silence");
        let _ = self
            .events
            .send(MediaEvent::DeviceError(MediaError::from(e).to_string()));
    }

    /// Speaker-paced ticks: wait until the playback queue runs below its target.
    fn wait_for_playout(&mut self) -> Result<bool, DeviceError> {
        let Some(speaker) = &mut self.speaker else {
            return Ok(true);
        };
        let rate = speaker.native_rate();
        let floor =
            native_samples(rate, PLAYOUT_TARGET).max(speaker.period() + rate as usize / 200);
        // The target grows 5 ms at a time while the speaker underruns (a starved thread on a
        // loaded machine) and shrinks back after 10 s without.
        let underruns = speaker.counters().underruns.load(Ordering::Relaxed);
        if underruns > self.playout_underruns {
            self.playout_underruns = underruns;
            self.playout_calm_since = Instant::now();
            self.playout_target = (self.playout_target.max(floor) + rate as usize / 200)
                .min(native_samples(rate, PLAYOUT_TARGET_MAX));
        } else if self.playout_calm_since.elapsed() > Duration::from_secs(10) {
            self.playout_calm_since = Instant::now();
            self.playout_target = self.playout_target.saturating_sub(rate as usize / 200);
        }
        let target = self.playout_target.max(floor);
        loop {
            speaker.check(DEVICE_STALL)?;
            if speaker.queued() < target {
                return Ok(true);
            }
            if self.shared.stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Queues a played frame for the speaker; when the microphone paces the call, keeps the
    /// queue near its target against drift between the two device clocks.
    fn play(&mut self, out: &[i16], receiving: bool) {
        let Some(speaker) = &mut self.speaker else {
            return;
        };
        if self.mic.is_some() {
            if let Err(e) = speaker.check(DEVICE_STALL) {
                self.reopen_speaker(e);
                return;
            }
        }
        let frame = native_samples(speaker.native_rate(), self.ptime);
        if !self.drift.primed {
            // One frame of head room so the first callbacks do not underrun.
            self.drift.primed = true;
            speaker.push_frame(&vec![0; out.len()]);
        }
        let action = if self.mic.is_some() {
            let underruns = speaker.counters().underruns.load(Ordering::Relaxed);
            self.drift.observe(
                speaker.queued(),
                underruns,
                frame,
                // What playout already measured (on hold the frame is silence).
                !receiving || self.playback.in_pause(),
            )
        } else {
            DriftAction::Keep
        };
        // The echo canceller's reference is exactly what goes to the speaker.
        match action {
            DriftAction::Keep => {
                speaker.push_frame(out);
                if let Some(aec) = &mut self.aec {
                    aec.render(out);
                }
            }
            DriftAction::Drop => {}
            DriftAction::Insert => {
                speaker.push_frame(out);
                if let Some(aec) = &mut self.aec {
                    aec.render(out);
                }
                // The playback clock is faster: play one more frame from the jitter buffer.
                let extra = if receiving {
                    self.playout_frame()
                } else {
                    self.playback.silence()
                };
                if let Some(speaker) = &mut self.speaker {
                    speaker.push_frame(&extra);
                }
                if let Some(aec) = &mut self.aec {
                    aec.render(&extra);
                }
            }
        }
    }

    fn update_device_stats(&mut self) {
        if self.mic.is_none() && self.speaker.is_none() && self.device_reopens == 0 {
            return;
        }
        let mut d = self.retired.clone();
        if let Some(mic) = &self.mic {
            let c = mic.counters();
            d.capture_overflow_samples += c.overflows.load(Ordering::Relaxed);
            d.xruns += c.xruns.load(Ordering::Relaxed);
        }
        if let Some(speaker) = &self.speaker {
            let c = speaker.counters();
            d.playout_underruns += c.underruns.load(Ordering::Relaxed);
            d.xruns += c.xruns.load(Ordering::Relaxed);
            d.playout_queue_ms =
                speaker.queued() as u64 * 1000 / u64::from(speaker.native_rate().max(1));
        }
        d.frames_dropped = self.drift.dropped;
        d.frames_inserted = self.drift.inserted;
        d.reopens = self.device_reopens;
        *lock(&self.shared.device) = d;
    }

    fn playout_frame(&mut self) -> Vec<i16> {
        let out = self
            .playback
            .next_frame(&mut LockedJitter(&self.shared.jitter));
        let recovered = self.playback.fec_recovered();
        if recovered != self.shared.fec_recovered.load(Ordering::Relaxed) {
            self.shared
                .fec_recovered
                .store(recovered, Ordering::Relaxed);
        }
        let stretch = self.playback.stats();
        if stretch != self.last_stretch {
            self.last_stretch = stretch;
            *lock(&self.shared.stretch) = stretch;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A capture clock pushing one frame per tick against a playback clock `drift` faster (or
    /// slower), consumed in 10 ms periods: the queue stays bounded and the corrections match
    /// the drift.
    fn simulate(drift: f64, ticks: usize) -> (DriftControl, usize, usize, u64) {
        simulate_talk(drift, ticks, |_| false).0
    }

    /// As `simulate`, with `quiet(tick)` telling which frames are pauses; also returns the
    /// ticks whose frame was dropped.
    #[allow(clippy::type_complexity)]
    fn simulate_talk(
        drift: f64,
        ticks: usize,
        quiet: impl Fn(usize) -> bool,
    ) -> ((DriftControl, usize, usize, u64), Vec<usize>) {
        let mut dropped_at = Vec::new();
        let frame = 960; // 20 ms at 48 kHz
        let period = 480.0 * (1.0 + drift);
        let mut control = DriftControl::new();
        // The engine primes one frame of head room before the first.
        let mut queued: f64 = 2.0 * frame as f64;
        let (mut lo, mut hi) = (usize::MAX, 0);
        let mut underruns = 0u64;
        let mut consumed_credit = 0.0;
        for tick in 0..ticks {
            // Two playback periods per tick at nominal rate.
            consumed_credit += 2.0 * period;
            while consumed_credit >= period {
                consumed_credit -= period;
                if queued < period {
                    underruns += 1;
                    queued = 0.0;
                } else {
                    queued -= period;
                }
            }
            let q = queued as usize;
            if tick > 100 {
                lo = lo.min(q);
                hi = hi.max(q);
            }
            match control.observe(q, underruns, frame, quiet(tick)) {
                DriftAction::Keep => queued += frame as f64,
                DriftAction::Drop => dropped_at.push(tick),
                DriftAction::Insert => queued += 2.0 * frame as f64,
            }
        }
        ((control, lo, hi, underruns), dropped_at)
    }

    #[test]
    fn frames_are_dropped_in_the_pauses_of_the_talk() {
        // 300 ms of talk, 200 ms of pause.
        let in_pause = |tick: usize| tick % 25 >= 15;
        let ((c, lo, hi, underruns), at) = simulate_talk(-0.005, 5000, in_pause);
        assert!(c.dropped >= 20, "{c:?}");
        assert!(at.iter().all(|&t| in_pause(t)), "dropped in talk at {at:?}");
        assert_eq!(underruns, 0);
        assert!(hi <= 3 * 960 + 480, "queue grew to {hi} (low {lo})");
    }

    #[test]
    fn datagrams_queued_before_the_start_are_discarded_and_the_socket_blocks_again() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = socket.local_addr().unwrap();
        for i in 0..5u8 {
            peer.send_to(&[0x80, 0, 0, i], to).unwrap();
        }
        // Loopback delivers at once, but give the kernel a moment on a loaded machine.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(discard_queued(&socket).unwrap(), 5);
        assert_eq!(discard_queued(&socket).unwrap(), 0);
        // Blocking again: a read waits for its timeout instead of failing at once.
        socket
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 16];
        assert!(socket.recv_from(&mut buf).is_err());
        assert!(started.elapsed() >= Duration::from_millis(20));
        peer.send_to(&[1], to).unwrap();
        assert_eq!(socket.recv_from(&mut buf).unwrap().0, 1);
    }

    #[test]
    fn faster_playback_clock_gets_inserted_frames() {
        // 0.5 % fast: 20 minutes of a 100 ppm drift squeezed into 100 s.
        let (c, _lo, hi, _) = simulate(0.005, 5000);
        assert!(c.inserted >= 20, "{c:?}");
        assert_eq!(c.dropped, 0);
        assert!(hi <= 3 * 960, "queue grew to {hi}");
    }

    #[test]
    fn slower_playback_clock_gets_dropped_frames() {
        // Talk without a pause: each drop waits its 5 s, and still keeps up with a 0.5 %
        // drift (a frame every 4 s) because each window's excess is owed at once.
        let (c, lo, hi, underruns) = simulate(-0.005, 5000);
        assert!(c.dropped >= 20, "{c:?}");
        assert_eq!(c.inserted, 0);
        assert_eq!(underruns, 0);
        assert!(hi <= 6 * 960, "queue grew to {hi} (low {lo})");
    }

    #[test]
    fn matched_clocks_are_left_alone() {
        let (c, _, _, underruns) = simulate(0.0, 5000);
        assert_eq!((c.inserted, c.dropped, underruns), (0, 0, 0), "{c:?}");
    }
}
