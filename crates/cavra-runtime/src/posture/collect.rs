//! Reading the facts of a posture: the evidence log (decisions and tamper reports in the
//! window, its verification, checkpoint coverage), the signing keys and the store. The
//! installation (which agents run CAVRA's hook) and the packs in force come from the front
//! end, which can see them.

use std::path::Path;

use cavra_evidence::segments::{list_segments, SegmentData};
use cavra_evidence::timeutil::parse_ts;
use cavra_evidence::{KeyStore, LogConfig, VerifyOptions};
use cavra_store::{ControlStore, RegistryStore, StoreError};
use serde_json::Value;
use time::OffsetDateTime;

use super::{compute, DecisionFact, EvidenceFacts, Facts, Options, PackFact, Posture, StoreFacts};
use crate::RuntimeError;

/// Everything the store holds that posture reads.
pub fn store_facts<S: ControlStore + RegistryStore + ?Sized>(
    store: &S,
    now: OffsetDateTime,
) -> Result<StoreFacts, StoreError> {
    Ok(StoreFacts {
        approvals: store.list_approvals(None, now)?,
        sessions: store.list_sessions()?,
        agents: store.list_agents()?,
        mcp_servers: store.list_mcp_servers()?,
    })
}

fn text(b: &Value, k: &str) -> String {
    b.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The decisions and tamper reports of the log in `dir` between `since` and `until`.
/// Lines that do not parse are skipped here (the verification reports them).
pub fn read_window(
    dir: &Path,
    since: OffsetDateTime,
    until: OffsetDateTime,
    facts: &mut Facts,
) -> Result<u64, RuntimeError> {
    let segments = list_segments(dir).map_err(|source| RuntimeError::ListLog {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut records = 0u64;
    for (_, path) in segments {
        let sd = SegmentData::read(&path).map_err(|source| RuntimeError::ReadSegment {
            path: path.clone(),
            source,
        })?;
        for i in 0..sd.lines.len() {
            let Ok(r) = cavra_evidence::Record::parse(sd.line(i)) else {
                continue;
            };
            records = records.saturating_add(1);
            let Ok(at) = parse_ts(&r.timestamp) else {
                continue;
            };
            if at < since || at > until {
                continue;
            }
            if r.kind.starts_with("tamper.") {
                facts.tamper.push((r.record_id.clone(), r.kind.clone()));
            }
            if r.kind != "decision" {
                continue;
            }
            let b = &r.body;
            facts.decisions.push(DecisionFact {
                record_id: r.record_id.clone(),
                at: at.unix_timestamp(),
                agent_id: text(b, "agent_id"),
                actor: text(b, "actor"),
                session: text(b, "session_id"),
                rule_id: text(b, "rule_id"),
                decision: text(b, "cavra_decision"),
                mode: text(b, "mode"),
                policy_id: text(b, "policy_id"),
                action_type: text(b, "action_type"),
                target: text(b, "target"),
            });
        }
    }
    Ok(records)
}

/// The verification of the log of `cfg` (checkpoint signatures) and its checkpoint coverage.
pub fn verify(cfg: &LogConfig, records: u64) -> EvidenceFacts {
    let mut e = EvidenceFacts {
        present: records > 0,
        records,
        checkpoint_every: cfg.checkpoint_every,
        ..EvidenceFacts::default()
    };
    if !e.present {
        e.verified = true;
        return e;
    }
    let report = KeyStore::new(&cfg.key_dir).keyring().and_then(|keyring| {
        let opts = VerifyOptions {
            keyring: &keyring,
            full_signatures: false,
            progress: None,
        };
        cavra_evidence::verify_log(&cfg.dir, opts)
    });
    match report {
        Ok(r) => {
            e.verified = r.ok;
            e.issues = r.issues.iter().map(ToString::to_string).collect();
        }
        Err(err) => e.issues.push(format!("cannot verify: {err}")),
    }
    let covered = cavra_evidence::log::read_checkpoints(&cfg.dir)
        .map(|(cps, _)| cps.iter().map(|(_, c)| c.tree_size).max().unwrap_or(0))
        .unwrap_or(0);
    e.after_checkpoint = records.saturating_sub(covered);
    e
}

/// The sources of a posture beyond the log: the packs in force, the store's facts (none
/// when there is no store), the hooked agents (none when the installation is not visible).
#[derive(Debug, Default)]
pub struct Sources {
    pub packs: Vec<PackFact>,
    pub store: Option<StoreFacts>,
    pub hooked_agents: Option<Vec<String>>,
    pub notes: Vec<String>,
}

/// The posture of the evidence log of `log` and `sources` over the window of `o`.
pub fn report(log: &LogConfig, sources: Sources, o: &Options) -> Result<Posture, RuntimeError> {
    let mut facts = Facts {
        store: sources.store,
        packs: sources.packs,
        hooked_agents: sources.hooked_agents,
        notes: sources.notes,
        ..Facts::default()
    };
    let records = if log.dir.is_dir() {
        read_window(&log.dir, o.since, o.until, &mut facts)?
    } else {
        0
    };
    facts.evidence = verify(log, records);
    match KeyStore::new(&log.key_dir).list() {
        Ok(keys) => facts.keys = keys,
        Err(e) => facts.notes.push(format!("signing keys not read: {e}")),
    }
    if facts.store.is_none() {
        facts
            .notes
            .push("no approvals store: approvals, sessions and registries not looked at".into());
    }
    if facts.hooked_agents.is_none() {
        facts
            .notes
            .push("the agents' installation is not visible here: hooks not checked".into());
    }
    Ok(compute(&facts, o))
}

impl crate::Runtime {
    /// The packs in force for a project: the pack `choice` resolves to (in the project of
    /// `project_cavra_dir`) and the organisation pack. One that does not load is a note:
    /// decisions under it fail closed.
    pub fn packs_in_force(
        &mut self,
        choice: &crate::PackChoice,
        project_cavra_dir: Option<&Path>,
    ) -> (Vec<PackFact>, Vec<String>) {
        let (mut packs, mut notes) = (Vec::new(), Vec::new());
        match crate::packs::load(choice, project_cavra_dir) {
            Ok((p, _)) => packs.push(PackFact::of(&p)),
            Err(e) => notes.push(format!(
                "the pack does not load (every decision fails closed): {}",
                crate::chain(&e)
            )),
        }
        match self.org_pack_loaded() {
            Ok(Some(p)) if packs.first().is_none_or(|f| f.id != p.id) => {
                packs.push(PackFact::of(&p))
            }
            Ok(_) => {}
            Err(e) => notes.push(format!(
                "the organisation pack does not load: {}",
                crate::chain(&e)
            )),
        }
        (packs, notes)
    }
}

impl Options {
    /// The window from `since` (RFC 3339, a date or a duration ago such as `7d`; default
    /// 7 days) to `now`.
    pub fn from_since(since: Option<&str>, now: OffsetDateTime) -> Result<Options, RuntimeError> {
        let start = match since {
            Some(s) => cavra_evidence::timeutil::parse_since(s).map_err(RuntimeError::Since)?,
            None => now - time::Duration::days(7),
        };
        if start > now {
            let e = cavra_evidence::EvidenceError::Invalid(format!(
                "`{}` is in the future",
                since.unwrap_or_default()
            ));
            return Err(RuntimeError::Since(e));
        }
        Ok(Options::new(start, now))
    }
}
