//! The evaluator: routes a request to the guards, collects every rule that matched, and
//! decides by precedence: block > require_approval > allow > the pack's default.

pub mod cli;
pub mod command;
pub mod file;
pub mod git;
pub mod mcp;
pub mod programs;
pub mod scripts;
pub mod sql;

use crate::model::*;
use crate::paths::{self, PathContext};
use crate::policy::compile::{Access, CompiledPack, Matcher, Rule, SeverityRule};
pub use mcp::{McpRegistry, McpServerEntry};

/// An active break-glass override supplied by the caller (from the approvals store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub id: String,
    pub identity: String,
    pub reason: String,
}

/// Everything besides the pack and the request that evaluation may consult.
#[derive(Debug, Clone, Default)]
pub struct EvalEnv<'a> {
    pub registry: Option<&'a McpRegistry>,
    pub break_glass: Option<BreakGlass>,
    pub limits: Option<cavra_shell::Limits>,
    /// Reads script files a command runs, so their commands are judged too.
    pub scripts: Option<&'a dyn scripts::ScriptReader>,
}

struct Collector {
    matches: Vec<RuleMatch>,
    /// Commands not covered by an allow rule (for packs whose default asks).
    uncovered: Vec<String>,
    scope: Option<String>,
    family: &'static str,
    /// How deep we are inside scripts run by scripts.
    script_depth: usize,
    /// Scripts already inspected (no loops).
    scripts_seen: Vec<String>,
    /// Nested command lines (git alias bodies, exec config values) already judged, and
    /// the bytes judged so far: a body run a thousand times is judged once, and the total
    /// is bounded.
    nested_seen: std::collections::HashSet<String>,
    nested_bytes: usize,
}

impl Collector {
    fn push(&mut self, rule: &Rule, matched: Option<String>, text_for_severity: &str) {
        let severity = match rule.severity {
            SeverityRule::Fixed(s) => s,
            SeverityRule::ReferenceCommandBlock => {
                if text_for_severity.contains("apply") || text_for_severity.contains("delete") {
                    Severity::Critical
                } else {
                    Severity::High
                }
            }
        };
        if self
            .matches
            .iter()
            .any(|m| m.rule_id == rule.id && m.matched == matched)
        {
            return;
        }
        self.matches.push(RuleMatch {
            rule_id: rule.id.clone(),
            effect: rule.effect,
            severity,
            reason: rule.reason.clone(),
            matched,
            approver_group: rule.approver_group.clone(),
            controls: rule.controls.clone(),
            alternative: rule.alternative.clone(),
        });
    }

    fn push_builtin(
        &mut self,
        rule_id: &str,
        effect: Effect,
        severity: Severity,
        reason: String,
        matched: Option<String>,
        approver_group: Option<String>,
    ) {
        self.matches.push(RuleMatch {
            rule_id: rule_id.to_string(),
            effect,
            severity,
            reason,
            matched,
            approver_group,
            controls: vec![],
            alternative: None,
        });
    }
}

fn path_ctx(req: &ActionRequest) -> PathContext {
    PathContext {
        cwd: req.cwd.as_deref().map(paths::normalize),
        repo_root: req.repo_root.as_deref().map(paths::normalize),
        home: req.home.as_deref().map(paths::normalize),
    }
}

