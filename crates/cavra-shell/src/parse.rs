//! Hand-written recursive-descent parser for the supported bash subset.
//!
//! Scannerless: the parser works on bytes and slices the source only at ASCII boundaries, so
//! every produced `String` is valid UTF-8. Every recursive step goes through [`Parser::enter`],
//! which checks the depth limit *before* recursing.

use std::rc::Rc;

#[derive(Debug, Clone, Default)]
pub(crate) struct Program {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub and_or: Vec<Pipeline>,
    pub background: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub kind: CmdKind,
    pub redirs: Vec<Redir>,
}

#[derive(Debug, Clone)]
pub(crate) enum CmdKind {
    Simple(Simple),
    Subshell(Program),
    Group(Program),
    If(Vec<(Program, Program)>, Option<Program>),
    Loop(Program, Program),
    /// `for`/`select` NAME [in WORDS]; BODY. `select` flag, body length in source bytes
    /// (bounds static unrolling).
    For(String, Option<Vec<Word>>, Program, bool, usize),
    ArithFor(Word, Program),
    Case(Word, Vec<(Vec<Word>, Program)>),
    /// Function definition: name (as written, `""` if not literal) and body.
    Func(String, Box<Command>),
    Test(Vec<Word>),
    Arith(Word),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Simple {
    pub assigns: Vec<Assign>,
    pub words: Vec<Word>,
}

#[derive(Debug, Clone)]
pub(crate) struct Assign {
    pub name: String,
    pub value: Word,
    /// `X=(a b c)`: array elements (analysed for substitutions only).
    pub array: Option<Vec<Word>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedirOp {
    Read,
    Write,
    Append,
    Clobber,
    ReadWrite,
    DupIn,
    DupOut,
    AndWrite,
    AndAppend,
    HereDoc,
    HereString,
}

#[derive(Debug, Clone)]
pub(crate) struct Redir {
    pub fd: Option<u32>,
    pub op: RedirOp,
    pub target: Word,
    /// Index into the heredoc table for `<<`/`<<-`.
    pub heredoc: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct HereDoc {
    pub body: String,
    /// Delimiter as written (quotes removed).
    pub delim: String,
    /// The input ended before the delimiter line.
    pub unclosed: bool,
    /// Parsed body for unquoted delimiters (expansions happen); `None` when quoted.
    pub word: Option<Word>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Word {
    pub parts: Vec<Part>,
    /// Any quoting (quotes, backslash) was present.
    pub quoted: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Part {
    Lit(String),
    Quoted(String),
    Tilde(String),
    Param {
        name: String,
        /// `${X:-...}`-style operator present (value is then dynamic).
        op: bool,
        operand: Option<Word>,
        quoted: bool,
    },
    CmdSub {
        body: Program,
        quoted: bool,
    },
    Arith {
        inner: Word,
    },
    ProcSub {
        out: bool,
        body: Program,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct PErr {
    pub reason: String,
    pub pos: usize,
}

type R<T> = Result<T, PErr>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Brace,
    Heredoc,
    Arith,
}

pub(crate) struct Parsed {
    pub program: Program,
    pub heredocs: Rc<Vec<HereDoc>>,
}

/// Parse a complete source text, with POSIX sh rules where they differ from bash (`posix`: `sh -c`, `dash -c`):
/// `((…))` is two nested subshells, never arithmetic.
pub(crate) fn parse_mode(
    src: &str,
    start_depth: usize,
    max_depth: usize,
    posix: bool,
) -> Result<Parsed, PErr> {
    let mut p = Parser::new(src, start_depth, max_depth, Vec::new());
    p.posix = posix;
    let program = p.parse_list()?;
    p.skip_blank();
    if let Some(b) = p.peek() {
        return Err(p.unexpected(b));
    }
    p.finish_pending();
    Ok(Parsed {
        program,
        heredocs: Rc::new(p.heredocs),
    })
}

struct Pending {
    idx: usize,
    delim: String,
    strip: bool,
    quoted: bool,
}

struct Parser<'a> {
    src: &'a str,
    s: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    pending: Vec<Pending>,
    heredocs: Vec<HereDoc>,
    /// POSIX sh mode (see [`parse_mode`]).
    posix: bool,
}

fn is_meta(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')'
    )
}

pub(crate) fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(crate) fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

const TERMINATORS: &[&str] = &["}", "then", "else", "elif", "fi", "do", "done", "esac"];

impl<'a> Parser<'a> {
    fn new(src: &'a str, depth: usize, max_depth: usize, heredocs: Vec<HereDoc>) -> Self {
        Parser {
            src,
            s: src.as_bytes(),
            pos: 0,
            depth,
            max_depth,
            pending: Vec::new(),
            heredocs,
            posix: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn peek_at(&self, off: usize) -> Option<u8> {
        self.s.get(self.pos.saturating_add(off)).copied()
    }
    fn starts(&self, t: &str) -> bool {
        self.s
            .get(self.pos.min(self.s.len())..)
            .unwrap_or_default()
            .starts_with(t.as_bytes())
    }
    fn err(&self, reason: impl Into<String>) -> PErr {
        PErr {
            reason: reason.into(),
            pos: self.pos,
        }
    }
    fn unexpected(&self, b: u8) -> PErr {
        let end = self.token_end();
        let tok = self.src.get(self.pos..end).unwrap_or("");
        let tok = if tok.is_empty() {
            (b as char).to_string()
        } else {
            tok.to_string()
        };
        self.err(format!("unexpected `{tok}`"))
    }
    fn token_end(&self) -> usize {
        let mut e = self.pos;
        while e < self.s.len()
            && !matches!(crate::at(self.s, e), b' ' | b'\t' | b'\n')
            && e.saturating_sub(self.pos) < 16
        {
            e = e.saturating_add(1);
        }
        while e < self.s.len() && !self.src.is_char_boundary(e) {
            e = e.saturating_add(1);
        }
        e
    }

    fn enter(&mut self) -> R<()> {
        self.depth = self.depth.saturating_add(1);
        if self.depth > self.max_depth {
            return Err(self.err(format!("nesting deeper than {} levels", self.max_depth)));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Blanks, line continuations and comments (not newlines).
    fn skip_blank(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' => self.pos = self.pos.saturating_add(1),
                b'\\' if self.peek_at(1) == Some(b'\n') => self.pos = self.pos.saturating_add(2),
                b'#' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos = self.pos.saturating_add(1);
                    }
                }
                _ => break,
            }
        }
    }

    fn skip_ws_nl(&mut self) {
        loop {
            self.skip_blank();
            if self.peek() == Some(b'\n') {
                self.newline();
            } else {
                break;
            }
        }
    }

    /// Consume a newline and read any pending heredoc bodies.
    fn newline(&mut self) {
        self.pos = self.pos.saturating_add(1);
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let mut body = String::new();
            let mut closed = false;
            while self.pos < self.s.len() {
                let rest = &self.src[self.pos..];
                let (line, next) = match rest.find('\n') {
                    Some(i) => (&rest[..i], self.pos.saturating_add(i).saturating_add(1)),
                    None => (rest, self.s.len()),
                };
                let line = if p.strip {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                self.pos = next;
                if line == p.delim || line.strip_suffix('\r') == Some(p.delim.as_str()) {
                    closed = true;
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            self.store_heredoc(p.idx, body, &p, !closed);
        }
    }

    fn store_heredoc(&mut self, idx: usize, body: String, p: &Pending, unclosed: bool) {
        let word = if p.quoted {
            None
        } else {
            let mut sub = Parser::new(&body, self.depth, self.max_depth, Vec::new());
            sub.posix = self.posix;
            // Errors inside an unquoted heredoc body (e.g. an unclosed `$(`) are reported by
            // keeping the raw text as a dynamic command substitution would hide commands; we
            // surface them through a parse of the body as a word.
            match sub.parse_word(Mode::Heredoc) {
                Ok(w) => Some(w),
                Err(_) => Some(Word {
                    parts: vec![Part::CmdSub {
                        body: Program::default(),
                        quoted: true,
                    }],
                    quoted: true,
                }),
            }
        };
        if let Some(h) = self.heredocs.get_mut(idx) {
            h.body = body;
            h.word = word;
            h.delim = p.delim.clone();
            h.unclosed = unclosed;
        }
    }

    fn finish_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            self.store_heredoc(p.idx, String::new(), &p, true);
        }
    }

    /// Is the reserved word `w` at the current position (followed by a delimiter)?
    fn at_word(&self, w: &str) -> bool {
        self.starts(w)
            && self
                .s
                .get(self.pos.saturating_add(w.len()))
                .is_none_or(|&b| is_meta(b) || b == b'\r')
    }

    fn at_list_end(&self) -> bool {
        match self.peek() {
            None => true,
            Some(b')') => true,
            Some(b';') => matches!(self.peek_at(1), Some(b';') | Some(b'&')),
            _ => TERMINATORS.iter().any(|w| self.at_word(w)),
        }
    }

    pub(crate) fn parse_list(&mut self) -> R<Program> {
        self.enter()?;
        let mut items = Vec::new();
        loop {
            self.skip_ws_nl();
            if self.at_list_end() {
                break;
            }
            let and_or = self.parse_and_or()?;
            self.skip_blank();
            let mut background = false;
            let mut sep = false;
            match self.peek() {
                Some(b';') if !matches!(self.peek_at(1), Some(b';') | Some(b'&')) => {
                    self.pos = self.pos.saturating_add(1);
                    sep = true;
                }
                Some(b'&') => {
                    self.pos = self.pos.saturating_add(1);
                    background = true;
                    sep = true;
                }
                Some(b'\n') => {
                    self.newline();
                    sep = true;
                }
                _ => {}
            }
            items.push(Item { and_or, background });
            if !sep {
                self.skip_blank();
                if !self.at_list_end() {
                    let b = self.peek().unwrap_or(b' ');
                    return Err(self.unexpected(b));
                }
                break;
            }
        }
        self.leave();
        Ok(Program { items })
    }

    fn parse_and_or(&mut self) -> R<Vec<Pipeline>> {
        let mut v = vec![self.parse_pipeline()?];
        loop {
            self.skip_blank();
            if self.starts("&&") || self.starts("||") {
                self.pos = self.pos.saturating_add(2);
                self.skip_ws_nl();
                v.push(self.parse_pipeline()?);
            } else {
                break;
            }
        }
        Ok(v)
    }

    fn parse_pipeline(&mut self) -> R<Pipeline> {
        self.skip_blank();
        loop {
            if self.at_word("!") {
                self.pos = self.pos.saturating_add(1);
                self.skip_blank();
                continue;
            }
            if self.at_word("time") {
                // keyword form only before a compound command / negation
                let save = self.pos;
                self.pos = self.pos.saturating_add(4);
                self.skip_blank();
                if self.at_word("-p") {
                    self.pos = self.pos.saturating_add(2);
                    self.skip_blank();
                }
                if matches!(self.peek(), Some(b'(')) || self.at_word("{") || self.at_word("!") {
                    continue;
                }
                self.pos = save;
            }
            break;
        }
        let mut cmds = vec![self.parse_command()?];
        loop {
            self.skip_blank();
            if self.peek() == Some(b'|') && self.peek_at(1) != Some(b'|') {
                self.pos = self.pos.saturating_add(1);
                if self.peek() == Some(b'&') {
                    self.pos = self.pos.saturating_add(1);
                }
                self.skip_ws_nl();
                cmds.push(self.parse_command()?);
            } else {
                break;
            }
        }
        Ok(Pipeline { cmds })
    }

    fn expect_word(&mut self, w: &str) -> R<()> {
        self.skip_ws_nl();
        if self.at_word(w) {
            self.pos = self.pos.saturating_add(w.len());
            Ok(())
        } else if self.peek().is_none() {
            Err(self.err(format!("unexpected end of input, expected `{w}`")))
        } else {
            let b = self.peek().unwrap_or(b' ');
            let mut e = self.unexpected(b);
            e.reason = format!("{}, expected `{w}`", e.reason);
            Err(e)
        }
    }

    fn parse_command(&mut self) -> R<Command> {
        self.enter()?;
        let r = self.parse_command_inner();
        self.leave();
        r
    }

    fn parse_command_inner(&mut self) -> R<Command> {
        self.skip_blank();
        let kind = match self.peek() {
            None => return Err(self.err("unexpected end of input, expected a command")),
            Some(b'(') => {
                if self.peek_at(1) == Some(b'(') && !self.posix {
                    if let Some(w) = self.try_arith(2)? {
                        CmdKind::Arith(w)
                    } else {
                        self.subshell()?
                    }
                } else {
                    self.subshell()?
                }
            }
            Some(_) if self.at_word("{") => {
                self.pos = self.pos.saturating_add(1);
                let body = self.parse_list()?;
                self.expect_word("}")?;
                CmdKind::Group(body)
            }
            Some(_) if self.at_word("[[") => {
                self.pos = self.pos.saturating_add(2);
                CmdKind::Test(self.parse_test()?)
            }
            Some(_) if self.at_word("if") => self.parse_if()?,
            Some(_) if self.at_word("while") || self.at_word("until") => {
                self.pos = self.pos.saturating_add(5); // `while` / `until`
                let cond = self.parse_list()?;
                self.expect_word("do")?;
                let body = self.parse_list()?;
                self.expect_word("done")?;
                CmdKind::Loop(cond, body)
            }
            Some(_) if self.at_word("for") || self.at_word("select") => self.parse_for()?,
            Some(_) if self.at_word("case") => self.parse_case()?,
            Some(_) if self.at_word("function") => {
                self.pos = self.pos.saturating_add(8);
                self.skip_blank();
                let w = self.parse_word(Mode::Normal)?;
                let name = literal_text(&w).unwrap_or_default();
                if name.is_empty() {
                    return Err(self.err("missing function name"));
                }
                self.skip_blank();
                if self.starts("()") {
                    self.pos = self.pos.saturating_add(2);
                } else if self.peek() == Some(b'(') {
                    self.pos = self.pos.saturating_add(1);
                    self.skip_blank();
                    if self.peek() != Some(b')') {
                        return Err(self.err("expected `)` in function definition"));
                    }
                    self.pos = self.pos.saturating_add(1);
                }
                self.skip_ws_nl();
                let body = self.parse_command()?;
                CmdKind::Func(name, Box::new(body))
            }
            Some(_) if self.at_word("coproc") => {
                self.pos = self.pos.saturating_add(6);
                self.skip_blank();
                return self.parse_command_inner();
            }
            Some(b) if TERMINATORS.iter().any(|w| self.at_word(w)) || matches!(b, b')') => {
                return Err(self.unexpected(b));
            }
            Some(_) => return self.parse_simple(),
        };
        let redirs = self.parse_trailing_redirs()?;
        Ok(Command { kind, redirs })
    }

    fn subshell(&mut self) -> R<CmdKind> {
        self.pos = self.pos.saturating_add(1);
        let body = self.parse_list()?;
        self.skip_ws_nl();
        if self.peek() != Some(b')') {
            return Err(self.err("unterminated subshell `(`"));
        }
        self.pos = self.pos.saturating_add(1);
        Ok(CmdKind::Subshell(body))
    }

    fn parse_trailing_redirs(&mut self) -> R<Vec<Redir>> {
        let mut v = Vec::new();
        loop {
            self.skip_blank();
            if self.at_redir() {
                v.push(self.parse_redir()?);
            } else {
                break;
            }
        }
        Ok(v)
    }

    fn parse_if(&mut self) -> R<CmdKind> {
        self.pos = self.pos.saturating_add(2);
        let mut arms = Vec::new();
        let mut els = None;
        loop {
            let cond = self.parse_list()?;
            self.expect_word("then")?;
            let body = self.parse_list()?;
            arms.push((cond, body));
            self.skip_ws_nl();
            if self.at_word("elif") {
                self.pos = self.pos.saturating_add(4);
                continue;
            }
            if self.at_word("else") {
                self.pos = self.pos.saturating_add(4);
                els = Some(self.parse_list()?);
            }
            self.expect_word("fi")?;
            break;
        }
        Ok(CmdKind::If(arms, els))
    }

    fn parse_for(&mut self) -> R<CmdKind> {
        let select = !self.at_word("for");
        self.pos = self.pos.saturating_add(if select { 6 } else { 3 });
        self.skip_blank();
        if self.starts("((") {
            let w = self
                .try_arith(2)?
                .ok_or_else(|| self.err("malformed `for ((...))`"))?;
            self.skip_blank();
            if self.peek() == Some(b';') {
                self.pos = self.pos.saturating_add(1);
            }
            let body = self.loop_body()?;
            return Ok(CmdKind::ArithFor(w, body));
        }
        let w = self.parse_word(Mode::Normal)?;
        let var = literal_text(&w).unwrap_or_default();
        if var.is_empty() {
            return Err(self.err("missing loop variable"));
        }
        self.skip_ws_nl();
        let mut words = None;
        if self.at_word("in") {
            self.pos = self.pos.saturating_add(2);
            let mut ws = Vec::new();
            loop {
                self.skip_blank();
                match self.peek() {
                    Some(b';') => {
                        self.pos = self.pos.saturating_add(1);
                        break;
                    }
                    Some(b'\n') => {
                        self.newline();
                        break;
                    }
                    None => break,
                    Some(b) if is_meta(b) => return Err(self.unexpected(b)),
                    _ => ws.push(self.parse_word(Mode::Normal)?),
                }
            }
            words = Some(ws);
        } else if self.peek() == Some(b';') {
            self.pos = self.pos.saturating_add(1);
        }
        let b0 = self.pos;
        let body = self.loop_body()?;
        let body_len = self.pos.saturating_sub(b0);
        Ok(CmdKind::For(var, words, body, select, body_len))
    }

    fn loop_body(&mut self) -> R<Program> {
        self.skip_ws_nl();
        if self.at_word("{") {
            self.pos = self.pos.saturating_add(1);
            let body = self.parse_list()?;
            self.expect_word("}")?;
            return Ok(body);
        }
        self.expect_word("do")?;
        let body = self.parse_list()?;
        self.expect_word("done")?;
        Ok(body)
    }

    fn parse_case(&mut self) -> R<CmdKind> {
        self.pos = self.pos.saturating_add(4);
        self.skip_blank();
        let word = self.parse_word(Mode::Normal)?;
        self.expect_word("in")?;
        let mut arms = Vec::new();
        loop {
            self.skip_ws_nl();
            if self.at_word("esac") {
                self.pos = self.pos.saturating_add(4);
                break;
            }
            if self.peek().is_none() {
                return Err(self.err("unexpected end of input, expected `esac`"));
            }
            if self.peek() == Some(b'(') {
                self.pos = self.pos.saturating_add(1);
            }
            let mut pats = Vec::new();
            loop {
                self.skip_blank();
                match self.peek() {
                    Some(b')') => {
                        self.pos = self.pos.saturating_add(1);
                        break;
                    }
                    Some(b'|') => {
                        self.pos = self.pos.saturating_add(1);
                    }
                    None => return Err(self.err("unexpected end of input in `case` pattern")),
                    Some(b) if is_meta(b) => return Err(self.unexpected(b)),
                    _ => pats.push(self.parse_word(Mode::Normal)?),
                }
            }
            let body = self.parse_list()?;
            arms.push((pats, body));
            self.skip_ws_nl();
            if self.starts(";;&") {
                self.pos = self.pos.saturating_add(3);
            } else if self.starts(";;") || self.starts(";&") {
                self.pos = self.pos.saturating_add(2);
            } else if !self.at_word("esac") {
                if self.peek().is_none() {
                    return Err(self.err("unexpected end of input, expected `esac`"));
                }
                let b = self.peek().unwrap_or(b' ');
                return Err(self.unexpected(b));
            }
        }
        Ok(CmdKind::Case(word, arms))
    }

    fn parse_test(&mut self) -> R<Vec<Word>> {
        let mut words = Vec::new();
        loop {
            self.skip_ws_nl();
            if self.at_word("]]") {
                self.pos = self.pos.saturating_add(2);
                return Ok(words);
            }
            match self.peek() {
                None => return Err(self.err("unterminated `[[`")),
                Some(b'(' | b')' | b'<' | b'>' | b'!' | b'&' | b'|' | b';') => {
                    self.pos = self.pos.saturating_add(1)
                }
                _ => {
                    let start = self.pos;
                    words.push(self.parse_word(Mode::Normal)?);
                    if self.pos == start {
                        self.pos = self.pos.saturating_add(1);
                    }
                }
            }
        }
    }

    fn at_redir(&self) -> bool {
        let mut i = self.pos;
        while i < self.s.len() && crate::at(self.s, i).is_ascii_digit() {
            i = i.saturating_add(1);
        }
        match self.s.get(i) {
            Some(b'<') | Some(b'>') => self.s.get(i.saturating_add(1)) != Some(&b'('),
            Some(b'&') if i == self.pos => self.s.get(i.saturating_add(1)) == Some(&b'>'),
            _ => false,
        }
    }

    fn parse_redir(&mut self) -> R<Redir> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos = self.pos.saturating_add(1);
        }
        let fd = if self.pos > start {
            Some(
                self.src[start..self.pos]
                    .parse::<u32>()
                    .map_err(|_| self.err("file descriptor number too large"))?,
            )
        } else {
            None
        };
        let ops: &[(&str, RedirOp)] = &[
            ("&>>", RedirOp::AndAppend),
            ("&>", RedirOp::AndWrite),
            ("<<<", RedirOp::HereString),
            ("<<-", RedirOp::HereDoc),
            ("<<", RedirOp::HereDoc),
            ("<>", RedirOp::ReadWrite),
            ("<&", RedirOp::DupIn),
            ("<", RedirOp::Read),
            (">>", RedirOp::Append),
            (">|", RedirOp::Clobber),
            (">&", RedirOp::DupOut),
            (">", RedirOp::Write),
        ];
        let mut found = None;
        for (t, op) in ops {
            if self.starts(t) {
                found = Some((t.len(), *op, *t == "<<-"));
                break;
            }
        }
        let (len, op, strip) = found.ok_or_else(|| self.err("malformed redirection"))?;
        self.pos = self.pos.saturating_add(len);
        self.skip_blank();
        match self.peek() {
            None => return Err(self.err("missing redirection target")),
            Some(b)
                if is_meta(b) && !(matches!(b, b'<' | b'>') && self.peek_at(1) == Some(b'(')) =>
            {
                return Err(self.err("missing redirection target"))
            }
            _ => {}
        }
        let target = self.parse_word(Mode::Normal)?;
        let mut heredoc = None;
        if op == RedirOp::HereDoc {
            let delim = literal_text_any(&target);
            let idx = self.heredocs.len();
            self.heredocs.push(HereDoc::default());
            self.pending.push(Pending {
                idx,
                delim,
                strip,
                quoted: target.quoted,
            });
            heredoc = Some(idx);
        }
        Ok(Redir {
            fd,
            op,
            target,
            heredoc,
        })
    }

