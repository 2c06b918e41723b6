//! `cavra demo`: the "before the agent acts" scenario, through the real hook path. In a
//! scratch git repository it creates, the demo runs the `cavra` binary's Claude Code hook
//! as a child process with the events an agent would send: safe edits and tests pass
//! silently; a force push, a `.env` read, a disguised `rm -rf`, an unknown MCP server and
//! the agent approving its own request are stopped with the reason and an alternative; an
//! action that needs a person opens an approval request, the demo's person approves it with
//! an approver token the demo issued to that person's identity (the real person channel),
//! and the retry passes once. Then it verifies the evidence log, writes a signed bundle
//! and a posture report into the output directory. No network; nothing outside the output
//! directory is read or written (the children get `$HOME` and the approver directory
//! inside it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// What went wrong running the demo (a step whose outcome differs is not an error: it is
/// reported in [`Report::ok`]).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("`{}` already holds a demo (remove it, or pass --output DIR)", .0.display())]
    Exists(PathBuf),
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed (exit {code}): {output}")]
    Failed {
        command: String,
        code: i32,
        output: String,
    },
    #[error("the approver key of the demo's person")]
    Approver(#[source] cavra_store::StoreError),
    #[error("{0}")]
    Unexpected(String),
}

type Result<T> = std::result::Result<T, DemoError>;

/// The identity of the demo's person (who approves).
pub const PERSON: &str = "alex@demo.example";

/// What a step expects CAVRA to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Allow,
    Block,
    RequireApproval,
    /// A person's action (not a hook call) that must succeed.
    PersonActs,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Block => "block",
            Expect::RequireApproval => "require_approval",
            Expect::PersonActs => "approved",
        }
    }
}

/// One step of the scenario and what CAVRA answered.
#[derive(Debug, Clone)]
pub struct Step {
    /// Who acts: `agent` or `person`.
    pub who: &'static str,
    pub action: String,
    pub expected: Expect,
    /// `allow`, `block`, `require_approval`, `approved` or what was seen instead.
    pub got: String,
    pub rule: String,
    pub reason: String,
    pub alternative: String,
}

impl Step {
    pub fn ok(&self) -> bool {
        self.got == self.expected.as_str()
    }
}

/// The demo's result.
#[derive(Debug, Clone)]
pub struct Report {
    pub steps: Vec<Step>,
    pub repo: PathBuf,
    pub evidence_verified: bool,
    pub evidence_records: u64,
    pub bundle: PathBuf,
    pub bundle_verified: bool,
    pub posture_html: PathBuf,
    pub posture_json: PathBuf,
    pub score: u64,
    pub findings: Vec<String>,
    pub elapsed: Duration,
}

