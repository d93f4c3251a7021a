//! The desktop's call log: every call the phone rang, placed or took, with its customer, IVR
//! data, ring/answer/end times, hold time, transfer, wrap-up code and notes — kept locally
//! (`calls.db`, WAL, `synchronous=FULL`: a wrap-up the agent typed must survive a crash), for
//! the screen pop's history and the agent's figures for the day.
//!
//! Fed by [`CallSignal`]s the shell maps from phone events, so this module knows nothing of SIP.
//! Times are wall-clock milliseconds from the caller (testable without sleeping).

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::BTreeMap;
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    number TEXT,
    display_name TEXT,
    e164 TEXT,
    customer_id TEXT,
    customer_name TEXT,
    ivr TEXT NOT NULL DEFAULT '{}',
    ring_at INTEGER NOT NULL,
    answer_at INTEGER,
    end_at INTEGER,
    hold_ms INTEGER NOT NULL DEFAULT 0,
    hold_since INTEGER,
    transferred_to TEXT,
    end_reason TEXT,
    wrap_up_code TEXT,
    wrap_up_at INTEGER,
    notes TEXT NOT NULL DEFAULT '',
    revision INTEGER NOT NULL DEFAULT 1,
    synced_revision INTEGER NOT NULL DEFAULT 0,
    sync_error TEXT,
    satisfaction INTEGER,
    recording TEXT
);
CREATE INDEX IF NOT EXISTS calls_by_customer ON calls (customer_id, ring_at);
CREATE INDEX IF NOT EXISTS calls_by_number ON calls (e164, ring_at);
CREATE INDEX IF NOT EXISTS calls_by_time ON calls (ring_at);
CREATE TABLE IF NOT EXISTS agent_states (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    reason TEXT,
    wrap_up_code TEXT,
    at INTEGER NOT NULL,
    synced INTEGER NOT NULL DEFAULT 0,
    sync_error TEXT
);
CREATE INDEX IF NOT EXISTS agent_states_by_time ON agent_states (at);
";

/// Columns added after the first release of `calls.db`, for files made before them: every
/// change bumps `revision`; the server holds `synced_revision`; `sync_error` is why the
/// server refused the call (kept, shown, not retried until it changes).
const ADDED_COLUMNS: &[(&str, &str)] = &[
    ("revision", "INTEGER NOT NULL DEFAULT 1"),
    ("synced_revision", "INTEGER NOT NULL DEFAULT 0"),
    ("sync_error", "TEXT"),
    // The caller's survey score (1-5), read back from the server.
    ("satisfaction", "INTEGER"),
    // The call's final media quality (crate::call_quality), NULL when unknown.
    ("mos", "REAL"),
    ("loss_percent", "REAL"),
    ("remote_loss_percent", "REAL"),
    ("jitter_ms", "REAL"),
    ("rtt_ms", "REAL"),
    // The call's recording (a WAV path on this desk; crates/recordings), never synced.
    ("recording", "TEXT"),
];

/// Longest wrap-up note kept (the rest of a paste is refused, not cut silently).
pub const MAX_NOTES: usize = 4_000;

#[derive(Debug, thiserror::Error)]
pub enum CallLogError {
    #[error("call log: {0}")]
    Db(#[from] sqlx::Error),
    #[error("no call {0:?} in the call log")]
    NoSuchCall(String),
    #[error("{0}")]
    Invalid(String),
}

/// What happened to a call, as the shell reads it from the phone's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallSignal {
    Ringing {
        call: String,
        number: Option<String>,
        display_name: Option<String>,
        ivr: BTreeMap<String, String>,
    },
    Dialing {
        call: String,
        target: String,
    },
    Answered {
        call: String,
    },
    Held {
        call: String,
    },
    Resumed {
        call: String,
    },
    Transferred {
        call: String,
        target: String,
    },
    Ended {
        call: String,
        reason: String,
    },
}

