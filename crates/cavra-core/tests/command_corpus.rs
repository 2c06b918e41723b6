//! Regression corpus for the command guard (issue #3): every labelled command in
//! `tests/data/commands.tsv` is evaluated with the bundled `cavra-coding-baseline` pack and
//! must give exactly the labelled decision (and, for `block`/`require_approval`, a rule id
//! starting with the labelled prefix). A few generated inputs (huge or deeply nested command
//! lines) are added here because they do not fit a text file.
//!
//! File format (see `docs/commands.md`, section "Regression corpus"):
//! `[category]` starts a category; other lines are `DECISION <ws> RULE <ws> COMMAND` where
//! DECISION is `allow`, `block` or `require_approval`, RULE is a rule id prefix (`-` for
//! none, allowed only with `allow`) and COMMAND is the rest of the line, verbatim. A COMMAND
//! starting with `json:` is a JSON string literal (for newlines, tabs, heredocs).
//! Cases in the `[parser-gaps]` category were shortcomings of `cavra-shell` found by this
//! corpus; they are fixed and checked by `parser_gaps_are_fixed` like every other case.

#![allow(clippy::unwrap_used, clippy::panic)] // tests report failures by panicking

use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::{bundled, CompiledPack};
use cavra_core::{ActionRequest, ActionType, Decision};
use std::collections::BTreeMap;

const DATA: &str = include_str!("data/commands.tsv");
const PARSER_GAPS: &str = "parser-gaps";

#[derive(Debug, Clone)]
struct Case {
    line: usize,
    category: String,
    expect: String,
    rule: Option<String>,
    command: String,
}

fn parse_cases(src: &str) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    let mut category = String::new();
    for (i, raw) in src.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') {
            category = t[1..t.len() - 1].to_string();
            continue;
        }
        let t = l.trim_start();
        let (expect, rest) = t
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {line}: expected `DECISION RULE COMMAND`"))?;
        let (rule, command) = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {line}: expected `DECISION RULE COMMAND`"))?;
        let command = command.trim_start();
        if !matches!(expect, "allow" | "block" | "require_approval") {
            return Err(format!("line {line}: unknown decision `{expect}`"));
        }
        if category.is_empty() {
            return Err(format!("line {line}: case before the first `[category]`"));
        }
        let rule = if rule == "-" {
            if expect != "allow" {
                return Err(format!("line {line}: `{expect}` needs a rule id prefix"));
            }
            None
        } else {
            Some(rule.to_string())
        };
        let command = match command.strip_prefix("json:") {
            Some(j) => serde_json::from_str::<String>(j)
                .map_err(|e| format!("line {line}: bad JSON string: {e}"))?,
            None => command.to_string(),
        };
        if command.is_empty() {
            return Err(format!("line {line}: empty command"));
        }
        out.push(Case {
            line,
            category: category.clone(),
            expect: expect.to_string(),
            rule,
            command,
        });
    }
    Ok(out)
}

fn pack() -> CompiledPack {
    bundled::compiled("cavra-coding-baseline").expect("the baseline pack compiles")
}

fn eval(pack: &CompiledPack, command: &str) -> Decision {
    let mut req = ActionRequest::new(ActionType::ExecuteCommand, command);
    req.cwd = Some("/home/dev/app".into());
    req.home = Some("/home/dev".into());
    evaluate(pack, &req, &EvalEnv::default())
}

fn shorten(s: &str) -> String {
    let one_line = s.replace('\n', "⏎");
    if one_line.chars().count() > 160 {
        let head: String = one_line.chars().take(160).collect();
        format!("{head}… ({} bytes)", s.len())
    } else {
        one_line
    }
}

/// `None` when the decision matches the case, else a description of the mismatch.
fn check(case: &Case, d: &Decision) -> Option<String> {
    let got = d.decision.as_str();
    let rule_ok = case
        .rule
        .as_deref()
        .is_none_or(|p| d.rule_id.starts_with(p));
    if got == case.expect && rule_ok {
        return None;
    }
    Some(format!(
        "line {} [{}] `{}`\n    expected {} ({})\n    got      {} (rule `{}`) — {}",
        case.line,
        case.category,
        shorten(&case.command),
        case.expect,
        case.rule.as_deref().unwrap_or("any rule"),
        got,
        d.rule_id,
        shorten(&d.reason),
    ))
}

