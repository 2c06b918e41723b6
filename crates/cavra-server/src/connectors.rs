//! Connectors (`connectors:` in the `cavra serve` config file, docs/connectors.md): evidence
//! records delivered to a signed webhook, Slack, Microsoft Teams, Jira and ServiceNow
//! (tickets for approvals and blocks), Splunk HEC, Datadog and Microsoft Sentinel.
//!
//! Delivery runs on one worker thread (blocking `ureq`, never on the async runtime): each
//! delivery is tried up to `max_attempts` times with exponential backoff, then appended to
//! the dead-letter file. Secrets (tokens, signing keys, webhook URLs that carry a token) come
//! from the environment or a file and live only in memory: never in evidence, logs or
//! `Debug` output. Records are the evidence log's, already redacted.

use cavra_evidence::export::{host_name, to_datadog, to_sentinel, to_splunk_hec};
use cavra_evidence::Record;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// A configuration problem, named by its place in the file.
#[derive(Debug, thiserror::Error)]
#[error("connectors: {0}")]
pub struct ConfigError(pub String);

/// A value that must not be shown: from `NAME_env` (an environment variable) or
/// `NAME_file` (a file, trimmed).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What a connector does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Slack,
    Teams,
    Jira,
    ServiceNow,
    SplunkHec,
    Datadog,
    Sentinel,
}

impl Kind {
    const ALL: [(&'static str, Kind); 8] = [
        ("webhook", Kind::Webhook),
        ("slack", Kind::Slack),
        ("teams", Kind::Teams),
        ("jira", Kind::Jira),
        ("servicenow", Kind::ServiceNow),
        ("splunk_hec", Kind::SplunkHec),
        ("datadog", Kind::Datadog),
        ("sentinel", Kind::Sentinel),
    ];

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().find(|(n, _)| *n == s).map(|(_, k)| *k)
    }

    pub fn as_str(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(n, _)| n)
    }

    /// Ticket and chat connectors get what needs a person (blocks, holds, approval
    /// requests); the SIEMs and the webhook every record.
    fn default_events(self) -> Vec<String> {
        match self {
            Kind::Slack | Kind::Teams | Kind::Jira | Kind::ServiceNow => {
                vec![
                    "decision.block".into(),
                    "decision.require_approval".into(),
                    "approval.requested".into(),
                ]
            }
            _ => vec!["*".into()],
        }
    }
}

/// One configured connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    pub name: String,
    pub kind: Kind,
    /// Where to deliver (for Slack / Teams, the incoming-webhook URL, itself a secret:
    /// `url_env` / `url_file`).
    pub url: Secret,
    /// The signing key (webhook), token (Splunk, Sentinel bearer, Jira / ServiceNow
    /// password or API token) or API key (Datadog).
    pub secret: Option<Secret>,
    /// Jira / ServiceNow user.
    pub user: Option<String>,
    /// Jira project key; ServiceNow table (default `incident`).
    pub project: Option<String>,
    /// Which records: `*`, a record kind (`approval.requested`), or `decision.<outcome>`.
    pub events: Vec<String>,
}

/// The `connectors:` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub connectors: Vec<Connector>,
    pub max_attempts: u32,
    /// The first retry's wait; each next one doubles, up to 60 s.
    pub backoff: Duration,
    pub timeout: Duration,
    /// Deliveries that failed every attempt, one JSON line each (no secrets).
    pub dead_letter: Option<PathBuf>,
    /// The Approve / Deny callbacks of Slack messages (`slack_interactions:`).
    pub slack: Option<crate::slack::SlackSettings>,
}

