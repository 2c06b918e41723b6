//! `/v1/evidence`: the server's tamper-evident decision log — verify it, read one record,
//! prove a record's inclusion in a signed checkpoint, build a signed bundle (a ZIP that
//! `cavra evidence verify` checks offline), export records for a SIEM. The operations of
//! `cavra evidence verify|prove|bundle|export` (`cavra_evidence::ops`), on the log of the
//! server's CAVRA directory only: no endpoint reads or writes a path the caller names.
//! With PostgreSQL replicas every endpoint reads the decision log in the database
//! (`crate::pglog`): one record from the table, the others from an export of it.

use crate::auth::Caller;
use crate::control::{path_id, typed_body};
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cavra_evidence::ops::{self, BundleRequest, ExportRequest, Verified};
use cavra_evidence::{EvidenceLog, LogConfig};
use cavra_store::ApiPermission;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// The log of the server's CAVRA directory; 404 before the first record.
fn log_config(s: &AppState) -> Result<LogConfig, ApiError> {
    let cfg = LogConfig::for_cavra_dir(&s.config.cavra_dir);
    if !cfg.dir.is_dir() {
        return Err(ApiError::not_found("no evidence log yet")
            .hint("the log is written by the first recorded decision"));
    }
    Ok(cfg)
}

/// Runs `f` on the blocking pool for a caller that may read.
async fn reading<T, F>(state: &Shared, caller: &Caller, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&AppState, LogConfig) -> Result<T, ApiError> + Send + 'static,
{
    caller.require(ApiPermission::Read)?;
    blocking(state, move |s| {
        #[cfg(feature = "postgres")]
        if let Some(pg) = s.pg_log() {
            return pg.with_export(|cfg| f(s, cfg));
        }
        f(s, log_config(s)?)
    })
    .await
}

fn to_json(v: impl serde::Serialize) -> Result<Json<Value>, ApiError> {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Options of `GET /v1/evidence/verify`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// Check every record signature, also where a signed checkpoint covers it.
    pub full: Option<bool>,
}

/// Verify the log: hash chain, signatures, checkpoints (against the trust root
/// `$CAVRA_TRUST_ROOT` or `<cavra-dir>/trust-root.json` when there is one, else the log's keys).
#[utoipa::path(get, path = "/v1/evidence/verify", tag = "evidence", params(VerifyQuery),
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra evidence verify --json` report (`ok` false with its `issues` for a broken log)", body = Object),
        (status = 400, description = "An invalid `full`", body = ErrorDocument),
        (status = 404, description = "No evidence log yet", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<Shared>,
    caller: Caller,
    q: Result<Query<VerifyQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    #[cfg(feature = "postgres")]
    if state.pg_log().is_some() {
        let full = q.full.unwrap_or(false);
        return to_json(
            blocking(&state, move |s| {
                pg(s)?.verify(trust_root().as_deref(), full)
            })
            .await?,
        );
    }
    let v = reading(&state, &caller, move |s, cfg| {
        let ring = ops::keyring(&s.config.cavra_dir, &cfg.key_dir, trust_root().as_deref())?;
        Ok(ops::verify(&cfg.dir, &ring, q.full.unwrap_or(false), None)?)
    })
    .await?;
    match v {
        Verified::Report(r) => to_json(r),
        Verified::Proof(p) => to_json(p),
    }
}

/// One record, by record id (`ev-…`) or sequence number, as stored.
#[utoipa::path(get, path = "/v1/evidence/records/{id}", tag = "evidence",
    params(("id" = String, Path, description = "A record id (`ev-…`) or a sequence number")),
    responses(
        crate::control::Refused,
        (status = 200, description = "The record envelope: `seq`, `record_id`, `kind`, `timestamp`, `body`, `prev_hash`, `hash`, `sig`, `key_id`, …", body = Object),
        (status = 400, description = "Not a valid id", body = ErrorDocument),
        (status = 404, description = "No such record, or no log yet", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn get_record(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    let want = id.clone();
    #[cfg(feature = "postgres")]
    if state.pg_log().is_some() {
        caller.require(ApiPermission::Read)?;
        let w = want.clone();
        return match blocking(&state, move |s| pg(s)?.record(&w)).await? {
            Some(r) => to_json(r),
            None => Err(not_in_log(&id)),
        };
    }
    let found = reading(&state, &caller, move |_, cfg| {
        let mut found = None;
        cavra_evidence::log::for_each_record(&cfg.dir, |_, _, _, r| {
            if r.record_id == want || r.seq.to_string() == want {
                found = Some(r);
                return Ok(false);
            }
            Ok(true)
        })?;
        Ok(found)
    })
    .await?;
    match found {
        Some(r) => to_json(r),
        None => Err(not_in_log(&id)),
    }
}

fn not_in_log(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "record `{}` not found in the log",
        id.escape_default()
    ))
}

/// The trust root named by `$CAVRA_TRUST_ROOT`.
fn trust_root() -> Option<std::path::PathBuf> {
    std::env::var_os("CAVRA_TRUST_ROOT").map(std::path::PathBuf::from)
}

/// The decision log in PostgreSQL (the handler checked that there is one).
#[cfg(feature = "postgres")]
fn pg(s: &AppState) -> Result<&crate::pglog::PgLog, ApiError> {
    s.pg_log()
        .ok_or_else(|| ApiError::internal("no decision log in the database"))
}

/// An inclusion proof of a record against a signed checkpoint (one is written when none
/// covers the record yet); `cavra evidence verify PROOF.json` checks it offline.
#[utoipa::path(get, path = "/v1/evidence/records/{id}/proof", tag = "evidence",
    params(("id" = String, Path, description = "A record id (`ev-…`) or a sequence number")),
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra evidence prove` document (`cavra.inclusion-proof.v1`)", body = Object),
        (status = 400, description = "Not a valid id", body = ErrorDocument),
        (status = 404, description = "No such record, or no log yet", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn get_proof(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    #[cfg(feature = "postgres")]
    if state.pg_log().is_some() {
        caller.require(ApiPermission::Read)?;
        return to_json(blocking(&state, move |s| pg(s)?.prove(&id)).await?);
    }
    let p = reading(&state, &caller, move |_, cfg| {
        Ok(cavra_evidence::proof::prove(
            &mut EvidenceLog::open(cfg)?,
            &id,
        )?)
    })
    .await?;
    to_json(p)
}

/// Which records a bundle holds: one of `session`, `since`, `all`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleBody {
    /// The records of one session.
    pub session: Option<String>,
    /// The records from this time on: RFC 3339, a date or a duration ago (`24h`).
    pub since: Option<String>,
    /// The whole log.
    pub all: Option<bool>,
}

