//! The call log and the agents' state history: uploads from desktops, reads for the screen
//! pop's history and for supervisors.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiQuery, AppState};
use crate::authz::Principal;
use crate::call_quality::{self, QualityQuery, QualityReport};
use crate::calls::{
    self, CallQuery, CallUpload, StateQuery, StateUpload, StoredCall, StoredState, UploadReport,
};
use crate::error::Result;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CallsBody {
    calls: Vec<CallUpload>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatesBody {
    states: Vec<StateUpload>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScoresBody {
    scores: Vec<calls::ScoreUpload>,
}

pub(super) async fn upload_scores(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ScoresBody>,
) -> Result<Json<UploadReport>> {
    Ok(Json(
        calls::upload_scores(&state.store, &principal, &body.scores).await?,
    ))
}

#[derive(Serialize)]
pub(super) struct CallsPage {
    items: Vec<StoredCall>,
}

#[derive(Serialize)]
pub(super) struct StatesPage {
    items: Vec<StoredState>,
}

pub(super) async fn upload_calls(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CallsBody>,
) -> Result<Json<UploadReport>> {
    Ok(Json(
        calls::upload_calls(&state.store, &principal, &body.calls).await?,
    ))
}

pub(super) async fn list_calls(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CallQuery>,
) -> Result<Json<CallsPage>> {
    Ok(Json(CallsPage {
        items: calls::list_calls(&state.store, &principal, &query).await?,
    }))
}

/// Supervisors' call-quality report (agents get their own figures).
pub(super) async fn quality_report(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<QualityQuery>,
) -> Result<Json<QualityReport>> {
    Ok(Json(
        call_quality::report(&state.store, &principal, &query).await?,
    ))
}

pub(super) async fn upload_states(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<StatesBody>,
) -> Result<Json<UploadReport>> {
    Ok(Json(
        calls::upload_states(&state.store, &principal, &body.states).await?,
    ))
}

pub(super) async fn list_states(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<StateQuery>,
) -> Result<Json<StatesPage>> {
    Ok(Json(StatesPage {
        items: calls::list_states(&state.store, &principal, &query).await?,
    }))
}

pub(super) async fn get_playbook(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<seatline_playbook::Playbook>> {
    Ok(Json(crate::playbook::get(&state.store, &principal).await?))
}

pub(super) async fn put_playbook(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<seatline_playbook::Playbook>,
) -> Result<Json<seatline_playbook::Playbook>> {
    Ok(Json(
        crate::playbook::put(&state.store, &principal, body).await?,
    ))
}
