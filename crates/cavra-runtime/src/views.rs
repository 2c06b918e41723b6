//! The control surface as documents: approvals, held sessions, registered agents and MCP
//! servers read through [`ControlStore`] / [`RegistryStore`], and the results of the
//! control actions. Each is a [`Doc`]: the JSON the CLI prints under `--json` (and a server
//! returns: `GET /v1/approvals`, `GET /v1/sessions/{id}`, …) and what its text form shows
//! ([`Block`]s: alerts, lines, fields, a table), which the front end lays out (alignment,
//! colour).

use cavra_core::text::clip;
use cavra_store::{
    rfc3339, AgentProfile, AgentRecord, Approval, ApprovalState, ControlStore, McpServer,
    OffsetDateTime, RegistryStore, SessionState, StoreError, ToolClass,
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

    /// `approvals show`: the record, its history, and whether its signature verifies.
    pub fn doc(&self) -> Doc {
        let a = &self.approval;
        let mut d = Doc::new(self.json());
        if a.break_glass {
            d = d.alert("!! BREAK-GLASS record: a time-boxed override of policy");
        }
        let mut f = vec![
            ("id", a.approval_id.clone()),
            ("state", state_label(a)),
            ("break_glass", a.break_glass.to_string()),
            ("action", a.action_type.clone()),
            ("target", a.target.clone()),
            ("rule", a.rule_id.clone()),
            ("severity", a.severity.clone()),
            ("request_hash", a.request_hash.clone()),
            ("decision_id", a.decision_id.clone()),
            ("session_id", a.session_id.clone()),
            ("agent_id", a.agent_id.clone()),
            ("requested_by", a.requested_by.clone()),
            ("approver_group", a.approver_group.clone()),
            ("repo", dash(&a.repo)),
            ("requested_at", rfc3339(a.requested_at)),
            ("expires_at", rfc3339(a.expires_at)),
            ("decided_by", dash(&a.decided_by)),
            (
                "decided_at",
                a.decided_at.map_or_else(|| "-".into(), rfc3339),
            ),
            ("reason", dash(&a.decision_reason)),
            ("uses", format!("{}/{}", a.uses, a.max_uses)),
        ];
        if !a.evidence_refs.is_empty() {
            f.push(("evidence", a.evidence_refs.join(", ")));
        }
        d = d.fields(15, f).line("history:");
        d = d.lines(a.history.iter().map(|h| {
            let by = h.by.as_deref().map(|b| format!(" by {b}"));
            let why = h.reason.as_deref().map(|r| format!(": {r}"));
            let (by, why) = (by.unwrap_or_default(), why.unwrap_or_default());
            format!("  {} {}{by}{why}", h.at, h.event)
        }));
        if self.unsigned() {
            d.alert("!! UNSIGNED: no valid signature of an approving identity — written by other means; it changes no decision (see `cavra doctor`)")
        } else if let Some(att) = a.attestation() {
            let label = att.label.map(|l| format!(", label `{l}`"));
            let (method, label) = (att.method.as_str(), label.unwrap_or_default());
            d.fields(
                15,
                vec![("signature", format!("verified ({method}{label})"))],
            )
        } else {
            d
        }
    }
}

