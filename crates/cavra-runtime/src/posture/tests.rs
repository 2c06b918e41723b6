#![allow(clippy::unwrap_used)]

use super::*;
use time::Duration;

fn t(s: &str) -> OffsetDateTime {
    cavra_evidence::timeutil::parse_ts(s).unwrap()
}

fn opts() -> Options {
    Options::new(t("2026-01-01T00:00:00Z"), t("2026-01-02T00:00:00Z"))
}

fn decision(id: &str, at: &str, agent: &str, rule: &str, decision: &str) -> DecisionFact {
    DecisionFact {
        record_id: id.into(),
        at: t(at).unix_timestamp(),
        agent_id: format!("{agent}@host"),
        actor: agent.into(),
        session: "s1".into(),
        rule_id: rule.into(),
        decision: decision.into(),
        mode: "enforce".into(),
        policy_id: "cavra-coding-baseline".into(),
        action_type: "execute_command".into(),
        target: "x".into(),
    }
}

fn approval(id: &str, requested: &str, state: ApprovalState) -> Approval {
    Approval {
        schema_version: "1",
        approval_id: id.into(),
        decision_id: "d".into(),
        session_id: "s1".into(),
        correlation_id: None,
        state,
        approver_group: "leads".into(),
        requested_by: "claude-code@host".into(),
        requested_at: t(requested),
        expires_at: t(requested) + Duration::hours(48),
        decided_by: None,
        decided_at: None,
        decision_reason: None,
        break_glass: false,
        break_glass_reason: None,
        history: vec![],
        evidence_refs: vec![format!("rec-{id}")],
        request_hash: "h".into(),
        action_type: "execute_command".into(),
        target: "git push".into(),
        rule_id: "git.push".into(),
        severity: "high".into(),
        agent_id: "claude-code@host".into(),
        single_use: true,
        uses: 0,
        max_uses: 1,
        repo: None,
        attestation: None,
    }
}

fn pack(id: &str, mode: &str, rules: &[(&str, Effect, &[&str])]) -> PackFact {
    PackFact {
        id: id.into(),
        version: "1".into(),
        mode: mode.into(),
        rules: rules
            .iter()
            .map(|(r, e, c)| (r.to_string(), *e, c.iter().map(|s| s.to_string()).collect()))
            .collect(),
    }
}

fn ids(p: &Posture) -> Vec<&str> {
    p.findings.iter().map(|f| f.id.as_str()).collect()
}

fn present() -> EvidenceFacts {
    EvidenceFacts {
        present: true,
        records: 3,
        verified: true,
        ..EvidenceFacts::default()
    }
}

