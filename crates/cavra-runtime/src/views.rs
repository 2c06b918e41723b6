//! The control surface as documents: approvals, held sessions, registered agents and MCP
//! servers read through [`ControlStore`] / [`RegistryStore`], and the results of the
//! control actions. Each is a [`Doc`]: the JSON the CLI prints under `--json` (and a server
//! returns: `GET /v1/approvals`, `GET /v1/sessions/{id}`, …) and what its text form shows
//! ([`Block`]s: alerts, lines, fields, a table), which the front end lays out (alignment,
//! colour).

use cavra_core::text::clip;
use cavra_store::{
    AgentProfile, AgentRecord, Approval, ApprovalState, ControlStore, McpServer, OffsetDateTime,
    RegistryStore, SessionState, StoreError, ToolClass,
};
use serde_json::{json, Value};

use crate::actions::{Acted, Verdict};
use crate::control::{agent_json, approval_json, mcp_json, session_json, RegistryChanged};
use crate::error::RuntimeError;
use crate::render::{push_line, table, Paint, Tone};

type Result<T> = std::result::Result<T, RuntimeError>;

/// A document: its JSON, and what its text form shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    pub json: Value,
    pub text: Vec<Block>,
}

/// A piece of a document's text form.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A warning line, shown loudly (red where colour is on).
    Alert(String),
    /// A line as is.
    Line(String),
    /// `key value` lines, the keys padded to `width`.
    Fields {
        width: usize,
        fields: Vec<(&'static str, String)>,
    },
    /// A table of one row per item (`empty` when there is none).
    Table {
        headers: &'static [&'static str],
        rows: Vec<Vec<String>>,
        empty: &'static str,
    },
}

impl Doc {
    /// The text form: alerts painted [`Tone::StrongBad`], fields aligned, tables as
    /// [`crate::render::table`] (lines ending in newlines).
    pub fn render(&self, paint: Paint<'_>) -> String {
        let mut out = String::new();
        for block in &self.text {
            match block {
                Block::Alert(line) => push_line!(out, "{}", paint(Tone::StrongBad, line)),
                Block::Line(line) => push_line!(out, "{line}"),
                Block::Fields { width, fields } => {
                    for (k, v) in fields {
                        push_line!(out, "{k:<width$} {v}");
                    }
                }
                Block::Table { rows, empty, .. } if rows.is_empty() => push_line!(out, "{empty}"),
                Block::Table { headers, rows, .. } => out.push_str(&table(headers, rows)),
            }
        }
        out
    }

    fn new(json: Value) -> Doc {
        Doc { json, text: vec![] }
    }

    fn line(mut self, line: impl Into<String>) -> Doc {
        self.text.push(Block::Line(line.into()));
        self
    }

    fn alert(mut self, line: impl Into<String>) -> Doc {
        self.text.push(Block::Alert(line.into()));
        self
    }

    fn fields(mut self, width: usize, fields: Vec<(&'static str, String)>) -> Doc {
        self.text.push(Block::Fields { width, fields });
        self
    }

    fn lines(mut self, lines: impl IntoIterator<Item = String>) -> Doc {
        self.text.extend(lines.into_iter().map(Block::Line));
        self
    }
}

/// A listing: the JSON array of `to_json`, a table of `row`.
pub(crate) fn listing<T>(
    items: &[T],
    to_json: impl Fn(&T) -> Value,
    headers: &'static [&'static str],
    empty: &'static str,
    row: impl Fn(&T) -> Vec<String>,
) -> Doc {
    Doc {
        json: array(items, to_json),
        text: vec![Block::Table {
            headers,
            rows: items.iter().map(row).collect(),
            empty,
        }],
    }
}

/// A list of documents as a JSON array.
pub fn array<T>(items: &[T], to_json: impl Fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(to_json).collect())
}

/// `-` for a missing value.
pub fn dash(o: &Option<String>) -> String {
    o.clone().unwrap_or_else(|| "-".into())
}

