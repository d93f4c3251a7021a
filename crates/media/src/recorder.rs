//! Call recording: both sides of a call to a stereo 16-bit WAV (left = the agent's microphone
//! as sent, right = the far end as played), at the codec's clock rate, one frame per tick.
//!
//! The clock thread only copies samples into a lock-free ring ([`RecordingTap::push`]: no
//! allocation, no file I/O, no lock); a writer thread drains it to the file. The WAV header is
//! rewritten every [`HEADER_EVERY`], so after a crash the file plays up to the last rewrite
//! (and `seatline-recordings` repairs the header from the file length on scan). A paused span
//! is written as silence of its real length, so the file's timeline stays the call's. An I/O
//! error (disk full, removed folder) stops the recording and is reported; the call goes on.

use crate::engine::MediaEvent;
use rtrb::{Consumer, Producer, RingBuffer};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

/// How often the header's lengths are brought up to date (crash recovery granularity).
pub const HEADER_EVERY: Duration = Duration::from_secs(1);
/// Ring size in seconds of audio: how long the writer may stall (slow disk) before frames drop.
const RING_SECONDS: usize = 4;
/// Pause/resume marks in flight between the clock thread and the writer.
const MARKS: usize = 64;

#[derive(Debug, Error)]
pub enum RecordingError {
    #[error("cannot create the recording {path}: {source}")]
    Create { path: PathBuf, source: hound::Error },
    #[error("writing the recording {path} failed: {source}")]
    Write { path: PathBuf, source: hound::Error },
    #[error("cannot start the recording thread: {0}")]
    Thread(std::io::Error),
}

/// A paused span, in sample frames from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PausedSpan {
    pub start: u64,
    /// `None`: still paused when the recording ended.
    pub end: Option<u64>,
}

/// What a finished (or failed) recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    pub path: PathBuf,
    pub rate: u32,
    /// Stereo sample frames written to the file.
    pub frames: u64,
    pub paused: Vec<PausedSpan>,
    /// Frames lost because the writer fell behind (the ring was full).
    pub dropped_frames: u64,
    /// Why the recording stopped early, if it did.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    paused: bool,
    at: u64,
}

/// State both ends and the call's handle see.
#[derive(Debug, Default)]
pub struct RecordingControl {
    paused: AtomicBool,
    failed: AtomicBool,
    finished: AtomicBool,
}

impl RecordingControl {
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
    /// The writer stopped on an error; the tap pushes nothing more.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }
}

/// The clock thread's end: copies one tick's two frames into the ring.
pub struct RecordingTap {
    samples: Producer<i16>,
    marks: Producer<Mark>,
    control: Arc<RecordingControl>,
    was_paused: bool,
    /// Frames handed to the ring (the file's timeline).
    frames: u64,
    dropped: Arc<AtomicU64>,
    /// The microphone frame of this tick, copied before the encoder takes it; capacity for
    /// the longest ptime, so staging never allocates.
    mic: Vec<i16>,
    mic_staged: bool,
}

impl RecordingTap {
    /// Keeps this tick's sent microphone frame (`None`: nothing audible was sent) for
    /// [`RecordingTap::push_staged`].
    pub fn stage_mic(&mut self, mic: Option<&[i16]>) {
        self.mic.clear();
        self.mic_staged = false;
        if let Some(m) = mic {
            if m.len() <= self.mic.capacity() {
                self.mic.extend_from_slice(m);
                self.mic_staged = true;
            }
        }
    }

    /// Pushes the staged microphone frame (silence if none was staged this tick) and `played`.
    pub fn push_staged(&mut self, played: &[i16]) {
        let mic = std::mem::take(&mut self.mic);
        let staged = std::mem::replace(&mut self.mic_staged, false);
        self.push(staged.then_some(mic.as_slice()), played);
        self.mic = mic;
    }

    /// One tick: `mic` is what was sent (`None`: nothing was sent, i.e. muted or on hold:
    /// silence), `played` what went to the speaker. Both are one frame long. While paused
    /// both channels are silence.
    pub fn push(&mut self, mic: Option<&[i16]>, played: &[i16]) {
        if self.control.failed.load(Ordering::Relaxed) {
            return;
        }
        let paused = self.control.paused.load(Ordering::Relaxed);
        if paused != self.was_paused {
            self.was_paused = paused;
            // A full mark ring means the writer is gone or hopelessly behind; the samples
            // themselves are still silent, only the sidecar's span is lost.
            let _ = self.marks.push(Mark {
                paused,
                at: self.frames,
            });
        }
        let n = played.len();
        let Ok(chunk) = self.samples.write_chunk_uninit(2 * n) else {
            self.dropped.fetch_add(n as u64, Ordering::Relaxed);
            return;
        };
        let mic = mic.filter(|m| m.len() == n && !paused);
        let iter = (0..n).flat_map(|i| {
            let left = mic.map_or(0, |m| m[i]);
            let right = if paused { 0 } else { played[i] };
            [left, right]
        });
        chunk.fill_from_iter(iter);
        self.frames += n as u64;
    }

