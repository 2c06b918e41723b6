//! Finding and loading policy packs: bundled, by id in policy directories, from a file, or
//! the project's `.cavra/policy.yaml` through a compiled-pack cache.

use crate::error::RuntimeError;
use cavra_core::policy::{
    self, bundled, compile::CompiledPack, BundledResolver, ChainResolver, PackResolver, PackSource,
    PolicyError,
};
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, RuntimeError>;

fn read(what: &'static str, path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| RuntimeError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

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

impl DirResolver {
    fn find(&self, id: &str) -> Option<(PathBuf, String)> {
        for d in &self.dirs {
            for p in [d.join(id).join("policy.yaml"), d.join(format!("{id}.yaml"))] {
                if let Ok(src) = std::fs::read_to_string(&p) {
                    return Some((p, src));
                }
            }
        }
        None
    }
}

impl PackResolver for DirResolver {
    fn resolve(&self, id: &str) -> std::result::Result<PackSource, PolicyError> {
        match self.find(id) {
            Some((p, src)) => policy::parse_pack(&p.display().to_string(), &src),
            None => Err(PolicyError::NotFound(id.to_string())),
        }
    }
}

/// Records which files inheritance read, so a cached compile can be checked against them.
struct RecordingResolver<'a> {
    inner: &'a DirResolver,
    read: std::cell::RefCell<Vec<(PathBuf, String)>>,
}

impl PackResolver for RecordingResolver<'_> {
    fn resolve(&self, id: &str) -> std::result::Result<PackSource, PolicyError> {
        match self.inner.find(id) {
            Some((p, src)) => {
                self.read
                    .borrow_mut()
                    .push((p.clone(), sha256_hex(src.as_bytes())));
                policy::parse_pack(&p.display().to_string(), &src)
            }
            None => Err(PolicyError::NotFound(id.to_string())),
        }
    }
}

fn sha256_hex(b: &[u8]) -> String {
    cavra_core::policy::signing::sha256_hex(b)
}

/// A compiled project pack, cached next to it (`.cavra/cache/`) and keyed by the binary
/// version, the file's path and bytes; valid while every inherited file is unchanged.
#[derive(serde::Serialize, serde::Deserialize)]
struct CacheEntry {
    version: String,
    deps: Vec<(PathBuf, String)>,
    compiled: cavra_core::policy::compile::NormalizedPack,
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
    compile_file_cached(path, dirs, None)
}

/// Compiles a pack file; with `cache_dir`, reuses (and refreshes) a cached compile so the
/// hook does not parse YAML or validate the schema on every call.
fn compile_file_cached(
    path: &Path,
    dirs: &[PathBuf],
    cache_dir: Option<&Path>,
) -> Result<CompiledPack> {
    let src = read("policy file", path)?;
    let key = sha256_hex(
        format!(
            "{}\n{}\n{}\n{src}",
            env!("CARGO_PKG_VERSION"),
            path.display(),
            dirs.len()
        )
        .as_bytes(),
    );
    let cache_file = cache_dir.map(|d| d.join(format!("{key}.json")));
    if let Some(cf) = &cache_file {
        if let Some(pack) = read_cache(cf) {
            return Ok(pack);
        }
    }
    let mut all_dirs: Vec<PathBuf> = dirs.to_vec();
    if let Some(parent) = path.parent() {
        all_dirs.push(parent.to_path_buf());
        if let Some(pp) = parent.parent() {
            all_dirs.push(pp.to_path_buf());
        }
    }
    let dir_resolver = DirResolver { dirs: all_dirs };
    let recording = RecordingResolver {
        inner: &dir_resolver,
        read: std::cell::RefCell::new(Vec::new()),
    };
    let resolver = ChainResolver(vec![&recording, &BundledResolver]);
    let pack = policy::parse_pack(&path.display().to_string(), &src)?;
    let compiled = policy::compile::compile(pack, &resolver)?;
    if let Some(cf) = &cache_file {
        let entry = CacheEntry {
            version: env!("CARGO_PKG_VERSION").into(),
            deps: recording.read.into_inner(),
            compiled: compiled.normalized.clone(),
        };
        // best effort: a cache that cannot be written only costs time
        if let Some(parent) = cf.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let tmp = cf.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, serde_json::to_vec(&entry).unwrap_or_default()).is_ok() {
            let _ = std::fs::rename(&tmp, cf);
        }
    }
    Ok(compiled)
}

