//! The account file (`account.json` in the data directory: ids only, never a password or a
//! token) and the few server calls the sync client does not make (teams, logout, long poll).
//!
//! DUPLICATE TO MERGE: `Account`, `load` and `save` follow `crates/cli/src/orders.rs` (same file,
//! same fields; `display_name`, `role` and `teams` are extra and optional, so both read each
//! other's file). Move the CLI onto this module when its owner is free.

use seatline_secrets::Secret;
use seatline_sync_client::RequestError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("cannot read or write the account file {path}: {detail}")]
    File { path: PathBuf, detail: String },
}

/// A team the agent belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRef {
    pub id: String,
    pub name: String,
}

/// Who is logged in on this desktop (no secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub server_url: String,
    pub tenant: String,
    pub username: String,
    pub tenant_id: String,
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub teams: Vec<TeamRef>,
}

impl Account {
    /// Same server, tenant and user: the local store belongs to this account.
    pub fn same_identity(&self, other: &Account) -> bool {
        self.server_url == other.server_url
            && self.tenant_id == other.tenant_id
            && self.user_id == other.user_id
    }
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("account.json")
}

fn file_error(path: &Path, e: impl ToString) -> AccountError {
    AccountError::File {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

pub fn load(data_dir: &Path) -> Result<Option<Account>, AccountError> {
    let path = path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(&path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| file_error(&path, e))
}

/// Writes the file atomically (temporary file, then rename).
pub fn save(data_dir: &Path, account: &Account) -> Result<(), AccountError> {
    let path = path(data_dir);
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(account).map_err(|e| file_error(&path, e))?;
    std::fs::write(&tmp, bytes).map_err(|e| file_error(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| file_error(&path, e))
}

/// Removes another account's local order store (only called when it holds no unsent change).
pub fn remove_store_files(data_dir: &Path) -> Result<(), AccountError> {
    for name in ["orders.db", "orders.db-wal", "orders.db-shm"] {
        let file = data_dir.join(name);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_error(&file, e)),
        }
    }
    Ok(())
}

fn http(timeout: Duration) -> Result<reqwest::Client, RequestError> {
    // reqwest is built without a crypto provider so the app carries only `ring`.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .build()
        .map_err(|e| RequestError::Network(e.to_string()))
}

async fn get_json(
    url: String,
    token: &Secret,
    timeout: Duration,
) -> Result<serde_json::Value, RequestError> {
    let response = http(timeout)?
        .get(url)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|e| RequestError::Network(e.to_string()))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(RequestError::Unauthorized);
    }
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| RequestError::Decode(e.to_string()))?;
    if !status.is_success() {
        return Err(RequestError::Refused {
            status: status.as_u16(),
            code: body["code"].as_str().unwrap_or("http").to_owned(),
            message: body["message"].as_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(body)
}

/// The teams the user belongs to (`GET /api/v1/teams`: non-admins see their own).
pub async fn fetch_teams(server_url: &str, token: &Secret) -> Result<Vec<TeamRef>, RequestError> {
    let body = get_json(
        format!("{server_url}/api/v1/teams"),
        token,
        Duration::from_secs(15),
    )
    .await?;
    let items = body
        .as_array()
        .or_else(|| body["items"].as_array())
        .cloned()
        .unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|t| {
            Some(TeamRef {
                id: t["id"].as_str()?.to_owned(),
                name: t["name"].as_str()?.to_owned(),
            })
        })
        .collect())
}

/// Revokes a token on the server; failures are only logged (the token is forgotten anyway).
pub async fn revoke(server_url: &str, token: &Secret) {
    let result = async {
        http(Duration::from_secs(3))?
            .post(format!("{server_url}/api/v1/logout"))
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| RequestError::Network(e.to_string()))
    }
    .await;
    if let Err(e) = result {
        tracing::info!(error = %e, "could not revoke the token on the server");
    }
}

/// Long poll: whether the tenant's orders changed past `cursor` within `timeout_ms`.
pub async fn wait_for_change(
    server_url: &str,
    token: &Secret,
    cursor: Option<&str>,
    timeout_ms: u64,
) -> Result<bool, RequestError> {
    let mut url = format!("{server_url}/api/v1/sync/wait?timeout_ms={timeout_ms}");
    if let Some(cursor) = cursor {
        url.push_str("&cursor=");
        url.push_str(&cursor.replace('&', "%26").replace('+', "%2B"));
    }
    let body = get_json(url, token, Duration::from_millis(timeout_ms + 10_000)).await?;
    Ok(body["changed"].as_bool().unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_account_file_reads_and_the_extra_fields_are_optional() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            path(dir.path()),
            r#"{"server_url":"http://x","tenant":"acme","username":"li","tenant_id":"t","user_id":"u"}"#,
        )
        .unwrap();
        let account = load(dir.path()).unwrap().unwrap();
        assert!(account.teams.is_empty());
        save(dir.path(), &account).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(!text.contains("token"));
        assert!(load(tempfile::tempdir().unwrap().path()).unwrap().is_none());
    }
}
