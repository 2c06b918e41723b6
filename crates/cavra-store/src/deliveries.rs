//! The connector deliveries of `cavra serve`: one row per finished delivery (delivered, or
//! dead-lettered after its last attempt) — which connector, the target's host (never its
//! URL, which may carry a token, nor a secret), the record it carried (and the approval,
//! for an approval record), attempts, outcome, the last failure. Both backends run the
//! same SQL ([`INSERT_DELIVERY`], [`DELIVERY_COLS`]).

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::inventory::clip;
use crate::timefmt::{from_secs, secs};

/// Longest name, kind, host or id kept (bytes); a longer one is cut.
const MAX_FIELD: usize = 256;
/// Longest last-failure text kept.
const MAX_ERROR: usize = 512;
/// Most rows one listing returns.
pub const MAX_DELIVERY_LIST: u32 = 1000;

/// How a delivery ended.
pub const DELIVERY_OUTCOMES: [&str; 2] = ["delivered", "dead_lettered"];

/// One finished delivery, as the connectors' worker reports it.
#[derive(Debug, Clone, Default)]
pub struct NewDelivery {
    /// The delivery's id (`X-Cavra-Delivery`).
    pub delivery_id: String,
    pub connector: String,
    /// webhook, slack, splunk, …
    pub kind: String,
    /// The target's host (and port), never the URL.
    pub target_host: String,
    pub record_id: String,
    /// The record's kind (`decision`, `approval.requested`, …).
    pub record_kind: String,
    /// The approval an approval record is about.
    pub approval_id: Option<String>,
    pub attempts: u32,
    /// One of [`DELIVERY_OUTCOMES`].
    pub outcome: String,
    /// The last failure (status code or transport error), when any.
    pub last_error: Option<String>,
    pub started_at: Option<OffsetDateTime>,
    /// The ticket (Jira issue key, ServiceNow sys_id) the delivery opened or closed.
    pub ticket: Option<String>,
}

/// A stored delivery.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub delivery_id: String,
    pub connector: String,
    pub kind: String,
    pub target_host: String,
    pub record_id: String,
    pub record_kind: String,
    pub approval_id: Option<String>,
    pub attempts: i64,
    pub outcome: String,
    pub last_error: Option<String>,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub started_at: OffsetDateTime,
    #[serde(serialize_with = "crate::timefmt::ser")]
    pub finished_at: OffsetDateTime,
    /// The ticket the delivery opened or closed (Jira, ServiceNow).
    pub ticket: Option<String>,
}

impl DeliveryRecord {
    pub fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The values of [`INSERT_DELIVERY`] (`$1`…`$13`), checked and cut.
pub(crate) struct DeliveryRow {
    pub delivery_id: String,
    pub connector: String,
    pub kind: String,
    pub host: String,
    pub record_id: String,
    pub record_kind: String,
    pub approval_id: Option<String>,
    pub attempts: i64,
    pub outcome: String,
    pub error: Option<String>,
    pub started: i64,
    pub finished: i64,
    pub ticket: Option<String>,
}

impl DeliveryRow {
    pub(crate) fn new(d: &NewDelivery, now: OffsetDateTime) -> Result<DeliveryRow, StoreError> {
        let field = |s: &str| clip(s.trim(), MAX_FIELD);
        let row = DeliveryRow {
            delivery_id: field(&d.delivery_id),
            connector: field(&d.connector),
            kind: field(&d.kind),
            host: field(&d.target_host),
            record_id: field(&d.record_id),
            record_kind: field(&d.record_kind),
            approval_id: d
                .approval_id
                .as_deref()
                .map(field)
                .filter(|v| !v.is_empty()),
            attempts: i64::from(d.attempts),
            outcome: d.outcome.clone(),
            error: d
                .last_error
                .as_deref()
                .map(|e| clip(e, MAX_ERROR))
                .filter(|v| !v.is_empty()),
            started: secs(d.started_at.unwrap_or(now)),
            finished: secs(now),
            ticket: d.ticket.as_deref().map(field).filter(|v| !v.is_empty()),
        };
        if row.connector.is_empty() || row.record_id.is_empty() {
            return Err(StoreError::input(
                "delivery",
                "a delivery names no connector or record",
            ));
        }
        if !DELIVERY_OUTCOMES.contains(&row.outcome.as_str()) {
            return Err(StoreError::input(
                "delivery",
                format!(
                    "unknown outcome `{}` (known: {})",
                    clip(&row.outcome, MAX_FIELD),
                    DELIVERY_OUTCOMES.join(", ")
                ),
            ));
        }
        Ok(row)
    }
}

/// A listing's limit: 1 to [`MAX_DELIVERY_LIST`].
pub(crate) fn check_limit(limit: u32) -> Result<i64, StoreError> {
    if limit == 0 || limit > MAX_DELIVERY_LIST {
        return Err(StoreError::input(
            "limit",
            format!("the limit is 1 to {MAX_DELIVERY_LIST}, not {limit}"),
        ));
    }
    Ok(i64::from(limit))
}

/// One finished delivery (PostgreSQL placeholders; SQLite's are `?N`).
pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO connector_deliveries (delivery_id, \
     connector, kind, target_host, record_id, record_kind, approval_id, attempts, outcome, \
     last_error, started_at, finished_at, ticket) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// The columns a delivery is read from, in the order of [`RawDelivery`].
pub(crate) const DELIVERY_COLS: &str = "id, delivery_id, connector, kind, target_host, \
     record_id, record_kind, approval_id, attempts, outcome, last_error, started_at, finished_at, \
     ticket";

/// The ticket `$1` (a connector) opened for the approval `$2`: the newest delivered row
/// that names one.
pub(crate) const TICKET_FOR: &str = "SELECT ticket FROM connector_deliveries WHERE connector = $1 \
     AND approval_id = $2 AND ticket IS NOT NULL AND outcome = 'delivered' \
     ORDER BY id DESC LIMIT 1";

/// The newest first, at most `$1`.
pub(crate) const LIST_ORDER: &str = "ORDER BY finished_at DESC, id DESC LIMIT $1";

/// A delivery row as stored ([`DELIVERY_COLS`]).
pub(crate) type RawDelivery = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
    Option<String>,
    i64,
    i64,
    Option<String>,
);

