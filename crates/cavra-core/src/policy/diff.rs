//! Semantic diff of two compiled packs: rules added, removed and changed, with effect
//! changes called out as loosening or tightening, and changes to settings and lists.

use super::compile::{CompiledPack, SeverityRule};
use super::source::{CliSection, CliSource};
use crate::model::Effect;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleChange {
    pub rule_id: String,
    pub change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_effect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_effect: Option<String>,
    /// `loosened`, `tightened` or `same` for effect changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct PackDiff {
    pub from: String,
    pub to: String,
    pub from_digest: String,
    pub to_digest: String,
    pub rules: Vec<RuleChange>,
    pub settings: Vec<String>,
    /// Any change that lets through something that was blocked or held.
    pub loosens: bool,
}

fn rank(e: Effect) -> u8 {
    match e {
        Effect::Allow => 0,
        Effect::RequireApproval => 1,
        Effect::Block => 2,
    }
}

/// The severity as the pack file spells it (never a Rust debug string).
pub fn severity_name(s: &SeverityRule) -> &'static str {
    match s {
        SeverityRule::Fixed(s) => s.as_str(),
        SeverityRule::ReferenceCommandBlock => "high_or_critical",
    }
}

fn rule_map(p: &CompiledPack) -> Vec<(String, Value)> {
    // one entry per rule id: native rules by id, reference lists by section
    let n = &p.normalized.pack;
    let mut out: Vec<(String, Value)> = Vec::new();
    for r in &p.rules {
        let mut v = serde_json::json!({
            "effect": r.effect.as_str(),
            "severity": severity_name(&r.severity),
            "approver_group": r.approver_group,
        });
        if let Some(src) = n.rules.iter().find(|s| s.id == r.id) {
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "match".into(),
                    serde_json::to_value(&src.matcher).unwrap_or(Value::Null),
                );
                o.insert(
                    "alternative".into(),
                    serde_json::to_value(&src.alternative).unwrap_or(Value::Null),
                );
            }
        }
        out.push((r.id.clone(), v));
    }
    out
}

fn list_diff(name: &str, a: &[String], b: &[String], out: &mut Vec<String>) {
    for x in b.iter().filter(|x| !a.contains(x)) {
        out.push(format!("{name}: added `{x}`"));
    }
    for x in a.iter().filter(|x| !b.contains(x)) {
        out.push(format!("{name}: removed `{x}`"));
    }
}

