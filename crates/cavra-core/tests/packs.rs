//! Every bundled pack passes its own tests; every reference pack loads unchanged, validates,
//! and gives the reference's golden decisions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use cavra_core::guard::{evaluate, EvalEnv, McpRegistry};
use cavra_core::policy::{self, bundled, testing, PackResolver, PackSource, PolicyError};
use cavra_core::{ActionRequest, ActionType};
use std::path::PathBuf;

/// `../shared/reference`, or `None` (skipped visibly; see [`shared_or_skip`]).
fn shared(test: &str) -> Option<PathBuf> {
    shared_or_skip(test).map(|p| p.join("reference"))
}

struct DirResolver(PathBuf);
impl PackResolver for DirResolver {
    fn resolve(&self, id: &str) -> Result<PackSource, PolicyError> {
        let p = self.0.join(id).join("policy.yaml");
        let src = std::fs::read_to_string(&p).map_err(|_| PolicyError::NotFound(id.into()))?;
        policy::parse_pack(&p.display().to_string(), &src)
    }
}

#[test]
fn bundled_packs_pass_their_tests() {
    let mut failures = Vec::new();
    let mut total = 0;
    for (id, _) in bundled::PACKS {
        let pack = bundled::compiled(id).unwrap();
        let src = bundled::tests_yaml(id).unwrap();
        let file = testing::parse_test_file(id, src).unwrap();
        assert!(!file.tests.is_empty(), "{id} ships no tests");
        for r in testing::run(&pack, &file, &EvalEnv::default()) {
            total += 1;
            if !r.passed {
                failures.push(format!(
                    "{id}: {}: expected {} ({:?}), got {} ({}) — {}",
                    r.name, r.expected, r.expected_rule, r.got, r.got_rule, r.reason
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_reference_pack_loads_unchanged() {
    let Some(shared) = shared("every_reference_pack_loads_unchanged") else {
        return;
    };
    let dir = shared.join("cavra-policies");
    let resolver = DirResolver(dir.clone());
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let id = e.unwrap().file_name().to_string_lossy().to_string();
        let src = resolver
            .resolve(&id)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let pack = policy::compile::compile(src, &resolver).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(pack.id, id);
        n += 1;
    }
    assert_eq!(n, 16);
}

#[test]
fn reference_golden_decisions() {
    let Some(shared) = shared("reference_golden_decisions") else {
        return;
    };
    let dir = shared.join("cavra-policies");
    let resolver = DirResolver(dir);
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            shared.join("cavra-data/golden/community_ga_control_hardening.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for case in golden.as_array().unwrap() {
        let pack_id = case["policy_pack"].as_str().unwrap();
        let pack = policy::compile::compile(resolver.resolve(pack_id).unwrap(), &resolver).unwrap();
        let action = ActionType::parse(case["action_type"].as_str().unwrap()).unwrap();
        let mut req = ActionRequest::new(action, case["target"].as_str().unwrap());
        req.operation = case["requested_operation"].as_str().map(str::to_string);
        let d = evaluate(&pack, &req, &EvalEnv::default());
        let name = case["name"].as_str().unwrap();
        assert_eq!(
            d.decision.as_str(),
            case["decision"].as_str().unwrap(),
            "{name}: {}",
            d.reason
        );
        assert_eq!(d.rule_id, case["rule_id"].as_str().unwrap(), "{name}");
        assert_eq!(
            d.severity.as_str(),
            case["severity"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            d.approver_group.as_deref(),
            case["approver_group"].as_str(),
            "{name}"
        );
        assert_eq!(d.policy.id, pack_id);
    }
}

#[test]
fn reference_registry_decisions() {
    let Some(shared) = shared("reference_registry_decisions") else {
        return;
    };
    let reg = McpRegistry::from_json(
        &std::fs::read_to_string(shared.join("cavra-data/mcp_registry.json")).unwrap(),
    )
    .unwrap();
    let pack = bundled::compiled("cavra-coding-baseline").unwrap();
    let env = EvalEnv {
        registry: Some(&reg),
        ..Default::default()
    };
    let check = |target: &str, decision: &str, rule: &str| {
        let req = ActionRequest::new(ActionType::McpToolCall, target);
        let d = evaluate(&pack, &req, &env);
        assert_eq!(
            (d.decision.as_str(), d.rule_id.as_str()),
            (decision, rule),
            "{target}: {}",
            d.reason
        );
    };
    check(
        "github-mcp:create_pull_request",
        "allow",
        "mcp.registry.allow",
    );
    check(
        "github-mcp:delete_repo",
        "require_approval",
        "mcp.registry.tool_scope",
    );
    check(
        "filesystem-lab:read_file",
        "require_approval",
        "mcp.registry.requires_approval",
    );
    check(
        "personal-drive-mcp:read_file",
        "block",
        "mcp.registry.blocked",
    );
    check("nobody:x", "block", "mcp.registry.unknown");
}

#[test]
fn reference_weaknesses_are_fixed() {
    let Some(shared) = shared("reference_weaknesses_are_fixed") else {
        return;
    };
    let dir = shared.join("cavra-policies");
    let resolver = DirResolver(dir);
    let pack = policy::compile::compile(
        resolver.resolve("cavra-ai-agent-baseline").unwrap(),
        &resolver,
    )
    .unwrap();
    let eval = |a: ActionType, t: &str| {
        let mut r = ActionRequest::new(a, t);
        r.cwd = Some("/repo".into());
        evaluate(&pack, &r, &EvalEnv::default())
    };
    // `.env` anywhere, not just the bare string
    assert_eq!(
        eval(ActionType::ReadFile, "/repo/.env").decision.as_str(),
        "block"
    );
    // chaining an allowed command does not launder a blocked one
    let d = eval(
        ActionType::ExecuteCommand,
        "pytest && terraform apply -auto-approve",
    );
    assert_eq!(d.decision.as_str(), "block");
    assert_eq!(d.severity.as_str(), "critical");
    // bash -c hides nothing
    assert_eq!(
        eval(ActionType::ExecuteCommand, "bash -c 'terraform apply'")
            .decision
            .as_str(),
        "block"
    );
    // a suffix is not a branch
    assert_eq!(
        eval(ActionType::GitOperation, "origin/domain")
            .decision
            .as_str(),
        "allow"
    );
    // terraform destroy is high, apply critical (reference severity rule) — destroy not in this pack
    assert_eq!(
        eval(ActionType::ExecuteCommand, "kubectl delete ns prod")
            .severity
            .as_str(),
        "critical"
    );
}

/// `../shared` beside the repository (the reference packs, schemas and agent-event corpus).
/// When it is missing the test is skipped with a visible note (written past the test
/// harness's capture), unless `CAVRA_REQUIRE_SHARED=1` (set by `.ci/run`): then it fails.
#[allow(dead_code)]
fn shared_or_skip(what: &str) -> Option<std::path::PathBuf> {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CAVRA_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("../shared not present (needed by {what}) and CAVRA_REQUIRE_SHARED=1");
    }
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: ../shared not present ({what})");
    None
}
