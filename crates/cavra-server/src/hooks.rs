//! `POST /v1/hooks/{agent}`: an agent's hook event in, that agent's hook answer out — the
//! same `cavra-agents` adapters and the same runtime as `cavra hook <agent>`, so a thin
//! client can forward the event and replay the answer (stdout, stderr, exit code). A hook
//! in server mode sends the project policy with the event ([`HookEnvelope`]): the server
//! decides under it, tightened by its [`floor`] — never softer than the floor.

use crate::auth::Credential;
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use cavra_agents::{Adapter, AdapterError, Answer, Parsed};
use cavra_core::hooks::{AgentKind, Verdict};
use cavra_core::policy::CompiledPack;
use cavra_runtime::org::floor_won;
use cavra_runtime::sync::{HookEnvelope, ProjectPolicy, HOOK_ENVELOPE_TYPE, MAX_PROJECT_POLICY};
use cavra_runtime::{CallOptions, PackOverride, Runtime, RuntimeError};
use cavra_store::{ApiPermission, RepoSighting};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

/// The hook answer, as `cavra hook <agent>` would have written it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookAnswer {
    /// The agent whose protocol the answer speaks.
    pub agent: String,
    /// What the hook writes on stdout (may be empty: "no opinion" for some agents).
    pub stdout: String,
    /// `stdout` parsed, when it is JSON.
    #[schema(value_type = Option<Object>)]
    pub answer: Option<Value>,
    /// What the hook writes on stderr.
    pub stderr: String,
    /// The hook's exit code: 0 (allow / no opinion) or 2 (deny, or the event was refused).
    pub exit_code: i32,
    /// The repository the call was decided for (`repo-…`), when it was a tool call.
    pub repository: Option<String>,
    /// The digest of the floor `GET /v1/sync/pack?repository=…` sends for it: a hook whose
    /// cached pack has another digest fetches it again.
    pub floor_digest: Option<String>,
}

impl HookAnswer {
    pub fn new(agent: AgentKind, a: Answer) -> HookAnswer {
        HookAnswer {
            agent: agent.as_str().to_string(),
            answer: serde_json::from_str(&a.stdout).ok(),
            stdout: a.stdout,
            stderr: a.stderr,
            exit_code: a.exit_code,
            repository: None,
            floor_digest: None,
        }
    }
}

fn options(s: &AppState, requester: &str) -> CallOptions {
    let c = &s.config;
    CallOptions {
        packs: c.packs.clone(),
        registry: None,
        non_interactive: c.non_interactive,
        record: c.record,
        cavra_dir: Some(c.cavra_dir.clone()),
        locator: c.locator.clone(),
        host: c.host.clone(),
        exit_after: false,
        on_phase: None,
        requested_by: Some(requester.to_string()),
        approvals: c.approval_channel(),
    }
}

/// The server's floor: its organisation pack (`CAVRA_ORG_POLICY`) when it has one, else
/// the pack it decides with itself. A project policy a hook sends is tightened by it, and
/// `GET /v1/sync/pack` sends it, so that offline the same rule holds.
pub fn floor(s: &AppState, rt: &mut Runtime) -> Result<Arc<CompiledPack>, RuntimeError> {
    if let Some(org) = rt.org_pack_loaded()? {
        return Ok(org);
    }
    let c = &s.config;
    let cavra = c.locator.locate_path(Some(&c.project)).project_cavra_dir;
    Ok(s.packs.load(&c.packs, Some(&cavra))?.0)
}

/// The pack the server decides with itself for a call in `cwd` (from its cache).
pub fn server_pack(s: &AppState, cwd: Option<&str>) -> Result<Arc<CompiledPack>, String> {
    let c = &s.config;
    let loc = c.locator.locate(cwd);
    let cavra = c.locator.pack_cavra_dir(&loc);
    s.packs
        .load(&c.packs, Some(&cavra))
        .map(|(p, _)| p)
        .map_err(|e| {
            format!(
                "CAVRA failed closed: the server's policy does not load: {}",
                cavra_runtime::chain(&e)
            )
        })
}