    fn parse_simple(&mut self) -> R<Command> {
        let mut simple = Simple::default();
        let mut redirs = Vec::new();
        loop {
            self.skip_blank();
            let Some(b) = self.peek() else { break };
            if self.at_redir() {
                redirs.push(self.parse_redir()?);
                continue;
            }
            if matches!(b, b'\n' | b';' | b'&' | b'|' | b')') {
                break;
            }
            if b == b'(' {
                if simple.words.len() == 1 && simple.assigns.is_empty() && redirs.is_empty() {
                    // function definition `name () compound`
                    self.pos = self.pos.saturating_add(1);
                    self.skip_blank();
                    if self.peek() != Some(b')') {
                        return Err(self.err("expected `)` in function definition"));
                    }
                    self.pos = self.pos.saturating_add(1);
                    self.skip_ws_nl();
                    let body = self.parse_command()?;
                    let name = simple.words.first().and_then(literal_text);
                    return Ok(Command {
                        kind: CmdKind::Func(name.unwrap_or_default(), Box::new(body)),
                        redirs,
                    });
                }
                return Err(self.unexpected(b));
            }
            let w = self.parse_word(Mode::Normal)?;
            if simple.words.is_empty() {
                if let Some((name, value)) = split_assignment(&w) {
                    let mut array = None;
                    if value.parts.is_empty() && self.peek() == Some(b'(') {
                        array = Some(self.parse_array()?);
                    }
                    simple.assigns.push(Assign { name, value, array });
                    continue;
                }
            }
            simple.words.push(w);
        }
        if simple.words.is_empty() && simple.assigns.is_empty() && redirs.is_empty() {
            let b = self.peek().unwrap_or(b' ');
            return Err(self.unexpected(b));
        }
        Ok(Command {
            kind: CmdKind::Simple(simple),
            redirs,
        })
    }