/// One call as the log keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    pub id: String,
    /// `incoming` or `outgoing`.
    pub direction: String,
    pub number: Option<String>,
    pub display_name: Option<String>,
    pub e164: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub ivr: BTreeMap<String, String>,
    pub ring_at: i64,
    pub answer_at: Option<i64>,
    pub end_at: Option<i64>,
    pub hold_ms: i64,
    pub transferred_to: Option<String>,
    pub end_reason: Option<String>,
    pub wrap_up_code: Option<String>,
    pub wrap_up_at: Option<i64>,
    pub notes: String,
    /// Why the server refused this call, if it did (the call stays here).
    pub sync_error: Option<String>,
    /// The caller's satisfaction score from the center's survey (1-5), once the server has one.
    pub satisfaction: Option<i64>,
    /// This desk's recording of the call (WAV path), if it was recorded.
    #[serde(default)]
    pub recording: Option<String>,
    /// Handled at a colleague's desk (read from the server's call log, not this desk's).
    #[serde(default)]
    pub colleague: bool,
    /// The call's final media quality, when the phone reported one (a colleague's from the
    /// server's call log).
    #[serde(default)]
    pub quality: Option<crate::call_quality::CallQuality>,
}

impl CallRecord {
    /// Talk time: answered to ended.
    pub fn talk_ms(&self) -> Option<i64> {
        Some(self.end_at? - self.answer_at?)
    }
}

/// The agent's own figures since `since`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DayFigures {
    /// Calls that rang or were placed.
    pub calls: u32,
    /// Calls answered (talked).
    pub handled: u32,
    /// Incoming calls that rang and were never answered here.
    pub missed: u32,
    /// Average talk + hold + wrap-up of handled calls, seconds.
    pub average_handle_s: f64,
    /// Total after-call work (end to wrap-up), seconds.
    pub after_call_work_s: f64,
    /// Handled calls still waiting for a wrap-up code.
    pub without_wrap_up: u32,
    /// Calls the callers scored in the center's survey.
    pub scored: u32,
    /// Their average score (1-5), when there is one.
    pub average_score: Option<f64>,
}

/// Why a wrap-up cannot be saved, if it cannot: checked before anything else of the wrap-up
/// (such as a promised callback) is done.
pub fn check_wrap_up(code: &str, notes: &str) -> Result<(), CallLogError> {
    if code.trim().is_empty() {
        return Err(CallLogError::Invalid("a wrap-up code is required".into()));
    }
    if notes.chars().count() > MAX_NOTES {
        return Err(CallLogError::Invalid(format!(
            "wrap-up notes are limited to {MAX_NOTES} characters"
        )));
    }
    Ok(())
}

/// A call with the revision the server should store.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCall {
    pub record: CallRecord,
    pub revision: i64,
}

/// One change of the agent's state, as the log keeps it for the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateEntry {
    /// Made on this desktop, unique (the server stores an entry once by it).
    pub id: String,
    /// `ready`, `not_ready`, `on_call` or `after_call_work`.
    pub state: String,
    pub reason: Option<String>,
    pub wrap_up_code: Option<String>,
    pub at: i64,
}

impl StateEntry {
    /// The entry for a state the agent machine moved to.
    pub fn from_history(entry: &seatline_agent_state::HistoryEntry) -> Self {
        let reason = match &entry.state {
            seatline_agent_state::AgentState::NotReady { reason } => Some(reason.clone()),
            // Why the agent left after-call work without a code.
            _ if entry.timed_out => Some("after_call_work_timeout".to_owned()),
            _ => None,
        };
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            state: entry.state.label().to_owned(),
            reason,
            wrap_up_code: entry.wrap_up_code.clone(),
            at: entry.at,
        }
    }
}

/// What the server has not got yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncCounts {
    pub calls_waiting: u64,
    /// Calls the server refused (with a reason kept on the call).
    pub calls_refused: u64,
    pub states_waiting: u64,
}

/// The call log in one data directory.
pub struct CallLog {
    pool: SqlitePool,
}

fn record(row: &sqlx::sqlite::SqliteRow) -> Result<CallRecord, CallLogError> {
    let ivr: String = row.try_get("ivr")?;
    Ok(CallRecord {
        id: row.try_get("id")?,
        direction: row.try_get("direction")?,
        number: row.try_get("number")?,
        display_name: row.try_get("display_name")?,
        e164: row.try_get("e164")?,
        customer_id: row.try_get("customer_id")?,
        customer_name: row.try_get("customer_name")?,
        // A damaged IVR column loses the IVR data of that call only, never the call.
        ivr: serde_json::from_str(&ivr).unwrap_or_default(),
        ring_at: row.try_get("ring_at")?,
        answer_at: row.try_get("answer_at")?,
        end_at: row.try_get("end_at")?,
        hold_ms: row.try_get("hold_ms")?,
        transferred_to: row.try_get("transferred_to")?,
        end_reason: row.try_get("end_reason")?,
        wrap_up_code: row.try_get("wrap_up_code")?,
        wrap_up_at: row.try_get("wrap_up_at")?,
        notes: row.try_get("notes")?,
        sync_error: row.try_get("sync_error")?,
        satisfaction: row.try_get("satisfaction")?,
        recording: row.try_get("recording")?,
        colleague: false,
        quality: crate::call_quality::CallQuality::from_row(row)?,
    })
}

