//! `cavra ci check`: a change (`git diff BASE..HEAD`) judged as the hook would have judged
//! the agent making it, for a required CI check.
//!
//! - every changed path is a `write_file` (or `delete_file`) request through the pack's
//!   file rules — workflow files, secrets, CAVRA's own policy — decided by the same
//!   evaluation the hook runs ([`crate::org::evaluate_tightened`]: the pack, tightened by
//!   the organisation pack);
//! - every added line is scanned for secrets ([`secrets`]);
//! - the commands of changed shell scripts, Makefiles and CI configurations that touch
//!   added lines ([`steps`]) are `execute_command` requests through the command guard;
//! - with `require_attestation`, the change must carry a bundle of session evidence that
//!   verifies against a trust root ([`attest`]).
//!
//! The pack is the one the change's *base* had (`.cavra/policy.yaml` at BASE, else the
//! bundled baseline), unless the caller chose one: a change cannot loosen the policy that
//! judges it. [`report`] writes the result as text, JSON, SARIF 2.1.0 or JUnit XML.

pub mod attest;
pub mod git;
pub mod report;
pub mod secrets;
pub mod steps;

use crate::error::RuntimeError;
use crate::locate::Locator;
use crate::packs::{self, DirResolver, PackChoice};
use crate::request::{self, Placement};
use crate::Runtime;
use cavra_core::guard::EvalEnv;
use cavra_core::policy::{self, compile::CompiledPack, BundledResolver, ChainResolver};
use cavra_core::{Decision, Outcome, PolicyRef, Severity};
use git::{Change, Repo};
use serde::Serialize;
use std::path::PathBuf;

/// Everything that stops a check from reaching its verdict (the front end exits 1).
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    #[error("`{}` is not inside a git repository", .0.display())]
    NotARepo(PathBuf),
    #[error("`{0}` is not a commit in this repository (fetch it first: `git fetch origin {0}`, and check out with `fetch-depth: 0`)")]
    BadRef(String),
    #[error("cannot run `git`")]
    GitMissing(#[source] std::io::Error),
    #[error("`git {args}` failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("unexpected output of `git`: {0}")]
    GitOutput(String),
    #[error("the policy `.cavra/policy.yaml` at `{base}` does not load")]
    BasePolicy {
        base: String,
        #[source]
        source: RuntimeError,
    },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("unknown format `{0}`; formats: text, json, sarif, junit")]
    Format(String),
    #[error("cannot encode the report")]
    Encode(#[source] serde_json::Error),
}

/// What to check.
#[derive(Debug, Clone)]
pub struct CiOptions {
    /// Where the check runs: `cwd` is inside the repository, `home` expands `~` in
    /// commands as the hook expands it.
    pub locator: Locator,
    /// The base ref (`origin/main`, a commit).
    pub base: String,
    /// The head ref (default `HEAD`).
    pub head: String,
    /// The pack; without a choice, `.cavra/policy.yaml` at the base, else the baseline.
    pub packs: PackChoice,
    /// Fail unless the change carries verified session evidence.
    pub require_attestation: bool,
    /// The bundle (directory or `.zip`); default [`attest::DEFAULT_PATHS`] in the repository.
    pub attestation: Option<PathBuf>,
    /// The trust root the bundle must verify against; default `.cavra/trust-root.json`.
    pub trust_root: Option<PathBuf>,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// A changed path the pack's file rules restrict.
    Path,
    /// Added content that looks like a secret.
    Secret,
    /// A command in a changed script, Makefile or CI step.
    Command,
    /// The change's session evidence.
    Attestation,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Path => "path",
            Class::Secret => "secret",
            Class::Command => "command",
            Class::Attestation => "attestation",
        }
    }
}

/// One thing the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub class: Class,
    pub rule_id: String,
    /// `block`, `require_approval` or `shadow` (recorded only: the pack is in shadow mode).
    pub decision: String,
    /// Does it fail the check?
    pub fails: bool,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
    /// The command judged (shortened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// One item checked (a test case in JUnit).
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub class: Class,
    pub path: String,
}

/// The result of a check.
#[derive(Debug, Clone, Serialize)]
pub struct CiReport {
    pub passed: bool,
    pub base: String,
    pub head: String,
    pub policy: PolicyRef,
    pub policy_source: String,
    /// The changed paths.
    pub changed: usize,
    pub lines_scanned: usize,
    pub commands_checked: usize,
    pub checked: Vec<Checked>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<attest::Attestation>,
    pub findings: Vec<Finding>,
}

