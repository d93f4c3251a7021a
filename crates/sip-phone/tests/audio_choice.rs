//! The audio choice is read when each call's media starts: two Seatline phones through
//! Kamailio; between two calls the callee's audio is changed with `PhoneHandle::set_audio`
//! (as the desktop does when the agent picks other devices), without reconnecting, and the
//! second call uses it. Files stand in for the devices (what is heard goes to `record_dir`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_sip_peers::{speech_wav, DigestAlgorithm, Kamailio, KamailioConfig};
use seatline_sip_phone::{AccountConfig, AudioIo, Phone, PhoneConfig, PhoneEvent};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;
use common::{next_event, start_registered};

const T: Duration = Duration::from_secs(10);

fn files(record_dir: &Path) -> AudioIo {
    AudioIo::Files {
        source: Some(speech_wav()),
        record_dir: Some(record_dir.to_path_buf()),
    }
}

async fn phone(proxy: &Kamailio, user: &str, audio: AudioIo) -> Phone {
    let account = AccountConfig {
        user: user.into(),
        domain: proxy.addr().to_string(),
        ..AccountConfig::default()
    };
    let config = PhoneConfig {
        bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        codecs: vec!["PCMU".into()],
        audio,
        ..PhoneConfig::default()
    };
    let phone = start_registered(proxy, account, config, T).await;
    phone
}

/// A calls B, B answers; returns the file B's call records to, once the call has ended.
async fn one_call(a: &mut Phone, b: &mut Phone) -> PathBuf {
    let call_a = a.handle.dial(None, "1002").await.unwrap();
    let incoming = next_event(&mut b.events, "incoming call", T, |e| {
        matches!(e, PhoneEvent::IncomingCall { .. })
    })
    .await;
    let PhoneEvent::IncomingCall { call: call_b, .. } = incoming else {
        unreachable!()
    };
    b.handle.answer(&call_b).await.unwrap();
    let established = next_event(&mut b.events, "established", T, |e| {
        matches!(e, PhoneEvent::Established { .. })
    })
    .await;
    let PhoneEvent::Established { media, .. } = established else {
        unreachable!()
    };
    let recording = PathBuf::from(media.unwrap().recording.unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.handle.hangup(&call_a).await.unwrap();
    next_event(
        &mut b.events,
        "ended",
        T,
        |e| matches!(e, PhoneEvent::Ended { call, .. } if *call == call_b),
    )
    .await;
    recording
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_audio_choice_applies_to_the_next_call_without_reconnecting() {
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (first_dir, second_dir) = (dir.path().join("first"), dir.path().join("second"));
    let mut a = phone(&proxy, "1001", files(&dir.path().join("a"))).await;
    let mut b = phone(&proxy, "1002", files(&first_dir)).await;

    let first = one_call(&mut a, &mut b).await;
    assert_eq!(first.parent(), Some(first_dir.as_path()), "{first:?}");

    // The agent picks other "devices": the registered phone keeps running.
    b.handle.set_audio(files(&second_dir)).unwrap();
    let second = one_call(&mut a, &mut b).await;
    assert_eq!(second.parent(), Some(second_dir.as_path()), "{second:?}");

    // Both calls really ran on their own sink: each file holds the call's audio.
    for file in [&first, &second] {
        let reader = hound::WavReader::open(file).unwrap();
        let seconds = f64::from(reader.duration()) / f64::from(reader.spec().sample_rate);
        assert!(seconds > 1.0, "{}: {seconds} s", file.display());
        let loud = reader
            .into_samples::<i16>()
            .filter_map(Result::ok)
            .filter(|s| s.unsigned_abs() > 1000)
            .count();
        assert!(loud > 1000, "{}: no speech heard", file.display());
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}
