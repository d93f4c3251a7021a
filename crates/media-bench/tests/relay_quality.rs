//! The short, low-threshold version of the voice-quality benchmark (`scripts/bench.sh media`)
//! for the test command: real calls through Kamailio and the impairment relay, Seatline to
//! Seatline and baresip to baresip, scored with PESQ. The thresholds here only catch a broken
//! path (no audio, garbled audio, the relay not in the media path); the targets live in the
//! benchmark, whose table is in the README.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use seatline_media_bench::{condition, Bench, BenchCodec, Peer};
use std::path::PathBuf;

/// `target/debug/seatline`, next to the directory of this test executable.
fn seatline_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("seatline")
}

#[test]
fn calls_through_the_impairment_relay_score_with_both_peers() {
    let bench = Bench::new(seatline_bin()).unwrap();
    let clean = condition("clean").unwrap();
    let lossy = condition("loss10").unwrap();

    let s = bench
        .call(Peer::Seatline, BenchCodec::Pcmu, &clean, 1)
        .unwrap();
    eprintln!("Seatline PCMU clean: {s:?}");
    assert!(s.pesq_nb() >= 3.5, "{s:?}");
    assert_eq!(s.loss_percent(), 0.0, "{s:?}");
    // Both directions passed the relay: about 50 packets a second each way.
    assert!(s.relay.caller_to_callee_rtp > 200, "{s:?}");
    assert!(s.relay.callee_to_caller_rtp > 200, "{s:?}");
    let delay = s.delay_ms().unwrap();
    assert!((0.0..150.0).contains(&delay), "{s:?}");

    let s = bench
        .call(Peer::Seatline, BenchCodec::OpusFec, &lossy, 1)
        .unwrap();
    eprintln!("Seatline Opus+FEC 10 %: {s:?}");
    assert!((6.0..16.0).contains(&s.loss_percent()), "{s:?}");
    assert!(s.pesq_wb().unwrap() >= 2.2, "{s:?}");
    assert!(s.jitter_buffer_ms.is_some(), "{s:?}");
    assert!(s.cpu_percent.is_some_and(|c| c > 0.0), "{s:?}");

    let b = bench
        .call(Peer::Baresip, BenchCodec::OpusFec, &lossy, 1)
        .unwrap();
    eprintln!("baresip Opus+FEC 10 %: {b:?}");
    // The same dice as Seatline's call.
    assert!((6.0..16.0).contains(&b.loss_percent()), "{b:?}");
    assert!(b.pesq_wb().unwrap() >= 2.2, "{b:?}");
    assert_eq!(b.delay_ms(), None);
}
