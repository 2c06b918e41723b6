//! What the control endpoints share: the caller as the runtime's [`Authenticator`] (the
//! token's role checked for the action, the server's approver key signing the records),
//! typed JSON bodies whose errors name the field, path ids, and the document answer.
//!
//! Roles: approving, denying and releasing a session take `approver` or `admin`;
//! break-glass and registry changes take `admin`; reading takes `auditor`, `approver` or
//! `admin`; `agent` tokens decide and call hooks only.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::{blocking, AppState, Shared};
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use cavra_runtime::authz::{Authenticator, Authorized, ControlAction};
use cavra_runtime::views::Doc;
use cavra_runtime::RuntimeError;
use cavra_store::{ApiPermission, ApproverKey, AuthMethod, OffsetDateTime, Role, Signer};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::PathBuf;

/// `POST <path>` on one entry (`{id}`): a control action with a JSON body — its OpenAPI
/// entry and its handler, which checks the path id and calls
/// `$run(state, caller, id, body, extra…)`. One definition for every twin route
/// (approve / deny, approve / block, release).
macro_rules! post_on_id {
    ($(#[$m:meta])* $name:ident, $path:literal, $tag:literal, $body:ty, $run:path $(, $arg:expr)*) => {
        $(#[$m])*
        #[utoipa::path(post, path = $path, tag = $tag,
            params(("id" = String, Path, description = "The id of the entry")),
            request_body = $body,
            responses(
                (status = 200, description = "The entry as stored now: the document the CLI prints with `--json`", body = Object),
                (status = 400, description = "A malformed body, or a missing reason", body = crate::error::ErrorDocument),
                (status = 404, description = "No such entry", body = crate::error::ErrorDocument),
                (status = 409, description = "Not in a state that allows it (decided, expired, not held)", body = crate::error::ErrorDocument),
                crate::control::Refused),
            security(("bearer" = [])))]
        pub async fn $name(
            axum::extract::State(state): axum::extract::State<crate::state::Shared>,
            caller: crate::auth::Caller,
            id: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
            body: axum::body::Bytes,
        ) -> Result<axum::Json<serde_json::Value>, crate::error::ApiError> {
            let id = crate::control::path_id(id)?;
            $run(state, caller, id, body $(, $arg)*).await
        }
    };
}

/// `GET <path>/{id}`: one entry as the CLI's `show --json` prints it — its OpenAPI
/// entry and its handler, which checks the path id and reads `$body` (a [`Doc`]) for a
/// caller that may read.
macro_rules! get_one {
    ($(#[$m:meta])* $name:ident, $path:literal, $tag:literal, $what:literal, |$s:ident, $id:ident| $body:expr) => {
        $(#[$m])*
        #[utoipa::path(get, path = $path, tag = $tag,
            params(("id" = String, Path, description = $what)),
            responses(
                (status = 200, description = "The document the CLI's `show --json` prints", body = Object),
                (status = 400, description = "Not a valid id (empty, too long, control characters)", body = crate::error::ErrorDocument),
                (status = 404, description = "No such entry", body = crate::error::ErrorDocument),
                crate::control::Refused),
            security(("bearer" = [])))]
        pub async fn $name(
            caller: crate::auth::Caller,
            id: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
            axum::extract::State(state): axum::extract::State<crate::state::Shared>,
        ) -> Result<axum::Json<serde_json::Value>, crate::error::ApiError> {
            let $id = crate::control::path_id(id)?;
            crate::control::read(&state, &caller, move |$s| $body).await
        }
    };
}

/// `GET <path>`: a listing as the CLI's `list --json` prints it (see [`get_one!`]).
macro_rules! get_list {
    ($(#[$m:meta])* $name:ident, $path:literal, $tag:literal, |$s:ident| $body:expr) => {
        #[utoipa::path(get, path = $path, tag = $tag, security(("bearer" = [])),
            responses(crate::control::Refused,
                (status = 200, description = "The document the CLI's `list --json` prints", body = Vec<Object>)))]
        $(#[$m])*
        pub async fn $name(
            caller: crate::auth::Caller,
            axum::extract::State(state): axum::extract::State<crate::state::Shared>,
        ) -> Result<axum::Json<serde_json::Value>, crate::error::ApiError> {
            crate::control::read(&state, &caller, move |$s| $body).await
        }
    };
}

