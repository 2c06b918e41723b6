//! The hook entries in each agent's settings file, for `cavra init` / `cavra uninstall` /
//! `cavra doctor`.
//!
//! JSON files are parsed, CAVRA's entries inserted or removed, every other key and hook kept
//! in order (`serde_json` with `preserve_order`). Codex's `config.toml` is edited with
//! `toml_edit`, which keeps comments and formatting. CAVRA's entries are recognised by their
//! command (`<path>/cavra hook <agent>`, [`crate::cavra_program`]). An existing file is
//! backed up to `<file>.cavra-backup-<timestamp>` before it changes; a malformed file is
//! refused untouched.

use crate::files::{self, json_text, parse_json, parse_toml, read_opt};
use crate::{cavra_program, is_cavra_command, AgentKind, SetupError};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// How an agent lays out its hook configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `hooks.<Event>: [{matcher?, hooks: [{type: "command", command}]}]` (Claude Code, Gemini CLI).
    Grouped,
    /// `{version: 1, hooks: {<event>: [{command}]}}` (Cursor).
    CursorFlat,
    /// `{version: 1, hooks: {<event>: [{type: "command", bash, powershell, timeoutSec}]}}` (Copilot CLI).
    CopilotFlat,
    /// `[[hooks.<Event>]]` / `[[hooks.<Event>.hooks]]` tables in `config.toml` (Codex).
    CodexToml,
}

/// The events CAVRA hooks for `agent`, with the matcher each group gets.
pub fn events(agent: AgentKind) -> &'static [(&'static str, Option<&'static str>)] {
    match agent {
        AgentKind::ClaudeCode => &[
            ("PreToolUse", Some("*")),
            ("PostToolUse", Some("*")),
            ("SessionStart", None),
            ("SessionEnd", None),
        ],
        AgentKind::Gemini => &[
            ("BeforeTool", Some(".*")),
            ("AfterTool", Some(".*")),
            ("SessionStart", None),
            ("SessionEnd", None),
        ],
        AgentKind::Cursor => &[
            ("beforeShellExecution", None),
            ("beforeMCPExecution", None),
            ("beforeReadFile", None),
            ("afterShellExecution", None),
            ("afterMCPExecution", None),
            ("afterFileEdit", None),
            ("stop", None),
        ],
        AgentKind::Copilot => &[
            ("preToolUse", None),
            ("postToolUse", None),
            ("sessionStart", None),
            ("sessionEnd", None),
        ],
        AgentKind::Codex => &[
            ("PreToolUse", None),
            ("PostToolUse", None),
            ("SessionStart", None),
            ("Stop", None),
        ],
    }
}

pub fn layout(agent: AgentKind) -> Layout {
    match agent {
        AgentKind::ClaudeCode | AgentKind::Gemini => Layout::Grouped,
        AgentKind::Cursor => Layout::CursorFlat,
        AgentKind::Copilot => Layout::CopilotFlat,
        AgentKind::Codex => Layout::CodexToml,
    }
}

/// What an install or uninstall did to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    /// CAVRA's entries were removed; `true` when the file held nothing else and was deleted.
    Removed(bool),
    /// Nothing of CAVRA's was there (or no file).
    NotPresent,
}

impl Change {
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::Removed(false) => "removed",
            Change::Removed(true) => "removed (file deleted)",
            Change::NotPresent => "not present",
        }
    }
}

/// Result of an install/uninstall on one settings file.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub path: PathBuf,
    pub change: Change,
    pub backup: Option<PathBuf>,
}

impl Outcome {
    /// The text line naming the backup of the changed file, if one was made.
    pub fn backup_line(&self) -> String {
        let b = self.backup.as_ref().map(|b| b.display());
        b.map(|b| format!("  backup of the previous file: `{b}`\n"))
            .unwrap_or_default()
    }

    pub fn new(path: &Path, change: Change, backup: Option<PathBuf>) -> Outcome {
        Outcome {
            path: path.into(),
            change,
            backup,
        }
    }
}

