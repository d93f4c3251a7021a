//! Knowledge-base benchmark: Seatline's search (Tantivy + jieba) against a peer measured in the
//! same run (SQLite FTS5 over jieba-pre-segmented text), on generated call-center articles.
//!
//! * [`corpus`]: the seeded article and query generator.
//! * [`peer`]: the FTS5 peer.
//! * [`run`]: builds both indexes, runs the queries, and returns a [`Report`];
//!   [`render_table`] prints it for people, `serde_json` for machines.

pub mod corpus;
pub mod mem;
pub mod peer;
pub mod rng;
pub mod stats;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use seatline_kb_search::{Article, IndexOptions, KbIndex, Lang};
use serde::Serialize;

use crate::corpus::{generate_articles, generate_queries, Query, QueryKind};
use crate::mem::Memory;
use crate::peer::Fts5Peer;
use crate::stats::Latency;

/// The latency target of issue #5: p99 ≤ 5 ms on a 2-core machine.
pub const TARGET_P99_MS: f64 = 5.0;
/// Hits per query, as the search box asks for.
pub const LIMIT: usize = 10;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Articles to generate.
    pub articles: usize,
    /// Measured queries.
    pub queries: usize,
    /// Warm-up queries run on each engine first and not measured.
    pub warmup: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// Where the indexes go (a new or empty directory); a temporary one when `None`.
    pub dir: Option<PathBuf>,
    /// Print progress to standard error.
    pub progress: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            articles: 100_000,
            queries: 2_000,
            warmup: 200,
            seed: 1,
            dir: None,
            progress: false,
        }
    }
}

/// Why the benchmark could not run.
#[derive(Debug)]
pub enum BenchError {
    /// Seatline's index failed.
    Seatline(seatline_kb_search::Error),
    /// SQLite failed.
    Peer(rusqlite::Error),
    /// A file or directory could not be used.
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// `--dir` names a directory that already holds files.
    DirNotEmpty(PathBuf),
    /// A changed article was not found by its new word after the change.
    UpdateLost(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Seatline(e) => write!(f, "Seatline index: {e}"),
            BenchError::Peer(e) => write!(f, "SQLite FTS5 peer: {e}"),
            BenchError::UpdateLost(id) => {
                write!(f, "article {id} changed but its new text is not found")
            }
            BenchError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BenchError::DirNotEmpty(p) => write!(
                f,
                "{} is not empty; give a new or empty directory (the benchmark writes its indexes there)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::Seatline(e) => Some(e),
            BenchError::Peer(e) => Some(e),
            BenchError::Io { source, .. } => Some(source),
            BenchError::DirNotEmpty(_) | BenchError::UpdateLost(_) => None,
        }
    }
}

impl From<seatline_kb_search::Error> for BenchError {
    fn from(e: seatline_kb_search::Error) -> Self {
        BenchError::Seatline(e)
    }
}

impl From<rusqlite::Error> for BenchError {
    fn from(e: rusqlite::Error) -> Self {
        BenchError::Peer(e)
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
}

/// The generated input.
#[derive(Debug, Clone, Serialize)]
pub struct CorpusStats {
    /// Articles.
    pub articles: usize,
    /// Simplified Chinese articles.
    pub zh_cn: usize,
    /// Traditional Chinese articles.
    pub zh_tw: usize,
    /// English articles.
    pub en: usize,
    /// Characters in all titles and bodies.
    pub chars: usize,
    /// Shortest and longest body, in characters.
    pub body_chars_min: usize,
    /// See `body_chars_min`.
    pub body_chars_max: usize,
    /// Seconds to generate articles and queries.
    pub generate_s: f64,
    /// Measured queries per kind.
    pub queries_by_kind: Vec<(QueryKind, usize)>,
}

/// Memory of one engine's phases (KiB). Peaks are reset at the start of each phase where the
/// kernel allows it (`peak_reset`), so they belong to that phase; the generated articles are
/// already in memory in every figure (compare with `before_build`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MemoryReport {
    /// Just before the build.
    pub before_build: Memory,
    /// Just after the build (its `peak_kib` is the peak during the build).
    pub after_build: Memory,
    /// After the warm-up and measured queries (its `peak_kib` is the peak during them).
    pub after_queries: Memory,
    /// Whether peaks could be reset between phases.
    pub peak_reset: bool,
}

