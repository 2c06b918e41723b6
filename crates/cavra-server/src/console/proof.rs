//! `GET /console/proof/{id}`: a record's inclusion proof (as `GET
//! /v1/evidence/records/{id}/proof` answers it) checked by the server against the keys it
//! trusts — the trust root (`$CAVRA_TRUST_ROOT` or `<cavra-dir>/trust-root.json`) when
//! there is one, else the log's own keys — with the list of what was checked. The page
//! also recomputes the leaf hash and the audit path to the checkpoint's root itself
//! (`js/merkle.js`), so a person sees both.

use crate::auth::Caller;
use crate::control::path_id;
use crate::error::ApiError;
use crate::state::{blocking, Shared};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use cavra_evidence::proof::{verify_proof, InclusionProof};
use cavra_evidence::{EvidenceLog, LogConfig};
use cavra_store::ApiPermission;
use serde_json::{json, Value};

/// The trust root named by `$CAVRA_TRUST_ROOT`.
fn trust_root() -> Option<std::path::PathBuf> {
    std::env::var_os("CAVRA_TRUST_ROOT").map(std::path::PathBuf::from)
}

/// The proof of `id` and the keyring it is checked with (blocking).
fn prove(
    s: &crate::state::AppState,
    id: &str,
) -> Result<(InclusionProof, Option<cavra_evidence::keys::Keyring>), ApiError> {
    #[cfg(feature = "postgres")]
    if let Some(pg) = s.pg_log() {
        // the replicas' log signs with the key of the CAVRA directory
        let cfg = LogConfig::for_cavra_dir(&s.config.cavra_dir);
        let ring = cavra_evidence::ops::keyring(
            &s.config.cavra_dir,
            &cfg.key_dir,
            trust_root().as_deref(),
        )
        .ok();
        return Ok((pg.prove(id)?, ring));
    }
    let cfg = LogConfig::for_cavra_dir(&s.config.cavra_dir);
    if !cfg.dir.is_dir() {
        return Err(ApiError::not_found("no evidence log yet"));
    }
    let ring =
        cavra_evidence::ops::keyring(&s.config.cavra_dir, &cfg.key_dir, trust_root().as_deref())?;
    let p = cavra_evidence::proof::prove(&mut EvidenceLog::open(cfg)?, id)?;
    Ok((p, Some(ring)))
}

/// The proof of record `id` and what the server checked of it.
pub async fn check(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let id = path_id(id)?;
    let (p, ring) = blocking(&state, move |s| prove(s, &id)).await?;
    let keys = ring.as_ref().map_or_else(
        || "the key embedded in the proof (integrity only)".to_string(),
        |r| r.source.clone(),
    );
    let issues = verify_proof(&p, ring.as_ref());
    let cp = &p.checkpoint;
    Ok(Json(json!({
        "ok": issues.is_empty(),
        "issues": issues,
        "keys": keys,
        "trust_root": ring.as_ref().is_some_and(|r| r.is_trust_root),
        "checked": [
            "the record line hashes to the proof's leaf hash (SHA-256 of 0x00 ‖ line)",
            "the record's own hash matches its content, and its id and sequence number match the proof",
            format!("the audit path of {} hashes leads from leaf {} to the root of the latest signed checkpoint covering it, over {} records", p.audit_path.len(), p.leaf_index, cp.tree_size),
            format!("the checkpoint's {} signature by key {} verifies against {keys}", cp.alg, cp.key_id),
        ],
        "proof": p,
    })))
}
