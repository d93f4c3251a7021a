//! The runtime: two threads around a UDP socket.
//!
//! * The clock thread stands in for a sound card: it wakes on absolute 20 ms deadlines from one
//!   `Instant` (no drift from accumulated sleep overshoot), reads a microphone frame, encodes and
//!   sends it, then pulls one frame from the jitter buffer, decodes and writes it to the sink.
//! * The receive thread reads the socket, demultiplexes RTP/RTCP, latches the remote address to
//!   the peer's real source (symmetric RTP, for peers behind NAT) and feeds the jitter buffer and
//!   the DTMF receiver.

use crate::codec::{AudioDecoder, AudioEncoder, Codec, CodecError};
use crate::dtmf::{event_code, DtmfReceiver, DtmfSender};
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats, Playout};
use crate::rtp::{classify, PacketKind, RtpPacket};
use crate::session::{ReceiveStats, RtpReceiver, RtpSender};
use crate::wav::{WavError, WavSink, WavSource};
use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

/// Where played audio goes.
#[derive(Debug, Clone)]
pub enum Sink {
    /// A mono 16-bit WAV at the codec's clock rate, one frame per tick (silence included), so
    /// the file's timeline is the call's timeline.
    Wav(PathBuf),
    Discard,
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
    pub ptime: Duration,
    pub direction: Direction,
    pub source: Source,
    pub sink: Sink,
    pub jitter_min: Duration,
    pub jitter_max: Duration,
    /// How often a `MediaEvent::Stats` is emitted.
    pub stats_interval: Duration,
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
            ptime: Duration::from_millis(20),
            direction: Direction::SendRecv,
            source: Source::Silence,
            sink: Sink::Discard,
            jitter_min: Duration::from_millis(40),
            jitter_max: Duration::from_millis(300),
            stats_interval: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// The first valid RTP packet from the peer, and where it came from (now the send target).
    FirstPacket {
        from: SocketAddr,
    },
    DtmfReceived(char),
    Stats(MediaStats),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaStats {
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub dtmf_sent: u64,
    pub dtmf_received: u64,
    pub received: ReceiveStats,
    pub jitter: JitterStats,
    pub target_delay_ms: u64,
    pub rtcp_received: u64,
    /// Datagrams that were neither valid RTP nor RTCP, or carried an unknown payload type.
    pub discarded: u64,
}

struct Control {
    remote: SocketAddr,
    latched: bool,
    direction: Direction,
    muted: bool,
    dtmf: VecDeque<(char, Duration)>,
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
    epoch: Instant,
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
        MediaStats {
            packets_sent: self.packets_sent.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            dtmf_sent: self.dtmf_sent.load(Ordering::Relaxed),
            dtmf_received: rx.dtmf_received,
            received,
            jitter,
            target_delay_ms: jb.target_delay().as_millis() as u64,
            rtcp_received: rx.rtcp,
            discarded: rx.discarded,
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
        let source = match &config.source {
            Source::Wav { path, looped } => Some(WavSource::open(path, rate, *looped)?),
            Source::Silence => None,
        };
        let sink = match &config.sink {
            Sink::Wav(path) => Some(WavSink::create(path, rate)?),
            Sink::Discard => None,
        };
        let encoder = AudioEncoder::new(config.codec, frame_samples)?;
        let decoder = AudioDecoder::new(config.codec, frame_samples)?;
        let local = config.socket.local_addr()?;
        // The timeout lets the receive thread notice `stop` without a wake-up packet.
        config
            .socket
            .set_read_timeout(Some(Duration::from_millis(50)))?;
        let rx_socket = config.socket.try_clone()?;

        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            control: Mutex::new(Control {
                remote: config.remote,
                latched: false,
                direction: config.direction,
                muted: false,
                dtmf: VecDeque::new(),
            }),
            jitter: Mutex::new(JitterBuffer::new(JitterConfig {
                clock_rate: rate,
                frame: config.ptime,
                min_delay: config.jitter_min,
                max_delay: config.jitter_max.max(config.jitter_min),
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
            epoch: Instant::now(),
        });
        let (events_tx, events) = channel();
        let codec = config.codec;
        let te_pt = config.telephone_event_pt;

        let rx_thread = {
            let shared = Arc::clone(&shared);
            let events_tx = events_tx.clone();
            std::thread::Builder::new()
                .name("media-rx".into())
                .spawn(move || receive_loop(&rx_socket, &shared, codec, te_pt, &events_tx))?
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
            encoder,
            decoder,
            sender: RtpSender::new(codec.payload_type, frame_samples as u32),
            stats_interval: config.stats_interval,
            recording_error: None,
        };
        let clock_thread = match std::thread::Builder::new()
            .name("media-clock".into())
            .spawn(move || clock.run())
        {
            Ok(t) => t,
            Err(e) => {
                shared.stop.store(true, Ordering::Relaxed);
                let _ = rx_thread.join();
                return Err(e.into());
            }
        };
        tracing::info!(%local, remote = %config.remote, ?codec, "media engine started");
        Ok(MediaHandle {
            shared,
            events,
            local,
            clock: Some(clock_thread),
            rx: Some(rx_thread),
        })
    }
}

/// Control of a running engine; the SIP side keeps one per call.
pub struct MediaHandle {
    shared: Arc<Shared>,
    events: Receiver<MediaEvent>,
    local: SocketAddr,
    clock: Option<JoinHandle<Result<(), MediaError>>>,
    rx: Option<JoinHandle<()>>,
}

impl MediaHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A new remote address (re-INVITE). Latching starts over from the next packet.
    pub fn set_remote(&self, addr: SocketAddr) {
        let mut c = lock(&self.shared.control);
        c.remote = addr;
        c.latched = false;
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
    pub fn set_muted(&self, muted: bool) {
        lock(&self.shared.control).muted = muted;
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
        if rx.is_some_and(|r| r.is_err()) {
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

fn receive_loop(
    socket: &UdpSocket,
    shared: &Shared,
    codec: Codec,
    te_pt: Option<u8>,
    events: &Sender<MediaEvent>,
) {
    let mut buf = [0u8; 2048];
    while !shared.stop.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                // ConnectionReset/Refused: an ICMP port-unreachable for an earlier send.
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "media receive failed");
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let arrival = shared.epoch.elapsed();
        let data = &buf[..n];
        match classify(data) {
            PacketKind::Rtcp => {
                lock(&shared.rx).rtcp += 1;
                continue;
            }
            PacketKind::Other => {
                lock(&shared.rx).discarded += 1;
                continue;
            }
            PacketKind::Rtp => {}
        }
        let packet = match RtpPacket::parse(data) {
            Ok(p) if p.payload_type == codec.payload_type || Some(p.payload_type) == te_pt => p,
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
        if packet.payload_type == codec.payload_type {
            lock(&shared.rx).receiver.on_packet(&packet, arrival);
            lock(&shared.jitter).push(
                packet.ssrc,
                packet.sequence,
                packet.timestamp,
                packet.marker,
                packet.payload,
                arrival,
            );
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
    encoder: AudioEncoder,
    decoder: AudioDecoder,
    sender: RtpSender,
    stats_interval: Duration,
    /// A recording that failed (disk full...): the call goes on, `stop` reports it.
    recording_error: Option<WavError>,
}

/// If the thread falls this far behind (machine suspended, debugger), skip ahead instead of
/// sending a burst.
const MAX_BEHIND_TICKS: u32 = 10;

impl ClockThread {
    fn run(mut self) -> Result<(), MediaError> {
        self.run_ticks();
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
        let start = Instant::now();
        let mut tick: u32 = 0;
        let mut next_stats = start + self.stats_interval;
        let mut dtmf: Option<DtmfSender> = None;
        let mut was_receiving = true;
        while !self.shared.stop.load(Ordering::Relaxed) {
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
            let mic = match &mut self.source {
                Some(src) => src.next_frame(self.frame_samples),
                None => vec![0; self.frame_samples],
            };
            if direction.sends() {
                self.send_frame(remote, mic, muted, &mut dtmf);
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
                }
                self.playout_frame()
            } else {
                self.decoder.silence()
            };
            was_receiving = receiving;
            if let Some(sink) = &mut self.sink {
                if let Err(e) = sink.write(&out) {
                    tracing::warn!(error = %e, "recording failed; the call goes on unrecorded");
                    self.recording_error = Some(e);
                    self.sink = None;
                }
            }
            if Instant::now() >= next_stats {
                next_stats += self.stats_interval;
                let _ = self.events.send(MediaEvent::Stats(self.shared.stats()));
            }
        }
    }

    fn send_frame(
        &mut self,
        remote: SocketAddr,
        mic: Vec<i16>,
        muted: bool,
        dtmf: &mut Option<DtmfSender>,
    ) {
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
                let pcm = if muted {
                    vec![0; self.frame_samples]
                } else {
                    mic
                };
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
        match self.socket.send_to(&bytes, remote) {
            Ok(_) => {
                self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .bytes_sent
                    .fetch_add(packet.payload.len() as u64, Ordering::Relaxed);
            }
            // The peer not listening yet (ICMP unreachable) or a network change: keep the clock.
            Err(e) => tracing::debug!(error = %e, %remote, "RTP send failed"),
        }
    }

    fn playout_frame(&mut self) -> Vec<i16> {
        let playout = lock(&self.shared.jitter).pop();
        let decoded = match playout {
            Playout::Frame(f) => self.decoder.decode(&f.payload),
            Playout::Fec(next) => self.decoder.decode_fec(&next.payload),
            Playout::Lost => self.decoder.conceal(),
            Playout::Empty => return self.decoder.silence(),
        };
        match decoded {
            Ok(pcm) => pcm,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable frame; concealing");
                self.decoder
                    .conceal()
                    .unwrap_or_else(|_| vec![0; self.frame_samples])
            }
        }
    }
}
