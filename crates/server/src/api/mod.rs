//! HTTP API (axum): router, extractors that turn every rejection into JSON `{code, message}`,
//! bearer authentication, request tracing, and the serve loop with graceful shutdown.

mod accounts;
mod calls;
mod customers;
mod kb;
mod sync;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_server::tls_rustls::RustlsConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::accounts::authenticate;
use crate::authz::Principal;
use crate::clock::ServerClock;
use crate::error::{Error, Result};
use crate::live::ChangeHub;
use crate::store::Store;

/// Default token lifetime: 12 hours (one long shift).
pub const DEFAULT_TOKEN_TTL_SECS: i64 = 12 * 3600;

/// Largest accepted request body (CSV imports).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Shared state of the HTTP handlers. Holds nothing that matters for correctness beyond the
/// database handle, so any number of instances can serve one PostgreSQL.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Lifetime of issued tokens, in seconds.
    pub token_ttl_secs: i64,
    /// Server time for work orders (SLA, note and status times).
    pub clock: ServerClock,
    /// Wakes long polls when orders change (LISTEN/NOTIFY across instances on PostgreSQL).
    pub hub: Arc<ChangeHub>,
}

impl AppState {
    /// State with the default token lifetime and the real clock.
    pub fn new(store: Store) -> AppState {
        let hub = ChangeHub::new(store.postgres_url());
        AppState {
            store,
            token_ttl_secs: DEFAULT_TOKEN_TTL_SECS,
            clock: ServerClock::new(),
            hub,
        }
    }
}

/// The full router.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/login", post(accounts::login))
        .route("/logout", post(accounts::logout))
        .route("/me", get(accounts::me))
        .route(
            "/teams",
            get(accounts::list_teams).post(accounts::create_team),
        )
        .route("/teams/{team_id}/members", post(accounts::add_member))
        .route(
            "/teams/{team_id}/members/{user_id}",
            axum::routing::delete(accounts::remove_member),
        )
        .route(
            "/users",
            get(accounts::list_users).post(accounts::create_user),
        )
        .route(
            "/users/{user_id}",
            get(accounts::get_user).patch(accounts::update_user),
        )
        .route("/customers", get(customers::list).post(customers::create))
        .route("/customers/import", post(customers::import))
        .route(
            "/customers/{customer_id}",
            get(customers::get)
                .patch(customers::update)
                .delete(customers::delete),
        )
        .route("/calls", get(calls::list_calls).post(calls::upload_calls))
        .route(
            "/agent-states",
            get(calls::list_states).post(calls::upload_states),
        )
        .route("/call-scores", post(calls::upload_scores))
        .route("/reports/call-quality", get(calls::quality_report))
        .route("/kb/articles", post(kb::publish))
        .route("/kb/changes", get(kb::changes))
        .route(
            "/playbook",
            get(calls::get_playbook).put(calls::put_playbook),
        )
        .route("/sync/push", post(sync::push))
        .route("/sync/pull", get(sync::pull))
        .route("/sync/wait", get(sync::wait))
        .route("/work-orders", get(sync::list))
        .route(
            "/tenant/sla-policy",
            get(sync::get_sla_policy).put(sync::put_sla_policy),
        );
    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(trace_requests))
        .with_state(state)
}

/// Serve `router(state)` on `listener` until `shutdown` completes, then finish in-flight
/// requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Load a PEM certificate chain and private key into a rustls server config (ring provider,
/// TLS 1.2 and 1.3, HTTP/1.1).
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot read TLS certificate {}: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Invalid(format!(
            "no certificate in {}",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::Invalid(format!("cannot read TLS key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| Error::Invalid(format!("invalid TLS certificate or key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Like [`serve`], over TLS. In-flight requests get 30 s to finish after `shutdown`.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let trigger = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))?
        .handle(handle)
        .serve(router(state).into_make_service())
        .await
}

async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ok" })))
}

async fn not_found() -> Error {
    Error::NotFound("no such endpoint".to_owned())
}

async fn method_not_allowed() -> Response {
    let body = crate::error::ErrorBody {
        code: "method_not_allowed",
        message: "method not allowed on this endpoint".to_owned(),
    };
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// One span per request with a request id; logs status and latency.
async fn trace_requests(request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!(
        "request",
        id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    async move {
        let started = Instant::now();
        let mut response = next.run(request).await;
        let status = response.status().as_u16();
        let micros = started.elapsed().as_micros() as u64;
        if status >= 500 {
            tracing::error!(status, micros, "response");
        } else {
            tracing::info!(status, micros, "response");
        }
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
    .instrument(span)
    .await
}

/// `Json` whose rejection is a JSON error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> Error {
    Error::Invalid(format!("invalid JSON body: {}", rejection.body_text()))
}

/// `Query` whose rejection is a JSON error.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| Error::Invalid(e.body_text()))
    }
}

/// `Path` whose rejection is a JSON error.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| Error::Invalid(e.body_text()))
    }
}

/// Authenticated caller: `Authorization: Bearer <token>`, checked against the database.
impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| Error::Unauthorized("missing Authorization header".to_owned()))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Unauthorized("expected a Bearer token".to_owned()))?;
        authenticate(&state.store, token).await
    }
}