impl Report {
    /// Every step answered as expected and the evidence verified.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(Step::ok) && self.evidence_verified && self.bundle_verified
    }

    pub fn to_json(&self) -> Value {
        json!({
            "ok": self.ok(),
            "repository": self.repo,
            "steps": self.steps.iter().map(|s| json!({
                "who": s.who, "action": s.action, "expected": s.expected.as_str(),
                "decision": s.got, "rule": s.rule, "reason": s.reason,
                "alternative": s.alternative, "ok": s.ok(),
            })).collect::<Vec<_>>(),
            "evidence": {"verified": self.evidence_verified, "records": self.evidence_records},
            "bundle": {"path": self.bundle, "verified": self.bundle_verified},
            "posture": {"html": self.posture_html, "json": self.posture_json,
                "score": self.score, "findings": self.findings},
            "elapsed_ms": u64::try_from(self.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// The decision table and what was written.
    pub fn text(&self) -> String {
        let mut rows = vec![[
            "#".to_string(),
            "WHO".into(),
            "ACTION".into(),
            "CAVRA".into(),
            "RULE".into(),
        ]];
        for (i, s) in self.steps.iter().enumerate() {
            let mark = if s.ok() { "" } else { "  (UNEXPECTED)" };
            rows.push([
                (i + 1).to_string(),
                s.who.to_string(),
                clip(&s.action, 52),
                format!("{}{mark}", s.got),
                s.rule.clone(),
            ]);
        }
        let widths: Vec<usize> = (0..5)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::from("CAVRA demo: an agent works in a scratch repository; every tool call goes through `cavra hook claude-code` first.\n\n");
        for r in &rows {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out.push_str("\nwhat CAVRA told the agent (the reason, and what to do instead):\n");
        for (i, s) in self.steps.iter().enumerate() {
            if s.reason.is_empty() {
                continue;
            }
            out.push_str(&format!("  {}. {}\n", i + 1, s.reason));
            if !s.alternative.is_empty() {
                out.push_str(&format!("     instead: {}\n", s.alternative));
            }
        }
        let yes = |b: bool| if b { "verified" } else { "DOES NOT VERIFY" };
        out.push_str(&format!(
            "\nevidence log   {} ({} records, hash-chained and signed)\nbundle         {} ({})\nposture        {} (score {}/100; JSON: {})\nrepository     {}\n",
            yes(self.evidence_verified),
            self.evidence_records,
            self.bundle.display(),
            yes(self.bundle_verified),
            self.posture_html.display(),
            self.score,
            self.posture_json.display(),
            self.repo.display()
        ));
        out.push_str(&format!(
            "{} in {:.1}s\n",
            if self.ok() {
                "every step answered as expected"
            } else {
                "SOME STEPS DID NOT ANSWER AS EXPECTED"
            },
            self.elapsed.as_secs_f64()
        ));
        out
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One finished child process.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the cavra binary (and git) for the demo, always inside its directory.
struct Runner {
    exe: PathBuf,
    repo: PathBuf,
    cavra_dir: PathBuf,
    home: PathBuf,
    approver: PathBuf,
}

const CLEARED: &[&str] = &[
    "CAVRA_DIR",
    "CAVRA_DB",
    "CAVRA_SERVER",
    "CAVRA_NO_EVIDENCE",
    "CAVRA_NON_INTERACTIVE",
    "CAVRA_EVIDENCE_DIR",
    "CAVRA_KEY_DIR",
    "CAVRA_TOKEN_FILE",
    "CAVRA_REGISTRY",
    "CAVRA_ORG_POLICY",
    "CAVRA_TRUST_ROOT",
    "XDG_CONFIG_HOME",
];

impl Runner {
    fn run(
        &self,
        program: &Path,
        args: &[&str],
        stdin: &str,
        env: &[(&str, &Path)],
    ) -> Result<Ran> {
        use std::io::Write;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.repo)
            .env("HOME", &self.home)
            .env("CAVRA_APPROVER_DIR", &self.approver)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for k in CLEARED {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let spawn = |source| DemoError::Spawn {
            program: program.display().to_string(),
            source,
        };
        let mut child = cmd.spawn().map_err(spawn)?;
        if let Some(mut i) = child.stdin.take() {
            // a child that exits before reading its input is judged by its answer
            let _ = i.write_all(stdin.as_bytes());
        }
        let o = child.wait_with_output().map_err(spawn)?;
        Ok(Ran {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        })
    }

    /// `cavra --cavra-dir <repo>/.cavra ARGS`, which must succeed.
    fn cavra(&self, args: &[&str], env: &[(&str, &Path)]) -> Result<Ran> {
        let dir = self.cavra_dir.display().to_string();
        let mut all = vec!["--cavra-dir", dir.as_str()];
        all.extend_from_slice(args);
        let r = self.run(&self.exe, &all, "", env)?;
        if r.code != 0 {
            return Err(DemoError::Failed {
                command: format!("cavra {}", args.join(" ")),
                code: r.code,
                output: format!("{}{}", r.stdout, r.stderr).trim().to_string(),
            });
        }
        Ok(r)
    }

    fn cavra_json(&self, args: &[&str], env: &[(&str, &Path)]) -> Result<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let r = self.cavra(&all, env)?;
        serde_json::from_str(&r.stdout).map_err(|e| {
            DemoError::Unexpected(format!("`cavra {}` printed no JSON: {e}", args.join(" ")))
        })
    }

    fn git(&self, args: &[&str]) -> Result<()> {
        let r = self.run(Path::new("git"), args, "", &[])?;
        if r.code != 0 {
            return Err(DemoError::Failed {
                command: format!("git {}", args.join(" ")),
                code: r.code,
                output: r.stderr,
            });
        }
        Ok(())
    }

    /// The agent's tool call through `cavra hook claude-code` (a Claude Code `PreToolUse`
    /// event), read back as CAVRA's answer.
    fn hook(&self, tool: &str, input: Value, extra: &[&str]) -> Result<(String, String)> {
        let event = json!({
            "session_id": "demo-session", "transcript_path": self.home.join("t.jsonl"),
            "cwd": self.repo, "permission_mode": "default", "hook_event_name": "PreToolUse",
            "tool_name": tool, "tool_input": input, "tool_use_id": "toolu_demo",
        });
        let dir = self.cavra_dir.display().to_string();
        let mut args = vec!["--cavra-dir", dir.as_str(), "hook", "claude-code"];
        args.extend_from_slice(extra);
        let r = self.run(&self.exe, &args, &event.to_string(), &[])?;
        if r.code == 0 && r.stdout.trim().is_empty() {
            return Ok(("allow".into(), String::new()));
        }
        let v: Value = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
        let out = &v["hookSpecificOutput"];
        let reason = out["permissionDecisionReason"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}{}", r.stdout, r.stderr).trim().to_string());
        let got = match (out["permissionDecision"].as_str(), reason.as_str()) {
            (Some("allow"), _) => "allow",
            (_, r) if r.starts_with("CAVRA require approval") => "require_approval",
            (Some("ask"), _) => "require_approval",
            (Some("deny"), _) => "block",
            _ => "unexpected answer",
        };
        Ok((got.to_string(), reason))
    }
}

/// The rule, the short reason and the alternative of a hook's answer.
fn explain(reason: &str) -> (String, String, String) {
    let rule = reason
        .split("[rule ")
        .nth(1)
        .and_then(|r| r.split([',', ']']).next())
        .unwrap_or_default()
        .to_string();
    let body = reason
        .split_once(": ")
        .map_or(reason, |(_, b)| b)
        .split(" [rule ")
        .next()
        .unwrap_or_default();
    let why = body.split(" — ").next().unwrap_or(body).to_string();
    let alternative = reason
        .split("Safer alternative: ")
        .nth(1)
        .map(|a| {
            a.split(". approval request")
                .next()
                .unwrap_or(a)
                .trim_end_matches('.')
                .to_string()
        })
        .unwrap_or_default();
    (rule, why, alternative)
}

/// One tool call of the agent through the hook, as a step of the table.
fn agent_step(
    r: &Runner,
    action: &str,
    tool: &str,
    input: Value,
    extra: &[&str],
    expected: Expect,
) -> Result<Step> {
    let (got, reason) = r.hook(tool, input, extra)?;
    let (rule, why, alternative) = explain(&reason);
    Ok(Step {
        who: "agent",
        action: action.to_string(),
        expected,
        got,
        rule,
        reason: if reason.is_empty() {
            String::new()
        } else {
            why
        },
        alternative,
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    let err = |source| DemoError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    std::fs::write(path, text).map_err(err)
}

/// The registry of MCP servers the demo's organisation trusts.
const REGISTRY: &str = r#"{"mcp_servers": [{"server_id": "github", "name": "GitHub", "trust_tier": "approved", "approval_state": "approved", "capabilities": ["repository"], "allowed_tools": ["create_pull_request"], "version": "1.4.0"}]}"#;

/// Runs the demo with the cavra binary `exe`, writing into `output` (created; it must
/// not hold a demo already).
pub fn run(exe: &Path, output: &Path) -> Result<Report> {
    let started = Instant::now();
    let repo = output.join("repo");
    if repo.exists() {
        return Err(DemoError::Exists(output.to_path_buf()));
    }
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let home = output.join("home");
    let approver = output.join("approver");
    for d in [&repo, &home] {
        std::fs::create_dir_all(d).map_err(|source| DemoError::Write {
            path: d.clone(),
            source,
        })?;
    }
    let (output, repo, home) = (abs(output), abs(&repo), abs(&home));
    let approver = output.join(approver.file_name().unwrap_or_default());
    let r = Runner {
        exe: exe.to_path_buf(),
        cavra_dir: repo.join(".cavra"),
        repo: repo.clone(),
        home,
        approver: approver.clone(),
    };

    // the scratch repository and CAVRA's installation into it
    write(&repo.join("README.md"), "# shop\n\nA tiny service.\n")?;
    write(
        &repo.join("src/lib.rs"),
        "pub fn total(a: u32, b: u32) -> u32 {\n    a + b\n}\n",
    )?;
    write(
        &repo.join(".env"),
        "STRIPE_SECRET_KEY=sk_live_demo_not_a_real_key\n",
    )?;
    write(&repo.join(".gitignore"), ".env\n")?;
    write(
        &repo.join("k8s/deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\n",
    )?;
    r.git(&["init", "-q", "-b", "main"])?;
    r.git(&["add", "."])?;
    r.git(&[
        "-c",
        "user.name=demo",
        "-c",
        "user.email=demo@demo.example",
        "commit",
        "-qm",
        "start",
    ])?;
    r.cavra(&["init", "claude-code"], &[])?;

    // the demo's person: an approver key, and credentials issued to their identity
    let now = time::OffsetDateTime::now_utc();
    let key = cavra_store::ApproverKey::init(&approver, now).map_err(DemoError::Approver)?;
    let issue = |roles: &[cavra_store::Role], name: &str| -> Result<PathBuf> {
        let t = key
            .issue_token(PERSON, roles, now, Duration::from_secs(3600))
            .map_err(DemoError::Approver)?;
        let file = output.join("person").join(name);
        write(&file, &t)?;
        Ok(file)
    };
    let admin = issue(&[cavra_store::Role::Admin], "admin.token")?;
    let approve = issue(&[cavra_store::Role::Approve], "approver.token")?;
    let registry = output.join("mcp-registry.json");
    write(&registry, REGISTRY)?;
    let reg = registry.display().to_string();
    r.cavra(
        &["registry", "mcp", "import", &reg],
        &[("CAVRA_TOKEN_FILE", &admin)],
    )?;

    // the agent at work
    let mut steps = Vec::new();
    let mut agent = |action: &str, tool: &str, input: Value, extra: &[&str], expected: Expect| {
        steps.push(agent_step(&r, action, tool, input, extra, expected)?);
        Ok::<(), DemoError>(())
    };
    let lib = repo.join("src/lib.rs");
    agent(
        "edit src/lib.rs",
        "Edit",
        json!({"file_path": lib, "old_string": "a + b", "new_string": "a.saturating_add(b)"}),
        &[],
        Expect::Allow,
    )?;
    agent(
        "run the tests: cargo test",
        "Bash",
        json!({"command": "cargo test"}),
        &[],
        Expect::Allow,
    )?;
    agent(
        "git push --force origin main",
        "Bash",
        json!({"command": "git push --force origin main"}),
        &[],
        Expect::Block,
    )?;
    agent(
        "read .env",
        "Read",
        json!({"file_path": repo.join(".env")}),
        &[],
        Expect::Block,
    )?;
    let rm = "x=rm; $x -rf ~";
    agent(
        &format!("disguised rm -rf: {rm}"),
        "Bash",
        json!({"command": rm}),
        &[],
        Expect::Block,
    )?;
    agent(
        "MCP: shady-drive upload_file (not in the registry)",
        "mcp__shady-drive__upload_file",
        json!({"path": ".env"}),
        &[],
        Expect::Block,
    )?;
    agent(
        "MCP: github create_pull_request (approved)",
        "mcp__github__create_pull_request",
        json!({"title": "saturating total"}),
        &[],
        Expect::Allow,
    )?;
    let deploy = json!({"command": "kubectl apply -f k8s/deploy.yaml"});
    agent(
        "kubectl apply -f k8s/deploy.yaml (headless)",
        "Bash",
        deploy.clone(),
        &["--non-interactive"],
        Expect::RequireApproval,
    )?;
    let pending = r.cavra_json(&["approvals", "list", "--status", "pending"], &[])?;
    let id = pending
        .as_array()
        .and_then(|a| a.first())
        .and_then(|a| a["approval_id"].as_str())
        .ok_or_else(|| {
            DemoError::Unexpected(format!("no pending approval request was filed: {pending}"))
        })?
        .to_string();
    let own = format!("cavra approvals approve {id} --reason \"looks fine\"");
    agent(
        &format!("approve its own request: {own}"),
        "Bash",
        json!({"command": own}),
        &[],
        Expect::Block,
    )?;
    let approved = r.cavra_json(
        &[
            "approvals",
            "approve",
            &id,
            "--reason",
            "reviewed the manifest",
            "--as",
            PERSON,
        ],
        &[("CAVRA_TOKEN_FILE", &approve)],
    )?;
    let state = approved["state"]
        .as_str()
        .unwrap_or("unexpected answer")
        .to_string();
    steps.push(Step {
        who: "person",
        action: format!("{PERSON} approves {id} (approver token)"),
        expected: Expect::PersonActs,
        got: state,
        rule: String::new(),
        reason: String::new(),
        alternative: String::new(),
    });
    let mut agent = |action: &str, expected: Expect| {
        let step = agent_step(
            &r,
            action,
            "Bash",
            deploy.clone(),
            &["--non-interactive"],
            expected,
        )?;
        steps.push(step);
        Ok::<(), DemoError>(())
    };
    agent("retry kubectl apply (approved, passes once)", Expect::Allow)?;
    agent(
        "kubectl apply again (the approval is spent)",
        Expect::RequireApproval,
    )?;

    // the evidence, a bundle, the posture
    let v = r.cavra_json(&["evidence", "verify"], &[])?;
    let evidence_verified = v["ok"].as_bool() == Some(true);
    let evidence_records = v["records"].as_u64().unwrap_or(0);
    let bundle = output.join("evidence-bundle.zip");
    let b = bundle.display().to_string();
    r.cavra(&["evidence", "bundle", "--all", "--output", &b], &[])?;
    let bv = r.cavra_json(&["evidence", "verify", &b], &[])?;
    let bundle_verified = bv["ok"].as_bool() == Some(true);
    let posture_html = output.join("posture.html");
    let posture_json = output.join("posture.json");
    let h = posture_html.display().to_string();
    let p = r.cavra_json(&["posture", "--since", "1h", "--html", &h], &[])?;
    write(&posture_json, &format!("{p:#}\n"))?;
    let findings = p["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|x| x["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(Report {
        steps,
        repo,
        evidence_verified,
        evidence_records,
        bundle,
        bundle_verified,
        posture_html,
        posture_json,
        score: p["score"].as_u64().unwrap_or(0),
        findings,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_into_rule_reason_and_alternative() {
        let r = "CAVRA block: a force push rewrites shared history — simple command 1: `git push --force origin main` [rule git.force_push, severity high; inspected 1 simple command]. Safer alternative: `git push --force-with-lease` to your own feature branch";
        let (rule, why, alt) = explain(r);
        assert_eq!(rule, "git.force_push");
        assert_eq!(why, "a force push rewrites shared history");
        assert_eq!(
            alt,
            "`git push --force-with-lease` to your own feature branch"
        );
        assert_eq!(explain(""), (String::new(), String::new(), String::new()));
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
