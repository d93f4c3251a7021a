//! Tenants, teams, users, passwords (argon2, PHC strings) and bearer tokens (random, stored
//! only as SHA-256 hashes, with expiry and revocation). All state lives in the database, so
//! any instance sharing it can validate any token.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::authz::{Principal, Role};
use crate::error::{Error, Result};
use crate::store::{format_micros, now_micros, Store};

/// Prefix of issued tokens (helps secret scanners; not a secret).
const TOKEN_PREFIX: &str = "slt_";

/// Minimum password length.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hash a password with argon2id (default parameters) into a PHC string.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
}

/// Check a password against a PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to verify against when the user does not exist, so that unknown users take as long
/// as wrong passwords.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("seatline-dummy-password").unwrap_or_default())
}

/// SHA-256 of a raw bearer token, lowercase hex.
pub fn hash_token(raw: &str) -> String {
    hex(&Sha256::digest(raw.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn new_raw_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for token: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Tenant names: 1–64 characters of a-z, 0-9, `-`, `_`, `.` (lowercased).
pub fn normalize_tenant_name(name: &str) -> Result<String> {
    normalize_slug(name, "tenant name")
}

/// Usernames: 1–64 characters of a-z, 0-9, `-`, `_`, `.`, `@` (lowercased).
pub fn normalize_username(name: &str) -> Result<String> {
    normalize_slug(name, "username")
}

fn normalize_slug(name: &str, what: &str) -> Result<String> {
    let name = name.trim().to_lowercase();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        return Err(Error::Invalid(format!(
            "{what} must be 1-64 characters of letters, digits, '-', '_', '.', '@'"
        )));
    }
    Ok(name)
}

fn check_password(password: &str) -> Result<()> {
    let len = password.chars().count();
    if !(MIN_PASSWORD_LEN..=1024).contains(&len) {
        return Err(Error::Invalid(format!(
            "password must be {MIN_PASSWORD_LEN}-1024 characters long"
        )));
    }
    Ok(())
}

/// Hash a password off the async executor (argon2 is deliberately slow).
async fn hash_password_blocking(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("hashing task failed: {e}")))?
}

async fn verify_password_blocking(password: String, phc: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| Error::Internal(format!("verification task failed: {e}")))
}

/// A tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// Id (UUIDv7).
    pub id: String,
    /// Unique name, used at login.
    pub name: String,
}

/// A team within a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Team {
    /// Id (UUIDv7).
    pub id: String,
    /// Name, unique within the tenant.
    pub name: String,
    /// Member user ids.
    pub member_ids: Vec<String>,
    /// The members with their display names, in `member_ids` order (the desk's assignee
    /// picker shows names, and agents may not list users).
    pub members: Vec<TeamMember>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A team member as team listings show it.
#[derive(Debug, Clone, Serialize)]
pub struct TeamMember {
    pub id: String,
    /// The display name, else the user name.
    pub display_name: String,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Id (UUIDv7).
    pub id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Login name, unique within the tenant.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Disabled users cannot log in and their tokens are revoked.
    pub disabled: bool,
    /// Teams the user belongs to.
    pub team_ids: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// Input for creating a user.
#[derive(Debug, Clone, Deserialize)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Display name (defaults to the username).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Initial password.
    pub password: String,
    /// Role.
    pub role: Role,
    /// Teams to join.
    #[serde(default)]
    pub team_ids: Vec<String>,
}

/// Changes to a user; absent fields are left alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Disable (revokes all tokens) or re-enable.
    pub disabled: Option<bool>,
    /// New password (revokes all tokens).
    pub password: Option<String>,
}

/// A freshly issued bearer token; the raw value is shown once and never stored.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    /// The bearer token.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Expiry (RFC 3339).
    pub expires_at: String,
    /// The logged-in user.
    pub user: User,
}

