//! Where Seatline's query time goes on generated articles: the same queries with one feature
//! switched off at a time. `cargo test --release -p seatline-kb-bench --test profile --
//! --ignored --nocapture` (KB_PROFILE_ARTICLES, default 30,000). Prints figures; asserts none.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use seatline_kb_bench::corpus::{generate_articles, generate_queries};
use seatline_kb_search::{IndexOptions, KbIndex, SearchConfig};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
#[ignore]
fn query_time_by_feature() {
    let n: usize = std::env::var("KB_PROFILE_ARTICLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000);
    let articles = generate_articles(n, 1);
    let kb = KbIndex::in_memory(IndexOptions::default()).unwrap();
    kb.replace_all(&articles).unwrap();
    let queries = generate_queries(400, 1, 1);
    let base = kb.config();
    let variants: Vec<(&str, SearchConfig)> = vec![
        ("default", base.clone()),
        (
            "no phrase",
            SearchConfig {
                phrase_boost: 0.0,
                ..base.clone()
            },
        ),
        (
            "no prefix",
            SearchConfig {
                prefix_boost: 0.0,
                ..base.clone()
            },
        ),
        (
            "no homophones",
            SearchConfig {
                homophone_boost: 0.0,
                ..base.clone()
            },
        ),
        (
            "no synonyms",
            SearchConfig {
                synonym_boost: 0.0,
                ..base.clone()
            },
        ),
        (
            "no snippet (1 char)",
            SearchConfig {
                snippet_chars: 1,
                ..base.clone()
            },
        ),
    ];
    for (name, config) in variants {
        kb.set_config(config).unwrap();
        for q in queries.iter().take(50) {
            kb.search(&q.text, 10).unwrap();
        }
        let mut times: Vec<Duration> = queries
            .iter()
            .map(|q| {
                let started = Instant::now();
                kb.search(&q.text, 10).unwrap();
                started.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "{name:<22} p50 {:>9.2?} p95 {:>9.2?} p99 {:>9.2?}",
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&times, 0.99)
        );
    }
    // The slowest queries under the default config.
    kb.set_config(base).unwrap();
    let mut slow: Vec<(Duration, String)> = queries
        .iter()
        .map(|q| {
            let started = Instant::now();
            kb.search(&q.text, 10).unwrap();
            (started.elapsed(), q.text.clone())
        })
        .collect();
    slow.sort();
    for (t, q) in slow.iter().rev().take(8) {
        println!("{t:>9.2?}  {q}  {:?}", kb.plan(q).unwrap());
    }
}
