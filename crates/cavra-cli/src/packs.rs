//! Pack loading for the commands: the runtime's resolver, with the project's CAVRA
//! directory found from a directory as every entry point finds it.

use std::path::Path;

use cavra_core::policy::CompiledPack;
pub use cavra_runtime::packs::{DirResolver, Origin, PackChoice};

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

/// Reads an MCP trust registry file (reference shape).
pub fn load_registry(path: &Path) -> anyhow::Result<cavra_core::guard::McpRegistry> {
    Ok(cavra_runtime::load_registry(path)?)
}

/// Compiles the pack file `path` (its `extends` found in `dirs`).
pub fn compile_path(path: &Path, dirs: &[std::path::PathBuf]) -> anyhow::Result<CompiledPack> {
    let (p, _) = load(
        &PackChoice {
            pack: None,
            policy: Some(path.to_path_buf()),
            policy_dirs: dirs.to_vec(),
        },
        None,
    )?;
    Ok(p)
}

/// A pack file when `spec` names one, else a pack id (bundled or in `dirs`).
pub fn load_either(spec: &str, dirs: &[std::path::PathBuf]) -> anyhow::Result<CompiledPack> {
    let p = Path::new(spec);
    if p.is_file() {
        return compile_path(p, dirs);
    }
    let (pack, _) = load(
        &PackChoice {
            pack: Some(spec.to_string()),
            policy: None,
            policy_dirs: dirs.to_vec(),
        },
        None,
    )?;
    Ok(pack)
}
