//! The `oidc:` configuration shape (docs/auth.md): which issuer, which audience, where its
//! keys are, which claim carries the groups, and how groups map to CAVRA's roles and to
//! repositories. It is a section of a YAML (or JSON) file, so it can sit in the server's
//! `--config FILE` beside other sections; [`OidcConfig::load`] reads it from such a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::AuthError;
use crate::principal::Role;

/// The algorithms CAVRA verifies. `none` and `HS*` are never among them: a JWKS holds
/// public keys, and a public key is not a shared secret.
pub const SUPPORTED_ALGORITHMS: &[&str] = &["RS256", "ES256", "EdDSA"];

/// Longest accepted clock leeway (exp, nbf, iat): 5 minutes.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// The `oidc:` section, as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The `iss` every token must carry, exactly (and the discovery document's `issuer`).
    pub issuer: String,
    /// The accepted `aud` value(s): a string or a list; a token must name one of them.
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// A JWKS file (`{"keys": [...]}`), re-read when its cache time is up or on an unknown
    /// `kid`. A relative path is relative to the config file.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// The issuer's JWKS URL, fetched directly.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The issuer's discovery document (`…/.well-known/openid-configuration`); its
    /// `jwks_uri` is used. Exactly one of `jwks_file`, `jwks_url`, `discovery_url`.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// Accepted algorithms, a subset of RS256, ES256, EdDSA (the default: all three).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// The claim holding the person's groups: a name, or a dotted path into nested
    /// objects (`realm_access.roles`). Default `groups`.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Clock leeway for `exp`, `nbf` and `iat` (a duration, at most 5m). Default 60s.
    #[serde(default, deserialize_with = "opt_duration")]
    pub leeway: Option<u64>,
    /// How long fetched keys are used before they are fetched again. Default 5m.
    #[serde(default, deserialize_with = "opt_duration")]
    pub jwks_cache_ttl: Option<u64>,
    /// The least time between two fetches (an unknown `kid` triggers at most one refresh
    /// in this window; a failing issuer is not asked again before). Default 30s.
    #[serde(default, deserialize_with = "opt_duration")]
    pub jwks_min_refresh_interval: Option<u64>,
    /// Timeout of one HTTP fetch (discovery or JWKS). Default 5s.
    #[serde(default, deserialize_with = "opt_duration")]
    pub http_timeout: Option<u64>,
    /// IdP groups granting each role: `roles: {admin: [g…], approver: […], auditor: […],
    /// agent: […]}`.
    #[serde(default)]
    pub roles: BTreeMap<Role, Vec<String>>,
    /// Repository globs per IdP group (`acme/*`, `acme/web`). Absent: no repository limit.
    /// Present: a person may act on the repositories of their groups only (admins on all).
    #[serde(default)]
    pub repositories: Option<BTreeMap<String, Vec<String>>>,
}

fn default_algorithms() -> Vec<String> {
    SUPPORTED_ALGORITHMS.iter().map(|s| s.to_string()).collect()
}

