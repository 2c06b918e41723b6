//! Argument types shared by several subcommands (each subcommand's own arguments live in
//! its module).

use clap::Args;
use std::path::PathBuf;

use cavra_core::hooks::AgentKind;
use cavra_runtime::packs::PackChoice;
use cavra_setup::Scope;

/// The agents CAVRA integrates with, as the command line names them.
pub type Agent = AgentKind;

/// Parses an agent's name or alias ([`AgentKind::from_name`]); its possible values are
/// [`AgentKind::ALL`].
pub fn agent_parser() -> impl clap::builder::TypedValueParser<Value = AgentKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let value = |a: AgentKind| PossibleValue::new(a.as_str()).aliases(a.aliases());
    let names = AgentKind::ALL.map(|a| value(a).help(a.title()));
    PossibleValuesParser::new(names).try_map(|n| AgentKind::from_name(&n).ok_or("unknown agent"))
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

/// The server and the person's token.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The CAVRA server (`http://HOST:PORT`); default `$CAVRA_SERVER`.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The file holding your server token; default `$CAVRA_APPROVER_TOKEN_FILE`, else
    /// `$CAVRA_TOKEN_FILE`.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

impl ServerArgs {
    pub fn remote(&self) -> anyhow::Result<cavra_client::rollout::Rollouts> {
        Ok(cavra_client::rollout::Rollouts::from_settings(
            self.server.as_deref(),
            self.token_file.as_deref(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_names_agents_as_core_does() {
        let cmd = clap::Command::new("t").arg(clap::Arg::new("a").value_parser(agent_parser()));
        let parse = |n: &str| {
            let m = cmd.clone().try_get_matches_from(["t", n]).ok()?;
            m.get_one::<AgentKind>("a").copied()
        };
        for a in AgentKind::ALL {
            assert_eq!(parse(a.as_str()), Some(a));
        }
        for alias in ["claude", "gemini-cli", "copilot-cli"] {
            assert_eq!(parse(alias), AgentKind::from_name(alias), "{alias}");
            assert!(parse(alias).is_some(), "{alias}");
        }
        assert_eq!(parse("nobody"), None);
    }
}
