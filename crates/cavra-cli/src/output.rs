//! Human output helpers: a readable table, colour only on a TTY.

use cavra_core::{Decision, Outcome};

pub fn paint(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

pub fn outcome_label(color: bool, o: Outcome) -> String {
    let code = match o {
        Outcome::Allow => "1;32",
        Outcome::Block => "1;31",
        Outcome::RequireApproval => "1;33",
        Outcome::Shadow => "1;36",
        Outcome::BreakGlass => "1;35",
    };
    paint(color, code, &o.as_str().to_uppercase())
}

/// Prints a decision as a two-column table.
pub fn print_decision(color: bool, d: &Decision) {
    let row = |k: &str, v: &str| println!("  {:<15} {}", paint(color, "2", k), v);
    println!(
        "{} {} `{}`",
        outcome_label(color, d.decision),
        d.action_type,
        d.target
    );
    row("rule", &d.rule_id);
    row("severity", d.severity.as_str());
    row("reason", &d.reason);
    if let Some(g) = &d.approver_group {
        row("approver group", g);
    }
    if let Some(a) = &d.alternative {
        row("instead", a);
    }
    if let Some(s) = &d.scope {
        row("inspected", s);
    }
    if !d.controls.is_empty() {
        row("controls", &d.controls.join(", "));
    }
    row(
        "policy",
        &format!(
            "{} {} ({})",
            d.policy.id,
            d.policy.version,
            short(&d.policy.digest)
        ),
    );
    row("request", &short(&d.request_hash));
    row("proceed", if d.proceed { "yes" } else { "no" });
}

pub fn short(h: &str) -> String {
    let h = h.trim_start_matches("sha256:");
    h.chars().take(16).collect()
}

/// Exit code for a decision: 0 proceeds, 2 blocked or held.
pub fn exit_code(d: &Decision) -> i32 {
    if d.proceed {
        0
    } else {
        2
    }
}
