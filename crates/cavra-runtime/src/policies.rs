//! The documents of `cavra policy list|show|validate|diff|test|sign|verify`: options in, a
//! typed result out (serialized as the command's `--json` output), [`RuntimeError`] on
//! failure. The CLI only prints them; an HTTP front end returns the same documents.

use crate::error::RuntimeError;
use crate::packs::{compile_path, load_spec, DirResolver, Origin};
use crate::render::{push_line, short, table, Paint, Tone};
use cavra_core::guard::EvalEnv;
use cavra_core::policy::signing::{self, PackSignature};
use cavra_core::policy::{self, bundled, diff, testing, BundledResolver, ChainResolver};
use cavra_core::policy::{CompiledPack, Problem};
use serde::Serialize;
use std::path::{Path, PathBuf};

type Result<T> = std::result::Result<T, RuntimeError>;

/// One row of `policy list`: a pack, or a pack file in a policy directory that does not
/// load.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PackListing {
    Pack(PackSummary),
    Broken {
        id: String,
        /// Why it does not load (the error and its causes).
        error: String,
        source: String,
    },
}

impl PackListing {
    /// The cells of its `policy list` row: id, version, mode, rules, digest, title.
    pub fn cells(&self, paint: Paint<'_>) -> Vec<String> {
        match self {
            PackListing::Pack(p) => {
                let mark = p.default.filter(|d| *d).map_or("", |_| " (default)");
                let (rules, digest) = (p.rules.to_string(), short(&p.digest));
                let (id, version, mode) = (p.id.clone(), p.version.clone(), p.mode.to_string());
                vec![
                    id,
                    version,
                    mode,
                    rules,
                    digest,
                    format!("{}{mark}", p.title),
                ]
            }
            PackListing::Broken { id, error, .. } => {
                let error = paint(Tone::Bad, &format!("error: {error}"));
                let blank = || String::new();
                vec![id.clone(), blank(), blank(), blank(), blank(), error]
            }
        }
    }
}

/// A pack in a listing.
#[derive(Debug, Clone, Serialize)]
pub struct PackSummary {
    pub id: String,
    pub version: String,
    pub title: String,
    pub mode: &'static str,
    pub rules: usize,
    pub digest: String,
    /// `bundled`, or the pack file.
    pub source: String,
    /// Bundled packs only: is it the default pack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

impl PackSummary {
    fn of(p: &CompiledPack, source: String, default: Option<bool>) -> PackSummary {
        PackSummary {
            id: p.id.clone(),
            version: p.version.clone(),
            title: p.title.clone(),
            mode: p.mode.as_str(),
            rules: p.rules.len(),
            digest: p.digest.clone(),
            source,
            default,
        }
    }
}

/// The bundled packs, then the packs of each directory (`DIR/<id>/policy.yaml`, by id).
pub fn list(policy_dirs: &[PathBuf]) -> Result<Vec<PackListing>> {
    let mut rows = Vec::new();
    for (id, _) in bundled::PACKS {
        let p = bundled::compiled(id)?;
        let default = Some(*id == bundled::DEFAULT_PACK);
        rows.push(PackListing::Pack(PackSummary::of(
            &p,
            "bundled".into(),
            default,
        )));
    }
    for d in policy_dirs {
        let entries = std::fs::read_dir(d).map_err(|source| RuntimeError::Read {
            what: "policy dir",
            path: d.clone(),
            source,
        })?;
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("policy.yaml").is_file())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        ids.sort();
        for id in ids {
            let source = d.join(&id).join("policy.yaml").display().to_string();
            rows.push(match load_spec(&id, std::slice::from_ref(d)) {
                Ok(p) => PackListing::Pack(PackSummary::of(&p, source, None)),
                Err(e) => PackListing::Broken {
                    id,
                    error: crate::chain(&e),
                    source,
                },
            });
        }
    }
    Ok(rows)
}

