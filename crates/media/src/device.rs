//! Real sound devices through cpal (ALSA on Linux, WASAPI on Windows, CoreAudio on macOS).
//!
//! The device callbacks only move samples: the capture callback mixes down to mono and pushes
//! into a lock-free SPSC ring ([`rtrb`]); the playback callback pops from another ring and
//! copies to every channel. Neither locks nor allocates; errors are reported through atomics.
//! Resampling between the device's native rate and the codec rate happens on the engine's
//! clock thread ([`Resampler`]).

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum DeviceError {
    #[error("no audio host: {0}")]
    Host(String),
    #[error("no {kind} device {id:?}")]
    NotFound { kind: &'static str, id: String },
    #[error("cannot open {kind} device {name:?}: {message}")]
    Open {
        kind: &'static str,
        name: String,
        message: String,
    },
    #[error("{kind} device {name:?} failed: {message}")]
    Failed {
        kind: &'static str,
        name: String,
        message: String,
    },
    #[error("{kind} device {name:?} stopped delivering audio")]
    Stalled { kind: &'static str, name: String },
}

/// One entry of [`list_devices`]. A device that can both capture and play is listed twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDevice {
    /// Persistable id (`"alsa:default"`, `"alsa:hw:CARD=0,DEV=0"`); pass it back as
    /// `Source::Device { id: Some(..) }` / `Sink::Device { id: Some(..) }`.
    pub id: String,
    pub name: String,
    pub is_input: bool,
    pub is_default: bool,
}

fn host() -> cpal::Host {
    // No cpal features are enabled, so on Linux this is the ALSA host (Debian's pulse plugin
    // routes ALSA `default` to PulseAudio/PipeWire when they run).
    cpal::default_host()
}

fn device_id(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.to_string())
}

fn device_name(device: &cpal::Device) -> String {
    match device.description() {
        Ok(d) => d.name().to_string(),
        Err(_) => device_id(device).unwrap_or_else(|| "unknown".into()),
    }
}

/// Input and output devices with names and which one is the system default.
pub fn list_devices() -> Result<Vec<AudioDevice>, DeviceError> {
    let host = host();
    let default_in = host.default_input_device();
    let default_out = host.default_output_device();
    let default_in_id = default_in.as_ref().and_then(device_id);
    let default_out_id = default_out.as_ref().and_then(device_id);
    let mut out = Vec::new();
    let devices = host
        .devices()
        .map_err(|e| DeviceError::Host(e.to_string()))?;
    for device in devices {
        let Some(id) = device_id(&device) else {
            continue;
        };
        let name = device_name(&device);
        for (is_input, supported, default_id) in [
            (true, device.supports_input(), &default_in_id),
            (false, device.supports_output(), &default_out_id),
        ] {
            if supported {
                out.push(AudioDevice {
                    id: id.clone(),
                    name: name.clone(),
                    is_input,
                    is_default: default_id.as_deref() == Some(id.as_str()),
                });
            }
        }
    }
    // Hosts (ALSA) whose default is a virtual device that enumeration may not list.
    for (is_input, device) in [(true, default_in), (false, default_out)] {
        let Some(device) = device else { continue };
        let Some(id) = device_id(&device) else {
            continue;
        };
        if !out.iter().any(|d| d.is_input == is_input && d.id == id) {
            out.push(AudioDevice {
                name: device_name(&device),
                id,
                is_input,
                is_default: true,
            });
        }
    }
    Ok(out)
}

fn find_device(id: Option<&str>, input: bool) -> Result<cpal::Device, DeviceError> {
    let kind = if input { "input" } else { "output" };
    let host = host();
    let not_found = || DeviceError::NotFound {
        kind,
        id: id.unwrap_or("default").to_string(),
    };
    let Some(id) = id else {
        let d = if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        };
        return d.ok_or_else(not_found);
    };
    // A bare ALSA pcm name ("default", "hw:0,0") is accepted as well as "alsa:default".
    let parsed: Option<cpal::DeviceId> = id.parse().ok();
    if let Some(d) = parsed.as_ref().and_then(|p| host.device_by_id(p)) {
        return Ok(d);
    }
    let devices = host
        .devices()
        .map_err(|e| DeviceError::Host(e.to_string()))?;
    for d in devices {
        let Some(did) = d.id().ok() else { continue };
        if did.to_string() == id || did.id() == id {
            return Ok(d);
        }
    }
    // The default device may be absent from enumeration (ALSA `default`).
    let default = if input {
        host.default_input_device()
    } else {
        host.default_output_device()
    };
    match default {
        Some(d)
            if d.id()
                .is_ok_and(|did| did.to_string() == id || did.id() == id) =>
        {
            Ok(d)
        }
        _ => Err(not_found()),
    }
}

