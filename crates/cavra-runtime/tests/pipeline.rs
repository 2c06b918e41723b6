//! The decision pipeline through the public API only, over an in-memory store, a memory
//! evidence sink and a fixed clock: no database, no log file, no environment.

#![allow(clippy::unwrap_used, clippy::panic)]

use cavra_core::hooks::{AgentKind, ToolCall, VerdictKind};
use cavra_core::policy::bundled;
use cavra_core::{ActionRequest, ActionType, Outcome};
use cavra_runtime::actions::ReleaseRequest;
use cavra_runtime::authz::{Authenticator, Authorized, ControlAction};
use cavra_runtime::control::{Person, RegistryChange, RegistryChanged};
use cavra_runtime::{
    CallOptions, Clock, DecideOptions, EvidenceSink, Locator, PackChoice, PackOverride, Runtime,
    SinkError,
};
use cavra_store::{
    AgentRecord, AgentStatus, Approval, ApprovalConfig, ApprovalState, ApproveOptions, ApproverKey,
    AuthMethod, BreakGlassQuery, ControlStore, DecisionStore, EscalationPolicy, McpRegistryFile,
    McpServer, NewAgent, NewApproval, NewBreakGlass, RegistryStore, SessionState,
    SessionTransition, Signer, StoreError, StoreOpener, Unverified,
};
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// What the fake store knows and what was done to it.
#[derive(Default)]
struct State {
    blocked_agent: Option<String>,
    hold_on_block: bool,
    blocks: Vec<(String, String)>,
    opened: usize,
    signed: bool,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<State>>);

struct FakeStore(Arc<Mutex<State>>);

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn session(session_id: &str, agent_id: &str, held: bool, now: OffsetDateTime) -> SessionState {
    SessionState {
        session_id: session_id.into(),
        agent_id: agent_id.into(),
        held,
        held_reason: held.then(|| "critical".into()),
        held_at: held.then_some(now),
        released_by: None,
        released_at: None,
        release_reason: None,
        total_blocks: 1,
        blocks: vec![],
        updated_at: now,
        transition: held.then_some(SessionTransition::Held),
    }
}

