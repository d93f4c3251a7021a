//! The Tantivy index: build (whole, then swap), open, and search.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use jieba_rs::Jieba;
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, EnableScoring, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TantivyDocument, TextFieldIndexing, TextOptions, Value,
    STORED, STRING,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocAddress, DocId, DocSet, Index, IndexReader, ReloadPolicy, Searcher, SeekDangerResult, Term,
    TERMINATED,
};

use crate::analyzer::{
    analyze, build_jieba, build_text_analyzer, default_cut_words, dictionary_words, fold, is_han,
    QueryToken, ANALYZER_NAME,
};
use crate::article::{read_markdown_dir, Article, ImportReport, Lang, SkippedFile};
use crate::snippet::snippet;
use crate::synonyms::{SynonymError, SynonymTable};
use crate::vocab::Vocabulary;
use crate::{Error, Result};

const CURRENT_FILE: &str = "CURRENT";
const USER_WORDS_FILE: &str = "user_words.txt";
/// Editors' synonym rules: read from the imported folder, kept beside the index.
const SYNONYMS_FILE: &str = "synonyms.txt";
const GENERATION_PREFIX: &str = "gen-";
const WRITER_MEMORY: usize = 50_000_000;
/// Writer heap for a few changed articles (tantivy's minimum is 15 MB).
const UPDATE_WRITER_MEMORY: usize = 15_000_000;

/// Tunable ranking knobs. Tune them against the labeled query set, not by intuition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchConfig {
    /// Weight of title matches.
    pub title_boost: f32,
    /// Weight of body matches.
    pub body_boost: f32,
    /// Weight of the phrase clause (several query tokens in order); 0 disables it.
    pub phrase_boost: f32,
    /// Positions allowed between phrase tokens.
    pub phrase_slop: u32,
    /// Weight of completions of the last, possibly unfinished, token; 0 disables.
    pub prefix_boost: f32,
    /// How many index terms a prefix may expand to.
    pub max_prefix_expansions: usize,
    /// Weight of pinyin homophone replacements; 0 disables.
    pub homophone_boost: f32,
    /// Homophones added per unknown query word.
    pub max_homophones: usize,
    /// Weight of synonym and paraphrase expansions; 0 disables.
    pub synonym_boost: f32,
    /// Snippet length in characters of the original text.
    pub snippet_chars: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            title_boost: 1.0,
            body_boost: 1.0,
            phrase_boost: 1.0,
            phrase_slop: 1,
            prefix_boost: 0.3,
            max_prefix_expansions: 8,
            homophone_boost: 0.8,
            max_homophones: 2,
            synonym_boost: 0.6,
            snippet_chars: 90,
        }
    }
}

/// Options for opening or creating an index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexOptions {
    /// Domain words (product and plan names) added to the jieba dictionary for the next build.
    /// An opened index keeps the words it was built with until it is rebuilt.
    pub user_words: Vec<String>,
    /// Ranking knobs.
    pub config: SearchConfig,
    /// Synonym rules added to the built-in table (format in [`crate::synonyms`]).
    pub synonyms: String,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Article id.
    pub id: String,
    /// Original title.
    pub title: String,
    /// Relevance score (higher is better; only comparable within one query).
    pub score: f32,
    /// HTML: matched words in `<mark>`…`</mark>`, everything else escaped.
    pub snippet: String,
    /// Set when this article is a near-copy of the better-ranked hit with this id (it then
    /// follows that hit directly; the UI folds it under it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

/// Restricts a search (all parts optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchFilter {
    /// Articles carrying at least one of these tags (exact tag text).
    pub tags: Vec<String>,
    /// Articles in this language.
    pub lang: Option<Lang>,
}

/// What a query was turned into (for debugging and tests).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryPlan {
    /// Analyzed query terms (stop words removed unless nothing else is left).
    pub terms: Vec<String>,
    /// Whether a phrase clause was added.
    pub phrase: bool,
    /// Completions of the last token.
    pub completions: Vec<String>,
    /// (unknown query word, index word with the same pinyin).
    pub homophones: Vec<(String, String)>,
    /// (query expression, index term it was expanded to by the synonym table).
    pub synonyms: Vec<(String, String)>,
    /// Multi-word expansions, matched as phrases (客户服务中心 must not add 客户 alone).
    pub synonym_phrases: Vec<Vec<String>>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    body: Field,
    tags: Field,
    lang: Field,
}

fn article_document(fields: &Fields, a: &Article) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.id, &a.id);
    doc.add_text(fields.title, &a.title);
    doc.add_text(fields.body, &a.body);
    for tag in &a.tags {
        doc.add_text(fields.tags, tag);
    }
    doc.add_text(fields.lang, a.lang.as_str());
    doc
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        title: builder.add_text_field("title", text.clone()),
        body: builder.add_text_field("body", text),
        tags: builder.add_text_field("tags", STRING | STORED),
        lang: builder.add_text_field("lang", STRING | STORED),
    };
    (builder.build(), fields)
}

/// One built index with the analyzer it was built with. Changed in place only by
/// [`KbIndex::apply_changes`], which swaps in a new `Generation` over the same index.
struct Generation {
    index: Index,
    /// Names this build: the directory name, or `ram-N` in memory. Kept by incremental
    /// changes, new for every whole build (so a mirror can tell its index was replaced).
    build_id: String,
    reader: IndexReader,
    fields: Fields,
    jieba: Arc<Jieba>,
    analyzer: TextAnalyzer,
    vocab: Vocabulary,
    /// Directory of this generation (None in RAM).
    path: Option<PathBuf>,
    num_docs: u64,
}