/// A stored row as a record.
pub(crate) fn decode(r: RawDelivery) -> Result<DeliveryRecord, StoreError> {
    Ok(DeliveryRecord {
        id: r.0,
        delivery_id: r.1,
        connector: r.2,
        kind: r.3,
        target_host: r.4,
        record_id: r.5,
        record_kind: r.6,
        approval_id: r.7,
        attempts: r.8,
        outcome: r.9,
        last_error: r.10,
        started_at: from_secs("connector_deliveries.started_at", r.11)?,
        finished_at: from_secs("connector_deliveries.finished_at", r.12)?,
        ticket: r.13,
    })
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use crate::db::Store;
    use rusqlite::params;

    impl Store {
        /// See [`crate::DeliveryStore::record_delivery`].
        pub fn record_delivery(
            &self,
            d: &NewDelivery,
            now: OffsetDateTime,
        ) -> Result<(), StoreError> {
            let r = DeliveryRow::new(d, now)?;
            self.conn
                .prepare_cached(&INSERT_DELIVERY.replace('$', "?"))
                .and_then(|mut st| {
                    st.execute(params![
                        r.delivery_id,
                        r.connector,
                        r.kind,
                        r.host,
                        r.record_id,
                        r.record_kind,
                        r.approval_id,
                        r.attempts,
                        r.outcome,
                        r.error,
                        r.started,
                        r.finished,
                        r.ticket
                    ])
                })
                .map_err(|e| self.classify(e))?;
            Ok(())
        }

        /// See [`crate::DeliveryStore::list_deliveries`].
        pub fn list_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
            let limit = check_limit(limit)?;
            let mut st = self
                .conn
                .prepare(&format!(
                    "SELECT {DELIVERY_COLS} FROM connector_deliveries {}",
                    LIST_ORDER.replace('$', "?")
                ))
                .map_err(|e| self.classify(e))?;
            let rows: Vec<RawDelivery> = st
                .query_map([limit], |r| RawDelivery::try_from(r))
                .and_then(Iterator::collect)
                .map_err(|e| self.classify(e))?;
            rows.into_iter().map(decode).collect()
        }

        /// See [`crate::DeliveryStore::ticket_for`].
        pub fn ticket_for(
            &self,
            connector: &str,
            approval_id: &str,
        ) -> Result<Option<String>, StoreError> {
            use rusqlite::OptionalExtension;
            self.conn
                .prepare_cached(&TICKET_FOR.replace('$', "?"))
                .and_then(|mut st| {
                    st.query_row(params![connector, approval_id], |r| r.get(0))
                        .optional()
                })
                .map_err(|e| self.classify(e))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::DeliveryStore;

    /// What both backends must do: rows are kept as reported, the newest first, the limit
    /// holds, a bad outcome or limit is refused.
    pub(crate) fn delivery_lifecycle(s: &dyn DeliveryStore) {
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t1 = OffsetDateTime::from_unix_timestamp(1_800_000_060).unwrap();
        assert!(s.list_deliveries(10).unwrap().is_empty());
        let ok = NewDelivery {
            delivery_id: "rec-1-hook-1".into(),
            connector: "hook".into(),
            kind: "webhook".into(),
            target_host: "127.0.0.1:9".into(),
            record_id: "rec-1".into(),
            record_kind: "approval.requested".into(),
            approval_id: Some("apr-1".into()),
            attempts: 1,
            outcome: "delivered".into(),
            ..Default::default()
        };
        s.record_delivery(&ok, t0).unwrap();
        let dead = NewDelivery {
            delivery_id: "rec-2-slack-2".into(),
            connector: "slack".into(),
            kind: "slack".into(),
            record_id: "rec-2".into(),
            record_kind: "decision".into(),
            approval_id: None,
            attempts: 3,
            outcome: "dead_lettered".into(),
            last_error: Some("HTTP 500".into()),
            started_at: Some(t0),
            ..ok.clone()
        };
        s.record_delivery(&dead, t1).unwrap();
        assert_eq!(s.ticket_for("hook", "apr-1").unwrap(), None, "no ticket");
        let all = s.list_deliveries(10).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].connector, "slack", "the newest first");
        assert_eq!(
            (all[0].attempts, all[0].outcome.as_str()),
            (3, "dead_lettered")
        );
        assert_eq!(all[0].last_error.as_deref(), Some("HTTP 500"));
        assert_eq!((all[0].started_at, all[0].finished_at), (t0, t1));
        assert_eq!(all[1].approval_id.as_deref(), Some("apr-1"));
        assert_eq!(all[1].target_host, "127.0.0.1:9");
        assert_eq!((all[1].started_at, all[1].last_error.clone()), (t0, None));
        assert_eq!(s.list_deliveries(1).unwrap().len(), 1);
        let bad = NewDelivery {
            outcome: "maybe".into(),
            ..ok.clone()
        };
        assert!(s.record_delivery(&bad, t1).is_err());
        assert!(s.list_deliveries(0).is_err());
        assert!(s.list_deliveries(MAX_DELIVERY_LIST + 1).is_err());
        assert_eq!(s.list_deliveries(10).unwrap().len(), 2);

        // a ticket opened for an approval is found by connector and approval, the newest
        // delivered one; a dead-lettered row's ticket is not
        let opened = NewDelivery {
            connector: "jira".into(),
            kind: "jira".into(),
            approval_id: Some("apr-9".into()),
            ticket: Some("SEC-41".into()),
            ..ok.clone()
        };
        s.record_delivery(&opened, t0).unwrap();
        s.record_delivery(
            &NewDelivery {
                ticket: Some("SEC-42".into()),
                ..opened.clone()
            },
            t1,
        )
        .unwrap();
        s.record_delivery(
            &NewDelivery {
                ticket: Some("SEC-43".into()),
                outcome: "dead_lettered".into(),
                ..opened.clone()
            },
            t1,
        )
        .unwrap();
        assert_eq!(
            s.ticket_for("jira", "apr-9").unwrap().as_deref(),
            Some("SEC-42")
        );
        assert_eq!(s.ticket_for("jira", "apr-1").unwrap(), None);
        assert_eq!(s.ticket_for("servicenow", "apr-9").unwrap(), None);
        assert_eq!(
            s.list_deliveries(1).unwrap()[0].ticket.as_deref(),
            Some("SEC-43")
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_deliveries() {
        let d = tempfile::tempdir().unwrap();
        let s = crate::Store::open(d.path().join("c.db")).unwrap();
        delivery_lifecycle(&s);
    }

    #[test]
    fn a_delivery_is_checked_and_cut() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert!(DeliveryRow::new(&NewDelivery::default(), now).is_err());
        let d = NewDelivery {
            connector: "ho\u{7}ok".into(),
            record_id: "r".into(),
            outcome: "delivered".into(),
            last_error: Some("e".repeat(5000)),
            ..Default::default()
        };
        let r = DeliveryRow::new(&d, now).unwrap();
        assert_eq!(r.connector, "hook");
        assert_eq!(r.error.map(|e| e.len()), Some(MAX_ERROR));
        assert_eq!((r.started, r.finished), (r.finished, secs(now)));
    }
}
