//! Call recording with a real peer: Seatline (1001, playing the 8 s speech file) calls
//! Debian's baresip (1002, auto-answer, a continuous 1 kHz tone) through Kamailio on loopback,
//! records the call, pauses the recording for 2 s, resumes and hangs up. The stereo WAV must
//! hold our speech on the left and baresip's tone on the right, silence for the paused span,
//! and the sidecar must describe the call and its pause.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_recordings::{sidecar_path, CallDirection, RecordingMeta, Recordings};
use seatline_sip_peers::{
    speech_wav, AudioMode, Baresip, BaresipConfig, Codec, DigestAlgorithm, Kamailio, KamailioConfig,
};
use seatline_sip_phone::{
    AccountConfig, AudioIo, Phone, PhoneConfig, PhoneEvent, RecordingNotice, RecordingState,
};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seatline_media::meter::tone_share;

mod common;
use common::{next_event, start_registered};

const T: Duration = Duration::from_secs(10);

fn ncc_at_zero(a: &[i16], b: &[i16]) -> f64 {
    let n = a.len().min(b.len());
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]), f64::from(b[i]));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(1.0)
}

/// Kamailio; baresip 1002 (auto-answer, PCMU, a continuous `sine_hz` tone, recording what it
/// receives); Seatline 1001 (PCMU, `source` as its microphone or silence, recording its calls
/// to `rec_dir` with `notice`), both registered.
async fn setup(
    rec_dir: &Path,
    sine_hz: u32,
    source: Option<PathBuf>,
    notice: RecordingNotice,
) -> (Kamailio, Baresip, Phone) {
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let config = BaresipConfig::new("1002")
        .registrar(&proxy)
        .auto_answer(true)
        .audio(AudioMode::Sine(sine_hz))
        .codecs(&[Codec::Pcmu]);
    let baresip = tokio::task::block_in_place(|| {
        let mut b = Baresip::start(config).unwrap();
        b.wait_registered(T).unwrap();
        b
    });
    let account = AccountConfig {
        user: "1001".into(),
        domain: proxy.addr().to_string(),
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        codecs: vec!["PCMU".into()],
        audio: AudioIo::Files {
            source,
            record_dir: None,
        },
        call_recording_dir: Some(rec_dir.to_path_buf()),
        recording_notice: notice,
        ..PhoneConfig::default()
    };
    let phone = start_registered(&proxy, account, config, T).await;
    (proxy, baresip, phone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_baresip_is_recorded_in_stereo_with_its_pause() {
    let rec_dir = tempfile::tempdir().unwrap();
    let (proxy, _baresip, mut phone) = setup(
        rec_dir.path(),
        1000,
        Some(speech_wav()),
        RecordingNotice::Off,
    )
    .await;

    let call = phone.handle.dial(None, "1002").await.unwrap();
    // The engine's "recording started" and the call's "established" come from two threads:
    // either may be first.
    let mut established = false;
    let mut started = None;
    while !established || started.is_none() {
        let e = next_event(&mut phone.events, "established and recording", T, |e| {
            matches!(
                e,
                PhoneEvent::Established { .. } | PhoneEvent::Recording { .. }
            )
        })
        .await;
        match e {
            PhoneEvent::Established { .. } => established = true,
            other => started = Some(other),
        }
    }
    let started = started.expect("recording event");
    let PhoneEvent::Recording {
        state: RecordingState::Started { file, notice: None },
        ..
    } = started
    else {
        panic!("recording did not start: {started:?}");
    };
    let wav = PathBuf::from(&file);
    assert_eq!(wav.parent(), Some(rec_dir.path()));

    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.handle.pause_recording(&call, true).await.unwrap();
    let paused_at = Instant::now();
    next_event(&mut phone.events, "paused", T, |e| {
        matches!(
            e,
            PhoneEvent::Recording {
                state: RecordingState::Paused,
                ..
            }
        )
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.handle.pause_recording(&call, false).await.unwrap();
    let paused_for = paused_at.elapsed();
    next_event(&mut phone.events, "resumed", T, |e| {
        matches!(
            e,
            PhoneEvent::Recording {
                state: RecordingState::Resumed,
                ..
            }
        )
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    phone.handle.hangup(&call).await.unwrap();
    let stopped = next_event(&mut phone.events, "recording stopped", T, |e| {
        matches!(
            e,
            PhoneEvent::Recording {
                state: RecordingState::Stopped { .. },
                ..
            }
        )
    })
    .await;
    assert!(matches!(
        stopped,
        PhoneEvent::Recording { state: RecordingState::Stopped { file: f }, .. } if f == file
    ));
    // Pausing a call that is gone is refused.
    assert!(phone.handle.pause_recording(&call, true).await.is_err());

    // The sidecar.
    let meta: RecordingMeta =
        serde_json::from_slice(&std::fs::read(sidecar_path(&wav)).unwrap()).unwrap();
    eprintln!("sidecar: {meta:?}");
    assert_eq!(meta.call_id, call);
    assert_eq!(meta.direction, CallDirection::Outbound);
    assert_eq!(meta.remote_number, "1002");
    assert_eq!(meta.codec, "PCMU/8000");
    assert!(meta.ended_at.is_some());
    assert_eq!(meta.error, None);
    assert_eq!(meta.paused.len(), 1, "{:?}", meta.paused);
    let span = meta.paused[0];
    let end_ms = span.end_ms.expect("resumed");
    let span_ms = end_ms - span.start_ms;
    assert!(
        (span_ms as f64 - paused_for.as_secs_f64() * 1000.0).abs() < 100.0,
        "span {span_ms} ms for a {paused_for:?} pause"
    );

    // The audio.
    let mut r = hound::WavReader::open(&wav).unwrap();
    let spec = r.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = s.iter().step_by(2).copied().collect();
    let right: Vec<i16> = s.iter().skip(1).step_by(2).copied().collect();
    let seconds = left.len() as f64 / 8000.0;
    assert!((5.5..8.0).contains(&seconds), "{seconds} s recorded");
    let (ps, pe) = (span.start_ms as usize * 8, end_ms as usize * 8);
    assert!(
        left[ps..pe].iter().all(|&v| v == 0),
        "left not silent while paused"
    );
    assert!(
        right[ps..pe].iter().all(|&v| v == 0),
        "right not silent while paused"
    );
    // Left: our speech file as sent, from the call's first frame (the file loops).
    let speech = seatline_media::wav::read_mono(&speech_wav(), 8000).unwrap();
    let corr = ncc_at_zero(&speech[..ps.min(speech.len())], &left[..ps]);
    eprintln!("left vs speech: {corr:.4}");
    assert!(corr > 0.99, "left is not our microphone: {corr}");
    // Right: baresip's 1 kHz tone, after the pause too; not our speech.
    let after = &right[pe + 4000..(pe + 12_000).min(right.len())];
    let share = tone_share(after, 8000, 1000.0);
    eprintln!("right: 1 kHz share {share:.3}");
    assert!(share > 0.8, "right is not the far end's tone: {share}");
    assert!(ncc_at_zero(&speech[..ps.min(speech.len())], &right[..ps]).abs() < 0.3);

    // The recordings index lists it.
    let scan = Recordings::new(rec_dir.path()).scan().unwrap();
    assert!(scan.problems.is_empty(), "{:?}", scan.problems);
    assert_eq!(scan.entries.len(), 1);
    assert_eq!(scan.entries[0].meta.call_id, call);
    assert!(!scan.entries[0].unfinished);

    phone.handle.shutdown().await;
    drop(proxy);
}

/// The recording notice with a real peer: Seatline (silent microphone, recording, warning tone)
/// calls baresip (auto-answer), which records what it receives. baresip must hear the 1400 Hz
/// beep at the start of the call, the beep must be in our recording's left channel, and the
/// beep must not be heard again within the 15 s period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_hears_the_recording_warning_tone() {
    let rec_dir = tempfile::tempdir().unwrap();
    let (proxy, baresip, mut phone) = setup(rec_dir.path(), 440, None, RecordingNotice::Tone).await;
    let call = phone.handle.dial(None, "1002").await.unwrap();
    // The agent is told the caller hears the tone.
    let started = next_event(&mut phone.events, "recording started", T, |e| {
        matches!(
            e,
            PhoneEvent::Recording {
                state: RecordingState::Started { .. },
                ..
            }
        )
    })
    .await;
    assert!(
        matches!(
            &started,
            PhoneEvent::Recording { state: RecordingState::Started { notice: Some(n), .. }, .. } if n == "tone"
        ),
        "{started:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    phone.handle.hangup(&call).await.unwrap();
    let stopped = next_event(&mut phone.events, "recording stopped", T, |e| {
        matches!(
            e,
            PhoneEvent::Recording {
                state: RecordingState::Stopped { .. },
                ..
            }
        )
    })
    .await;
    let PhoneEvent::Recording {
        state: RecordingState::Stopped { file },
        ..
    } = stopped
    else {
        unreachable!()
    };
    // What baresip received (its decoder's output at 8 kHz).
    let heard_path = tokio::task::block_in_place(|| baresip.received_audio()).unwrap();
    let (heard, rate) = seatline_media::wav::read_mono_native(&heard_path).unwrap();
    let block = rate as usize / 50;
    let loud = |x: &[i16]| x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
    let onset = heard
        .chunks(block)
        .position(|c| loud(c) > 1.0e4)
        .expect("baresip heard nothing")
        * block;
    let beep = &heard[onset..(onset + rate as usize * 2 / 5).min(heard.len())];
    let share = tone_share(beep, rate, 1400.0);
    eprintln!(
        "baresip heard the beep {} ms into its recording; 1400 Hz share {share:.3}",
        onset * 1000 / rate as usize
    );
    assert!(
        share > 0.8,
        "baresip did not hear the warning tone: {share}"
    );
    let after = &heard[(onset + rate as usize * 3 / 5).min(heard.len())..];
    assert!(
        after.len() > rate as usize,
        "too little heard after the beep"
    );
    assert!(loud(after) < 1.0e3, "baresip heard more than one beep");

    let mut r = hound::WavReader::open(&file).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = s.iter().step_by(2).copied().collect();
    assert!(tone_share(&left[..3600], 8000, 1400.0) > 0.95);
    assert!(left[4000..].iter().all(|&v| v == 0));
    phone.handle.shutdown().await;
    drop(proxy);
}
