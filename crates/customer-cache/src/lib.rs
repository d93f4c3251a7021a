//! The desktop's local cache of the customers its agent may see, synced page by page from the
//! server's customer feed and indexed by every key of every phone number, so that a ringing
//! call finds its customer in the local database — in microseconds, and also offline.
//!
//! Numbers on both sides go through the same [`Normalizer`] (E.164 first, plus the national
//! forms CRM rows are often stored in); a CRM number that does not normalise is indexed by its
//! digits so an exact match still pops.

pub mod feed;

use seatline_phone_numbers::{lookup_keys, Normalized, Normalizer, NumberError};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customer_keys (
    key TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    PRIMARY KEY (key, customer_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS customer_keys_by_customer ON customer_keys (customer_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 1;
";

/// Most customers a pop offers to choose from; a number shared by more is not a useful match.
pub const MAX_MATCHES: i64 = 20;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("local customer cache: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the local customer cache is damaged: {0}")]
    Corrupt(String),
}

/// A customer as the server's feed sends it (unknown fields are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub phones: Vec<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub updated_at: String,
    /// A tombstone: the customer was deleted or is no longer visible.
    #[serde(default)]
    pub deleted: bool,
}

/// What a caller number matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "caller", rename_all = "snake_case")]
pub enum Lookup {
    /// The number is withheld: nothing to match, the pop says so.
    Withheld,
    /// The number could not be read as a phone number; `matches` are CRM numbers with exactly
    /// the same digits (the pop shows the raw number and offers a search).
    Unreadable {
        reason: String,
        matches: Vec<Customer>,
    },
    Number {
        normalized: Normalized,
        matches: Vec<Customer>,
    },
}

pub struct CustomerCache {
    pool: SqlitePool,
    normalizer: Normalizer,
}

fn index_keys(normalizer: &Normalizer, phone: &str) -> Vec<String> {
    match normalizer.normalize(phone) {
        Ok(normalized) => lookup_keys(&normalized),
        Err(_) => {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            if digits.is_empty() {
                vec![]
            } else {
                vec![digits]
            }
        }
    }
}

