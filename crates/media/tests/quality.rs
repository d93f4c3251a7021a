//! Voice quality of the whole media path, offline: the reference speech through our encoder →
//! RTP → a seeded network → jitter buffer → decoder (`seatline_media::sim`), scored with PESQ
//! by the same script as the calls with real peers. Deterministic, so the floors below are set
//! from measurement with a small margin. `cargo test -p seatline-media --test quality --
//! --ignored --nocapture` prints the full table.
//!
//! Needs the PESQ venv (`scripts/pesq-setup.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use seatline_media::codec::Codec;
use seatline_media::opus::{OpusDecoder, OpusEncoder, OpusSettings};
use seatline_media::sim::{run, Loss, SimConfig, SimOutput};
use std::time::Duration;

const OPUS: Codec = Codec {
    payload_type: 111,
    name: seatline_media::CodecName::Opus,
    clock_rate: 48_000,
};

/// Encode and decode frame by frame with nothing in between: the codec's own ceiling.
fn plain_opus(input: &[i16], settings: OpusSettings) -> Vec<i16> {
    let mut enc = OpusEncoder::new(settings).expect("encoder");
    let mut dec = OpusDecoder::new(960).expect("decoder");
    let mut out = Vec::new();
    for f in input.chunks(960) {
        let mut f = f.to_vec();
        f.resize(960, 0);
        let p = enc.encode(&f).expect("encode");
        out.extend(dec.decode(&p).expect("decode"));
    }
    out
}

fn sim(input: &[i16], cfg: &SimConfig) -> SimOutput {
    run(input, cfg).expect("simulated call")
}

fn with_loss(codec: Codec, loss: Loss, seed: u64) -> SimConfig {
    let mut cfg = SimConfig::new(codec);
    cfg.network.loss = loss;
    cfg.network.seed = seed;
    cfg
}

/// The gap behind issue #6: the WAV source upsampled 8 kHz speech to 48 kHz by linear
/// interpolation and Opus ran at 24 kbit/s with FEC planned for 10 % loss. Measured here:
/// before 3.79 (plain libopus at those settings: the same 3.79), after 4.43 (PCMU: 3.94).
#[test]
fn opus_clean_line_scores_like_plain_libopus_and_above_g711() {
    let speech48 = speech(48_000);
    let ours = sim(&speech48, &SimConfig::new(OPUS));
    assert_eq!(ours.jitter.concealed, 0, "{:?}", ours.jitter);
    assert_eq!(ours.jitter.dropped, 0, "{:?}", ours.jitter);
    let ours = pesq(&ours.pcm, 48_000, Mode::Nb);
    let plain = pesq(
        &plain_opus(&speech48, OpusSettings::default()),
        48_000,
        Mode::Nb,
    );
    eprintln!("Opus clean: PESQ-NB path {ours:.3}, plain libopus {plain:.3}");
    assert!(
        (ours - plain).abs() < 0.05,
        "path {ours} vs libopus {plain}"
    );
    assert!(ours >= 4.3, "Opus PESQ-NB {ours} (measured 4.43)");

    let before = sim(
        &linear_resample(&speech(8000), 8000, 48_000),
        &SimConfig {
            opus: OpusSettings {
                bitrate: 24_000,
                ..OpusSettings::default()
            },
            ..SimConfig::new(OPUS)
        },
    );
    let before = pesq(&before.pcm, 48_000, Mode::Nb);
    eprintln!("Opus clean, before the fix: {before:.3}");
    assert!(ours > before + 0.4, "after {ours} vs before {before}");
}

#[test]
fn pcmu_clean_line_is_transparent_apart_from_companding() {
    let out = sim(&speech(8000), &SimConfig::new(Codec::PCMU));
    let score = pesq(&out.pcm, 8000, Mode::Nb);
    eprintln!("PCMU clean: PESQ-NB {score:.3}");
    assert!(score >= 3.85, "PCMU PESQ-NB {score} (measured 3.94)");
}

/// Mean PESQ-NB over `seeds` loss patterns, and the FEC counter summed.
fn mean_score(
    input: &[i16],
    rate: u32,
    seeds: u64,
    mode: Mode,
    cfg: impl Fn(u64) -> SimConfig,
) -> (f64, u64, u64) {
    let mut total = 0.0;
    let (mut fec, mut lost) = (0, 0);
    for seed in 1..=seeds {
        let out = sim(input, &cfg(seed));
        fec += out.fec_recovered;
        lost += out.lost_in_network;
        total += match mode {
            Mode::Nb => pesq(&out.pcm, rate, mode),
            Mode::Wb => pesq_against(&speech_wb_path(), &out.pcm, rate, mode),
        };
    }
    (total / seeds as f64, fec, lost)
}