enum Storage {
    Ram,
    Dir(PathBuf),
}

/// A knowledge-base index. Searches may run concurrently with a rebuild; the rebuilt index
/// replaces the old one only once it is complete.
pub struct KbIndex {
    storage: Storage,
    user_words: RwLock<Vec<String>>,
    config: RwLock<SearchConfig>,
    current: RwLock<Arc<Generation>>,
    /// Synonym rules from the app's options (kept to combine with an imported file).
    option_synonyms: String,
    /// Built-in + option + imported synonym rules.
    synonyms: RwLock<Arc<SynonymTable>>,
    /// Serialises rebuilds, so one rebuild never removes the directory another is writing.
    build_lock: Mutex<()>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An id given twice would leave one of its articles unfindable by id: refused whole.
fn check_unique_ids(articles: &[Article]) -> Result<()> {
    let mut seen = HashSet::new();
    match articles.iter().find(|a| !seen.insert(a.id.as_str())) {
        Some(a) => Err(Error::DuplicateId(a.id.clone())),
        None => Ok(()),
    }
}

static GENERATION_COUNTER: AtomicU64 = AtomicU64::new(0);

fn new_generation_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let n = GENERATION_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{GENERATION_PREFIX}{millis}-{}-{n}", std::process::id())
}

fn build_vocab(reader: &IndexReader, fields: &Fields) -> Result<Vocabulary> {
    let searcher = reader.searcher();
    let mut per_field: Vec<HashMap<String, u32>> = Vec::new();
    for field in [fields.title, fields.body] {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(field)?;
            let alive = segment.alive_bitset();
            let mut stream = inverted
                .terms()
                .stream()
                .map_err(tantivy::TantivyError::from)?;
            while stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                let info = stream.value();
                // A deleted article's words stay in its segment's term dictionary until the
                // segment merges: count live articles only, so completions and corrections
                // never offer a word no article has any more.
                let doc_freq = match alive {
                    // More articles have it than were deleted: some live one does.
                    Some(_) if info.doc_freq > segment.num_deleted_docs() => info.doc_freq,
                    None => info.doc_freq,
                    Some(alive) => inverted
                        .read_postings_from_terminfo(
                            info,
                            tantivy::schema::IndexRecordOption::Basic,
                        )
                        .map_err(tantivy::TantivyError::from)?
                        .doc_freq_given_deletes(alive),
                };
                if doc_freq > 0 {
                    *counts.entry(term.to_string()).or_insert(0) += doc_freq;
                }
            }
        }
        per_field.push(counts);
    }
    Ok(Vocabulary::from_terms(per_field.into_iter().flatten()))
}

fn open_generation(
    index: Index,
    user_words: &[String],
    path: Option<PathBuf>,
) -> Result<Generation> {
    let jieba = Arc::new(build_jieba(user_words));
    let analyzer = build_text_analyzer(jieba.clone());
    index.tokenizers().register(ANALYZER_NAME, analyzer.clone());
    let (_, fields) = schema();
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let vocab = build_vocab(&reader, &fields)?;
    let num_docs = reader.searcher().num_docs();
    let build_id = match path.as_ref().and_then(|p| p.file_name()) {
        Some(name) => name.to_string_lossy().into_owned(),
        None => format!("ram-{}", GENERATION_COUNTER.fetch_add(1, Ordering::Relaxed)),
    };
    Ok(Generation {
        index,
        build_id,
        reader,
        fields,
        jieba,
        analyzer,
        vocab,
        path,
        num_docs,
    })
}

fn log_synonym_errors(source: &str, errors: &[SynonymError]) {
    for e in errors {
        tracing::warn!(source, error = %e, "kb: synonym rule ignored");
    }
}

/// A text file's contents, or None when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn read_user_words(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(USER_WORDS_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Query stop words (folded forms): question words and particles that every article contains.
const STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "是",
    "我",
    "我们",
    "你",
    "您",
    "他",
    "她",
    "它",
    "怎么",
    "怎么办",
    "怎样",
    "如何",
    "什么",
    "为什么",
    "哪里",
    "哪些",
    "请问",
    "可以",
    "能",
    "能否",
    "要",
    "在",
    "和",
    "与",
    "及",
    "或",
    "把",
    "被",
    "给",
    "让",
    "一下",
    "这",
    "那",
    "这个",
    "那个",
    "就",
    "都",
    "也",
    "还",
    "会",
    "a",
    "an",
    "the",
    "how",
    "do",
    "doe",
    "does",
    "i",
    "to",
    "of",
    "is",
    "are",
    "what",
    "can",
    "my",
    "your",
    "for",
    "in",
    "on",
    "and",
    "or",
    "be",
    "it",
    "this",
    "that",
    "with",
    "when",
    "should",
    "we",
];

fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

impl KbIndex {
    /// An empty index kept in memory (tests, previews).
    pub fn in_memory(options: IndexOptions) -> Result<Self> {
        let (table, errors) = SynonymTable::with_built_in(&options.synonyms);
        log_synonym_errors("options", &errors);
        let kb = KbIndex {
            storage: Storage::Ram,
            user_words: RwLock::new(options.user_words),
            config: RwLock::new(options.config),
            current: RwLock::new(Arc::new(Self::empty_ram_generation()?)),
            option_synonyms: options.synonyms,
            synonyms: RwLock::new(Arc::new(table)),
            build_lock: Mutex::new(()),
        };
        Ok(kb)
    }

