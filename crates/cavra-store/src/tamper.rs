//! Rows that claim authority (an approval, a break-glass override, a session release) but
//! carry no valid signature of an approving identity: written into the database by some
//! other means. They are ignored by every decision, listed by [`Store::audit_records`] and
//! reported once each ([`Store::mark_tamper_reported`]).

#[cfg(feature = "sqlite")]
use rusqlite::params;
use serde::Serialize;
#[cfg(feature = "sqlite")]
use time::OffsetDateTime;

#[cfg(feature = "sqlite")]
use crate::approvals::{read_raw, RawApproval, COLS};
#[cfg(feature = "sqlite")]
use crate::db::{classify, Store};
#[cfg(feature = "sqlite")]
use crate::error::StoreError;
#[cfg(feature = "sqlite")]
use crate::timefmt::secs;

/// One row that did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unverified {
    /// `approvals` or `sessions`.
    pub table: &'static str,
    /// The approval id or session id.
    pub id: String,
    /// The state the row claims (`approved`, `denied`, `break_glass`, `released`).
    pub state: String,
    /// Why it does not verify.
    pub detail: String,
    /// Identifies this version of the row (reported once per key).
    pub row_key: String,
}

impl Unverified {
    pub(crate) fn new(
        table: &'static str,
        id: &str,
        state: &str,
        stamp: Option<i64>,
        attestation: Option<&str>,
    ) -> Unverified {
        let detail = if attestation.is_none_or(|a| a.trim().is_empty()) {
            "no signature by an approving identity".to_string()
        } else {
            "the signature does not verify against the approver public key".to_string()
        };
        // the attestation text is part of the key: a second forgery of the same row is a
        // new event
        let att_tag: u64 = attestation
            .unwrap_or("")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        Unverified {
            table,
            id: id.to_string(),
            state: state.to_string(),
            detail,
            row_key: format!(
                "{table}:{id}:{state}:{}:{att_tag:016x}",
                stamp.map(|s| s.to_string()).unwrap_or_default()
            ),
        }
    }
}

#[cfg(feature = "sqlite")]
impl Store {
    /// Remember that `u` was reported; `true` the first time for this row version.
    pub fn mark_tamper_reported(
        &mut self,
        u: &Unverified,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO tamper_reports (row_key, reported_at) VALUES (?1, ?2)",
                params![u.row_key, secs(now)],
            )
            .map_err(|e| self.classify(e))?;
        Ok(n == 1)
    }

    /// Every row that claims authority without a valid signature: approvals that are
    /// approved, denied or break-glass, and released sessions.
    pub fn audit_records(&self) -> Result<Vec<Unverified>, StoreError> {
        let map = |e| classify(&self.path, self.busy_timeout, e);
        let mut out = Vec::new();
        let raws: Vec<RawApproval> = {
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT {COLS} FROM approvals WHERE state IN ('approved', 'denied', \
                     'break_glass') ORDER BY requested_at, rowid"
                ))
                .map_err(map)?;
            let rows = stmt
                .query_map([], read_raw)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(map)?;
            rows
        };
        for raw in raws {
            let a = raw.finish()?;
            if !self.approval_verified(&a) {
                out.push(self.unverified_approval(&a));
            }
        }
        out.extend(self.unverified_releases()?);
        Ok(out)
    }
}
