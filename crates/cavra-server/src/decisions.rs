//! `/v1/decisions`: decide a request (recorded as evidence, the same pipeline as the hook
//! and `cavra evaluate`), list recorded decisions, read one.

use crate::auth::{Caller, Credential};
use crate::error::{ApiError, ErrorDocument};
use crate::state::{blocking, AppState, Shared};
use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use cavra_core::ActionRequest;
use cavra_runtime::request::Placement;
use cavra_runtime::DecideOptions;
use cavra_store::{ApiPermission, EvidenceIndex, SearchQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use utoipa::{IntoParams, ToSchema};

/// Largest page of `GET /v1/decisions`.
pub const MAX_PAGE: u32 = 500;

/// Parses a JSON body; the error names the line and column.
pub fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("the body is not valid JSON: {e}"))
            .hint("send one JSON object (Content-Type: application/json)")
    })
}

/// A request in the reference shape (`action_type`, `target`, …, as `cavra evaluate
/// --request` takes) or the normalized shape (`action`, `target`, `actor`, … as recorded
/// in evidence under `request`). Errors name the field.
pub fn request_from_body(v: &Value) -> Result<ActionRequest, ApiError> {
    let Some(obj) = v.as_object() else {
        return Err(ApiError::bad_request("the request must be a JSON object"));
    };
    if obj.contains_key("action_type") || !obj.contains_key("action") {
        return cavra_runtime::request::from_json(v).map_err(|e| {
            ApiError::bad_request(format!("invalid request: {e}")).hint(
                "the reference shape needs `action_type` (read_file, write_file, delete_file, execute_command, git_operation, mcp_tool_call, network_request, pull_request) and `target`",
            )
        });
    }
    let req: ActionRequest = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad_request(format!(
            "invalid request: field `{path}`: {}",
            e.into_inner()
        ))
        .hint("the normalized shape is the `request` object of a decision record")
    })?;
    if req.action.is_none() {
        return Err(ApiError::bad_request(
            "invalid request: field `action` must name an action type",
        ));
    }
    Ok(req)
}

/// Decides `req` as `cavra evaluate --request` does: placed against the server's working
/// directory, the pack chosen by the server's flags, else the request's `policy_pack`,
/// else the project's policy.
fn decide(
    s: &AppState,
    mut req: ActionRequest,
    requester: &str,
    client: crate::inventory::ClientReport,
) -> Result<Vec<u8>, ApiError> {
    let c = &s.config;
    let loc = Placement::default()
        .apply_located(&mut req, &c.locator)
        .map_err(|e| ApiError::bad_request(format!("invalid request: {e}")))?;
    let mut choice = c.packs.clone();
    if choice.pack.is_none() && choice.policy.is_none() {
        choice.pack = req.policy_pack.clone();
    }
    let pack_dir = req
        .cwd
        .as_deref()
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| c.project.clone());
    // the pack's directory is most often the request's working directory, just located:
    // its CAVRA directory is known, not looked for again
    let project_cavra = if pack_dir == loc.cwd {
        loc.project_cavra_dir.clone()
    } else {
        c.locator.locate_path(Some(&pack_dir)).project_cavra_dir
    };
    let (pack, _) = s.packs.load(&choice, Some(&project_cavra)).map_err(|e| {
        ApiError::bad_request(format!(
            "the policy could not be loaded: {}",
            cavra_runtime::chain(&e)
        ))
    })?;
    req.policy_pack = Some(pack.id.clone());
    let opts = DecideOptions {
        record: c.record,
        non_interactive: c.non_interactive,
        registry: None,
        create_state: true,
        open_approval: false,
        requested_by: Some(requester.to_string()),
    };
    let repo = req.repo_root.as_deref().or(req.cwd.as_deref());
    let repo_path = crate::inventory::repository_at(s, repo, &loc);
    // the repository's enforced version is its floor; a shadow version is evaluated beside
    let rollout = crate::rollouts::for_repository(s, &repo_path).map_err(ApiError::internal)?;
    let t0 = std::time::Instant::now();
    let mut rt = s.runtime();
    let decided = match &rollout.enforced {
        Some(e) => {
            let floor = Some(&*e.pack).filter(|f| f.digest != pack.digest);
            rt.decide_tightened(&c.cavra_dir, &pack, floor, &req, &opts)?
        }
        None => rt.decide(&c.cavra_dir, &pack, &req, &opts)?,
    };
    if rollout.shadow.is_some() {
        let enforced = match &rollout.enforced {
            Some(e) => Some(std::sync::Arc::clone(&e.pack)),
            None => rt.org_pack(&pack).ok().flatten(),
        };
        crate::rollouts::record_shadow(
            s,
            &rollout,
            &pack,
            enforced.as_deref(),
            std::slice::from_ref(&req),
        );
    }
    drop(rt);
    s.metrics.decided_in(t0.elapsed().as_secs_f64());
    let agent = Some(&req.actor.kind)
        .filter(|k| !k.is_empty())
        .or(Some(&req.actor.agent_id).filter(|a| !a.is_empty()));
    crate::inventory::record(
        s,
        &cavra_store::RepoSighting {
            path: repo_path,
            agent: agent.cloned(),
            pack_id: Some(pack.id.clone()),
            pack_digest: Some(pack.digest.clone()),
            client_version: client.version,
            offline_queued: client.queued,
            decisions: 1,
            ..Default::default()
        },
    );
    // the document serialized as it is (no JSON tree built and dropped per decision),
    // except when it is held for approval: then where a person decides it, and the
    // sentence for them, are added
    let body = match &decided.approval_id {
        None => {
            // sized for a typical document: no reallocations while it is written
            let mut out = Vec::with_capacity(1536);
            serde_json::to_writer(&mut out, &decided.document()).map(|()| out)
        }
        Some(id) => serde_json::to_value(decided.document()).and_then(|mut doc| {
            let channel = c.approval_channel();
            let group = decided.decision.approver_group.as_deref();
            doc["approval_url"] = channel.url(id).into();
            doc["approval_message"] = channel.person_must_approve(id, group).into();
            serde_json::to_vec(&doc)
        }),
    };
    body.map_err(|e| ApiError::internal(e.to_string()))
}

