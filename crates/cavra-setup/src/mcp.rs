//! Registering CAVRA's MCP server (`cavra mcp serve`) in an agent's MCP configuration, for
//! `cavra init` / `cavra uninstall` / `cavra doctor`.
//!
//! Where each agent reads MCP servers from:
//! - Claude Code: `<project>/.mcp.json` → `mcpServers.cavra` (project scope). User-scope
//!   servers live in `~/.claude.json`, a file the app itself manages; CAVRA does not edit it
//!   and prints the `claude mcp add` command instead.
//! - Gemini CLI: its `settings.json` (project `.gemini/`, user `~/.gemini/`) → `mcpServers.cavra`.
//! - Cursor: `.cursor/mcp.json` / `~/.cursor/mcp.json` → `mcpServers.cavra`.
//! - Codex: `config.toml` → `[mcp_servers.cavra]` (edited with `toml_edit`, comments kept).
//! - Copilot CLI: not registered (its MCP configuration is user-level and outside the repository).
//!
//! The entry is `{"command": "<absolute cavra>", "args": ["mcp", "serve"]}`; it is CAVRA's when
//! the program's file name starts with `cavra` and the arguments are exactly `mcp serve`. A
//! `cavra` entry that is not CAVRA's is left alone (and reported). Every other server and key
//! stays as it was; a changed file is backed up like the hook install does.

use crate::files::{self, json_text, parse_json, parse_toml, read_opt};
use crate::hooks::{Change, Outcome};
use crate::{AgentKind, Host, Scope, SetupError};
use cavra_agents::shell_quote;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The server's name in every agent's configuration.
pub const SERVER_NAME: &str = "cavra";
/// The arguments after the program.
pub const SERVE_ARGS: [&str; 2] = ["mcp", "serve"];

/// Where `agent` reads MCP servers for `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A JSON file with an `mcpServers` object.
    Json(PathBuf),
    /// Codex's `config.toml` with `[mcp_servers.<name>]` tables.
    Toml(PathBuf),
    /// Not registered by CAVRA; the text says why and what to do instead.
    Skip(String),
}

impl Target {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Target::Json(p) | Target::Toml(p) => Some(p),
            Target::Skip(_) => None,
        }
    }
}

/// The MCP configuration of `agent` in `scope`.
pub fn target(
    agent: AgentKind,
    scope: Scope,
    project: &Path,
    host: &Host,
) -> Result<Target, SetupError> {
    let base = host.base(scope, project)?;
    Ok(match (agent, scope) {
        (AgentKind::ClaudeCode, Scope::Project) => Target::Json(base.join(".mcp.json")),
        (AgentKind::ClaudeCode, Scope::User) => Target::Skip(format!(
            "Claude Code keeps user-scope MCP servers in `~/.claude.json`, which the app manages; CAVRA does not edit it. Register by hand with: claude mcp add --scope user {SERVER_NAME} -- {} {}",
            host.exe()
                .map(|e| shell_quote(&e.display().to_string()))
                .unwrap_or_else(|_| "cavra".into()),
            SERVE_ARGS.join(" ")
        )),
        (AgentKind::Gemini, _) => Target::Json(base.join(".gemini").join("settings.json")),
        (AgentKind::Cursor, _) => Target::Json(base.join(".cursor").join("mcp.json")),
        (AgentKind::Codex, _) => Target::Toml(base.join(".codex").join("config.toml")),
        (AgentKind::Copilot, _) => Target::Skip(
            "GitHub Copilot CLI reads MCP servers from its user configuration (`~/.copilot/mcp-config.json`), not from the repository; CAVRA does not register its MCP server there".into(),
        ),
    })
}

/// Whether `command` + `args` is CAVRA's MCP server.
pub fn is_cavra_server(command: &str, args: &[String]) -> bool {
    let name = Path::new(command.trim())
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    name.starts_with("cavra") && args.iter().map(String::as_str).eq(SERVE_ARGS)
}

/// A registered server entry: command and args.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub command: String,
    pub args: Vec<String>,
}

impl Entry {
    pub fn is_cavra(&self) -> bool {
        is_cavra_server(&self.command, &self.args)
    }
}

