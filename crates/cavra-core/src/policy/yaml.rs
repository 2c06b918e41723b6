//! YAML → JSON value, remembering where every node stands (for line/column in errors).
//!
//! The one YAML loader of the workspace (policy packs, approval routing and RBAC files). It
//! refuses hostile input quickly with a clear error instead of exhausting memory or time:
//! documents over [`MAX_SOURCE_BYTES`], nesting deeper than [`MAX_DEPTH`], more than
//! [`MAX_ALIASES`] aliases, or aliases that add more than [`MAX_ALIAS_EXPANSION`] to the
//! document ("billion laughs"), and more than one document in a file.

use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// JSON pointer (`/filesystem/block_read/0`) → (line, column), both 1-based.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    map: HashMap<String, (usize, usize)>,
}

impl Positions {
    /// Position of the node at `pointer`, or of its nearest ancestor.
    pub fn lookup(&self, pointer: &str) -> (usize, usize) {
        let mut p = pointer.to_string();
        loop {
            if let Some(pos) = self.map.get(&p) {
                return *pos;
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return (1, 1),
            }
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Largest YAML source accepted (bytes). The bundled baseline pack is under 32 KiB.
pub const MAX_SOURCE_BYTES: usize = 1 << 20;
/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// Most aliases (`*name`) accepted in one document.
pub const MAX_ALIASES: usize = 1024;
/// Most that aliases may add to a document, in weight units (one per node plus one per byte
/// of scalar text): each use of an alias adds its anchor's full weight. Alias-free size is
/// bounded by [`MAX_SOURCE_BYTES`] already.
pub const MAX_ALIAS_EXPANSION: usize = 1 << 18;

enum Frame {
    /// items, pointer, anchor id, weight when the node started
    Seq(Vec<Value>, String, usize, usize),
    /// entries, pending key, pointer, anchor id, weight when the node started
    Map(Map<String, Value>, Option<String>, String, usize, usize),
}

struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    pos: Positions,
    /// anchor id → (value, weight)
    anchors: HashMap<usize, (Value, usize)>,
    error: Option<YamlError>,
    docs: usize,
    /// weight of everything built so far (aliases counted expanded)
    weight: usize,
    /// weight added by aliases so far
    alias_weight: usize,
    aliases: usize,
}

fn escape_ptr(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

impl Builder {
    fn current_pointer(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq(v, p, _, _)) => format!("{p}/{}", v.len()),
            Some(Frame::Map(_, Some(k), p, _, _)) => format!("{p}/{}", escape_ptr(k)),
            Some(Frame::Map(_, None, p, _, _)) => p.clone(),
        }
    }

    /// Adds `v` to the node being built; `weight` is the weight `v` added (for anchors).
    fn push_value(&mut self, v: Value, anchor: usize, weight: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, (v.clone(), weight));
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(v);
                }
            }
            Some(Frame::Seq(items, _, _, _)) => items.push(v),
            Some(Frame::Map(m, key, _, _, _)) => match key.take() {
                None => {
                    let k = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if m.contains_key(&k) && self.error.is_none() {
                        self.error = Some(YamlError {
                            line: 0,
                            col: 0,
                            message: format!("duplicate key `{k}`"),
                        });
                    }
                    *key = Some(k);
                }
                Some(k) => {
                    m.insert(k, v);
                }
            },
        }
    }

    fn is_key_position(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map(_, None, _, _, _)))
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line: 0,
                col: 0,
                message,
            });
        }
    }

    /// Counts `w` more weight.
    fn grow(&mut self, w: usize) {
        self.weight = self.weight.saturating_add(w);
    }

    /// A sequence or mapping starts (within the depth and size caps).
    fn start_node(&mut self, anchor: usize, at: (usize, usize), map: bool) {
        if !self.open() {
            return;
        }
        let ptr = self.current_pointer();
        self.pos.map.entry(ptr.clone()).or_insert(at);
        let start = self.weight;
        self.stack.push(if map {
            Frame::Map(Map::new(), None, ptr, anchor, start)
        } else {
            Frame::Seq(Vec::new(), ptr, anchor, start)
        });
    }

    fn open(&mut self) -> bool {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(format!(
                "nesting deeper than {MAX_DEPTH} levels; refusing the document"
            ));
            return false;
        }
        self.grow(1);
        true
    }
}

