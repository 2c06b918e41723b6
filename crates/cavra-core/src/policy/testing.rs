//! Policy tests: a YAML file of actions and the decision (and rule) each must get.
//!
//! ```yaml
//! pack: cavra-coding-baseline        # optional, informational
//! cwd: /work/repo                    # optional defaults for every case
//! home: /home/dev
//! tests:
//!   - {name: dotenv, action: read_file, target: .env, expect: block, rule: secrets.dotenv.read}
//! ```

use super::source::TestCaseSource;
use super::{yaml, CompiledPack, PolicyError, Problem};
use crate::guard::{evaluate, EvalEnv};
use crate::model::{ActionRequest, ActionType, Actor, McpCall};
use serde::{Deserialize, Serialize};

/// A test file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    #[serde(default)]
    pub pack: Option<String>,
    #[serde(default)]
    pub cwd: Option<String>,
    #[serde(default)]
    pub home: Option<String>,
    #[serde(default)]
    pub tests: Vec<TestCaseSource>,
}

/// Parses a test file.
pub fn parse_test_file(file: &str, src: &str) -> Result<TestFile, PolicyError> {
    let (v, _) = yaml::parse(src).map_err(|e| PolicyError::Invalid {
        problems: vec![Problem {
            file: file.into(),
            line: e.line,
            column: e.col,
            pointer: String::new(),
            message: format!("YAML syntax error: {}", e.message),
            hint: None,
        }],
    })?;
    serde_json::from_value(v).map_err(|e| PolicyError::Invalid {
        problems: vec![Problem {
            file: file.into(),
            line: 1,
            column: 1,
            pointer: String::new(),
            message: format!("invalid test file: {e}"),
            hint: Some("each test needs `action`, `target` and `expect`".into()),
        }],
    })
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub got: String,
    pub expected_rule: Option<String>,
    pub got_rule: String,
    pub reason: String,
}

/// Builds the request of a case.
pub fn request_for(
    case: &TestCaseSource,
    cwd: Option<&str>,
    home: Option<&str>,
) -> Result<ActionRequest, String> {
    let action = ActionType::parse(&case.action)
        .ok_or_else(|| format!("unknown action `{}`", case.action))?;
    let mut req = ActionRequest::new(action, case.target.clone());
    req.actor = Actor {
        agent_id: "policy-test".into(),
        kind: "test".into(),
    };
    req.session_id = "policy-test".into();
    req.operation = case.operation.clone();
    req.cwd = case
        .cwd
        .clone()
        .or(cwd.map(str::to_string))
        .or(Some("/work/repo".into()));
    req.home = home.map(str::to_string).or(Some("/home/dev".into()));
    if action == ActionType::McpToolCall && (case.server.is_some() || case.tool.is_some()) {
        req.mcp = Some(McpCall {
            server: case.server.clone().unwrap_or_default(),
            tool: case.tool.clone().unwrap_or_default(),
            arguments: case.arguments.clone().unwrap_or(serde_json::Value::Null),
            capability: case.operation.clone(),
        });
    }
    Ok(req)
}

/// Runs cases against a pack.
pub fn run(pack: &CompiledPack, file: &TestFile, env: &EvalEnv<'_>) -> Vec<CaseResult> {
    file.tests
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let name = case.name.clone().unwrap_or_else(|| {
                format!("#{} {} {}", i.saturating_add(1), case.action, case.target)
            });
            match request_for(case, file.cwd.as_deref(), file.home.as_deref()) {
                Err(e) => CaseResult {
                    name,
                    passed: false,
                    expected: case.expect.clone(),
                    got: "error".into(),
                    expected_rule: case.rule.clone(),
                    got_rule: String::new(),
                    reason: e,
                },
                Ok(req) => {
                    let d = evaluate(pack, &req, env);
                    let got = d.decision.as_str().to_string();
                    let rule_ok = case.rule.as_ref().is_none_or(|r| r == &d.rule_id);
                    let sev_ok = case
                        .severity
                        .as_ref()
                        .is_none_or(|s| s == d.severity.as_str());
                    CaseResult {
                        name,
                        passed: got == case.expect && rule_ok && sev_ok,
                        expected: case.expect.clone(),
                        got,
                        expected_rule: case.rule.clone(),
                        got_rule: d.rule_id.clone(),
                        reason: d.reason,
                    }
                }
            }
        })
        .collect()
}
