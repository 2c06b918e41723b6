//! The connector deliveries in PostgreSQL (the rows and SQL of [`crate::deliveries`], as
//! the SQLite store keeps them).

use time::OffsetDateTime;

use super::{json_rows, select_json, PgStore};
use crate::deliveries::{
    check_limit, decode, DeliveryRecord, DeliveryRow, NewDelivery, RawDelivery, DELIVERY_COLS,
    INSERT_DELIVERY, LIST_ORDER, TICKET_FOR,
};
use crate::error::StoreError;

impl PgStore {
    /// See [`crate::DeliveryStore::record_delivery`].
    pub fn record_delivery(&self, d: &NewDelivery, now: OffsetDateTime) -> Result<(), StoreError> {
        let r = DeliveryRow::new(d, now)?;
        self.conn()?.execute(
            INSERT_DELIVERY,
            &[
                &r.delivery_id,
                &r.connector,
                &r.kind,
                &r.host,
                &r.record_id,
                &r.record_kind,
                &r.approval_id,
                &r.attempts,
                &r.outcome,
                &r.error,
                &r.started,
                &r.finished,
                &r.ticket,
            ],
        )?;
        Ok(())
    }

    /// See [`crate::DeliveryStore::list_deliveries`].
    pub fn list_deliveries(&self, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        let limit = check_limit(limit)?;
        let rows: Vec<RawDelivery> = json_rows(
            &mut *self.conn()?,
            &format!(
                "{} FROM connector_deliveries {LIST_ORDER}",
                select_json(DELIVERY_COLS)
            ),
            &[&limit],
        )?;
        rows.into_iter().map(decode).collect()
    }

    /// See [`crate::DeliveryStore::ticket_for`].
    pub fn ticket_for(
        &self,
        connector: &str,
        approval_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .conn()?
            .query_opt(TICKET_FOR, &[&connector, &approval_id])?;
        Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
    }
}