impl CiReport {
    /// 0 passed, 2 a finding fails the check.
    pub fn exit_code(&self) -> i32 {
        if self.passed {
            0
        } else {
            2
        }
    }
}

/// Longest line scanned for secrets (longer lines: their first part).
const MAX_LINE: usize = 8 * 1024;
/// Findings of one class kept per file.
const MAX_PER_FILE: usize = 20;

impl Runtime {
    /// Checks the change `opts.base..opts.head` of the repository around `opts.dir`.
    pub fn ci_check(&mut self, opts: &CiOptions) -> Result<CiReport, CiError> {
        let repo = Repo::discover(&opts.locator.cwd)?;
        let head_ref = if opts.head.is_empty() {
            "HEAD"
        } else {
            &opts.head
        };
        let (base, head) = (repo.commit(&opts.base)?, repo.commit(head_ref)?);
        let (pack, policy_source) = pack_at_base(&repo, &base, &opts.packs)?;
        let org = self.org_pack(&pack)?;
        let mut j = Judge {
            runtime: self,
            pack: &pack,
            org: org.as_deref(),
            locator: Locator {
                cwd: repo.root.clone(),
                home: opts.locator.home.clone(),
            },
        };
        let changed = repo.changed(&base, &head)?;
        let mut findings = Vec::new();
        let mut checked = Vec::new();
        let (mut lines_scanned, mut commands_checked) = (0usize, 0usize);
        for c in &changed {
            let action = if c.change == Change::Deleted {
                "delete_file"
            } else {
                "write_file"
            };
            checked.push(Checked {
                class: Class::Path,
                path: c.path.clone(),
            });
            let d = j.decide(action, &c.path)?;
            findings.extend(finding_of(Class::Path, &d, Some(&c.path), None, None));
            if c.change == Change::Deleted {
                continue;
            }
            let Some(added) = repo.added_lines(&base, &head, &c.path)? else {
                continue;
            };
            checked.push(Checked {
                class: Class::Secret,
                path: c.path.clone(),
            });
            lines_scanned = lines_scanned.saturating_add(added.len());
            findings.extend(secret_findings(&c.path, &added));
            let Some(text) = repo.text_at(&head, &c.path)? else {
                continue;
            };
            let Some(kind) = steps::FileKind::of(&c.path, &text) else {
                continue;
            };
            checked.push(Checked {
                class: Class::Command,
                path: c.path.clone(),
            });
            let lines: Vec<usize> = added.iter().map(|(n, _)| *n).collect();
            let mut n = 0usize;
            for step in steps::steps(kind, &text)
                .into_iter()
                .filter(|s| s.touches(&lines))
            {
                commands_checked = commands_checked.saturating_add(1);
                let mut cmd = step.text.clone();
                if kind == steps::FileKind::GithubWorkflow {
                    if let Some(expr) = steps::untrusted_expression(&cmd) {
                        findings.push(injection(&c.path, step.first, &expr, &cmd));
                    }
                    cmd = steps::without_expressions(&cmd);
                }
                let d = j.decide("execute_command", &cmd)?;
                let f = finding_of(
                    Class::Command,
                    &d,
                    Some(&c.path),
                    Some(step.first),
                    Some(&cmd),
                );
                if let Some(f) = f {
                    n = n.saturating_add(1);
                    if n <= MAX_PER_FILE {
                        findings.push(f);
                    }
                }
            }
        }
        let attestation = if opts.require_attestation {
            let changed_paths: Vec<&str> = changed.iter().map(|c| c.path.as_str()).collect();
            let a = attest::check(&repo.root, opts, &changed_paths);
            findings.extend(a.finding());
            Some(a)
        } else {
            None
        };
        Ok(CiReport {
            passed: !findings.iter().any(|f| f.fails),
            base,
            head,
            policy: PolicyRef {
                id: pack.id.clone(),
                version: pack.version.clone(),
                digest: pack.digest.clone(),
            },
            policy_source,
            changed: changed.len(),
            lines_scanned,
            commands_checked,
            checked,
            attestation,
            findings,
        })
    }
}

/// Decides requests as the hook does: placed at the repository root, under the pack
/// tightened by the organisation pack, scripts read through the runtime's reader.
struct Judge<'a> {
    runtime: &'a Runtime,
    pack: &'a CompiledPack,
    org: Option<&'a CompiledPack>,
    locator: Locator,
}

