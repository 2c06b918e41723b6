//! The rewrite behind `cavra init <agent> --wrap-mcp`: every MCP
//! server an agent's JSON configuration starts over stdio (`mcpServers.<name>` with a
//! `command`) is made to start through `cavra mcp proxy --name <name> -- <command> <args…>`,
//! and [`unwrap_servers`] restores it. Pure: a parsed document in, the changed names out.
//! CAVRA's own server (`cavra mcp serve`) and entries without a `command` (HTTP servers) are
//! left alone; wrapping twice changes nothing. [`wrap_target`] / [`unwrap_target`] apply it
//! to an agent's configuration file (`cavra uninstall` always unwraps).

use crate::error::SetupError;
use crate::files;
use crate::mcp::Target;
use serde_json::{json, Value};

/// Applies `f` (a wrap or an unwrap) to the JSON configuration `t`; the server names it
/// changed. The file is written only when something changed (no backup: the change is its
/// own undo). Codex's TOML is refused by name when `refuse_toml`, else left alone.
fn rewrite(
    t: &Target,
    f: impl FnOnce(&mut Value) -> Vec<String>,
    refuse_toml: bool,
) -> Result<Vec<String>, SetupError> {
    let path = match t {
        Target::Skip(_) => return Ok(Vec::new()),
        Target::Toml(p) if refuse_toml => return Err(SetupError::WrapToml { path: p.clone() }),
        Target::Toml(_) => return Ok(Vec::new()),
        Target::Json(p) => p,
    };
    let Some(old) = files::read_opt(path)? else {
        return Ok(Vec::new());
    };
    let mut doc = Value::Object(files::parse_json(path, &old)?);
    let changed = f(&mut doc);
    if let (false, Value::Object(m)) = (changed.is_empty(), &doc) {
        files::replace(path, &files::json_text(path, m)?, false, false)?;
    }
    Ok(changed)
}

/// `cavra init --wrap-mcp`: the stdio servers of `t` start through `exe mcp proxy`.
pub fn wrap_target(t: &Target, exe: &str) -> Result<Vec<String>, SetupError> {
    rewrite(t, |d| wrap_servers(d, exe), true)
}

/// `cavra uninstall`: the servers [`wrap_target`] wrapped start as they did before.
pub fn unwrap_target(t: &Target) -> Result<Vec<String>, SetupError> {
    rewrite(t, unwrap_servers, false)
}

/// The arguments that mark a wrapped entry, before `--name`.
const PROXY: [&str; 2] = ["mcp", "proxy"];

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None => Some(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(|x| x.as_str().map(str::to_string)).collect(),
        Some(_) => None,
    }
}

/// The original command and arguments of an entry `cavra mcp proxy` wraps, if it is one.
fn wrapped(args: &[String]) -> Option<(String, Vec<String>)> {
    let rest = args.strip_prefix(&PROXY.map(String::from))?;
    let sep = rest.iter().position(|a| a == "--")?;
    let (cmd, tail) = rest.get(sep + 1..)?.split_first()?;
    Some((cmd.clone(), tail.to_vec()))
}

/// Wraps the stdio servers of `doc["mcpServers"]` with `exe mcp proxy`; the names wrapped.
pub fn wrap_servers(doc: &mut Value, exe: &str) -> Vec<String> {
    let mut changed = Vec::new();
    let Some(servers) = doc.get_mut("mcpServers").and_then(Value::as_object_mut) else {
        return changed;
    };
    for (name, entry) in servers.iter_mut() {
        let Some(cmd) = entry
            .get("command")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            continue;
        };
        let Some(args) = strings(entry.get("args")) else {
            continue;
        };
        if crate::mcp::is_cavra_server(&cmd, &args) || wrapped(&args).is_some() {
            continue;
        }
        let mut new = vec![
            "mcp".to_string(),
            "proxy".into(),
            "--name".into(),
            name.clone(),
            "--".into(),
            cmd,
        ];
        new.extend(args);
        entry["command"] = json!(exe);
        entry["args"] = json!(new);
        changed.push(name.clone());
    }
    changed
}

/// Restores the entries [`wrap_servers`] wrapped; the names restored.
pub fn unwrap_servers(doc: &mut Value) -> Vec<String> {
    let mut changed = Vec::new();
    let Some(servers) = doc.get_mut("mcpServers").and_then(Value::as_object_mut) else {
        return changed;
    };
    for (name, entry) in servers.iter_mut() {
        let Some((cmd, args)) = strings(entry.get("args")).and_then(|a| wrapped(&a)) else {
            continue;
        };
        entry["command"] = json!(cmd);
        if args.is_empty() {
            if let Some(o) = entry.as_object_mut() {
                o.remove("args");
            }
        } else {
            entry["args"] = json!(args);
        }
        changed.push(name.clone());
    }
    changed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_is_idempotent_and_reversible() {
        let original = json!({"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/p"], "env": {"A": "1"}},
            "bare": {"command": "my-server"},
            "cavra": {"command": "cavra", "args": ["mcp", "serve"]},
            "remote": {"url": "https://mcp.example/mcp"},
        }, "other": 1});
        let mut doc = original.clone();
        let mut changed = wrap_servers(&mut doc, "cavra");
        changed.sort();
        assert_eq!(changed, ["bare", "fs"]);
        assert_eq!(
            doc["mcpServers"]["fs"],
            json!({"command": "cavra", "args": ["mcp", "proxy", "--name", "fs", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "/p"], "env": {"A": "1"}})
        );
        assert_eq!(doc["mcpServers"]["cavra"], original["mcpServers"]["cavra"]);
        assert_eq!(
            doc["mcpServers"]["remote"],
            original["mcpServers"]["remote"]
        );
        // twice: nothing more
        let again = doc.clone();
        assert!(wrap_servers(&mut doc, "cavra").is_empty());
        assert_eq!(doc, again);
        // reversed exactly
        let mut back = unwrap_servers(&mut doc);
        back.sort();
        assert_eq!(back, ["bare", "fs"]);
        assert_eq!(doc, original);
        assert!(unwrap_servers(&mut doc).is_empty());
    }

    #[test]
    fn odd_entries_are_left_alone() {
        let mut doc = json!({"mcpServers": {"x": {"command": "s", "args": "not a list"}}});
        let before = doc.clone();
        assert!(wrap_servers(&mut doc, "cavra").is_empty());
        assert_eq!(doc, before);
        assert!(wrap_servers(&mut json!({"no": "servers"}), "cavra").is_empty());
    }
}