/// The project policy a hook sent, compiled (extends: the bundled packs only), over the
/// floor (`published`: the version enforced for the repository, else the server's
/// floor). Every failure names the policy (the calls are then denied).
fn project_pack(
    s: &AppState,
    rt: &mut Runtime,
    p: &ProjectPolicy,
    published: Option<Arc<CompiledPack>>,
) -> Result<PackOverride, String> {
    let failed = |e: &RuntimeError| {
        format!(
            "CAVRA failed closed: the project policy `{}` does not load on the server: {}",
            p.path,
            cavra_runtime::chain(e)
        )
    };
    if p.text.len() > MAX_PROJECT_POLICY {
        return Err(format!(
            "CAVRA failed closed: the project policy `{}` is larger than {} KiB",
            p.path,
            MAX_PROJECT_POLICY / 1024
        ));
    }
    let pack = s
        .packs
        .load_text(&p.path, &p.text)
        .map_err(|e| failed(&e))?;
    let floor = match published {
        Some(f) => f,
        None => floor(s, rt).map_err(|e| {
            format!(
                "CAVRA failed closed: the server's policy does not load: {}",
                cavra_runtime::chain(&e)
            )
        })?,
    };
    Ok(PackOverride { pack, floor })
}

/// The event of a request body: a bare event, or an envelope with the project policy.
fn read_body(body: &[u8], envelope: bool) -> Result<(Value, Option<ProjectPolicy>), AdapterError> {
    if !envelope {
        return cavra_agents::parse_payload(body).map(|e| (e, None));
    }
    let env: HookEnvelope = serde_json::from_slice(body)
        .map_err(|e| AdapterError::Unreadable(format!("not a CAVRA hook envelope: {e}")))?;
    if !env.event.is_object() {
        return Err(AdapterError::NotObject);
    }
    Ok((env.event, env.project_policy))
}

/// The repository of a tool call and the digest of its floor, for the hook's cache.
type FloorOf = Option<(String, Option<String>)>;

/// One hook call, as `cavra hook` makes it: parse → decide each tool call (strictest wins)
/// or record the observation → the adapter's answer. Every failure is the adapter's
/// fail-closed answer. With a project policy (an envelope), the calls are decided under it
/// and tightened by the floor.
fn answer(
    s: &AppState,
    agent: AgentKind,
    body: &[u8],
    envelope: bool,
    requester: &str,
    client: crate::inventory::ClientReport,
) -> (Answer, FloorOf) {
    let adapter = Adapter::new(agent);
    let parsed =
        read_body(body, envelope).and_then(|(event, policy)| Ok((adapter.parse(&event)?, policy)));
    let answer = match parsed {
        Err(e) => adapter.reject(&e),
        Ok((Parsed::Observed(obs), _)) => {
            if s.config.record {
                let recorded = s.runtime().record_event(
                    &s.config.cavra_dir,
                    obs.record_kind.as_str(),
                    &obs.body,
                );
                if let Err(e) = recorded {
                    tracing::warn!(event = %obs.event, error = %cavra_runtime::chain(&e), "could not record a hook event");
                }
            }
            let context = obs.wants_context.then(|| {
                let loc = s.config.locator.locate(obs.cwd.as_deref());
                let cavra = s
                    .config
                    .locator
                    .locate_path(Some(&loc.project))
                    .project_cavra_dir;
                cavra_runtime::packs::session_summary(&s.config.packs, Some(&cavra))
            });
            adapter.observed(&obs, context.as_deref())
        }
        Ok((Parsed::Tool(tool_use), policy)) => {
            return tool_answer(s, adapter, tool_use, policy, requester, client)
        }
    };
    (answer, None)
}

