//! The center's knowledge base on this desktop: the articles the server distributes
//! (`GET /api/v1/kb/changes`), mirrored in `kb-server.db` and searched offline through the
//! local index (crates/kb-search). The mirror pulls the changes after the revision it holds,
//! one page per transaction, so an interrupted pull resumes where it stopped; the index is
//! rebuilt from the mirror when the mirror is ahead of it (also after a crash between the two).
//!
//! Once the center has published articles, they are this desk's knowledge base: a folder
//! imported locally (`seatline kb import`, the demo) is replaced at the next pull. A center that
//! publishes nothing leaves the local index alone. Publishing (`seatline kb publish`) is here
//! too: the server checks that the user may.

use std::path::Path;
use std::sync::Arc;

use seatline_kb_search::{Article, KbIndex, Lang};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::server_api::{send_json, ApiFailure};

/// The mirror's file in the data directory.
pub const MIRROR_FILE: &str = "kb-server.db";
/// Articles per pull page and per publish request (the server's limit is 500).
pub const PAGE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum KbSyncError {
    #[error("the knowledge-base mirror failed: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("cannot reach the server for the knowledge base: {0}")]
    Network(String),
    #[error("the server refused the knowledge-base request ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("the server's knowledge-base answer cannot be read: {0}")]
    Unreadable(String),
    #[error("the knowledge-base index failed: {0}")]
    Index(#[from] seatline_kb_search::Error),
    #[error("the index rebuild stopped: {0}")]
    Join(String),
}

impl From<ApiFailure> for KbSyncError {
    fn from(failure: ApiFailure) -> Self {
        match failure {
            ApiFailure::Unreachable(e) => Self::Network(e),
            ApiFailure::Refused { status, message } => Self::Server { status, message },
            ApiFailure::Unreadable(e) => Self::Unreadable(e),
        }
    }
}

/// Why an edit of the center's knowledge base did not land.
#[derive(Debug, thiserror::Error)]
pub enum KbEditError {
    #[error(transparent)]
    Sync(#[from] KbSyncError),
    #[error("someone else changed the article since you opened it (the center holds revision {held} now): reload it and apply your change again")]
    Conflict { held: i64 },
    #[error("someone else deleted the article since you opened it: save it as a new article to keep your text")]
    Deleted,
    #[error("the article cannot be saved: {0}")]
    Invalid(String),
}

impl KbEditError {
    /// A stable code for the UI: `conflict` (reload), `invalid` (correct the form),
    /// `forbidden` (agents may not edit), `unreachable` (try again), `storage`, `server`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Conflict { .. } | Self::Deleted => "conflict",
            Self::Invalid(_)
            | Self::Sync(KbSyncError::Server {
                status: 400 | 413 | 422,
                ..
            }) => "invalid",
            Self::Sync(KbSyncError::Server {
                status: 401 | 403, ..
            }) => "forbidden",
            Self::Sync(KbSyncError::Network(_)) => "unreachable",
            Self::Sync(KbSyncError::Storage(_) | KbSyncError::Index(_) | KbSyncError::Join(_)) => {
                "storage"
            }
            Self::Sync(KbSyncError::Server { .. } | KbSyncError::Unreadable(_)) => "server",
        }
    }
}

/// The languages the center's knowledge base takes (the server's list).
pub const EDIT_LANGS: &[&str] = &["zh-CN", "zh-TW", "en"];

/// What the desk checks before a save goes out: the rest is the server's to refuse.
pub fn check_edit(edit: &EditableArticle) -> Result<(), KbEditError> {
    let title = edit.title.trim();
    if title.is_empty() {
        return Err(KbEditError::Invalid("the title is empty".into()));
    }
    if title.contains(['\n', '\r']) {
        return Err(KbEditError::Invalid("the title must be one line".into()));
    }
    if edit.body.trim().is_empty() {
        return Err(KbEditError::Invalid("the article has no text".into()));
    }
    if !EDIT_LANGS.contains(&edit.lang.as_str()) {
        return Err(KbEditError::Invalid(format!(
            "language {:?} is not one of {}",
            edit.lang,
            EDIT_LANGS.join(", ")
        )));
    }
    if edit.revision < 0 {
        return Err(KbEditError::Invalid("the base revision is negative".into()));
    }
    Ok(())
}