    fn empty_ram_generation() -> Result<Generation> {
        let (schema, _) = schema();
        open_generation(Index::create_in_ram(schema), &[], None)
    }

    /// Opens the index kept under `root`, or creates an empty one. `root` holds one
    /// sub-directory per built generation and a `CURRENT` file naming the live one.
    pub fn open_or_create(root: &Path, options: IndexOptions) -> Result<Self> {
        fs::create_dir_all(root).map_err(io_err(root))?;
        let current_file = root.join(CURRENT_FILE);
        let generation = match fs::read_to_string(&current_file) {
            Ok(name) => {
                let name = name.trim();
                if !name.starts_with(GENERATION_PREFIX) || name.contains(['/', '\\']) {
                    return Err(Error::BadIndexDir {
                        path: root.to_path_buf(),
                        reason: format!("CURRENT names `{name}`"),
                    });
                }
                let dir = root.join(name);
                let index = Index::open_in_dir(&dir)?;
                let words = read_user_words(&dir)?;
                open_generation(index, &words, Some(dir))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::build_generation(&Storage::Dir(root.to_path_buf()), &options.user_words, &[])?
            }
            Err(e) => return Err(io_err(&current_file)(e)),
        };
        let imported = read_optional(&root.join(SYNONYMS_FILE))?.unwrap_or_default();
        let (table, errors) =
            SynonymTable::with_built_in(&format!("{}\n{imported}", options.synonyms));
        log_synonym_errors("index", &errors);
        let kb = KbIndex {
            storage: Storage::Dir(root.to_path_buf()),
            user_words: RwLock::new(options.user_words),
            config: RwLock::new(options.config),
            current: RwLock::new(Arc::new(generation)),
            option_synonyms: options.synonyms,
            synonyms: RwLock::new(Arc::new(table)),
            build_lock: Mutex::new(()),
        };
        if matches!(kb.storage, Storage::Dir(_)) && !current_file.exists() {
            kb.publish()?;
        }
        kb.remove_stale_generations();
        Ok(kb)
    }

    /// Current ranking knobs.
    pub fn config(&self) -> SearchConfig {
        self.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Replaces the ranking knobs (takes effect on the next search).
    pub fn set_config(&self, config: SearchConfig) -> Result<()> {
        *self.config.write().map_err(|_| Error::Poisoned)? = config;
        Ok(())
    }

    /// Replaces the editors' synonym rules (on top of the built-in table and the options'
    /// rules); kept beside a directory index so they survive a restart. Bad lines are
    /// returned and ignored.
    pub fn set_synonyms(&self, rules: &str) -> Result<Vec<SynonymError>> {
        // Line numbers in errors refer to `rules` alone.
        let (base, _) = SynonymTable::with_built_in(&self.option_synonyms);
        let (own, errors) = SynonymTable::parse(rules);
        let table = base.merged(own);
        if let Storage::Dir(root) = &self.storage {
            let tmp = root.join(format!("{SYNONYMS_FILE}.tmp"));
            fs::write(&tmp, rules).map_err(io_err(&tmp))?;
            let path = root.join(SYNONYMS_FILE);
            fs::rename(&tmp, &path).map_err(io_err(&path))?;
        }
        *self.synonyms.write().map_err(|_| Error::Poisoned)? = Arc::new(table);
        Ok(errors)
    }

    /// Number of synonym rules in force (built-in ones included).
    pub fn synonym_rules(&self) -> usize {
        self.synonyms.read().map(|t| t.len()).unwrap_or(0)
    }

    /// Sets the jieba user dictionary used by the next rebuild.
    pub fn set_user_words(&self, words: Vec<String>) -> Result<()> {
        *self.user_words.write().map_err(|_| Error::Poisoned)? = words;
        Ok(())
    }

    /// Number of articles in the live index.
    pub fn num_docs(&self) -> u64 {
        self.current.read().map(|g| g.num_docs).unwrap_or(0)
    }

    /// Number of distinct terms in the live index.
    pub fn vocabulary_size(&self) -> usize {
        self.current.read().map(|g| g.vocab.len()).unwrap_or(0)
    }

    fn build_generation(
        storage: &Storage,
        user_words: &[String],
        articles: &[Article],
    ) -> Result<Generation> {
        let user_words = &dictionary_words(user_words);
        check_unique_ids(articles)?;
        let (schema, fields) = schema();
        let (index, path) = match storage {
            Storage::Ram => (Index::create_in_ram(schema), None),
            Storage::Dir(root) => {
                let dir = root.join(new_generation_name());
                fs::create_dir_all(&dir).map_err(io_err(&dir))?;
                let words = user_words.join("\n");
                let words_path = dir.join(USER_WORDS_FILE);
                fs::write(&words_path, words).map_err(io_err(&words_path))?;
                (Index::create_in_dir(&dir, schema)?, Some(dir))
            }
        };
        let jieba = Arc::new(build_jieba(user_words));
        index
            .tokenizers()
            .register(ANALYZER_NAME, build_text_analyzer(jieba));
        let result = (|| -> Result<()> {
            let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, WRITER_MEMORY)?;
            for a in articles {
                writer.add_document(article_document(&fields, a))?;
            }
            writer.commit()?;
            // One segment: each segment is searched on its own (its own top candidates, its
            // own pruning threshold), so a handful of segments costs the tail latency more
            // than the one-off merge costs the build.
            let segments = index.searchable_segment_ids()?;
            if segments.len() > 1 {
                writer.merge(&segments).wait()?;
            }
            writer.wait_merging_threads()?;
            Ok(())
        })();
        if let Err(e) = result {
            if let Some(dir) = &path {
                let _ = fs::remove_dir_all(dir);
            }
            return Err(e);
        }
        open_generation(index, user_words, path)
    }