    fn parse_array(&mut self) -> R<Vec<Word>> {
        self.pos = self.pos.saturating_add(1);
        let mut v = Vec::new();
        loop {
            self.skip_ws_nl();
            match self.peek() {
                Some(b')') => {
                    self.pos = self.pos.saturating_add(1);
                    return Ok(v);
                }
                None => return Err(self.err("unterminated array assignment `(`")),
                Some(b) if is_meta(b) => return Err(self.unexpected(b)),
                _ => v.push(self.parse_word(Mode::Normal)?),
            }
        }
    }

    /// Try to parse `((...))` / `$((...))` arithmetic starting at `pos + skip`.
    /// Returns `None` (position unchanged) if the text does not look like arithmetic, in which
    /// case the caller re-parses it as nested subshells / a command substitution.
    fn try_arith(&mut self, skip: usize) -> R<Option<Word>> {
        let save = self.pos;
        self.pos = self.pos.saturating_add(skip);
        self.enter()?;
        let r = self.parse_word(Mode::Arith);
        self.leave();
        match r {
            Ok(w) if self.starts("))") && looks_arith(&w) => {
                self.pos = self.pos.saturating_add(2);
                Ok(Some(w))
            }
            Err(e) if e.reason.starts_with("nesting deeper") => Err(e),
            _ => {
                self.pos = save;
                Ok(None)
            }
        }
    }

