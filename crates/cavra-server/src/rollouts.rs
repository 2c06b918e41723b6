//! `/v1/policies/drafts` and `/v1/rollouts`: publishing a pack version with review
//! (docs/rollout.md). An admin drafts a version (validated, compiled, a replay of the
//! recorded decisions attached); a second person — admin or approver, never its author —
//! approves it, and the server signs it with its pack key; an admin assigns it to
//! repositories (all, a list, a label) in enforce or shadow mode, promotes a shadow run,
//! or rolls back to an earlier version in one step. Every step is an evidence record in
//! the server's log and a row of the rollout history.
//!
//! The version enforced for a repository ([`for_repository`]) is that repository's floor
//! (in place of the server's organisation pack): hook calls, decision requests and
//! `GET /v1/sync/pack?repository=…` use it, the stricter-of rule unchanged. A shadow
//! version is evaluated beside it on each decision and its verdict recorded; it never
//! changes one.

use crate::auth::Caller;
use crate::control::{path_id, require_role, typed_body};
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use cavra_core::hooks::ToolCall;
use cavra_core::policy::{self, BundledResolver, ChainResolver, CompiledPack};
use cavra_core::ActionRequest;
use cavra_runtime::packs::DirResolver;
use cavra_runtime::replay::{classify, parse_outcome, Change, ReplayOptions};
use cavra_runtime::rollout::{call_requests, shadow_outcomes, ShadowOutcome};
use cavra_runtime::sync::SignedPack;
use cavra_runtime::{CallOptions, PackOverride, Runtime};
use cavra_store::rollouts::resolve;
use cavra_store::{
    ApiPermission, AssignMode, Assignment, NewAssignment, NewPolicyVersion, NewRolloutStep,
    OffsetDateTime, PolicyVersion, Role, ShadowResult, TargetKind, TeamStore, VersionChange,
    VersionState,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use utoipa::ToSchema;

/// Examples a draft's replay keeps per kind of change.
const REPLAY_EXAMPLES: usize = 5;
/// Examples the shadow report shows per kind of change.
const SHADOW_EXAMPLES: usize = 5;

/// A published version in force for a repository: its id and its pack, verified.
#[derive(Debug, Clone)]
pub struct Published {
    pub version_id: String,
    pub pack: Arc<CompiledPack>,
    pub signed: SignedPack,
}

/// What the rollout gives one repository: the enforced version (its floor) and the
/// version running in shadow beside it.
#[derive(Debug, Clone, Default)]
pub struct RepoFloor {
    pub repo_id: String,
    pub enforced: Option<Published>,
    pub shadow: Option<Published>,
}

/// Verified packs by the SHA-256 of their signed JSON and signature.
fn verified_cache() -> &'static Mutex<HashMap<String, Arc<CompiledPack>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<CompiledPack>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The signed pack of `v`, verified against the server's pack key, compiled.
fn published(s: &AppState, v: &PolicyVersion) -> Result<Published, String> {
    let text = v
        .signed_pack
        .as_deref()
        .ok_or_else(|| format!("policy version `{}` is not signed", v.id))?;
    let signed: SignedPack = serde_json::from_str(text)
        .map_err(|e| format!("the signed pack of `{}` does not read: {e}", v.id))?;
    let key = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    };
    let cached = verified_cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned();
    let pack = match cached {
        Some(p) => p,
        None => {
            let k = crate::sync::pack_key(s).map_err(|e| e.body.message)?;
            signed
                .verify(&k.verifying_key())
                .map_err(|e| format!("the signature of `{}` does not verify: {e}", v.id))?;
            let pack = Arc::new(
                CompiledPack::from_json(&signed.compiled)
                    .map_err(|e| format!("the signed pack of `{}` does not load: {e}", v.id))?,
            );
            if pack.digest != v.digest {
                return Err(format!(
                    "the signed pack of `{}` is not the version reviewed (digest {} ≠ {})",
                    v.id, pack.digest, v.digest
                ));
            }
            let mut c = verified_cache()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if c.len() >= 64 {
                c.clear();
            }
            c.insert(key, Arc::clone(&pack));
            pack
        }
    };
    Ok(Published {
        version_id: v.id.clone(),
        pack,
        signed,
    })
}

