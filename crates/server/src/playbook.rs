//! The center's playbook (crates/playbook): everyone in the tenant reads it, supervisors and
//! admins save it. A save names the revision it was edited from; when another save came first it
//! is refused with 409, so two supervisors never silently overwrite each other.

use seatline_playbook::Playbook;
use sqlx::Row;

use crate::authz::{Principal, Role};
use crate::error::{Error, Result};
use crate::store::{now_micros, Store};

/// The tenant's playbook: the saved one, or the built-in default (revision 0).
pub async fn get(store: &Store, principal: &Principal) -> Result<Playbook> {
    let row = sqlx::query("SELECT revision, body FROM playbooks WHERE tenant_id = $1")
        .bind(&principal.tenant_id)
        .fetch_optional(store.pool())
        .await?;
    let Some(row) = row else {
        return Ok(Playbook::default());
    };
    let body: String = row.try_get("body")?;
    let mut playbook: Playbook = serde_json::from_str(&body).map_err(|e| {
        Error::Internal(format!(
            "the stored playbook of tenant {} cannot be read: {e}",
            principal.tenant_id
        ))
    })?;
    playbook.revision = row.try_get("revision")?;
    Ok(playbook)
}

/// Saves `edit` (validated; `edit.revision` is the revision it was made from) and returns it
/// with its new revision.
pub async fn put(store: &Store, principal: &Principal, mut edit: Playbook) -> Result<Playbook> {
    principal.require(Role::Supervisor, "changing the playbook")?;
    edit.validate().map_err(|e| Error::Invalid(e.to_string()))?;
    let base = edit.revision;
    edit.revision = base + 1;
    let body = serde_json::to_string(&edit)
        .map_err(|e| Error::Internal(format!("cannot encode the playbook: {e}")))?;
    let now = now_micros();
    // One statement each way, so concurrent saves from the same revision cannot both win.
    let done = if base == 0 {
        sqlx::query(
            "INSERT INTO playbooks (tenant_id, revision, body, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id) DO NOTHING",
        )
        .bind(&principal.tenant_id)
        .bind(edit.revision)
        .bind(&body)
        .bind(&principal.user_id)
        .bind(now)
        .execute(store.pool())
        .await?
    } else {
        sqlx::query(
            "UPDATE playbooks SET revision = $1, body = $2, updated_by = $3, updated_at = $4 \
             WHERE tenant_id = $5 AND revision = $6",
        )
        .bind(edit.revision)
        .bind(&body)
        .bind(&principal.user_id)
        .bind(now)
        .bind(&principal.tenant_id)
        .bind(base)
        .execute(store.pool())
        .await?
    };
    if done.rows_affected() == 0 {
        let held = get(store, principal).await?.revision;
        return Err(Error::Conflict(format!(
            "the playbook was edited from revision {base}, but the server holds revision {held}: \
             reload it and apply your change again"
        )));
    }
    tracing::info!(tenant = %principal.tenant_id, revision = edit.revision, by = %principal.username, "playbook saved");
    Ok(edit)
}
