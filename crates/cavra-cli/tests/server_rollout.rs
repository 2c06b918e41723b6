//! Policy publishing with review through the real `cavra serve` on a loopback port
//! (docs/rollout.md): a draft with its replay, the author's approval refused, a second
//! person's approval (signed), an assignment to a label deciding the hook calls of that
//! repository only, a shadow run recording what it would have changed without changing a
//! verdict, promotion, rollback in one step, and the history with an evidence record for
//! every step.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::path::Path;

/// Version 1 of the organisation floor: no `figlet`.
const V1: &str = "metadata: {id: cavra-acme, title: Acme floor, version: \"1\"}\nrules:\n  - id: acme.no_figlet\n    effect: block\n    severity: high\n    reason: no figlet here\n    match:\n      command: {program: [figlet]}\n";
/// Version 2: no `cowsay` (and `figlet` again).
const V2: &str = "metadata: {id: cavra-acme, title: Acme floor, version: \"2\"}\nrules:\n  - id: acme.no_cowsay\n    effect: block\n    severity: high\n    reason: no cowsay here\n    match:\n      command: {program: [cowsay]}\n";

/// A Claude Code hook call in `cwd`: denied?, and the answer.
fn hook(s: &Srv, token: &str, cwd: &Path, command: &str) -> (bool, Value) {
    let event = json!({"hook_event_name": "PreToolUse", "session_id": "s1", "cwd": cwd,
        "tool_name": "Bash", "tool_input": {"command": command}});
    let (st, v) = post(s, "/v1/hooks/claude-code", Some(token), &event);
    assert_eq!(st, 200, "{v}");
    let deny =
        v["answer"]["hookSpecificOutput"]["permissionDecision"] == "deny" || v["exit_code"] == 2;
    (deny, v)
}

/// `POST /v1/decisions` of `command` in `cwd`: the decision.
fn decide(s: &Srv, token: &str, cwd: &Path, command: &str) -> String {
    let req = json!({"action_type": "execute_command", "target": command,
        "cwd": cwd, "repo_root": cwd, "session_id": "s2", "agent_id": "bot"});
    let (st, v) = post(s, "/v1/decisions", Some(token), &req);
    assert_eq!(st, 200, "{v}");
    v["decision"].as_str().unwrap().to_string()
}

