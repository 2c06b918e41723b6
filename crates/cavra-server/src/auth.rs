//! Authentication of `/v1`: `Authorization: Bearer <credential>` with either a token
//! issued by `cavra tokens issue` (looked up by its SHA-256 in the store) or, when the
//! config file's `auth.oidc` is set, a JWT of that issuer (validated by cavra-auth against
//! its JWKS: signature, issuer, audience, expiry; groups → roles and repositories). Both
//! end as a [`Principal`]. No credential or one that does not authenticate → 401; a role
//! that does not grant what the endpoint needs, or a repository outside the caller's
//! groups → 403. Without `Authorization`, the web console's session cookie
//! (`crate::console::signin`): its principal, and its CSRF token on every mutation.

use crate::error::ApiError;
use crate::state::{blocking, AppState, Shared};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use cavra_auth::{AuthError, Principal, Repositories, Role};
use cavra_store::{
    ApiPermission, ApiRole, ApiToken, ApprovalConfig, ApproverKey, AuthMethod, OffsetDateTime,
    Signer,
};

/// The authenticated caller of a `/v1` endpoint.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who: the OIDC token's verified subject/email, groups, roles and repositories, or a
    /// server token's name and role.
    pub principal: Principal,
    /// The server token, when the credential is one.
    pub token: Option<ApiToken>,
}

/// The API role of a principal's role (the same four names).
fn api_role(r: Role) -> ApiRole {
    match r {
        Role::Admin => ApiRole::Admin,
        Role::Approver => ApiRole::Approver,
        Role::Auditor => ApiRole::Auditor,
        Role::Agent => ApiRole::Agent,
    }
}

fn principal_role(r: ApiRole) -> Role {
    match r {
        ApiRole::Admin => Role::Admin,
        ApiRole::Approver => Role::Approver,
        ApiRole::Auditor => Role::Auditor,
        ApiRole::Agent => Role::Agent,
    }
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

impl Caller {
    /// The caller of a server token.
    pub fn of_token(token: ApiToken) -> Caller {
        Caller {
            principal: Principal::token(&token.name, principal_role(token.role)),
            token: Some(token),
        }
    }

    /// The identity recorded for what this caller does and checked against the requester
    /// (self-approval): an OIDC token's email, else its subject; a server token's name.
    pub fn identity(&self) -> &str {
        self.principal.identity()
    }

    /// How the caller is named in errors.
    fn describe(&self) -> String {
        match &self.token {
            Some(t) => format!("token `{}` ({})", t.name, t.id),
            None => format!("`{}` (OIDC)", self.identity()),
        }
    }

    /// Refuses (403) unless one of the caller's roles grants `perm`.
    pub fn require(&self, perm: ApiPermission) -> Result<(), ApiError> {
        if self
            .principal
            .roles
            .iter()
            .any(|r| api_role(*r).grants(perm))
        {
            return Ok(());
        }
        let roles: Vec<&str> = self.principal.roles.iter().map(|r| r.as_str()).collect();
        let held = if roles.is_empty() {
            "no role (none of its groups is mapped to one)".to_string()
        } else {
            format!("role `{}`", roles.join("`, `"))
        };
        Err(forbidden(format!(
            "{} has {held}, which may not {} here",
            self.describe(),
            perm.as_str()
        ))
        .hint(match perm {
            ApiPermission::Decide => "decisions and hooks take the role agent or admin",
            ApiPermission::Read => "reading takes the role auditor, approver or admin",
            ApiPermission::Approve => "approving and denying take the role approver or admin",
        }))
    }

    /// Refuses (403) unless the caller may act on a request of repository `repo` (a
    /// repository root as requests carry it, matched by [`repository_names`]). A caller
    /// limited to some repositories may not act on a request that names none.
    pub fn require_repository(&self, repo: Option<&str>) -> Result<(), ApiError> {
        if self.principal.repositories == Repositories::All {
            return Ok(());
        }
        match repo {
            Some(r) if repository_names(r).any(|n| self.principal.may_access_repo(n)) => Ok(()),
            Some(r) => Err(forbidden(format!(
                "{} may not act on repository `{r}`: none of its groups covers it",
                self.describe()
            ))
            .hint("the `repositories:` of the server's auth.oidc section map groups to repositories")),
            None => Err(forbidden(format!(
                "{} is limited to some repositories and the request names none",
                self.describe()
            ))
            .hint("a person with an unlimited group (or an admin) decides requests that name no repository")),
        }
    }

    /// [`Caller::require_repository`] of every repository in `repos` (none: as a request
    /// that names none).
    pub fn require_repositories<'a>(
        &self,
        repos: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ApiError> {
        let mut named = false;
        for r in repos {
            named = true;
            self.require_repository(Some(r))?;
        }
        if named {
            Ok(())
        } else {
            self.require_repository(None)
        }
    }

    /// The routing/RBAC configuration the store's rules check this caller against: the
    /// server's, with the caller's identity listed in every RBAC group named like one of
    /// its IdP groups (so the store's rule gives [`Principal::may_decide`]'s answer).
    pub fn approval_config(&self, s: &AppState) -> Result<ApprovalConfig, ApiError> {
        let mut c = s.approval_config()?;
        if let Some(r) = c.rbac.as_ref() {
            c.rbac = Some(self.principal.rbac_view(r));
        }
        Ok(c)
    }

    /// The key that signs what this caller decides through the server: the approver key
    /// of the server's approver directory, created on first use. The records name the
    /// caller's identity and how it was verified (`token` with the token's id, `oidc`
    /// with the issuer and subject).
    pub fn signer(&self, s: &AppState) -> Result<Signer, ApiError> {
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
        let (method, label) = match &self.token {
            Some(t) => (AuthMethod::Token, format!("API token {}", t.id)),
            None => (
                AuthMethod::Oidc,
                format!(
                    "OIDC {} sub {}",
                    self.principal.issuer.as_deref().unwrap_or("?"),
                    self.principal.subject
                ),
            ),
        };
        Ok(Signer {
            key,
            method,
            label: Some(label),
        })
    }
}

/// The names a request's repository is matched under against `repositories:` globs: the
/// value as stored (`acme/web`, or a root such as `/src/acme/web`) and, for a path, its
/// last two segments (`acme/web`: owner and name, as a checkout is usually laid out).
pub fn repository_names(repo: &str) -> impl Iterator<Item = &str> {
    let trimmed = repo.trim_end_matches('/');
    let owner_name = trimmed
        .rmatch_indices('/')
        .nth(1)
        .map(|(i, _)| &trimmed[i + 1..])
        .filter(|n| *n != trimmed);
    std::iter::once(repo).chain(owner_name)
}

pub(crate) fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).hint(
        "send `Authorization: Bearer <token>` with a token from `cavra tokens issue` or, when the server is configured for OIDC, an ID/access token of its issuer",
    )
}

