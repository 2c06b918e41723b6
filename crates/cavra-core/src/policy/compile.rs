//! Inheritance, the normalized (compiled) form, its digest, and the runtime rule set.

use super::source::*;
use super::{PackResolver, PolicyError};
use crate::glob::Glob;
use crate::model::{Effect, Mode, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The format tag of compiled packs.
pub const COMPILED_FORMAT: &str = "cavra-compiled-pack/1";

/// The normalized form: inheritance resolved, written out as JSON by `cavra policy compile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizedPack {
    pub format: String,
    /// The pack and the packs it inherits from, nearest first.
    pub lineage: Vec<String>,
    pub pack: PackSource,
    /// `sha256:<hex>` over the `serde_json` encoding of `format`, `lineage` and `pack`
    /// (deterministic: fields in declaration order, every map sorted). Not the RFC 8785
    /// form of [`crate::canon`]: changing it would change every pack digest and signature.
    #[serde(default)]
    pub digest: String,
}

impl NormalizedPack {
    pub fn compute_digest(&self) -> String {
        // Serialized straight to bytes: struct fields have a fixed order and every map of
        // the pack model is sorted (BTreeMap), so the encoding is deterministic.
        let mut h = Sha256::new();
        let _ = serde_json::to_writer(
            HashWriter(&mut h),
            &(&self.format, &self.lineage, &self.pack),
        );
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which access a file rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    /// Writing that replaces what was there (`>`, `cp`, `-o FILE`, an editor's save).
    Write,
    /// Writing that keeps what was there and adds to it (`>>`, `tee -a`). A rule that names
    /// `write` covers appends too; `overwrite` names replacing writes only.
    Append,
    Delete,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Append => "append",
            Access::Delete => "delete",
        }
    }
}

/// A path pattern and how it is anchored.
#[derive(Debug, Clone, PartialEq)]
pub struct PathPattern {
    pub glob: Glob,
    pub anchor: Anchor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// No `/` in the pattern: matches the file name in any directory.
    Basename,
    /// `**/…`: matches anywhere, inside or outside the repository.
    Anywhere,
    /// `/…`: an absolute path.
    Absolute,
    /// `~/…`: below the home directory.
    Home,
    /// Anything else: relative to the repository root.
    Repo,
}

impl PathPattern {
    pub fn new(p: &str, ci: bool) -> Result<PathPattern, crate::glob::GlobError> {
        let (anchor, pat) = if let Some(rest) = p.strip_prefix("~/") {
            (Anchor::Home, rest)
        } else if p.starts_with('/') {
            (Anchor::Absolute, p)
        } else if p.starts_with("**/") {
            (Anchor::Anywhere, p)
        } else if !p.trim_end_matches('/').contains('/') {
            (Anchor::Basename, p.trim_end_matches('/'))
        } else {
            (Anchor::Repo, p.trim_start_matches("./"))
        };
        let glob = if ci {
            Glob::new_case_insensitive(pat)?
        } else {
            Glob::new(pat)?
        };
        Ok(PathPattern { glob, anchor })
    }
}

/// Path classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathClass {
    Root,
    Home,
    System,
    OutsideRepo,
    RepoRoot,
    Repo,
    DotGit,
    Temp,
    Device,
    Unknown,
    Any,
}

