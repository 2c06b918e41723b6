//! The rewrite behind `cavra init <agent> --wrap-mcp`: every MCP server an agent's
//! configuration starts over stdio is made to start through `cavra mcp proxy --name <name>
//! -- <command> <args…>`, and the unwrap restores it. The JSON configurations
//! (`mcpServers.<name>` with a `command`) and Codex's `config.toml` (`[mcp_servers.<name>]`
//! with `command`, edited with `toml_edit`: comments, layout and the other keys — `env`,
//! `cwd`, … — kept; the original command value, its quoting included, moves into `args` and
//! back). A JSON configuration's Streamable HTTP server (`type: "http"` and `url`, Gemini's
//! `httpUrl`, a bare `url` but Gemini's) is made a stdio entry running `cavra mcp proxy
//! --name <name> --upstream <url>`: its transport keys (`type`, `url` / `httpUrl`,
//! `headers`) move into the entry's `env` as [`REMOTE_ENV`] (JSON), whose `headers` the
//! proxy sends upstream (an environment variable, not an argument: a token stays out of
//! the process list), and come back from it on the unwrap. CAVRA's own server (`cavra mcp
//! serve`) is left alone; SSE servers, servers with OAuth or a headers helper, Codex's
//! HTTP servers and entries of an unexpected shape are left alone and reported; wrapping
//! twice changes nothing. [`wrap_target`] / [`unwrap_target`] apply it to an agent's
//! configuration file (`cavra uninstall` always unwraps).

use crate::error::SetupError;
use crate::files;
use crate::mcp::Target;
use serde_json::{json, Value};
use toml_edit::{Array, Decor, Item, TableLike};

/// A server `--wrap-mcp` did not wrap, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAlone {
    pub name: String,
    pub why: &'static str,
}

/// What a wrap or an unwrap did: the names changed, and (wrap) the servers left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub changed: Vec<String>,
    pub left: Vec<LeftAlone>,
}

/// Why a Codex HTTP server is not wrapped.
pub const HTTP_SERVER: &str =
    "a Codex HTTP server (`url`): Codex authenticates to it itself (`bearer_token_env_var`, `codex mcp login`), which a stdio proxy cannot carry; run `cavra mcp proxy --upstream URL --listen ADDR` and point `url` there (docs/mcp.md)";
/// Why an SSE server is not wrapped.
pub const SSE_SERVER: &str =
    "an SSE server (`type: sse`, or Gemini's `url`): the proxy speaks Streamable HTTP only; not proxied";
/// Why an HTTP server with OAuth or computed headers is not wrapped.
pub const AUTH_SERVER: &str =
    "an HTTP server with OAuth or a headers helper (`oauth`, `auth`, `authProviderType`, `headersHelper`): the proxy cannot carry it; not proxied";
const BAD_URL: &str = "`url` / `httpUrl` is not an http:// or https:// URL string";
const BAD_HEADERS: &str = "`headers` is not an object of strings";
const BAD_ENV: &str = "`env` is not an object";

/// The environment variable of a wrapped HTTP entry: the keys the wrap took out (`type`,
/// `url` / `httpUrl`, `headers`) as a JSON object. `cavra mcp proxy --upstream` sends its
/// `headers` with every request; the unwrap puts the keys back.
pub const REMOTE_ENV: &str = "CAVRA_MCP_REMOTE";
/// The keys of an HTTP entry that move into [`REMOTE_ENV`].
const TRANSPORT_KEYS: [&str; 4] = ["type", "url", "httpUrl", "headers"];
/// Keys of authentication the proxy cannot carry.
const AUTH_KEYS: [&str; 4] = ["oauth", "auth", "authProviderType", "headersHelper"];
const NO_COMMAND: &str = "no `command`";
const BAD_COMMAND: &str = "`command` is not a string";
const BAD_ARGS: &str = "`args` is not a list of strings";

/// Wrap (with the `cavra` binary to run; whether a bare `url` is SSE, as Gemini's) or
/// unwrap.
#[derive(Clone, Copy)]
enum Op<'a> {
    Wrap(&'a str, bool),
    Unwrap,
}