    /// Writes `CURRENT` atomically to name the live generation.
    fn publish(&self) -> Result<()> {
        let Storage::Dir(root) = &self.storage else {
            return Ok(());
        };
        let generation = self.current.read().map_err(|_| Error::Poisoned)?.clone();
        let Some(name) = generation.path.as_ref().and_then(|p| p.file_name()) else {
            return Ok(());
        };
        let tmp = root.join(format!("{CURRENT_FILE}.tmp"));
        fs::write(&tmp, name.to_string_lossy().as_bytes()).map_err(io_err(&tmp))?;
        let current = root.join(CURRENT_FILE);
        fs::rename(&tmp, &current).map_err(io_err(&current))?;
        Ok(())
    }

    /// Best effort: deletes generation directories other than the live one.
    fn remove_stale_generations(&self) {
        let Storage::Dir(root) = &self.storage else {
            return;
        };
        let live = self.current.read().ok().and_then(|g| {
            g.path
                .as_ref()
                .and_then(|p| p.file_name())
                .map(|n| n.to_os_string())
        });
        let Ok(entries) = fs::read_dir(root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(GENERATION_PREFIX) && Some(&name) != live.as_ref()
            {
                if let Err(e) = fs::remove_dir_all(entry.path()) {
                    tracing::warn!(dir = %entry.path().display(), error = %e, "kb: cannot remove old index generation");
                }
            }
        }
    }

    /// Builds a complete new index from `articles` and swaps it in. On error the live index
    /// is untouched.
    pub fn replace_all(&self, articles: &[Article]) -> Result<()> {
        let _building = self.build_lock.lock().map_err(|_| Error::Poisoned)?;
        let words = self.user_words.read().map_err(|_| Error::Poisoned)?.clone();
        let started = std::time::Instant::now();
        let generation = Self::build_generation(&self.storage, &words, articles)?;
        tracing::info!(
            articles = articles.len(),
            terms = generation.vocab.len(),
            ms = started.elapsed().as_millis() as u64,
            "kb: index built"
        );
        *self.current.write().map_err(|_| Error::Poisoned)? = Arc::new(generation);
        self.publish()?;
        self.remove_stale_generations();
        Ok(())
    }

    /// Changes some articles in place: `upserts` replace the articles with their ids (or are
    /// added), `deletes` are removed; ids in neither keep their article. Far cheaper than
    /// [`replace_all`](Self::replace_all) for a few changes to a large knowledge base; the
    /// change is atomic (a crash leaves the index as before or as after) and searches running
    /// meanwhile see the old articles. Keeps the build's dictionary of user words.
    pub fn apply_changes(&self, upserts: &[Article], deletes: &[String]) -> Result<()> {
        check_unique_ids(upserts)?;
        if upserts.is_empty() && deletes.is_empty() {
            return Ok(());
        }
        let _building = self.build_lock.lock().map_err(|_| Error::Poisoned)?;
        let started = std::time::Instant::now();
        let old = self.current.read().map_err(|_| Error::Poisoned)?.clone();
        let fields = old.fields;
        let mut writer = old
            .index
            .writer_with_num_threads::<TantivyDocument>(1, UPDATE_WRITER_MEMORY)?;
        for id in deletes.iter().chain(upserts.iter().map(|a| &a.id)) {
            writer.delete_term(Term::from_field_text(fields.id, id));
        }
        for a in upserts {
            writer.add_document(article_document(&fields, a))?;
        }
        writer.commit()?;
        // Merges the small segments the merge policy picks (never the large one for a few
        // changes), so a long run of updates does not leave hundreds of segments.
        writer.wait_merging_threads()?;
        // A new reader, not a reload of the old one: searches holding the old generation
        // keep a consistent view (its reader, vocabulary and count).
        let reader: IndexReader = old
            .index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let vocab = build_vocab(&reader, &fields)?;
        let num_docs = reader.searcher().num_docs();
        let generation = Generation {
            index: old.index.clone(),
            build_id: old.build_id.clone(),
            reader,
            fields,
            jieba: old.jieba.clone(),
            analyzer: old.analyzer.clone(),
            vocab,
            path: old.path.clone(),
            num_docs,
        };
        tracing::info!(
            upserts = upserts.len(),
            deletes = deletes.len(),
            articles = num_docs,
            ms = started.elapsed().as_millis() as u64,
            "kb: index changed in place"
        );
        *self.current.write().map_err(|_| Error::Poisoned)? = Arc::new(generation);
        Ok(())
    }

    /// Names the live build: the same after [`apply_changes`](Self::apply_changes), new
    /// after every whole build or import (a mirror that updates the index in place checks
    /// that the index is still the one it built).
    pub fn build_id(&self) -> String {
        self.current
            .read()
            .map(|g| g.build_id.clone())
            .unwrap_or_default()
    }