/// Create a tenant and its first admin in one transaction.
pub async fn bootstrap_tenant(
    store: &Store,
    tenant_name: &str,
    admin_username: &str,
    password: &str,
) -> Result<(Tenant, User)> {
    let tenant_name = normalize_tenant_name(tenant_name)?;
    let username = normalize_username(admin_username)?;
    check_password(password)?;
    let phc = hash_password_blocking(password.to_owned()).await?;
    let now = now_micros();
    let tenant = Tenant {
        id: new_id(),
        name: tenant_name,
    };
    let user_id = new_id();
    let mut tx = store.begin_write().await?;
    let inserted = sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(Error::from);
    if let Err(e) = inserted {
        return Err(if e.is_unique_violation() {
            Error::Conflict(format!("tenant {:?} already exists", tenant.name))
        } else {
            e
        });
    }
    sqlx::query(
        "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, disabled, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
    )
    .bind(&user_id)
    .bind(&tenant.id)
    .bind(&username)
    .bind(&username)
    .bind(Role::Admin.as_str())
    .bind(&phc)
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    let user = get_user(store, &tenant.id, &user_id).await?;
    Ok((tenant, user))
}

/// Create a team in `tenant_id`.
pub async fn create_team(store: &Store, tenant_id: &str, name: &str) -> Result<Team> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Invalid(
            "team name must be 1-100 characters".to_owned(),
        ));
    }
    let id = new_id();
    let now = now_micros();
    let mut tx = store.begin_write().await?;
    let result =
        sqlx::query("INSERT INTO teams (id, tenant_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(tenant_id)
            .bind(name)
            .bind(now)
            .execute(tx.conn())
            .await
            .map_err(Error::from);
    match result {
        Err(e) if e.is_unique_violation() => {
            return Err(Error::Conflict(format!("team {name:?} already exists")))
        }
        other => {
            other?;
        }
    }
    tx.commit().await?;
    Ok(Team {
        id,
        name: name.to_owned(),
        member_ids: Vec::new(),
        members: Vec::new(),
        created_at: format_micros(now),
    })
}

/// Teams of the tenant; with `member` only the teams that user belongs to.
pub async fn list_teams(store: &Store, tenant_id: &str, member: Option<&str>) -> Result<Vec<Team>> {
    let rows = sqlx::query(
        "SELECT id, name, created_at FROM teams WHERE tenant_id = $1 ORDER BY name, id",
    )
    .bind(tenant_id)
    .fetch_all(store.pool())
    .await?;
    let members = sqlx::query(
        "SELECT m.team_id, m.user_id, u.display_name AS name \
         FROM team_members m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 ORDER BY m.user_id",
    )
    .bind(tenant_id)
    .fetch_all(store.pool())
    .await?;
    let mut teams = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: String = row.try_get("id")?;
        let mut member_ids = Vec::new();
        let mut team_members = Vec::new();
        for m in &members {
            if m.try_get::<String, _>("team_id")? == id {
                let user: String = m.try_get("user_id")?;
                member_ids.push(user.clone());
                team_members.push(TeamMember {
                    id: user,
                    display_name: m.try_get("name")?,
                });
            }
        }
        if let Some(user) = member {
            if !member_ids.iter().any(|m| m == user) {
                continue;
            }
        }
        teams.push(Team {
            id,
            name: row.try_get("name")?,
            member_ids,
            members: team_members,
            created_at: format_micros(row.try_get("created_at")?),
        });
    }
    Ok(teams)
}

async fn ensure_team_in_tenant(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    team_id: &str,
) -> Result<()> {
    let found = sqlx::query("SELECT id FROM teams WHERE id = $1 AND tenant_id = $2")
        .bind(team_id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::NotFound(format!("team {team_id} not found")))
}

async fn ensure_user_in_tenant(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    user_id: &str,
) -> Result<()> {
    let found = sqlx::query("SELECT id FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(user_id)
        .bind(tenant_id)
        .fetch_optional(conn)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::NotFound(format!("user {user_id} not found")))
}

/// Add a user to a team (both must be in `tenant_id`). Idempotent.
pub async fn add_member(
    store: &Store,
    tenant_id: &str,
    team_id: &str,
    user_id: &str,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    ensure_team_in_tenant(tx.conn(), tenant_id, team_id).await?;
    ensure_user_in_tenant(tx.conn(), tenant_id, user_id).await?;
    let existing =
        sqlx::query("SELECT user_id FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .fetch_optional(tx.conn())
            .await?;
    if existing.is_none() {
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, tenant_id, added_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(team_id)
        .bind(user_id)
        .bind(tenant_id)
        .bind(now_micros())
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await
}

/// Remove a user from a team (404 when the team is not in `tenant_id`).
pub async fn remove_member(
    store: &Store,
    tenant_id: &str,
    team_id: &str,
    user_id: &str,
) -> Result<()> {
    let mut tx = store.begin_write().await?;
    ensure_team_in_tenant(tx.conn(), tenant_id, team_id).await?;
    let done = sqlx::query(
        "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2 AND tenant_id = $3",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(tenant_id)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!(
            "user {user_id} is not a member of team {team_id}"
        )));
    }
    tx.commit().await
}