    fn parse_word(&mut self, mode: Mode) -> R<Word> {
        let mut w = Word::default();
        let start = self.pos;
        let mut lit = String::new();
        let mut paren = 0usize;
        macro_rules! flush {
            () => {
                if !lit.is_empty() {
                    w.parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
            };
        }
        while let Some(b) = self.peek() {
            match mode {
                Mode::Normal if is_meta(b) => {
                    if matches!(b, b'<' | b'>')
                        && self.peek_at(1) == Some(b'(')
                        && self.pos == start
                    {
                        self.pos = self.pos.saturating_add(2);
                        self.enter()?;
                        let body = self.parse_list()?;
                        self.leave();
                        self.skip_ws_nl();
                        if self.peek() != Some(b')') {
                            return Err(self.err("unterminated process substitution"));
                        }
                        self.pos = self.pos.saturating_add(1);
                        w.parts.push(Part::ProcSub {
                            out: b == b'>',
                            body,
                        });
                        continue;
                    }
                    break;
                }
                Mode::Brace if b == b'}' => break,
                Mode::Arith => {
                    if b == b'(' {
                        paren = paren.saturating_add(1);
                    } else if b == b')' {
                        if paren == 0 {
                            break;
                        }
                        paren = paren.saturating_sub(1);
                    }
                }
                _ => {}
            }
            match b {
                b'\'' if mode != Mode::Heredoc && mode != Mode::Arith => {
                    flush!();
                    let s0 = self.pos;
                    self.pos = self.pos.saturating_add(1);
                    match self.src[self.pos..].find('\'') {
                        Some(i) => {
                            w.parts.push(Part::Quoted(
                                self.src[self.pos..self.pos.saturating_add(i)].to_string(),
                            ));
                            self.pos = self.pos.saturating_add(i.saturating_add(1));
                            w.quoted = true;
                        }
                        None => {
                            self.pos = s0;
                            return Err(self.err("unterminated single quote"));
                        }
                    }
                }
                b'"' if mode != Mode::Heredoc && mode != Mode::Arith => {
                    flush!();
                    self.parse_dq(&mut w)?;
                    w.quoted = true;
                }
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') => self.pos = self.pos.saturating_add(2),
                    None => {
                        lit.push('\\');
                        self.pos = self.pos.saturating_add(1);
                    }
                    Some(c) => {
                        if mode == Mode::Heredoc && !matches!(c, b'$' | b'`' | b'\\') {
                            lit.push('\\');
                            self.pos = self.pos.saturating_add(1);
                            continue;
                        }
                        flush!();
                        let n = utf8_len(c);
                        let end = self
                            .pos
                            .saturating_add(1)
                            .saturating_add(n)
                            .min(self.s.len());
                        let ch = self.src.get(self.pos.saturating_add(1)..end).unwrap_or("");
                        w.parts.push(Part::Quoted(ch.to_string()));
                        w.quoted = true;
                        self.pos = end;
                    }
                },
                b'$' => {
                    flush!();
                    self.parse_dollar(&mut w, false, mode)?;
                }
                b'`' => {
                    flush!();
                    let body = self.parse_backtick(false)?;
                    w.parts.push(Part::CmdSub {
                        body,
                        quoted: false,
                    });
                }
                b'~' if self.pos == start && mode == Mode::Normal => {
                    let mut e = self.pos.saturating_add(1);
                    while e < self.s.len()
                        && (is_name_char(crate::at(self.s, e))
                            || matches!(crate::at(self.s, e), b'.' | b'-' | b'+'))
                    {
                        e = e.saturating_add(1);
                    }
                    let next = self.s.get(e).copied();
                    if next.is_none_or(|c| c == b'/' || is_meta(c)) {
                        w.parts.push(Part::Tilde(
                            self.src[self.pos.saturating_add(1)..e].to_string(),
                        ));
                        self.pos = e;
                    } else {
                        lit.push('~');
                        self.pos = self.pos.saturating_add(1);
                    }
                }
                _ => {
                    // run of plain bytes
                    let s0 = self.pos;
                    self.pos = self.pos.saturating_add(1);
                    while let Some(c) = self.peek() {
                        if matches!(c, b'\'' | b'"' | b'\\' | b'$' | b'`')
                            || (mode == Mode::Normal && is_meta(c))
                            || (mode == Mode::Brace && c == b'}')
                            || (mode == Mode::Arith && matches!(c, b'(' | b')'))
                        {
                            break;
                        }
                        self.pos = self.pos.saturating_add(1);
                    }
                    lit.push_str(&self.src[s0..self.pos]);
                }
            }
        }
        flush!();
        Ok(w)
    }

