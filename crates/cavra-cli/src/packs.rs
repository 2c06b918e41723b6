//! Finding and loading policy packs at the binary edge (file system, cache).

use anyhow::{anyhow, Context, Result};
use cavra_core::policy::{
    self, bundled, compile::CompiledPack, BundledResolver, ChainResolver, PackResolver, PackSource,
    PolicyError,
};
use std::path::{Path, PathBuf};

/// How the caller chose a pack.
#[derive(Debug, Clone, Default)]
pub struct PackChoice {
    /// `--pack ID`: bundled, or `DIR/<id>/policy.yaml` in a policy dir.
    pub pack: Option<String>,
    /// `--policy FILE`.
    pub policy: Option<PathBuf>,
    /// `--policy-dir DIR` (repeatable).
    pub policy_dirs: Vec<PathBuf>,
}

/// Finds packs by id in directories: `DIR/<id>/policy.yaml` or `DIR/<id>.yaml`.
pub struct DirResolver {
    pub dirs: Vec<PathBuf>,
}

impl PackResolver for DirResolver {
    fn resolve(&self, id: &str) -> Result<PackSource, PolicyError> {
        for d in &self.dirs {
            for p in [d.join(id).join("policy.yaml"), d.join(format!("{id}.yaml"))] {
                if let Ok(src) = std::fs::read_to_string(&p) {
                    return policy::parse_pack(&p.display().to_string(), &src);
                }
            }
        }
        Err(PolicyError::NotFound(id.to_string()))
    }
}

/// Where the loaded pack came from.
#[derive(Debug, Clone)]
pub enum Origin {
    Bundled(String),
    File(PathBuf),
}

impl Origin {
    pub fn describe(&self) -> String {
        match self {
            Origin::Bundled(id) => format!("bundled pack `{id}`"),
            Origin::File(p) => format!("`{}`", p.display()),
        }
    }
}

fn compile_file(path: &Path, dirs: &[PathBuf]) -> Result<CompiledPack> {
    let src = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy file `{}`", path.display()))?;
    let mut all_dirs: Vec<PathBuf> = dirs.to_vec();
    if let Some(parent) = path.parent() {
        all_dirs.push(parent.to_path_buf());
        if let Some(pp) = parent.parent() {
            all_dirs.push(pp.to_path_buf());
        }
    }
    let dir_resolver = DirResolver { dirs: all_dirs };
    let resolver = ChainResolver(vec![&dir_resolver, &BundledResolver]);
    let pack = policy::parse_pack(&path.display().to_string(), &src)?;
    Ok(policy::compile::compile(pack, &resolver)?)
}

/// Loads the pack the user chose; without a choice, `.cavra/policy.yaml` in the project (the
/// directory `project_dir`), else the bundled baseline.
pub fn load(choice: &PackChoice, project_dir: Option<&Path>) -> Result<(CompiledPack, Origin)> {
    if let Some(p) = &choice.policy {
        if p.extension().is_some_and(|e| e == "json") {
            let src = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read compiled pack `{}`", p.display()))?;
            return Ok((CompiledPack::from_json(&src)?, Origin::File(p.clone())));
        }
        return Ok((
            compile_file(p, &choice.policy_dirs)?,
            Origin::File(p.clone()),
        ));
    }
    if let Some(id) = &choice.pack {
        let dir_resolver = DirResolver {
            dirs: choice.policy_dirs.clone(),
        };
        if let Ok(src) = dir_resolver.resolve(id) {
            let resolver = ChainResolver(vec![&dir_resolver, &BundledResolver]);
            let path = choice
                .policy_dirs
                .iter()
                .map(|d| d.join(id).join("policy.yaml"))
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from(id));
            return Ok((
                policy::compile::compile(src, &resolver)?,
                Origin::File(path),
            ));
        }
        if bundled::yaml(id).is_some() {
            let canonical = bundled::canonical_id(id).to_string();
            return Ok((bundled::compiled(id)?, Origin::Bundled(canonical)));
        }
        let known: Vec<&str> = bundled::PACKS.iter().map(|(i, _)| *i).collect();
        return Err(anyhow!(
            "unknown pack `{id}`; bundled packs: {}{}",
            known.join(", "),
            if choice.policy_dirs.is_empty() {
                " (use --policy-dir DIR to load packs from DIR/<id>/policy.yaml)"
            } else {
                ""
            }
        ));
    }
    if let Some(dir) = project_dir {
        let p = dir.join(".cavra").join("policy.yaml");
        if p.is_file() {
            return Ok((compile_file(&p, &choice.policy_dirs)?, Origin::File(p)));
        }
    }
    Ok((
        bundled::compiled(bundled::DEFAULT_PACK)?,
        Origin::Bundled(bundled::DEFAULT_PACK.into()),
    ))
}

/// Reads an MCP trust registry file (reference shape).
pub fn load_registry(path: &Path) -> Result<cavra_core::guard::McpRegistry> {
    let src = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read registry `{}`", path.display()))?;
    cavra_core::guard::McpRegistry::from_json(&src).with_context(|| {
        format!(
            "registry `{}` is not a valid MCP registry (expected {{\"mcp_servers\": [...]}})",
            path.display()
        )
    })
}
