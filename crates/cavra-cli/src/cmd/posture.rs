//! `cavra posture [--since D] [--json]` and `cavra posture gate`: findings, control
//! coverage and a score from the evidence log, the store and the installation
//! (`cavra_runtime::posture`, docs/posture.md).

use crate::ctx::{hook_ctx, host, locate_path, open_store, project_root, Ctx};
use cavra_runtime::posture::thresholds::{self, Thresholds};
use cavra_runtime::posture::{self, collect, Options, Severity};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct PostureArgs {
    /// Start of the window: RFC 3339, a date, or a duration ago such as `24h` (default `7d`).
    #[arg(long, global = true, value_name = "D")]
    pub since: Option<String>,
    /// Also write the report as one self-contained HTML file (charts included).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
    /// A pending approval older than this is overdue (a duration such as `4h`, the default).
    #[arg(long, global = true, value_name = "DURATION")]
    pub approval_sla: Option<String>,
    /// An active evidence key older than this is due for rotation (whole days: `90d`, the default).
    #[arg(long, global = true, value_name = "DAYS")]
    pub key_max_age: Option<String>,
    /// Blocked attempts by one agent or rule from which a trend is reported (default 5).
    #[arg(long, global = true, value_name = "N")]
    pub block_threshold: Option<String>,
    #[command(subcommand)]
    pub gate: Option<GateCommand>,
}

/// The thresholds the flags set (docs/posture.md, "Thresholds"); a bad value names its flag.
fn thresholds(args: &PostureArgs) -> anyhow::Result<Thresholds> {
    let mut t = Thresholds::default();
    for ((key, flag), value) in
        thresholds::KEYS
            .iter()
            .zip([&args.approval_sla, &args.key_max_age, &args.block_threshold])
    {
        if let Some(v) = value {
            t.set(key, v).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
        }
    }
    Ok(t)
}

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Exit 1 when the score is below --min-score or a finding reaches --fail-on (for CI).
    Gate {
        #[arg(long, value_name = "N")]
        min_score: Option<u32>,
        #[arg(long, value_name = "SEVERITY", value_parser = ["info", "low", "medium", "high", "critical"])]
        fail_on: Option<String>,
    },
}

pub fn run(args: PostureArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let project = project_root(None)?;
    let ctx = &hook_ctx(ctx, &project);
    let now = time::OffsetDateTime::now_utc();
    let o = thresholds(&args)?.apply(Options::from_since(args.since.as_deref(), now)?);
    let cavra = locate_path(Some(&project)).project_cavra_dir;
    let (packs, notes) = ctx
        .runtime()
        .packs_in_force(&Default::default(), Some(&cavra));
    let store = match ctx.db_path().exists() {
        true => Some(collect::store_facts(&open_store(ctx, false)?, now)?),
        false => None,
    };
    let hooked_agents = Some(cavra_setup::doctor::hooked_agents(&project, &host()));
    let sources = collect::Sources {
        packs,
        store,
        hooked_agents,
        notes,
    };
    let log = cavra_evidence::LogConfig::for_cavra_dir(&ctx.cavra_dir);
    let p = collect::report(&log, sources, &o)?;
    if let Some(f) = &args.html {
        crate::output::write_out(
            ctx.json,
            Some(f),
            &posture::html::render(&p),
            "posture report",
        )?;
    }
    crate::output::print_view(ctx, &p.doc())?;
    let Some(GateCommand::Gate { min_score, fail_on }) = args.gate else {
        return Ok(0);
    };
    let failed = p.gate(min_score, fail_on.as_deref().and_then(Severity::parse));
    failed.iter().for_each(|f| eprintln!("gate failed: {f}"));
    Ok(i32::from(!failed.is_empty()))
}