/// The rollout of the repository at `path` (the inventory's path): nothing when no
/// version is assigned anywhere (one query). An error (a store failure, a signature that
/// does not verify) says why: the caller fails closed.
pub fn for_repository(s: &AppState, path: &str) -> Result<RepoFloor, String> {
    let repo_id = cavra_store::repository_id(path);
    let failed = |e: ApiError| format!("the policy rollout cannot be read: {}", e.body.message);
    let open = s
        .lookups
        .assignments(|| s.with_lookup_store(|st| Ok(st.list_assignments(false)?)))
        .map_err(failed)?;
    if open.is_empty() {
        return Ok(RepoFloor {
            repo_id,
            ..Default::default()
        });
    }
    let labels = if open.iter().any(|a| a.target_kind == TargetKind::Label) {
        s.with_lookup_store(|st| Ok(st.repository(&repo_id)?))
            .map_err(failed)?
            .map(|r| r.labels)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let (enforced, shadow) = resolve(&open, &repo_id, &labels, OffsetDateTime::now_utc());
    let load = |a: Option<&Assignment>| -> Result<Option<Published>, String> {
        let Some(a) = a else { return Ok(None) };
        let v = s
            .with_lookup_store(|st| Ok(st.policy_version(&a.version_id)?))
            .map_err(failed)?
            .ok_or_else(|| format!("policy version `{}` is assigned but unknown", a.version_id))?;
        published(s, &v).map(Some)
    };
    Ok(RepoFloor {
        enforced: load(enforced)?,
        shadow: load(shadow)?,
        repo_id,
    })
}

/// Records what the shadow version would have decided for `reqs` under `pack` (tightened
/// by `enforced`, the floor in force); a failure is logged and changes nothing.
pub fn record_shadow(
    s: &AppState,
    floor: &RepoFloor,
    pack: &CompiledPack,
    enforced: Option<&CompiledPack>,
    reqs: &[ActionRequest],
) {
    let Some(shadow) = &floor.shadow else { return };
    let outcomes = shadow_outcomes(
        &cavra_runtime::FsScriptReader,
        pack,
        enforced,
        &shadow.pack,
        reqs,
    );
    let now = OffsetDateTime::now_utc();
    let r = s.with_lookup_store(|st| {
        for o in &outcomes {
            st.record_shadow_result(&shadow_row(&shadow.version_id, &floor.repo_id, now, o))?;
        }
        Ok(())
    });
    if let Err(e) = r {
        tracing::warn!(version = %shadow.version_id, error = %e.body.message, "could not record a shadow verdict");
    }
}

fn shadow_row(version: &str, repo: &str, at: OffsetDateTime, o: &ShadowOutcome) -> ShadowResult {
    ShadowResult {
        version_id: version.to_string(),
        repo_id: repo.to_string(),
        at,
        action: o.action.clone(),
        target: o.target.clone(),
        enforced: o.enforced.as_str().to_string(),
        enforced_rule: o.enforced_rule.clone(),
        shadow: o.shadow.as_str().to_string(),
        shadow_rule: o.shadow_rule.clone(),
    }
}

/// [`record_shadow`] for the calls of a hook event decided under `given` (else under the
/// pack `opts` chooses, with the runtime's organisation pack).
pub fn record_shadow_calls(
    s: &AppState,
    rt: &mut Runtime,
    floor: &RepoFloor,
    given: Option<&PackOverride>,
    calls: &[ToolCall],
    opts: &CallOptions,
) {
    if floor.shadow.is_none() {
        return;
    }
    for call in calls {
        let (pack, enforced) = match given {
            Some(g) => (Arc::clone(&g.pack), Some(Arc::clone(&g.floor))),
            None => match crate::hooks::server_pack(s, call.cwd.as_deref()) {
                Ok(p) => {
                    let org = rt.org_pack(&p).ok().flatten();
                    (p, org)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "shadow: the pack does not load");
                    continue;
                }
            },
        };
        match call_requests(call, opts, &pack) {
            Ok(reqs) => record_shadow(s, floor, &pack, enforced.as_deref(), &reqs),
            Err(e) => {
                tracing::debug!(error = %cavra_runtime::chain(&e), "shadow: the call maps to nothing")
            }
        }
    }
}

/// A draft: a pack source.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    /// The pack (YAML); `extends` resolved against the server's policy directories and
    /// the bundled packs.
    pub source: String,
    /// The name it is drafted under (its file name; default `policy.yaml`).
    pub name: Option<String>,
    /// Replay only the decisions recorded since (RFC 3339, a date, or a duration ago such
    /// as `30d`; default: all of them).
    pub since: Option<String>,
}

