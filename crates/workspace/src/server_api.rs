//! One way to call the central server's JSON API from the desktop: the bearer token, the reply
//! read as JSON, and a failure told apart as unreachable, refused (with the server's own
//! message) or unreadable. Each caller turns [`ApiFailure`] into its own error.

use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiFailure {
    /// No answer: network, DNS, TLS, timeout.
    Unreachable(String),
    /// An answer that is not a success, with the server's `message` when it sent one.
    Refused { status: u16, message: String },
    /// A success whose body is not what was expected.
    Unreadable(String),
}

/// Sends `request` with `token` and reads a successful reply as `T`.
pub(crate) async fn send_json<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
    token: &str,
) -> Result<T, ApiFailure> {
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| ApiFailure::Unreachable(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let message = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        return Err(ApiFailure::Refused {
            status: status.as_u16(),
            message,
        });
    }
    response
        .json()
        .await
        .map_err(|e| ApiFailure::Unreadable(e.to_string()))
}