/// `policy show`: a pack's metadata, rules and CLI table.
#[derive(Debug, Clone, Serialize)]
pub struct PackView {
    pub id: String,
    pub title: String,
    pub version: String,
    pub mode: &'static str,
    pub digest: String,
    pub lineage: Vec<String>,
    /// Where it was loaded from, in words.
    pub source: String,
    pub rules: Vec<RuleView>,
    pub cli: Vec<CliView>,
    /// The effect on commands no rule or table names (`defaults.commands`).
    #[serde(skip)]
    pub unlisted_commands: &'static str,
}

impl PackView {
    /// The text of `policy show`.
    pub fn text(&self, paint: Paint<'_>) -> String {
        let mut out = String::new();
        let id = paint(Tone::Strong, &self.id);
        push_line!(out, "{id} {} — {}", self.version, self.title);
        push_line!(out, "  source   {}", self.source);
        push_line!(out, "  mode     {}", self.mode);
        push_line!(out, "  digest   {}", self.digest);
        push_line!(out, "  lineage  {}", self.lineage.join(" <- "));
        push_line!(
            out,
            "  default for unlisted commands: {}",
            self.unlisted_commands
        );
        push_line!(out, "  rules ({}):", self.rules.len());
        for r in &self.rules {
            push_line!(out, "    {:<48} {:<17} {}", r.id, r.effect, r.reason);
        }
        let rows: usize = self.cli.iter().map(|e| e.rows.len()).sum();
        push_line!(
            out,
            "  CLI table ({} programs, {rows} rows):",
            self.cli.len()
        );
        for e in &self.cli {
            for r in &e.rows {
                let cmd = format!("{} {}", e.program, r.path);
                push_line!(
                    out,
                    "    {:<48} {:<17} {}",
                    cmd.trim_end(),
                    r.effect,
                    r.rule
                );
            }
        }
        out
    }
}

/// A rule of [`PackView`].
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub id: String,
    pub effect: &'static str,
    pub reason: String,
    pub approver_group: Option<String>,
    pub controls: Vec<String>,
    pub alternative: Option<String>,
}

/// A program of the CLI table of [`PackView`].
#[derive(Debug, Clone, Serialize)]
pub struct CliView {
    pub program: String,
    pub rows: Vec<CliRowView>,
}

/// A row of [`CliView`]: the command path and the rule it raises.
#[derive(Debug, Clone, Serialize)]
pub struct CliRowView {
    pub path: String,
    pub rule: String,
    pub effect: &'static str,
    pub severity: &'static str,
}

/// The view of a loaded pack.
pub fn show(pack: &CompiledPack, origin: &Origin) -> PackView {
    let rules = pack.rules.iter().map(|r| RuleView {
        id: r.id.clone(),
        effect: r.effect.as_str(),
        reason: r.reason.clone(),
        approver_group: r.approver_group.clone(),
        controls: r.controls.clone(),
        alternative: r.alternative.clone(),
    });
    let cli = pack
        .cli
        .entries(&pack.normalized.pack)
        .into_iter()
        .map(|e| CliView {
            program: e.program.clone(),
            rows: e
                .rows
                .iter()
                .map(|r| CliRowView {
                    path: r.path_text.clone(),
                    rule: r.rule.id.clone(),
                    effect: r.rule.effect.as_str(),
                    severity: diff::severity_name(&r.rule.severity),
                })
                .collect(),
        });
    PackView {
        id: pack.id.clone(),
        title: pack.title.clone(),
        version: pack.version.clone(),
        mode: pack.mode.as_str(),
        digest: pack.digest.clone(),
        lineage: pack.lineage.clone(),
        source: origin.describe(),
        rules: rules.collect(),
        cli: cli.collect(),
        unlisted_commands: pack.defaults.commands.as_str(),
    }
}

/// A pack compiled to a file (`policy compile -o FILE`).
#[derive(Debug, Clone, Serialize)]
pub struct Compiled {
    pub id: String,
    pub digest: String,
    pub output: PathBuf,
}

