//! `POST /v1/break-glass`: a time-boxed override of one exact request, or of one action
//! type and target pattern, by an admin (with an RBAC file: of a group with the
//! `break_glass` permission; limited to some repositories: only of an exact request in
//! one of them) — recorded and flagged as `cavra approvals
//! break-glass` records it (the runtime's `break_glass_as`). Its lifetime is bounded by
//! the server's pack (`max_break_glass_ttl`).

use crate::auth::Caller;
use crate::control::{act, reason, require_role, typed_body};
use crate::error::{ApiError, ErrorDocument};
use crate::state::{AppState, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use cavra_runtime::actions::BreakGlassRequest;
use cavra_runtime::views;
use cavra_store::{Role, SearchQuery};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;
use utoipa::ToSchema;

/// The body of a break-glass override: `request_hash`, or `action_type` and `target`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassBody {
    /// Why the override is needed (recorded).
    pub reason: String,
    /// The exact request to unblock (the `request_hash` of its decision).
    pub request_hash: Option<String>,
    /// One action type to unblock (`write_file`, …), with `target`.
    pub action_type: Option<String>,
    /// The target glob to unblock, with `action_type`.
    pub target: Option<String>,
    /// Lifetime, e.g. `30m` (default `1h`; at most the pack's `max_break_glass_ttl`).
    pub ttl: Option<String>,
}

/// The longest override the server's pack allows.
fn max_ttl(s: &AppState) -> Result<Duration, ApiError> {
    let c = &s.config;
    let project_cavra = c.locator.locate_path(Some(&c.project)).project_cavra_dir;
    cavra_runtime::packs::max_break_glass_ttl(&c.packs, Some(&project_cavra)).map_err(|e| {
        ApiError::internal(format!(
            "{} (it sets the longest break-glass TTL)",
            cavra_runtime::chain(&e)
        ))
    })
}

/// Record a break-glass override as the token's identity (admin only).
#[utoipa::path(post, path = "/v1/break-glass", tag = "approvals",
    request_body = BreakGlassBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The break-glass record (the `cavra approvals break-glass --json` document)", body = Object),
        (status = 400, description = "A malformed body, no reason, no scope, or a TTL over the pack's maximum", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn post_break_glass(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::BreakGlass)?;
    let hint = "send {\"reason\": \"…\", \"action_type\": \"write_file\", \"target\": \"GLOB\", \"ttl\": \"30m\"} or {\"reason\": \"…\", \"request_hash\": \"…\"}";
    let b: BreakGlassBody = typed_body(&body, hint)?;
    if b.action_type.is_some() != b.target.is_some() {
        return Err(ApiError::bad_request(
            "invalid request: fields `action_type` and `target` go together",
        )
        .hint(hint));
    }
    let reason = reason(&b.reason)?;
    act(&state, caller, move |s, auth| {
        let req = BreakGlassRequest {
            reason,
            request_hash: b.request_hash,
            action_type: b.action_type,
            target: b.target,
            ttl: b.ttl.unwrap_or_else(|| "1h".into()),
            max_ttl: max_ttl(s)?,
        };
        // the caller's RBAC view (break_glass permission by IdP group), and repository
        // RBAC: an exact request's repository (its approval requests and recorded
        // decisions) must be the caller's; a scope by action and target names none
        let mut store = s.store(false)?;
        store.set_approval_config(auth.caller.approval_config(s)?);
        if auth.caller.principal.repositories != cavra_auth::Repositories::All {
            let repos = match &req.request_hash {
                Some(hash) => {
                    let q = SearchQuery {
                        text: Some(hash.clone()),
                        ..Default::default()
                    };
                    crate::decisions::acted_in(s, &*store, q, |a| &a.request_hash == hash)?
                }
                None => Default::default(),
            };
            auth.caller
                .require_repositories(repos.iter().map(String::as_str))?;
        }
        let done = s
            .runtime()
            .break_glass_as(&s.config.cavra_dir, &mut *store, req, auth)?;
        Ok(views::break_glass_doc(&done.result))
    })
    .await
}
