//! `cavra init` / `cavra uninstall` / `cavra doctor` through the real binary, with a temporary
//! HOME and project directory.
#![allow(clippy::unwrap_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/agents")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

mod install_common;
use install_common::{cavra, env};

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json_of(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn backups(p: &Path) -> Vec<PathBuf> {
    let name = p.file_name().unwrap().to_string_lossy().to_string();
    let mut v: Vec<PathBuf> = std::fs::read_dir(p.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .filter(|x| {
            x.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}.cavra-backup-"))
        })
        .collect();
    v.sort();
    v
}

/// The tests run `cavra init` with this very binary first on PATH, so the hook command is
/// `cavra hook <agent>` (it survives the build directory moving).
fn hook_cmd(agent: &str) -> String {
    format!("cavra hook {agent}")
}

/// Installs into an existing JSON file written by "another tool", checks merge, idempotence,
/// backup, then uninstalls back to the original.
fn json_cycle(agent: &str, rel_settings: &str, fixture_rel: &str, pre_event: &str, scope: &str) {
    let e = env();
    let base = if scope == "--user" {
        e.home.clone()
    } else {
        e.proj.clone()
    };
    let path = base.join(rel_settings);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = fixture(fixture_rel);
    std::fs::write(&path, &original).unwrap();
    let orig_v: Value = serde_json::from_str(&original).unwrap();

    let out: Value =
        serde_json::from_str(&ok(&cavra(&e, &["--json", "init", agent, scope]))).unwrap();
    assert_eq!(out["change"], "updated");
    assert_eq!(out["policy_ok"], true, "{out}");
    let v = json_of(&path);
    let text = v.to_string();
    assert!(
        text.contains(&hook_cmd(agent)),
        "{agent}: hook missing: {text}"
    );
    assert!(v["hooks"][pre_event].is_array(), "{text}");
    // every key of the original survives, in order
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    let okeys: Vec<&String> = orig_v.as_object().unwrap().keys().collect();
    assert_eq!(
        &keys[..okeys.len()],
        &okeys[..],
        "{agent}: key order changed"
    );
    for (k, val) in orig_v.as_object().unwrap() {
        if k == "mcpServers" {
            // `init` registers CAVRA's MCP server next to the others, and adds nothing else
            let mut expected = val.clone();
            expected["cavra"] = v[k]["cavra"].clone();
            assert_eq!(&v[k], &expected, "{agent}: `{k}` changed");
            assert_eq!(v[k]["cavra"]["args"], serde_json::json!(["mcp", "serve"]));
        } else if k != "hooks" {
            assert_eq!(&v[k], val, "{agent}: `{k}` changed");
        }
    }
    for (ev, arr) in orig_v["hooks"].as_object().unwrap() {
        for item in arr.as_array().unwrap() {
            assert!(
                v["hooks"][ev].as_array().unwrap().contains(item),
                "{agent}: lost {ev} {item}"
            );
        }
    }
    assert_eq!(backups(&path).len(), 1);
    assert_eq!(
        std::fs::read_to_string(&backups(&path)[0]).unwrap(),
        original
    );

    // second install: no change, no new backup
    let before = std::fs::read_to_string(&path).unwrap();
    let out: Value =
        serde_json::from_str(&ok(&cavra(&e, &["--json", "init", agent, scope]))).unwrap();
    assert_eq!(out["change"], "unchanged");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert_eq!(backups(&path).len(), 1);

    // the hook the settings point at really answers
    let out: Value = serde_json::from_str(&ok(&cavra(&e, &["--json", "doctor"]))).unwrap();
    let c = out["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"].as_str().unwrap().starts_with(agent))
        .unwrap();
    assert_eq!(c["ok"], true, "{out}");

    let out: Value =
        serde_json::from_str(&ok(&cavra(&e, &["--json", "uninstall", agent, scope]))).unwrap();
    assert_eq!(out["change"], "removed");
    assert_eq!(
        json_of(&path),
        orig_v,
        "{agent}: uninstall did not restore the original"
    );
    // uninstall leaves no backup file behind unless asked (`--backup`): only init's remains
    assert_eq!(out["backup"], Value::Null, "{out}");
    assert_eq!(backups(&path).len(), 1, "{agent}: uninstall left a backup");
    let out: Value =
        serde_json::from_str(&ok(&cavra(&e, &["--json", "uninstall", agent, scope]))).unwrap();
    assert_eq!(out["change"], "not present");
}

#[test]
fn claude_code_project_cycle() {
    json_cycle(
        "claude-code",
        ".claude/settings.json",
        "claude-code/settings.json",
        "PreToolUse",
        "--project",
    );
}

