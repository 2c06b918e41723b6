//! CAVRA's agent adapters: each agent's hook event in, the agent's own answer out.
//!
//! For every agent CAVRA integrates with — Claude Code, Codex CLI, Gemini CLI, Cursor and
//! Copilot CLI — an [`Adapter`] turns the agent's hook event (JSON) into either the tool
//! calls to decide, in Claude Code's tool vocabulary ([`ToolCall`]), or an observation to
//! record (post-tool, session start/end, prompts), and turns CAVRA's [`Verdict`] back into
//! what that agent reads: stdout, stderr and an exit code ([`Answer`]).
//!
//! Pure: no files, no stdin, no environment, no clock. The caller reads the event
//! ([`parse_payload`] checks the bytes), decides the calls (the strictest verdict wins, see
//! [`Verdict::strictest`]) and writes the answer; `cavra hook <agent>` does this over
//! stdin/stdout, and an HTTP hook endpoint can do the same over a request body.
//!
//! Every failure fails closed: a malformed event is answered by [`Adapter::reject`], an
//! internal error (a panic, a bad flag, a timeout) by [`fail_closed`] — both deny in the
//! agent's own protocol.

pub mod claude_code;
pub mod codex;
pub mod copilot;
pub mod cursor;
pub mod gemini;

pub use cavra_core::hooks::{AgentKind, ToolCall, Verdict, VerdictKind};

use serde_json::{json, Value};

/// Largest hook payload accepted (bytes).
pub const MAX_PAYLOAD: usize = 4 << 20;

/// The exit code every agent reads as "blocked".
pub const EXIT_BLOCK: i32 = 2;

/// Why an event could not be read: the hook denies with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The transport failed before any event arrived (e.g. stdin could not be read).
    #[error("cannot read the hook payload ({0})")]
    Unreadable(String),
    #[error("hook payload is larger than {} MiB; refusing to analyse it", MAX_PAYLOAD >> 20)]
    TooLarge,
    #[error("hook payload is empty; expected a JSON event on stdin")]
    Empty,
    #[error("hook payload is not UTF-8")]
    NotUtf8,
    #[error("hook payload is not valid JSON ({0})")]
    NotJson(String),
    #[error("hook payload must be a JSON object")]
    NotObject,
    /// A field the event needs is absent (or not a string).
    #[error("the {event} event has no `{field}`")]
    MissingField { event: String, field: &'static str },
    /// The tool's arguments came as a string that is not JSON.
    #[error("`{field}` is a string but not JSON of the tool's arguments ({detail})")]
    ArgsNotJson { field: &'static str, detail: String },
    /// The tool's arguments are neither a JSON string nor an object.
    #[error("`{field}` must be a JSON string or an object of the tool's arguments")]
    ArgsNotObject { field: &'static str },
    /// The event is not one that asks before an action.
    #[error("`{0}` is not a pre-action event")]
    NotPreAction(String),
}

/// A hook event, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// The agent asks before acting: decide these calls.
    Tool(ToolUse),
    /// The agent reports something (a tool's result, a session starting or ending, a
    /// prompt): record it; the answer carries no decision.
    Observed(Observation),
}

/// A pre-action event: the tool calls it implies (one agent action may imply several, e.g.
/// a patch touching three files). The strictest verdict over all of them answers; no calls
/// at all means nothing CAVRA guards.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUse {
    /// The agent's name of the event (`PreToolUse`, `beforeShellExecution`, ...): some
    /// agents can ask the user on some events only.
    pub event: String,
    pub calls: Vec<ToolCall>,
}

/// The kind of evidence record an observation becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A tool's result (`PostToolUse`, `AfterTool`, `afterFileEdit`, ...).
    PostTool,
    /// A session starting, ending or stopping.
    Session,
    /// Anything else the agent reports (prompts, notifications, errors).
    AgentEvent,
}

