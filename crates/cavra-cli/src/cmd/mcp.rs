//! `cavra mcp serve`: CAVRA as a Model Context Protocol server over stdio.
//!
//! The server itself (protocol, framing, tools) is `cavra-mcp`, on the rmcp SDK; this file
//! parses the flags and implements its [`Backend`] over the process's `cavra_runtime::Runtime`
//! (the same decision pipeline as `cavra evaluate` and the hooks). Only this command starts an async runtime.

use crate::ctx::Ctx;
use crate::packs::{self, Origin};
use anyhow::Result;
use cavra_core::policy::CompiledPack;
use cavra_core::ActionRequest;
use cavra_mcp::{ActivePolicy, Backend, BackendError, Decided, Explained, ServerOptions};
use cavra_runtime::{DecideOptions, FsScriptReader};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::PathBuf;

use super::evaluate::{request_from_json, PackArgs};

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: McpCommand,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve MCP over stdio (newline-delimited JSON-RPC): tools cavra_evaluate,
    /// cavra_explain, cavra_check_command, cavra_policy_summary.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub packs: PackArgs,
    /// MCP trust registry file (reference shape: {"mcp_servers": [...]}).
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Headless: a require-approval decision opens an approval request.
    #[arg(long, env = "CAVRA_NON_INTERACTIVE", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false)]
    pub non_interactive: bool,
}

pub fn run(args: McpArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    match args.command {
        McpCommand::Serve(a) => serve(a, ctx, explicit_dir),
    }
}

fn serve(args: ServeArgs, ctx: &Ctx, explicit_dir: bool) -> Result<i32> {
    let loc = crate::ctx::locate(None);
    let backend = CliBackend {
        ctx: super::hook::ctx_at(ctx, explicit_dir, &loc),
        project: loc.project,
        args,
    };
    let options = ServerOptions {
        version: env!("CARGO_PKG_VERSION").to_string(),
        session_id: format!("mcp-{}", std::process::id()),
    };
    match cavra_mcp::serve_stdio(backend, options) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("cavra mcp: {e}");
            Ok(1)
        }
    }
}

/// Decisions for the MCP tools: the pack and registry chosen by the flags (or the
/// project's), the request placed where it happens exactly as the hook places it.
struct CliBackend {
    ctx: Ctx,
    project: PathBuf,
    args: ServeArgs,
}

impl CliBackend {
    fn load_pack(&self) -> Result<(CompiledPack, Origin), BackendError> {
        packs::load(&self.args.packs.choice(), Some(&self.project))
            .map_err(|e| BackendError::Policy(format!("{e:#}")))
    }

    fn registry(&self) -> Result<Option<cavra_core::guard::McpRegistry>, BackendError> {
        self.args
            .registry
            .as_deref()
            .map(packs::load_registry)
            .transpose()
            .map_err(|e| BackendError::Failed(format!("{e:#}")))
    }

    /// The request, with its cwd (default: the project), repository, branch and home.
    fn request(&self, v: &Value) -> Result<ActionRequest, BackendError> {
        let mut req =
            request_from_json(v).map_err(|e| BackendError::Request(cavra_runtime::chain(&e)))?;
        req.actor.kind = "agent".into();
        let cwd = req
            .cwd
            .clone()
            .unwrap_or_else(|| self.project.display().to_string());
        super::hook::place(&mut req, &crate::ctx::locate(Some(&cwd)));
        Ok(req)
    }
}

impl Backend for CliBackend {
    fn decide(&self, request: &Value) -> Result<Decided, BackendError> {
        let mut req = self.request(request)?;
        let (pack, _) = self.load_pack()?;
        req.policy_pack = Some(pack.id.clone());
        let opts = DecideOptions {
            record: self.ctx.evidence,
            non_interactive: self.args.non_interactive,
            registry: self.registry()?,
            create_state: true,
            open_approval: false,
        };
        let d = self
            .ctx
            .runtime()
            .decide(&self.ctx.cavra_dir, &pack, &req, &opts)
            .map_err(|e| BackendError::Failed(cavra_runtime::chain(&e)))?;
        let approval_note = d
            .approval_id
            .as_deref()
            .map(|id| cavra_runtime::person_must_approve(id, d.decision.approver_group.as_deref()));
        Ok(Decided {
            decision: d.decision,
            decision_id: d.decision_id,
            record_id: d.record_id,
            approval_id: d.approval_id,
            approval_note,
        })
    }

    fn explain(&self, request: &Value) -> Result<Explained, BackendError> {
        let mut req = self.request(request)?;
        let (pack, origin) = self.load_pack()?;
        req.policy_pack = Some(pack.id.clone());
        let registry = self.registry()?;
        let reader = FsScriptReader;
        let env = cavra_core::guard::EvalEnv {
            registry: registry.as_ref(),
            scripts: Some(&reader),
            ..Default::default()
        };
        Ok(Explained {
            decision: cavra_core::guard::evaluate(&pack, &req, &env),
            pack_source: origin.describe(),
        })
    }

    fn policy(&self) -> Result<ActivePolicy, BackendError> {
        let (pack, origin) = self.load_pack()?;
        Ok(ActivePolicy {
            pack,
            source: origin.describe(),
        })
    }
}
