//! Pack loading for the commands: the runtime's resolver, with the project's CAVRA
//! directory found from a directory as every entry point finds it.

use std::path::Path;

use cavra_core::policy::CompiledPack;
pub use cavra_runtime::packs::{Origin, PackChoice};

/// Loads the pack the user chose; without a choice, `policy.yaml` in the project's CAVRA
/// directory (the nearest `.cavra` from `project_dir` up to its repository root), else the
/// bundled baseline.
pub fn load(
    choice: &PackChoice,
    project_dir: Option<&Path>,
) -> anyhow::Result<(CompiledPack, Origin)> {
    let cavra = project_dir.map(|d| crate::ctx::locate_path(Some(d)).project_cavra_dir);
    Ok(cavra_runtime::packs::load(choice, cavra.as_deref())?)
}