impl RecordKind {
    /// The evidence log's record kind.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::PostTool => "post_tool",
            RecordKind::Session => "session",
            RecordKind::AgentEvent => "agent_event",
        }
    }

    /// The record kind of an agent event name (any agent's spelling).
    pub fn of_event(event: &str) -> RecordKind {
        let e = event.to_ascii_lowercase();
        if e.starts_with("after") || e.starts_with("post") {
            RecordKind::PostTool
        } else if e.contains("session") || e.contains("stop") {
            RecordKind::Session
        } else {
            RecordKind::AgentEvent
        }
    }
}

/// An observation event to record in the evidence log of the project at `cwd`.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The agent's name of the event.
    pub event: String,
    pub record_kind: RecordKind,
    /// The working directory the agent reported.
    pub cwd: Option<String>,
    /// The evidence record's body (bounded: tool output is summarized).
    pub body: Value,
    /// Whether the answer can carry session context for the agent (a session start of an
    /// agent that reads it): pass it to [`Adapter::observed`].
    pub wants_context: bool,
}

/// What the agent reads back: stdout (one JSON document, no trailing newline; empty for no
/// output), stderr (a line for the person; empty for none) and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

impl Answer {
    fn out(doc: Value) -> Answer {
        Answer {
            stdout: doc.to_string(),
            stderr: String::new(),
            exit_code: 0,
        }
    }

    fn nothing() -> Answer {
        Answer {
            stdout: String::new(),
            stderr: String::new(),
            exit_code: 0,
        }
    }
}

/// The hook protocol of one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adapter {
    agent: AgentKind,
}

impl Adapter {
    pub fn new(agent: AgentKind) -> Adapter {
        Adapter { agent }
    }

    pub fn agent(self) -> AgentKind {
        self.agent
    }

    /// Reads one hook event: the tool calls to decide, or an observation to record.
    pub fn parse(self, event: &Value) -> Result<Parsed, AdapterError> {
        if !event.is_object() {
            return Err(AdapterError::NotObject);
        }
        match self.agent {
            AgentKind::ClaudeCode => claude_code::parse(event),
            AgentKind::Codex => codex::parse(event),
            AgentKind::Gemini => gemini::parse(event),
            AgentKind::Cursor => cursor::parse(event),
            AgentKind::Copilot => copilot::parse(event),
        }
    }

    /// The answer to a pre-action event, given the verdict over its calls.
    pub fn answer(self, tool_use: &ToolUse, verdict: &Verdict) -> Answer {
        match self.agent {
            AgentKind::ClaudeCode => claude_code::answer(verdict),
            AgentKind::Codex => codex::answer(verdict),
            AgentKind::Gemini => gemini::answer(verdict),
            AgentKind::Cursor => cursor::answer(&tool_use.event, verdict),
            AgentKind::Copilot => copilot::answer(verdict),
        }
    }

    /// The answer to an observation; `context` is the session context for the agent when
    /// [`Observation::wants_context`] asked for it.
    pub fn observed(self, obs: &Observation, context: Option<&str>) -> Answer {
        let context = context.filter(|_| obs.wants_context);
        match self.agent {
            AgentKind::ClaudeCode | AgentKind::Codex => match context {
                Some(c) => Answer::out(session_context(c)),
                None => Answer::nothing(),
            },
            AgentKind::Gemini => Answer::out(context.map_or_else(|| json!({}), session_context)),
            AgentKind::Cursor => Answer::out(match context {
                Some(c) => json!({ "additional_context": c }),
                None => json!({}),
            }),
            AgentKind::Copilot => Answer::nothing(),
        }
    }

    /// The deny answer to an event that could not be read (fail closed).
    pub fn reject(self, err: &AdapterError) -> Answer {
        match self.agent {
            AgentKind::ClaudeCode => claude_code::reject(err),
            AgentKind::Codex => codex::reject(err),
            AgentKind::Gemini => gemini::reject(err),
            AgentKind::Cursor => cursor::reject(err),
            AgentKind::Copilot => copilot::reject(err),
        }
    }
}

