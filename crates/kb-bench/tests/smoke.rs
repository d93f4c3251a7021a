//! The whole benchmark on a small corpus: the report must be complete and sane. No timing
//! assertions: speed targets are judged by the benchmark itself against its peer.

use seatline_kb_bench::corpus::QueryKind;
use seatline_kb_bench::{render_table, run, Config, EngineReport};

fn check_engine(e: &EngineReport, articles: u64, queries: usize) {
    assert_eq!(e.docs, articles, "{}", e.name);
    assert!(e.size_bytes > 0, "{}", e.name);
    assert!(e.build_s > 0.0, "{}", e.name);
    let l = &e.latency;
    assert_eq!(l.count, queries, "{}", e.name);
    assert!(
        0.0 < l.p50_ms && l.p50_ms <= l.p95_ms && l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms,
        "{}: {l:?}",
        e.name
    );
    assert!(l.mean_ms <= l.max_ms, "{}: {l:?}", e.name);
    assert!(e.mean_hits <= 10.0, "{}", e.name);
    // Every change was timed (and the run checked each is found by its new word).
    let u = &e.update_one;
    assert_eq!(u.count, seatline_kb_bench::UPDATES, "{}", e.name);
    assert!(0.0 < u.p50_ms && u.p50_ms <= u.max_ms, "{}: {u:?}", e.name);
}

#[test]
fn small_run_gives_a_sane_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        articles: 300,
        queries: 60,
        warmup: 5,
        seed: 7,
        dir: Some(dir.path().join("bench")),
        progress: false,
    };
    let report = run(&config).unwrap();

    let c = &report.corpus;
    assert_eq!(c.articles, 300);
    assert_eq!(c.zh_cn + c.zh_tw + c.en, 300);
    assert!(c.zh_cn > c.zh_tw && c.zh_tw > 0 && c.en > 0, "{c:?}");
    assert!(c.body_chars_min >= 190 && c.body_chars_max <= 2000, "{c:?}");
    assert_eq!(c.queries_by_kind.iter().map(|(_, n)| n).sum::<usize>(), 60);
    assert_eq!(report.warmup, 5);

    check_engine(&report.seatline, 300, 60);
    check_engine(&report.peer, 300, 60);
    // Both engines find something for most queries; Seatline also completes prefixes and
    // corrects homophones, so it should miss less.
    assert!(report.seatline.zero_result_rate <= 0.05, "{report:?}");
    assert!(report.peer.zero_result_rate <= 0.4, "{report:?}");
    assert!(report.seatline.zero_result_rate <= report.peer.zero_result_rate);
    assert_eq!(report.by_kind.len(), QueryKind::ALL.len());
    assert_eq!(report.by_kind.iter().map(|k| k.count).sum::<usize>(), 60);
    assert!(report.ratios.p99.is_some() && report.ratios.size.is_some());
    assert_eq!(
        report.target_met,
        report.seatline.latency.p99_ms <= report.target_p99_ms
    );
    if cfg!(target_os = "linux") {
        let m = &report.seatline.memory;
        assert!(m.before_build.rss_kib.unwrap() > 0);
        assert!(m.after_build.peak_kib.unwrap() >= m.after_build.rss_kib.unwrap());
    }

    let table = render_table(&report);
    for needle in [
        "index build",
        "query p99",
        "change 1 article p50",
        "zero-result rate",
        "Seatline/peer",
        "Target",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
    assert!(table.contains("PASS") || table.contains("MISS"));
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["seatline"]["latency"]["p99_ms"].is_number());

    // The indexes were written where asked, and that directory is refused a second time.
    assert!(dir.path().join("bench/fts5.db").is_file());
    assert!(run(&config).is_err());
}
