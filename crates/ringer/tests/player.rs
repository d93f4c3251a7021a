//! The ringer's sound: its cadence as written to a WAV file at the wall clock's pace, its stop,
//! the ringer's choices driven by phone events, and real playback through a PulseAudio null
//! sink (heard back through the sink's monitor).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_media::device::InputDevice;
use seatline_media::wav::read_mono_native;
use seatline_ringer::tone::TONE_RATE;
use seatline_ringer::{
    Cue, Play, PlayerNotice, Ringer, RingerNotice, RingerSetup, ToneOutput, TonePlayer,
};
use seatline_sip_peers::pulse::NullSink;
use seatline_sip_phone::events::CallDirection;
use seatline_sip_phone::identity::caller_identity;
use seatline_sip_phone::PhoneEvent;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (sounding, length in ms) runs of 5 ms windows.
fn runs(samples: &[i16], rate: u32) -> Vec<(bool, u64)> {
    let win = (rate / 200) as usize;
    let mut out: Vec<(bool, u64)> = Vec::new();
    for w in samples.chunks(win) {
        let peak = w.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
        let on = peak > 300;
        match out.last_mut() {
            Some((state, len)) if *state == on => *len += 5,
            _ => out.push((on, 5)),
        }
    }
    out
}

fn close(actual: u64, expected: u64, slack: u64) -> bool {
    actual.abs_diff(expected) <= slack
}

#[test]
fn the_ring_written_to_a_file_keeps_its_cadence_and_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring.wav");
    let player = TonePlayer::start(
        Play::Ring {
            volume: 100,
            ringtone: None,
        },
        ToneOutput::Wav(path.clone()),
        Box::new(|n| panic!("unexpected notice {n:?}")),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    let stop_asked = Instant::now();
    let report = player.stop_and_wait();
    let stop_took = stop_asked.elapsed();
    assert!(stop_took < Duration::from_millis(50), "{stop_took:?}");
    let (samples, rate) = read_mono_native(&path).unwrap();
    assert_eq!(rate, TONE_RATE);
    assert_eq!(samples.len() as u64, report.samples);
    // The file is the wall clock's timeline: 3.5 s, not a burst of generated audio.
    let secs = samples.len() as f64 / f64::from(rate);
    assert!((3.45..3.6).contains(&secs), "{secs}");
    let r = runs(&samples, rate);
    // on 400, off 200, on 400, off 2000, on (cut by the stop at 3.5 s)
    let expected = [(true, 400), (false, 200), (true, 400), (false, 2000)];
    assert!(r.len() >= 5, "{r:?}");
    for (i, (state, len)) in expected.iter().enumerate() {
        assert_eq!(r[i].0, *state, "{r:?}");
        // The 5 ms fade at each edge shifts a boundary by a window at most.
        assert!(close(r[i].1, *len, 10), "step {i}: {r:?}");
    }
    assert!(r[4].0, "{r:?}");
    assert!(close(r[4].1, 400, 20), "{r:?}");
}

#[test]
fn call_waiting_in_a_file_is_two_quiet_beeps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cw.wav");
    let player = TonePlayer::start(
        Play::CallWaiting,
        ToneOutput::Wav(path.clone()),
        Box::new(|_| {}),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    player.stop_and_wait();
    let (samples, rate) = read_mono_native(&path).unwrap();
    let peak = samples.iter().map(|v| v.unsigned_abs()).max().unwrap();
    // -26 dBFS: 0.05 of full scale.
    assert!((1500..=1700).contains(&peak), "{peak}");
    let r = runs(&samples, rate);
    assert!(r[0].0 && close(r[0].1, 200, 10), "{r:?}");
    assert!(!r[1].0 && close(r[1].1, 200, 10), "{r:?}");
    assert!(r[2].0 && close(r[2].1, 200, 10), "{r:?}");
    assert!(!r[3].0 && r.len() == 4, "{r:?}");
}