// ---- approvals ----

/// An approval with its state at the time it was read and whether its signature verifies.
#[derive(Debug, Clone)]
pub struct ApprovalView {
    pub approval: Approval,
    /// A valid signature of an approving identity (only records claiming a decision have
    /// one).
    pub verified: bool,
}

impl ApprovalView {
    /// The record claims a decision (approved, denied, break-glass).
    pub fn claims_decision(&self) -> bool {
        matches!(
            self.approval.state,
            ApprovalState::Approved | ApprovalState::Denied | ApprovalState::BreakGlass
        )
    }

    /// A record that claims a decision without a valid signature of an approving identity:
    /// written by other means, it changes no decision.
    pub fn unsigned(&self) -> bool {
        self.claims_decision() && !self.verified
    }

    /// [`approval_json`] plus `signature_verified` for records that claim a decision.
    pub fn json(&self) -> Value {
        let mut v = approval_json(&self.approval);
        if self.claims_decision() {
            v["signature_verified"] = self.verified.into();
        }
        v
    }

    /// `approvals show`: the record, its history, and whether its signature verifies
    /// ([`approval_doc_of`] of [`ApprovalView::json`]).
    pub fn doc(&self) -> Doc {
        approval_doc_of(self.json())
    }
}

/// A document's fields as its text form shows them: a string as is, a number or boolean
/// as written, missing or `null` as empty ([`Fields::or_dash`]: `-`).
struct Fields<'a>(&'a Value);

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    fn s(&self, key: &str) -> String {
        self.get(key).unwrap_or_default()
    }

    fn or_dash(&self, key: &str) -> String {
        self.get(key).unwrap_or_else(|| "-".into())
    }

    fn flag(&self, key: &str) -> bool {
        self.0.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    fn items(&self, key: &str) -> &[Value] {
        self.0
            .get(key)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

/// The items of a JSON array (none for anything else).
fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// A table of one row per item of the JSON array `json`.
fn table_of(
    json: Value,
    headers: &'static [&'static str],
    empty: &'static str,
    row: impl Fn(&Value) -> Vec<String>,
) -> Doc {
    let rows = items(&json).iter().map(row).collect();
    Doc {
        text: vec![Block::Table {
            headers,
            rows,
            empty,
        }],
        json,
    }
}

/// The state of an approval document as listed: `BREAK-GLASS` for an override,
/// `approved (used)` when spent.
pub fn state_label(v: &Value) -> String {
    let f = Fields(v);
    let state = f.s("state");
    if f.flag("break_glass") {
        if state == ApprovalState::BreakGlass.as_str() {
            "BREAK-GLASS".into()
        } else {
            format!("{state} (BREAK-GLASS)")
        }
    } else if f.flag("exhausted") {
        "approved (used)".into()
    } else {
        state
    }
}

/// An approval document that claims a decision (approved, denied, break-glass) without
/// `signature_verified: true`: written by other means, it changes no decision.
fn unsigned(v: &Value) -> bool {
    let claims = matches!(
        Fields(v).s("state").as_str(),
        "approved" | "denied" | "break_glass"
    );
    claims && v.get("signature_verified").and_then(Value::as_bool) != Some(true)
}

/// Which approvals a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ApprovalFilter {
    /// Only this state: pending, approved, denied, expired or break_glass.
    pub status: Option<String>,
}

fn view(store: &dyn ControlStore, approval: Approval) -> ApprovalView {
    let verified = store.approval_verified(&approval);
    ApprovalView { approval, verified }
}

/// Approvals and break-glass records, newest first, with their state at `now`.
pub fn approvals(
    store: &dyn ControlStore,
    filter: &ApprovalFilter,
    now: OffsetDateTime,
) -> Result<Vec<ApprovalView>> {
    let status = filter.status.as_deref();
    let status = status.map(ApprovalState::parse).transpose()?;
    let list = store.list_approvals(status, now)?;
    Ok(list.into_iter().map(|a| view(store, a)).collect())
}