/// A review: why.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// Why (required to reject).
    pub reason: Option<String>,
}

/// Where a version goes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// Every repository.
    #[serde(default)]
    pub all: bool,
    /// Repositories, by id (`repo-…`) or path.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// The repositories carrying these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// `enforce` (default) or `shadow`.
    pub mode: Option<String>,
    /// A shadow run's period (`7d`, `12h`): its verdicts are recorded until then.
    pub shadow_for: Option<String>,
}

/// A rollback.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// The earlier version to enforce again (`pv-<pack>-<n>`).
    pub to: String,
    pub reason: Option<String>,
}

fn conflict(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", msg)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The version `id`, or 404.
fn version(st: &dyn TeamStore, id: &str) -> Result<PolicyVersion, ApiError> {
    st.policy_version(id)?.ok_or_else(|| {
        ApiError::not_found(format!("no policy version `{id}`")).hint("GET /v1/rollouts lists them")
    })
}

/// Records a step: the evidence record (`rollout.<step>`) in the server's log, then the
/// history row naming it.
fn step(
    s: &AppState,
    st: &dyn TeamStore,
    v: &PolicyVersion,
    name: &str,
    actor: &str,
    detail: Value,
) -> Result<String, ApiError> {
    let body = json!({
        "version_id": v.id, "pack_id": v.pack_id, "version": v.version, "digest": v.digest,
        "step": name, "actor": actor, "detail": detail,
    });
    let record =
        s.runtime()
            .record_transition(&s.config.cavra_dir, &format!("rollout.{name}"), &body)?;
    st.append_rollout_step(
        &NewRolloutStep {
            version_id: v.id.clone(),
            step: name.to_string(),
            actor: actor.to_string(),
            detail,
            evidence_record: Some(record.clone()),
        },
        now(),
    )?;
    Ok(record)
}

/// The document of one version: the version, its assignments, its history.
fn show(st: &dyn TeamStore, id: &str) -> Result<Value, ApiError> {
    let v = version(st, id)?;
    let assignments: Vec<Value> = st
        .list_assignments(true)?
        .into_iter()
        .filter(|a| a.version_id == v.id)
        .map(|a| serde_json::to_value(a).unwrap_or_default())
        .collect();
    let history = serde_json::to_value(st.rollout_history(Some(&v.id))?)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut doc = v.json();
    doc["assignments"] = Value::Array(assignments);
    doc["history"] = history;
    Ok(doc)
}

/// Compiles a draft's source as the server does (its policy directories, then bundled).
fn compile_source(s: &AppState, name: &str, source: &str) -> Result<CompiledPack, ApiError> {
    let dr = DirResolver {
        dirs: s.config.packs.policy_dirs.clone(),
    };
    let resolver = ChainResolver(vec![&dr, &BundledResolver]);
    policy::parse_pack(name, source)
        .and_then(|p| policy::compile::compile(p, &resolver))
        .map_err(|e| {
            ApiError::bad_request(format!(
                "the pack does not compile: {}",
                cavra_runtime::chain(&e)
            ))
            .hint("POST /v1/policies/validate lists every problem")
        })
}

/// The replay of the server's recorded decisions under `pack` (attached to the draft);
/// a replay that cannot run says why in the document.
fn replay(s: &AppState, pack: &CompiledPack, since: Option<String>) -> Value {
    let opts = ReplayOptions {
        pack: String::new(),
        against: None,
        policy_dirs: s.config.packs.policy_dirs.clone(),
        since,
        session: None,
        examples: REPLAY_EXAMPLES,
        registry: None,
        cavra_dir: s.config.cavra_dir.clone(),
        threads: std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4),
    };
    #[cfg(feature = "postgres")]
    if let Some(pg) = s.pg_log() {
        let r = pg.with_export(|cfg| {
            Ok(cavra_runtime::replay::run_compiled(&opts, pack.clone(), cfg.dir)?.to_json())
        });
        return r.unwrap_or_else(|e: ApiError| json!({"error": e.body.message}));
    }
    let log = cavra_evidence::LogConfig::for_cavra_dir(&s.config.cavra_dir).dir;
    match cavra_runtime::replay::run_compiled(&opts, pack.clone(), log) {
        Ok(r) => r.to_json(),
        Err(e) => json!({"error": cavra_runtime::chain(&e)}),
    }
}

