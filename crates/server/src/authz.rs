//! Roles, the authenticated principal, and the authorization rules every handler applies.
//!
//! Tenant isolation: every query is filtered by the principal's `tenant_id`; a row of another
//! tenant is indistinguishable from a missing row (404).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::error::{Error, Result};
use crate::store::Store;

/// A user's role within their tenant. Ordered: agent < supervisor < admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Handles calls and work orders of their teams.
    Agent,
    /// Leads teams; may edit the customer master.
    Supervisor,
    /// Manages the tenant: teams, users, everything.
    Admin,
}

impl Role {
    /// The name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Role> {
        match s {
            "agent" => Ok(Role::Agent),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            other => Err(Error::Invalid(format!(
                "unknown role {other:?}: expected agent, supervisor or admin"
            ))),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user's id.
    pub user_id: String,
    /// The user's tenant; scopes every read and write.
    pub tenant_id: String,
    /// The user's login name.
    pub username: String,
    /// The user's role.
    pub role: Role,
    /// SHA-256 (hex) of the bearer token the request presented.
    pub token_hash: String,
}

impl Principal {
    /// Require at least `min` (roles are ordered agent < supervisor < admin).
    pub fn require(&self, min: Role, action: &str) -> Result<()> {
        if self.role >= min {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{action} requires the {min} role or higher; you are {}",
                self.role
            )))
        }
    }

    /// Everyone in the tenant may read customers.
    pub fn can_read_customers(&self) -> Result<()> {
        Ok(())
    }

    /// Everyone may add a customer (an agent meets new callers first), but only supervisors and
    /// admins may give one a tier other than `standard` (VIP handling is a decision, not a click).
    pub fn can_create_customer(&self, tier: Option<&str>) -> Result<()> {
        match tier {
            Some(tier) if !tier.trim().is_empty() && tier.trim() != "standard" => {
                self.require(Role::Supervisor, "giving a customer a tier")
            }
            _ => Ok(()),
        }
    }

    /// Supervisors and admins may write customers.
    pub fn can_write_customers(&self) -> Result<()> {
        self.require(Role::Supervisor, "changing customers")
    }

    /// Only admins manage users and teams.
    pub fn can_manage_accounts(&self) -> Result<()> {
        self.require(Role::Admin, "managing users and teams")
    }
}

/// Which teams' items (work orders, later) a principal may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamScope {
    /// Every team of the tenant (admins).
    Tenant,
    /// Only these teams (agents: the teams they belong to; supervisors: the teams they lead,
    /// i.e. belong to).
    Teams(BTreeSet<String>),
}

/// The team visibility rule, resolved once per request from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamVisibility {
    tenant_id: String,
    user_id: String,
    scope: TeamScope,
}

impl TeamVisibility {
    /// Resolve the rule for `principal`: admin → the tenant; agent and supervisor → own teams.
    pub async fn for_principal(store: &Store, principal: &Principal) -> Result<TeamVisibility> {
        let scope = match principal.role {
            Role::Admin => TeamScope::Tenant,
            Role::Agent | Role::Supervisor => {
                let rows = sqlx::query(
                    "SELECT team_id FROM team_members WHERE user_id = $1 AND tenant_id = $2",
                )
                .bind(&principal.user_id)
                .bind(&principal.tenant_id)
                .fetch_all(store.pool())
                .await?;
                let teams = rows
                    .iter()
                    .map(|row| row.try_get::<String, _>("team_id"))
                    .collect::<Result<BTreeSet<_>, _>>()?;
                TeamScope::Teams(teams)
            }
        };
        Ok(TeamVisibility {
            tenant_id: principal.tenant_id.clone(),
            user_id: principal.user_id.clone(),
            scope,
        })
    }

    /// The resolved scope.
    pub fn scope(&self) -> &TeamScope {
        &self.scope
    }

    /// May the principal see an item of `tenant_id` owned by `team_id` and assigned to
    /// `assignee`? Never across tenants; an item assigned to the principal is always visible;
    /// an item without a team only to admins (or its assignee).
    pub fn can_see(&self, tenant_id: &str, team_id: Option<&str>, assignee: Option<&str>) -> bool {
        if tenant_id != self.tenant_id {
            return false;
        }
        if assignee == Some(self.user_id.as_str()) {
            return true;
        }
        match (&self.scope, team_id) {
            (TeamScope::Tenant, _) => true,
            (TeamScope::Teams(teams), Some(team)) => teams.contains(team),
            (TeamScope::Teams(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visibility(scope: TeamScope) -> TeamVisibility {
        TeamVisibility {
            tenant_id: "t1".into(),
            user_id: "u1".into(),
            scope,
        }
    }

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Agent < Role::Supervisor && Role::Supervisor < Role::Admin);
        assert_eq!("supervisor".parse::<Role>().ok(), Some(Role::Supervisor));
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn team_rule_never_crosses_tenants() {
        let admin = visibility(TeamScope::Tenant);
        assert!(admin.can_see("t1", Some("x"), None));
        assert!(admin.can_see("t1", None, None));
        assert!(!admin.can_see("t2", Some("x"), Some("u1")));

        let agent = visibility(TeamScope::Teams(["a".to_string()].into()));
        assert!(agent.can_see("t1", Some("a"), None));
        assert!(!agent.can_see("t1", Some("b"), None));
        assert!(!agent.can_see("t1", None, None));
        assert!(agent.can_see("t1", Some("b"), Some("u1")));
        assert!(!agent.can_see("t2", Some("a"), None));
    }
}
