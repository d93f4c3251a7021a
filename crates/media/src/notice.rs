//! The recording notice: what the far end hears so it knows the call is being recorded, mixed
//! into the audio we send (and so into the recording's left channel, which is "what we sent").
//! Many jurisdictions require the other party to be told; a center whose PBX or IVR does not
//! announce it turns this on.
//!
//! Two kinds: a warning tone (1400 Hz for 0.5 s every 15 s, the recorder-warning tone of US
//! telephone practice, which a caller recognises mid-call) that holds while the recording is
//! paused, since a beep then would claim a recording that is not being made; or the center's own
//! recorded announcement ("this call may be recorded…"), played once when the recording starts.
//! Prepared off the audio thread; mixing a frame neither allocates nor locks.

use crate::wav::{read_mono, WavError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What the far end hears when a call is recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingNotice {
    /// Nothing (the PBX or IVR announces recording, or no announcement is required).
    #[default]
    Off,
    /// A 1400 Hz beep of 0.5 s at the start and every 15 s while recording.
    Tone,
    /// This WAV file (any rate, mixed to mono), once, when the recording starts.
    Announcement(PathBuf),
}

/// Decoded announcements: (file, its modification time, rate) → samples. Every recorded call
/// starts a player, and decoding plus band-limited resampling of a few seconds of WAV would
/// otherwise be repeated on each call's media start. A changed file (new mtime) is read again.
type Decoded = (PathBuf, Option<SystemTime>, u32, Arc<[i16]>);
static DECODED: Mutex<Vec<Decoded>> = Mutex::new(Vec::new());
/// A few rates (8, 16, 48 kHz) of one or two files.
const DECODED_KEPT: usize = 4;

/// The announcement at `path` as mono samples at `rate`, from the cache when the file has not
/// changed since it was decoded.
fn announcement(path: &Path, rate: u32) -> Result<Arc<[i16]>, WavError> {
    let modified = std::fs::metadata(path)
        .map_err(|e| WavError::Hound(hound::Error::IoError(e)))?
        .modified()
        .ok();
    let mut cache = DECODED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((.., pcm)) = cache
        .iter()
        .find(|(p, m, r, _)| p == path && *m == modified && *r == rate)
    {
        return Ok(Arc::clone(pcm));
    }
    let pcm: Arc<[i16]> = read_mono(path, rate)?.into();
    cache.retain(|(p, _, r, _)| !(p == path && *r == rate));
    if cache.len() >= DECODED_KEPT {
        cache.remove(0);
    }
    cache.push((path.to_path_buf(), modified, rate, Arc::clone(&pcm)));
    Ok(pcm)
}

/// The warning tone: frequency, length and period.
pub const TONE_HZ: f64 = 1400.0;
pub const TONE_MS: u32 = 500;
pub const TONE_EVERY_MS: u32 = 15_000;
/// About -12 dBFS: clearly audible over speech without clipping the sum.
const TONE_PEAK: f64 = 8000.0;
/// Fades at each end of a beep so it starts and stops without a click.
const FADE_MS: u32 = 5;

/// Plays a notice into outgoing frames.
#[derive(Debug)]
pub struct NoticePlayer {
    /// Shared: an announcement is decoded once per file version and rate (see [`announcement`]).
    pcm: Arc<[i16]>,
    /// Samples from one start to the next (`None`: play once).
    period: Option<usize>,
    pos: usize,
    /// Whether the recording's pause holds the notice (the tone) or not (an announcement,
    /// which is said once and fully).
    holds_while_paused: bool,
}

impl NoticePlayer {
    /// The player for `notice` at `rate` Hz; `None` for [`RecordingNotice::Off`].
    pub fn new(notice: &RecordingNotice, rate: u32) -> Result<Option<NoticePlayer>, WavError> {
        Ok(match notice {
            RecordingNotice::Off => None,
            RecordingNotice::Tone => Some(Self::tone(rate)),
            RecordingNotice::Announcement(path) => {
                let pcm = announcement(path, rate)?;
                if pcm.is_empty() {
                    return Err(WavError::Format(format!(
                        "the recording announcement {} holds no audio",
                        path.display()
                    )));
                }
                Some(NoticePlayer {
                    pcm,
                    period: None,
                    pos: 0,
                    holds_while_paused: false,
                })
            }
        })
    }

    /// The warning tone at `rate` Hz.
    pub fn tone(rate: u32) -> NoticePlayer {
        let samples = (u64::from(rate) * u64::from(TONE_MS) / 1000) as usize;
        let fade = ((u64::from(rate) * u64::from(FADE_MS) / 1000) as usize).max(1);
        let pcm = (0..samples)
            .map(|i| {
                let envelope = (i.min(samples - 1 - i) as f64 / fade as f64).min(1.0);
                let phase = 2.0 * std::f64::consts::PI * TONE_HZ * i as f64 / f64::from(rate);
                (TONE_PEAK * envelope * phase.sin()).round() as i16
            })
            .collect::<Vec<i16>>();
        NoticePlayer {
            pcm: pcm.into(),
            period: Some((u64::from(rate) * u64::from(TONE_EVERY_MS) / 1000) as usize),
            pos: 0,
            holds_while_paused: true,
        }
    }

    /// Adds the notice's next `frame.len()` samples to `frame` (saturating). Returns whether
    /// any notice sound went in. While `paused`, a tone does not advance.
    pub fn mix(&mut self, frame: &mut [i16], paused: bool) -> bool {
        if paused && self.holds_while_paused {
            return false;
        }
        let mut sounded = false;
        for sample in frame.iter_mut() {
            let at = match self.period {
                Some(period) => self.pos % period.max(1),
                None => self.pos,
            };
            if let Some(&n) = self.pcm.get(at) {
                *sample = sample.saturating_add(n);
                sounded = true;
            } else if self.period.is_none() {
                break;
            }
            self.pos += 1;
        }
        sounded
    }

    /// An announcement said to its end (a tone never finishes).
    pub fn finished(&self) -> bool {
        self.period.is_none() && self.pos >= self.pcm.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::meter::tone_share;

    fn run(player: &mut NoticePlayer, frames: usize, n: usize, paused: bool) -> Vec<bool> {
        (0..frames)
            .map(|_| player.mix(&mut vec![0; n], paused))
            .collect()
    }

    #[test]
    fn the_tone_beeps_half_a_second_every_fifteen() {
        let rate = 8000;
        let mut p = NoticePlayer::tone(rate);
        let mut first = vec![0i16; 160];
        assert!(p.mix(&mut first, false));
        assert!(
            tone_share(&first[40..], rate, TONE_HZ) > 0.9,
            "not a 1400 Hz tone"
        );
        // 25 frames of 20 ms sound (the first just mixed), then silence to 15 s, then again.
        let rest = run(&mut p, 749 + 25, 160, false);
        assert!(rest[..24].iter().all(|&s| s));
        assert!(rest[24..749].iter().all(|&s| !s));
        assert!(rest[749..].iter().all(|&s| s));
        assert!(!p.finished());
    }

    #[test]
    fn a_paused_recording_holds_the_tone() {
        let mut p = NoticePlayer::tone(8000);
        assert!(run(&mut p, 10, 160, true).iter().all(|&s| !s));
        // Resumed: the held beep then sounds in full.
        let sounded = run(&mut p, 25, 160, false);
        assert!(sounded.iter().all(|&s| s));
        assert!(!run(&mut p, 1, 160, false)[0]);
    }

    #[test]
    fn the_tone_adds_to_speech_without_wrapping() {
        let mut p = NoticePlayer::tone(8000);
        let mut loud = vec![i16::MAX; 160];
        p.mix(&mut loud, false);
        assert!(loud.iter().all(|&s| s >= i16::MAX - 8000), "wrapped around");
        let mut low = vec![i16::MIN; 160];
        NoticePlayer::tone(8000).mix(&mut low, false);
        assert!(low.iter().all(|&s| s <= i16::MIN + 8000));
    }

    #[test]
    fn an_announcement_plays_once_whatever_the_pause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notice.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..16000 {
            // One second of a 440 Hz tone.
            let v = 10000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 16000.0).sin();
            w.write_sample(v as i16).unwrap();
        }
        w.finalize().unwrap();
        let mut p = NoticePlayer::new(&RecordingNotice::Announcement(path), 8000)
            .unwrap()
            .unwrap();
        // Pausing (a card payment) does not cut the announcement short.
        let sounded = run(&mut p, 60, 160, true);
        assert!(sounded[..50].iter().all(|&s| s));
        assert!(sounded[50..].iter().all(|&s| !s));
        assert!(p.finished());
    }

    #[test]
    fn an_announcement_is_decoded_once_until_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cached.wav");
        let write = |value: i16, seconds: u64| {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for _ in 0..8000 {
                w.write_sample(value).unwrap();
            }
            w.finalize().unwrap();
            // A distinct modification time, as a file replaced later has.
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(when)
                .unwrap();
        };
        write(1000, 1_000_000);
        let first = announcement(&path, 8000).unwrap();
        let again = announcement(&path, 8000).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "decoded twice");
        write(2000, 2_000_000);
        let changed = announcement(&path, 8000).unwrap();
        assert!(!Arc::ptr_eq(&first, &changed));
        assert_eq!(changed[4000], 2000);
    }

    #[test]
    fn a_broken_announcement_is_an_error_and_off_is_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.wav");
        std::fs::write(&path, b"RIFF\x10\0\0\0WAVEjunk").unwrap();
        let e = NoticePlayer::new(&RecordingNotice::Announcement(path), 8000).unwrap_err();
        assert!(e.to_string().contains("WAV"), "{e}");
        let missing = dir.path().join("missing.wav");
        assert!(NoticePlayer::new(&RecordingNotice::Announcement(missing), 8000).is_err());
        assert!(NoticePlayer::new(&RecordingNotice::Off, 8000)
            .unwrap()
            .is_none());
    }
}
