//! Acoustic echo cancellation for open speakers: WebRTC's AEC3 with its high-pass filter and
//! noise suppression, through `sonora` (a pure-Rust port of the WebRTC audio processing
//! module: no C++ build, no system package). The far end is fed as it is played (`render`),
//! the microphone is cleaned in place (`capture`); AEC3 finds the delay between the two
//! itself (device buffers, playout queue). Both work on 10 ms chunks at the codec rate.

use sonora::config::{EchoCanceller as Aec3, HighPassFilter, NoiseSuppression};
use sonora::{AudioProcessing, Config, StreamConfig};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AecError {
    #[error("echo cancellation runs at 8, 16, 32 or 48 kHz, not {0} Hz")]
    Rate(u32),
}

/// Echo canceller state for one call.
pub struct EchoCanceller {
    apm: AudioProcessing,
    /// Samples in 10 ms.
    chunk: usize,
    /// Scratch for the render path's (unused) output, allocated once.
    scratch: Vec<i16>,
    out: Vec<i16>,
}

impl EchoCanceller {
    pub fn new(rate: u32) -> Result<Self, AecError> {
        if ![8000, 16_000, 32_000, 48_000].contains(&rate) {
            return Err(AecError::Rate(rate));
        }
        let config = Config {
            echo_canceller: Some(Aec3::default()),
            high_pass_filter: Some(HighPassFilter::default()),
            noise_suppression: Some(NoiseSuppression::default()),
            ..Config::default()
        };
        let stream = StreamConfig::new(rate, 1);
        let apm = AudioProcessing::builder()
            .config(config)
            .capture_config(stream)
            .render_config(stream)
            .build();
        let chunk = rate as usize / 100;
        Ok(EchoCanceller {
            apm,
            chunk,
            scratch: vec![0; chunk],
            out: vec![0; chunk],
        })
    }

    /// The far-end audio as it goes to the speaker (any whole number of 10 ms chunks; a
    /// trailing partial chunk is ignored).
    pub fn render(&mut self, played: &[i16]) {
        for c in played.chunks_exact(self.chunk) {
            if let Err(e) = self.apm.process_render_i16(c, &mut self.scratch) {
                tracing::debug!(error = ?e, "echo canceller: render chunk refused");
            }
        }
    }

    /// Removes the echo from a microphone frame in place (whole 10 ms chunks).
    pub fn capture(&mut self, mic: &mut [i16]) {
        for c in mic.chunks_exact_mut(self.chunk) {
            match self.apm.process_capture_i16(c, &mut self.out) {
                Ok(()) => c.copy_from_slice(&self.out),
                Err(e) => tracing::debug!(error = ?e, "echo canceller: capture chunk refused"),
            }
        }
    }

    /// AEC3's own ERLE estimate in dB, once it has one.
    pub fn erle_db(&self) -> Option<f64> {
        self.apm.statistics().echo_return_loss_enhancement
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::wav::{read_mono, resample};
    use std::path::Path;

    const RATE: u32 = 16_000;

    fn data(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    /// A small office's speaker-to-microphone path: 12 ms of flight, then a decaying
    /// reverberant tail (RT60 ~250 ms, cut at 120 ms) from a fixed pseudo-random sequence.
    fn room_impulse_response() -> Vec<f64> {
        let n = RATE as usize * 120 / 1000;
        let delay = RATE as usize * 12 / 1000;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut h = vec![0.0; delay + n];
        h[delay] = 0.5;
        for (i, v) in h[delay + 1..].iter_mut().enumerate() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let noise = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            // -60 dB after 250 ms.
            let decay = 10f64.powf(-3.0 * i as f64 / (RATE as f64 * 0.25));
            *v = 0.25 * noise * decay;
        }
        h
    }

    fn convolve(x: &[i16], h: &[f64]) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for (i, &s) in x.iter().enumerate() {
            if s == 0 {
                continue;
            }
            for (k, &hk) in h.iter().enumerate() {
                if let Some(v) = y.get_mut(i + k) {
                    *v += f64::from(s) * hk;
                }
            }
        }
        y
    }

    fn power(x: &[i16]) -> f64 {
        x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64
    }

    fn db(a: f64, b: f64) -> f64 {
        10.0 * (a / b.max(1e-9)).log10()
    }

    /// A synthetic open-speaker call: the far end's speech goes through the room into the
    /// microphone, later the agent talks over it. The echo must drop by at least 30 dB once
    /// AEC3 has converged, and the agent's own speech must get through.
    #[test]
    fn open_speaker_echo_is_cancelled_and_near_speech_kept() {
        // Far end talks for 4.5 s, the agent from 3.5 s to 8 s.
        let total = RATE as usize * 8;
        let mut far = read_mono(&data("speech_16k.wav"), RATE).unwrap();
        far.resize(total, 0);
        let near_clip = resample(
            &read_mono(&data("speech_8k.wav"), 8000).unwrap(),
            8000,
            RATE,
        );
        let near_at = RATE as usize * 7 / 2;
        let mut near = vec![0i16; total];
        for (i, &s) in near_clip.iter().enumerate() {
            if let Some(v) = near.get_mut(near_at + i) {
                *v = s;
            }
        }
        let echo = convolve(&far, &room_impulse_response());
        let mic: Vec<i16> = echo
            .iter()
            .zip(&near)
            .map(|(&e, &n)| (e + f64::from(n)).round().clamp(-32768.0, 32767.0) as i16)
            .collect();

        let mut aec = EchoCanceller::new(RATE).unwrap();
        let frame = RATE as usize / 50;
        let mut out = Vec::with_capacity(total);
        let started = std::time::Instant::now();
        for (f, m) in far.chunks(frame).zip(mic.chunks(frame)) {
            aec.render(f);
            let mut m = m.to_vec();
            aec.capture(&mut m);
            out.extend(m);
        }
        let cpu = started.elapsed();
        // Far end alone, after 1.5 s to converge.
        let span = RATE as usize * 3 / 2..near_at;
        let echo_only: Vec<i16> = mic[span.clone()].to_vec();
        let erle = db(power(&echo_only), power(&out[span]));
        // The agent alone (the far end's echo gone from 4.7 s): level kept within 3 dB.
        let alone = RATE as usize * 47 / 10..total;
        let kept = db(power(&out[alone.clone()]), power(&near[alone]));
        eprintln!(
            "AEC3: ERLE {erle:.1} dB over far-end single talk; near end alone {kept:.1} dB; AEC3's estimate {:?}; {cpu:?} for 8 s",
            aec.erle_db()
        );
        // Measured: ERLE 47 dB (echo canceller and suppressor together), near end -0.3 dB.
        assert!(erle >= 30.0, "ERLE {erle:.1} dB");
        assert!(kept > -3.0, "near-end speech lost {kept:.1} dB");
    }

    #[test]
    fn unsupported_rate_is_an_error() {
        assert!(matches!(
            EchoCanceller::new(44_100),
            Err(AecError::Rate(44_100))
        ));
        assert!(EchoCanceller::new(8000).is_ok());
        assert!(EchoCanceller::new(48_000).is_ok());
    }
}