/// `approvals list` ([`approvals_doc_of`] of their JSON).
pub fn approvals_doc(list: &[ApprovalView]) -> Doc {
    approvals_doc_of(array(list, ApprovalView::json))
}

// The `…_doc_of` functions make a document from its JSON: the local commands through
// them, and the commands through the server (`CAVRA_SERVER`) from the server's answer, so
// that both print the same text.

/// `approvals list` of the JSON array of approval documents: break-glass records are
/// counted loudly.
pub fn approvals_doc_of(json: Value) -> Doc {
    const HEADERS: &[&str] = &[
        "ID",
        "STATE",
        "ACTION",
        "TARGET",
        "RULE",
        "REQUESTER",
        "GROUP",
        "EXPIRES",
        "USES",
    ];
    let break_glass = items(&json)
        .iter()
        .filter(|v| Fields(v).flag("break_glass"))
        .count();
    let d = table_of(json, HEADERS, "no approvals", |v| {
        let f = Fields(v);
        let flag = if unsigned(v) { " UNSIGNED" } else { "" };
        let uses = format!("{}/{}", f.s("uses"), f.s("max_uses"));
        vec![
            f.s("approval_id"),
            format!("{}{flag}", state_label(v)),
            f.s("action_type"),
            clip(&f.s("target"), 40),
            f.s("rule_id"),
            f.s("requested_by"),
            f.s("approver_group"),
            f.s("expires_at"),
            if f.flag("break_glass") {
                "-".into()
            } else {
                uses
            },
        ]
    });
    match break_glass {
        0 => d,
        n => d.line(format!(
            "!! {n} BREAK-GLASS record(s) listed: overrides of policy, review them"
        )),
    }
}

/// `approvals show` of an approval document: the record, its history, and whether its
/// signature verifies.
pub fn approval_doc_of(json: Value) -> Doc {
    let (v, mut d) = (&json, Doc::new(Value::Null));
    let f = Fields(v);
    if f.flag("break_glass") {
        d = d.alert("!! BREAK-GLASS record: a time-boxed override of policy");
    }
    let mut fields = vec![
        ("id", f.s("approval_id")),
        ("state", state_label(v)),
        ("break_glass", f.flag("break_glass").to_string()),
        ("action", f.s("action_type")),
        ("target", f.s("target")),
        ("rule", f.s("rule_id")),
        ("severity", f.s("severity")),
        ("request_hash", f.s("request_hash")),
        ("decision_id", f.s("decision_id")),
        ("session_id", f.s("session_id")),
        ("agent_id", f.s("agent_id")),
        ("requested_by", f.s("requested_by")),
        ("approver_group", f.s("approver_group")),
        ("repo", f.or_dash("repo")),
        ("requested_at", f.s("requested_at")),
        ("expires_at", f.s("expires_at")),
        ("decided_by", f.or_dash("decided_by")),
        ("decided_at", f.or_dash("decided_at")),
        ("reason", f.or_dash("decision_reason")),
        ("uses", format!("{}/{}", f.s("uses"), f.s("max_uses"))),
    ];
    let refs: Vec<&str> = f
        .items("evidence_refs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !refs.is_empty() {
        fields.push(("evidence", refs.join(", ")));
    }
    d = d.fields(15, fields).line("history:");
    d = d.lines(f.items("history").iter().map(|h| {
        let h = Fields(h);
        let by = h.get("by").map(|b| format!(" by {b}"));
        let why = h.get("reason").map(|r| format!(": {r}"));
        let (by, why) = (by.unwrap_or_default(), why.unwrap_or_default());
        format!("  {} {}{by}{why}", h.s("at"), h.s("event"))
    }));
    d = if unsigned(v) {
        d.alert("!! UNSIGNED: no valid signature of an approving identity — written by other means; it changes no decision (see `cavra doctor`)")
    } else if let Some(method) = f.get("auth_method") {
        let label = f.get("approver_label").map(|l| format!(", label `{l}`"));
        let label = label.unwrap_or_default();
        d.fields(
            15,
            vec![("signature", format!("verified ({method}{label})"))],
        )
    } else {
        d
    };
    d.json = json;
    d
}

