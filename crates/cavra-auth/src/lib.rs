//! People and machines, authenticated (docs/auth.md).
//!
//! - [`OidcValidator`]: an OIDC bearer token (a JWT, RS256 / ES256 / EdDSA) checked
//!   against the issuer's JWKS — from a file, a URL, or the issuer's discovery document —
//!   with issuer, audience, expiry, not-before (with a leeway), `kid` selection and key
//!   rotation (an unknown `kid` triggers one rate-limited refresh; a TTL cache).
//! - [`RoleMap`] / [`Principal`]: the token's groups mapped to CAVRA's roles
//!   (`admin|approver|auditor|agent`) and repositories by the `oidc:` configuration
//!   ([`OidcConfig`]); approver-group membership and permissions come from cavra-store's
//!   RBAC file ([`Principal::may_decide`]).
//!
//! Synchronous (a small blocking HTTP client): the server calls it from `spawn_blocking`.
//! No async runtime, no front end.

pub mod config;
pub mod error;
pub mod http;
pub mod jwks;
pub mod oidc;
pub mod principal;
pub mod tls;

pub use config::{KeySource, OidcConfig, Settings, SUPPORTED_ALGORITHMS};
pub use error::AuthError;
pub use jwks::{KeyCache, KeySet};
pub use oidc::{At, OidcValidator, MAX_TOKEN_LEN};
pub use principal::{AuthMethod, Principal, Repositories, Role, RoleMap};
