//! Pulling the server's customer feed into the cache: `GET /customers?cursor=…&include_deleted=true`
//! page by page, each page applied in one transaction with its cursor, so a cut or a crash
//! resumes where it stopped and a page is never half-applied.

use crate::{CacheError, Customer, CustomerCache};
use serde::Deserialize;
use std::time::Duration;

/// Customers per page (the server's maximum).
pub const FEED_PAGE: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("the server no longer accepts this login; sign in again")]
    Unauthorized,
    #[error("the server refused the customer feed ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the server's customer feed is not readable: {0}")]
    Decode(String),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

#[derive(Debug, Deserialize)]
struct Page {
    items: Vec<Customer>,
    next_cursor: Option<String>,
    has_more: bool,
}

/// An HTTP client for the feed with the sync client's defaults: 5 s to connect, 15 s of
/// silence, and a generous 60 s per page.
pub fn client() -> Result<reqwest::Client, FeedError> {
    client_with(
        Duration::from_secs(5),
        Duration::from_secs(15),
        Duration::from_secs(60),
    )
}

/// An HTTP client that gives up on a server after `connect` to open the connection, `read` of
/// silence while waiting for bytes (a dead NAT entry, a frozen server: the pull fails and the
/// next one retries), or `request` for one whole request however slowly it trickles.
pub fn client_with(
    connect: Duration,
    read: Duration,
    request: Duration,
) -> Result<reqwest::Client, FeedError> {
    // reqwest is built without a crypto provider so the app carries only `ring`.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(connect)
        .read_timeout(read)
        .timeout(request)
        .build()
        .map_err(|e| FeedError::Network(e.to_string()))
}

/// What one pull did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullReport {
    pub pages: u32,
    /// Customers changed, added or removed.
    pub changed: u64,
}

/// Pulls every change since the cache's cursor from the server at `base` (its URL without
/// `/api/v1`) with the agent's `token`.
pub async fn pull(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    cache: &CustomerCache,
) -> Result<PullReport, FeedError> {
    let url = format!("{}/api/v1/customers", base.trim_end_matches('/'));
    let mut report = PullReport::default();
    loop {
        let cursor = cache.cursor().await?;
        let mut query: Vec<(&str, String)> = vec![
            ("limit", FEED_PAGE.to_string()),
            ("include_deleted", "true".into()),
        ];
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        let response = http
            .get(&url)
            .bearer_auth(token)
            .query(&query)
            .send()
            .await
            .map_err(|e| FeedError::Network(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(FeedError::Unauthorized);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| FeedError::Network(e.to_string()))?;
        if !status.is_success() {
            return Err(FeedError::Refused {
                status: status.as_u16(),
                message: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        let page: Page =
            serde_json::from_slice(&body).map_err(|e| FeedError::Decode(e.to_string()))?;
        cache
            .apply_page(&page.items, page.next_cursor.as_deref())
            .await?;
        report.pages += 1;
        report.changed += page.items.len() as u64;
        if !page.has_more || page.items.is_empty() {
            return Ok(report);
        }
    }
}