/// The verdict when an action implies no call CAVRA guards.
pub fn nothing_guarded() -> Verdict {
    Verdict {
        kind: VerdictKind::NoOpinion,
        reason: "CAVRA: this action touches nothing CAVRA guards".into(),
    }
}

/// Checks the bytes of a hook payload (at most [`MAX_PAYLOAD`]; a reader hands over up to
/// one byte more so that an oversized payload is seen): a UTF-8 JSON object.
pub fn parse_payload(bytes: &[u8]) -> Result<Value, AdapterError> {
    if bytes.len() > MAX_PAYLOAD {
        return Err(AdapterError::TooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AdapterError::Empty);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| AdapterError::NotUtf8)?;
    let v: Value = serde_json::from_str(text).map_err(|e| AdapterError::NotJson(e.to_string()))?;
    if !v.is_object() {
        return Err(AdapterError::NotObject);
    }
    Ok(v)
}

/// The deny document of `agent`'s hook protocol; for an unknown agent, one document that
/// carries every protocol's deny fields (the exit code 2 blocks in all of them anyway).
pub fn deny_document(agent: Option<AgentKind>, reason: &str) -> Value {
    match agent {
        Some(AgentKind::ClaudeCode | AgentKind::Codex) => claude_code::decision("deny", reason),
        Some(AgentKind::Gemini) => gemini::decision("deny", reason),
        Some(AgentKind::Cursor) => cursor::permission("deny", reason, reason),
        Some(AgentKind::Copilot) => copilot::decision("deny", reason),
        None => {
            let mut all = serde_json::Map::new();
            for a in AgentKind::ALL {
                if let Value::Object(doc) = deny_document(Some(a), reason) {
                    all.extend(doc);
                }
            }
            Value::Object(all)
        }
    }
}

/// The answer to an internal error (a panic, a bad flag, a timeout): `agent`'s deny
/// document, the reason on stderr, exit 2 — never anything an agent reads as "proceed".
pub fn fail_closed(agent: Option<AgentKind>, reason: &str) -> Answer {
    Answer {
        stdout: deny_document(agent, reason).to_string(),
        stderr: reason.to_string(),
        exit_code: EXIT_BLOCK,
    }
}

/// A Claude-Code-style `SessionStart` answer carrying `context` (Claude Code, Codex, Gemini).
fn session_context(context: &str) -> Value {
    json!({"hookSpecificOutput": {
        "hookEventName": "SessionStart",
        "additionalContext": context,
    }})
}

/// Parses a Claude-Code-style event (Claude Code, Codex and Gemini CLI share the shape):
/// `hook_event_name` (default `pre`), `session_id`, `cwd`, `tool_name`, `tool_input`. The
/// `pre` event asks before a tool runs and `map` gives its calls; any other event is an
/// observation, recorded with the `extra` fields of the agent's events too.
pub(crate) fn parse_claude_style(
    event: &Value,
    agent: AgentKind,
    pre: &str,
    extra: &[&str],
    map: impl FnOnce(&str, Option<&str>, &str, &Value) -> Vec<ToolCall>,
) -> Result<Parsed, AdapterError> {
    let name = str_of(event, &["hook_event_name"]).unwrap_or_else(|| pre.into());
    let session = str_of(event, &["session_id"]).unwrap_or_else(|| "unknown-session".into());
    let cwd = str_of(event, &["cwd"]);
    if name != pre {
        let mut body = json!({
            "agent": agent.as_str(),
            "event": name,
            "session_id": session,
            "tool_name": event.get("tool_name"),
            "tool_input": event.get("tool_input"),
            "tool_response_summary": summary(event.get("tool_response")),
            "source": event.get("source"),
            "cwd": cwd,
        });
        if let Some(obj) = body.as_object_mut() {
            for k in extra {
                obj.insert((*k).into(), event.get(*k).cloned().unwrap_or(Value::Null));
            }
        }
        return Ok(Parsed::Observed(Observation {
            wants_context: name == "SessionStart",
            record_kind: RecordKind::of_event(&name),
            event: name,
            cwd,
            body,
        }));
    }
    let tool = str_of(event, &["tool_name"]).ok_or(AdapterError::MissingField {
        event: name.clone(),
        field: "tool_name",
    })?;
    let input = event.get("tool_input").cloned().unwrap_or(Value::Null);
    Ok(Parsed::Tool(ToolUse {
        calls: map(&session, cwd.as_deref(), &tool, &input),
        event: name,
    }))
}