/// The command an entry runs (`command`, or Copilot's `bash`).
fn entry_command(layout: Layout, e: &Value) -> Option<&str> {
    match layout {
        Layout::CopilotFlat => e.get("bash").and_then(Value::as_str),
        _ => e.get("command").and_then(Value::as_str),
    }
}

fn new_entry(agent: AgentKind, layout: Layout, cmd: &str) -> Value {
    match layout {
        Layout::Grouped if agent == AgentKind::Gemini => json!({
            "type": "command",
            "command": cmd,
            "name": "cavra",
            "description": "CAVRA decides whether the tool call may run and records evidence",
        }),
        Layout::Grouped => json!({"type": "command", "command": cmd}),
        Layout::CursorFlat => json!({"command": cmd}),
        Layout::CopilotFlat => json!({
            "type": "command",
            "bash": cmd,
            "powershell": format!("& {cmd}"),
            "timeoutSec": 30,
        }),
        Layout::CodexToml => json!({}),
    }
}

/// Inserts CAVRA's entries into a parsed JSON settings object. Returns whether anything changed.
pub fn install_json(
    agent: AgentKind,
    path: &Path,
    root: &mut Map<String, Value>,
    cmd: &str,
) -> Result<bool, SetupError> {
    let layout = layout(agent);
    let mut changed = false;
    if matches!(layout, Layout::CursorFlat | Layout::CopilotFlat) && !root.contains_key("version") {
        root.insert("version".into(), json!(1));
        changed = true;
    }
    let hooks = root.entry("hooks").or_insert_with(|| {
        changed = true;
        json!({})
    });
    let hooks = hooks
        .as_object_mut()
        .ok_or_else(|| SetupError::shape("hooks", path, "a JSON object"))?;
    for (event, matcher) in events(agent) {
        let arr = hooks.entry(*event).or_insert_with(|| {
            changed = true;
            json!([])
        });
        let arr = arr
            .as_array_mut()
            .ok_or_else(|| SetupError::shape(format!("hooks.{event}"), path, "a JSON array"))?;
        let mut found = false;
        let mut fix = |e: &mut Value, key: &str| {
            if let Some(c) = e.get(key).and_then(Value::as_str) {
                if is_cavra_command(c, agent) {
                    found = true;
                    if c != cmd {
                        e[key] = json!(cmd);
                        if layout == Layout::CopilotFlat {
                            e["powershell"] = json!(format!("& {cmd}"));
                        }
                        changed = true;
                    }
                }
            }
        };
        for item in arr.iter_mut() {
            match layout {
                Layout::Grouped => {
                    if let Some(hs) = item.get_mut("hooks").and_then(Value::as_array_mut) {
                        for h in hs.iter_mut() {
                            fix(h, "command");
                        }
                    }
                }
                Layout::CopilotFlat => fix(item, "bash"),
                _ => fix(item, "command"),
            }
        }
        if !found {
            let entry = new_entry(agent, layout, cmd);
            let item = match layout {
                Layout::Grouped => {
                    let mut g = Map::new();
                    if let Some(m) = matcher {
                        g.insert("matcher".into(), json!(m));
                    }
                    g.insert("hooks".into(), json!([entry]));
                    Value::Object(g)
                }
                _ => entry,
            };
            arr.push(item);
            changed = true;
        }
    }
    Ok(changed)
}