/// Reads a secret's value: `env` names an environment variable, `file` a file.
pub type SecretSource<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Settings {
    /// Parses the `connectors:` value: `{max_attempts, backoff_ms, timeout_ms,
    /// dead_letter_file, targets: [{name, type, url | url_env | url_file, secret_env |
    /// secret_file, user, project, events}]}`. `env` reads environment variables; relative
    /// files are resolved against `base`.
    pub fn parse(v: &Value, base: &Path, env: SecretSource<'_>) -> Result<Settings, ConfigError> {
        let err = |m: String| ConfigError(m);
        let map = v
            .as_object()
            .ok_or_else(|| err("expected a mapping".into()))?;
        let num = |k: &str, d: u64| -> Result<u64, ConfigError> {
            map.get(k).map_or(Ok(d), |x| {
                x.as_u64()
                    .ok_or_else(|| err(format!("`{k}` must be a positive whole number")))
            })
        };
        let mut s = Settings {
            max_attempts: u32::try_from(num("max_attempts", 5)?)
                .unwrap_or(u32::MAX)
                .clamp(1, 100),
            backoff: Duration::from_millis(num("backoff_ms", 500)?),
            timeout: Duration::from_millis(num("timeout_ms", 10_000)?.max(1)),
            dead_letter: map
                .get("dead_letter_file")
                .and_then(Value::as_str)
                .map(|p| base.join(p)),
            connectors: Vec::new(),
            slack: map
                .get("slack_interactions")
                .map(|v| slack_settings(v, base, env))
                .transpose()?,
        };
        for k in map.keys() {
            if ![
                "max_attempts",
                "backoff_ms",
                "timeout_ms",
                "dead_letter_file",
                "targets",
                "slack_interactions",
            ]
            .contains(&k.as_str())
            {
                return Err(err(format!("unknown setting `{k}` (known: targets, max_attempts, backoff_ms, timeout_ms, dead_letter_file, slack_interactions)")));
            }
        }
        let targets = map
            .get("targets")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, t) in targets.iter().enumerate() {
            let at = |m: &str| err(format!("targets[{i}]: {m}"));
            let field = |k: &str| t.get(k).and_then(Value::as_str).map(str::to_string);
            let ty = field("type").ok_or_else(|| at("`type` is required"))?;
            let kind = Kind::parse(&ty).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|(n, _)| *n).collect();
                at(&format!(
                    "unknown type `{ty}` (known: {})",
                    known.join(", ")
                ))
            })?;
            let secret = |k: &str| -> Result<Option<Secret>, ConfigError> {
                if let Some(name) = field(&format!("{k}_env")) {
                    let v = env(&name).filter(|v| !v.is_empty());
                    return v.map(|v| Some(Secret(v))).ok_or_else(|| {
                        at(&format!(
                            "`{k}_env`: the environment variable `{name}` is not set"
                        ))
                    });
                }
                if let Some(p) = field(&format!("{k}_file")) {
                    let path = base.join(p);
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| at(&format!("`{k}_file` `{}`: {e}", path.display())))?;
                    return Ok(Some(Secret(text.trim().to_string())));
                }
                Ok(None)
            };
            if t.get("secret").is_some()
                || (matches!(kind, Kind::Slack | Kind::Teams) && t.get("url").is_some())
            {
                return Err(at("secrets are never written in the config file: use `secret_env` / `secret_file` (Slack and Teams webhook URLs: `url_env` / `url_file`)"));
            }
            let url = match field("url") {
                Some(u) => Some(Secret(u)),
                None => secret("url")?,
            }
            .ok_or_else(|| at("`url` (or `url_env` / `url_file`) is required"))?;
            if !(url.0.starts_with("http://") || url.0.starts_with("https://")) {
                return Err(at("the URL must start with http:// or https://"));
            }
            let secret = secret("secret")?;
            let needs_secret = !matches!(kind, Kind::Slack | Kind::Teams);
            if needs_secret && secret.is_none() {
                return Err(at(&format!(
                    "a `{ty}` connector needs `secret_env` or `secret_file`"
                )));
            }
            let events = match t.get("events").and_then(Value::as_array) {
                Some(a) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                None => kind.default_events(),
            };
            s.connectors.push(Connector {
                name: field("name").unwrap_or_else(|| format!("{ty}-{i}")),
                kind,
                url,
                secret,
                user: field("user"),
                project: field("project"),
                events,
            });
        }
        Ok(s)
    }
}

/// `slack_interactions: {signing_secret_env | signing_secret_file, approvers: {SLACK_USER_ID:
/// {identity, role}}}`.
fn slack_settings(
    v: &Value,
    base: &Path,
    env: SecretSource<'_>,
) -> Result<crate::slack::SlackSettings, ConfigError> {
    let err = |m: String| ConfigError(format!("slack_interactions: {m}"));
    let field = |k: &str| v.get(k).and_then(Value::as_str);
    let secret = if let Some(name) = field("signing_secret_env") {
        env(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err(format!("the environment variable `{name}` is not set")))?
    } else if let Some(p) = field("signing_secret_file") {
        let path = base.join(p);
        std::fs::read_to_string(&path)
            .map_err(|e| err(format!("`{}`: {e}", path.display())))?
            .trim()
            .to_string()
    } else {
        return Err(err(
            "`signing_secret_env` or `signing_secret_file` is required".into(),
        ));
    };
    let mut approvers = std::collections::BTreeMap::new();
    for (user, a) in v
        .get("approvers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let identity = a
            .get("identity")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty());
        let identity =
            identity.ok_or_else(|| err(format!("approvers.{user}: `identity` is required")))?;
        let role = a.get("role").and_then(Value::as_str).unwrap_or("approver");
        let role = cavra_auth::Role::parse(role)
            .ok_or_else(|| err(format!("approvers.{user}: unknown role `{role}`")))?;
        approvers.insert(user.clone(), (identity.to_string(), role));
    }
    Ok(crate::slack::SlackSettings {
        signing_secret: Secret(secret),
        approvers,
    })
}