    /// Imports a folder of Markdown articles: bad files are reported and skipped, and the
    /// whole new index replaces the old one. If no file could be imported the live index is
    /// kept (an import that would empty the knowledge base is almost always a mistake).
    ///
    /// A `synonyms.txt` in the folder replaces the editors' synonym rules; its bad lines are
    /// reported as skipped entries of that file and ignored.
    pub fn import_dir(&self, dir: &Path) -> Result<ImportReport> {
        let (articles, mut report) = read_markdown_dir(dir)?;
        if articles.is_empty() {
            tracing::warn!(dir = %dir.display(), "kb import: nothing importable, index kept");
            return Ok(report);
        }
        self.replace_all(&articles)?;
        if let Some(rules) = read_optional(&dir.join(SYNONYMS_FILE))? {
            for e in self.set_synonyms(&rules)? {
                report.skipped.push(SkippedFile {
                    file: SYNONYMS_FILE.to_string(),
                    reason: format!("{e} (line ignored)"),
                });
            }
        }
        Ok(report)
    }

    fn generation(&self) -> Result<Arc<Generation>> {
        Ok(self.current.read().map_err(|_| Error::Poisoned)?.clone())
    }

    /// How `query` would be searched (terms, phrase, completions, homophones).
    pub fn plan(&self, query: &str) -> Result<QueryPlan> {
        let generation = self.generation()?;
        let config = self.config();
        let synonyms = self.synonyms.read().map_err(|_| Error::Poisoned)?.clone();
        Ok(plan_query(&generation, &config, &synonyms, query).0)
    }

    /// The article with this id, as imported (for the article view).
    pub fn article(&self, id: &str) -> Result<Option<Article>> {
        let generation = self.generation()?;
        let searcher = generation.reader.searcher();
        let fields = &generation.fields;
        let query = TermQuery::new(
            Term::from_field_text(fields.id, id),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        let Some((_, address)) = top.into_iter().next() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |f: Field| stored_text(&doc, f);
        let tags = doc
            .get_all(fields.tags)
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let body = text(fields.body);
        let lang = Lang::parse(&text(fields.lang)).unwrap_or_else(|| Lang::detect(&body));
        Ok(Some(Article {
            id: text(fields.id),
            title: text(fields.title),
            body,
            tags,
            lang,
        }))
    }

    /// The articles carrying `tag` (exact tag text), by title, at most `limit`: what an agent
    /// sees on clicking a tag before typing a query. Snippets are the bodies' beginnings.
    pub fn browse_tag(&self, tag: &str, limit: usize) -> Result<Vec<Hit>> {
        if tag.trim().is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let generation = self.generation()?;
        let config = self.config();
        let searcher = generation.reader.searcher();
        let fields = &generation.fields;
        let query = TermQuery::new(
            Term::from_field_text(fields.tags, tag),
            IndexRecordOption::Basic,
        );
        // All of them in one pass (a tag rarely has thousands), sorted by title below.
        let found = searcher.search(&query, &tantivy::collector::DocSetCollector)?;
        let mut hits = Vec::with_capacity(found.len());
        for address in found {
            let doc: TantivyDocument = searcher.doc(address)?;
            hits.push(Hit {
                id: stored_text(&doc, fields.id),
                title: stored_text(&doc, fields.title),
                score: 0.0,
                snippet: snippet(
                    &stored_text(&doc, fields.body),
                    &HashMap::new(),
                    config.snippet_chars,
                ),
                duplicate_of: None,
            });
        }
        hits.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(limit);
        Ok(hits)
    }

    /// Searches the knowledge base. An empty or whitespace query gives no hits.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        self.search_filtered(query, limit, &SearchFilter::default())
    }

    /// [`KbIndex::search`] restricted by tags and language.
    pub fn search_filtered(
        &self,
        query: &str,
        limit: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<Hit>> {
        if query.trim().is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let generation = self.generation()?;
        let config = self.config();
        let synonyms = self.synonyms.read().map_err(|_| Error::Poisoned)?.clone();
        let (plan, tokens) = plan_query(&generation, &config, &synonyms, query);
        let Some(parts) = build_query(&generation.fields, &config, &plan, &tokens) else {
            return Ok(Vec::new());
        };
        let searcher = generation.reader.searcher();
        let pool = TopDocs::with_limit(limit.max(CANDIDATES)).order_by_score();
        let mut scores: HashMap<DocAddress, f32> = HashMap::new();
        for part in [parts.terms, parts.phrases].into_iter().flatten() {
            let part = apply_filter(&generation.fields, part, filter);
            for (score, address) in searcher.search(&part, &pool)? {
                *scores.entry(address).or_default() += score;
            }
        }
        rescore_phrases(&searcher, &parts.rescore, &mut scores)?;
        let mut top: Vec<(f32, DocAddress)> = scores.into_iter().map(|(a, s)| (s, a)).collect();
        top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        top.truncate(limit);
        // Highlight weights: rarer terms count more; homophones and completions highlight too.
        let mut highlight: HashMap<String, f32> = HashMap::new();
        let all = plan
            .terms
            .iter()
            .chain(plan.completions.iter())
            .chain(plan.homophones.iter().map(|(_, w)| w))
            .chain(plan.synonyms.iter().map(|(_, w)| w));
        for term in all {
            let weight = 1.0 / (1.0 + generation.vocab.doc_freq(term) as f32);
            highlight.insert(term.clone(), weight);
        }
        let mut hits = Vec::with_capacity(top.len());
        let mut bodies = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |f: Field| stored_text(&doc, f);
            let body = text(generation.fields.body);
            let snippet = snippet(&body, &highlight, config.snippet_chars);
            hits.push(Hit {
                id: text(generation.fields.id),
                title: text(generation.fields.title),
                score,
                snippet,
                duplicate_of: None,
            });
            bodies.push(body);
        }
        let texts: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let grouped = crate::dedup::group(&texts);
        let ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
        let mut slots: Vec<Option<Hit>> = hits.into_iter().map(Some).collect();
        let mut ordered = Vec::with_capacity(slots.len());
        for (i, representative) in grouped {
            if let Some(mut hit) = slots.get_mut(i).and_then(Option::take) {
                hit.duplicate_of = representative.and_then(|r| ids.get(r).cloned());
                ordered.push(hit);
            }
        }
        Ok(ordered)
    }
}