/// The token of an `Authorization` header value (`Bearer <token>`, scheme in any case).
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// An OIDC validation failure as an answer: the credential's fault → 401 with its code;
/// the issuer's keys unavailable → 503.
fn oidc_refusal(e: &AuthError) -> ApiError {
    if e.is_credential_error() {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("the OIDC token is not accepted ({}): {e}", e.code()),
        )
        .hint("sign in again at the identity provider for a fresh token")
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("OIDC tokens cannot be checked now ({}): {e}", e.code()),
        )
        .hint("the issuer's keys could not be had; retry, or use a server token")
    }
}

/// Authenticates one credential (blocking: a store lookup, maybe a JWKS fetch).
pub fn authenticate(s: &AppState, credential: &str) -> Result<Caller, ApiError> {
    if credential.starts_with(cavra_store::tokens::API_TOKEN_PREFIX) {
        return server_token(s, credential).map(Caller::of_token);
    }
    let Some(oidc) = s.oidc() else {
        return Err(unauthorized(
            "the token is not a server token, and this server accepts no OIDC tokens (no auth.oidc in its config)",
        ));
    };
    match oidc.validate(credential) {
        Ok(principal) => Ok(Caller {
            principal,
            token: None,
        }),
        Err(e) => Err(oidc_refusal(&e)),
    }
}

/// The active server token `credential` (401 for an unknown, revoked or expired one):
/// from the replica's [`crate::lookupcache`] when it holds it, else from the store (and
/// cached). The expiry is checked now either way.
fn server_token(s: &AppState, credential: &str) -> Result<ApiToken, ApiError> {
    let refused = || unauthorized("the token is unknown, revoked or expired");
    // a token not of the form (too long) is refused without a lookup
    let hash = cavra_store::tokens::lookup_hash(credential).ok_or_else(refused)?;
    let now = OffsetDateTime::now_utc();
    // looked at before the store is read: a change after this empties the cache under a
    // newer generation, and what is read below is not kept then
    let generation = s.lookups.generation();
    if let Some(t) = generation.and_then(|g| s.lookups.get(&hash, g)) {
        return Some(t).filter(|t| t.active(now)).ok_or_else(refused);
    }
    let found = s.with_lookup_store(|store| Ok(store.authenticate_api_token(credential, now)?))?;
    let token = found.ok_or_else(refused)?;
    if let Some(g) = generation {
        s.lookups.put(hash, token.clone(), g);
    }
    Ok(token)
}

