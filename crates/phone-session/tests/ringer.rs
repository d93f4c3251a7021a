#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The app's phone session rings for a real incoming call (Kamailio, a second phone calling)
//! on a real sound device (a PulseAudio null sink, heard back through its monitor) and falls
//! silent when the agent answers, or silences the ring of a call that goes on ringing.

use seatline_media::device::InputDevice;
use seatline_phone_session::{PhoneAccount, PhoneSession};
use seatline_secrets::MemoryStore;
use seatline_settings::AudioSettings;
use seatline_sip_peers::pulse::NullSink;
use seatline_sip_peers::{DigestAlgorithm, Kamailio, KamailioConfig};
use seatline_sip_phone::{
    AccountConfig, AudioIo, Phone, PhoneConfig, PhoneEvent, RegistrationState, SipTransport,
};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The peak of each 10 ms of what the null sink plays, with when it was captured.
type Heard = Arc<Mutex<Vec<(Instant, u16)>>>;

fn listen(stop: Arc<AtomicBool>) -> (Heard, std::thread::JoinHandle<()>) {
    let heard: Heard = Arc::new(Mutex::new(Vec::new()));
    let out = heard.clone();
    let thread = std::thread::spawn(move || {
        let mut mic = InputDevice::open(None, 8000).unwrap();
        while let Ok(Some(frame)) = mic.read_frame(80, &stop, Duration::from_secs(3), 800) {
            let peak = frame.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            out.lock().unwrap().push((Instant::now(), peak));
        }
    });
    (heard, thread)
}

/// When the ring was first heard after `after` (the stream takes a moment to start).
async fn wait_ring(heard: &Heard, after: Instant, rx: &mpsc::Receiver<PhoneEvent>) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let first = heard
            .lock()
            .unwrap()
            .iter()
            .find(|(t, p)| *t > after && *p > 3000)
            .map(|(t, _)| *t);
        if let Some(t) = first {
            return t;
        }
        if Instant::now() > deadline {
            let (frames, max) = {
                let h = heard.lock().unwrap();
                (h.len(), h.iter().map(|(_, p)| *p).max())
            };
            let events: Vec<_> = rx.try_iter().collect();
            panic!("the ring was never heard: {frames} frames captured, loudest {max:?}; events {events:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last time anything sounded after `after`.
fn last_sound(heard: &Heard, after: Instant) -> Instant {
    heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, p)| *t > after && *p > 300)
        .map(|(t, _)| *t)
        .max()
        .unwrap()
}

fn wait_for(
    rx: &mpsc::Receiver<PhoneEvent>,
    what: &str,
    pred: impl Fn(&PhoneEvent) -> bool,
) -> PhoneEvent {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_call_rings_on_the_device_until_answered_or_silenced() {
    let _pulse = NullSink::start().unwrap();
    let proxy = Kamailio::start(KamailioConfig::new(DigestAlgorithm::Md5)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let session = PhoneSession::new(
        dir.path(),
        Arc::new(MemoryStore::new()),
        AudioIo::Devices {
            input: None,
            output: None,
        },
    );
    session
        .apply_audio_settings(&AudioSettings {
            ring_volume: 100,
            ..AudioSettings::default()
        })
        .await;
    let account = PhoneAccount {
        domain: proxy.addr().to_string(),
        user: "1002".into(),
        auth_user: None,
        display_name: None,
        transport: SipTransport::Udp,
        outbound_proxy: None,
        auto_answer_ms: None,
        media_encryption: Default::default(),
    };
    let (tx, rx) = mpsc::channel();
    session
        .connect(
            account,
            Some(proxy.password("1002").unwrap().to_string()),
            move |e| {
                let _ = tx.send(e);
            },
        )
        .await
        .unwrap();
    wait_for(&rx, "registered", |e| {
        matches!(
            e,
            PhoneEvent::Registration {
                state: RegistrationState::Registered { .. },
                ..
            }
        )
    });

    // The caller sends silence, so after the answer the sink carries nothing but a ring.
    let caller = Phone::start(
        PhoneConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            codecs: vec!["PCMU".into()],
            audio: AudioIo::Files {
                source: None,
                record_dir: None,
            },
            ..PhoneConfig::default()
        },
        vec![(
            AccountConfig {
                user: "1001".into(),
                domain: proxy.addr().to_string(),
                ..AccountConfig::default()
            },
            proxy.password("1001").unwrap().to_string(),
        )],
    )
    .await
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (heard, listener) = listen(stop.clone());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let quiet_until = Instant::now();
    let call_a = caller.handle.dial(None, "1002").await.unwrap();
    let incoming = wait_for(&rx, "incoming call", |e| {
        matches!(e, PhoneEvent::IncomingCall { .. })
    });
    let PhoneEvent::IncomingCall { call, .. } = incoming else {
        unreachable!()
    };
    let rang_at = wait_ring(&heard, quiet_until, &rx).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answered_at = Instant::now();
    session.phone().await.unwrap().answer(&call).await.unwrap();
    wait_for(&rx, "established", |e| {
        matches!(e, PhoneEvent::Established { .. })
    });
    // A whole ring cycle (3 s) after the answer: a ring still going would have sounded.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let before: Vec<u16> = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t < quiet_until)
        .map(|(_, p)| *p)
        .collect();
    assert!(before.iter().all(|p| *p < 300), "sound before the call");
    let last_ring = last_sound(&heard, quiet_until);
    eprintln!(
        "ring heard {:?} after the INVITE went out; last ring sound {:?} after the answer was asked for",
        rang_at - quiet_until,
        last_ring.saturating_duration_since(answered_at)
    );
    // The answer silences it at once: nothing sounds 300 ms after it (capture latency
    // included) through a whole ring cycle.
    assert!(
        last_ring < answered_at + Duration::from_millis(300),
        "the ring went on {:?} after the answer",
        last_ring - answered_at
    );
    caller.handle.hangup(&call_a).await.unwrap();
    wait_for(&rx, "ended", |e| matches!(e, PhoneEvent::Ended { .. }));

    // A second call: the agent silences the ring; the call goes on ringing on screen.
    let second_from = Instant::now();
    caller.handle.dial(None, "1002").await.unwrap();
    let incoming = wait_for(&rx, "incoming call", |e| {
        matches!(e, PhoneEvent::IncomingCall { .. })
    });
    let PhoneEvent::IncomingCall { call, .. } = incoming else {
        unreachable!()
    };
    wait_ring(&heard, second_from, &rx).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let silenced_at = Instant::now();
    session.silence_ringer();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let last = last_sound(&heard, second_from);
    eprintln!(
        "last ring sound {:?} after silencing",
        last.saturating_duration_since(silenced_at)
    );
    assert!(
        last < silenced_at + Duration::from_millis(300),
        "the ring went on {:?} after silencing",
        last - silenced_at
    );
    let ended: Vec<_> = rx
        .try_iter()
        .filter(|e| matches!(e, PhoneEvent::Ended { .. }))
        .collect();
    assert!(ended.is_empty(), "silencing ended the call: {ended:?}");
    session
        .phone()
        .await
        .unwrap()
        .decline(&call, 486)
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    listener.join().unwrap();
    caller.handle.shutdown().await;
    session.disconnect().await;
}