fn default_groups_claim() -> String {
    "groups".to_string()
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// A duration written as seconds (`30`) or in the workspace's grammar (`5m`, `1h30m`).
fn opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Dur {
        Secs(u64),
        Text(String),
    }
    match Option::<Dur>::deserialize(d)? {
        None => Ok(None),
        Some(Dur::Secs(n)) => Ok(Some(n)),
        Some(Dur::Text(t)) => cavra_core::duration::parse_secs(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Where the issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Url(String),
    Discovery(String),
}

impl KeySource {
    /// How errors name it.
    pub fn describe(&self) -> String {
        match self {
            KeySource::File(p) => p.display().to_string(),
            KeySource::Url(u) | KeySource::Discovery(u) => u.clone(),
        }
    }
}

/// The checked, resolved configuration the validator runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub issuer: String,
    pub audience: Vec<String>,
    pub source: KeySource,
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    pub groups_claim: Vec<String>,
    pub leeway_secs: i64,
    pub jwks_cache_ttl: Duration,
    pub min_refresh_interval: Duration,
    pub http_timeout: Duration,
    pub roles: BTreeMap<Role, Vec<String>>,
    pub repositories: Option<BTreeMap<String, Vec<String>>>,
}

impl OidcConfig {
    /// Read the `oidc:` section of a YAML/JSON file (other top-level sections are left to
    /// their owners). A relative `jwks_file` is resolved against the file's directory.
    pub fn load(path: &Path) -> Result<OidcConfig, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::Config {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parse the `oidc:` section of YAML/JSON text; `path` is used in errors and resolves
    /// a relative `jwks_file`.
    pub fn parse(text: &str, path: &Path) -> Result<OidcConfig, AuthError> {
        let err = |detail: String| AuthError::Config {
            path: path.to_path_buf(),
            detail,
        };
        // the workspace's one YAML loader: caps on size, nesting and alias expansion
        let (value, _) = cavra_core::policy::yaml::parse(text)
            .map_err(|e| err(format!("line {}, column {}: {}", e.line, e.col, e.message)))?;
        let section = value
            .get("oidc")
            .cloned()
            .ok_or_else(|| err("no `oidc:` section".into()))?;
        Self::from_section(section, path)
    }

    /// The `oidc:` section as already parsed (a YAML/JSON value), checked; `path` is only
    /// used in errors. A relative `jwks_file` is resolved against `path`'s directory.
    pub fn from_section(section: serde_json::Value, path: &Path) -> Result<OidcConfig, AuthError> {
        let err = |detail: String| AuthError::Config {
            path: path.to_path_buf(),
            detail: format!("oidc: {detail}"),
        };
        let mut cfg: OidcConfig =
            serde_json::from_value(section).map_err(|e| err(e.to_string()))?;
        cfg.settings().map_err(err)?;
        if let Some(f) = cfg.jwks_file.as_mut() {
            if f.is_relative() {
                if let Some(dir) = path.parent() {
                    *f = dir.join(&*f);
                }
            }
        }
        Ok(cfg)
    }

    /// Check the section and resolve its defaults. The error is the detail of a config
    /// error (which field, what is wrong).
    pub fn settings(&self) -> Result<Settings, String> {
        if self.issuer.trim().is_empty() {
            return Err("`issuer` is empty".into());
        }
        if self.audience.is_empty() || self.audience.iter().any(|a| a.trim().is_empty()) {
            return Err("`audience` must name at least one non-empty audience".into());
        }
        let source = match (&self.jwks_file, &self.jwks_url, &self.discovery_url) {
            (Some(f), None, None) => KeySource::File(f.clone()),
            (None, Some(u), None) => KeySource::Url(check_url("jwks_url", u)?),
            (None, None, Some(u)) => KeySource::Discovery(check_url("discovery_url", u)?),
            _ => {
                return Err(
                    "exactly one of `jwks_file`, `jwks_url`, `discovery_url` is needed".into(),
                )
            }
        };
        if self.algorithms.is_empty() {
            return Err("`algorithms` is empty".into());
        }
        let mut algorithms = Vec::new();
        for a in &self.algorithms {
            algorithms.push(parse_algorithm(a).ok_or_else(|| {
                format!(
                    "algorithm `{a}` is not supported (use {})",
                    SUPPORTED_ALGORITHMS.join(", ")
                )
            })?);
        }
        let groups_claim: Vec<String> = self.groups_claim.split('.').map(str::to_string).collect();
        if groups_claim.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "`groups_claim` `{}` is malformed",
                self.groups_claim
            ));
        }
        let leeway = self.leeway.unwrap_or(60);
        if leeway > MAX_LEEWAY_SECS {
            return Err(format!(
                "`leeway` {leeway}s is over the maximum of {MAX_LEEWAY_SECS}s"
            ));
        }
        for (role, groups) in &self.roles {
            if groups.iter().any(|g| g.trim().is_empty()) {
                return Err(format!("roles.{}: an empty group name", role.as_str()));
            }
        }
        if let Some(repos) = &self.repositories {
            for (group, patterns) in repos {
                for p in patterns {
                    cavra_core::glob::Glob::new(p)
                        .map_err(|e| format!("repositories.{group}: `{p}`: {e}"))?;
                }
            }
        }
        let http_timeout = self.http_timeout.unwrap_or(5);
        if http_timeout == 0 {
            return Err("`http_timeout` must be more than 0".into());
        }
        Ok(Settings {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            source,
            algorithms,
            groups_claim,
            leeway_secs: i64::try_from(leeway).unwrap_or(0),
            jwks_cache_ttl: Duration::from_secs(self.jwks_cache_ttl.unwrap_or(300)),
            min_refresh_interval: Duration::from_secs(self.jwks_min_refresh_interval.unwrap_or(30)),
            http_timeout: Duration::from_secs(http_timeout),
            roles: self.roles.clone(),
            repositories: self.repositories.clone(),
        })
    }
}