/// One approval or break-glass record, with its state at `now`.
pub fn approval(store: &dyn ControlStore, id: &str, now: OffsetDateTime) -> Result<ApprovalView> {
    let mut a = store.approval(id)?;
    a.state = a.effective_state(now);
    Ok(view(store, a))
}

/// The result of `approvals approve` / `deny` ([`decided_doc_of`]; the person who decided
/// is the record's `decided_by`).
pub fn decided_doc(done: &Acted<Approval>, verdict: Verdict) -> Doc {
    decided_doc_of(approval_json(&done.result), verdict)
}

/// The result of `approvals approve` / `deny` of the decided approval's document.
pub fn decided_doc_of(json: Value, verdict: Verdict) -> Doc {
    let f = Fields(&json);
    let what = format!(
        "{} ({} {}) by {}",
        f.s("approval_id"),
        f.s("action_type"),
        f.s("target"),
        f.s("decided_by")
    );
    let line = match verdict {
        Verdict::Approve => format!(
            "approved {what}: valid until {}, {} use(s)",
            f.s("expires_at"),
            f.s("max_uses")
        ),
        Verdict::Deny => format!("denied {what}"),
    };
    Doc::new(json).line(line)
}

/// The result of `approvals break-glass`, loudly ([`break_glass_doc_of`]).
pub fn break_glass_doc(a: &Approval) -> Doc {
    break_glass_doc_of(approval_json(a))
}

/// The result of `approvals break-glass` of the record's document, loudly.
pub fn break_glass_doc_of(json: Value) -> Doc {
    let f = Fields(&json);
    let line = format!(
        "!! BREAK-GLASS {} recorded by {} until {}: {}",
        f.s("approval_id"),
        f.s("requested_by"),
        f.s("expires_at"),
        f.s("break_glass_reason")
    );
    Doc::new(json).alert(line)
}

/// The result of `approvals expire`.
pub fn expired_doc(expired: &[Approval]) -> Doc {
    let v = array(expired, approval_json);
    let lines: Vec<String> = items(&v)
        .iter()
        .map(|a| format!("  {} {}", Fields(a).s("approval_id"), state_label(a)))
        .collect();
    Doc::new(json!({ "expired": v, "count": expired.len() }))
        .line(format!("{} approval(s) expired", expired.len()))
        .lines(lines)
}

// ---- sessions ----

/// Which sessions a listing shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionFilter {
    /// Only sessions on hold.
    pub held: bool,
}

/// Sessions with blocked attempts (held ones only, by `filter`).
pub fn sessions(store: &dyn ControlStore, filter: SessionFilter) -> Result<Vec<SessionState>> {
    let all = store.list_sessions()?;
    Ok(all.into_iter().filter(|s| !filter.held || s.held).collect())
}

/// `sessions list` ([`sessions_doc_of`]).
pub fn sessions_doc(list: &[SessionState]) -> Doc {
    sessions_doc_of(array(list, session_json))
}

fn held_label(f: &Fields<'_>) -> String {
    if f.flag("held") { "HELD" } else { "active" }.into()
}

/// `sessions list` of the JSON array of session documents.
pub fn sessions_doc_of(json: Value) -> Doc {
    const HEADERS: &[&str] = &[
        "SESSION",
        "AGENT",
        "STATE",
        "BLOCKS",
        "LAST BLOCK",
        "HOLD REASON",
    ];
    table_of(json, HEADERS, "no sessions", |v| {
        let f = Fields(v);
        let last = f.items("blocks").first().map(|b| Fields(b).s("at"));
        vec![
            f.s("session_id"),
            f.s("agent_id"),
            held_label(&f),
            f.s("total_blocks"),
            last.unwrap_or_else(|| "-".into()),
            clip(&f.or_dash("held_reason"), 50),
        ]
    })
}

