//! Call recording through two real engines on 127.0.0.1: A records both sides of its call
//! with B to a stereo WAV. Left must be A's microphone (a speech file) as sent, right what A
//! played (B's microphone, a different signal, after the network and jitter buffer).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_media::meter::tone_share;
use seatline_media::recorder::RecordingSummary;
use seatline_media::wav::read_mono;
use seatline_media::{
    Codec, MediaConfig, MediaEngine, MediaEvent, MediaStats, RecordingNotice, Sink, Source,
};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn ncc(x: &[f64], y: &[f64], lag: usize) -> f64 {
    let n = x.len().min(y.len().saturating_sub(lag));
    let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (a, b) = (x[i], y[i + lag]);
        xy += a * b;
        xx += a * a;
        yy += b * b;
    }
    if xx == 0.0 || yy == 0.0 {
        0.0
    } else {
        xy / (xx * yy).sqrt()
    }
}

/// The best normalised correlation of `rec` against `reference` delayed by 0..max_lag
/// samples, and that lag.
fn best_match(reference: &[i16], rec: &[i16], max_lag: usize) -> (usize, f64) {
    let x: Vec<f64> = reference.iter().map(|&s| f64::from(s)).collect();
    let y: Vec<f64> = rec.iter().map(|&s| f64::from(s)).collect();
    // Coarse on 1 ms blocks, then sample-exact around the best block.
    let dec =
        |v: &[f64]| -> Vec<f64> { v.chunks(8).map(|c| c.iter().sum::<f64>() / 8.0).collect() };
    let (xd, yd) = (dec(&x), dec(&y));
    let coarse = (0..max_lag / 8)
        .max_by(|&a, &b| ncc(&xd, &yd, a).total_cmp(&ncc(&xd, &yd, b)))
        .unwrap()
        * 8;
    let lag = (coarse.saturating_sub(16)..coarse + 16)
        .max_by(|&a, &b| ncc(&x, &y, a).total_cmp(&ncc(&x, &y, b)))
        .unwrap();
    (lag, ncc(&x, &y, lag))
}

fn read_stereo(path: &Path) -> (Vec<i16>, Vec<i16>, u32) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (2, 16));
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let left = s.iter().step_by(2).copied().collect();
    let right = s.iter().skip(1).step_by(2).copied().collect();
    (left, right, spec.sample_rate)
}

struct Call {
    summary: Option<RecordingSummary>,
    events: Vec<MediaEvent>,
    a: MediaStats,
    b: MediaStats,
    /// What B sent (A's right channel should hold it).
    far: Vec<i16>,
    /// What B played (its speaker as a file).
    heard_by_b: Vec<i16>,
}

/// A (speech_8k.wav, recording to `rec`) calls B (the same speech reversed: another signal
/// with the same spectrum) for `seconds`; `during` runs on A's handle meanwhile.
fn call(rec: &Path, seconds: f64, during: impl FnOnce(&seatline_media::MediaHandle)) -> Call {
    call_with_notice(rec, seconds, RecordingNotice::Off, during)
}