/// Removes every CAVRA entry for `agent`. Returns whether anything was removed.
pub fn uninstall_json(agent: AgentKind, root: &mut Map<String, Value>) -> bool {
    let layout = layout(agent);
    let mut removed = false;
    let Some(hooks) = root.get_mut("hooks").and_then(Value::as_object_mut) else {
        return false;
    };
    let ours = |e: &Value| entry_command(layout, e).is_some_and(|c| is_cavra_command(c, agent));
    let mut empty_events = Vec::new();
    for (event, arr) in hooks.iter_mut() {
        let Some(arr) = arr.as_array_mut() else {
            continue;
        };
        let before = arr.len();
        let mut touched = false;
        match layout {
            Layout::Grouped => {
                arr.retain_mut(|g| {
                    let Some(hs) = g.get_mut("hooks").and_then(Value::as_array_mut) else {
                        return true;
                    };
                    let n = hs.len();
                    hs.retain(|h| !ours(h));
                    if hs.len() != n {
                        touched = true;
                        return !hs.is_empty();
                    }
                    true
                });
            }
            _ => arr.retain(|e| !ours(e)),
        }
        if touched || arr.len() != before {
            removed = true;
            if arr.is_empty() {
                empty_events.push(event.clone());
            }
        }
    }
    for e in empty_events {
        hooks.shift_remove(&e);
    }
    if removed && hooks.is_empty() {
        root.shift_remove("hooks");
    }
    removed
}

/// Whether a JSON settings object holds nothing but what CAVRA would have created.
fn json_is_empty(agent: AgentKind, root: &Map<String, Value>) -> bool {
    match layout(agent) {
        Layout::CursorFlat | Layout::CopilotFlat => {
            root.is_empty() || (root.len() == 1 && root.get("version") == Some(&json!(1)))
        }
        _ => root.is_empty(),
    }
}

// ---------------------------------------------------------------- TOML (Codex)

fn toml_cmd_of(t: &toml_edit::Table) -> Option<&str> {
    t.get("command").and_then(|i| i.as_str())
}

/// The nested hook handlers of a Codex matcher group (`[[hooks.X.hooks]]` or inline array).
fn toml_group_commands(g: &toml_edit::Table) -> Vec<String> {
    let mut out = Vec::new();
    match g.get("hooks") {
        Some(toml_edit::Item::ArrayOfTables(a)) => {
            for t in a.iter() {
                if let Some(c) = toml_cmd_of(t) {
                    out.push(c.to_string());
                }
            }
        }
        Some(toml_edit::Item::Value(toml_edit::Value::Array(a))) => {
            for v in a.iter() {
                if let Some(c) = v
                    .as_inline_table()
                    .and_then(|t| t.get("command"))
                    .and_then(|v| v.as_str())
                {
                    out.push(c.to_string());
                }
            }
        }
        _ => {}
    }
    out
}

/// Inserts CAVRA's `[[hooks.<Event>]]` groups into a Codex config. Returns whether it changed.
pub fn install_toml(
    path: &Path,
    doc: &mut toml_edit::DocumentMut,
    cmd: &str,
) -> Result<bool, SetupError> {
    use toml_edit::{value, ArrayOfTables, Item, Table};
    let agent = AgentKind::Codex;
    let mut changed = false;
    if !doc.contains_key("hooks") {
        let mut t = Table::new();
        t.set_implicit(true);
        doc.insert("hooks", Item::Table(t));
        changed = true;
    }
    let hooks = doc
        .get_mut("hooks")
        .and_then(Item::as_table_mut)
        .ok_or_else(|| SetupError::shape("hooks", path, "a table"))?;
    for (event, _) in events(agent) {
        if !hooks.contains_key(event) {
            hooks.insert(event, Item::ArrayOfTables(ArrayOfTables::new()));
            changed = true;
        }
        let groups = hooks
            .get_mut(event)
            .and_then(Item::as_array_of_tables_mut)
            .ok_or_else(|| {
                SetupError::shape(
                    format!("hooks.{event}"),
                    path,
                    format!("an array of tables (`[[hooks.{event}]]`)"),
                )
            })?;
        let mut found = false;
        for g in groups.iter_mut() {
            if let Some(Item::ArrayOfTables(hs)) = g.get_mut("hooks") {
                for h in hs.iter_mut() {
                    if let Some(c) = toml_cmd_of(h).map(str::to_string) {
                        if is_cavra_command(&c, agent) {
                            found = true;
                            if c != cmd {
                                h["command"] = value(cmd);
                                changed = true;
                            }
                        }
                    }
                }
            } else if toml_group_commands(g)
                .iter()
                .any(|c| is_cavra_command(c, agent))
            {
                found = true;
            }
        }
        if !found {
            let mut h = Table::new();
            h["type"] = value("command");
            h["command"] = value(cmd);
            h["timeout"] = value(30);
            let mut hs = ArrayOfTables::new();
            hs.push(h);
            let mut g = Table::new();
            g.insert("hooks", Item::ArrayOfTables(hs));
            groups.push(g);
            changed = true;
        }
    }
    Ok(changed)
}

