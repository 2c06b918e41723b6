//! Out-of-band approval in Slack: `POST /v1/connectors/slack/interactions`, the callback
//! of the Approve / Deny buttons the Slack connector posts with a require-approval decision.
//!
//! The request is Slack's, not a bearer token's: it must carry a valid `X-Slack-Signature`
//! (`v0=` HMAC-SHA256 under the signing secret over `v0:<timestamp>:<body>`, compared in
//! constant time), a timestamp within 5 minutes, and a signature not seen before (a replay
//! is refused). The clicking Slack user must be mapped (`slack_interactions.approvers`) to an
//! approver identity holding the approver (or admin) role; the approval is then decided as
//! `POST /v1/approvals/{id}/approve` decides it — bound to the request hash, pack digest
//! and expiry it was opened with, never by the requester, signed by the server's approver
//! key — and the agent's retry passes once.

use crate::auth::Caller;
use crate::connectors::Secret;
use crate::control::act;
use crate::error::{ApiError, ErrorDocument};
use crate::state::Shared;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cavra_auth::{Principal, Role};
use cavra_runtime::actions::{DecideRequest, Verdict};
use cavra_runtime::views;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How far a callback's timestamp may be from now.
pub const WINDOW_SECS: i64 = 300;

/// The `slack_interactions:` settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlackSettings {
    pub signing_secret: Secret,
    /// Slack user id → (approver identity, role).
    pub approvers: BTreeMap<String, (String, Role)>,
}

/// Why a callback is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    NoSignature,
    Stale,
    BadSignature,
    Replayed,
}

/// Checks Slack's signature of `body` at `now` (Unix seconds); a valid one is remembered,
/// so the same callback a second time is [`Refusal::Replayed`].
pub fn verify(
    secret: &Secret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(Refusal::NoSignature);
    };
    let t: i64 = ts.trim().parse().map_err(|_| Refusal::NoSignature)?;
    if now.abs_diff(t) > WINDOW_SECS.unsigned_abs() {
        return Err(Refusal::Stale);
    }
    let given = sig
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(Refusal::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Refusal::BadSignature)?;
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| Refusal::BadSignature)?;
    static SEEN: Mutex<BTreeMap<String, i64>> = Mutex::new(BTreeMap::new());
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    seen.retain(|_, at| now.abs_diff(*at) <= 2 * WINDOW_SECS.unsigned_abs());
    if seen.insert(sig.to_string(), t).is_some() {
        return Err(Refusal::Replayed);
    }
    Ok(())
}

/// The value of `key` in an `application/x-www-form-urlencoded` body.
pub fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (decode(k)? == key).then(|| decode(v)).flatten()
    })
}

fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'+' => out.push(b' '),
            b'%' => {
                let h =
                    std::str::from_utf8(b.get(i.saturating_add(1)..i.saturating_add(3))?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i = i.saturating_add(2);
            }
            c => out.push(c),
        }
        i = i.saturating_add(1);
    }
    String::from_utf8(out).ok()
}

fn refused(status: StatusCode, code: &str, message: &str) -> ApiError {
    ApiError::new(status, code, message.to_string())
}

/// The form Slack posts to the interactivity URL (documentation only: the handler reads
/// the raw body, whose bytes the signature covers).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SlackCallback {
    /// The interaction as JSON: `user.id`, and `actions[0]` with `action_id`
    /// (`cavra_approve` or `cavra_deny`) and `value` (the approval id).
    payload: String,
}

/// A person's click on an approval message's button in Slack (Slack's interactivity
/// callback): verified by the Slack signing secret, the Slack user mapped to an approver
/// by `connectors.slack_interactions.approvers`, then approved or denied as that person.
#[utoipa::path(post, path = "/v1/connectors/slack/interactions", tag = "connectors",
    request_body(content = SlackCallback, content_type = "application/x-www-form-urlencoded",
        description = "Slack's interaction callback, signed with the headers `X-Slack-Request-Timestamp` (Unix seconds, at most 5 minutes from now) and `X-Slack-Signature` (`v0=` HMAC-SHA256 of `v0:<timestamp>:<body>` under the signing secret)"),
    responses(
        (status = 200, description = "Slack's message replacement: the decision, as Slack shows it", body = Object),
        (status = 400, description = "Signed, but not an approve or deny action", body = ErrorDocument),
        (status = 401, description = "No, a stale, a wrong or a replayed signature", body = ErrorDocument),
        (status = 403, description = "The Slack user is not mapped to an approver, or the approver may not decide this request", body = ErrorDocument),
        (status = 404, description = "No Slack interactions are configured, or no such approval request", body = ErrorDocument),
        (status = 409, description = "The request was already decided", body = ErrorDocument)),
    security(()))]