    fn parse_dq(&mut self, w: &mut Word) -> R<()> {
        let s0 = self.pos;
        self.pos = self.pos.saturating_add(1);
        let mut lit = String::new();
        loop {
            let Some(b) = self.peek() else {
                self.pos = s0;
                return Err(self.err("unterminated double quote"));
            };
            match b {
                b'"' => {
                    self.pos = self.pos.saturating_add(1);
                    break;
                }
                b'\\' => match self.peek_at(1) {
                    Some(b'\n') => self.pos = self.pos.saturating_add(2),
                    Some(c @ (b'$' | b'`' | b'"' | b'\\')) => {
                        lit.push(c as char);
                        self.pos = self.pos.saturating_add(2);
                    }
                    _ => {
                        lit.push('\\');
                        self.pos = self.pos.saturating_add(1);
                    }
                },
                b'$' => {
                    if !lit.is_empty() {
                        w.parts.push(Part::Quoted(std::mem::take(&mut lit)));
                    }
                    self.parse_dollar(w, true, Mode::Normal)?;
                }
                b'`' => {
                    if !lit.is_empty() {
                        w.parts.push(Part::Quoted(std::mem::take(&mut lit)));
                    }
                    let body = self.parse_backtick(true)?;
                    w.parts.push(Part::CmdSub { body, quoted: true });
                }
                _ => {
                    let s1 = self.pos;
                    self.pos = self.pos.saturating_add(1);
                    while let Some(c) = self.peek() {
                        if matches!(c, b'"' | b'\\' | b'$' | b'`') {
                            break;
                        }
                        self.pos = self.pos.saturating_add(1);
                    }
                    lit.push_str(&self.src[s1..self.pos]);
                }
            }
        }
        // `""` still contributes an (empty) quoted part
        w.parts.push(Part::Quoted(lit));
        Ok(())
    }