impl Compiled {
    /// The sentence saying what was written.
    pub fn text(&self) -> String {
        let (id, to, digest) = (&self.id, self.output.display(), &self.digest);
        format!("compiled {id} -> {to} ({digest})\n")
    }
}

/// Writes the compiled form of `pack` (its normalized JSON, digest inside) to `output`.
pub fn write_compiled(pack: &CompiledPack, output: &Path) -> Result<Compiled> {
    std::fs::write(output, pack.to_json() + "\n").map_err(|source| RuntimeError::Write {
        path: output.to_path_buf(),
        source,
    })?;
    Ok(Compiled {
        id: pack.id.clone(),
        digest: pack.digest.clone(),
        output: output.to_path_buf(),
    })
}

/// The validation of one pack file.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub file: PathBuf,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<ValidationProblem>>,
    /// Rules of the valid pack.
    #[serde(skip)]
    pub rules: usize,
}

/// Why a pack file is not valid.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ValidationProblem {
    /// At a place in a file (schema, YAML syntax, inheritance).
    Located(Problem),
    /// About the file as a whole (it cannot be read, an inherited pack is missing).
    Whole {
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        message: String,
    },
}

impl Validation {
    fn invalid(file: &Path, problems: Vec<ValidationProblem>) -> Validation {
        Validation {
            file: file.to_path_buf(),
            valid: false,
            id: None,
            digest: None,
            problems: Some(problems),
            rules: 0,
        }
    }
}

impl Validation {
    /// The text of a validation: the `ok` line of a valid pack (for stdout), else one line
    /// per problem (for stderr).
    pub fn text(&self, paint: Paint<'_>) -> String {
        let mut out = String::new();
        let file = self.file.display();
        if let (true, Some(id), Some(digest)) = (self.valid, &self.id, &self.digest) {
            let (ok, n, d) = (paint(Tone::Good, "ok"), self.rules, short(digest));
            push_line!(out, "{ok} {file} ({id}, {n} rules, {d})");
        }
        for p in self.problems.iter().flatten() {
            match p {
                ValidationProblem::Located(p) => push_line!(out, "{p}"),
                ValidationProblem::Whole { message, .. } => push_line!(out, "{file}: {message}"),
            }
        }
        out
    }
}

/// Validates and compiles the pack source `src` (named `file` in problems); its `extends`
/// are found in `policy_dirs`, then among the bundled packs.
pub fn validate_source(file: &Path, src: &str, policy_dirs: &[PathBuf]) -> Validation {
    let name = file.display().to_string();
    let dr = DirResolver {
        dirs: policy_dirs.to_vec(),
    };
    let compiled = policy::parse_pack(&name, src)
        .and_then(|p| policy::compile::compile(p, &ChainResolver(vec![&dr, &BundledResolver])));
    match compiled {
        Ok(p) => Validation {
            file: file.to_path_buf(),
            valid: true,
            id: Some(p.id.clone()),
            digest: Some(p.digest.clone()),
            problems: None,
            rules: p.rules.len(),
        },
        Err(e) if e.problems().is_empty() => {
            let whole = ValidationProblem::Whole {
                file: Some(name),
                message: e.to_string(),
            };
            Validation::invalid(file, vec![whole])
        }
        Err(e) => {
            let located = e.problems().iter().cloned();
            Validation::invalid(file, located.map(ValidationProblem::Located).collect())
        }
    }
}

/// Validates the pack file `file`; its `extends` are found in `policy_dirs`, the directory
/// of packs it sits in (`DIR/<id>/policy.yaml`), then among the bundled packs.
pub fn validate_file(file: &Path, policy_dirs: &[PathBuf]) -> Validation {
    let src = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            let message = format!("cannot read: {e}");
            let whole = ValidationProblem::Whole {
                file: None,
                message,
            };
            return Validation::invalid(file, vec![whole]);
        }
    };
    let mut dirs = policy_dirs.to_vec();
    dirs.extend(file.parent().and_then(Path::parent).map(Path::to_path_buf));
    validate_source(file, &src, &dirs)
}