fn check_url(field: &str, u: &str) -> Result<String, String> {
    if u.starts_with("http://") || u.starts_with("https://") {
        Ok(u.to_string())
    } else {
        Err(format!("`{field}` `{u}` is not an http(s) URL"))
    }
}

/// One of [`SUPPORTED_ALGORITHMS`]; anything else (`none`, `HS256`, `PS256`, …) is `None`.
pub fn parse_algorithm(name: &str) -> Option<jsonwebtoken::Algorithm> {
    match name {
        "RS256" => Some(jsonwebtoken::Algorithm::RS256),
        "ES256" => Some(jsonwebtoken::Algorithm::ES256),
        "EdDSA" => Some(jsonwebtoken::Algorithm::EdDSA),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const OK: &str = r#"
listen: 127.0.0.1:8700        # another section's key: left alone
oidc:
  issuer: https://idp.example.com/realms/acme
  audience: cavra
  discovery_url: https://idp.example.com/realms/acme/.well-known/openid-configuration
  groups_claim: realm_access.roles
  leeway: 30s
  jwks_cache_ttl: 10m
  roles:
    admin: [cavra-admins]
    approver: [platform-security]
  repositories:
    platform-security: ["acme/*"]
"#;

    #[test]
    fn a_full_section_parses_with_its_defaults() {
        let c = OidcConfig::parse(OK, Path::new("server.yaml")).unwrap();
        let s = c.settings().unwrap();
        assert_eq!(s.audience, vec!["cavra"]);
        assert_eq!(s.groups_claim, vec!["realm_access", "roles"]);
        assert_eq!(s.leeway_secs, 30);
        assert_eq!(s.jwks_cache_ttl, Duration::from_secs(600));
        assert_eq!(s.min_refresh_interval, Duration::from_secs(30));
        assert_eq!(s.algorithms.len(), 3);
        assert!(matches!(s.source, KeySource::Discovery(_)));
        assert_eq!(s.roles[&Role::Admin], vec!["cavra-admins"]);
    }

    #[test]
    fn mistakes_are_config_errors_that_name_the_field() {
        let cases = [
            ("oidc: {issuer: x, audience: a}", "exactly one of"),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, jwks_url: http://x}",
                "exactly one of",
            ),
            ("oidc: {issuer: x, audience: [], jwks_file: j}", "audience"),
            ("oidc: {issuer: '', audience: a, jwks_file: j}", "issuer"),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, algorithms: [HS256]}",
                "HS256",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, algorithms: [none]}",
                "none",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_url: ftp://x}",
                "jwks_url",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, leeway: 1h}",
                "leeway",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, leeway: soon}",
                "duration",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, groups_claim: a..b}",
                "groups_claim",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, roles: {root: [g]}}",
                "root",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, repositories: {g: ['a/[x']}}",
                "repositories.g",
            ),
            (
                "oidc: {issuer: x, audience: a, jwks_file: j, audiance: b}",
                "audiance",
            ),
            ("listen: x", "no `oidc:` section"),
        ];
        for (text, want) in cases {
            let e = OidcConfig::parse(text, Path::new("c.yaml")).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("c.yaml") && msg.contains(want),
                "{text}: {msg}"
            );
        }
    }

    #[test]
    fn a_relative_jwks_file_is_next_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.yaml");
        std::fs::write(
            &p,
            "oidc: {issuer: x, audience: a, jwks_file: keys/jwks.json}",
        )
        .unwrap();
        let c = OidcConfig::load(&p).unwrap();
        assert_eq!(c.jwks_file.unwrap(), dir.path().join("keys/jwks.json"));
    }

    #[test]
    fn only_the_three_asymmetric_algorithms_parse() {
        for a in SUPPORTED_ALGORITHMS {
            assert!(parse_algorithm(a).is_some());
        }
        for a in [
            "none", "None", "HS256", "HS384", "HS512", "PS256", "RS512", "rs256", "",
        ] {
            assert!(parse_algorithm(a).is_none(), "{a}");
        }
    }
}