/// Draft a pack version (admin): validated, compiled, the replay of the recorded
/// decisions under it attached.
#[utoipa::path(post, path = "/v1/policies/drafts", tag = "rollouts",
    request_body = DraftBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The draft: `id` (`pv-<pack>-<n>`), `pack_id`, `version`, `digest`, `author`, `state` draft, `replay` (the `cavra policy replay --json` report, or `{\"error\"}`), `assignments`, `history`", body = Object),
        (status = 400, description = "A malformed body, or a pack that does not compile", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn post_draft(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let b: DraftBody = typed_body(&body, "send {\"source\": \"<pack YAML>\"}")?;
    let who = caller.identity().to_string();
    let name = b.name.unwrap_or_else(|| "policy.yaml".into());
    let v = blocking(&state, move |s| {
        let pack = compile_source(s, &name, &b.source)?;
        let report = replay(s, &pack, b.since);
        let st = s.store(false)?;
        let v = st.create_policy_version(
            &NewPolicyVersion {
                pack_id: pack.id.clone(),
                source_name: name,
                source: b.source,
                digest: pack.digest.clone(),
                author: who.clone(),
                replay: Some(report.clone()),
            },
            now(),
        )?;
        let summary = json!({"changes": report.get("changes"), "loosened": report.get("loosened")});
        step(s, &*st, &v, "drafted", &who, summary)?;
        show(&*st, &v.id)
    })
    .await?;
    Ok(Json(v))
}

get_list!(
    /// Every pack version (the newest first) with its open assignments.
    list_rollouts,
    "/v1/rollouts",
    "rollouts",
    |s| {
        let st = s.store(false)?;
        let open = st.list_assignments(false)?;
        let all = st
            .list_policy_versions()?
            .into_iter()
            .map(|v| {
                let mut d = v.json();
                if let Some(o) = d.as_object_mut() {
                    o.remove("source");
                    o.remove("replay");
                }
                d["assignments"] = open
                    .iter()
                    .filter(|a| a.version_id == v.id)
                    .map(|a| serde_json::to_value(a).unwrap_or_default())
                    .collect();
                d
            })
            .collect();
        Ok(doc(Value::Array(all)))
    }
);

get_one!(
    /// One pack version: its source, replay, review, assignments and history (each step
    /// with its evidence record).
    get_rollout,
    "/v1/rollouts/{id}",
    "rollouts",
    "The version id (`pv-<pack>-<n>`)",
    |s, id| Ok(doc(show(&*s.store(false)?, &id)?))
);

fn doc(json: Value) -> cavra_runtime::views::Doc {
    cavra_runtime::views::Doc {
        json,
        text: Vec::new(),
    }
}

macro_rules! rollout_post {
    ($(#[$m:meta])* $name:ident, $path:literal, $body:ty, $desc:literal, $run:ident) => {
        $(#[$m])*
        #[utoipa::path(post, path = $path, tag = "rollouts",
            params(("id" = String, Path, description = "The version id (`pv-<pack>-<n>`)")),
            request_body = $body,
            responses(
                crate::control::Refused,
                (status = 200, description = $desc, body = Object),
                (status = 400, description = "A malformed body", body = ErrorDocument),
                (status = 404, description = "No such version", body = ErrorDocument),
                (status = 409, description = "The version is not in a state that allows it", body = ErrorDocument)),
            security(("bearer" = [])))]
        pub async fn $name(
            State(state): State<Shared>,
            caller: Caller,
            id: Result<Path<String>, PathRejection>,
            body: Bytes,
        ) -> Result<Json<Value>, ApiError> {
            let id = path_id(id)?;
            let b: $body = if body.iter().all(u8::is_ascii_whitespace) {
                typed_body(b"{}", "")?
            } else {
                typed_body(&body, "see /openapi.json")?
            };
            let who = caller.identity().to_string();
            let v = blocking(&state, move |s| $run(s, &caller, &who, &id, b)).await?;
            Ok(Json(v))
        }
    };
}

rollout_post!(
    /// Approve a draft (admin or approver, never its author): the server signs it with
    /// its pack key.
    approve_rollout,
    "/v1/rollouts/{id}/approve",
    ReviewBody,
    "The version, approved and signed",
    approve
);

fn approve(
    s: &AppState,
    caller: &Caller,
    who: &str,
    id: &str,
    b: ReviewBody,
) -> Result<Value, ApiError> {
    caller.require(ApiPermission::Approve)?;
    let st = s.store(false)?;
    let v = version(&*st, id)?;
    if v.author == who {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "self_approval",
            format!("`{who}` drafted `{id}` and cannot approve it: a second person reviews a policy version"),
        ));
    }
    if v.state != VersionState::Draft {
        return Err(conflict(format!(
            "policy version `{id}` is {}: only a draft is approved",
            v.state.as_str()
        )));
    }
    let pack = compile_source(s, &v.source_name, &v.source)?;
    if pack.digest != v.digest {
        return Err(conflict(format!(
            "policy version `{id}` compiles to {} now, not the {} reviewed (a pack it extends changed): draft it again",
            pack.digest, v.digest
        )));
    }
    let key = crate::sync::pack_key(s)?;
    let issued = cavra_store::rfc3339(now());
    let signed = serde_json::to_string(&SignedPack::sign(&pack, &key, issued))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let v = st.change_policy_version(
        &VersionChange {
            id,
            from: &[VersionState::Draft],
            to: VersionState::Approved,
            reviewed_by: Some(who),
            review_reason: b.reason.as_deref(),
            signed_pack: Some(&signed),
        },
        now(),
    )?;
    step(
        s,
        &*st,
        &v,
        "approved",
        who,
        json!({"reason": b.reason, "signed": true}),
    )?;
    show(&*st, id)
}