impl DecisionStore for FakeStore {
    fn tool_pins(&self, _: &str) -> Result<Vec<cavra_store::pins::ToolPin>, StoreError> {
        Ok(Vec::new())
    }
    fn put_tool_pin(&mut self, _: &cavra_store::pins::ToolPin) -> Result<(), StoreError> {
        Ok(())
    }
    fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let s = self.0.lock().unwrap();
        Ok(
            (s.blocked_agent.as_deref() == Some(id)).then(|| AgentRecord {
                agent_id: id.into(),
                vendor: None,
                kind: None,
                owner: None,
                risk_tier: None,
                profile: "builder".into(),
                status: AgentStatus::Blocked,
                created_at: t0(),
                updated_at: t0(),
            }),
        )
    }
    fn mcp_registry(&self) -> Result<McpRegistryFile, StoreError> {
        Ok(McpRegistryFile {
            mcp_servers: vec![],
            extra: Default::default(),
        })
    }
    fn record_block(
        &mut self,
        session_id: &str,
        agent_id: &str,
        _severity: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError> {
        let mut s = self.0.lock().unwrap();
        s.blocks.push((session_id.into(), agent_id.into()));
        let held = s.hold_on_block;
        Ok(session(session_id, agent_id, held, now))
    }
    fn is_held(&self, _session_id: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn any_active_break_glass(&self, _now: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn active_break_glass(
        &self,
        _q: &BreakGlassQuery<'_>,
        _now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        Ok(None)
    }
    fn consume_approval(
        &mut self,
        _request_hash: &str,
        _agent_id: &str,
        _now: OffsetDateTime,
    ) -> Result<Option<Approval>, StoreError> {
        Ok(None)
    }
    fn create_approval(
        &mut self,
        _new: NewApproval,
        _now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        Err(StoreError::UnknownApproval("not in this test".into()))
    }
    fn add_evidence_ref(&mut self, _id: &str, _reference: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn take_unverified(&self) -> Vec<Unverified> {
        vec![]
    }
    fn set_approval_config(&mut self, _config: ApprovalConfig) {}
    fn mark_tamper_reported(
        &mut self,
        _u: &Unverified,
        _now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
}

impl ControlStore for FakeStore {
    fn set_signer(&mut self, _signer: Signer) {
        self.0.lock().unwrap().signed = true;
    }
    fn approval(&self, id: &str) -> Result<Approval, StoreError> {
        Err(StoreError::UnknownApproval(id.into()))
    }
    fn list_approvals(
        &self,
        _status: Option<ApprovalState>,
        _now: OffsetDateTime,
    ) -> Result<Vec<Approval>, StoreError> {
        Ok(vec![])
    }
    fn approval_verified(&self, _a: &Approval) -> bool {
        false
    }
    /// Every session the fake is asked about is held.
    fn session(&self, id: &str) -> Result<Option<SessionState>, StoreError> {
        Ok(Some(session(id, "a1", true, t0())))
    }
    fn list_sessions(&self) -> Result<Vec<SessionState>, StoreError> {
        Ok(vec![session("s1", "a1", true, t0())])
    }
    fn approve(
        &mut self,
        id: &str,
        _identity: &str,
        _reason: &str,
        _now: OffsetDateTime,
        _opts: ApproveOptions,
    ) -> Result<Approval, StoreError> {
        Err(StoreError::UnknownApproval(id.into()))
    }
    fn deny(
        &mut self,
        id: &str,
        _identity: &str,
        _reason: &str,
        _now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        Err(StoreError::UnknownApproval(id.into()))
    }
    fn break_glass(
        &mut self,
        _new: NewBreakGlass,
        _now: OffsetDateTime,
    ) -> Result<Approval, StoreError> {
        Err(StoreError::NoSigner)
    }
    fn expire_due(&mut self, _now: OffsetDateTime) -> Result<Vec<Approval>, StoreError> {
        Ok(vec![])
    }
    fn release(
        &mut self,
        session_id: &str,
        identity: &str,
        _reason: &str,
        now: OffsetDateTime,
    ) -> Result<SessionState, StoreError> {
        let mut s = session(session_id, "a1", false, now);
        s.released_by = Some(identity.into());
        s.released_at = Some(now);
        s.transition = Some(SessionTransition::Released);
        Ok(s)
    }
}

impl RegistryStore for FakeStore {
    fn list_agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        Ok(vec![])
    }
    fn mcp_server(&self, _id: &str) -> Result<Option<McpServer>, StoreError> {
        Ok(None)
    }
    fn list_mcp_servers(&self) -> Result<Vec<McpServer>, StoreError> {
        Ok(vec![])
    }
    fn add_agent(&mut self, new: NewAgent, now: OffsetDateTime) -> Result<AgentRecord, StoreError> {
        Ok(AgentRecord {
            agent_id: new.agent_id,
            vendor: None,
            kind: None,
            owner: None,
            risk_tier: None,
            profile: new.profile,
            status: new.status,
            created_at: now,
            updated_at: now,
        })
    }
    fn set_agent_status(
        &mut self,
        id: &str,
        _status: AgentStatus,
        _now: OffsetDateTime,
    ) -> Result<AgentRecord, StoreError> {
        Err(StoreError::UnknownAgent(id.into()))
    }
    fn remove_agent(&mut self, _id: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn put_mcp_server(
        &mut self,
        server: &McpServer,
        _replace: bool,
        _now: OffsetDateTime,
    ) -> Result<McpServer, StoreError> {
        Ok(server.clone())
    }
    fn set_mcp_state(
        &mut self,
        id: &str,
        _trust_tier: &str,
        _approval_state: &str,
        _now: OffsetDateTime,
    ) -> Result<McpServer, StoreError> {
        Err(StoreError::UnknownMcpServer(id.into()))
    }
    fn remove_mcp_server(&mut self, _id: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn import_mcp_registry(
        &mut self,
        file: &McpRegistryFile,
        _now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        Ok(file.mcp_servers.len())
    }
}

impl StoreOpener for Fake {
    fn exists(&self, _cavra_dir: &Path) -> bool {
        self.0.lock().unwrap().opened > 0 || self.0.lock().unwrap().blocked_agent.is_some()
    }
    fn open(
        &self,
        _cavra_dir: &Path,
        _escalation: Option<EscalationPolicy>,
    ) -> Result<Box<dyn DecisionStore + Send>, StoreError> {
        self.0.lock().unwrap().opened += 1;
        Ok(Box::new(FakeStore(Arc::clone(&self.0))))
    }
    fn approval_config(&self, _cavra_dir: &Path) -> Result<ApprovalConfig, StoreError> {
        Ok(ApprovalConfig::default())
    }
    fn describe(&self, _cavra_dir: &Path) -> String {
        "memory".into()
    }
}

type Records = Arc<Mutex<Vec<(String, Value)>>>;

struct Memory(Records);

impl EvidenceSink for Memory {
    fn append(&mut self, _dir: &Path, kind: &str, body: &Value) -> Result<String, SinkError> {
        let mut r = self.0.lock().unwrap();
        r.push((kind.to_string(), body.clone()));
        Ok(format!("rec-{}", r.len()))
    }
}

struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> OffsetDateTime {
        t0()
    }
}

fn runtime(store: &Fake) -> (Runtime, Records) {
    let records = Records::default();
    let rt = Runtime::new(store.clone(), Memory(Arc::clone(&records))).with_clock(Fixed);
    (rt, records)
}

fn command(cmd: &str, agent: &str) -> ActionRequest {
    let mut r = ActionRequest::new(ActionType::ExecuteCommand, cmd.to_string());
    r.session_id = "s1".into();
    r.actor.agent_id = agent.into();
    r.cwd = Some("/work/app".into());
    r.repo_root = Some("/work/app".into());
    r
}

fn record() -> DecideOptions {
    DecideOptions {
        record: true,
        create_state: true,
        ..Default::default()
    }
}

#[test]
fn a_block_is_recorded_with_its_decision_id_and_time() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let pack = bundled::compiled(bundled::DEFAULT_PACK).unwrap();
    let d = rt
        .decide(dir.path(), &pack, &command("rm -rf /", "a1"), &record())
        .unwrap();
    assert_eq!(d.decision.decision, Outcome::Block);
    assert_eq!(d.record_id.as_deref(), Some("rec-1"));
    let r = records.lock().unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, "decision");
    assert_eq!(r[0].1["decision_id"], d.decision_id.as_str());
    assert_eq!(r[0].1["rule_id"], d.decision.rule_id.as_str());
    assert_eq!(r[0].1["timestamp"], "2027-01-15T08:00:00Z");
    // the baseline has no escalation: no store was needed
    assert_eq!(store.0.lock().unwrap().opened, 0);
}

#[test]
fn nothing_is_recorded_when_recording_is_off() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let pack = bundled::compiled(bundled::DEFAULT_PACK).unwrap();
    let opts = DecideOptions {
        record: false,
        create_state: true,
        ..Default::default()
    };
    let d = rt
        .decide(dir.path(), &pack, &command("ls", "a1"), &opts)
        .unwrap();
    assert!(d.decision.proceed);
    assert_eq!(d.record_id, None);
    assert!(records.lock().unwrap().is_empty());
}

#[test]
fn a_blocked_agent_is_blocked_whatever_the_pack_says() {
    let store = Fake::default();
    store.0.lock().unwrap().blocked_agent = Some("rogue".into());
    let (mut rt, _) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let pack = bundled::compiled(bundled::DEFAULT_PACK).unwrap();
    let d = rt
        .decide(dir.path(), &pack, &command("ls", "rogue"), &record())
        .unwrap();
    assert_eq!(d.decision.decision, Outcome::Block);
    assert_eq!(d.decision.rule_id, "registry.agent.blocked");
    let ok = rt
        .decide(dir.path(), &pack, &command("ls", "someone-else"), &record())
        .unwrap();
    assert!(ok.decision.proceed);
}

#[test]
fn a_hold_is_recorded_before_the_decision() {
    let store = Fake::default();
    store.0.lock().unwrap().hold_on_block = true;
    let (mut rt, records) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let pack = bundled::compiled("cavra-strict").unwrap();
    let d = rt
        .decide(dir.path(), &pack, &command("rm -rf /", "a1"), &record())
        .unwrap();
    assert_eq!(d.decision.decision, Outcome::Block);
    assert_eq!(
        store.0.lock().unwrap().blocks,
        vec![("s1".to_string(), "a1".to_string())]
    );
    let kinds: Vec<String> = records
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(kinds, ["session.held", "decision"]);
}

/// A recording front end's options, deciding in `dir` (its `.cavra` the CAVRA directory).
fn call_options(dir: &Path) -> CallOptions {
    CallOptions {
        packs: PackChoice::default(),
        registry: None,
        non_interactive: false,
        record: true,
        cavra_dir: Some(dir.join(".cavra")),
        locator: Locator {
            cwd: dir.to_path_buf(),
            home: Some("/home/u".into()),
        },
        host: "box".into(),
        exit_after: false,
        on_phase: None,
        requested_by: None,
        approvals: Default::default(),
    }
}

/// A Codex Bash call of `cmd`.
fn call(cmd: &str) -> ToolCall {
    ToolCall {
        agent: AgentKind::Codex,
        session_id: "s1".into(),
        cwd: None,
        tool: "Bash".into(),
        input: serde_json::json!({ "command": cmd }),
    }
}

#[test]
fn a_tool_call_gets_the_strictest_verdict_with_guidance() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let opts = call_options(dir.path());
    let v = rt.decide_call(&call("echo hi && rm -rf /"), &opts);
    assert_eq!(v.kind, VerdictKind::Deny);
    assert!(v.reason.starts_with("CAVRA block: "), "{}", v.reason);
    assert!(v.reason.contains("[rule "), "{}", v.reason);
    let r = records.lock().unwrap();
    assert_eq!(r.last().unwrap().1["agent_id"], "codex@box");
    drop(r);
    let bad = rt.decide_call(
        &ToolCall {
            tool: "Bash".into(),
            input: serde_json::json!({}),
            ..call("")
        },
        &opts,
    );
    assert_eq!(bad.kind, VerdictKind::Deny);
    assert!(
        bad.reason.starts_with("CAVRA failed closed: "),
        "{}",
        bad.reason
    );
}