/// One session and its blocked attempts.
pub fn session(store: &dyn ControlStore, id: &str) -> Result<SessionState> {
    store
        .session(id)?
        .ok_or_else(|| StoreError::UnknownSession(id.to_string()).into())
}

/// `sessions show` ([`session_doc_of`]).
pub fn session_doc(s: &SessionState) -> Doc {
    session_doc_of(session_json(s))
}

/// `sessions show` of a session document.
pub fn session_doc_of(json: Value) -> Doc {
    let f = Fields(&json);
    let mut fields = vec![
        ("session_id", f.s("session_id")),
        ("agent_id", f.s("agent_id")),
        ("state", held_label(&f)),
    ];
    if let Some(r) = f.get("held_reason") {
        fields.push(("held_reason", r));
    }
    if let Some(t) = f.get("held_at") {
        fields.push(("held_at", t));
    }
    if let Some(by) = f.get("released_by") {
        let (at, why) = (f.s("released_at"), f.s("release_reason"));
        fields.push(("released", format!("by {by} at {at}: {why}")));
    }
    fields.push(("total_blocks", f.s("total_blocks")));
    let blocks: Vec<String> = f
        .items("blocks")
        .iter()
        .map(|b| {
            let b = Fields(b);
            format!("  {} {} ({})", b.s("at"), b.s("severity"), b.s("agent_id"))
        })
        .collect();
    Doc::new(json).fields(13, fields).lines(blocks)
}

/// The result of `sessions release` ([`released_doc_of`]; the person who released it is
/// the session's `released_by`).
pub fn released_doc(done: &Acted<SessionState>) -> Doc {
    released_doc_of(session_json(&done.result))
}

/// The result of `sessions release` of the released session's document.
pub fn released_doc_of(json: Value) -> Doc {
    let f = Fields(&json);
    let line = format!(
        "released session {} by {}",
        f.s("session_id"),
        f.s("released_by")
    );
    Doc::new(json).line(line)
}

// ---- registries ----

/// A profile's operations, comma-separated.
fn operation_names(p: &AgentProfile) -> String {
    let ops: Vec<&str> = p.operations.iter().map(|o| o.as_str()).collect();
    ops.join(", ")
}

/// `registry agents profiles`: the built-in capability profiles.
pub fn profiles_doc() -> Doc {
    let profiles = AgentProfile::builtins();
    let json = serde_json::to_value(profiles).unwrap_or(Value::Null);
    Doc::new(json).lines(profiles.iter().flat_map(|p| {
        [
            format!("{}: {}", p.name, p.description),
            format!("  action types: {}", p.action_types.join(", ")),
            format!("  operations:   {}", operation_names(p)),
            format!("  packs:        {}", p.packs.join(", ")),
        ]
    }))
}

/// Registered agents.
pub fn agents(store: &dyn RegistryStore) -> Result<Vec<AgentRecord>> {
    Ok(store.list_agents()?)
}

/// `registry agents list`.
pub fn agents_doc(list: &[AgentRecord]) -> Doc {
    const HEADERS: &[&str] = &[
        "AGENT", "STATUS", "PROFILE", "KIND", "VENDOR", "OWNER", "RISK",
    ];
    listing(list, agent_json, HEADERS, "no agents registered", |a| {
        vec![
            a.agent_id.clone(),
            a.status.as_str().to_uppercase(),
            a.profile.clone(),
            dash(&a.kind),
            dash(&a.vendor),
            dash(&a.owner),
            dash(&a.risk_tier),
        ]
    })
}

/// One registered agent.
pub fn agent(store: &dyn RegistryStore, id: &str) -> Result<AgentRecord> {
    store
        .agent(id)?
        .ok_or_else(|| StoreError::UnknownAgent(id.to_string()).into())
}