fn json_entry(v: &Value) -> Option<Entry> {
    let command = v.get("command")?.as_str()?.to_string();
    let args = match v.get("args") {
        None => Vec::new(),
        Some(a) => a
            .as_array()?
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?,
    };
    Some(Entry { command, args })
}

fn toml_entry(item: &toml_edit::Item) -> Option<Entry> {
    let get = |k: &str| -> Option<&toml_edit::Value> {
        match item {
            toml_edit::Item::Table(t) => t.get(k).and_then(|i| i.as_value()),
            toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => t.get(k),
            _ => None,
        }
    };
    let command = get("command")?.as_str()?.to_string();
    let args = match get("args") {
        None => Vec::new(),
        Some(a) => a
            .as_array()?
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?,
    };
    Some(Entry { command, args })
}

/// Parses the file without changing anything: a malformed file is an error naming it.
pub fn validate(t: &Target) -> Result<(), SetupError> {
    match t {
        Target::Json(p) => {
            if let Some(text) = read_opt(p)? {
                let root = parse_json(p, &text)?;
                servers_json(p, &root)?;
            }
        }
        Target::Toml(p) => {
            if let Some(text) = read_opt(p)? {
                let doc = parse_toml(p, &text)?;
                if let Some(i) = doc.get("mcp_servers") {
                    if !i.is_table_like() {
                        return Err(SetupError::shape("mcp_servers", p, "a table"));
                    }
                }
            }
        }
        Target::Skip(_) => {}
    }
    Ok(())
}

fn servers_json<'a>(
    path: &Path,
    root: &'a Map<String, Value>,
) -> Result<Option<&'a Map<String, Value>>, SetupError> {
    match root.get("mcpServers") {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(SetupError::shape("mcpServers", path, "a JSON object")),
    }
}

/// What an install/uninstall did, and a note when CAVRA left a foreign entry alone.
#[derive(Debug, Clone)]
pub struct McpOutcome {
    pub outcome: Outcome,
    pub note: Option<String>,
}

fn outcome(
    path: &Path,
    change: Change,
    backup: Option<PathBuf>,
    note: Option<String>,
) -> McpOutcome {
    McpOutcome {
        outcome: Outcome::new(path, change, backup),
        note,
    }
}

fn foreign_note(path: &Path, e: &Entry) -> String {
    format!(
        "`{}` already has an MCP server named `{SERVER_NAME}` that is not CAVRA's (`{} {}`); left as it is",
        path.display(),
        e.command,
        e.args.join(" ")
    )
}

