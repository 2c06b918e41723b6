//! Action requests from every input shape a front end receives: the reference JSON shape
//! (`action_type`, `target`, `policy_pack`, `session_id`, `agent_id`, `actor`, `server`,
//! `tool`, `capability`, `operation`), a structured action and target, and — through
//! `cavra_core::hooks::map_tool` — an agent's tool call. [`Placement`] then says where it
//! happens, the same way for every entry point.

use crate::error::RequestError;
use crate::locate::{place, Location, Locator};
use cavra_core::{ActionRequest, ActionType, Actor, McpCall, Mode};
use serde_json::Value;

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(|x| x.as_str()).map(str::to_string)
}

/// Builds a request from the reference JSON shape.
pub fn from_json(v: &Value) -> Result<ActionRequest, RequestError> {
    let action = s(v, "action_type").ok_or(RequestError::NoActionType)?;
    let at = ActionType::parse(&action)
        .ok_or_else(|| RequestError::UnknownActionType(action.clone()))?;
    let mut req = ActionRequest::new(at, s(v, "target").unwrap_or_default());
    req.session_id = s(v, "session_id").unwrap_or_else(|| "default".into());
    req.actor = Actor {
        agent_id: s(v, "agent_id").unwrap_or_else(|| "unknown-agent".into()),
        kind: s(v, "actor").unwrap_or_else(|| "agent".into()),
    };
    req.operation = s(v, "operation")
        .or_else(|| s(v, "requested_operation"))
        .or_else(|| s(v, "capability"));
    req.policy_pack = s(v, "policy_pack");
    req.cwd = s(v, "cwd");
    req.repo_root = s(v, "repo_root");
    if at == ActionType::McpToolCall {
        if let Some(server) = s(v, "server") {
            req.mcp = Some(McpCall {
                server,
                tool: s(v, "tool").unwrap_or_default(),
                arguments: v.get("arguments").cloned().unwrap_or(Value::Null),
                capability: s(v, "capability"),
            });
        }
    }
    Ok(req)
}

/// Builds a request from the text of a request in the reference JSON shape.
pub fn from_json_text(text: &str) -> Result<ActionRequest, RequestError> {
    let v: Value = serde_json::from_str(text).map_err(|e| RequestError::NotJson(e.to_string()))?;
    from_json(&v)
}

/// Builds a request from an action name (`read_file`, `execute_command`, ...) and target,
/// made by `agent_id` in `session_id` from the command line.
pub fn from_action(
    action: &str,
    target: &str,
    session_id: &str,
    agent_id: &str,
) -> Result<ActionRequest, RequestError> {
    let at =
        ActionType::parse(action).ok_or_else(|| RequestError::UnknownAction(action.to_string()))?;
    let mut req = ActionRequest::new(at, target.to_string());
    req.session_id = session_id.to_string();
    req.actor = Actor {
        agent_id: agent_id.to_string(),
        kind: "cli".into(),
    };
    Ok(req)
}

/// What a caller may say about where and how a request happens, over what the request
/// itself carries.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The requested operation (git: `push`; MCP: capability), replacing the request's.
    pub operation: Option<String>,
    /// The working directory, used when the request names none.
    pub cwd: Option<String>,
    /// The repository root, replacing the resolved one (the request's own wins over the
    /// resolved one too).
    pub repo: Option<String>,
    /// `enforce` or `shadow`, replacing the pack's mode.
    pub mode: Option<String>,
}

impl Placement {
    /// Applies the placement to `req`: where the action happens is resolved as the hook
    /// resolves it (absolute cwd, repository, branch, home).
    pub fn apply(&self, req: &mut ActionRequest, locator: &Locator) -> Result<(), RequestError> {
        self.apply_located(req, locator).map(drop)
    }

    /// [`Placement::apply`], returning the location the request was placed at (so that a
    /// caller needing it again does not resolve it again on disk).
    pub fn apply_located(
        &self,
        req: &mut ActionRequest,
        locator: &Locator,
    ) -> Result<Location, RequestError> {
        if self.operation.is_some() {
            req.operation = self.operation.clone();
        }
        let given_repo = self.repo.clone().or_else(|| req.repo_root.clone());
        let cwd = req.cwd.clone().or_else(|| self.cwd.clone());
        let loc = locator.locate(cwd.as_deref());
        place(req, &loc);
        if given_repo.is_some() {
            req.repo_root = given_repo;
        }
        if let Some(m) = &self.mode {
            req.mode = Some(Mode::parse(m).ok_or_else(|| RequestError::UnknownMode(m.clone()))?);
        }
        Ok(loc)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_shape() {
        let r = from_json(&json!({
            "action_type": "mcp_tool_call", "target": "gh:create_issue", "server": "gh",
            "tool": "create_issue", "capability": "write", "agent_id": "a", "session_id": "s"
        }))
        .unwrap();
        assert_eq!(r.action, Some(ActionType::McpToolCall));
        assert_eq!(r.operation.as_deref(), Some("write"));
        assert_eq!(r.mcp.as_ref().unwrap().server, "gh");
        assert_eq!(r.actor.agent_id, "a");
        assert_eq!(
            from_json(&json!({"target": "x"})).unwrap_err(),
            RequestError::NoActionType
        );
        assert_eq!(
            from_json_text("{\"action_type\": \"read_file\", \"target\": \"a\"}")
                .unwrap()
                .target,
            "a"
        );
        assert!(from_json_text("{")
            .unwrap_err()
            .to_string()
            .starts_with("the request is not valid JSON: "));
        assert_eq!(
            from_json(&json!({"action_type": "fly"}))
                .unwrap_err()
                .to_string(),
            "unknown action_type `fly`"
        );
    }

    #[test]
    fn structured_action_and_placement() {
        let mut r = from_action("read_file", ".env", "s", "cli").unwrap();
        assert!(from_action("fly", "x", "s", "cli").is_err());
        let dir = tempfile::tempdir().unwrap();
        let locator = Locator {
            cwd: dir.path().to_path_buf(),
            home: None,
        };
        let p = Placement {
            mode: Some("shadow".into()),
            repo: Some("/r".into()),
            ..Default::default()
        };
        p.apply(&mut r, &locator).unwrap();
        assert_eq!(r.cwd.as_deref(), Some(dir.path().to_str().unwrap()));
        assert_eq!(r.repo_root.as_deref(), Some("/r"));
        assert_eq!(r.mode, Some(Mode::Shadow));
        let bad = Placement {
            mode: Some("loud".into()),
            ..Default::default()
        };
        assert!(bad.apply(&mut r, &locator).is_err());
    }
}
