//! Shared by the quality tests and the `quality_table` example: the reference speech and PESQ
//! (ITU-T P.862) through `tests/peers/pesq_score.py` in the venv `scripts/pesq-setup.sh` builds,
//! the same scorer the call tests with real peers use.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use seatline_media::wav::read_mono;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The 8 s, 8 kHz speech file the call tests play (tests/peers/audio/speech-8k.wav).
pub fn speech_path() -> PathBuf {
    repo_root().join("tests/peers/audio/speech-8k.wav")
}

/// The reference speech at `rate`.
pub fn speech(rate: u32) -> Vec<i16> {
    read_mono(&speech_path(), rate).expect("read the reference speech")
}

fn python() -> PathBuf {
    let venv = match std::env::var_os("SEATLINE_PESQ_VENV") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/seatline/pesq-venv"),
    };
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "{} missing: run scripts/pesq-setup.sh",
        python.display()
    );
    python
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Nb,
    Wb,
}

/// PESQ MOS-LQO of `pcm` (mono at `rate`) against the reference speech file.
pub fn pesq(pcm: &[i16], rate: u32, mode: Mode) -> f64 {
    pesq_against(&speech_path(), pcm, rate, mode)
}

/// PESQ MOS-LQO of `pcm` (mono at `rate`) against `reference` (a WAV file).
pub fn pesq_against(reference: &Path, pcm: &[i16], rate: u32, mode: Mode) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let deg = dir.path().join("deg.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&deg, spec).expect("create WAV");
    for &s in pcm {
        w.write_sample(s).expect("write WAV");
    }
    w.finalize().expect("finalize WAV");
    let out = Command::new(python())
        .arg(repo_root().join("tests/peers/pesq_score.py"))
        .arg(reference)
        .arg(&deg)
        .args(["--mode", if mode == Mode::Nb { "nb" } else { "wb" }])
        .output()
        .expect("run pesq_score.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pesq_score.py failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // {"pesq": 3.9, ...}
    let v = stdout
        .split("\"pesq\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|n| n.trim().parse::<f64>().ok());
    v.unwrap_or_else(|| panic!("no score in {stdout:?}"))
}

/// The 4.5 s, 16 kHz speech clip for PESQ-WB (tests/data/speech_16k.wav).
pub fn speech_wb_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/speech_16k.wav")
}

/// The resampler the WAV source used before (linear interpolation), to show the difference.
pub fn linear_resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    let out_len = (input.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let step = f64::from(from) / f64::from(to);
    (0..out_len)
        .map(|i| {
            let pos = i as f64 * step;
            let k = pos.floor() as usize;
            let a = f64::from(input.get(k).copied().unwrap_or(0));
            let b = input.get(k + 1).map_or(a, |&v| f64::from(v));
            (a + (b - a) * (pos - k as f64)).round() as i16
        })
        .collect()
}