fn read_cache(cf: &Path) -> Option<CompiledPack> {
    let bytes = std::fs::read(cf).ok()?;
    let entry: CacheEntry = serde_json::from_slice(&bytes).ok()?;
    if entry.version != env!("CARGO_PKG_VERSION") {
        return None;
    }
    for (p, sha) in &entry.deps {
        let cur = std::fs::read(p).ok()?;
        if &sha256_hex(&cur) != sha {
            return None;
        }
    }
    // the digest inside is re-checked by from_json: a tampered cache is not used
    CompiledPack::from_normalized(entry.compiled).ok()
}

/// A short summary of what the pack [`load`] finds protects: the context a session-start
/// hook answer gives the agent (the same text for `cavra hook` and the HTTP server).
pub fn session_summary(choice: &PackChoice, project_cavra_dir: Option<&Path>) -> String {
    match load(choice, project_cavra_dir) {
        Ok((p, _)) => format!(
            "CAVRA guards this session with policy pack `{}` {} ({} rules): secrets and credentials are not readable, paths outside the repository need approval to write, CAVRA's policy and agent hook settings are protected, destructive commands, force pushes and history rewrites, cloud/IaC destroy, destructive SQL and piping downloads into a shell are blocked. When CAVRA blocks an action, its reason names a safer alternative.",
            p.id,
            p.version,
            p.rules.len()
        ),
        Err(e) => format!(
            "CAVRA could not load its policy ({}); every tool call will be denied until this is fixed.",
            crate::error::chain(&e)
        ),
    }
}

/// The longest break-glass override the pack of `choice` allows (its
/// `defaults.max_break_glass_ttl`); the pack is found as [`load`] finds it.
pub fn max_break_glass_ttl(
    choice: &PackChoice,
    project_cavra_dir: Option<&Path>,
) -> Result<std::time::Duration> {
    let (pack, _) =
        load(choice, project_cavra_dir).map_err(|e| RuntimeError::PolicyNotLoaded(Box::new(e)))?;
    Ok(std::time::Duration::from_secs(
        pack.defaults.max_break_glass_ttl_secs,
    ))
}

/// Loads the pack the user chose; without a choice, `policy.yaml` in the project's CAVRA
/// directory (`project_cavra_dir`, see [`crate::Location::project_cavra_dir`]), else the
/// bundled baseline.
pub fn load(
    choice: &PackChoice,
    project_cavra_dir: Option<&Path>,
) -> Result<(CompiledPack, Origin)> {
    if let Some(p) = &choice.policy {
        if p.extension().is_some_and(|e| e == "json") {
            let src = read("compiled pack", p)?;
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
        return Err(RuntimeError::UnknownPack {
            id: id.clone(),
            known: known.join(", "),
            hint: if choice.policy_dirs.is_empty() {
                " (use --policy-dir DIR to load packs from DIR/<id>/policy.yaml)"
            } else {
                ""
            },
        });
    }
    if let Some(cavra) = project_cavra_dir {
        let p = cavra.join("policy.yaml");
        if p.is_file() {
            let cache = cavra.join("cache");
            return Ok((
                compile_file_cached(&p, &choice.policy_dirs, Some(&cache))?,
                Origin::File(p),
            ));
        }
    }
    Ok((
        bundled::compiled(bundled::DEFAULT_PACK)?,
        Origin::Bundled(bundled::DEFAULT_PACK.into()),
    ))
}

/// The pack file [`load`] compiles for `choice` in the project CAVRA directory
/// `project_cavra_dir`: the `--policy` file, else the project's `policy.yaml` when it
/// exists; none for a `--pack` id or the bundled baseline.
pub fn chosen_file(choice: &PackChoice, project_cavra_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = &choice.policy {
        return Some(p.clone());
    }
    if choice.pack.is_some() {
        return None;
    }
    project_cavra_dir
        .map(|c| c.join("policy.yaml"))
        .filter(|p| p.is_file())
}

/// Compiled packs kept between the decisions of a long-running process (`cavra serve`):
/// compiling a pack costs far more than deciding under it. An entry is used while the
/// files that choose the pack (the `--policy` file, the `--pack` candidates in the policy
/// directories, the project's `.cavra/policy.yaml`) have the size and modification time
/// they had, and — when a file is involved at all — for at most [`PackCache::RECHECK`]
/// (so a change to a pack it `extends` is picked up within that time). Errors are not
/// kept: a pack that fails to load fails every decision that needs it.
#[derive(Debug, Default)]
pub struct PackCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedPack>>,
}

