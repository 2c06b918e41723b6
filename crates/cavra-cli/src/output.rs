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

pub use cavra_runtime::render::short;

/// The runtime's text tones ([`cavra_runtime::render::Tone`]) as [`paint`] colours.
pub fn painter(color: bool) -> impl Fn(cavra_runtime::render::Tone, &str) -> String {
    use cavra_runtime::render::Tone;
    move |tone, s| {
        let code = match tone {
            Tone::Strong => "1",
            Tone::Good => "32",
            Tone::StrongGood => "1;32",
            Tone::Bad => "31",
            Tone::StrongBad => "1;31",
        };
        paint(color, code, s)
    }
}

/// Exit code for a decision: 0 proceeds, 2 blocked or held.
pub fn exit_code(d: &Decision) -> i32 {
    if d.proceed {
        0
    } else {
        2
    }
}

/// Exit code of a usage error or a failed command.
pub const EXIT_ERROR: i32 = 1;

/// The one shape of an error under `--json`, printed on stdout:
/// `{"error": {"code": "usage"|"error", "message": "...", "hint": "..."|null}}`.
pub fn json_error(code: &str, message: &str, hint: Option<&str>) -> String {
    serde_json::json!({"error": {"code": code, "message": message, "hint": hint}}).to_string()
}

/// Splits clap's rendered usage error into its message (the `error:` line) and a hint (its
/// valid values, `tip:` lines and the usage line).
pub fn split_usage_error(rendered: &str) -> (String, Option<String>) {
    let mut message = None;
    let mut hints = Vec::new();
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(m) = line.strip_prefix("error: ") {
            if message.is_none() {
                message = Some(m.to_string());
            }
        } else if [
            "[possible values:",
            "tip:",
            "Usage:",
            "For more information",
        ]
        .iter()
        .any(|p| line.starts_with(p))
        {
            hints.push(line.to_string());
        }
    }
    let message = message.unwrap_or_else(|| {
        rendered
            .lines()
            .next()
            .unwrap_or("invalid arguments")
            .trim()
            .to_string()
    });
    let hint = (!hints.is_empty()).then(|| hints.join("; "));
    (message, hint)
}

/// Prints `v` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    use anyhow::Context;
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("cannot encode JSON")?
    );
    Ok(())
}

/// Under `--json` prints `doc` as pretty JSON, else its text (`text()`, lines ending in
/// newlines) as it is.
pub fn print_doc<T: serde::Serialize + ?Sized>(
    json_mode: bool,
    doc: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json_mode {
        return print_json(doc);
    }
    print!("{}", text());
    Ok(())
}

/// Under `--json` prints `json`, else the human line.
pub fn emit(json_mode: bool, json: &serde_json::Value, human: &str) -> anyhow::Result<()> {
    if json_mode {
        print_json(json)
    } else {
        println!("{human}");
        Ok(())
    }
}

/// Prints a runtime document: its JSON under `--json`, else its text form (alerts loud,
/// fields aligned, tables as [`table`]).
pub fn print_view(ctx: &crate::ctx::Ctx, doc: &cavra_runtime::views::Doc) -> anyhow::Result<()> {
    use cavra_runtime::views::Block;
    if ctx.json {
        return print_json(&doc.json);
    }
    for block in &doc.text {
        match block {
            Block::Alert(line) => println!("{}", loud(ctx.color, line)),
            Block::Line(line) => println!("{line}"),
            Block::Fields { width, fields } => {
                for (k, v) in fields {
                    println!("{k:<width$} {v}");
                }
            }
            Block::Table { rows, empty, .. } if rows.is_empty() => println!("{empty}"),
            Block::Table { headers, rows, .. } => print!("{}", table(headers, rows)),
        }
    }
    Ok(())
}

/// `s` on one line, at most `max` characters (an ellipsis marks a cut).
pub fn clip(s: &str, max: usize) -> String {
    cavra_core::text::clip(s, max)
}

/// Bold red when colour is allowed (TTY, no NO_COLOR, no --json).
pub fn loud(color: bool, text: &str) -> String {
    paint(color, "1;31", text)
}

/// A plain left-aligned text table: columns as wide as their widest cell, two spaces
/// apart, the last column not padded, one line per row (header first).
pub fn table<S: AsRef<str>>(headers: &[&str], rows: &[impl AsRef<[S]>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.as_ref().iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.as_ref().chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.as_ref().iter().map(AsRef::as_ref).collect()));
    }
    out
}

