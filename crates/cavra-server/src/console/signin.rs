//! Console sign-in: `POST /console/session` with a credential (a server token from
//! `cavra tokens issue`, or an OIDC token of the configured issuer; [`super::oidc`] is the
//! browser flow) authenticates it as `/v1` does and opens a session kept in the store
//! (replicas share it): the browser gets an HttpOnly, SameSite=Strict cookie (Secure when
//! the public URL is `https://`) and the session's CSRF token. `GET /console/session`
//! tells the page who is signed in and what their roles allow (the page hides the rest);
//! `DELETE /console/session` signs out.
//!
//! A `/v1` request that carries the cookie instead of `Authorization` is the session's
//! principal ([`session_caller`]); one that changes anything (any method but GET/HEAD)
//! must send the session's CSRF token in `X-CSRF-Token`, else 403. A session opened with a
//! server token ends when the token is revoked or expires. Agent credentials never sign in:
//! the console is the people's channel.

use crate::auth::{authenticate, Caller};
use crate::control::{require_role, typed_body};
use crate::error::ApiError;
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cavra_auth::{Principal, Role};
use cavra_store::{ApiPermission, OffsetDateTime, WebSession};
use serde::Deserialize;
use serde_json::{json, Value};

/// The session cookie's name.
pub const COOKIE: &str = "cavra_session";
/// The header a cookie session's mutations carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a console session lasts.
pub const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Should cookies carry `Secure`: the people reach the server over `https://`.
pub fn secure(s: &AppState) -> bool {
    s.config
        .public_url
        .as_deref()
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
}

/// A `Set-Cookie` value: HttpOnly, `same_site`, path `path`, `max_age` seconds (0: delete).
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: u64,
    secure: bool,
) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Equal byte strings, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn signed_out(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        .hint("sign in again at the console (`/signin`)")
}

/// The live session of cookie `secret` and its caller. `csrf`: for a request that changes
/// something, the `X-CSRF-Token` it sent (`Some(None)`: none), checked against the session.
pub fn session_caller(
    s: &AppState,
    secret: &str,
    csrf: Option<Option<&str>>,
) -> Result<(Caller, WebSession), ApiError> {
    let now = OffsetDateTime::now_utc();
    let session = s
        .with_lookup_store(|store| Ok(store.web_session(secret, now)?))?
        .ok_or_else(|| signed_out("the console session is unknown, ended or expired"))?;
    if let Some(sent) = csrf {
        if !sent.is_some_and(|t| same(t, &session.csrf_token)) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a console session's change must send its CSRF token in `X-CSRF-Token`",
            )
            .hint("the console sends it; another site's form or script cannot"));
        }
    }
    let principal: Principal = serde_json::from_str(&session.principal)
        .map_err(|e| ApiError::internal(format!("the session's principal does not read: {e}")))?;
    let token = match &session.token_id {
        Some(id) => {
            let t = s
                .with_lookup_store(|store| Ok(store.api_token(id)?))
                .map_err(|_| signed_out("the session's token is gone"))?;
            if !t.active(now) {
                return Err(signed_out("the session's token is revoked or expired"));
            }
            Some(t)
        }
        None => None,
    };
    Ok((Caller { principal, token }, session))
}

/// The caller of a request that carries the session cookie and no `Authorization`.
pub fn caller_of_request(
    s: &AppState,
    secret: &str,
    mutates: bool,
    csrf: Option<&str>,
) -> Result<Caller, ApiError> {
    session_caller(s, secret, mutates.then_some(csrf)).map(|(c, _)| c)
}