/// Compares `a` (before) with `b` (after).
pub fn diff(a: &CompiledPack, b: &CompiledPack) -> PackDiff {
    let mut d = PackDiff {
        from: a.id.clone(),
        to: b.id.clone(),
        from_digest: a.digest.clone(),
        to_digest: b.digest.clone(),
        ..Default::default()
    };
    let ra = rule_map(a);
    let rb = rule_map(b);
    let eff = |p: &CompiledPack, id: &str| p.rules.iter().find(|r| r.id == id).map(|r| r.effect);
    for (id, vb) in &rb {
        match ra.iter().find(|(i, _)| i == id) {
            None => {
                let e = eff(b, id);
                d.rules.push(RuleChange {
                    rule_id: id.clone(),
                    change: "added".into(),
                    from_effect: None,
                    to_effect: e.map(|e| e.as_str().into()),
                    direction: e.map(|e| {
                        if e == Effect::Allow {
                            "loosened"
                        } else {
                            "tightened"
                        }
                        .into()
                    }),
                    details: vec![],
                });
                if e == Some(Effect::Allow) {
                    d.loosens = true;
                }
            }
            Some((_, va)) if va != vb => {
                let (ea, eb) = (eff(a, id), eff(b, id));
                let mut details = Vec::new();
                if let (Value::Object(ma), Value::Object(mb)) = (va, vb) {
                    for (k, x) in mb {
                        if ma.get(k) != Some(x) {
                            details.push(format!(
                                "{k}: {} -> {}",
                                ma.get(k).unwrap_or(&Value::Null),
                                x
                            ));
                        }
                    }
                }
                let direction = match (ea, eb) {
                    (Some(x), Some(y)) if rank(y) < rank(x) => {
                        d.loosens = true;
                        "loosened"
                    }
                    (Some(x), Some(y)) if rank(y) > rank(x) => "tightened",
                    _ => "same",
                };
                d.rules.push(RuleChange {
                    rule_id: id.clone(),
                    change: "changed".into(),
                    from_effect: ea.map(|e| e.as_str().into()),
                    to_effect: eb.map(|e| e.as_str().into()),
                    direction: Some(direction.into()),
                    details,
                });
            }
            _ => {}
        }
    }
    for (id, _) in &ra {
        if !rb.iter().any(|(i, _)| i == id) {
            let e = eff(a, id);
            if e != Some(Effect::Allow) {
                d.loosens = true;
            }
            d.rules.push(RuleChange {
                rule_id: id.clone(),
                change: "removed".into(),
                from_effect: e.map(|e| e.as_str().into()),
                to_effect: None,
                direction: e.map(|e| {
                    if e == Effect::Allow {
                        "tightened"
                    } else {
                        "loosened"
                    }
                    .into()
                }),
                details: vec![],
            });
        }
    }
    let (na, nb) = (&a.normalized.pack, &b.normalized.pack);
    let fa = na.filesystem.clone().unwrap_or_default();
    let fb = nb.filesystem.clone().unwrap_or_default();
    list_diff(
        "filesystem.block_read",
        &fa.block_read,
        &fb.block_read,
        &mut d.settings,
    );
    list_diff(
        "filesystem.block_write",
        &fa.block_write,
        &fb.block_write,
        &mut d.settings,
    );
    list_diff(
        "filesystem.require_approval_write",
        &fa.require_approval_write,
        &fb.require_approval_write,
        &mut d.settings,
    );
    list_diff("filesystem.except", &fa.except, &fb.except, &mut d.settings);
    let ca = na.commands.clone().unwrap_or_default();
    let cb = nb.commands.clone().unwrap_or_default();
    list_diff("commands.block", &ca.block, &cb.block, &mut d.settings);
    list_diff("commands.allow", &ca.allow, &cb.allow, &mut d.settings);
    list_diff(
        "commands.require_approval",
        &ca.require_approval,
        &cb.require_approval,
        &mut d.settings,
    );
    if ca.block.iter().any(|x| !cb.block.contains(x))
        || cb.allow.iter().any(|x| !ca.allow.contains(x))
        || fa.block_read.iter().any(|x| !fb.block_read.contains(x))
    {
        d.loosens = true;
    }
    let ma = na.mcp.clone().unwrap_or_default();
    let mb = nb.mcp.clone().unwrap_or_default();
    list_diff(
        "mcp.allowed_servers",
        &ma.allowed_servers,
        &mb.allowed_servers,
        &mut d.settings,
    );
    list_diff(
        "mcp.blocked_servers",
        &ma.blocked_servers,
        &mb.blocked_servers,
        &mut d.settings,
    );
    if a.mode != b.mode {
        d.settings
            .push(format!("mode: {} -> {}", a.mode.as_str(), b.mode.as_str()));
    }
    if a.defaults.commands != b.defaults.commands {
        d.settings.push(format!(
            "defaults.commands: {} -> {}",
            a.defaults.commands.as_str(),
            b.defaults.commands.as_str()
        ));
        if rank(b.defaults.commands) < rank(a.defaults.commands) {
            d.loosens = true;
        }
    }
    let pa: Vec<String> = a
        .git
        .protected_branches
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    let pb: Vec<String> = b
        .git
        .protected_branches
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    list_diff("git.protected_branches", &pa, &pb, &mut d.settings);
    if cli_diff(na.cli.as_ref(), nb.cli.as_ref(), &mut d.settings) {
        d.loosens = true;
    }
    d
}