impl CustomerCache {
    pub async fn open(path: &Path, normalizer: Normalizer) -> Result<Self, CacheError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A lost page is re-pulled from the server; NORMAL is safe enough for a cache.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        Ok(Self { pool, normalizer })
    }

    /// Closes the cache's connections, checkpointing the write-ahead log, so the file can be
    /// copied whole.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// Applies one page of the server's customer feed in one transaction and saves the cursor,
    /// so an interrupted sync resumes where it stopped.
    pub async fn apply_page(
        &self,
        customers: &[Customer],
        next_cursor: Option<&str>,
    ) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        for customer in customers {
            sqlx::query("DELETE FROM customers WHERE id = ?")
                .bind(&customer.id)
                .execute(&mut *tx)
                .await?;
            if customer.deleted {
                continue;
            }
            let body =
                serde_json::to_string(customer).map_err(|e| CacheError::Corrupt(e.to_string()))?;
            sqlx::query("INSERT INTO customers (id, body) VALUES (?, ?)")
                .bind(&customer.id)
                .bind(body)
                .execute(&mut *tx)
                .await?;
            for phone in &customer.phones {
                for key in index_keys(&self.normalizer, phone) {
                    sqlx::query(
                        "INSERT OR IGNORE INTO customer_keys (key, customer_id) VALUES (?, ?)",
                    )
                    .bind(key)
                    .bind(&customer.id)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        if let Some(cursor) = next_cursor {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('cursor', ?)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(cursor)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Where the next pull of the customer feed starts.
    pub async fn cursor(&self) -> Result<Option<String>, CacheError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'cursor'")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Whether the cache holds no customer: one row read, for the ringing path, where a
    /// COUNT(*) over a million rows has no place.
    pub async fn is_empty(&self) -> Result<bool, CacheError> {
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM customers)")
            .fetch_one(&self.pool)
            .await?;
        Ok(!any)
    }

    pub async fn count(&self) -> Result<u64, CacheError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM customers")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The customers a caller number belongs to (several when a number is shared, e.g. a
    /// company switchboard), by name.
    pub async fn lookup(&self, caller: &str) -> Result<Lookup, CacheError> {
        let normalized = match self.normalizer.normalize(caller) {
            Ok(normalized) => normalized,
            Err(error) if error.is_withheld() => return Ok(Lookup::Withheld),
            Err(error) => return self.lookup_raw(caller, &error).await,
        };
        let keys = lookup_keys(&normalized);
        let matches = self.by_keys(&keys).await?;
        Ok(Lookup::Number {
            normalized,
            matches,
        })
    }

    /// One customer by id.
    pub async fn get(&self, id: &str) -> Result<Option<Customer>, CacheError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM customers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        body.map(|body| {
            serde_json::from_str::<Customer>(&body).map_err(|e| CacheError::Corrupt(e.to_string()))
        })
        .transpose()
    }

    /// Customers an IVR-collected value points at when the calling number does not (a shared
    /// or withheld number): the customer number itself, or a phone number the caller keyed in.
    pub async fn by_reference(&self, value: &str) -> Result<Vec<Customer>, CacheError> {
        let value = value.trim();
        if value.is_empty() || value.len() > 64 {
            return Ok(vec![]);
        }
        if let Some(customer) = self.get(value).await? {
            return Ok(vec![customer]);
        }
        match self.normalizer.normalize(value) {
            Ok(normalized) if !normalized.is_internal() => {
                self.by_keys(&lookup_keys(&normalized)).await
            }
            _ => Ok(vec![]),
        }
    }

    /// Customers whose name contains `text` or who have a number with these digits, for the
    /// agent's own search when the pop found nobody (a scan: not on the ringing path).
    pub async fn search(&self, text: &str, limit: u32) -> Result<Vec<Customer>, CacheError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(vec![]);
        }
        let looks_like_number = text.chars().filter(char::is_ascii_digit).count() >= 4
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()".contains(c));
        let mut found = if looks_like_number {
            self.by_reference(text).await?
        } else {
            Vec::new()
        };
        let pattern = format!(
            "%{}%",
            text.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM customers WHERE json_extract(body, '$.name') LIKE ? ESCAPE '\\'
             ORDER BY json_extract(body, '$.name') LIMIT ?",
        )
        .bind(pattern)
        .bind(i64::from(limit.min(200)))
        .fetch_all(&self.pool)
        .await?;
        for body in rows {
            let customer = serde_json::from_str::<Customer>(&body)
                .map_err(|e| CacheError::Corrupt(e.to_string()))?;
            if !found.iter().any(|c: &Customer| c.id == customer.id) {
                found.push(customer);
            }
        }
        found.truncate(limit as usize);
        Ok(found)
    }

    /// An unreadable number can still equal a CRM number indexed by its digits.
    async fn lookup_raw(&self, caller: &str, error: &NumberError) -> Result<Lookup, CacheError> {
        let digits: String = caller.chars().filter(char::is_ascii_digit).collect();
        let matches = if digits.is_empty() {
            vec![]
        } else {
            self.by_keys(&[digits]).await?
        };
        tracing::debug!(%error, matches = matches.len(), "caller number unreadable");
        Ok(Lookup::Unreadable {
            reason: error.to_string(),
            matches,
        })
    }

    async fn by_keys(&self, keys: &[String]) -> Result<Vec<Customer>, CacheError> {
        if keys.is_empty() {
            return Ok(vec![]);
        }
        let placeholders = vec!["?"; keys.len()].join(", ");
        let sql = format!(
            "SELECT c.body FROM customers c WHERE c.id IN
               (SELECT customer_id FROM customer_keys WHERE key IN ({placeholders}))
             LIMIT {MAX_MATCHES}"
        );
        let mut query = sqlx::query(&sql);
        for key in keys {
            query = query.bind(key);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut customers = rows
            .iter()
            .map(|row| {
                serde_json::from_str::<Customer>(row.get::<&str, _>("body"))
                    .map_err(|e| CacheError::Corrupt(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        customers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(customers)
    }
}

#[cfg(test)]
mod tests;
