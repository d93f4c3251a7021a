//! Work-order sync and lists: push, pull, long poll, list views, the tenant's SLA policy.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use seatline_sync_protocol::{PulledChanges, PushAck, PushRequest};
use seatline_work_orders::SlaPolicy;
use serde::Deserialize;

use super::{ApiJson, ApiQuery, AppState};
use crate::authz::Principal;
use crate::error::{Error, Result};
use crate::work_orders::{self, OrderList, View, WaitResult};

/// Default long-poll timeout.
pub const DEFAULT_WAIT_MS: u64 = 25_000;
/// Longest long-poll timeout.
pub const MAX_WAIT_MS: u64 = 60_000;

pub(super) async fn push(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(request): ApiJson<PushRequest>,
) -> Result<Json<PushAck>> {
    Ok(Json(
        work_orders::push(&state.store, &state.hub, &state.clock, &principal, &request).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PullQuery {
    client_id: String,
    cursor: Option<String>,
    limit: Option<u32>,
}

pub(super) async fn pull(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<PullQuery>,
) -> Result<Json<PulledChanges>> {
    let client_id = uuid::Uuid::parse_str(&query.client_id)
        .map_err(|_| Error::Invalid(format!("client_id {:?} is not a UUID", query.client_id)))?
        .to_string();
    Ok(Json(
        work_orders::pull(
            &state.store,
            &principal,
            &client_id,
            query.cursor.as_deref(),
            query.limit,
        )
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitQuery {
    cursor: Option<String>,
    timeout_ms: Option<u64>,
}

pub(super) async fn wait(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<WaitQuery>,
) -> Result<Json<WaitResult>> {
    let timeout =
        Duration::from_millis(query.timeout_ms.unwrap_or(DEFAULT_WAIT_MS).min(MAX_WAIT_MS));
    Ok(Json(
        work_orders::wait_for_change(
            &state.store,
            &state.hub,
            &principal.tenant_id,
            query.cursor.as_deref(),
            timeout,
        )
        .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    view: View,
    limit: Option<u32>,
    /// Title, customer id or contact phone contains this (case-insensitive).
    q: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<OrderList>> {
    Ok(Json(
        work_orders::list(
            &state.store,
            &state.clock,
            &principal,
            query.view,
            query.limit,
            query.q.as_deref(),
        )
        .await?,
    ))
}

pub(super) async fn get_sla_policy(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<SlaPolicy>> {
    Ok(Json(
        work_orders::sla_policy(&state.store, &principal.tenant_id).await?,
    ))
}

pub(super) async fn put_sla_policy(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(policy): ApiJson<SlaPolicy>,
) -> Result<Json<SlaPolicy>> {
    Ok(Json(
        work_orders::set_sla_policy(&state.store, &principal, &policy).await?,
    ))
}
