//! Human text of the runtime's documents, for the front ends that print them (the CLI's
//! text output beside `--json`). Text only: the front end decides how a [`Tone`] looks
//! (ANSI colour on a terminal, nothing elsewhere) and where the text goes.

/// How a span of text is meant to stand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Bold: a name, a heading.
    Strong,
    /// Green: ok, verified.
    Good,
    /// Bold green: a change for the safer.
    StrongGood,
    /// Red: a failure.
    Bad,
    /// Bold red: something that loosens or breaks.
    StrongBad,
}

/// Styles a span: `paint(tone, text)`.
pub type Paint<'a> = &'a dyn Fn(Tone, &str) -> String;

/// No styling.
pub fn plain(_: Tone, text: &str) -> String {
    text.to_string()
}

/// The first 16 hex digits of a digest (without `sha256:`), as digests are shown.
pub fn short(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(16)
        .collect()
}

/// The rows of a decision's text below its heading (`OUTCOME action `target``): rule,
/// severity, reason, then what is set of approver group, alternative, scope and controls,
/// then policy, request and whether it may proceed.
pub fn decision_rows(d: &cavra_core::Decision) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("rule", d.rule_id.clone()),
        ("severity", d.severity.as_str().to_string()),
        ("reason", d.reason.clone()),
    ];
    let optional = [
        ("approver group", &d.approver_group),
        ("instead", &d.alternative),
        ("inspected", &d.scope),
    ];
    rows.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.clone()?))),
    );
    if !d.controls.is_empty() {
        rows.push(("controls", d.controls.join(", ")));
    }
    let p = &d.policy;
    rows.push((
        "policy",
        format!("{} {} ({})", p.id, p.version, short(&p.digest)),
    ));
    rows.push(("request", short(&d.request_hash)));
    rows.push(("proceed", if d.proceed { "yes" } else { "no" }.into()));
    rows
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

/// Appends one formatted line to a `String`.
macro_rules! push_line {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}
pub(crate) use push_line;

/// Splits clap's rendered usage error (the CLI's) into its message (the `error:` line) and a hint (its
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_splits_into_message_and_hint() {
        let r = "error: unexpected argument '--frob' found\n\n  tip: use '-- --frob'\n\nUsage: cavra x\n";
        let (m, h) = split_usage_error(r);
        assert_eq!(m, "unexpected argument '--frob' found");
        assert_eq!(h.as_deref(), Some("tip: use '-- --frob'; Usage: cavra x"));
        assert_eq!(split_usage_error("odd\n").0, "odd");
    }

    #[test]
    fn a_table_aligns_its_columns_and_pads_no_last_cell() {
        let rows = [vec!["a", "long cell", "x"], vec!["bbbb", "c", ""]];
        let t = table(&["ID", "NAME", "END"], &rows);
        assert_eq!(t, "ID    NAME       END\na     long cell  x\nbbbb  c\n");
        assert_eq!(table::<&str>(&["ONLY"], &[] as &[Vec<&str>]), "ONLY\n");
    }
}