#[test]
fn an_agent_in_use_without_a_hook_is_a_finding_with_its_records() {
    let mut f = Facts {
        decisions: vec![
            decision("r1", "2026-01-01T01:00:00Z", "codex", "r", "allow"),
            decision("r2", "2026-01-01T02:00:00Z", "claude-code", "r", "allow"),
            decision("r3", "2026-01-01T03:00:00Z", "human", "r", "allow"),
        ],
        hooked_agents: Some(vec!["claude-code".into()]),
        evidence: present(),
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    let hook = p
        .findings
        .iter()
        .find(|x| x.id == "hook.missing:codex")
        .unwrap();
    assert_eq!(hook.severity, Severity::High);
    assert_eq!(hook.evidence, vec!["r1"]);
    assert!(hook.fix.contains("cavra init codex"), "{}", hook.fix);
    assert!(!ids(&p).contains(&"hook.missing:claude-code"));
    assert!(!ids(&p).iter().any(|i| i.contains("human")));
    // the server cannot see the installation: no hook finding at all
    f.hooked_agents = None;
    assert!(!ids(&compute(&f, &opts()))
        .iter()
        .any(|i| i.starts_with("hook.")));
    f.hooked_agents = Some(vec![]);
    f.decisions.clear();
    assert!(ids(&compute(&f, &opts())).contains(&"hook.none"));
}

#[test]
fn shadow_packs_in_force_and_in_the_log_are_findings() {
    let mut d = decision("r1", "2026-01-01T01:00:00Z", "codex", "git.force", "shadow");
    d.mode = "shadow".into();
    d.policy_id = "old-pack".into();
    let f = Facts {
        decisions: vec![d],
        packs: vec![pack("cavra-observe", "shadow", &[])],
        evidence: present(),
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    let observe = p
        .findings
        .iter()
        .find(|x| x.id == "pack.shadow:cavra-observe")
        .unwrap();
    assert_eq!(observe.severity, Severity::High);
    let old = p
        .findings
        .iter()
        .find(|x| x.id == "pack.shadow:old-pack")
        .unwrap();
    assert_eq!(
        (old.severity, old.evidence.clone()),
        (Severity::Medium, vec!["r1".to_string()])
    );
}

#[test]
fn unknown_unapproved_and_unpinned_mcp_servers_are_findings() {
    let mut call = decision("r1", "2026-01-01T01:00:00Z", "codex", "mcp.allow", "allow");
    call.action_type = "mcp_tool_call".into();
    call.target = "shady:exfil".into();
    let mut blocked = call.clone();
    blocked.record_id = "r2".into();
    blocked.target = "mcp__other__read".into();
    blocked.decision = "block".into();
    let mut known = call.clone();
    known.record_id = "r3".into();
    known.target = "github:create_pull_request".into();
    let server = |id: &str, state: &str, pinned: bool| {
        let mut extra = serde_json::Map::new();
        if pinned {
            extra.insert("version".into(), json!("1.2.3"));
        }
        McpServer {
            server_id: id.into(),
            name: None,
            trust_tier: "approved".into(),
            approval_state: state.into(),
            capabilities: vec![],
            allowed_tools: vec![],
            tool_classifications: Default::default(),
            extra,
        }
    };
    let f = Facts {
        decisions: vec![call, blocked, known],
        store: Some(StoreFacts {
            mcp_servers: vec![
                server("github", "approved", true),
                server("jira", "pending", false),
            ],
            ..StoreFacts::default()
        }),
        evidence: present(),
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    let sev = |id: &str| p.findings.iter().find(|x| x.id == id).map(|x| x.severity);
    assert_eq!(sev("mcp.unknown:shady"), Some(Severity::High));
    assert_eq!(sev("mcp.unknown:other"), Some(Severity::Medium));
    assert_eq!(sev("mcp.unknown:github"), None);
    assert_eq!(sev("mcp.unapproved:jira"), Some(Severity::Medium));
    assert_eq!(sev("mcp.unpinned:jira"), Some(Severity::Low));
    assert_eq!(sev("mcp.unpinned:github"), None);
}

#[test]
fn break_glass_overdue_approvals_and_held_sessions_are_findings() {
    let mut bg = approval("bg1", "2026-01-01T10:00:00Z", ApprovalState::BreakGlass);
    bg.break_glass = true;
    bg.break_glass_reason = Some("prod down".into());
    bg.requested_by = "alice".into();
    bg.expires_at = t("2026-01-01T12:00:00Z");
    let overdue = approval("a1", "2026-01-01T10:00:00Z", ApprovalState::Pending);
    let fresh = approval("a2", "2026-01-01T23:00:00Z", ApprovalState::Pending);
    let mut decided = approval("a3", "2026-01-01T10:00:00Z", ApprovalState::Approved);
    decided.decided_at = Some(t("2026-01-01T10:10:00Z"));
    let mut decided2 = approval("a4", "2026-01-01T10:00:00Z", ApprovalState::Denied);
    decided2.decided_at = Some(t("2026-01-01T11:00:00Z"));
    let session = SessionState {
        session_id: "s9".into(),
        agent_id: "codex@host".into(),
        held: true,
        held_reason: Some("3 blocked attempts".into()),
        held_at: Some(t("2026-01-01T09:00:00Z")),
        released_by: None,
        released_at: None,
        release_reason: None,
        total_blocks: 3,
        blocks: vec![],
        updated_at: t("2026-01-01T09:00:00Z"),
        transition: None,
    };
    let f = Facts {
        store: Some(StoreFacts {
            approvals: vec![bg, overdue, fresh, decided, decided2],
            sessions: vec![session],
            ..StoreFacts::default()
        }),
        evidence: present(),
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    let get = |id: &str| p.findings.iter().find(|x| x.id == id);
    let bgf = get("break_glass.used:bg1").unwrap();
    assert_eq!(bgf.severity, Severity::Medium, "expired by `until`");
    assert_eq!(bgf.evidence, vec!["bg1", "rec-bg1"]);
    assert!(get("approval.overdue:a1").is_some());
    assert!(get("approval.overdue:a2").is_none(), "1h old, SLA 4h");
    assert!(get("approval.overdue:a3").is_none());
    assert_eq!(get("session.held:s9").unwrap().severity, Severity::High);
    let s = &p.stats;
    assert_eq!(s.break_glass.len(), 1);
    assert_eq!(
        (
            s.break_glass[0].actor.as_str(),
            s.break_glass[0].reason.as_str()
        ),
        ("alice", "prod down")
    );
    assert_eq!(s.approvals_latency.count, 2);
    assert_eq!(s.approvals_latency.p50_seconds, 600);
    assert_eq!(s.approvals_latency.p90_seconds, 3600);
    assert_eq!(s.approvals_latency.max_seconds, 3600);
}

#[test]
fn repeated_blocks_make_trend_findings_per_agent_and_rule() {
    let mut decisions = vec![];
    for (i, at) in ["01", "13", "14", "15", "16", "17"].iter().enumerate() {
        let when = format!("2026-01-01T{at}:00:00Z");
        decisions.push(decision(
            &format!("r{i}"),
            &when,
            "codex",
            "git.force",
            "block",
        ));
    }
    decisions.push(decision(
        "ok",
        "2026-01-01T18:00:00Z",
        "codex",
        "x",
        "allow",
    ));
    let f = Facts {
        decisions,
        evidence: present(),
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    let agent = p
        .findings
        .iter()
        .find(|x| x.id == "blocks.agent:codex@host")
        .unwrap();
    assert_eq!(agent.severity, Severity::Medium);
    assert!(
        agent.title.contains("6 blocked") && agent.title.contains("rising"),
        "{}",
        agent.title
    );
    assert_eq!(agent.evidence.len(), 6);
    assert!(ids(&p).contains(&"blocks.rule:git.force"));
    assert!(!ids(&p).contains(&"blocks.rule:x"));
    assert_eq!(p.stats.top_rules, vec![("git.force".to_string(), 6)]);
    assert_eq!(p.stats.top_agents, vec![("codex@host".to_string(), 6)]);
    assert_eq!(p.stats.top_sessions, vec![("s1".to_string(), 6)]);
}

#[test]
fn evidence_gaps_tamper_reports_and_old_keys_are_findings() {
    let key = |id: &str, created: &str, active: bool| KeyInfo {
        key_id: id.into(),
        alg: "ed25519".into(),
        created_at: created.into(),
        public_key: None,
        active,
        retired_at: None,
    };
    let f = Facts {
        evidence: EvidenceFacts {
            present: true,
            records: 5000,
            verified: false,
            issues: vec!["[hash_mismatch] record #3: changed".into()],
            after_checkpoint: 2500,
            checkpoint_every: 1000,
        },
        tamper: vec![("t1".into(), "tamper.unverified_record".into())],
        keys: vec![
            key("old", "2025-06-01T00:00:00Z", true),
            key("retired", "2024-01-01T00:00:00Z", false),
            key("new", "2025-12-30T00:00:00Z", true),
        ],
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    assert_eq!(
        p.findings[0].id, "evidence.unverified",
        "critical sorts first"
    );
    assert!(p.findings[0].detail.contains("hash_mismatch"));
    for id in [
        "evidence.checkpoint_gap",
        "tamper.reported",
        "key.rotation:old",
    ] {
        assert!(ids(&p).contains(&id), "{id}: {:?}", ids(&p));
    }
    assert!(!ids(&p)
        .iter()
        .any(|i| i.contains("retired") || i.ends_with(":new")));
    let empty = compute(&Facts::default(), &opts());
    assert_eq!(ids(&empty), vec!["evidence.none"]);
}

#[test]
fn coverage_is_enforced_shadow_or_uncovered() {
    let enforcing = pack(
        "a",
        "enforce",
        &[
            (
                "secrets.read",
                Effect::Block,
                &["OWASP-LLM02", "NIST-SSDF-PS.1"],
            ),
            ("reads.ok", Effect::Allow, &["OWASP-LLM01"]),
        ],
    );
    let shadow = pack(
        "b",
        "shadow",
        &[(
            "mcp.x",
            Effect::RequireApproval,
            &["OWASP-LLM06", "OWASP-LLM02"],
        )],
    );
    let c = coverage(&[enforcing, shadow]);
    let get = |id: &str| c.iter().find(|x| x.control == id).unwrap();
    assert_eq!(get("OWASP-LLM02").status, CoverageStatus::Enforced);
    assert_eq!(get("OWASP-LLM02").rules, vec!["a/secrets.read", "b/mcp.x"]);
    assert_eq!(get("OWASP-LLM06").status, CoverageStatus::Shadow);
    assert_eq!(
        get("OWASP-LLM01").status,
        CoverageStatus::Uncovered,
        "an allow rule stops nothing"
    );
    assert_eq!(get("OWASP-LLM10").status, CoverageStatus::Uncovered);
    assert_eq!(get("NIST-SSDF-PS.1").framework, "NIST-SSDF");
    assert_eq!(get("SOC2-CC8.1").framework, "SOC 2");
    // the bundled baseline maps to all four frameworks
    let (baseline, _) = crate::packs::load(&crate::PackChoice::default(), None).unwrap();
    let c = coverage(&[PackFact::of(&baseline)]);
    for fw in [
        "OWASP LLM Top 10",
        "OWASP Agentic AI threats",
        "NIST AI RMF",
        "SOC 2",
    ] {
        assert!(
            c.iter()
                .any(|x| x.framework == fw && x.status == CoverageStatus::Enforced),
            "{fw}"
        );
    }
}

#[test]
fn the_score_follows_the_documented_formula() {
    let all_enforced: Vec<Coverage> = coverage(&[])
        .into_iter()
        .map(|mut c| {
            c.status = CoverageStatus::Enforced;
            c
        })
        .collect();
    assert_eq!(score(&[], &all_enforced), 100);
    // nothing covered: 20 points off
    assert_eq!(score(&[], &coverage(&[])), 80);
    let f = |id: &str, s: Severity| {
        finding(
            id.into(),
            s,
            String::new(),
            String::new(),
            vec![],
            String::new(),
        )
    };
    // one high (15) + one medium (6)
    assert_eq!(
        score(
            &[f("a:1", Severity::High), f("b:1", Severity::Medium)],
            &all_enforced
        ),
        79
    );
    // five findings of one kind count at most twice its worst penalty
    let many: Vec<Finding> = (0..5)
        .map(|i| f(&format!("a:{i}"), Severity::High))
        .collect();
    assert_eq!(score(&many, &all_enforced), 70);
    let worst: Vec<Finding> = (0..9)
        .map(|i| f(&format!("k{i}:x"), Severity::Critical))
        .collect();
    assert_eq!(score(&worst, &all_enforced), 0);
    // half the catalog in shadow: 5 points
    let half: Vec<Coverage> = all_enforced
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, mut c)| {
            if i % 2 == 0 {
                c.status = CoverageStatus::Shadow;
            }
            c
        })
        .collect();
    assert_eq!(score(&[], &half), 95);
}

#[test]
fn the_timeline_buckets_every_decision() {
    assert_eq!(bucket_seconds(86400), 1800);
    assert_eq!(bucket_seconds(600), 60);
    assert_eq!(bucket_seconds(7 * 86400), 21600);
    assert_eq!(bucket_seconds(10_000 * 86400), 10_000 * 86400 / 48 + 1);
    let f = Facts {
        decisions: vec![
            decision("r1", "2026-01-01T00:10:00Z", "codex", "a", "allow"),
            decision("r2", "2026-01-01T00:20:00Z", "codex", "a", "block"),
            decision(
                "r3",
                "2026-01-01T23:59:59Z",
                "codex",
                "a",
                "require_approval",
            ),
            decision("r4", "2026-01-01T12:00:00Z", "codex", "a", "break_glass"),
            decision("r5", "2026-01-01T12:00:00Z", "codex", "a", "shadow"),
        ],
        evidence: present(),
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    let s = &p.stats;
    assert_eq!(s.bucket_seconds, 1800);
    assert_eq!(s.timeline.len(), 49);
    assert_eq!((s.timeline[0].allow, s.timeline[0].block), (1, 1));
    assert_eq!(s.timeline[47].require_approval, 1);
    assert_eq!((s.timeline[24].break_glass, s.timeline[24].shadow), (1, 1));
    let total: u64 = s
        .timeline
        .iter()
        .map(|b| b.allow + b.block + b.require_approval + b.shadow + b.break_glass)
        .sum();
    assert_eq!(total, 5);
}

#[test]
fn the_document_has_the_agreed_shape() {
    let f = Facts {
        decisions: vec![decision(
            "r1",
            "2026-01-01T00:10:00Z",
            "codex",
            "a",
            "block",
        )],
        packs: vec![pack("p", "enforce", &[])],
        evidence: present(),
        ..Facts::default()
    };
    let v = compute(&f, &opts()).to_json();
    for k in [
        "generated_at",
        "since",
        "until",
        "score",
        "findings",
        "coverage",
        "stats",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["since"], "2026-01-01T00:00:00Z");
    let s = &v["stats"];
    for k in [
        "bucket_seconds",
        "timeline",
        "top_rules",
        "top_agents",
        "top_sessions",
        "break_glass",
        "approvals_latency",
    ] {
        assert!(s.get(k).is_some(), "{k}");
    }
    assert_eq!(s["timeline"][0]["bucket"], "2026-01-01T00:00:00Z");
    assert_eq!(s["timeline"][0]["block"], 1);
    assert_eq!(s["top_rules"][0], json!({"rule": "a", "count": 1}));
    assert_eq!(
        s["top_agents"][0],
        json!({"agent": "codex@host", "count": 1})
    );
    assert_eq!(s["top_sessions"][0], json!({"session": "s1", "count": 1}));
    let l = &s["approvals_latency"];
    for k in ["count", "p50_seconds", "p90_seconds", "max_seconds"] {
        assert!(l[k].is_u64(), "{k}");
    }
    let c = &v["coverage"][0];
    for k in ["framework", "control", "title", "status", "rules"] {
        assert!(c.get(k).is_some(), "{k}");
    }
}

#[test]
fn the_gate_fails_on_score_and_severity() {
    let f = Facts {
        tamper: vec![("t1".into(), "tamper.unverified_record".into())],
        evidence: present(),
        ..Facts::default()
    };
    let p = compute(&f, &opts());
    assert!(p.gate(None, None).is_empty());
    assert!(p.gate(Some(p.score), None).is_empty());
    assert_eq!(p.gate(Some(p.score + 1), None).len(), 1);
    assert!(p.gate(None, Some(Severity::Critical)).is_empty());
    let high = p.gate(None, Some(Severity::High));
    assert!(
        high.len() == 1 && high[0].contains("tamper.reported"),
        "{high:?}"
    );
    assert_eq!(Severity::parse("high"), Some(Severity::High));
    assert_eq!(Severity::parse("severe"), None);
}

#[test]
fn the_log_is_read_for_the_window_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = cavra_evidence::LogConfig::new(dir.path().join("evidence"), dir.path().join("keys"));
    let mut log = cavra_evidence::EvidenceLog::open(cfg.clone()).unwrap();
    let body = json!({"agent_id": "codex@h", "actor": "codex", "session_id": "s", "rule_id": "git.force",
        "cavra_decision": "block", "mode": "enforce", "policy_id": "p", "action_type": "execute_command", "target": "git push -f"});
    let a = log.append("decision", &body).unwrap();
    log.append("tamper.unverified_record", &json!({})).unwrap();
    log.append("approval.approved", &json!({})).unwrap();
    drop(log);
    let now = OffsetDateTime::now_utc();
    let o = Options::new(now - Duration::hours(1), now + Duration::minutes(1));
    let p = collect::report(&cfg, collect::Sources::default(), &o).unwrap();
    assert_eq!(p.stats.decisions, 1);
    assert_eq!(p.stats.top_rules, vec![("git.force".to_string(), 1)]);
    let tamper = p
        .findings
        .iter()
        .find(|f| f.id == "tamper.reported")
        .unwrap();
    assert_eq!(tamper.evidence.len(), 1);
    assert!(
        !p.findings.iter().any(|f| f.id.starts_with("evidence.")),
        "{:?}",
        ids(&p)
    );
    assert!(p.notes.iter().any(|n| n.contains("no approvals store")));
    // outside the window: nothing read
    let o = Options::new(now + Duration::hours(1), now + Duration::hours(2));
    let p = collect::report(&cfg, collect::Sources::default(), &o).unwrap();
    assert_eq!(p.stats.decisions, 0);
    // a changed record: the log no longer verifies
    let seg = std::fs::read_dir(&cfg.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl") && !p.ends_with("checkpoints.jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&seg)
        .unwrap()
        .replace("git push -f", "git push -x");
    std::fs::write(&seg, text).unwrap();
    let o = Options::new(now - Duration::hours(1), now + Duration::minutes(1));
    let p = collect::report(&cfg, collect::Sources::default(), &o).unwrap();
    assert!(
        ids(&p).contains(&"evidence.unverified"),
        "{:?} {}",
        ids(&p),
        a.record_id
    );
}
