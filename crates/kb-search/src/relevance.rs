//! Relevance measurement over a labeled query set.
//!
//! File format (TSV, `#` starts a comment line): `query<TAB>id:grade id:grade …` with grades
//! 0–3 (3 = the answer, 2 = very useful, 1 = related). Ids not listed have grade 0.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::{KbIndex, Result};

/// Cut-off of the metrics.
pub const K: usize = 10;

/// One labeled query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledQuery {
    /// The query as typed.
    pub query: String,
    /// Graded relevant ids.
    pub grades: HashMap<String, u8>,
}

/// Parses the TSV format described in the module doc.
pub fn parse_queries(text: &str) -> std::result::Result<Vec<LabeledQuery>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (query, labels) = line
            .split_once('\t')
            .ok_or_else(|| format!("line {}: no tab", n + 1))?;
        let mut grades = HashMap::new();
        for label in labels.split_whitespace() {
            let (id, grade) = label
                .split_once(':')
                .ok_or_else(|| format!("line {}: bad label `{label}`", n + 1))?;
            let grade: u8 = grade
                .parse()
                .ok()
                .filter(|g| *g <= 3)
                .ok_or_else(|| format!("line {}: grade must be 0–3 in `{label}`", n + 1))?;
            grades.insert(id.to_string(), grade);
        }
        if grades.values().all(|g| *g == 0) {
            return Err(format!("line {}: no relevant id", n + 1));
        }
        out.push(LabeledQuery {
            query: query.to_string(),
            grades,
        });
    }
    Ok(out)
}

fn gain(grade: u8) -> f64 {
    f64::from((1u32 << grade) - 1)
}

/// nDCG@k with gains 2^grade − 1.
pub fn ndcg_at_k(ranked: &[String], grades: &HashMap<String, u8>, k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| gain(grades.get(id).copied().unwrap_or(0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u8> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| gain(*g) / ((i + 2) as f64).log2())
        .sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

/// Reciprocal rank of the first result with grade ≥ 1 within the top k (0 if none).
pub fn reciprocal_rank(ranked: &[String], grades: &HashMap<String, u8>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|id| grades.get(id).copied().unwrap_or(0) > 0)
        .map(|i| 1.0 / (i + 1) as f64)
        .unwrap_or(0.0)
}

/// Scores of one query.
#[derive(Debug, Clone, Serialize)]
pub struct QueryScore {
    /// The query.
    pub query: String,
    /// nDCG@10.
    pub ndcg: f64,
    /// Reciprocal rank @10.
    pub rr: f64,
    /// Ids returned, best first.
    pub ranked: Vec<String>,
}

/// Aggregate figures over a query set.
#[derive(Debug, Clone, Serialize)]
pub struct RelevanceReport {
    /// Number of queries.
    pub queries: usize,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean reciprocal rank @10.
    pub mrr_at_10: f64,
    /// Share of queries with no result at all.
    pub zero_result_rate: f64,
    /// Median query latency.
    pub p50: Duration,
    /// 95th percentile query latency.
    pub p95: Duration,
    /// Per-query detail.
    pub per_query: Vec<QueryScore>,
}

/// Runs every query against `index` and computes the figures.
pub fn evaluate(index: &KbIndex, queries: &[LabeledQuery]) -> Result<RelevanceReport> {
    let mut per_query = Vec::with_capacity(queries.len());
    let mut latencies = Vec::with_capacity(queries.len());
    let mut zero = 0usize;
    for q in queries {
        let started = Instant::now();
        let hits = index.search(&q.query, K)?;
        latencies.push(started.elapsed());
        if hits.is_empty() {
            zero += 1;
        }
        let ranked: Vec<String> = hits.into_iter().map(|h| h.id).collect();
        per_query.push(QueryScore {
            query: q.query.clone(),
            ndcg: ndcg_at_k(&ranked, &q.grades, K),
            rr: reciprocal_rank(&ranked, &q.grades, K),
            ranked,
        });
    }
    latencies.sort();
    let pct = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[i.min(latencies.len() - 1)]
    };
    let n = queries.len().max(1) as f64;
    Ok(RelevanceReport {
        queries: queries.len(),
        ndcg_at_10: per_query.iter().map(|q| q.ndcg).sum::<f64>() / n,
        mrr_at_10: per_query.iter().map(|q| q.rr).sum::<f64>() / n,
        zero_result_rate: zero as f64 / n,
        p50: pct(0.5),
        p95: pct(0.95),
        per_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(pairs: &[(&str, u8)]) -> HashMap<String, u8> {
        pairs.iter().map(|(id, g)| (id.to_string(), *g)).collect()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ndcg_is_one_for_ideal_order_and_lower_otherwise() {
        let g = grades(&[("a", 3), ("b", 1)]);
        assert!((ndcg_at_k(&ids(&["a", "b"]), &g, 10) - 1.0).abs() < 1e-12);
        let swapped = ndcg_at_k(&ids(&["b", "a"]), &g, 10);
        // dcg = 1/1 + 7/log2(3); idcg = 7 + 1/log2(3)
        let expected = (1.0 + 7.0 / 3f64.log2()) / (7.0 + 1.0 / 3f64.log2());
        assert!((swapped - expected).abs() < 1e-12);
        assert_eq!(ndcg_at_k(&ids(&["x"]), &g, 10), 0.0);
    }

    #[test]
    fn reciprocal_rank_uses_first_relevant_within_k() {
        let g = grades(&[("c", 2)]);
        assert_eq!(reciprocal_rank(&ids(&["a", "b", "c"]), &g, 10), 1.0 / 3.0);
        assert_eq!(reciprocal_rank(&ids(&["a", "b", "c"]), &g, 2), 0.0);
    }

    #[test]
    fn parses_tsv_and_rejects_bad_lines() {
        let q = parse_queries("# comment\n退款\t001:3 002:1\n").unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].grades.get("001"), Some(&3));
        assert!(parse_queries("退款 001:3").is_err());
        assert!(parse_queries("退款\t001:4").is_err());
        assert!(parse_queries("退款\t001:0").is_err());
    }
}