/// `registry agents show`: the agent and its profile's capabilities.
pub fn agent_doc(a: &AgentRecord) -> Doc {
    let mut f = vec![
        ("agent_id", a.agent_id.clone()),
        ("status", a.status.as_str().to_string()),
        ("profile", a.profile.clone()),
        ("kind", dash(&a.kind)),
        ("vendor", dash(&a.vendor)),
        ("owner", dash(&a.owner)),
        ("risk_tier", dash(&a.risk_tier)),
    ];
    if let Ok(p) = a.profile() {
        f.push(("may", p.action_types.join(", ")));
        f.push(("operations", operation_names(p)));
        f.push(("packs", p.packs.join(", ")));
    }
    Doc::new(agent_json(a)).fields(10, f)
}

/// Registered MCP servers.
pub fn mcp_servers(store: &dyn RegistryStore) -> Result<Vec<McpServer>> {
    Ok(store.list_mcp_servers()?)
}

/// `registry mcp list`.
pub fn mcp_servers_doc(list: &[McpServer]) -> Doc {
    const HEADERS: &[&str] = &["SERVER", "TIER", "STATE", "CAPABILITIES", "TOOLS"];
    listing(list, mcp_json, HEADERS, "no mcp servers registered", |m| {
        let blocked = if m.is_blocked() { " (BLOCKED)" } else { "" };
        vec![
            m.server_id.clone(),
            format!("{}{blocked}", m.trust_tier),
            m.approval_state.clone(),
            clip(&m.capabilities.join(","), 30),
            clip(&m.allowed_tools.join(","), 40),
        ]
    })
}

/// One registered MCP server.
pub fn mcp_server(store: &dyn RegistryStore, id: &str) -> Result<McpServer> {
    store
        .mcp_server(id)?
        .ok_or_else(|| StoreError::UnknownMcpServer(id.to_string()).into())
}

/// A tool class as written: `read`, `write`, `admin`, `exfil-capable`.
pub fn tool_class_name(c: &ToolClass) -> String {
    c.as_str().to_string()
}

/// `registry mcp show`: the server and its tools' classes.
pub fn mcp_server_doc(m: &McpServer) -> Doc {
    let mut d = Doc::new(mcp_json(m));
    if m.is_blocked() {
        d = d.line("!! BLOCKED server");
    }
    let f = vec![
        ("server_id", m.server_id.clone()),
        ("name", dash(&m.name)),
        ("trust_tier", m.trust_tier.clone()),
        ("approval_state", m.approval_state.clone()),
        ("capabilities", m.capabilities.join(", ")),
        ("allowed_tools", m.allowed_tools.join(", ")),
    ];
    let classes = m.tool_classifications.iter();
    let classes = classes.map(|(tool, class)| format!("  {tool}: {}", tool_class_name(class)));
    d.fields(15, f).lines(classes)
}