/// The semantic diff of two packs (ids or pack files).
pub fn diff(from: &str, to: &str, policy_dirs: &[PathBuf]) -> Result<diff::PackDiff> {
    Ok(diff::diff(
        &load_spec(from, policy_dirs)?,
        &load_spec(to, policy_dirs)?,
    ))
}

/// The cells of a changed rule's `policy diff` row: change, rule, effect, direction.
fn diff_cells(r: &diff::RuleChange, paint: Paint<'_>) -> Vec<String> {
    let label = match r.direction.as_deref() {
        Some("loosened") => paint(Tone::StrongBad, "LOOSENED"),
        Some("tightened") => paint(Tone::StrongGood, "tightened"),
        _ => String::new(),
    };
    let (from, to) = (r.from_effect.as_deref(), r.to_effect.as_deref());
    let effect = format!("{} -> {}", from.unwrap_or("-"), to.unwrap_or("-"));
    vec![r.change.clone(), r.rule_id.clone(), effect, label]
}

/// The text of `policy diff`: the changed rules as a table, each with its details.
pub fn diff_text(paint: Paint<'_>, d: &diff::PackDiff) -> String {
    let (f, t) = (short(&d.from_digest), short(&d.to_digest));
    let mut out = format!("{} ({f}) -> {} ({t})\n", d.from, d.to);
    if d.rules.is_empty() && d.settings.is_empty() {
        out.push_str("  no semantic changes\n");
    }
    let cells = d.rules.iter().map(|r| diff_cells(r, paint));
    let cells: Vec<_> = cells.collect();
    let text = table(&["CHANGE", "RULE", "EFFECT", "DIRECTION"], &cells);
    let mut lines = text.lines().map(|l| format!("  {l}\n"));
    out.extend(lines.next().filter(|_| !d.rules.is_empty()));
    for (line, r) in lines.zip(&d.rules) {
        out.push_str(&line);
        out.extend(r.details.iter().map(|x| format!("      {x}\n")));
    }
    out.extend(d.settings.iter().map(|s| format!("  setting  {s}\n")));
    if d.loosens {
        let warning = "this change loosens the policy: review before shipping";
        out.push_str(&(paint(Tone::StrongBad, warning) + "\n"));
    }
    out
}

/// Validates pack files (see [`validate_file`]).
pub fn validate_files(files: &[PathBuf], policy_dirs: &[PathBuf]) -> Vec<Validation> {
    files
        .iter()
        .map(|f| validate_file(f, policy_dirs))
        .collect()
}

/// What `policy test` runs.
#[derive(Debug, Clone)]
pub enum TestTarget {
    /// Every bundled pack with its bundled tests.
    AllBundled,
    /// One pack with test files; without files, its bundled or inline tests.
    Pack {
        pack: Box<CompiledPack>,
        files: Vec<PathBuf>,
    },
}

/// The result of `policy test`.
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub passed: usize,
    pub failed: usize,
    pub files: Vec<TestFileReport>,
}

impl TestReport {
    /// The text of `policy test`: a line per failed case, then the counts.
    pub fn text(&self, paint: Paint<'_>) -> String {
        let mut out = String::new();
        for f in &self.files {
            for r in f.results.iter().filter(|r| !r.passed) {
                let fail = paint(Tone::Bad, "FAIL");
                let want = r.expected_rule.as_ref().map(|x| format!(" ({x})"));
                let want = want.unwrap_or_default();
                let got = format!("{} ({}) — {}", r.got, r.got_rule, r.reason);
                push_line!(
                    out,
                    "{fail} {}: {}: expected {}{want}, got {got}",
                    f.file,
                    r.name,
                    r.expected
                );
            }
        }
        push_line!(out, "{} passed, {} failed", self.passed, self.failed);
        out
    }
}

