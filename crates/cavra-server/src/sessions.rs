//! `/v1/sessions`: sessions with blocked attempts (held ones flagged) and their release by
//! a person — never by the session's own agent, and only by one whose repositories cover
//! the session's — recorded as `cavra sessions release` records it (the runtime's
//! `release_as`).

use crate::auth::Caller;
use crate::control::{act, read, reason, require_role, typed_body};
use crate::error::{ApiError, ErrorDocument};
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use cavra_runtime::actions::ReleaseRequest;
use cavra_runtime::views::{self, SessionFilter};
use cavra_store::{ApiPermission, Role, SearchQuery};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Filter of `GET /v1/sessions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// Only sessions on hold.
    pub held: Option<bool>,
}

/// List sessions with blocked attempts.
#[utoipa::path(get, path = "/v1/sessions", tag = "sessions", params(SessionQuery),
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra sessions list --json` document", body = Vec<Object>),
        (status = 400, description = "A filter is invalid", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn list_sessions(
    State(state): State<Shared>,
    caller: Caller,
    q: Result<Query<SessionQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = SessionFilter {
        held: q.held.unwrap_or(false),
    };
    read(&state, &caller, move |s| {
        let store = s.store(false)?;
        Ok(views::sessions_doc(&views::sessions(&*store, filter)?))
    })
    .await
}

get_one!(
    /// One session and its blocked attempts (`cavra sessions show`).
    get_session,
    "/v1/sessions/{id}",
    "sessions",
    "The session id",
    |s, id| Ok(views::session_doc(&views::session(&*s.store(false)?, &id)?))
);

/// The body of a release.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseBody {
    /// Why the hold is lifted (recorded).
    pub reason: String,
}

async fn release(
    state: Shared,
    caller: Caller,
    id: String,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Release)?;
    let body: ReleaseBody = typed_body(&body, "send {\"reason\": \"…\"}")?;
    let req = ReleaseRequest {
        session_id: id,
        reason: reason(&body.reason)?,
    };
    act(&state, caller, move |s, auth| {
        // the caller's RBAC view, and repository RBAC: the caller's groups must cover every
        // repository the session acted in (its approval requests and recorded decisions)
        let mut store = s.store(false)?;
        store.set_approval_config(auth.caller.approval_config(s)?);
        if auth.caller.principal.repositories != cavra_auth::Repositories::All {
            let id = views::session(&*store, &req.session_id)?.session_id;
            let q = SearchQuery {
                session: Some(id.clone()),
                ..Default::default()
            };
            let repos = crate::decisions::acted_in(s, &*store, q, |a| a.session_id == id)?;
            auth.caller
                .require_repositories(repos.iter().map(String::as_str))?;
        }
        let done = s
            .runtime()
            .release_as(&s.config.cavra_dir, &mut *store, req, auth)?;
        Ok(views::released_doc(&done))
    })
    .await
}

post_on_id!(
    /// Release a held session as the token's identity (never by the session's agent).
    release_session,
    "/v1/sessions/{id}/release",
    "sessions",
    ReleaseBody,
    release
);