    fn parse_backtick(&mut self, in_dq: bool) -> R<Program> {
        let s0 = self.pos;
        self.pos = self.pos.saturating_add(1);
        let mut inner = String::new();
        loop {
            let Some(b) = self.peek() else {
                self.pos = s0;
                return Err(self.err("unterminated backtick command substitution"));
            };
            match b {
                b'`' => {
                    self.pos = self.pos.saturating_add(1);
                    break;
                }
                b'\\' => match self.peek_at(1) {
                    Some(c @ (b'$' | b'`' | b'\\')) => {
                        inner.push(c as char);
                        self.pos = self.pos.saturating_add(2);
                    }
                    Some(b'"') if in_dq => {
                        inner.push('"');
                        self.pos = self.pos.saturating_add(2);
                    }
                    _ => {
                        inner.push('\\');
                        self.pos = self.pos.saturating_add(1);
                    }
                },
                _ => {
                    let s1 = self.pos;
                    self.pos = self.pos.saturating_add(1);
                    while let Some(c) = self.peek() {
                        if matches!(c, b'`' | b'\\') {
                            break;
                        }
                        self.pos = self.pos.saturating_add(1);
                    }
                    inner.push_str(&self.src[s1..self.pos]);
                }
            }
        }
        self.enter()?;
        let heredocs = std::mem::take(&mut self.heredocs);
        let mut sub = Parser::new(&inner, self.depth, self.max_depth, heredocs);
        sub.posix = self.posix;
        let r = sub.parse_list();
        sub.skip_blank();
        let trailing = sub.peek().map(|b| sub.unexpected(b));
        sub.finish_pending();
        self.heredocs = std::mem::take(&mut sub.heredocs);
        self.leave();
        let prog = r.map_err(|e| PErr {
            reason: format!("{} (in backtick command substitution)", e.reason),
            pos: s0,
        })?;
        if let Some(e) = trailing {
            return Err(PErr {
                reason: format!("{} (in backtick command substitution)", e.reason),
                pos: s0,
            });
        }
        Ok(prog)
    }

