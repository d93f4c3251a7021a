//! The center's knowledge base: supervisors and admins publish articles, every agent of the
//! tenant pulls the changes after the revision it holds and searches them offline
//! (crates/kb-search on the desktop). See migrations/0008_kb.sql for the revision counter that
//! keeps the pull from skipping a change.
//!
//! A publish is one transaction: valid articles are stored (an article equal to the held one is
//! reported unchanged and takes no revision, so publishing the same folder again changes
//! nothing), invalid ones are reported with the reason and skipped, and the named deletions
//! become tombstones.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::authz::{Principal, Role};
use crate::calls::Rejected;
use crate::error::{Error, Result};
use crate::store::{format_micros, now_micros, Store};

/// Most articles (stored plus deleted) in one publish.
pub const MAX_BATCH: usize = 500;
/// Longest article id (the source file's stem on import).
pub const MAX_ID: usize = 128;
/// Longest title, in characters.
pub const MAX_TITLE: usize = 300;
/// Largest body, in bytes (a long procedure with tables is tens of KB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most tags per article, and the longest tag in characters.
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG: usize = 64;
/// The languages the desktop's search knows.
pub const LANGS: &[&str] = &["zh-CN", "zh-TW", "en"];
/// Default and largest page of a changes pull.
pub const DEFAULT_PAGE: u32 = 200;
pub const MAX_PAGE: u32 = 1_000;

/// One article as a publisher sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    pub id: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `zh-CN`, `zh-TW` or `en`.
    pub lang: String,
    /// The article's revision the edit started from (0: a new article). When given, an article
    /// changed or deleted since is not overwritten but reported in `conflicts`; bulk imports
    /// leave it out and replace what is held.
    #[serde(default)]
    pub base_revision: Option<i64>,
}

/// An edit refused because the article changed since the editor loaded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbConflict {
    pub id: String,
    /// The revision held now (0: deleted, or not there).
    pub revision: i64,
}

/// One article (or the tombstone of a deleted one) as desktops pull it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredArticle {
    pub id: String,
    /// Empty on a tombstone.
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub lang: String,
    /// The tenant's KB revision this change took.
    pub revision: i64,
    pub deleted: bool,
    /// RFC 3339.
    pub updated_at: String,
}

/// What a publish did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishReport {
    /// Articles stored (new or changed).
    pub stored: Vec<String>,
    /// Articles equal to the ones held: nothing changed.
    pub unchanged: Vec<String>,
    /// Articles deleted (tombstoned); a deletion of an unknown or deleted id is not listed.
    pub deleted: Vec<String>,
    /// Articles refused, with the reason; the rest of the publish stands.
    pub rejected: Vec<Rejected>,
    /// Edits whose `base_revision` is no longer the article's: nothing of them was stored.
    pub conflicts: Vec<KbConflict>,
    /// The tenant's KB revision after the publish.
    pub revision: i64,
}

/// A page of changes after a revision, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesPage {
    pub articles: Vec<StoredArticle>,
    /// Pass as `since` for the next page (the last article's revision, or `since` itself).
    pub next_since: i64,
    pub has_more: bool,
}