#[test]
fn claude_code_user_cycle() {
    json_cycle(
        "claude-code",
        ".claude/settings.json",
        "claude-code/settings.json",
        "PreToolUse",
        "--user",
    );
}

#[test]
fn gemini_cycle() {
    json_cycle(
        "gemini",
        ".gemini/settings.json",
        "gemini/settings.json",
        "BeforeTool",
        "--project",
    );
}

#[test]
fn cursor_cycle() {
    json_cycle(
        "cursor",
        ".cursor/hooks.json",
        "cursor/hooks.json",
        "beforeShellExecution",
        "--user",
    );
}

#[test]
fn copilot_cycle() {
    json_cycle(
        "copilot",
        ".github/hooks/cavra.json",
        "copilot/existing.json",
        "preToolUse",
        "--project",
    );
}

#[test]
fn fresh_install_creates_layout_and_uninstall_deletes_file() {
    let e = env();
    let out = ok(&cavra(&e, &["init", "claude-code"]));
    assert!(out.contains("created"), "{out}");
    let path = e.proj.join(".claude/settings.json");
    let v = json_of(&path);
    assert_eq!(v["hooks"]["PreToolUse"][0]["matcher"], "*");
    assert_eq!(
        v["hooks"]["PreToolUse"][0]["hooks"][0]["command"],
        hook_cmd("claude-code")
    );
    for ev in ["PostToolUse", "SessionStart", "SessionEnd"] {
        assert!(v["hooks"][ev].is_array(), "{ev}");
    }
    assert!(
        backups(&path).is_empty(),
        "no backup for a file that did not exist"
    );
    let policy = std::fs::read_to_string(e.proj.join(".cavra/policy.yaml")).unwrap();
    assert!(policy.contains("extends: cavra-coding-baseline"));
    let gi = std::fs::read_to_string(e.proj.join(".cavra/.gitignore")).unwrap();
    for l in ["evidence/", "keys/", "cavra.db*", "cache/"] {
        assert!(gi.lines().any(|x| x == l), "{l}");
    }
    // an existing policy is kept
    std::fs::write(
        e.proj.join(".cavra/policy.yaml"),
        policy.replace("Project policy", "Mine"),
    )
    .unwrap();
    ok(&cavra(&e, &["init", "gemini"]));
    assert!(std::fs::read_to_string(e.proj.join(".cavra/policy.yaml"))
        .unwrap()
        .contains("Mine"));

    let out: Value = serde_json::from_str(&ok(&cavra(&e, &["--json", "doctor"]))).unwrap();
    assert_eq!(out["healthy"], true, "{out}");

    ok(&cavra(&e, &["uninstall", "claude-code"]));
    assert!(
        !path.exists(),
        "a settings file holding only CAVRA's hook is removed"
    );
}