fn scalar(s: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(s);
    }
    match s.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = s.parse::<i64>() {
        return Value::Number(i.into());
    }
    if s.chars().any(|c| c.is_ascii_digit()) && !s.contains(char::is_alphabetic) {
        if let Ok(f) = s.parse::<f64>() {
            if let Some(n) = Number::from_f64(f) {
                // keep versions like 0.1.0 (not a float) as strings: they fail to parse anyway
                return Value::Number(n);
            }
        }
    }
    Value::String(s)
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            // refused already: build nothing more (a bomb stops costing here)
            return;
        }
        let line = mark.line();
        let col = mark.col().saturating_add(1);
        match ev {
            Event::DocumentStart => {
                self.docs = self.docs.saturating_add(1);
                if self.docs > 1 {
                    self.fail("more than one YAML document in the file (`---`); use one".into());
                }
            }
            Event::Scalar(s, style, anchor, _) => {
                let w = s.len().saturating_add(1);
                self.grow(w);
                if !self.is_key_position() {
                    let ptr = self.current_pointer();
                    self.pos.map.insert(ptr, (line, col));
                } else {
                    // remember where the key stands too
                    if let Some(Frame::Map(_, _, p, _, _)) = self.stack.last() {
                        let ptr = format!("{p}/{}", escape_ptr(&s));
                        self.pos.map.entry(ptr).or_insert((line, col));
                    }
                }
                self.push_value(scalar(s, style), anchor, w);
            }
            Event::SequenceStart(anchor, _) => self.start_node(anchor, (line, col), false),
            Event::MappingStart(anchor, _) => self.start_node(anchor, (line, col), true),
            Event::SequenceEnd => {
                if let Some(Frame::Seq(v, _, anchor, start)) = self.stack.pop() {
                    let w = self.weight.saturating_sub(start).saturating_add(1);
                    self.push_value(Value::Array(v), anchor, w);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(m, _, _, anchor, start)) = self.stack.pop() {
                    let w = self.weight.saturating_sub(start).saturating_add(1);
                    self.push_value(Value::Object(m), anchor, w);
                }
            }
            Event::Alias(id) => {
                self.aliases = self.aliases.saturating_add(1);
                if self.aliases > MAX_ALIASES {
                    self.fail(format!(
                        "more than {MAX_ALIASES} aliases in the document; refusing it"
                    ));
                } else {
                    let w = self.anchors.get(&id).map_or(1, |(_, w)| *w);
                    self.alias_weight = self.alias_weight.saturating_add(w);
                    if self.alias_weight > MAX_ALIAS_EXPANSION {
                        // refused before copying anything
                        self.fail(format!(
                            "aliases expand the document by more than {MAX_ALIAS_EXPANSION} nodes and bytes; refusing it"
                        ));
                    } else {
                        let v = self.anchors.get(&id).map(|(v, _)| v.clone());
                        self.grow(w);
                        self.push_value(v.unwrap_or(Value::Null), 0, w);
                    }
                }
            }
            _ => {}
        }
        if let Some(e) = &mut self.error {
            if e.line == 0 {
                e.line = line;
                e.col = col;
            }
        }
    }
}