/// Build a signed evidence bundle (records, signed manifest, summaries, in-toto statement
/// in a DSSE envelope) as a ZIP.
#[utoipa::path(post, path = "/v1/evidence/bundles", tag = "evidence",
    request_body = BundleBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The bundle, a ZIP that `cavra evidence verify bundle.zip` verifies", content_type = "application/zip", body = Vec<u8>),
        (status = 400, description = "A malformed body, no selection or more than one, or an invalid `since`", body = ErrorDocument),
        (status = 404, description = "No evidence log yet", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn post_bundle(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require(ApiPermission::Read)?;
    let hint = "send one of {\"session\": \"…\"}, {\"since\": \"24h\"}, {\"all\": true}";
    let b: BundleBody = typed_body(&body, hint)?;
    let all = b.all.unwrap_or(false);
    let chosen = [b.session.is_some(), b.since.is_some(), all];
    if chosen.iter().filter(|c| **c).count() != 1 {
        return Err(ApiError::bad_request(
            "invalid request: give exactly one of the fields `session`, `since`, `all` (true)",
        )
        .hint(hint));
    }
    let name = match (&b.session, all) {
        (Some(_), _) => "cavra-evidence-session.zip",
        (None, true) => "cavra-evidence-all.zip",
        (None, false) => "cavra-evidence-since.zip",
    };
    let req = BundleRequest {
        session: b.session,
        since: b.since,
        all,
    };
    let zip = reading(&state, &caller, move |_, cfg| {
        let files = ops::bundle(&cfg, &req)?;
        let out = std::io::Cursor::new(Vec::new());
        Ok(
            cavra_evidence::bundle::zip_bundle(out, &files, std::path::Path::new(name))?
                .into_inner(),
        )
    })
    .await?;
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        zip,
    )
        .into_response())
}

/// Options of `GET /v1/evidence/export`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// ocsf, splunk-hec, sentinel, datadog, cef or jsonl.
    pub format: String,
    /// Only the records of this session.
    pub session: Option<String>,
    /// Only records from this time on: RFC 3339, a date or a duration ago (`24h`).
    pub since: Option<String>,
}

/// Export records for a SIEM, one per line.
#[utoipa::path(get, path = "/v1/evidence/export", tag = "evidence", params(ExportQuery),
    responses(
        crate::control::Refused,
        (status = 200, description = "What `cavra evidence export --format F` writes: one JSON object per line (`application/x-ndjson`), or CEF lines (`text/plain`)", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "No or an unknown `format`, or an invalid `since`", body = ErrorDocument),
        (status = 404, description = "No evidence log yet", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<Shared>,
    caller: Caller,
    q: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let format = cavra_evidence::export::Format::parse(&q.format)
        .map_err(|e| ApiError::bad_request(format!("invalid `format`: {e}")))?;
    if let Some(since) = &q.since {
        cavra_evidence::timeutil::parse_since(since)
            .map_err(|e| ApiError::bad_request(format!("invalid `since`: {e}")))?;
    }
    let content_type = match format {
        cavra_evidence::export::Format::Cef => "text/plain; charset=utf-8",
        _ => "application/x-ndjson",
    };
    let req = ExportRequest {
        format: q.format,
        session: q.session,
        since: q.since,
        host: cavra_evidence::export::host_name(),
    };
    let text = reading(&state, &caller, move |_, cfg| {
        Ok(ops::export_log(&cfg.dir, &req)?)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// `cavra evidence export --format log --database URL --output DIR`: the decision log of
/// PostgreSQL replicas as a log directory that `cavra evidence verify DIR` checks offline;
/// the report as JSON and as a line for people. `filter`: a `--session`/`--since` given
/// (refused: the export is the whole log).
pub fn export_database(
    url: Option<&str>,
    dir: Option<&std::path::Path>,
    filter: Option<String>,
) -> Result<(Value, String), crate::ServerError> {
    let (Some(url), Some(dir), None) = (url, dir, filter) else {
        return Err(crate::ServerError::ExportLogArgs);
    };
    match crate::Database::parse(url)? {
        #[cfg(feature = "postgres")]
        crate::Database::Postgres(u) => crate::pglog::export_database(&u, dir),
        #[cfg(not(feature = "postgres"))]
        crate::Database::Postgres(_) => {
            let _ = dir;
            Err(crate::ServerError::PostgresNotBuilt)
        }
        crate::Database::Sqlite(_) => Err(crate::ServerError::NoDatabaseLog),
    }
}