/// A tool call: decided under the project policy sent (else the server's pack), over the
/// repository's floor (its enforced version, else the server's floor); a shadow version
/// of the repository is evaluated beside and recorded.
fn tool_answer(
    s: &AppState,
    adapter: Adapter,
    tool_use: cavra_agents::ToolUse,
    policy: Option<ProjectPolicy>,
    requester: &str,
    client: crate::inventory::ClientReport,
) -> (Answer, FloorOf) {
    let agent = adapter.agent();
    let opts = options(s, requester);
    let t0 = std::time::Instant::now();
    let cwd = tool_use.calls.first().and_then(|c| c.cwd.as_deref());
    let mut seen = RepoSighting {
        path: crate::inventory::repository_of(s, cwd),
        agent: Some(agent.as_str().to_string()),
        client_version: client.version,
        offline_queued: client.queued,
        decisions: i64::try_from(tool_use.calls.len()).unwrap_or(i64::MAX),
        ..Default::default()
    };
    let rollout = crate::rollouts::for_repository(s, &seen.path);
    let floor_digest;
    let verdict = {
        let mut rt = s.runtime();
        let given = match (&rollout, policy) {
            (Err(why), _) => Err(format!("CAVRA failed closed: {why}")),
            (Ok(r), Some(p)) => {
                let published = r.enforced.as_ref().map(|e| Arc::clone(&e.pack));
                project_pack(s, &mut rt, &p, published).map(Some)
            }
            (Ok(r), None) => match &r.enforced {
                Some(e) => server_pack(s, cwd).map(|pack| {
                    Some(PackOverride {
                        pack,
                        floor: Arc::clone(&e.pack),
                    })
                }),
                None => Ok(None),
            },
        };
        floor_digest = match &rollout {
            Ok(r) => match &r.enforced {
                Some(e) => Some(e.pack.digest.clone()),
                None => floor(s, &mut rt).ok().map(|f| f.digest.clone()),
            },
            Err(_) => None,
        };
        match given {
            Err(why) => Verdict::deny(why),
            Ok(given) => {
                in_force(s, &mut seen, given.as_ref(), cwd);
                // the floor, when it is not the deciding pack: a verdict it won is
                // an attempt of the project pack to loosen it
                let floor = given
                    .as_ref()
                    .filter(|g| g.floor.digest != g.pack.digest)
                    .map(|g| g.floor.id.clone());
                let mut loosened = None;
                let decide = |c| {
                    let v = rt.decide_call_with(c, &opts, given.as_ref());
                    if loosened.is_none()
                        && floor.as_deref().is_some_and(|f| floor_won(&v.reason, f))
                    {
                        loosened = Some(v.reason.clone());
                    }
                    v
                };
                let v = Verdict::strictest(tool_use.calls.iter().map(decide))
                    .unwrap_or_else(cavra_agents::nothing_guarded);
                seen.loosened = loosened;
                if let Ok(r) = &rollout {
                    crate::rollouts::record_shadow_calls(
                        s,
                        &mut rt,
                        r,
                        given.as_ref(),
                        &tool_use.calls,
                        &opts,
                    );
                }
                v
            }
        }
    };
    s.metrics.decided_in(t0.elapsed().as_secs_f64());
    crate::inventory::record(s, &seen);
    let repo = cavra_store::repository_id(&seen.path);
    (
        adapter.answer(&tool_use, &verdict),
        Some((repo, floor_digest)),
    )
}

/// The pack in force for the inventory: the project pack a hook sent, else the pack the
/// server decides with for `cwd` (from its cache).
fn in_force(
    s: &AppState,
    seen: &mut RepoSighting,
    given: Option<&PackOverride>,
    cwd: Option<&str>,
) {
    let pack = match given {
        Some(g) => Some(Arc::clone(&g.pack)),
        None => {
            let c = &s.config;
            let loc = c.locator.locate(cwd);
            let cavra = c.locator.pack_cavra_dir(&loc);
            s.packs.load(&c.packs, Some(&cavra)).ok().map(|(p, _)| p)
        }
    };
    if let Some(p) = pack {
        seen.pack_id = Some(p.id.clone());
        seen.pack_digest = Some(p.digest.clone());
    }
}

/// Answer an agent's hook event.
#[utoipa::path(post, path = "/v1/hooks/{agent}", tag = "hooks",
    params(("agent" = String, Path, description = "claude-code, codex, gemini, cursor or copilot")),
    request_body(content = Object, description = "The agent's hook event, as the agent writes it to the hook's stdin (`application/json`); or, as `application/vnd.cavra.hook+json`, `{\"event\": <that event>, \"project_policy\": {\"path\": …, \"text\": …}}`: the event decided under the project's policy (YAML, at most 256 KiB; `extends` resolved against the bundled packs), tightened by the server's floor (its organisation pack, else its own pack)"),
    responses(
        (status = 200, description = "The hook's answer (a malformed event is answered here too, fail-closed, exit code 2)", body = HookAnswer),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not decide", body = ErrorDocument),
        (status = 404, description = "Unknown agent", body = ErrorDocument),
        (status = 413, description = "Body over the limit", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn post_hook(
    State(state): State<Shared>,
    credential: Credential,
    agent: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<HookAnswer>, ApiError> {
    let envelope = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(HOOK_ENVELOPE_TYPE));
    let client = crate::inventory::client_report(&headers);
    // one hop to the blocking pool: the caller is checked there, then the event answered
    let (kind, (a, floor)) = blocking(&state, move |s| {
        let caller = credential.caller(s)?;
        caller.require(ApiPermission::Decide)?;
        let Path(name) = agent.map_err(|e| ApiError::bad_request(e.body_text()))?;
        let kind = AgentKind::from_name(&name).ok_or_else(|| {
            ApiError::not_found(format!("unknown agent `{name}`"))
                .hint("agents: claude-code, codex, gemini, cursor, copilot")
        })?;
        Ok((
            kind,
            answer(s, kind, &body, envelope, caller.identity(), client),
        ))
    })
    .await?;
    let mut answer = HookAnswer::new(kind, a);
    if let Some((repo, digest)) = floor {
        answer.repository = Some(repo);
        answer.floor_digest = digest;
    }
    Ok(Json(answer))
}
