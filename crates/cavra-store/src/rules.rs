//! The approval, break-glass and session rules as pure transitions: a record, an event and
//! `now` give the new state or a typed error. A storage backend loads the record, asks
//! these functions and writes what they answer; nothing here touches a database, so the
//! rules are the same for every backend and are tested without one.

use time::OffsetDateTime;

use crate::approvals::{Approval, ApprovalState, BreakGlassQuery, MAX_USES_LIMIT};
use crate::config::{Permission, Rbac};
use crate::error::StoreError;
use crate::glob::glob_match;
use crate::sessions::{EscalationPolicy, SessionState};

/// The same person? Case-insensitive, surrounding blanks ignored; an empty `b` never is.
pub(crate) fn same_identity(a: &str, b: &str) -> bool {
    !b.trim().is_empty() && a.trim().eq_ignore_ascii_case(b.trim())
}

/// `--uses N` of an approval: 1 by default, 1 to [`MAX_USES_LIMIT`].
pub fn check_max_uses(max_uses: Option<u32>) -> Result<u32, StoreError> {
    match max_uses {
        None => Ok(1),
        Some(n) if n == 0 || n > MAX_USES_LIMIT => Err(StoreError::input(
            "uses",
            format!("`{n}` (expected 1 to {MAX_USES_LIMIT})"),
        )),
        Some(n) => Ok(n),
    }
}

/// What deciding (approve / deny) does to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecideOutcome {
    /// The record takes this state (`approved` or `denied`).
    Decided(ApprovalState),
    /// The request's time ran out before the decision: the record becomes `expired` and
    /// the decision is refused with [`StoreError::Expired`].
    Expire,
}

/// Approve (`perm` = [`Permission::Approve`]) or deny a record. Refused when it is not
/// pending, when `identity` requested it or is its agent (self-approval), or when RBAC (if
/// configured) does not give `identity` the permission for the record's group.
pub fn decide(
    a: &Approval,
    identity: &str,
    perm: Permission,
    rbac: Option<&Rbac>,
    now: OffsetDateTime,
) -> Result<DecideOutcome, StoreError> {
    let action = if perm == Permission::Approve {
        "approve"
    } else {
        "deny"
    };
    if a.state != ApprovalState::Pending {
        return Err(StoreError::InvalidTransition {
            id: a.approval_id.clone(),
            state: a.effective_state(now).to_string(),
            action,
        });
    }
    if a.expires_at <= now {
        return Ok(DecideOutcome::Expire);
    }
    if same_identity(identity, &a.requested_by) || same_identity(identity, &a.agent_id) {
        return Err(StoreError::SelfApproval {
            id: a.approval_id.clone(),
            identity: identity.to_string(),
        });
    }
    if let Some(rbac) = rbac {
        if !rbac.allows(identity, &a.approver_group, perm) {
            return Err(StoreError::NotAuthorized {
                identity: identity.to_string(),
                action: perm.as_str(),
                group: a.approver_group.clone(),
            });
        }
    }
    Ok(DecideOutcome::Decided(if perm == Permission::Approve {
        ApprovalState::Approved
    } else {
        ApprovalState::Denied
    }))
}

/// Does this record let `agent_id` run the request `request_hash` at `now`? Only an
/// approved, unexpired record for exactly that request and agent with uses left.
pub fn grants(a: &Approval, request_hash: &str, agent_id: &str, now: OffsetDateTime) -> bool {
    a.state == ApprovalState::Approved
        && !a.request_hash.is_empty()
        && a.request_hash == request_hash
        && a.agent_id == agent_id
        && a.expires_at > now
        && a.uses < a.max_uses
}

