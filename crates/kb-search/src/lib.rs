//! Offline knowledge-base search for the Seatline agent desktop.
//!
//! * [`read_markdown_dir`] / [`KbIndex::import_dir`]: a folder of Markdown articles
//!   (`# Title`, blank line, body; optional `---` front matter with `tags:` and `lang:`).
//! * [`KbIndex`]: a Tantivy index (in a directory or in RAM) with an analyzer that folds
//!   traditional → simplified Chinese, segments with jieba (search mode), lowercases and stems
//!   English. Rebuilds are built whole and then swapped in.
//! * [`KbIndex::search`]: boolean OR of analyzer tokens over title and body with per-field
//!   boosts, a phrase boost, prefix completion of the last token (search-as-you-type), and IME
//!   homophone correction through pinyin; snippets are HTML with `<mark>` highlights.
//! * [`relevance`]: nDCG@10, MRR@10 and zero-result rate over a labeled query set.

pub mod analyzer;
pub mod article;
pub mod dedup;
pub mod index;
pub mod relevance;
pub mod snippet;
pub mod suggest;
pub mod synonyms;
pub mod vocab;

use std::path::PathBuf;

pub use article::{
    parse_article, parse_html, parse_json, read_article_dir, read_markdown_dir, Article,
    ImportReport, Lang, ParseError, SkippedFile,
};
pub use index::{Hit, IndexOptions, KbIndex, QueryPlan, SearchConfig, SearchFilter};
pub use suggest::{suggest, CallContext, OpenOrder, Suggestion};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read or written.
    #[error("I/O error at {path}: {source}")]
    Io {
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Tantivy failed.
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// Two articles share an id.
    #[error("duplicate article id `{0}`")]
    DuplicateId(String),
    /// The index directory is not in the expected layout.
    #[error("index directory {path} is not usable: {reason}")]
    BadIndexDir {
        /// Root of the index.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A lock was poisoned by a panic in another thread.
    #[error("index lock poisoned")]
    Poisoned,
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
