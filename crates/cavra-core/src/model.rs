//! The action model (what an agent wants to do) and the decision model (what CAVRA says).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The kind of action an agent wants to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    ReadFile,
    WriteFile,
    DeleteFile,
    ExecuteCommand,
    GitOperation,
    McpToolCall,
    NetworkRequest,
    PullRequest,
}

impl ActionType {
    pub const ALL: [ActionType; 8] = [
        ActionType::ReadFile,
        ActionType::WriteFile,
        ActionType::DeleteFile,
        ActionType::ExecuteCommand,
        ActionType::GitOperation,
        ActionType::McpToolCall,
        ActionType::NetworkRequest,
        ActionType::PullRequest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionType::ReadFile => "read_file",
            ActionType::WriteFile => "write_file",
            ActionType::DeleteFile => "delete_file",
            ActionType::ExecuteCommand => "execute_command",
            ActionType::GitOperation => "git_operation",
            ActionType::McpToolCall => "mcp_tool_call",
            ActionType::NetworkRequest => "network_request",
            ActionType::PullRequest => "pull_request",
        }
    }

    /// Parses the wire name (also accepts a few common aliases).
    pub fn parse(s: &str) -> Option<ActionType> {
        Some(
            match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
                "read_file" | "read" => ActionType::ReadFile,
                "write_file" | "write" | "edit_file" => ActionType::WriteFile,
                "delete_file" | "delete" => ActionType::DeleteFile,
                "execute_command" | "command" | "exec" | "shell" => ActionType::ExecuteCommand,
                "git_operation" | "git" => ActionType::GitOperation,
                "mcp_tool_call" | "mcp" => ActionType::McpToolCall,
                "network_request" | "network" | "fetch" => ActionType::NetworkRequest,
                "pull_request" => ActionType::PullRequest,
                _ => return None,
            },
        )
    }
}

impl fmt::Display for ActionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// A stable agent identity, e.g. `claude-code@alice-laptop`.
    pub agent_id: String,
    /// The agent kind: `claude-code`, `codex`, `gemini`, `cursor`, `copilot`, `ci-runner`, `human`, ...
    pub kind: String,
}

impl Default for Actor {
    fn default() -> Self {
        Actor {
            agent_id: "unknown-agent".into(),
            kind: "unknown".into(),
        }
    }
}

/// An MCP tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct McpCall {
    pub server: String,
    pub tool: String,
    #[serde(default)]
    pub arguments: serde_json::Value,
    /// The capability the call needs (reference field), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
}

/// Enforcement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decisions are enforced.
    #[default]
    Enforce,
    /// Shadow / observe: what would be blocked or held is recorded and allowed.
    #[serde(alias = "audit_only", alias = "observe")]
    Shadow,
    /// Regulated: like enforce; the pack decides where approvals are needed.
    StrictRegulated,
    /// Break-glass mode (reference vocabulary): enforced, overrides come from approvals.
    BreakGlass,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "enforce" => Mode::Enforce,
            "shadow" | "audit_only" | "observe" | "audit" => Mode::Shadow,
            "strict_regulated" => Mode::StrictRegulated,
            "break_glass" => Mode::BreakGlass,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
            Mode::StrictRegulated => "strict_regulated",
            Mode::BreakGlass => "break_glass",
        }
    }
}

/// A normalized action request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ActionRequest {
    pub actor: Actor,
    pub session_id: String,
    pub action: Option<ActionType>,
    /// Path, command line, git ref, `server:tool`, or URL.
    pub target: String,
    /// Requested operation (reference field): `push` for git, a capability for MCP, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpCall>,
    /// Working directory of the agent (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Repository root (absolute). When absent, `cwd` is taken as the repository root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_root: Option<String>,
    /// The user's home directory, used to expand `~`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// The current git branch, when the caller knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    /// Requested policy pack id (informational; the caller resolves the pack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_pack: Option<String>,
    /// Mode override; `None` uses the pack's mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

impl ActionRequest {
    pub fn new(action: ActionType, target: impl Into<String>) -> Self {
        ActionRequest {
            action: Some(action),
            target: target.into(),
            session_id: "default".into(),
            ..Default::default()
        }
    }

