//! `GET /v1/decisions/stream`: every decision this server records (with PostgreSQL
//! replicas: every replica's, from the log's notifications, `crate::pglog`), as
//! server-sent events, the moment its evidence record is appended (`event: decision`,
//! `id:` the evidence record id, `data:` `{"record_id", "decision"}` with the decision
//! record). A subscriber that falls more than [`BACKLOG`] decisions behind is told how
//! many it missed (`event: lagged`) and goes on. Streams end when the server shuts down, so a graceful shutdown is
//! never held open by a subscriber.

use crate::auth::Caller;
use crate::error::{ApiError, ErrorDocument};
use crate::state::Shared;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use cavra_store::ApiPermission;
use futures_util::stream::Stream;
use serde::Deserialize;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};
use utoipa::IntoParams;

/// How many decisions a slow subscriber may fall behind before it misses some.
pub const BACKLOG: usize = 1024;

/// One recorded decision, as published.
#[derive(Debug, Clone)]
pub struct Published {
    pub record_id: String,
    pub outcome: String,
    pub rule: String,
    pub json: Arc<str>,
}

/// The feed decisions are published on, and the signal that ends every stream.
#[derive(Debug, Clone)]
pub struct DecisionFeed {
    tx: broadcast::Sender<Published>,
    stop: watch::Sender<bool>,
}

impl Default for DecisionFeed {
    fn default() -> Self {
        DecisionFeed::new()
    }
}

impl DecisionFeed {
    pub fn new() -> DecisionFeed {
        let (tx, _) = broadcast::channel(BACKLOG);
        let (stop, _) = watch::channel(false);
        DecisionFeed { tx, stop }
    }

    /// Publishes a recorded decision (serialized only when somebody listens), redacted as
    /// the evidence log records it.
    pub fn publish(&self, record_id: &str, body: &Value) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let mut text = String::with_capacity(2048);
        cavra_evidence::canon::write_value_redacted(&mut text, body);
        let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
        self.publish_recorded(record_id, field("cavra_decision"), field("rule_id"), &text);
    }

    /// Publishes a decision record in the form it was recorded in (`body`: its JSON text,
    /// redacted), with its outcome and deciding rule.
    pub fn publish_recorded(&self, record_id: &str, outcome: &str, rule: &str, body: &str) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let mut json = String::with_capacity(body.len().saturating_add(64));
        json.push_str("{\"record_id\":");
        cavra_evidence::canon::write_str(&mut json, record_id);
        json.push_str(",\"decision\":");
        json.push_str(body);
        json.push('}');
        let _ = self.tx.send(Published {
            record_id: record_id.to_string(),
            outcome: outcome.to_string(),
            rule: rule.to_string(),
            json: json.into(),
        });
    }

    /// Ends every stream (the server is shutting down).
    pub fn close(&self) {
        let _ = self.stop.send(true);
    }

    /// How many streams are open.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }
}

/// Which decisions a stream carries.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamFilter {
    /// Only this outcome: allow, block, require_approval, shadow or break_glass.
    pub decision: Option<String>,
    /// Only decisions of this deciding rule.
    pub rule: Option<String>,
}

const OUTCOMES: &[&str] = &[
    "allow",
    "block",
    "require_approval",
    "shadow",
    "break_glass",
];

impl StreamFilter {
    fn matches(&self, p: &Published) -> bool {
        self.decision.as_ref().is_none_or(|d| *d == p.outcome)
            && self.rule.as_ref().is_none_or(|r| *r == p.rule)
    }
}

/// Recorded decisions as they happen (server-sent events).
#[utoipa::path(get, path = "/v1/decisions/stream", tag = "decisions", params(StreamFilter),
    responses(
        (status = 200, description = "`text/event-stream`: `event: decision` per recorded decision (`id` the evidence record id, `data` {\"record_id\", \"decision\"}); `event: lagged` with {\"missed\": N} when the subscriber fell behind", content_type = "text/event-stream", body = String),
        (status = 400, description = "An unknown outcome", body = ErrorDocument),
        (status = 401, description = "No valid token", body = ErrorDocument),
        (status = 403, description = "The token's role may not read", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn decision_stream(
    State(state): State<Shared>,
    caller: Caller,
    filter: Result<Query<StreamFilter>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(ApiPermission::Read)?;
    let Query(filter) = filter.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if let Some(d) = &filter.decision {
        if !OUTCOMES.contains(&d.as_str()) {
            return Err(ApiError::bad_request(format!(
                "unknown decision `{d}`; one of: {}",
                OUTCOMES.join(", ")
            )));
        }
    }
    let feed = &state.metrics.feed;
    let rx = feed.tx.subscribe();
    let stop = feed.stop.subscribe();
    let events = futures_util::stream::unfold(
        (rx, stop, filter),
        |(mut rx, mut stop, filter)| async move {
            loop {
                if *stop.borrow() {
                    return None;
                }
                tokio::select! {
                    _ = stop.changed() => return None,
                    got = rx.recv() => match got {
                        Ok(p) if filter.matches(&p) => {
                            let ev = Event::default().event("decision").id(p.record_id.clone()).data(&*p.json);
                            return Some((Ok(ev), (rx, stop, filter)));
                        }
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            let ev = Event::default().event("lagged").data(format!("{{\"missed\": {n}}}"));
                            return Some((Ok(ev), (rx, stop, filter)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_serialized_without_a_subscriber_and_a_subscriber_gets_each_decision() {
        let feed = DecisionFeed::new();
        feed.publish("r0", &serde_json::json!({"cavra_decision": "allow"}));
        let mut rx = feed.tx.subscribe();
        feed.publish(
            "r1",
            &serde_json::json!({"cavra_decision": "block", "rule_id": "x"}),
        );
        let p = rx.try_recv().unwrap();
        assert_eq!((p.record_id.as_str(), p.outcome.as_str()), ("r1", "block"));
        let v: Value = serde_json::from_str(&p.json).unwrap();
        assert_eq!(v["decision"]["rule_id"], "x");
        assert!(
            rx.try_recv().is_err(),
            "r0 was published before anybody listened"
        );
    }

    #[test]
    fn filters_match_outcome_and_rule() {
        let p = Published {
            record_id: "r".into(),
            outcome: "block".into(),
            rule: "commands.x".into(),
            json: "{}".into(),
        };
        assert!(StreamFilter::default().matches(&p));
        let f = |d: Option<&str>, r: Option<&str>| StreamFilter {
            decision: d.map(Into::into),
            rule: r.map(Into::into),
        };
        assert!(f(Some("block"), Some("commands.x")).matches(&p));
        assert!(!f(Some("allow"), None).matches(&p));
        assert!(!f(None, Some("other")).matches(&p));
    }
}