/// [`call`] with A's recording notice; A is muted from the start when there is one.
fn call_with_notice(
    rec: &Path,
    seconds: f64,
    notice: RecordingNotice,
    during: impl FnOnce(&seatline_media::MediaHandle),
) -> Call {
    let muted = notice != RecordingNotice::Off;
    let dir = tempfile::tempdir().unwrap();
    let mut far = read_mono(&data("speech_8k.wav"), 8000).unwrap();
    far.reverse();
    let far_path = dir.path().join("far.wav");
    let mut w = hound::WavWriter::create(
        &far_path,
        hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .unwrap();
    for &s in &far {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();

    let sa = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sb = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (aa, ab) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
    let mut ca = MediaConfig::new(sa, ab, Codec::PCMU);
    ca.source = Source::Wav {
        path: data("speech_8k.wav"),
        looped: false,
    };
    ca.recording = Some(rec.to_path_buf());
    ca.recording_notice = notice;
    // The notice reaches the far end even while the agent is muted.
    ca.muted = muted;
    let mut cb = MediaConfig::new(sb, aa, Codec::PCMU);
    cb.source = Source::Wav {
        path: far_path,
        looped: false,
    };
    let heard_path = dir.path().join("heard-by-b.wav");
    cb.sink = Sink::Wav(heard_path.clone());
    let b = MediaEngine::start(cb).unwrap();
    let a = MediaEngine::start(ca).unwrap();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    during(&a);
    if let Some(left) = end.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
    let events: Vec<MediaEvent> = a.events().try_iter().collect();
    let (stats, summary) = a.stop_with_recording();
    let b_stats = b.stop().unwrap();
    Call {
        summary,
        events,
        a: stats.unwrap(),
        b: b_stats,
        far,
        heard_by_b: read_mono(&heard_path, 8000).unwrap(),
    }
}

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len().max(1) as f64
}

/// Where the far end's audio starts: the first 20 ms block with more than faint noise.
fn onset(x: &[i16]) -> usize {
    x.chunks(160)
        .position(|c| energy(c) > 1.0e4)
        .map_or(x.len(), |i| i * 160)
}

#[test]
fn the_far_end_hears_the_warning_tone_though_the_agent_is_muted() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("tone.wav");
    let c = call_with_notice(&rec, 2.5, RecordingNotice::Tone, |_| {});
    // 0.5 s of tone: 25 frames of 20 ms.
    assert_eq!(c.a.notice_frames, 25, "{:?}", c.a);
    // B hears a 1400 Hz beep of about half a second, then A's silence (muted).
    let heard = &c.heard_by_b;
    let start = onset(heard);
    assert!(start < heard.len(), "B heard nothing");
    let beep = &heard[start..(start + 3600).min(heard.len())];
    let share = tone_share(beep, 8000, 1400.0);
    eprintln!("beep at {} ms, 1400 Hz share {share:.3}", start / 8);
    assert!(
        share > 0.8,
        "B did not hear the warning tone: share {share}"
    );
    let after = &heard[(start + 4800).min(heard.len())..];
    assert!(
        after.len() > 4000,
        "the call was too short to check the silence"
    );
    assert!(energy(after) < 1.0e3, "B heard more than the notice");
    // A's recording, left ("what we sent"), holds the tone from the first frame, then silence.
    let (left, _, _) = read_stereo(&rec);
    assert!(tone_share(&left[..4000], 8000, 1400.0) > 0.95);
    assert!(
        left[4000..].iter().all(|&v| v == 0),
        "left not silent after the beep"
    );
}

#[test]
fn the_far_end_hears_the_announcement_once_and_it_is_in_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("announced.wav");
    let announcement = data("speech_8k.wav");
    let said = read_mono(&announcement, 8000).unwrap();
    let seconds = said.len() as f64 / 8000.0 + 1.0;
    let c = call_with_notice(
        &rec,
        seconds,
        RecordingNotice::Announcement(announcement),
        |_| {},
    );
    let frames = said.len().div_ceil(160) as u64;
    assert_eq!(c.a.notice_frames, frames, "{:?}", c.a);
    // B heard it through G.711 and its jitter buffer.
    let (lag, corr) = best_match(&said, &c.heard_by_b, 8000);
    eprintln!(
        "B heard the announcement: lag {} ms, correlation {corr:.3}",
        lag / 8
    );
    assert!(corr > 0.9, "correlation {corr}");
    // The recording's left channel is the announcement exactly, from the first frame.
    let (left, _, _) = read_stereo(&rec);
    let (lag, corr) = best_match(&said, &left, 400);
    assert_eq!(lag, 0);
    assert!(corr > 0.999, "left correlation {corr}");
    assert!(left[said.len()..].iter().all(|&v| v == 0), "said twice?");
}

#[test]
fn an_announcement_that_cannot_be_read_is_reported_and_the_call_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("call.wav");
    let missing = dir.path().join("no-such-announcement.wav");
    let c = call_with_notice(&rec, 1.5, RecordingNotice::Announcement(missing), |_| {});
    assert!(
        c.events.iter().any(|e| matches!(
            e,
            MediaEvent::RecordingNoticeFailed(m) if m.contains("WAV")
        )),
        "{:?}",
        c.events
    );
    assert_eq!(c.a.notice_frames, 0);
    let summary = c.summary.expect("recorded");
    assert_eq!(summary.error, None);
    assert!(summary.frames > 8000);
}

