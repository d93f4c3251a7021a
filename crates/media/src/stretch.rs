//! Time-stretching of decoded audio, after NetEQ's accelerate and preemptive expand (WSOLA):
//! one pitch period is removed from, or repeated in, the audio not yet played, cross-faded so
//! the waveform runs on. The jitter buffer's delay changes by 2.5–15 ms at a time without the
//! 20 ms gap of a dropped frame or the fade of concealment.
//!
//! A period is only cut or repeated where the caller allows ([`Allow`]): in quiet audio
//! (silence, comfort noise: nothing shows, and PESQ's alignment sees only a pause of another
//! length), also in voiced speech (the next period matches the last with a normalised
//! correlation of 0.9 or more, NetEQ's threshold), or anywhere.

/// Periods searched: 2.5 ms (400 Hz) to 15 ms (67 Hz), as NetEQ.
const MIN_PERIOD_US: u64 = 2_500;
const MAX_PERIOD_US: u64 = 15_000;
/// Length compared between one period and the next: 12.5 ms, as NetEQ.
const WINDOW_US: u64 = 12_500;
/// NetEQ's bar for voiced speech.
const VOICED: f32 = 0.9;
/// Below this mean level (about −50 dBFS) audio is a pause: the reference speech's word
/// onsets and endings sit between −50 and −40 dBFS, and cutting them cost PESQ.
const QUIET_RMS: f32 = 100.0;

/// Where a period may be cut or repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Allow {
    /// Only in quiet audio (about −40 dBFS or below).
    Quiet,
    /// Also in voiced speech (NetEQ's rule).
    Voiced,
    /// Anywhere: the best period even in loud unvoiced audio.
    Anything,
}

/// What a stretch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stretched {
    /// Samples removed (accelerate) or added (expand).
    By(usize),
    /// The audio was loud and unvoiced, or too short: left as it was.
    Unsuitable,
}

/// Pitch-synchronous time-stretching at one sample rate.
#[derive(Debug, Clone)]
pub struct Stretcher {
    min_period: usize,
    max_period: usize,
    window: usize,
    /// Samples per sample of the 8 kHz copy the coarse search runs on.
    decimation: usize,
}

impl Stretcher {
    pub fn new(rate: u32) -> Self {
        let at = |us: u64| ((u64::from(rate.max(8000)) * us) / 1_000_000) as usize;
        Stretcher {
            min_period: at(MIN_PERIOD_US),
            max_period: at(MAX_PERIOD_US),
            window: at(WINDOW_US),
            decimation: (rate / 8000).max(1) as usize,
        }
    }

    /// Samples an [`accelerate`](Self::accelerate) needs to be able to cut the longest period.
    pub fn accelerate_needs(&self) -> usize {
        self.max_period + self.window.max(self.max_period)
    }

    /// The longest period cut or repeated.
    pub fn max_period(&self) -> usize {
        self.max_period
    }

    /// History (played samples) an [`expand`](Self::expand) needs before the unplayed ones.
    pub fn expand_history(&self) -> usize {
        self.max_period
    }

    /// Unplayed samples an [`expand`](Self::expand) needs after the history.
    pub fn expand_needs(&self) -> usize {
        self.window.max(self.max_period)
    }

    /// Removes one period from `pcm[start..]` (the unplayed audio; what comes before is left
    /// alone): its first period is cross-faded into the second, where `allow` allows. No
    /// more than `at_most` samples go.
    pub fn accelerate(
        &self,
        pcm: &mut Vec<i16>,
        start: usize,
        allow: Allow,
        at_most: usize,
    ) -> Stretched {
        let longest = self.max_period.min(at_most);
        if pcm.len() < start + self.accelerate_needs() || longest < self.min_period {
            return Stretched::Unsuitable;
        }
        // Quiet audio: no period to match, the longest allowed goes.
        let s = start;
        let (t, corr) = if is_quiet(&pcm[s..s + 2 * self.max_period]) {
            (longest, 0.0)
        } else {
            // Compare x[s..s+w] with x[s+t..s+t+w].
            self.best_period(pcm, longest, |t| (s, s + t))
        };
        if !self.allowed(allow, corr, &pcm[s..s + 2 * t]) {
            return Stretched::Unsuitable;
        }
        // x[s..s+t] fades out as x[s+t..s+2t] fades in; x[s+2t..] follows as before.
        for i in s..s + t {
            let w = (i - s + 1) as f32 / (t + 1) as f32;
            let mixed = (1.0 - w) * f32::from(pcm[i]) + w * f32::from(pcm[t + i]);
            pcm[i] = mixed.round().clamp(-32768.0, 32767.0) as i16;
        }
        pcm.drain(s + t..s + 2 * t);
        Stretched::By(t)
    }

