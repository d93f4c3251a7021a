//! Customer CRUD, cursor listing and CSV import.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{ApiJson, ApiPath, ApiQuery, AppState};
use crate::authz::Principal;
use crate::customers::{
    self, Customer, CustomerInput, CustomerPatch, ImportReport, ListParams, Page,
};
use crate::error::{Error, Result};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
    #[serde(default)]
    include_deleted: bool,
}

pub(super) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page>> {
    principal.can_read_customers()?;
    let params = ListParams {
        cursor: query.cursor,
        limit: query.limit,
        include_deleted: query.include_deleted,
    };
    Ok(Json(
        customers::list(&state.store, &principal.tenant_id, &params).await?,
    ))
}

pub(super) async fn get(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Customer>> {
    principal.can_read_customers()?;
    Ok(Json(
        customers::get(&state.store, &principal.tenant_id, &id).await?,
    ))
}

pub(super) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<(StatusCode, Json<Customer>)> {
    principal.can_create_customer(input.tier.as_deref())?;
    // An agent adds a caller the desktop did not know; if another desk added the number
    // meanwhile, the agent is pointed at that customer rather than making a duplicate.
    if principal.role == crate::authz::Role::Agent {
        customers::refuse_known_phones(&state.store, &principal.tenant_id, &input).await?;
    }
    let customer = customers::create(&state.store, &principal.tenant_id, &input).await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

pub(super) async fn update(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> Result<Json<Customer>> {
    principal.can_write_customers()?;
    Ok(Json(
        customers::update(&state.store, &principal.tenant_id, &id, &patch).await?,
    ))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode> {
    principal.can_write_customers()?;
    customers::delete(&state.store, &principal.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body: CSV text (any content type). Bad rows are reported, good rows imported.
pub(super) async fn import(
    State(state): State<AppState>,
    principal: Principal,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReport>> {
    principal.can_write_customers()?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::TooLarge(format!("CSV larger than {} bytes", super::MAX_BODY_BYTES))
        } else {
            Error::Invalid(e.body_text())
        }
    })?;
    let parsed = customers::parse_csv(&body)?;
    Ok(Json(
        customers::import(&state.store, &principal.tenant_id, parsed).await?,
    ))
}