/// Evaluates a request. Never panics on input; an internal error is a block.
pub fn evaluate(pack: &CompiledPack, req: &ActionRequest, env: &EvalEnv<'_>) -> Decision {
    let mut c = Collector {
        matches: Vec::new(),
        uncovered: Vec::new(),
        scope: None,
        family: "engine",
        script_depth: 0,
        scripts_seen: Vec::new(),
        nested_seen: Default::default(),
        nested_bytes: 0,
    };
    let ctx = path_ctx(req);
    match req.action {
        None => c.push_builtin(
            "engine.invalid_request",
            Effect::Block,
            Severity::High,
            "the request names no action type".into(),
            None,
            None,
        ),
        Some(ActionType::ReadFile) => file_request(pack, req, &ctx, Access::Read, &mut c),
        Some(ActionType::WriteFile) => file_request(pack, req, &ctx, Access::Write, &mut c),
        Some(ActionType::DeleteFile) => file_request(pack, req, &ctx, Access::Delete, &mut c),
        Some(ActionType::ExecuteCommand) => {
            command_request(pack, req, &ctx, env, &req.target, None, &mut c)
        }
        Some(ActionType::GitOperation) => git_request(pack, req, &ctx, env, &mut c),
        Some(ActionType::McpToolCall) => mcp_request(pack, req, &ctx, env, &mut c),
        Some(ActionType::NetworkRequest) => network_request(pack, &req.target, None, &mut c),
        Some(ActionType::PullRequest) => {
            c.family = "git";
            if pack.git.require_ai_attestation {
                c.push_builtin(
                    "git.pull_request.allow_with_attestation",
                    Effect::Allow,
                    Severity::Medium,
                    "pull requests are allowed with an AI attestation".into(),
                    None,
                    None,
                );
            } else {
                c.push_builtin(
                    "git.pull_request.allow",
                    Effect::Allow,
                    Severity::Low,
                    "pull requests are allowed".into(),
                    None,
                    None,
                );
            }
        }
    }
    decide(pack, req, env, c)
}

fn file_request(
    pack: &CompiledPack,
    req: &ActionRequest,
    ctx: &PathContext,
    access: Access,
    c: &mut Collector,
) {
    c.family = "filesystem";
    if req.target.trim().is_empty() {
        c.push_builtin(
            "engine.invalid_request",
            Effect::Block,
            Severity::High,
            "the request names no file".into(),
            None,
            None,
        );
        return;
    }
    let resolved = paths::resolve(&req.target, ctx, None);
    let facts = file::classify(&resolved, ctx, &pack.defaults.temp_dirs);
    c.scope = Some(format!("{} `{}`", access.as_str(), facts.path));
    check_file(pack, ctx, access, &facts, None, c);
}

fn check_file(
    pack: &CompiledPack,
    ctx: &PathContext,
    access: Access,
    facts: &file::PathFacts,
    via: Option<&str>,
    c: &mut Collector,
) {
    check_file_access(pack, ctx, access, facts, via, false, c)
}

/// `from_template`: the write copies a template into place, so rules that cover only
/// replacing writes (`access: [overwrite]`) do not apply.
fn check_file_access(
    pack: &CompiledPack,
    ctx: &PathContext,
    access: Access,
    facts: &file::PathFacts,
    via: Option<&str>,
    from_template: bool,
    c: &mut Collector,
) {
    for r in &pack.rules {
        if let Matcher::File(m) = &r.matcher {
            let overwrite_only =
                m.access.contains(&Access::Write) && !m.access.contains(&Access::Append);
            if from_template && access == Access::Write && overwrite_only {
                continue;
            }
            if file::matches(m, access, facts, ctx) {
                let matched = match via {
                    Some(v) => format!("{v} {} `{}`", verb(access), facts.path),
                    None => format!("{} `{}`", access.as_str(), facts.path),
                };
                c.push(r, Some(matched), &facts.path);
            }
        }
    }
}

fn verb(a: Access) -> &'static str {
    match a {
        Access::Read => "reads",
        Access::Write => "writes",
        Access::Append => "appends to",
        Access::Delete => "deletes",
    }
}

fn shell_options(pack: &CompiledPack, env: &EvalEnv<'_>) -> cavra_shell::AnalyzeOptions {
    cavra_shell::AnalyzeOptions {
        limits: env.limits.clone().unwrap_or_default(),
        extra_wrappers: pack.wrappers.clone(),
        extra_shells: Vec::new(),
    }
}