/// The credential of a request, read from its head but not checked yet: a bearer token,
/// or the web console's session cookie (with the CSRF token of a mutation).
/// [`Credential::caller`] checks it (blocking: a store lookup). An endpoint that works on
/// the blocking pool anyway (`POST /v1/decisions`, `POST /v1/hooks/{agent}`) takes this
/// and checks it there first, in the same hop; every other one takes [`Caller`].
#[derive(Debug, Clone)]
pub enum Credential {
    Bearer(String),
    Session {
        secret: String,
        mutates: bool,
        csrf: Option<String>,
    },
}

impl Credential {
    /// Who sent it (401 for a credential that does not authenticate).
    pub fn caller(&self, s: &AppState) -> Result<Caller, ApiError> {
        match self {
            Credential::Bearer(token) => authenticate(s, token),
            Credential::Session {
                secret,
                mutates,
                csrf,
            } => crate::console::signin::caller_of_request(s, secret, *mutates, csrf.as_deref()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Credential {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            // the web console's session cookie (its mutations carry the CSRF token)
            use crate::console::signin;
            let Some(secret) = signin::cookie(&parts.headers, signin::COOKIE) else {
                return Err(unauthorized("this endpoint needs a bearer token"));
            };
            return Ok(Credential::Session {
                secret: secret.to_string(),
                mutates: !matches!(parts.method, Method::GET | Method::HEAD),
                csrf: parts
                    .headers
                    .get(signin::CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            });
        };
        let token = value
            .to_str()
            .ok()
            .and_then(bearer)
            .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?
            .to_string();
        Ok(Credential::Bearer(token))
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let credential = Credential::from_request_parts(parts, state).await?;
        blocking(state, move |s| credential.caller(s)).await
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

    fn oidc_caller(roles: &[Role], repos: Repositories) -> Caller {
        let mut p = Principal::token("x", Role::Agent);
        p.roles = roles.iter().copied().collect();
        p.repositories = repos;
        p.method = cavra_auth::AuthMethod::Oidc;
        p.subject = "u1".into();
        p.email = Some("carol@example.com".into());
        Caller {
            principal: p,
            token: None,
        }
    }

    #[test]
    fn repository_names_of_roots() {
        let names = |r| repository_names(r).collect::<Vec<_>>();
        assert_eq!(names("acme/web"), vec!["acme/web"]);
        assert_eq!(names("/src/acme/web"), vec!["/src/acme/web", "acme/web"]);
        assert_eq!(names("/src/acme/web/"), vec!["/src/acme/web/", "acme/web"]);
        assert_eq!(names("/web"), vec!["/web"]);
        assert_eq!(names("web"), vec!["web"]);
    }

    #[test]
    fn roles_and_repositories() {
        let carol = oidc_caller(
            &[Role::Approver],
            Repositories::Only(vec!["acme/web*".into()]),
        );
        assert!(carol.require(ApiPermission::Approve).is_ok());
        assert!(carol.require(ApiPermission::Read).is_ok());
        let e = carol.require(ApiPermission::Decide).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.body.message.contains("carol@example.com"), "{e:?}");
        assert!(carol.require_repository(Some("acme/web")).is_ok());
        assert!(carol
            .require_repository(Some("/home/c/src/acme/web"))
            .is_ok());
        assert!(carol
            .require_repository(Some("/home/c/src/acme/pay"))
            .is_err());
        let e = carol.require_repository(Some("acme/payments")).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(e.body.message.contains("acme/payments"));
        assert!(carol.require_repository(None).is_err(), "fails closed");

        let nobody = oidc_caller(&[], Repositories::All);
        let e = nobody.require(ApiPermission::Read).unwrap_err();
        assert!(e.body.message.contains("no role"), "{e:?}");
        assert!(nobody.require_repository(None).is_ok());

        let admin = oidc_caller(&[Role::Admin], Repositories::All);
        for p in [
            ApiPermission::Decide,
            ApiPermission::Read,
            ApiPermission::Approve,
        ] {
            assert!(admin.require(p).is_ok());
        }
        let agent = oidc_caller(&[Role::Agent], Repositories::All);
        assert!(
            agent.require(ApiPermission::Approve).is_err(),
            "agents never approve"
        );
    }

    #[test]
    fn refusals_of_oidc_tokens() {
        let e = oidc_refusal(&AuthError::BadSignature);
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.body.message.contains("bad_signature"));
        let e = oidc_refusal(&AuthError::Fetch {
            url: "http://idp".into(),
            detail: "refused".into(),
        });
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
    }
}
