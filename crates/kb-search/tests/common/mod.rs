//! Helpers shared by the integration tests: the seed corpus and relevance floors. Each test
//! binary uses some of them, hence the `dead_code` allowances.

use std::path::{Path, PathBuf};

/// The seed corpus: `$KB_SEED_CORPUS`, else `shared/data/kb-seed-corpus` beside the
/// repository. Missing outside CI → None (the caller's scoring is skipped, said on stderr);
/// missing in CI → panic, because CI always has `shared/` beside the clone and a missing
/// corpus there is a broken set-up, not a reason to skip a floor.
#[allow(dead_code)]
pub fn seed_corpus_dir(what: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KB_SEED_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kb-seed-corpus")
        });
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        panic!("seed corpus not found at {} in CI", dir.display());
    } else {
        eprintln!(
            "SKIPPED: seed corpus not found at {} (set KB_SEED_CORPUS); {what} not scored",
            dir.display()
        );
        None
    }
}

/// Relevance floors a labeled query set must hold.
#[allow(dead_code)]
pub struct Floors {
    pub min_queries: usize,
    pub min_ndcg: f64,
    pub min_mrr: f64,
    pub max_zero_result_rate: f64,
}

/// Fails the test when `r` falls below `floors`. Not every test binary scores relevance.
#[allow(dead_code)]
pub fn assert_floors(r: &seatline_kb_search::relevance::RelevanceReport, floors: &Floors) {
    assert!(
        r.queries >= floors.min_queries,
        "only {} queries",
        r.queries
    );
    assert!(
        r.ndcg_at_10 >= floors.min_ndcg,
        "nDCG@10 {:.3} < {}",
        r.ndcg_at_10,
        floors.min_ndcg
    );
    assert!(
        r.mrr_at_10 >= floors.min_mrr,
        "MRR@10 {:.3} < {}",
        r.mrr_at_10,
        floors.min_mrr
    );
    assert!(
        r.zero_result_rate <= floors.max_zero_result_rate,
        "zero-result rate {:.3} > {}",
        r.zero_result_rate,
        floors.max_zero_result_rate
    );
}
