//! The unauthenticated endpoints: `/health`, `/version`, `/console/config`, `/metrics`,
//! `/openapi.json`.

use crate::error::ApiError;
use crate::state::{blocking, Shared};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use cavra_store::{ApprovalState, OffsetDateTime};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: String,
    pub uptime_secs: u64,
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "server", responses((status = 200, body = Health)))]
pub async fn health(State(state): State<Shared>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        uptime_secs: state.started.elapsed().as_secs(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub name: String,
    pub version: String,
    /// The API version of the `/v1` routes.
    pub api: String,
}

/// The server's version.
#[utoipa::path(get, path = "/version", tag = "server", responses((status = 200, body = Version)))]
pub async fn version(State(state): State<Shared>) -> Json<Version> {
    Json(Version {
        name: "cavra".into(),
        version: state.config.version.clone(),
        api: "v1".into(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Backend {
    /// `sqlite` or `postgres` (the database); `log` (the CAVRA directory's evidence log) or
    /// `postgres` (the replicas' decision log in the database) for the evidence.
    pub kind: String,
    pub location: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Backends {
    pub database: Backend,
    pub evidence: Backend,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthConfig {
    /// Bearer tokens from `cavra tokens issue` are accepted on `/v1`.
    pub bearer_tokens: bool,
    /// OIDC JWTs of `oidc_issuer` are accepted on `/v1` (the config's `auth.oidc`).
    pub oidc: bool,
    /// The issuer whose tokens are accepted.
    pub oidc_issuer: Option<String>,
    /// The audiences a token must name (one of them).
    pub oidc_audience: Vec<String>,
    /// Where the issuer's keys come from: `discovery`, `jwks_url` or `jwks_file`.
    pub oidc_keys: Option<String>,
    /// The claim read for the person's groups.
    pub oidc_groups_claim: Option<String>,
    /// Groups limit people to repositories (`repositories:` is configured).
    pub repository_rbac: bool,
    /// The approver RBAC file in force, if any.
    pub rbac_file: Option<String>,
    /// The roles a token may have.
    pub roles: Vec<String>,
}

fn auth_config(s: &crate::state::AppState) -> AuthConfig {
    let settings = s.oidc().map(cavra_auth::OidcValidator::settings);
    let rbac_file = s.config.auth.rbac_file.clone().or_else(|| {
        ["yaml", "yml", "json"]
            .iter()
            .map(|e| {
                s.config
                    .cavra_dir
                    .join("approvals")
                    .join(format!("rbac.{e}"))
            })
            .find(|p| p.is_file())
    });
    AuthConfig {
        bearer_tokens: true,
        oidc: settings.is_some(),
        oidc_issuer: settings.map(|c| c.issuer.clone()),
        oidc_audience: settings.map(|c| c.audience.clone()).unwrap_or_default(),
        oidc_keys: settings.map(|c| {
            match c.source {
                cavra_auth::KeySource::Discovery(_) => "discovery",
                cavra_auth::KeySource::Url(_) => "jwks_url",
                cavra_auth::KeySource::File(_) => "jwks_file",
            }
            .to_string()
        }),
        oidc_groups_claim: settings.map(|c| c.groups_claim.join(".")),
        repository_rbac: settings.is_some_and(|c| c.repositories.is_some()),
        rbac_file: rbac_file.map(|p| p.display().to_string()),
        roles: cavra_store::ApiRole::ALL
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleConfig {
    pub version: String,
    pub backends: Backends,
    pub auth: AuthConfig,
    /// A require-approval decision opens an approval request.
    pub non_interactive: bool,
    /// Decisions are recorded in the evidence log.
    pub record: bool,
}

/// Which backends and authentication are active (for a console).
#[utoipa::path(get, path = "/console/config", tag = "server", responses((status = 200, body = ConsoleConfig)))]
pub async fn console_config(State(state): State<Shared>) -> Json<ConsoleConfig> {
    let c = &state.config;
    let evidence = match &c.database {
        // replicas record into the one log in the database (crate::pglog)
        crate::Database::Postgres(_) if cfg!(feature = "postgres") => Backend {
            kind: "postgres".into(),
            location: c.database.describe(),
        },
        _ => Backend {
            kind: "log".into(),
            location: cavra_evidence::LogConfig::for_cavra_dir(&c.cavra_dir)
                .dir
                .display()
                .to_string(),
        },
    };
    Json(ConsoleConfig {
        version: c.version.clone(),
        backends: Backends {
            database: Backend {
                kind: c.database.kind().into(),
                location: c.database.describe(),
            },
            evidence,
        },
        auth: auth_config(&state),
        non_interactive: c.non_interactive,
        record: c.record,
    })
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "server", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<Shared>) -> Result<impl IntoResponse, ApiError> {
    let pending = blocking(&state, |s| {
        let store = s.store(false)?;
        let n = store
            .list_approvals(Some(ApprovalState::Pending), OffsetDateTime::now_utc())?
            .len();
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    })
    .await?;
    state.metrics.pending_approvals.set(pending);
    #[cfg(feature = "postgres")]
    if let Some(pg) = state.pg_log() {
        let n = i64::try_from(pg.batches()).unwrap_or(i64::MAX);
        state.metrics.evidence_batches.set(n);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    ))
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "server", responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::api::document(),
    )
}