#[test]
fn both_sides_are_recorded_in_their_channels() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("call.wav");
    let c = call(&rec, 5.2, |_| {});
    let summary = c.summary.expect("recording summary");
    assert_eq!(summary.error, None);
    assert_eq!(summary.dropped_frames, 0);
    assert!(c
        .events
        .iter()
        .any(|e| matches!(e, MediaEvent::RecordingStarted(p) if *p == rec)));
    let (left, right, rate) = read_stereo(&rec);
    assert_eq!(rate, 8000);
    assert_eq!(left.len() as u64, summary.frames);
    // One frame per tick for the whole call, ~5.2 s (the engine starts a little late).
    assert!(
        (4.8..5.6).contains(&(left.len() as f64 / 8000.0)),
        "{} samples",
        left.len()
    );
    let near = read_mono(&data("speech_8k.wav"), 8000).unwrap();
    // Left is exactly what went to the encoder: A's file from its first tick on.
    let (lag, corr) = best_match(&near, &left, 400);
    eprintln!("left: lag {lag}, correlation {corr:.4}");
    assert_eq!(lag, 0);
    assert!(corr > 0.999, "left correlation {corr}");
    // Right is B's signal after G.711, the network and A's jitter buffer (tens of ms).
    let (lag, corr) = best_match(&c.far, &right, 4000);
    eprintln!("right: lag {lag} ({} ms), correlation {corr:.4}", lag / 8);
    assert!(corr > 0.9, "right correlation {corr}");
    // The right channel is not the left one leaking over.
    let (_, cross) = best_match(&near, &right, 4000);
    assert!(cross < 0.5, "right resembles the near end: {cross}");
    assert!(c.a.packets_sent > 200 && c.b.received.packets > 200);
}

#[test]
fn a_paused_span_is_silence_of_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("paused.wav");
    let mut paused_for = Duration::ZERO;
    let c = call(&rec, 4.0, |a| {
        std::thread::sleep(Duration::from_millis(1000));
        assert!(a.set_recording_paused(true));
        assert_eq!(a.recording_paused(), Some(true));
        let t = Instant::now();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(a.set_recording_paused(false));
        paused_for = t.elapsed();
    });
    let summary = c.summary.expect("recording summary");
    assert_eq!(summary.error, None);
    assert_eq!(summary.paused.len(), 1, "{:?}", summary.paused);
    let span = summary.paused[0];
    let end = span.end.expect("resumed");
    let span_ms = (end - span.start) as f64 / 8.0;
    eprintln!("paused {paused_for:?}, span in the file {span_ms} ms");
    // Frames are 20 ms; the pause flag is read once per tick.
    assert!(
        (span_ms - paused_for.as_secs_f64() * 1000.0).abs() <= 60.0,
        "span {span_ms} ms for a {paused_for:?} pause"
    );
    let (left, right, _) = read_stereo(&rec);
    let (s, e) = (span.start as usize, end as usize);
    assert!(left[s..e].iter().all(|&v| v == 0), "left not silent");
    assert!(right[s..e].iter().all(|&v| v == 0), "right not silent");
    // Not cut out: the file is as long as the call (~4 s), and audio surrounds the span.
    assert!(left.len() as f64 / 8000.0 > 3.7, "{} samples", left.len());
    let energy = |x: &[i16]| x.iter().map(|&v| i64::from(v).abs()).sum::<i64>();
    assert!(
        energy(&left[s.saturating_sub(4000)..s]) > 0,
        "speech before the pause"
    );
    assert!(
        energy(&left[e..(e + 4000).min(left.len())]) > 0,
        "speech after it"
    );
    // The call itself was not paused: A kept sending the whole time.
    assert!(c.a.packets_sent as f64 > 3.5 * 50.0, "{:?}", c.a);
}

#[test]
fn a_full_disk_is_reported_and_the_call_goes_on() {
    // /dev/full refuses every write with ENOSPC, as a full disk does.
    let c = call(Path::new("/dev/full"), 2.0, |a| {
        std::thread::sleep(Duration::from_millis(300));
        assert!(!a.set_recording_paused(true), "no recording to pause");
    });
    let failed: Vec<&String> = c
        .events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::RecordingFailed(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", c.events);
    assert!(failed[0].contains("/dev/full"), "{}", failed[0]);
    assert!(c.summary.is_none_or(|s| s.error.is_some()));
    // The call went on: A sent and B received for the whole 2 s.
    assert!(c.a.packets_sent > 80, "{:?}", c.a);
    assert!(c.b.received.packets > 80, "{:?}", c.b);
}

#[test]
fn an_unwritable_folder_is_reported_and_the_call_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: creating the recording fails even for root.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let c = call(&blocker.join("call.wav"), 1.5, |_| {});
    assert!(
        c.events
            .iter()
            .any(|e| matches!(e, MediaEvent::RecordingFailed(_))),
        "{:?}",
        c.events
    );
    assert!(c.summary.is_none());
    assert!(c.a.packets_sent > 50 && c.b.received.packets > 50);
}