fn compiled(yaml: &str) -> Arc<cavra_core::policy::CompiledPack> {
    let src = cavra_core::policy::parse_pack("test.yaml", yaml).unwrap();
    Arc::new(
        cavra_core::policy::compile::compile(src, &cavra_core::policy::BundledResolver).unwrap(),
    )
}

const ORG: &str = include_str!("data/org/org.yaml");
const SOFT: &str = include_str!("data/org/soft.yaml");
const STRICT: &str = include_str!("data/org/strict.yaml");

#[test]
fn a_given_pack_decides_and_its_floor_replaces_the_organisation_pack() {
    let store = Fake::default();
    let (rt, records) = runtime(&store);
    // the runtime's own organisation pack blocks `npm test`; a given floor replaces it
    let own_org = compiled(
        "metadata: {id: cavra-own-org, title: t, version: \"1\"}\nrules:\n  - id: own.no_npm_test\n    effect: block\n    severity: high\n    reason: r\n    match:\n      command: {program: [npm], subcommand: [test]}\n",
    );
    let mut rt = rt.with_org_pack(cavra_runtime::org::OrgPack::Loaded(own_org));
    let dir = tempfile::tempdir().unwrap();
    let opts = call_options(dir.path());
    let kind = |rt: &mut Runtime, cmd: &str, given: Option<&PackOverride>| {
        rt.decide_call_with(&call(cmd), &opts, given).kind
    };
    // without a given pack: the baseline, tightened by the runtime's organisation pack
    assert_eq!(kind(&mut rt, "npm test", None), VerdictKind::Deny);

    // a stricter project pack over the floor: its own blocks, the floor's blocks
    let strict = PackOverride {
        pack: compiled(STRICT),
        floor: compiled(ORG),
    };
    let v = rt.decide_call_with(&call("npm publish"), &opts, Some(&strict));
    assert_eq!(v.kind, VerdictKind::Deny);
    assert!(v.reason.contains("strict.no_npm_publish"), "{}", v.reason);
    let last = records.lock().unwrap().last().unwrap().1.clone();
    assert_eq!(
        last["request"]["policy_pack"], "cavra-strict-project",
        "{last}"
    );
    let v = rt.decide_call_with(&call("terraform destroy"), &opts, Some(&strict));
    assert_eq!(v.kind, VerdictKind::Deny);
    assert!(
        v.reason.contains("organisation policy `cavra-org`"),
        "{}",
        v.reason
    );
    // the runtime's organisation pack is not consulted under a given floor
    assert_ne!(kind(&mut rt, "npm test", Some(&strict)), VerdictKind::Deny);

    // a softer project pack cannot turn the floor's block or approval into an allow
    let soft = PackOverride {
        pack: compiled(SOFT),
        floor: compiled(ORG),
    };
    assert_eq!(
        kind(&mut rt, "terraform destroy", Some(&soft)),
        VerdictKind::Deny
    );
    // (an agent that asks its user: the approval is an ask, no request is opened)
    let deploy = ToolCall {
        agent: AgentKind::ClaudeCode,
        ..call("make deploy")
    };
    let v = rt.decide_call_with(&deploy, &opts, Some(&soft));
    assert_eq!(v.kind, VerdictKind::Ask, "{}", v.reason);
    assert!(
        v.reason.contains("org.deploys_need_approval"),
        "{}",
        v.reason
    );
    let alone = PackOverride {
        pack: compiled(SOFT),
        floor: compiled(SOFT),
    };
    // the floor is the pack itself: the pack alone decides (its allow)
    assert_eq!(
        kind(&mut rt, "terraform destroy", Some(&alone)),
        VerdictKind::Allow
    );
}