/// The results of one test file.
#[derive(Debug, Clone, Serialize)]
pub struct TestFileReport {
    pub pack: String,
    pub file: String,
    pub results: Vec<testing::CaseResult>,
}

/// Runs pack tests.
pub fn test(target: TestTarget) -> Result<TestReport> {
    let mut jobs: Vec<(CompiledPack, String, testing::TestFile)> = Vec::new();
    match target {
        TestTarget::AllBundled => {
            for (id, src) in bundled::TESTS {
                let name = format!("<bundled tests>/{id}.yaml");
                let file = testing::parse_test_file(id, src)?;
                jobs.push((bundled::compiled(id)?, name, file));
            }
        }
        TestTarget::Pack { pack, files } => {
            if files.is_empty() {
                if let Some(src) = bundled::tests_yaml(&pack.id) {
                    let file = testing::parse_test_file(&pack.id, src)?;
                    jobs.push((
                        *pack.clone(),
                        format!("<bundled tests>/{}.yaml", pack.id),
                        file,
                    ));
                } else if !pack.tests().is_empty() {
                    let file = testing::TestFile {
                        tests: pack.tests().to_vec(),
                        ..Default::default()
                    };
                    jobs.push((*pack.clone(), format!("{} (inline tests)", pack.id), file));
                } else {
                    return Err(RuntimeError::NoTests(pack.id.clone()));
                }
            }
            for t in &files {
                let src = std::fs::read_to_string(t).map_err(|source| RuntimeError::Read {
                    what: "test file",
                    path: t.clone(),
                    source,
                })?;
                let name = t.display().to_string();
                let file = testing::parse_test_file(&name, &src)?;
                jobs.push((*pack.clone(), name, file));
            }
        }
    }
    let mut report = TestReport {
        passed: 0,
        failed: 0,
        files: Vec::new(),
    };
    for (pack, file, tests) in jobs {
        let results = testing::run(&pack, &tests, &EvalEnv::default());
        let passed = results.iter().filter(|r| r.passed).count();
        report.passed = report.passed.saturating_add(passed);
        report.failed = report
            .failed
            .saturating_add(results.len().saturating_sub(passed));
        report.files.push(TestFileReport {
            pack: pack.id,
            file,
            results,
        });
    }
    Ok(report)
}

/// The signature file of a pack file: `FILE.sig`.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// A pack file signed by [`sign`].
#[derive(Debug, Clone)]
pub struct Signed {
    pub pack_id: String,
    pub digest: String,
    pub signature: PackSignature,
    /// Where the signature was written.
    pub path: PathBuf,
}

