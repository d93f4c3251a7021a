//! Login, logout, teams and users.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{ApiJson, ApiPath, AppState};
use crate::accounts::{self, IssuedToken, NewUser, Team, User, UserPatch};
use crate::authz::{Principal, Role, TeamScope, TeamVisibility};
use crate::error::Result;

#[derive(Deserialize)]
pub(super) struct LoginRequest {
    tenant: String,
    username: String,
    password: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<IssuedToken>> {
    let issued = accounts::login(
        &state.store,
        &req.tenant,
        &req.username,
        &req.password,
        state.token_ttl_secs,
    )
    .await?;
    Ok(Json(issued))
}

pub(super) async fn logout(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode> {
    accounts::revoke_token(&state.store, &principal.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<serde_json::Value>> {
    let user = accounts::get_user(&state.store, &principal.tenant_id, &principal.user_id).await?;
    let visibility = TeamVisibility::for_principal(&state.store, &principal).await?;
    let visible_teams = match visibility.scope() {
        TeamScope::Tenant => serde_json::Value::String("tenant".to_owned()),
        TeamScope::Teams(teams) => serde_json::json!(teams),
    };
    Ok(Json(
        serde_json::json!({ "user": user, "visible_teams": visible_teams }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTeam {
    name: String,
}

pub(super) async fn create_team(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<NewTeam>,
) -> Result<(StatusCode, Json<Team>)> {
    principal.can_manage_accounts()?;
    let team = accounts::create_team(&state.store, &principal.tenant_id, &req.name).await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// Admins see every team of the tenant, others the teams they belong to.
pub(super) async fn list_teams(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Team>>> {
    let member = (principal.role != Role::Admin).then_some(principal.user_id.as_str());
    Ok(Json(
        accounts::list_teams(&state.store, &principal.tenant_id, member).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewMember {
    user_id: String,
}

pub(super) async fn add_member(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(team_id): ApiPath<String>,
    ApiJson(req): ApiJson<NewMember>,
) -> Result<StatusCode> {
    principal.can_manage_accounts()?;
    accounts::add_member(&state.store, &principal.tenant_id, &team_id, &req.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((team_id, user_id)): ApiPath<(String, String)>,
) -> Result<StatusCode> {
    principal.can_manage_accounts()?;
    accounts::remove_member(&state.store, &principal.tenant_id, &team_id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(req): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<User>)> {
    principal.can_manage_accounts()?;
    let user = accounts::create_user(&state.store, &principal.tenant_id, req).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Supervisors and admins list the tenant's users.
pub(super) async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<User>>> {
    principal.require(Role::Supervisor, "listing users")?;
    Ok(Json(
        accounts::list_users(&state.store, &principal.tenant_id).await?,
    ))
}

/// Anyone may read themselves; supervisors and admins any user of their tenant.
pub(super) async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<User>> {
    if user_id != principal.user_id {
        principal.require(Role::Supervisor, "reading other users")?;
    }
    Ok(Json(
        accounts::get_user(&state.store, &principal.tenant_id, &user_id).await?,
    ))
}

pub(super) async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<User>> {
    principal.can_manage_accounts()?;
    if user_id == principal.user_id && (patch.disabled == Some(true) || patch.role.is_some()) {
        return Err(crate::error::Error::Invalid(
            "admins cannot disable themselves or change their own role".to_owned(),
        ));
    }
    Ok(Json(
        accounts::update_user(&state.store, &principal.tenant_id, &user_id, patch).await?,
    ))
}
