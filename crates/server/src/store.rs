//! Storage: one `sqlx::Any` pool over an embedded SQLite file (default) or PostgreSQL, and the
//! migrations both accept. Every query in the crate is written once, with `$N` placeholders,
//! for both dialects.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Error, Result};

/// File name of the embedded database inside `--data-dir`.
pub const SQLITE_FILE_NAME: &str = "seatline.db";

/// Ordered migrations: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "accounts_customers",
        include_str!("../migrations/0001_accounts_customers.sql"),
    ),
    (
        2,
        "work_orders",
        include_str!("../migrations/0002_work_orders.sql"),
    ),
    (
        3,
        "work_order_fields",
        include_str!("../migrations/0003_work_order_fields.sql"),
    ),
    (
        4,
        "call_log",
        include_str!("../migrations/0004_call_log.sql"),
    ),
    (
        5,
        "playbook",
        include_str!("../migrations/0005_playbook.sql"),
    ),
    (
        6,
        "call_scores",
        include_str!("../migrations/0006_call_scores.sql"),
    ),
    (
        7,
        "call_quality",
        include_str!("../migrations/0007_call_quality.sql"),
    ),
    (8, "kb", include_str!("../migrations/0008_kb.sql")),
];

/// Lock id for `pg_advisory_xact_lock`, serialising migrations of concurrent instances.
const PG_MIGRATION_LOCK: i64 = 0x5345_4154_4c49_4e45;

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (WAL, foreign keys on).
    Sqlite,
    /// PostgreSQL, possibly shared by several server instances.
    Postgres,
}

/// The database handle shared by all requests. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time; taking this lock before `BEGIN` avoids
    /// "database is locked" failures when a deferred transaction upgrades to a write. It is a
    /// throughput aid only: a SQLite file is served by one process.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// The PostgreSQL URL, for connections outside the pool (`LISTEN`).
    pg_url: Option<Arc<str>>,
}

/// A write transaction (holding the SQLite writer lock where applicable).
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Commit the transaction.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Open (creating if needed) the SQLite file `seatline.db` in `data_dir`.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            Error::Internal(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        Self::open_sqlite_file(&data_dir.join(SQLITE_FILE_NAME)).await
    }

    /// Open (creating if needed) a SQLite database file.
    pub async fn open_sqlite_file(path: &Path) -> Result<Store> {
        let path = path
            .to_str()
            .ok_or_else(|| Error::Invalid(format!("database path is not UTF-8: {path:?}")))?;
        if path.contains(['?', '#']) {
            return Err(Error::Invalid(format!(
                "database path must not contain ? or #: {path}"
            )));
        }
        Self::connect(&format!("sqlite://{path}?mode=rwc")).await
    }

    /// Connect to `postgres://…` / `postgresql://…` or `sqlite://…`.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(Error::Invalid(
                "database URL must start with postgres://, postgresql:// or sqlite:".to_owned(),
            ));
        };
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e| Error::Invalid(format!("invalid database URL: {e}")))?;
        let pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                pool_options
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL is persistent in the file; the others are per connection.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                pool_options
                    .max_connections(16)
                    .connect_with(options)
                    .await?
            }
        };
        let sqlite_writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let pg_url = (backend == Backend::Postgres).then(|| Arc::from(url));
        Ok(Store {
            pool,
            backend,
            sqlite_writer,
            pg_url,
        })
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The PostgreSQL URL (None on SQLite); for dedicated connections such as `LISTEN`.
    pub fn postgres_url(&self) -> Option<&str> {
        self.pg_url.as_deref()
    }

    /// ` FOR UPDATE` on PostgreSQL, empty on SQLite (whose single writer already serialises).
    pub fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// The connection pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begin a write transaction.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        let writer = match &self.sqlite_writer {
            Some(lock) => Some(Arc::clone(lock).lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx {
            tx,
            _writer: writer,
        })
    }

    /// Check the database answers.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Apply pending migrations. Safe to run from several instances at once on PostgreSQL
    /// (serialised by an advisory transaction lock).
    pub async fn migrate(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(PG_MIGRATION_LOCK)
                .fetch_one(tx.conn())
                .await?;
        }
        tx.conn()
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (\
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(tx.conn())
            .await?
            .iter()
            .map(|row| row.try_get::<i64, _>("version"))
            .collect::<Result<_, _>>()?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tracing::info!(version, name, "applying migration");
            for statement in split_statements(sql) {
                tx.conn()
                    .execute(statement.as_str())
                    .await
                    .map_err(|e| Error::Migration(format!("migration {version} ({name}): {e}")))?;
            }
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(*version)
            .bind(*name)
            .bind(now_micros())
            .execute(tx.conn())
            .await?;
        }
        tx.commit().await
    }

    /// Column names of every application table, sorted, as (table, column) pairs; used to
    /// check that both backends end up with the same schema.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>> {
        let sql = match self.backend {
            Backend::Postgres => {
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = current_schema()"
            }
            Backend::Sqlite => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
            }
        };
        let mut columns = sqlx::query(sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("t")?,
                    row.try_get::<String, _>("c")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        columns.sort();
        Ok(columns)
    }
}

/// Split a migration file into statements: a statement ends with `;` at the end of a line.
/// Comment-only lines are dropped.
fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let statement = current.trim().trim_end_matches(';').trim().to_owned();
            if !statement.is_empty() {
                statements.push(statement);
            }
            current.clear();
        }
    }
    let rest = current.trim();
    if !rest.is_empty() {
        statements.push(rest.to_owned());
    }
    statements
}

/// Now as unix microseconds (UTC, server clock).
pub fn now_micros() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}

/// Format unix microseconds as RFC 3339.
pub fn format_micros(micros: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_splits_into_statements() {
        let statements = split_statements(MIGRATIONS[0].2);
        assert_eq!(statements.len(), 9);
        assert!(statements
            .iter()
            .all(|s| !s.ends_with(';') && !s.starts_with("--")));
        assert!(statements[0].starts_with("CREATE TABLE tenants"));
    }

    #[test]
    fn work_order_migration_splits_into_statements() {
        let statements = split_statements(MIGRATIONS[1].2);
        assert_eq!(statements.len(), 11);
        assert!(statements[0].starts_with("ALTER TABLE tenants ADD COLUMN order_clock"));
    }

    #[test]
    fn work_order_fields_migration_splits_into_statements() {
        let statements = split_statements(MIGRATIONS[2].2);
        assert_eq!(statements.len(), 5);
        assert!(statements[0].starts_with("ALTER TABLE work_orders ADD COLUMN title"));
        assert!(statements[2].starts_with("ALTER TABLE work_orders ADD COLUMN due_at"));
    }

    #[test]
    fn call_log_migration_splits_into_statements() {
        let statements = split_statements(MIGRATIONS[3].2);
        assert_eq!(statements.len(), 5);
        assert!(statements[0].starts_with("CREATE TABLE calls"));
        assert!(statements[3].starts_with("CREATE TABLE agent_states"));
    }

    #[test]
    fn playbook_migration_is_one_statement() {
        let statements = split_statements(MIGRATIONS[4].2);
        assert_eq!(statements.len(), 1);
        assert!(statements[0].starts_with("CREATE TABLE playbooks"));
        let statements = split_statements(MIGRATIONS[5].2);
        assert_eq!(statements.len(), 1);
        assert!(statements[0].starts_with("CREATE TABLE call_scores"));
    }

    #[test]
    fn formats_timestamps_as_rfc3339() {
        assert_eq!(format_micros(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_micros(1_500_000), "1970-01-01T00:00:01.5Z");
    }
}