/// A chosen device that is gone (unplugged headset, a stale id in the settings) gives way to
/// the system default: the call or the ringer still sounds, and the caller reports why.
/// `open` is `InputDevice::open` or `OutputDevice::open`.
pub fn open_or_default<D>(
    id: Option<&str>,
    codec_rate: u32,
    open: impl Fn(Option<&str>, u32) -> Result<D, DeviceError>,
) -> Result<(D, Option<DeviceFallback>), DeviceError> {
    match open(id, codec_rate) {
        Ok(d) => Ok((d, None)),
        Err(e @ DeviceError::NotFound { .. }) if id.is_some() => {
            let kind = match &e {
                DeviceError::NotFound { kind, .. } => *kind,
                _ => "output",
            };
            tracing::warn!(error = %e, kind, "chosen sound device is gone; using the system default");
            // When the default fails too, the device asked for is what the agent must hear of.
            let d = match open(None, codec_rate) {
                Ok(d) => d,
                Err(e2) => {
                    tracing::warn!(error = %e2, kind, "the default sound device failed too");
                    return Err(e);
                }
            };
            Ok((
                d,
                Some(DeviceFallback {
                    kind,
                    wanted: id.unwrap_or_default().to_string(),
                    reason: e.to_string(),
                }),
            ))
        }
        Err(e) => Err(e),
    }
}

/// The chosen device was not found and the system default is used instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFallback {
    /// `"input"` or `"output"`.
    pub kind: &'static str,
    /// The id that was asked for.
    pub wanted: String,
    pub reason: String,
}

/// Error kinds reported by a device's error callback, as atomics (no allocation there).
const ERR_NONE: u8 = 0;
const ERR_GONE: u8 = 1;

/// Counters shared between a device callback and the engine.
#[derive(Debug, Default)]
pub struct DeviceCounters {
    /// Capture: samples dropped because the ring was full (the engine fell behind).
    pub overflows: AtomicU64,
    /// Playback: callbacks that found the ring short and played silence.
    pub underruns: AtomicU64,
    /// Device-level over/underruns (ALSA xruns) reported by the backend.
    pub xruns: AtomicU64,
    /// Other backend errors (the stream went on).
    pub errors: AtomicU64,
    /// Callbacks run (a stalled device stops counting).
    pub callbacks: AtomicU64,
    /// A fatal error (`ERR_*`).
    failed: AtomicU8,
    /// Playback only counts underruns once the engine has started feeding it.
    started: AtomicBool,
}