    fn parse_dollar(&mut self, w: &mut Word, in_dq: bool, mode: Mode) -> R<()> {
        let s0 = self.pos;
        match self.peek_at(1) {
            Some(b'(') => {
                if self.peek_at(2) == Some(b'(') {
                    if let Some(inner) = self.try_arith(3)? {
                        w.parts.push(Part::Arith { inner });
                        return Ok(());
                    }
                }
                self.pos = self.pos.saturating_add(2);
                self.enter()?;
                let body = self.parse_list()?;
                self.leave();
                self.skip_ws_nl();
                if self.peek() != Some(b')') {
                    self.pos = s0;
                    return Err(self.err("unterminated command substitution `$(`"));
                }
                self.pos = self.pos.saturating_add(1);
                w.parts.push(Part::CmdSub {
                    body,
                    quoted: in_dq,
                });
            }
            Some(b'{') => {
                self.pos = self.pos.saturating_add(2);
                let mut prefix_op = false;
                if matches!(self.peek(), Some(b'#' | b'!'))
                    && !matches!(self.peek_at(1), Some(b'}'))
                {
                    prefix_op = true;
                    self.pos = self.pos.saturating_add(1);
                }
                let n0 = self.pos;
                match self.peek() {
                    Some(c) if is_name_start(c) => {
                        while self.peek().is_some_and(is_name_char) {
                            self.pos = self.pos.saturating_add(1);
                        }
                    }
                    Some(c) if c.is_ascii_digit() => {
                        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                            self.pos = self.pos.saturating_add(1);
                        }
                    }
                    Some(b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-') => {
                        self.pos = self.pos.saturating_add(1)
                    }
                    _ => {}
                }
                let name = self.src[n0..self.pos].to_string();
                if name.is_empty() {
                    self.pos = s0;
                    return Err(self.err("bad substitution `${`"));
                }
                if self.peek() == Some(b'}') {
                    self.pos = self.pos.saturating_add(1);
                    w.parts.push(Part::Param {
                        name,
                        op: prefix_op,
                        operand: None,
                        quoted: in_dq,
                    });
                    return Ok(());
                }
                self.enter()?;
                let operand = self.parse_word(Mode::Brace);
                self.leave();
                let operand = operand?;
                if self.peek() != Some(b'}') {
                    self.pos = s0;
                    return Err(self.err("unterminated parameter expansion `${`"));
                }
                self.pos = self.pos.saturating_add(1);
                w.parts.push(Part::Param {
                    name,
                    op: true,
                    operand: Some(operand),
                    quoted: in_dq,
                });
            }
            Some(b'\'') if !in_dq && mode != Mode::Heredoc => {
                self.pos = self.pos.saturating_add(2);
                let mut bytes = Vec::new();
                loop {
                    let Some(b) = self.peek() else {
                        self.pos = s0;
                        return Err(self.err("unterminated ANSI-C quote `$'`"));
                    };
                    self.pos = self.pos.saturating_add(1);
                    match b {
                        b'\'' => break,
                        b'\\' => self.ansi_escape(&mut bytes),
                        _ => bytes.push(b),
                    }
                }
                w.parts
                    .push(Part::Quoted(String::from_utf8_lossy(&bytes).into_owned()));
                w.quoted = true;
            }
            Some(b'"') if !in_dq && mode != Mode::Heredoc => {
                self.pos = self.pos.saturating_add(1);
                self.parse_dq(w)?;
                w.quoted = true;
            }
            Some(c) if is_name_start(c) => {
                self.pos = self.pos.saturating_add(1);
                let n0 = self.pos;
                while self.peek().is_some_and(is_name_char) {
                    self.pos = self.pos.saturating_add(1);
                }
                w.parts.push(Part::Param {
                    name: self.src[n0..self.pos].to_string(),
                    op: false,
                    operand: None,
                    quoted: in_dq,
                });
            }
            Some(c)
                if c.is_ascii_digit()
                    || matches!(c, b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-') =>
            {
                self.pos = self.pos.saturating_add(2);
                w.parts.push(Part::Param {
                    name: (c as char).to_string(),
                    op: false,
                    operand: None,
                    quoted: in_dq,
                });
            }
            _ => {
                self.pos = self.pos.saturating_add(1);
                w.parts.push(if in_dq {
                    Part::Quoted("$".into())
                } else {
                    Part::Lit("$".into())
                });
            }
        }
        Ok(())
    }

