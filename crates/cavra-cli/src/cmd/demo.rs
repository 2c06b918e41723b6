//! `cavra demo [--output DIR]`: the before-the-agent-acts scenario through the real hook
//! path (`cavra_demo`); exit 1 when a step does not answer as expected.

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the scratch repository, the bundle and the posture report go.
    #[arg(long, value_name = "DIR", default_value = "cavra-demo")]
    pub output: std::path::PathBuf,
}

pub fn run(args: DemoArgs, ctx: &crate::ctx::Ctx) -> anyhow::Result<i32> {
    let r = cavra_demo::run(&std::env::current_exe()?, &args.output)?;
    crate::output::print_doc(ctx.json, &r.to_json(), || r.text())?;
    Ok(i32::from(!r.ok()))
}