    pub fn control(&self) -> &Arc<RecordingControl> {
        &self.control
    }
}

impl Drop for RecordingTap {
    fn drop(&mut self) {
        // The writer drains what is left, then finalizes.
        self.control.finished.store(true, Ordering::Release);
    }
}

/// The writer thread's handle.
pub struct RecordingWriter {
    thread: Option<JoinHandle<RecordingSummary>>,
    control: Arc<RecordingControl>,
}

impl RecordingWriter {
    pub fn control(&self) -> &Arc<RecordingControl> {
        &self.control
    }

    /// Waits for the writer to drain and finalize (the tap must be dropped first, else this
    /// waits for it).
    pub fn finish(mut self) -> Option<RecordingSummary> {
        self.thread.take().and_then(|t| t.join().ok())
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.control.finished.store(true, Ordering::Release);
            let _ = t.join();
        }
    }
}

/// Creates the file and starts its writer. `events` gets a `RecordingFailed` if writing fails
/// later.
pub fn start(
    path: &Path,
    rate: u32,
    events: Sender<MediaEvent>,
) -> Result<(RecordingTap, RecordingWriter), RecordingError> {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer =
        hound::WavWriter::create(path, spec).map_err(|source| RecordingError::Create {
            path: path.to_path_buf(),
            source,
        })?;
    // A header on disk at once: a crash before the first rewrite leaves a valid empty file.
    writer.flush().map_err(|source| RecordingError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let (samples, consumer) = RingBuffer::new(2 * rate as usize * RING_SECONDS);
    let (marks, mark_rx) = RingBuffer::new(MARKS);
    let control = Arc::new(RecordingControl::default());
    let dropped = Arc::new(AtomicU64::new(0));
    let job = WriterJob {
        path: path.to_path_buf(),
        rate,
        writer: Some(writer),
        samples: consumer,
        marks: mark_rx,
        control: Arc::clone(&control),
        dropped: Arc::clone(&dropped),
        events,
    };
    let thread = std::thread::Builder::new()
        .name("media-recorder".into())
        .spawn(move || job.run())
        .map_err(RecordingError::Thread)?;
    Ok((
        RecordingTap {
            samples,
            marks,
            control: Arc::clone(&control),
            was_paused: false,
            frames: 0,
            dropped,
            // 120 ms, the longest ptime the engine takes.
            mic: Vec::with_capacity(rate as usize * 120 / 1000 + 1),
            mic_staged: false,
        },
        RecordingWriter {
            thread: Some(thread),
            control,
        },
    ))
}

struct WriterJob {
    path: PathBuf,
    rate: u32,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    samples: Consumer<i16>,
    marks: Consumer<Mark>,
    control: Arc<RecordingControl>,
    dropped: Arc<AtomicU64>,
    events: Sender<MediaEvent>,
}

impl WriterJob {
    fn run(mut self) -> RecordingSummary {
        let mut paused: Vec<PausedSpan> = Vec::new();
        let mut written: u64 = 0;
        let mut error = None;
        let mut last_header = Instant::now();
        loop {
            // Read `finished` before draining: what the tap pushed before it is then drained.
            let finished = self.control.finished.load(Ordering::Acquire);
            while let Ok(m) = self.marks.pop() {
                if m.paused {
                    paused.push(PausedSpan {
                        start: m.at,
                        end: None,
                    });
                } else if let Some(open) = paused.last_mut().filter(|s| s.end.is_none()) {
                    open.end = Some(m.at);
                }
            }
            let result = self.drain(&mut written).and_then(|()| {
                if last_header.elapsed() >= HEADER_EVERY {
                    last_header = Instant::now();
                    self.flush_header()
                } else {
                    Ok(())
                }
            });
            if let Err(source) = result {
                let e = RecordingError::Write {
                    path: self.path.clone(),
                    source,
                };
                tracing::warn!(error = %e, "recording stopped; the call goes on unrecorded");
                self.control.failed.store(true, Ordering::Relaxed);
                let _ = self.events.send(MediaEvent::RecordingFailed(e.to_string()));
                error = Some(e.to_string());
                // hound's drop tries to finalize once more and ignores the error: the header
                // then counts what did reach the disk, and the file is closed.
                drop(self.writer.take());
                break;
            }
            if finished {
                if let Some(w) = self.writer.take() {
                    if let Err(source) = w.finalize() {
                        let e = RecordingError::Write {
                            path: self.path.clone(),
                            source,
                        };
                        tracing::warn!(error = %e, "recording could not be finalized");
                        let _ = self.events.send(MediaEvent::RecordingFailed(e.to_string()));
                        error = Some(e.to_string());
                    }
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        RecordingSummary {
            path: self.path,
            rate: self.rate,
            frames: written,
            paused,
            dropped_frames: self.dropped.load(Ordering::Relaxed),
            error,
        }
    }

    fn drain(&mut self, written: &mut u64) -> Result<(), hound::Error> {
        let Some(w) = &mut self.writer else {
            return Ok(());
        };
        let n = self.samples.slots() & !1;
        if n == 0 {
            return Ok(());
        }
        let chunk = match self.samples.read_chunk(n) {
            Ok(c) => c,
            Err(_) => return Ok(()),
        };
        let (a, b) = chunk.as_slices();
        {
            let mut i16w = w.get_i16_writer(n as u32);
            for &s in a.iter().chain(b) {
                i16w.write_sample(s);
            }
            i16w.flush()?;
        }
        chunk.commit_all();
        *written += (n / 2) as u64;
        Ok(())
    }

    fn flush_header(&mut self) -> Result<(), hound::Error> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

/// A recorder that could not start never fails the call: it is reported and the call runs
/// unrecorded.
pub(crate) fn start_or_report(
    path: &Path,
    rate: u32,
    events: &Sender<MediaEvent>,
) -> Option<(RecordingTap, RecordingWriter)> {
    match start(path, rate, events.clone()) {
        Ok(r) => {
            tracing::info!(path = %path.display(), rate, "call recording started");
            let _ = events.send(MediaEvent::RecordingStarted(path.to_path_buf()));
            Some(r)
        }
        Err(e) => {
            tracing::warn!(error = %e, "call recording unavailable; the call goes on unrecorded");
            let _ = events.send(MediaEvent::RecordingFailed(e.to_string()));
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    fn frame(v: i16) -> Vec<i16> {
        vec![v; 160]
    }

    #[test]
    fn both_sides_land_in_their_channels_and_pauses_are_silence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call.wav");
        let (tx, _rx) = channel();
        let (mut tap, writer) = start(&path, 8000, tx).unwrap();
        tap.push(Some(&frame(100)), &frame(-200));
        tap.control().set_paused(true);
        tap.push(Some(&frame(100)), &frame(-200));
        tap.push(Some(&frame(100)), &frame(-200));
        tap.control().set_paused(false);
        tap.push(None, &frame(7));
        drop(tap);
        let summary = writer.finish().unwrap();
        assert_eq!(summary.frames, 640);
        assert_eq!(summary.error, None);
        assert_eq!(
            summary.paused,
            [PausedSpan {
                start: 160,
                end: Some(480)
            }]
        );
        let mut r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.spec().channels, 2);
        let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
        assert_eq!(s.len(), 1280);
        assert_eq!((s[0], s[1]), (100, -200));
        assert!(s[320..960].iter().all(|&v| v == 0), "paused span silent");
        assert_eq!((s[960], s[961]), (0, 7));
    }

    #[test]
    fn header_is_valid_before_the_recording_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.wav");
        let (tx, _rx) = channel();
        let (mut tap, writer) = start(&path, 8000, tx).unwrap();
        for _ in 0..10 {
            tap.push(Some(&frame(1)), &frame(2));
        }
        std::thread::sleep(HEADER_EVERY + Duration::from_millis(300));
        // As a crash would leave it: the header already counts what was written.
        let r = hound::WavReader::open(&path).unwrap();
        assert_eq!(r.len(), 3200);
        drop(tap);
        assert_eq!(writer.finish().unwrap().frames, 1600);
    }

    #[test]
    fn a_full_disk_is_reported_and_stops_the_tap() {
        let (tx, rx) = channel();
        // /dev/full takes the header into the buffer but refuses every flush with ENOSPC.
        let started = start(Path::new("/dev/full"), 8000, tx);
        match started {
            Err(e) => assert!(e.to_string().contains("/dev/full"), "{e}"),
            Ok((mut tap, writer)) => {
                for _ in 0..100 {
                    tap.push(Some(&frame(1)), &frame(2));
                }
                std::thread::sleep(HEADER_EVERY + Duration::from_millis(300));
                assert!(tap.control().has_failed());
                drop(tap);
                let s = writer.finish().unwrap();
                assert!(s.error.is_some());
                assert!(matches!(rx.try_recv(), Ok(MediaEvent::RecordingFailed(_))));
            }
        }
    }

    #[test]
    fn an_unwritable_folder_is_an_error_at_start() {
        let (tx, _rx) = channel();
        let e = start(Path::new("/nonexistent-dir/x/call.wav"), 8000, tx)
            .err()
            .expect("must fail");
        assert!(matches!(e, RecordingError::Create { .. }), "{e}");
    }
}
