//! An offline call path for quality measurements: the engine's send and receive halves
//! (encoder → RTP packets → a seeded network → jitter buffer → decoder) run frame by frame on a
//! simulated clock, with no sockets, threads or sleeps. The same seed gives the same output, so
//! PESQ figures from it can serve as test floors (see `tests/quality.rs`).

use crate::codec::{AudioDecoder, AudioEncoder, Codec, CodecError};
use crate::jitter::{JitterBuffer, JitterConfig, JitterStats};
use crate::opus::OpusSettings;
use crate::playback::{Playback, StretchStats};
use crate::rtp::RtpPacket;
use crate::session::RtpSender;
use std::time::Duration;

/// Which packets the network loses (the dice the impairment relay uses too).
pub use seatline_impairment::Loss;
use seatline_impairment::{LossModel, Rng};

/// The network between the two ends: loss, a fixed delay, and a uniformly distributed extra
/// delay of up to `jitter` per packet (packets overtake each other when it exceeds a frame).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    pub loss: Loss,
    pub delay: Duration,
    pub jitter: Duration,
    /// Packets sent from this time on see no jitter (a Wi-Fi scan or a download that ends).
    pub jitter_ends: Option<Duration>,
    pub seed: u64,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            loss: Loss::None,
            delay: Duration::from_millis(5),
            jitter: Duration::ZERO,
            jitter_ends: None,
            seed: 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub codec: Codec,
    pub ptime: Duration,
    pub opus: OpusSettings,
    pub jitter_min: Duration,
    pub jitter_max: Duration,
    pub network: Network,
    /// Where the receiver's playout ticks fall within the sender's frame period.
    pub playout_phase: Duration,
    /// How much slower the sender's clock runs than the receiver's, in parts per million
    /// (negative: faster), as between two machines or two sound cards.
    pub sender_drift_ppm: f64,
    /// Off: lost frames play as silence instead of concealment or FEC (a baseline to beat).
    pub concealment: bool,
    /// Off: the delay comes down by dropping whole frames instead of cutting pitch periods,
    /// and grows only by concealing (a baseline to beat).
    pub time_stretch: bool,
}

