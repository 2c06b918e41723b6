//! `/v1/policies`: the packs the server knows (bundled, and its `--policy-dir`s), one
//! pack, validating and diffing pack sources, and replaying the evidence log under another
//! pack — the documents of `cavra policy list|show|validate|diff|replay --json`
//! (`cavra_runtime::policies`, `cavra_runtime::replay`). Packs are named by id; sources
//! come in the body: no endpoint reads a file the caller names.

use crate::auth::Caller;
use crate::control::{path_id, typed_body};
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use cavra_core::policy::{self, BundledResolver, ChainResolver, CompiledPack};
use cavra_runtime::packs::{DirResolver, PackChoice};
use cavra_runtime::policies;
use cavra_runtime::replay::ReplayOptions;
use cavra_store::ApiPermission;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use utoipa::ToSchema;

/// Most examples a replay keeps per kind of change.
pub const MAX_EXAMPLES: usize = 100;

/// Runs `f` on the blocking pool for a caller that may read; answers its JSON.
async fn answer<T, F>(state: &Shared, caller: &Caller, f: F) -> Result<Json<Value>, ApiError>
where
    T: Serialize,
    F: FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
{
    caller.require(ApiPermission::Read)?;
    blocking(state, move |s| {
        let v = f(s)?;
        serde_json::to_value(v).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map(Json)
}

/// A pack id: letters, digits, `.`, `_` and `-`, not a path.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "invalid {field} `{}`: a pack id is letters, digits, `.`, `_` and `-`",
        id.escape_default()
    ))
    .hint("name a bundled pack or one in the server's --policy-dir; send a pack's source in the body instead of a path"))
}

fn dirs(s: &AppState) -> Vec<PathBuf> {
    s.config.packs.policy_dirs.clone()
}

/// The pack `id`: in the server's policy directories, else bundled.
fn load_id(
    s: &AppState,
    field: &str,
    id: &str,
) -> Result<(CompiledPack, cavra_runtime::Origin), ApiError> {
    check_id(field, id)?;
    let choice = PackChoice {
        pack: Some(id.to_string()),
        policy: None,
        policy_dirs: dirs(s),
    };
    Ok(cavra_runtime::packs::load(&choice, None)?)
}

/// List the packs (bundled, then the server's policy directories).
#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra policy list --json` document", body = Vec<Object>)),
    security(("bearer" = [])))]
pub async fn list_policies(
    State(state): State<Shared>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    answer(&state, &caller, |s| Ok(policies::list(&dirs(s))?)).await
}

/// One pack: metadata, digest, rules, CLI table.
#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "A pack id (bundled, or in the server's policy directories)")),
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra policy show --pack ID --json` document", body = Object),
        (status = 400, description = "Not a pack id", body = ErrorDocument),
        (status = 404, description = "No such pack", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn get_policy(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(id)?;
    answer(&state, &caller, move |s| {
        let (pack, origin) = load_id(s, "pack id", &id)?;
        Ok(policies::show(&pack, &origin))
    })
    .await
}

/// A pack source to validate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateBody {
    /// The pack (YAML).
    pub source: String,
    /// The name problems are reported under (default `policy.yaml`).
    pub name: Option<String>,
}

/// Validate a pack source against the schema; every problem with line and column.
#[utoipa::path(post, path = "/v1/policies/validate", tag = "policies",
    request_body = ValidateBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra policy validate FILE --json` document: one validation, `valid` false with its `problems` for an invalid pack", body = Vec<Object>),
        (status = 400, description = "A malformed body", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn validate_policy(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let b: ValidateBody = typed_body(&body, "send {\"source\": \"<pack YAML>\"}")?;
    let name = b.name.unwrap_or_else(|| "policy.yaml".into());
    answer(&state, &caller, move |s| {
        let v = policies::validate_source(std::path::Path::new(&name), &b.source, &dirs(s));
        Ok(vec![v])
    })
    .await
}

/// One side of a diff: a pack id, or a pack source.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PackRef {
    /// A pack id (bundled, or in the server's policy directories).
    Id(String),
    /// A pack source (YAML), named `name` in problems.
    Source {
        source: String,
        name: Option<String>,
    },
}

