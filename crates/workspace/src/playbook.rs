//! The center's playbook on this desktop (crates/playbook): the last copy pulled from the
//! server (`GET /api/v1/playbook`), kept in `playbook.json` so wrap-up codes, Not-ready reasons
//! and phrases work offline and across restarts. Until the first pull: the built-in default.
//!
//! The file is only a cache of the server's copy: one that cannot be read is reported and
//! replaced at the next pull, and a playbook from the server that does not validate is refused
//! (the one in use stays).

use std::path::{Path, PathBuf};

use seatline_agent_state::AgentPolicy;
use seatline_playbook::Playbook;
use tokio::sync::watch;

use crate::server_api::{send_json, ApiFailure};

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("cannot save the playbook to {path}: {source}")]
    Save {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot reach the server for the playbook: {0}")]
    Network(String),
    #[error("the server refused the playbook request ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("the server's playbook cannot be used: {0}")]
    Unusable(String),
    /// A save that does not validate here; nothing was sent.
    #[error("the playbook cannot be saved: {0}")]
    Invalid(String),
}

impl PlaybookError {
    /// A stable code for the UI to branch on: a stale edit (`conflict`) is reloaded, an invalid
    /// one corrected, a refusal for the role (`forbidden`) explained.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Save { .. } => "storage",
            Self::Network(_) => "unreachable",
            Self::Server { status: 409, .. } => "conflict",
            Self::Server {
                status: 400 | 422, ..
            }
            | Self::Invalid(_) => "invalid",
            Self::Server {
                status: 401 | 403, ..
            } => "forbidden",
            Self::Server { .. } | Self::Unusable(_) => "server",
        }
    }
}

fn from_api(failure: ApiFailure) -> PlaybookError {
    match failure {
        ApiFailure::Unreachable(e) => PlaybookError::Network(e),
        ApiFailure::Refused { status, message } => PlaybookError::Server { status, message },
        ApiFailure::Unreadable(e) => PlaybookError::Unusable(e),
    }
}

/// The playbook in use, its file, and a channel that tells subscribers when it changes.
#[derive(Debug)]
pub struct PlaybookCache {
    path: PathBuf,
    current: watch::Sender<Playbook>,
}

impl PlaybookCache {
    /// Loads `path` (missing: the default). A file that cannot be read or does not validate
    /// gives the default and a warning to show.
    pub fn open(path: &Path) -> (Self, Option<String>) {
        let (book, warning) = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Playbook>(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|b| b.validate().map(|()| b).map_err(|e| e.to_string()))
            {
                Ok(book) => (book, None),
                Err(e) => (
                    Playbook::default(),
                    Some(format!(
                        "the saved playbook {} cannot be used ({e}); the built-in one is in use until the next pull",
                        path.display()
                    )),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Playbook::default(), None),
            Err(e) => (
                Playbook::default(),
                Some(format!(
                    "cannot read the saved playbook {}: {e}; the built-in one is in use",
                    path.display()
                )),
            ),
        };
        if let Some(warning) = &warning {
            tracing::warn!("{warning}");
        }
        (
            Self {
                path: path.to_owned(),
                current: watch::Sender::new(book),
            },
            warning,
        )
    }

    /// The playbook in use.
    pub fn current(&self) -> Playbook {
        self.current.borrow().clone()
    }

    /// Told whenever the playbook in use changes.
    pub fn subscribe(&self) -> watch::Receiver<Playbook> {
        self.current.subscribe()
    }

    /// Makes `book` the playbook in use, saving it first (write beside, then rename, so a
    /// crash leaves the old file or the new one). Returns whether anything changed; a failed
    /// save changes nothing.
    pub fn replace(&self, book: Playbook) -> Result<bool, PlaybookError> {
        if *self.current.borrow() == book {
            return Ok(false);
        }
        let save = |path: &Path| -> std::io::Result<()> {
            let tmp = path.with_extension("json.tmp");
            let bytes = serde_json::to_vec_pretty(&book).map_err(std::io::Error::other)?;
            {
                use std::io::Write;
                let mut file = std::fs::File::create(&tmp)?;
                file.write_all(&bytes)?;
                file.sync_all()?;
            }
            std::fs::rename(&tmp, path)
        };
        save(&self.path).map_err(|source| PlaybookError::Save {
            path: self.path.clone(),
            source,
        })?;
        self.current.send_replace(book);
        Ok(true)
    }
}