impl SimConfig {
    /// The engine's defaults (20 ms, 40-300 ms jitter buffer) over a clean network.
    pub fn new(codec: Codec) -> Self {
        SimConfig {
            codec,
            ptime: Duration::from_millis(20),
            opus: OpusSettings::default(),
            jitter_min: Duration::from_millis(40),
            jitter_max: Duration::from_millis(300),
            network: Network::default(),
            playout_phase: Duration::from_millis(10),
            sender_drift_ppm: 0.0,
            concealment: true,
            time_stretch: true,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SimOutput {
    /// What the receiver played, at the codec's clock rate, from the first tick.
    pub pcm: Vec<i16>,
    pub jitter: JitterStats,
    pub sent: u64,
    pub lost_in_network: u64,
    /// Lost frames rebuilt from the next packet's in-band FEC (it carried LBRR data).
    pub fec_recovered: u64,
    pub stretch: StretchStats,
    /// The receive delay at each tick once playing: packets buffered plus decoded audio
    /// waiting.
    pub delays: Vec<Duration>,
}

/// Sends `input` (at the codec's clock rate) through the path and returns what is played
/// until the jitter buffer has played out the last packet.
pub fn run(input: &[i16], cfg: &SimConfig) -> Result<SimOutput, CodecError> {
    let rate = cfg.codec.clock_rate;
    let frame_samples = (u128::from(rate) * cfg.ptime.as_millis() / 1000) as usize;
    let mut encoder = AudioEncoder::with_opus_settings(cfg.codec, frame_samples, cfg.opus)?;
    let decoder = AudioDecoder::new(cfg.codec, frame_samples)?;
    let mut playback = Playback::new(decoder, cfg.codec.name, rate, frame_samples);
    if !cfg.concealment {
        playback = playback.without_concealment();
    }
    if !cfg.time_stretch {
        playback = playback.without_stretching();
    }
    let mut jb = JitterBuffer::new(JitterConfig {
        clock_rate: rate,
        frame: cfg.ptime,
        min_delay: cfg.jitter_min,
        max_delay: cfg.jitter_max.max(cfg.jitter_min),
        caller_shrinks: cfg.time_stretch,
    });
    // Start near the sequence wrap so every run crosses it.
    let mut sender = RtpSender::with_start(
        cfg.codec.payload_type,
        frame_samples as u32,
        0x5EA7,
        65_500,
        7,
    );
    let mut rng = Rng::new(cfg.network.seed);
    let mut loss = LossModel::new(cfg.network.loss);
    let mut out = SimOutput::default();
    // Packets on the wire: (arrival, datagram).
    let mut wire: Vec<(Duration, Vec<u8>)> = Vec::new();
    let frames_in = input.len().div_ceil(frame_samples.max(1));
    let send_period = cfg.ptime.mul_f64(1.0 + cfg.sender_drift_ppm / 1e6);
    let mut sent_frames = 0;
    let mut tick = 0u32;
    let max_ticks = frames_in
        + 2 * (cfg.jitter_max.as_nanos() / cfg.ptime.as_nanos().max(1)) as usize
        + (cfg.network.delay + cfg.network.jitter).as_nanos() as usize
            / cfg.ptime.as_nanos().max(1) as usize
        + 10;
    loop {
        // The playout clock ticks `playout_phase` after the send clock's start.
        let play_at = cfg.ptime * tick + cfg.playout_phase;
        tick += 1;
        while sent_frames < frames_in && send_period * sent_frames as u32 <= play_at {
            let start = sent_frames * frame_samples;
            let mut pcm = input[start..(start + frame_samples).min(input.len())].to_vec();
            pcm.resize(frame_samples, 0);
            let packet = sender.audio(encoder.encode(&pcm)?);
            sender.tick();
            out.sent += 1;
            if loss.lost(&mut rng) {
                out.lost_in_network += 1;
            } else if let Ok(bytes) = packet.to_bytes() {
                let sent_at = send_period * sent_frames as u32;
                let jitter = match cfg.network.jitter_ends {
                    Some(end) if sent_at >= end => Duration::ZERO,
                    _ => cfg.network.jitter,
                };
                let extra = jitter.mul_f64(rng.unit());
                wire.push((sent_at + cfg.network.delay + extra, bytes));
            }
            sent_frames += 1;
        }
        // Done once everything sent was played (no concealment after the stream's end).
        if sent_frames == frames_in
            && wire.is_empty()
            && jb.buffered().is_zero()
            && playback.pending() < cfg.ptime
        {
            break;
        }
        // A tail shorter than the prefill target never starts playing.
        if tick as usize > max_ticks {
            break;
        }
        wire.sort_by_key(|(t, _)| *t);
        let due = wire.partition_point(|(t, _)| *t <= play_at);
        for (arrival, bytes) in wire.drain(..due) {
            if let Ok(p) = RtpPacket::parse(&bytes) {
                jb.push(
                    p.ssrc,
                    p.sequence,
                    p.timestamp,
                    p.marker,
                    p.payload,
                    arrival,
                );
            }
        }
        let delay = jb.buffered() + playback.pending();
        if std::env::var_os("SIM_TRACE").is_some() {
            eprintln!(
                "tick {tick} buffered {:?} pending {:?} target {:?} {:?} {:?}",
                jb.buffered(),
                playback.pending(),
                jb.target_delay(),
                jb.stats(),
                playback.stats()
            );
        }
        out.pcm.extend(playback.next_frame(&mut jb));
        if !out.delays.is_empty() || jb.stats().played > 0 {
            out.delays.push(delay);
        }
    }
    out.jitter = jb.stats();
    out.stretch = playback.stats();
    out.fec_recovered = playback.fec_recovered();
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn tone(n: usize, rate: u32) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                ((2.0 * std::f64::consts::PI * 300.0 * t).sin() * 8000.0) as i16
            })
            .collect()
    }

    #[test]
    fn clean_network_plays_every_packet_in_order() {
        let input = tone(8000 * 2, 8000);
        let out = run(&input, &SimConfig::new(Codec::PCMU)).unwrap();
        assert_eq!(out.sent, 100);
        assert_eq!(out.jitter.played, 100);
        assert_eq!(out.jitter.concealed, 0);
        assert_eq!(out.jitter.dropped, 0);
        // G.711 is sample-exact apart from quantisation: find the input after the buffer delay.
        // Whole frames of delay; the tone's first sample is 0.
        let delay = out.pcm.iter().position(|&s| s != 0).unwrap() / 160 * 160;
        let err = input
            .iter()
            .zip(&out.pcm[delay..])
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .max()
            .unwrap();
        assert!(err < 300, "max error {err}");
    }

    #[test]
    fn a_clip_shorter_than_the_prefill_ends() {
        let out = run(&tone(100, 8000), &SimConfig::new(Codec::PCMU)).unwrap();
        assert_eq!(out.sent, 1);
        assert!(out.pcm.len() < 8000 * 2, "{}", out.pcm.len());
    }

    #[test]
    fn g711_has_no_fec_to_count() {
        let mut cfg = SimConfig::new(Codec::PCMU);
        cfg.network.loss = Loss::Random { percent: 20.0 };
        let out = run(&tone(8000 * 3, 8000), &cfg).unwrap();
        assert!(out.jitter.fec > 0, "{:?}", out.jitter);
        assert_eq!(out.fec_recovered, 0);
    }

    #[test]
    fn opus_fec_rebuilds_lost_frames() {
        let input = tone(48_000 * 3, 48_000);
        let mut cfg = SimConfig::new(Codec::opus(111));
        cfg.network.loss = Loss::Random { percent: 10.0 };
        let out = run(&input, &cfg).unwrap();
        assert!(out.lost_in_network > 5, "{out:?}");
        assert!(out.fec_recovered > 0, "{:?}", out.jitter);
        cfg.opus.expected_loss_percent = 0;
        assert_eq!(run(&input, &cfg).unwrap().fec_recovered, 0);
    }
}
