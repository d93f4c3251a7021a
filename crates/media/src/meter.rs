//! The microphone test: a live input level from a chosen input device, measured on its own
//! thread paced by the device (one reading per block it delivers).

use crate::device::{open_or_default, DeviceError, DeviceFallback, InputDevice};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The rate the meter reads at (enough for speech levels).
const METER_RATE: u32 = 16_000;
/// Below this a level reads as silence.
pub const FLOOR_DBFS: f32 = -90.0;

/// One block's level, in dB relative to full scale (0 is the loudest a device can capture).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub rms_dbfs: f32,
    pub peak_dbfs: f32,
}

fn dbfs(v: f64) -> f32 {
    if v <= 0.0 {
        FLOOR_DBFS
    } else {
        ((20.0 * v.log10()) as f32).max(FLOOR_DBFS)
    }
}

/// The level of a block of samples.
pub fn level(samples: &[i16]) -> Level {
    if samples.is_empty() {
        return Level {
            rms_dbfs: FLOOR_DBFS,
            peak_dbfs: FLOOR_DBFS,
        };
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    let rms = (sum / samples.len() as f64).sqrt() / 32768.0;
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    Level {
        rms_dbfs: dbfs(rms),
        peak_dbfs: dbfs(f64::from(peak) / 32768.0),
    }
}

/// The share (0..1) of a block's energy at one frequency (a single DFT bin, Goertzel-like):
/// near 1 for a pure tone at `hz` (the recording notice's beep, a test tone), small for
/// speech or noise. Silence gives 0.
pub fn tone_share(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate.max(1));
    let (mut c, mut s, mut e) = (0.0, 0.0, 0.0);
    for (i, &v) in samples.iter().enumerate() {
        let v = f64::from(v);
        c += v * (w * i as f64).cos();
        s += v * (w * i as f64).sin();
        e += v * v;
    }
    if e == 0.0 {
        return 0.0;
    }
    // A pure tone's energy is 2/N times the squared magnitude of its bin.
    2.0 * (c * c + s * s) / samples.len() as f64 / e
}

/// A running meter; dropping it stops the thread and closes the device.
pub struct LevelMeter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    device: String,
    fallback: Option<DeviceFallback>,
}

impl LevelMeter {
    /// Opens `id` (the default input when `None` or when `id` is gone; see `fallback`) and
    /// calls `on_level` for every `interval` of audio until stopped. Waits for the device to
    /// open, so an error comes back here.
    pub fn start(
        id: Option<String>,
        interval: Duration,
        mut on_level: Box<dyn FnMut(Level) + Send>,
    ) -> Result<LevelMeter, DeviceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (opened_tx, opened_rx) = mpsc::channel();
        let n = ((u128::from(METER_RATE) * interval.as_millis() / 1000) as usize).max(1);
        let thread = std::thread::Builder::new()
            .name("mic-meter".into())
            .spawn(move || {
                let mut mic = match open_or_default(id.as_deref(), METER_RATE, InputDevice::open) {
                    Ok((mic, fallback)) => {
                        let _ = opened_tx.send(Ok((mic.name().to_string(), fallback)));
                        mic
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                while !flag.load(Ordering::Relaxed) {
                    match mic.read_frame(n, &flag, Duration::from_secs(1), 4 * n) {
                        Ok(Some(block)) => on_level(level(&block)),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "the microphone test's device failed");
                            break;
                        }
                    }
                }
            })
            .map_err(|e| DeviceError::Host(format!("cannot start the meter thread: {e}")))?;
        match opened_rx.recv() {
            Ok(Ok((device, fallback))) => Ok(LevelMeter {
                stop,
                thread: Some(thread),
                device,
                fallback,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(DeviceError::Host("the meter thread ended".into())),
        }
    }

    /// The device being measured.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Set when the chosen device was gone and the default input is measured instead.
    pub fn fallback(&self) -> Option<&DeviceFallback> {
        self.fallback.as_ref()
    }

    /// Stops measuring and closes the device.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_is_told_from_other_sound() {
        let tone = |hz: f64| -> Vec<i16> {
            (0..800)
                .map(|i| {
                    (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16
                })
                .collect()
        };
        assert!(tone_share(&tone(1400.0), 8000, 1400.0) > 0.99);
        assert!(tone_share(&tone(1000.0), 8000, 1400.0) < 0.01);
        // Two tones of equal strength: half each.
        let both: Vec<i16> = tone(1400.0)
            .iter()
            .zip(tone(1000.0))
            .map(|(a, b)| a / 2 + b / 2)
            .collect();
        assert!((tone_share(&both, 8000, 1400.0) - 0.5).abs() < 0.02);
        assert_eq!(tone_share(&[0; 160], 8000, 1400.0), 0.0);
        assert_eq!(tone_share(&[], 8000, 1400.0), 0.0);
    }

    #[test]
    fn levels_are_in_dbfs() {
        let silence = level(&[0; 160]);
        assert_eq!(silence.rms_dbfs, FLOOR_DBFS);
        assert_eq!(silence.peak_dbfs, FLOOR_DBFS);
        let full: Vec<i16> = (0..160)
            .map(|i| if i % 2 == 0 { 32767 } else { -32768 })
            .collect();
        let l = level(&full);
        assert!(l.rms_dbfs > -0.01 && l.peak_dbfs > -0.01, "{l:?}");
        // A sine at half scale: peak -6 dBFS, RMS -9 dBFS.
        let sine: Vec<i16> = (0..1600)
            .map(|i| (16384.0 * (i as f64 * 0.1).sin()) as i16)
            .collect();
        let l = level(&sine);
        assert!((l.peak_dbfs + 6.02).abs() < 0.1, "{l:?}");
        assert!((l.rms_dbfs + 9.03).abs() < 0.1, "{l:?}");
        assert_eq!(level(&[]).rms_dbfs, FLOOR_DBFS);
    }
}
