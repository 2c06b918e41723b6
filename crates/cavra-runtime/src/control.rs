//! The control actions' effects and their evidence: a person approves or denies an approval
//! request, records a break-glass override, expires what is due, releases a held session.
//! Who the person is (terminal confirmation, approver token) is the front end's concern:
//! it authenticates them and sets their signer on the store before calling these.

use crate::error::RuntimeError;
use crate::Runtime;
use cavra_store::{Approval, ApproveOptions, ControlStore, NewBreakGlass, SessionState};
use serde_json::Value;
use std::path::Path;

type Result<T> = std::result::Result<T, RuntimeError>;

/// An approval as JSON: the record (a superset of `approval.schema.json`) plus `id`,
/// `exhausted` and, for a signed decision, how the person authenticated.
pub fn approval_json(a: &Approval) -> Value {
    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.insert("id".into(), a.approval_id.clone().into());
        m.insert("exhausted".into(), a.exhausted().into());
        if let Some(att) = a.attestation() {
            m.insert("auth_method".into(), att.method.as_str().into());
            if let Some(l) = att.label {
                m.insert("approver_label".into(), l.into());
            }
        }
    }
    v
}

/// A session's escalation state as JSON.
pub fn session_json(s: &SessionState) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

impl Runtime {
    /// Records the evidence of an approval transition and links it from the approval;
    /// returns the approval as stored now.
    fn approval_evidence(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        kind: &str,
        a: &Approval,
    ) -> Result<Approval> {
        let record_id = self.record_transition(cavra_dir, kind, &approval_json(a))?;
        store.add_evidence_ref(&a.approval_id, &format!("evidence://record/{record_id}"))?;
        Ok(store.approval(&a.approval_id)?)
    }

    /// A person approves the pending request `id` (`approval.approved` evidence).
    pub fn approve(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        id: &str,
        identity: &str,
        reason: &str,
        opts: ApproveOptions,
    ) -> Result<Approval> {
        let a = store.approve(id, identity, reason, self.clock.now(), opts)?;
        self.approval_evidence(cavra_dir, store, "approval.approved", &a)
    }

    /// A person denies the pending request `id` (`approval.denied` evidence).
    pub fn deny(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        id: &str,
        identity: &str,
        reason: &str,
    ) -> Result<Approval> {
        let a = store.deny(id, identity, reason, self.clock.now())?;
        self.approval_evidence(cavra_dir, store, "approval.denied", &a)
    }

    /// A person records a break-glass override (`approval.break_glass` evidence).
    pub fn break_glass(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        new: NewBreakGlass,
    ) -> Result<Approval> {
        let a = store.break_glass(new, self.clock.now())?;
        self.approval_evidence(cavra_dir, store, "approval.break_glass", &a)
    }

    /// Expires every approval and override that is due (`approval.expired` evidence each).
    pub fn expire(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
    ) -> Result<Vec<Approval>> {
        let expired = store.expire_due(self.clock.now())?;
        expired
            .iter()
            .map(|a| self.approval_evidence(cavra_dir, store, "approval.expired", a))
            .collect()
    }

    /// A person lifts the hold on a session (`session.released` evidence).
    pub fn release(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn ControlStore,
        session_id: &str,
        identity: &str,
        reason: &str,
    ) -> Result<SessionState> {
        let s = store.release(session_id, identity, reason, self.clock.now())?;
        self.record_transition(cavra_dir, "session.released", &session_json(&s))?;
        Ok(s)
    }
}
