//! `GET /v1/posture`: the posture report of `cavra posture --json` (`cavra_runtime::posture`,
//! docs/posture.md) over the server's evidence log (with PostgreSQL replicas, an export of
//! the log in the database), its store and the pack it decides with. The agents'
//! installation is not visible to a server: the report has no hook findings and says so.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use cavra_evidence::LogConfig;
use cavra_runtime::posture::{collect, Options};
use cavra_store::ApiPermission;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

/// The window of `GET /v1/posture`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostureQuery {
    /// Start of the window: RFC 3339, a date (`YYYY-MM-DD`) or a duration ago such as
    /// `24h` (default `7d`); the window ends now.
    pub since: Option<String>,
}

fn report(s: &AppState, log: &LogConfig, o: &Options) -> Result<Value, ApiError> {
    let store = s.store(false)?;
    let facts = collect::store_facts(&*store, o.until)?;
    let cavra_dir = s.config.cavra_dir.clone();
    let (packs, notes) = s
        .runtime()
        .packs_in_force(&s.config.packs, Some(&cavra_dir));
    let sources = collect::Sources {
        packs,
        store: Some(facts),
        hooked_agents: None,
        notes,
    };
    Ok(collect::report(log, sources, o)?.to_json())
}

/// The posture report: findings (severity, evidence record ids, fix), control coverage
/// (OWASP LLM Top 10, OWASP agentic threats, NIST AI RMF, SOC 2), a score from 0 to 100
/// and the statistics behind the charts.
#[utoipa::path(get, path = "/v1/posture", tag = "posture", params(PostureQuery),
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra posture --json` document: `generated_at`, `since`, `until`, `score`, `findings`, `coverage`, `stats`", body = Object),
        (status = 400, description = "`since` is not a time, a date or a duration, or is in the future", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn get_posture(
    State(state): State<Shared>,
    caller: Caller,
    q: Result<Query<PostureQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let now = time::OffsetDateTime::now_utc();
    let o = state
        .config
        .posture
        .apply(Options::from_since(q.since.as_deref(), now)?);
    let doc = blocking(&state, move |s| {
        #[cfg(feature = "postgres")]
        if let Some(pg) = s.pg_log() {
            return pg.with_export(|cfg| report(s, &cfg, &o));
        }
        report(s, &LogConfig::for_cavra_dir(&s.config.cavra_dir), &o)
    })
    .await?;
    Ok(Json(doc))
}