/// Applies `op` to the configuration `t`. The file is written only when something changed
/// (no backup: the change is its own undo).
fn rewrite(t: &Target, op: Op<'_>) -> Result<Rewrite, SetupError> {
    let Some(path) = t.path() else {
        return Ok(Rewrite::default());
    };
    let Some(old) = files::read_opt(path)? else {
        return Ok(Rewrite::default());
    };
    match t {
        Target::Skip(_) => Ok(Rewrite::default()),
        Target::Json(_) => {
            let mut doc = Value::Object(files::parse_json(path, &old)?);
            let done = match op {
                Op::Wrap(exe, bare_url_sse) => wrap_servers(&mut doc, exe, bare_url_sse),
                Op::Unwrap => unwrap_servers(&mut doc),
            };
            if let (false, Value::Object(m)) = (done.changed.is_empty(), &doc) {
                files::replace(path, &files::json_text(path, m)?, false, false)?;
            }
            Ok(done)
        }
        Target::Toml(_) => {
            let mut doc = files::parse_toml(path, &old)?;
            let done = match op {
                Op::Wrap(exe, _) => wrap_toml(&mut doc, exe),
                Op::Unwrap => unwrap_toml(&mut doc),
            };
            if !done.changed.is_empty() {
                files::replace(path, &doc.to_string(), false, false)?;
            }
            Ok(done)
        }
    }
}

/// `cavra init --wrap-mcp`: the servers of `t` start through `exe mcp proxy`
/// (`bare_url_sse`: an entry with a `url` and no `type` is an SSE server, as in Gemini's
/// settings, where Streamable HTTP is `httpUrl`).
pub fn wrap_target(t: &Target, exe: &str, bare_url_sse: bool) -> Result<Rewrite, SetupError> {
    rewrite(t, Op::Wrap(exe, bare_url_sse))
}

/// `cavra uninstall`: the servers [`wrap_target`] wrapped start as they did before.
pub fn unwrap_target(t: &Target) -> Result<Vec<String>, SetupError> {
    Ok(rewrite(t, Op::Unwrap)?.changed)
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

/// Whether `command` runs a `cavra` binary.
fn is_cavra_program(command: &str) -> bool {
    std::path::Path::new(command.trim())
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("cavra"))
}

/// When `command` + `args` is an entry `cavra mcp proxy` wraps: the index of the `--`
/// before the original command (which follows it).
fn wrapped(command: &str, args: &[String]) -> Option<usize> {
    if !is_cavra_program(command) || !args.starts_with(&PROXY.map(String::from)) {
        return None;
    }
    let sep = args.iter().position(|a| a == "--")?;
    (sep + 1 < args.len()).then_some(sep)
}

/// The arguments of the wrapped form before the original command.
fn proxy_head(name: &str) -> [String; 5] {
    [
        "mcp".into(),
        "proxy".into(),
        "--name".into(),
        name.into(),
        "--".into(),
    ]
}

/// Whether `command` + `args` already run `cavra mcp proxy` (either form).
fn is_proxy(command: &str, args: &[String]) -> bool {
    is_cavra_program(command) && args.starts_with(&PROXY.map(String::from))
}

/// The Streamable HTTP endpoint of an entry without `command`: `Ok(None)` when it has no
/// URL at all, `Err` when it is not one the proxy can front.
fn remote_url(
    entry: &serde_json::Map<String, Value>,
    bare_url_sse: bool,
) -> Result<Option<String>, &'static str> {
    let kind = entry.get("type").and_then(Value::as_str);
    let (url, http) = match (entry.get("httpUrl"), entry.get("url")) {
        (Some(u), _) => (u, true),
        (None, Some(u)) => (u, false),
        (None, None) => return Ok(None),
    };
    match kind {
        Some("sse") => return Err(SSE_SERVER),
        Some("http" | "streamable-http" | "streamableHttp") => {}
        Some(_) => return Err(BAD_URL),
        None if !http && bare_url_sse => return Err(SSE_SERVER),
        None => {}
    }
    if AUTH_KEYS.iter().any(|k| entry.contains_key(*k)) {
        return Err(AUTH_SERVER);
    }
    let url = url.as_str().ok_or(BAD_URL)?;
    let ok = ["http://", "https://"]
        .iter()
        .any(|p| url.len() > p.len() && url.starts_with(p))
        && !url.chars().any(char::is_whitespace);
    if !ok {
        return Err(BAD_URL);
    }
    match entry.get("headers") {
        None => {}
        Some(Value::Object(h)) if h.values().all(Value::is_string) => {}
        Some(_) => return Err(BAD_HEADERS),
    }
    if !matches!(entry.get("env"), None | Some(Value::Object(_))) {
        return Err(BAD_ENV);
    }
    Ok(Some(url.to_string()))
}