/// The answers of every `/v1` endpoint without a valid token (401) or with a token whose
/// role may not do what the endpoint does (403).
#[derive(utoipa::IntoResponses)]
pub enum Refused {
    /// No valid token
    #[response(status = 401)]
    Unauthorized(crate::error::ErrorDocument),
    /// The token's role may not do this
    #[response(status = 403)]
    Forbidden(crate::error::ErrorDocument),
}

/// What a control action of `role` needs of an API token: `None` for admin only.
pub fn permission(role: Role) -> Option<ApiPermission> {
    match role {
        Role::Approve | Role::Deny | Role::Release => Some(ApiPermission::Approve),
        Role::BreakGlass | Role::Admin => None,
    }
}

/// Refuses (403) unless the caller may do a control action of `role`.
pub fn require_role(caller: &Caller, role: Role) -> Result<(), ApiError> {
    match permission(role) {
        Some(p) => caller.require(p),
        None if caller.principal.has_role(cavra_auth::Role::Admin) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "`{}` does not have the role admin; {} takes the role admin",
                caller.identity(),
                match role {
                    Role::BreakGlass => "break-glass",
                    _ => "this change",
                }
            ),
        )
        .hint("issue one with `cavra tokens issue --role admin`")),
    }
}

/// The authenticated caller of a control endpoint, as the runtime asks for a person: the
/// identity is the token's name or the OIDC identity; records are signed with the server's
/// approver key (created on first use) and name the token or the issuer and subject.
pub struct ServerAuth {
    pub caller: Caller,
    pub approver_dir: Option<PathBuf>,
}

impl ServerAuth {
    pub fn new(s: &AppState, caller: Caller) -> ServerAuth {
        ServerAuth {
            caller,
            approver_dir: s.config.approver_dir.clone(),
        }
    }

    fn method_and_label(&self) -> (AuthMethod, String) {
        match &self.caller.token {
            Some(t) => (AuthMethod::Token, format!("API token {}", t.id)),
            None => (
                AuthMethod::Oidc,
                format!(
                    "OIDC {} sub {}",
                    self.caller.principal.issuer.as_deref().unwrap_or("?"),
                    self.caller.principal.subject
                ),
            ),
        }
    }
}

impl Authenticator for ServerAuth {
    fn authenticate(
        &self,
        action: &ControlAction,
        _now: OffsetDateTime,
    ) -> Result<Authorized, RuntimeError> {
        if action.terminal_only {
            return Err(RuntimeError::Refused(format!(
                "`{}` is done by a person at their own terminal, not through the server",
                action.command
            )));
        }
        require_role(&self.caller, action.role)
            .map_err(|e| RuntimeError::Refused(e.body.message))?;
        let (method, label) = self.method_and_label();
        Ok(Authorized {
            identity: self.caller.identity().to_string(),
            method,
            label: Some(label),
        })
    }

    fn signer(&self, who: &Authorized, now: OffsetDateTime) -> Result<Signer, RuntimeError> {
        let dir = self.approver_dir.as_deref().ok_or_else(|| {
            RuntimeError::Invalid("the server has no approver directory: set HOME, XDG_CONFIG_HOME or CAVRA_APPROVER_DIR where it runs".into())
        })?;
        let key = match ApproverKey::load(dir)? {
            Some(k) => k,
            None => {
                let k = ApproverKey::init(dir, now)?;
                tracing::info!(dir = %dir.display(), "created the approver key: approvals made through the server are signed with it");
                k
            }
        };
        Ok(Signer {
            key,
            method: who.method,
            label: who.label.clone(),
        })
    }
}

/// Runs a control action on the blocking pool with the caller as the person; answers the
/// document's JSON.
pub async fn act<F>(state: &Shared, caller: Caller, f: F) -> Result<Json<Value>, ApiError>
where
    F: FnOnce(&AppState, &ServerAuth) -> Result<Doc, ApiError> + Send + 'static,
{
    let v = blocking(state, move |s| {
        let auth = ServerAuth::new(s, caller);
        f(s, &auth).map(|d| d.json)
    })
    .await?;
    Ok(Json(v))
}

