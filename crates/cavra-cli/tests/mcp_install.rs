//! `cavra init` / `cavra uninstall` / `cavra doctor` and CAVRA's MCP server registration,
//! through the real binary with a temporary HOME and project.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;

mod install_common;
use install_common::{cavra, env};

fn ok_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn exe() -> String {
    Path::new(env!("CARGO_BIN_EXE_cavra"))
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn json_of(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn backups(p: &Path) -> usize {
    let name = p.file_name().unwrap().to_string_lossy().to_string();
    std::fs::read_dir(p.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|d| {
            d.file_name()
                .to_string_lossy()
                .starts_with(&format!("{name}.cavra-backup-"))
        })
        .count()
}

fn ours() -> Value {
    json!({"command": exe(), "args": ["mcp", "serve"]})
}

/// Install into a JSON MCP config that already lists other servers; idempotent; uninstall
/// gives the original back.
fn json_cycle(agent: &str, scope: &str, rel: &str, original: &str) {
    let e = env();
    let base = if scope == "--user" { &e.home } else { &e.proj };
    let path = base.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, original).unwrap();
    let orig: Value = serde_json::from_str(original).unwrap();

    let out = ok_json(&cavra(&e, &["--json", "init", agent, scope]));
    let m = &out["mcp_server"];
    assert_eq!(m["registered"], true, "{agent}: {out}");
    assert_eq!(m["config"], path.display().to_string(), "{out}");
    assert_eq!(m["change"], "updated", "{out}");
    let v = json_of(&path);
    assert_eq!(v["mcpServers"]["cavra"], ours(), "{agent}: {v}");
    for (name, server) in orig["mcpServers"].as_object().unwrap() {
        assert_eq!(
            &v["mcpServers"][name], server,
            "{agent}: lost server {name}"
        );
    }
    for (k, val) in orig.as_object().unwrap() {
        if k != "mcpServers" && k != "hooks" {
            assert_eq!(&v[k], val, "{agent}: `{k}` changed");
        }
    }
    assert_eq!(backups(&path), 1, "{agent}: one backup per changed file");

    // idempotent: nothing changes, no second backup
    let before = std::fs::read_to_string(&path).unwrap();
    let out = ok_json(&cavra(&e, &["--json", "init", agent, scope]));
    assert_eq!(out["mcp_server"]["change"], "unchanged", "{out}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert_eq!(backups(&path), 1);

    // doctor sees the registration, and the server answers
    let d = ok_json(&cavra(&e, &["--json", "doctor"]));
    let checks = d["checks"].as_array().unwrap();
    let name = format!("mcp: {agent} ({})", scope.trim_start_matches("--"));
    let c = checks
        .iter()
        .find(|c| c["check"] == name.as_str())
        .unwrap_or_else(|| panic!("no `{name}` check: {d}"));
    assert_eq!(c["ok"], true, "{c}");
    let probe = checks.iter().find(|c| c["check"] == "mcp server").unwrap();
    assert_eq!(probe["ok"], true, "{probe}");
    assert!(
        probe["detail"]
            .as_str()
            .unwrap()
            .contains("answers `initialize`"),
        "{probe}"
    );

    let out = ok_json(&cavra(&e, &["--json", "uninstall", agent, scope]));
    assert_eq!(out["mcp_server"]["change"], "removed", "{out}");
    assert_eq!(json_of(&path), orig, "{agent}: uninstall did not restore");
    let out = ok_json(&cavra(&e, &["--json", "uninstall", agent, scope]));
    assert_eq!(out["mcp_server"]["change"], "not present", "{out}");
    assert_eq!(json_of(&path), orig);
}

#[test]
fn claude_code_project_mcp_json() {
    json_cycle(
        "claude-code",
        "--project",
        ".mcp.json",
        r#"{"mcpServers": {"github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/"}, "db": {"command": "db-mcp", "args": ["--ro"], "env": {"X": "1"}}}}"#,
    );
}

#[test]
fn gemini_settings_mcp_servers() {
    json_cycle(
        "gemini",
        "--project",
        ".gemini/settings.json",
        r#"{"theme": "GitHub", "mcpServers": {"gh": {"command": "gh-mcp", "trust": false}}, "general": {"vimMode": true}}"#,
    );
}

#[test]
fn cursor_mcp_json_user() {
    json_cycle(
        "cursor",
        "--user",
        ".cursor/mcp.json",
        r#"{"mcpServers": {"fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]}}}"#,
    );
}

#[test]
fn fresh_claude_code_install_creates_and_removes_mcp_json() {
    let e = env();
    let out = ok_json(&cavra(&e, &["--json", "init", "claude-code"]));
    assert_eq!(out["mcp_server"]["change"], "created", "{out}");
    let path = e.proj.join(".mcp.json");
    assert_eq!(json_of(&path), json!({"mcpServers": {"cavra": ours()}}));
    assert_eq!(backups(&path), 0, "no backup of a file that did not exist");
    // the registered command really serves MCP
    let d = ok_json(&cavra(&e, &["--json", "doctor"]));
    assert_eq!(d["healthy"], true, "{d}");
    ok_json(&cavra(&e, &["--json", "uninstall", "claude-code"]));
    assert!(
        !path.exists(),
        "a .mcp.json holding only CAVRA's server is removed"
    );
    assert!(!e.proj.join(".claude/settings.json").exists());
}

#[test]
fn claude_code_user_scope_is_skipped_with_a_note() {
    let e = env();
    let out = ok_json(&cavra(&e, &["--json", "init", "claude-code", "--user"]));
    assert_eq!(out["mcp_server"]["registered"], false, "{out}");
    let why = out["mcp_server"]["skipped"].as_str().unwrap();
    assert!(
        why.contains("~/.claude.json") && why.contains("claude mcp add"),
        "{why}"
    );
    assert!(!e.home.join(".claude.json").exists());
    assert!(!e.home.join(".mcp.json").exists());
    let o = cavra(&e, &["init", "claude-code", "--user"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("MCP server: not registered"));
}

#[test]
fn codex_toml_keeps_comments_and_other_servers() {
    let e = env();
    let path = e.home.join(".codex/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = "# Codex configuration (hand-written)\nmodel = \"gpt-5-codex\"   # the default model\n\n# MCP servers I use\n[mcp_servers.docs]\ncommand = \"docs-mcp\"\nargs = [\"--stdio\"]   # keep me\n";
    std::fs::write(&path, original).unwrap();
    let out = ok_json(&cavra(&e, &["--json", "init", "codex", "--user"]));
    assert_eq!(out["mcp_server"]["registered"], true, "{out}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!(
            "[mcp_servers.cavra]\ncommand = \"{}\"\nargs = [\"mcp\", \"serve\"]\n",
            exe()
        )),
        "{text}"
    );
    assert!(text.contains(
        "[mcp_servers.docs]\ncommand = \"docs-mcp\"\nargs = [\"--stdio\"]   # keep me\n"
    ));
    assert!(text.starts_with("# Codex configuration (hand-written)\n"));
    // one backup although hooks and the MCP server went into the same file
    assert_eq!(backups(&path), 1);
    let out = ok_json(&cavra(&e, &["--json", "init", "codex", "--user"]));
    assert_eq!(out["change"], "unchanged", "{out}");
    assert_eq!(out["mcp_server"]["change"], "unchanged", "{out}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let d = ok_json(&cavra(&e, &["--json", "doctor"]));
    let c = d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "mcp: codex (user)")
        .cloned()
        .unwrap_or_else(|| panic!("{d}"));
    assert_eq!(c["ok"], true, "{c}");
    ok_json(&cavra(&e, &["--json", "uninstall", "codex", "--user"]));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        original,
        "uninstall restores config.toml byte for byte"
    );
}

#[test]
fn a_foreign_cavra_entry_is_left_alone() {
    let e = env();
    let path = e.proj.join(".mcp.json");
    let original = r#"{"mcpServers": {"cavra": {"command": "/opt/other/tool", "args": ["--x"]}}}"#;
    std::fs::write(&path, original).unwrap();
    let out = ok_json(&cavra(&e, &["--json", "init", "claude-code"]));
    assert_eq!(out["mcp_server"]["registered"], false, "{out}");
    assert!(out["mcp_server"]["note"]
        .as_str()
        .unwrap()
        .contains("not CAVRA's"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    ok_json(&cavra(&e, &["--json", "uninstall", "claude-code"]));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    assert_eq!(backups(&path), 0);
}

#[test]
fn a_stale_path_is_updated_and_a_malformed_config_refused() {
    let e = env();
    let path = e.proj.join(".cursor/mcp.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        r#"{"mcpServers": {"cavra": {"command": "/old/place/cavra", "args": ["mcp", "serve"]}, "x": {"command": "x"}}}"#,
    )
    .unwrap();
    // doctor: the registered program is gone
    let o = cavra(&e, &["--json", "doctor"]);
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "mcp: cursor (project)")
        .cloned()
        .unwrap_or_else(|| panic!("{d}"));
    assert_eq!(c["ok"], false, "{c}");
    assert!(c["detail"].as_str().unwrap().contains("/old/place/cavra"));

    let out = ok_json(&cavra(&e, &["--json", "init", "cursor"]));
    assert_eq!(out["mcp_server"]["change"], "updated", "{out}");
    let v = json_of(&path);
    assert_eq!(v["mcpServers"]["cavra"], ours());
    assert_eq!(v["mcpServers"]["x"], json!({"command": "x"}));

    // a malformed MCP config stops init before anything is written
    let e = env();
    let path = e.proj.join(".mcp.json");
    std::fs::write(&path, "{\"mcpServers\": [1,]}").unwrap();
    let o = cavra(&e, &["init", "claude-code"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(path.to_str().unwrap()) && err.contains("line 1"),
        "{err}"
    );
    assert!(
        !e.proj.join(".claude/settings.json").exists(),
        "nothing written"
    );
    assert!(
        !e.proj.join(".cavra/policy.yaml").exists(),
        "nothing written"
    );
}

/// `init --wrap-mcp` starts the project's other stdio MCP servers through `cavra mcp proxy`
/// and its Streamable HTTP servers through `cavra mcp proxy --upstream URL` (their headers
/// in the entry's environment); idempotent: a second run changes nothing; `uninstall`
/// gives the original file back; SSE servers are left alone and reported.
#[test]
fn wrap_mcp_puts_the_proxy_in_front_and_uninstall_takes_it_away() {
    let e = env();
    let path = e.proj.join(".mcp.json");
    let original = json!({"mcpServers": {
        "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]},
        "remote": {"type": "http", "url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer ${MCP_TOKEN}"}},
        "old": {"type": "sse", "url": "https://mcp.example/sse"},
    }});
    std::fs::write(&path, serde_json::to_string_pretty(&original).unwrap()).unwrap();
    let out = ok_json(&cavra(&e, &["--json", "init", "claude-code", "--wrap-mcp"]));
    assert_eq!(out["mcp_wrapped"], json!(["fs", "remote"]), "{out}");
    assert_eq!(out["mcp_not_wrapped"][0]["name"], "old", "{out}");
    assert!(
        out["mcp_not_wrapped"][0]["why"]
            .as_str()
            .unwrap()
            .contains("SSE"),
        "{out}"
    );
    let text = cavra(&e, &["init", "claude-code", "--wrap-mcp"]);
    assert!(
        String::from_utf8_lossy(&text.stdout)
            .contains("MCP server `old` left alone: an SSE server"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    let v = json_of(&path);
    assert_eq!(v["mcpServers"]["cavra"], ours(), "{v}");
    assert_eq!(
        v["mcpServers"]["fs"],
        json!({"command": exe(), "args": ["mcp", "proxy", "--name", "fs", "--", "npx", "-y", "@modelcontextprotocol/server-filesystem", "."]}),
        "{v}"
    );
    let r = &v["mcpServers"]["remote"];
    assert_eq!(r["command"], json!(exe()), "{v}");
    assert_eq!(
        r["args"],
        json!([
            "mcp",
            "proxy",
            "--name",
            "remote",
            "--upstream",
            "https://mcp.example/mcp"
        ]),
        "{v}"
    );
    let remote: Value =
        serde_json::from_str(r["env"]["CAVRA_MCP_REMOTE"].as_str().unwrap()).unwrap();
    assert_eq!(
        remote["headers"]["Authorization"], "Bearer ${MCP_TOKEN}",
        "{v}"
    );
    assert!(
        !r["args"].to_string().contains("Bearer"),
        "no token in the arguments"
    );
    assert_eq!(v["mcpServers"]["old"], original["mcpServers"]["old"]);
    let before = std::fs::read_to_string(&path).unwrap();
    let again = ok_json(&cavra(&e, &["--json", "init", "claude-code", "--wrap-mcp"]));
    assert_eq!(again["mcp_wrapped"], json!([]), "{again}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    let out = ok_json(&cavra(&e, &["--json", "uninstall", "claude-code"]));
    assert_eq!(out["mcp_unwrapped"], json!(["fs", "remote"]), "{out}");
    assert_eq!(json_of(&path), original);
}

/// Gemini CLI: `httpUrl` is Streamable HTTP (wrapped), a bare `url` its SSE transport
/// (left alone); Cursor: a bare `url` is wrapped (Cursor picks the transport itself).
#[test]
fn wrap_mcp_reads_each_agents_http_shapes() {
    let e = env();
    let path = e.proj.join(".gemini/settings.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = json!({"mcpServers": {
        "docs": {"httpUrl": "https://docs.example/mcp", "headers": {"X-Key": "$DOCS_KEY"}, "trust": false},
        "old": {"url": "https://old.example/sse"},
    }});
    std::fs::write(&path, original.to_string()).unwrap();
    let out = ok_json(&cavra(
        &e,
        &["--json", "init", "gemini", "--project", "--wrap-mcp"],
    ));
    assert_eq!(out["mcp_wrapped"], json!(["docs"]), "{out}");
    assert_eq!(out["mcp_not_wrapped"][0]["name"], "old", "{out}");
    let v = json_of(&path);
    assert_eq!(
        v["mcpServers"]["docs"]["args"][5], "https://docs.example/mcp",
        "{v}"
    );
    assert_eq!(v["mcpServers"]["docs"]["trust"], false, "{v}");
    assert_eq!(v["mcpServers"]["old"], original["mcpServers"]["old"]);
    ok_json(&cavra(&e, &["--json", "uninstall", "gemini", "--project"]));
    assert_eq!(json_of(&path), original);

    let path = e.proj.join(".cursor/mcp.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = json!({"mcpServers": {"remote": {"url": "https://mcp.example/mcp"}}});
    std::fs::write(&path, original.to_string()).unwrap();
    let out = ok_json(&cavra(
        &e,
        &["--json", "init", "cursor", "--project", "--wrap-mcp"],
    ));
    assert_eq!(out["mcp_wrapped"], json!(["remote"]), "{out}");
    ok_json(&cavra(&e, &["--json", "uninstall", "cursor", "--project"]));
    assert_eq!(json_of(&path), original);
}

/// `init codex --wrap-mcp`: Codex's `config.toml` servers start through `cavra mcp proxy`
/// in place (comments, `env`, the other keys kept; the HTTP server left alone and
/// reported); a second run changes nothing; `uninstall codex` gives the file back byte for
/// byte.
#[test]
fn wrap_mcp_rewrites_codex_toml_and_uninstall_restores_it() {
    let e = env();
    let path = e.home.join(".codex").join("config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = "# my Codex set-up\nmodel = \"gpt-5-codex\"\n\n[mcp_servers.fs]\ncommand = \"npx\" # the filesystem server\nargs = [\"-y\", \"@modelcontextprotocol/server-filesystem\", \".\"]\nenv = { LOG = \"1\" }\n\n# a hosted one\n[mcp_servers.remote]\nurl = \"https://mcp.example/mcp\"\n\n[mcp_servers.bare]\ncommand = '/opt/my server'\n";
    std::fs::write(&path, original).unwrap();
    let out = ok_json(&cavra(
        &e,
        &["--json", "init", "codex", "--user", "--wrap-mcp"],
    ));
    assert_eq!(out["mcp_wrapped"], json!(["fs", "bare"]), "{out}");
    assert_eq!(
        out["mcp_not_wrapped"],
        json!([{"name": "remote", "why": "a Codex HTTP server (`url`): Codex authenticates to it itself (`bearer_token_env_var`, `codex mcp login`), which a stdio proxy cannot carry; run `cavra mcp proxy --upstream URL --listen ADDR` and point `url` there (docs/mcp.md)"}]),
        "{out}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let exe = exe();
    assert!(
        text.contains(&format!("[mcp_servers.fs]\ncommand = \"{exe}\" # the filesystem server\nargs = [\"mcp\", \"proxy\", \"--name\", \"fs\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-filesystem\", \".\"]\nenv = {{ LOG = \"1\" }}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("[mcp_servers.bare]\ncommand = \"{exe}\"\nargs = [\"mcp\", \"proxy\", \"--name\", \"bare\", \"--\", '/opt/my server']\n")),
        "{text}"
    );
    assert!(
        text.contains("# a hosted one\n[mcp_servers.remote]\nurl = \"https://mcp.example/mcp\"\n")
    );
    assert!(
        text.starts_with("# my Codex set-up\nmodel = \"gpt-5-codex\"\n"),
        "{text}"
    );
    // the text output says what was left alone
    let o = cavra(&e, &["init", "codex", "--user", "--wrap-mcp"]);
    assert!(o.status.success());
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("  MCP server `remote` left alone: a Codex HTTP server (`url`)"),
        "{shown}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "a second run changes nothing"
    );
    let again = ok_json(&cavra(
        &e,
        &["--json", "init", "codex", "--user", "--wrap-mcp"],
    ));
    assert_eq!(again["mcp_wrapped"], json!([]), "{again}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let out = ok_json(&cavra(&e, &["--json", "uninstall", "codex", "--user"]));
    assert_eq!(out["mcp_unwrapped"], json!(["fs", "bare"]), "{out}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        original,
        "uninstall restores config.toml byte for byte"
    );
}
