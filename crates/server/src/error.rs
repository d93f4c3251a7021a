//! One error type for storage, domain and API; it renders as JSON `{code, message}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the server, with the HTTP status it maps to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database driver or connection error (500, details only in the log).
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Schema migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The resource does not exist, or exists in another tenant (404).
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness or version conflict (409).
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but its content is invalid (400).
    #[error("{0}")]
    Invalid(String),
    /// The uploaded CSV cannot be read at all (400).
    #[error("{0}")]
    MalformedCsv(String),
    /// The request body is too large (413).
    #[error("{0}")]
    TooLarge(String),
    /// Missing, unknown, expired or revoked credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    /// A bug or an unexpected state (500, details only in the log).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl Error {
    /// The HTTP status and stable code for this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Db(_) | Error::Migration(_) | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Error::MalformedCsv(_) => (StatusCode::BAD_REQUEST, "malformed_csv"),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        }
    }

    /// True when the database reported a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Db(sqlx::Error::Database(e)) => e.is_unique_violation(),
            _ => false,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "internal server error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (status, axum::Json(ErrorBody { code, message })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