#[test]
fn opus_fec_recovers_lost_packets_and_beats_concealment_at_10_percent() {
    let speech48 = speech(48_000);
    let loss = Loss::Random { percent: 10.0 };
    let (fec, recovered, lost) = mean_score(&speech48, 48_000, 3, Mode::Nb, |seed| {
        with_loss(OPUS, loss, seed)
    });
    let (plc, none, _) = mean_score(&speech48, 48_000, 3, Mode::Nb, |seed| SimConfig {
        opus: OpusSettings {
            expected_loss_percent: 0,
            ..OpusSettings::default()
        },
        ..with_loss(OPUS, loss, seed)
    });
    eprintln!("Opus 10 %: FEC {fec:.3} ({recovered} of {lost} lost rebuilt), PLC only {plc:.3}");
    assert_eq!(none, 0, "no LBRR without planned loss");
    // Single losses are rebuilt; a loss right before another cannot be.
    assert!(recovered * 10 >= lost * 6, "{recovered} of {lost}");
    // Measured: FEC 3.99, PLC only 2.17 (95 of 126 lost frames rebuilt).
    assert!(fec >= plc + 1.2, "FEC {fec} vs PLC {plc}");
    assert!(fec >= 3.85, "Opus+FEC at 10 % PESQ-NB {fec}");
}

#[test]
fn g711_concealment_beats_silence_at_10_percent() {
    let speech8 = speech(8000);
    let loss = Loss::Random { percent: 10.0 };
    let (plc, _, _) = mean_score(&speech8, 8000, 3, Mode::Nb, |seed| {
        with_loss(Codec::PCMU, loss, seed)
    });
    let (silence, _, _) = mean_score(&speech8, 8000, 3, Mode::Nb, |seed| SimConfig {
        concealment: false,
        ..with_loss(Codec::PCMU, loss, seed)
    });
    eprintln!("PCMU 10 %: concealment {plc:.3}, silence {silence:.3}");
    // Measured: concealment 2.85 (2.60 before single losses were interpolated between the
    // frames around them), silence 2.13.
    assert!(plc >= 2.7, "PCMU at 10 % PESQ-NB {plc}");
    assert!(
        plc > silence + 0.5,
        "concealment {plc} vs silence {silence}"
    );
}

/// Packets reordered by up to 150 ms: the buffer grows its delay when packets come late
/// instead of concealing each reordered one and then dropping it.
#[test]
fn opus_survives_heavy_reordering() {
    let speech48 = speech(48_000);
    let (score, _, _) = mean_score(&speech48, 48_000, 5, Mode::Nb, |seed| {
        let mut cfg = with_loss(OPUS, Loss::None, seed);
        cfg.network.jitter = Duration::from_millis(150);
        cfg
    });
    eprintln!("Opus, jitter 0-150 ms: PESQ-NB {score:.3}");
    // Measured 4.12 (3.68 when late packets did not grow the delay).
    assert!(score >= 3.95, "Opus with 0-150 ms jitter PESQ-NB {score}");
}

