//! The web console `cavra serve` answers at `/`: a page of hand-written HTML, CSS and JS
//! modules embedded in the binary ([`assets`]), its sign-in ([`signin`]: a server token or
//! the OIDC issuer's authorization code flow, then a session cookie kept in the store,
//! with a CSRF token every mutation sends) and the one check it needs beyond `/v1`
//! ([`proof`]: a record's inclusion proof checked against its signed checkpoint with the
//! server's trust root). Every page talks to the `/v1` API with the session cookie; the
//! server checks role and repository on every call as for a bearer token.
//!
//! Every answer of the server carries a strict Content-Security-Policy (no inline script or
//! style, nothing from another origin, no framing), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer` ([`security_headers`]).

pub mod assets;
pub mod oidc;
pub mod proof;
pub mod signin;

use crate::state::Shared;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

/// The console's Content-Security-Policy.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The page routes that answer `index.html` (the page renders the route itself).
pub const PAGES: &[&str] = &[
    "/",
    "/signin",
    "/decisions",
    "/decisions/{id}",
    "/approvals",
    "/approvals/{id}",
    "/registries",
    "/policies",
    "/posture",
    "/rollouts",
];

/// The console's routes: pages, assets, sign-in and the proof check.
pub fn routes() -> Router<Shared> {
    let mut r = Router::new();
    for p in PAGES {
        r = r.route(p, get(assets::index));
    }
    r.route("/assets/{*path}", get(assets::asset))
        .route(
            "/console/session",
            get(signin::current)
                .post(signin::sign_in)
                .delete(signin::sign_out),
        )
        .route("/console/oidc/login", get(oidc::login))
        .route("/console/oidc/callback", get(oidc::callback))
        .route("/console/proof/{id}", get(proof::check))
}

/// Sets the security headers on every answer (a handler's own values are kept).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (k, v) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    }
    res
}
