//! The knowledge base: supervisors publish, every agent pulls the changes (crate::kb).

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::{ApiJson, ApiQuery, AppState};
use crate::authz::Principal;
use crate::error::Result;
use crate::kb::{self, ArticleInput, ChangesPage, PublishReport};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PublishBody {
    #[serde(default)]
    articles: Vec<ArticleInput>,
    /// Ids of articles to delete.
    #[serde(default)]
    delete: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangesQuery {
    #[serde(default)]
    since: i64,
    limit: Option<u32>,
}

pub(super) async fn publish(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<PublishBody>,
) -> Result<Json<PublishReport>> {
    Ok(Json(
        kb::publish(&state.store, &principal, &body.articles, &body.delete).await?,
    ))
}

pub(super) async fn changes(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> Result<Json<ChangesPage>> {
    Ok(Json(
        kb::changes(&state.store, &principal, query.since, query.limit).await?,
    ))
}
