//! PESQ (ITU-T P.862) scores through tests/peers/pesq_score.py in the venv that
//! `scripts/pesq-setup.sh` builds.

use crate::error::{io, Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Narrow-band (8 kHz, P.862) or wide-band (16 kHz, P.862.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Nb,
    Wb,
}

/// A score and the delay of the degraded file relative to the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub pesq: f64,
    pub delay_ms: f64,
}

/// The venv's python: `$SEATLINE_PESQ_VENV` or `$HOME/.cache/seatline/pesq-venv`.
pub fn venv_python() -> Result<PathBuf> {
    let venv = match std::env::var_os("SEATLINE_PESQ_VENV") {
        Some(v) => PathBuf::from(v),
        None => {
            let home =
                std::env::var_os("HOME").ok_or_else(|| Error::Pesq("HOME is not set".into()))?;
            PathBuf::from(home).join(".cache/seatline/pesq-venv")
        }
    };
    let python = venv.join("bin").join("python");
    if python.is_file() {
        Ok(python)
    } else {
        Err(Error::MissingBinary {
            binary: python.display().to_string(),
            package: "pesq (PyPI, in a venv)".into(),
            extra: " and `scripts/pesq-setup.sh`".into(),
        })
    }
}

/// Scores `degraded` against `reference` (both WAV; aligned by cross-correlation first).
pub fn score_detailed(reference: &Path, degraded: &Path, mode: Mode) -> Result<Score> {
    let python = venv_python()?;
    let script = crate::peers_dir().join("pesq_score.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(reference)
        .arg(degraded)
        .args(["--mode", if mode == Mode::Nb { "nb" } else { "wb" }])
        .output()
        .map_err(io(format!("run {}", script.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::Pesq(format!(
            "{} {} {}: {}{}",
            script.display(),
            reference.display(),
            degraded.display(),
            String::from_utf8_lossy(&out.stderr),
            stdout
        )));
    }
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .map_err(|e| Error::Pesq(format!("bad output {stdout:?}: {e}")))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| Error::Pesq(format!("no {k} in {stdout:?}")))
    };
    Ok(Score {
        pesq: field("pesq")?,
        delay_ms: field("delay_ms")?,
    })
}

/// The PESQ MOS-LQO of `degraded` against `reference`.
pub fn score(reference: &Path, degraded: &Path, mode: Mode) -> Result<f64> {
    Ok(score_detailed(reference, degraded, mode)?.pesq)
}

/// Writes `from` (any WAV the scorer reads) to `to` as 16-bit mono at `rate`, band-limited
/// through the scorer's FFT resampler: a clean narrow-band source for both peers of a G.711
/// call, so neither is judged by its own down-sampling of a wide-band file.
pub fn resample_wav(from: &Path, to: &Path, rate: u32) -> Result<()> {
    let python = venv_python()?;
    let code = "import sys, wave, numpy as np\n\
sys.path.insert(0, sys.argv[1])\n\
import pesq_score as ps\n\
x, r = ps.read_wav(sys.argv[2])\n\
y = ps.resample(x, r, int(sys.argv[4]))\n\
pcm = np.clip(np.round(y * 32768.0), -32768, 32767).astype('<i2')\n\
w = wave.open(sys.argv[3], 'wb'); w.setnchannels(1); w.setsampwidth(2)\n\
w.setframerate(int(sys.argv[4])); w.writeframes(pcm.tobytes()); w.close()\n";
    let out = Command::new(&python)
        .arg("-c")
        .arg(code)
        .arg(crate::peers_dir())
        .arg(from)
        .arg(to)
        .arg(rate.to_string())
        .output()
        .map_err(io(format!("run {}", python.display())))?;
    if !out.status.success() {
        return Err(Error::Pesq(format!(
            "resample {} to {rate} Hz: {}",
            from.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}