/// Removes CAVRA's groups and handlers from a Codex config. Returns whether it changed.
pub fn uninstall_toml(doc: &mut toml_edit::DocumentMut) -> bool {
    use toml_edit::Item;
    let agent = AgentKind::Codex;
    let mut removed = false;
    let Some(hooks) = doc.get_mut("hooks").and_then(Item::as_table_mut) else {
        return false;
    };
    let keys: Vec<String> = hooks.iter().map(|(k, _)| k.to_string()).collect();
    for k in keys {
        let Some(groups) = hooks.get_mut(&k).and_then(Item::as_array_of_tables_mut) else {
            continue;
        };
        let mut touched = false;
        groups.retain(|g| {
            let cmds = toml_group_commands(g);
            let ours = cmds.iter().filter(|c| is_cavra_command(c, agent)).count();
            if ours > 0 && ours == cmds.len() {
                touched = true;
                false
            } else {
                true
            }
        });
        // mixed groups: drop only CAVRA's handlers
        for g in groups.iter_mut() {
            if let Some(Item::ArrayOfTables(hs)) = g.get_mut("hooks") {
                let n = hs.len();
                hs.retain(|h| !toml_cmd_of(h).is_some_and(|c| is_cavra_command(c, agent)));
                touched |= hs.len() != n;
            }
        }
        if touched {
            removed = true;
            if groups.is_empty() {
                hooks.remove(&k);
            }
        }
    }
    if removed && hooks.is_empty() {
        doc.remove("hooks");
    }
    removed
}

// ---------------------------------------------------------------- file level

/// Installs CAVRA's hook for `agent` into `path`.
pub fn install(agent: AgentKind, path: &Path, cmd: &str) -> Result<Outcome, SetupError> {
    let old = read_opt(path)?;
    let new_text = match layout(agent) {
        Layout::CodexToml => {
            let mut doc = parse_toml(path, old.as_deref().unwrap_or(""))?;
            if !install_toml(path, &mut doc, cmd)? {
                return Ok(Outcome::new(path, Change::Unchanged, None));
            }
            doc.to_string()
        }
        _ => {
            let mut root = match &old {
                Some(t) => parse_json(path, t)?,
                None => Map::new(),
            };
            if !install_json(agent, path, &mut root, cmd)? && old.is_some() {
                return Ok(Outcome::new(path, Change::Unchanged, None));
            }
            json_text(path, &root)?
        }
    };
    let change = match old {
        Some(_) => Change::Updated,
        None => Change::Created,
    };
    let backup = files::replace(path, &new_text, false, change == Change::Updated)?;
    Ok(Outcome::new(path, change, backup))
}

/// Removes CAVRA's hook for `agent` from `path`; the previous file is kept as a backup only
/// when `make_backup` (`cavra uninstall --backup`).
pub fn uninstall(agent: AgentKind, path: &Path, make_backup: bool) -> Result<Outcome, SetupError> {
    let absent = || Ok(Outcome::new(path, Change::NotPresent, None));
    let Some(old) = read_opt(path)? else {
        return absent();
    };
    let (text, empty) = match layout(agent) {
        Layout::CodexToml => {
            let mut doc = parse_toml(path, &old)?;
            if !uninstall_toml(&mut doc) {
                return absent();
            }
            let t = doc.to_string();
            let empty = t.trim().is_empty();
            (t, empty)
        }
        _ => {
            let mut root = parse_json(path, &old)?;
            if !uninstall_json(agent, &mut root) {
                return absent();
            }
            (json_text(path, &root)?, json_is_empty(agent, &root))
        }
    };
    let backup = files::replace(path, &text, empty, make_backup)?;
    Ok(Outcome::new(path, Change::Removed(empty), backup))
}