/// Figures of one engine.
#[derive(Debug, Clone, Serialize)]
pub struct EngineReport {
    /// Engine name.
    pub name: String,
    /// Seconds to build the index from the articles in memory (analysis included).
    pub build_s: f64,
    /// Seconds to open the built index again (application start).
    pub open_s: f64,
    /// Changing one article of the built index (an editor's save reaching the desks):
    /// [`UPDATES`] changes, each on its own, searchable once done.
    pub update_one: Latency,
    /// Bytes of all files of the index.
    pub size_bytes: u64,
    /// Documents in the index.
    pub docs: u64,
    /// Query latency (single thread, limit 10, hits with snippets).
    pub latency: Latency,
    /// Share of measured queries with no hit.
    pub zero_result_rate: f64,
    /// Mean hits per query.
    pub mean_hits: f64,
    /// Memory.
    pub memory: MemoryReport,
}

/// One query kind on both engines.
#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    /// Kind.
    pub kind: QueryKind,
    /// Measured queries of this kind.
    pub count: usize,
    /// Seatline: share with no hit.
    pub seatline_zero_rate: f64,
    /// Peer: share with no hit.
    pub peer_zero_rate: f64,
    /// Seatline latency for this kind.
    pub seatline: Latency,
    /// Peer latency for this kind.
    pub peer: Latency,
}

/// Seatline divided by the peer (below 1: Seatline is faster or smaller).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ratios {
    /// Build time.
    pub build: Option<f64>,
    /// Index size.
    pub size: Option<f64>,
    /// Latency p50.
    pub p50: Option<f64>,
    /// Latency p95.
    pub p95: Option<f64>,
    /// Latency p99.
    pub p99: Option<f64>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Machine.
    pub machine: Machine,
    /// Seed.
    pub seed: u64,
    /// Warm-up queries per engine (not measured).
    pub warmup: usize,
    /// Input.
    pub corpus: CorpusStats,
    /// Seatline (Tantivy + jieba).
    pub seatline: EngineReport,
    /// SQLite FTS5 over jieba-segmented text.
    pub peer: EngineReport,
    /// Seatline / peer.
    pub ratios: Ratios,
    /// Per query kind.
    pub by_kind: Vec<KindReport>,
    /// The p99 target in milliseconds.
    pub target_p99_ms: f64,
    /// Whether Seatline's p99 meets it.
    pub target_met: bool,
}

/// Articles changed one by one after the build.
pub const UPDATES: usize = 20;

/// A word no generated article holds, marking the changed copy of article `id`.
fn changed_word(id: &str) -> String {
    let digits: String = id.chars().filter(char::is_ascii_digit).collect();
    format!("zqxchanged{digits}")
}

/// [`UPDATES`] articles spread over the corpus with a new sentence, each with its row in the
/// peer's table (rows are numbered from 1 in build order).
fn changed_articles(articles: &[Article]) -> Vec<(i64, Article)> {
    let step = (articles.len() / UPDATES).max(1);
    articles
        .iter()
        .enumerate()
        .step_by(step)
        .take(UPDATES)
        .map(|(i, a)| {
            let mut changed = a.clone();
            changed.body = format!("{} {}", a.body, changed_word(&a.id));
            (i as i64 + 1, changed)
        })
        .collect()
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then_some(a / b)
}

/// Bytes of all regular files under `path` (or of `path` itself when it is a file).
pub fn disk_size(path: &Path) -> Result<u64, BenchError> {
    let meta = fs::symlink_metadata(path).map_err(io_err(path))?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    if !meta.is_dir() {
        return Ok(0);
    }
    let mut total = 0;
    for entry in fs::read_dir(path).map_err(io_err(path))? {
        let entry = entry.map_err(io_err(path))?;
        total += disk_size(&entry.path())?;
    }
    Ok(total)
}

fn machine() -> Machine {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu_model = fs::read_to_string("/proc/cpuinfo").ok().and_then(|info| {
        info.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    });
    Machine { cpus, cpu_model }
}