    /// Repeats one period at the play position: `pcm` is `played` samples already played
    /// (left untouched) followed by the unplayed ones. The period ending at the play position
    /// is cross-faded in after it, so the unplayed audio grows by one period (no more than
    /// `at_most` samples), where `allow` allows.
    pub fn expand(
        &self,
        pcm: &mut Vec<i16>,
        played: usize,
        allow: Allow,
        at_most: usize,
    ) -> Stretched {
        let longest = self.max_period.min(at_most);
        if played < self.expand_history()
            || pcm.len() < played + self.expand_needs()
            || longest < self.min_period
        {
            return Stretched::Unsuitable;
        }
        let h = played;
        let (t, corr) = if is_quiet(&pcm[h - self.max_period..h + self.max_period]) {
            (longest, 0.0)
        } else {
            // Compare x[h-t..h-t+w] with x[h..h+w].
            self.best_period(pcm, longest, |t| (h - t, h))
        };
        if !self.allowed(allow, corr, &pcm[h - t..h + t]) {
            return Stretched::Unsuitable;
        }
        // Inserted at h: x[h..h+t] fading out into x[h-t..h], which x[h..] follows as before.
        let inserted: Vec<i16> = (0..t)
            .map(|i| {
                let w = (i + 1) as f32 / (t + 1) as f32;
                let mixed = (1.0 - w) * f32::from(pcm[h + i]) + w * f32::from(pcm[h - t + i]);
                mixed.round().clamp(-32768.0, 32767.0) as i16
            })
            .collect();
        pcm.splice(h..h, inserted);
        Stretched::By(t)
    }

    fn allowed(&self, allow: Allow, corr: f32, span: &[i16]) -> bool {
        match allow {
            Allow::Anything => true,
            Allow::Voiced => corr >= VOICED || is_quiet(span),
            Allow::Quiet => is_quiet(span),
        }
    }

    /// The period `t` whose segments `at(t)` = (p, q) correlate best over the window, and
    /// that correlation: coarsely on an 8 kHz copy, then refined at the full rate.
    fn best_period(
        &self,
        pcm: &[i16],
        longest: usize,
        at: impl Fn(usize) -> (usize, usize),
    ) -> (usize, f32) {
        let d = self.decimation;
        let w = self.window;
        let mut best = (self.min_period, f32::MIN);
        if d > 1 {
            let coarse: Vec<f32> = pcm
                .chunks_exact(d)
                .map(|c| c.iter().map(|&s| f32::from(s)).sum::<f32>() / d as f32)
                .collect();
            let mut coarse_best = (self.min_period / d, f32::MIN);
            for td in self.min_period.div_ceil(d)..=longest / d {
                let (p, q) = at(td * d);
                let c = correlation(&coarse, p / d, q / d, w / d);
                if c > coarse_best.1 {
                    coarse_best = (td, c);
                }
            }
            let centre = coarse_best.0 * d;
            let lo = centre.saturating_sub(d).max(self.min_period);
            let hi = (centre + d).min(longest);
            for t in lo..=hi {
                let (p, q) = at(t);
                let c = correlation(pcm, p, q, w);
                if c > best.1 {
                    best = (t, c);
                }
            }
        } else {
            for t in self.min_period..=longest {
                let (p, q) = at(t);
                let c = correlation(pcm, p, q, w);
                if c > best.1 {
                    best = (t, c);
                }
            }
        }
        best
    }
}

/// Whether `pcm` is quiet enough to be a pause in the talk (below about −50 dBFS).
pub fn is_quiet(pcm: &[i16]) -> bool {
    if pcm.is_empty() {
        return true;
    }
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (energy / pcm.len() as f64).sqrt() < f64::from(QUIET_RMS)
}

