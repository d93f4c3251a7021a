//! Pitch-repetition packet-loss concealment for G.711, in the spirit of ITU-T G.711
//! Appendix I: a lost frame is filled by repeating the last pitch period of the history
//! (a period chosen so the repetition continues the waveform smoothly), full level for 10 ms,
//! then fading to silence over 50 ms; the first good frame after a loss is cross-faded in.

/// History kept: enough for the correlation window plus the longest pitch period.
const HISTORY: usize = 390;
/// Pitch periods searched, in samples at 8 kHz (200 Hz down to 66 Hz).
const MIN_PITCH: usize = 40;
const MAX_PITCH: usize = 120;
const WINDOW: usize = 160;
const CROSSFADE: usize = 32;

#[derive(Debug, Clone)]
pub struct PitchPlc {
    rate: usize,
    history: Vec<i16>,
    /// The pitch cycle being repeated during a loss, and where in it we are.
    cycle: Vec<i16>,
    pos: usize,
    /// Samples concealed in the current loss.
    concealed: usize,
}

impl PitchPlc {
    /// `rate` scales the 10 ms / 50 ms envelope; the pitch search assumes 8 kHz (G.711).
    pub fn new(rate: u32) -> Self {
        PitchPlc {
            rate: rate.max(1) as usize,
            history: Vec::with_capacity(HISTORY),
            cycle: Vec::new(),
            pos: 0,
            concealed: 0,
        }
    }

    fn remember(&mut self, pcm: &[i16]) {
        self.history.extend_from_slice(pcm);
        if self.history.len() > HISTORY {
            let excess = self.history.len() - HISTORY;
            self.history.drain(..excess);
        }
    }

    /// The pitch period that best predicts the last window from the one a period earlier.
    fn pitch(&self) -> usize {
        let h = &self.history;
        let end = h.len();
        let mut best = (MIN_PITCH, f64::MIN);
        for p in MIN_PITCH..=MAX_PITCH {
            let (mut xy, mut yy) = (0.0, 0.0);
            for i in end - WINDOW..end {
                let (x, y) = (f64::from(h[i]), f64::from(h[i - p]));
                xy += x * y;
                yy += y * y;
            }
            let score = if yy > 0.0 { xy / yy.sqrt() } else { 0.0 };
            if score > best.1 {
                best = (p, score);
            }
        }
        best.0
    }

    fn gain(&self, concealed: usize) -> f32 {
        let ten_ms = self.rate / 100;
        if concealed < ten_ms {
            1.0
        } else {
            (1.0 - (concealed - ten_ms) as f32 / (5 * ten_ms) as f32).max(0.0)
        }
    }

    fn next_concealed(&mut self) -> i16 {
        let Some(&s) = self.cycle.get(self.pos % self.cycle.len().max(1)) else {
            return 0;
        };
        let g = self.gain(self.concealed);
        self.pos += 1;
        self.concealed += 1;
        (f32::from(s) * g) as i16
    }

    /// A good frame: cross-faded in after a loss, then remembered.
    pub fn good(&mut self, pcm: &mut [i16]) {
        if self.concealed > 0 {
            let n = CROSSFADE.min(pcm.len());
            for (i, s) in pcm.iter_mut().take(n).enumerate() {
                let w = (i + 1) as f32 / (n + 1) as f32;
                let c = f32::from(self.next_concealed());
                *s = (w * f32::from(*s) + (1.0 - w) * c) as i16;
            }
            self.concealed = 0;
        }
        self.remember(pcm);
    }

    /// `n` samples standing in for a lost frame.
    pub fn conceal(&mut self, n: usize) -> Vec<i16> {
        if self.concealed == 0 {
            if self.history.len() < WINDOW + MAX_PITCH {
                // Too little history (start of the stream): silence.
                return vec![0; n];
            }
            let p = self.pitch();
            self.cycle = self.history[self.history.len() - p..].to_vec();
            self.pos = 0;
        }
        let out: Vec<i16> = (0..n).map(|_| self.next_concealed()).collect();
        self.remember(&out);
        out
    }

