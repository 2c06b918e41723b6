//! Static word expansion: tilde, parameters (known values substituted, split where
//! unquoted), command and process substitutions (walked, their output literal when it is
//! a literal `echo`/`printf`), arithmetic, and brace expansion.

use std::borrow::Cow;

use super::field::FieldBuilder;
use super::state::{State, Var};
use super::{where_of, Field, Fl, Io, Src};
use crate::parse::{Part, Word};
use crate::Stdin;

/// Where words are expanded: the source text (provenance, heredocs, nesting), the I/O of
/// the command they belong to, and the provenance prefix of substitutions inside them.
#[derive(Clone, Copy)]
pub(super) struct Words<'a> {
    pub(super) src: &'a Src,
    pub(super) io: &'a Io,
    pub(super) sub: &'a str,
}

impl Src {
    /// Expand words of this source for a command with I/O `io`, substitutions at `sub`.
    pub(super) fn words<'a>(&'a self, io: &'a Io, sub: &'a str) -> Words<'a> {
        Words { src: self, io, sub }
    }
}

impl Fl<'_> {
    /// Expand a word to a single field (no splitting, no brace expansion).
    pub(super) fn expand_one(&mut self, w: &Word, cx: Words, st: &mut State) -> Field {
        let mut v = self.expand(w, cx, st, false);
        if v.is_empty() {
            Field::default()
        } else {
            v.swap_remove(0)
        }
    }

    /// Expand a word to its fields (`split`: as a command word, with field splitting and
    /// brace expansion).
    pub(super) fn expand(
        &mut self,
        w: &Word,
        cx: Words,
        st: &mut State,
        split: bool,
    ) -> Vec<Field> {
        if split && has_brace(w) {
            if let Some(alts) = brace_expand(w) {
                let mut out = Vec::new();
                for alt in alts {
                    out.extend(self.expand_toks(&alt, w.quoted, cx, st, true));
                }
                return out;
            }
            self.problem("brace expansion too large".into(), where_of(&cx.src.prefix));
        }
        let toks: Vec<Tok> = w
            .parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => Tok::Text(Cow::Borrowed(s.as_str())),
                p => Tok::Part(p),
            })
            .collect();
        self.expand_toks(&toks, w.quoted, cx, st, split)
    }

    fn expand_toks(
        &mut self,
        toks: &[Tok],
        quoted: bool,
        cx: Words,
        st: &mut State,
        split: bool,
    ) -> Vec<Field> {
        let mut fb = FieldBuilder::new();
        if quoted {
            fb.cur.quoted = true;
        }
        for t in toks {
            if self.stopped {
                break;
            }
            match t {
                Tok::Text(s) => fb.lit(s, false),
                Tok::Open => fb.lit("{", false),
                Tok::Comma => fb.lit(",", false),
                Tok::Close => fb.lit("}", false),
                Tok::Part(p) => self.expand_part(p, &mut fb, cx, st, split),
            }
        }
        fb.finish();
        let mut fields = fb.fields;
        if !split && fields.is_empty() {
            fields.push(Field {
                quoted,
                ..Field::default()
            });
        }
        if quoted {
            for f in &mut fields {
                f.quoted = true;
            }
        }
        fields
    }

    fn expand_part(
        &mut self,
        p: &Part,
        fb: &mut FieldBuilder,
        cx: Words,
        st: &mut State,
        split: bool,
    ) {
        let Words { src, io, sub } = cx;
        match p {
            Part::Lit(s) => fb.lit(s, false),
            Part::Quoted(s) => fb.lit(s, true),
            Part::Tilde(user) => {
                if user.is_empty() {
                    match st.vars.get("HOME") {
                        Some(Var::Known(h)) => {
                            let h = h.clone();
                            fb.lit(&h, true)
                        }
                        Some(Var::Unknown(p)) => {
                            let p = p.clone();
                            fb.dynamic("$HOME", &p)
                        }
                        None => fb.lit("~", false),
                    }
                } else {
                    fb.lit(&format!("~{user}"), false);
                }
            }
            Part::Param {
                name,
                op,
                operand,
                quoted,
            } => {
                let mut producers = Vec::new();
                if let Some(o) = operand {
                    for f in self.expand(o, cx, st, false) {
                        producers.extend(f.producers);
                    }
                }
                let var = st.vars.get(name.as_str()).cloned();
                match (var, *op) {
                    (None, false) if name == "HOME" && fb.at_start() => fb.lit("~", false),
                    (Some(Var::Known(v)), false) => {
                        if !self.spend(v.len()) {
                            return;
                        }
                        if *quoted || !split {
                            fb.lit(&v, true);
                        } else if st.vars.contains_key("IFS") {
                            fb.dynamic(&format!("${name}"), &[]);
                        } else {
                            fb.split(&v);
                        }
                    }
                    (Some(Var::Unknown(p)), _) => {
                        producers.extend(p);
                        fb.dynamic(&format!("${name}"), &producers)
                    }
                    _ => fb.dynamic(&format!("${name}"), &producers),
                }
            }
            Part::CmdSub { body, quoted } => {
                let before = self.out.len();
                let m = st.mark();
                let mut nsrc = src.inner(sub.to_string());
                self.program(body, &mut nsrc, st, io);
                st.restore(m);
                let after = self.out.len();
                let lit = if after == before.saturating_add(1) {
                    self.literal_output(before)
                } else {
                    None
                };
                match lit {
                    Some(t) => {
                        let t = t.trim_end_matches('\n');
                        if *quoted || !split {
                            fb.lit(t, true);
                        } else {
                            fb.split(t);
                        }
                    }
                    None => {
                        let producers: Vec<usize> = (before..after).collect();
                        fb.dynamic("$(…)", &producers);
                    }
                }
            }
            Part::Arith { inner } => {
                let mut producers = Vec::new();
                for f in self.expand(inner, cx, st, false) {
                    producers.extend(f.producers);
                }
                fb.dynamic("$((…))", &producers);
            }
            Part::ProcSub { out, body } => {
                let before = self.out.len();
                let m = st.mark();
                let prefix = sub.replacen("in command substitution", "in process substitution", 1);
                let mut nsrc = src.inner(prefix);
                let io2 = if *out {
                    Io {
                        stdin: Stdin::Inherit,
                        ..io.clone()
                    }
                } else {
                    io.clone()
                };
                self.program(body, &mut nsrc, st, &io2);
                st.restore(m);
                let producers: Vec<usize> = (before..self.out.len()).collect();
                fb.dynamic(if *out { ">(…)" } else { "<(…)" }, &producers);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Brace expansion

#[derive(Clone, Debug)]
enum Tok<'a> {
    Text(Cow<'a, str>),
    Open,
    Comma,
    Close,
    Part(&'a Part),
}

const MAX_BRACE: usize = 256;

fn has_brace(w: &Word) -> bool {
    w.parts
        .iter()
        .any(|p| matches!(p, Part::Lit(s) if s.contains('{')))
}

fn brace_expand(w: &Word) -> Option<Vec<Vec<Tok<'_>>>> {
    let mut toks = Vec::new();
    for p in &w.parts {
        match p {
            Part::Lit(s) => {
                let mut start = 0;
                for (i, c) in s.char_indices() {
                    let t = match c {
                        '{' => Tok::Open,
                        ',' => Tok::Comma,
                        '}' => Tok::Close,
                        _ => continue,
                    };
                    if i > start {
                        toks.push(Tok::Text(Cow::Borrowed(&s[start..i])));
                    }
                    toks.push(t);
                    start = i.saturating_add(1);
                }
                if start < s.len() {
                    toks.push(Tok::Text(Cow::Borrowed(&s[start..])));
                }
            }
            p => toks.push(Tok::Part(p)),
        }
    }
    let mut out = Vec::new();
    if brace_rec(toks, &mut out, 0) {
        Some(out)
    } else {
        None
    }
}

fn brace_rec<'a>(toks: Vec<Tok<'a>>, out: &mut Vec<Vec<Tok<'a>>>, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    // find the first `{` with a matching `}` and a top-level `,` (or a sequence)
    for (i, t) in toks.iter().enumerate() {
        if !matches!(t, Tok::Open) {
            continue;
        }
        let mut d = 0usize;
        let mut commas = Vec::new();
        let mut close = None;
        for (j, t) in toks.iter().enumerate().skip(i.saturating_add(1)) {
            match t {
                Tok::Open => d = d.saturating_add(1),
                Tok::Close if d == 0 => {
                    close = Some(j);
                    break;
                }
                Tok::Close => d = d.saturating_sub(1),
                Tok::Comma if d == 0 => commas.push(j),
                _ => {}
            }
        }
        let Some(close) = close else { continue };
        let alts: Vec<Vec<Tok<'a>>> = if commas.is_empty() {
            match seq_alts(toks.get(i.saturating_add(1)..close).unwrap_or_default()) {
                Some(v) => v
                    .into_iter()
                    .map(|s| vec![Tok::Text(Cow::Owned(s))])
                    .collect(),
                None => continue,
            }
        } else {
            let mut v = Vec::new();
            let mut s = i.saturating_add(1);
            for &c in commas.iter().chain(std::iter::once(&close)) {
                v.push(toks.get(s..c).unwrap_or_default().to_vec());
                s = c.saturating_add(1);
            }
            v
        };
        for alt in alts {
            let mut t = toks.get(..i).unwrap_or_default().to_vec();
            t.extend(alt);
            t.extend_from_slice(toks.get(close.saturating_add(1)..).unwrap_or_default());
            if !brace_rec(t, out, depth.saturating_add(1)) {
                return false;
            }
            if out.len() > MAX_BRACE {
                return false;
            }
        }
        return true;
    }
    out.push(toks);
    out.len() <= MAX_BRACE
}

/// The words of a sequence expression `{a..b}` / `{a..b..step}` (integers or single
/// letters). Any i64 bounds and step are handled without overflow (a step's sign is ignored,
/// as bash does); more than `MAX_BRACE` words yield `MAX_BRACE + 1` placeholders so the
/// caller's cap trips.
fn seq_alts(inner: &[Tok]) -> Option<Vec<String>> {
    let [Tok::Text(t)] = inner else { return None };
    let parts: Vec<&str> = t.split("..").collect();
    let (first, last, step) = match parts.as_slice() {
        [a, b] => (*a, *b, 1u64),
        [a, b, s] => (*a, *b, s.parse::<i64>().ok()?.unsigned_abs().max(1)),
        _ => return None,
    };
    if let (Ok(a), Ok(b)) = (first.parse::<i64>(), last.parse::<i64>()) {
        let count = a
            .abs_diff(b)
            .checked_div(step)
            .unwrap_or(0)
            .saturating_add(1);
        if count > MAX_BRACE as u64 {
            return Some(vec![String::new(); MAX_BRACE.saturating_add(1)]);
        }
        let mut v = Vec::new();
        let mut x = a;
        for _ in 0..count {
            v.push(x.to_string());
            // the step after the last word may leave the i64 range: stop there
            let next = if a <= b {
                x.checked_add_unsigned(step)
            } else {
                x.checked_sub_unsigned(step)
            };
            match next {
                Some(n) => x = n,
                None => break,
            }
        }
        return Some(v);
    }
    let step = usize::try_from(step).unwrap_or(usize::MAX);
    match (first.as_bytes(), last.as_bytes()) {
        ([x], [y]) if x.is_ascii_alphabetic() && y.is_ascii_alphabetic() => {
            let (x, y) = (*x, *y);
            let range: Vec<u8> = if x <= y {
                (x..=y).step_by(step).collect()
            } else {
                (y..=x).rev().step_by(step).collect()
            };
            Some(
                range
                    .into_iter()
                    .map(|c| char::from(c).to_string())
                    .collect(),
            )
        }
        _ => None,
    }
}
