//! The posture report as one self-contained HTML file (`cavra posture --html FILE`): inline
//! CSS, charts drawn here as inline SVG (decisions over time, top rules, coverage per
//! framework), no script and nothing fetched — readable offline by someone who never ran
//! CAVRA. Every text from the log or the store is escaped.

use std::fmt::Write as _;

use super::{rfc3339, span, CoverageStatus, Posture, Severity};

/// `s` escaped for HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2430}
main{max-width:1120px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px}
.sub{color:#5b6575;margin:0 0 16px}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:18px 20px;margin:12px 0}
.head{display:flex;gap:24px;align-items:center}
.score{width:120px;height:120px;border-radius:60px;display:flex;flex-direction:column;align-items:center;justify-content:center;color:#fff;flex:none}
.score b{font-size:40px;line-height:1}.score span{font-size:13px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:14px}
.kv div:nth-child(odd){color:#5b6575}
.pill{display:inline-block;white-space:nowrap;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff}
.critical{background:#7a1020}.high{background:#c62828}.medium{background:#e07b00}.low{background:#6d7a8a}.info{background:#3c7ac0}
.enforced{background:#2e7d32}.shadow{background:#7b4fbf}.uncovered{background:#9aa3ad}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e6e8eb;vertical-align:top}
th{color:#5b6575;font-weight:600}
.finding{border-left:5px solid #9aa3ad;padding:10px 14px;margin:10px 0;background:#fff;border-radius:6px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.finding h3{font-size:15px;margin:0 0 4px}.finding p{margin:4px 0;font-size:14px}
.fix{background:#eef6ee;border-radius:4px;padding:6px 8px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.refs{color:#5b6575;font-size:12px;word-break:break-all}
.legend span{margin-right:14px;font-size:13px}.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.explain{font-size:14px;color:#39424f;line-height:1.5}
footer{color:#7a8494;font-size:12px;margin:28px 0}
";

fn score_colour(score: u32) -> &'static str {
    match score {
        90.. => "#2e7d32",
        75..=89 => "#7cb342",
        50..=74 => "#e07b00",
        _ => "#c62828",
    }
}

/// The colours of the decision kinds in the timeline.
const KINDS: [(&str, &str, &str); 5] = [
    ("allow", "allowed", "#4caf50"),
    ("block", "blocked", "#d32f2f"),
    ("require_approval", "needed approval", "#f39c12"),
    ("shadow", "shadow (would have been stopped)", "#8e6cd1"),
    ("break_glass", "break-glass override", "#37474f"),
];

fn timeline_svg(p: &Posture, out: &mut String) {
    let t = &p.stats.timeline;
    let (w, h, left, bottom) = (1040.0_f64, 220.0_f64, 44.0_f64, 28.0_f64);
    let counts: Vec<[u64; 5]> = t
        .iter()
        .map(|b| {
            [
                b.allow,
                b.block,
                b.require_approval,
                b.shadow,
                b.break_glass,
            ]
        })
        .collect();
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = counts.len().max(1) as f64;
    let plot_w = w - left - 8.0;
    let plot_h = h - bottom - 10.0;
    let bar = plot_w / n;
    let _ = write!(
        out,
        "<svg viewBox='0 0 {w} {h}' width='100%' role='img' aria-label='decisions over time'>"
    );
    for i in 0..=4 {
        let v = max as f64 * f64::from(i) / 4.0;
        let y = 10.0 + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(out, "<line x1='{left}' x2='{w}' y1='{y:.1}' y2='{y:.1}' stroke='#e6e8eb'/><text x='{}' y='{:.1}' font-size='11' text-anchor='end' fill='#5b6575'>{}</text>", left - 6.0, y + 4.0, v.round());
    }
    for (i, c) in counts.iter().enumerate() {
        let x = left + bar * i as f64;
        let mut y = 10.0 + plot_h;
        for (k, v) in c.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let bh = plot_h * *v as f64 / max as f64;
            y -= bh;
            let (_, label, colour) = KINDS[k];
            let _ = write!(
                out,
                "<rect x='{:.1}' y='{y:.1}' width='{:.1}' height='{bh:.1}' fill='{colour}'><title>{} {label}</title></rect>",
                x + bar * 0.1,
                (bar * 0.8).max(1.0),
                v
            );
        }
    }
    let label_every = (t.len() / 6).max(1);
    for (i, b) in t.iter().enumerate().filter(|(i, _)| i % label_every == 0) {
        let x = left + bar * i as f64 + bar / 2.0;
        let at = super::at_secs(b.start);
        let short = if p.stats.bucket_seconds >= 86400 {
            at.get(5..10).unwrap_or(&at).to_string()
        } else {
            at.get(5..16).unwrap_or(&at).replace('T', " ")
        };
        let _ = write!(
            out,
            "<text x='{x:.1}' y='{}' font-size='11' text-anchor='{}' fill='#5b6575'>{}</text>",
            h - 8.0,
            if x > w - 60.0 { "end" } else { "middle" },
            esc(&short)
        );
    }
    out.push_str("</svg><div class='legend'>");
    for (_, label, colour) in KINDS {
        let _ = write!(
            out,
            "<span><i style='background:{colour}'></i>{label}</span>"
        );
    }
    let _ = write!(
        out,
        "</div><p class='sub'>Each bar is {} of decisions (times in UTC).</p>",
        span(p.stats.bucket_seconds)
    );
}

fn bars_svg(rows: &[(String, u64)], colour: &str, out: &mut String) {
    if rows.is_empty() {
        out.push_str("<p class='sub'>Nothing was stopped in this period.</p>");
        return;
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let (label_w, w, row_h) = (330.0_f64, 1040.0_f64, 26.0_f64);
    let h = row_h * rows.len() as f64 + 4.0;
    let _ = write!(out, "<svg viewBox='0 0 {w} {h}' width='100%' role='img'>");
    for (i, (name, n)) in rows.iter().enumerate() {
        let y = row_h * i as f64;
        let bw = (w - label_w - 60.0) * *n as f64 / max as f64;
        let _ = write!(
            out,
            "<text x='{}' y='{:.1}' font-size='13' text-anchor='end' font-family='ui-monospace,monospace'>{}</text><rect x='{label_w}' y='{:.1}' width='{bw:.1}' height='{:.1}' rx='3' fill='{colour}'/><text x='{:.1}' y='{:.1}' font-size='13'>{n}</text>",
            label_w - 8.0,
            y + 17.0,
            esc(&cavra_core::text::truncate_chars(name, 44)),
            y + 4.0,
            row_h - 8.0,
            label_w + bw + 6.0,
            y + 17.0
        );
    }
    out.push_str("</svg>");
}

fn coverage_svg(p: &Posture, out: &mut String) {
    let rows = p.coverage_summary();
    let (label_w, w, row_h) = (230.0_f64, 1040.0_f64, 30.0_f64);
    let h = row_h * rows.len() as f64 + 4.0;
    let _ = write!(
        out,
        "<svg viewBox='0 0 {w} {h}' width='100%' role='img' aria-label='control coverage'>"
    );
    for (i, (fw, e, s, u)) in rows.iter().enumerate() {
        let y = row_h * i as f64;
        let total = (e + s + u).max(1) as f64;
        let full = w - label_w - 150.0;
        let _ = write!(
            out,
            "<text x='{}' y='{:.1}' font-size='13' text-anchor='end'>{}</text>",
            label_w - 8.0,
            y + 19.0,
            esc(fw)
        );
        let mut x = label_w;
        for (n, colour, what) in [
            (e, "#2e7d32", "enforced"),
            (s, "#7b4fbf", "shadow"),
            (u, "#c9ced4", "uncovered"),
        ] {
            let bw = full * *n as f64 / total;
            if *n > 0 {
                let _ = write!(out, "<rect x='{x:.1}' y='{:.1}' width='{bw:.1}' height='{:.1}' fill='{colour}'><title>{n} {what}</title></rect>", y + 4.0, row_h - 10.0);
            }
            x += bw;
        }
        let _ = write!(
            out,
            "<text x='{:.1}' y='{:.1}' font-size='13'>{e} of {} enforced</text>",
            label_w + full + 8.0,
            y + 19.0,
            e + s + u
        );
    }
    out.push_str("</svg><div class='legend'><span><i style='background:#2e7d32'></i>enforced</span><span><i style='background:#7b4fbf'></i>shadow only</span><span><i style='background:#c9ced4'></i>not covered</span></div>");
}

fn findings_html(p: &Posture, out: &mut String) {
    if p.findings.is_empty() {
        out.push_str("<div class='card'>No findings: nothing needs attention.</div>");
        return;
    }
    for f in &p.findings {
        let sev = f.severity.as_str();
        let border = match f.severity {
            Severity::Critical => "#7a1020",
            Severity::High => "#c62828",
            Severity::Medium => "#e07b00",
            Severity::Low => "#6d7a8a",
            Severity::Info => "#3c7ac0",
        };
        let _ = write!(
            out,
            "<div class='finding' style='border-left-color:{border}'><h3><span class='pill {sev}'>{sev}</span> {}</h3><p>{}</p><p class='fix'><b>Fix:</b> {}</p>",
            esc(&f.title),
            esc(&f.detail),
            esc(&f.fix)
        );
        let _ = write!(out, "<p class='refs'>finding <code>{}</code>", esc(&f.id));
        if !f.evidence.is_empty() {
            let shown: Vec<String> = f.evidence.iter().take(6).map(|r| esc(r)).collect();
            let more = f.evidence.len().saturating_sub(6);
            let _ = write!(
                out,
                " · evidence: <span class='mono'>{}</span>",
                shown.join(", ")
            );
            if more > 0 {
                let _ = write!(out, " and {more} more");
            }
        }
        out.push_str("</p></div>");
    }
}

fn coverage_table(p: &Posture, out: &mut String) {
    out.push_str("<table><tr><th>Framework</th><th>Control</th><th>Status</th><th>Rules that enforce it</th></tr>");
    for c in &p.coverage {
        let st = c.status.as_str();
        let rules = match c.rules.len() {
            0 => "—".to_string(),
            n if n > 4 => format!(
                "{} and {} more",
                c.rules
                    .iter()
                    .take(4)
                    .map(|r| esc(r))
                    .collect::<Vec<_>>()
                    .join(", "),
                n - 4
            ),
            _ => c
                .rules
                .iter()
                .map(|r| esc(r))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let label = match c.status {
            CoverageStatus::Enforced => "enforced",
            CoverageStatus::Shadow => "shadow only",
            CoverageStatus::Uncovered => "not covered",
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code> {}</td><td><span class='pill {st}'>{label}</span></td><td class='mono'>{rules}</td></tr>",
            esc(&c.framework),
            esc(&c.control),
            esc(&c.title)
        );
    }
    out.push_str("</table>");
}

/// The whole HTML document.
pub fn render(p: &Posture) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let s = &p.stats;
    let stopped: u64 = s
        .timeline
        .iter()
        .map(|b| b.block + b.require_approval + b.shadow)
        .sum();
    let count = |sev: Severity| p.findings.iter().filter(|f| f.severity == sev).count();
    let packs: Vec<String> = p
        .packs
        .iter()
        .map(|k| format!("{} {} ({})", esc(&k.id), esc(&k.version), esc(&k.mode)))
        .collect();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' content='width=device-width,initial-scale=1'><title>CAVRA posture report</title><style>{CSS}</style></head><body><main>"
    );
    let _ = write!(
        o,
        "<h1>AI agent posture report</h1><p class='sub'>{} to {} (UTC) · generated by CAVRA {}</p>",
        esc(&rfc3339(p.since)),
        esc(&rfc3339(p.until)),
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(
        o,
        "<div class='card head'><div class='score' style='background:{}'><b>{}</b><span>of 100</span></div><div><div class='kv'><div>Decisions</div><div>{} ({stopped} stopped or held)</div><div>Findings</div><div>{} critical, {} high, {} medium, {} low</div><div>Policy packs</div><div>{}</div><div>Approvals decided</div><div>{} (median wait {}, slowest {})</div><div>Break-glass overrides</div><div>{}</div></div></div></div>",
        score_colour(p.score),
        p.score,
        s.decisions,
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Low),
        if packs.is_empty() { "none loaded".to_string() } else { packs.join(", ") },
        s.approvals_latency.count,
        span(i64::try_from(s.approvals_latency.p50_seconds).unwrap_or(i64::MAX)),
        span(i64::try_from(s.approvals_latency.max_seconds).unwrap_or(i64::MAX)),
        s.break_glass.len()
    );
    o.push_str("<div class='card explain'><b>What this is.</b> CAVRA sits between AI coding agents (Claude Code, Codex, Gemini CLI, Cursor, Copilot) and the system they work on: before an agent runs a command, reads or writes a file, pushes code or calls a tool, CAVRA decides — allow, block, or ask a person to approve — and records every decision in a signed, tamper-evident log. This report is computed from that log, the approvals store and the agents' installation. The <b>score</b> starts at 100 and loses points for each finding (critical 30, high 15, medium 6, low 2; at most twice the worst per kind of finding) and up to 20 for controls of the four frameworks no enforcing rule covers.</div>");
    o.push_str("<h2>Findings — what needs attention</h2>");
    findings_html(p, &mut o);
    o.push_str("<h2>Decisions over time</h2><div class='card'>");
    timeline_svg(p, &mut o);
    o.push_str("</div><h2>Most frequently stopped rules</h2><div class='card'><p class='sub'>The policy rules that blocked, held for approval or (in shadow mode) would have stopped agents' actions most often.</p>");
    bars_svg(&s.top_rules, "#d32f2f", &mut o);
    o.push_str("</div><h2>Agents stopped most often</h2><div class='card'>");
    bars_svg(&s.top_agents, "#f39c12", &mut o);
    o.push_str("</div><h2>Control coverage</h2><div class='card'><p class='sub'>Which controls of the OWASP Top 10 for LLM applications, the OWASP agentic AI threats, the NIST AI RMF and SOC 2 the policy packs in force enforce (a blocking or approval rule maps to it), only watch (shadow mode) or do not cover.</p>");
    coverage_svg(p, &mut o);
    o.push_str("</div><div class='card'>");
    coverage_table(p, &mut o);
    o.push_str("</div>");
    if !s.break_glass.is_empty() {
        o.push_str("<h2>Break-glass overrides</h2><div class='card'><table><tr><th>Id</th><th>By</th><th>Reason</th><th>From</th><th>Until</th></tr>");
        for b in &s.break_glass {
            let _ = write!(
                o,
                "<tr><td class='mono'>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&b.id),
                esc(&b.actor),
                esc(&b.reason),
                esc(&b.created_at),
                esc(&b.expires_at)
            );
        }
        o.push_str("</table></div>");
    }
    if !p.notes.is_empty() {
        o.push_str("<h2>Notes</h2><div class='card'><ul>");
        for n in &p.notes {
            let _ = write!(o, "<li>{}</li>", esc(n));
        }
        o.push_str("</ul></div>");
    }
    o.push_str("<footer>Every finding names the evidence records it rests on; check them with <code>cavra evidence verify</code> and <code>cavra evidence search</code>. The same report as JSON: <code>cavra posture --json</code> or <code>GET /v1/posture</code>.</footer></main></body></html>\n");
    o
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::*;
    use super::*;

    #[test]
    fn the_report_is_self_contained_and_escapes_what_it_shows() {
        let o = Options::new(
            cavra_evidence::timeutil::parse_ts("2026-01-01T00:00:00Z").unwrap(),
            cavra_evidence::timeutil::parse_ts("2026-01-02T00:00:00Z").unwrap(),
        );
        let d = DecisionFact {
            record_id: "ev-1".into(),
            at: o.since.unix_timestamp() + 60,
            agent_id: "<script>alert(1)</script>".into(),
            rule_id: "git.force_push".into(),
            decision: "block".into(),
            ..DecisionFact::default()
        };
        let f = Facts {
            decisions: vec![d.clone(), d.clone(), d.clone(), d.clone(), d],
            evidence: EvidenceFacts {
                present: true,
                verified: true,
                ..EvidenceFacts::default()
            },
            ..Facts::default()
        };
        let html = render(&compute(&f, &o));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(
            !html.contains("<script"),
            "no script, and the agent id is escaped"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "nothing fetched"
        );
        assert_eq!(
            html.matches("<svg").count(),
            4,
            "timeline, rules, agents, coverage"
        );
        assert!(html.contains("git.force_push"));
        assert!(html.contains("5 blocked"));
    }
}