/// Decide one request and record it.
#[utoipa::path(post, path = "/v1/decisions", tag = "decisions",
    request_body(content = Object, description = "A request in the reference shape (`action_type`, `target`, `session_id`, `agent_id`, `cwd`, …) or the normalized shape"),
    responses(
        (status = 200, description = "The `cavra evaluate --json` document: `decision`, `proceed`, `rule_id`, `rule_ids`, `severity`, `reason`, `policy`, `decision_id`, `evidence_record`, `approval_id`, …; when an approval request was opened, `approval_url` (where a person decides it) and `approval_message` (what to tell the person)", body = Object),
        (status = 400, description = "Malformed JSON or request", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not decide", body = ErrorDocument),
        (status = 413, description = "Body over the limit", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn post_decision(
    State(state): State<Shared>,
    credential: Credential,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let client = crate::inventory::client_report(&headers);
    // one hop to the blocking pool: the caller is checked there, then the request decided
    let doc = blocking(&state, move |s| {
        let caller = credential.caller(s)?;
        caller.require(ApiPermission::Decide)?;
        let req = request_from_body(&json_body(&body)?)?;
        decide(s, req, caller.identity(), client)
    })
    .await?;
    let json = axum::http::HeaderValue::from_static("application/json");
    Ok(([(axum::http::header::CONTENT_TYPE, json)], doc).into_response())
}

/// Filters of `GET /v1/decisions`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DecisionFilter {
    /// `allow`, `block`, `require_approval`, `shadow`, `break_glass`.
    pub decision: Option<String>,
    /// The deciding rule, or any rule that matched.
    pub rule: Option<String>,
    /// The agent id (`claude-code@host`, …).
    pub agent: Option<String>,
    pub session: Option<String>,
    /// RFC 3339 time, a date, or a duration back from now (`1h`); inclusive.
    pub since: Option<String>,
    /// Same forms; exclusive.
    pub until: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// A page of decisions, newest first (the `cavra evidence search --json` document).
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionPage {
    pub total: u64,
    pub offset: u32,
    pub limit: u32,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<u32>,
    /// Index hits: `seq`, `record_id`, `kind`, `timestamp`, …, `body` (the decision record).
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<Value>,
}

fn when(field: &str, v: &Option<String>) -> Result<Option<String>, ApiError> {
    v.as_deref()
        .map(|s| {
            cavra_evidence::timeutil::parse_since(s)
                .map(cavra_evidence::timeutil::format_ts)
                .map_err(|e| ApiError::bad_request(format!("invalid `{field}`: {e}")))
        })
        .transpose()
}

pub(crate) fn search(s: &AppState, q: SearchQuery) -> Result<cavra_store::SearchResult, ApiError> {
    #[cfg(feature = "postgres")]
    if let Some(pg) = s.pg_log() {
        return pg.search(q);
    }
    let dir = cavra_evidence::LogConfig::for_cavra_dir(&s.config.cavra_dir).dir;
    let mut idx = EvidenceIndex::open(&dir)?;
    idx.update(None)?;
    Ok(idx.search(&q)?)
}

/// The repositories a session or a request acted in: those of the recorded decisions the
/// search `q` finds (each request's `repo_root`, else its `cwd`, as approval requests name
/// theirs; every page read) and of the approval requests `of` selects.
pub(crate) fn acted_in(
    s: &AppState,
    store: &dyn cavra_store::ControlStore,
    mut q: SearchQuery,
    of: impl Fn(&cavra_store::Approval) -> bool,
) -> Result<std::collections::BTreeSet<String>, ApiError> {
    let approvals = store.list_approvals(None, cavra_store::OffsetDateTime::now_utc())?;
    let mut repos: std::collections::BTreeSet<String> = approvals
        .into_iter()
        .filter(|a| of(a))
        .filter_map(|a| a.repo)
        .collect();
    (q.kind, q.limit, q.offset) = (Some("decision".into()), MAX_PAGE, 0);
    loop {
        let page = search(s, q.clone())?;
        for h in &page.hits {
            let req = &h.body["request"];
            let repo = req["repo_root"].as_str().or_else(|| req["cwd"].as_str());
            repos.extend(repo.map(str::to_string));
        }
        let read = u64::from(q.offset).saturating_add(page.hits.len() as u64);
        if page.hits.is_empty() || read >= page.total {
            return Ok(repos);
        }
        q.offset = u32::try_from(read).map_err(|_| ApiError::internal("too many decisions"))?;
    }
}

/// List recorded decisions.
#[utoipa::path(get, path = "/v1/decisions", tag = "decisions", params(DecisionFilter),
    responses(
        (status = 200, description = "A page of decision records, newest first", body = DecisionPage),
        (status = 400, description = "A filter is invalid", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not read", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn list_decisions(
    State(state): State<Shared>,
    caller: Caller,
    filter: Result<Query<DecisionFilter>, QueryRejection>,
) -> Result<Json<DecisionPage>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(f) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = f.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "invalid `limit`: {limit} (1 to {MAX_PAGE})"
        )));
    }
    let q = SearchQuery {
        session: f.session,
        agent: f.agent,
        decision: f.decision,
        rule: f.rule,
        kind: Some("decision".into()),
        since: when("since", &f.since)?,
        until: when("until", &f.until)?,
        limit,
        offset: f.offset.unwrap_or(0),
        ..Default::default()
    };
    let r = blocking(&state, move |s| search(s, q)).await?;
    let shown = u64::from(r.offset).saturating_add(r.hits.len() as u64);
    let next_offset = (shown < r.total)
        .then(|| u32::try_from(shown).ok())
        .flatten();
    Ok(Json(DecisionPage {
        total: r.total,
        offset: r.offset,
        limit: r.limit,
        next_offset,
        hits: r
            .hits
            .into_iter()
            .map(|h| serde_json::to_value(h).unwrap_or(Value::Null))
            .collect(),
    }))
}

