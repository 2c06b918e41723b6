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
    /// A private CA bundle (PEM) trusted for `https://` beside the system's roots: the
    /// target's `ca_file`, else the section's (checked when the config is read).
    pub ca_file: Option<PathBuf>,
    /// Jira: the transition that closes a ticket when its approval is decided or expires
    /// (a name, default `Done`, or a transition id); ServiceNow: the `state` it is set to
    /// (default `6`, Resolved).
    pub close: Option<String>,
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
    /// Where people reach the server (`public_url`): the console's approval page the
    /// Teams card's buttons open. Set by the server, not the section.
    pub public_url: Option<String>,
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
            public_url: None,
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
                "ca_file",
            ]
            .contains(&k.as_str())
            {
                return Err(err(format!("unknown setting `{k}` (known: targets, max_attempts, backoff_ms, timeout_ms, dead_letter_file, slack_interactions, ca_file)")));
            }
        }
        // a private CA: read now, so a bad file stops the start, not a delivery
        let ca_file = |v: Option<&Value>, at: &str| -> Result<Option<PathBuf>, ConfigError> {
            let Some(v) = v else { return Ok(None) };
            let p = v
                .as_str()
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| err(format!("{at}`ca_file` must be a file path")))?;
            let path = base.join(p);
            cavra_auth::tls::read_ca_file(&path).map_err(|e| err(format!("{at}{e}")))?;
            Ok(Some(path))
        };
        let section_ca = ca_file(map.get("ca_file"), "")?;
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
                ca_file: ca_file(t.get("ca_file"), &format!("targets[{i}]: "))?
                    .or_else(|| section_ca.clone()),
                close: match kind {
                    Kind::Jira => field("transition"),
                    Kind::ServiceNow => field("close_state"),
                    _ => None,
                },
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
        self.request_with(record, delivery_id, None)
    }

    /// [`Connector::request`], with the server's public URL (the Teams card's buttons).
    pub fn request_with(
        &self,
        record: &Record,
        delivery_id: &str,
        public_url: Option<&str>,
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
            Kind::Teams => (url, teams_card_with(record, public_url)),
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
    teams_card_with(r, None)
}

/// [`teams_card`]; a held decision with an approval request adds `Action.OpenUrl` buttons
/// "Approve…" / "Deny…" to the console's approval page (`<public_url>/approvals/<id>`),
/// where the person signs in and decides: a Teams incoming webhook cannot call back, so
/// nothing is decided in Teams itself.
pub fn teams_card_with(r: &Record, public_url: Option<&str>) -> Value {
    let mut card = teams_text(r);
    if let (Some(id), Some(base)) = (
        r.body.get("approval_id").and_then(Value::as_str),
        public_url,
    ) {
        let page = format!(
            "{}/approvals/{}",
            base.trim_end_matches('/'),
            percent_path(id)
        );
        card["attachments"][0]["content"]["actions"] = json!([
            {"type": "Action.OpenUrl", "title": "Approve…", "url": page},
            {"type": "Action.OpenUrl", "title": "Deny…", "url": page},
        ]);
        if let Some(body) = card["attachments"][0]["content"]["body"].as_array_mut() {
            body.push(json!({"type": "TextBlock", "wrap": true, "isSubtle": true,
                "text": format!("Approval `{id}`: open it in the CAVRA console, sign in, and approve or deny there.")}));
        }
    }
    card
}