rollout_post!(
    /// Reject a draft (admin or approver; a reason is required).
    reject_rollout,
    "/v1/rollouts/{id}/reject",
    ReviewBody,
    "The version, rejected",
    reject
);

fn reject(
    s: &AppState,
    caller: &Caller,
    who: &str,
    id: &str,
    b: ReviewBody,
) -> Result<Value, ApiError> {
    caller.require(ApiPermission::Approve)?;
    let reason = crate::control::reason(b.reason.as_deref().unwrap_or(""))?;
    let st = s.store(false)?;
    let v = st.change_policy_version(
        &VersionChange {
            id,
            from: &[VersionState::Draft],
            to: VersionState::Rejected,
            reviewed_by: Some(who),
            review_reason: Some(&reason),
            signed_pack: None,
        },
        now(),
    )?;
    step(s, &*st, &v, "rejected", who, json!({"reason": reason}))?;
    show(&*st, id)
}

/// The targets of an assignment, checked (repository paths as inventory ids).
fn targets(s: &AppState, b: &AssignBody) -> Result<Vec<(TargetKind, String)>, ApiError> {
    let mut out = Vec::new();
    if b.all {
        out.push((TargetKind::All, String::new()));
    }
    for r in &b.repositories {
        let r = r.trim();
        if r.is_empty() {
            return Err(ApiError::bad_request(
                "invalid request: field `repositories`: an empty repository",
            ));
        }
        let id = if r.starts_with("repo-") {
            r.to_string()
        } else {
            cavra_store::repository_id(&crate::inventory::repository_of(s, Some(r)))
        };
        out.push((TargetKind::Repository, id));
    }
    for l in cavra_store::rollouts::check_labels(&b.labels)? {
        out.push((TargetKind::Label, l));
    }
    if out.is_empty() {
        return Err(ApiError::bad_request(
            "invalid request: name the targets: `all`, `repositories` or `labels`",
        ));
    }
    Ok(out)
}

/// Marks the other enforced versions of `v`'s pack superseded.
fn supersede_others(st: &dyn TeamStore, v: &PolicyVersion) -> Result<Vec<String>, ApiError> {
    let mut done = Vec::new();
    for o in st.list_policy_versions()? {
        if o.pack_id == v.pack_id && o.id != v.id && o.state == VersionState::Active {
            st.change_policy_version(
                &VersionChange {
                    id: &o.id,
                    from: &[VersionState::Active],
                    to: VersionState::Superseded,
                    reviewed_by: None,
                    review_reason: None,
                    signed_pack: None,
                },
                now(),
            )?;
            done.push(o.id);
        }
    }
    Ok(done)
}

fn add_targets(
    st: &dyn TeamStore,
    v: &PolicyVersion,
    targets: &[(TargetKind, String)],
    mode: AssignMode,
    until: Option<OffsetDateTime>,
    who: &str,
) -> Result<(), ApiError> {
    for (kind, target) in targets {
        st.add_assignment(
            &NewAssignment {
                version_id: v.id.clone(),
                target_kind: *kind,
                target: target.clone(),
                mode,
                shadow_until: until,
                assigned_by: who.to_string(),
            },
            now(),
        )?;
    }
    Ok(())
}