/// Under `--json` prints `v` as pretty JSON, else the human text; exit code 0.
pub fn show<T: serde::Serialize + ?Sized>(
    json_mode: bool,
    v: &T,
    human: &str,
) -> anyhow::Result<i32> {
    if json_mode {
        print_json(v)?;
    } else {
        println!("{human}");
    }
    Ok(0)
}

/// Writes `text` to `output` (saying so on stderr, unless `--json`), else to stdout, where
/// a closed pipe (`| head`) is not an error; exit code 0.
pub fn write_out(
    json_mode: bool,
    output: Option<&std::path::Path>,
    text: &str,
    what: &str,
) -> anyhow::Result<i32> {
    use std::io::Write;
    match output {
        Some(p) => {
            use anyhow::Context;
            std::fs::write(p, text).with_context(|| format!("writing `{}`", p.display()))?;
            if !json_mode {
                eprintln!("cavra: wrote {what} to {}", p.display());
            }
        }
        None => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes()).and_then(|_| o.flush());
        }
    }
    Ok(0)
}

/// A percentage bar on stderr, drawn only when `on` and stderr is a terminal.
pub struct Progress {
    on: bool,
    label: &'static str,
    last: u64,
}

impl Progress {
    pub fn new(on: bool, label: &'static str) -> Self {
        use std::io::IsTerminal;
        let on = on && std::io::stderr().is_terminal();
        Progress {
            on,
            label,
            last: u64::MAX,
        }
    }

    /// `done` of `total` are done.
    pub fn update(&mut self, done: u64, total: u64) {
        use std::io::Write;
        let Some(pct) = done.saturating_mul(100).checked_div(total) else {
            return;
        };
        if !self.on || pct == self.last {
            return;
        }
        self.last = pct;
        let fill = usize::try_from(pct.min(100) * 30 / 100).unwrap_or(30);
        let bar = format!("{}{}", "#".repeat(fill), " ".repeat(30 - fill));
        eprint!("\r{} [{bar}] {pct:>3}%", self.label);
        let _ = std::io::stderr().flush();
    }

    /// Clears the bar.
    pub fn done(&self) {
        if self.on && self.last != u64::MAX {
            eprint!("\r{}\r", " ".repeat(50));
        }
    }
}
/// Human lines about the MCP registration.
pub fn print_mcp(t: &cavra_setup::mcp::Target, o: Option<&cavra_setup::mcp::McpOutcome>) {
    match (t, o) {
        (cavra_setup::mcp::Target::Skip(why), _) => {
            println!("  MCP server: not registered — {why}")
        }
        (_, None) => {}
        (_, Some(o)) => {
            println!(
                "  MCP server `cavra` (`cavra mcp serve`): {} `{}`",
                o.outcome.change.as_str(),
                o.outcome.path.display()
            );
            if let Some(b) = &o.outcome.backup {
                println!("  backup of the previous file: `{}`", b.display());
            }
            if let Some(n) = &o.note {
                println!("  note: {n}");
            }
        }
    }
}

/// A list under `--json` (an array of `to_json`), else an aligned table or `empty`.
pub fn print_list<T>(
    json_mode: bool,
    items: &[T],
    to_json: impl Fn(&T) -> serde_json::Value,
    empty: &str,
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    if json_mode {
        print_json(&serde_json::Value::Array(
            items.iter().map(to_json).collect(),
        ))?;
    } else if items.is_empty() {
        println!("{empty}");
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        print!("{}", table(headers, &rows));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_error_is_split_into_message_and_hint() {
        let r = "error: unexpected argument '--frob' found\n\n  tip: to pass '--frob' as a value, use '-- --frob'\n\nUsage: cavra policy list [OPTIONS]\n\nFor more information, try '--help'.\n";
        let (m, h) = split_usage_error(r);
        assert_eq!(m, "unexpected argument '--frob' found");
        let h = h.unwrap_or_default();
        assert!(h.contains("tip: to pass"), "{h}");
        assert!(h.contains("Usage: cavra policy list"), "{h}");
        let v: serde_json::Value =
            serde_json::from_str(&json_error("usage", &m, Some(&h))).unwrap_or_default();
        assert_eq!(v["error"]["code"], "usage");
        assert_eq!(v["error"]["message"], m);
    }
}