impl DeviceCounters {
    fn on_error(&self, e: &cpal::Error) {
        match e.kind() {
            cpal::ErrorKind::Xrun => {
                self.xruns.fetch_add(1, Ordering::Relaxed);
            }
            cpal::ErrorKind::DeviceNotAvailable
            | cpal::ErrorKind::StreamInvalidated
            | cpal::ErrorKind::DeviceChanged => self.failed.store(ERR_GONE, Ordering::Relaxed),
            // The worker keeps going after other errors (a sound server reconnecting a
            // stream reports a few): count them; a stream that stays dead stalls, which the
            // engine detects.
            _ => {
                self.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn failure(&self) -> Option<&'static str> {
        match self.failed.load(Ordering::Relaxed) {
            ERR_NONE => None,
            _ => Some("the device was disconnected or changed"),
        }
    }
}

/// Buffer per device callback: ~10 ms at the native rate.
const PERIOD: Duration = Duration::from_millis(10);
/// Sound servers take a while to start a stream (PulseAudio ~1-2 s).
pub const STARTUP: Duration = Duration::from_secs(4);
/// Backend errors in a row without audio moving: the stream is stuck.
const STUCK_ERRORS: u64 = 10;
/// Playback callbacks that only prefill the device buffer before the stream really runs.
const PREFILL_CALLBACKS: u64 = 8;
/// Ring capacity between a callback and the engine.
const RING: Duration = Duration::from_millis(300);

fn samples(rate: u32, d: Duration) -> usize {
    (u128::from(rate) * d.as_micros() / 1_000_000) as usize
}

/// Picks a stream config: the default format and channel count, 48 kHz when the device takes
/// it (what most hardware runs at natively), ~10 ms periods.
fn choose_config(
    device: &cpal::Device,
    input: bool,
) -> Result<(StreamConfig, SampleFormat), cpal::Error> {
    let default = if input {
        device.default_input_config()?
    } else {
        device.default_output_config()?
    };
    let format = default.sample_format();
    let channels = default.channels();
    let ranges: Vec<_> = if input {
        device.supported_input_configs()?.collect()
    } else {
        device.supported_output_configs()?.collect()
    };
    let rate = if ranges
        .iter()
        .any(|r| r.sample_format() == format && r.channels() == channels && r.contains_rate(48_000))
    {
        48_000
    } else {
        default.sample_rate()
    };
    Ok((
        StreamConfig {
            channels,
            sample_rate: rate,
            buffer_size: cpal::BufferSize::Fixed(samples(rate, PERIOD) as u32),
        },
        format,
    ))
}

fn open_err(kind: &'static str, name: &str, e: impl std::fmt::Display) -> DeviceError {
    DeviceError::Open {
        kind,
        name: name.to_string(),
        message: e.to_string(),
    }
}

/// Builds a stream with small fixed periods, falling back to the device's default buffer if
/// it refuses them.
fn build_with_fallback<S>(
    kind: &'static str,
    name: &str,
    config: StreamConfig,
    build: impl Fn(StreamConfig) -> Result<S, cpal::Error>,
) -> Result<(S, StreamConfig), DeviceError> {
    match build(config) {
        Ok(s) => Ok((s, config)),
        Err(e) => {
            tracing::debug!(error = %e, kind, name, "small device buffer refused; using the default");
            let config = StreamConfig {
                buffer_size: cpal::BufferSize::Default,
                ..config
            };
            build(config)
                .map(|s| (s, config))
                .map_err(|e| open_err(kind, name, e))
        }
    }
}

fn capture_callback<T>(
    mut producer: rtrb::Producer<f32>,
    channels: usize,
    counters: Arc<DeviceCounters>,
) -> impl FnMut(&[T], &cpal::InputCallbackInfo) + Send + 'static
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let scale = 1.0 / channels.max(1) as f32;
    move |data: &[T], _| {
        counters.callbacks.fetch_add(1, Ordering::Relaxed);
        let mut dropped = 0u64;
        for frame in data.chunks(channels.max(1)) {
            let mono = frame.iter().map(|&s| s.to_sample::<f32>()).sum::<f32>() * scale;
            if producer.push(mono).is_err() {
                dropped += 1;
            }
        }
        if dropped > 0 {
            counters.overflows.fetch_add(dropped, Ordering::Relaxed);
        }
    }
}

fn playback_callback<T>(
    mut consumer: rtrb::Consumer<f32>,
    channels: usize,
    counters: Arc<DeviceCounters>,
) -> impl FnMut(&mut [T], &cpal::OutputCallbackInfo) + Send + 'static
where
    T: SizedSample + FromSample<f32>,
{
    move |data: &mut [T], _| {
        counters.callbacks.fetch_add(1, Ordering::Relaxed);
        let mut short = false;
        for frame in data.chunks_mut(channels.max(1)) {
            let v = match consumer.pop() {
                Ok(v) => v,
                Err(_) => {
                    short = true;
                    0.0
                }
            };
            let s = T::from_sample(v);
            for out in frame.iter_mut() {
                *out = s;
            }
        }
        if short && counters.started.load(Ordering::Relaxed) {
            counters.underruns.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Dropping a cpal stream joins its worker thread, which can hang for good inside a sound
/// server's client library once the server is gone (seen with the ALSA pulse plugin). The
/// stream is dropped on a helper thread and abandoned if that takes more than 250 ms.
fn close_stream(stream: cpal::Stream, name: &str) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut stream = Some(stream);
    let spawned = std::thread::Builder::new()
        .name("media-device-close".into())
        .spawn({
            let stream = stream.take();
            move || {
                drop(stream);
                let _ = done_tx.send(());
            }
        });
    match spawned {
        Ok(_) => {
            if done_rx.recv_timeout(Duration::from_millis(250)).is_err() {
                tracing::warn!(device = name, "sound device did not close; abandoning it");
            }
        }
        Err(_) => drop(stream),
    }
}

impl Drop for InputDevice {
    fn drop(&mut self) {
        if let Some(s) = self.stream.take() {
            close_stream(s, &self.name);
        }
    }
}

impl Drop for OutputDevice {
    fn drop(&mut self) {
        if let Some(s) = self.stream.take() {
            close_stream(s, &self.name);
        }
    }
}

/// A microphone: the capture callback fills a ring at the native rate; the engine takes
/// codec-rate frames out, waiting for the device (the device's clock paces the call).
pub struct InputDevice {
    name: String,
    stream: Option<cpal::Stream>,
    consumer: rtrb::Consumer<f32>,
    counters: Arc<DeviceCounters>,
    native_rate: u32,
    resampler: Resampler,
    pending: VecDeque<i16>,
    scratch: Vec<f32>,
    resampled: Vec<f32>,
}

impl InputDevice {
    /// Opens `id` (or the default input) and starts capturing.
    pub fn open(id: Option<&str>, codec_rate: u32) -> Result<Self, DeviceError> {
        const KIND: &str = "input";
        let device = find_device(id, true)?;
        let name = device_name(&device);
        let (config, format) =
            choose_config(&device, true).map_err(|e| open_err(KIND, &name, e))?;
        let capacity = samples(config.sample_rate, RING);
        let counters = Arc::new(DeviceCounters::default());
        let channels = usize::from(config.channels);
        // The ring is moved into the callback, so each attempt needs its own.
        let build = |config: StreamConfig| {
            let (producer, consumer) = rtrb::RingBuffer::<f32>::new(capacity);
            let c = Arc::clone(&counters);
            let err = Arc::clone(&counters);
            let on_error = move |e: cpal::Error| err.on_error(&e);
            let stream = match format {
                SampleFormat::F32 => device.build_input_stream(
                    config,
                    capture_callback::<f32>(producer, channels, c),
                    on_error,
                    None,
                ),
                SampleFormat::I16 => device.build_input_stream(
                    config,
                    capture_callback::<i16>(producer, channels, c),
                    on_error,
                    None,
                ),
                SampleFormat::I32 => device.build_input_stream(
                    config,
                    capture_callback::<i32>(producer, channels, c),
                    on_error,
                    None,
                ),
                SampleFormat::U8 => device.build_input_stream(
                    config,
                    capture_callback::<u8>(producer, channels, c),
                    on_error,
                    None,
                ),
                other => Err(cpal::Error::with_message(
                    cpal::ErrorKind::UnsupportedConfig,
                    format!("sample format {other}"),
                )),
            }?;
            Ok((stream, consumer))
        };
        let ((stream, consumer), config) = build_with_fallback(KIND, &name, config, build)?;
        stream.play().map_err(|e| open_err(KIND, &name, e))?;
        tracing::info!(device = %name, rate = config.sample_rate, channels, buffer = ?config.buffer_size, "capture opened");
        Ok(InputDevice {
            name,
            stream: Some(stream),
            consumer,
            counters,
            native_rate: config.sample_rate,
            resampler: Resampler::new(config.sample_rate, codec_rate),
            pending: VecDeque::new(),
            scratch: Vec::new(),
            resampled: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn native_rate(&self) -> u32 {
        self.native_rate
    }

    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }

    /// Moves whatever the callback captured through the resampler.
    fn drain(&mut self) {
        let n = self.consumer.slots();
        if n == 0 {
            return;
        }
        self.scratch.clear();
        if let Ok(chunk) = self.consumer.read_chunk(n) {
            let (a, b) = chunk.as_slices();
            self.scratch.extend_from_slice(a);
            self.scratch.extend_from_slice(b);
            chunk.commit_all();
        }
        self.resampled.clear();
        self.resampler.process(&self.scratch, &mut self.resampled);
        self.pending.extend(
            self.resampled
                .iter()
                .map(|&v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
        );
    }

    /// Waits until the device has captured `n` codec-rate samples and returns them. Fails when
    /// the device reports an error or delivers nothing for `stall`; returns `Ok(None)` when
    /// `stop` is set first. `max_backlog` bounds latency: older audio beyond it is discarded
    /// (counted as overflow), which only happens if the engine thread was starved.
    pub fn read_frame(
        &mut self,
        n: usize,
        stop: &AtomicBool,
        stall: Duration,
        max_backlog: usize,
    ) -> Result<Option<Vec<i16>>, DeviceError> {
        let started = Instant::now();
        // Until the first callback, allow for the sound server starting the stream.
        let stall = if self.counters.callbacks.load(Ordering::Relaxed) == 0 {
            stall.max(STARTUP)
        } else {
            stall
        };
        loop {
            self.drain();
            if self.pending.len() >= n {
                if self.pending.len() > max_backlog.max(n) {
                    let excess = self.pending.len() - max_backlog.max(n);
                    self.pending.drain(..excess);
                    self.counters
                        .overflows
                        .fetch_add(excess as u64, Ordering::Relaxed);
                }
                return Ok(Some(self.pending.drain(..n).collect()));
            }
            if let Some(message) = self.counters.failure() {
                return Err(DeviceError::Failed {
                    kind: "input",
                    name: self.name.clone(),
                    message: message.into(),
                });
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            if started.elapsed() > stall {
                return Err(DeviceError::Stalled {
                    kind: "input",
                    name: self.name.clone(),
                });
            }
            // The ring is polled rather than signalled so the callback never makes a syscall.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A speaker: the engine pushes codec-rate frames (resampled to the native rate) into a ring
/// that the playback callback drains.
pub struct OutputDevice {
    name: String,
    stream: Option<cpal::Stream>,
    producer: rtrb::Producer<f32>,
    counters: Arc<DeviceCounters>,
    native_rate: u32,
    resampler: Resampler,
    scratch: Vec<f32>,
    period: usize,
    last_callbacks: u64,
    last_errors: u64,
    last_progress: Instant,
}

impl OutputDevice {
    /// Opens `id` (or the default output) and starts playing (silence until fed).
    pub fn open(id: Option<&str>, codec_rate: u32) -> Result<Self, DeviceError> {
        const KIND: &str = "output";
        let device = find_device(id, false)?;
        let name = device_name(&device);
        let (config, format) =
            choose_config(&device, false).map_err(|e| open_err(KIND, &name, e))?;
        let capacity = samples(config.sample_rate, RING);
        let counters = Arc::new(DeviceCounters::default());
        let channels = usize::from(config.channels);
        let build = |config: StreamConfig| {
            let (producer, consumer) = rtrb::RingBuffer::<f32>::new(capacity);
            let c = Arc::clone(&counters);
            let err = Arc::clone(&counters);
            let on_error = move |e: cpal::Error| err.on_error(&e);
            let stream = match format {
                SampleFormat::F32 => device.build_output_stream(
                    config,
                    playback_callback::<f32>(consumer, channels, c),
                    on_error,
                    None,
                ),
                SampleFormat::I16 => device.build_output_stream(
                    config,
                    playback_callback::<i16>(consumer, channels, c),
                    on_error,
                    None,
                ),
                SampleFormat::I32 => device.build_output_stream(
                    config,
                    playback_callback::<i32>(consumer, channels, c),
                    on_error,
                    None,
                ),
                SampleFormat::U8 => device.build_output_stream(
                    config,
                    playback_callback::<u8>(consumer, channels, c),
                    on_error,
                    None,
                ),
                other => Err(cpal::Error::with_message(
                    cpal::ErrorKind::UnsupportedConfig,
                    format!("sample format {other}"),
                )),
            }?;
            Ok((stream, producer))
        };
        let ((stream, producer), config) = build_with_fallback(KIND, &name, config, build)?;
        stream.play().map_err(|e| open_err(KIND, &name, e))?;
        let period = stream
            .buffer_size()
            .map(|p| p as usize)
            .unwrap_or_else(|_| samples(config.sample_rate, PERIOD));
        tracing::info!(device = %name, rate = config.sample_rate, channels, buffer = ?config.buffer_size, "playback opened");
        Ok(OutputDevice {
            name,
            stream: Some(stream),
            producer,
            counters,
            native_rate: config.sample_rate,
            resampler: Resampler::new(codec_rate, config.sample_rate),
            scratch: Vec::new(),
            period,
            last_callbacks: 0,
            last_errors: 0,
            last_progress: Instant::now(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn native_rate(&self) -> u32 {
        self.native_rate
    }

    pub fn counters(&self) -> &DeviceCounters {
        &self.counters
    }

    /// Native-rate samples the playback callback takes at a time.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Native-rate samples queued for the playback callback.
    pub fn queued(&self) -> usize {
        self.producer.buffer().capacity() - self.producer.slots()
    }

    /// Resamples a codec-rate frame and queues it (what does not fit is dropped).
    pub fn push_frame(&mut self, frame: &[i16]) {
        self.counters.started.store(true, Ordering::Relaxed);
        let input: Vec<f32> = frame.iter().map(|&s| f32::from(s) / 32768.0).collect();
        self.scratch.clear();
        self.resampler.process(&input, &mut self.scratch);
        let mut dropped = 0u64;
        for &v in &self.scratch {
            if self.producer.push(v).is_err() {
                dropped += 1;
            }
        }
        if dropped > 0 {
            self.counters
                .overflows
                .fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// An error from the backend, or no callback for `stall` (a device that stopped).
    pub fn check(&mut self, stall: Duration) -> Result<(), DeviceError> {
        if let Some(message) = self.counters.failure() {
            return Err(DeviceError::Failed {
                kind: "output",
                name: self.name.clone(),
                message: message.into(),
            });
        }
        let callbacks = self.counters.callbacks.load(Ordering::Relaxed);
        let errors = self.counters.errors.load(Ordering::Relaxed);
        if callbacks != self.last_callbacks {
            self.last_callbacks = callbacks;
            self.last_errors = errors;
            self.last_progress = Instant::now();
        } else if errors > self.last_errors + STUCK_ERRORS {
            // e.g. the ALSA pulse plugin answering EIO after an xrun, round and round.
            return Err(DeviceError::Failed {
                kind: "output",
                name: self.name.clone(),
                message: "the audio backend keeps failing".into(),
            });
        } else if self.last_progress.elapsed()
            > if callbacks <= PREFILL_CALLBACKS {
                stall.max(STARTUP)
            } else {
                stall
            }
        {
            return Err(DeviceError::Stalled {
                kind: "output",
                name: self.name.clone(),
            });
        }
        Ok(())
    }
}

/// Streaming band-limited resampler: each output sample is a windowed-sinc interpolation of
/// the input at its fractional position (Blackman window, 12 zero crossings a side, cut-off
/// 95% of the lower Nyquist frequency), with the kernel read from a table. Cost is ~150
/// multiply-adds per 8 kHz output sample when decimating from 48 kHz and ~24 per 48 kHz output
/// sample when interpolating from 8 kHz; delay ~1 ms.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// from / to: input samples per output sample.
    step: f64,
    /// Cut-off as a fraction of the input Nyquist frequency (<= 1).
    fc: f64,
    /// Input samples each side of the output position that the kernel reaches.
    reach: usize,
    table: Vec<f32>,
    /// Unconsumed input, starting `reach` samples before `pos` can reach.
    buf: Vec<f32>,
    pos: f64,
    passthrough: bool,
}

const ZERO_CROSSINGS: usize = 12;
/// Kernel table entries per zero crossing.
const TABLE_RES: usize = 256;

impl Resampler {
    pub fn new(from: u32, to: u32) -> Self {
        let (from, to) = (from.max(1), to.max(1));
        let fc = 0.95 * (f64::from(to) / f64::from(from)).min(1.0);
        let reach = (ZERO_CROSSINGS as f64 / fc).ceil() as usize + 1;
        let n = ZERO_CROSSINGS * TABLE_RES;
        let table = (0..=n + 1)
            .map(|i| {
                let x = i as f64 / TABLE_RES as f64; // in zero crossings
                if x >= ZERO_CROSSINGS as f64 {
                    return 0.0;
                }
                let sinc = if x == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                };
                // Blackman window over [-ZC, ZC], evaluated at x.
                let t = std::f64::consts::PI * (x / ZERO_CROSSINGS as f64 + 1.0);
                let w = 0.42 - 0.5 * t.cos() + 0.08 * (2.0 * t).cos();
                (sinc * w) as f32
            })
            .collect();
        Resampler {
            step: f64::from(from) / f64::from(to),
            fc,
            reach,
            table,
            // Leading zeros stand for the silence before the stream.
            buf: vec![0.0; reach],
            pos: reach as f64,
            passthrough: from == to,
        }
    }

    /// Input samples the kernel reads past the output position (held back until they come).
    pub fn look_ahead(&self) -> usize {
        self.reach
    }

    /// The gain applied to each output (the cut-off as a fraction of the input band).
    pub(crate) fn gain(&self) -> f32 {
        self.fc as f32
    }

    /// The kernel at `d` input samples from the output position.
    pub(crate) fn kernel(&self, d: f64) -> f32 {
        let u = (d.abs() * self.fc * TABLE_RES as f64) as f32;
        let i = u as usize;
        if i + 1 >= self.table.len() {
            return 0.0;
        }
        let f = u - i as f32;
        self.table[i] + (self.table[i + 1] - self.table[i]) * f
    }

    /// Appends the output for `input` to `out` (state carries over between calls).
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend_from_slice(input);
        let gain = self.fc as f32;
        while (self.pos as usize) + self.reach < self.buf.len() {
            let center = self.pos as usize;
            let lo = center + 1 - self.reach;
            let hi = center + self.reach;
            let mut acc = 0.0f32;
            for (n, &x) in self.buf[lo..=hi].iter().enumerate() {
                acc += x * self.kernel(self.pos - (lo + n) as f64);
            }
            out.push(acc * gain);
            self.pos += self.step;
        }
        // Keep what the next outputs still reach.
        let keep_from = (self.pos as usize + 1).saturating_sub(self.reach);
        self.buf.drain(..keep_from);
        self.pos -= keep_from as f64;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tone(rate: u32, freq: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Feeds `input` in uneven chunks, as device callbacks deliver it.
    fn run(r: &mut Resampler, input: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        let mut i = 0;
        let mut chunk = 37;
        while i < input.len() {
            let end = (i + chunk).min(input.len());
            r.process(&input[i..end], &mut out);
            i = end;
            chunk = chunk * 7 % 500 + 1;
        }
        out
    }

    #[test]
    fn resampler_keeps_length_and_passband() {
        for (from, to) in [
            (48_000, 8_000),
            (48_000, 16_000),
            (8_000, 48_000),
            (44_100, 16_000),
        ] {
            let mut r = Resampler::new(from, to);
            let input = tone(from, 1000.0, from as usize); // one second
            let out = run(&mut r, &input);
            let expected = to as usize;
            // The kernel's look-ahead (`reach` input samples) is held back until more comes.
            let slack = (r.reach as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize + 2;
            assert!(
                out.len().abs_diff(expected) <= slack,
                "{from}->{to}: {}",
                out.len()
            );
            // Past the filter's start-up, a 1 kHz tone keeps its level.
            let level = rms(&out[to as usize / 10..]);
            assert!(
                (level / rms(&input) - 1.0).abs() < 0.05,
                "{from}->{to}: {level}"
            );
        }
    }

    #[test]
    fn downsampling_rejects_what_would_alias() {
        // 6 kHz at 48 kHz would fold to 2 kHz at 8 kHz.
        let mut r = Resampler::new(48_000, 8_000);
        let out = run(&mut r, &tone(48_000, 6000.0, 48_000));
        let level = rms(&out[800..]);
        assert!(level < 0.01, "alias level {level}");
    }

    #[test]
    fn same_rate_is_passthrough() {
        let mut r = Resampler::new(48_000, 48_000);
        let mut out = Vec::new();
        r.process(&[0.1, 0.2], &mut out);
        assert_eq!(out, [0.1, 0.2]);
    }

    #[test]
    fn unknown_device_is_a_clear_error() {
        match InputDevice::open(Some("alsa:no-such-device-xyz"), 8000) {
            Err(DeviceError::NotFound { kind: "input", id }) => {
                assert_eq!(id, "alsa:no-such-device-xyz")
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a device that does not exist"),
        }
    }
}
