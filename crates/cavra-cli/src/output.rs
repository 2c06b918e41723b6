//! Human output helpers: a readable table, colour only on a TTY.

use anyhow::Result;
use cavra_core::{Decision, Outcome};
use std::fmt::Display;

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

/// Prints a decision as a two-column table ([`cavra_runtime::render::decision_rows`]).
pub fn print_decision(color: bool, d: &Decision) {
    let label = outcome_label(color, d.decision);
    println!("{label} {} `{}`", d.action_type, d.target);
    for (k, v) in cavra_runtime::render::decision_rows(d) {
        println!("  {:<15} {v}", paint(color, "2", k));
    }
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

pub use cavra_runtime::render::split_usage_error;

/// Prints `v` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    use anyhow::Context;
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("cannot encode JSON")?
    );
    Ok(())
}

/// Under `--json` prints `doc` as JSON on one line, else `line`.
pub fn print_line(json_mode: bool, doc: &impl serde::Serialize, line: impl Display) -> Result<()> {
    let json = json_mode.then(|| serde_json::to_string(doc)).transpose();
    let json = anyhow::Context::context(json, "cannot encode JSON")?;
    println!("{}", json.unwrap_or_else(|| line.to_string()));
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

/// Prints a runtime document: its JSON under `--json`, else its text form
/// ([`cavra_runtime::views::Doc::render`]; alerts loud).
pub fn print_view(ctx: &crate::ctx::Ctx, doc: &cavra_runtime::views::Doc) -> anyhow::Result<()> {
    print_doc(ctx.json, &doc.json, || doc.render(&painter(ctx.color)))
}

pub use cavra_runtime::render::table;

/// Under `--json` prints `v` as pretty JSON, else the human text; exit code 0.
pub fn show<T: serde::Serialize + ?Sized>(
    json_mode: bool,
    v: &T,
    human: &str,
) -> anyhow::Result<i32> {
    print_doc(json_mode, v, || format!("{human}\n")).map(|()| 0)
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

pub use cavra_runtime::terminal::Progress;

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