/// The stdio entry that runs `exe mcp proxy --name NAME --upstream URL` in place of the
/// HTTP entry `old`: the transport keys into `env`'s [`REMOTE_ENV`], the other keys kept
/// in their places (`command`, `args`, `env` where the first transport key was).
fn wrap_remote(old: &serde_json::Map<String, Value>, name: &str, url: &str, exe: &str) -> Value {
    let mut moved = serde_json::Map::new();
    for k in TRANSPORT_KEYS {
        if let Some(v) = old.get(k) {
            moved.insert(k.to_string(), v.clone());
        }
    }
    let mut env = old
        .get("env")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    env.insert(REMOTE_ENV.into(), json!(Value::Object(moved).to_string()));
    let args = json!(["mcp", "proxy", "--name", name, "--upstream", url]);
    let mut new = serde_json::Map::new();
    let mut placed = false;
    for (k, v) in old {
        if TRANSPORT_KEYS.contains(&k.as_str()) || k == "env" {
            if !placed {
                new.insert("command".into(), json!(exe));
                new.insert("args".into(), args.clone());
                new.insert("env".into(), Value::Object(env.clone()));
                placed = true;
            }
            continue;
        }
        new.insert(k.clone(), v.clone());
    }
    Value::Object(new)
}

/// The HTTP entry a wrapped one came from (`None`: not a wrapped HTTP entry).
fn unwrap_remote(entry: &serde_json::Map<String, Value>) -> Option<Value> {
    let cmd = entry.get("command")?.as_str()?;
    let args = strings(entry.get("args"))?;
    if !is_proxy(cmd, &args) || !args.iter().any(|a| a == "--upstream") {
        return None;
    }
    let env = entry.get("env")?.as_object()?;
    let moved: serde_json::Map<String, Value> =
        serde_json::from_str(env.get(REMOTE_ENV)?.as_str()?).ok()?;
    let mut rest_env = env.clone();
    rest_env.remove(REMOTE_ENV);
    let mut old = serde_json::Map::new();
    for (k, v) in entry {
        match k.as_str() {
            "command" => {
                for (mk, mv) in &moved {
                    old.insert(mk.clone(), mv.clone());
                }
                if !rest_env.is_empty() {
                    old.insert("env".into(), Value::Object(rest_env.clone()));
                }
            }
            "args" | "env" => {}
            _ => {
                old.insert(k.clone(), v.clone());
            }
        }
    }
    Some(Value::Object(old))
}

/// Wraps the servers of `doc["mcpServers"]` with `exe mcp proxy`: a stdio server's command
/// after `--`, a Streamable HTTP server's URL after `--upstream` ([`wrap_target`]).
pub fn wrap_servers(doc: &mut Value, exe: &str, bare_url_sse: bool) -> Rewrite {
    let mut done = Rewrite::default();
    let Some(servers) = doc.get_mut("mcpServers").and_then(Value::as_object_mut) else {
        return done;
    };
    for (name, entry) in servers.iter_mut() {
        let left = |why| LeftAlone {
            name: name.clone(),
            why,
        };
        let cmd = match entry.get("command") {
            Some(Value::String(c)) => c.clone(),
            Some(_) => {
                done.left.push(left(BAD_COMMAND));
                continue;
            }
            None => {
                let Some(obj) = entry.as_object() else {
                    done.left.push(left(NO_COMMAND));
                    continue;
                };
                match remote_url(obj, bare_url_sse) {
                    Ok(Some(url)) => {
                        *entry = wrap_remote(obj, name, &url, exe);
                        done.changed.push(name.clone());
                    }
                    Ok(None) => done.left.push(left(NO_COMMAND)),
                    Err(why) => done.left.push(left(why)),
                }
                continue;
            }
        };
        let Some(args) = strings(entry.get("args")) else {
            done.left.push(left(BAD_ARGS));
            continue;
        };
        if crate::mcp::is_cavra_server(&cmd, &args)
            || wrapped(&cmd, &args).is_some()
            || is_proxy(&cmd, &args)
        {
            continue;
        }
        let mut new = proxy_head(name).to_vec();
        new.push(cmd);
        new.extend(args);
        entry["command"] = json!(exe);
        entry["args"] = json!(new);
        done.changed.push(name.clone());
    }
    done
}