/// Use a granting record once: the new use count, or a refusal when it does not grant
/// (spent, expired, not approved, another request or agent).
pub fn consume(
    a: &Approval,
    request_hash: &str,
    agent_id: &str,
    now: OffsetDateTime,
) -> Result<u32, StoreError> {
    if !grants(a, request_hash, agent_id, now) {
        let state = if a.exhausted() {
            "spent".to_string()
        } else {
            a.effective_state(now).to_string()
        };
        return Err(StoreError::InvalidTransition {
            id: a.approval_id.clone(),
            state,
            action: "use",
        });
    }
    Ok(a.uses.saturating_add(1))
}

/// Must a live record be marked expired at `now`?
pub fn expires(a: &Approval, now: OffsetDateTime) -> bool {
    a.effective_state(now) == ApprovalState::Expired && a.state != ApprovalState::Expired
}

/// May `identity` break the glass? Not for a request they (or their agent) made
/// (`linked`: the pending request of the same hash, if any), and with an RBAC file only
/// with the break-glass permission in some group.
pub fn may_break_glass(
    identity: &str,
    linked: Option<&Approval>,
    rbac: Option<&Rbac>,
) -> Result<(), StoreError> {
    if let Some(l) = linked {
        if same_identity(identity, &l.requested_by) || same_identity(identity, &l.agent_id) {
            return Err(StoreError::SelfApproval {
                id: l.approval_id.clone(),
                identity: identity.to_string(),
            });
        }
    }
    if let Some(rbac) = rbac {
        if !rbac.allows_any(identity, Permission::BreakGlass) {
            return Err(StoreError::NotAuthorized {
                identity: identity.to_string(),
                action: Permission::BreakGlass.as_str(),
                group: linked
                    .map(|l| l.approver_group.clone())
                    .unwrap_or_else(|| "any".into()),
            });
        }
    }
    Ok(())
}

/// Does the break-glass record `a` cover the request `q` at `now`? Same request hash, or
/// (for a scoped record) an action type and target its globs match.
pub fn break_glass_covers(a: &Approval, q: &BreakGlassQuery<'_>, now: OffsetDateTime) -> bool {
    if a.state != ApprovalState::BreakGlass || a.expires_at <= now {
        return false;
    }
    let by_hash = !a.request_hash.is_empty() && q.request_hash == Some(a.request_hash.as_str());
    let by_scope = a.request_hash.is_empty()
        && glob_match(&a.action_type, q.action_type)
        && glob_match(&a.target, q.target);
    by_hash || by_scope
}

/// May `identity` release the session `s`? Not when it is not `held` (the backend's
/// verified view: a release written by other means leaves it held), not the agent of the
/// session or of any of its blocked attempts, and with an RBAC file only with the approve
/// permission in some group.
pub fn may_release(
    s: &SessionState,
    held: bool,
    identity: &str,
    rbac: Option<&Rbac>,
) -> Result<(), StoreError> {
    if !held {
        return Err(StoreError::NotHeld(s.session_id.clone()));
    }
    if identity.eq_ignore_ascii_case(s.agent_id.trim())
        || s.blocks
            .iter()
            .any(|b| identity.eq_ignore_ascii_case(b.agent_id.trim()))
    {
        return Err(StoreError::SelfRelease {
            session: s.session_id.clone(),
            identity: identity.to_string(),
        });
    }
    if let Some(rbac) = rbac {
        if !rbac.allows_any(identity, Permission::Approve) {
            return Err(StoreError::NotAuthorized {
                identity: identity.to_string(),
                action: "release a session",
                group: "any".into(),
            });
        }
    }
    Ok(())
}

