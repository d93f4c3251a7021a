//! Comfort noise through a real engine on 127.0.0.1: a raw G.711 peer with silence
//! suppression sends a talkspurt, one RFC 3389 CN packet, a second of nothing, and speech
//! again. With CN agreed the silence plays as noise at the packet's level and nothing counts
//! as loss; without, the CN packet is an unknown payload type (discarded, so its sequence
//! number is lost) and the silence is concealed, then dead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_media::cn::{level_of, CN_PAYLOAD_TYPE};
use seatline_media::g711::Law;
use seatline_media::session::RtpSender;
use seatline_media::wav::WavSource;
use seatline_media::{Codec, MediaConfig, MediaEngine, MediaStats, Sink};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const CN_LEVEL: u8 = 45;

/// Runs one call; returns the engine's stats and the level (-dBov) of every played frame.
fn call(cn_agreed: bool) -> (MediaStats, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("heard.wav");
    let (engine_sock, peer) = (
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    );
    let to = engine_sock.local_addr().unwrap();
    let mut config = MediaConfig::new(engine_sock, peer.local_addr().unwrap(), Codec::PCMU);
    config.sink = Sink::Wav(wav.clone());
    config.comfort_noise_pt = cn_agreed.then_some(CN_PAYLOAD_TYPE);
    let engine = MediaEngine::start(config).unwrap();

    let mut s = RtpSender::new(0, 160);
    let start = Instant::now();
    // 0.6 s of a tone, CN, 1.2 s of nothing, 0.6 s of tone (time keeps running in the stream).
    for tick in 0..150u32 {
        let due = start + Duration::from_millis(20 * u64::from(tick));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let packet = if !(30..120).contains(&tick) {
            let pcm: Vec<i16> = (0..160)
                .map(|i| {
                    let t = f64::from(tick * 160 + i) / 8000.0;
                    (8000.0 * (2.0 * std::f64::consts::PI * 400.0 * t).sin()) as i16
                })
                .collect();
            Some(s.audio(Law::Mu.encode(&pcm)))
        } else if tick == 30 {
            let ts = s.timestamp();
            s.gap();
            Some(s.packet(CN_PAYLOAD_TYPE, false, ts, vec![CN_LEVEL]))
        } else {
            s.gap();
            None
        };
        if let Some(p) = packet {
            peer.send_to(&p.to_bytes().unwrap(), to).unwrap();
        }
        s.tick();
    }
    std::thread::sleep(Duration::from_millis(200));
    let stats = engine.stop().unwrap();
    let mut heard = WavSource::open(&wav, 8000, false).unwrap();
    let seconds = 3 + 1;
    let levels = (0..seconds * 50)
        .map(|_| level_of(&heard.next_frame(160)))
        .collect();
    (stats, levels)
}

#[test]
fn comfort_noise_fills_the_peers_silence_and_is_not_loss() {
    let (stats, levels) = call(true);
    eprintln!("with CN: {:?}\n{levels:?}", stats.jitter);
    assert_eq!(stats.received.lost, 0, "{:?}", stats.received);
    assert_eq!(stats.discarded, 0);
    assert_eq!(stats.quality.loss_percent, 0.0, "{:?}", stats.quality);
    assert!(stats.jitter.comfort_noise >= 10, "{:?}", stats.jitter);
    // Only the end of the stream (the peer stops, the engine runs 200 ms longer) is concealed.
    let concealed_with_cn = stats.jitter.concealed;
    // About a second of noise at the stated level, and speech around it.
    let noise = levels.iter().filter(|l| l.abs_diff(CN_LEVEL) <= 2).count();
    assert!(noise >= 45, "{noise} frames at {CN_LEVEL} -dBov");
    assert!(levels.iter().filter(|&&l| l < 20).count() >= 50);

    let (stats, levels) = call(false);
    eprintln!("without CN: {:?}\n{levels:?}", stats.jitter);
    // The unknown CN packet is dropped: its sequence number counts as lost.
    assert_eq!(stats.discarded, 1);
    assert_eq!(stats.received.lost, 1, "{:?}", stats.received);
    // The silence is concealed too (up to the buffer's 300 ms maximum, then dead air).
    assert!(
        stats.jitter.concealed >= concealed_with_cn + 10,
        "{:?} vs {concealed_with_cn} with CN",
        stats.jitter
    );
    assert!(levels.iter().filter(|&&l| l == 127).count() > 40);
    assert_eq!(
        levels.iter().filter(|l| l.abs_diff(CN_LEVEL) <= 2).count(),
        0
    );
}