impl PathClass {
    pub fn parse(s: &str) -> Option<PathClass> {
        Some(match s {
            "root" => PathClass::Root,
            "home" => PathClass::Home,
            "system" => PathClass::System,
            "outside_repo" => PathClass::OutsideRepo,
            "repo_root" => PathClass::RepoRoot,
            "repo" => PathClass::Repo,
            "dotgit" => PathClass::DotGit,
            "temp" => PathClass::Temp,
            "device" => PathClass::Device,
            "unknown" => PathClass::Unknown,
            "any" => PathClass::Any,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileMatcher {
    pub access: Vec<Access>,
    pub paths: Vec<PathPattern>,
    pub except: Vec<PathPattern>,
    pub classes: Vec<PathClass>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandMatcher {
    pub program: Vec<Glob>,
    pub subcommand: Vec<Vec<Glob>>,
    pub subcommand_none: Vec<Vec<Glob>>,
    pub flags_any: Vec<String>,
    pub flags_all: Vec<String>,
    pub flags_none: Vec<String>,
    pub args_any: Vec<Glob>,
    pub operands_any: Vec<Glob>,
    pub args_none: Vec<Glob>,
    pub path_class: Vec<PathClass>,
    pub stdin: Vec<String>,
    pub stdin_from: Vec<Glob>,
    pub expanded_args_any: Vec<Glob>,
    pub sql: Vec<String>,
    pub text: Vec<Glob>,
    pub dynamic_exec: Option<bool>,
    pub dynamic_program: Option<bool>,
    pub runs_download: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GitMatcher {
    pub op: Vec<String>,
    pub force: Option<bool>,
    pub force_with_lease: Option<bool>,
    pub protected: Option<bool>,
    pub delete: Option<bool>,
    pub branch_unknown: Option<bool>,
    pub new_remote: Option<bool>,
    pub discards_work: Option<bool>,
    pub overwrites_ref: Option<bool>,
    pub subcommand_dynamic: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct McpMatcher {
    pub server: Vec<Glob>,
    pub tool: Vec<Glob>,
    pub args: Vec<(String, Vec<Glob>)>,
    pub protected_branch_arg: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkMatcher {
    pub hosts: Vec<Glob>,
    pub schemes: Vec<String>,
}

/// What a compiled rule matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    File(FileMatcher),
    /// Reference-style command patterns (`terraform apply*`), matched per simple command.
    CommandText(Vec<Glob>),
    Command(Box<CommandMatcher>),
    Git(GitMatcher),
    Mcp(McpMatcher),
    Network(NetworkMatcher),
    /// A row of the CLI table, matched through [`CompiledPack::cli`] (indexed by program).
    Cli,
}

/// How the severity of a matched rule is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeverityRule {
    Fixed(Severity),
    /// Reference `commands.block`: critical when the command text contains `apply` or
    /// `delete`, else high.
    ReferenceCommandBlock,
}

/// A runtime rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub effect: Effect,
    pub severity: SeverityRule,
    pub reason: String,
    pub alternative: Option<String>,
    pub approver_group: Option<String>,
    pub controls: Vec<String>,
    pub matcher: Matcher,
}

/// Git settings of a pack.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GitSettings {
    pub protected_branches: Vec<Glob>,
    pub block_direct_push: bool,
    pub require_pull_request: bool,
    pub require_ai_attestation: bool,
    pub require_human_reviewer: bool,
}

/// MCP settings of a pack.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct McpSettings {
    pub section_present: bool,
    pub allowlist_enabled: bool,
    pub block_unknown: bool,
    pub allowed: Vec<String>,
    pub blocked: Vec<String>,
    pub risk: BTreeMap<String, Severity>,
}

/// `defaults.max_break_glass_ttl` when a pack sets none: 4 hours.
pub const DEFAULT_MAX_BREAK_GLASS_TTL_SECS: u64 = 4 * 3600;

/// Resolved defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedDefaults {
    pub commands: Effect,
    pub unparseable_command: Effect,
    pub mcp_unknown_server: Option<Effect>,
    pub approver_group: String,
    pub temp_dirs: Vec<String>,
    pub approval_ttl_secs: u64,
    /// Longest break-glass override (`defaults.max_break_glass_ttl`, default 4h).
    pub max_break_glass_ttl_secs: u64,
    pub non_interactive: bool,
    pub uninspected_script: Effect,
    /// (blocks, window in seconds, hold on any critical attempt)
    pub escalation: Option<(u32, u64, bool)>,
}

/// A compiled pack, ready to evaluate requests.
#[derive(Debug, Clone)]
pub struct CompiledPack {
    pub id: String,
    pub title: String,
    pub version: String,
    pub mode: Mode,
    pub digest: String,
    pub lineage: Vec<String>,
    pub rules: Vec<Rule>,
    pub defaults: ResolvedDefaults,
    pub git: GitSettings,
    pub mcp: McpSettings,
    pub programs: HashMap<String, ProgramSource>,
    pub wrappers: Vec<cavra_shell::WrapperSpec>,
    /// The CLI table (`cli:`), indexed by program name.
    pub cli: crate::guard::cli::CliTable,
    pub controls: BTreeMap<String, Vec<String>>,
    pub compliance: Vec<String>,
    pub normalized: NormalizedPack,
}

impl CompiledPack {
    pub fn policy_ref(&self) -> crate::model::PolicyRef {
        crate::model::PolicyRef {
            id: self.id.clone(),
            version: self.version.clone(),
            digest: self.digest.clone(),
        }
    }

    /// The compiled form as pretty JSON (what `cavra policy compile` writes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.normalized).unwrap_or_default()
    }

    /// [`CompiledPack::to_json`] on one line, without the indentation (half the bytes: what
    /// the server signs and a hook hashes and parses on every offline call).
    pub fn to_json_compact(&self) -> String {
        serde_json::to_string(&self.normalized).unwrap_or_default()
    }

    /// Loads a compiled form back; the digest is checked.
    pub fn from_json(src: &str) -> Result<CompiledPack, PolicyError> {
        let n: NormalizedPack =
            serde_json::from_str(src).map_err(|e| PolicyError::BadCompiled(e.to_string()))?;
        Self::from_normalized(n)
    }

    /// Builds a pack from its normalized form; the format and digest are checked.
    pub fn from_normalized(n: NormalizedPack) -> Result<CompiledPack, PolicyError> {
        if n.format != COMPILED_FORMAT {
            return Err(PolicyError::BadCompiled(format!(
                "unknown format `{}` (expected `{COMPILED_FORMAT}`)",
                n.format
            )));
        }
        let digest = n.compute_digest();
        if !n.digest.is_empty() && n.digest != digest {
            return Err(PolicyError::BadCompiled(format!(
                "digest mismatch: file says `{}`, content hashes to `{digest}`",
                n.digest
            )));
        }
        build(n)
    }

    /// Tests carried by the pack.
    pub fn tests(&self) -> &[TestCaseSource] {
        &self.normalized.pack.tests
    }
}

fn union(into: &mut Vec<String>, from: &[String]) {
    for s in from {
        if !into.contains(s) {
            into.push(s.clone());
        }
    }
}

fn merge_json(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(bv) => merge_json(bv, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => {
            for v in o {
                if !b.contains(v) {
                    b.push(v.clone());
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn merge_opt_json(base: &mut Option<Value>, over: &Option<Value>) {
    if let Some(o) = over {
        match base {
            Some(b) => merge_json(b, o),
            None => *base = Some(o.clone()),
        }
    }
}

/// Merges `child` over `parent`: lists are a de-duplicated union (a child adds, never
/// removes), scalars of the child win, rules with the same id are replaced by the child's.
pub fn merge(parent: &PackSource, child: &PackSource) -> PackSource {
    let mut out = parent.clone();
    out.metadata = child.metadata.clone();
    if out.metadata.mode.is_none() {
        out.metadata.mode = parent.metadata.mode.clone();
    }
    if let Some(cf) = &child.filesystem {
        let f = out.filesystem.get_or_insert_with(Default::default);
        union(&mut f.block_read, &cf.block_read);
        union(&mut f.block_write, &cf.block_write);
        union(&mut f.require_approval_write, &cf.require_approval_write);
        union(&mut f.require_approval_read, &cf.require_approval_read);
        union(&mut f.except, &cf.except);
        if cf.case_insensitive.is_some() {
            f.case_insensitive = cf.case_insensitive;
        }
    }
    if let Some(cc) = &child.commands {
        let c = out.commands.get_or_insert_with(Default::default);
        union(&mut c.block, &cc.block);
        union(&mut c.allow, &cc.allow);
        union(&mut c.require_approval, &cc.require_approval);
    }
    if let Some(cg) = &child.git {
        let g = out.git.get_or_insert_with(Default::default);
        macro_rules! or {
            ($f:ident) => {
                if cg.$f.is_some() {
                    g.$f = cg.$f;
                }
            };
        }
        or!(require_pull_request);
        or!(block_direct_push_to_protected_branch);
        or!(require_human_reviewer);
        or!(require_ai_attestation);
        union(&mut g.protected_branches, &cg.protected_branches);
    }
    if let Some(cm) = &child.mcp {
        let m = out.mcp.get_or_insert_with(Default::default);
        if cm.allowlist_enabled.is_some() {
            m.allowlist_enabled = cm.allowlist_enabled;
        }
        if cm.block_unknown_servers.is_some() {
            m.block_unknown_servers = cm.block_unknown_servers;
        }
        union(&mut m.allowed_servers, &cm.allowed_servers);
        union(&mut m.blocked_servers, &cm.blocked_servers);
        for (k, v) in &cm.risk_scoring {
            m.risk_scoring.insert(k.clone(), v.clone());
        }
    }
    merge_opt_json(&mut out.compliance, &child.compliance);
    merge_opt_json(&mut out.approvals, &child.approvals);
    merge_opt_json(&mut out.evidence, &child.evidence);
    if let Some(cd) = &child.defaults {
        let d = out.defaults.get_or_insert_with(Default::default);
        macro_rules! or {
            ($f:ident) => {
                if cd.$f.is_some() {
                    d.$f = cd.$f.clone();
                }
            };
        }
        or!(commands);
        or!(unparseable_command);
        or!(mcp_unknown_server);
        or!(approver_group);
        or!(approval_ttl);
        or!(max_break_glass_ttl);
        or!(non_interactive);
        or!(uninspected_script);
        or!(escalation);
        union(&mut d.temp_dirs, &cd.temp_dirs);
    }
    for r in &child.rules {
        if let Some(existing) = out.rules.iter_mut().find(|x| x.id == r.id) {
            *existing = r.clone();
        } else {
            out.rules.push(r.clone());
        }
    }
    for o in &child.overrides {
        out.overrides.retain(|x| x.id != o.id);
        out.overrides.push(o.clone());
    }
    for (k, v) in &child.programs {
        out.programs.insert(k.clone(), v.clone());
    }
    for w in &child.wrappers {
        out.wrappers.retain(|x| x.name != w.name);
        out.wrappers.push(w.clone());
    }
    if let Some(cc) = &child.cli {
        // a child's entry for a program replaces the parent's; its `unknown` rule too
        let c = out.cli.get_or_insert_with(Default::default);
        for (k, v) in cc.table.iter() {
            c.table.insert(k.to_string(), v.clone());
        }
        if cc.unknown.is_some() {
            c.unknown = cc.unknown.clone();
        }
    }
    for (k, v) in &child.controls {
        out.controls.insert(k.clone(), v.clone());
    }
    // tests are not inherited: a child may legitimately change decisions
    out.tests = child.tests.clone();
    out
}

const MAX_INHERIT_DEPTH: usize = 16;

fn resolve_tree(
    pack: PackSource,
    resolver: &dyn PackResolver,
    stack: &mut Vec<String>,
    lineage: &mut Vec<String>,
) -> Result<PackSource, PolicyError> {
    let id = pack.metadata.id.clone();
    if stack.contains(&id) {
        stack.push(id);
        return Err(PolicyError::Cycle(stack.join(" -> ")));
    }
    if stack.len() >= MAX_INHERIT_DEPTH {
        return Err(PolicyError::Cycle(format!(
            "inheritance deeper than {MAX_INHERIT_DEPTH} levels at `{id}`"
        )));
    }
    stack.push(id.clone());
    if !lineage.contains(&id) {
        lineage.push(id.clone());
    }
    let mut parents = pack.metadata.inherits.to_vec();
    for p in pack.metadata.extends.to_vec() {
        if !parents.contains(&p) {
            parents.push(p);
        }
    }
    let mut base: Option<PackSource> = None;
    for p in parents {
        let src = resolver.resolve(&p).map_err(|e| match e {
            PolicyError::NotFound(_) => PolicyError::UnknownParent {
                child: id.clone(),
                parent: p.clone(),
            },
            other => other,
        })?;
        let resolved = resolve_tree(src, resolver, stack, lineage)?;
        base = Some(match base {
            None => resolved,
            Some(b) => merge(&b, &resolved),
        });
    }
    stack.pop();
    let mut merged = match base {
        None => pack,
        Some(b) => merge(&b, &pack),
    };
    merged.metadata.inherits = OneOrMany::None;
    merged.metadata.extends = OneOrMany::None;
    Ok(merged)
}

/// Resolves inheritance and compiles.
pub fn compile(pack: PackSource, resolver: &dyn PackResolver) -> Result<CompiledPack, PolicyError> {
    compile_with_digest(pack, resolver, None)
}

/// [`compile`], with the digest already known (the bundled packs' digests are computed at
/// build time, see `bundled.rs`): hashing the normalized form is the larger part of
/// compiling a pack on the hook's path.
pub(crate) fn compile_with_digest(
    pack: PackSource,
    resolver: &dyn PackResolver,
    known_digest: Option<&str>,
) -> Result<CompiledPack, PolicyError> {
    let mut lineage = Vec::new();
    let merged = resolve_tree(pack, resolver, &mut Vec::new(), &mut lineage)?;
    let mut n = NormalizedPack {
        format: COMPILED_FORMAT.to_string(),
        lineage,
        pack: merged,
        digest: String::new(),
    };
    n.digest = match known_digest {
        Some(d) => d.to_string(),
        None => n.compute_digest(),
    };
    // a known digest means a bundled pack byte-identical (fingerprint) to the one the
    // bundled-pack tests compile with full validation
    build_checked(n, known_digest.is_none())
}

fn effect(s: &str, ctx: &str) -> Result<Effect, PolicyError> {
    Effect::parse(s).ok_or_else(|| PolicyError::BadCompiled(format!("{ctx}: unknown effect `{s}`")))
}

fn sev(s: &Option<String>, default: Severity) -> Severity {
    s.as_deref().and_then(Severity::parse).unwrap_or(default)
}

/// Space-separated word sequences (`"policy show"`), each word a glob.
fn word_globs(list: &[String], ctx: &str) -> Result<Vec<Vec<Glob>>, PolicyError> {
    list.iter()
        .map(|s| {
            s.split_whitespace()
                .map(|w| Glob::new(w).map_err(|e| PolicyError::BadCompiled(format!("{ctx}: {e}"))))
                .collect()
        })
        .collect()
}

fn globs(list: &[String], text: bool, ctx: &str) -> Result<Vec<Glob>, PolicyError> {
    list.iter()
        .map(|g| {
            if text { Glob::text(g) } else { Glob::new(g) }
                .map_err(|e| PolicyError::BadCompiled(format!("{ctx}: {e}")))
        })
        .collect()
}

fn path_patterns(list: &[String], ci: bool, ctx: &str) -> Result<Vec<PathPattern>, PolicyError> {
    list.iter()
        .map(|p| {
            PathPattern::new(p, ci).map_err(|e| PolicyError::BadCompiled(format!("{ctx}: {e}")))
        })
        .collect()
}

/// A pack duration (`approval_ttl`, `escalation.window`): the workspace's one grammar; an
/// unparsable or out-of-range value is an error, never a default.
fn pack_duration(s: &str, ctx: &str) -> Result<u64, PolicyError> {
    crate::duration::parse_secs(s).map_err(|e| PolicyError::BadCompiled(format!("{ctx}: {e}")))
}

/// Adds the controls of the longest rule-id prefix (`commands.cloud` for
/// `commands.cloud.gcloud`) to a rule.
pub fn apply_controls(r: &mut Rule, controls: &BTreeMap<String, Vec<String>>) {
    let mut best: Option<(&String, &Vec<String>)> = None;
    for (prefix, ctrls) in controls {
        let under =
            r.id.strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.'));
        if (r.id == *prefix || under) && best.is_none_or(|(b, _)| prefix.len() > b.len()) {
            best = Some((prefix, ctrls));
        }
    }
    if let Some((_, c)) = best {
        for x in c {
            if !r.controls.contains(x) {
                r.controls.push(x.clone());
            }
        }
    }
}

fn build(n: NormalizedPack) -> Result<CompiledPack, PolicyError> {
    build_checked(n, true)
}

/// `validate_cli`: check every CLI-table entry now (entries are compiled on first use).
fn build_checked(n: NormalizedPack, validate_cli: bool) -> Result<CompiledPack, PolicyError> {
    let p = &n.pack;
    let id = p.metadata.id.clone();
    let mode = match p.metadata.mode.as_deref() {
        None => Mode::Enforce,
        Some(m) => {
            Mode::parse(m).ok_or_else(|| PolicyError::BadCompiled(format!("unknown mode `{m}`")))?
        }
    };
    let mut rules = Vec::new();
    let fs = p.filesystem.clone().unwrap_or_default();
    let ci = fs.case_insensitive.unwrap_or(false);
    let except = path_patterns(&fs.except, ci, "filesystem.except")?;
    let file_rule = |rid: &str,
                     eff: Effect,
                     severity: Severity,
                     access: Vec<Access>,
                     list: &[String],
                     reason: &str,
                     group: Option<&str>|
     -> Result<Option<Rule>, PolicyError> {
        if list.is_empty() {
            return Ok(None);
        }
        Ok(Some(Rule {
            id: rid.to_string(),
            effect: eff,
            severity: SeverityRule::Fixed(severity),
            reason: reason.to_string(),
            alternative: None,
            approver_group: group.map(str::to_string),
            controls: vec![],
            matcher: Matcher::File(FileMatcher {
                access,
                paths: path_patterns(list, ci, rid)?,
                except: except.clone(),
                classes: vec![],
            }),
        }))
    };
    let default_group = p
        .defaults
        .as_ref()
        .and_then(|d| d.approver_group.clone())
        .unwrap_or_else(|| "Repository Owners".to_string());
    rules.extend(file_rule(
        "filesystem.read.block",
        Effect::Block,
        Severity::High,
        vec![Access::Read],
        &fs.block_read,
        "reading this path is blocked by policy",
        None,
    )?);
    rules.extend(file_rule(
        "filesystem.write.block",
        Effect::Block,
        Severity::High,
        vec![Access::Write, Access::Append, Access::Delete],
        &fs.block_write,
        "writing this path is blocked by policy",
        None,
    )?);
    rules.extend(file_rule(
        "filesystem.write.require_approval",
        Effect::RequireApproval,
        Severity::High,
        vec![Access::Write, Access::Append, Access::Delete],
        &fs.require_approval_write,
        "writing this path needs approval",
        Some("Platform Security"),
    )?);
    rules.extend(file_rule(
        "filesystem.read.require_approval",
        Effect::RequireApproval,
        Severity::Medium,
        vec![Access::Read],
        &fs.require_approval_read,
        "reading this path needs approval",
        Some("Platform Security"),
    )?);
    let cmds = p.commands.clone().unwrap_or_default();
    if !cmds.block.is_empty() {
        rules.push(Rule {
            id: "commands.block".into(),
            effect: Effect::Block,
            severity: SeverityRule::ReferenceCommandBlock,
            reason: "command is blocked by policy".into(),
            alternative: None,
            approver_group: None,
            controls: vec![],
            matcher: Matcher::CommandText(globs(&cmds.block, true, "commands.block")?),
        });
    }
    if !cmds.require_approval.is_empty() {
        rules.push(Rule {
            id: "commands.require_approval".into(),
            effect: Effect::RequireApproval,
            severity: SeverityRule::Fixed(Severity::Medium),
            reason: "command needs approval".into(),
            alternative: None,
            approver_group: Some(default_group.clone()),
            controls: vec![],
            matcher: Matcher::CommandText(globs(
                &cmds.require_approval,
                true,
                "commands.require_approval",
            )?),
        });
    }
    if !cmds.allow.is_empty() {
        rules.push(Rule {
            id: "commands.allow".into(),
            effect: Effect::Allow,
            severity: SeverityRule::Fixed(Severity::Low),
            reason: "command is on the allow list".into(),
            alternative: None,
            approver_group: None,
            controls: vec![],
            matcher: Matcher::CommandText(globs(&cmds.allow, true, "commands.allow")?),
        });
    }
    // native rules
    for r in &p.rules {
        let ctx = format!("rule `{}`", r.id);
        let eff = effect(&r.effect, &ctx)?;
        let m = &r.matcher;
        let matcher = if let Some(f) = &m.file {
            let access = if f.access.is_empty() {
                vec![Access::Read, Access::Write, Access::Append, Access::Delete]
            } else {
                let mut out = Vec::new();
                for a in &f.access {
                    let add: &[Access] = match a.as_str() {
                        "read" => &[Access::Read],
                        // a write rule covers appends too
                        "write" => &[Access::Write, Access::Append],
                        "overwrite" => &[Access::Write],
                        "append" => &[Access::Append],
                        "delete" => &[Access::Delete],
                        o => {
                            return Err(PolicyError::BadCompiled(format!(
                                "{ctx}: unknown access `{o}`"
                            )))
                        }
                    };
                    for x in add {
                        if !out.contains(x) {
                            out.push(*x);
                        }
                    }
                }
                out
            };
            Matcher::File(FileMatcher {
                access,
                paths: path_patterns(&f.paths, ci, &ctx)?,
                except: path_patterns(&f.except, ci, &ctx)?,
                classes: f
                    .class
                    .iter()
                    .map(|c| {
                        PathClass::parse(c).ok_or_else(|| {
                            PolicyError::BadCompiled(format!("{ctx}: unknown class `{c}`"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            })
        } else if let Some(c) = &m.command {
            Matcher::Command(Box::new(CommandMatcher {
                program: globs(&c.program, false, &ctx)?,
                subcommand: word_globs(&c.subcommand, &ctx)?,
                subcommand_none: word_globs(&c.subcommand_none, &ctx)?,
                flags_any: c.flags_any.clone(),
                flags_all: c.flags_all.clone(),
                flags_none: c.flags_none.clone(),
                args_any: globs(&c.args_any, true, &ctx)?,
                operands_any: globs(&c.operands_any, true, &ctx)?,
                args_none: globs(&c.args_none, true, &ctx)?,
                path_class: c
                    .path_class
                    .iter()
                    .map(|s| {
                        PathClass::parse(s).ok_or_else(|| {
                            PolicyError::BadCompiled(format!("{ctx}: unknown class `{s}`"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                stdin: c.stdin.clone(),
                stdin_from: globs(&c.stdin_from, false, &ctx)?,
                expanded_args_any: globs(&c.expanded_args_any, true, &ctx)?,
                sql: c.sql.clone(),
                text: globs(&c.text, true, &ctx)?,
                dynamic_exec: c.dynamic_exec,
                dynamic_program: c.dynamic_program,
                runs_download: c.runs_download,
            }))
        } else if let Some(g) = &m.git {
            Matcher::Git(GitMatcher {
                op: g.op.clone(),
                force: g.force,
                force_with_lease: g.force_with_lease,
                protected: g.protected,
                delete: g.delete,
                branch_unknown: g.branch_unknown,
                new_remote: g.new_remote,
                discards_work: g.discards_work,
                overwrites_ref: g.overwrites_ref,
                subcommand_dynamic: g.subcommand_dynamic,
            })
        } else if let Some(mc) = &m.mcp {
            Matcher::Mcp(McpMatcher {
                server: globs(&mc.server, false, &ctx)?,
                tool: globs(&mc.tool, false, &ctx)?,
                args: mc
                    .args
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), globs(v, true, &ctx)?)))
                    .collect::<Result<_, PolicyError>>()?,
                protected_branch_arg: mc.protected_branch_arg,
            })
        } else if let Some(nw) = &m.network {
            Matcher::Network(NetworkMatcher {
                hosts: globs(&nw.hosts, false, &ctx)?,
                schemes: nw.schemes.clone(),
            })
        } else {
            return Err(PolicyError::BadCompiled(format!("{ctx}: empty `match`")));
        };
        let default_sev = match eff {
            Effect::Block => Severity::High,
            Effect::RequireApproval => Severity::Medium,
            Effect::Allow => Severity::Low,
        };
        rules.push(Rule {
            id: r.id.clone(),
            effect: eff,
            severity: SeverityRule::Fixed(sev(&r.severity, default_sev)),
            reason: r
                .reason
                .clone()
                .unwrap_or_else(|| format!("matched rule `{}`", r.id)),
            alternative: r.alternative.clone(),
            approver_group: r
                .approver_group
                .clone()
                .or_else(|| (eff == Effect::RequireApproval).then(|| default_group.clone())),
            controls: r.controls.clone(),
            matcher,
        });
    }
    // the CLI table applies overrides and controls to its rows by rule id, as below
    let cli = crate::guard::cli::CliTable::compile(
        p.cli.as_ref(),
        &default_group,
        &p.overrides,
        &p.controls,
        validate_cli,
    )?;
    // overrides
    for o in &p.overrides {
        if o.disabled == Some(true) {
            rules.retain(|r| r.id != o.id);
            continue;
        }
        for r in rules.iter_mut().filter(|r| r.id == o.id) {
            if let Some(e) = &o.effect {
                r.effect = effect(e, &format!("override `{}`", o.id))?;
            }
            if let Some(s) = &o.severity {
                if let Some(s) = Severity::parse(s) {
                    r.severity = SeverityRule::Fixed(s);
                }
            }
            if let Some(g) = &o.approver_group {
                r.approver_group = Some(g.clone());
            }
        }
    }
    // controls by rule-id prefix
    for r in rules.iter_mut() {
        apply_controls(r, &p.controls);
    }
    let d = p.defaults.clone().unwrap_or_default();
    let commands_default = match d.commands.as_deref() {
        Some(s) => effect(s, "defaults.commands")?,
        // the reference behaviour: a pack with an allow list asks for anything else
        None if !cmds.allow.is_empty() => Effect::RequireApproval,
        None => Effect::Allow,
    };
    let mut temp_dirs = d.temp_dirs.clone();
    if temp_dirs.is_empty() {
        temp_dirs = vec![
            "/tmp".into(),
            "/var/tmp".into(),
            "/private/tmp".into(),
            "/dev/shm".into(),
        ];
    }
    let defaults = ResolvedDefaults {
        commands: commands_default,
        unparseable_command: match d.unparseable_command.as_deref() {
            Some(s) => effect(s, "defaults.unparseable_command")?,
            None => Effect::RequireApproval,
        },
        mcp_unknown_server: d
            .mcp_unknown_server
            .as_deref()
            .map(|s| effect(s, "defaults.mcp_unknown_server"))
            .transpose()?,
        approver_group: default_group,
        temp_dirs,
        approval_ttl_secs: match d.approval_ttl.as_deref() {
            Some(s) => pack_duration(s, "defaults.approval_ttl")?,
            None => 3600,
        },
        max_break_glass_ttl_secs: match d.max_break_glass_ttl.as_deref() {
            Some(s) => match pack_duration(s, "defaults.max_break_glass_ttl")? {
                0 => {
                    return Err(PolicyError::BadCompiled(
                        "defaults.max_break_glass_ttl: must be greater than zero".into(),
                    ))
                }
                n => n,
            },
            None => DEFAULT_MAX_BREAK_GLASS_TTL_SECS,
        },
        non_interactive: d.non_interactive.unwrap_or(false),
        uninspected_script: match d.uninspected_script.as_deref() {
            Some(s) => effect(s, "defaults.uninspected_script")?,
            None => Effect::Allow,
        },
        escalation: d
            .escalation
            .as_ref()
            .map(|e| {
                pack_duration(&e.window, "defaults.escalation.window")
                    .map(|w| (e.max_blocks, w, e.hold_on_critical))
            })
            .transpose()?,
    };
    let g = p.git.clone().unwrap_or_default();
    let mut protected = g.protected_branches.clone();
    if protected.is_empty() {
        protected = vec!["main".into(), "master".into()];
    }
    let git = GitSettings {
        protected_branches: globs(&protected, false, "git.protected_branches")?,
        block_direct_push: g.block_direct_push_to_protected_branch.unwrap_or(true),
        require_pull_request: g.require_pull_request.unwrap_or(false),
        require_ai_attestation: g.require_ai_attestation.unwrap_or(false),
        require_human_reviewer: g.require_human_reviewer.unwrap_or(false),
    };
    let mc = p.mcp.clone();
    let mcp = match mc {
        None => McpSettings::default(),
        Some(m) => McpSettings {
            section_present: true,
            allowlist_enabled: m.allowlist_enabled.unwrap_or(false),
            block_unknown: m.block_unknown_servers.unwrap_or(false),
            allowed: m.allowed_servers.clone(),
            blocked: m.blocked_servers.clone(),
            risk: m
                .risk_scoring
                .iter()
                .filter_map(|(k, v)| Severity::parse(v).map(|s| (k.clone(), s)))
                .collect(),
        },
    };
    let compliance = p
        .compliance
        .as_ref()
        .and_then(|c| c.get("maps_to"))
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let wrappers = p
        .wrappers
        .iter()
        .map(|w| cavra_shell::WrapperSpec {
            name: w.name.clone(),
            options_with_value: w.options_with_value.clone(),
            skip_positionals: w.skip_positionals.unwrap_or(0),
        })
        .collect();
    Ok(CompiledPack {
        id,
        title: p.metadata.title.clone().unwrap_or_default(),
        version: p.metadata.version.clone().unwrap_or_else(|| "0.0.0".into()),
        mode,
        digest: n.digest.clone(),
        lineage: n.lineage.clone(),
        rules,
        defaults,
        git,
        mcp,
        programs: p.programs.clone().into_iter().collect(),
        wrappers,
        cli,
        controls: p.controls.clone(),
        compliance,
        normalized: n,
    })
}