/// An approval id as one URL path segment (ids are `[A-Za-z0-9_-]`; anything else is
/// escaped, so an id can never add a path, query or host).
fn percent_path(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn teams_text(r: &Record) -> Value {
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
    /// The ticket (Jira issue key, ServiceNow sys_id) this delivery opened for an
    /// approval, or closed when the approval was decided or expired.
    pub ticket: Option<String>,
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
    /// Starts the worker thread; tickets are remembered for this run only.
    pub fn start(
        settings: Settings,
        on_delivery: impl Fn(&Delivery) + Send + 'static,
    ) -> Dispatcher {
        Dispatcher::start_with(settings, on_delivery, |_, _| None)
    }

    /// [`Dispatcher::start`], with `find_ticket(connector, approval_id)`: the ticket a
    /// connector opened for an approval in an earlier run (the delivery records).
    pub fn start_with(
        settings: Settings,
        on_delivery: impl Fn(&Delivery) + Send + 'static,
        find_ticket: impl Fn(&str, &str) -> Option<String> + Send + 'static,
    ) -> Dispatcher {
        let (tx, rx) = mpsc::channel::<Record>();
        let worker = std::thread::Builder::new()
            .name("cavra-connectors".into())
            .spawn(move || {
                // one agent per connector: its roots are the system's plus its CA file
                let agents: Vec<Result<ureq::Agent, String>> = settings
                    .connectors
                    .iter()
                    .map(|c| agent(c, settings.timeout))
                    .collect();
                let mut n: u64 = 0;
                // (connector, approval) → the ticket it opened in this run
                let mut tickets = std::collections::HashMap::<(String, String), String>::new();
                for record in rx {
                    for (c, agent) in settings.connectors.iter().zip(&agents) {
                        // the approval's outcome closes the ticket opened for it
                        let closing = closes(c, &record).and_then(|approval| {
                            let key = (c.name.clone(), approval.to_string());
                            tickets
                                .remove(&key)
                                .or_else(|| find_ticket(&c.name, approval))
                        });
                        if closing.is_none() && !c.wants(&record) {
                            continue;
                        }
                        n = n.saturating_add(1);
                        let id = format!("{}-{}-{n}", record.record_id, c.name);
                        let d = match &closing {
                            Some(t) => close_ticket(agent, &settings, c, &record, &id, t),
                            None => deliver(agent, &settings, c, &record, &id),
                        };
                        if let (None, Some(t), Some(a)) = (&closing, &d.ticket, &d.approval_id) {
                            tickets.insert((c.name.clone(), a.clone()), t.clone());
                        }
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

/// The connector's client: `https://` over rustls (AWS-LC), trusting the system's roots and
/// its CA file; no redirect is followed (a delivery's headers carry its credentials). A CA
/// file that became unreadable since the start fails every delivery of the connector.
fn agent(c: &Connector, timeout: Duration) -> Result<ureq::Agent, String> {
    let roots = match &c.ca_file {
        Some(p) => cavra_auth::tls::Roots::with_ca_file(p).map_err(|e| format!("TLS: {e}"))?,
        None => cavra_auth::tls::Roots::system(),
    };
    Ok(roots.agent(timeout, false, 0))
}

/// The delivery of `r` by `c` to `url`, before its first attempt.
fn delivery(c: &Connector, r: &Record, id: &str, url: &str) -> Delivery {
    Delivery {
        delivery_id: id.to_string(),
        connector: c.name.clone(),
        kind: c.kind.as_str(),
        target_host: target_host(url),
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
        ticket: None,
    }
}

/// The largest answer read from a ticket system (the created ticket, its transitions).
const MAX_ANSWER: u64 = 256 * 1024;

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Patch,
}

/// One request, tried up to `max_attempts` times (`d.attempts` counts every attempt of
/// the delivery's requests); the answer's body on success, else `None` with `d.error` the
/// last failure.
fn call(
    agent: &ureq::Agent,
    s: &Settings,
    d: &mut Delivery,
    method: Method,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<Vec<u8>> {
    let mut wait = s.backoff;
    let mut tried = 0u32;
    while tried < s.max_attempts {
        if tried > 0 {
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2).min(Duration::from_secs(60));
        }
        tried = tried.saturating_add(1);
        d.attempts = d.attempts.saturating_add(1);
        let sent = match method {
            Method::Get => {
                let mut req = agent.get(url);
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                req.call()
            }
            Method::Post | Method::Patch => {
                let mut req = match method {
                    Method::Patch => agent.patch(url),
                    _ => agent.post(url),
                };
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                req.send(body)
            }
        };
        match sent {
            Ok(mut resp) if resp.status().is_success() => {
                d.error = None;
                // an answer that cannot be read is still a success (the request was taken)
                let answer = resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_ANSWER)
                    .read_to_vec()
                    .unwrap_or_default();
                return Some(answer);
            }
            Ok(resp) => d.error = Some(format!("HTTP {}", resp.status().as_u16())),
            // the transport error names the host, never the URL's path (a Slack webhook
            // URL's path is its secret)
            Err(e) => d.error = Some(cavra_auth::tls::describe(&e)),
        }
    }
    None
}

fn deliver(
    agent: &Result<ureq::Agent, String>,
    s: &Settings,
    c: &Connector,
    r: &Record,
    id: &str,
) -> Delivery {
    let (url, headers, body) = c.request_with(r, id, s.public_url.as_deref());
    let mut d = delivery(c, r, id, &url);
    let agent = match agent {
        Ok(a) => a,
        Err(e) => {
            d.error = Some(e.clone());
            return d;
        }
    };
    let Some(answer) = call(agent, s, &mut d, Method::Post, &url, &headers, &body) else {
        return d;
    };
    d.status = "delivered";
    // a ticket opened for an approval: kept, so that the approval's outcome closes it
    if d.approval_id.is_some() {
        d.ticket = opened_ticket(c.kind, &answer);
    }
    d
}

/// The ticket a creation answer names: Jira's issue `key`, ServiceNow's `result.sys_id`.
fn opened_ticket(kind: Kind, answer: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(answer).ok()?;
    let t = match kind {
        Kind::Jira => v.get("key"),
        Kind::ServiceNow => v.get("result").and_then(|r| r.get("sys_id")),
        _ => None,
    }?;
    t.as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .map(str::to_string)
}

/// The approval `r` ends, when `c` keeps tickets: `approval.approved`, `.denied` or
/// `.expired`.
fn closes<'a>(c: &Connector, r: &'a Record) -> Option<&'a str> {
    let ends = matches!(
        r.kind.as_str(),
        "approval.approved" | "approval.denied" | "approval.expired"
    );
    (ends && matches!(c.kind, Kind::Jira | Kind::ServiceNow))
        .then(|| r.body.get("approval_id").and_then(Value::as_str))
        .flatten()
        .filter(|a| !a.is_empty())
}

/// What the closing comment / work note says: the outcome, who decided, their reason.
pub fn close_text(r: &Record) -> String {
    let id = s(r, "approval_id");
    let by = s(r, "decided_by");
    let reason = s(r, "decision_reason");
    let what = match r.kind.as_str() {
        "approval.approved" => format!("approved by {by}"),
        "approval.denied" => format!("denied by {by}"),
        _ => "expired without a decision".to_string(),
    };
    let mut t = format!("CAVRA: approval {id} was {what}");
    if !reason.is_empty() {
        t.push_str(&format!(
            ": {}",
            cavra_core::text::truncate_chars(reason, 500)
        ));
    }
    t.push_str(&format!(" (evidence record {}).", r.record_id));
    t
}

/// Comments on and closes the ticket `ticket` that `c` opened for the approval `r` ends:
/// Jira — a comment, then the configured transition (`transition`: a name looked up in
/// the issue's transitions, or an id); ServiceNow — one PATCH of `state` (`close_state`),
/// `work_notes` and `close_notes`.
fn close_ticket(
    agent: &Result<ureq::Agent, String>,
    s: &Settings,
    c: &Connector,
    r: &Record,
    id: &str,
    ticket: &str,
) -> Delivery {
    let base = c.url.expose().trim_end_matches('/').to_string();
    let mut d = delivery(c, r, id, &base);
    d.ticket = Some(ticket.to_string());
    let agent = match agent {
        Ok(a) => a,
        Err(e) => {
            d.error = Some(e.clone());
            return d;
        }
    };
    let secret = c.secret.as_ref().map(Secret::expose).unwrap_or("");
    let basic = {
        use base64::Engine;
        let cred = format!("{}:{secret}", c.user.as_deref().unwrap_or(""));
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(cred)
        )
    };
    let headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Accept".to_string(), "application/json".to_string()),
        ("Authorization".to_string(), basic),
    ];
    let text = close_text(r);
    let seg = percent_path(ticket);
    let json_body = |v: Value| serde_json::to_vec(&v).unwrap_or_default();
    match c.kind {
        Kind::Jira => {
            let issue = format!("{base}/rest/api/2/issue/{seg}");
            let comment = json_body(json!({"body": text}));
            if call(
                agent,
                s,
                &mut d,
                Method::Post,
                &format!("{issue}/comment"),
                &headers,
                &comment,
            )
            .is_none()
            {
                return d;
            }
            let wanted = c.close.as_deref().unwrap_or("Done");
            let transition = if !wanted.is_empty() && wanted.bytes().all(|b| b.is_ascii_digit()) {
                wanted.to_string()
            } else {
                let Some(list) = call(
                    agent,
                    s,
                    &mut d,
                    Method::Get,
                    &format!("{issue}/transitions"),
                    &headers,
                    &[],
                ) else {
                    return d;
                };
                match jira_transition(&list, wanted) {
                    Ok(t) => t,
                    Err(e) => {
                        d.error = Some(e);
                        return d;
                    }
                }
            };
            let body = json_body(json!({"transition": {"id": transition}}));
            if call(
                agent,
                s,
                &mut d,
                Method::Post,
                &format!("{issue}/transitions"),
                &headers,
                &body,
            )
            .is_some()
            {
                d.status = "delivered";
            }
        }
        Kind::ServiceNow => {
            let table = c.project.as_deref().unwrap_or("incident");
            let url = format!("{base}/api/now/table/{}/{seg}", percent_path(table));
            let state = c.close.as_deref().unwrap_or("6");
            let body = json_body(json!({"state": state, "work_notes": text, "close_notes": text}));
            if call(agent, s, &mut d, Method::Patch, &url, &headers, &body).is_some() {
                d.status = "delivered";
            }
        }
        _ => d.error = Some("this connector keeps no tickets".into()),
    }
    d
}

/// The id of the transition named `name` (case-insensitive) in Jira's
/// `{"transitions": [{"id", "name"}]}`.
fn jira_transition(list: &[u8], name: &str) -> Result<String, String> {
    let v: Value = serde_json::from_slice(list)
        .map_err(|_| "Jira: the transitions answer is not JSON".to_string())?;
    let all = v
        .get("transitions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = all
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    all.iter()
        .find(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|t| t.get("id").and_then(Value::as_str))
        .map(str::to_string)
        .ok_or_else(|| {
            let shown: String = names.join(", ").chars().take(200).collect();
            format!(
                "Jira: the issue has no transition `{}` (it has: {shown})",
                cavra_core::text::truncate_chars(name, 60)
            )
        })
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
            hand_over(d, kind, &id, body);
        }
        Ok(id)
    }

    fn append_decision(
        &mut self,
        cavra_dir: &Path,
        record: &cavra_runtime::DecisionRecord<'_>,
    ) -> Result<String, cavra_runtime::SinkError> {
        let id = self.inner.append_decision(cavra_dir, record)?;
        if let Some(d) = &self.dispatcher {
            // the record as it was written (redacted), read back
            let body = serde_json::from_str(record.prepared().as_str()).unwrap_or_else(|_| {
                let mut v = record.to_value();
                cavra_evidence::redact_value(&mut v);
                v
            });
            hand_over(d, "decision", &id, body);
        }
        Ok(id)
    }
}