/// Per-query outcome of one engine: time and number of hits.
struct Measured {
    durations: Vec<Duration>,
    hits: Vec<usize>,
}

fn measure<E>(
    queries: &[Query],
    warmup: &[Query],
    mut search: impl FnMut(&str) -> Result<usize, E>,
) -> Result<Measured, E> {
    for q in warmup {
        search(&q.text)?;
    }
    let mut durations = Vec::with_capacity(queries.len());
    let mut hits = Vec::with_capacity(queries.len());
    for q in queries {
        let started = Instant::now();
        let n = search(&q.text)?;
        durations.push(started.elapsed());
        hits.push(n);
    }
    Ok(Measured { durations, hits })
}

fn zero_rate(hits: &[usize]) -> f64 {
    if hits.is_empty() {
        0.0
    } else {
        hits.iter().filter(|&&n| n == 0).count() as f64 / hits.len() as f64
    }
}

fn mean_hits(hits: &[usize]) -> f64 {
    if hits.is_empty() {
        0.0
    } else {
        hits.iter().sum::<usize>() as f64 / hits.len() as f64
    }
}

/// Where the indexes live; a temporary directory is removed when this is dropped.
enum WorkDir {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

impl WorkDir {
    fn path(&self) -> &Path {
        match self {
            WorkDir::Temp(t) => t.path(),
            WorkDir::Given(p) => p,
        }
    }
}

fn work_dir(dir: Option<&Path>) -> Result<WorkDir, BenchError> {
    match dir {
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("seatline-kb-bench-")
                .tempdir()
                .map_err(io_err(&std::env::temp_dir()))?;
            Ok(WorkDir::Temp(tmp))
        }
        Some(dir) => {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            // Never write over someone's files: the indexes must be the only content.
            let mut entries = fs::read_dir(dir).map_err(io_err(dir))?;
            if entries.next().is_some() {
                return Err(BenchError::DirNotEmpty(dir.to_path_buf()));
            }
            Ok(WorkDir::Given(dir.to_path_buf()))
        }
    }
}

macro_rules! progress {
    ($config:expr, $($arg:tt)*) => {
        if $config.progress {
            eprintln!($($arg)*);
        }
    };
}