/// The agent-state policy a playbook sets.
pub fn agent_policy(book: &Playbook) -> AgentPolicy {
    AgentPolicy {
        not_ready_reasons: book.reason_codes(),
        after_call_work: book.after_call_work,
        after_call_work_limit_ms: book
            .after_call_work_limit_s
            .map(|s| i64::from(s).saturating_mul(1000)),
    }
}

/// Fetches the tenant's playbook from the server and checks it.
pub async fn pull(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> Result<Playbook, PlaybookError> {
    let url = format!("{}/api/v1/playbook", base.trim_end_matches('/'));
    let book: Playbook = send_json(http.get(url), token).await.map_err(from_api)?;
    book.validate()
        .map_err(|e| PlaybookError::Unusable(e.to_string()))?;
    Ok(book)
}

/// Saves a supervisor's edit on the server. `edit.revision` names the revision it was edited
/// from: the server refuses (409) when someone saved in between, so nobody's change is lost
/// silently. Returns the playbook as saved (its new revision).
pub async fn push(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    edit: &Playbook,
) -> Result<Playbook, PlaybookError> {
    // Checked here first: the supervisor sees every problem without a round trip.
    edit.validate()
        .map_err(|e| PlaybookError::Invalid(e.to_string()))?;
    let url = format!("{}/api/v1/playbook", base.trim_end_matches('/'));
    let saved: Playbook = send_json(http.put(url).json(edit), token)
        .await
        .map_err(from_api)?;
    saved
        .validate()
        .map_err(|e| PlaybookError::Unusable(e.to_string()))?;
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_gives_the_default_and_a_saved_one_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("playbook.json");
        let (cache, warning) = PlaybookCache::open(&path);
        assert_eq!(warning, None);
        assert_eq!(cache.current(), Playbook::default());
        let mut changes = cache.subscribe();

        let book = Playbook {
            revision: 3,
            after_call_work_limit_s: Some(30),
            ..Playbook::default()
        };
        assert!(cache.replace(book.clone()).unwrap());
        assert!(changes.has_changed().unwrap());
        assert_eq!(changes.borrow_and_update().revision, 3);
        // The same again is no change and no wake-up.
        assert!(!cache.replace(book.clone()).unwrap());
        assert!(!changes.has_changed().unwrap());

        let (again, warning) = PlaybookCache::open(&path);
        assert_eq!(warning, None);
        assert_eq!(again.current(), book);
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn a_broken_file_is_reported_and_the_default_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("playbook.json");
        std::fs::write(&path, b"{\"wrap_up_codes\": [").unwrap();
        let (cache, warning) = PlaybookCache::open(&path);
        assert!(warning.unwrap().contains("cannot be used"));
        assert_eq!(cache.current(), Playbook::default());
        // Valid JSON but not a usable playbook (no wrap-up code).
        std::fs::write(&path, br#"{"wrap_up_codes":[],"not_ready_reasons":[]}"#).unwrap();
        let (_, warning) = PlaybookCache::open(&path);
        assert!(warning.unwrap().contains("at least one wrap-up code"));
    }

    #[test]
    fn a_failed_save_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // The file's folder does not exist: the save fails.
        let path = dir.path().join("gone").join("playbook.json");
        let (cache, _) = PlaybookCache::open(&path);
        let book = Playbook {
            revision: 1,
            ..Playbook::default()
        };
        let error = cache.replace(book).unwrap_err();
        assert!(matches!(error, PlaybookError::Save { .. }), "{error}");
        assert_eq!(cache.current().revision, 0);
    }

    #[test]
    fn the_policy_follows_the_playbook() {
        let mut book = Playbook {
            after_call_work_limit_s: None,
            after_call_work: false,
            ..Playbook::default()
        };
        let policy = agent_policy(&book);
        assert_eq!(policy.not_ready_reasons, book.reason_codes());
        assert_eq!(policy.after_call_work_limit_ms, None);
        assert!(!policy.after_call_work);
        book.after_call_work_limit_s = Some(90);
        assert_eq!(agent_policy(&book).after_call_work_limit_ms, Some(90_000));
    }
}
