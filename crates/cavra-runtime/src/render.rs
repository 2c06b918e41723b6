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

/// Appends one formatted line to a `String`.
macro_rules! push_line {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}
pub(crate) use push_line;