fn command_request(
    pack: &CompiledPack,
    req: &ActionRequest,
    ctx: &PathContext,
    env: &EvalEnv<'_>,
    cmd: &str,
    via: Option<&str>,
    c: &mut Collector,
) {
    if c.family == "engine" {
        c.family = "commands";
    }
    if cmd.is_empty() {
        c.push_builtin(
            "engine.invalid_request",
            Effect::Block,
            Severity::High,
            "the request names no command".into(),
            None,
            None,
        );
        return;
    }
    if cmd.trim().is_empty() {
        // spaces, tabs, newlines, NBSP: the shell runs nothing
        if c.scope.is_none() {
            c.scope = Some("no command (whitespace only)".into());
        }
        return;
    }
    let analysis = cavra_shell::analyze(cmd, &shell_options(pack, env));
    let prefix = |origin: &str| match via {
        Some(v) => format!("{v}, {origin}"),
        None => origin.to_string(),
    };
    for p in &analysis.problems {
        c.push_builtin(
            "commands.unparseable",
            pack.defaults.unparseable_command,
            Severity::Medium,
            format!("CAVRA could not fully analyse this command: {}", p.reason),
            Some(prefix(&p.origin)),
            Some(pack.defaults.approver_group.clone()),
        );
    }
    let analyzer = command::Analyzer {
        pack,
        ctx,
        branch: req.git_branch.as_deref(),
        git_line: Default::default(),
    };
    let whole = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
    // reference-style block/approval patterns also see the whole line (`curl *|*sh*`)
    for r in &pack.rules {
        if let Matcher::CommandText(globs) = &r.matcher {
            if r.effect != Effect::Allow && globs.iter().any(|g| g.matches(&whole)) {
                c.push(r, Some(prefix(&format!("command line `{whole}`"))), &whole);
            }
        }
    }
    let mut n: i32 = 0;
    // files written by earlier commands of this line, with their text when it is known
    // (`echo 'rm -rf ~' > x.sh; sh x.sh` runs what was just written, not what is on disk)
    let mut written_here: Vec<(String, Option<String>)> = Vec::new();
    // files filled with downloaded content by earlier commands of this line
    // (`curl -o f URL && sh f` runs remote code as surely as `curl URL | sh`)
    let mut downloaded_here: Vec<String> = Vec::new();
    // programs that run another program of their own (`cargo run -- ARGS` runs a binary)
    let looked_through: Vec<cavra_shell::Invocation> = analysis
        .invocations
        .iter()
        .filter_map(command::cargo_run_target)
        .collect();
    for inv in analysis.invocations.iter().chain(&looked_through) {
        if inv.program.is_empty() && !inv.dynamic_program {
            continue;
        }
        n = n.saturating_add(1);
        let mut facts = analyzer.facts(inv, &analysis.invocations);
        if !downloaded_here.is_empty() {
            facts.runs_download =
                scripts::script_of(&facts, ctx).is_some_and(|s| downloaded_here.contains(&s.path));
        }
        let label = prefix(&format!("{}: `{}`", inv.origin, inv.text));
        // the CLI table: destructive verbs by program, and help / dry-run invocations that
        // do nothing (no native command rule applies to those; allow rules still may)
        let verdict = cli::judge(pack, &facts);
        let harmless = verdict.harmless.is_some();
        let mut allowed = false;
        for r in &pack.rules {
            let live = !harmless || r.effect == Effect::Allow;
            let hit = match &r.matcher {
                Matcher::CommandText(globs) => globs
                    .iter()
                    .any(|g| g.matches(&inv.text) || g.matches(&facts.canonical_text)),
                Matcher::Command(m) => live && command::matches(m, &facts),
                Matcher::Git(m) => live && facts.git.as_ref().is_some_and(|g| git::matches(m, g)),
                _ => false,
            };
            if hit {
                if r.effect == Effect::Allow {
                    allowed = true;
                }
                c.push(r, Some(label.clone()), &inv.text);
            }
        }
        for (r, what) in &verdict.hits {
            c.push(r, Some(format!("{label} (CLI table: {what})")), &inv.text);
        }
        if let Some(g) = facts.git.as_ref().filter(|_| !harmless) {
            builtin_git(pack, g, Some(label.clone()), c);
        }
        // command lines this one runs (a git alias body, an exec config value)
        for n in &facts.nested {
            if c.nested_seen.contains(&n.command) {
                continue;
            }
            let bytes = c.nested_bytes.saturating_add(n.command.len());
            if c.script_depth >= MAX_SCRIPT_DEPTH || bytes > MAX_NESTED_BYTES {
                // fail closed: what is not judged is not allowed silently
                c.push_builtin(
                    "commands.unparseable",
                    pack.defaults.unparseable_command,
                    Severity::Medium,
                    format!(
                        "CAVRA could not fully analyse this command: {} nests too deep or expands too much",
                        n.origin
                    ),
                    Some(label.clone()),
                    Some(pack.defaults.approver_group.clone()),
                );
                continue;
            }
            c.nested_bytes = bytes;
            c.nested_seen.insert(n.command.clone());
            c.script_depth = c.script_depth.saturating_add(1);
            let via = format!("{label}, in {}", n.origin);
            command_request(pack, req, ctx, env, &n.command, Some(&via), c);
            c.script_depth = c.script_depth.saturating_sub(1);
        }
        for a in &facts.accesses {
            // help and dry runs touch no operand; redirections still happen
            if harmless && !cli::is_redirect_access(inv, a) {
                continue;
            }
            check_file_access(
                pack,
                ctx,
                a.access,
                &a.facts,
                Some(&label),
                a.from_template,
                c,
            );
        }
        // URLs handed to downloaders go through the network rules
        if programs::is_downloader(&facts.program, facts.spec.as_ref()) {
            for a in inv.argv.iter().skip(1) {
                if a.value.contains("://") {
                    network_request(pack, &a.value, Some(&label), c);
                }
            }
        }
        let refs = scripts::script_of(&facts, ctx)
            .into_iter()
            .chain(scripts::makefile_of(&facts, ctx))
            // `--help` reads no script; a dry run still may (`make -n` evaluates the
            // Makefile and runs `+` lines), so it is inspected
            .filter(|_| verdict.harmless != Some("help"));
        for sref in refs {
            let source = match written_here.iter().rev().find(|(p, _)| *p == sref.path) {
                Some((_, Some(text))) => ScriptSource::Text(text.clone()),
                Some((_, None)) => ScriptSource::Unknown(
                    "it is written earlier in this command line and its content is not known before it runs"
                        .into(),
                ),
                None => match env.scripts {
                    Some(reader) => ScriptSource::Reader(reader),
                    None => continue,
                },
            };
            inspect_script(pack, req, ctx, env, source, &sref, &label, c);
        }
        downloaded_here.extend(scripts::downloads_written(&facts, ctx));
        for (path, text) in scripts::files_written(inv, &facts, &analysis.invocations) {
            // appending to a file: what is there (known from this line, or on disk) + text
            let text = match text {
                scripts::Written::Replaced(t) => Some(t),
                scripts::Written::Appended(t) => {
                    let before = match written_here.iter().rev().find(|(p, _)| *p == path) {
                        Some((_, known)) => known.clone(),
                        None => env.scripts.and_then(|r| r.read_script(&path).ok()),
                    };
                    before.map(|b| b + &t)
                }
                scripts::Written::Unknown => None,
            };
            written_here.push((path, text));
        }
        if !allowed {
            c.uncovered.push(label);
        }
    }
    let nested = analysis.invocations.iter().filter(|i| i.depth > 0).count();
    let mut scope = format!("{n} simple command{}", if n == 1 { "" } else { "s" });
    if nested > 0 {
        scope.push_str(&format!(" ({nested} inside nested shells or code)"));
    }
    if !analysis.problems.is_empty() {
        scope.push_str(&format!(
            ", {} part(s) not understood",
            analysis.problems.len()
        ));
    }
    if c.scope.is_none() {
        c.scope = Some(scope);
    }
}