impl Signed {
    /// The sentence saying what was signed.
    pub fn text(&self) -> String {
        let (id, kid, to) = (&self.pack_id, &self.signature.key_id, self.path.display());
        format!(
            "signed {id} ({}) with key {kid} -> {to}\n",
            short(&self.digest)
        )
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| RuntimeError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Signs the pack file `file` (it must compile; its `extends` found in `policy_dirs`) with
/// the Ed25519 key in `key` and writes the signature to `FILE.sig`.
pub fn sign(file: &Path, key: &Path, policy_dirs: &[PathBuf]) -> Result<Signed> {
    let src = read_bytes(file)?;
    let pack = compile_path(file, policy_dirs)?;
    let k = cavra_evidence::pack_keys::read_signing_key(key)?;
    let signature = signing::sign(&pack.id, &src, &pack.digest, &k);
    let path = signature_path(file);
    let text = serde_json::to_string_pretty(&signature).map_err(RuntimeError::Encode)?;
    std::fs::write(&path, text + "\n").map_err(|source| RuntimeError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Signed {
        pack_id: pack.id,
        digest: pack.digest,
        signature,
        path,
    })
}

/// The verification of a signed pack file. Its document (`--json`) is `{"verified": true,
/// "pack", "digest", "key_id", "trusted"}` or `{"verified": false, "pack", "error"}`.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub verified: bool,
    /// The pack id; `None` when the file no longer compiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The key that verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Verified against a trusted key (else only against the key embedded in the signature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Verification {
    /// The text of a verified pack (empty for a refused one: its `error` says why).
    pub fn text(&self, paint: Paint<'_>) -> String {
        let (Some(pack), Some(kid)) = (&self.pack, &self.key_id) else {
            return String::new();
        };
        let only = match self.trusted {
            Some(true) => "",
            _ => " (integrity only: no --trusted-key given)",
        };
        let verified = paint(Tone::Good, "verified");
        format!("{verified} {pack} signed by key {kid}{only}\n")
    }
}

/// Verifies the pack file `file` against `FILE.sig` and the trusted public key files
/// (none: integrity against the key embedded in the signature only). A file that was
/// changed, no longer compiles or is signed by an untrusted key is refused
/// (`verified: false`); an error is what stops the check itself (an unreadable file or key,
/// no signature).
pub fn verify(file: &Path, trusted: &[PathBuf], policy_dirs: &[PathBuf]) -> Result<Verification> {
    let src = read_bytes(file)?;
    let sp = signature_path(file);
    let sig_text = std::fs::read_to_string(&sp).map_err(|source| RuntimeError::NoSignature {
        path: sp.clone(),
        source,
    })?;
    let sig: PackSignature = serde_json::from_str(&sig_text)
        .map_err(|source| RuntimeError::NotASignature { path: sp, source })?;
    let keys = cavra_evidence::pack_keys::read_trusted(trusted)?;
    let refused = |pack: Option<String>, error: String| Verification {
        verified: false,
        pack,
        digest: None,
        key_id: None,
        trusted: None,
        error: Some(error),
    };
    let pack = match compile_path(file, policy_dirs) {
        Ok(p) => p,
        Err(e) => {
            let why = format!(
                "`{}` no longer compiles ({})",
                file.display(),
                crate::chain(&e)
            );
            return Ok(refused(None, why));
        }
    };
    Ok(
        match signing::verify(&sig, &pack.id, &src, &pack.digest, &keys) {
            Ok(kid) => Verification {
                verified: true,
                pack: Some(pack.id),
                digest: Some(pack.digest),
                key_id: Some(kid),
                trusted: Some(!keys.is_empty()),
                error: None,
            },
            Err(e) => refused(Some(pack.id), e.to_string()),
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_lists_changed_rules_with_their_direction() {
        let d = diff("cavra-coding-baseline", "cavra-strict", &[]).unwrap();
        let mark = |t: Tone, s: &str| format!("[{t:?}:{s}]");
        let text = diff_text(&mark, &d);
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("cavra-coding-baseline (") && first.contains(") -> cavra-strict (")
        );
        assert!(text.contains("\n  CHANGE  "), "{text}");
        assert!(text.contains("[StrongGood:tightened]"), "{text}");
        let same = diff("cavra-strict", "cavra-strict", &[]).unwrap();
        assert!(diff_text(&mark, &same).ends_with(")\n  no semantic changes\n"));
    }

    #[test]
    fn list_shows_bundled_packs_then_directory_packs_and_broken_ones() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("cavra-team")).unwrap();
        std::fs::write(
            d.path().join("cavra-team/policy.yaml"),
            "metadata: {id: cavra-team, extends: cavra-coding-baseline}\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("cavra-bad")).unwrap();
        std::fs::write(
            d.path().join("cavra-bad/policy.yaml"),
            "metadata: {id: cavra-bad, extends: nope}\n",
        )
        .unwrap();
        let rows = list(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(rows.len(), bundled::PACKS.len() + 2);
        let v = serde_json::to_value(&rows).unwrap();
        let defaults: Vec<_> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["default"] == true)
            .collect();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0]["id"], bundled::DEFAULT_PACK);
        let n = bundled::PACKS.len();
        assert_eq!(v[n]["id"], "cavra-bad");
        assert!(v[n]["error"].as_str().unwrap().contains("nope"), "{}", v[n]);
        assert_eq!(v[n + 1]["id"], "cavra-team");
        assert!(v[n + 1].get("default").is_none());
        assert_eq!(v[n + 1]["rules"], v[0]["rules"]);
    }

    #[test]
    fn validation_locates_problems_and_reports_unreadable_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("p.yaml");
        let v = validate_source(
            &f,
            "metadata:\n  id: cavra-x\ncommands:\n  blok: [rm]\n",
            &[],
        );
        assert!(!v.valid);
        let problems = v.problems.unwrap();
        assert!(
            matches!(&problems[0], ValidationProblem::Located(p) if p.line == 4),
            "{problems:?}"
        );
        let v = validate_source(&f, "metadata: {id: cavra-x, extends: nope}\n", &[]);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["valid"], false);
        assert!(
            j["problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains("nope"),
            "{j}"
        );
        let v = validate_file(&d.path().join("missing.yaml"), &[]);
        let j = serde_json::to_value(&v).unwrap();
        assert!(
            j["problems"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("cannot read: "),
            "{j}"
        );
        assert!(j["problems"][0].get("file").is_none());
        let v = validate_source(
            &f,
            "metadata: {id: cavra-x, extends: cavra-coding-baseline}\n",
            &[],
        );
        assert!(v.valid && v.rules > 0 && v.id.as_deref() == Some("cavra-x"));
    }

    #[test]
    fn a_pack_without_tests_is_an_error_and_failures_are_counted() {
        let pack = Box::new(
            policy::compile::compile(
                policy::parse_pack(
                    "p",
                    "metadata: {id: cavra-x, extends: cavra-coding-baseline}\n",
                )
                .unwrap(),
                &BundledResolver,
            )
            .unwrap(),
        );
        let e = test(TestTarget::Pack {
            pack: pack.clone(),
            files: vec![],
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "pack `cavra-x` has no tests; pass --tests FILE"
        );
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("t.yaml");
        std::fs::write(&t, "tests:\n  - {action: read_file, target: .env, expect: allow}\n  - {action: read_file, target: .env, expect: block}\n").unwrap();
        let r = test(TestTarget::Pack {
            pack,
            files: vec![t],
        })
        .unwrap();
        assert_eq!((r.passed, r.failed), (1, 1));
    }

    #[test]
    fn a_signed_pack_verifies_and_an_edited_one_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("team.yaml");
        std::fs::write(
            &f,
            "metadata: {id: cavra-team, extends: cavra-coding-baseline}\n",
        )
        .unwrap();
        let key = d.path().join("k");
        let pair = cavra_evidence::pack_keys::generate(&key).unwrap();
        let s = sign(&f, &key, &[]).unwrap();
        assert_eq!(s.path, d.path().join("team.yaml.sig"));
        assert_eq!(s.signature.key_id, pair.key_id);
        let v = verify(&f, std::slice::from_ref(&pair.public), &[]).unwrap();
        assert!(v.verified && v.trusted == Some(true), "{v:?}");
        let v = verify(&f, &[], &[]).unwrap();
        assert!(v.verified && v.trusted == Some(false), "{v:?}");
        std::fs::write(
            &f,
            "metadata: {id: cavra-team, extends: cavra-coding-baseline}\n# edit\n",
        )
        .unwrap();
        let v = verify(&f, std::slice::from_ref(&pair.public), &[]).unwrap();
        assert!(!v.verified && v.error.unwrap().contains("modified after signing"));
        std::fs::write(&f, "metadata: {id: cavra-team, extends: nope}\n").unwrap();
        let v = verify(&f, &[pair.public], &[]).unwrap();
        assert!(!v.verified && v.pack.is_none() && v.error.unwrap().contains("no longer compiles"));
    }
}
