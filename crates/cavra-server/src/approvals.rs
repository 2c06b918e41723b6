//! `/v1/approvals`: list and read approval requests; approve or deny one as the
//! authenticated caller (the requester of a request can never decide it), recorded as
//! `cavra approvals approve|deny` records it (the runtime's `decide_approval`).

use crate::auth::Caller;
use crate::control::{act, read, reason, require_role, typed_body};
use crate::error::{ApiError, ErrorDocument};
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use cavra_runtime::actions::{DecideRequest, Verdict};
use cavra_runtime::views;
use cavra_store::{ApiPermission, OffsetDateTime, Role};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Filter of `GET /v1/approvals`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalFilter {
    /// pending, approved, denied, expired or break_glass.
    pub status: Option<String>,
}

/// List approval requests and break-glass records, newest first.
#[utoipa::path(get, path = "/v1/approvals", tag = "approvals", params(ApprovalFilter),
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra approvals list --json` document", body = Vec<Object>),
        (status = 400, description = "Unknown status", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn list_approvals(
    State(state): State<Shared>,
    caller: Caller,
    filter: Result<Query<ApprovalFilter>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(f) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let filter = views::ApprovalFilter { status: f.status };
    read(&state, &caller, move |s| {
        let store = s.store(true)?;
        let list = views::approvals(&*store, &filter, OffsetDateTime::now_utc())?;
        Ok(views::approvals_doc(&list))
    })
    .await
}

get_one!(
    /// One approval request or break-glass record (`cavra approvals show`).
    get_approval,
    "/v1/approvals/{id}",
    "approvals",
    "The approval id",
    |s, id| {
        let store = s.store(true)?;
        Ok(views::approval(&*store, &id, OffsetDateTime::now_utc())?.doc())
    }
);

/// The body of approve / deny.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// Why (recorded with the decision).
    pub reason: String,
    /// Approve only: how many times the approval may be used (default 1).
    pub uses: Option<u32>,
}

/// Approve or deny the pending request `id` as the caller (`cavra approvals approve|deny`).
async fn decide(
    state: Shared,
    caller: Caller,
    id: String,
    body: Bytes,
    verdict: Verdict,
) -> Result<Json<Value>, ApiError> {
    let role = match verdict {
        Verdict::Approve => Role::Approve,
        Verdict::Deny => Role::Deny,
    };
    require_role(&caller, role)?;
    let hint = "send {\"reason\": \"…\"} (approve also takes \"uses\": N)";
    let body: DecideBody = typed_body(&body, hint)?;
    let req = DecideRequest {
        id,
        verdict,
        reason: reason(&body.reason)?,
        uses: body.uses.filter(|_| verdict == Verdict::Approve),
    };
    act(&state, caller, move |s, auth| {
        let mut store = s.store(false)?;
        // the caller's RBAC view (an OIDC person's groups), and repository RBAC: the
        // caller's groups must cover the request's repository
        store.set_approval_config(auth.caller.approval_config(s)?);
        auth.caller
            .require_repository(store.approval(&req.id)?.repo.as_deref())?;
        let done = s
            .runtime()
            .decide_approval(&s.config.cavra_dir, &mut *store, req, auth)?;
        Ok(views::decided_doc(&done, verdict))
    })
    .await
}

post_on_id!(
    /// Approve a pending request as the token's identity.
    approve,
    "/v1/approvals/{id}/approve",
    "approvals",
    DecideBody,
    decide,
    Verdict::Approve
);

post_on_id!(
    /// Deny a pending request as the token's identity.
    deny,
    "/v1/approvals/{id}/deny",
    "approvals",
    DecideBody,
    decide,
    Verdict::Deny
);
