//! WAV files as audio devices: a file as the microphone (20 ms frames at the codec rate, mono
//! mixdown, simple resampling) and a recorder for what is played.

use crate::device::Resampler;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WavError {
    #[error("WAV file: {0}")]
    Hound(#[from] hound::Error),
    #[error("unsupported WAV format: {0}")]
    Format(String),
}

/// Band-limited resampling of a whole clip (the sound cards' windowed-sinc [`Resampler`],
/// aligned so output sample `i` is input time `i * from / to`). Linear interpolation, used
/// here before, left images of the speech band above the old Nyquist frequency (8 kHz to 48
/// kHz: a 3 kHz tone's 5 kHz image only 9 dB down); Opus spent its bits coding them (PESQ-NB 4.33 -> 4.02 at 24
/// kbit/s, `tests/quality.rs`).
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to || input.is_empty() || from == 0 || to == 0 {
        return input.to_vec();
    }
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let r = Resampler::new(from, to);
    let g = gcd(from, to);
    let (l, m) = ((to / g) as usize, (from / g) as usize);
    if l > 1024 {
        return resample_streaming(input, r, out_len);
    }
    // Polyphase: output i sits at input i*m/l, so only l kernel phases occur; their taps are
    // computed once (a file opens at call start, and on a loaded machine that adds up).
    let reach = r.look_ahead();
    let taps = 2 * reach;
    let gain = r.gain();
    let table: Vec<f32> = (0..l)
        .flat_map(|p| {
            let frac = p as f64 / l as f64;
            let r = &r;
            (0..taps).map(move |j| r.kernel(frac + (reach - 1) as f64 - j as f64) * gain)
        })
        .collect();
    let x: Vec<f32> = input.iter().map(|&s| f32::from(s)).collect();
    (0..out_len)
        .map(|i| {
            let (k, p) = ((i * m) / l, (i * m) % l);
            let h = &table[p * taps..(p + 1) * taps];
            // Input index of tap j: k + 1 - reach + j (outside the clip: silence).
            let first = (k + 1).saturating_sub(reach);
            let skip = first + reach - (k + 1);
            let end = (k + reach + 1).min(x.len());
            // A plain indexed loop: iterator adapters cost ~10x in unoptimised test builds.
            let mut acc = 0.0f32;
            for n in first..end {
                acc += x[n] * h[skip + n - first];
            }
            acc.round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

/// Any ratio through the streaming resampler, flushed with trailing silence.
fn resample_streaming(input: &[i16], mut r: Resampler, out_len: usize) -> Vec<i16> {
    let mut x: Vec<f32> = input.iter().map(|&s| f32::from(s)).collect();
    x.resize(input.len() + r.look_ahead() + 2, 0.0);
    let mut out = Vec::with_capacity(out_len + r.look_ahead());
    r.process(&x, &mut out);
    out.resize(out_len, 0.0);
    out.iter()
        .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Reads a whole WAV file as mono 16-bit samples at `rate` (channels averaged, resampled).
pub fn read_mono(path: &Path, rate: u32) -> Result<Vec<i16>, WavError> {
    let (mono, file_rate) = read_mono_native(path)?;
    Ok(resample(&mono, file_rate, rate))
}

/// Reads a whole WAV file as mono 16-bit samples at its own rate, and that rate.
pub fn read_mono_native(path: &Path) -> Result<(Vec<i16>, u32), WavError> {
    let mut reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<f64> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let scale = f64::from(1u32 << (bits - 1).min(31)) / 32768.0;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| f64::from(v) / scale))
                .collect::<Result<_, _>>()?
        }
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .map(|s| s.map(|v| f64::from(v) * 32767.0))
            .collect::<Result<_, _>>()?,
        (f, b) => return Err(WavError::Format(format!("{f:?} {b} bits"))),
    };
    let mono: Vec<i16> = interleaved
        .chunks(channels)
        .map(|c| {
            (c.iter().sum::<f64>() / c.len() as f64)
                .round()
                .clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    Ok((mono, spec.sample_rate))
}

/// Input samples resampled per step of a resampling `WavSource`.
const SOURCE_CHUNK: usize = 480;

/// A WAV file standing in for the microphone: hands out fixed-size frames, then silence (or
/// starts over when `looped`, e.g. music on hold). A file at another rate is resampled as it
/// plays (the band-limited [`Resampler`]), so opening it costs no more than reading it: the
/// call's media starts without waiting for the whole file to be converted.
#[derive(Debug, Clone)]
pub struct WavSource {
    /// At the file's rate when `resampler` is set, else at the codec rate.
    samples: Vec<i16>,
    pos: usize,
    looped: bool,
    resampler: Option<Resampler>,
    /// Resampled audio not handed out yet.
    ready: Vec<f32>,
    chunk: Vec<f32>,
    flushed: bool,
}

impl WavSource {
    pub fn open(path: &Path, rate: u32, looped: bool) -> Result<Self, WavError> {
        let (samples, file_rate) = read_mono_native(path)?;
        let mut source = Self::from_samples(samples, looped);
        if file_rate != rate && file_rate > 0 && rate > 0 {
            source.resampler = Some(Resampler::new(file_rate, rate));
        }
        Ok(source)
    }

    pub fn from_samples(samples: Vec<i16>, looped: bool) -> Self {
        WavSource {
            samples,
            pos: 0,
            looped,
            resampler: None,
            ready: Vec::new(),
            chunk: Vec::with_capacity(SOURCE_CHUNK),
            flushed: false,
        }
    }

    /// The next `n` samples, zero-padded past the end.
    pub fn next_frame(&mut self, n: usize) -> Vec<i16> {
        let Some(r) = &mut self.resampler else {
            return self.next_samples(n);
        };
        while self.ready.len() < n {
            if self.pos >= self.samples.len() {
                if self.looped && !self.samples.is_empty() {
                    self.pos = 0;
                } else if !self.flushed {
                    // Silence after the end pushes the kernel's look-ahead out.
                    self.flushed = true;
                    self.chunk.clear();
                    self.chunk.resize(r.look_ahead() + 2, 0.0);
                    r.process(&self.chunk, &mut self.ready);
                    continue;
                } else {
                    break;
                }
            }
            let take = SOURCE_CHUNK.min(self.samples.len() - self.pos);
            self.chunk.clear();
            self.chunk.extend(
                self.samples[self.pos..self.pos + take]
                    .iter()
                    .map(|&s| f32::from(s)),
            );
            self.pos += take;
            r.process(&self.chunk, &mut self.ready);
        }
        let take = n.min(self.ready.len());
        let mut out: Vec<i16> = self.ready[..take]
            .iter()
            .map(|&v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect();
        self.ready.drain(..take);
        out.resize(n, 0);
        out
    }

    fn next_samples(&mut self, n: usize) -> Vec<i16> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.pos >= self.samples.len() {
                if self.looped && !self.samples.is_empty() {
                    self.pos = 0;
                } else {
                    out.resize(n, 0);
                    break;
                }
            }
            let take = (n - out.len()).min(self.samples.len() - self.pos);
            out.extend_from_slice(&self.samples[self.pos..self.pos + take]);
            self.pos += take;
        }
        out
    }

    pub fn finished(&self) -> bool {
        !self.looped
            && self.pos >= self.samples.len()
            && (self.resampler.is_none() || (self.flushed && self.ready.is_empty()))
    }
}

/// Records played audio to a mono 16-bit WAV file.
pub struct WavSink {
    writer: hound::WavWriter<BufWriter<File>>,
    pub samples_written: u64,
}

impl WavSink {
    pub fn create(path: &Path, rate: u32) -> Result<Self, WavError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        Ok(WavSink {
            writer: hound::WavWriter::create(path, spec)?,
            samples_written: 0,
        })
    }

    pub fn write(&mut self, samples: &[i16]) -> Result<(), WavError> {
        for &s in samples {
            self.writer.write_sample(s)?;
        }
        self.samples_written += samples.len() as u64;
        Ok(())
    }

    /// Writes the header's final lengths; without it the file is unreadable to most tools.
    pub fn finalize(self) -> Result<(), WavError> {
        Ok(self.writer.finalize()?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_speech_sample_at_codec_rates() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/speech_8k.wav");
        let s8 = read_mono(&p, 8000).unwrap();
        assert_eq!(s8.len(), 36_000);
        let s48 = read_mono(&p, 48_000).unwrap();
        assert_eq!(s48.len(), 216_000);
        // Same loudness after resampling.
        let rms = |x: &[i16]| {
            (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
        };
        assert!((rms(&s8) / rms(&s48) - 1.0).abs() < 0.1);
        assert!(rms(&s8) > 500.0, "speech, not silence");
    }

    #[test]
    fn upsampling_leaves_no_images_above_the_old_band() {
        // A 3 kHz tone at 8 kHz: linear interpolation to 48 kHz left its 5 kHz image 9 dB down.
        let tone: Vec<i16> = (0..8000)
            .map(|i| {
                (10_000.0 * (2.0 * std::f64::consts::PI * 3000.0 * i as f64 / 8000.0).sin()) as i16
            })
            .collect();
        let up = resample(&tone, 8000, 48_000);
        assert_eq!(up.len(), 48_000);
        // Correlate with 3 kHz and 5 kHz over the middle (past the filter's edges).
        let level = |f: f64| {
            let (mut c, mut s) = (0.0, 0.0);
            for (i, &v) in up.iter().enumerate().take(40_000).skip(8000) {
                let ph = 2.0 * std::f64::consts::PI * f * i as f64 / 48_000.0;
                c += f64::from(v) * ph.cos();
                s += f64::from(v) * ph.sin();
            }
            (c * c + s * s).sqrt() / 32_000.0 * 2.0
        };
        let (wanted, image) = (level(3000.0), level(5000.0));
        assert!((wanted / 10_000.0 - 1.0).abs() < 0.05, "3 kHz at {wanted}");
        assert!(
            image < wanted / 300.0,
            "5 kHz image at {image} (wanted {wanted})"
        );
    }

    #[test]
    fn polyphase_matches_the_streaming_resampler() {
        let mut x = 1u32;
        let input: Vec<i16> = (0..4000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 18) as i16 - 8192
            })
            .collect();
        for (from, to) in [
            (8000, 48_000),
            (16_000, 48_000),
            (48_000, 8000),
            (44_100, 48_000),
        ] {
            let fast = resample(&input, from, to);
            let slow = resample_streaming(&input, Resampler::new(from, to), fast.len());
            let worst = fast
                .iter()
                .zip(&slow)
                .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
                .max()
                .unwrap();
            assert!(worst <= 2, "{from}->{to}: differs by {worst}");
        }
    }

    #[test]
    fn stereo_is_mixed_down_and_recording_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let stereo = dir.path().join("st.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&stereo, spec).unwrap();
        for i in 0..400i16 {
            w.write_sample(i).unwrap();
            w.write_sample(-i + 100).unwrap();
        }
        w.finalize().unwrap();
        let mut src = WavSource::open(&stereo, 8000, false).unwrap();
        let f = src.next_frame(160);
        assert!(f.iter().all(|&s| s == 50));
        src.next_frame(160);
        let tail = src.next_frame(160);
        assert_eq!(&tail[80..], &[0; 80][..]);
        assert!(src.finished());

        let rec = dir.path().join("rec.wav");
        let mut sink = WavSink::create(&rec, 8000).unwrap();
        sink.write(&[1, 2, 3]).unwrap();
        sink.finalize().unwrap();
        assert_eq!(read_mono(&rec, 8000).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn a_source_at_another_rate_plays_what_read_mono_gives() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/speech_16k.wav");
        let whole = read_mono(&p, 48_000).unwrap();
        let mut src = WavSource::open(&p, 48_000, false).unwrap();
        let mut played = Vec::new();
        while !src.finished() {
            played.extend(src.next_frame(960));
        }
        assert!(
            played.len() >= whole.len(),
            "{} < {}",
            played.len(),
            whole.len()
        );
        let worst = whole
            .iter()
            .zip(&played)
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .max()
            .unwrap();
        assert!(worst <= 2, "differs by {worst}");
        assert!(played[whole.len() + 960..].iter().all(|&s| s == 0));
    }

    #[test]
    fn looped_source_wraps() {
        let mut s = WavSource::from_samples(vec![1, 2, 3], true);
        assert_eq!(s.next_frame(7), [1, 2, 3, 1, 2, 3, 1]);
        assert!(!s.finished());
    }
}