/// The result of a registry change; `verb` is [`crate::control::RegistryChange::verb`] of the change.
pub fn registry_doc(verb: &str, changed: &RegistryChanged) -> Doc {
    let d = Doc::new(changed.json());
    d.line(match changed {
        RegistryChanged::Agent(a) if verb == "added" => format!(
            "added agent {} ({}, {})",
            a.agent_id,
            a.profile,
            a.status.as_str()
        ),
        RegistryChanged::Agent(a) => format!("{verb} agent {}", a.agent_id),
        RegistryChanged::McpServer(m) if verb == "approved" => format!(
            "approved mcp server {} (tier {})",
            m.server_id, m.trust_tier
        ),
        RegistryChanged::McpServer(m) => format!("{verb} mcp server {}", m.server_id),
        RegistryChanged::Removed { what, id } => format!("removed {what} {id}"),
        RegistryChanged::Imported { count, file } => {
            format!("imported {count} mcp server(s) from {file}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_renders_its_blocks_in_order() {
        let doc = Doc::new(json!({}))
            .alert("held")
            .line("one")
            .fields(6, vec![("id", "a".into()), ("state", "b".into())]);
        let loud = |tone: Tone, s: &str| format!("<{tone:?}>{s}");
        let text = doc.render(&loud);
        assert_eq!(text, "<StrongBad>held\none\nid     a\nstate  b\n");
        let empty = listing(&[] as &[u8], |_| json!(1), &["N"], "none", |_| vec![]);
        assert_eq!(empty.render(&crate::render::plain), "none\n");
        let one = listing(
            &[7u8],
            |n| json!(n),
            &["N", "M"],
            "none",
            |n| vec![n.to_string(), "x".into()],
        );
        assert_eq!(one.render(&crate::render::plain), "N  M\n7  x\n");
        assert_eq!(one.json, json!([7]));
    }

    #[test]
    fn documents_read_back_from_their_json() {
        let approved = json!({"approval_id": "apr-1", "state": "approved", "break_glass": false,
            "exhausted": true, "uses": 1, "max_uses": 1, "repo": null});
        assert_eq!(state_label(&approved), "approved (used)");
        assert!(
            unsigned(&approved),
            "a decided record without signature_verified"
        );
        let verified = json!({"state": "approved", "signature_verified": true});
        assert!(!unsigned(&verified));
        assert!(!unsigned(&json!({"state": "pending"})));
        let glass = json!({"state": "expired", "break_glass": true});
        assert_eq!(state_label(&glass), "expired (BREAK-GLASS)");
        assert_eq!(
            state_label(&json!({"state": "break_glass", "break_glass": true})),
            "BREAK-GLASS"
        );
        let f = Fields(&approved);
        assert_eq!(
            (f.s("uses"), f.or_dash("repo"), f.or_dash("nope")),
            ("1".into(), "-".into(), "-".into())
        );
        assert!(f.items("history").is_empty());

        let list = approvals_doc_of(json!([approved, glass]));
        let text = list.render(&crate::render::plain);
        assert!(text.contains("approved (used) UNSIGNED"), "{text}");
        assert!(text.contains("!! 1 BREAK-GLASS record(s) listed"), "{text}");
        assert_eq!(
            approvals_doc_of(json!([])).render(&crate::render::plain),
            "no approvals\n"
        );

        let shown = approval_doc_of(json!({"approval_id": "apr-2", "state": "denied",
            "decided_by": "bob", "signature_verified": true, "auth_method": "token",
            "approver_label": "Bob", "evidence_refs": ["evidence://record/r1"],
            "history": [{"at": "t0", "event": "requested", "by": "bot"}, {"at": "t1", "event": "denied", "reason": "no"}]}));
        let text = shown.render(&crate::render::plain);
        let field = |k: &str, v: &str| format!("{k:<15} {v}\n");
        for want in [
            field("decided_by", "bob"),
            field("evidence", "evidence://record/r1"),
            "  t0 requested by bot\n".into(),
            "  t1 denied: no\n".into(),
            field("signature", "verified (token, label `Bob`)"),
        ] {
            assert!(text.contains(&want), "{want}: {text}");
        }
        assert_eq!(shown.json["approval_id"], "apr-2");
        let decided = decided_doc_of(
            json!({"approval_id": "apr-2", "action_type": "write_file", "target": "x", "decided_by": "bob"}),
            Verdict::Deny,
        );
        assert_eq!(
            decided.render(&crate::render::plain),
            "denied apr-2 (write_file x) by bob\n"
        );
        let session = json!({"session_id": "s1", "agent_id": "a", "held": true, "total_blocks": 2,
            "blocks": [{"at": "t2", "severity": "critical", "agent_id": "a"}]});
        let text = sessions_doc_of(json!([session.clone()])).render(&crate::render::plain);
        assert!(
            text.contains("s1") && text.contains("HELD") && text.contains("t2"),
            "{text}"
        );
        let text = session_doc_of(session).render(&crate::render::plain);
        assert!(text.contains("  t2 critical (a)"), "{text}");
    }
}