/// Registers CAVRA's server. `make_backup` is false when this run already backed up or
/// created the same file (the hook install of Gemini / Codex shares it).
pub fn install(t: &Target, exe: &str, make_backup: bool) -> Result<Option<McpOutcome>, SetupError> {
    let (path, old, new_text, note) = match t {
        Target::Skip(_) => return Ok(None),
        Target::Json(path) => {
            let old = read_opt(path)?;
            let mut root = match &old {
                Some(text) => parse_json(path, text)?,
                None => Map::new(),
            };
            servers_json(path, &root)?;
            let servers = root
                .entry("mcpServers")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| SetupError::shape("mcpServers", path, "a JSON object"))?;
            let wanted = json!({"command": exe, "args": SERVE_ARGS});
            match servers.get_mut(SERVER_NAME) {
                Some(cur) => match json_entry(cur) {
                    Some(e) if e.is_cavra() => {
                        if e.command == exe {
                            return Ok(Some(outcome(path, Change::Unchanged, None, None)));
                        }
                        cur["command"] = json!(exe);
                    }
                    other => {
                        let e = other.unwrap_or(Entry {
                            command: cur.to_string(),
                            args: vec![],
                        });
                        let note = foreign_note(path, &e);
                        return Ok(Some(outcome(path, Change::Unchanged, None, Some(note))));
                    }
                },
                None => {
                    servers.insert(SERVER_NAME.into(), wanted);
                }
            }
            (path, old, json_text(path, &root)?, None)
        }
        Target::Toml(path) => {
            use toml_edit::{value, Array, Item, Table};
            let old = read_opt(path)?;
            let mut doc = parse_toml(path, old.as_deref().unwrap_or(""))?;
            if !doc.contains_key("mcp_servers") {
                let mut tbl = Table::new();
                tbl.set_implicit(true);
                doc.insert("mcp_servers", Item::Table(tbl));
            }
            let servers = doc
                .get_mut("mcp_servers")
                .and_then(Item::as_table_like_mut)
                .ok_or_else(|| SetupError::shape("mcp_servers", path, "a table"))?;
            match servers.get_mut(SERVER_NAME) {
                Some(cur) => match toml_entry(cur) {
                    Some(e) if e.is_cavra() => {
                        if e.command == exe {
                            return Ok(Some(outcome(path, Change::Unchanged, None, None)));
                        }
                        match cur {
                            Item::Table(t) => t["command"] = value(exe),
                            Item::Value(toml_edit::Value::InlineTable(t)) => {
                                t.insert("command", exe.into());
                            }
                            _ => {}
                        }
                    }
                    other => {
                        let e = other.unwrap_or(Entry {
                            command: cur.to_string().trim().to_string(),
                            args: vec![],
                        });
                        let note = foreign_note(path, &e);
                        return Ok(Some(outcome(path, Change::Unchanged, None, Some(note))));
                    }
                },
                None => {
                    let mut tbl = Table::new();
                    tbl["command"] = value(exe);
                    let mut args = Array::new();
                    for a in SERVE_ARGS {
                        args.push(a);
                    }
                    tbl["args"] = value(args);
                    servers.insert(SERVER_NAME, Item::Table(tbl));
                }
            }
            (path, old, doc.to_string(), None)
        }
    };
    let change = match old {
        Some(_) => Change::Updated,
        None => Change::Created,
    };
    let backup = files::replace(path, &new_text, false, make_backup && old.is_some())?;
    Ok(Some(outcome(path, change, backup, note)))
}

/// What `uninstall` reports without touching the file, unless the entry under
/// `SERVER_NAME` (`found`: absent, unreadable, or an entry) is CAVRA's own.
fn keep_unless_cavra(path: &Path, found: Option<Option<Entry>>) -> Option<McpOutcome> {
    match found {
        None => Some(outcome(path, Change::NotPresent, None, None)),
        Some(Some(e)) if e.is_cavra() => None,
        Some(e) => {
            let e = e.unwrap_or(Entry {
                command: "?".into(),
                args: vec![],
            });
            let note = foreign_note(path, &e);
            Some(outcome(path, Change::NotPresent, None, Some(note)))
        }
    }
}

/// Removes exactly CAVRA's server entry. `make_backup` as for [`install`].
pub fn uninstall(t: &Target, make_backup: bool) -> Result<Option<McpOutcome>, SetupError> {
    let Some(path) = t.path() else {
        return Ok(None);
    };
    let absent = || Ok(Some(outcome(path, Change::NotPresent, None, None)));
    let Some(old) = read_opt(path)? else {
        return absent();
    };
    let (text, empty) = match t {
        Target::Skip(_) => return Ok(None),
        Target::Json(_) => {
            let mut root = parse_json(path, &old)?;
            servers_json(path, &root)?;
            let Some(servers) = root.get_mut("mcpServers").and_then(Value::as_object_mut) else {
                return absent();
            };
            if let Some(keep) = keep_unless_cavra(path, servers.get(SERVER_NAME).map(json_entry)) {
                return Ok(Some(keep));
            }
            servers.shift_remove(SERVER_NAME);
            if servers.is_empty() {
                root.shift_remove("mcpServers");
            }
            (json_text(path, &root)?, root.is_empty())
        }
        Target::Toml(_) => {
            use toml_edit::Item;
            let mut doc = parse_toml(path, &old)?;
            let Some(servers) = doc.get_mut("mcp_servers").and_then(Item::as_table_like_mut) else {
                return absent();
            };
            if let Some(keep) = keep_unless_cavra(path, servers.get(SERVER_NAME).map(toml_entry)) {
                return Ok(Some(keep));
            }
            servers.remove(SERVER_NAME);
            if servers.is_empty() {
                doc.remove("mcp_servers");
            }
            let t = doc.to_string();
            let empty = t.trim().is_empty();
            (t, empty)
        }
    };
    let b = files::replace(path, &text, empty, make_backup)?;
    Ok(Some(outcome(path, Change::Removed(empty), b, None)))
}