impl PackRef {
    fn load(&self, s: &AppState, field: &str) -> Result<CompiledPack, ApiError> {
        match self {
            PackRef::Id(id) => Ok(load_id(s, field, id)?.0),
            PackRef::Source { source, name } => {
                let name = name.clone().unwrap_or_else(|| format!("{field}.yaml"));
                let dr = DirResolver { dirs: dirs(s) };
                let resolver = ChainResolver(vec![&dr, &BundledResolver]);
                policy::parse_pack(&name, source)
                    .and_then(|p| policy::compile::compile(p, &resolver))
                    .map_err(|e| {
                        ApiError::bad_request(format!(
                            "invalid `{field}` pack: {}",
                            cavra_runtime::chain(&e)
                        ))
                        .hint("POST /v1/policies/validate lists every problem")
                    })
            }
        }
    }
}

/// The two packs of a diff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffBody {
    pub from: PackRef,
    pub to: PackRef,
}

/// The semantic diff of two packs: changed rules, their direction, whether it loosens.
#[utoipa::path(post, path = "/v1/policies/diff", tag = "policies",
    request_body = DiffBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra policy diff FROM TO --json` document", body = Object),
        (status = 400, description = "A malformed body, not a pack id, or a pack source that does not compile", body = ErrorDocument),
        (status = 404, description = "No such pack", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn diff_policies(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let hint = "send {\"from\": ID or {\"source\": YAML}, \"to\": ID or {\"source\": YAML}}";
    let b: DiffBody = typed_body(&body, hint)?;
    answer(&state, &caller, move |s| {
        let (from, to) = (b.from.load(s, "from")?, b.to.load(s, "to")?);
        Ok(policy::diff::diff(&from, &to))
    })
    .await
}

/// What to replay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// The pack to replay under (an id: bundled, or in the server's policy directories).
    pub pack: String,
    /// Compare with this pack instead of the recorded decisions.
    pub against: Option<String>,
    /// Only records at or after this time: RFC 3339, a date or a duration ago (`24h`).
    pub since: Option<String>,
    /// Only records of this session.
    pub session: Option<String>,
    /// Examples kept per kind of change (default 5, at most 100).
    pub examples: Option<usize>,
}

/// The spec of pack `id` for the replay: the pack file in a policy directory, else the
/// bundled id — never a file the server happens to have under that name.
fn replay_spec(s: &AppState, field: &str, id: &str) -> Result<String, ApiError> {
    let (_, origin) = load_id(s, field, id)?;
    match origin {
        cavra_runtime::Origin::File(p) => Ok(p.display().to_string()),
        cavra_runtime::Origin::Bundled(_) if std::path::Path::new(id).exists() => {
            Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "conflict",
                format!(
                    "`{id}` names both a bundled pack and a file in the server's working directory"
                ),
            ))
        }
        cavra_runtime::Origin::Bundled(_) => Ok(id.to_string()),
    }
}

/// Replay the server's evidence log under a pack (read-only): what would change.
#[utoipa::path(post, path = "/v1/policies/replay", tag = "policies",
    request_body = ReplayBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The `cavra policy replay --json` report: counts by kind of change, examples, `loosened`", body = Object),
        (status = 400, description = "A malformed body, not a pack id, or an invalid `since`", body = ErrorDocument),
        (status = 404, description = "No such pack, or no evidence log yet", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn replay_policy(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let hint = "send {\"pack\": ID} (against, since, session, examples are optional)";
    let b: ReplayBody = typed_body(&body, hint)?;
    let examples = b.examples.unwrap_or(5);
    if examples > MAX_EXAMPLES {
        return Err(ApiError::bad_request(format!(
            "invalid request: field `examples`: {examples} (at most {MAX_EXAMPLES})"
        )));
    }
    answer(&state, &caller, move |s| {
        let pack = replay_spec(s, "pack", &b.pack)?;
        let against = b
            .against
            .as_deref()
            .map(|a| replay_spec(s, "against", a))
            .transpose()?;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let opts = ReplayOptions {
            pack,
            against,
            policy_dirs: dirs(s),
            since: b.since,
            session: b.session,
            examples,
            registry: None,
            cavra_dir: s.config.cavra_dir.clone(),
            threads,
        };
        #[cfg(feature = "postgres")]
        if let Some(pg) = s.pg_log() {
            // the replicas' log, exported
            return pg.with_export(|cfg| {
                let mut v = cavra_runtime::replay::run_log(&opts, cfg.dir)?.to_json();
                v["log"] = Value::String(pg.label().to_string());
                Ok(v)
            });
        }
        Ok(cavra_runtime::replay::run(&opts)?.to_json())
    })
    .await
}
