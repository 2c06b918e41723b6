//! Console sign-in at the configured OIDC issuer: the authorization code flow with PKCE.
//!
//! `GET /console/oidc/login` sends the browser to the issuer's `authorization_endpoint`
//! (from its discovery document) with a fresh `state`, `nonce` and S256 code challenge;
//! the three (and the verifier) ride in a short-lived HttpOnly cookie scoped to
//! `/console/oidc` (SameSite=Lax: the issuer's redirect back is a cross-site navigation).
//! `GET /console/oidc/callback` checks `state` against the cookie, exchanges the code at
//! the `token_endpoint` with the verifier, validates the ID token with the same
//! validator as OIDC bearer tokens (signature, issuer, audience, expiry; groups → roles and
//! repositories) plus its `nonce`, and opens a console session for that principal.
//!
//! The client id is the first `audience` of `auth.oidc` (an ID token's audience is the
//! client it was issued to); a confidential client's secret comes from
//! `$CAVRA_OIDC_CLIENT_SECRET`. The redirect URI is `<public_url>/console/oidc/callback`.

use super::signin::{cookie, open_session, secure, set_cookie};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::{blocking, AppState, Shared};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The cookie that carries a sign-in in progress.
pub const FLOW_COOKIE: &str = "cavra_oidc";
/// How long a sign-in at the issuer may take.
const FLOW_SECS: u64 = 600;

fn random_hex(n: usize) -> String {
    use rand_core::RngCore as _;
    let mut b = vec![0u8; n];
    rand_core::OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The S256 code challenge of `verifier` (RFC 7636).
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `s` percent-encoded for a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The issuer's endpoints of the code flow.
struct Endpoints {
    authorization: String,
    token: String,
}

fn not_configured() -> ApiError {
    ApiError::not_found("this server has no OIDC issuer (no auth.oidc in its config)")
        .hint("sign in with a server token, or configure auth.oidc (docs/auth.md)")
}

fn unavailable(message: String) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        .hint("the identity provider could not be reached; retry, or sign in with a server token")
}

/// The issuer's discovery document's endpoints (blocking).
fn endpoints(s: &AppState) -> Result<Endpoints, ApiError> {
    let oidc = s.oidc().ok_or_else(not_configured)?;
    let st = oidc.settings();
    let url = match &st.source {
        cavra_auth::KeySource::Discovery(u) => u.clone(),
        _ => format!(
            "{}/.well-known/openid-configuration",
            st.issuer.trim_end_matches('/')
        ),
    };
    let text =
        cavra_auth::http::get(&url, st.http_timeout).map_err(|e| unavailable(e.to_string()))?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| unavailable(format!("the discovery document `{url}` is not JSON: {e}")))?;
    let field = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .filter(|v| v.starts_with("http://") || v.starts_with("https://"))
            .map(str::to_string)
            .ok_or_else(|| unavailable(format!("the discovery document `{url}` has no `{k}`")))
    };
    Ok(Endpoints {
        authorization: field("authorization_endpoint")?,
        token: field("token_endpoint")?,
    })
}

fn client_id(s: &AppState) -> Result<String, ApiError> {
    let oidc = s.oidc().ok_or_else(not_configured)?;
    oidc.settings()
        .audience
        .first()
        .cloned()
        .ok_or_else(|| ApiError::internal("auth.oidc names no audience (the client id)"))
}

fn redirect_uri(s: &AppState) -> String {
    let base = s
        .config
        .public_url
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('/');
    format!("{base}/console/oidc/callback")
}

/// Where to go after sign-in: a path of this site only (`/…`, never `//host`).
fn local_path(next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.starts_with("/\\")
            && n.len() <= 512
            && n.chars().all(|c| c.is_ascii_graphic())
    })
    .unwrap_or("/")
    .to_string()
}

fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// The console page to return to.
    pub next: Option<String>,
}