fn plan_query(
    generation: &Generation,
    config: &SearchConfig,
    synonyms: &SynonymTable,
    query: &str,
) -> (QueryPlan, Vec<QueryToken>) {
    let (plan, tokens) = plan_query_text(generation, config, synonyms, query);
    // Not when a homophone explains the unknown word (投述 is a mistyped 投诉, not unfinished).
    if plan.completions.is_empty() && plan.homophones.is_empty() && config.prefix_boost > 0.0 {
        if let Some((head, completions)) = split_unfinished_tail(generation, config, query) {
            let (mut plan, tokens) = plan_query_text(generation, config, synonyms, head);
            plan.completions = completions
                .into_iter()
                .filter(|c| !plan.terms.contains(c))
                .collect();
            return (plan, tokens);
        }
    }
    (plan, tokens)
}

/// Typing mid-word, jieba may join the unfinished last character with the one before into a
/// word the index does not hold: 网速冻 (on the way to 网速冻结) is cut 网 / 速冻 (quick-frozen),
/// and nothing completes 速冻. Then the query is split before the shortest tail of that last
/// word that completes to index words (冻 → 冻结), when the head then ends in an index word
/// taking back the character jieba joined (网速): the head is searched as typed and the tail
/// as a prefix.
fn split_unfinished_tail<'q>(
    generation: &Generation,
    config: &SearchConfig,
    query: &'q str,
) -> Option<(&'q str, Vec<String>)> {
    let trimmed = query.trim_end();
    if trimmed.len() != query.len() {
        return None;
    }
    let tokens = analyze(&generation.analyzer, query);
    let last = tokens
        .iter()
        .filter(|t| t.offset_to == query.len())
        .max_by_key(|t| t.offset_to - t.offset_from)?;
    let raw = &query[last.offset_from..last.offset_to];
    if !is_han(raw) || generation.vocab.contains(&last.text) {
        return None;
    }
    // Tails from the longest proper one to the last character alone.
    let starts: Vec<usize> = raw.char_indices().map(|(i, _)| i).skip(1).collect();
    for start in starts {
        let tail = fold(&raw[start..]).text;
        let completions = generation
            .vocab
            .completions(&tail, config.max_prefix_expansions);
        let head = &query[..last.offset_from + start];
        if completions.is_empty() || head.trim().is_empty() {
            continue;
        }
        // Only the mis-join: cut there, the head ends in an index word reaching back over the
        // last word's start (网速). A word that is simply not in the articles (首頁 when no
        // article says it) is not taken apart into 首 and a completion of 頁.
        let head_tokens = analyze(&generation.analyzer, head);
        let rejoined = head_tokens
            .iter()
            .filter(|t| t.offset_to == head.len())
            .max_by_key(|t| t.offset_to - t.offset_from);
        if rejoined
            .is_some_and(|t| t.offset_from < last.offset_from && generation.vocab.contains(&t.text))
        {
            return Some((head, completions));
        }
    }
    None
}

