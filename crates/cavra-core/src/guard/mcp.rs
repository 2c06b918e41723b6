//! MCP trust registry (the reference file shape) and MCP matching.

use super::{command, file, git, Collector, Eval};
use crate::model::{ActionRequest, Effect, Severity};
use crate::paths;
use crate::policy::compile::McpMatcher;
use crate::policy::compile::{Access, Matcher};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A registry of MCP servers, in the reference project's file shape (`mcp_servers: [...]`).
/// The one MCP registry type of CAVRA: a file used as is, and the store's registry
/// (`cavra-store` imports, keeps and exports it). Unknown top-level fields are kept in
/// `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct McpRegistry {
    pub mcp_servers: Vec<McpServer>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Classification of one MCP tool (CAVRA extension of the reference format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToolClass {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "write")]
    Write,
    #[serde(rename = "admin")]
    Admin,
    #[serde(rename = "exfil-capable")]
    ExfilCapable,
}

impl ToolClass {
    /// The name in registry files: `read`, `write`, `admin`, `exfil-capable`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolClass::Read => "read",
            ToolClass::Write => "write",
            ToolClass::Admin => "admin",
            ToolClass::ExfilCapable => "exfil-capable",
        }
    }

    /// A class typed by a person: the file names, and `exfil_capable` / `exfil`.
    pub fn from_name(s: &str) -> Option<ToolClass> {
        match s.trim() {
            "read" => Some(ToolClass::Read),
            "write" => Some(ToolClass::Write),
            "admin" => Some(ToolClass::Admin),
            "exfil-capable" | "exfil_capable" | "exfil" => Some(ToolClass::ExfilCapable),
            _ => None,
        }
    }
}

fn approved() -> String {
    "approved".into()
}

/// One server of the registry. Unknown fields of a registry file are kept in `extra` and
/// written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpServer {
    pub server_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// approved | experimental | restricted | blocked | ...
    pub trust_tier: String,
    /// approved | pending | denied | blocked. A server listed in a file without one is
    /// approved (the store files an imported server without one as pending).
    #[serde(default = "approved")]
    pub approval_state: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    /// Per-tool classification (CAVRA extension).
    #[serde(
        default,
        alias = "tool_classes",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub tool_classifications: BTreeMap<String, ToolClass>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl McpServer {
    /// Blocked by tier or state.
    pub fn is_blocked(&self) -> bool {
        self.trust_tier == "blocked"
            || self.approval_state == "denied"
            || self.approval_state == "blocked"
    }
}

impl McpRegistry {
    pub fn from_json(src: &str) -> Result<McpRegistry, serde_json::Error> {
        serde_json::from_str(src)
    }
    pub fn find(&self, server: &str) -> Option<&McpServer> {
        self.mcp_servers
            .iter()
            .find(|s| s.server_id == server || s.name.as_deref() == Some(server))
    }
}

/// Argument keys whose values are paths.
pub const PATH_KEYS: &[&str] = &[
    "path",
    "file",
    "file_path",
    "filepath",
    "filename",
    "paths",
    "directory",
    "dir",
    "source",
    "destination",
    "target",
    "src",
    "dst",
    "notebook_path",
    "uri",
];
/// Argument keys whose values are shell commands.
pub const COMMAND_KEYS: &[&str] = &[
    "command",
    "cmd",
    "script",
    "shell",
    "commandline",
    "command_line",
];
/// Argument keys that name a git branch.
pub const BRANCH_KEYS: &[&str] = &[
    "branch",
    "ref",
    "base",
    "head",
    "target_branch",
    "branch_name",
];

/// Argument keys that hold free text (titles, messages, bodies): never read as SQL
/// unless named for it.
const FREE_TEXT_KEYS: &[&str] = &[
    "title",
    "body",
    "message",
    "msg",
    "description",
    "desc",
    "comment",
    "comments",
    "text",
    "content",
    "summary",
    "note",
    "notes",
    "name",
    "label",
    "subject",
    "prompt",
    "reason",
];

