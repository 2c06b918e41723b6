//! `cavra ci check`: the runtime's check of a git change (`cavra_runtime::ci`), printed.
use crate::{args::PackArgs, ctx::Ctx};
use cavra_runtime::ci::{report::Format, CiOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum CiCommand {
    /// Judge the change BASE..HEAD as the hook judges an agent: changed paths, added secrets, commands in changed scripts and CI steps (docs/ci.md).
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The base ref (`origin/main`, a commit).
    #[arg(long)]
    pub base: String,
    /// The head ref.
    #[arg(long, default_value = "HEAD")]
    pub head: String,
    /// text, json, sarif or junit (default: text, json with --json).
    #[arg(long)]
    pub format: Option<String>,
    /// Write the report in --format to FILE (the text summary still goes to stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fail unless the change carries a session evidence bundle verified by a trust root.
    #[arg(long)]
    pub require_attestation: bool,
    /// The evidence bundle (directory or .zip; default `.cavra-evidence[.zip]`).
    #[arg(long, value_name = "PATH")]
    pub attestation: Option<PathBuf>,
    /// The trust root the bundle must verify against (default `.cavra/trust-root.json`).
    #[arg(long, value_name = "FILE")]
    pub trust_root: Option<PathBuf>,
    #[command(flatten)]
    pub packs: PackArgs,
}

pub fn run(CiCommand::Check(a): CiCommand, ctx: &Ctx) -> anyhow::Result<i32> {
    let format = Format::parse(
        a.format
            .as_deref()
            .unwrap_or(["text", "json"][ctx.json as usize]),
    )?;
    let opts = CiOptions {
        locator: crate::ctx::locator(),
        base: a.base,
        head: a.head,
        packs: a.packs.choice(),
        require_attestation: a.require_attestation,
        attestation: a.attestation,
        trust_root: a.trust_root,
    };
    let report = ctx.runtime().ci_check(&opts)?;
    if let Some(out) = &a.output {
        crate::output::write_out(true, Some(out), &report.render(format)?, "the report")?;
    }
    let shown = a.output.as_ref().map_or(format, |_| Format::Text);
    crate::output::write_out(ctx.json, None, &report.render(shown)?, "the report")?;
    Ok(report.exit_code())
}
