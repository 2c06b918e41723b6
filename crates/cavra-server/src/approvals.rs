//! `/v1/approvals`: list and read approval requests; approve or deny one as the
//! authenticated caller (the requester of a request can never decide it), recorded as
//! `cavra approvals approve|deny` records it.

use crate::auth::Caller;
use crate::decisions::json_body;
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use cavra_runtime::control::approval_json;
use cavra_store::{
    ApiPermission, Approval, ApprovalState, ApproveOptions, ApproverKey, AuthMethod,
    OffsetDateTime, Signer, Store,
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// The approval document, with `signature_verified` for a record that claims a decision
/// (approved, denied, break-glass): is it signed by an approving identity?
fn document(store: &Store, a: &Approval) -> Value {
    let mut v = approval_json(a);
    if matches!(
        a.state,
        ApprovalState::Approved | ApprovalState::Denied | ApprovalState::BreakGlass
    ) {
        v["signature_verified"] = store.approval_verified(a).into();
    }
    v
}

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
        (status = 200, description = "The `cavra approvals list --json` document", body = Vec<Object>),
        (status = 400, description = "Unknown status", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not read", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn list_approvals(
    State(state): State<Shared>,
    caller: Caller,
    filter: Result<Query<ApprovalFilter>, QueryRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(f) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let status = f.status.as_deref().map(ApprovalState::parse).transpose()?;
    let list = blocking(&state, move |s| {
        let store = s.store(true)?;
        let list = store.list_approvals(status, OffsetDateTime::now_utc())?;
        Ok(list.iter().map(|a| document(&store, a)).collect())
    })
    .await?;
    Ok(Json(list))
}

fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(id)
}

/// One approval request.
#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "approvals",
    params(("id" = String, Path, description = "The approval id")),
    responses(
        (status = 200, description = "The `cavra approvals show --json` document", body = Object),
        (status = 404, description = "No such approval", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not read", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn get_approval(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let id = path_id(id)?;
    let v = blocking(&state, move |s| {
        let store = s.store(true)?;
        let mut a = store.approval(&id)?;
        a.state = a.effective_state(OffsetDateTime::now_utc());
        Ok(document(&store, &a))
    })
    .await?;
    Ok(Json(v))
}

/// The body of approve / deny.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// Why (recorded with the decision).
    pub reason: String,
    /// Approve only: how many times the approval may be used (default 1).
    pub uses: Option<u32>,
}

/// The key that signs what is decided through the server: the approver key of the
/// server's approver directory, created on first use (the records name the token's
/// subject and the method `token`).
fn signer(s: &AppState, caller: &Caller) -> Result<Signer, ApiError> {
    let dir = s.config.approver_dir.as_deref().ok_or_else(|| {
        ApiError::internal("the server has no approver directory: set HOME, XDG_CONFIG_HOME or CAVRA_APPROVER_DIR where it runs")
    })?;
    let key = match ApproverKey::load(dir)? {
        Some(k) => k,
        None => {
            let k = ApproverKey::init(dir, OffsetDateTime::now_utc())?;
            tracing::info!(dir = %dir.display(), "created the approver key: approvals made through the server are signed with it");
            k
        }
    };
    Ok(Signer {
        key,
        method: AuthMethod::Token,
        label: Some(format!("API token {}", caller.token.id)),
    })
}

fn decide(
    s: &AppState,
    caller: &Caller,
    id: &str,
    body: DecideBody,
    approve: bool,
) -> Result<Value, ApiError> {
    if body.reason.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid request: field `reason` must not be empty",
        ));
    }
    let mut store = s.store(true)?.with_signer(signer(s, caller)?);
    let dir = &s.config.cavra_dir;
    let a = if approve {
        s.runtime().approve(
            dir,
            &mut store,
            id,
            caller.identity(),
            &body.reason,
            ApproveOptions {
                max_uses: body.uses,
            },
        )
    } else {
        s.runtime()
            .deny(dir, &mut store, id, caller.identity(), &body.reason)
    };
    Ok(approval_json(&a?))
}

async fn decide_route(
    state: Shared,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
    approve: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Approve)?;
    let id = path_id(id)?;
    let v = json_body(&body)?;
    let body: DecideBody = serde_path_to_error::deserialize(&v).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!(
            "invalid request: field `{path}`: {}",
            e.into_inner()
        ))
        .hint("send {\"reason\": \"…\"} (approve also takes \"uses\": N)")
    })?;
    let v = blocking(&state, move |s| decide(s, &caller, &id, body, approve)).await?;
    Ok(Json(v))
}

/// Approve a pending request as the token's identity.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "approvals",
    params(("id" = String, Path, description = "The approval id")),
    request_body = DecideBody,
    responses(
        (status = 200, description = "The approval as stored now", body = Object),
        (status = 400, description = "No reason, or a malformed body", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not approve, the caller requested it (self-approval), or RBAC refuses", body = ErrorDocument),
        (status = 404, description = "No such approval", body = ErrorDocument),
        (status = 409, description = "Not pending (decided or expired)", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    decide_route(state, caller, id, body, true).await
}

/// Deny a pending request as the token's identity.
#[utoipa::path(post, path = "/v1/approvals/{id}/deny", tag = "approvals",
    params(("id" = String, Path, description = "The approval id")),
    request_body = DecideBody,
    responses(
        (status = 200, description = "The approval as stored now", body = Object),
        (status = 400, description = "No reason, or a malformed body", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not deny, the caller requested it, or RBAC refuses", body = ErrorDocument),
        (status = 404, description = "No such approval", body = ErrorDocument),
        (status = 409, description = "Not pending (decided or expired)", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn deny(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    decide_route(state, caller, id, body, false).await
}