impl Connector {
    /// Does this connector take `record`?
    pub fn wants(&self, record: &Record) -> bool {
        let outcome = record
            .body
            .get("cavra_decision")
            .and_then(Value::as_str)
            .unwrap_or("");
        let decision_event = format!("{}.{outcome}", record.kind);
        self.events
            .iter()
            .any(|e| e == "*" || *e == record.kind || *e == decision_event)
    }

    /// The HTTP request that delivers `record`: (URL, headers, body).
    pub fn request(
        &self,
        record: &Record,
        delivery_id: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let secret = self.secret.as_ref().map(Secret::expose).unwrap_or("");
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        let basic = || {
            use base64::Engine;
            let cred = format!("{}:{secret}", self.user.as_deref().unwrap_or(""));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(cred)
            )
        };
        let url = self.url.expose().trim_end_matches('/').to_string();
        let (url, body) = match self.kind {
            Kind::Webhook => (
                url,
                json!({"delivery_id": delivery_id, "kind": record.kind, "record": record}),
            ),
            Kind::Slack => (url, slack_message(record)),
            Kind::Teams => (url, teams_card(record)),
            Kind::Jira => {
                headers.push(("Authorization".into(), basic()));
                let project = self.project.as_deref().unwrap_or("SEC");
                (
                    format!("{url}/rest/api/2/issue"),
                    json!({"fields": {
                        "project": {"key": project}, "issuetype": {"name": "Task"},
                        "summary": summary(record), "description": details(record),
                        "labels": ["cavra", record.kind.replace('.', "-")],
                    }}),
                )
            }
            Kind::ServiceNow => {
                headers.push(("Authorization".into(), basic()));
                let table = self.project.as_deref().unwrap_or("incident");
                (
                    format!("{url}/api/now/table/{table}"),
                    json!({
                        "short_description": summary(record), "description": details(record),
                        "category": "security", "urgency": urgency(record), "correlation_id": record.record_id,
                        "correlation_display": "CAVRA",
                    }),
                )
            }
            Kind::SplunkHec => {
                headers.push(("Authorization".into(), format!("Splunk {secret}")));
                (url, to_splunk_hec(record, &host_name()))
            }
            Kind::Datadog => {
                headers.push(("DD-API-KEY".into(), secret.to_string()));
                (url, json!([to_datadog(record, &host_name())]))
            }
            Kind::Sentinel => {
                headers.push(("Authorization".into(), format!("Bearer {secret}")));
                (url, json!([to_sentinel(record)]))
            }
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        if self.kind == Kind::Webhook {
            headers.push(("X-Cavra-Delivery".into(), delivery_id.to_string()));
            headers.push((
                "X-Cavra-Signature".into(),
                format!("sha256={}", sign(secret.as_bytes(), &body)),
            ));
        }
        (url, headers, body)
    }
}

/// HMAC-SHA256 of `body` under `key`, hex (the webhook's `X-Cavra-Signature`).
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn s<'a>(r: &'a Record, k: &str) -> &'a str {
    r.body.get(k).and_then(Value::as_str).unwrap_or("")
}

fn summary(r: &Record) -> String {
    let t = cavra_core::text::truncate_chars(s(r, "target"), 120);
    match r.kind.as_str() {
        "decision" => format!(
            "CAVRA {} {} `{t}` ({})",
            s(r, "cavra_decision"),
            s(r, "action_type"),
            s(r, "rule_id")
        ),
        k => format!("CAVRA {k}: `{t}`"),
    }
}

fn details(r: &Record) -> String {
    format!(
        "{}\nagent: {}\nsession: {}\nrule: {}\nreason: {}\npolicy: {} {}\nrecord: {} (seq {})\ntime: {}",
        summary(r), s(r, "agent_id"), s(r, "session_id"), s(r, "rule_id"), s(r, "reason"),
        s(r, "policy_id"), s(r, "policy_digest"), r.record_id, r.seq, r.timestamp
    )
}