fn effect_rank(s: Option<&str>, default: Effect) -> u8 {
    rank(s.and_then(Effect::parse).unwrap_or(default))
}

/// Rows of an entry as (path, rule, effect rank).
fn cli_rows(e: &CliSource) -> Vec<(String, String, u8)> {
    e.verbs
        .iter()
        .map(|v| {
            (
                v.path.clone(),
                v.rule
                    .clone()
                    .or_else(|| e.rule.clone())
                    .unwrap_or_default(),
                effect_rank(v.effect.as_deref().or(e.effect.as_deref()), Effect::Block),
            )
        })
        .collect()
}

/// Changes to the CLI table; true when one may let through what was held: a row removed or
/// lowered, or a change to how the program's arguments, help or dry runs are read.
fn cli_diff(a: Option<&CliSection>, b: Option<&CliSection>, out: &mut Vec<String>) -> bool {
    let empty = CliSection::default();
    let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    let mut loosens = false;
    let default = CliSource::default();
    // an entry that does not parse is compared as empty (packs are validated when they
    // load, so this only happens for a pack that never loaded)
    let parsed = |e: &super::source::CliEntrySource| -> CliSource {
        e.get().cloned().unwrap_or_else(|_| default.clone())
    };
    for (prog, eb) in &b.table {
        match a.table.get(prog) {
            None => out.push(format!("cli.table.{prog}: added")),
            Some(ea) if ea != eb => {
                let (ea, eb) = (&parsed(ea), &parsed(eb));
                let (ra, rb) = (cli_rows(ea), cli_rows(eb));
                for (path, rule, r) in &ra {
                    match rb.iter().find(|(p, id, _)| p == path && id == rule) {
                        None => {
                            out.push(format!("cli.table.{prog}: row `{path}` ({rule}) removed"));
                            loosens = true;
                        }
                        Some((_, _, r2)) if r2 < r => {
                            out.push(format!("cli.table.{prog}: row `{path}` ({rule}) loosened"));
                            loosens = true;
                        }
                        _ => {}
                    }
                }
                let reading = |e: &CliSource| {
                    let mut e = e.clone();
                    e.verbs.clear();
                    e.rule = None;
                    e.effect = None;
                    e.severity = None;
                    e.reason = None;
                    e.alternative = None;
                    e
                };
                if reading(ea) != reading(eb) {
                    out.push(format!(
                        "cli.table.{prog}: argument, help or dry-run settings changed"
                    ));
                    loosens = true;
                } else {
                    out.push(format!("cli.table.{prog}: changed"));
                }
                if effect_rank(eb.effect.as_deref(), Effect::Block)
                    < effect_rank(ea.effect.as_deref(), Effect::Block)
                {
                    loosens = true;
                }
            }
            _ => {}
        }
    }
    for (prog, ea) in &a.table {
        if !b.table.contains_key(prog) {
            out.push(format!("cli.table.{prog}: removed"));
            loosens |= !parsed(ea).verbs.is_empty();
        }
    }
    match (&a.unknown, &b.unknown) {
        (Some(_), None) => {
            out.push("cli.unknown: removed".into());
            loosens = true;
        }
        (None, Some(_)) => out.push("cli.unknown: added".into()),
        (Some(x), Some(y)) if x != y => {
            out.push("cli.unknown: changed".into());
            loosens |= effect_rank(y.effect.as_deref(), Effect::RequireApproval)
                < effect_rank(x.effect.as_deref(), Effect::RequireApproval)
                || x.verbs.iter().any(|v| !y.verbs.contains(v))
                || y.except_programs
                    .iter()
                    .any(|p| !x.except_programs.contains(p))
                || x.confirm_flags.iter().any(|f| !y.confirm_flags.contains(f));
        }
        _ => {}
    }
    loosens
}