/// The first string field of `v` among `keys`.
pub(crate) use cavra_core::hooks::str_field as str_of;

/// A tool call in Claude Code's vocabulary.
pub fn call(
    agent: AgentKind,
    session: &str,
    cwd: Option<&str>,
    tool: &str,
    input: Value,
) -> ToolCall {
    ToolCall {
        agent,
        session_id: session.to_string(),
        cwd: cwd.map(str::to_string),
        tool: tool.to_string(),
        input,
    }
}

/// `{key: value}` when one of `keys` holds a string, else the original input (so that the
/// tool mapping reports the missing field and the call fails closed).
pub(crate) fn norm(input: &Value, key: &str, keys: &[&str]) -> Value {
    match str_of(input, keys) {
        Some(v) => json!({ key: v }),
        None => input.clone(),
    }
}

/// Longest tool output kept in an evidence record (characters).
pub const SUMMARY_CHARS: usize = 512;

/// A compact, bounded rendering of a tool response for the evidence log.
pub fn summary(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(cavra_core::text::truncate_chars(&s, SUMMARY_CHARS).into_owned())
}

/// Shell-quotes `s` (POSIX single quotes) when needed.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Helpers for the adapters' tests.
#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
pub(crate) mod testing {
    use super::*;

    /// The tool calls of a parse that must be a tool use.
    pub fn calls(p: Result<Parsed, AdapterError>) -> Vec<ToolCall> {
        match p {
            Ok(Parsed::Tool(t)) => t.calls,
            other => panic!("not a tool use: {other:?}"),
        }
    }

    /// The observation of a parse that must be one.
    pub fn observed(p: Result<Parsed, AdapterError>) -> Observation {
        match p {
            Ok(Parsed::Observed(o)) => o,
            other => panic!("not an observation: {other:?}"),
        }
    }

    /// The message of a parse that must fail.
    pub fn error(p: Result<Parsed, AdapterError>) -> String {
        match p {
            Err(e) => e.to_string(),
            other => panic!("not an error: {other:?}"),
        }
    }

    pub fn verdict(kind: VerdictKind) -> Verdict {
        Verdict {
            kind,
            reason: "why".into(),
        }
    }