fn plan_query_text(
    generation: &Generation,
    config: &SearchConfig,
    synonyms: &SynonymTable,
    query: &str,
) -> (QueryPlan, Vec<QueryToken>) {
    let tokens = analyze(&generation.analyzer, query);
    let folded_query = fold(query);
    let raw_of = |t: &QueryToken| -> String { query[t.offset_from..t.offset_to].to_lowercase() };
    let content: Vec<&QueryToken> = tokens
        .iter()
        .filter(|t| !is_stop_word(&t.text) && !is_stop_word(&raw_of(t)))
        .collect();
    let content: Vec<&QueryToken> = if content.is_empty() {
        tokens.iter().collect()
    } else {
        content
    };
    let mut terms: Vec<String> = Vec::new();
    for t in &content {
        if !terms.contains(&t.text) {
            terms.push(t.text.clone());
        }
    }
    let mut plan = QueryPlan {
        phrase: config.phrase_boost > 0.0
            && content
                .iter()
                .map(|t| t.position)
                .collect::<HashSet<_>>()
                .len()
                >= 2,
        ..QueryPlan::default()
    };

    // Search-as-you-type: the last token may be unfinished when the query does not end in a
    // space or punctuation.
    let typing = folded_query
        .text
        .chars()
        .last()
        .map(char::is_alphanumeric)
        .unwrap_or(false);
    if typing && config.prefix_boost > 0.0 {
        let end = query.len();
        let last = tokens
            .iter()
            .filter(|t| t.offset_to == end)
            .max_by_key(|t| t.offset_to - t.offset_from);
        if let Some(last) = last {
            let raw = fold(&query[last.offset_from..last.offset_to]).text;
            let long_enough = |p: &str| {
                if is_han(p) {
                    !p.is_empty()
                } else {
                    p.chars().count() >= 2
                }
            };
            let mut completions: Vec<String> = Vec::new();
            for prefix in [last.text.as_str(), raw.as_str()] {
                if !long_enough(prefix) {
                    continue;
                }
                for c in generation
                    .vocab
                    .completions(prefix, config.max_prefix_expansions)
                {
                    if !terms.contains(&c) && !completions.contains(&c) {
                        completions.push(c);
                    }
                }
            }
            completions.truncate(config.max_prefix_expansions);
            plan.completions = completions;
        }
    }

    // IME homophones: unknown words, and runs of single characters that may be a mistyped word.
    if config.homophone_boost > 0.0 && config.max_homophones > 0 {
        let words = default_cut_words(&generation.jieba, query);
        let mut candidates: Vec<String> = Vec::new();
        for i in 0..words.len() {
            for n in 1..=3 {
                let Some(window) = words.get(i..i + n) else {
                    break;
                };
                if !window.iter().all(|w| is_han(w)) {
                    break;
                }
                let joined: String = window.concat();
                let len = joined.chars().count();
                let plausible = if n == 1 {
                    len >= 2
                } else {
                    window.iter().any(|w| w.chars().count() == 1)
                };
                if plausible
                    && !is_stop_word(&joined)
                    && (2..=4).contains(&len)
                    && !generation.vocab.contains(&joined)
                    && !candidates.contains(&joined)
                {
                    candidates.push(joined);
                }
            }
        }
        for candidate in candidates {
            for word in generation
                .vocab
                .homophones(&candidate, config.max_homophones)
            {
                if !terms.contains(&word) {
                    plan.homophones.push((candidate.clone(), word));
                }
            }
        }
    }
    // Paraphrases and synonyms: the agent's words → the articles' words.
    if config.synonym_boost > 0.0 {
        for (matched, expansion) in synonyms.expand(query) {
            let words = whole_words(analyze(&generation.analyzer, &expansion));
            if !words.iter().all(|w| generation.vocab.contains(w)) {
                continue;
            }
            match words.as_slice() {
                [] => {}
                [word] => {
                    let known = terms.contains(word)
                        || plan.synonyms.iter().any(|(_, s)| s == word)
                        || is_stop_word(word);
                    if !known {
                        plan.synonyms.push((matched, word.clone()));
                    }
                }
                _ => {
                    if !plan.synonym_phrases.contains(&words) {
                        plan.synonym_phrases.push(words);
                    }
                }
            }
        }
    }
    plan.terms = terms;
    let content_tokens = content.into_iter().cloned().collect();
    (plan, content_tokens)
}

/// One word per position: the longest token (the whole word rather than its sub-words).
fn whole_words(tokens: Vec<QueryToken>) -> Vec<String> {
    let mut words: Vec<QueryToken> = Vec::new();
    for t in tokens {
        match words.last_mut() {
            Some(last) if last.position == t.position => {
                if t.offset_to - t.offset_from > last.offset_to - last.offset_from {
                    *last = t;
                }
            }
            _ => words.push(t),
        }
    }
    words.into_iter().map(|t| t.text).collect()
}

/// The first stored text value of a field ("" when absent).
fn stored_text(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

/// Wraps `query` so only articles passing `filter` match.
fn apply_filter(fields: &Fields, query: Box<dyn Query>, filter: &SearchFilter) -> Box<dyn Query> {
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !filter.tags.is_empty() {
        let any_tag: Vec<(Occur, Box<dyn Query>)> = filter
            .tags
            .iter()
            .map(|tag| {
                let term = Term::from_field_text(fields.tags, tag);
                let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::Basic));
                (Occur::Should, q)
            })
            .collect();
        must.push((Occur::Must, Box::new(BooleanQuery::new(any_tag))));
    }
    if let Some(lang) = filter.lang {
        let term = Term::from_field_text(fields.lang, lang.as_str());
        must.push((
            Occur::Must,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ));
    }
    if must.is_empty() {
        return query;
    }
    // The filters only restrict; the score comes from the query alone.
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = must
        .into_iter()
        .map(|(o, q)| (o, Box::new(BoostQuery::new(q, 0.0)) as Box<dyn Query>))
        .collect();
    clauses.push((Occur::Must, query));
    Box::new(BooleanQuery::new(clauses))
}

fn term_clause(field: Field, text: &str, boost: f32) -> (Occur, Box<dyn Query>) {
    let term = Term::from_field_text(field, text);
    let query = TermQuery::new(term, IndexRecordOption::WithFreqs);
    (
        Occur::Should,
        Box::new(BoostQuery::new(Box::new(query), boost)),
    )
}

/// A search in parts. Term clauses alone let Tantivy prune with block-max WAND (it skips
/// most of the postings of common words like 客户); one phrase clause in the same boolean query
/// turns that off and scores every document containing any query word — at 100,000 articles
/// that was most of the query time. So synonym phrases (which may find articles sharing no
/// word with the query) are searched on their own and their scores added, and the query's own
/// phrase only re-scores the candidates already found: an article holding the phrase holds
/// every query word, so the term part ranks it among its candidates anyway.
struct SearchParts {
    terms: Option<Box<dyn Query>>,
    phrases: Option<Box<dyn Query>>,
    /// (phrase, boost) added to candidates that contain it.
    rescore: Vec<(PhraseQuery, f32)>,
}

