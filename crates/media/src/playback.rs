//! The receive side's playout, sans-IO: once per tick, packets from the jitter buffer through
//! the decoder into a buffer of decoded audio, and one frame out of it. The delay changes by
//! time-stretching that audio ([`crate::stretch`]) rather than by dropping frames (a 20 ms gap
//! in whatever is said):
//!
//! - **accelerate**: more than a frame above the buffer's target for half a second, the
//!   excess is cut from the next pause between sentences, at once (decoding packets as far
//!   as the pause goes);
//! - **expand**: a packet came too late to play, so the delay is a frame short: the next such
//!   pause is lengthened by a frame; once a frame's worth of audio waits, a tick plays it
//!   without taking a packet, and the buffer gains one.
//!
//! Why pauses: cutting or repeating pitch periods inside speech, as NetEQ does at once,
//! measured worse with PESQ here than dropping frames (a 2 s burst of 0–150 ms jitter:
//! PESQ-NB 2.4 against 3.2; PESQ keeps one delay per utterance and takes every warp inside
//! one for a distortion), and so did many small cuts in the short gaps between words (2.8).
//! One cut in a pause of 100 ms or more: 3.7, with the delay back at 40 ms instead of 80.
//! Only an excess that lasts through 3 s of talk without such a pause is cut from voiced
//! speech, a period a tick, then (after 6 s) from anything. Growing to the buffer's target
//! (4× the jitter) before any packet was late doubled the delay under steady jitter and cost
//! PESQ 0.5 for no packet saved, so growth follows lateness only; a packet missing in talk is
//! still waited for by concealing (the buffer's holds), as before.
//!
//! The delay counted is the buffer's packets plus the decoded audio not yet played.

use crate::codec::{AudioDecoder, CodecName};
use crate::jitter::{FrameKind, JitterBuffer, Playout};
use crate::opus::packet_has_lbrr;
use crate::stretch::{is_quiet, Allow, Stretched, Stretcher};
use std::time::Duration;

/// Ticks more than a frame above target before periods are cut from quiet audio (the frame
/// drop it replaces waited a second).
const ACCELERATE_AFTER: u32 = 25;
/// Ticks above target after which periods are cut from voiced speech too (3 s of talk with
/// no pause), and then from anything, so that no audio holds the delay up for good.
const VOICED_AFTER: u32 = 150;
const ANYTHING_AFTER: u32 = 300;
/// Quiet audio played before the pause is taken for one between sentences, where the delay
/// may change: changes in the short gaps between words each cost PESQ 0.1–0.3 here (its
/// alignment keeps one delay per utterance), changes in longer pauses nothing measurable.
const PAUSE_BEFORE: Duration = Duration::from_millis(100);

/// Where the packets come from: the jitter buffer, or one behind a lock.
pub trait PacketSource {
    fn pop(&mut self) -> Playout;
    /// Audio buffered, and the delay the buffer aims for.
    fn level(&mut self) -> (Duration, Duration);
    /// Whether the packet due next is here.
    fn next_ready(&mut self) -> bool;
    /// Takes one late arrival the buffer has not grown for yet, if there is one.
    fn take_late(&mut self) -> bool;
}

impl PacketSource for JitterBuffer {
    fn pop(&mut self) -> Playout {
        JitterBuffer::pop(self)
    }
    fn level(&mut self) -> (Duration, Duration) {
        (self.buffered(), self.target_delay())
    }
    fn next_ready(&mut self) -> bool {
        JitterBuffer::next_ready(self)
    }
    fn take_late(&mut self) -> bool {
        JitterBuffer::take_late(self)
    }
}

/// Counters of the time-stretching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StretchStats {
    /// Places where audio was cut (a pause shortened at once, or one period of talk), and how
    /// much audio went.
    pub accelerated: u64,
    pub accelerated_ms: u64,
    /// Cuts made after the excess lasted through talk with no pause, when voiced speech (and
    /// later anything) could be cut.
    pub in_talk: u64,
    /// Pauses lengthened, and how much audio they gained.
    pub expanded: u64,
    pub expanded_ms: u64,
}

pub struct Playback {
    decoder: AudioDecoder,
    opus: bool,
    stretcher: Stretcher,
    rate: u32,
    frame: usize,
    /// Decoded audio: `played` samples already played (kept for expanding), then the rest.
    audio: Vec<i16>,
    played: usize,
    above: u32,
    /// Quiet audio played since the talk last paused.
    pause: Duration,
    /// Fill lost frames with silence instead of concealing them (for measurements).
    conceal: bool,
    /// Off: no time-stretching (the buffer must drop frames itself; for measurements).
    stretch: bool,
    removed_samples: u64,
    added_samples: u64,
    stats: StretchStats,
    fec_recovered: u64,
}