const MAX_SCRIPT_DEPTH: usize = 3;
/// Total bytes of nested command lines (alias bodies, exec config values) judged for one
/// request.
const MAX_NESTED_BYTES: usize = 1 << 20;

/// Where the text of a script comes from.
enum ScriptSource<'a> {
    /// The file as it is now.
    Reader(&'a dyn scripts::ScriptReader),
    /// Written by an earlier command of the same line, with this text.
    Text(String),
    /// Written by an earlier command of the same line; why its text is not known.
    Unknown(String),
}

#[allow(clippy::too_many_arguments)]
fn inspect_script(
    pack: &CompiledPack,
    req: &ActionRequest,
    ctx: &PathContext,
    env: &EvalEnv<'_>,
    source: ScriptSource<'_>,
    sref: &scripts::ScriptRef,
    label: &str,
    c: &mut Collector,
) {
    if c.script_depth >= MAX_SCRIPT_DEPTH || c.scripts_seen.contains(&sref.path) {
        return;
    }
    c.scripts_seen.push(sref.path.clone());
    let not_inspected = |c: &mut Collector, why: String| {
        if pack.defaults.uninspected_script != Effect::Allow {
            c.push_builtin(
                "scripts.not_inspected",
                pack.defaults.uninspected_script,
                Severity::Medium,
                format!("script `{}` was not inspected: {why}", sref.written),
                Some(label.to_string()),
                Some(pack.defaults.approver_group.clone()),
            );
        }
    };
    let read = match source {
        ScriptSource::Reader(reader) => reader.read_script(&sref.path),
        ScriptSource::Text(t) => Ok(t),
        ScriptSource::Unknown(why) => {
            not_inspected(c, why);
            return;
        }
    };
    let text = match read {
        Ok(t) => t,
        Err(e) => {
            // an interpreter's missing file is its own error, not a hidden shell script
            if sref.kind != scripts::ScriptKind::MaybeShell {
                not_inspected(c, e);
            }
            return;
        }
    };
    let opts = shell_options(pack, env);
    let chunks: Vec<(usize, String)> = match &sref.kind {
        scripts::ScriptKind::Shell => scripts::shell_chunks(&text, &opts),
        scripts::ScriptKind::MaybeShell => {
            if !scripts::is_shell_text(&text) {
                return;
            }
            scripts::shell_chunks(&text, &opts)
        }
        scripts::ScriptKind::Make(targets) => scripts::make_recipes(&text, targets),
    };
    c.script_depth = c.script_depth.saturating_add(1);
    for (line, chunk) in chunks {
        let via = format!("{label}, in script `{}` line {line}", sref.written);
        command_request(pack, req, ctx, env, &chunk, Some(&via), c);
    }
    c.script_depth = c.script_depth.saturating_sub(1);
}

