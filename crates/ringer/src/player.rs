//! Plays a tone on its own thread. On a sound card the card's clock paces it: the thread tops
//! the playback queue up to a few periods whenever the card has taken samples, so a stop is
//! heard within ~30 ms (the queue), and the card never starves. A WAV file (tests) is written
//! at the wall clock's pace, so its timeline is what a listener would have heard.

use crate::tone::{volume_gain, Sound, ToneGenerator, TONE_RATE};
use seatline_media::device::{open_or_default, DeviceFallback, OutputDevice};
use seatline_media::wav::{read_mono, WavSink};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a tone goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToneOutput {
    /// A sound card output by id (`seatline_media::list_devices`); `None` is the default.
    Device { id: Option<String> },
    /// A mono WAV file at [`TONE_RATE`].
    Wav(PathBuf),
}

/// What to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Play {
    /// The ring at `volume` (0-100): the built-in tone, or `ringtone` (a WAV) when set.
    Ring {
        volume: u8,
        ringtone: Option<PathBuf>,
    },
    /// The quiet call-waiting beeps.
    CallWaiting,
    /// The speaker test: one double burst at `volume`.
    Test { volume: u8 },
}

/// What the player thread reports on the way (through the callback given to `start`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerNotice {
    /// The chosen device is gone; the default output plays instead.
    Fallback(DeviceFallback),
    /// No sound: the device could not be opened or failed, or the file could not be written.
    Failed(String),
    /// The custom ringtone could not be read; the built-in ring plays instead.
    RingtoneUnusable(String),
}

/// What a finished player did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlayReport {
    /// Samples handed to the device or file, at [`TONE_RATE`].
    pub samples: u64,
    /// The device's name when one played.
    pub device: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("cannot start the tone thread: {0}")]
    Thread(#[from] std::io::Error),
}

pub type Notify = Box<dyn Fn(PlayerNotice) + Send + 'static>;

/// A tone playing; dropping it stops the sound (without waiting for the thread).
pub struct TonePlayer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<PlayReport>>,
}

/// Samples generated per step (10 ms).
const BLOCK: usize = (TONE_RATE / 100) as usize;
/// The playback queue kept ahead of the card: enough to ride out a busy machine, short enough
/// that a stop is immediate.
const QUEUE_AHEAD: Duration = Duration::from_millis(30);
/// A card that takes nothing for this long has failed.
const STALL: Duration = Duration::from_millis(500);
/// Fresh streams tried after a device failure, per sound.
const MAX_REOPENS: u32 = 3;