fn targets_json(t: &[(TargetKind, String)]) -> Value {
    t.iter()
        .map(|(k, v)| json!({"target_kind": k.as_str(), "target": v}))
        .collect()
}

rollout_post!(
    /// Assign an approved version (admin): to all repositories, a list, or the
    /// repositories of labels; enforced, or in shadow for a period.
    assign_rollout,
    "/v1/rollouts/{id}/assign",
    AssignBody,
    "The version with its assignments",
    assign
);

fn assign(
    s: &AppState,
    caller: &Caller,
    who: &str,
    id: &str,
    b: AssignBody,
) -> Result<Value, ApiError> {
    require_role(caller, Role::Admin)?;
    let mode = match b.mode.as_deref() {
        None => AssignMode::Enforce,
        Some(m) => AssignMode::parse(m).ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid request: field `mode`: `{}` (enforce or shadow)",
                m.escape_default()
            ))
        })?,
    };
    let until = match (&b.shadow_for, mode) {
        (Some(d), AssignMode::Shadow) => {
            let d = cavra_store::parse_duration(d)?;
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            Some(now().saturating_add(time::Duration::seconds(secs)))
        }
        (Some(_), AssignMode::Enforce) => {
            return Err(ApiError::bad_request(
                "invalid request: field `shadow_for` is for `mode: shadow`",
            ))
        }
        (None, _) => None,
    };
    let targets = targets(s, &b)?;
    let st = s.store(false)?;
    let v = version(&*st, id)?;
    let (from, to): (&[VersionState], VersionState) = match mode {
        AssignMode::Enforce => (
            &[
                VersionState::Approved,
                VersionState::Active,
                VersionState::Shadow,
                VersionState::Superseded,
            ],
            VersionState::Active,
        ),
        AssignMode::Shadow => (
            &[VersionState::Approved, VersionState::Shadow],
            VersionState::Shadow,
        ),
    };
    if !from.contains(&v.state) {
        return Err(conflict(format!(
            "policy version `{id}` is {}: {} it takes an approved version{}",
            v.state.as_str(),
            if mode == AssignMode::Shadow {
                "a shadow run of"
            } else {
                "assigning"
            },
            if v.state == VersionState::Draft {
                " (a second person approves it first)"
            } else {
                ""
            }
        )));
    }
    add_targets(&*st, &v, &targets, mode, until, who)?;
    let v = st.change_policy_version(
        &VersionChange {
            id,
            from,
            to,
            reviewed_by: None,
            review_reason: None,
            signed_pack: None,
        },
        now(),
    )?;
    let superseded = if mode == AssignMode::Enforce {
        supersede_others(&*st, &v)?
    } else {
        Vec::new()
    };
    step(
        s,
        &*st,
        &v,
        "assigned",
        who,
        json!({
            "mode": mode.as_str(), "targets": targets_json(&targets),
            "shadow_until": until.map(cavra_store::rfc3339), "superseded": superseded,
        }),
    )?;
    show(&*st, id)
}

rollout_post!(
    /// Promote a shadow run (admin): the version's shadow targets become enforced.
    promote_rollout,
    "/v1/rollouts/{id}/promote",
    ReviewBody,
    "The version, enforced where it ran in shadow",
    promote
);

fn promote(
    s: &AppState,
    caller: &Caller,
    who: &str,
    id: &str,
    b: ReviewBody,
) -> Result<Value, ApiError> {
    require_role(caller, Role::Admin)?;
    let st = s.store(false)?;
    let v = version(&*st, id)?;
    let shadow: Vec<(TargetKind, String)> = st
        .list_assignments(false)?
        .into_iter()
        .filter(|a| a.version_id == v.id && a.mode == AssignMode::Shadow)
        .map(|a| (a.target_kind, a.target))
        .collect();
    if shadow.is_empty() {
        return Err(conflict(format!(
            "policy version `{id}` runs in shadow nowhere: assign it with `mode: enforce` instead"
        )));
    }
    st.end_assignments(&v.id, Some(AssignMode::Shadow), now())?;
    add_targets(&*st, &v, &shadow, AssignMode::Enforce, None, who)?;
    let v = st.change_policy_version(
        &VersionChange {
            id,
            from: &[VersionState::Shadow, VersionState::Active],
            to: VersionState::Active,
            reviewed_by: None,
            review_reason: None,
            signed_pack: None,
        },
        now(),
    )?;
    let superseded = supersede_others(&*st, &v)?;
    step(
        s,
        &*st,
        &v,
        "promoted",
        who,
        json!({"targets": targets_json(&shadow), "superseded": superseded, "reason": b.reason}),
    )?;
    show(&*st, id)
}