/// Restores the entries [`wrap_servers`] wrapped.
pub fn unwrap_servers(doc: &mut Value) -> Rewrite {
    let mut done = Rewrite::default();
    let Some(servers) = doc.get_mut("mcpServers").and_then(Value::as_object_mut) else {
        return done;
    };
    for (name, entry) in servers.iter_mut() {
        if let Some(old) = entry.as_object().and_then(unwrap_remote) {
            *entry = old;
            done.changed.push(name.clone());
            continue;
        }
        let Some(cmd) = entry.get("command").and_then(Value::as_str) else {
            continue;
        };
        let Some(args) = strings(entry.get("args")) else {
            continue;
        };
        let Some(sep) = wrapped(cmd, &args) else {
            continue;
        };
        let (orig, rest) = (&args[sep + 1], &args[sep + 2..]);
        entry["command"] = json!(orig);
        if rest.is_empty() {
            if let Some(o) = entry.as_object_mut() {
                o.remove("args");
            }
        } else {
            entry["args"] = json!(rest);
        }
        done.changed.push(name.clone());
    }
    done
}

/// The command and arguments of a TOML server entry, or why it has none usable.
fn toml_command(e: &dyn TableLike) -> Result<(String, Vec<String>), &'static str> {
    let cmd = match e.get("command") {
        Some(i) => i.as_str().ok_or(BAD_COMMAND)?.to_string(),
        None if e.contains_key("url") => return Err(HTTP_SERVER),
        None => return Err(NO_COMMAND),
    };
    let args = match e.get("args") {
        None => Vec::new(),
        Some(i) => i
            .as_array()
            .ok_or(BAD_ARGS)?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(BAD_ARGS)?,
    };
    Ok((cmd, args))
}

/// Whether an element decor starts a new line (a multi-line array).
fn on_own_line(d: &Decor) -> bool {
    d.prefix()
        .and_then(|p| p.as_str())
        .is_some_and(|p| p.contains('\n'))
}

/// Wraps the stdio servers of Codex's `[mcp_servers]` with `exe mcp proxy`.
pub fn wrap_toml(doc: &mut toml_edit::DocumentMut, exe: &str) -> Rewrite {
    let mut done = Rewrite::default();
    let Some(servers) = doc.get_mut("mcp_servers").and_then(Item::as_table_like_mut) else {
        return done;
    };
    for (name, item) in servers.iter_mut() {
        let name = name.get().to_string();
        let Some(e) = item.as_table_like_mut() else {
            done.left.push(LeftAlone {
                name,
                why: "not a table",
            });
            continue;
        };
        match toml_command(e) {
            Err(why) => done.left.push(LeftAlone { name, why }),
            Ok((cmd, args)) => {
                if crate::mcp::is_cavra_server(&cmd, &args) || wrapped(&cmd, &args).is_some() {
                    continue;
                }
                if wrap_toml_entry(e, &name, exe) {
                    done.changed.push(name);
                }
            }
        }
    }
    done
}

/// `command = exe` (its decor kept); the original command value (its quoting kept) and the
/// proxy's arguments in front of `args`, in the array's own layout.
fn wrap_toml_entry(e: &mut dyn TableLike, name: &str, exe: &str) -> bool {
    let Some(cmd_item) = e.get_mut("command") else {
        return false;
    };
    let Some(old_cmd) = cmd_item.as_value().cloned() else {
        return false;
    };
    let mut new_cmd = toml_edit::Value::from(exe);
    *new_cmd.decor_mut() = old_cmd.decor().clone();
    *cmd_item = Item::Value(new_cmd);
    let mut head: Vec<toml_edit::Value> = proxy_head(name)
        .into_iter()
        .map(toml_edit::Value::from)
        .collect();
    head.push(old_cmd);
    match e.get_mut("args").and_then(Item::as_array_mut) {
        Some(a) => prepend(a, head),
        None => {
            let mut a = Array::new();
            prepend(&mut a, head);
            e.insert("args", Item::Value(toml_edit::Value::Array(a)));
        }
    }
    true
}

