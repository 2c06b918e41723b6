//! `cavra version|completions|man|verify-release`: CAVRA's own build and releases
//! (`cavra_release`); completions and man pages come from the clap definition.

use crate::ctx::Ctx;
use crate::output::print_doc;
use anyhow::Context;
use clap::{CommandFactory, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// This binary: version, git commit, build profile, target, compiler, features.
    Version,
    /// Shell completions (bash, zsh, fish) on stdout.
    Completions { shell: clap_complete::Shell },
    /// Write the man pages of every command to DIR.
    Man {
        #[arg(long, short, value_name = "DIR")]
        output: PathBuf,
    },
    /// Check a release directory offline: SHA256SUMS and its signature, every file, SBOM, provenance.
    VerifyRelease {
        /// The release directory (what `release/build.sh` wrote).
        dir: PathBuf,
        /// The release signer's public key file(s) (`cavra policy keygen`'s PATH.pub).
        #[arg(long = "trusted-key", value_name = "FILE", required = true)]
        keys: Vec<PathBuf>,
    },
}

pub fn run(c: ReleaseCommand, ctx: &Ctx) -> anyhow::Result<i32> {
    match c {
        ReleaseCommand::Version => {
            let features = cfg!(feature = "postgres").then_some("postgres");
            let v = cavra_release::BuildInfo::current(features.as_slice());
            print_doc(ctx.json, &v, || v.text())?;
        }
        ReleaseCommand::Completions { shell } => clap_complete::generate(
            shell,
            &mut super::Cli::command(),
            "cavra",
            &mut std::io::stdout(),
        ),
        ReleaseCommand::Man { output } => {
            let cannot = || format!("cannot write man pages to `{}`", output.display());
            std::fs::create_dir_all(&output).with_context(cannot)?;
            clap_mangen::generate_to(super::Cli::command(), &output).with_context(cannot)?;
        }
        ReleaseCommand::VerifyRelease { dir, keys } => {
            let r = cavra_release::verify(&dir, &keys)?;
            print_doc(ctx.json, &r, || r.text())?;
        }
    }
    Ok(0)
}