#[test]
fn a_release_is_recorded_and_a_failed_approval_records_nothing() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let mut s = FakeStore(Arc::clone(&store.0));
    let released = rt
        .release(dir.path(), &mut s, "s1", "alice", "reviewed")
        .unwrap();
    assert_eq!(released.released_by.as_deref(), Some("alice"));
    let e = rt
        .approve(
            dir.path(),
            &mut s,
            "apr-x",
            "alice",
            "ok",
            ApproveOptions::default(),
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "unknown approval `apr-x`");
    assert!(rt.expire(dir.path(), &mut s).unwrap().is_empty());
    let r = records.lock().unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, "session.released");
    assert_eq!(r[0].1["released_by"], "alice");
}

#[test]
fn registry_changes_are_recorded_with_the_person() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let mut s = FakeStore(Arc::clone(&store.0));
    let alice = Person {
        identity: "alice".into(),
        authenticated: serde_json::json!({"identity": "alice", "method": "terminal"}),
    };
    let added = rt
        .change_registry(
            dir.path(),
            &mut s,
            RegistryChange::AddAgent(NewAgent {
                agent_id: "ci-bot".into(),
                vendor: None,
                kind: None,
                owner: None,
                risk_tier: None,
                profile: "builder".into(),
                status: AgentStatus::Pending,
            }),
            &alice,
        )
        .unwrap();
    assert!(matches!(added, RegistryChanged::Agent(ref a) if a.agent_id == "ci-bot"));
    // a refused change records nothing
    assert!(rt
        .change_registry(
            dir.path(),
            &mut s,
            RegistryChange::BlockMcpServer {
                server_id: "gh".into(),
                reason: None
            },
            &alice,
        )
        .is_err());
    let r = records.lock().unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, "registry.agent.added");
    assert_eq!(r[0].1["agent"]["agent_id"], "ci-bot");
    assert_eq!(r[0].1["by"], "alice");
    assert_eq!(r[0].1["authenticated"]["method"], "terminal");
    assert!(r[0].1["agent"]["capabilities"].is_object());
}

