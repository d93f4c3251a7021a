#!/usr/bin/env python3
"""Scores a degraded recording against its reference with PESQ (ITU-T P.862).

Usage: pesq_score.py REF.wav DEG.wav [--mode nb|wb] [--max-delay-ms N]

Both files are read as PCM WAV (8/16/24/32-bit int or 32-bit float, any channel count: the
first channel is used). The degraded file is resampled to the reference's rate if they differ,
and both are resampled to 8 kHz (nb) or 16 kHz (wb) for PESQ. The degraded signal is aligned to
the reference with an FFT cross-correlation delay search (the degraded file normally starts
later: call set-up, jitter buffer, device latency), then trimmed to the reference's length.
Prints one JSON line: {"pesq": float, "delay_ms": float, "mode": "nb"|"wb", ...}.
Needs numpy and pesq (scripts/pesq-setup.sh builds a venv with both).
"""
import argparse
import json
import sys
import wave

import numpy as np


def read_wav(path):
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        channels = w.getnchannels()
        width = w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float64) / float(1 << 23)
    elif width == 4:
        x = np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)
    else:
        raise ValueError(f"{path}: unsupported sample width {width}")
    if channels > 1:
        x = x.reshape(-1, channels)[:, 0]
    return x, rate


def resample(x, src, dst):
    """Band-limited resampling through the FFT (whole-signal; fine for test clips)."""
    if src == dst or len(x) == 0:
        return x
    n = int(round(len(x) * dst / src))
    spec = np.fft.rfft(x)
    m = n // 2 + 1
    out = np.zeros(m, dtype=complex)
    k = min(m, len(spec))
    out[:k] = spec[:k]
    return np.fft.irfft(out, n) * (n / len(x))


def find_delay(ref, deg, max_delay):
    """Samples by which deg lags ref (positive: deg starts later), by FFT cross-correlation."""
    n = len(ref) + len(deg)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(deg, size) * np.conj(np.fft.rfft(ref, size)), size)
    # corr[k] for k >= 0 is deg lagging by k; negative lags wrap to the end.
    lags = np.concatenate([np.arange(0, size // 2), np.arange(-size // 2, 0)])
    mask = np.abs(lags) <= max_delay
    best = np.argmax(np.where(mask, corr, -np.inf))
    return int(lags[best]), float(corr[best])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ref")
    p.add_argument("deg")
    p.add_argument("--mode", choices=["nb", "wb"], default="nb")
    p.add_argument("--max-delay-ms", type=float, default=5000.0)
    a = p.parse_args()

    from pesq import pesq  # imported late so --help works without it

    ref, ref_rate = read_wav(a.ref)
    deg, deg_rate = read_wav(a.deg)
    fs = 8000 if a.mode == "nb" else 16000
    ref = resample(ref, ref_rate, fs)
    deg = resample(deg, deg_rate, fs)
    if len(ref) < fs or len(deg) < fs // 2:
        raise SystemExit(f"too short: ref {len(ref) / fs:.2f} s, deg {len(deg) / fs:.2f} s")
    if np.max(np.abs(deg)) < 1e-4:
        raise SystemExit("degraded file is silent")

    delay, _ = find_delay(ref, deg, int(a.max_delay_ms * fs / 1000))
    if delay >= 0:
        aligned = deg[delay:]
    else:
        aligned = np.concatenate([np.zeros(-delay), deg])
    if len(aligned) < len(ref):
        aligned = np.concatenate([aligned, np.zeros(len(ref) - len(aligned))])
    aligned = aligned[: len(ref)]

    score = pesq(fs, ref.astype(np.float32), aligned.astype(np.float32), a.mode)
    print(json.dumps({
        "pesq": round(float(score), 3),
        "delay_ms": round(delay * 1000.0 / fs, 2),
        "mode": a.mode,
        "ref_seconds": round(len(ref) / fs, 3),
        "deg_seconds": round(len(deg) / fs, 3),
    }))


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - one clear line for the Rust caller
        print(f"pesq_score: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