/// Roll back to an earlier version (admin), in one step: every later version of its pack
/// that is assigned is rolled back (its assignments end), and the earlier version is
/// enforced again where it was.
#[utoipa::path(post, path = "/v1/rollouts/rollback", tag = "rollouts",
    request_body = RollbackBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The version enforced again, and `rolled_back`: the versions rolled back", body = Object),
        (status = 400, description = "A malformed body", body = ErrorDocument),
        (status = 404, description = "No such version", body = ErrorDocument),
        (status = 409, description = "The version was never enforced, or nothing is later", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn rollback_rollout(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let b: RollbackBody = typed_body(&body, "send {\"to\": \"pv-<pack>-<n>\"}")?;
    let who = caller.identity().to_string();
    let v = blocking(&state, move |s| rollback(s, &who, b)).await?;
    Ok(Json(v))
}

fn rollback(s: &AppState, who: &str, b: RollbackBody) -> Result<Value, ApiError> {
    let st = s.store(false)?;
    let to = version(&*st, &b.to)?;
    if !to.state.reviewed() {
        return Err(conflict(format!(
            "policy version `{}` is {}: only a reviewed version is rolled back to",
            to.id,
            to.state.as_str()
        )));
    }
    let every = st.list_assignments(true)?;
    // where it was enforced: its newest enforce targets
    let mut was: Vec<(TargetKind, String)> = Vec::new();
    for a in every
        .iter()
        .filter(|a| a.version_id == to.id && a.mode == AssignMode::Enforce)
    {
        let t = (a.target_kind, a.target.clone());
        if !was.contains(&t) {
            was.push(t);
        }
    }
    if was.is_empty() {
        return Err(conflict(format!(
            "policy version `{}` was never enforced: assign it instead",
            to.id
        )));
    }
    let later: Vec<PolicyVersion> = st
        .list_policy_versions()?
        .into_iter()
        .filter(|o| o.pack_id == to.pack_id && o.version > to.version)
        .filter(|o| {
            matches!(
                o.state,
                VersionState::Active | VersionState::Shadow | VersionState::Superseded
            )
        })
        .collect();
    if later.is_empty() {
        return Err(conflict(format!(
            "no later version of `{}` is assigned: nothing to roll back",
            to.pack_id
        )));
    }
    let t = now();
    let mut rolled = Vec::new();
    for o in &later {
        st.end_assignments(&o.id, None, t)?;
        let o = st.change_policy_version(
            &VersionChange {
                id: &o.id,
                from: &[
                    VersionState::Active,
                    VersionState::Shadow,
                    VersionState::Superseded,
                ],
                to: VersionState::RolledBack,
                reviewed_by: None,
                review_reason: None,
                signed_pack: None,
            },
            t,
        )?;
        step(
            s,
            &*st,
            &o,
            "rolled_back",
            who,
            json!({"to": to.id, "reason": b.reason}),
        )?;
        rolled.push(o.id);
    }
    // enforced again, newest: its assignments outrank what came since
    st.end_assignments(&to.id, Some(AssignMode::Enforce), t)?;
    add_targets(&*st, &to, &was, AssignMode::Enforce, None, who)?;
    let to = st.change_policy_version(
        &VersionChange {
            id: &to.id,
            from: &[
                VersionState::Active,
                VersionState::Superseded,
                VersionState::RolledBack,
                VersionState::Approved,
                VersionState::Shadow,
            ],
            to: VersionState::Active,
            reviewed_by: None,
            review_reason: None,
            signed_pack: None,
        },
        t,
    )?;
    step(
        s,
        &*st,
        &to,
        "restored",
        who,
        json!({"rolled_back": rolled, "targets": targets_json(&was), "reason": b.reason}),
    )?;
    let mut d = show(&*st, &to.id)?;
    d["rolled_back"] = json!(rolled);
    Ok(d)
}

get_one!(
    /// What a version running in shadow would have changed: counts by kind of change and
    /// examples, from the verdicts recorded beside the enforced ones.
    get_shadow,
    "/v1/rollouts/{id}/shadow",
    "rollouts",
    "The version id (`pv-<pack>-<n>`)",
    |s, id| {
        let st = s.store(false)?;
        let v = version(&*st, &id)?;
        let rows = st.shadow_results(&v.id, cavra_store::rollouts::MAX_SHADOW_RESULTS)?;
        Ok(doc(shadow_report(&v, &rows)))
    }
);

/// The shadow report of `v` from its recorded results.
pub fn shadow_report(v: &PolicyVersion, rows: &[ShadowResult]) -> Value {
    let mut counts: Vec<u64> = vec![0; Change::ALL.len()];
    let mut examples: Vec<Vec<Value>> = vec![Vec::new(); Change::ALL.len()];
    let mut unchanged = 0u64;
    for r in rows {
        let change = parse_outcome(&r.enforced)
            .zip(parse_outcome(&r.shadow))
            .and_then(|(e, s)| classify(e, s));
        let Some(c) = change else {
            unchanged = unchanged.saturating_add(1);
            continue;
        };
        let i = c.index();
        counts[i] = counts[i].saturating_add(1);
        if examples[i].len() < SHADOW_EXAMPLES {
            examples[i].push(serde_json::to_value(r).unwrap_or_default());
        }
    }
    let mut changes = serde_json::Map::new();
    let mut ex = serde_json::Map::new();
    for c in Change::ALL {
        changes.insert(c.key().into(), counts[c.index()].into());
        ex.insert(c.key().into(), Value::Array(examples[c.index()].clone()));
    }
    json!({
        "version_id": v.id, "pack_id": v.pack_id, "state": v.state.as_str(),
        "decisions": rows.len(), "unchanged": unchanged,
        "changed": counts.iter().sum::<u64>(),
        "changes": changes, "examples": ex,
    })
}

/// A repository to register ahead of its first decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    /// Its path as hooks see it (the git repository root).
    pub path: String,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A repository's labels.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsBody {
    pub labels: Vec<String>,
}

