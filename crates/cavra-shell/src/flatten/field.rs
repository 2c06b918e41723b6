//! Fields: words after static expansion, as literal and run-time segments.

use std::borrow::Cow;

use crate::Arg;

/// A piece of a field.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Seg {
    /// Literal text; `true` = quoted (no globbing).
    Lit(String, bool),
    /// Run-time value, rendered as its source spelling (`$X`, `$(…)`).
    Dyn(String),
}

/// One word after expansion (a word may expand to several).
#[derive(Clone, Debug, Default)]
pub(crate) struct Field {
    pub segs: Vec<Seg>,
    /// Some quoting was present in the source word.
    pub quoted: bool,
    /// Indices in `out` of the invocations whose output makes up its run-time parts.
    pub producers: Vec<usize>,
}

impl Field {
    pub(crate) fn value(&self) -> String {
        let mut s = String::new();
        for seg in &self.segs {
            match seg {
                Seg::Lit(t, _) | Seg::Dyn(t) => s.push_str(t),
            }
        }
        s
    }
    pub(crate) fn is_dynamic(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::Dyn(_)))
    }
    /// An unquoted `*` or `?`, or an unquoted `[` followed by an unquoted `]`.
    pub(crate) fn glob(&self) -> bool {
        let mut open = false;
        for s in &self.segs {
            if let Seg::Lit(t, false) = s {
                for c in t.chars() {
                    match c {
                        '*' | '?' => return true,
                        '[' => open = true,
                        ']' if open => return true,
                        _ => {}
                    }
                }
            }
        }
        false
    }
    pub(crate) fn static_value(&self) -> Option<String> {
        if self.is_dynamic() {
            None
        } else {
            Some(self.value())
        }
    }
    /// Static value without allocation for the common single-segment case.
    pub(super) fn static_str(&self) -> Option<Cow<'_, str>> {
        match self.segs.as_slice() {
            [Seg::Lit(t, _)] => Some(Cow::Borrowed(t)),
            [] => Some(Cow::Borrowed("")),
            _ => self.static_value().map(Cow::Owned),
        }
    }
    pub(crate) fn to_arg(&self) -> Arg {
        Arg {
            value: self.value(),
            dynamic: self.is_dynamic(),
            glob: self.glob(),
            quoted: self.quoted,
        }
    }
    pub(crate) fn synth(s: &str) -> Field {
        Field {
            segs: vec![Seg::Lit(s.to_string(), true)],
            quoted: false,
            producers: Vec::new(),
        }
    }
    pub(crate) fn dynamic(src: &str, producers: Vec<usize>) -> Field {
        Field {
            segs: vec![Seg::Dyn(src.to_string())],
            quoted: false,
            producers,
        }
    }
    /// Same text, but marked as only known at run time (placeholders like `{}`).
    pub(super) fn as_dynamic(&self) -> Field {
        // an empty dynamic segment marks the field without changing its value or rendering
        let mut f = self.clone();
        f.segs.push(Seg::Dyn(String::new()));
        f
    }
}

/// Collects the fields of one word as its parts are expanded (splitting where unquoted).
pub(super) struct FieldBuilder {
    pub(super) fields: Vec<Field>,
    pub(super) cur: Field,
    has: bool,
}

impl FieldBuilder {
    pub(super) fn new() -> Self {
        FieldBuilder {
            fields: Vec::new(),
            cur: Field::default(),
            has: false,
        }
    }
    pub(super) fn lit(&mut self, s: &str, quoted: bool) {
        if quoted {
            self.cur.quoted = true;
            self.has = true;
        }
        if s.is_empty() {
            return;
        }
        self.has = true;
        if let Some(Seg::Lit(t, q)) = self.cur.segs.last_mut() {
            if *q == quoted {
                t.push_str(s);
                return;
            }
        }
        self.cur.segs.push(Seg::Lit(s.to_string(), quoted));
    }
    pub(super) fn dynamic(&mut self, src: &str, producers: &[usize]) {
        self.has = true;
        self.cur.segs.push(Seg::Dyn(src.to_string()));
        self.cur.producers.extend_from_slice(producers);
    }
    pub(super) fn split(&mut self, v: &str) {
        let ws = |c: char| matches!(c, ' ' | '\t' | '\n');
        if v.starts_with(ws) {
            self.finish();
        }
        for (i, piece) in v.split(ws).filter(|p| !p.is_empty()).enumerate() {
            if i > 0 {
                self.finish();
            }
            self.lit(piece, false);
        }
        if v.ends_with(ws) && !v.trim_matches(ws).is_empty() {
            self.finish();
        }
    }
    pub(super) fn at_start(&self) -> bool {
        self.cur.segs.is_empty()
    }
    pub(super) fn finish(&mut self) {
        if self.has {
            self.fields.push(std::mem::take(&mut self.cur));
        } else {
            self.cur = Field::default();
        }
        self.has = false;
    }
}

/// Drop the first `n` bytes of the field's literal text (an option name such as
/// `--command=` before its value); a run-time segment ends the cut.
pub(super) fn strip_prefix_field(f: &mut Field, n: usize) {
    let mut left = n;
    let mut segs = Vec::new();
    for s in std::mem::take(&mut f.segs) {
        if left == 0 {
            segs.push(s);
            continue;
        }
        match s {
            Seg::Lit(t, q) => {
                if t.len() <= left {
                    left = left.saturating_sub(t.len());
                } else {
                    let cut = (left..=t.len())
                        .find(|&i| t.is_char_boundary(i))
                        .unwrap_or(t.len());
                    segs.push(Seg::Lit(t[cut..].to_string(), q));
                    left = 0;
                }
            }
            d => {
                left = 0;
                segs.push(d);
            }
        }
    }
    f.segs = segs;
}