/// Runs the benchmark.
pub fn run(config: &Config) -> Result<Report, BenchError> {
    let work = work_dir(config.dir.as_deref())?;
    let seatline_dir = work.path().join("seatline");
    let peer_path = work.path().join("fts5.db");

    progress!(
        config,
        "generating {} articles and {} (+{} warm-up) queries…",
        config.articles,
        config.queries,
        config.warmup
    );
    let started = Instant::now();
    let articles = generate_articles(config.articles, config.seed);
    let queries = generate_queries(config.queries, config.seed, 0);
    let warmup = generate_queries(config.warmup, config.seed, 1);
    let generate_s = started.elapsed().as_secs_f64();
    let corpus = corpus_stats(&articles, &queries, generate_s);

    // Seatline: build, then the queries on the built index.
    progress!(config, "Seatline: building the index…");
    let peak_reset = mem::reset_peak();
    let before_build = mem::sample();
    let started = Instant::now();
    let kb = KbIndex::open_or_create(&seatline_dir, IndexOptions::default())?;
    kb.replace_all(&articles)?;
    let seatline_build_s = started.elapsed().as_secs_f64();
    let after_build = mem::sample();
    let seatline_size = disk_size(&seatline_dir)?;
    progress!(
        config,
        "Seatline: built in {seatline_build_s:.1} s; querying…"
    );
    mem::reset_peak();
    let seatline_run = measure(&queries, &warmup, |q| kb.search(q, LIMIT).map(|h| h.len()))?;
    let seatline_memory = MemoryReport {
        before_build,
        after_build,
        after_queries: mem::sample(),
        peak_reset,
    };
    let seatline_docs = kb.num_docs();

    // The peer, with Seatline's index still open (so the peer's memory deltas are its own and
    // not memory Seatline freed).
    progress!(config, "SQLite FTS5 peer: building the index…");
    mem::reset_peak();
    let before_build = mem::sample();
    let started = Instant::now();
    let fts = Fts5Peer::build(&peer_path, &articles)?;
    let peer_build_s = started.elapsed().as_secs_f64();
    let after_build = mem::sample();
    let peer_size = disk_size(&peer_path)?;
    progress!(
        config,
        "SQLite FTS5 peer: built in {peer_build_s:.1} s; querying…"
    );
    mem::reset_peak();
    let peer_run = measure(&queries, &warmup, |q| fts.search(q, LIMIT).map(|h| h.len()))?;
    let peer_memory = MemoryReport {
        before_build,
        after_build,
        after_queries: mem::sample(),
        peak_reset,
    };

    // Application start: open what was built.
    drop(kb);
    drop(fts);
    progress!(config, "reopening both indexes…");
    let started = Instant::now();
    let kb = KbIndex::open_or_create(&seatline_dir, IndexOptions::default())?;
    let seatline_open_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut fts = Fts5Peer::open(&peer_path)?;
    let peer_open_s = started.elapsed().as_secs_f64();

    progress!(config, "changing {UPDATES} articles one by one in both…");
    let changed = changed_articles(&articles);
    let mut seatline_updates = Vec::with_capacity(changed.len());
    for (_, article) in &changed {
        let started = Instant::now();
        kb.apply_changes(std::slice::from_ref(article), &[])?;
        seatline_updates.push(started.elapsed());
    }
    let mut peer_updates = Vec::with_capacity(changed.len());
    for (row, article) in &changed {
        let started = Instant::now();
        fts.replace(*row, article)?;
        peer_updates.push(started.elapsed());
    }
    for (_, article) in &changed {
        let word = changed_word(&article.id);
        let seatline_found = kb.search(&word, 1)?.first().map(|h| h.id.clone());
        let peer_found = fts.search(&word, 1)?.first().map(|h| h.id.clone());
        if seatline_found.as_deref() != Some(&article.id)
            || peer_found.as_deref() != Some(&article.id)
        {
            return Err(BenchError::UpdateLost(article.id.clone()));
        }
    }
    if kb.num_docs() != articles.len() as u64 {
        return Err(BenchError::UpdateLost(format!(
            "(count {} after the changes, {} before)",
            kb.num_docs(),
            articles.len()
        )));
    }
    drop(kb);
    drop(fts);

    let seatline = EngineReport {
        name: "Seatline (Tantivy + jieba)".into(),
        build_s: seatline_build_s,
        open_s: seatline_open_s,
        update_one: Latency::from_durations(&seatline_updates),
        size_bytes: seatline_size,
        docs: seatline_docs,
        latency: Latency::from_durations(&seatline_run.durations),
        zero_result_rate: zero_rate(&seatline_run.hits),
        mean_hits: mean_hits(&seatline_run.hits),
        memory: seatline_memory,
    };
    let peer = EngineReport {
        name: "SQLite FTS5 + jieba".into(),
        build_s: peer_build_s,
        open_s: peer_open_s,
        update_one: Latency::from_durations(&peer_updates),
        size_bytes: peer_size,
        docs: articles.len() as u64,
        latency: Latency::from_durations(&peer_run.durations),
        zero_result_rate: zero_rate(&peer_run.hits),
        mean_hits: mean_hits(&peer_run.hits),
        memory: peer_memory,
    };
    let by_kind = QueryKind::ALL
        .iter()
        .map(|&kind| {
            let idx: Vec<usize> = (0..queries.len())
                .filter(|&i| queries[i].kind == kind)
                .collect();
            let pick = |m: &Measured| -> (Vec<Duration>, Vec<usize>) {
                (
                    idx.iter().map(|&i| m.durations[i]).collect(),
                    idx.iter().map(|&i| m.hits[i]).collect(),
                )
            };
            let (sd, sh) = pick(&seatline_run);
            let (pd, ph) = pick(&peer_run);
            KindReport {
                kind,
                count: idx.len(),
                seatline_zero_rate: zero_rate(&sh),
                peer_zero_rate: zero_rate(&ph),
                seatline: Latency::from_durations(&sd),
                peer: Latency::from_durations(&pd),
            }
        })
        .collect();
    let ratios = Ratios {
        build: ratio(seatline.build_s, peer.build_s),
        size: ratio(seatline.size_bytes as f64, peer.size_bytes as f64),
        p50: ratio(seatline.latency.p50_ms, peer.latency.p50_ms),
        p95: ratio(seatline.latency.p95_ms, peer.latency.p95_ms),
        p99: ratio(seatline.latency.p99_ms, peer.latency.p99_ms),
    };
    let target_met = seatline.latency.p99_ms <= TARGET_P99_MS;
    progress!(config, "done.");
    Ok(Report {
        machine: machine(),
        seed: config.seed,
        warmup: warmup.len(),
        corpus,
        seatline,
        peer,
        ratios,
        by_kind,
        target_p99_ms: TARGET_P99_MS,
        target_met,
    })
}