#[derive(Debug)]
struct CachedPack {
    pack: std::sync::Arc<CompiledPack>,
    origin: Origin,
    stamp: Vec<FileStamp>,
    at: std::time::Instant,
}

/// A file's size and modification time (`None`: missing).
type FileStamp = Option<(u64, std::time::SystemTime)>;

/// The most entries kept (one per project and pack choice); over it, the cache starts over.
const PACK_CACHE_MAX: usize = 1024;

impl PackCache {
    /// How long an entry that depends on files is used before it is compiled again.
    pub const RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

    /// [`load`], from the cache when the entry is current.
    pub fn load(
        &self,
        choice: &PackChoice,
        project_cavra_dir: Option<&Path>,
    ) -> Result<(std::sync::Arc<CompiledPack>, Origin)> {
        let files = deciding_files(choice, project_cavra_dir);
        let stamp: Vec<FileStamp> = files.iter().map(|p| file_stamp(p)).collect();
        let key = format!("{choice:?}\u{0}{project_cavra_dir:?}");
        // only a bundled pack with no file that could replace it is kept for good
        let timeless = choice.policy_dirs.is_empty() && stamp.iter().all(Option::is_none);
        let fresh =
            |e: &CachedPack| e.stamp == stamp && (timeless || e.at.elapsed() < Self::RECHECK);
        if let Some(e) = self.lock().get(&key).filter(|e| fresh(e)) {
            return Ok((std::sync::Arc::clone(&e.pack), e.origin.clone()));
        }
        let (pack, origin) = load(choice, project_cavra_dir)?;
        let pack = std::sync::Arc::new(pack);
        self.insert(
            key,
            CachedPack {
                pack: std::sync::Arc::clone(&pack),
                origin: origin.clone(),
                stamp,
                at: std::time::Instant::now(),
            },
        );
        Ok((pack, origin))
    }

    /// Compiles the pack source `text` (named `name` in errors; its `extends` resolved
    /// against the bundled packs only — a server compiling a policy a hook sent has no
    /// access to the files beside it), kept by the SHA-256 of the text. Errors are not kept.
    pub fn load_text(&self, name: &str, text: &str) -> Result<std::sync::Arc<CompiledPack>> {
        let key = format!("text\u{0}{}", sha256_hex(text.as_bytes()));
        if let Some(e) = self.lock().get(&key) {
            return Ok(std::sync::Arc::clone(&e.pack));
        }
        let source = policy::parse_pack(name, text)?;
        let pack = std::sync::Arc::new(policy::compile::compile(source, &BundledResolver)?);
        self.insert(
            key,
            CachedPack {
                pack: std::sync::Arc::clone(&pack),
                origin: Origin::File(PathBuf::from(name)),
                stamp: Vec::new(),
                at: std::time::Instant::now(),
            },
        );
        Ok(pack)
    }

