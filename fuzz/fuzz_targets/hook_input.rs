//! Fuzz target for the whole hook path: a selector byte picks the agent (Claude Code, Codex,
//! Gemini CLI, Cursor, Copilot CLI), the rest is that agent's hook event as JSON. The
//! event goes through the agent's own adapter (the same `map` functions `cavra hook <agent>`
//! uses), the tool mapping and the decision engine with the bundled baseline.
//! Properties: never panics; a mapping error carries a reason (the hook denies with it);
//! every request gets a well-formed decision; a block or a hold never proceeds; the
//! fail-closed answer of every agent is a deny document.
#![no_main]

use cavra_cli::agents::{self, codex, copilot, cursor, gemini, str_of};
use cavra_cli::cmd::hook::{Agent, ToolCall};
use cavra_cli::failclosed;
use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::bundled;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

fn pack() -> &'static cavra_core::policy::CompiledPack {
    static P: OnceLock<cavra_core::policy::CompiledPack> = OnceLock::new();
    P.get_or_init(|| bundled::compiled(bundled::DEFAULT_PACK).expect("baseline compiles"))
}

/// The tool calls the agent's adapter derives from `event`; `None` when the adapter answers
/// without a decision (not a pre-action event) or denies before mapping.
fn adapter_calls(agent: Agent, event: &Value) -> Option<Vec<ToolCall>> {
    let session = "fuzz-session";
    let cwd = str_of(event, &["cwd"]);
    let cwd = cwd.as_deref();
    let input = || event.get("tool_input").cloned().unwrap_or(Value::Null);
    match agent {
        Agent::ClaudeCode => {
            let tool = str_of(event, &["tool_name"])?;
            Some(vec![agents::call(agent, session, cwd, &tool, input())])
        }
        Agent::Codex => {
            let tool = str_of(event, &["tool_name"])?;
            Some(codex::map(session, cwd, &tool, &input()))
        }
        Agent::Gemini => {
            let tool = str_of(event, &["tool_name"])?;
            Some(gemini::map(session, cwd, &tool, &input()))
        }
        Agent::Cursor => {
            let name = str_of(event, &["hook_event_name"])?;
            match cursor::map(&name, event, session, cwd) {
                Ok(calls) => Some(calls),
                Err(reason) => {
                    assert!(!reason.is_empty(), "cursor: empty deny reason");
                    None
                }
            }
        }
        Agent::Copilot => {
            if copilot::event_name(event) != "preToolUse" {
                return None;
            }
            let tool = str_of(event, &["toolName"])?;
            match copilot::tool_args(event) {
                Ok(args) => Some(copilot::map(session, cwd, &tool, &args)),
                Err(reason) => {
                    assert!(!reason.is_empty(), "copilot: empty deny reason");
                    None
                }
            }
        }
    }
}

const AGENTS: [Agent; 5] = [
    Agent::ClaudeCode,
    Agent::Codex,
    Agent::Gemini,
    Agent::Cursor,
    Agent::Copilot,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let agent = AGENTS[usize::from(selector) % AGENTS.len()];
    // whatever happens below, this agent's fail-closed answer is a deny
    let deny = failclosed::deny_document(Some(agent), "fuzz").to_string();
    assert!(deny.contains("\"deny\"") && !deny.contains("allow"), "{deny}");
    let Ok(event) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    if !event.is_object() {
        return;
    }
    let Some(calls) = adapter_calls(agent, &event) else {
        return;
    };
    for call in &calls {
        assert_eq!(Agent::from(call.agent), agent);
        let reqs = match cavra_core::hooks::map_tool(&call.tool, &call.input, call.cwd.as_deref()) {
            Ok(r) => r,
            Err(reason) => {
                // the hook denies the call with this reason
                assert!(!reason.is_empty(), "{agent:?}: empty mapping error");
                continue;
            }
        };
        for mut req in reqs {
            req.cwd = call.cwd.clone().or(Some("/home/dev/app".into()));
            req.home = Some("/home/dev".into());
            let d = evaluate(pack(), &req, &EvalEnv::default());
            assert_eq!(d.request_hash.len(), 64);
            assert!(!d.rule_id.is_empty());
            assert!(!d.reason.is_empty());
            if matches!(
                d.decision,
                cavra_core::Outcome::Block | cavra_core::Outcome::RequireApproval
            ) {
                assert!(!d.proceed, "{agent:?}: a {:?} proceeds", d.decision);
            }
        }
    }
});