fn urgency(r: &Record) -> &'static str {
    match s(r, "severity") {
        "critical" | "high" => "1",
        "medium" => "2",
        _ => "3",
    }
}

/// A Slack message (Block Kit) for the record.
pub fn slack_message(r: &Record) -> Value {
    let mut m = slack_text(r);
    // a held decision with an approval request: the buttons a mapped approver clicks
    // (`POST /v1/connectors/slack/interactions`); the value is the approval's id only
    if let (Some(id), Some(blocks)) = (
        r.body.get("approval_id").and_then(Value::as_str),
        m["blocks"].as_array_mut(),
    ) {
        blocks.push(json!({"type": "actions", "block_id": "cavra_approval", "elements": [
            {"type": "button", "action_id": "cavra_approve", "style": "primary", "value": id, "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "cavra_deny", "style": "danger", "value": id, "text": {"type": "plain_text", "text": "Deny"}},
        ]}));
    }
    m
}

fn slack_text(r: &Record) -> Value {
    json!({
        "text": summary(r),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*\n{}", summary(r), s(r, "reason"))}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("agent `{}` · session `{}` · record `{}`", s(r, "agent_id"), s(r, "session_id"), r.record_id)}]},
        ],
    })
}

/// A Microsoft Teams message with an Adaptive Card for the record.
pub fn teams_card(r: &Record) -> Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard", "version": "1.4",
                "body": [
                    {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": summary(r)},
                    {"type": "TextBlock", "wrap": true, "text": s(r, "reason")},
                    {"type": "FactSet", "facts": [
                        {"title": "agent", "value": s(r, "agent_id")},
                        {"title": "session", "value": s(r, "session_id")},
                        {"title": "record", "value": r.record_id},
                    ]},
                ],
            },
        }],
    })
}

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delivery {
    pub delivery_id: String,
    pub connector: String,
    pub kind: &'static str,
    /// The target's host (and port), never its URL (a webhook URL's path may be a secret).
    pub target_host: String,
    pub record_id: String,
    /// The record's kind, and the approval an approval record is about.
    pub record_kind: String,
    pub approval_id: Option<String>,
    pub attempts: u32,
    /// `delivered` or `dead_letter`.
    pub status: &'static str,
    /// The last failure (status code or transport error), when any.
    pub error: Option<String>,
    /// When the first attempt started.
    #[serde(skip)]
    pub started_at: Option<cavra_store::OffsetDateTime>,
}

/// The host (and port) of `url`, without user info, path or query; `unknown` when it has
/// none.
pub fn target_host(url: &str) -> String {
    match url.parse::<ureq::http::Uri>() {
        Ok(u) => match (u.host(), u.port_u16()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "unknown".into(),
        },
        Err(_) => "unknown".into(),
    }
}

/// The worker: records in, deliveries out (to `on_delivery`, e.g. the store or a test).
pub struct Dispatcher {
    tx: Option<mpsc::Sender<Record>>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Dispatcher {
    /// Starts the worker thread.
    pub fn start(
        settings: Settings,
        on_delivery: impl Fn(&Delivery) + Send + 'static,
    ) -> Dispatcher {
        let (tx, rx) = mpsc::channel::<Record>();
        let worker = std::thread::Builder::new()
            .name("cavra-connectors".into())
            .spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(settings.timeout))
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut n: u64 = 0;
                for record in rx {
                    for c in settings.connectors.iter().filter(|c| c.wants(&record)) {
                        n = n.saturating_add(1);
                        let id = format!("{}-{}-{n}", record.record_id, c.name);
                        let d = deliver(&agent, &settings, c, &record, &id);
                        if d.status == "dead_letter" {
                            dead_letter(&settings, &d, &record);
                        }
                        on_delivery(&d);
                    }
                }
            })
            .ok();
        Dispatcher {
            tx: Some(tx),
            worker,
        }
    }

    /// Queues `record` (never blocks the caller).
    pub fn send(&self, record: Record) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(record);
        }
    }

    /// Stops taking records and waits for the queued ones.
    pub fn finish(mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn deliver(agent: &ureq::Agent, s: &Settings, c: &Connector, r: &Record, id: &str) -> Delivery {
    let (url, headers, body) = c.request(r, id);
    let mut d = Delivery {
        delivery_id: id.to_string(),
        connector: c.name.clone(),
        kind: c.kind.as_str(),
        target_host: target_host(&url),
        record_id: r.record_id.clone(),
        record_kind: r.kind.clone(),
        approval_id: r
            .body
            .get("approval_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        attempts: 0,
        status: "dead_letter",
        error: None,
        started_at: Some(cavra_store::OffsetDateTime::now_utc()),
    };
    let mut wait = s.backoff;
    while d.attempts < s.max_attempts {
        if d.attempts > 0 {
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2).min(Duration::from_secs(60));
        }
        d.attempts = d.attempts.saturating_add(1);
        let mut req = agent.post(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        match req.send(&body[..]) {
            Ok(resp) if resp.status().is_success() => {
                d.status = "delivered";
                d.error = None;
                return d;
            }
            Ok(resp) => d.error = Some(format!("HTTP {}", resp.status().as_u16())),
            // the transport error names the host, never the URL's path (a Slack webhook
            // URL's path is its secret)
            Err(e) => d.error = Some(transport_error(&e)),
        }
    }
    d
}

fn transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::Io(io) => format!("i/o: {}", io.kind()),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        _ => "transport error".into(),
    }
}

