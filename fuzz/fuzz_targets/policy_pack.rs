//! Fuzz target for hostile project packs: arbitrary text as `.cavra/policy.yaml` goes through
//! the YAML loader (caps on size, nesting and alias expansion), the schema, the semantic
//! checks and the compiler (inheriting from bundled packs), and a compiled pack then decides
//! a few requests. An optional `\n#cmd ` line at the end picks the command to decide.
//! Properties: never panics; a refused pack names its problem (file:line:column); a
//! compiled pack has sane durations, survives its JSON round trip and decides every request
//! with a well-formed decision, a block or a hold never proceeding.
#![no_main]

use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::{self, BundledResolver, CompiledPack, PolicyError};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let (yaml, cmd) = match src.rsplit_once("\n#cmd ") {
        Some((y, c)) => (y, c),
        None => (src, "rm -rf ~ ; : {0..9223372036854775807..9223372036854775807}"),
    };
    let pack = match policy::load("policy.yaml", yaml, &BundledResolver) {
        Ok(p) => p,
        Err(PolicyError::Invalid { problems }) => {
            assert!(!problems.is_empty());
            for p in &problems {
                assert!(p.line >= 1 && p.column >= 1, "{p}");
                assert!(!p.message.is_empty());
            }
            return;
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert!(pack.defaults.approval_ttl_secs <= cavra_core::duration::MAX_SECS);
    if let Some((_, window, _)) = pack.defaults.escalation {
        assert!(window <= cavra_core::duration::MAX_SECS);
    }
    // what the hook caches and reloads
    let again = CompiledPack::from_json(&pack.to_json()).expect("a compiled pack reloads");
    assert_eq!(again.digest, pack.digest);
    let tools = [
        ("Bash", json!({ "command": cmd })),
        ("Read", json!({ "file_path": "/home/dev/app/.env" })),
        ("Write", json!({ "file_path": "/home/dev/app/src/main.rs" })),
        ("mcp__github__delete_repo", json!({ "repo": "x" })),
    ];
    for (tool, input) in &tools {
        let Ok(reqs) = cavra_core::hooks::map_tool(tool, input, Some("/home/dev/app")) else {
            continue;
        };
        for mut req in reqs {
            req.home = Some("/home/dev".into());
            let d = evaluate(&pack, &req, &EvalEnv::default());
            assert_eq!(d.request_hash.len(), 64);
            assert!(!d.rule_id.is_empty());
            if matches!(
                d.decision,
                cavra_core::Outcome::Block | cavra_core::Outcome::RequireApproval
            ) {
                assert!(!d.proceed);
            }
        }
    }
});
