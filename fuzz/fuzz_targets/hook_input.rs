//! Fuzz target for hook input: arbitrary bytes as a Claude Code PreToolUse payload, through
//! the tool mapping and the decision engine with the bundled baseline.
//! Properties: never panics; every request gets a well-formed decision; a block or a hold
//! never proceeds.
#![no_main]

use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::bundled;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn pack() -> &'static cavra_core::policy::CompiledPack {
    static P: OnceLock<cavra_core::policy::CompiledPack> = OnceLock::new();
    P.get_or_init(|| bundled::compiled(bundled::DEFAULT_PACK).expect("baseline compiles"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let tool = v.get("tool_name").and_then(|t| t.as_str()).unwrap_or("Bash");
    let input = v.get("tool_input").cloned().unwrap_or(serde_json::Value::Null);
    let cwd = v.get("cwd").and_then(|c| c.as_str());
    let Ok(reqs) = cavra_core::hooks::map_tool(tool, &input, cwd) else {
        return;
    };
    for mut req in reqs {
        req.cwd = cwd.map(str::to_string).or(Some("/home/dev/app".into()));
        req.home = Some("/home/dev".into());
        let d = evaluate(pack(), &req, &EvalEnv::default());
        assert_eq!(d.request_hash.len(), 64);
        assert!(!d.rule_id.is_empty());
        if matches!(d.decision, cavra_core::Outcome::Block | cavra_core::Outcome::RequireApproval) {
            assert!(!d.proceed);
        }
    }
});