    fn ansi_escape(&mut self, out: &mut Vec<u8>) {
        let Some(c) = self.peek() else {
            out.push(b'\\');
            return;
        };
        self.pos = self.pos.saturating_add(1);
        match c {
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'e' | b'E' => out.push(27),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'\\' | b'\'' | b'"' | b'?' => out.push(c),
            b'0'..=b'7' => {
                let mut v = u32::from(c.saturating_sub(b'0'));
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v
                                .saturating_mul(8)
                                .saturating_add(u32::from(d.saturating_sub(b'0')));
                            self.pos = self.pos.saturating_add(1);
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' | b'u' | b'U' => {
                let max = match c {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let mut v: u32 = 0;
                let mut n: i32 = 0;
                while n < max {
                    match self.peek().and_then(|d| (d as char).to_digit(16)) {
                        Some(d) => {
                            v = v.wrapping_mul(16).wrapping_add(d);
                            self.pos = self.pos.saturating_add(1);
                            n = n.saturating_add(1);
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.push(b'\\');
                    out.push(c);
                } else if c == b'x' {
                    out.push((v & 0xff) as u8);
                } else {
                    let ch = char::from_u32(v).unwrap_or('\u{fffd}');
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
            }
            b'c' => {
                if let Some(d) = self.peek() {
                    self.pos = self.pos.saturating_add(1);
                    out.push(d & 0x1f);
                }
            }
            _ => {
                out.push(b'\\');
                // copy the whole (possibly multi-byte) character
                let n = utf8_len(c);
                let start = self.pos.saturating_sub(1);
                let end = start.saturating_add(n).min(self.s.len());
                out.extend_from_slice(self.s.get(start..end).unwrap_or_default());
                self.pos = end;
            }
        }
    }
}

fn utf8_len(b: u8) -> usize {
    match b {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

/// Does the arithmetic body look like an arithmetic expression (and not like commands)?
fn looks_arith(w: &Word) -> bool {
    let mut prev_operand = false;
    for p in &w.parts {
        match p {
            Part::Lit(s) | Part::Quoted(s) => {
                let b = s.as_bytes();
                let mut i = 0;
                while i < b.len() {
                    let c = crate::at(b, i);
                    if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
                        if prev_operand {
                            return false;
                        }
                        while i < b.len()
                            && (crate::at(b, i).is_ascii_alphanumeric()
                                || crate::at(b, i) == b'_'
                                || crate::at(b, i) >= 0x80)
                        {
                            i = i.saturating_add(1);
                        }
                        prev_operand = true;
                        continue;
                    }
                    match c {
                        b' ' | b'\t' | b'\n' => {}
                        b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'=' | b'!' | b'&'
                        | b'|' | b'^' | b'~' | b'?' | b':' | b',' | b'(' | b')' | b'[' | b']'
                        | b'#' | b'.' | b'@' => prev_operand = false,
                        // `;` only in `for ((a; b; c))`
                        b';' => prev_operand = false,
                        _ => return false,
                    }
                    i = i.saturating_add(1);
                }
            }
            _ => {
                if prev_operand {
                    return false;
                }
                prev_operand = true;
            }
        }
    }
    true
}

/// Concatenation of a word's literal parts, `None` if it has expansions.
pub(crate) fn literal_text(w: &Word) -> Option<String> {
    let mut s = String::new();
    for p in &w.parts {
        match p {
            Part::Lit(t) | Part::Quoted(t) => s.push_str(t),
            Part::Tilde(u) => {
                s.push('~');
                s.push_str(u);
            }
            _ => return None,
        }
    }
    Some(s)
}

/// Heredoc delimiter text: literal parts, expansions as their `$NAME` spelling.
fn literal_text_any(w: &Word) -> String {
    let mut s = String::new();
    for p in &w.parts {
        match p {
            Part::Lit(t) | Part::Quoted(t) => s.push_str(t),
            Part::Tilde(u) => {
                s.push('~');
                s.push_str(u);
            }
            Part::Param { name, .. } => {
                s.push('$');
                s.push_str(name);
            }
            _ => s.push_str("$(…)"),
        }
    }
    s
}

/// If `s` starts with an assignment prefix (`NAME=`, `NAME+=`, `NAME[i]=`, `NAME[i]+=`),
/// return (end of NAME, start of the value).
pub(crate) fn assignment_prefix(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    if b.is_empty() || !is_name_start(crate::at(b, 0)) {
        return None;
    }
    let mut i = 1;
    while i < b.len() && is_name_char(crate::at(b, i)) {
        i = i.saturating_add(1);
    }
    let name_end = i;
    if i < b.len() && crate::at(b, i) == b'[' {
        let close = s[i..].find(']')?;
        i = i.saturating_add(close.saturating_add(1));
    }
    if i < b.len() && crate::at(b, i) == b'+' {
        i = i.saturating_add(1);
    }
    if i >= b.len() || crate::at(b, i) != b'=' {
        return None;
    }
    Some((name_end, i.saturating_add(1)))
}

/// Split `NAME=value` / `NAME+=value` / `NAME[i]=value` into name and value word.
fn split_assignment(w: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit(first)) = w.parts.first() else {
        return None;
    };
    let (name_end, vstart) = assignment_prefix(first)?;
    let i = vstart.saturating_sub(1);
    let name = first[..name_end].to_string();
    let rest = &first[i.saturating_add(1)..];
    let mut parts = Vec::with_capacity(w.parts.len());
    if !rest.is_empty() {
        if let Some(user_path) = rest.strip_prefix('~') {
            let (user, tail) = match user_path.find('/') {
                Some(j) => (&user_path[..j], &user_path[j..]),
                None => (user_path, ""),
            };
            if user
                .bytes()
                .all(|c| is_name_char(c) || c == b'.' || c == b'-')
                && (tail.is_empty() && w.parts.len() == 1 || !tail.is_empty())
            {
                parts.push(Part::Tilde(user.to_string()));
                if !tail.is_empty() {
                    parts.push(Part::Lit(tail.to_string()));
                }
            } else {
                parts.push(Part::Lit(rest.to_string()));
            }
        } else {
            parts.push(Part::Lit(rest.to_string()));
        }
    }
    parts.extend(w.parts.get(1..).unwrap_or_default().iter().cloned());
    Some((
        name,
        Word {
            parts,
            quoted: w.quoted,
        },
    ))
}