fn check_text(what: &str, value: &str, max_chars: usize) -> std::result::Result<(), String> {
    if value.chars().count() > max_chars {
        return Err(format!("{what} is longer than {max_chars} characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!("{what} holds control characters"));
    }
    Ok(())
}

/// Why an article cannot be stored, if it cannot.
pub fn validate(article: &ArticleInput) -> std::result::Result<(), String> {
    let id = article.id.as_str();
    if id.trim().is_empty() || id.trim() != id {
        return Err("an article needs an id without surrounding spaces".into());
    }
    check_text("the id", id, MAX_ID)?;
    if id.contains(['/', '\\']) || id.chars().any(char::is_whitespace) {
        return Err(format!("the id {id:?} holds a slash or a space"));
    }
    if article.title.trim().is_empty() {
        return Err("an article needs a title".into());
    }
    check_text("the title", &article.title, MAX_TITLE)?;
    if article.title.contains(['\n', '\r']) {
        return Err("the title is more than one line".into());
    }
    if article.body.len() > MAX_BODY_BYTES {
        return Err(format!("the body is larger than {MAX_BODY_BYTES} bytes"));
    }
    check_text("the body", &article.body, usize::MAX)?;
    if article.tags.len() > MAX_TAGS {
        return Err(format!("more than {MAX_TAGS} tags"));
    }
    for tag in &article.tags {
        if tag.trim().is_empty() {
            return Err("an empty tag".into());
        }
        check_text("a tag", tag, MAX_TAG)?;
    }
    if !LANGS.contains(&article.lang.as_str()) {
        return Err(format!(
            "language {:?} is not one of {}",
            article.lang,
            LANGS.join(", ")
        ));
    }
    Ok(())
}

/// Advances the tenant's KB counter; the row stays locked until the transaction ends.
async fn next_revision(conn: &mut sqlx::AnyConnection, tenant_id: &str) -> Result<i64> {
    let row = sqlx::query(
        "UPDATE tenants SET kb_revision = kb_revision + 1 WHERE id = $1 RETURNING kb_revision",
    )
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::NotFound(format!("tenant {tenant_id} not found")))?;
    Ok(row.try_get("kb_revision")?)
}

/// The tenant's KB revision, with its row locked for the transaction (`lock`: the store's
/// `FOR UPDATE`, empty on SQLite, whose write transactions are already exclusive).
async fn held_revision(conn: &mut sqlx::AnyConnection, tenant_id: &str, lock: &str) -> Result<i64> {
    let row = sqlx::query(&format!(
        "SELECT kb_revision FROM tenants WHERE id = $1{lock}"
    ))
    .bind(tenant_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::NotFound(format!("tenant {tenant_id} not found")))?;
    Ok(row.try_get("kb_revision")?)
}

fn encode_tags(tags: &[String]) -> Result<String> {
    serde_json::to_string(tags).map_err(|e| Error::Internal(format!("cannot encode tags: {e}")))
}

/// Stores `articles` and tombstones `delete` for the principal's tenant (supervisors and
/// admins only).
pub async fn publish(
    store: &Store,
    principal: &Principal,
    articles: &[ArticleInput],
    delete: &[String],
) -> Result<PublishReport> {
    principal.require(Role::Supervisor, "publishing knowledge-base articles")?;
    if articles.len() + delete.len() > MAX_BATCH {
        return Err(Error::TooLarge(format!(
            "more than {MAX_BATCH} articles and deletions in one publish"
        )));
    }
    let tenant = principal.tenant_id.as_str();
    let mut report = PublishReport::default();
    let mut tx = store.begin_write().await?;
    // Serialises publishes of the tenant from the start, so the equality check below sees
    // what it will overwrite.
    let mut revision = held_revision(tx.conn(), tenant, store.for_update()).await?;
    let now = now_micros();
    for article in articles {
        if let Err(reason) = validate(article) {
            report.rejected.push(Rejected {
                id: article.id.clone(),
                reason,
            });
            continue;
        }
        let tags = encode_tags(&article.tags)?;
        let held = sqlx::query(&format!(
            "SELECT title, body, tags, lang, revision, deleted_at FROM kb_articles \
             WHERE tenant_id = $1 AND id = $2{}",
            store.for_update()
        ))
        .bind(tenant)
        .bind(&article.id)
        .fetch_optional(tx.conn())
        .await?;
        if let Some(row) = &held {
            let same = row.try_get::<String, _>("title")? == article.title
                && row.try_get::<String, _>("body")? == article.body
                && row.try_get::<String, _>("tags")? == tags
                && row.try_get::<String, _>("lang")? == article.lang
                && row.try_get::<Option<i64>, _>("deleted_at")?.is_none();
            if same {
                report.unchanged.push(article.id.clone());
                continue;
            }
        }
        if let Some(base) = article.base_revision {
            let live = match &held {
                Some(row) if row.try_get::<Option<i64>, _>("deleted_at")?.is_none() => {
                    row.try_get::<i64, _>("revision")?
                }
                _ => 0,
            };
            if live != base {
                report.conflicts.push(KbConflict {
                    id: article.id.clone(),
                    revision: live,
                });
                continue;
            }
        }
        revision = next_revision(tx.conn(), tenant).await?;
        let sql = if held.is_some() {
            "UPDATE kb_articles SET title = $3, body = $4, tags = $5, lang = $6, revision = $7, \
             updated_by = $8, updated_at = $9, deleted_at = NULL \
             WHERE tenant_id = $1 AND id = $2"
        } else {
            "INSERT INTO kb_articles (tenant_id, id, title, body, tags, lang, revision, \
             updated_by, updated_at, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)"
        };
        sqlx::query(sql)
            .bind(tenant)
            .bind(&article.id)
            .bind(&article.title)
            .bind(&article.body)
            .bind(&tags)
            .bind(&article.lang)
            .bind(revision)
            .bind(&principal.user_id)
            .bind(now)
            .execute(tx.conn())
            .await?;
        report.stored.push(article.id.clone());
    }
    for id in delete {
        let live = sqlx::query(
            "SELECT id FROM kb_articles WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
        if live.is_none() {
            continue;
        }
        revision = next_revision(tx.conn(), tenant).await?;
        // The tombstone keeps no text: a deleted article leaves nothing to read.
        sqlx::query(
            "UPDATE kb_articles SET title = '', body = '', tags = '[]', revision = $3, \
             updated_by = $4, updated_at = $5, deleted_at = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(revision)
        .bind(&principal.user_id)
        .bind(now)
        .execute(tx.conn())
        .await?;
        report.deleted.push(id.clone());
    }
    tx.commit().await?;
    report.revision = revision;
    tracing::info!(tenant, by = %principal.username, stored = report.stored.len(),
        deleted = report.deleted.len(), rejected = report.rejected.len(),
        conflicts = report.conflicts.len(), revision,
        "knowledge base published");
    Ok(report)
}

fn from_row(row: &AnyRow) -> Result<StoredArticle> {
    let tags: String = row.try_get("tags")?;
    let updated_at: i64 = row.try_get("updated_at")?;
    Ok(StoredArticle {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        tags: serde_json::from_str(&tags)
            .map_err(|e| Error::Internal(format!("stored tags are not JSON: {e}")))?,
        lang: row.try_get("lang")?,
        revision: row.try_get("revision")?,
        deleted: row.try_get::<Option<i64>, _>("deleted_at")?.is_some(),
        updated_at: format_micros(updated_at),
    })
}

/// The tenant's article changes after revision `since`, oldest first (any role of the
/// tenant: every agent searches the knowledge base).
pub async fn changes(
    store: &Store,
    principal: &Principal,
    since: i64,
    limit: Option<u32>,
) -> Result<ChangesPage> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::Invalid(format!("limit must be 1-{MAX_PAGE}")));
    }
    if since < 0 {
        return Err(Error::Invalid("since must be 0 or more".into()));
    }
    let rows = sqlx::query(
        "SELECT id, title, body, tags, lang, revision, updated_at, deleted_at FROM kb_articles \
         WHERE tenant_id = $1 AND revision > $2 ORDER BY revision LIMIT $3",
    )
    .bind(&principal.tenant_id)
    .bind(since)
    .bind(i64::from(limit))
    .fetch_all(store.pool())
    .await?;
    let articles = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    Ok(ChangesPage {
        next_since: articles.last().map_or(since, |a| a.revision),
        has_more: articles.len() == limit as usize,
        articles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article() -> ArticleInput {
        ArticleInput {
            id: "broadband-outage".into(),
            title: "宽带断网怎么办".into(),
            body: "先确认光猫指示灯……\n\n| 灯 | 含义 |\n|---|---|\n".into(),
            tags: vec!["宽带".into(), "故障".into()],
            lang: "zh-CN".into(),
            base_revision: None,
        }
    }

    #[test]
    fn a_well_formed_article_passes() {
        assert_eq!(validate(&article()), Ok(()));
    }

    #[test]
    fn bad_articles_say_why() {
        type Spoil = fn(&mut ArticleInput);
        let cases: Vec<(Spoil, &str)> = vec![
            (|a| a.id = " ".into(), "needs an id"),
            (|a| a.id = "a/b".into(), "slash"),
            (|a| a.id = "x".repeat(MAX_ID + 1), "the id is longer"),
            (|a| a.title = "  ".into(), "needs a title"),
            (|a| a.title = "two\nlines".into(), "more than one line"),
            (|a| a.body = "x".repeat(MAX_BODY_BYTES + 1), "larger than"),
            (|a| a.body = "bell\u{7}".into(), "control characters"),
            (|a| a.tags = vec![" ".into()], "empty tag"),
            (
                |a| a.tags = (0..=MAX_TAGS).map(|i| i.to_string()).collect(),
                "more than 32 tags",
            ),
            (|a| a.lang = "fr".into(), "not one of zh-CN, zh-TW, en"),
        ];
        for (spoil, expected) in cases {
            let mut a = article();
            spoil(&mut a);
            let error = validate(&a).expect_err(expected);
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }
}