/// Create a user in `tenant_id`, optionally joining teams of the same tenant.
pub async fn create_user(store: &Store, tenant_id: &str, new: NewUser) -> Result<User> {
    let username = normalize_username(&new.username)?;
    check_password(&new.password)?;
    let display_name = new
        .display_name
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_owned();
    let display_name = if display_name.is_empty() {
        username.clone()
    } else {
        display_name
    };
    if display_name.chars().count() > 200 {
        return Err(Error::Invalid(
            "display_name must be at most 200 characters".to_owned(),
        ));
    }
    let phc = hash_password_blocking(new.password).await?;
    let id = new_id();
    let now = now_micros();
    let mut tx = store.begin_write().await?;
    for team_id in &new.team_ids {
        ensure_team_in_tenant(tx.conn(), tenant_id, team_id).await?;
    }
    let inserted = sqlx::query(
        "INSERT INTO users (id, tenant_id, username, display_name, role, password_hash, disabled, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
    )
    .bind(&id)
    .bind(tenant_id)
    .bind(&username)
    .bind(&display_name)
    .bind(new.role.as_str())
    .bind(&phc)
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(Error::from);
    match inserted {
        Err(e) if e.is_unique_violation() => {
            return Err(Error::Conflict(format!("user {username:?} already exists")))
        }
        other => {
            other?;
        }
    }
    let teams: BTreeSet<&String> = new.team_ids.iter().collect();
    for team_id in teams {
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, tenant_id, added_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(team_id)
        .bind(&id)
        .bind(tenant_id)
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await?;
    get_user(store, tenant_id, &id).await
}

async fn user_from_row(store: &Store, row: &AnyRow) -> Result<User> {
    let id: String = row.try_get("id")?;
    let team_ids =
        sqlx::query("SELECT team_id FROM team_members WHERE user_id = $1 ORDER BY team_id")
            .bind(&id)
            .fetch_all(store.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("team_id"))
            .collect::<Result<Vec<_>, _>>()?;
    let role: String = row.try_get("role")?;
    Ok(User {
        id,
        tenant_id: row.try_get("tenant_id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: role.parse()?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        team_ids,
        created_at: format_micros(row.try_get("created_at")?),
    })
}

const USER_COLUMNS: &str = "id, tenant_id, username, display_name, role, disabled, created_at";

/// A user of `tenant_id` (404 for users of other tenants).
pub async fn get_user(store: &Store, tenant_id: &str, user_id: &str) -> Result<User> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(user_id)
    .bind(tenant_id)
    .fetch_optional(store.pool())
    .await?
    .ok_or_else(|| Error::NotFound(format!("user {user_id} not found")))?;
    user_from_row(store, &row).await
}

/// All users of `tenant_id`, by username.
pub async fn list_users(store: &Store, tenant_id: &str) -> Result<Vec<User>> {
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 ORDER BY username"
    ))
    .bind(tenant_id)
    .fetch_all(store.pool())
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        users.push(user_from_row(store, row).await?);
    }
    Ok(users)
}

