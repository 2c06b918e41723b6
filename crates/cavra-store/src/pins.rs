//! The MCP proxy's pinned tool definitions (`mcp_tool_pins`, migration V5): per server and
//! tool, the digest of the definition a person (or the first sighting from a trusted
//! server) approved, and whether a newer definition is withheld.

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Pin states.
pub const PIN_APPROVED: &str = "approved";
pub const PIN_PENDING: &str = "pending";
pub const PIN_QUARANTINED: &str = "quarantined";

/// One pinned tool of one MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolPin {
    pub server_id: String,
    pub tool_name: String,
    /// The digest of the definition this row is about (the approved one when `state` is
    /// approved, else the withheld one).
    pub digest: String,
    /// The digest of the definition without its name.
    pub body_digest: String,
    /// `approved`, `pending` or `quarantined`.
    pub state: String,
    /// Why it is withheld (empty when approved).
    pub reason: String,
    /// The approval request a person decides to release a withheld definition.
    pub approval_id: Option<String>,
    /// The digest approved before, while a changed definition is withheld.
    pub pinned: Option<String>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

pub(crate) const PIN_COLS: &str =
    "server_id, tool_name, digest, body_digest, state, reason, approval_id, pinned, updated_at";

pub(crate) fn check_pin(p: &ToolPin) -> Result<(), StoreError> {
    if ![PIN_APPROVED, PIN_PENDING, PIN_QUARANTINED].contains(&p.state.as_str()) {
        return Err(StoreError::input(
            "state",
            format!("unknown tool pin state `{}`", p.state),
        ));
    }
    if p.server_id.is_empty() || p.tool_name.is_empty() || p.digest.is_empty() {
        return Err(StoreError::input(
            "tool_pin",
            "a tool pin needs a server, a tool name and a digest",
        ));
    }
    Ok(())
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use crate::db::Store;
    use rusqlite::params;

    impl Store {
        /// See [`crate::DecisionStore::tool_pins`].
        pub fn tool_pins(&self, server_id: &str) -> Result<Vec<ToolPin>, StoreError> {
            let mut st = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {PIN_COLS} FROM mcp_tool_pins WHERE server_id = ?1 ORDER BY tool_name"
                ))
                .map_err(|e| self.classify(e))?;
            let rows = st
                .query_map(params![server_id], |r| {
                    Ok(ToolPin {
                        server_id: r.get(0)?,
                        tool_name: r.get(1)?,
                        digest: r.get(2)?,
                        body_digest: r.get(3)?,
                        state: r.get(4)?,
                        reason: r.get(5)?,
                        approval_id: r.get(6)?,
                        pinned: r.get(7)?,
                        updated_at: r.get(8)?,
                    })
                })
                .map_err(|e| self.classify(e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.classify(e))
        }

        /// See [`crate::DecisionStore::put_tool_pin`].
        pub fn put_tool_pin(&mut self, p: &ToolPin) -> Result<(), StoreError> {
            check_pin(p)?;
            self.conn
                .execute(
                    &format!(
                        "INSERT OR REPLACE INTO mcp_tool_pins ({PIN_COLS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                    ),
                    params![
                        p.server_id,
                        p.tool_name,
                        p.digest,
                        p.body_digest,
                        p.state,
                        p.reason,
                        p.approval_id,
                        p.pinned,
                        p.updated_at
                    ],
                )
                .map_err(|e| self.classify(e))?;
            Ok(())
        }
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use crate::pg::PgStore;

    impl PgStore {
        /// See [`crate::DecisionStore::tool_pins`].
        pub fn tool_pins(&self, server_id: &str) -> Result<Vec<ToolPin>, StoreError> {
            let rows = self.conn()?.query(
                &format!(
                    "SELECT {PIN_COLS} FROM mcp_tool_pins WHERE server_id = $1 ORDER BY tool_name"
                ),
                &[&server_id],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(ToolPin {
                        server_id: r.try_get(0)?,
                        tool_name: r.try_get(1)?,
                        digest: r.try_get(2)?,
                        body_digest: r.try_get(3)?,
                        state: r.try_get(4)?,
                        reason: r.try_get(5)?,
                        approval_id: r.try_get(6)?,
                        pinned: r.try_get(7)?,
                        updated_at: r.try_get(8)?,
                    })
                })
                .collect()
        }

        /// See [`crate::DecisionStore::put_tool_pin`].
        pub fn put_tool_pin(&mut self, p: &ToolPin) -> Result<(), StoreError> {
            check_pin(p)?;
            self.conn()?.execute(
                &format!(
                    "INSERT INTO mcp_tool_pins ({PIN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (server_id, tool_name) DO UPDATE SET digest = EXCLUDED.digest, \
                     body_digest = EXCLUDED.body_digest, state = EXCLUDED.state, reason = EXCLUDED.reason, \
                     approval_id = EXCLUDED.approval_id, pinned = EXCLUDED.pinned, updated_at = EXCLUDED.updated_at"
                ),
                &[
                    &p.server_id,
                    &p.tool_name,
                    &p.digest,
                    &p.body_digest,
                    &p.state,
                    &p.reason,
                    &p.approval_id,
                    &p.pinned,
                    &p.updated_at,
                ],
            )?;
            Ok(())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::DecisionStore;

    fn pin(tool: &str, digest: &str, state: &str) -> ToolPin {
        ToolPin {
            server_id: "fs".into(),
            tool_name: tool.into(),
            digest: digest.into(),
            body_digest: format!("b-{digest}"),
            state: state.into(),
            reason: String::new(),
            approval_id: None,
            pinned: None,
            updated_at: 1,
        }
    }

    /// Insert, read back per server, replace, refuse a bad state: the same on both backends.
    pub(crate) fn pin_round_trip(s: &mut dyn DecisionStore) {
        assert!(s.tool_pins("fs").unwrap().is_empty());
        s.put_tool_pin(&pin("read", "d1", PIN_APPROVED)).unwrap();
        s.put_tool_pin(&pin("write", "d2", PIN_APPROVED)).unwrap();
        let mut other = pin("read", "d9", PIN_APPROVED);
        other.server_id = "gh".into();
        s.put_tool_pin(&other).unwrap();
        let mut changed = pin("read", "d3", PIN_PENDING);
        changed.pinned = Some("d1".into());
        changed.approval_id = Some("apr-1".into());
        changed.reason = "definition changed".into();
        s.put_tool_pin(&changed).unwrap();
        let got = s.tool_pins("fs").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], changed);
        assert_eq!(got[1].tool_name, "write");
        assert!(s.put_tool_pin(&pin("x", "d", "trusted")).is_err());
        assert!(s.put_tool_pin(&pin("", "d", PIN_APPROVED)).is_err());
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn pins_round_trip_in_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::Store::open(dir.path().join("cavra.db")).unwrap();
        pin_round_trip(&mut s);
    }
}