/// Is an argument key named for SQL (`sql`, `raw_sql`, `statement`, `stmt`)? `query` and
/// `queries` count unless the tool searches (a search query is free text).
fn sql_key(key: &str, tool: &str) -> bool {
    let k = key.to_ascii_lowercase();
    if k.contains("sql") || k.contains("statement") || k == "stmt" || k == "stmts" {
        return true;
    }
    is_query_key(&k) && !is_search_tool(tool)
}

fn is_query_key(k: &str) -> bool {
    k == "query" || k == "queries" || k == "q" || k.ends_with("_query")
}

fn is_search_tool(tool: &str) -> bool {
    let t = tool.to_ascii_lowercase();
    ["search", "find", "grep", "lookup"]
        .iter()
        .any(|w| t.contains(w))
}

/// Does the text read like a SQL statement (a statement keyword followed by what that
/// statement needs: `DROP TABLE`, `DELETE FROM`, `UPDATE t SET`, `TRUNCATE t`, …)?
pub fn looks_like_sql(text: &str) -> bool {
    let lower = text.trim_start().to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(4)
        .collect();
    match words.as_slice() {
        ["drop", obj, ..] => matches!(
            *obj,
            "table"
                | "database"
                | "schema"
                | "view"
                | "index"
                | "user"
                | "role"
                | "sequence"
                | "function"
                | "procedure"
                | "trigger"
                | "type"
                | "extension"
                | "materialized"
                | "owned"
                | "collection"
        ),
        ["truncate", ..] | ["flushall", ..] | ["flushdb", ..] => words.len() <= 3,
        ["delete", "from", ..] | ["insert", "into", ..] | ["merge", "into", ..] => true,
        ["update", _, "set", ..] => true,
        ["alter", obj, ..] => matches!(
            *obj,
            "table" | "database" | "schema" | "user" | "role" | "system"
        ),
        ["select", ..] => lower.contains(" from "),
        ["grant" | "revoke", ..] => lower.contains(" on ") || lower.contains(" to "),
        ["with", _, "as", ..] => true,
        _ => false,
    }
}

/// The arguments of an MCP call that carry SQL, with their keys: arguments named for SQL,
/// and other (non-free-text) string arguments shaped like SQL. Looks one object level deep
/// (`{"params": {"sql": …}}`).
pub fn sql_arguments(tool: &str, args: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut visit = |key: &str, v: &serde_json::Value| {
        let named = sql_key(key, tool);
        let lk = key.to_ascii_lowercase();
        let free = FREE_TEXT_KEYS.contains(&lk.as_str())
            || (is_query_key(&lk) && is_search_tool(tool))
            || PATH_KEYS.contains(&lk.as_str())
            || COMMAND_KEYS.contains(&lk.as_str());
        for text in value_strings(v) {
            if named || (!free && looks_like_sql(&text)) {
                out.push((key.to_string(), text));
            }
        }
    };
    if let serde_json::Value::Object(m) = args {
        for (k, v) in m {
            if let serde_json::Value::Object(inner) = v {
                for (k2, v2) in inner {
                    visit(k2, v2);
                }
            } else {
                visit(k, v);
            }
        }
    }
    out
}

