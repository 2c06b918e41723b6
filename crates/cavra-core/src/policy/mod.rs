//! Policy packs: parse (YAML, JSON-Schema validated, with line/column), inherit, compile to
//! a normalized form with a stable digest, diff, sign and verify, test.

pub mod bundled;
pub mod compile;
pub mod diff;
pub mod signing;
pub mod source;
pub mod testing;
pub mod yaml;

pub use compile::{CompiledPack, Matcher, Rule};
pub use source::PackSource;

use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::sync::OnceLock;
use thiserror::Error;

/// The JSON Schema of the pack format (shipped at `crates/cavra-core/schemas/`).
pub const PACK_SCHEMA: &str = include_str!("../../schemas/policy-pack.schema.json");

/// One problem found in a pack file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// JSON pointer of the offending node (`/commands/block/2`).
    pub pointer: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if !self.pointer.is_empty() {
            write!(f, " (at `{}`)", self.pointer)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Why a pack could not be loaded or compiled.
#[derive(Debug, Error)]
pub enum PolicyError {
    #[error("{}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<Problem> },
    #[error("pack `{child}` inherits unknown pack `{parent}`")]
    UnknownParent { child: String, parent: String },
    #[error("inheritance cycle: {0}")]
    Cycle(String),
    #[error("pack `{0}` not found")]
    NotFound(String),
    #[error("compiled pack is not valid: {0}")]
    BadCompiled(String),
    #[error("signature error: {0}")]
    Signature(String),
}

impl PolicyError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            PolicyError::Invalid { problems } => problems,
            _ => &[],
        }
    }
    fn one(
        file: &str,
        pointer: &str,
        pos: (usize, usize),
        message: String,
        hint: Option<String>,
    ) -> Self {
        PolicyError::Invalid {
            problems: vec![Problem {
                file: file.to_string(),
                line: pos.0,
                column: pos.1,
                pointer: pointer.to_string(),
                message,
                hint,
            }],
        }
    }
}

fn schema_validator() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(PACK_SCHEMA).ok()?;
        jsonschema::validator_for(&schema).ok()
    })
    .as_ref()
}

const TOP_KEYS: &[&str] = &[
    "metadata",
    "filesystem",
    "commands",
    "git",
    "mcp",
    "compliance",
    "approvals",
    "evidence",
    "defaults",
    "rules",
    "overrides",
    "programs",
    "wrappers",
    "controls",
    "tests",
];

fn closest<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    fn dist(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut cur = vec![i; b.len().saturating_add(1)];
            for j in 1..=b.len() {
                let c = usize::from(
                    crate::at(&a, i.saturating_sub(1)) != crate::at(&b, j.saturating_sub(1)),
                );
                let v = crate::at(&prev, j)
                    .saturating_add(1)
                    .min(crate::at(&cur, j.saturating_sub(1)).saturating_add(1))
                    .min(crate::at(&prev, j.saturating_sub(1)).saturating_add(c));
                if let Some(x) = cur.get_mut(j) {
                    *x = v;
                }
            }
            prev = cur;
        }
        crate::at(&prev, b.len())
    }
    options
        .iter()
        .map(|o| (dist(word, o), *o))
        .filter(|(d, o)| *d <= 3.max(o.len() / 3))
        .min()
        .map(|(_, o)| o)
}