/// Change a user of `tenant_id`. Disabling or a new password revokes all their tokens.
pub async fn update_user(
    store: &Store,
    tenant_id: &str,
    user_id: &str,
    patch: UserPatch,
) -> Result<User> {
    let phc = match patch.password {
        Some(password) => {
            check_password(&password)?;
            Some(hash_password_blocking(password).await?)
        }
        None => None,
    };
    let now = now_micros();
    let mut tx = store.begin_write().await?;
    ensure_user_in_tenant(tx.conn(), tenant_id, user_id).await?;
    if let Some(name) = patch.display_name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::Invalid(
                "display_name must be 1-200 characters".to_owned(),
            ));
        }
        sqlx::query("UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3")
            .bind(name)
            .bind(now)
            .bind(user_id)
            .execute(tx.conn())
            .await?;
    }
    if let Some(role) = patch.role {
        sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(now)
            .bind(user_id)
            .execute(tx.conn())
            .await?;
    }
    let revoke = patch.disabled == Some(true) || phc.is_some();
    if let Some(disabled) = patch.disabled {
        sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(disabled))
            .bind(now)
            .bind(user_id)
            .execute(tx.conn())
            .await?;
    }
    if let Some(phc) = phc {
        sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(phc)
            .bind(now)
            .bind(user_id)
            .execute(tx.conn())
            .await?;
    }
    if revoke {
        sqlx::query(
            "UPDATE auth_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await?;
    get_user(store, tenant_id, user_id).await
}

/// Check credentials and issue a token valid for `ttl_secs`. Every failure is the same 401.
pub async fn login(
    store: &Store,
    tenant: &str,
    username: &str,
    password: &str,
    ttl_secs: i64,
) -> Result<IssuedToken> {
    let denied = || Error::Unauthorized("invalid tenant, username or password".to_owned());
    let tenant = tenant.trim().to_lowercase();
    let username = username.trim().to_lowercase();
    let row = sqlx::query(
        "SELECT u.id, u.tenant_id, u.password_hash, u.disabled FROM users u \
         JOIN tenants t ON t.id = u.tenant_id WHERE t.name = $1 AND u.username = $2",
    )
    .bind(&tenant)
    .bind(&username)
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else {
        // Same work as a wrong password, so response times do not reveal valid usernames.
        verify_password_blocking(password.to_owned(), dummy_hash().to_owned()).await?;
        return Err(denied());
    };
    let phc: String = row.try_get("password_hash")?;
    if !verify_password_blocking(password.to_owned(), phc).await? {
        return Err(denied());
    }
    if row.try_get::<i64, _>("disabled")? != 0 {
        return Err(denied());
    }
    let user_id: String = row.try_get("id")?;
    let tenant_id: String = row.try_get("tenant_id")?;
    let raw = new_raw_token()?;
    let now = now_micros();
    let expires_at = now.saturating_add(ttl_secs.saturating_mul(1_000_000));
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "INSERT INTO auth_tokens (token_hash, user_id, tenant_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_token(&raw))
    .bind(&user_id)
    .bind(&tenant_id)
    .bind(now)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    let user = get_user(store, &tenant_id, &user_id).await?;
    tracing::info!(user_id, tenant_id, "login");
    Ok(IssuedToken {
        token: raw,
        token_type: "Bearer",
        expires_at: format_micros(expires_at),
        user,
    })
}

/// Resolve a raw bearer token to its principal; unknown, expired or revoked tokens and
/// disabled users are refused.
pub async fn authenticate(store: &Store, raw: &str) -> Result<Principal> {
    let token_hash = hash_token(raw);
    let row = sqlx::query(
        "SELECT u.id, u.tenant_id, u.username, u.role, u.disabled, t.expires_at, t.revoked_at \
         FROM auth_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(&token_hash)
    .fetch_optional(store.pool())
    .await?
    .ok_or_else(|| Error::Unauthorized("invalid token".to_owned()))?;
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(Error::Unauthorized("token revoked".to_owned()));
    }
    if row.try_get::<i64, _>("expires_at")? <= now_micros() {
        return Err(Error::Unauthorized("token expired".to_owned()));
    }
    if row.try_get::<i64, _>("disabled")? != 0 {
        return Err(Error::Unauthorized("user disabled".to_owned()));
    }
    let role: String = row.try_get("role")?;
    Ok(Principal {
        user_id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        username: row.try_get("username")?,
        role: role.parse()?,
        token_hash,
    })
}

/// Revoke a token by its hash. Idempotent.
pub async fn revoke_token(store: &Store, token_hash: &str) -> Result<()> {
    let mut tx = store.begin_write().await?;
    sqlx::query(
        "UPDATE auth_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now_micros())
    .bind(token_hash)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}

/// Delete tokens that expired more than a day ago; returns how many.
pub async fn purge_expired_tokens(store: &Store) -> Result<u64> {
    let cutoff = now_micros().saturating_sub(86_400 * 1_000_000);
    let mut tx = store.begin_write().await?;
    let done = sqlx::query("DELETE FROM auth_tokens WHERE expires_at < $1")
        .bind(cutoff)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_is_phc_and_verifies() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong horse", &phc));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_raw_token().unwrap();
        let b = new_raw_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_are_normalized_and_checked() {
        assert_eq!(normalize_username(" Alice.B ").unwrap(), "alice.b");
        assert!(normalize_username("").is_err());
        assert!(normalize_username("a b").is_err());
        assert!(normalize_tenant_name(&"x".repeat(65)).is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }
}