fn generated() -> Vec<Case> {
    let case = |name: &str, expect: &str, rule: &str, command: String| Case {
        line: 0,
        category: format!("generated: {name}"),
        expect: expect.into(),
        rule: Some(rule.into()),
        command,
    };
    let parens = 10_000;
    vec![
        case(
            "10,000 nested subshells",
            "require_approval",
            "commands.unparseable",
            format!("{}echo hi{}", "(".repeat(parens), ")".repeat(parens)),
        ),
        case(
            "10,000 nested command substitutions",
            "require_approval",
            "commands.unparseable",
            format!("echo {}x{}", "$(".repeat(parens), ")".repeat(parens)),
        ),
        case(
            "1 MiB command line",
            "require_approval",
            "commands.unparseable",
            format!("echo {}", "a".repeat(1 << 20)),
        ),
        // over the length limit nothing is parsed: the whole line needs approval
        case(
            "1 MiB command line ending in a destructive command",
            "require_approval",
            "commands.unparseable",
            format!("echo {}; rm -rf /", "a".repeat(1 << 20)),
        ),
        case(
            "20,000 chained commands",
            "require_approval",
            "commands.unparseable",
            "true; ".repeat(20_000) + "true",
        ),
        case(
            "deeply nested bash -c",
            "require_approval",
            "commands.unparseable",
            {
                let mut c = "echo hi".to_string();
                for _ in 0..9 {
                    c = format!("bash -c {}", cavra_shell_quote(&c));
                }
                c
            },
        ),
    ]
}

/// Single-quotes `s` for a POSIX shell.
fn cavra_shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn corpus_file_is_well_formed_and_large_enough() {
    let cases = parse_cases(DATA).unwrap_or_else(|e| panic!("commands.tsv: {e}"));
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *per.entry(c.category.as_str()).or_default() += 1;
    }
    assert!(cases.len() >= 600, "only {} cases: {per:?}", cases.len());
    for cat in ["dangerous", "disguised", "benign", "unparseable"] {
        assert!(
            per.get(cat).copied().unwrap_or(0) > 0,
            "no `{cat}` cases: {per:?}"
        );
    }
    // no duplicate commands (a duplicate is usually a copy-paste slip)
    let mut seen = BTreeMap::new();
    for c in &cases {
        if let Some(prev) = seen.insert(c.command.clone(), c.line) {
            panic!("line {}: duplicate of line {prev}: `{}`", c.line, c.command);
        }
    }
}

#[test]
fn parser_of_the_corpus_rejects_bad_lines() {
    assert!(
        parse_cases("block - rm -rf /").is_err(),
        "case before a category"
    );
    assert!(
        parse_cases("[x]\nblock - rm -rf /").is_err(),
        "block without a rule"
    );
    assert!(parse_cases("[x]\nmaybe - ls").is_err(), "unknown decision");
    assert!(
        parse_cases("[x]\nallow - json:\"unterminated").is_err(),
        "bad json"
    );
    let ok = parse_cases("[x]\nallow\t-\tjson:\"a\\nb\"\nblock  r.x   rm  -rf  /").unwrap();
    assert_eq!(ok[0].command, "a\nb");
    assert_eq!(ok[1].command, "rm  -rf  /");
    assert_eq!(ok[1].rule.as_deref(), Some("r.x"));
}

#[test]
fn every_labelled_command_gets_its_decision() {
    let pack = pack();
    let mut cases = parse_cases(DATA).unwrap_or_else(|e| panic!("commands.tsv: {e}"));
    cases.retain(|c| c.category != PARSER_GAPS);
    cases.extend(generated());
    let mut failures = Vec::new();
    for case in &cases {
        let d = eval(&pack, &case.command);
        if let Some(f) = check(case, &d) {
            failures.push(f);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases disagree with their label:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn parser_gaps_are_fixed() {
    let pack = pack();
    let cases = parse_cases(DATA).unwrap_or_else(|e| panic!("commands.tsv: {e}"));
    let failures: Vec<String> = cases
        .iter()
        .filter(|c| c.category == PARSER_GAPS)
        .filter_map(|c| check(c, &eval(&pack, &c.command)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} parser gaps remain:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_check_itself_can_fail() {
    // a test that cannot fail is a defect: a wrong label must be reported
    let pack = pack();
    let wrong = Case {
        line: 0,
        category: "self-test".into(),
        expect: "allow".into(),
        rule: None,
        command: "rm -rf /".into(),
    };
    let msg = check(&wrong, &eval(&pack, &wrong.command)).expect("a mismatch is reported");
    assert!(
        msg.contains("rm -rf /")
            && msg.contains("expected allow")
            && msg.contains("got      block"),
        "{msg}"
    );
    let wrong_rule = Case {
        expect: "block".into(),
        rule: Some("git.".into()),
        ..wrong
    };
    assert!(check(&wrong_rule, &eval(&pack, &wrong_rule.command)).is_some());
}