fn corpus_stats(articles: &[Article], queries: &[Query], generate_s: f64) -> CorpusStats {
    let count = |lang: Lang| articles.iter().filter(|a| a.lang == lang).count();
    let body_chars: Vec<usize> = articles.iter().map(|a| a.body.chars().count()).collect();
    CorpusStats {
        articles: articles.len(),
        zh_cn: count(Lang::ZhCn),
        zh_tw: count(Lang::ZhTw),
        en: count(Lang::En),
        chars: articles
            .iter()
            .map(|a| a.title.chars().count())
            .sum::<usize>()
            + body_chars.iter().sum::<usize>(),
        body_chars_min: body_chars.iter().copied().min().unwrap_or(0),
        body_chars_max: body_chars.iter().copied().max().unwrap_or(0),
        generate_s,
        queries_by_kind: QueryKind::ALL
            .iter()
            .map(|&k| (k, queries.iter().filter(|q| q.kind == k).count()))
            .collect(),
    }
}

fn mib(kib: Option<u64>) -> String {
    match kib {
        Some(k) => format!("{:.0} MiB", k as f64 / 1024.0),
        None => "n/a".into(),
    }
}

fn delta_mib(kib: Option<u64>, base: Option<u64>) -> String {
    match (kib, base) {
        (Some(k), Some(b)) => format!("{:+.0} MiB", (k as f64 - b as f64) / 1024.0),
        _ => "n/a".into(),
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}")).unwrap_or_else(|| "—".into())
}

fn fmt_secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{s:.1} s")
    }
}

