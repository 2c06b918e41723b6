//! `/metrics`: Prometheus text exposition — decisions by outcome and rule, the decision
//! latency histogram, pending approvals, evidence appends and failures (and, with
//! PostgreSQL, the evidence writer's batches), HTTP requests.

use cavra_runtime::{EvidenceSink, SinkError};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::path::Path;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub outcome: String,
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The matched route template (`/v1/approvals/{id}`), `unmatched` for a 404.
    pub route: String,
    pub status: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    pub decisions: Family<DecisionLabels, Counter>,
    pub decision_seconds: Histogram,
    pub pending_approvals: Gauge,
    pub evidence_appends: Counter,
    pub evidence_failures: Counter,
    /// With PostgreSQL: the transactions (batches) the evidence writer committed.
    pub evidence_batches: Gauge,
    pub http_requests: Family<HttpLabels, Counter>,
    /// Recorded decisions, for `GET /v1/decisions/stream`.
    pub feed: crate::stream::DecisionFeed,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("cavra");
        let decisions = Family::<DecisionLabels, Counter>::default();
        // 50 µs .. ~1.6 s
        let decision_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let pending_approvals = Gauge::default();
        let evidence_appends = Counter::default();
        let evidence_failures = Counter::default();
        let evidence_batches = Gauge::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions made, by outcome and deciding rule",
            decisions.clone(),
        );
        registry.register(
            "decision_duration_seconds",
            "Time to decide and record one request",
            decision_seconds.clone(),
        );
        registry.register(
            "pending_approvals",
            "Approval requests waiting for a person",
            pending_approvals.clone(),
        );
        registry.register(
            "evidence_appends",
            "Records appended to the evidence log",
            evidence_appends.clone(),
        );
        registry.register(
            "evidence_append_failures",
            "Evidence appends that failed",
            evidence_failures.clone(),
        );
        registry.register(
            "evidence_batches",
            "Transactions of the PostgreSQL evidence writer (appends / batches: the batch size)",
            evidence_batches.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        Metrics {
            registry,
            decisions,
            decision_seconds,
            pending_approvals,
            evidence_appends,
            evidence_failures,
            evidence_batches,
            http_requests,
            feed: crate::stream::DecisionFeed::new(),
        }
    }

    /// Observes the time one decision (or one hook call) took, recording included.
    pub fn decided_in(&self, seconds: f64) {
        self.decision_seconds.observe(seconds);
    }

    /// Counts one HTTP answer.
    pub fn answered(&self, method: &str, route: &str, status: u16) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.to_string(),
            })
            .inc();
    }

    /// The text exposition (OpenMetrics text, which Prometheus reads).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The evidence sink the server's runtime writes through: the log sink, counting appends,
/// failures, and the decisions recorded (by outcome and rule, from the record: every entry
/// point — decisions and hooks — is counted the same way), publishing each recorded
/// decision on `feed` (`None` with PostgreSQL: every replica's decisions come from the
/// log's notifications, this one's included).
pub struct CountingSink<S> {
    pub inner: S,
    pub feed: Option<crate::stream::DecisionFeed>,
    pub appends: Counter,
    pub failures: Counter,
    pub decisions: Family<DecisionLabels, Counter>,
}

impl<S: EvidenceSink> EvidenceSink for CountingSink<S> {
    fn append(&mut self, cavra_dir: &Path, kind: &str, body: &Value) -> Result<String, SinkError> {
        let r = self.inner.append(cavra_dir, kind, body);
        self.count_append(&r);
        if kind == "decision" {
            if let (Ok(id), Some(feed)) = (&r, &self.feed) {
                feed.publish(id, body);
            }
            let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
            self.count_decision(field("cavra_decision"), field("rule_id"));
        }
        r
    }

    fn append_decision(
        &mut self,
        cavra_dir: &Path,
        record: &cavra_runtime::DecisionRecord<'_>,
    ) -> Result<String, SinkError> {
        let r = self.inner.append_decision(cavra_dir, record);
        self.count_append(&r);
        let d = record.decision;
        if let (Ok(id), Some(feed)) = (&r, &self.feed) {
            if feed.subscribers() > 0 {
                feed.publish_recorded(
                    id,
                    d.decision.as_str(),
                    &d.rule_id,
                    record.prepared().as_str(),
                );
            }
        }
        self.count_decision(d.decision.as_str(), &d.rule_id);
        r
    }
}

impl<S> CountingSink<S> {
    fn count_append(&self, r: &Result<String, SinkError>) {
        match r {
            Ok(_) => self.appends.inc(),
            Err(_) => self.failures.inc(),
        };
    }

    fn count_decision(&self, outcome: &str, rule: &str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                outcome: outcome.to_string(),
                rule: rule.to_string(),
            })
            .inc();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Fails;
    impl EvidenceSink for Fails {
        fn append(&mut self, _: &Path, _: &str, _: &Value) -> Result<String, SinkError> {
            Err(SinkError::new(std::io::Error::other("disk full")))
        }
    }

    #[test]
    fn the_exposition_names_every_metric() {
        let m = Metrics::new();
        m.decisions
            .get_or_create(&DecisionLabels {
                outcome: "block".into(),
                rule: "secrets.dotenv.read".into(),
            })
            .inc();
        m.decided_in(0.001);
        m.answered("POST", "/v1/decisions", 200);
        let text = m.encode();
        for name in [
            "cavra_decisions_total{outcome=\"block\",rule=\"secrets.dotenv.read\"} 1",
            "cavra_decision_duration_seconds_bucket",
            "cavra_pending_approvals",
            "cavra_evidence_appends_total",
            "cavra_evidence_append_failures_total",
            "cavra_evidence_batches",
            "cavra_http_requests_total{method=\"POST\",route=\"/v1/decisions\",status=\"200\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing:\n{text}");
        }
    }

    #[test]
    fn the_sink_counts_failures() {
        let m = Metrics::new();
        let mut s = CountingSink {
            inner: Fails,
            feed: Some(m.feed.clone()),
            appends: m.evidence_appends.clone(),
            failures: m.evidence_failures.clone(),
            decisions: m.decisions.clone(),
        };
        let body = serde_json::json!({"cavra_decision": "allow", "rule_id": "r"});
        assert!(s.append(Path::new("/x"), "decision", &body).is_err());
        assert!(m
            .encode()
            .contains("cavra_decisions_total{outcome=\"allow\",rule=\"r\"} 1"));
        assert_eq!(m.evidence_failures.get(), 1);
        assert_eq!(m.evidence_appends.get(), 0);
    }
}