#[test]
fn codex_toml_cycle_keeps_comments() {
    let e = env();
    let path = e.home.join(".codex/config.toml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = fixture("codex/config.toml");
    std::fs::write(&path, &original).unwrap();
    let out = ok(&cavra(&e, &["init", "codex", "--user"]));
    assert!(out.contains("updated"), "{out}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(
            "# Codex configuration (hand-written)\nmodel = \"gpt-5-codex\"   # the default model\n"
        ),
        "{text}"
    );
    assert!(text.contains("# keep me") && text.contains("# MCP servers I use"));
    assert!(
        text.contains(&format!("command = \"{}\"", hook_cmd("codex"))),
        "{text}"
    );
    for ev in ["PreToolUse", "PostToolUse", "SessionStart", "Stop"] {
        assert!(
            text.contains(&format!("[[hooks.{ev}.hooks]]")),
            "{ev}: {text}"
        );
    }
    assert_eq!(backups(&path).len(), 1);
    let out = ok(&cavra(&e, &["init", "codex", "--user"]));
    assert!(out.contains("unchanged"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    ok(&cavra(&e, &["uninstall", "codex", "--user"]));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        original,
        "uninstall restores the file byte for byte"
    );
}

#[test]
fn malformed_settings_are_refused_untouched() {
    let e = env();
    let cases = [
        (
            "claude-code",
            ".claude/settings.json",
            "{\n  \"model\": \"opus\",\n  \"hooks\": {\n}",
            "line 4",
        ),
        (
            "gemini",
            ".gemini/settings.json",
            "{\"a\": [1, 2,]}",
            "line 1",
        ),
        (
            "cursor",
            ".cursor/hooks.json",
            "{\"version\": 1, \"hooks\": []}",
            "not a JSON object",
        ),
        (
            "codex",
            ".codex/config.toml",
            "model = \"x\"\n[features\nhooks = true\n",
            "line 2",
        ),
    ];
    for (agent, rel, bad, pos) in cases {
        let path = e.proj.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bad).unwrap();
        let o = cavra(&e, &["init", agent]);
        assert_eq!(o.status.code(), Some(1), "{agent}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(path.to_str().unwrap()) && err.contains(pos),
            "{agent}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            bad,
            "{agent}: file changed"
        );
        assert!(backups(&path).is_empty());
    }
    assert!(
        !e.proj.join(".cavra/policy.yaml").exists(),
        "a refused init writes nothing"
    );
    let o = cavra(&e, &["init", "copilot", "--user"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(".github/hooks"));
}

#[test]
fn doctor_reports_problems() {
    let e = env();
    // nothing installed
    let o = cavra(&e, &["--json", "doctor"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["healthy"], false);
    assert!(v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["check"] == "agents" && c["ok"] == false));
    // a hook pointing at a binary that is gone
    let p = e.proj.join(".cursor/hooks.json");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, r#"{"version":1,"hooks":{"beforeShellExecution":[{"command":"/nonexistent/cavra hook cursor"}]}}"#).unwrap();
    std::fs::create_dir_all(e.proj.join(".cavra")).unwrap();
    std::fs::write(e.proj.join(".cavra/policy.yaml"), "metadata: [oops\n").unwrap();
    let o = cavra(&e, &["--json", "doctor"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let find = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .cloned()
            .unwrap()
    };
    let c = find("cursor (project)");
    assert_eq!(c["ok"], false);
    assert!(
        c["detail"].as_str().unwrap().contains("/nonexistent/cavra"),
        "{c}"
    );
    assert_eq!(find("policy")["ok"], false);
    // a settings file that does not parse
    std::fs::write(&p, "{oops").unwrap();
    let v: Value = serde_json::from_slice(&cavra(&e, &["--json", "doctor"]).stdout).unwrap();
    let c = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "cursor (project)")
        .cloned()
        .unwrap();
    assert!(
        c["detail"].as_str().unwrap().contains("not valid JSON"),
        "{c}"
    );
}

#[test]
fn uninstall_writes_a_backup_only_with_the_backup_flag() {
    let e = env();
    let path = e.proj.join(".claude/settings.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let original = fixture("claude-code/settings.json");
    std::fs::write(&path, &original).unwrap();
    ok(&cavra(&e, &["init", "claude-code"]));
    assert_eq!(backups(&path).len(), 1);
    ok(&cavra(&e, &["uninstall", "claude-code"]));
    assert_eq!(backups(&path).len(), 1, "no backup without --backup");
    ok(&cavra(&e, &["init", "claude-code"]));
    assert_eq!(backups(&path).len(), 2);
    let out: Value = serde_json::from_str(&ok(&cavra(
        &e,
        &["--json", "uninstall", "claude-code", "--backup"],
    )))
    .unwrap();
    assert_eq!(backups(&path).len(), 3, "--backup keeps a copy");
    assert!(
        out["backup"].as_str().unwrap().contains(".cavra-backup-"),
        "{out}"
    );
    assert_eq!(
        json_of(&path),
        serde_json::from_str::<Value>(&original).unwrap()
    );
}

#[test]
fn init_writes_the_absolute_path_when_cavra_is_not_on_path_and_doctor_says_which() {
    let e = env();
    let exe = Path::new(env!("CARGO_BIN_EXE_cavra"))
        .canonicalize()
        .unwrap();
    // this binary on PATH: the bare name
    ok(&cavra(&e, &["init", "claude-code"]));
    let path = e.proj.join(".claude/settings.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"cavra hook claude-code\""), "{text}");
    assert!(!text.contains(&exe.display().to_string()), "{text}");
    let d = ok(&cavra(&e, &["doctor"]));
    assert!(d.contains("runs `cavra` from PATH"), "{d}");
    // not on PATH: the absolute path, and doctor says it is one
    let out = std::process::Command::new(&exe)
        .args(["--cavra-dir", e.proj.join(".cavra").to_str().unwrap()])
        .args(["init", "cursor"])
        .current_dir(&e.proj)
        .env("HOME", &e.home)
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CAVRA_DIR")
        .output()
        .unwrap();
    ok(&out);
    let text = std::fs::read_to_string(e.proj.join(".cursor/hooks.json")).unwrap();
    assert!(
        text.contains(&format!("{} hook cursor", exe.display())),
        "{text}"
    );
    let d = ok(&cavra(&e, &["doctor"]));
    assert!(d.contains("runs the absolute path"), "{d}");
}