/// The state of an approval as listed: `BREAK-GLASS` for an override, `approved (used)`
/// when spent.
pub fn state_label(a: &Approval) -> String {
    if a.break_glass {
        if a.state == ApprovalState::BreakGlass {
            "BREAK-GLASS".into()
        } else {
            format!("{} (BREAK-GLASS)", a.state)
        }
    } else if a.exhausted() {
        "approved (used)".into()
    } else {
        a.state.to_string()
    }
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

/// `approvals list`: break-glass records are counted loudly.
pub fn approvals_doc(list: &[ApprovalView]) -> Doc {
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
    let d = listing(list, ApprovalView::json, HEADERS, "no approvals", |v| {
        let a = &v.approval;
        let unsigned = if v.unsigned() { " UNSIGNED" } else { "" };
        let uses = format!("{}/{}", a.uses, a.max_uses);
        vec![
            a.approval_id.clone(),
            format!("{}{unsigned}", state_label(a)),
            a.action_type.clone(),
            clip(&a.target, 40),
            a.rule_id.clone(),
            a.requested_by.clone(),
            a.approver_group.clone(),
            rfc3339(a.expires_at),
            if a.break_glass { "-".into() } else { uses },
        ]
    });
    match list.iter().filter(|v| v.approval.break_glass).count() {
        0 => d,
        n => d.line(format!(
            "!! {n} BREAK-GLASS record(s) listed: overrides of policy, review them"
        )),
    }
}

/// One approval or break-glass record, with its state at `now`.
pub fn approval(store: &dyn ControlStore, id: &str, now: OffsetDateTime) -> Result<ApprovalView> {
    let mut a = store.approval(id)?;
    a.state = a.effective_state(now);
    Ok(view(store, a))
}

/// The result of `approvals approve` / `deny`.
pub fn decided_doc(done: &Acted<Approval>, verdict: Verdict) -> Doc {
    let (a, by) = (&done.result, &done.by.identity);
    let what = format!("{} ({} {}) by {by}", a.approval_id, a.action_type, a.target);
    Doc::new(approval_json(a)).line(match verdict {
        Verdict::Approve => format!(
            "approved {what}: valid until {}, {} use(s)",
            rfc3339(a.expires_at),
            a.max_uses
        ),
        Verdict::Deny => format!("denied {what}"),
    })
}

/// The result of `approvals break-glass`, loudly.
pub fn break_glass_doc(a: &Approval) -> Doc {
    Doc::new(approval_json(a)).alert(format!(
        "!! BREAK-GLASS {} recorded by {} until {}: {}",
        a.approval_id,
        a.requested_by,
        rfc3339(a.expires_at),
        a.break_glass_reason.as_deref().unwrap_or_default()
    ))
}

/// The result of `approvals expire`.
pub fn expired_doc(expired: &[Approval]) -> Doc {
    let v = array(expired, approval_json);
    Doc::new(json!({ "expired": v, "count": expired.len() }))
        .line(format!("{} approval(s) expired", expired.len()))
        .lines(
            expired
                .iter()
                .map(|a| format!("  {} {}", a.approval_id, state_label(a))),
        )
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

/// `sessions list`.
pub fn sessions_doc(list: &[SessionState]) -> Doc {
    const HEADERS: &[&str] = &[
        "SESSION",
        "AGENT",
        "STATE",
        "BLOCKS",
        "LAST BLOCK",
        "HOLD REASON",
    ];
    listing(list, session_json, HEADERS, "no sessions", |s| {
        let last = s.blocks.first().map(|b| rfc3339(b.at));
        vec![
            s.session_id.clone(),
            s.agent_id.clone(),
            if s.held { "HELD" } else { "active" }.into(),
            s.total_blocks.to_string(),
            last.unwrap_or_else(|| "-".into()),
            clip(s.held_reason.as_deref().unwrap_or("-"), 50),
        ]
    })
}

/// One session and its blocked attempts.
pub fn session(store: &dyn ControlStore, id: &str) -> Result<SessionState> {
    store
        .session(id)?
        .ok_or_else(|| StoreError::UnknownSession(id.to_string()).into())
}

/// `sessions show`.
pub fn session_doc(s: &SessionState) -> Doc {
    let mut f = vec![
        ("session_id", s.session_id.clone()),
        ("agent_id", s.agent_id.clone()),
        ("state", if s.held { "HELD" } else { "active" }.to_string()),
    ];
    if let Some(r) = &s.held_reason {
        f.push(("held_reason", r.clone()));
    }
    if let Some(t) = s.held_at {
        f.push(("held_at", rfc3339(t)));
    }
    if let Some(by) = &s.released_by {
        let at = s.released_at.map(rfc3339).unwrap_or_default();
        let why = s.release_reason.as_deref().unwrap_or("");
        f.push(("released", format!("by {by} at {at}: {why}")));
    }
    f.push(("total_blocks", s.total_blocks.to_string()));
    let blocks = s.blocks.iter();
    let blocks = blocks.map(|b| format!("  {} {} ({})", rfc3339(b.at), b.severity, b.agent_id));
    Doc::new(session_json(s)).fields(13, f).lines(blocks)
}

/// The result of `sessions release`.
pub fn released_doc(done: &Acted<SessionState>) -> Doc {
    let (s, by) = (&done.result, &done.by.identity);
    Doc::new(session_json(s)).line(format!("released session {} by {by}", s.session_id))
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
}