fn builtin_git(pack: &CompiledPack, g: &git::GitFacts, matched: Option<String>, c: &mut Collector) {
    if g.op == "push" && g.protected && pack.git.block_direct_push {
        c.push_builtin(
            "git.protected_branch.block_direct_push",
            Effect::Block,
            Severity::High,
            format!(
                "direct push to protected branch `{}`",
                g.branches.join("`, `")
            ),
            matched,
            None,
        );
        if let Some(last) = c.matches.last_mut() {
            last.alternative = Some("push to a feature branch and open a pull request".into());
        }
    }
}

fn git_request(
    pack: &CompiledPack,
    req: &ActionRequest,
    ctx: &PathContext,
    env: &EvalEnv<'_>,
    c: &mut Collector,
) {
    c.family = "git";
    let t = req.target.trim();
    if t.starts_with("git ") || t == "git" {
        command_request(pack, req, ctx, env, t, None, c);
        return;
    }
    let op = req.operation.as_deref().unwrap_or("push");
    let facts = git::request_facts(op, t, &pack.git.protected_branches);
    let label = Some(format!("git {op} `{t}`"));
    for r in &pack.rules {
        if let Matcher::Git(m) = &r.matcher {
            if git::matches(m, &facts) {
                c.push(r, label.clone(), t);
            }
        }
    }
    builtin_git(pack, &facts, label, c);
    // the same git analysis as the equivalent command: `force_push` of `origin/main` is
    // judged as `git push --force origin main`
    // (their rules apply; the pack's command default does not: the request is a git
    // operation, which the git rules above cover)
    let uncovered = c.uncovered.len();
    for cmd in git::equivalent_commands(op, t) {
        command_request(pack, req, ctx, env, &cmd, None, c);
    }
    c.uncovered.truncate(uncovered);
    c.scope = Some(format!("git {op} to `{t}`"));
}

