//! Fuzz target for the whole hook path: a selector byte picks the agent (Claude Code, Codex,
//! Gemini CLI, Cursor, Copilot CLI), the rest is that agent's hook payload. The bytes go
//! through the payload check and the agent's own adapter (`cavra_agents::Adapter`, the one
//! `cavra hook <agent>` uses), the tool mapping and the decision engine with the bundled
//! baseline, and the adapter's answers are checked.
//! Properties: never panics; a refused payload or event carries a reason and is answered
//! with a deny; every tool call is the selected agent's; a mapping error carries a reason
//! (the hook denies with it); every request gets a well-formed decision; a block or a hold
//! never proceeds; a deny verdict is answered with a deny, an ask never with an allow; the
//! fail-closed answer of every agent is a deny with exit 2.
#![no_main]

use cavra_agents::{
    Adapter, AdapterError, AgentKind, Answer, Parsed, Verdict, VerdictKind, EXIT_BLOCK,
};
use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::bundled;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::sync::OnceLock;

fn pack() -> &'static cavra_core::policy::CompiledPack {
    static P: OnceLock<cavra_core::policy::CompiledPack> = OnceLock::new();
    P.get_or_init(|| bundled::compiled(bundled::DEFAULT_PACK).expect("baseline compiles"))
}

/// The decision word of an answer document in `agent`'s protocol, if it carries one.
fn decision(agent: AgentKind, a: &Answer) -> Option<String> {
    let v: Value = serde_json::from_str(&a.stdout).ok()?;
    let d = match agent {
        AgentKind::ClaudeCode | AgentKind::Codex => &v["hookSpecificOutput"]["permissionDecision"],
        AgentKind::Gemini => &v["decision"],
        AgentKind::Cursor => &v["permission"],
        AgentKind::Copilot => &v["permissionDecision"],
    };
    d.as_str().map(str::to_string)
}

/// Does `a` stop the action in `agent`'s protocol? Exit 2 with no document or a deny, or
/// a deny document.
fn denies(agent: AgentKind, a: &Answer) -> bool {
    let d = decision(agent, a);
    match a.exit_code {
        EXIT_BLOCK => a.stdout.is_empty() || d.as_deref() == Some("deny"),
        0 => d.as_deref() == Some("deny"),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let agent = AgentKind::ALL[usize::from(selector) % AgentKind::ALL.len()];
    let adapter = Adapter::new(agent);
    // whatever happens below, this agent's fail-closed answer is a deny
    let fc = cavra_agents::fail_closed(Some(agent), "fuzz");
    assert_eq!(fc.exit_code, EXIT_BLOCK);
    assert!(denies(agent, &fc), "{agent}: {fc:?}");
    // a refused payload or event names why and is answered with a deny
    let refused = |e: AdapterError| {
        assert!(!e.to_string().is_empty(), "{agent}: empty error");
        let a = adapter.reject(&e);
        assert!(denies(agent, &a), "{agent}: {e} is not denied: {a:?}");
    };
    let event = match cavra_agents::parse_payload(rest) {
        Ok(v) => v,
        Err(e) => return refused(e),
    };
    let tool_use = match adapter.parse(&event) {
        Ok(Parsed::Tool(t)) => t,
        Ok(Parsed::Observed(o)) => {
            assert!(o.body.is_object(), "{agent}: observation body {:?}", o.body);
            let a = adapter.observed(&o, Some("context"));
            assert_eq!(a.exit_code, 0, "{agent}: an observation blocks");
            assert!(
                decision(agent, &a).is_none(),
                "{agent}: an observation decides: {a:?}"
            );
            return;
        }
        Err(e) => return refused(e),
    };
    let deny = adapter.answer(&tool_use, &Verdict::deny("fuzz"));
    assert!(
        denies(agent, &deny),
        "{agent}: a deny verdict answered {deny:?}"
    );
    let ask = adapter.answer(
        &tool_use,
        &Verdict {
            kind: VerdictKind::Ask,
            reason: "fuzz".into(),
        },
    );
    assert_ne!(
        decision(agent, &ask).as_deref(),
        Some("allow"),
        "{agent}: ask answered {ask:?}"
    );
    for call in &tool_use.calls {
        assert_eq!(call.agent, agent);
        let reqs = match cavra_core::hooks::map_tool(&call.tool, &call.input, call.cwd.as_deref()) {
            Ok(r) => r,
            Err(reason) => {
                // the hook denies the call with this reason
                assert!(!reason.is_empty(), "{agent}: empty mapping error");
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
                assert!(!d.proceed, "{agent}: a {:?} proceeds", d.decision);
            }
        }
    }
});