fn fmt_size(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The report as a table for people.
pub fn render_table(r: &Report) -> String {
    use std::fmt::Write as _;
    let s = &r.seatline;
    let p = &r.peer;
    let c = &r.corpus;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Knowledge-base benchmark: {} articles (zh-CN {}, zh-TW {}, en {}; {:.1} M characters, bodies {}–{} chars), {} queries (+{} warm-up), seed {}",
        c.articles, c.zh_cn, c.zh_tw, c.en, c.chars as f64 / 1e6, c.body_chars_min, c.body_chars_max,
        s.latency.count, r.warmup, r.seed
    );
    let _ = writeln!(
        out,
        "Machine: {} CPU(s){}; single-threaded queries, limit {LIMIT}, hits with snippets",
        r.machine.cpus,
        r.machine
            .cpu_model
            .as_deref()
            .map(|m| format!(", {m}"))
            .unwrap_or_default()
    );
    let _ = writeln!(out);
    let row = |out: &mut String, label: &str, a: String, b: String, ratio: String| {
        let _ = writeln!(out, "{label:<30} {a:>16} {b:>16} {ratio:>14}");
    };
    row(
        &mut out,
        "",
        "Seatline".into(),
        "FTS5 peer".into(),
        "Seatline/peer".into(),
    );
    row(
        &mut out,
        "index build",
        fmt_secs(s.build_s),
        fmt_secs(p.build_s),
        fmt_ratio(r.ratios.build),
    );
    row(
        &mut out,
        "index size on disk",
        fmt_size(s.size_bytes),
        fmt_size(p.size_bytes),
        fmt_ratio(r.ratios.size),
    );
    row(
        &mut out,
        "open built index (app start)",
        fmt_secs(s.open_s),
        fmt_secs(p.open_s),
        fmt_ratio(ratio(s.open_s, p.open_s)),
    );
    let ms = |v: f64| format!("{v:.2} ms");
    let ms_row = |out: &mut String, label: &str, a: f64, b: f64| {
        row(out, label, ms(a), ms(b), fmt_ratio(ratio(a, b)));
    };
    let (su, pu) = (&s.update_one, &p.update_one);
    let change = format!("change 1 article p50 (of {UPDATES})");
    ms_row(&mut out, &change, su.p50_ms, pu.p50_ms);
    ms_row(&mut out, "change 1 article max", su.max_ms, pu.max_ms);
    let (sl, pl) = (&s.latency, &p.latency);
    ms_row(&mut out, "query p50", sl.p50_ms, pl.p50_ms);
    ms_row(&mut out, "query p95", sl.p95_ms, pl.p95_ms);
    ms_row(&mut out, "query p99", sl.p99_ms, pl.p99_ms);
    ms_row(&mut out, "query max", sl.max_ms, pl.max_ms);
    ms_row(&mut out, "query mean", sl.mean_ms, pl.mean_ms);
    let pct = |v: f64| format!("{:.1} %", v * 100.0);
    row(
        &mut out,
        "zero-result rate",
        pct(s.zero_result_rate),
        pct(p.zero_result_rate),
        String::new(),
    );
    row(
        &mut out,
        "mean hits per query",
        format!("{:.1}", s.mean_hits),
        format!("{:.1}", p.mean_hits),
        String::new(),
    );
    let (sm, pm) = (&s.memory, &p.memory);
    row(
        &mut out,
        "RSS before build",
        mib(sm.before_build.rss_kib),
        mib(pm.before_build.rss_kib),
        String::new(),
    );
    row(
        &mut out,
        "peak RSS during build",
        delta_mib(sm.after_build.peak_kib, sm.before_build.rss_kib),
        delta_mib(pm.after_build.peak_kib, pm.before_build.rss_kib),
        String::new(),
    );
    row(
        &mut out,
        "RSS after build",
        delta_mib(sm.after_build.rss_kib, sm.before_build.rss_kib),
        delta_mib(pm.after_build.rss_kib, pm.before_build.rss_kib),
        String::new(),
    );
    row(
        &mut out,
        "  of which heap (RssAnon)",
        delta_mib(sm.after_build.anon_kib, sm.before_build.anon_kib),
        delta_mib(pm.after_build.anon_kib, pm.before_build.anon_kib),
        String::new(),
    );
    row(
        &mut out,
        "peak RSS during queries",
        delta_mib(sm.after_queries.peak_kib, sm.before_build.rss_kib),
        delta_mib(pm.after_queries.peak_kib, pm.before_build.rss_kib),
        String::new(),
    );
    row(
        &mut out,
        "RSS after queries",
        delta_mib(sm.after_queries.rss_kib, sm.before_build.rss_kib),
        delta_mib(pm.after_queries.rss_kib, pm.before_build.rss_kib),
        String::new(),
    );
    let _ = writeln!(
        out,
        "(memory rows are changes from each engine's \"RSS before build\", which already holds the generated articles{}; process peak RSS (VmHWM) {})",
        if sm.after_build.peak_kib.is_some() && !sm.peak_reset { "; peaks could NOT be reset between phases, so they include earlier phases" } else { "" },
        mib([sm.after_build, sm.after_queries, pm.after_build, pm.after_queries].iter().filter_map(|m| m.peak_kib).max())
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<12} {:>6} {:>14} {:>14} {:>14} {:>14}",
        "query kind", "count", "Seatline p99", "peer p99", "Seatline zero", "peer zero"
    );
    for k in &r.by_kind {
        let _ = writeln!(
            out,
            "{:<12} {:>6} {:>14} {:>14} {:>14} {:>14}",
            k.kind.name(),
            k.count,
            ms(k.seatline.p99_ms),
            ms(k.peer.p99_ms),
            pct(k.seatline_zero_rate),
            pct(k.peer_zero_rate)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Target: Seatline query p99 ≤ {:.0} ms: {} ({:.2} ms)",
        r.target_p99_ms,
        if r.target_met { "PASS" } else { "MISS" },
        s.latency.p99_ms
    );
    out
}
