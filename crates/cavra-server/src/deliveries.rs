//! `/v1/connectors/deliveries`: the connector deliveries the server finished — one row per
//! delivery (delivered, or dead-lettered after its last attempt), written by the
//! connectors' worker ([`recorder`]). A row names the target's host, never its URL or a
//! secret. A failure to record is logged and never changes the delivery.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use cavra_store::{NewDelivery, OffsetDateTime, TeamOpener};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::connectors::Delivery;
use crate::error::{ApiError, ErrorDocument};
use crate::state::Shared;

/// The rows a listing returns without `limit`.
const DEFAULT_LIMIT: u32 = 100;

/// The store row of a finished delivery.
pub fn row(d: &Delivery) -> NewDelivery {
    NewDelivery {
        delivery_id: d.delivery_id.clone(),
        connector: d.connector.clone(),
        kind: d.kind.to_string(),
        target_host: d.target_host.clone(),
        record_id: d.record_id.clone(),
        record_kind: d.record_kind.clone(),
        approval_id: d.approval_id.clone(),
        attempts: d.attempts,
        outcome: if d.status == "delivered" {
            "delivered"
        } else {
            "dead_lettered"
        }
        .into(),
        last_error: d.error.clone(),
        started_at: d.started_at,
        ticket: d.ticket.clone(),
    }
}

/// The connectors' ticket lookup: the ticket `connector` opened for an approval, from the
/// team store (so a restart or another replica closes it too); a failure is logged and
/// reads as none.
pub fn ticket_finder(
    stores: Arc<dyn TeamOpener + Send + Sync>,
    cavra_dir: &Path,
) -> impl Fn(&str, &str) -> Option<String> + Send + 'static {
    let dir: PathBuf = cavra_dir.to_path_buf();
    move |connector, approval_id| match stores
        .open_team(&dir)
        .and_then(|s| s.ticket_for(connector, approval_id))
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(%connector, approval = %approval_id, error = %e, "could not look up a connector's ticket");
            None
        }
    }
}

/// The connectors' `on_delivery`: one row per finished delivery in the team store of
/// `cavra_dir` (opened per delivery, on the worker thread); a failure is logged.
pub fn recorder(
    stores: Arc<dyn TeamOpener + Send + Sync>,
    cavra_dir: &Path,
) -> impl Fn(&Delivery) + Send + 'static {
    let dir: PathBuf = cavra_dir.to_path_buf();
    move |d| {
        let r = stores
            .open_team(&dir)
            .and_then(|s| s.record_delivery(&row(d), OffsetDateTime::now_utc()));
        if let Err(e) = r {
            tracing::warn!(connector = %d.connector, record = %d.record_id, error = %e, "could not record a connector delivery");
        }
    }
}

/// Query of `GET /v1/connectors/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// How many, newest first: 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

/// The connector deliveries, newest first: connector, kind, target host, the record (and
/// approval) carried, attempts, outcome (`delivered` / `dead_lettered`), the last failure.
#[utoipa::path(get, path = "/v1/connectors/deliveries", tag = "connectors", params(DeliveryQuery),
    responses(
        crate::control::Refused,
        (status = 200, description = "The deliveries, newest first", body = Vec<Object>),
        (status = 400, description = "A limit that is not 1 to 1000", body = ErrorDocument)),
    security(("bearer" = [])))]
pub async fn list_deliveries(
    State(state): State<Shared>,
    caller: Caller,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(cavra_store::ApiPermission::Read)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > cavra_store::MAX_DELIVERY_LIST {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {}, not {limit}",
            cavra_store::MAX_DELIVERY_LIST
        )));
    }
    crate::control::read(&state, &caller, move |s| {
        let all = s.store(false)?.list_deliveries(limit)?;
        Ok(cavra_runtime::views::Doc {
            json: Value::Array(all.iter().map(cavra_store::DeliveryRecord::json).collect()),
            text: Vec::new(),
        })
    })
    .await
}
