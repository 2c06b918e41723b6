//! Argument types shared by several subcommands (each subcommand's own arguments live in
//! its module).

use clap::{Args, ValueEnum};
use std::path::PathBuf;

use cavra_core::hooks::AgentKind;
use cavra_runtime::packs::PackChoice;
use cavra_setup::Scope;

/// The agents CAVRA integrates with: the command line's names for [`AgentKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Agent {
    #[value(name = "claude-code", alias = "claude")]
    ClaudeCode,
    /// OpenAI Codex CLI.
    #[value(name = "codex")]
    Codex,
    /// Google Gemini CLI.
    #[value(name = "gemini", alias = "gemini-cli")]
    Gemini,
    /// Cursor (agent hooks).
    #[value(name = "cursor")]
    Cursor,
    /// GitHub Copilot CLI.
    #[value(name = "copilot", alias = "copilot-cli")]
    Copilot,
}

impl Agent {
    /// See [`AgentKind::has_native_ask`].
    pub fn has_native_ask(self) -> bool {
        AgentKind::from(self).has_native_ask()
    }

    pub fn kind(self) -> &'static str {
        AgentKind::from(self).as_str()
    }
}

impl From<Agent> for AgentKind {
    fn from(a: Agent) -> AgentKind {
        match a {
            Agent::ClaudeCode => AgentKind::ClaudeCode,
            Agent::Codex => AgentKind::Codex,
            Agent::Gemini => AgentKind::Gemini,
            Agent::Cursor => AgentKind::Cursor,
            Agent::Copilot => AgentKind::Copilot,
        }
    }
}

impl From<AgentKind> for Agent {
    fn from(a: AgentKind) -> Agent {
        match a {
            AgentKind::ClaudeCode => Agent::ClaudeCode,
            AgentKind::Codex => Agent::Codex,
            AgentKind::Gemini => Agent::Gemini,
            AgentKind::Cursor => Agent::Cursor,
            AgentKind::Copilot => Agent::Copilot,
        }
    }
}

/// Whose settings `init` / `uninstall` edit.
#[derive(Debug, Args, Clone)]
pub struct ScopeArgs {
    /// The user's settings (`$HOME/...`).
    #[arg(long, conflicts_with = "project")]
    pub user: bool,
    /// The project's settings (the default).
    #[arg(long)]
    pub project: bool,
    /// The project directory (default: the repository containing the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl ScopeArgs {
    pub fn scope(&self) -> Scope {
        if self.user {
            Scope::User
        } else {
            Scope::Project
        }
    }
}

/// Which pack, shared by evaluate/explain/hook.
#[derive(Debug, Args, Clone, Default)]
pub struct PackArgs {
    /// A pack id: bundled (`cavra-coding-baseline`, `strict`, ...) or found in --policy-dir.
    #[arg(long, value_name = "ID")]
    pub pack: Option<String>,
    /// A pack file (YAML, or compiled JSON from `cavra policy compile`).
    #[arg(long, value_name = "FILE", conflicts_with = "pack")]
    pub policy: Option<PathBuf>,
    /// Directory of packs, each in `DIR/<id>/policy.yaml` (repeatable).
    #[arg(long, value_name = "DIR")]
    pub policy_dir: Vec<PathBuf>,
}

impl PackArgs {
    pub fn choice(&self) -> PackChoice {
        PackChoice {
            pack: self.pack.clone(),
            policy: self.policy.clone(),
            policy_dirs: self.policy_dir.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_agents_as_core_does() {
        for a in AgentKind::ALL {
            assert_eq!(Agent::from_str(a.as_str(), false), Ok(Agent::from(a)));
            assert_eq!(Agent::from(a).kind(), a.as_str());
            assert_eq!(AgentKind::from(Agent::from(a)), a);
        }
        for alias in ["claude", "gemini-cli", "copilot-cli"] {
            let clap = Agent::from_str(alias, false).ok().map(AgentKind::from);
            assert_eq!(clap, AgentKind::from_name(alias), "{alias}");
            assert!(clap.is_some(), "{alias}");
        }
        assert!(Agent::from_str("nobody", false).is_err());
    }
}
