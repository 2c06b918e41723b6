//! `--require-attestation`: the change carries the session evidence of the agent that made
//! it — an evidence bundle (`cavra evidence bundle --session S --output …`, with its DSSE /
//! in-toto attestation and PR summary) that verifies against a trust root and holds at
//! least one decision.

use super::{CiOptions, Class, Finding};
use cavra_core::Severity;
use cavra_evidence::bundle::verify_bundle;
use cavra_evidence::keys::TrustRoot;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the bundle is looked for in the repository, in order, when `--attestation` names
/// none.
pub const DEFAULT_PATHS: &[&str] = &[".cavra-evidence", ".cavra-evidence.zip"];

/// The trust root's place in the repository when `--trust-root` names none.
pub const DEFAULT_TRUST_ROOT: &str = ".cavra/trust-root.json";

/// What the attestation check found.
#[derive(Debug, Clone, Serialize)]
pub struct Attestation {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<String>,
    /// The bundle's session and decision counts (`evidence.json` `summary`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub decisions: u64,
    pub signatures_verified: u64,
    /// Why it failed (empty when ok).
    pub problems: Vec<String>,
}

impl Attestation {
    /// The failing finding, when the attestation does not hold.
    pub fn finding(&self) -> Option<Finding> {
        if self.ok {
            return None;
        }
        Some(Finding {
            class: Class::Attestation,
            rule_id: "ci.attestation.required".into(),
            decision: "block".into(),
            fails: true,
            severity: Severity::High,
            path: self.bundle.clone(),
            line: None,
            message: format!(
                "the change carries no verified session evidence: {}",
                self.problems.join("; ")
            ),
            alternative: Some(format!(
                "bundle the agent's session (`cavra evidence bundle --session S --output {}`) and commit it, or pass `--attestation PATH`; the bundle must verify against the trust root (`--trust-root FILE` or `{DEFAULT_TRUST_ROOT}`)",
                DEFAULT_PATHS.first().copied().unwrap_or_default()
            )),
            command: None,
        })
    }
}

/// Checks the bundle of `opts` (or the first of [`DEFAULT_PATHS`] under `root`).
/// `changed` are the change's paths: a trust root the change itself touches is not used.
pub fn check(root: &Path, opts: &CiOptions, changed: &[&str]) -> Attestation {
    let mut a = Attestation {
        ok: false,
        bundle: None,
        trust: None,
        session_id: None,
        decisions: 0,
        signatures_verified: 0,
        problems: Vec::new(),
    };
    let bundle = match &opts.attestation {
        Some(p) => Some(if p.is_absolute() {
            p.clone()
        } else {
            opts.locator.cwd.join(p)
        }),
        None => DEFAULT_PATHS
            .iter()
            .map(|p| root.join(p))
            .find(|p| p.exists()),
    };
    let Some(bundle) = bundle else {
        a.problems.push(format!(
            "no evidence bundle at `{}` (or pass --attestation PATH)",
            DEFAULT_PATHS.join("` or `")
        ));
        return a;
    };
    a.bundle = Some(relative(root, &bundle));
    let trust_file = match &opts.trust_root {
        Some(t) => Some(t.clone()),
        None if changed.contains(&DEFAULT_TRUST_ROOT) => {
            a.problems.push(format!(
                "`{DEFAULT_TRUST_ROOT}` is changed by this change, so it cannot vouch for it"
            ));
            return a;
        }
        None => Some(root.join(DEFAULT_TRUST_ROOT)).filter(|p| p.is_file()),
    };
    let Some(trust_file) = trust_file else {
        a.problems.push(format!(
            "no trust root: `{DEFAULT_TRUST_ROOT}` is missing and --trust-root names none (a bundle's own keys prove integrity, not origin)"
        ));
        return a;
    };
    a.trust = Some(trust_file.display().to_string());
    let ring = match TrustRoot::load(&trust_file)
        .and_then(|t| t.keyring(&format!("trust root `{}`", trust_file.display())))
    {
        Ok(r) => r,
        Err(e) => {
            a.problems
                .push(format!("the trust root does not load: {e}"));
            return a;
        }
    };
    let report = match verify_bundle(&bundle, Some(&ring)) {
        Ok(r) => r,
        Err(e) => {
            a.problems.push(format!("the bundle cannot be read: {e}"));
            return a;
        }
    };
    a.signatures_verified = report.signatures_verified;
    for i in report.issues.iter().take(5) {
        a.problems.push(format!("{}: {}", i.code, i.message));
    }
    if !report.ok && report.issues.is_empty() {
        a.problems.push("the bundle does not verify".into());
    }
    let evidence = read_evidence(&bundle);
    a.session_id = evidence
        .as_ref()
        .and_then(|e| e["session_id"].as_str().map(str::to_string));
    a.decisions = evidence
        .as_ref()
        .and_then(|e| e["summary"]["decisions"].as_u64())
        .unwrap_or(0);
    if report.ok && a.decisions == 0 {
        a.problems
            .push("the bundle verifies but holds no decision of a session".into());
    }
    a.ok = report.ok && a.problems.is_empty();
    a
}

fn read_evidence(bundle: &Path) -> Option<serde_json::Value> {
    let files = cavra_evidence::bundle::read_bundle(bundle).ok()?;
    serde_json::from_slice(files.get("evidence.json")?).ok()
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(PathBuf::from)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}
