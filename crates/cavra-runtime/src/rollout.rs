//! Policy rollout on the server (docs/rollout.md): what a shadow version of the floor
//! would have decided beside the enforced floor, for the requests of one decision —
//! evaluated only (the rules of both packs, no store, no evidence): a shadow version never
//! changes a verdict.

use crate::call::CallOptions;
use crate::error::RuntimeError;
use crate::locate::place;
use crate::org::evaluate_tightened;
use crate::services::ScriptReader;
use cavra_core::guard::EvalEnv;
use cavra_core::hooks::ToolCall;
use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, Actor, Outcome};

/// One request under the enforced floor and under the shadow version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowOutcome {
    pub action: String,
    pub target: String,
    pub enforced: Outcome,
    pub enforced_rule: String,
    pub shadow: Outcome,
    pub shadow_rule: String,
}

impl ShadowOutcome {
    /// Would the shadow version have decided otherwise?
    pub fn changed(&self) -> bool {
        self.enforced != self.shadow
    }
}

/// `floor` when it tightens `pack` (not `pack` itself).
fn tightening<'a>(
    pack: &CompiledPack,
    floor: Option<&'a CompiledPack>,
) -> Option<&'a CompiledPack> {
    floor.filter(|f| f.digest != pack.digest)
}

/// The requests of a tool call as [`crate::Runtime::decide_call`] decides them (mapped,
/// placed, with the call's session and actor).
pub fn call_requests(
    call: &ToolCall,
    opts: &CallOptions,
    pack: &CompiledPack,
) -> Result<Vec<ActionRequest>, RuntimeError> {
    let loc = opts.locator.locate(call.cwd.as_deref());
    let cwd = loc.cwd.display().to_string();
    let mut reqs = cavra_core::hooks::map_tool(&call.tool, &call.input, Some(&cwd))
        .map_err(RuntimeError::ToolCall)?;
    for req in &mut reqs {
        req.session_id = call.session_id.clone();
        req.actor = Actor {
            agent_id: format!("{}@{}", call.agent.kind(), opts.host),
            kind: call.agent.kind().to_string(),
        };
        place(req, &loc);
        req.policy_pack = Some(pack.id.clone());
    }
    Ok(reqs)
}

/// Each of `reqs` under `pack` tightened by the `enforced` floor and by the `shadow`
/// version instead: the rules' verdicts (before approvals and break-glass); `scripts`
/// reads the scripts rules look into (the runtime's).
pub fn shadow_outcomes(
    scripts: &dyn ScriptReader,
    pack: &CompiledPack,
    enforced: Option<&CompiledPack>,
    shadow: &CompiledPack,
    reqs: &[ActionRequest],
) -> Vec<ShadowOutcome> {
    let env = EvalEnv {
        scripts: Some(scripts),
        ..Default::default()
    };
    reqs.iter()
        .map(|req| {
            let e = evaluate_tightened(pack, tightening(pack, enforced), req, &env);
            let s = evaluate_tightened(pack, tightening(pack, Some(shadow)), req, &env);
            ShadowOutcome {
                action: e.action_type.clone(),
                target: req.target.clone(),
                enforced: e.decision,
                enforced_rule: e.rule_id,
                shadow: s.decision,
                shadow_rule: s.rule_id,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavra_core::policy::{compile, parse_pack, BundledResolver};

    fn pack(yaml: &str) -> CompiledPack {
        compile::compile(
            parse_pack("t.yaml", yaml).expect("parses"),
            &BundledResolver,
        )
        .expect("compiles")
    }

    #[test]
    fn a_shadow_floor_is_compared_with_the_enforced_one() {
        let org = pack(include_str!("../tests/data/org/org.yaml"));
        let soft = pack(include_str!("../tests/data/org/soft.yaml"));
        let fs = crate::services::FsScriptReader;
        let req = |cmd: &str| {
            crate::request::from_json(&serde_json::json!({
                "action_type": "execute_command", "target": cmd, "cwd": "/w", "repo_root": "/w"
            }))
            .expect("request")
        };
        let reqs = [req("terraform destroy -auto-approve"), req("git status")];
        // no enforced floor: the soft project pack allows; the shadow org floor blocks
        let got = shadow_outcomes(&fs, &soft, None, &org, &reqs);
        assert_eq!(got[0].enforced, Outcome::Allow);
        assert_eq!(got[0].shadow, Outcome::Block);
        assert_eq!(got[0].shadow_rule, "org.no_terraform_destroy");
        assert!(got[0].changed());
        assert!(!got[1].changed(), "{:?}", got[1]);
        // the same floor both ways: nothing changes
        let same = shadow_outcomes(&fs, &soft, Some(&org), &org, &reqs);
        assert!(same.iter().all(|o| !o.changed()));
    }
}