/// Adds each phrase's score to the candidates that contain it, visiting only the candidates'
/// positions (never the whole postings of the phrase's words).
fn rescore_phrases(
    searcher: &Searcher,
    phrases: &[(PhraseQuery, f32)],
    scores: &mut HashMap<DocAddress, f32>,
) -> Result<()> {
    if phrases.is_empty() || scores.is_empty() {
        return Ok(());
    }
    let mut by_segment: BTreeMap<u32, Vec<DocId>> = BTreeMap::new();
    for address in scores.keys() {
        by_segment
            .entry(address.segment_ord)
            .or_default()
            .push(address.doc_id);
    }
    for docs in by_segment.values_mut() {
        docs.sort_unstable();
    }
    for (phrase, boost) in phrases {
        let weight = phrase.weight(EnableScoring::enabled_from_searcher(searcher))?;
        for (&segment_ord, docs) in &by_segment {
            let Some((&first, rest)) = docs.split_first() else {
                continue;
            };
            let reader = searcher.segment_reader(segment_ord);
            // `seek_danger` checks one document without scanning ahead to the next match; on
            // a miss it tells how far the next possible match is, and targets must not go back.
            let (mut found, mut scorer) = weight.scorer_danger(reader, first, *boost)?;
            let mut lower_bound = 0;
            for &doc in std::iter::once(&first).chain(rest) {
                if doc != first {
                    if doc < lower_bound {
                        continue;
                    }
                    found = scorer.seek_danger(doc);
                }
                match found {
                    SeekDangerResult::Found => {
                        let address = DocAddress::new(segment_ord, doc);
                        *scores.entry(address).or_default() += scorer.score();
                    }
                    SeekDangerResult::SeekLowerBound(bound) => {
                        if bound == TERMINATED {
                            break;
                        }
                        lower_bound = bound;
                    }
                }
            }
        }
    }
    Ok(())
}

fn build_query(
    fields: &Fields,
    config: &SearchConfig,
    plan: &QueryPlan,
    tokens: &[QueryToken],
) -> Option<SearchParts> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut phrases: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut rescore: Vec<(PhraseQuery, f32)> = Vec::new();
    let field_boosts = [
        (fields.title, config.title_boost),
        (fields.body, config.body_boost),
    ];
    for (field, boost) in field_boosts {
        if boost <= 0.0 {
            continue;
        }
        for t in &plan.terms {
            clauses.push(term_clause(field, t, boost));
        }
        for c in &plan.completions {
            clauses.push(term_clause(field, c, boost * config.prefix_boost));
        }
        for (_, h) in &plan.homophones {
            clauses.push(term_clause(field, h, boost * config.homophone_boost));
        }
        for (_, s) in &plan.synonyms {
            clauses.push(term_clause(field, s, boost * config.synonym_boost));
        }
        for words in &plan.synonym_phrases {
            let terms: Vec<Term> = words
                .iter()
                .map(|w| Term::from_field_text(field, w))
                .collect();
            let phrase = PhraseQuery::new(terms);
            let boost = boost * config.synonym_boost;
            // An expansion sharing a word with the query (账单 → 对账单) finds nothing the term
            // part has not found; it only ranks its candidates.
            if words.iter().any(|w| plan.terms.contains(w)) {
                rescore.push((phrase, boost));
            } else {
                phrases.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(phrase), boost)),
                ));
            }
        }
        if plan.phrase {
            // One token per position: the whole word, not its sub-words.
            let mut words: Vec<&QueryToken> = Vec::new();
            for t in tokens {
                match words.last_mut() {
                    Some(last) if last.position == t.position => {
                        if t.offset_to - t.offset_from > last.offset_to - last.offset_from {
                            *last = t;
                        }
                    }
                    _ => words.push(t),
                }
            }
            if words.len() >= 2 {
                let min_pos = words[0].position;
                let phrase_terms: Vec<(usize, Term)> = words
                    .iter()
                    .map(|t| (t.position - min_pos, Term::from_field_text(field, &t.text)))
                    .collect();
                let phrase =
                    PhraseQuery::new_with_offset_and_slop(phrase_terms, config.phrase_slop);
                rescore.push((phrase, boost * config.phrase_boost));
            }
        }
    }
    let boolean = |clauses: Vec<(Occur, Box<dyn Query>)>| -> Option<Box<dyn Query>> {
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    };
    let parts = SearchParts {
        terms: boolean(clauses),
        phrases: boolean(phrases),
        rescore,
    };
    (parts.terms.is_some() || parts.phrases.is_some()).then_some(parts)
}

/// Candidates taken from each part before their scores are added, and the window the query's
/// phrase re-scores: a document ranked low on words but high on the phrase makes the page if
/// fewer than this many rank above it on words alone. A deeper pool lowers block-max WAND's
/// pruning threshold: at 100,000 articles p99 was 3.3 ms at 100 and 3.6 ms at 200 (in memory,
/// profile test), and on a slower machine about 4–5 ms at 50 and 100 but 5.9 ms at 200 (the
/// bench's index, noise about ±0.5 ms); both labeled sets rank the same with 100 and 200.
const CANDIDATES: usize = 100;
