//! The evaluator: routes a request to the guards, collects every rule that matched, and
//! decides by precedence: block > require_approval > allow > the pack's default.
//!
//! This module holds the dispatcher ([`evaluate`]), the collector of matches and the
//! precedence step (`decide`). Each guard owns its request handling: `file::request`,
//! `command::request` (with `scripts::inspect` for scripts a command runs),
//! `git::request` / `git::pull_request`, `mcp::request`, `network::request`; they read the
//! evaluation's inputs from one `Eval` and call each other for arguments that are paths,
//! commands, URLs or SQL.

pub mod cli;
mod cli_index;
pub mod command;
pub mod file;
pub mod git;
pub mod mcp;
pub mod network;
pub mod programs;
pub mod scripts;
pub mod sql;

use crate::model::*;
use crate::paths::{self, PathContext};
use crate::policy::compile::{Access, CompiledPack, Rule, SeverityRule};
pub use mcp::{McpRegistry, McpServer, ToolClass};

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

/// One evaluation's inputs, which every guard's request handling reads.
#[derive(Clone, Copy)]
struct Eval<'a> {
    pack: &'a CompiledPack,
    req: &'a ActionRequest,
    /// The request's directories, normalised.
    ctx: &'a PathContext,
    env: &'a EvalEnv<'a>,
}

/// The rules that matched so far, and what the precedence step needs besides.
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
    let ev = Eval {
        pack,
        req,
        ctx: &ctx,
        env,
    };
    match req.action {
        None => c.push_builtin(
            "engine.invalid_request",
            Effect::Block,
            Severity::High,
            "the request names no action type".into(),
            None,
            None,
        ),
        Some(ActionType::ReadFile) => file::request(&ev, Access::Read, &mut c),
        Some(ActionType::WriteFile) => file::request(&ev, Access::Write, &mut c),
        Some(ActionType::DeleteFile) => file::request(&ev, Access::Delete, &mut c),
        Some(ActionType::ExecuteCommand) => command::request(&ev, &req.target, None, &mut c),
        Some(ActionType::GitOperation) => git::request(&ev, &mut c),
        Some(ActionType::McpToolCall) => mcp::request(&ev, &mut c),
        Some(ActionType::NetworkRequest) => network::request(pack, &req.target, None, &mut c),
        Some(ActionType::PullRequest) => git::pull_request(pack, &mut c),
    }
    decide(pack, req, env, c)
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