/// What the page is told about the signed-in person: who, how, the roles, and what they
/// may do (the page shows only that; the server checks every call anyway).
pub fn session_doc(c: &Caller, session: &WebSession) -> Value {
    use cavra_store::Role as R;
    let may_role = |r: R| require_role(c, r).is_ok();
    let p = &c.principal;
    json!({
        "identity": c.identity(),
        "subject": p.subject,
        "method": p.method,
        "issuer": p.issuer,
        "roles": p.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "groups": p.groups,
        "repositories": p.repositories,
        "token_id": session.token_id,
        "csrf_token": session.csrf_token,
        "expires_at": cavra_store::rfc3339(session.expires_at),
        "may": {
            "read": c.require(ApiPermission::Read).is_ok(),
            "approve": may_role(R::Approve),
            "deny": may_role(R::Deny),
            "release": may_role(R::Release),
            "break_glass": may_role(R::BreakGlass),
            "admin": may_role(R::Admin),
        },
    })
}

/// Opens a session for `caller` (blocking) and answers with its document and cookie.
pub fn open_session(s: &AppState, caller: &Caller) -> Result<(String, Value), ApiError> {
    if caller.principal.roles.iter().all(|r| *r == Role::Agent) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "`{}` has no role of a person (admin, approver, auditor): agent credentials do not sign in to the console",
                caller.identity()
            ),
        )
        .hint("sign in with a token issued with `--role auditor|approver|admin`, or as a person at the identity provider"));
    }
    let principal =
        serde_json::to_string(&caller.principal).map_err(|e| ApiError::internal(e.to_string()))?;
    let token_id = caller.token.as_ref().map(|t| t.id.clone());
    let new = s.store(false)?.create_web_session(
        &principal,
        token_id.as_deref(),
        SESSION_TTL,
        OffsetDateTime::now_utc(),
    )?;
    let cookie = set_cookie(
        COOKIE,
        &new.secret,
        "/",
        "Strict",
        SESSION_TTL.as_secs(),
        secure(s),
    );
    Ok((cookie, session_doc(caller, &new.session)))
}

/// The body of `POST /console/session`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// A server token, or an OIDC token of the configured issuer.
    pub token: String,
}

fn with_cookie(cookie: &str, body: Value) -> Response {
    let mut res = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    no_store(&mut res);
    res
}

fn no_store(res: &mut Response) {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `POST /console/session`: token sign-in.
pub async fn sign_in(State(state): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let body: SignIn = typed_body(&body, "send {\"token\": \"…\"}")?;
    let token = body.token.trim().to_string();
    if token.is_empty() {
        return Err(ApiError::bad_request("`token` is empty"));
    }
    let (cookie, doc) = blocking(&state, move |s| {
        let caller = authenticate(s, &token)?;
        open_session(s, &caller)
    })
    .await?;
    Ok(with_cookie(&cookie, doc))
}

/// The session cookie of a request (401: none).
fn secret_of(headers: &HeaderMap) -> Result<String, ApiError> {
    cookie(headers, COOKIE)
        .map(str::to_string)
        .ok_or_else(|| signed_out("not signed in"))
}

/// `GET /console/session`: who is signed in (401: nobody).
pub async fn current(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = secret_of(&headers)?;
    let doc = blocking(&state, move |s| {
        let (c, session) = session_caller(s, &secret, None)?;
        Ok(session_doc(&c, &session))
    })
    .await?;
    let mut res = Json(doc).into_response();
    no_store(&mut res);
    Ok(res)
}

/// `DELETE /console/session`: sign-out (the CSRF token is required: another site cannot
/// sign a person out either). The cookie is cleared in any case.
pub async fn sign_out(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = secret_of(&headers)?;
    let csrf = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let secure = secure(&state);
    blocking(&state, move |s| {
        session_caller(s, &secret, Some(csrf.as_deref()))?;
        s.store(false)?
            .end_web_session(&secret, OffsetDateTime::now_utc())?;
        Ok(())
    })
    .await?;
    Ok(with_cookie(
        &set_cookie(COOKIE, "", "/", "Strict", 0, secure),
        json!({"signed_out": true}),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_and_written() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; cavra_session=cavra-web.v1.ab ; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("cavra-web.v1.ab"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
        let c = set_cookie(COOKIE, "v", "/", "Strict", 60, true);
        assert_eq!(
            c,
            "cavra_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie(COOKIE, "v", "/", "Strict", 60, false).contains("Secure"));
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