/// Reads a document on the blocking pool (a token that may read); answers its JSON.
pub async fn read<F>(state: &Shared, caller: &Caller, f: F) -> Result<Json<Value>, ApiError>
where
    F: FnOnce(&AppState) -> Result<Doc, ApiError> + Send + 'static,
{
    caller.require(ApiPermission::Read)?;
    Ok(Json(blocking(state, move |s| f(s).map(|d| d.json)).await?))
}

/// A JSON body as `T`; a malformed one is a 400 naming the line and column, a wrong
/// field a 400 naming the field; `hint` says what to send.
pub fn typed_body<T: DeserializeOwned>(body: &[u8], hint: &str) -> Result<T, ApiError> {
    let v = crate::decisions::json_body(body)?;
    typed(&v, hint)
}

/// A JSON value as `T`; the error names the field.
pub fn typed<T: DeserializeOwned>(v: &serde_json::Value, hint: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!(
            "invalid request: field `{path}`: {}",
            e.into_inner()
        ))
        .hint(hint.to_string())
    })
}

/// The id of a path; ids are at most 256 characters without control characters.
pub fn path_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "invalid id `{}`",
            id.escape_default()
        )));
    }
    Ok(id)
}

/// A reason that must be given: not blank.
pub fn reason(r: &str) -> Result<String, ApiError> {
    if r.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid request: field `reason` must not be empty",
        ));
    }
    Ok(r.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cavra_store::ApiRole;

    fn caller(role: ApiRole) -> Caller {
        Caller::of_token(cavra_store::ApiToken {
            id: "tok-1".into(),
            name: "bob".into(),
            role,
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: "admin".into(),
            expires_at: None,
            revoked_at: None,
            revoked_by: None,
        })
    }

    #[test]
    fn the_caller_is_the_person_of_a_control_action_its_role_permitting() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let release = ControlAction::new("cavra sessions release s", Role::Release);
        let bg = ControlAction::new("cavra approvals break-glass", Role::BreakGlass);
        let auth = |role| ServerAuth {
            caller: caller(role),
            approver_dir: None,
        };
        let who = auth(ApiRole::Approver).authenticate(&release, now).unwrap();
        assert_eq!(
            (who.identity.as_str(), who.method, who.label.as_deref()),
            ("bob", AuthMethod::Token, Some("API token tok-1"))
        );
        let e = auth(ApiRole::Approver).authenticate(&bg, now).unwrap_err();
        assert!(e.to_string().contains("role admin"), "{e}");
        assert!(auth(ApiRole::Admin).authenticate(&bg, now).is_ok());
        for role in [ApiRole::Auditor, ApiRole::Agent] {
            assert!(auth(role).authenticate(&release, now).is_err(), "{role:?}");
        }
        let keys = ControlAction {
            terminal_only: true,
            ..ControlAction::new("cavra keys approver init", Role::Admin)
        };
        let e = auth(ApiRole::Admin).authenticate(&keys, now).unwrap_err();
        assert!(e.to_string().contains("own terminal"), "{e}");
        // without an approver directory nothing can be signed
        assert!(auth(ApiRole::Admin).signer(&who, now).is_err());
        let dir = tempfile::tempdir().unwrap();
        let with_dir = ServerAuth {
            caller: caller(ApiRole::Approver),
            approver_dir: Some(dir.path().join("approver")),
        };
        let signer = with_dir.signer(&who, now).unwrap();
        assert_eq!(signer.method, AuthMethod::Token);
        assert_eq!(signer.label.as_deref(), Some("API token tok-1"));
    }

    #[test]
    fn control_roles_map_to_token_roles() {
        assert_eq!(permission(Role::Approve), Some(ApiPermission::Approve));
        assert_eq!(permission(Role::Release), Some(ApiPermission::Approve));
        assert_eq!(permission(Role::BreakGlass), None);
        assert_eq!(permission(Role::Admin), None);
    }
}
