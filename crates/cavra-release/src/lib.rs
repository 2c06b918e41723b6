//! CAVRA's own releases, pure of any argument parser and of the network:
//!
//! - [`BuildInfo`]: what `cavra version --json` prints (version, git commit, profile,
//!   target, compiler, features), baked in by `build.rs`;
//! - [`sbom`]: a CycloneDX 1.5 JSON SBOM of the binary's dependency tree, from `cargo
//!   metadata` and `Cargo.lock`;
//! - [`provenance`]: an in-toto Statement v1 with a SLSA provenance v1 predicate, in a DSSE
//!   envelope signed with Ed25519;
//! - [`manifest`]: the reproducibility manifest, the build's inputs (`cavra.build.json`);
//! - [`assemble`] writes a release directory (binary, SBOM, provenance, `SHA256SUMS` and its
//!   Ed25519 signature `SHA256SUMS.sig`); [`verify`] checks one offline and names the
//!   file that fails.
//!
//! Keys are the files of `cavra policy keygen` (`cavra_evidence::pack_keys`).

mod assemble;
mod error;
mod info;
pub mod manifest;
pub mod provenance;
pub mod sbom;
mod sums;
mod verify;

pub use assemble::{assemble, Assembly};
pub use error::ReleaseError;
pub use info::BuildInfo;
pub use sums::{SUMS, SUMS_SIG};
pub use verify::{verify, VerifiedFile, VerifyReport};

/// The SBOM's file name in a release directory.
pub const SBOM_FILE: &str = "cavra.cdx.json";
/// The provenance's file name in a release directory (one DSSE envelope, one line).
pub const PROVENANCE_FILE: &str = "cavra.intoto.jsonl";
/// The reproducibility manifest's file name in a release directory.
pub const MANIFEST_FILE: &str = "cavra.build.json";

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
