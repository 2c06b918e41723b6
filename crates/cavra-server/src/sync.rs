//! `/v1/sync`: what a hook in server mode needs to keep deciding when the server is out of
//! reach — the server's floor pack, signed by the server's pack key (`GET /v1/sync/pack`), and
//! the upload of the decisions it made offline (`POST /v1/sync/evidence`), recorded in the
//! server's evidence log under the uploading token's identity.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use cavra_runtime::sync::{OfflineUpload, SignedPack, UPLOAD_BATCH};
use cavra_store::ApiPermission;
use serde::Serialize;
use std::path::PathBuf;
use utoipa::ToSchema;

/// The server's pack key: `<cavra_dir>/server/pack.key` (created on first use, mode 0600;
/// its public half beside it as `pack.key.pub`).
pub fn pack_key_path(s: &AppState) -> PathBuf {
    s.config.cavra_dir.join("server").join("pack.key")
}

pub(crate) fn pack_key(s: &AppState) -> Result<ed25519_dalek::SigningKey, ApiError> {
    let path = pack_key_path(s);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                ApiError::internal(format!("cannot create `{}`: {e}", dir.display()))
            })?;
        }
        // two requests racing here: one creates the key, the other's create fails and it
        // reads the winner's key
        let _ = cavra_evidence::pack_keys::generate(&path);
    }
    cavra_evidence::pack_keys::read_signing_key(&path)
        .map_err(|e| ApiError::internal(format!("the server's pack key: {e}")))
}

/// The server's floor ([`crate::hooks::floor`]: its organisation pack, else its own pack),
/// signed: offline, a hook decides with the stricter of its project pack and this one, as
/// the server does online.
fn signed_pack(s: &AppState) -> Result<SignedPack, ApiError> {
    let pack = crate::hooks::floor(s, &mut s.runtime()).map_err(|e| {
        ApiError::internal(format!(
            "the server's policy does not load: {}",
            cavra_runtime::chain(&e)
        ))
    })?;
    let key = pack_key(s)?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(SignedPack::sign(&pack, &key, now))
}

/// Which repository's floor `GET /v1/sync/pack` sends.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PackQuery {
    /// The repository: its id (`repo-…`) or a path in it (the hook's working directory).
    /// Without it: the server's floor.
    pub repository: Option<String>,
}

/// The floor of `repository` (a path or an id): its enforced policy version, signed when
/// it was approved; else the server's floor, signed now.
fn signed_pack_for(s: &AppState, repository: Option<&str>) -> Result<SignedPack, ApiError> {
    let Some(r) = repository.map(str::trim).filter(|r| !r.is_empty()) else {
        return signed_pack(s);
    };
    let path = if r.starts_with("repo-") {
        // an id: the inventory's path (the sightings that wait written first: the hook
        // asks right after the call that may have been its repository's first)
        crate::inventory::flush(s);
        s.store(false)?
            .repository(r)?
            .map(|x| x.path)
            .ok_or_else(|| ApiError::not_found(format!("no repository `{r}`")))?
    } else {
        crate::inventory::repository_of(s, Some(r))
    };
    let rollout = crate::rollouts::for_repository(s, &path).map_err(ApiError::internal)?;
    match rollout.enforced {
        Some(e) => Ok(e.signed),
        None => signed_pack(s),
    }
}

/// The server's pack, signed by its pack key, for hooks to decide with offline.
#[utoipa::path(get, path = "/v1/sync/pack", tag = "sync",
    params(PackQuery),
    responses(
        (status = 200, description = "The floor pack (with `repository`: the policy version enforced there, signed when it was approved; else the organisation pack, else the pack the server decides with), compiled, and its signature (`cavra-pack-signature/1`); the hook pins the key on first contact", body = Object),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not decide", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn get_pack(
    State(state): State<Shared>,
    caller: Caller,
    query: Result<axum::extract::Query<PackQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SignedPack>, ApiError> {
    caller.require(ApiPermission::Decide)?;
    let axum::extract::Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    blocking(&state, move |s| signed_pack_for(s, q.repository.as_deref()))
        .await
        .map(Json)
}

/// How many offline decisions, and damaged queue entries, were recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Decisions, each an `offline_decision` evidence event.
    pub accepted: usize,
    /// Damaged queue entries, each an `offline_entry_unreadable` evidence event.
    pub unreadable: usize,
}