impl Judge<'_> {
    fn decide(&mut self, action: &str, target: &str) -> Result<Decision, CiError> {
        let mut req =
            request::from_action(action, target, "ci", "cavra-ci").map_err(RuntimeError::from)?;
        Placement::default()
            .apply(&mut req, &self.locator)
            .map_err(RuntimeError::from)?;
        req.policy_pack = Some(self.pack.id.clone());
        let env = EvalEnv {
            scripts: Some(self.runtime.scripts()),
            ..Default::default()
        };
        Ok(crate::org::evaluate_tightened(
            self.pack, self.org, &req, &env,
        ))
    }
}

/// The pack the caller chose, else `.cavra/policy.yaml` as it was at `base`, else the
/// bundled baseline; with where it came from.
fn pack_at_base(
    repo: &Repo,
    base: &str,
    choice: &PackChoice,
) -> Result<(CompiledPack, String), CiError> {
    if choice.pack.is_some() || choice.policy.is_some() {
        let (p, origin) = packs::load(choice, None)?;
        return Ok((p, origin.describe()));
    }
    match repo.text_at(base, ".cavra/policy.yaml")? {
        Some(text) => {
            let name = format!("{base}:.cavra/policy.yaml");
            let compiled = (|| {
                let dirs = DirResolver {
                    dirs: choice.policy_dirs.clone(),
                };
                let resolver = ChainResolver(vec![&dirs, &BundledResolver]);
                let src = policy::parse_pack(&name, &text)?;
                Ok::<_, RuntimeError>(policy::compile::compile(src, &resolver)?)
            })()
            .map_err(|source| CiError::BasePolicy {
                base: base.chars().take(12).collect(),
                source,
            })?;
            Ok((
                compiled,
                format!("`.cavra/policy.yaml` at the base ({})", short(base)),
            ))
        }
        None => {
            let (p, origin) = packs::load(choice, None)?;
            Ok((p, origin.describe()))
        }
    }
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

/// The finding a decision makes, when it restricts the action.
fn finding_of(
    class: Class,
    d: &Decision,
    path: Option<&str>,
    line: Option<usize>,
    command: Option<&str>,
) -> Option<Finding> {
    if !matches!(
        d.enforced_decision,
        Outcome::Block | Outcome::RequireApproval
    ) {
        return None;
    }
    let mut message = d.reason.clone();
    if d.enforced_decision == Outcome::RequireApproval {
        message = format!(
            "needs approval by {}: {message}",
            d.approver_group.as_deref().unwrap_or("a person")
        );
    }
    Some(Finding {
        class,
        rule_id: d.rule_id.clone(),
        decision: if d.proceed {
            "shadow".into()
        } else {
            d.enforced_decision.as_str().into()
        },
        fails: !d.proceed,
        severity: d.severity,
        path: path.map(str::to_string),
        line,
        message,
        alternative: d.alternative.clone(),
        command: command.map(|c| cavra_core::text::truncate_chars(c, 200).into_owned()),
    })
}

fn secret_findings(path: &str, added: &[(usize, String)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (n, line) in added {
        let mut end = line.len().min(MAX_LINE);
        while !line.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        for hit in secrets::scan_line(line.get(..end).unwrap_or("")) {
            if out.len() == MAX_PER_FILE {
                return out;
            }
            out.push(Finding {
                class: Class::Secret,
                rule_id: hit.rule_id.into(),
                decision: "block".into(),
                fails: true,
                severity: Severity::High,
                path: Some(path.to_string()),
                line: Some(*n),
                message: format!("{} added to the repository: {}", hit.kind, hit.preview),
                alternative: Some("keep it in the CI's secret store or a secrets manager and read it from the environment; rotate it, since it is in the branch's history now".into()),
                command: None,
            });
        }
    }
    out
}

fn injection(path: &str, line: usize, expr: &str, cmd: &str) -> Finding {
    Finding {
        class: Class::Command,
        rule_id: "ci.workflow.script_injection".into(),
        decision: "block".into(),
        fails: true,
        severity: Severity::High,
        path: Some(path.to_string()),
        line: Some(line),
        message: format!("`${{{{ {expr} }}}}` is set by whoever opens the issue or pull request; interpolated into `run:` it becomes shell code"),
        alternative: Some("pass it through an environment variable (`env: TITLE: ${{ ... }}`) and use `\"$TITLE\"` in the script".into()),
        command: Some(cavra_core::text::truncate_chars(cmd, 200).into_owned()),
    }
}
