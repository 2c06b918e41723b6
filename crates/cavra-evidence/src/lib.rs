//! CAVRA evidence hub: an append-only, hash-chained, signed decision log with Merkle
//! checkpoints and inclusion proofs, keys and trust roots, verification, evidence
//! bundles (in-toto/DSSE), SIEM exports and retention.
//!
//! See `docs/evidence.md` for the formats.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

pub mod bundle;
pub mod canon;
pub mod error;
pub mod export;
pub mod keys;
pub mod log;
pub mod merkle;
pub mod ops;
pub mod pack_keys;
pub mod proof;
pub mod record;
pub mod redact;
pub mod retention;
pub mod segments;
pub mod timeutil;
pub mod verify;

pub use error::{EvidenceError, Result};
pub use keys::{
    KeyInfo, KeyStore, Keyring, SigningKey, SigningMode, TrustRoot, TrustedKey, VerifyingKey,
};
pub use log::{
    read_checkpoints, read_records, read_tombstone, Appended, Checkpoint, Durability, EvidenceLog,
    LogConfig, PreparedBody, PruneReport, RepairReport, Tombstone,
};
pub use record::Record;
pub use redact::{redact_str, redact_value};
pub use time;
pub use verify::{verify_log, Issue, VerifyOptions, VerifyReport};