fn hint_for(message: &str, pointer: &str) -> Option<String> {
    if message.contains("Additional properties are not allowed") {
        // message: Additional properties are not allowed ('blok' was unexpected)
        let word = message.split('\'').nth(1).unwrap_or("");
        let options: &[&str] = match pointer {
            "" => TOP_KEYS,
            "/metadata" => &[
                "id",
                "title",
                "description",
                "version",
                "inherits",
                "extends",
                "mode",
                "owner",
                "tags",
            ],
            "/filesystem" => &[
                "block_read",
                "block_write",
                "require_approval_write",
                "require_approval_read",
                "except",
                "case_insensitive",
            ],
            "/commands" => &["block", "allow", "require_approval"],
            "/git" => &[
                "require_pull_request",
                "block_direct_push_to_protected_branch",
                "require_human_reviewer",
                "require_ai_attestation",
                "protected_branches",
            ],
            "/mcp" => &[
                "allowlist_enabled",
                "block_unknown_servers",
                "allowed_servers",
                "blocked_servers",
                "risk_scoring",
            ],
            _ => &[],
        };
        return Some(match closest(word, options) {
            Some(s) => format!("unknown key `{word}`; did you mean `{s}`?"),
            None if !options.is_empty() => {
                format!("unknown key `{word}`; allowed here: {}", options.join(", "))
            }
            None => format!("unknown key `{word}`; see docs/policy-format.md"),
        });
    }
    if message.contains("is not one of") {
        return Some("use one of the listed values".into());
    }
    if message.contains("does not match \"^cavra-") {
        return Some("pack ids look like `cavra-my-team` (lowercase, digits, dashes)".into());
    }
    if message.contains("is not of type \"array\"") {
        return Some("write a YAML list, e.g. `[\"a\", \"b\"]` or one `- item` per line".into());
    }
    if message.contains("is a required property") {
        return Some("add the missing key".into());
    }
    None
}

/// Parses and validates pack source text. `file` names the source in messages.
pub fn parse_pack(file: &str, src: &str) -> Result<PackSource, PolicyError> {
    parse_pack_with(file, src, true)
}

/// Parses pack source that was already validated against the schema (bundled packs are,
/// by tests): skips the JSON Schema step, which costs tens of milliseconds to set up and
/// would otherwise sit on the hook's hot path. Typed deserialization still rejects bad input.
pub fn parse_pack_trusted(file: &str, src: &str) -> Result<PackSource, PolicyError> {
    parse_pack_with(file, src, false)
}

fn parse_pack_with(file: &str, src: &str, schema: bool) -> Result<PackSource, PolicyError> {
    let (value, pos) = yaml::parse(src).map_err(|e| {
        PolicyError::one(
            file,
            "",
            (e.line, e.col),
            format!("YAML syntax error: {}", e.message),
            Some("check indentation and quoting around this position".into()),
        )
    })?;
    if !value.is_object() {
        return Err(PolicyError::one(
            file,
            "",
            (1, 1),
            "a policy pack must be a YAML mapping with a `metadata` key".into(),
            Some("start the file with `metadata:` and an `id:` below it".into()),
        ));
    }
    if schema {
        validate_value(file, &value, &pos)?;
    }
    let pack: PackSource = serde_json::from_value(value)
        .map_err(|e| PolicyError::one(file, "", (1, 1), format!("invalid pack: {e}"), None))?;
    check_semantics(file, &pack, &pos)?;
    Ok(pack)
}