    /// The stdout document of an answer.
    pub fn doc(a: &Answer) -> Value {
        serde_json::from_str(&a.stdout).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        assert_eq!(parse_payload(b" \n"), Err(AdapterError::Empty));
        assert_eq!(parse_payload(b"[1]"), Err(AdapterError::NotObject));
        assert_eq!(parse_payload(b"\xff\xfe"), Err(AdapterError::NotUtf8));
        let e = parse_payload(b"{not json").err();
        assert!(
            matches!(&e, Some(AdapterError::NotJson(d)) if !d.is_empty()),
            "{e:?}"
        );
        assert!(e
            .map(|e| e.to_string())
            .is_some_and(|m| m.starts_with("hook payload is not valid JSON (")));
        let big = vec![b' '; MAX_PAYLOAD + 1];
        assert_eq!(parse_payload(&big), Err(AdapterError::TooLarge));
        assert_eq!(
            AdapterError::TooLarge.to_string(),
            "hook payload is larger than 4 MiB; refusing to analyse it"
        );
        assert_eq!(parse_payload(br#"{"a": 1}"#).ok(), Some(json!({"a": 1})));
    }

    #[test]
    fn every_parse_refuses_a_non_object() {
        for a in AgentKind::ALL {
            assert_eq!(
                Adapter::new(a).parse(&json!([1])),
                Err(AdapterError::NotObject),
                "{a}"
            );
        }
    }

    #[test]
    fn every_fail_closed_answer_denies_with_exit_2() {
        let agents = AgentKind::ALL.map(Some);
        for a in agents.iter().copied().chain([None]) {
            let ans = fail_closed(a, "CAVRA failed closed: internal error");
            assert_eq!(ans.exit_code, EXIT_BLOCK, "{a:?}");
            assert!(ans.stdout.contains("\"deny\""), "{a:?}: {}", ans.stdout);
            assert!(!ans.stdout.contains("allow"), "{a:?}: {}", ans.stdout);
            assert_eq!(ans.stderr, "CAVRA failed closed: internal error");
        }
        let all = deny_document(None, "r");
        assert_eq!(all["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(all["decision"], "deny");
        assert_eq!(all["permission"], "deny");
        assert_eq!(all["permissionDecision"], "deny");
    }

    #[test]
    fn every_reject_denies() {
        let err = AdapterError::Empty;
        for a in AgentKind::ALL {
            let ans = Adapter::new(a).reject(&err);
            assert!(
                ans.exit_code == EXIT_BLOCK || ans.stdout.contains("\"deny\""),
                "{a}: {ans:?}"
            );
            assert!(!ans.stdout.contains("allow"), "{a}: {ans:?}");
            assert!(ans.stderr.contains("hook payload is empty"), "{a}: {ans:?}");
        }
    }

    #[test]
    fn record_kinds() {
        assert_eq!(RecordKind::of_event("AfterTool"), RecordKind::PostTool);
        assert_eq!(RecordKind::of_event("postToolUse"), RecordKind::PostTool);
        assert_eq!(RecordKind::of_event("afterFileEdit"), RecordKind::PostTool);
        assert_eq!(RecordKind::of_event("SessionEnd"), RecordKind::Session);
        assert_eq!(RecordKind::of_event("stop"), RecordKind::Session);
        assert_eq!(
            RecordKind::of_event("userPromptSubmitted"),
            RecordKind::AgentEvent
        );
        assert_eq!(RecordKind::PostTool.as_str(), "post_tool");
    }

    #[test]
    fn summaries_are_bounded() {
        assert_eq!(summary(None), None);
        assert_eq!(summary(Some(&json!("ok"))).as_deref(), Some("ok"));
        assert_eq!(
            summary(Some(&json!({"a": 1}))).as_deref(),
            Some("{\"a\":1}")
        );
        let long = "é".repeat(SUMMARY_CHARS + 10);
        let s = summary(Some(&json!(long))).unwrap_or_default();
        assert_eq!(s.chars().count(), SUMMARY_CHARS + 1);
        assert!(s.ends_with('…'));
        let exact = "x".repeat(SUMMARY_CHARS);
        assert_eq!(
            summary(Some(&json!(exact))).as_deref(),
            Some(exact.as_str())
        );
    }

    /// The adapters stay pure: core, JSON and error derives, nothing that does I/O or
    /// parses a command line (the CLI and an HTTP server both build on them).
    #[test]
    fn depends_on_core_and_json_only() {
        let manifest = include_str!("../Cargo.toml");
        let deps: Vec<&str> = manifest
            .split("[dependencies]")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .take_while(|l| !l.starts_with('['))
            .filter_map(|l| l.split(['.', '=', ' ']).next())
            .filter(|name| !name.is_empty())
            .collect();
        assert_eq!(deps, ["cavra-core", "serde_json", "thiserror"]);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/usr/bin/cavra"), "/usr/bin/cavra");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
