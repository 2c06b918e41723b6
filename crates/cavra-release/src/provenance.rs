//! The release's provenance: an in-toto Statement v1 whose predicate is SLSA provenance v1
//! (builder; build parameters; resolved dependencies = the git commit and the SHA-256 of
//! `Cargo.lock`; subject = the binary's SHA-256), signed into a DSSE envelope with the
//! release key (`cavra_evidence::bundle::pae`, the encoding evidence bundles use).

use crate::error::{ReleaseError, Result};
use crate::BuildInfo;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cavra_evidence::bundle::{pae, INTOTO_PAYLOAD_TYPE};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA provenance predicate type.
pub const SLSA_PROVENANCE: &str = "https://slsa.dev/provenance/v1";
/// The build type of a CAVRA release build (`release/build.sh`).
pub const BUILD_TYPE: &str = "https://cavra.dev/release/build/v1";

/// What the statement says about one build.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    /// The binary's name in the release directory and its SHA-256.
    pub subject: (&'a str, &'a str),
    pub info: &'a BuildInfo,
    /// SHA-256 of `Cargo.lock`.
    pub lock_sha256: &'a str,
    /// Who built it (`$CAVRA_BUILDER_ID`: a CI workflow's URL; `local` otherwise).
    pub builder: &'a str,
    /// RFC 3339 time of the build (`$SOURCE_DATE_EPOCH`), if given.
    pub finished_on: Option<&'a str>,
}

/// The in-toto statement.
pub fn statement(b: &Build) -> Value {
    let (name, digest) = b.subject;
    let mut metadata = json!({"invocationId": format!("{}@{}", b.info.version, b.info.git_commit)});
    if let Some(t) = b.finished_on {
        metadata["finishedOn"] = json!(t);
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}}],
        "predicateType": SLSA_PROVENANCE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "package": "cavra-cli",
                    "profile": b.info.profile,
                    "target": b.info.target,
                    "features": b.info.features,
                },
                "internalParameters": {"rustc": b.info.rustc},
                "resolvedDependencies": [
                    {"name": "source", "digest": {"gitCommit": b.info.git_commit}},
                    {"name": "Cargo.lock", "digest": {"sha256": b.lock_sha256}},
                ],
            },
            "runDetails": {
                "builder": {"id": b.builder},
                "metadata": metadata,
            },
        },
    })
}

/// The statement signed into a DSSE envelope.
pub fn envelope(statement: &Value, key: &SigningKey) -> Value {
    let payload = serde_json::to_vec(statement).unwrap_or_default();
    let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload));
    json!({
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "payload": B64.encode(&payload),
        "signatures": [{
            "keyid": cavra_core::policy::signing::key_id(&key.verifying_key()),
            "sig": B64.encode(sig.to_bytes()),
        }],
    })
}

/// What a verified provenance says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Subject name → SHA-256.
    pub subjects: BTreeMap<String, String>,
    pub git_commit: String,
    pub lock_sha256: String,
    pub builder: String,
    /// The build parameters: cargo profile as the binary reports it, target, compiler,
    /// features.
    pub profile: String,
    pub target: String,
    pub rustc: String,
    pub features: Vec<String>,
}