fn steps(v: &Value) -> Vec<String> {
    v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["step"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_pack_version_is_reviewed_assigned_shadowed_promoted_and_rolled_back() {
    let s = Srv::start(&[], &[]);
    let alice = s.token("alice", "admin");
    let bob = s.token("bob", "approver");
    let auditor = s.token("audit", "auditor");
    let agent = s.token("hook", "agent");
    let prod = s.project.join("pay");
    let dev = s.project.join("web");
    std::fs::create_dir_all(&prod).unwrap();
    std::fs::create_dir_all(&dev).unwrap();

    // pre-registration with a label: an inventory row before any decision (admin only)
    let reg = json!({"path": prod, "labels": ["prod"]});
    let (st, v) = post(&s, "/v1/repositories", Some(&bob), &reg);
    assert_eq!(st, 403, "{v}");
    let (st, r) = post(&s, "/v1/repositories", Some(&alice), &reg);
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["labels"].clone(), r["decisions"].clone()),
        (json!(["prod"]), json!(0))
    );
    let prod_id = r["id"].as_str().unwrap().to_string();
    let (st, v) = call(
        "PUT",
        &s.url(&format!("/v1/repositories/{prod_id}/labels")),
        Some(&alice),
        Some(&json!({"labels": ["prod", "pci"]}).to_string()),
    );
    assert_eq!(
        (st, v["labels"].clone()),
        (200, json!(["pci", "prod"])),
        "{v}"
    );

    // recorded history: figlet and cowsay allowed everywhere
    assert!(!hook(&s, &agent, &prod, "figlet hi").0);
    assert!(!hook(&s, &agent, &dev, "figlet hi").0);

    // the draft: admin only, compiled, the replay attached
    let draft = json!({"source": V1, "name": "floor.yaml"});
    let (st, v) = post(&s, "/v1/policies/drafts", Some(&bob), &draft);
    assert_eq!(st, 403, "{v}");
    let (st, v) = post(
        &s,
        "/v1/policies/drafts",
        Some(&alice),
        &json!({"source": "rules: ["}),
    );
    assert_eq!(st, 400, "{v}");
    let (st, v1) = post(&s, "/v1/policies/drafts", Some(&alice), &draft);
    assert_eq!(st, 200, "{v1}");
    assert_eq!(v1["id"], "pv-cavra-acme-1", "{v1}");
    assert_eq!(
        (v1["state"].as_str(), v1["author"].as_str()),
        (Some("draft"), Some("alice"))
    );
    assert_eq!(v1["replay"]["changes"]["newly_blocked"], 2, "{v1}");
    let examples = v1["replay"]["examples"].to_string();
    assert!(examples.contains("figlet hi"), "{examples}");

    // not assigned before review; the author cannot approve; an auditor cannot either
    let to_prod = json!({"labels": ["prod"]});
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-1/assign",
        Some(&alice),
        &to_prod,
    );
    assert_eq!(st, 409, "{v}");
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-1/approve",
        Some(&alice),
        &json!({}),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("self_approval")),
        "{v}"
    );
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-1/approve",
        Some(&auditor),
        &json!({}),
    );
    assert_eq!(st, 403, "{v}");
    let (st, v) = post(&s, "/v1/rollouts/pv-nope-1/approve", Some(&bob), &json!({}));
    assert_eq!(st, 404, "{v}");
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-1/approve",
        Some(&bob),
        &json!({"reason": "replay looks right"}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (v["state"].as_str(), v["reviewed_by"].as_str()),
        (Some("approved"), Some("bob"))
    );
    assert_eq!(v["signed"], true, "{v}");
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-1/approve",
        Some(&bob),
        &json!({}),
    );
    assert_eq!(st, 409, "approved once: {v}");

    // assigned to the label: the repository carrying it is decided under the new floor,
    // the other is not — hooks and decision requests alike
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-1/assign",
        Some(&alice),
        &to_prod,
    );
    assert_eq!((st, v["state"].as_str()), (200, Some("active")), "{v}");
    let (denied, answer) = hook(&s, &agent, &prod, "figlet hi");
    assert!(denied, "{answer}");
    assert!(
        answer["stderr"].to_string().contains("acme")
            || answer["stdout"].to_string().contains("acme"),
        "{answer}"
    );
    assert_eq!(answer["repository"], json!(prod_id), "{answer}");
    assert_eq!(answer["floor_digest"], v1["digest"], "{answer}");
    assert!(!hook(&s, &agent, &dev, "figlet hi").0);
    assert_eq!(decide(&s, &agent, &prod, "figlet hi"), "block");
    assert_eq!(decide(&s, &agent, &dev, "figlet hi"), "allow");
    // the hook's offline cache gets the repository's floor, signed
    let (st, p) = get(
        &s,
        &format!("/v1/sync/pack?repository={prod_id}"),
        Some(&agent),
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["signature"]["digest"], v1["digest"], "{p}");
    let (_, by_path) = get(
        &s,
        &format!("/v1/sync/pack?repository={}", prod.display()),
        Some(&agent),
    );
    assert_eq!(by_path["signature"]["digest"], v1["digest"]);
    let (_, other) = get(&s, "/v1/sync/pack", Some(&agent));
    assert_ne!(
        other["signature"]["digest"], v1["digest"],
        "old clients: the server's floor"
    );

    // version 2, published with the CLI, approved, run in shadow beside version 1
    let file = s.dir.parent().unwrap().join("floor.yaml");
    std::fs::write(&file, V2).unwrap();
    let alice_file = s.dir.parent().unwrap().join("alice.token");
    std::fs::write(&alice_file, &alice).unwrap();
    let bob_file = s.dir.parent().unwrap().join("bob.token");
    std::fs::write(&bob_file, &bob).unwrap();
    let server = s.base.clone();
    let o = cavra(
        &s.dir,
        &[
            "--json",
            "policy",
            "publish",
            file.to_str().unwrap(),
            "--server",
            &server,
            "--token-file",
            alice_file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert_eq!(o.json()["id"], "pv-cavra-acme-2");
    let o = cavra(
        &s.dir,
        &[
            "rollout",
            "--server",
            &server,
            "--token-file",
            alice_file.to_str().unwrap(),
            "approve",
            "pv-cavra-acme-2",
        ],
    );
    assert_ne!(o.code, 0, "the author: {}", o.stdout);
    assert!(o.stderr.contains("cannot approve"), "{}", o.stderr);
    let o = cavra(
        &s.dir,
        &[
            "rollout",
            "--server",
            &server,
            "--token-file",
            bob_file.to_str().unwrap(),
            "approve",
            "pv-cavra-acme-2",
        ],
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert!(o.stdout.contains("approved"), "{}", o.stdout);
    let shadow = json!({"labels": ["prod"], "mode": "shadow", "shadow_for": "7d"});
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-2/assign",
        Some(&alice),
        &shadow,
    );
    assert_eq!((st, v["state"].as_str()), (200, Some("shadow")), "{v}");
    // the shadow version changes no verdict ...
    assert!(!hook(&s, &agent, &prod, "cowsay moo").0);
    assert!(hook(&s, &agent, &prod, "figlet hi").0);
    assert!(!hook(&s, &agent, &dev, "cowsay moo").0);
    // ... and what it would have changed is recorded beside the enforced verdict
    let (st, r) = get(&s, "/v1/rollouts/pv-cavra-acme-2/shadow", Some(&auditor));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["decisions"], 2, "only the repository in shadow: {r}");
    assert_eq!(r["changes"]["newly_blocked"], 1, "{r}");
    assert_eq!(r["changes"]["newly_allowed"], 1, "{r}");
    assert_eq!(
        r["examples"]["newly_blocked"][0]["target"], "cowsay moo",
        "{r}"
    );
    assert_eq!(
        r["examples"]["newly_blocked"][0]["shadow_rule"], "acme.no_cowsay",
        "{r}"
    );

    // promoted: version 2 decides there now, version 1 is superseded
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-2/promote",
        Some(&bob),
        &json!({}),
    );
    assert_eq!(st, 403, "promotion takes admin: {v}");
    let (st, v) = post(
        &s,
        "/v1/rollouts/pv-cavra-acme-2/promote",
        Some(&alice),
        &json!({}),
    );
    assert_eq!((st, v["state"].as_str()), (200, Some("active")), "{v}");
    assert!(hook(&s, &agent, &prod, "cowsay moo").0);
    assert!(!hook(&s, &agent, &prod, "figlet hi").0);
    let (_, v) = get(&s, "/v1/rollouts/pv-cavra-acme-1", Some(&auditor));
    assert_eq!(v["state"], "superseded", "{v}");

    // rolled back to version 1 in one step (the CLI): the old decisions are back
    let o = cavra(
        &s.dir,
        &[
            "--json",
            "rollout",
            "--server",
            &server,
            "--token-file",
            alice_file.to_str().unwrap(),
            "rollback",
            "--to",
            "pv-cavra-acme-1",
            "--reason",
            "cowsay is fine",
        ],
    );
    assert_eq!(o.code, 0, "{} {}", o.stdout, o.stderr);
    assert_eq!(o.json()["rolled_back"], json!(["pv-cavra-acme-2"]));
    assert_eq!(o.json()["state"], "active");
    assert!(hook(&s, &agent, &prod, "figlet hi").0);
    assert!(!hook(&s, &agent, &prod, "cowsay moo").0);
    assert_eq!(decide(&s, &agent, &prod, "cowsay moo"), "allow");
    let (st, v) = post(
        &s,
        "/v1/rollouts/rollback",
        Some(&alice),
        &json!({"to": "pv-cavra-acme-1"}),
    );
    assert_eq!(st, 409, "nothing later to roll back: {v}");

    // the history: every step, who, and its evidence record in the server's log
    let (_, v1) = get(&s, "/v1/rollouts/pv-cavra-acme-1", Some(&auditor));
    assert_eq!(
        steps(&v1),
        ["drafted", "approved", "assigned", "restored"],
        "{v1}"
    );
    let (_, v2) = get(&s, "/v1/rollouts/pv-cavra-acme-2", Some(&auditor));
    assert_eq!(v2["state"], "rolled-back", "{v2}");
    assert_eq!(
        steps(&v2),
        ["drafted", "approved", "assigned", "promoted", "rolled_back"],
        "{v2}"
    );
    let actors: Vec<&str> = v2["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["alice", "bob", "alice", "alice", "alice"]);
    for h in v1["history"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v2["history"].as_array().unwrap())
    {
        let rec = h["evidence_record"].as_str().unwrap();
        let (st, r) = get(&s, &format!("/v1/evidence/records/{rec}"), Some(&auditor));
        assert_eq!(st, 200, "{r}");
        assert_eq!(
            r["kind"],
            format!("rollout.{}", h["step"].as_str().unwrap()),
            "{r}"
        );
    }
    // the listing, through the CLI
    let o = cavra(
        &s.dir,
        &[
            "rollout",
            "--server",
            &server,
            "--token-file",
            bob_file.to_str().unwrap(),
            "list",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("pv-cavra-acme-1") && o.stdout.contains("rolled-back"),
        "{}",
        o.stdout
    );
    // the endpoints are in the OpenAPI document
    let (_, api) = get(&s, "/openapi.json", None);
    for p in [
        "/v1/policies/drafts",
        "/v1/rollouts/{id}/assign",
        "/v1/rollouts/rollback",
        "/v1/rollouts/{id}/shadow",
        "/v1/repositories/{id}/labels",
    ] {
        assert!(api["paths"].get(p).is_some(), "{p}");
    }
}