/// Hands a recorded `body` to the connectors.
fn hand_over(d: &Dispatcher, kind: &str, id: &str, body: Value) {
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
        record_id: id.to_string(),
        seq: 0,
        sig: String::new(),
        timestamp,
        v: 2,
    });
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

    fn held(approval: &str) -> Record {
        Record {
            alg: String::new(),
            body: json!({"cavra_decision": "require_approval", "action_type": "execute_command",
                "target": "git push --force", "rule_id": "git.force_push", "reason": "rewrites history",
                "agent_id": "claude-code", "session_id": "s1", "approval_id": approval}),
            hash: String::new(),
            key_id: String::new(),
            kind: "decision".into(),
            prev_hash: String::new(),
            record_id: "rec-1".into(),
            seq: 1,
            sig: String::new(),
            timestamp: String::new(),
            v: 2,
        }
    }

    #[test]
    fn the_teams_card_opens_the_consoles_approval_page() {
        let card = teams_card_with(&held("apr-1"), Some("https://cavra.example.com/"));
        let content = &card["attachments"][0]["content"];
        assert_eq!(content["type"], "AdaptiveCard");
        let actions = content["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 2);
        for (a, title) in actions.iter().zip(["Approve…", "Deny…"]) {
            assert_eq!(
                a["type"], "Action.OpenUrl",
                "no Action.Submit: Teams cannot call back"
            );
            assert_eq!(a["title"], title);
            assert_eq!(a["url"], "https://cavra.example.com/approvals/apr-1");
        }
        let said = content["body"].to_string();
        assert!(said.contains("sign in"), "{said}");
        // an id is one path segment: it can add no path, query or host
        let odd = teams_card_with(&held("../x?y=1#z"), Some("https://c.example"));
        assert_eq!(
            odd["attachments"][0]["content"]["actions"][0]["url"],
            "https://c.example/approvals/..%2Fx%3Fy%3D1%23z"
        );
        // no approval (a block), or no public URL: no buttons
        let mut block = held("apr-2");
        block.body.as_object_mut().unwrap().remove("approval_id");
        assert!(
            teams_card_with(&block, Some("https://c.example"))["attachments"][0]["content"]
                .get("actions")
                .is_none()
        );
        assert!(teams_card(&held("apr-3"))["attachments"][0]["content"]
            .get("actions")
            .is_none());
    }

    #[test]
    fn ticket_answers_and_closing_texts() {
        assert_eq!(
            opened_ticket(Kind::Jira, br#"{"id":"1","key":"SEC-9"}"#).as_deref(),
            Some("SEC-9")
        );
        assert_eq!(
            opened_ticket(Kind::ServiceNow, br#"{"result":{"sys_id":"abc"}}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(opened_ticket(Kind::Jira, b"ok"), None);
        assert_eq!(opened_ticket(Kind::Jira, br#"{"key":""}"#), None);
        assert_eq!(opened_ticket(Kind::Webhook, br#"{"key":"X"}"#), None);
        let mut r = held("apr-1");
        r.kind = "approval.denied".into();
        r.body = json!({"approval_id": "apr-1", "decided_by": "bob", "decision_reason": "not now"});
        assert_eq!(
            close_text(&r),
            "CAVRA: approval apr-1 was denied by bob: not now (evidence record rec-1)."
        );
        let jira = Connector {
            name: "j".into(),
            kind: Kind::Jira,
            url: Secret::new("http://x"),
            secret: None,
            user: None,
            project: None,
            events: vec![],
            ca_file: None,
            close: None,
        };
        assert_eq!(closes(&jira, &r), Some("apr-1"));
        r.kind = "approval.break_glass".into();
        assert_eq!(closes(&jira, &r), None);
        assert_eq!(
            jira_transition(br#"{"transitions":[{"id":"3","name":"DONE"}]}"#, "done").unwrap(),
            "3"
        );
        assert!(jira_transition(b"[]", "Done")
            .unwrap_err()
            .contains("no transition"));
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