/// The inventory's sightings of an upload: per repository (of each decision's event
/// `cwd`) and agent, how many offline decisions it carried.
fn uploaded(s: &AppState, upload: &OfflineUpload, client: crate::inventory::ClientReport) {
    let mut seen: std::collections::BTreeMap<(String, String), cavra_store::RepoSighting> =
        std::collections::BTreeMap::new();
    for d in &upload.decisions {
        let cwd = d.event.get("cwd").and_then(serde_json::Value::as_str);
        let path = crate::inventory::repository_of(s, cwd);
        let e = seen
            .entry((path.clone(), d.agent.clone()))
            .or_insert_with(|| cavra_store::RepoSighting {
                path,
                agent: Some(d.agent.clone()),
                client_version: client.version.clone(),
                offline_queued: client.queued,
                ..Default::default()
            });
        e.uploaded = e.uploaded.saturating_add(1);
    }
    for one in seen.values() {
        crate::inventory::record(s, one);
    }
}

/// Records decisions a hook made while the server was unreachable.
#[utoipa::path(post, path = "/v1/sync/evidence", tag = "sync",
    request_body(content = Object, description = "`{\"decisions\": [...], \"unreadable\": [...]}`: the hook's queued offline decisions (at most 200), and the queue entries it could not read (at most 200: `file`, `bytes`, `sha256`, `content`, `error`)"),
    responses(
        (status = 200, description = "Recorded, each decision as an `offline_decision` evidence event, each damaged entry as an `offline_entry_unreadable` one", body = Accepted),
        (status = 400, description = "Not the upload document, or too many decisions", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not decide", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn post_evidence(
    State(state): State<Shared>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<Accepted>, ApiError> {
    caller.require(ApiPermission::Decide)?;
    let client = crate::inventory::client_report(&headers);
    let mut de = serde_json::Deserializer::from_slice(&body);
    let upload: OfflineUpload = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!(
            "invalid upload: field `{path}`: {}",
            e.into_inner()
        ))
        .hint("send {\"decisions\": [...]} as the hook queues them")
    })?;
    if upload.decisions.len() > UPLOAD_BATCH {
        return Err(ApiError::bad_request(format!(
            "an upload carries at most {UPLOAD_BATCH} decisions, not {}",
            upload.decisions.len()
        )));
    }
    if upload.unreadable.len() > UPLOAD_BATCH {
        return Err(ApiError::bad_request(format!(
            "an upload carries at most {UPLOAD_BATCH} unreadable entries, not {}",
            upload.unreadable.len()
        )));
    }
    let who = caller.identity().to_string();
    blocking(&state, move |s| {
        if !s.config.record {
            return Ok(Accepted {
                accepted: 0,
                unreadable: 0,
            });
        }
        let mut rt = s.runtime();
        // each under the uploading token's name
        let mut record = |kind: &str, what: &str, body: Result<serde_json::Value, _>| {
            let mut body: serde_json::Value =
                body.map_err(|e| ApiError::internal(format!("cannot record: {e}")))?;
            if let Some(o) = body.as_object_mut() {
                o.insert("uploaded_by".into(), serde_json::Value::String(who.clone()));
            }
            rt.record_event(&s.config.cavra_dir, kind, &body)
                .map(drop)
                .map_err(|e| {
                    ApiError::internal(format!(
                        "cannot record {what}: {}",
                        cavra_runtime::chain(&e)
                    ))
                })
        };
        for d in &upload.decisions {
            record(
                "offline_decision",
                "an offline decision",
                serde_json::to_value(d),
            )?;
        }
        // what is left of a decision whose queue entry was damaged: recorded as it is,
        // so that the evidence says a decision was made and could not be read back
        for u in &upload.unreadable {
            record(
                "offline_entry_unreadable",
                "an unreadable offline entry",
                serde_json::to_value(u),
            )?;
        }
        drop(rt);
        uploaded(s, &upload, client);
        Ok(Accepted {
            accepted: upload.decisions.len(),
            unreadable: upload.unreadable.len(),
        })
    })
    .await
    .map(Json)
}