/// The keys of a JSON object, in order.
fn keys(doc: &Value) -> Vec<&str> {
    doc.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn project() -> (tempfile::TempDir, Locator) {
    let dir = tempfile::tempdir().unwrap();
    let locator = Locator {
        cwd: dir.path().to_path_buf(),
        home: None,
    };
    (dir, locator)
}

#[test]
fn evaluate_places_the_request_and_its_document_carries_the_ids() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let (dir, locator) = project();
    let req = cavra_runtime::request::from_action("read_file", ".env", "s1", "cli").unwrap();
    let opts = cavra_runtime::EvaluateOptions {
        record: true,
        create_state: true,
        ..Default::default()
    };
    let d = rt.evaluate(dir.path(), req, &locator, &opts).unwrap();
    assert_eq!(d.decision.decision, Outcome::Block);
    let here = dir.path().join(".env");
    assert!(
        d.decision.reason.contains(here.to_str().unwrap()),
        "{}",
        d.decision.reason
    );
    let doc = serde_json::to_value(d.document()).unwrap();
    let keys = keys(&doc);
    assert_eq!(keys.first(), Some(&"decision"));
    assert_eq!(&keys[keys.len() - 2..], ["decision_id", "evidence_record"]);
    assert_eq!(doc["evidence_record"], "rec-1");
    assert_eq!(doc["decision_id"], d.decision_id.as_str());
    assert_eq!(
        records.lock().unwrap()[0].1["policy_pack"],
        doc["policy"]["id"]
    );
    // the request's own pack is used, and a bad mode or pack is an error
    let mut req = cavra_runtime::request::from_json_text(
        r#"{"action_type": "read_file", "target": ".env", "policy_pack": "cavra-observe"}"#,
    )
    .unwrap();
    req.session_id = "s2".into();
    let d = rt
        .evaluate(dir.path(), req.clone(), &locator, &opts)
        .unwrap();
    assert_eq!(d.decision.policy.id, "cavra-observe");
    let bad = cavra_runtime::EvaluateOptions {
        placement: cavra_runtime::request::Placement {
            mode: Some("loud".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(rt.evaluate(dir.path(), req, &locator, &bad).is_err());
}

#[test]
fn explain_records_nothing_and_says_what_would_change_it() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let (_dir, locator) = project();
    let req = command("rm -rf /", "a1");
    let x = rt.explain(req, &locator, &Default::default()).unwrap();
    assert_eq!(x.decision.decision, Outcome::Block);
    assert_eq!(x.pack_id, bundled::DEFAULT_PACK);
    assert!(x.pack_source.contains("bundled pack"), "{}", x.pack_source);
    let w = &x.what_would_change_it;
    assert!(w.iter().any(|c| c.contains(&x.decision.rule_id)), "{w:?}");
    assert!(
        w.iter().any(|c| c.starts_with("a break-glass override")),
        "{w:?}"
    );
    let doc = serde_json::to_value(&x).unwrap();
    assert_eq!(
        keys(&doc),
        ["decision", "pack_source", "what_would_change_it"]
    );
    let text = x.text();
    assert!(
        text.starts_with(&format!("\nPack: {} from bundled pack", x.pack_id)),
        "{text}"
    );
    let matched = format!("Rules that matched ({}):\n  - ", x.decision.matches.len());
    assert!(text.contains(&matched), "{text}");
    assert!(
        text.contains("What would change the outcome:\n  - "),
        "{text}"
    );
    let rows = cavra_runtime::render::decision_rows(&x.decision);
    let names: Vec<&str> = rows.iter().map(|(k, _)| *k).collect();
    assert_eq!(names[..3], ["rule", "severity", "reason"]);
    assert_eq!(names[names.len() - 3..], ["policy", "request", "proceed"]);
    assert_eq!(rows.last().map(|(_, v)| v.as_str()), Some("no"));
    let ok = rt
        .explain(command("ls", "a1"), &locator, &Default::default())
        .unwrap();
    assert_eq!(
        ok.what_would_change_it.len(),
        1,
        "{:?}",
        ok.what_would_change_it
    );
    assert!(
        ok.text().contains("Rules that matched (0):\n  (none)\n"),
        "{}",
        ok.text()
    );
    assert!(records.lock().unwrap().is_empty());
    assert_eq!(store.0.lock().unwrap().opened, 0);
}

/// Accepts (as `carol`, by token) or refuses every action; counts what it was asked.
struct FakeAuth {
    accept: bool,
    key_dir: std::path::PathBuf,
    asked: Mutex<Vec<String>>,
}

impl Authenticator for FakeAuth {
    fn authenticate(
        &self,
        action: &ControlAction,
        _now: OffsetDateTime,
    ) -> Result<Authorized, cavra_runtime::RuntimeError> {
        self.asked.lock().unwrap().push(action.command.clone());
        if !self.accept {
            return Err(cavra_runtime::RuntimeError::Refused("not confirmed".into()));
        }
        Ok(Authorized {
            identity: "carol".into(),
            method: AuthMethod::Token,
            label: None,
        })
    }
    fn signer(
        &self,
        who: &Authorized,
        now: OffsetDateTime,
    ) -> Result<Signer, cavra_runtime::RuntimeError> {
        let key = match ApproverKey::load(&self.key_dir)? {
            Some(k) => k,
            None => ApproverKey::init(&self.key_dir, now)?,
        };
        Ok(Signer {
            key,
            method: who.method,
            label: None,
        })
    }
}

#[test]
fn a_control_flow_asks_the_person_signs_and_records_or_changes_nothing() {
    let store = Fake::default();
    let (mut rt, records) = runtime(&store);
    let dir = tempfile::tempdir().unwrap();
    let mut s = FakeStore(Arc::clone(&store.0));
    let mut auth = FakeAuth {
        accept: false,
        key_dir: dir.path().join("approver"),
        asked: Mutex::new(vec![]),
    };
    let req = |reason: &str| ReleaseRequest {
        session_id: "s1".into(),
        reason: reason.into(),
    };
    // an empty reason is refused before the person is asked
    let e = rt
        .release_as(dir.path(), &mut s, req(" "), &auth)
        .unwrap_err();
    assert_eq!(e.to_string(), "invalid reason: must not be empty");
    assert!(auth.asked.lock().unwrap().is_empty());
    // a refusal changes nothing and records nothing
    let e = rt
        .release_as(dir.path(), &mut s, req("ok"), &auth)
        .unwrap_err();
    assert_eq!(e.to_string(), "not confirmed");
    assert!(!store.0.lock().unwrap().signed);
    assert!(records.lock().unwrap().is_empty());
    auth.accept = true;
    let done = rt.release_as(dir.path(), &mut s, req("ok"), &auth).unwrap();
    assert_eq!(done.by.identity, "carol");
    assert_eq!(done.result.released_by.as_deref(), Some("carol"));
    assert!(store.0.lock().unwrap().signed);
    assert_eq!(
        auth.asked.lock().unwrap().as_slice(),
        ["cavra sessions release s1", "cavra sessions release s1"]
    );
    // a change to an unknown server is refused before the person is asked
    let e = rt
        .change_registry_as(
            dir.path(),
            &mut s,
            RegistryChange::ApproveMcpServer {
                server_id: "gh".into(),
                trust_tier: None,
                reason: None,
            },
            &auth,
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "unknown mcp server `gh`");
    assert_eq!(auth.asked.lock().unwrap().len(), 2);
    let r = records.lock().unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, "session.released");
}
