//! Parse speed. The customer cache indexes ~1,000,000 numbers at start-up, so this prints
//! numbers/second for 100,000 mixed inputs. Ignored by default and never asserts on time:
//!
//! `cargo test --release --test throughput -- --ignored --nocapture`

use seatline_phone_numbers::{lookup_keys, Normalizer, NormalizerOptions};
use std::time::Instant;

/// Realistic mix of CRM and wire formats, all valid, all distinct.
fn inputs(count: u32) -> Vec<String> {
    (0..count)
        .map(|i| {
            let low = i % 10_000;
            let high = (i / 10_000) % 10_000;
            match i % 8 {
                0 => format!("+86 138 {high:04} {low:04}"),
                1 => format!("139{high:04}{low:04}"),
                2 => format!("010-6{high:03}{low:04}"),
                3 => format!("(0755) 8{high:03} {low:04}"),
                4 => format!("sip:+86137{high:04}{low:04}@pbx.example.com;user=phone"),
                5 => format!("0086 186 {high:04} {low:04}"),
                6 => format!("021-5{high:03}{low:04} 转 {}", low % 1000),
                _ => format!("\"Zhang San\" <sip:0135{high:04}{low:04}@10.0.0.1>"),
            }
        })
        .collect()
}

#[test]
#[ignore = "throughput measurement; run with --release --ignored --nocapture"]
fn normalize_100k_per_second() {
    let normalizer = match Normalizer::new("CN", NormalizerOptions::default()) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    let inputs = inputs(100_000);

    let start = Instant::now();
    let mut keys = 0usize;
    let mut failed = Vec::new();
    for input in &inputs {
        match normalizer.normalize(input) {
            Ok(n) => keys += lookup_keys(&n).len(),
            Err(e) => failed.push(e.to_string()),
        }
    }
    let elapsed = start.elapsed();

    let per_second = inputs.len() as f64 / elapsed.as_secs_f64();
    println!(
        "normalized {} inputs in {:.3} s: {:.0} numbers/second ({:.2} us each), {} lookup keys",
        inputs.len(),
        elapsed.as_secs_f64(),
        per_second,
        elapsed.as_secs_f64() * 1e6 / inputs.len() as f64,
        keys
    );
    assert!(
        failed.is_empty(),
        "{} failed, first: {:?}",
        failed.len(),
        failed.first()
    );
    // E.164 + national significant number for every number, plus the trunk form for the
    // 3 landline formats out of 8.
    assert_eq!(keys, 100_000 * 2 + 3 * 12_500);
}