    /// SHA-256 over the canonical JSON of the request ([`crate::canon`], RFC 8785), hex.
    /// Binds approvals to the exact action.
    pub fn hash(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        hex::encode(Sha256::digest(crate::canon::to_string(&v).as_bytes()))
    }
}

/// Severity of a rule.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// What a rule says when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    RequireApproval,
    Block,
}

impl Effect {
    pub fn parse(s: &str) -> Option<Effect> {
        Some(match s {
            "allow" => Effect::Allow,
            "require_approval" | "approve" | "ask" => Effect::RequireApproval,
            "block" | "deny" => Effect::Block,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::RequireApproval => "require_approval",
            Effect::Block => "block",
        }
    }
}

/// The final outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Block,
    RequireApproval,
    /// Would have been blocked or held; the pack is in shadow mode, so it proceeds.
    Shadow,
    /// An audited override of a block or hold.
    BreakGlass,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Block => "block",
            Outcome::RequireApproval => "require_approval",
            Outcome::Shadow => "shadow",
            Outcome::BreakGlass => "break_glass",
        }
    }
    /// May the action proceed?
    pub fn proceeds(self) -> bool {
        matches!(self, Outcome::Allow | Outcome::Shadow | Outcome::BreakGlass)
    }
    /// The reference project's decision vocabulary.
    pub fn reference_name(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Block => "block",
            Outcome::RequireApproval => "require_approval",
            Outcome::Shadow => "audit_only",
            Outcome::BreakGlass => "allow_with_attestation",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule that matched, with what it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleMatch {
    pub rule_id: String,
    pub effect: Effect,
    pub severity: Severity,
    pub reason: String,
    /// What exactly matched (e.g. "in `bash -c` argument, simple command 2: `rm -rf /`").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    /// A safer alternative, when the policy names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
}

/// Which pack decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PolicyRef {
    pub id: String,
    pub version: String,
    pub digest: String,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Outcome,
    pub proceed: bool,
    /// The deciding rule.
    pub rule_id: String,
    /// Every rule that matched, deciding rule first.
    pub rule_ids: Vec<String>,
    pub severity: Severity,
    pub reason: String,
    #[serde(default)]
    pub approver_group: Option<String>,
    pub controls: Vec<String>,
    pub policy: PolicyRef,
    pub request_hash: String,
    pub action_type: String,
    pub target: String,
    pub mode: Mode,
    /// What CAVRA inspected (e.g. "3 simple commands").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
    /// The outcome before shadow mode or break-glass was applied.
    pub enforced_decision: Outcome,
    pub matches: Vec<RuleMatch>,
    /// Evaluation time in microseconds (filled in by the caller, which owns the clock).
    pub evaluation_us: f64,
}

impl Decision {
    /// Allowed because no rule said anything about the action (the pack's default), as
    /// opposed to an allow rule, an approval or a break-glass. Agents whose hook protocol
    /// has "no opinion" are given that, so their own permission settings still apply.
    pub fn no_rule_applies(&self) -> bool {
        self.decision == Outcome::Allow && self.matches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request hash is SHA-256 of the RFC 8785 text, so any JCS tool reproduces it
    /// (the pinned digest: Python's `json.dumps(sort_keys=True, separators=(",", ":"),
    /// ensure_ascii=False)` of the same request, through `sha256sum`).
    #[test]
    fn request_hash_is_sha256_of_the_jcs_text() {
        let r = ActionRequest::new(ActionType::ExecuteCommand, "a\u{8}b\u{c}c ü");
        let text = crate::canon::to_string(&serde_json::to_value(&r).unwrap());
        assert!(text.contains(r#""target":"a\bb\fc ü""#), "{text}");
        assert_eq!(r.hash(), hex::encode(Sha256::digest(text.as_bytes())));
        assert_eq!(
            r.hash(),
            "9905a548f476f2d34fbb680a36e75c4bff41877beda2c680984159381fee0353"
        );
    }

    #[test]
    fn request_hash_is_stable_and_sensitive() {
        let a = ActionRequest::new(ActionType::ReadFile, ".env");
        assert_eq!(a.hash(), a.clone().hash());
        assert_eq!(a.hash().len(), 64);
        let b = ActionRequest::new(ActionType::ReadFile, ".env.local");
        assert_ne!(a.hash(), b.hash());
    }
}