/// What `doctor` finds in one settings file.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Programs of CAVRA hook entries, per event.
    pub entries: Vec<(String, String)>,
}

/// Reads `path` and lists CAVRA's hook entries. `Ok(None)` = no file.
pub fn inspect(agent: AgentKind, path: &Path) -> Result<Option<Inspection>, SetupError> {
    let Some(text) = read_opt(path)? else {
        return Ok(None);
    };
    let mut entries = Vec::new();
    match layout(agent) {
        Layout::CodexToml => {
            let doc = parse_toml(path, &text)?;
            if let Some(hooks) = doc.get("hooks").and_then(|i| i.as_table()) {
                for (ev, item) in hooks.iter() {
                    if let Some(groups) = item.as_array_of_tables() {
                        for g in groups.iter() {
                            for c in toml_group_commands(g) {
                                if let Some(p) = cavra_program(&c, agent) {
                                    entries.push((ev.to_string(), p));
                                }
                            }
                        }
                    }
                }
            }
        }
        l => {
            let root = parse_json(path, &text)?;
            if let Some(hooks) = root.get("hooks").and_then(Value::as_object) {
                for (ev, arr) in hooks {
                    for item in arr.as_array().into_iter().flatten() {
                        let hs: Vec<&Value> = if l == Layout::Grouped {
                            item.get("hooks")
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .collect()
                        } else {
                            vec![item]
                        };
                        for h in hs {
                            if let Some(p) =
                                entry_command(l, h).and_then(|c| cavra_program(c, agent))
                            {
                                entries.push((ev.clone(), p));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(Some(Inspection { entries }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const CMD: &str = "/opt/bin/cavra hook codex";

    #[test]
    fn toml_round_trip_keeps_comments() {
        let src =
            "# my codex config\nmodel = \"o3\" # inline comment\n\n[features]\nhooks = true\n";
        let p = Path::new("config.toml");
        let mut doc = parse_toml(p, src).unwrap();
        assert!(install_toml(p, &mut doc, CMD).unwrap());
        let text = doc.to_string();
        assert!(text.contains("[[hooks.PreToolUse]]"), "{text}");
        assert!(text.contains("[[hooks.PreToolUse.hooks]]"), "{text}");
        assert!(text.contains("# inline comment"));
        let mut again = parse_toml(p, &text).unwrap();
        assert!(
            !install_toml(p, &mut again, CMD).unwrap(),
            "second install must be a no-op"
        );
        assert!(uninstall_toml(&mut again));
        assert_eq!(again.to_string(), src);
    }

    #[test]
    fn toml_keeps_foreign_hooks() {
        let src = "[[hooks.PreToolUse]]\nmatcher = \"Bash\"\n[[hooks.PreToolUse.hooks]]\ntype = \"command\"\ncommand = \"./mine.sh\"\n";
        let p = Path::new("config.toml");
        let mut doc = parse_toml(p, src).unwrap();
        install_toml(p, &mut doc, CMD).unwrap();
        assert!(uninstall_toml(&mut doc));
        assert!(doc.to_string().contains("./mine.sh"));
        assert!(!doc.to_string().contains("cavra"));
    }

    #[test]
    fn json_grouped_round_trip() {
        let mut root = parse_json(
            Path::new("s.json"),
            r#"{"model":"x","hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"./lint"}]}]}}"#,
        )
        .unwrap();
        let orig = root.clone();
        let cmd = "/x/cavra hook claude-code";
        assert!(install_json(AgentKind::ClaudeCode, Path::new("s.json"), &mut root, cmd).unwrap());
        assert!(!install_json(AgentKind::ClaudeCode, Path::new("s.json"), &mut root, cmd).unwrap());
        assert_eq!(root["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
        assert!(uninstall_json(AgentKind::ClaudeCode, &mut root));
        assert_eq!(root, orig);
    }
}
