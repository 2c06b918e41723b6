//! [`PgStore`] behind the backend traits: every call is the inherent method of the same
//! name (the SQLite [`crate::Store`] is wired by the same macro in `backend.rs`).

use super::PgStore;

crate::backend::impl_store_traits!(PgStore);