/// Normalised correlation of x[p..p+w] and x[q..q+w] (0 when either is silent).
fn correlation<T: Copy + Into<f64>>(x: &[T], p: usize, q: usize, w: usize) -> f32 {
    let (a, b) = match (x.get(p..p + w), x.get(q..q + w)) {
        (Some(a), Some(b)) => (a, b),
        _ => return f32::MIN,
    };
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y): (f64, f64) = (x.into(), y.into());
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        0.0
    } else {
        (ab / (aa * bb).sqrt()) as f32
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;

    /// A voiced-like signal: a 125 Hz fundamental and two harmonics.
    pub(crate) fn voiced(rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let w = 2.0 * std::f64::consts::PI * 125.0 * t;
                (6000.0 * w.sin() + 3000.0 * (2.0 * w).sin() + 1500.0 * (3.0 * w).sin()) as i16
            })
            .collect()
    }

    /// Deterministic loud white noise (unvoiced).
    fn noise(n: usize, level: f64) -> Vec<i16> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * level
            })
            .map(|v| v as i16)
            .collect()
    }

    /// The largest jump between neighbouring samples.
    pub(crate) fn max_step(x: &[i16]) -> i32 {
        x.windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn accelerate_cuts_whole_pitch_periods_without_a_click() {
        for rate in [8000, 16_000, 48_000] {
            let s = Stretcher::new(rate);
            let original = voiced(rate, rate as usize / 20); // 50 ms
            let played = rate as usize / 100;
            let mut pcm = original.clone();
            let Stretched::By(t) = s.accelerate(&mut pcm, played, Allow::Voiced, usize::MAX) else {
                panic!("voiced audio at {rate} Hz was not accelerated");
            };
            let period = rate as usize / 125;
            assert_eq!(t % period, 0, "{rate} Hz: cut {t}, period {period}");
            assert_eq!(pcm.len(), original.len() - t);
            assert_eq!(pcm[..played], original[..played], "played audio changed");
            // A whole period is gone, so what follows is the original shifted by it.
            assert_eq!(pcm[played + t..], original[played + 2 * t..]);
            assert!(
                max_step(&pcm) <= max_step(&original) + 2,
                "{rate} Hz: a click of {} (signal steps {})",
                max_step(&pcm),
                max_step(&original)
            );
        }
    }

    #[test]
    fn expand_repeats_a_period_at_the_play_position_only() {
        for rate in [8000, 48_000] {
            let s = Stretcher::new(rate);
            let original = voiced(rate, rate as usize * 35 / 1000);
            let played = s.expand_history();
            let mut pcm = original.clone();
            let Stretched::By(t) = s.expand(&mut pcm, played, Allow::Voiced, usize::MAX) else {
                panic!("voiced audio at {rate} Hz was not expanded");
            };
            assert_eq!(t % (rate as usize / 125), 0);
            assert_eq!(pcm.len(), original.len() + t);
            assert_eq!(pcm[..played], original[..played], "played audio changed");
            assert_eq!(pcm[played + t..], original[played..]);
            assert!(max_step(&pcm) <= max_step(&original) + 2);
        }
    }

    #[test]
    fn each_kind_of_audio_is_stretched_only_where_allowed() {
        let s = Stretcher::new(8000);
        let loud = noise(400, 8000.0);
        let mut pcm = loud.clone();
        assert_eq!(
            s.accelerate(&mut pcm, 0, Allow::Voiced, usize::MAX),
            Stretched::Unsuitable
        );
        assert_eq!(
            s.expand(&mut pcm, 120, Allow::Voiced, usize::MAX),
            Stretched::Unsuitable
        );
        assert_eq!(pcm, loud);
        let cut = s.accelerate(&mut pcm, 0, Allow::Anything, usize::MAX);
        assert!(matches!(cut, Stretched::By(_)), "{cut:?}");
        assert!(pcm.len() < loud.len());

        for allow in [Allow::Quiet, Allow::Voiced] {
            let mut quiet = noise(400, 120.0);
            let cut = s.accelerate(&mut quiet, 0, allow, usize::MAX);
            assert!(matches!(cut, Stretched::By(_)), "{cut:?}");
            let mut silence = vec![0i16; 400];
            let added = s.expand(&mut silence, 120, allow, usize::MAX);
            assert!(matches!(added, Stretched::By(_)), "{added:?}");
        }

        // Voiced speech only where voiced speech is allowed.
        let speech = voiced(8000, 400);
        let mut pcm = speech.clone();
        assert_eq!(
            s.accelerate(&mut pcm, 0, Allow::Quiet, usize::MAX),
            Stretched::Unsuitable
        );
        assert_eq!(
            s.expand(&mut pcm, 120, Allow::Quiet, usize::MAX),
            Stretched::Unsuitable
        );
        assert_eq!(pcm, speech);
    }

    #[test]
    fn too_little_audio_is_never_touched() {
        let s = Stretcher::new(8000);
        let mut short = voiced(8000, s.accelerate_needs() - 1);
        let before = short.clone();
        assert_eq!(
            s.accelerate(&mut short, 0, Allow::Anything, usize::MAX),
            Stretched::Unsuitable
        );
        assert_eq!(
            s.expand(&mut short, 10, Allow::Anything, usize::MAX),
            Stretched::Unsuitable
        );
        assert_eq!(short, before);
    }
}