/// One decision record, by decision id (`dec-…`) or evidence record id.
#[utoipa::path(get, path = "/v1/decisions/{id}", tag = "decisions",
    params(("id" = String, Path, description = "A decision id (`dec-…`) or an evidence record id")),
    responses(
        (status = 200, description = "The index hit of the decision record", body = Object),
        (status = 400, description = "Not a valid decision id", body = ErrorDocument),
        (status = 404, description = "No such decision", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not read", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn get_decision(
    State(state): State<Shared>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_control() || c == '%') {
        return Err(ApiError::bad_request(format!("invalid decision id `{id}`")));
    }
    let want = id.clone();
    let hit = blocking(&state, move |s| {
        #[cfg(feature = "postgres")]
        if let Some(pg) = s.pg_log() {
            return pg.decision(&want);
        }
        // the body's text narrows the search; the id itself is compared exactly
        let r = search(
            s,
            SearchQuery {
                kind: Some("decision".into()),
                text: Some(want.clone()),
                limit: MAX_PAGE,
                ..Default::default()
            },
        )?;
        Ok(r.hits.into_iter().find(|h| {
            h.record_id == want
                || h.body.get("decision_id").and_then(Value::as_str) == Some(want.as_str())
        }))
    })
    .await?;
    match hit {
        Some(h) => Ok(Json(serde_json::to_value(h).unwrap_or(Value::Null))),
        None => Err(ApiError::not_found(format!("no decision `{id}`"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_request_shapes_and_their_errors() {
        let r = request_from_body(&json!({"action_type": "read_file", "target": ".env"})).unwrap();
        assert_eq!(r.action, Some(cavra_core::ActionType::ReadFile));
        let n = request_from_body(&json!({
            "action": "execute_command", "target": "ls",
            "actor": {"agent_id": "a", "kind": "agent"}, "session_id": "s"
        }))
        .unwrap();
        assert_eq!(n.action, Some(cavra_core::ActionType::ExecuteCommand));
        let e = request_from_body(&json!({"target": "x"})).unwrap_err();
        assert!(e.body.message.contains("action_type"), "{}", e.body.message);
        let e = request_from_body(&json!({"action": "fly", "target": "x"})).unwrap_err();
        assert!(
            e.body.message.contains("field `action`"),
            "{}",
            e.body.message
        );
        let e = request_from_body(&json!({"action": "read_file", "target": 3})).unwrap_err();
        assert!(
            e.body.message.contains("field `target`"),
            "{}",
            e.body.message
        );
        assert!(request_from_body(&json!([1])).is_err());
        let e = json_body(b"{\"action_type\": ").unwrap_err();
        assert!(e.body.message.contains("line 1"), "{}", e.body.message);
    }
}