impl CallLog {
    pub async fn open(path: &Path) -> Result<Self, CallLogError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        // Schema changes on a connection of their own: pooled connections cache statements,
        // and a cached `SELECT *` must never see the table change under it.
        let setup = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&setup).await?;
        let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info('calls')")
            .fetch_all(&setup)
            .await?
            .iter()
            .map(|row| row.try_get("name"))
            .collect::<Result<_, _>>()?;
        for (name, definition) in ADDED_COLUMNS {
            if !columns.iter().any(|c| c == name) {
                sqlx::raw_sql(&format!("ALTER TABLE calls ADD COLUMN {name} {definition}"))
                    .execute(&setup)
                    .await?;
            }
        }
        setup.close().await;
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Records what happened to a call at `now`. Signals for calls the log never saw ring or
    /// dial (e.g. after a restart) are ignored, not errors.
    pub async fn apply(&self, signal: &CallSignal, now: i64) -> Result<(), CallLogError> {
        let query = match signal {
            CallSignal::Ringing {
                call,
                number,
                display_name,
                ivr,
            } => sqlx::query(
                "INSERT OR IGNORE INTO calls (id, direction, number, display_name, ivr, ring_at)
                 VALUES (?, 'incoming', ?, ?, ?, ?)",
            )
            .bind(call)
            .bind(number)
            .bind(display_name)
            .bind(serde_json::to_string(ivr).unwrap_or_else(|_| "{}".into()))
            .bind(now),
            CallSignal::Dialing { call, target } => sqlx::query(
                "INSERT OR IGNORE INTO calls (id, direction, number, ring_at)
                 VALUES (?, 'outgoing', ?, ?)",
            )
            .bind(call)
            .bind(target)
            .bind(now),
            CallSignal::Answered { call } => {
                sqlx::query("UPDATE calls SET answer_at = ?, revision = revision + 1 WHERE id = ? AND answer_at IS NULL")
                    .bind(now)
                    .bind(call)
            }
            CallSignal::Held { call } => sqlx::query(
                "UPDATE calls SET hold_since = ?, revision = revision + 1 WHERE id = ? AND hold_since IS NULL AND end_at IS NULL",
            )
            .bind(now)
            .bind(call),
            CallSignal::Resumed { call } => sqlx::query(
                "UPDATE calls SET hold_ms = hold_ms + MAX(0, ? - hold_since), hold_since = NULL,
                     revision = revision + 1
                 WHERE id = ? AND hold_since IS NOT NULL",
            )
            .bind(now)
            .bind(call),
            CallSignal::Transferred { call, target } => {
                sqlx::query("UPDATE calls SET transferred_to = ?, revision = revision + 1 WHERE id = ?")
                    .bind(target)
                    .bind(call)
            }
            CallSignal::Ended { call, reason } => sqlx::query(
                "UPDATE calls SET end_at = ?, end_reason = ?,
                     hold_ms = hold_ms + CASE WHEN hold_since IS NULL THEN 0
                                              ELSE MAX(0, ? - hold_since) END,
                     hold_since = NULL, revision = revision + 1
                 WHERE id = ? AND end_at IS NULL",
            )
            .bind(now)
            .bind(reason)
            .bind(now)
            .bind(call),
        };
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// Stores a call's final media quality: a change the server is told about (supervisors
    /// find poor calls there), so the revision grows.
    pub async fn set_quality(
        &self,
        call: &str,
        quality: &crate::call_quality::CallQuality,
    ) -> Result<(), CallLogError> {
        sqlx::query(
            "UPDATE calls SET mos = ?, loss_percent = ?, remote_loss_percent = ?, jitter_ms = ?,
                 rtt_ms = ?, revision = revision + 1
             WHERE id = ?",
        )
        .bind(quality.mos)
        .bind(quality.loss_percent)
        .bind(quality.remote_loss_percent)
        .bind(quality.jitter_ms)
        .bind(quality.rtt_ms)
        .bind(call)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notes the call's recording file. Local only: no new revision for the server.
    pub async fn set_recording(&self, call: &str, path: &str) -> Result<(), CallLogError> {
        sqlx::query("UPDATE calls SET recording = ? WHERE id = ?")
            .bind(path)
            .bind(call)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Links a call to the customer the pop found (or the agent picked).
    pub async fn set_customer(
        &self,
        call: &str,
        e164: Option<&str>,
        customer: Option<(&str, &str)>,
    ) -> Result<(), CallLogError> {
        sqlx::query(
            "UPDATE calls SET e164 = COALESCE(?, e164), customer_id = ?, customer_name = ?,
                 revision = revision + 1
             WHERE id = ?",
        )
        .bind(e164)
        .bind(customer.map(|c| c.0))
        .bind(customer.map(|c| c.1))
        .bind(call)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The agent's wrap-up: a code from the center's list (required) and notes.
    pub async fn wrap_up(
        &self,
        call: &str,
        code: &str,
        notes: &str,
        now: i64,
    ) -> Result<CallRecord, CallLogError> {
        check_wrap_up(code, notes)?;
        let code = code.trim();
        let done = sqlx::query(
            "UPDATE calls SET wrap_up_code = ?, notes = ?, wrap_up_at = ?, revision = revision + 1
             WHERE id = ?",
        )
        .bind(code)
        .bind(notes.trim())
        .bind(now)
        .bind(call)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(CallLogError::NoSuchCall(call.to_owned()));
        }
        self.get(call)
            .await?
            .ok_or_else(|| CallLogError::NoSuchCall(call.to_owned()))
    }

    pub async fn get(&self, call: &str) -> Result<Option<CallRecord>, CallLogError> {
        sqlx::query("SELECT * FROM calls WHERE id = ?")
            .bind(call)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// The latest calls with a customer or (unlinked calls) from any of `e164s`, newest first.
    pub async fn recent(
        &self,
        customer_id: &str,
        e164s: &[String],
        limit: u32,
    ) -> Result<Vec<CallRecord>, CallLogError> {
        let placeholders = vec!["?"; e164s.len()].join(", ");
        let by_number = if e164s.is_empty() {
            String::new()
        } else {
            format!(" OR (customer_id IS NULL AND e164 IN ({placeholders}))")
        };
        let sql = format!(
            "SELECT * FROM calls WHERE customer_id = ?{by_number} ORDER BY ring_at DESC LIMIT ?"
        );
        let mut query = sqlx::query(&sql).bind(customer_id);
        for e164 in e164s {
            query = query.bind(e164);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(record).collect()
    }

    /// Calls whose latest revision the server has not stored yet, oldest first.
    pub async fn unsynced(&self, limit: u32) -> Result<Vec<PendingCall>, CallLogError> {
        let rows = sqlx::query(
            "SELECT * FROM calls WHERE revision > synced_revision ORDER BY ring_at, id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingCall {
                    revision: row.try_get("revision")?,
                    record: record(row)?,
                })
            })
            .collect()
    }

    /// The server holds `call` at `revision` (or newer): a later change is pushed again.
    pub async fn mark_synced(&self, call: &str, revision: i64) -> Result<(), CallLogError> {
        sqlx::query(
            "UPDATE calls SET synced_revision = MAX(synced_revision, ?), sync_error = NULL
             WHERE id = ?",
        )
        .bind(revision)
        .bind(call)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The server refused `call` at `revision`: kept with the reason, pushed again only when
    /// it changes.
    pub async fn mark_rejected(
        &self,
        call: &str,
        revision: i64,
        reason: &str,
    ) -> Result<(), CallLogError> {
        sqlx::query(
            "UPDATE calls SET synced_revision = MAX(synced_revision, ?), sync_error = ? WHERE id = ?",
        )
        .bind(revision)
        .bind(reason)
        .bind(call)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a change of the agent's state (once per entry id).
    pub async fn record_state(&self, entry: &StateEntry) -> Result<(), CallLogError> {
        sqlx::query(
            "INSERT OR IGNORE INTO agent_states (id, state, reason, wrap_up_code, at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&entry.id)
        .bind(&entry.state)
        .bind(&entry.reason)
        .bind(&entry.wrap_up_code)
        .bind(entry.at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// State changes the server has not stored yet, oldest first.
    pub async fn unsynced_states(&self, limit: u32) -> Result<Vec<StateEntry>, CallLogError> {
        let rows =
            sqlx::query("SELECT * FROM agent_states WHERE synced = 0 ORDER BY at, id LIMIT ?")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(StateEntry {
                    id: row.try_get("id")?,
                    state: row.try_get("state")?,
                    reason: row.try_get("reason")?,
                    wrap_up_code: row.try_get("wrap_up_code")?,
                    at: row.try_get("at")?,
                })
            })
            .collect()
    }

    /// The server stored (or refused, with `error`) a state entry.
    pub async fn mark_state_synced(
        &self,
        id: &str,
        error: Option<&str>,
    ) -> Result<(), CallLogError> {
        sqlx::query("UPDATE agent_states SET synced = 1, sync_error = ? WHERE id = ?")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Calls and state entries waiting for the server, and calls it refused.
    pub async fn sync_counts(&self) -> Result<SyncCounts, CallLogError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM calls WHERE revision > synced_revision) AS calls,
                    (SELECT COUNT(*) FROM calls WHERE sync_error IS NOT NULL) AS refused,
                    (SELECT COUNT(*) FROM agent_states WHERE synced = 0) AS states",
        )
        .fetch_one(&self.pool)
        .await?;
        let count = |name: &str| -> Result<u64, CallLogError> {
            Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0))
        };
        Ok(SyncCounts {
            calls_waiting: count("calls")?,
            calls_refused: count("refused")?,
            states_waiting: count("states")?,
        })
    }

    /// Calls placed from this desktop in `[from, to)`, oldest first.
    pub async fn outgoing_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<CallRecord>, CallLogError> {
        let rows = sqlx::query(
            "SELECT * FROM calls WHERE direction = 'outgoing' AND ring_at >= ? AND ring_at < ?
             ORDER BY ring_at",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    /// Takes the survey scores the server holds for calls of this log; returns how many
    /// changed. A score for a call this log does not have is ignored.
    pub async fn set_scores(&self, scores: &[(String, i64)]) -> Result<u64, CallLogError> {
        let mut changed = 0;
        for (call, score) in scores {
            changed += sqlx::query(
                "UPDATE calls SET satisfaction = ? WHERE id = ? AND satisfaction IS NOT ?",
            )
            .bind(score)
            .bind(call)
            .bind(score)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(changed)
    }

    /// Figures over the calls that rang since `since` (the start of the agent's day).
    pub async fn figures(&self, since: i64) -> Result<DayFigures, CallLogError> {
        let rows = sqlx::query("SELECT * FROM calls WHERE ring_at >= ?")
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
        let calls: Vec<CallRecord> = rows.iter().map(record).collect::<Result<_, _>>()?;
        let mut figures = DayFigures {
            calls: u32::try_from(calls.len()).unwrap_or(u32::MAX),
            ..DayFigures::default()
        };
        let mut handle_ms = 0i64;
        for call in &calls {
            match (call.answer_at, call.end_at) {
                (Some(answer), Some(end)) => {
                    figures.handled += 1;
                    let wrap = call.wrap_up_at.map_or(0, |w| (w - end).max(0));
                    handle_ms += (end - answer).max(0) + wrap;
                    figures.after_call_work_s += wrap as f64 / 1000.0;
                    if call.wrap_up_code.is_none() {
                        figures.without_wrap_up += 1;
                    }
                }
                (None, Some(_)) if call.direction == "incoming" => figures.missed += 1,
                _ => {}
            }
        }
        let scores: Vec<i64> = calls.iter().filter_map(|c| c.satisfaction).collect();
        figures.scored = u32::try_from(scores.len()).unwrap_or(u32::MAX);
        if !scores.is_empty() {
            figures.average_score = Some(scores.iter().sum::<i64>() as f64 / scores.len() as f64);
        }
        if figures.handled > 0 {
            figures.average_handle_s = handle_ms as f64 / 1000.0 / f64::from(figures.handled);
        }
        Ok(figures)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A `calls.db` as the first desktops wrote it (before sync, scores, quality, recordings),
    /// holding one incoming call `old`.
    pub(crate) async fn write_pre_sync_call_log(path: &std::path::Path) {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE calls (id TEXT PRIMARY KEY, direction TEXT NOT NULL, number TEXT,
             display_name TEXT, e164 TEXT, customer_id TEXT, customer_name TEXT,
             ivr TEXT NOT NULL DEFAULT '{}', ring_at INTEGER NOT NULL, answer_at INTEGER,
             end_at INTEGER, hold_ms INTEGER NOT NULL DEFAULT 0, hold_since INTEGER,
             transferred_to TEXT, end_reason TEXT, wrap_up_code TEXT, wrap_up_at INTEGER,
             notes TEXT NOT NULL DEFAULT '');
             INSERT INTO calls (id, direction, ring_at) VALUES ('old', 'incoming', 5);",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    async fn log(dir: &tempfile::TempDir) -> CallLog {
        CallLog::open(&dir.path().join("calls.db")).await.unwrap()
    }

    fn ringing(call: &str, number: &str) -> CallSignal {
        let mut ivr = BTreeMap::new();
        ivr.insert("X-IVR-Menu".to_owned(), "1>2".to_owned());
        CallSignal::Ringing {
            call: call.into(),
            number: Some(number.into()),
            display_name: None,
            ivr,
        }
    }

    #[tokio::test]
    async fn every_change_bumps_the_revision_the_server_must_get() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(&dir).await;
        log.apply(&ringing("c1", "013800138000"), 1_000)
            .await
            .unwrap();
        let first = log.unsynced(10).await.unwrap();
        assert_eq!(first.len(), 1);
        log.mark_synced("c1", first[0].revision).await.unwrap();
        assert!(log.unsynced(10).await.unwrap().is_empty());
        log.apply(&CallSignal::Answered { call: "c1".into() }, 2_000)
            .await
            .unwrap();
        // A late acknowledgement of the old revision does not hide the new one.
        log.mark_synced("c1", first[0].revision).await.unwrap();
        let second = log.unsynced(10).await.unwrap();
        assert_eq!(second.len(), 1);
        assert!(second[0].revision > first[0].revision);
        assert_eq!(second[0].record.answer_at, Some(2_000));
        log.mark_rejected("c1", second[0].revision, "no customer")
            .await
            .unwrap();
        let counts = log.sync_counts().await.unwrap();
        assert_eq!((counts.calls_waiting, counts.calls_refused), (0, 1));
        log.apply(
            &CallSignal::Ended {
                call: "c1".into(),
                reason: "bye".into(),
            },
            3_000,
        )
        .await
        .unwrap();
        assert_eq!(log.sync_counts().await.unwrap().calls_waiting, 1);
    }

    #[tokio::test]
    async fn a_call_log_from_before_sync_opens_with_its_calls_waiting_for_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.db");
        write_pre_sync_call_log(&path).await;
        let log = CallLog::open(&path).await.unwrap();
        let pending = log.unsynced(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].record.id, "old");
        assert_eq!(pending[0].revision, 1);
        // The recording column was added too: an old call takes a recording reference.
        assert_eq!(pending[0].record.recording, None);
        log.set_recording("old", "/rec/old.wav").await.unwrap();
        let old = log.get("old").await.unwrap().unwrap();
        assert_eq!(old.recording.as_deref(), Some("/rec/old.wav"));
        // Local only: the server has nothing new to take.
        assert_eq!(log.unsynced(10).await.unwrap()[0].revision, 1);
    }

    #[tokio::test]
    async fn a_call_is_logged_from_ringing_to_wrap_up_with_its_hold_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(&dir).await;
        log.apply(&ringing("a", "013800138000"), 1_000)
            .await
            .unwrap();
        log.set_customer("a", Some("+8613800138000"), Some(("c-1", "张伟")))
            .await
            .unwrap();
        log.apply(&CallSignal::Answered { call: "a".into() }, 4_000)
            .await
            .unwrap();
        log.apply(&CallSignal::Held { call: "a".into() }, 10_000)
            .await
            .unwrap();
        // A second hold signal while held does not restart the hold clock.
        log.apply(&CallSignal::Held { call: "a".into() }, 12_000)
            .await
            .unwrap();
        log.apply(&CallSignal::Resumed { call: "a".into() }, 15_000)
            .await
            .unwrap();
        log.apply(&CallSignal::Held { call: "a".into() }, 20_000)
            .await
            .unwrap();
        // Ended while on hold: the open hold counts up to the end.
        log.apply(
            &CallSignal::Ended {
                call: "a".into(),
                reason: "remote_hangup".into(),
            },
            22_000,
        )
        .await
        .unwrap();
        let err = log.wrap_up("a", " ", "x", 30_000).await.unwrap_err();
        assert!(matches!(err, CallLogError::Invalid(_)));
        let done = log
            .wrap_up("a", "billing", "退款已受理", 34_000)
            .await
            .unwrap();
        assert_eq!(done.hold_ms, 7_000);
        assert_eq!(done.talk_ms(), Some(18_000));
        assert_eq!(done.customer_name.as_deref(), Some("张伟"));
        assert_eq!(done.ivr.get("X-IVR-Menu").map(String::as_str), Some("1>2"));
        assert_eq!(done.wrap_up_code.as_deref(), Some("billing"));
        assert!(matches!(
            log.wrap_up("nope", "billing", "", 1).await,
            Err(CallLogError::NoSuchCall(_))
        ));
        let long = "字".repeat(MAX_NOTES + 1);
        assert!(log.wrap_up("a", "billing", &long, 1).await.is_err());
    }

    #[tokio::test]
    async fn history_and_figures_for_the_day() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(&dir).await;
        // Handled: 10 s talk, 5 s wrap-up.
        log.apply(&ringing("a", "+8613800138000"), 100_000)
            .await
            .unwrap();
        log.set_customer("a", Some("+8613800138000"), Some(("c-1", "张伟")))
            .await
            .unwrap();
        log.apply(&CallSignal::Answered { call: "a".into() }, 102_000)
            .await
            .unwrap();
        let end = |call: &str| CallSignal::Ended {
            call: call.into(),
            reason: "remote_hangup".into(),
        };
        log.apply(&end("a"), 112_000).await.unwrap();
        log.wrap_up("a", "billing", "", 117_000).await.unwrap();
        // Missed: rang and ended unanswered; the number was known but no customer linked.
        log.apply(&ringing("b", "+8613800138000"), 200_000)
            .await
            .unwrap();
        log.set_customer("b", Some("+8613800138000"), None)
            .await
            .unwrap();
        log.apply(&end("b"), 205_000).await.unwrap();
        // Handled outgoing without a wrap-up yet: 20 s.
        log.apply(
            &CallSignal::Dialing {
                call: "c".into(),
                target: "1003".into(),
            },
            300_000,
        )
        .await
        .unwrap();
        log.apply(&CallSignal::Answered { call: "c".into() }, 301_000)
            .await
            .unwrap();
        log.apply(&end("c"), 321_000).await.unwrap();
        // Yesterday's call does not count.
        log.apply(&ringing("old", "+8613800138000"), 10)
            .await
            .unwrap();

        let figures = log.figures(50_000).await.unwrap();
        assert_eq!(figures.calls, 3);
        assert_eq!(figures.handled, 2);
        assert_eq!(figures.missed, 1);
        assert_eq!(figures.without_wrap_up, 1);
        assert!(
            (figures.average_handle_s - 17.5).abs() < 1e-9,
            "{figures:?}"
        );
        assert!((figures.after_call_work_s - 5.0).abs() < 1e-9);

        let history = log
            .recent("c-1", &["+8613800138000".to_owned()], 10)
            .await
            .unwrap();
        let ids: Vec<&str> = history.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["b", "a"],
            "newest first; the unlinked call by its number"
        );
        assert!(log.recent("c-2", &[], 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn signals_for_calls_it_never_saw_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let log = log(&dir).await;
        log.apply(
            &CallSignal::Answered {
                call: "ghost".into(),
            },
            1,
        )
        .await
        .unwrap();
        log.apply(
            &CallSignal::Ended {
                call: "ghost".into(),
                reason: "x".into(),
            },
            2,
        )
        .await
        .unwrap();
        assert!(log.get("ghost").await.unwrap().is_none());
        // A repeated ringing signal keeps the first ring time.
        log.apply(&ringing("a", "1"), 5).await.unwrap();
        log.apply(&ringing("a", "1"), 9).await.unwrap();
        assert_eq!(log.get("a").await.unwrap().unwrap().ring_at, 5);
    }
}