pub async fn interactions(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(cfg) = state
        .config
        .connectors
        .as_ref()
        .and_then(|c| c.slack.clone())
    else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            "not_found",
            "no Slack interactions are configured (`connectors.slack_interactions`)",
        ));
    };
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let now = cavra_store::OffsetDateTime::now_utc().unix_timestamp();
    let unauthorized = |m: &str| refused(StatusCode::UNAUTHORIZED, "unauthorized", m);
    verify(
        &cfg.signing_secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        now,
    )
    .map_err(|r| match r {
        Refusal::NoSignature => {
            unauthorized("the callback carries no Slack signature and timestamp")
        }
        Refusal::Stale => unauthorized("the callback's timestamp is more than 5 minutes from now"),
        Refusal::BadSignature => unauthorized("the Slack signature does not match"),
        Refusal::Replayed => unauthorized("this callback was already received (replay)"),
    })?;
    let bad = |m: &str| refused(StatusCode::BAD_REQUEST, "bad_request", m);
    let payload: Value = form_value(&body, "payload")
        .and_then(|p| serde_json::from_str(&p).ok())
        .ok_or_else(|| bad("the body has no JSON `payload` field"))?;
    let user = payload["user"]["id"].as_str().unwrap_or("").to_string();
    let action = &payload["actions"][0];
    let verdict = match action["action_id"].as_str() {
        Some("cavra_approve") => Verdict::Approve,
        Some("cavra_deny") => Verdict::Deny,
        _ => {
            return Err(bad(
                "the action is neither `cavra_approve` nor `cavra_deny`",
            ))
        }
    };
    let id = action["value"].as_str().unwrap_or("").to_string();
    let Some((identity, role)) = cfg.approvers.get(&user).cloned() else {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!(
                "Slack user `{user}` is not mapped to an approver (`slack_interactions.approvers`)"
            ),
        ));
    };
    if !matches!(role, Role::Approver | Role::Admin) {
        return Err(refused(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!(
                "`{identity}` has role `{}`, which may not approve or deny",
                role.as_str()
            ),
        ));
    }
    let caller = Caller {
        principal: Principal::token(&identity, role),
        token: None,
    };
    let req = DecideRequest {
        id,
        verdict,
        reason: format!(
            "{} in Slack by `{identity}` (Slack user {user})",
            verdict.as_str()
        ),
        uses: None,
    };
    let done = act(&state, caller, move |s, auth| {
        let mut store = s.store(false)?;
        store.set_approval_config(auth.caller.approval_config(s)?);
        let done = s
            .runtime()
            .decide_approval(&s.config.cavra_dir, &mut *store, req, auth)?;
        Ok(views::decided_doc(&done, verdict))
    })
    .await?;
    Ok(Json(json!({
        "replace_original": true,
        "text": format!("{} by {identity}", verdict.as_str()),
        "cavra": done.0,
    })))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn signed(secret: &str, ts: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{ts}:").as_bytes());
        mac.update(body);
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signatures_windows_and_replays() {
        let s = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
        let body = b"payload=%7B%22a%22%3A1%7D";
        let now = 1_700_000_000;
        let ts = now.to_string();
        let sig = signed("8f742231b10e8888abcd99yyyzzz85a5", &ts, body);
        assert_eq!(verify(&s, Some(&ts), Some(&sig), body, now), Ok(()));
        assert_eq!(
            verify(&s, Some(&ts), Some(&sig), body, now),
            Err(Refusal::Replayed)
        );
        let forged = signed("another secret", &ts, body);
        assert_eq!(
            verify(&s, Some(&ts), Some(&forged), body, now),
            Err(Refusal::BadSignature)
        );
        let other_body = signed("8f742231b10e8888abcd99yyyzzz85a5", &ts, b"payload=x");
        assert_eq!(
            verify(&s, Some(&ts), Some(&other_body), body, now),
            Err(Refusal::BadSignature)
        );
        let old = (now - 301).to_string();
        let sig_old = signed("8f742231b10e8888abcd99yyyzzz85a5", &old, body);
        assert_eq!(
            verify(&s, Some(&old), Some(&sig_old), body, now),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify(&s, None, Some(&sig), body, now),
            Err(Refusal::NoSignature)
        );
        assert_eq!(
            verify(&s, Some(&ts), Some("v0=zz"), body, now + 1),
            Err(Refusal::BadSignature)
        );
        assert_eq!(form_value(body, "payload").as_deref(), Some("{\"a\":1}"));
        assert_eq!(form_value(b"a=1+2&payload=%7", "payload"), None);
    }
}