/// What `doctor` finds: `Ok(None)` = no file; `Ok(Some(None))` = file without a `cavra` entry.
pub fn inspect(t: &Target) -> Result<Option<Option<Entry>>, SetupError> {
    match t {
        Target::Skip(_) => Ok(None),
        Target::Json(path) => {
            let Some(text) = read_opt(path)? else {
                return Ok(None);
            };
            let root = parse_json(path, &text)?;
            Ok(Some(
                servers_json(path, &root)?
                    .and_then(|s| s.get(SERVER_NAME))
                    .and_then(json_entry),
            ))
        }
        Target::Toml(path) => {
            let Some(text) = read_opt(path)? else {
                return Ok(None);
            };
            let doc = parse_toml(path, &text)?;
            Ok(Some(
                doc.get("mcp_servers")
                    .and_then(|i| i.as_table_like())
                    .and_then(|s| s.get(SERVER_NAME))
                    .and_then(toml_entry),
            ))
        }
    }
}

/// `init --json` / `uninstall --json`'s account of the registration (`mcp_server`).
pub fn document(t: &Target, o: Option<&McpOutcome>) -> Value {
    if let Target::Skip(why) = t {
        return json!({"registered": false, "skipped": why});
    }
    let Some(o) = o else {
        return json!({"registered": false});
    };
    json!({
        "registered": o.note.is_none()
            && matches!(
                o.outcome.change,
                Change::Created | Change::Updated | Change::Unchanged
            ),
        "config": o.outcome.path.display().to_string(),
        "change": o.outcome.change.as_str(),
        "backup": o.outcome.backup.as_ref().map(|b| b.display().to_string()),
        "note": o.note,
    })
}

/// `init` / `uninstall`'s lines about the registration (ending in newlines).
pub fn text(t: &Target, o: Option<&McpOutcome>) -> String {
    let o = match (t, o) {
        (Target::Skip(why), _) => return format!("  MCP server: not registered — {why}\n"),
        (_, None) => return String::new(),
        (_, Some(o)) => o,
    };
    let (change, path) = (o.outcome.change.as_str(), o.outcome.path.display());
    let mut text = format!("  MCP server `cavra` (`cavra mcp serve`): {change} `{path}`\n");
    text += &o.outcome.backup_line();
    if let Some(n) = &o.note {
        text += &format!("  note: {n}\n");
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn recognises_cavra_server() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_cavra_server("/usr/bin/cavra", &a(&["mcp", "serve"])));
        assert!(!is_cavra_server("/usr/bin/cavra", &a(&["mcp"])));
        assert!(!is_cavra_server("/usr/bin/other", &a(&["mcp", "serve"])));
        assert!(!is_cavra_server("npx", &a(&["cavra", "mcp", "serve"])));
    }

    #[test]
    fn toml_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        let src = "# mine\nmodel = \"o3\"\n\n# servers\n[mcp_servers.docs]\ncommand = \"docs-mcp\" # keep\nargs = [\"--stdio\"]\n";
        std::fs::write(&p, src).unwrap();
        let t = Target::Toml(p.clone());
        let o = install(&t, "/opt/cavra", true).unwrap().unwrap();
        assert_eq!(o.outcome.change, Change::Updated);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains(
                "[mcp_servers.cavra]\ncommand = \"/opt/cavra\"\nargs = [\"mcp\", \"serve\"]"
            ),
            "{text}"
        );
        assert!(text.starts_with(src), "{text}");
        let o = install(&t, "/opt/cavra", true).unwrap().unwrap();
        assert_eq!(o.outcome.change, Change::Unchanged);
        let o = uninstall(&t, true).unwrap().unwrap();
        assert_eq!(o.outcome.change, Change::Removed(false));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), src);
    }
}