fn parse_mcp_target(req: &ActionRequest) -> (String, String, serde_json::Value, Option<String>) {
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

fn mcp_request(
    pack: &CompiledPack,
    req: &ActionRequest,
    ctx: &PathContext,
    env: &EvalEnv<'_>,
    c: &mut Collector,
) {
    c.family = "mcp";
    let (server, tool, args, capability) = parse_mcp_target(req);
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
                let state = e.approval_state.as_deref().unwrap_or("approved");
                if e.trust_tier == "blocked" || state == "denied" || state == "blocked" {
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
                    let class = e.tool_classes.get(&tool).map(String::as_str);
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
            if mcp::matches(m, &server, &tool, &args, &protected) {
                c.push(r, Some(label.clone()), &tool);
            }
        }
    }
    // arguments that are paths or commands go through those guards
    let access = if mcp::tool_deletes(&tool) {
        Access::Delete
    } else if mcp::tool_writes(&tool) {
        Access::Write
    } else {
        Access::Read
    };
    for key in mcp::PATH_KEYS {
        for v in mcp::arg_values(&args, key) {
            if v.contains("://") && !v.starts_with("file://") {
                continue;
            }
            let p = v.trim_start_matches("file://");
            let resolved = paths::resolve(p, ctx, None);
            let facts = file::classify(&resolved, ctx, &pack.defaults.temp_dirs);
            check_file(
                pack,
                ctx,
                access,
                &facts,
                Some(&format!("{label} argument `{key}`")),
                c,
            );
        }
    }
    for key in mcp::COMMAND_KEYS {
        for v in mcp::arg_values(&args, key) {
            command_request(
                pack,
                req,
                ctx,
                env,
                &v,
                Some(&format!("{label} argument `{key}`")),
                c,
            );
        }
    }
    // SQL in arguments is judged like `psql -c` (the same SQL rules as the command guard)
    for (key, sql) in mcp::sql_arguments(&tool, &args) {
        let line = cavra_shell::render_argv(&["psql", "-c", sql.as_str()]);
        // only the SQL rules speak here: the synthetic `psql` is no command to cover
        let uncovered = c.uncovered.len();
        command_request(
            pack,
            req,
            ctx,
            env,
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

fn network_request(pack: &CompiledPack, url: &str, via: Option<&str>, c: &mut Collector) {
    if c.family == "engine" {
        c.family = "network";
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port.rsplit('@').next().unwrap_or(host_port);
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or("")
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or("")
    }
    .to_ascii_lowercase();
    for r in &pack.rules {
        if let Matcher::Network(m) = &r.matcher {
            let host_hit = m.hosts.is_empty() || m.hosts.iter().any(|g| g.matches(&host));
            let scheme_hit =
                m.schemes.is_empty() || m.schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme));
            if host_hit && scheme_hit {
                let matched = match via {
                    Some(v) => format!("{v} contacts `{host}`"),
                    None => format!("request to `{host}`"),
                };
                c.push(r, Some(matched), url);
            }
        }
    }
    if c.scope.is_none() {
        c.scope = Some(format!("network request to `{host}`"));
    }
}

fn rank(e: Effect) -> u8 {
    match e {
        Effect::Block => 3,
        Effect::RequireApproval => 2,
        Effect::Allow => 1,
    }
}

fn decide(
    pack: &CompiledPack,
    req: &ActionRequest,
    env: &EvalEnv<'_>,
    mut c: Collector,
) -> Decision {
    let access_default = |req: &ActionRequest| match req.action {
        Some(ActionType::ReadFile) => "filesystem.read.allow",
        Some(ActionType::WriteFile) | Some(ActionType::DeleteFile) => "filesystem.write.allow",
        Some(ActionType::GitOperation) => "git.allow",
        Some(ActionType::McpToolCall) => "mcp.server.trust.allow",
        Some(ActionType::NetworkRequest) => "network.default.allow",
        _ => "commands.default.allow",
    };
    let has_blocking = c.matches.iter().any(|m| m.effect != Effect::Allow);
    // the pack's default for commands no allow rule covers
    if !has_blocking
        && pack.defaults.commands != Effect::Allow
        && matches!(c.family, "commands" | "git" | "mcp")
    {
        if let Some(first) = c.uncovered.first().cloned() {
            let id = match pack.defaults.commands {
                Effect::Block => "commands.default.block",
                _ => "commands.default.require_approval",
            };
            c.push_builtin(
                id,
                pack.defaults.commands,
                Severity::Medium,
                "no allow rule covers this command".into(),
                Some(first),
                Some(pack.defaults.approver_group.clone()),
            );
        }
    }
    // order: effect, then severity, then first found
    // a stable sort keeps "first found" among equals
    let mut matches: Vec<RuleMatch> = c.matches.clone();
    matches.sort_by(|x, y| {
        rank(y.effect)
            .cmp(&rank(x.effect))
            .then(y.severity.cmp(&x.severity))
    });
    let (enforced, rule_id, severity, reason, approver_group, alternative) = match matches.first() {
        Some(m) => {
            let reason = match &m.matched {
                Some(x) => format!("{} — {}", m.reason, x),
                None => m.reason.clone(),
            };
            let outcome = match m.effect {
                Effect::Block => Outcome::Block,
                Effect::RequireApproval => Outcome::RequireApproval,
                Effect::Allow => Outcome::Allow,
            };
            let group = if m.effect == Effect::RequireApproval {
                m.approver_group
                    .clone()
                    .or_else(|| Some(pack.defaults.approver_group.clone()))
            } else {
                None
            };
            (
                outcome,
                m.rule_id.clone(),
                m.severity,
                reason,
                group,
                m.alternative.clone(),
            )
        }
        None => (
            Outcome::Allow,
            access_default(req).to_string(),
            Severity::Low,
            "no rule restricts this action".to_string(),
            None,
            None,
        ),
    };
    let top_effect = matches.first().map(|m| m.effect);
    let mut controls: Vec<String> = Vec::new();
    for m in matches.iter().filter(|m| Some(m.effect) == top_effect) {
        for x in &m.controls {
            if !controls.contains(x) {
                controls.push(x.clone());
            }
        }
    }
    if controls.is_empty() && enforced != Outcome::Allow {
        controls = pack.compliance.clone();
    }
    let mode = req.mode.unwrap_or(pack.mode);
    let mut decision = enforced;
    let mut reason = reason;
    if enforced != Outcome::Allow {
        if let Some(bg) = &env.break_glass {
            decision = Outcome::BreakGlass;
            reason = format!(
                "BREAK-GLASS by `{}` ({}): would have been {} — {}",
                bg.identity,
                bg.reason,
                enforced.as_str(),
                reason
            );
        } else if mode == Mode::Shadow {
            decision = Outcome::Shadow;
            reason = format!(
                "shadow mode: would have been {} — {}",
                enforced.as_str(),
                reason
            );
        }
    }
    let mut rule_ids = vec![rule_id.clone()];
    for m in &matches {
        if !rule_ids.contains(&m.rule_id) {
            rule_ids.push(m.rule_id.clone());
        }
    }
    Decision {
        decision,
        proceed: decision.proceeds(),
        rule_id,
        rule_ids,
        severity,
        reason,
        approver_group,
        controls,
        policy: pack.policy_ref(),
        request_hash: req.hash(),
        action_type: req
            .action
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
        target: req.target.clone(),
        mode,
        scope: c.scope,
        alternative,
        enforced_decision: enforced,
        matches,
        evaluation_us: 0.0,
    }
}

#[cfg(test)]
mod nested_tests {
    use super::*;

    fn eval(cmd: &str) -> Decision {
        let pack = crate::policy::bundled::compiled(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline");
        let mut req = ActionRequest::new(ActionType::ExecuteCommand, cmd);
        req.cwd = Some("/home/dev/app".into());
        req.home = Some("/home/dev".into());
        evaluate(&pack, &req, &EvalEnv::default())
    }

    /// Thousands of git commands, alias definitions and invocations on one line are judged
    /// in linear time (once quadratic: a minute for 5,000 commands, so the hook timed out).
    #[test]
    fn many_git_aliases_on_one_line_stay_linear() {
        let mut parts: Vec<String> = (0..2000)
            .map(|i| format!("git config alias.x{i} st"))
            .collect();
        parts.push("git config alias.last '!rm -rf ~'".into());
        parts.extend((0..2000).map(|i| format!("git x{i}")));
        parts.extend((0..500).map(|_| "git push origin feature".to_string()));
        parts.push("git last".into());
        let started = std::time::Instant::now();
        let d = eval(&parts.join("; "));
        assert_eq!(d.rule_id, "commands.destructive.rm_recursive");
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    /// A body run many times is judged once; nesting past the limit fails closed.
    #[test]
    fn alias_bodies_are_bounded_and_fail_closed() {
        let body = vec!["true"; 2000].join(";");
        let line = format!(
            "git config alias.x '!{body}'; {}",
            vec!["git x"; 2000].join("; ")
        );
        assert_eq!(eval(&line).decision, Outcome::Allow);
        let deep = r#"git -c alias.a='!git -c alias.b="!git -c alias.c=\"!git -c alias.d=\\\"!rm -rf ~\\\" d\" c" b' a"#;
        let d = eval(deep);
        assert_ne!(d.decision, Outcome::Allow, "{}", d.reason);
    }
}