/// Verifies the envelope in `file` under the trusted keys (one good signature by a trusted
/// key) and reads its statement.
pub fn check(file: &str, bytes: &[u8], trusted: &[VerifyingKey]) -> Result<Checked> {
    let refuse = |why: String| ReleaseError::refused(file, why);
    let env: Value =
        serde_json::from_slice(bytes).map_err(|e| refuse(format!("not a DSSE envelope: {e}")))?;
    if env.get("payloadType").and_then(Value::as_str) != Some(INTOTO_PAYLOAD_TYPE) {
        return Err(refuse(format!("payloadType is not {INTOTO_PAYLOAD_TYPE}")));
    }
    let payload = env
        .get("payload")
        .and_then(Value::as_str)
        .and_then(|p| B64.decode(p).ok())
        .ok_or_else(|| refuse("no base64 payload".into()))?;
    let message = pae(INTOTO_PAYLOAD_TYPE, &payload);
    let ids: Vec<String> = trusted
        .iter()
        .map(cavra_core::policy::signing::key_id)
        .collect();
    let sigs = env
        .get("signatures")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let good = sigs.iter().any(|s| {
        let key = ids
            .iter()
            .position(|id| Some(id.as_str()) == s.get("keyid").and_then(Value::as_str));
        let sig = s
            .get("sig")
            .and_then(Value::as_str)
            .and_then(|b| B64.decode(b).ok())
            .and_then(|b| Signature::from_slice(&b).ok());
        match (key.and_then(|k| trusted.get(k)), sig) {
            (Some(k), Some(sig)) => k.verify(&message, &sig).is_ok(),
            _ => false,
        }
    });
    if !good {
        return Err(refuse(format!(
            "no signature by a trusted key (trusted: {}) verifies",
            ids.join(", ")
        )));
    }
    let st: Value = serde_json::from_slice(&payload)
        .map_err(|e| refuse(format!("the payload is not JSON: {e}")))?;
    let s = |p: &str| {
        st.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if s("/_type") != STATEMENT_TYPE || s("/predicateType") != SLSA_PROVENANCE {
        return Err(refuse(format!(
            "not an in-toto statement of {SLSA_PROVENANCE}"
        )));
    }
    let subjects: BTreeMap<String, String> = st
        .get("subject")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|x| {
            let name = x.get("name").and_then(Value::as_str).unwrap_or("");
            let d = x
                .pointer("/digest/sha256")
                .and_then(Value::as_str)
                .unwrap_or("");
            (name.to_string(), d.to_string())
        })
        .collect();
    if subjects.is_empty() || subjects.iter().any(|(n, d)| n.is_empty() || d.len() != 64) {
        return Err(refuse(
            "its subjects are missing or lack a name or SHA-256".into(),
        ));
    }
    let deps = st
        .pointer("/predicate/buildDefinition/resolvedDependencies")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let digest = |key: &str| {
        deps.iter()
            .find_map(|d| d.pointer(&format!("/digest/{key}")).and_then(Value::as_str))
            .map(str::to_string)
            .ok_or_else(|| refuse(format!("no resolved dependency with a `{key}` digest")))
    };
    Ok(Checked {
        subjects,
        git_commit: digest("gitCommit")?,
        lock_sha256: digest("sha256")?,
        builder: s("/predicate/runDetails/builder/id"),
        profile: s("/predicate/buildDefinition/externalParameters/profile"),
        target: s("/predicate/buildDefinition/externalParameters/target"),
        rustc: s("/predicate/buildDefinition/internalParameters/rustc"),
        features: st
            .pointer("/predicate/buildDefinition/externalParameters/features")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_statement_verifies_and_a_changed_one_does_not() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let info = BuildInfo::current(&[]);
        let digest = "c".repeat(64);
        let lock = "d".repeat(64);
        let b = Build {
            subject: ("cavra", &digest),
            info: &info,
            lock_sha256: &lock,
            builder: "local",
            finished_on: Some("2026-12-01T00:00:00Z"),
        };
        let st = statement(&b);
        assert_eq!(
            st["predicate"]["runDetails"]["metadata"]["finishedOn"],
            "2026-12-01T00:00:00Z"
        );
        let env = envelope(&st, &key).to_string();
        let c = check("p", env.as_bytes(), &[key.verifying_key()]).unwrap();
        assert_eq!(c.subjects.get("cavra"), Some(&digest));
        assert_eq!(
            (c.lock_sha256.as_str(), c.builder.as_str()),
            (lock.as_str(), "local")
        );
        assert_eq!(c.git_commit, info.git_commit);
        assert_eq!(
            (&c.profile, &c.target, &c.rustc, &c.features),
            (&info.profile, &info.target, &info.rustc, &info.features)
        );
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        let e = check("p", env.as_bytes(), &[other])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("release refused: `p`: no signature by a trusted key"),
            "{e}"
        );
        // a statement changed after signing
        let mut forged: Value = serde_json::from_str(&env).unwrap();
        let mut st2 = st.clone();
        st2["subject"][0]["digest"]["sha256"] = json!("e".repeat(64));
        forged["payload"] = json!(B64.encode(serde_json::to_vec(&st2).unwrap()));
        let e = check("p", forged.to_string().as_bytes(), &[key.verifying_key()]).unwrap_err();
        assert!(
            e.to_string().contains("no signature by a trusted key"),
            "{e}"
        );
    }
}