impl Playback {
    /// `frame` samples per tick at the decoder's `rate`.
    pub fn new(decoder: AudioDecoder, codec: CodecName, rate: u32, frame: usize) -> Self {
        Playback {
            decoder,
            opus: codec == CodecName::Opus,
            stretcher: Stretcher::new(rate),
            rate: rate.max(1),
            frame: frame.max(1),
            audio: Vec::new(),
            played: 0,
            above: 0,
            pause: Duration::ZERO,
            conceal: true,
            stretch: true,
            removed_samples: 0,
            added_samples: 0,
            stats: StretchStats::default(),
            fec_recovered: 0,
        }
    }

    /// Lost frames play as silence (the quality table's "no concealment" rows).
    pub fn without_concealment(mut self) -> Self {
        self.conceal = false;
        self
    }

    /// No time-stretching: the delay only moves as the jitter buffer moves it (it must then
    /// drop frames itself). The quality table's baseline.
    pub fn without_stretching(mut self) -> Self {
        self.stretch = false;
        self
    }

    pub fn stats(&self) -> StretchStats {
        self.stats
    }

    /// Lost Opus frames rebuilt from the next packet's in-band FEC (it carried LBRR data).
    pub fn fec_recovered(&self) -> u64 {
        self.fec_recovered
    }

    /// Whether the last frame given out was quiet (a pause in the talk, or silence).
    pub fn in_pause(&self) -> bool {
        self.pause > Duration::ZERO
    }

    /// Decoded audio waiting to be played.
    pub fn pending(&self) -> Duration {
        self.duration(self.audio.len() - self.played)
    }

    /// Forgets the audio waiting (with the buffer's own reset: hold, resume).
    pub fn reset(&mut self) {
        self.audio.clear();
        self.played = 0;
        self.above = 0;
    }

    /// Silence for a tick with nothing to receive (on hold), forgetting concealment history.
    pub fn silence(&mut self) -> Vec<i16> {
        self.reset();
        self.decoder.silence()
    }

    fn duration(&self, samples: usize) -> Duration {
        Duration::from_secs_f64(samples as f64 / f64::from(self.rate))
    }

    /// The audio for this tick: exactly one frame.
    pub fn next_frame(&mut self, packets: &mut impl PacketSource) -> Vec<i16> {
        let (buffered, target) = packets.level();
        let level = buffered + self.pending();
        let frame = self.duration(self.frame);
        self.above = if level > target + frame {
            self.above.saturating_add(1)
        } else {
            0
        };
        if self.audio.len() - self.played < self.frame {
            let playing = self.decode(packets.pop());
            if !self.stretch {
            } else if playing
                && self.above >= ACCELERATE_AFTER
                && (self.pause >= PAUSE_BEFORE || self.above >= VOICED_AFTER)
            {
                self.accelerate(packets, self.samples(level.saturating_sub(target)));
            } else if playing && self.pause >= PAUSE_BEFORE && packets.take_late() {
                self.expand(self.frame);
            }
        }
        // A decoder gives a frame at least, so this only pads after a stretch went wrong.
        if self.audio.len() - self.played < self.frame {
            self.audio.resize(self.played + self.frame, 0);
        }
        let out = self.audio[self.played..self.played + self.frame].to_vec();
        self.played += self.frame;
        self.pause = if is_quiet(&out) {
            self.pause + frame
        } else {
            Duration::ZERO
        };
        let keep = self.stretcher.expand_history();
        if self.played > keep {
            self.audio.drain(..self.played - keep);
            self.played = keep;
        }
        out
    }

    /// Decodes one pop onto the waiting audio; whether it was speech arriving in order.
    fn decode(&mut self, playout: Playout) -> bool {
        let playing = matches!(&playout, Playout::Frame(f) if f.kind == FrameKind::Audio);
        let pcm = match &playout {
            Playout::Fec(_) | Playout::Lost if !self.conceal => vec![0; self.frame],
            Playout::Fec(next) => {
                if self.opus && packet_has_lbrr(&next.payload) {
                    self.fec_recovered += 1;
                }
                self.decoder.play(playout)
            }
            _ => self.decoder.play(playout),
        };
        self.audio.extend_from_slice(&pcm);
        playing
    }

    fn samples(&self, d: Duration) -> usize {
        (d.as_secs_f64() * f64::from(self.rate)) as usize
    }

