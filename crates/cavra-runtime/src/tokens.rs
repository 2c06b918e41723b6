//! The bearer tokens of `cavra serve` as control actions: what issuing or revoking one is
//! shown as before the person confirms it ([`ControlAction`], role admin), its evidence
//! (`token.issued` / `token.revoked`), and the listing as a [`Doc`]. The tokens themselves
//! are the store's (it keeps only their SHA-256).

use std::path::Path;
use std::time::Duration;

use cavra_store::{rfc3339, ApiRole, ApiToken, OffsetDateTime, Role};
use serde_json::json;

use crate::authz::{Authorized, ControlAction};
use crate::error::RuntimeError;
use crate::views::{listing, Doc};
use crate::Runtime;

/// Issuing a token named `name` with `role`, valid for `ttl` (else until revoked).
pub fn issue_action(name: &str, role: ApiRole, ttl: Option<Duration>) -> ControlAction {
    let ttl = ttl.map_or("until revoked".into(), |t| format!("{}s", t.as_secs()));
    let token = format!("a `cavra serve` bearer token named `{name}`");
    ControlAction::new("cavra tokens issue", Role::Admin)
        .show("token", token)
        .show("role", role.as_str())
        .show("ttl", ttl)
}

/// Revoking the token `t`.
pub fn revoke_action(t: &ApiToken) -> ControlAction {
    let token = format!("{} ({}, role {})", t.id, t.name, t.role.as_str());
    ControlAction::new(format!("cavra tokens revoke {}", t.id), Role::Admin).show("token", token)
}

/// The tokens (never the tokens themselves), with their state at `now`.
pub fn tokens_doc(list: &[ApiToken], now: OffsetDateTime) -> Doc {
    let headers = &["ID", "NAME", "ROLE", "STATE", "EXPIRES", "BY"];
    listing(list, ApiToken::json, headers, "no tokens", |t| {
        let expires = t.expires_at.map_or("-".into(), rfc3339);
        let (role, state) = (t.role.as_str().into(), t.state(now).into());
        vec![
            t.id.clone(),
            t.name.clone(),
            role,
            state,
            expires,
            t.created_by.clone(),
        ]
    })
}

impl Runtime {
    /// Records that `by` issued or revoked `token` (`kind`: `token.issued`,
    /// `token.revoked`) in the evidence log of `cavra_dir`.
    pub fn record_token(
        &mut self,
        cavra_dir: &Path,
        kind: &str,
        token: &ApiToken,
        by: &Authorized,
    ) -> Result<String, RuntimeError> {
        let body = json!({"token": token.json(), "by": by.json()});
        self.record_transition(cavra_dir, kind, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::Block;

    fn token(expires_at: Option<OffsetDateTime>) -> ApiToken {
        let created_at = OffsetDateTime::UNIX_EPOCH;
        let (id, name, created_by) = ("tok-1".into(), "ci".into(), "root".into());
        let (revoked_at, revoked_by) = (None, None);
        ApiToken {
            id,
            name,
            role: ApiRole::Auditor,
            created_at,
            created_by,
            expires_at,
            revoked_at,
            revoked_by,
        }
    }

    #[test]
    fn the_actions_say_what_is_issued_or_revoked() {
        let a = issue_action("ci", ApiRole::Agent, None);
        assert_eq!(a.command, "cavra tokens issue");
        assert_eq!(a.summary[2], ("ttl", "until revoked".to_string()));
        let a = issue_action("ci", ApiRole::Agent, Some(Duration::from_secs(60)));
        assert_eq!(a.summary[2], ("ttl", "60s".to_string()));
        let r = revoke_action(&token(None));
        assert_eq!(r.command, "cavra tokens revoke tok-1");
        assert_eq!(r.summary[0].1, "tok-1 (ci, role auditor)");
    }

    #[test]
    fn the_listing_shows_state_and_expiry() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::from_secs(10);
        let d = tokens_doc(&[token(Some(OffsetDateTime::UNIX_EPOCH))], now);
        let Some(Block::Table { rows, .. }) = d.text.first() else {
            panic!("no table: {d:?}");
        };
        assert_eq!(rows[0][3], "expired");
        assert_eq!(rows[0][4], "1970-01-01T00:00:00Z");
        assert_eq!(d.json[0]["id"], "tok-1");
    }
}