/// Parses one YAML document into a JSON value plus node positions. Hostile input (see the
/// module documentation) is refused with an error, in time linear in the source size.
pub fn parse(src: &str) -> Result<(Value, Positions), YamlError> {
    if src.len() > MAX_SOURCE_BYTES {
        return Err(YamlError {
            line: 1,
            col: 1,
            message: format!(
                "the document is {} bytes, more than the {MAX_SOURCE_BYTES}-byte limit; refusing it",
                src.len()
            ),
        });
    }
    let mut b = Builder {
        stack: Vec::new(),
        root: None,
        pos: Positions::default(),
        anchors: HashMap::new(),
        error: None,
        docs: 0,
        weight: 0,
        alias_weight: 0,
        aliases: 0,
    };
    let mut parser = Parser::new_from_str(src);
    parser.load(&mut b, true).map_err(|e| YamlError {
        line: e.marker().line(),
        col: e.marker().col().saturating_add(1),
        message: e.info().to_string(),
    })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok((b.root.unwrap_or(Value::Null), b.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_positions() {
        let src = "metadata:\n  id: cavra-x\n  version: 0.1.0\nlist:\n  - a\n  - \"b\"\nflow: [1, true]\n";
        let (v, pos) = parse(src).unwrap();
        assert_eq!(v["metadata"]["id"], "cavra-x");
        assert_eq!(v["metadata"]["version"], "0.1.0");
        assert_eq!(v["list"][1], "b");
        assert_eq!(v["flow"][0], 1);
        assert_eq!(v["flow"][1], true);
        assert_eq!(pos.lookup("/metadata/id"), (2, 7));
        assert_eq!(pos.lookup("/list/1"), (6, 5));
        assert_eq!(pos.lookup("/list/1/nope"), (6, 5));
    }

    #[test]
    fn reports_syntax_errors() {
        let e = parse("a: [1, 2\nb: c").unwrap_err();
        assert!(e.line >= 1);
        assert!(!e.message.is_empty());
    }

    /// The ~350-byte "billion laughs" document: nine levels of nine aliases each.
    pub(crate) fn billion_laughs() -> String {
        let mut s = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            let (prev, next) = (w[0], w[1]);
            let refs = vec![format!("*{prev}"); 9].join(",");
            s.push_str(&format!("{next}: &{next} [{refs}]\n"));
        }
        s
    }

    #[test]
    fn yaml_alias_bomb_is_refused_in_milliseconds() {
        let bomb = billion_laughs();
        assert!(bomb.len() < 400, "{}", bomb.len());
        let t = std::time::Instant::now();
        let e = parse(&bomb).unwrap_err();
        assert!(
            e.message.contains("aliases expand the document"),
            "{}",
            e.message
        );
        assert!(e.line >= 1);
        assert!(
            t.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        // as a policy pack too
        let t = std::time::Instant::now();
        let err = crate::policy::parse_pack("bomb.yaml", &format!("metadata: {{id: x}}\n{bomb}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("aliases expand the document"), "{err}");
        assert!(t.elapsed() < std::time::Duration::from_millis(500));
    }

    #[test]
    fn yaml_wide_alias_fanout_is_refused() {
        // one big anchor used many times: each use counts its full size
        let big = format!("x: &x \"{}\"\n", "y".repeat(100_000));
        let mut src = big.clone();
        src.push_str("l: [");
        src.push_str(&vec!["*x"; 100].join(","));
        src.push_str("]\n");
        let e = parse(&src).unwrap_err();
        assert!(
            e.message.contains("aliases expand the document"),
            "{}",
            e.message
        );
        // too many aliases, each tiny
        let mut src = String::from("x: &x 1\nl: [");
        src.push_str(&vec!["*x"; MAX_ALIASES + 1].join(","));
        src.push_str("]\n");
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains("aliases"), "{}", e.message);
    }

    #[test]
    fn everyday_anchors_still_work() {
        let (v, _) = parse("base: &b {x: 1, y: [a, b]}\none: *b\ntwo: *b\n").unwrap();
        assert_eq!(v["one"], v["base"]);
        assert_eq!(v["two"]["y"][1], "b");
    }

    #[test]
    fn yaml_deep_nesting_is_refused() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nesting deeper than"), "{}", e.message);
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        // far deeper than the cap: still an error, not a stack overflow
        let deeper = "[".repeat(100_000);
        assert!(parse(&deeper).is_err());
    }

    #[test]
    fn yaml_oversized_document_is_refused() {
        let src = format!("k: \"{}\"\n", "z".repeat(MAX_SOURCE_BYTES));
        let e = parse(&src).unwrap_err();
        assert!(e.message.contains("byte limit"), "{}", e.message);
    }

    #[test]
    fn yaml_second_document_is_refused() {
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(
            e.message.contains("more than one YAML document"),
            "{}",
            e.message
        );
        assert_eq!(e.line, 2);
        assert!(parse("---\na: 1\n").is_ok());
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{}", e.message);
    }
}