fn dead_letter(s: &Settings, d: &Delivery, r: &Record) {
    let Some(path) = &s.dead_letter else {
        return;
    };
    let line = json!({"delivery": d, "record": r}).to_string();
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// An evidence sink that hands every record it appended to the connectors' worker,
/// redacted as the log redacts it (the delivery never holds more than the log).
pub struct ConnectorSink<S> {
    pub inner: S,
    pub dispatcher: Option<std::sync::Arc<Dispatcher>>,
}

impl<S: cavra_runtime::EvidenceSink> cavra_runtime::EvidenceSink for ConnectorSink<S> {
    fn append(
        &mut self,
        cavra_dir: &Path,
        kind: &str,
        body: &Value,
    ) -> Result<String, cavra_runtime::SinkError> {
        let id = self.inner.append(cavra_dir, kind, body)?;
        if let Some(d) = &self.dispatcher {
            let mut body = body.clone();
            cavra_evidence::redact_value(&mut body);
            let timestamp = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            d.send(Record {
                alg: String::new(),
                body,
                hash: String::new(),
                key_id: String::new(),
                kind: kind.to_string(),
                prev_hash: String::new(),
                record_id: id.clone(),
                seq: 0,
                sig: String::new(),
                timestamp,
                v: 2,
            });
        }
        Ok(id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        (k == "HOOK_KEY").then(|| "k3y".to_string())
    }

    #[test]
    fn config_is_checked_and_secrets_stay_out() {
        let base = Path::new("/etc/cavra");
        let v = json!({"targets": [{"type": "webhook", "url": "http://127.0.0.1:9/x", "secret_env": "HOOK_KEY"}]});
        let s = Settings::parse(&v, base, &env).unwrap();
        assert_eq!(s.connectors[0].kind, Kind::Webhook);
        assert_eq!(s.max_attempts, 5);
        assert!(
            !format!("{s:?}").contains("k3y"),
            "a secret in Debug output"
        );
        for (bad, msg) in [
            (
                json!({"targets": [{"type": "fax", "url": "http://x"}]}),
                "unknown type `fax`",
            ),
            (
                json!({"targets": [{"type": "webhook", "url": "http://x", "secret": "inline"}]}),
                "never written in the config file",
            ),
            (
                json!({"targets": [{"type": "slack", "url": "https://hooks.slack.com/services/T/B/x"}]}),
                "url_env",
            ),
            (
                json!({"targets": [{"type": "webhook", "url": "http://x", "secret_env": "UNSET"}]}),
                "`UNSET` is not set",
            ),
            (
                json!({"targets": [{"type": "splunk_hec", "url": "http://x"}]}),
                "needs `secret_env`",
            ),
            (
                json!({"targets": [{"type": "webhook", "url": "ftp://x", "secret_env": "HOOK_KEY"}]}),
                "http:// or https://",
            ),
            (json!({"retries": 3}), "unknown setting `retries`"),
        ] {
            let e = Settings::parse(&bad, base, &env).unwrap_err().to_string();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn the_target_is_its_host_only() {
        assert_eq!(
            target_host("https://hooks.slack.com/services/T0/B0/s3cret"),
            "hooks.slack.com"
        );
        assert_eq!(
            target_host("http://user:pa55@127.0.0.1:9/x?token=t0k"),
            "127.0.0.1:9"
        );
        assert_eq!(target_host("not a url"), "unknown");
    }

    #[test]
    fn hmac_vector() {
        // RFC 4231 test case 2
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