/// Puts `head` in front of `a`: the first new element takes the first old element's decor
/// (so the unwrap gives it back), the others that of a following element (the old first's
/// in a multi-line array, else one space before).
fn prepend(a: &mut Array, head: Vec<toml_edit::Value>) {
    let first = a.get(0).map(|v| v.decor().clone());
    let multiline = first.as_ref().is_some_and(on_own_line);
    let following = match (&first, multiline) {
        (Some(d), true) => d.clone(),
        _ => Decor::new(" ", ""),
    };
    let n = head.len();
    for (i, mut v) in head.into_iter().enumerate() {
        *v.decor_mut() = match (i, &first) {
            (0, Some(d)) => d.clone(),
            (0, None) => Decor::new("", ""),
            _ => following.clone(),
        };
        a.insert_formatted(i, v);
    }
    if let Some(old_first) = a.get_mut(n) {
        *old_first.decor_mut() = following;
    }
}

/// Restores the entries [`wrap_toml`] wrapped.
pub fn unwrap_toml(doc: &mut toml_edit::DocumentMut) -> Rewrite {
    let mut done = Rewrite::default();
    let Some(servers) = doc.get_mut("mcp_servers").and_then(Item::as_table_like_mut) else {
        return done;
    };
    for (name, item) in servers.iter_mut() {
        let Some(e) = item.as_table_like_mut() else {
            continue;
        };
        let Ok((cmd, args)) = toml_command(e) else {
            continue;
        };
        let Some(sep) = wrapped(&cmd, &args) else {
            continue;
        };
        if unwrap_toml_entry(e, sep) {
            done.changed.push(name.get().to_string());
        }
    }
    done
}

