//! The sounds, synthesized here (no recorded audio ships with Seatline): the ring, the quiet
//! call-waiting beeps, the speaker test, or a custom WAV looped with a pause. Pure sample
//! generation: the player decides when samples are due.

use std::time::Duration;

/// The rate tones are generated at (what most sound cards run at natively).
pub const TONE_RATE: u32 = 48_000;

/// Edges fade in and out over this long, so bursts start and stop without a click.
const RAMP: Duration = Duration::from_millis(5);

/// One step of a cadence: sound for `on`, then silence for `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub on: Duration,
    pub off: Duration,
}

const fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// The built-in ring: a double burst (0.4 s, 0.2 s pause, 0.4 s) every 3 s, a warble between
/// 1000 and 1333 Hz switching 40 times a second (an electronic phone ringer's trill, easy to
/// hear across an office and unlike the ring-back tone callers hear).
pub const RING_CADENCE: [Step; 2] = [
    Step {
        on: ms(400),
        off: ms(200),
    },
    Step {
        on: ms(400),
        off: ms(2000),
    },
];

/// Call waiting: two short 440 Hz beeps every 8.6 s, quiet, in the call's own headset.
pub const CALL_WAITING_CADENCE: [Step; 2] = [
    Step {
        on: ms(200),
        off: ms(200),
    },
    Step {
        on: ms(200),
        off: ms(8000),
    },
];

/// The speaker test: the ring's double burst once (1.1 s).
const TEST_CADENCE: [Step; 2] = [
    Step {
        on: ms(400),
        off: ms(200),
    },
    Step {
        on: ms(400),
        off: ms(100),
    },
];

/// The call-waiting level: -26 dBFS, below speech so it does not cover the caller.
pub const CALL_WAITING_GAIN: f32 = 0.05;
/// The ring's level at full volume: -6 dBFS, leaving headroom for the sound card.
const RING_FULL_SCALE: f32 = 0.5;
/// The pause after each play of a custom ringtone.
pub const RINGTONE_PAUSE: Duration = ms(1500);

/// What to play.
#[derive(Debug, Clone, PartialEq)]
pub enum Sound {
    /// The built-in ring at `gain` (see [`volume_gain`]).
    Ring { gain: f32 },
    /// Call-waiting beeps.
    CallWaiting,
    /// A custom ringtone (mono, [`TONE_RATE`]) at `gain`, looped with [`RINGTONE_PAUSE`].
    Samples { samples: Vec<i16>, gain: f32 },
    /// The speaker test: one double burst of the ring, once.
    Test { gain: f32 },
}

/// Ring volume 0-100 to a linear gain: 0 is silent, 1-100 spans -40 dB to 0 dB (loudness is
/// heard logarithmically, so equal steps of the slider sound like equal steps).
pub fn volume_gain(volume: u8) -> f32 {
    if volume == 0 {
        return 0.0;
    }
    let db = (f32::from(volume.min(100)) - 100.0) * 0.4;
    10f32.powf(db / 20.0)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Voice {
    Warble,
    Beep,
}

/// Produces a sound's samples one block at a time; `finished` once a one-shot sound is over.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    voice: Voice,
    amplitude: f32,
    /// (on, off) lengths in samples.
    steps: Vec<(u64, u64)>,
    looped: bool,
    custom: Option<Vec<i16>>,
    /// Position within the whole cadence cycle.
    pos: u64,
    cycle: u64,
    played: u64,
    phase: f64,
}

fn samples(d: Duration) -> u64 {
    (u128::from(TONE_RATE) * d.as_micros() / 1_000_000) as u64
}

impl ToneGenerator {
    pub fn new(sound: Sound) -> Self {
        let cadence = |steps: &[Step]| -> Vec<(u64, u64)> {
            steps
                .iter()
                .map(|s| (samples(s.on), samples(s.off)))
                .collect()
        };
        let (voice, amplitude, steps, looped, custom) = match sound {
            Sound::Ring { gain } => (
                Voice::Warble,
                RING_FULL_SCALE * gain.clamp(0.0, 1.0),
                cadence(&RING_CADENCE),
                true,
                None,
            ),
            Sound::Test { gain } => (
                Voice::Warble,
                RING_FULL_SCALE * gain.clamp(0.0, 1.0),
                cadence(&TEST_CADENCE),
                false,
                None,
            ),
            Sound::CallWaiting => (
                Voice::Beep,
                CALL_WAITING_GAIN,
                cadence(&CALL_WAITING_CADENCE),
                true,
                None,
            ),
            Sound::Samples { samples: s, gain } => (
                Voice::Warble,
                gain.clamp(0.0, 1.0),
                vec![(s.len() as u64, samples(RINGTONE_PAUSE))],
                true,
                Some(s),
            ),
        };
        let cycle = steps.iter().map(|(a, b)| a + b).sum();
        ToneGenerator {
            voice,
            amplitude,
            steps,
            looped,
            custom,
            pos: 0,
            cycle,
            played: 0,
            phase: 0.0,
        }
    }

    /// A one-shot sound has played to its end.
    pub fn finished(&self) -> bool {
        !self.looped && self.played >= self.cycle
    }

    /// Samples played so far.
    pub fn played(&self) -> u64 {
        self.played
    }

    /// Where `pos` falls: Some((offset into the burst, burst length)) during a burst.
    fn burst_at(&self, pos: u64) -> Option<(u64, u64)> {
        let mut start = 0;
        for &(on, off) in &self.steps {
            if pos < start + on {
                return Some((pos - start, on));
            }
            start += on + off;
            if pos < start {
                return None;
            }
        }
        None
    }