/// Register a repository (admin): an inventory row before any decision, with labels.
#[utoipa::path(post, path = "/v1/repositories", tag = "repositories",
    request_body = RegisterBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The repository as the inventory holds it", body = Object),
        (status = 400, description = "A malformed body, an empty path or a bad label", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn register_repository(
    State(state): State<Shared>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let b: RegisterBody = typed_body(
        &body,
        "send {\"path\": \"/src/app\", \"labels\": [\"prod\"]}",
    )?;
    let who = caller.identity().to_string();
    let v = blocking(&state, move |s| {
        // the repository of the path, as a hook's call there is placed
        let path = crate::inventory::repository_of(s, Some(&b.path));
        let r = s
            .store(false)?
            .register_repository(&path, &b.labels, now())?;
        s.runtime().record_transition(
            &s.config.cavra_dir,
            "repository.registered",
            &json!({"repository": r.id, "path": r.path, "labels": r.labels, "by": who}),
        )?;
        Ok(r.json())
    })
    .await?;
    Ok(Json(v))
}

/// Set a repository's labels (admin).
#[utoipa::path(put, path = "/v1/repositories/{id}/labels", tag = "repositories",
    params(("id" = String, Path, description = "The repository id (`repo-` and 16 hex digits)")),
    request_body = LabelsBody,
    responses(
        crate::control::Refused,
        (status = 200, description = "The repository with its labels", body = Object),
        (status = 400, description = "A malformed body or a bad label", body = ErrorDocument),
        (status = 404, description = "No such repository", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn put_labels(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    require_role(&caller, Role::Admin)?;
    let id = path_id(id)?;
    let b: LabelsBody = typed_body(&body, "send {\"labels\": [\"prod\"]}")?;
    let who = caller.identity().to_string();
    let v = blocking(&state, move |s| {
        let r = s
            .store(false)?
            .set_repository_labels(&id, &b.labels)?
            .ok_or_else(|| {
                ApiError::not_found(format!("no repository `{id}`"))
                    .hint("POST /v1/repositories registers one")
            })?;
        s.runtime().record_transition(
            &s.config.cavra_dir,
            "repository.labelled",
            &json!({"repository": r.id, "labels": r.labels, "by": who}),
        )?;
        Ok(r.json())
    })
    .await?;
    Ok(Json(v))
}