/// One article change as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServerArticle {
    pub id: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub lang: String,
    pub revision: i64,
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Deserialize)]
struct ChangesPage {
    articles: Vec<ServerArticle>,
    next_since: i64,
    has_more: bool,
}

/// What one pull did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KbPullReport {
    /// Changes taken from the server.
    pub changes: usize,
    /// The server revision the mirror holds now.
    pub revision: i64,
    /// Live articles in the mirror.
    pub articles: u64,
    /// Whether the search index was updated from the mirror.
    pub reindexed: bool,
    /// Whether that update changed the index in place (only the changed articles) rather
    /// than rebuilding it whole.
    pub in_place: bool,
}

/// A refused article of a publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub id: String,
    pub reason: String,
}

/// What a publish did, summed over its requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishReport {
    pub stored: Vec<String>,
    pub unchanged: Vec<String>,
    pub deleted: Vec<String>,
    pub rejected: Vec<Rejected>,
    /// Edits refused because the article changed since it was loaded (a server before
    /// conflict checks sends none).
    #[serde(default)]
    pub conflicts: Vec<KbConflict>,
    pub revision: i64,
}

/// An edit the server refused because the article is no longer at its base revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbConflict {
    pub id: String,
    /// The revision held now (0: deleted).
    pub revision: i64,
}

/// A server article as an editor opens it: the text and the revision the edit starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditableArticle {
    pub id: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub lang: String,
    /// 0 for an article the center does not have (a local import, or a new one).
    pub revision: i64,
}

/// What one article's save did on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOutcome {
    /// Stored; the tenant's knowledge base is at `revision` now.
    Stored { revision: i64 },
    /// The server holds exactly this text already.
    Unchanged { revision: i64 },
    /// Changed (or deleted, `held` 0) by someone else since the edit's base revision.
    Conflict { held: i64 },
    /// Invalid, with the server's reason.
    Rejected { reason: String },
}

/// Saves one edited article with the revision it was loaded from, so a concurrent edit is
/// reported instead of overwritten.
pub async fn publish_edit(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    edit: &EditableArticle,
) -> Result<EditOutcome, KbSyncError> {
    let url = format!("{}/api/v1/kb/articles", base.trim_end_matches('/'));
    let body = serde_json::json!({"articles": [{
        "id": edit.id, "title": edit.title, "body": edit.body, "tags": edit.tags,
        "lang": edit.lang, "base_revision": edit.revision,
    }]});
    let report: PublishReport = send_json(http.post(url).json(&body), token).await?;
    let ours = |id: &String| id == &edit.id;
    Ok(if report.stored.iter().any(ours) {
        EditOutcome::Stored {
            revision: report.revision,
        }
    } else if report.unchanged.iter().any(ours) {
        EditOutcome::Unchanged {
            revision: report.revision,
        }
    } else if let Some(c) = report.conflicts.iter().find(|c| ours(&c.id)) {
        EditOutcome::Conflict { held: c.revision }
    } else if let Some(r) = report.rejected.iter().find(|r| ours(&r.id)) {
        EditOutcome::Rejected {
            reason: r.reason.clone(),
        }
    } else {
        return Err(KbSyncError::Unreadable(format!(
            "the publish report does not mention {}",
            edit.id
        )));
    })
}

/// The local copy of the server's articles.
#[derive(Debug, Clone)]
pub struct KbMirror {
    pool: SqlitePool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL,
    lang TEXT NOT NULL,
    revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS text_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- Deleted articles the index may still hold: kept until an index update covers them.
CREATE TABLE IF NOT EXISTS removed (id TEXT PRIMARY KEY, revision INTEGER NOT NULL);
";

/// Up to this many changes since the index was updated are applied to it in place; more (a
/// mass import) rebuild it whole, which also leaves it in one compact segment.
pub const IN_PLACE_LIMIT: usize = 1000;

impl KbMirror {
    pub async fn open(path: &Path) -> Result<Self, KbSyncError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }

    async fn meta(&self, key: &str) -> Result<i64, KbSyncError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT value FROM meta WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?
                .unwrap_or(0),
        )
    }

    /// The server revision the mirror holds (0: nothing pulled yet).
    pub async fn revision(&self) -> Result<i64, KbSyncError> {
        self.meta("revision").await
    }

    /// The mirror revision the search index was last built from.
    pub async fn indexed_revision(&self) -> Result<i64, KbSyncError> {
        self.meta("indexed_revision").await
    }

    /// Applies one page of changes and its revision in one transaction.
    pub async fn apply(&self, changes: &[ServerArticle], revision: i64) -> Result<(), KbSyncError> {
        let mut tx = self.pool.begin().await?;
        for change in changes {
            if change.deleted {
                sqlx::query("DELETE FROM articles WHERE id = ?")
                    .bind(&change.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO removed (id, revision) VALUES (?, ?)
                     ON CONFLICT (id) DO UPDATE SET revision = excluded.revision",
                )
                .bind(&change.id)
                .bind(change.revision)
                .execute(&mut *tx)
                .await?;
                continue;
            }
            sqlx::query("DELETE FROM removed WHERE id = ?")
                .bind(&change.id)
                .execute(&mut *tx)
                .await?;
            let tags = serde_json::to_string(&change.tags)
                .map_err(|e| KbSyncError::Unreadable(e.to_string()))?;
            sqlx::query(
                "INSERT INTO articles (id, title, body, tags, lang, revision) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, body = excluded.body,
                 tags = excluded.tags, lang = excluded.lang, revision = excluded.revision",
            )
            .bind(&change.id)
            .bind(&change.title)
            .bind(&change.body)
            .bind(tags)
            .bind(&change.lang)
            .bind(change.revision)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('revision', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(revision)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One live article with its revision, for an editor.
    pub async fn article(&self, id: &str) -> Result<Option<EditableArticle>, KbSyncError> {
        let row =
            sqlx::query("SELECT id, title, body, tags, lang, revision FROM articles WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row
            .map(|row| {
                let tags: String = row.try_get("tags")?;
                Ok::<_, sqlx::Error>(EditableArticle {
                    id: row.try_get("id")?,
                    title: row.try_get("title")?,
                    body: row.try_get("body")?,
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                    lang: row.try_get("lang")?,
                    revision: row.try_get("revision")?,
                })
            })
            .transpose()?)
    }

    /// Live articles held.
    pub async fn count(&self) -> Result<u64, KbSyncError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM articles")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Every live article, as the search index takes them. A language the index does not
    /// know is detected from the text instead.
    pub async fn articles(&self) -> Result<Vec<Article>, KbSyncError> {
        self.articles_after(-1, i64::MAX).await
    }

    /// The changes after `revision` — live articles changed since, and ids deleted since —
    /// or `None` when there are more than `at_most` of them (read once, never more than
    /// `at_most + 1` rows of each kind).
    pub async fn changes_after(
        &self,
        revision: i64,
        at_most: usize,
    ) -> Result<Option<(Vec<Article>, Vec<String>)>, KbSyncError> {
        let limit = i64::try_from(at_most.saturating_add(1)).unwrap_or(i64::MAX);
        let deleted: Vec<String> =
            sqlx::query_scalar("SELECT id FROM removed WHERE revision > ? ORDER BY id LIMIT ?")
                .bind(revision)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        if deleted.len() > at_most {
            return Ok(None);
        }
        let upserts = self.articles_after(revision, limit).await?;
        if upserts.len() + deleted.len() > at_most {
            return Ok(None);
        }
        Ok(Some((upserts, deleted)))
    }

    /// Records that the index build `build` holds the mirror up to `revision`, and forgets
    /// the deletions it covers.
    async fn set_indexed(&self, build: &str, revision: i64) -> Result<(), KbSyncError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('indexed_revision', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(revision)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO text_meta (key, value) VALUES ('indexed_build', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(build)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM removed WHERE revision <= ?")
            .bind(revision)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The index build the mirror last updated (None: never, or before builds were named).
    async fn indexed_build(&self) -> Result<Option<String>, KbSyncError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM text_meta WHERE key = 'indexed_build'")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn articles_after(&self, revision: i64, limit: i64) -> Result<Vec<Article>, KbSyncError> {
        let rows = sqlx::query(
            "SELECT id, title, body, tags, lang FROM articles WHERE revision > ? ORDER BY id LIMIT ?",
        )
        .bind(revision)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let tags: String = row.try_get("tags")?;
                let title: String = row.try_get("title")?;
                let body: String = row.try_get("body")?;
                let lang: String = row.try_get("lang")?;
                let lang =
                    Lang::parse(&lang).unwrap_or_else(|| Lang::detect(&format!("{title}\n{body}")));
                Ok(Article {
                    id: row.try_get("id")?,
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                    title,
                    body,
                    lang,
                })
            })
            .collect()
    }
}

/// Pulls the changes after the mirror's revision, page by page, then updates `index` when
/// the mirror is ahead of it and holds articles: in place when the index is the build the
/// mirror last updated and few articles changed, else by a whole rebuild.
pub async fn pull(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    mirror: &KbMirror,
    index: &Arc<KbIndex>,
) -> Result<KbPullReport, KbSyncError> {
    let url = format!("{}/api/v1/kb/changes", base.trim_end_matches('/'));
    let mut report = KbPullReport::default();
    let mut since = mirror.revision().await?;
    loop {
        let request = http
            .get(&url)
            .query(&[("since", since.to_string()), ("limit", PAGE.to_string())]);
        let page: ChangesPage = send_json(request, token).await?;
        if page.next_since < since {
            return Err(KbSyncError::Unreadable(format!(
                "the server went back from revision {since} to {}",
                page.next_since
            )));
        }
        if !page.articles.is_empty() {
            mirror.apply(&page.articles, page.next_since).await?;
            report.changes += page.articles.len();
        }
        since = page.next_since;
        if !page.has_more || page.articles.is_empty() {
            break;
        }
    }
    report.revision = since;
    report.articles = mirror.count().await?;
    // Also when the index is empty: a deleted or rebuilt index folder is filled again.
    let indexed = mirror.indexed_revision().await?;
    let behind = indexed != since || index.num_docs() == 0;
    if report.articles > 0 && behind {
        // In place only on the very build the mirror updated last: a folder imported locally
        // since, or an index rebuilt or lost, holds other articles.
        let same_build = mirror.indexed_build().await?.as_deref() == Some(&index.build_id());
        let changes = if same_build && indexed > 0 && index.num_docs() > 0 {
            mirror.changes_after(indexed, IN_PLACE_LIMIT).await?
        } else {
            None
        };
        report.in_place = changes.is_some();
        let rebuild_from = match changes {
            Some(_) => Vec::new(),
            None => mirror.articles().await?,
        };
        let index = index.clone();
        let build = tokio::task::spawn_blocking(move || {
            match changes {
                Some((upserts, deletes)) => index.apply_changes(&upserts, &deletes)?,
                None => index.replace_all(&rebuild_from)?,
            }
            Ok::<_, seatline_kb_search::Error>(index.build_id())
        })
        .await
        .map_err(|e| KbSyncError::Join(e.to_string()))??;
        // A crash before this line re-applies the same changes next time (idempotent).
        mirror.set_indexed(&build, since).await?;
        report.reindexed = true;
        tracing::info!(
            revision = since,
            articles = report.articles,
            in_place = report.in_place,
            "knowledge base updated from the server"
        );
    }
    Ok(report)
}

/// An HTTP client for the knowledge-base calls (the customer feed's settings).
pub fn http_client() -> Result<reqwest::Client, KbSyncError> {
    seatline_customer_cache::feed::client().map_err(|e| KbSyncError::Network(e.to_string()))
}

/// Publishes `articles` and the deletions to the server, in requests of at most [`PAGE`].
pub async fn publish(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    articles: &[Article],
    delete: &[String],
) -> Result<PublishReport, KbSyncError> {
    let url = format!("{}/api/v1/kb/articles", base.trim_end_matches('/'));
    let mut total = PublishReport::default();
    let inputs: Vec<serde_json::Value> = articles
        .iter()
        .map(|a| {
            serde_json::json!({"id": a.id, "title": a.title, "body": a.body, "tags": a.tags,
                               "lang": a.lang.as_str()})
        })
        .collect();
    let deletions: Vec<serde_json::Value> = delete.iter().map(|id| serde_json::json!(id)).collect();
    let batches = inputs
        .chunks(PAGE as usize)
        .map(|c| (c, &[][..]))
        .chain(deletions.chunks(PAGE as usize).map(|d| (&[][..], d)));
    for (articles, delete) in batches {
        let request = http
            .post(&url)
            .json(&serde_json::json!({"articles": articles, "delete": delete}));
        let report: PublishReport = send_json(request, token).await?;
        total.stored.extend(report.stored);
        total.unchanged.extend(report.unchanged);
        total.deleted.extend(report.deleted);
        total.rejected.extend(report.rejected);
        total.revision = report.revision;
    }
    Ok(total)
}

/// The ids the server holds live (for a publish that replaces the whole knowledge base).
pub async fn server_ids(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<Vec<String>, KbSyncError> {
    let url = format!("{}/api/v1/kb/changes", base.trim_end_matches('/'));
    let mut live = std::collections::BTreeSet::new();
    let mut since = 0;
    loop {
        let request = http
            .get(&url)
            .query(&[("since", since.to_string()), ("limit", PAGE.to_string())]);
        let page: ChangesPage = send_json(request, token).await?;
        for a in &page.articles {
            if a.deleted {
                live.remove(&a.id);
            } else {
                live.insert(a.id.clone());
            }
        }
        if !page.has_more || page.articles.is_empty() || page.next_since <= since {
            break;
        }
        since = page.next_since;
    }
    Ok(live.into_iter().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn change(id: &str, revision: i64, deleted: bool) -> ServerArticle {
        ServerArticle {
            id: id.into(),
            title: format!("{id} title"),
            body: "正文".into(),
            tags: vec!["t".into()],
            lang: "xx".into(),
            revision,
            deleted,
        }
    }

    #[tokio::test]
    async fn the_mirror_applies_pages_and_keeps_its_revision_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MIRROR_FILE);
        let mirror = KbMirror::open(&path).await.unwrap();
        assert_eq!(mirror.revision().await.unwrap(), 0);
        mirror
            .apply(&[change("a", 1, false), change("b", 2, false)], 2)
            .await
            .unwrap();
        mirror
            .apply(&[change("a", 3, true), change("c", 4, false)], 4)
            .await
            .unwrap();
        drop(mirror);
        let mirror = KbMirror::open(&path).await.unwrap();
        assert_eq!(mirror.revision().await.unwrap(), 4);
        let articles = mirror.articles().await.unwrap();
        let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
        // "xx" is no language the index knows: detected from the Chinese text.
        assert_eq!(articles[0].lang, Lang::ZhCn);
        assert_eq!(articles[0].tags, ["t"]);
    }

    #[tokio::test]
    async fn changes_after_a_revision_are_counted_with_deletions_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let mirror = KbMirror::open(&dir.path().join(MIRROR_FILE)).await.unwrap();
        mirror
            .apply(&[change("a", 1, false), change("b", 2, false)], 2)
            .await
            .unwrap();
        mirror
            .apply(
                &[
                    change("a", 3, true),
                    change("c", 4, false),
                    change("d", 5, false),
                ],
                5,
            )
            .await
            .unwrap();
        let (upserts, deletes) = mirror.changes_after(2, 3).await.unwrap().unwrap();
        let ids: Vec<&str> = upserts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["c", "d"]);
        assert_eq!(deletes, ["a"]);
        // Three changes: over a cap of two, whichever kind tips it over.
        assert!(mirror.changes_after(2, 2).await.unwrap().is_none());
        assert!(mirror.changes_after(2, 0).await.unwrap().is_none());
        let (upserts, deletes) = mirror.changes_after(4, 1).await.unwrap().unwrap();
        assert_eq!((upserts.len(), deletes.len()), (1, 0));
        assert_eq!(
            mirror.changes_after(5, 0).await.unwrap().unwrap().0.len(),
            0
        );
    }
}