    fn insert(&self, key: String, entry: CachedPack) {
        let mut entries = self.lock();
        if entries.len() >= PACK_CACHE_MAX {
            entries.clear();
        }
        entries.insert(key, entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, CachedPack>> {
        // entries are inserted whole: a panic elsewhere leaves the map usable
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The files whose presence and content choose the pack [`load`] compiles.
fn deciding_files(choice: &PackChoice, project_cavra_dir: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = &choice.policy {
        return vec![p.clone()];
    }
    if let Some(id) = &choice.pack {
        return choice
            .policy_dirs
            .iter()
            .flat_map(|d| [d.join(id).join("policy.yaml"), d.join(format!("{id}.yaml"))])
            .collect();
    }
    project_cavra_dir
        .map(|c| vec![c.join("policy.yaml")])
        .unwrap_or_default()
}

fn file_stamp(p: &Path) -> FileStamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Reads an MCP trust registry file (reference shape).
pub fn load_registry(path: &Path) -> Result<cavra_core::guard::McpRegistry> {
    let src = read("registry", path)?;
    cavra_core::guard::McpRegistry::from_json(&src).map_err(|source| RuntimeError::Registry {
        path: path.to_path_buf(),
        source,
    })
}

/// Compiles the pack file `path` (its `extends` found in `dirs`, beside it, then bundled).
pub fn compile_path(path: &Path, dirs: &[PathBuf]) -> Result<CompiledPack> {
    let choice = PackChoice {
        pack: None,
        policy: Some(path.to_path_buf()),
        policy_dirs: dirs.to_vec(),
    };
    Ok(load(&choice, None)?.0)
}

/// A pack file when `spec` names one, else a pack id (bundled or in `dirs`).
pub fn load_spec(spec: &str, dirs: &[PathBuf]) -> Result<CompiledPack> {
    let p = Path::new(spec);
    if p.is_file() {
        return compile_path(p, dirs);
    }
    let choice = PackChoice {
        pack: Some(spec.to_string()),
        policy: None,
        policy_dirs: dirs.to_vec(),
    };
    Ok(load(&choice, None)?.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pack_yaml(id: &str) -> String {
        format!(
            "metadata: {{id: {id}, title: t, version: \"1\"}}\nrules:\n  - id: r.block_make\n    effect: block\n    severity: high\n    reason: r\n    match:\n      command: {{program: [make]}}\n"
        )
    }

    fn extending(id: &str, parent: &str) -> String {
        pack_yaml(id).replacen(
            "version: \"1\"}",
            &format!("version: \"1\", extends: {parent}}}"),
            1,
        )
    }

    #[test]
    fn the_cache_compiles_once_and_again_when_the_project_policy_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let cavra = tmp.path().join(".cavra");
        std::fs::create_dir_all(&cavra).unwrap();
        let cache = PackCache::default();
        let choice = PackChoice::default();
        // no project policy: the bundled default, kept
        let (a, _) = cache.load(&choice, Some(&cavra)).unwrap();
        let (b, _) = cache.load(&choice, Some(&cavra)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.id, bundled::DEFAULT_PACK);
        // a project policy appears: compiled, then kept while it is unchanged
        std::fs::write(cavra.join("policy.yaml"), pack_yaml("cavra-proj-one")).unwrap();
        let (c, origin) = cache.load(&choice, Some(&cavra)).unwrap();
        assert_eq!(c.id, "cavra-proj-one");
        assert!(matches!(origin, Origin::File(_)));
        let (d, _) = cache.load(&choice, Some(&cavra)).unwrap();
        assert!(Arc::ptr_eq(&c, &d));
        // changed (another size): compiled again at once
        std::fs::write(
            cavra.join("policy.yaml"),
            pack_yaml("cavra-proj-number-two"),
        )
        .unwrap();
        let (e, _) = cache.load(&choice, Some(&cavra)).unwrap();
        assert_eq!(e.id, "cavra-proj-number-two");
        // a broken policy is an error every time, never the last good pack
        std::fs::write(cavra.join("policy.yaml"), "rules: [").unwrap();
        assert!(cache.load(&choice, Some(&cavra)).is_err());
        assert!(cache.load(&choice, Some(&cavra)).is_err());
    }

    #[test]
    fn a_pack_sent_as_text_is_compiled_once_per_text_against_bundled_packs_only() {
        let cache = PackCache::default();
        let a = cache
            .load_text("/dev/p/.cavra/policy.yaml", &pack_yaml("cavra-sent"))
            .unwrap();
        assert_eq!(a.id, "cavra-sent");
        // the same text (named anywhere): the kept pack
        let b = cache
            .load_text("elsewhere.yaml", &pack_yaml("cavra-sent"))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // another text: another pack
        let c = cache
            .load_text("p.yaml", &pack_yaml("cavra-sent-two"))
            .unwrap();
        assert_eq!(c.id, "cavra-sent-two");
        // extends a bundled pack: resolved
        let extends = extending("cavra-ext", bundled::DEFAULT_PACK);
        let e = cache.load_text("p.yaml", &extends).unwrap();
        assert!(
            e.lineage.iter().any(|l| l.contains(bundled::DEFAULT_PACK)),
            "{:?}",
            e.lineage
        );
        // extends a pack beside it (a file the sender has, not the server): an error, even
        // when such a file exists where the server runs
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("cavra-beside.yaml"),
            pack_yaml("cavra-beside"),
        )
        .unwrap();
        let name = tmp.path().join("policy.yaml").display().to_string();
        let beside = extending("cavra-ext2", "cavra-beside");
        let err = cache.load_text(&name, &beside).unwrap_err();
        assert!(
            crate::error::chain(&err).contains("cavra-beside"),
            "{}",
            crate::error::chain(&err)
        );
        // a broken text: an error naming it, every time
        for _ in 0..2 {
            let err = cache
                .load_text("/dev/p/.cavra/policy.yaml", "rules: [")
                .unwrap_err();
            let text = crate::error::chain(&err);
            assert!(text.contains("/dev/p/.cavra/policy.yaml"), "{text}");
        }
    }

    #[test]
    fn the_chosen_file_is_the_policy_flag_else_the_projects_policy() {
        let tmp = tempfile::tempdir().unwrap();
        let cavra = tmp.path().join(".cavra");
        std::fs::create_dir_all(&cavra).unwrap();
        let none = PackChoice::default();
        assert_eq!(chosen_file(&none, Some(&cavra)), None);
        std::fs::write(cavra.join("policy.yaml"), pack_yaml("cavra-p")).unwrap();
        assert_eq!(
            chosen_file(&none, Some(&cavra)),
            Some(cavra.join("policy.yaml"))
        );
        let by_id = PackChoice {
            pack: Some("cavra-strict".into()),
            ..Default::default()
        };
        assert_eq!(chosen_file(&by_id, Some(&cavra)), None);
        let file = PackChoice {
            policy: Some("/x/p.yaml".into()),
            ..Default::default()
        };
        assert_eq!(
            chosen_file(&file, Some(&cavra)),
            Some(PathBuf::from("/x/p.yaml"))
        );
    }

    #[test]
    fn entries_that_depend_on_files_are_rechecked_after_a_while() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("p.yaml");
        std::fs::write(&file, pack_yaml("cavra-file-pack")).unwrap();
        let cache = PackCache::default();
        let choice = PackChoice {
            policy: Some(file.clone()),
            ..Default::default()
        };
        let (a, _) = cache.load(&choice, None).unwrap();
        // age the entry past RECHECK: the same file is compiled again
        for e in cache.lock().values_mut() {
            e.at = e.at.checked_sub(PackCache::RECHECK).unwrap();
        }
        let (b, _) = cache.load(&choice, None).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(b.id, "cavra-file-pack");
    }
}