/// Why a blocked attempt puts a session on hold, if it does: a critical block (when the
/// policy says so) or `count` blocks in the window reaching the threshold.
pub fn hold_reason(policy: &EscalationPolicy, severity: &str, count: u64) -> Option<String> {
    if policy.hold_on_critical && severity == "critical" {
        Some("critical-severity action blocked".to_string())
    } else if policy.max_blocks > 0 && count >= u64::from(policy.max_blocks) {
        Some(format!(
            "{count} blocked attempts within {}s (threshold {})",
            policy.window.as_secs(),
            policy.max_blocks
        ))
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::Path;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    fn pending() -> Approval {
        Approval {
            schema_version: crate::approvals::APPROVAL_SCHEMA_VERSION,
            approval_id: "ap-1".into(),
            decision_id: "d-1".into(),
            session_id: "s1".into(),
            correlation_id: None,
            state: ApprovalState::Pending,
            approver_group: "Platform".into(),
            requested_by: "codex".into(),
            requested_at: t(0),
            expires_at: t(600),
            decided_by: None,
            decided_at: None,
            decision_reason: None,
            break_glass: false,
            break_glass_reason: None,
            history: Vec::new(),
            evidence_refs: Vec::new(),
            request_hash: "h1".into(),
            action_type: "execute_command".into(),
            target: "terraform apply".into(),
            rule_id: "r".into(),
            severity: "high".into(),
            agent_id: "codex".into(),
            single_use: true,
            uses: 0,
            max_uses: 1,
            repo: None,
            attestation: None,
        }
    }

    fn approved(max_uses: u32) -> Approval {
        Approval {
            state: ApprovalState::Approved,
            decided_by: Some("alice".into()),
            max_uses,
            single_use: max_uses == 1,
            ..pending()
        }
    }

    fn rbac() -> Rbac {
        Rbac::parse(
            "groups:\n  Platform:\n    members: [alice]\n    permissions: [approve, deny]\n",
            Path::new("rbac.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn self_approval_is_refused_case_and_blank_insensitively() {
        for who in ["codex", " CODEX "] {
            let e = decide(&pending(), who, Permission::Approve, None, t(1)).unwrap_err();
            assert!(matches!(e, StoreError::SelfApproval { .. }), "{who}: {e}");
        }
        // everyday: another person approves
        assert_eq!(
            decide(&pending(), "alice", Permission::Approve, None, t(1)).unwrap(),
            DecideOutcome::Decided(ApprovalState::Approved)
        );
        assert_eq!(
            decide(&pending(), "alice", Permission::Deny, None, t(1)).unwrap(),
            DecideOutcome::Decided(ApprovalState::Denied)
        );
    }

    #[test]
    fn rbac_limits_who_decides_for_a_group() {
        let r = rbac();
        let e = decide(&pending(), "mallory", Permission::Approve, Some(&r), t(1)).unwrap_err();
        assert!(matches!(e, StoreError::NotAuthorized { .. }), "{e}");
        assert!(decide(&pending(), "alice", Permission::Approve, Some(&r), t(1)).is_ok());
    }

    #[test]
    fn only_pending_unexpired_records_are_decided() {
        assert_eq!(
            decide(&pending(), "alice", Permission::Approve, None, t(600)).unwrap(),
            DecideOutcome::Expire
        );
        let e = decide(&approved(1), "alice", Permission::Deny, None, t(1)).unwrap_err();
        assert!(matches!(e, StoreError::InvalidTransition { .. }), "{e}");
    }

    #[test]
    fn uses_are_bounded() {
        assert_eq!(check_max_uses(None).unwrap(), 1);
        assert_eq!(check_max_uses(Some(3)).unwrap(), 3);
        assert!(check_max_uses(Some(0)).is_err());
        assert!(check_max_uses(Some(MAX_USES_LIMIT + 1)).is_err());
    }

    #[test]
    fn grants_only_the_same_request_and_agent() {
        let a = approved(1);
        assert!(grants(&a, "h1", "codex", t(1)));
        assert!(!grants(&a, "h2", "codex", t(1)));
        assert!(!grants(&a, "h1", "claude", t(1)));
        assert!(!grants(&pending(), "h1", "codex", t(1)));
        let blank = Approval {
            request_hash: String::new(),
            ..approved(1)
        };
        assert!(!grants(&blank, "", "codex", t(1)));
    }

    #[test]
    fn break_glass_scope_and_self_use() {
        let bg = Approval {
            state: ApprovalState::BreakGlass,
            request_hash: String::new(),
            action_type: "write_file".into(),
            target: "infra/**".into(),
            ..pending()
        };
        let q = |target| BreakGlassQuery {
            request_hash: None,
            action_type: "write_file",
            target,
        };
        assert!(break_glass_covers(&bg, &q("infra/main.tf"), t(1)));
        assert!(!break_glass_covers(&bg, &q("src/main.rs"), t(1)));
        assert!(!break_glass_covers(&bg, &q("infra/main.tf"), t(600)));
        let e = may_break_glass("codex", Some(&pending()), None).unwrap_err();
        assert!(matches!(e, StoreError::SelfApproval { .. }), "{e}");
        assert!(may_break_glass("alice", Some(&pending()), None).is_ok());
    }

    #[test]
    fn hold_and_release_rules() {
        let p = EscalationPolicy {
            max_blocks: 3,
            window: std::time::Duration::from_secs(600),
            hold_on_critical: true,
        };
        assert!(hold_reason(&p, "critical", 1).is_some());
        assert!(hold_reason(&p, "low", 2).is_none());
        assert!(hold_reason(&p, "low", 3).unwrap().contains("threshold 3"));
        let off = EscalationPolicy {
            max_blocks: 0,
            hold_on_critical: false,
            ..p
        };
        assert!(hold_reason(&off, "critical", 100).is_none());
        let s = SessionState {
            session_id: "s1".into(),
            agent_id: "codex".into(),
            held: true,
            held_reason: None,
            held_at: None,
            released_by: None,
            released_at: None,
            release_reason: None,
            total_blocks: 0,
            blocks: Vec::new(),
            updated_at: t(0),
            transition: None,
        };
        let e = may_release(&s, true, "Codex", None).unwrap_err();
        assert!(matches!(e, StoreError::SelfRelease { .. }), "{e}");
        let e = may_release(&s, false, "alice", None).unwrap_err();
        assert!(matches!(e, StoreError::NotHeld(_)), "{e}");
        assert!(may_release(&s, true, "alice", None).is_ok());
        let e = may_release(&s, true, "mallory", Some(&rbac())).unwrap_err();
        assert!(matches!(e, StoreError::NotAuthorized { .. }), "{e}");
    }

    proptest! {
        /// A single-use (or N-use) approval grants exactly `max_uses` times, then never again.
        #[test]
        fn a_spent_approval_never_grants_again(max in 1u32..6, extra in 1usize..5, dt in 0i64..599) {
            let mut a = approved(max);
            let mut granted = 0u32;
            for _ in 0..(max as usize + extra) {
                if let Ok(uses) = consume(&a, "h1", "codex", t(dt)) {
                    a.uses = uses;
                    granted += 1;
                }
            }
            prop_assert_eq!(granted, max);
            prop_assert!(!grants(&a, "h1", "codex", t(dt)));
        }

        /// Once `expires_at` has passed, nothing grants, covers or decides.
        #[test]
        fn expired_never_grants(after in 0i64..100_000, uses in 0u32..3, max in 1u32..4) {
            let now = t(600 + after);
            let a = Approval { uses, ..approved(max) };
            prop_assert!(!grants(&a, "h1", "codex", now));
            prop_assert!(consume(&a, "h1", "codex", now).is_err());
            prop_assert!(expires(&a, now));
            prop_assert_eq!(
                decide(&pending(), "alice", Permission::Approve, None, now).unwrap(),
                DecideOutcome::Expire
            );
            let bg = Approval { state: ApprovalState::BreakGlass, ..pending() };
            let q = BreakGlassQuery { request_hash: Some("h1"), action_type: "x", target: "y" };
            prop_assert!(!break_glass_covers(&bg, &q, now));
        }
    }
}