/// Does the tool name suggest it changes things?
pub fn tool_writes(tool: &str) -> bool {
    let t = tool.to_ascii_lowercase();
    [
        "write", "create", "edit", "update", "delete", "remove", "move", "rename", "put", "set",
        "patch", "push", "merge", "upload", "append", "insert", "drop", "replace", "apply",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// Does the tool name suggest it deletes things?
pub fn tool_deletes(tool: &str) -> bool {
    let t = tool.to_ascii_lowercase();
    ["delete", "remove", "drop", "destroy", "purge", "truncate"]
        .iter()
        .any(|w| t.contains(w))
}

fn value_strings(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().flat_map(value_strings).collect(),
        serde_json::Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

/// Strings of argument `key` (case-insensitive), flattened.
pub fn arg_values(args: &serde_json::Value, key: &str) -> Vec<String> {
    match args {
        serde_json::Value::Object(m) => m
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .flat_map(|(_, v)| value_strings(v))
            .collect(),
        _ => vec![],
    }
}

/// Does the MCP matcher match?
pub fn matches(
    m: &McpMatcher,
    server: &str,
    tool: &str,
    args: &serde_json::Value,
    protected_branch: &dyn Fn(&str) -> bool,
) -> bool {
    if !m.server.is_empty() && !m.server.iter().any(|g| g.matches(server)) {
        return false;
    }
    if !m.tool.is_empty() && !m.tool.iter().any(|g| g.matches(tool)) {
        return false;
    }
    if !m.args.is_empty()
        && !m.args.iter().any(|(k, globs)| {
            arg_values(args, k)
                .iter()
                .any(|v| globs.iter().any(|g| g.matches(v)))
        })
    {
        return false;
    }
    if let Some(want) = m.protected_branch_arg {
        let hit = BRANCH_KEYS
            .iter()
            .flat_map(|k| arg_values(args, k))
            .any(|b| protected_branch(b.trim_start_matches("refs/heads/")));
        if hit != want {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------
// Request handling

/// An MCP tool call: server trust (the registry, else the pack's lists), the native MCP
/// rules, and its path, command and SQL arguments through those guards.
pub(super) fn request(ev: &Eval<'_>, c: &mut Collector) {
    let Eval {
        pack,
        req,
        ctx,
        env,
    } = *ev;
    c.family = "mcp";
    let (server, tool, args, capability) = parse_target(req);
    let label = format!("MCP `{server}` tool `{tool}`");
    c.scope = Some(format!("MCP call to `{server}`.`{tool}`"));
    // trust: registry first, then the pack's lists
    if let Some(reg) = env.registry {
        match reg.find(&server) {
            None => c.push_builtin(
                "mcp.registry.unknown",
                Effect::Block,
                Severity::High,
                format!("MCP server `{server}` is not in the trust registry"),
                Some(label.clone()),
                None,
            ),
            Some(e) => {
                let state = e.approval_state.as_str();
                if e.is_blocked() {
                    c.push_builtin(
                        "mcp.registry.blocked",
                        Effect::Block,
                        Severity::High,
                        format!("MCP server `{server}` is blocked in the trust registry (tier `{}`, state `{state}`)", e.trust_tier),
                        Some(label.clone()),
                        None,
                    );
                } else if state == "pending" {
                    c.push_builtin(
                        "mcp.registry.requires_approval",
                        Effect::RequireApproval,
                        Severity::Medium,
                        format!("MCP server `{server}` is pending approval in the trust registry"),
                        Some(label.clone()),
                        Some("AI Governance".into()),
                    );
                } else if !tool.is_empty()
                    && !e.allowed_tools.is_empty()
                    && !e.allowed_tools.iter().any(|t| t == &tool || t == "*")
                {
                    c.push_builtin(
                        "mcp.registry.tool_scope",
                        Effect::RequireApproval,
                        Severity::Medium,
                        format!("tool `{tool}` is not among the tools allowed for `{server}`"),
                        Some(label.clone()),
                        Some("AI Governance".into()),
                    );
                } else if capability.as_deref().is_some_and(|cap| {
                    !e.capabilities.is_empty() && !e.capabilities.iter().any(|x| x == cap)
                }) {
                    c.push_builtin(
                        "mcp.registry.capability_scope",
                        Effect::RequireApproval,
                        Severity::Medium,
                        format!(
                            "capability `{}` is not granted to `{server}`",
                            capability.clone().unwrap_or_default()
                        ),
                        Some(label.clone()),
                        Some("AI Governance".into()),
                    );
                } else {
                    let class = e.tool_classifications.get(&tool).map(|c| c.as_str());
                    if matches!(class, Some("admin") | Some("exfil-capable")) {
                        c.push_builtin(
                            "mcp.registry.tool_class",
                            Effect::RequireApproval,
                            Severity::High,
                            format!(
                                "tool `{tool}` is classified `{}`",
                                class.unwrap_or_default()
                            ),
                            Some(label.clone()),
                            Some("AI Governance".into()),
                        );
                    } else {
                        c.push_builtin(
                            "mcp.registry.allow",
                            Effect::Allow,
                            Severity::Low,
                            format!("MCP server `{server}` is approved in the trust registry"),
                            Some(label.clone()),
                            None,
                        );
                    }
                }
            }
        }
    } else if pack.mcp.section_present || pack.defaults.mcp_unknown_server.is_some() {
        let listed_blocked = pack.mcp.blocked.iter().any(|s| s == &server);
        let allowed = pack.mcp.allowed.iter().any(|s| s == &server);
        let must_be_listed = pack.mcp.allowlist_enabled || pack.mcp.block_unknown;
        if listed_blocked || (must_be_listed && !allowed) {
            c.push_builtin(
                "mcp.server.trust.block_unknown",
                Effect::Block,
                Severity::High,
                if listed_blocked {
                    format!("MCP server `{server}` is blocked by the pack")
                } else {
                    format!("MCP server `{server}` is not on the pack's allow list")
                },
                Some(label.clone()),
                None,
            );
        } else if allowed {
            let risk = pack.mcp.risk.get(&server).copied().unwrap_or(Severity::Low);
            c.push_builtin(
                "mcp.server.trust.allow",
                Effect::Allow,
                risk,
                format!("MCP server `{server}` is allowed by the pack"),
                Some(label.clone()),
                None,
            );
        } else if let Some(e) = pack.defaults.mcp_unknown_server {
            if e != Effect::Allow {
                c.push_builtin(
                    "mcp.server.trust.unknown",
                    e,
                    Severity::Medium,
                    format!("MCP server `{server}` is not known to the pack"),
                    Some(label.clone()),
                    Some("AI Governance".into()),
                );
            }
        }
    }
    // native MCP rules
    let protected = |b: &str| git::is_protected(b, &pack.git.protected_branches);
    for r in &pack.rules {
        if let Matcher::Mcp(m) = &r.matcher {
            if matches(m, &server, &tool, &args, &protected) {
                c.push(r, Some(label.clone()), &tool);
            }
        }
    }
    // arguments that are paths or commands go through those guards
    let access = if tool_deletes(&tool) {
        Access::Delete
    } else if tool_writes(&tool) {
        Access::Write
    } else {
        Access::Read
    };
    for key in PATH_KEYS {
        for v in arg_values(&args, key) {
            if v.contains("://") && !v.starts_with("file://") {
                continue;
            }
            let p = v.trim_start_matches("file://");
            let resolved = paths::resolve(p, ctx, None);
            let facts = file::classify(&resolved, ctx, &pack.defaults.temp_dirs);
            file::check(
                pack,
                ctx,
                access,
                &facts,
                Some(&format!("{label} argument `{key}`")),
                c,
            );
        }
    }
    for key in COMMAND_KEYS {
        for v in arg_values(&args, key) {
            command::request(ev, &v, Some(&format!("{label} argument `{key}`")), c);
        }
    }
    // SQL in arguments is judged like `psql -c` (the same SQL rules as the command guard)
    for (key, sql) in sql_arguments(&tool, &args) {
        let line = cavra_shell::render_argv(&["psql", "-c", sql.as_str()]);
        // only the SQL rules speak here: the synthetic `psql` is no command to cover
        let uncovered = c.uncovered.len();
        command::request(
            ev,
            &line,
            Some(&format!(
                "{label} argument `{key}` (SQL, judged like `psql -c`)"
            )),
            c,
        );
        c.uncovered.truncate(uncovered);
    }
    c.family = "mcp";
}

/// Server, tool, arguments and capability of an MCP call (structured, or from a target
/// `server:tool` / `mcp__server__tool`).
fn parse_target(req: &ActionRequest) -> (String, String, serde_json::Value, Option<String>) {
    if let Some(m) = &req.mcp {
        return (
            m.server.clone(),
            m.tool.clone(),
            m.arguments.clone(),
            m.capability.clone().or_else(|| req.operation.clone()),
        );
    }
    let t = req.target.trim();
    let (server, tool) = if let Some(rest) = t.strip_prefix("mcp__") {
        match rest.split_once("__") {
            Some((s, tl)) => (s.to_string(), tl.to_string()),
            None => (rest.to_string(), String::new()),
        }
    } else {
        match t.split_once(':') {
            Some((s, tl)) => (s.trim().to_string(), tl.trim().to_string()),
            None => (t.to_string(), String::new()),
        }
    };
    (server, tool, serde_json::Value::Null, req.operation.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_arguments_by_name_or_shape() {
        let args = serde_json::json!({"sql": "drop table users", "database": "prod"});
        assert_eq!(
            sql_arguments("execute", &args),
            vec![("sql".to_string(), "drop table users".to_string())]
        );
        let args = serde_json::json!({"q": "DELETE FROM orders"});
        assert_eq!(sql_arguments("run", &args).len(), 1, "shaped like SQL");
        let args = serde_json::json!({"params": {"statement": "select 1"}});
        assert_eq!(sql_arguments("run", &args).len(), 1, "one level deep");
        // free text and search queries are not SQL
        let args = serde_json::json!({"title": "DROP TABLE users broke prod", "body": "delete from cache"});
        assert!(sql_arguments("create_issue", &args).is_empty());
        let args = serde_json::json!({"query": "drop table users"});
        assert!(sql_arguments("search_code", &args).is_empty());
        let args = serde_json::json!({"note": "please update the docs set"});
        assert!(sql_arguments("x", &args).is_empty());
        assert!(!looks_like_sql("delete the old branch"));
        assert!(!looks_like_sql("drop me a line"));
        assert!(looks_like_sql("  UPDATE accounts SET balance = 0"));
        assert!(looks_like_sql("truncate audit_log"));
    }

    #[test]
    fn reads_reference_registry() {
        let Some(shared) = shared_or_skip("reads_reference_registry") else {
            return;
        };
        let src =
            std::fs::read_to_string(shared.join("reference/cavra-data/mcp_registry.json")).unwrap();
        let r = McpRegistry::from_json(&src).unwrap();
        assert_eq!(r.mcp_servers.len(), 3);
        assert_eq!(
            r.find("github-mcp").unwrap().allowed_tools,
            vec!["create_pull_request"]
        );
        let states: Vec<&str> = r
            .mcp_servers
            .iter()
            .map(|s| s.approval_state.as_str())
            .collect();
        assert_eq!(states, ["approved", "pending", "denied"]);
        assert!(r.find("personal-drive-mcp").unwrap().is_blocked());
    }

    /// One type for files and the store: no state is approved, `tool_classes` is read as
    /// `tool_classifications`, unknown fields survive a round trip, an unknown class is an
    /// error (not a silent allow).
    #[test]
    fn registry_files_keep_unknown_fields_and_type_tool_classes() {
        let src = r#"{"mcp_servers": [{"server_id": "a", "trust_tier": "approved",
            "tool_classes": {"dump": "exfil-capable"}, "vendor": {"k": 1}}], "version": 2}"#;
        let r = McpRegistry::from_json(src).unwrap();
        let a = &r.mcp_servers[0];
        assert_eq!(a.approval_state, "approved");
        assert!(!a.is_blocked());
        assert_eq!(a.tool_classifications["dump"], ToolClass::ExfilCapable);
        assert_eq!(a.extra["vendor"]["k"], 1);
        assert_eq!(r.extra["version"], 2);
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(
            back["mcp_servers"][0]["tool_classifications"]["dump"],
            "exfil-capable"
        );
        assert_eq!(back["mcp_servers"][0]["vendor"]["k"], 1);
        assert_eq!(McpRegistry::from_json(&back.to_string()).unwrap(), r);
        let bad = r#"{"mcp_servers": [{"server_id": "a", "trust_tier": "approved",
            "tool_classes": {"dump": "godlike"}}]}"#;
        assert!(McpRegistry::from_json(bad).is_err());
        assert_eq!(
            ToolClass::from_name(" exfil "),
            Some(ToolClass::ExfilCapable)
        );
        assert_eq!(ToolClass::from_name("root"), None);
    }

    /// `../shared` beside the repository (the reference packs, schemas and agent-event corpus).
    /// When it is missing the test is skipped with a visible note (written past the test
    /// harness's capture), unless `CAVRA_REQUIRE_SHARED=1` (set by `.ci/run`): then it fails.
    #[allow(dead_code)]
    fn shared_or_skip(what: &str) -> Option<std::path::PathBuf> {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
        if p.is_dir() {
            return Some(p);
        }
        if std::env::var("CAVRA_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
            panic!("../shared not present (needed by {what}) and CAVRA_REQUIRE_SHARED=1");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped: ../shared not present ({what})");
        None
    }
}