/// The full table: G.711 and Opus under random and bursty loss and jitter, several seeds each.
#[test]
#[ignore = "prints the quality table (several minutes)"]
fn quality_table() {
    let seeds = 5;
    let speech8 = speech(8000);
    let speech48 = speech(48_000);
    let wb48 = seatline_media::wav::read_mono(&speech_wb_path(), 48_000).expect("16 kHz clip");
    let before48 = linear_resample(&speech8, 8000, 48_000);
    let conditions: [(&str, Loss, u64); 9] = [
        ("0 %", Loss::None, 0),
        ("5 %", Loss::Random { percent: 5.0 }, 0),
        ("10 %", Loss::Random { percent: 10.0 }, 0),
        ("20 %", Loss::Random { percent: 20.0 }, 0),
        (
            "10 % bursts of 3",
            Loss::Bursty {
                percent: 10.0,
                mean_burst: 3.0,
            },
            0,
        ),
        (
            "20 % bursts of 3",
            Loss::Bursty {
                percent: 20.0,
                mean_burst: 3.0,
            },
            0,
        ),
        ("jitter 0-80 ms", Loss::None, 80),
        ("5 % + jitter 0-80 ms", Loss::Random { percent: 5.0 }, 80),
        ("jitter 0-150 ms", Loss::None, 150),
    ];
    let opus = |bitrate, loss_perc| OpusSettings {
        bitrate,
        expected_loss_percent: loss_perc,
        frame_samples: 960,
    };
    // (name, codec, input, rate, mode, opus settings, concealment)
    type Row<'a> = (&'a str, Codec, &'a [i16], u32, Mode, OpusSettings, bool);
    let rows: Vec<Row> = vec![
        (
            "PCMU, silence for lost (NB)",
            Codec::PCMU,
            &speech8,
            8000,
            Mode::Nb,
            opus(0, 0),
            false,
        ),
        (
            "PCMU + pitch concealment (NB)",
            Codec::PCMU,
            &speech8,
            8000,
            Mode::Nb,
            opus(0, 0),
            true,
        ),
        (
            "Opus before: linear 8->48k, 24k, FEC (NB)",
            OPUS,
            &before48,
            48_000,
            Mode::Nb,
            opus(24_000, 10),
            true,
        ),
        (
            "Opus 64k, PLC only (NB)",
            OPUS,
            &speech48,
            48_000,
            Mode::Nb,
            opus(64_000, 0),
            true,
        ),
        (
            "Opus 64k + FEC, default (NB)",
            OPUS,
            &speech48,
            48_000,
            Mode::Nb,
            opus(64_000, 10),
            true,
        ),
        (
            "Opus 24k + FEC (WB, 16k clip)",
            OPUS,
            &wb48,
            48_000,
            Mode::Wb,
            opus(24_000, 10),
            true,
        ),
        (
            "Opus 64k, PLC only (WB, 16k clip)",
            OPUS,
            &wb48,
            48_000,
            Mode::Wb,
            opus(64_000, 0),
            true,
        ),
        (
            "Opus 64k + FEC, default (WB, 16k clip)",
            OPUS,
            &wb48,
            48_000,
            Mode::Wb,
            opus(64_000, 10),
            true,
        ),
    ];
    let mut header = format!("| {:<40} |", "PESQ (mean of 5 seeds)");
    for (name, _, _) in &conditions {
        header += &format!(" {name} |");
    }
    println!("{header}");
    println!("|{}", "---|".repeat(conditions.len() + 1));
    for (name, codec, input, rate, mode, settings, concealment) in &rows {
        let mut line = format!("| {name:<40} |");
        let mut fec_note = String::new();
        for (cond, loss, jitter_ms) in &conditions {
            let (score, fec, lost) = mean_score(input, *rate, seeds, *mode, |seed| {
                let mut cfg = with_loss(*codec, *loss, seed);
                cfg.opus = *settings;
                cfg.concealment = *concealment;
                cfg.network.jitter = Duration::from_millis(*jitter_ms);
                cfg
            });
            line += &format!(" {score:.2} |");
            if lost > 0 && settings.expected_loss_percent > 0 && *concealment {
                fec_note += &format!(" {cond}: {fec}/{lost};");
            }
        }
        println!("{line}");
        if !fec_note.is_empty() {
            println!("|   FEC rebuilt/lost:{fec_note} |");
        }
    }
}

/// The mean receive delay over the last second of a run.
fn delay_at_end(out: &SimOutput) -> Duration {
    let tail = &out.delays[out.delays.len().saturating_sub(50)..];
    tail.iter().sum::<Duration>() / tail.len().max(1) as u32
}

/// A burst of jitter that ends (a Wi-Fi scan, a download): 0–150 ms for the first 2 s, then
/// none. The buffer grows to ride it out and must come back down after: by cutting the excess
/// from a pause between sentences (`playback`), against dropping whole frames.
#[test]
fn a_jitter_burst_is_ridden_out_and_the_delay_comes_back_down_without_gaps() {
    for (name, codec, input, rate) in [
        ("PCMU", Codec::PCMU, speech(8000), 8000),
        ("Opus", OPUS, speech(48_000), 48_000),
    ] {
        let mut scores = Vec::new();
        for stretch in [false, true] {
            let (mut score, mut end, mut stats) = (0.0, Duration::ZERO, Vec::new());
            let seeds = 5;
            for seed in 1..=seeds {
                let mut cfg = with_loss(codec, Loss::None, seed);
                cfg.network.jitter = Duration::from_millis(150);
                cfg.network.jitter_ends = Some(Duration::from_secs(2));
                cfg.time_stretch = stretch;
                let out = sim(&input, &cfg);
                score += pesq(&out.pcm, rate, Mode::Nb) / seeds as f64;
                end += delay_at_end(&out) / seeds as u32;
                stats.push((out.jitter.dropped, out.stretch));
            }
            eprintln!(
                "{name}, jitter 0-150 ms for 2 s, {}: PESQ-NB {score:.3}, delay at the end {end:?}; {stats:?}",
                if stretch { "time-stretch" } else { "frame drops" }
            );
            scores.push((score, end));
        }
        let ((dropping, dropping_end), (stretching, stretching_end)) = (scores[0], scores[1]);
        // Measured: PCMU 3.74 against 3.23, Opus 4.16 against 3.60; 40 ms at the end
        // against 80 ms.
        assert!(
            stretching >= dropping + 0.3,
            "{name}: time-stretch {stretching:.3}, frame drops {dropping:.3}"
        );
        assert!(
            stretching_end <= Duration::from_millis(50) && stretching_end < dropping_end,
            "{name}: delay at the end {stretching_end:?} (frame drops {dropping_end:?})"
        );
    }
}