#[test]
fn an_unreadable_ringtone_rings_with_the_built_in_tone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring.wav");
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&notices);
    let player = TonePlayer::start(
        Play::Ring {
            volume: 100,
            ringtone: Some(dir.path().join("missing.wav")),
        },
        ToneOutput::Wav(path.clone()),
        Box::new(move |n| seen.lock().unwrap().push(n)),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    player.stop_and_wait();
    let notices = notices.lock().unwrap();
    assert!(
        matches!(&notices[..], [PlayerNotice::RingtoneUnusable(m)] if m.contains("missing.wav")),
        "{notices:?}"
    );
    let (samples, rate) = read_mono_native(&path).unwrap();
    assert!(runs(&samples, rate)[0].0);
}

#[test]
fn a_custom_ringtone_plays_at_the_ring_volume() {
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    let spec = hound_spec();
    let mut w = hound::WavWriter::create(&tone, spec).unwrap();
    for i in 0..1600 {
        // 100 ms of a 400 Hz sine at 16 kHz, half scale.
        let t = f64::from(i) / 16_000.0;
        w.write_sample((16000.0 * (2.0 * std::f64::consts::PI * 400.0 * t).sin()) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let out = dir.path().join("ring.wav");
    let player = TonePlayer::start(
        Play::Ring {
            volume: 50,
            ringtone: Some(tone),
        },
        ToneOutput::Wav(out.clone()),
        Box::new(|n| panic!("unexpected notice {n:?}")),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    player.stop_and_wait();
    let (samples, rate) = read_mono_native(&out).unwrap();
    let r = runs(&samples, rate);
    assert!(r[0].0 && close(r[0].1, 100, 10), "{r:?}");
    assert!(!r[1].0, "{r:?}");
    // Volume 50 is -20 dB: the half-scale sine peaks at about 0.05 of full scale.
    let peak = samples.iter().map(|v| v.unsigned_abs()).max().unwrap();
    assert!((1500..=1700).contains(&peak), "{peak}");
}

fn hound_spec() -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

fn incoming(call: &str) -> PhoneEvent {
    PhoneEvent::IncomingCall {
        call: call.into(),
        account: "default".into(),
        caller: caller_identity(&[], &[]),
        auto_answer_in_ms: None,
        waiting: false,
        replaces: None,
    }
}

fn established(call: &str) -> PhoneEvent {
    PhoneEvent::Established {
        call: call.into(),
        direction: CallDirection::Incoming,
        media: None,
    }
}

fn ended(call: &str) -> PhoneEvent {
    PhoneEvent::Ended {
        call: call.into(),
        reason: "hangup".into(),
        code: None,
        duration_ms: None,
        quality: None,
    }
}

fn wav_len_ms(path: &Path) -> u64 {
    let (s, rate) = read_mono_native(path).unwrap();
    s.len() as u64 * 1000 / u64::from(rate)
}

/// Waits until the player thread has finalized the file (a stopped player is not joined).
fn finalized(path: &Path) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Ok((s, rate)) = read_mono_native(path) {
            if !s.is_empty() {
                return s.len() as u64 * 1000 / u64::from(rate);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never finalized",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_ringer_rings_on_the_ring_output_and_call_waiting_on_the_call_output() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("ring.wav");
    let call = dir.path().join("call.wav");
    let setup = Arc::new(Mutex::new(Some(RingerSetup {
        ring: ToneOutput::Wav(ring.clone()),
        call: ToneOutput::Wav(call.clone()),
        volume: 80,
        ringtone: None,
    })));
    let mut ringer = Ringer::new(setup.clone(), Arc::new(|n: RingerNotice| panic!("{n:?}")));
    ringer.on_event(&incoming("a"));
    assert_eq!(ringer.playing(), Some(Cue::Ring));
    std::thread::sleep(Duration::from_millis(300));
    ringer.on_event(&established("a"));
    assert_eq!(ringer.playing(), None);
    let rang = finalized(&ring);
    assert!((250..400).contains(&rang), "{rang}");
    assert!(!call.exists());

    ringer.on_event(&incoming("b"));
    assert_eq!(ringer.playing(), Some(Cue::CallWaiting));
    std::thread::sleep(Duration::from_millis(300));
    // The caller gives up: the beeps stop; the ring file is untouched.
    ringer.on_event(&ended("b"));
    let waited = finalized(&call);
    assert!((250..400).contains(&waited), "{waited}");
    assert_eq!(wav_len_ms(&ring), rang);

    // A change of setup applies to the next ring.
    let ring2 = dir.path().join("ring2.wav");
    if let Some(s) = setup.lock().unwrap().as_mut() {
        s.ring = ToneOutput::Wav(ring2.clone());
    }
    ringer.on_event(&ended("a"));
    ringer.on_event(&incoming("c"));
    std::thread::sleep(Duration::from_millis(100));
    ringer.reset();
    assert!(finalized(&ring2) > 50);
}

#[test]
fn ring_volume_zero_and_no_setup_play_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ring = dir.path().join("ring.wav");
    let setup = Arc::new(Mutex::new(Some(RingerSetup {
        ring: ToneOutput::Wav(ring.clone()),
        call: ToneOutput::Wav(ring.clone()),
        volume: 0,
        ringtone: None,
    })));
    let mut ringer = Ringer::new(setup.clone(), Arc::new(|_| {}));
    ringer.on_event(&incoming("a"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!ring.exists());
    ringer.reset();
    *setup.lock().unwrap() = None;
    ringer.on_event(&incoming("b"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!ring.exists());
}

/// Captures the default input (the null sink's monitor) for `d` at 8 kHz.
fn capture(d: Duration) -> Vec<i16> {
    let mut mic = InputDevice::open(None, 8000).unwrap();
    let stop = AtomicBool::new(false);
    let mut out = Vec::new();
    let frames = d.as_millis() as usize / 10;
    for _ in 0..frames {
        match mic
            .read_frame(80, &stop, Duration::from_secs(2), 800)
            .unwrap()
        {
            Some(f) => out.extend(f),
            None => break,
        }
    }
    out
}

#[test]
fn the_ring_really_plays_through_a_sound_device_and_a_gone_device_falls_back() {
    let _one = NullSink::lock();
    let _pulse = NullSink::start().unwrap();
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&notices);
    // A stale id from the settings (an unplugged headset): the default output rings instead.
    let player = TonePlayer::start(
        Play::Ring {
            volume: 100,
            ringtone: None,
        },
        ToneOutput::Device {
            id: Some("alsa:no-such-headset".into()),
        },
        Box::new(move |n| seen.lock().unwrap().push(n)),
    )
    .unwrap();
    // What the null sink played, heard through its monitor: 7 s hold a whole 3 s cycle wherever the stream starts.
    let heard = capture(Duration::from_millis(7000));
    let report = player.stop_and_wait();
    assert!(report.device.is_some(), "{report:?}");
    {
        let notices = notices.lock().unwrap();
        assert!(
            matches!(&notices[..], [PlayerNotice::Fallback(f)]
                if f.wanted == "alsa:no-such-headset" && f.kind == "output"),
            "{notices:?}"
        );
    }
    let r = runs(&heard, 8000);
    eprintln!("heard through the null sink's monitor (sounding, ms): {r:?}");
    // Skip the start-up (the stream's first silence and the first, possibly cut, burst) and
    // find a whole cycle: a burst pair 400/200/400 then 2000 of silence.
    let found = r.windows(4).any(|w| {
        w[0].0
            && close(w[0].1, 400, 30)
            && !w[1].0
            && close(w[1].1, 200, 30)
            && w[2].0
            && close(w[2].1, 400, 30)
            && !w[3].0
            && close(w[3].1, 2000, 40)
    });
    assert!(found, "no ring cadence in what the device played: {r:?}");

    // After the stop, the device is silent.
    let after = capture(Duration::from_millis(500));
    let peak = after.iter().map(|v| v.unsigned_abs()).max().unwrap_or(0);
    assert!(peak < 300, "still sounding after stop: peak {peak}");
}