    /// Fills `out` with the next samples (silence past the end of a one-shot sound).
    pub fn fill(&mut self, out: &mut [i16]) {
        let ramp = samples(RAMP).max(1);
        let rate = f64::from(TONE_RATE);
        for s in out.iter_mut() {
            if self.cycle == 0 || self.finished() {
                *s = 0;
                continue;
            }
            let value = match self.burst_at(self.pos) {
                Some((offset, len)) => {
                    let edge = offset.min(len - 1 - offset.min(len - 1));
                    let env = (edge as f32 / ramp as f32).min(1.0);
                    let wave = match (&self.custom, self.voice) {
                        (Some(c), _) => {
                            let v = c.get(offset as usize).copied().unwrap_or(0);
                            f32::from(v) / 32768.0
                        }
                        (None, Voice::Warble) => {
                            // Switches 40 times a second, phase-continuous (no clicks).
                            let high = (self.pos * 40 / TONE_RATE as u64) % 2 == 1;
                            let f = if high { 1333.0 } else { 1000.0 };
                            self.phase += f / rate;
                            (2.0 * std::f64::consts::PI * self.phase).sin() as f32
                        }
                        (None, Voice::Beep) => {
                            self.phase += 440.0 / rate;
                            (2.0 * std::f64::consts::PI * self.phase).sin() as f32
                        }
                    };
                    self.phase = self.phase.fract();
                    wave * env * self.amplitude
                }
                None => 0.0,
            };
            *s = (value * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
            self.played += 1;
            self.pos += 1;
            if self.pos >= self.cycle {
                self.pos = 0;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    fn run(g: &mut ToneGenerator, d: Duration) -> Vec<i16> {
        let mut out = vec![0; samples(d) as usize];
        // Uneven blocks, as a device asks for them.
        for chunk in out.chunks_mut(441) {
            g.fill(chunk);
        }
        out
    }

    #[test]
    fn the_ring_follows_its_cadence_and_repeats() {
        let mut g = ToneGenerator::new(Sound::Ring { gain: 1.0 });
        let x = run(&mut g, Duration::from_secs(6));
        let at = |from_ms: u64, to_ms: u64| {
            let r = |t: u64| (t * u64::from(TONE_RATE) / 1000) as usize;
            rms(&x[r(from_ms)..r(to_ms)])
        };
        // Bursts at 0-400, 600-1000, 3000-3400, 3600-4000 ms; silence between.
        for (a, b) in [(10, 390), (610, 990), (3010, 3390), (3610, 3990)] {
            let level = at(a, b);
            // A 0.5 sine is 0.354 RMS of full scale.
            assert!((level / 32767.0 - 0.354).abs() < 0.01, "{a}-{b}: {level}");
        }
        for (a, b) in [(400, 600), (1000, 3000), (4000, 6000)] {
            assert_eq!(at(a, b), 0.0, "{a}-{b}");
        }
        assert!(!g.finished());
    }

    #[test]
    fn bursts_fade_in_without_a_click() {
        let mut g = ToneGenerator::new(Sound::Ring { gain: 1.0 });
        let x = run(&mut g, Duration::from_millis(10));
        assert!(x[0].abs() < 50, "{}", x[0]);
        let peak_first_ms = x[..48].iter().map(|v| v.abs()).max().unwrap();
        assert!(peak_first_ms < 4000, "{peak_first_ms}");
    }

    #[test]
    fn call_waiting_is_quiet_and_sparse() {
        let mut g = ToneGenerator::new(Sound::CallWaiting);
        let x = run(&mut g, Duration::from_secs(2));
        let on = rms(&x[480..9120]) / 32767.0; // 10-190 ms
        assert!(
            (on - f64::from(CALL_WAITING_GAIN) * 0.707).abs() < 0.005,
            "{on}"
        );
        assert_eq!(rms(&x[samples(ms(600)) as usize..]), 0.0);
    }

    #[test]
    fn volume_is_a_log_curve_and_zero_is_silent() {
        assert_eq!(volume_gain(0), 0.0);
        assert!((volume_gain(100) - 1.0).abs() < 1e-6);
        assert!((volume_gain(50) - 0.1).abs() < 1e-3); // -20 dB
        let mut g = ToneGenerator::new(Sound::Ring { gain: 0.0 });
        assert_eq!(rms(&run(&mut g, Duration::from_secs(1))), 0.0);
    }

    #[test]
    fn the_test_tone_ends_by_itself() {
        let mut g = ToneGenerator::new(Sound::Test { gain: 1.0 });
        run(&mut g, Duration::from_secs(4));
        assert!(g.finished());
        assert_eq!(g.played(), u64::from(TONE_RATE) * 11 / 10);
    }

    #[test]
    fn a_custom_ringtone_loops_with_a_pause() {
        let tone: Vec<i16> = (0..4800)
            .map(|i| if i % 2 == 0 { 1000 } else { -1000 })
            .collect();
        let mut g = ToneGenerator::new(Sound::Samples {
            samples: tone,
            gain: 1.0,
        });
        let x = run(&mut g, Duration::from_millis(1800));
        assert!(rms(&x[480..4320]) > 900.0);
        assert_eq!(rms(&x[4800..4800 + 72_000]), 0.0);
        assert!(rms(&x[76_800 + 480..76_800 + 4320]) > 900.0);
    }
}