    /// `n` samples standing in for a lost frame when the frame after it is already here (the
    /// jitter buffer holds it): the past's pitch cycle carried forward is cross-faded into
    /// the next frame's first cycle carried backward, so the gap is interpolated instead of
    /// extrapolated and ends exactly where `next` begins (no fade-out, no cross-fade later).
    pub fn bridge(&mut self, next: &[i16], n: usize) -> Vec<i16> {
        if self.history.len() < WINDOW + MAX_PITCH || next.len() < MAX_PITCH {
            return self.conceal(n);
        }
        if self.concealed == 0 {
            let p = self.pitch();
            self.cycle = self.history[self.history.len() - p..].to_vec();
            self.pos = 0;
        }
        let p = self.cycle.len().max(1) as isize;
        let out: Vec<i16> = (0..n)
            .map(|t| {
                let forward = f32::from(self.next_concealed());
                let back = f32::from(next[(t as isize - n as isize).rem_euclid(p) as usize]);
                let w = (t + 1) as f32 / (n + 1) as f32;
                ((1.0 - w) * forward + w * back) as i16
            })
            .collect();
        self.remember(&out);
        self.concealed = 0;
        out
    }

    /// Forget everything (stream restarted).
    pub fn reset(&mut self) {
        self.history.clear();
        self.cycle.clear();
        self.concealed = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn voiced(n: usize, period: f64) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let ph = 2.0 * std::f64::consts::PI * i as f64 / period;
                (6000.0 * ph.sin() + 2000.0 * (2.0 * ph).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn finds_the_pitch_and_continues_the_waveform() {
        let sig = voiced(800, 80.0);
        let mut plc = PitchPlc::new(8000);
        for f in sig[..640].chunks(160) {
            plc.good(&mut f.to_vec());
        }
        assert_eq!(plc.pitch(), 80);
        // The first 10 ms of concealment match the true continuation closely.
        let c = plc.conceal(160);
        let err: f64 = c[..80]
            .iter()
            .zip(&sig[640..720])
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
            .sum::<f64>()
            / 80.0;
        assert!(err < 100.0, "mean error {err}");
    }

    #[test]
    fn fades_to_silence_and_cross_fades_back() {
        let sig = voiced(2000, 64.0);
        let mut plc = PitchPlc::new(8000);
        for f in sig[..640].chunks(160) {
            plc.good(&mut f.to_vec());
        }
        let frames: Vec<Vec<i16>> = (0..4).map(|_| plc.conceal(160)).collect();
        let peak = |x: &[i16]| x.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak(&frames[0]) > 5000);
        assert!(peak(&frames[2]) < peak(&frames[1]));
        assert_eq!(peak(&frames[3]), 0, "silent after 60 ms");
        let mut next = sig[1280..1440].to_vec();
        plc.good(&mut next);
        assert_eq!(next[100..], sig[1380..1440]);
    }

    #[test]
    fn bridge_interpolates_a_single_loss_and_joins_the_next_frame() {
        let sig = voiced(1200, 80.0);
        let mut plc = PitchPlc::new(8000);
        for f in sig[..640].chunks(160) {
            plc.good(&mut f.to_vec());
        }
        let next = sig[800..960].to_vec();
        let gap = plc.bridge(&next, 160);
        let err = |x: &[i16], y: &[i16]| {
            x.iter()
                .zip(y)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
                .sum::<f64>()
                / x.len() as f64
        };
        // A periodic signal is rebuilt almost exactly, with no fade.
        assert!(
            err(&gap, &sig[640..800]) < 100.0,
            "{}",
            err(&gap, &sig[640..800])
        );
        // The next frame plays unchanged (no cross-fade from a concealment).
        let mut after = next.clone();
        plc.good(&mut after);
        assert_eq!(after, next);
    }

    #[test]
    fn no_history_means_silence() {
        let mut plc = PitchPlc::new(8000);
        assert_eq!(plc.conceal(160), vec![0; 160]);
    }
}