impl TonePlayer {
    /// Starts playing at once; the device opens on the player's thread, so this never waits.
    pub fn start(play: Play, output: ToneOutput, notify: Notify) -> Result<Self, PlayerError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ringer".into())
            .spawn(move || {
                let sound = sound_for(play, &notify);
                let generator = ToneGenerator::new(sound);
                match output {
                    ToneOutput::Device { id } => to_device(generator, id, &flag, &notify),
                    ToneOutput::Wav(path) => to_wav(generator, path, &flag, &notify),
                }
            })?;
        Ok(TonePlayer {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the sound now; the thread closes the device on its own.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// A one-shot tone (the speaker test) has played out, or the player failed.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the sound and waits for the thread (the file is complete when this returns).
    pub fn stop_and_wait(mut self) -> PlayReport {
        self.stop();
        self.join()
    }

    /// Waits until a one-shot tone has played out.
    pub fn wait(mut self) -> PlayReport {
        self.join()
    }

    fn join(&mut self) -> PlayReport {
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for TonePlayer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn sound_for(play: Play, notify: &Notify) -> Sound {
    match play {
        Play::Ring {
            volume,
            ringtone: Some(path),
        } => match read_mono(&path, TONE_RATE) {
            Ok(samples) if !samples.is_empty() => Sound::Samples {
                samples,
                gain: volume_gain(volume),
            },
            Ok(_) => {
                let why = format!("the ringtone {} is empty", path.display());
                tracing::warn!(%why, "using the built-in ring");
                notify(PlayerNotice::RingtoneUnusable(why));
                Sound::Ring {
                    gain: volume_gain(volume),
                }
            }
            Err(e) => {
                let why = format!("cannot read the ringtone {}: {e}", path.display());
                tracing::warn!(%why, "using the built-in ring");
                notify(PlayerNotice::RingtoneUnusable(why));
                Sound::Ring {
                    gain: volume_gain(volume),
                }
            }
        },
        Play::Ring {
            volume,
            ringtone: None,
        } => Sound::Ring {
            gain: volume_gain(volume),
        },
        Play::CallWaiting => Sound::CallWaiting,
        Play::Test { volume } => Sound::Test {
            gain: volume_gain(volume),
        },
    }
}

fn to_device(
    mut generator: ToneGenerator,
    id: Option<String>,
    stop: &AtomicBool,
    notify: &Notify,
) -> PlayReport {
    let mut device = match open_or_default(id.as_deref(), TONE_RATE, OutputDevice::open) {
        Ok((d, fallback)) => {
            if let Some(f) = fallback {
                notify(PlayerNotice::Fallback(f));
            }
            d
        }
        Err(e) => {
            tracing::warn!(error = %e, "no sound device for the ringer");
            notify(PlayerNotice::Failed(e.to_string()));
            return PlayReport::default();
        }
    };
    let mut report = PlayReport {
        samples: 0,
        device: Some(device.name().to_string()),
    };
    let ahead = (device.native_rate() as usize * QUEUE_AHEAD.as_millis() as usize / 1000)
        .max(2 * device.period());
    let mut block = vec![0i16; BLOCK];
    let mut reopens = 0;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = device.check(STALL) {
            // A sound server sometimes fails a stream as it starts (the ALSA pulse plugin
            // answering errors round and round): a fresh stream usually works, as in calls.
            if reopens < MAX_REOPENS {
                reopens += 1;
                tracing::warn!(error = %e, reopens, "the ringer's sound device failed; reopening");
                drop(device);
                match open_or_default(id.as_deref(), TONE_RATE, OutputDevice::open) {
                    Ok((d, _)) => {
                        device = d;
                        continue;
                    }
                    Err(e2) => {
                        tracing::warn!(error = %e2, "reopening the ringer's device failed");
                        notify(PlayerNotice::Failed(e.to_string()));
                        break;
                    }
                }
            }
            tracing::warn!(error = %e, "the ringer's sound device failed");
            notify(PlayerNotice::Failed(e.to_string()));
            break;
        }
        if generator.finished() {
            // Let the queue play out, then close.
            if device.queued() == 0 {
                break;
            }
        } else {
            while device.queued() < ahead {
                generator.fill(&mut block);
                device.push_frame(&block);
                report.samples += BLOCK as u64;
            }
        }
        // Polled: the card's callback never signals (it must not make system calls).
        std::thread::sleep(Duration::from_millis(2));
    }
    report
}

fn to_wav(
    mut generator: ToneGenerator,
    path: PathBuf,
    stop: &AtomicBool,
    notify: &Notify,
) -> PlayReport {
    let mut sink = match WavSink::create(&path, TONE_RATE) {
        Ok(s) => s,
        Err(e) => {
            notify(PlayerNotice::Failed(format!("{}: {e}", path.display())));
            return PlayReport::default();
        }
    };
    let started = Instant::now();
    let mut written = 0u64;
    let mut block = vec![0i16; BLOCK];
    while !stop.load(Ordering::Relaxed) && !generator.finished() {
        let due = (started.elapsed().as_micros() * u128::from(TONE_RATE) / 1_000_000) as u64;
        while written < due && !generator.finished() {
            let n = (due - written).min(BLOCK as u64) as usize;
            generator.fill(&mut block[..n]);
            if let Err(e) = sink.write(&block[..n]) {
                notify(PlayerNotice::Failed(format!("{}: {e}", path.display())));
                return PlayReport {
                    samples: written,
                    device: None,
                };
            }
            written += n as u64;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if let Err(e) = sink.finalize() {
        notify(PlayerNotice::Failed(format!("{}: {e}", path.display())));
    }
    PlayReport {
        samples: written,
        device: None,
    }
}