    /// Cuts up to `excess` samples at the play position. In a pause, all of it at once,
    /// decoding packets as far as the pause goes (PESQ, and a listener, take one longer
    /// change better than many small ones); in talk, one period a tick.
    fn accelerate(&mut self, packets: &mut impl PacketSource, excess: usize) {
        let allow = match self.above {
            a if a >= ANYTHING_AFTER => Allow::Anything,
            a if a >= VOICED_AFTER => Allow::Voiced,
            _ => Allow::Quiet,
        };
        // Enough audio to cut the longest period and still play a frame: one more packet at
        // 20 ms, none at 30 ms, several at 10 ms.
        let needs = self
            .stretcher
            .accelerate_needs()
            .max(self.frame + self.stretcher.max_period());
        let mut removed = 0;
        while removed < excess {
            while self.audio.len() - self.played < needs && packets.next_ready() {
                self.decode(packets.pop());
            }
            if self.audio.len() - self.played < needs {
                break;
            }
            match self
                .stretcher
                .accelerate(&mut self.audio, self.played, allow, excess - removed)
            {
                Stretched::By(n) => removed += n,
                Stretched::Unsuitable => break,
            }
            if allow > Allow::Quiet {
                break;
            }
        }
        if removed > 0 {
            self.stats.accelerated += 1;
            if allow > Allow::Quiet {
                self.stats.in_talk += 1;
            }
            self.removed_samples += removed as u64;
            self.stats.accelerated_ms = self.removed_samples * 1000 / u64::from(self.rate);
        }
    }

