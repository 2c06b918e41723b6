//! The project checks of `cavra doctor` (the installation checks — binary, agents' hooks,
//! MCP registrations — are `cavra-setup`'s): the project policy loads, the evidence log
//! verifies (or its directory can be created), and every approval, break-glass and release
//! row of the store is signed by an approving identity (any that is not is recorded once
//! as a tamper event).

use std::path::Path;

use cavra_store::{DecisionStore, StoreError, Unverified};

use crate::packs::{self, PackChoice};
use crate::Runtime;

/// One check: its name, whether it passed, what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// A check's result.
pub fn health(name: &'static str, ok: bool, detail: impl Into<String>) -> Health {
    let detail = detail.into();
    Health { name, ok, detail }
}

/// The front end's probe of a directory that does not exist yet: `Err(why)` when it
/// cannot be created there.
pub type Writable<'a> = &'a dyn Fn(&Path) -> Result<(), String>;

/// The project's policy loads: `policy.yaml` of `project_cavra_dir` (found from the
/// project, see [`crate::Locator`]), else the bundled baseline.
pub fn policy(project: &Path, project_cavra_dir: &Path) -> Health {
    match packs::load(&PackChoice::default(), Some(project_cavra_dir)) {
        Ok((p, origin)) => {
            let (from, n) = (origin.describe(), p.rules.len());
            let detail = format!("{from} → pack `{}` {} ({n} rules)", p.id, p.version);
            health("policy", true, detail)
        }
        Err(e) => {
            let file = project.join(".cavra").join("policy.yaml");
            let e = crate::chain(&e);
            health(
                "policy",
                false,
                format!("`{}` does not load: {e}", file.display()),
            )
        }
    }
}

/// The evidence log of `cavra_dir` verifies (signatures of checkpoints only), or its
/// directory can be created.
pub fn evidence(cavra_dir: &Path, writable: Writable<'_>) -> Health {
    let cfg = cavra_evidence::LogConfig::for_cavra_dir(cavra_dir);
    let dir = cfg.dir.display();
    let has_log = std::fs::read_dir(&cfg.dir).is_ok_and(|mut d| d.next().is_some());
    if !has_log {
        return match writable(&cfg.dir) {
            Ok(()) => health(
                "evidence",
                true,
                format!("no log yet; `{dir}` can be created"),
            ),
            Err(e) => health("evidence", false, e),
        };
    }
    let verified = cavra_evidence::KeyStore::new(&cfg.key_dir)
        .keyring()
        .and_then(|keyring| {
            let opts = cavra_evidence::VerifyOptions {
                keyring: &keyring,
                full_signatures: false,
                progress: None,
            };
            cavra_evidence::verify_log(&cfg.dir, opts)
        });
    match verified {
        Ok(r) if r.ok => {
            let (n, segs) = (r.records, r.segments);
            let detail = format!("`{dir}` verifies: {n} records, {segs} segment(s)");
            health("evidence", true, detail)
        }
        Ok(r) => {
            let issues: Vec<_> = r
                .issues
                .iter()
                .take(3)
                .map(|i| i.message.as_str())
                .collect();
            let detail = format!("`{dir}` does not verify: {}", issues.join("; "));
            health("evidence", false, detail)
        }
        Err(e) => {
            let detail = format!("cannot verify `{dir}`: {}", crate::chain(&e));
            health("evidence", false, detail)
        }
    }
}

impl Runtime {
    /// The audit of `store`'s signed rows ([`Unverified`]: written by other means, ignored
    /// by every decision): passes when there is none; else each is recorded once as a
    /// tamper event in the evidence log of `cavra_dir`.
    pub fn audit_health(
        &mut self,
        cavra_dir: &Path,
        store: &mut dyn DecisionStore,
        audit: std::result::Result<Vec<Unverified>, StoreError>,
    ) -> Health {
        let name = "approval records";
        let found = match audit {
            Ok(found) if found.is_empty() => {
                let detail = "every approval, break-glass and release record is signed by an approving identity";
                return health(name, true, detail);
            }
            Ok(found) => found,
            Err(e) => return health(name, false, format!("cannot audit: {e}")),
        };
        let list: Vec<String> = found
            .iter()
            .map(|u| format!("{} `{}` ({}): {}", u.table, u.id, u.state, u.detail))
            .collect();
        let recorded = match self.record_tamper(cavra_dir, store, found) {
            Ok(()) => String::new(),
            Err(e) => format!(" (tamper event not recorded: {})", crate::chain(&e)),
        };
        let (n, list) = (list.len(), list.join("; "));
        let detail = format!("{n} record(s) written by other means (TAMPERING; ignored by every decision): {list}{recorded}");
        health(name, false, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_check_names_the_pack_or_the_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let cavra = dir.path().join(".cavra");
        let h = policy(dir.path(), &cavra);
        assert!(h.ok && h.detail.contains("cavra-coding-baseline"), "{h:?}");
        std::fs::create_dir_all(&cavra).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(cavra.join("policy.yaml"), "rules: [").unwrap_or_else(|e| panic!("{e}"));
        let h = policy(dir.path(), &cavra);
        assert!(
            !h.ok && h.detail.contains("policy.yaml` does not load"),
            "{h:?}"
        );
    }

    #[test]
    fn the_evidence_check_probes_a_missing_log_and_verifies_a_present_one() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ok = |_: &Path| Ok(());
        let h = evidence(dir.path(), &ok);
        assert!(h.ok && h.detail.starts_with("no log yet"), "{h:?}");
        let no = |_: &Path| Err("not writable".to_string());
        assert_eq!(
            evidence(dir.path(), &no),
            health("evidence", false, "not writable")
        );
        let cfg = cavra_evidence::LogConfig::for_cavra_dir(dir.path());
        let mut log = cavra_evidence::EvidenceLog::open(cfg).unwrap_or_else(|e| panic!("{e}"));
        log.append("test", &serde_json::json!({"n": 1}))
            .unwrap_or_else(|e| panic!("{e}"));
        drop(log);
        let h = evidence(dir.path(), &no);
        assert!(h.ok && h.detail.contains("verifies: 1 records"), "{h:?}");
    }
}
