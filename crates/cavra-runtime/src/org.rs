//! The organisation pack: guardrails a project cannot soften. With one set on the
//! [`crate::Runtime`] (`--org-policy FILE`, or the server's signed pack a hook decides with
//! offline), every decision is the stricter of the organisation pack's and the project
//! pack's: a project can add blocks and approvals, never turn an organisation block or
//! approval into an allow. Approvals and break-glass then apply to the stricter decision,
//! as to any other.

use crate::error::RuntimeError;
use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, Decision, Outcome};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the organisation pack comes from: a file, compiled on first use (a compiled
/// `.json` pack or a YAML pack), or a pack already loaded.
#[derive(Debug, Clone)]
pub enum OrgPack {
    File(PathBuf),
    Loaded(Arc<CompiledPack>),
    /// A compiled pack (JSON) whose digest is known before it is loaded (the server's
    /// signed pack, verified): a decision under a pack of that same digest needs no
    /// tightening (a pack is as strict as itself), so it is then not loaded at all.
    Digest(crate::sync::VerifiedPack),
}

impl OrgPack {
    /// The pack, compiling the file when not done yet (a pack that does not load is an
    /// error: the decision fails closed).
    pub fn load(&mut self) -> Result<Arc<CompiledPack>, RuntimeError> {
        let pack = match self {
            OrgPack::Loaded(p) => return Ok(Arc::clone(p)),
            OrgPack::Digest(v) => Arc::new(CompiledPack::from_json(&v.compiled).map_err(|e| {
                RuntimeError::OrgPack(v.path.clone(), Box::new(RuntimeError::Policy(e)))
            })?),
            OrgPack::File(p) => Arc::new(
                crate::packs::compile_path(p, &[])
                    .map_err(|e| RuntimeError::OrgPack(p.clone(), Box::new(e)))?,
            ),
        };
        *self = OrgPack::Loaded(Arc::clone(&pack));
        Ok(pack)
    }
}

impl OrgPack {
    /// The pack to tighten a decision under `deciding` with: none when it is `deciding`
    /// itself (same digest), else the loaded pack.
    pub fn load_for(
        &mut self,
        deciding: &CompiledPack,
    ) -> Result<Option<Arc<CompiledPack>>, RuntimeError> {
        if let OrgPack::Digest(v) = self {
            if v.digest == deciding.digest {
                return Ok(None);
            }
        }
        self.load().map(Some)
    }
}

/// How strict an outcome is: block > require approval > shadow (recorded would-block) >
/// allow and break-glass.
pub fn strictness(o: Outcome) -> u8 {
    match o {
        Outcome::Block => 3,
        Outcome::RequireApproval => 2,
        Outcome::Shadow => 1,
        Outcome::Allow | Outcome::BreakGlass => 0,
    }
}

/// The stricter of the project pack's decision (`own`) and the organisation pack's; on a
/// tie the project's (its rules are the more specific). An organisation decision that wins
/// says so in its reason.
pub fn tighten(own: Decision, org: Decision) -> Decision {
    if strictness(org.decision) > strictness(own.decision) {
        let mut d = org;
        d.reason = format!("{}{}", floor_won_prefix(&d.policy.id), d.reason);
        d
    } else {
        own
    }
}

/// What the reason of a decision the organisation pack (floor) `org_id` made stricter than
/// the project pack's starts with.
fn floor_won_prefix(org_id: &str) -> String {
    format!("organisation policy `{org_id}`: ")
}

/// Did the floor `org_id` decide stricter than the project pack would have (the project
/// pack tried to loosen it)? `reason` is the decision's reason, or a hook verdict's
/// ([`crate::guidance`]: `CAVRA <outcome>: <reason>`).
pub fn floor_won(reason: &str, org_id: &str) -> bool {
    let prefix = floor_won_prefix(org_id);
    reason.starts_with(&prefix)
        || reason
            .split_once(": ")
            .is_some_and(|(head, rest)| head.starts_with("CAVRA ") && rest.starts_with(&prefix))
}

/// `req` under `pack`, tightened by `org` when there is one.
pub fn evaluate_tightened(
    pack: &CompiledPack,
    org: Option<&CompiledPack>,
    req: &ActionRequest,
    env: &EvalEnv<'_>,
) -> Decision {
    let own = evaluate(pack, req, env);
    match org {
        Some(o) => tighten(own, evaluate(o, req, env)),
        None => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavra_core::policy::{compile, parse_pack, BundledResolver};

    fn pack(yaml: &str) -> CompiledPack {
        compile::compile(
            parse_pack("test.yaml", yaml).expect("parses"),
            &BundledResolver,
        )
        .expect("compiles")
    }

    fn command(cmd: &str) -> ActionRequest {
        crate::request::from_json(&serde_json::json!({
            "action_type": "execute_command", "target": cmd, "cwd": "/work/p", "repo_root": "/work/p"
        }))
        .expect("request")
    }

    // the organisation and project packs of the tests (also used by the CLI's
    // tests/org_policy.rs)
    const ORG: &str = include_str!("../tests/data/org/org.yaml");
    const SOFT_PROJECT: &str = include_str!("../tests/data/org/soft.yaml");
    const STRICT_PROJECT: &str = include_str!("../tests/data/org/strict.yaml");

    fn decide(own: &CompiledPack, org: &CompiledPack, cmd: &str) -> Decision {
        evaluate_tightened(own, Some(org), &command(cmd), &EvalEnv::default())
    }

    #[test]
    fn a_verified_server_pack_equal_to_the_deciding_pack_is_not_loaded() {
        let org = pack(ORG);
        let verified = |compiled: &str, digest: &str| {
            OrgPack::Digest(crate::sync::VerifiedPack {
                path: "server/pack.json".into(),
                compiled: compiled.into(),
                digest: digest.into(),
            })
        };
        // the same digest: no tightening, and the JSON is never parsed (here: not JSON)
        let mut same = verified("not json", &org.digest);
        assert!(same.load_for(&org).expect("no load").is_none());
        // another pack decides: the server pack is loaded and tightens
        let soft = pack(SOFT_PROJECT);
        let mut other = verified(&org.to_json(), &org.digest);
        let loaded = other.load_for(&soft).expect("loads").expect("a pack");
        assert_eq!(loaded.digest, org.digest);
        // unreadable JSON under another digest: an error (the decision fails closed)
        let mut broken = verified("not json", &org.digest);
        assert!(broken.load_for(&soft).is_err());
    }

    #[test]
    fn a_project_cannot_turn_an_organisation_block_or_approval_into_an_allow() {
        let (org, soft) = (pack(ORG), pack(SOFT_PROJECT));
        // alone, the project allows both
        for cmd in ["terraform destroy -auto-approve", "make deploy"] {
            let alone = evaluate(&soft, &command(cmd), &EvalEnv::default());
            assert_eq!(alone.decision, Outcome::Allow, "{cmd}");
        }
        let d = decide(&soft, &org, "terraform destroy -auto-approve");
        assert_eq!(d.decision, Outcome::Block);
        assert_eq!(d.rule_id, "org.no_terraform_destroy");
        assert!(
            d.reason.starts_with("organisation policy `cavra-org`"),
            "{}",
            d.reason
        );
        let d = decide(&soft, &org, "make deploy");
        assert_eq!(d.decision, Outcome::RequireApproval);
        assert_eq!(d.rule_id, "org.deploys_need_approval");
        // the attempt is told apart (the server's repository inventory reports it), in the
        // decision's reason and in a hook verdict's
        assert!(floor_won(&d.reason, "cavra-org"));
        assert!(floor_won(
            &format!("CAVRA require approval: {}", d.reason),
            "cavra-org"
        ));
        assert!(!floor_won(&d.reason, "other-org"));
        // a project as strict as the organisation: the project's own decision, no attempt
        let same = decide(&org, &org, "make deploy");
        assert!(!floor_won(&same.reason, "cavra-org"), "{}", same.reason);
    }

    #[test]
    fn a_project_can_add_blocks_the_organisation_does_not_have() {
        let (org, strict) = (pack(ORG), pack(STRICT_PROJECT));
        let d = decide(&strict, &org, "npm publish");
        assert_eq!(d.decision, Outcome::Block);
        assert_eq!(d.rule_id, "strict.no_npm_publish");
        // and the organisation's still hold
        assert_eq!(
            decide(&strict, &org, "terraform destroy").decision,
            Outcome::Block
        );
        // everyday work passes both
        assert_eq!(decide(&strict, &org, "git status").decision, Outcome::Allow);
    }

    #[test]
    fn strictness_orders_every_outcome() {
        let order = [
            Outcome::Allow,
            Outcome::Shadow,
            Outcome::RequireApproval,
            Outcome::Block,
        ];
        for w in order.windows(2) {
            assert!(strictness(w[0]) < strictness(w[1]), "{:?}", w);
        }
        assert_eq!(strictness(Outcome::BreakGlass), strictness(Outcome::Allow));
    }
}