    /// Lengthens the pause at the play position by up to `deficit` samples, at once.
    fn expand(&mut self, deficit: usize) {
        let mut added = 0;
        while added < deficit {
            match self
                .stretcher
                .expand(&mut self.audio, self.played, Allow::Quiet, deficit - added)
            {
                Stretched::By(n) => added += n,
                Stretched::Unsuitable => break,
            }
        }
        if added > 0 {
            self.stats.expanded += 1;
            self.added_samples += added as u64;
            self.stats.expanded_ms = self.added_samples * 1000 / u64::from(self.rate);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::codec::Codec;
    use crate::g711::Law;
    use crate::jitter::{JitterConfig, JitterStats};
    use crate::stretch::tests::max_step;

    const FRAME: usize = 160;

    fn voiced(n: usize) -> Vec<i16> {
        crate::stretch::tests::voiced(8000, n)
    }

    fn playback(stretch: bool) -> (Playback, JitterBuffer) {
        let decoder = AudioDecoder::new(Codec::PCMU, FRAME).unwrap();
        let mut p = Playback::new(decoder, CodecName::Pcmu, 8000, FRAME);
        if !stretch {
            p = p.without_stretching();
        }
        let jb = JitterBuffer::new(JitterConfig {
            caller_shrinks: stretch,
            ..JitterConfig::default()
        });
        (p, jb)
    }

    fn push(jb: &mut JitterBuffer, audio: &[i16], seq: u16, at: Duration) {
        let pcm = &audio[usize::from(seq) * FRAME..][..FRAME];
        let ts = u32::from(seq) * FRAME as u32;
        jb.push(7, seq, ts, false, Law::Mu.encode(pcm), at);
    }

    /// A steady stream: every packet played once, in order, untouched.
    #[test]
    fn a_steady_stream_is_played_as_sent() {
        let audio = voiced(FRAME * 60);
        let (mut p, mut jb) = playback(true);
        let mut out = Vec::new();
        for seq in 0..60u16 {
            push(
                &mut jb,
                &audio,
                seq,
                Duration::from_millis(20 * u64::from(seq)),
            );
            out.extend(p.next_frame(&mut jb));
        }
        assert_eq!(p.stats(), StretchStats::default());
        let decoded: Vec<i16> = Law::Mu.decode(&Law::Mu.encode(&audio));
        // Playing starts once 40 ms is buffered: one frame of silence first.
        assert_eq!(out[FRAME..], decoded[..out.len() - FRAME]);
    }

    /// Talk: 300 ms of voiced audio, then a 300 ms pause, over and over.
    fn talk(n: usize) -> Vec<i16> {
        let mut audio = voiced(n);
        for (i, s) in audio.iter_mut().enumerate() {
            if i % 4800 >= 2400 {
                *s = 0;
            }
        }
        audio
    }

    /// Ten packets held up by the network arrive at once, 200 ms late. Returns what was
    /// played, the delay at each tick and the counters.
    fn burst(audio: &[i16], stretch: bool) -> (Vec<i16>, Vec<Duration>, JitterBuffer, Playback) {
        let (mut p, mut jb) = playback(stretch);
        let mut out = Vec::new();
        let mut delays = Vec::new();
        let mut seq = 0u16;
        let frames = (audio.len() / FRAME) as u16;
        for tick in 0..u64::from(frames) {
            let now = Duration::from_millis(20 * tick);
            // Packets 20..30 are held up, then come together.
            if tick == 30 {
                while seq < 30 {
                    push(&mut jb, audio, seq, now);
                    seq += 1;
                }
            } else if !(20..30).contains(&tick) && seq <= tick as u16 && seq < frames {
                push(&mut jb, audio, seq, now);
                seq += 1;
            }
            delays.push(jb.buffered() + p.pending());
            out.extend(p.next_frame(&mut jb));
        }
        assert_eq!(out.len(), audio.len());
        (out, delays, jb, p)
    }

    /// After a burst, the excess delay goes in a pause of the talk: no frame dropped, nothing
    /// cut from speech.
    #[test]
    fn a_burst_is_absorbed_in_the_pauses() {
        let audio = talk(FRAME * 200);
        let (_, delays, jb, p) = burst(&audio, true);
        assert_eq!(jb.stats().dropped, 0, "{:?}", jb.stats());
        assert_eq!(p.stats().in_talk, 0, "{:?}", p.stats());
        // Taken in one or two cuts, not period by period.
        let st = p.stats();
        assert!(
            (1..=2).contains(&st.accelerated) && st.accelerated_ms >= 140,
            "{st:?}"
        );
        let end = delays[delays.len() - 20..].iter().max().copied().unwrap();
        assert!(end <= Duration::from_millis(80), "delay at the end {end:?}");
        // Without time-stretching the buffer drops frames, speech or not.
        let (_, _, jb, p) = burst(&audio, false);
        assert!(jb.stats().dropped >= 1, "{:?}", jb.stats());
        assert_eq!(p.stats(), StretchStats::default());
    }

    /// Unbroken talk: after 3 s the excess is cut from voiced speech, whole periods without a
    /// click.
    #[test]
    fn an_excess_through_unbroken_talk_is_cut_from_voiced_speech_without_a_click() {
        let audio = voiced(FRAME * 400);
        let decoded: Vec<i16> = Law::Mu.decode(&Law::Mu.encode(&audio));
        let (out, delays, jb, p) = burst(&audio, true);
        assert_eq!(jb.stats().dropped, 0, "{:?}", jb.stats());
        assert!(p.stats().in_talk >= 3, "{:?}", p.stats());
        let end = delays[delays.len() - 20..].iter().max().copied().unwrap();
        assert!(end <= Duration::from_millis(80), "delay at the end {end:?}");
        // From the burst on (the underrun before it is concealment's business).
        let after = &out[31 * FRAME..];
        assert!(
            max_step(after) <= max_step(&decoded) + 40,
            "step {} against the signal's {}; {:?}",
            max_step(after),
            max_step(&decoded),
            p.stats()
        );
    }

    /// From 1 s on, one packet in eight comes 70 ms late (a 40 ms buffer). Returns the jitter
    /// buffer's and the stretching's counters.
    fn late_packets(stretch: bool) -> (JitterStats, StretchStats) {
        let audio = talk(FRAME * 300);
        let (mut p, mut jb) = playback(stretch);
        let mut wire: Vec<(u64, u16)> = (0..300u16)
            .map(|seq| {
                let late = if seq >= 50 && seq % 8 == 0 { 70 } else { 0 };
                (20 * u64::from(seq) + late, seq)
            })
            .collect();
        wire.sort();
        let mut next = 0;
        for tick in 0..320u64 {
            let now = 20 * tick;
            while next < wire.len() && wire[next].0 <= now {
                push(
                    &mut jb,
                    &audio,
                    wire[next].1,
                    Duration::from_millis(wire[next].0),
                );
                next += 1;
            }
            p.next_frame(&mut jb);
        }
        (jb.stats(), p.stats())
    }

    /// Packets come late: the delay grows in the pauses, a frame at a time, so that fewer
    /// come too late to play and fewer frames are concealed while waiting for them.
    #[test]
    fn late_packets_grow_the_delay_in_the_pauses() {
        let (fixed, none) = late_packets(false);
        let (stretched, grown) = late_packets(true);
        assert_eq!(none, StretchStats::default());
        assert!(grown.expanded >= 1, "{grown:?}");
        assert!(
            stretched.late + stretched.concealed < fixed.late + fixed.concealed,
            "with {stretched:?}\nwithout {fixed:?}"
        );
    }
}
