//! YAML → JSON value, remembering where every node stands (for line/column in errors).

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

enum Frame {
    Seq(Vec<Value>, String, usize),
    Map(Map<String, Value>, Option<String>, String, usize),
}

struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    pos: Positions,
    anchors: HashMap<usize, Value>,
    error: Option<YamlError>,
    docs: usize,
}

fn escape_ptr(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

impl Builder {
    fn current_pointer(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq(v, p, _)) => format!("{p}/{}", v.len()),
            Some(Frame::Map(_, Some(k), p, _)) => format!("{p}/{}", escape_ptr(k)),
            Some(Frame::Map(_, None, p, _)) => p.clone(),
        }
    }

    fn push_value(&mut self, v: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(v);
                }
            }
            Some(Frame::Seq(items, _, _)) => items.push(v),
            Some(Frame::Map(m, key, _, _)) => match key.take() {
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
        matches!(self.stack.last(), Some(Frame::Map(_, None, _, _)))
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
        let line = mark.line();
        let col = mark.col() + 1;
        match ev {
            Event::DocumentStart => {
                self.docs += 1;
            }
            Event::Scalar(s, style, anchor, _) => {
                if !self.is_key_position() {
                    let ptr = self.current_pointer();
                    self.pos.map.insert(ptr, (line, col));
                } else {
                    // remember where the key stands too
                    if let Some(Frame::Map(_, _, p, _)) = self.stack.last() {
                        let ptr = format!("{p}/{}", escape_ptr(&s));
                        self.pos.map.entry(ptr).or_insert((line, col));
                    }
                }
                self.push_value(scalar(s, style), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let ptr = self.current_pointer();
                self.pos.map.entry(ptr.clone()).or_insert((line, col));
                self.stack.push(Frame::Seq(Vec::new(), ptr, anchor));
            }
            Event::MappingStart(anchor, _) => {
                let ptr = self.current_pointer();
                self.pos.map.entry(ptr.clone()).or_insert((line, col));
                self.stack.push(Frame::Map(Map::new(), None, ptr, anchor));
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(v, _, anchor)) = self.stack.pop() {
                    self.push_value(Value::Array(v), anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(m, _, _, anchor)) = self.stack.pop() {
                    self.push_value(Value::Object(m), anchor);
                }
            }
            Event::Alias(id) => {
                let v = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.push_value(v, 0);
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

/// Parses one YAML document into a JSON value plus node positions.
pub fn parse(src: &str) -> Result<(Value, Positions), YamlError> {
    let mut b = Builder {
        stack: Vec::new(),
        root: None,
        pos: Positions::default(),
        anchors: HashMap::new(),
        error: None,
        docs: 0,
    };
    let mut parser = Parser::new_from_str(src);
    parser.load(&mut b, false).map_err(|e| YamlError {
        line: e.marker().line(),
        col: e.marker().col() + 1,
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

    #[test]
    fn duplicate_keys_are_errors() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{}", e.message);
    }
}