fn validate_value(file: &str, value: &Value, pos: &yaml::Positions) -> Result<(), PolicyError> {
    let Some(validator) = schema_validator() else {
        return Err(PolicyError::one(
            file,
            "",
            (1, 1),
            "internal error: the pack schema failed to compile".into(),
            None,
        ));
    };
    let mut problems: Vec<Problem> = validator
        .iter_errors(value)
        .map(|e| {
            let pointer = e.instance_path.to_string();
            let message = e.to_string();
            // point at the offending key itself for unknown keys
            let key_ptr = message
                .contains("Additional properties")
                .then(|| message.split('\'').nth(1).map(|k| format!("{pointer}/{k}")))
                .flatten();
            let (line, column) = pos.lookup(key_ptr.as_deref().unwrap_or(&pointer));
            let hint = hint_for(&message, &pointer);
            Problem {
                file: file.to_string(),
                line,
                column,
                pointer,
                message,
                hint,
            }
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by_key(|p| (p.line, p.column));
    problems.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
    Err(PolicyError::Invalid { problems })
}

fn check_semantics(
    file: &str,
    pack: &PackSource,
    pos: &yaml::Positions,
) -> Result<(), PolicyError> {
    let mut problems = Vec::new();
    let mut push = |pointer: String, message: String, hint: Option<String>| {
        let (line, column) = pos.lookup(&pointer);
        problems.push(Problem {
            file: file.to_string(),
            line,
            column,
            pointer,
            message,
            hint,
        });
    };
    let mut seen = std::collections::HashSet::new();
    for (i, r) in pack.rules.iter().enumerate() {
        if !seen.insert(r.id.as_str()) {
            push(
                format!("/rules/{i}/id"),
                format!("duplicate rule id `{}`", r.id),
                Some("rule ids must be unique within a pack".into()),
            );
        }
    }
    // every glob must compile
    let mut check_globs = |base: String, list: &[String], text: bool| {
        for (i, g) in list.iter().enumerate() {
            let r = if text {
                crate::glob::Glob::text(g)
            } else {
                crate::glob::Glob::new(g)
            };
            if let Err(e) = r {
                push(format!("{base}/{i}"), format!("bad pattern: {e}"), None);
            }
        }
    };
    if let Some(fs) = &pack.filesystem {
        check_globs("/filesystem/block_read".into(), &fs.block_read, false);
        check_globs("/filesystem/block_write".into(), &fs.block_write, false);
        check_globs(
            "/filesystem/require_approval_write".into(),
            &fs.require_approval_write,
            false,
        );
    }
    if let Some(c) = &pack.commands {
        check_globs("/commands/block".into(), &c.block, true);
        check_globs("/commands/allow".into(), &c.allow, true);
        check_globs(
            "/commands/require_approval".into(),
            &c.require_approval,
            true,
        );
    }
    for (i, r) in pack.rules.iter().enumerate() {
        if let Some(f) = &r.matcher.file {
            check_globs(format!("/rules/{i}/match/file/paths"), &f.paths, false);
            check_globs(format!("/rules/{i}/match/file/except"), &f.except, false);
        }
        if let Some(c) = &r.matcher.command {
            check_globs(
                format!("/rules/{i}/match/command/program"),
                &c.program,
                false,
            );
            check_globs(
                format!("/rules/{i}/match/command/args_any"),
                &c.args_any,
                true,
            );
            check_globs(format!("/rules/{i}/match/command/text"), &c.text, true);
        }
    }
    // every CLI-table entry is a valid entry (entries are otherwise read on first use)
    if let Some(cli) = &pack.cli {
        for (program, e) in &cli.table {
            if let Err(e) = e.get() {
                push(
                    format!(
                        "/cli/table/{}",
                        program.replace('~', "~0").replace('/', "~1")
                    ),
                    format!("invalid CLI-table entry `{program}`: {e}"),
                    None,
                );
            }
        }
    }
    // durations: the one grammar, range-checked (the schema only checks the shape)
    if let Some(d) = &pack.defaults {
        let mut check_duration = |pointer: &str, text: &str| {
            if let Err(e) = crate::duration::parse_secs(text) {
                push(
                    pointer.to_string(),
                    e.to_string(),
                    Some("e.g. `30m`, `1h`, `7d`; at most `3650d`".into()),
                );
            }
        };
        if let Some(t) = &d.approval_ttl {
            check_duration("/defaults/approval_ttl", t);
        }
        if let Some(e) = &d.escalation {
            check_duration("/defaults/escalation/window", &e.window);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::Invalid { problems })
    }
}

/// Finds packs by id for inheritance. The caller decides where packs come from (bundled,
/// a directory, ...); the engine itself does no I/O.
pub trait PackResolver {
    fn resolve(&self, id: &str) -> Result<PackSource, PolicyError>;
}

/// Resolves bundled packs only.
pub struct BundledResolver;

impl PackResolver for BundledResolver {
    fn resolve(&self, id: &str) -> Result<PackSource, PolicyError> {
        bundled::source(id)
    }
}

/// Tries resolvers in order.
pub struct ChainResolver<'a>(pub Vec<&'a dyn PackResolver>);

impl PackResolver for ChainResolver<'_> {
    fn resolve(&self, id: &str) -> Result<PackSource, PolicyError> {
        let mut last = PolicyError::NotFound(id.to_string());
        for r in &self.0 {
            match r.resolve(id) {
                Ok(p) => return Ok(p),
                Err(PolicyError::NotFound(_)) => {}
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Parses, resolves inheritance and compiles in one go.
pub fn load(
    file: &str,
    src: &str,
    resolver: &dyn PackResolver,
) -> Result<CompiledPack, PolicyError> {
    let pack = parse_pack(file, src)?;
    compile::compile(pack, resolver)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CLI-table entries are read on first use; a pack file's bad entry is still refused
    /// when the pack loads, at the entry's position (even with the schema step skipped).
    #[test]
    fn bad_cli_entry_is_refused_at_load_with_its_position() {
        let src = "metadata:\n  id: cavra-x\ncli:\n  table:\n    tool:\n      verbs:\n        - path: 7\n          colour: red\n";
        for err in [
            parse_pack("p.yaml", src).unwrap_err(),
            parse_pack_trusted("p.yaml", src).unwrap_err(),
        ] {
            let p = &err.problems()[0];
            assert!(p.line >= 5, "{p}");
            assert!(p.column >= 1, "{p}");
        }
        let err = parse_pack_trusted("p.yaml", src).unwrap_err();
        assert!(
            err.problems()[0]
                .message
                .contains("invalid CLI-table entry `tool`"),
            "{err}"
        );
        // a valid entry parses once and reads back the same
        let ok = "metadata:\n  id: cavra-x\ncli:\n  table:\n    tool:\n      aliases: [tl]\n      rule: commands.tool\n      verbs:\n        - path: nuke\n";
        let pack = parse_pack("p.yaml", ok).unwrap();
        let e = pack.cli.as_ref().unwrap().table.get("tool").unwrap();
        assert_eq!(e.aliases().collect::<Vec<_>>(), ["tl"]);
        assert_eq!(e.get().unwrap().verbs[0].path, "nuke");
        let back: source::PackSource =
            serde_json::from_str(&serde_json::to_string(&pack).unwrap()).unwrap();
        assert_eq!(back, pack);
    }

    #[test]
    fn reports_line_and_column_with_hint() {
        let src = "metadata:\n  id: cavra-x\ncommands:\n  blok:\n    - rm\n";
        let err = parse_pack("p.yaml", src).unwrap_err();
        let p = &err.problems()[0];
        assert_eq!(p.file, "p.yaml");
        assert_eq!(p.line, 4, "{p}");
        assert!(
            p.hint
                .as_deref()
                .unwrap_or("")
                .contains("did you mean `block`"),
            "{p}"
        );
    }

    #[test]
    fn bad_id_and_type() {
        let src = "metadata:\n  id: My Pack\nfilesystem:\n  block_read: .env\n";
        let err = parse_pack("p.yaml", src).unwrap_err();
        let ps = err.problems();
        assert_eq!(ps.len(), 2, "{err}");
        assert_eq!(ps[0].line, 2);
        assert_eq!(ps[1].line, 4);
        assert_eq!(ps[1].column, 15);
    }

    #[test]
    fn not_a_mapping() {
        let err = parse_pack("p.yaml", "- a\n- b\n").unwrap_err();
        assert!(err.to_string().contains("must be a YAML mapping"));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_pack("p.yaml", "metadata:\n  id: [cavra-x\n").unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:"), "{err}");
        assert!(err.to_string().contains("YAML syntax error"));
    }

    #[test]
    fn duplicate_rule_ids() {
        let src = "metadata: {id: cavra-x}\nrules:\n  - {id: a.b, effect: block, match: {command: {program: [rm]}}}\n  - {id: a.b, effect: block, match: {command: {program: [rm]}}}\n";
        let err = parse_pack("p.yaml", src).unwrap_err();
        assert!(err.to_string().contains("duplicate rule id `a.b`"), "{err}");
        assert_eq!(err.problems()[0].line, 4);
    }
}
