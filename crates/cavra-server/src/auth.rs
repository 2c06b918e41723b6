//! Bearer authentication of `/v1`: `Authorization: Bearer <token>` with a token issued by
//! `cavra tokens issue`, looked up by its SHA-256 in the store. No credential → 401; a
//! role that does not grant what the endpoint needs → 403.

use crate::error::ApiError;
use crate::state::{blocking, Shared};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use cavra_store::{ApiPermission, ApiToken, OffsetDateTime};

/// The authenticated caller of a `/v1` endpoint.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: ApiToken,
}

impl Caller {
    /// The identity recorded for what this caller does (the token's name).
    pub fn identity(&self) -> &str {
        &self.token.name
    }

    /// Refuses (403) unless the caller's role grants `perm`.
    pub fn require(&self, perm: ApiPermission) -> Result<(), ApiError> {
        if self.token.role.grants(perm) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "token `{}` ({}) has role `{}`, which may not {} here",
                self.token.name,
                self.token.id,
                self.token.role.as_str(),
                perm.as_str()
            ),
        )
        .hint(match perm {
            ApiPermission::Decide => "decisions and hooks take a token of role agent or admin",
            ApiPermission::Read => "reading takes a token of role auditor, approver or admin",
            ApiPermission::Approve => {
                "approving and denying take a token of role approver or admin"
            }
        }))
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        .hint("send `Authorization: Bearer <token>` with a token from `cavra tokens issue`")
}

/// The token of an `Authorization` header value (`Bearer <token>`, scheme in any case).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized("this endpoint needs a bearer token"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(bearer)
            .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?
            .to_string();
        let found = blocking(state, move |s| {
            Ok(s.store(false)?
                .authenticate_api_token(&token, OffsetDateTime::now_utc())?)
        })
        .await?;
        match found {
            Some(token) => Ok(Caller { token }),
            None => Err(unauthorized("the token is unknown, revoked or expired")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_values() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer  "), None);
    }
}