/// Takes the proxy's arguments (up to `--` at `sep`) and the original command out of
/// `args`, the command back into `command` (with `command`'s decor); an `args` left empty
/// is removed.
fn unwrap_toml_entry(e: &mut dyn TableLike, sep: usize) -> bool {
    let Some(a) = e.get_mut("args").and_then(Item::as_array_mut) else {
        return false;
    };
    let head_decor = a.get(0).map(|v| v.decor().clone());
    let mut orig = None;
    for i in 0..=sep + 1 {
        let v = a.remove(0);
        if i == sep + 1 {
            orig = Some(v);
        }
    }
    let empty = a.is_empty();
    if let (Some(first), Some(d)) = (a.get_mut(0), head_decor) {
        *first.decor_mut() = d;
    }
    if empty {
        e.remove("args");
    }
    let (Some(mut orig), Some(cmd_item)) = (orig, e.get_mut("command")) else {
        return false;
    };
    if let Some(cur) = cmd_item.as_value() {
        *orig.decor_mut() = cur.decor().clone();
    }
    *cmd_item = Item::Value(orig);
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(mut v: Vec<String>) -> Vec<String> {
        v.sort();
        v
    }

    #[test]
    fn wrapping_is_idempotent_and_reversible() {
        let original = json!({"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/p"], "env": {"A": "1"}},
            "bare": {"command": "my-server"},
            "cavra": {"command": "cavra", "args": ["mcp", "serve"]},
            "remote": {"type": "http", "url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}, "timeout": 5},
            "cursor": {"url": "http://127.0.0.1:3001/mcp", "env": {"B": "2"}},
            "gemini": {"httpUrl": "https://g.example/mcp", "trust": false},
            "sse": {"type": "sse", "url": "https://old.example/sse"},
            "oauth": {"type": "http", "url": "https://o.example/mcp", "oauth": {"clientId": "x"}},
            "ftp": {"url": "ftp://x/"},
        }, "other": 1});
        let mut doc = original.clone();
        let done = wrap_servers(&mut doc, "cavra", false);
        assert_eq!(
            names(done.changed),
            ["bare", "cursor", "fs", "gemini", "remote"]
        );
        let left: Vec<(&str, &str)> = done.left.iter().map(|l| (l.name.as_str(), l.why)).collect();
        assert_eq!(
            left,
            [
                ("sse", SSE_SERVER),
                ("oauth", AUTH_SERVER),
                ("ftp", BAD_URL)
            ]
        );
        assert_eq!(
            doc["mcpServers"]["fs"],
            json!({"command": "cavra", "args": ["mcp", "proxy", "--name", "fs", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "/p"], "env": {"A": "1"}})
        );
        // an HTTP entry: a stdio entry running the proxy, its transport keys (the headers
        // too) in the environment, the other keys where they were
        let r = &doc["mcpServers"]["remote"];
        assert_eq!(
            r["args"],
            json!([
                "mcp",
                "proxy",
                "--name",
                "remote",
                "--upstream",
                "https://mcp.example/mcp"
            ])
        );
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["command", "args", "env", "timeout"]);
        let moved: Value = serde_json::from_str(r["env"][REMOTE_ENV].as_str().unwrap()).unwrap();
        assert_eq!(
            moved,
            json!({"type": "http", "url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}})
        );
        assert!(r.get("url").is_none() && r.get("type").is_none() && r.get("headers").is_none());
        assert_eq!(doc["mcpServers"]["cursor"]["env"]["B"], "2");
        assert_eq!(
            doc["mcpServers"]["gemini"]["args"][5],
            "https://g.example/mcp"
        );
        for kept in ["cavra", "sse", "oauth", "ftp"] {
            assert_eq!(
                doc["mcpServers"][kept], original["mcpServers"][kept],
                "{kept}"
            );
        }
        // twice: nothing more
        let again = doc.clone();
        assert!(wrap_servers(&mut doc, "cavra", false).changed.is_empty());
        assert_eq!(doc, again);
        // reversed exactly, key order included
        assert_eq!(
            names(unwrap_servers(&mut doc).changed),
            ["bare", "cursor", "fs", "gemini", "remote"]
        );
        assert_eq!(doc, original);
        assert_eq!(doc.to_string(), original.to_string());
        assert!(unwrap_servers(&mut doc).changed.is_empty());
    }

    #[test]
    fn a_bare_url_is_sse_in_gemini() {
        let mut doc = json!({"mcpServers": {"g": {"url": "https://g.example/sse"}, "h": {"httpUrl": "https://g.example/mcp"}}});
        let done = wrap_servers(&mut doc, "cavra", true);
        assert_eq!(done.changed, ["h"]);
        assert_eq!(done.left[0].why, SSE_SERVER);
        assert_eq!(
            doc["mcpServers"]["g"],
            json!({"url": "https://g.example/sse"})
        );
        let mut bad = json!({"mcpServers": {"x": {"type": "http", "url": "https://x/", "headers": {"A": 1}}}});
        assert_eq!(
            wrap_servers(&mut bad, "cavra", false).left[0].why,
            BAD_HEADERS
        );
    }

    #[test]
    fn odd_entries_are_left_alone() {
        let mut doc = json!({"mcpServers": {"x": {"command": "s", "args": "not a list"}}});
        let before = doc.clone();
        let done = wrap_servers(&mut doc, "cavra", false);
        assert!(done.changed.is_empty());
        assert_eq!(done.left[0].why, BAD_ARGS);
        assert_eq!(doc, before);
        assert_eq!(
            wrap_servers(&mut json!({"no": "servers"}), "cavra", false),
            Rewrite::default()
        );
        // a server that happens to take `mcp proxy --` but is not CAVRA is not unwrapped
        let mut doc =
            json!({"mcpServers": {"y": {"command": "other", "args": ["mcp", "proxy", "--", "z"]}}});
        assert!(unwrap_servers(&mut doc).changed.is_empty());
    }

    const CODEX: &str = r#"# my Codex configuration
model = "gpt-5-codex"

[mcp_servers.docs]
command = "docs-mcp" # the docs server
args = ["--stdio"]   # keep me
env = { TOKEN_FILE = "/t" }

# a literal-string command without arguments
[mcp_servers.bare]
command = 'my server'
startup_timeout_sec = 20

[mcp_servers.long]
command = "npx"
args = [
    "-y",
    "@modelcontextprotocol/server-filesystem", # the package
    "/p",
]

[mcp_servers.remote]
url = "https://mcp.example/mcp"

[mcp_servers.cavra]
command = "/opt/cavra"
args = ["mcp", "serve"]

[mcp_servers.empty]
command = "e"
args = []
"#;

    #[test]
    fn codex_toml_is_wrapped_in_place_and_unwrapped_byte_for_byte() {
        let mut doc: toml_edit::DocumentMut = CODEX.parse().unwrap();
        let done = wrap_toml(&mut doc, "/opt/cavra");
        assert_eq!(names(done.changed), ["bare", "docs", "empty", "long"]);
        assert_eq!(
            done.left,
            [LeftAlone {
                name: "remote".into(),
                why: HTTP_SERVER
            }]
        );
        let text = doc.to_string();
        assert!(text.contains("[mcp_servers.docs]\ncommand = \"/opt/cavra\" # the docs server\nargs = [\"mcp\", \"proxy\", \"--name\", \"docs\", \"--\", \"docs-mcp\", \"--stdio\"]   # keep me\nenv = { TOKEN_FILE = \"/t\" }\n"), "{text}");
        assert!(text.contains("[mcp_servers.bare]\ncommand = \"/opt/cavra\"\nstartup_timeout_sec = 20\nargs = [\"mcp\", \"proxy\", \"--name\", \"bare\", \"--\", 'my server']\n"), "{text}");
        assert!(text.contains("args = [\n    \"mcp\",\n    \"proxy\",\n    \"--name\",\n    \"long\",\n    \"--\",\n    \"npx\",\n    \"-y\",\n    \"@modelcontextprotocol/server-filesystem\", # the package\n    \"/p\",\n]\n"), "{text}");
        assert!(text.contains("[mcp_servers.remote]\nurl = \"https://mcp.example/mcp\"\n"));
        assert!(text.contains(
            "[mcp_servers.cavra]\ncommand = \"/opt/cavra\"\nargs = [\"mcp\", \"serve\"]\n"
        ));
        assert!(text.starts_with("# my Codex configuration\nmodel = \"gpt-5-codex\"\n"));
        // the wrapped file parses as what Codex needs
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        let docs = &parsed["mcp_servers"]["docs"];
        assert_eq!(docs["args"].as_array().unwrap().len(), 7);
        // twice: nothing more
        let mut again: toml_edit::DocumentMut = text.parse().unwrap();
        assert!(wrap_toml(&mut again, "/opt/cavra").changed.is_empty());
        assert_eq!(again.to_string(), text);
        // back: byte for byte, except an empty `args` (removed, as it meant nothing)
        let back = unwrap_toml(&mut again);
        assert_eq!(names(back.changed), ["bare", "docs", "empty", "long"]);
        assert_eq!(
            again.to_string(),
            CODEX.replace("command = \"e\"\nargs = []\n", "command = \"e\"\n")
        );
        assert!(unwrap_toml(&mut again).changed.is_empty());
    }

    #[test]
    fn codex_inline_and_dotted_tables() {
        let src = "mcp_servers = { fs = { command = \"npx\", args = [\"-y\", \"x\"] } }\n";
        let mut doc: toml_edit::DocumentMut = src.parse().unwrap();
        assert_eq!(wrap_toml(&mut doc, "cavra").changed, ["fs"]);
        let text = doc.to_string();
        let parsed: toml_edit::DocumentMut = text.parse().unwrap();
        assert_eq!(
            parsed["mcp_servers"]["fs"]["args"]
                .as_array()
                .unwrap()
                .len(),
            8,
            "{text}"
        );
        assert_eq!(unwrap_toml(&mut doc).changed, ["fs"]);
        assert_eq!(doc.to_string(), src);

        let src = "[mcp_servers]\nfs.command = \"npx\"\nfs.args = [\"a\"]\nweird = 3\n";
        let mut doc: toml_edit::DocumentMut = src.parse().unwrap();
        let done = wrap_toml(&mut doc, "cavra");
        assert_eq!(done.changed, ["fs"]);
        assert_eq!(done.left[0].name, "weird");
        assert_eq!(unwrap_toml(&mut doc).changed, ["fs"]);
        assert_eq!(doc.to_string(), src);
    }
}