/// `GET /console/oidc/login`: off to the issuer.
pub async fn login(
    State(state): State<Shared>,
    q: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let next = local_path(q.next.as_deref());
    let (ep, client) = blocking(&state, |s| Ok((endpoints(s)?, client_id(s)?))).await?;
    let (st, nonce, verifier) = (random_hex(16), random_hex(16), random_hex(32));
    let sep = if ep.authorization.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!(
        "{}{sep}response_type=code&client_id={}&redirect_uri={}&scope=openid%20email%20profile&state={st}&nonce={nonce}&code_challenge={}&code_challenge_method=S256",
        ep.authorization,
        encode(&client),
        encode(&redirect_uri(&state)),
        challenge(&verifier),
    );
    let flow = format!("{st}.{nonce}.{verifier}.{}", encode(&next));
    let c = set_cookie(
        FLOW_COOKIE,
        &flow,
        "/console/oidc",
        "Lax",
        FLOW_SECS,
        secure(&state),
    );
    Ok(redirect(&location, &[c]))
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

fn refused(message: String) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).hint("start again at /signin")
}

/// The percent-decoded `s` (a path this server encoded).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /console/oidc/callback`: the issuer sent the browser back with a code.
pub async fn callback(
    State(state): State<Shared>,
    headers: HeaderMap,
    q: Result<Query<CallbackQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if let Some(e) = &q.error {
        return Err(refused(format!(
            "the identity provider refused the sign-in: {e}{}",
            q.error_description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )));
    }
    let flow = cookie(&headers, FLOW_COOKIE).ok_or_else(|| {
        refused("no sign-in in progress (its cookie is missing or expired)".into())
    })?;
    let mut parts = flow.splitn(4, '.');
    let (Some(want_state), Some(nonce), Some(verifier), next) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused("the sign-in cookie is malformed".into()));
    };
    let next = local_path(next.map(decode).as_deref());
    let got_state = q.state.as_deref().unwrap_or("");
    if got_state.is_empty() || got_state != want_state {
        return Err(refused(
            "the sign-in's `state` does not match: not the sign-in this browser started".into(),
        ));
    }
    let code = q
        .code
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| ApiError::bad_request("the issuer's answer has no `code`"))?;
    let (nonce, verifier) = (nonce.to_string(), verifier.to_string());
    let (session_cookie, _) = blocking(&state, move |s| {
        let ep = endpoints(s)?;
        let client = client_id(s)?;
        let redirect = redirect_uri(s);
        let secret = std::env::var("CAVRA_OIDC_CLIENT_SECRET")
            .ok()
            .filter(|v| !v.is_empty());
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("client_id", client.as_str()),
            ("code_verifier", verifier.as_str()),
        ];
        if let Some(sec) = &secret {
            form.push(("client_secret", sec.as_str()));
        }
        let oidc = s.oidc().ok_or_else(not_configured)?;
        let text = cavra_auth::http::post_form(&ep.token, &form, oidc.settings().http_timeout)
            .map_err(|e| refused(format!("the code exchange failed: {e}")))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| refused(format!("the token endpoint's answer is not JSON: {e}")))?;
        let id_token = doc
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| refused("the token endpoint's answer has no `id_token`".into()))?;
        let principal = oidc
            .validate_id_token(id_token, &nonce)
            .map_err(|e| refused(format!("the ID token is not accepted ({}): {e}", e.code())))?;
        open_session(
            s,
            &Caller {
                principal,
                token: None,
            },
        )
    })
    .await?;
    let clear = set_cookie(FLOW_COOKIE, "", "/console/oidc", "Lax", 0, secure(&state));
    Ok(redirect(&next, &[session_cookie, clear]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_of_rfc_7636() {
        // RFC 7636, appendix B
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn return_paths_stay_on_this_site() {
        assert_eq!(local_path(Some("/approvals/apr-1")), "/approvals/apr-1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "x",
            "/a b",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
        assert_eq!(
            decode(&encode("/approvals/apr-1?x=1")),
            "/approvals/apr-1?x=1"
        );
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
