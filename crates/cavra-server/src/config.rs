//! What the server runs with, resolved by the front end (`cavra serve`): the flags, the
//! optional config file, and the settings every decision needs.

use crate::error::ServerError;
use cavra_runtime::{Locator, PackChoice};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8700";
/// Default largest request body (the hook's own payload limit).
pub const DEFAULT_BODY_LIMIT: usize = cavra_agents::MAX_PAYLOAD;
/// Default time a request may take, from its first byte to its answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Log lines: human text or one JSON object per line (both on stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Result<LogFormat, ServerError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(ServerError::LogFormat(s.to_string())),
        }
    }
}

/// Where the server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
}

impl Database {
    /// A `--database` value: a path, `sqlite://PATH` or `sqlite:PATH`; `postgres://…` is
    /// refused until PostgreSQL is built.
    pub fn parse(url: &str) -> Result<Database, ServerError> {
        let u = url.trim();
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Err(ServerError::PostgresNotBuilt);
        }
        if let Some(p) = u
            .strip_prefix("sqlite://")
            .or_else(|| u.strip_prefix("sqlite:"))
        {
            if p.is_empty() {
                return Err(ServerError::UnsupportedDatabase(url.to_string()));
            }
            return Ok(Database::Sqlite(PathBuf::from(p)));
        }
        if u.is_empty() || u.contains("://") {
            return Err(ServerError::UnsupportedDatabase(url.to_string()));
        }
        Ok(Database::Sqlite(PathBuf::from(u)))
    }

    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(p) => format!("sqlite://{}", p.display()),
        }
    }

    /// The SQLite file.
    pub fn sqlite_path(&self) -> &Path {
        match self {
            Database::Sqlite(p) => p,
        }
    }
}

/// The values a config file may set (flags win over it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database: Option<String>,
    pub log_format: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
}

impl FileConfig {
    /// Parses a config file (YAML or JSON): `listen`, `database`, `log_format`,
    /// `body_limit_bytes`, `request_timeout_secs`; any other key is an error.
    pub fn parse(text: &str, path: &str) -> Result<FileConfig, ServerError> {
        let err = |detail: String| ServerError::Config {
            path: path.to_string(),
            detail,
        };
        let (v, _) = cavra_core::policy::yaml::parse(text)
            .map_err(|e| err(format!("{}:{}: {}", e.line, e.col, e.message)))?;
        let Some(map) = v.as_object() else {
            return Err(err("expected a mapping of settings".into()));
        };
        let mut c = FileConfig::default();
        for (k, val) in map {
            let text = || {
                val.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(format!("`{k}` must be a string")))
            };
            let number = || {
                val.as_u64()
                    .ok_or_else(|| err(format!("`{k}` must be a positive whole number")))
            };
            match k.as_str() {
                "listen" => c.listen = Some(text()?),
                "database" => c.database = Some(text()?),
                "log_format" => c.log_format = Some(text()?),
                "body_limit_bytes" => {
                    c.body_limit_bytes = Some(
                        usize::try_from(number()?)
                            .map_err(|_| err("`body_limit_bytes` is too large".into()))?,
                    )
                }
                "request_timeout_secs" => c.request_timeout_secs = Some(number()?),
                other => {
                    return Err(err(format!(
                        "unknown setting `{other}` (known: listen, database, log_format, body_limit_bytes, request_timeout_secs)"
                    )))
                }
            }
        }
        Ok(c)
    }
}

/// Everything the server runs with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database: Database,
    /// The CAVRA directory: the evidence log, its keys, the approval routing/RBAC files.
    pub cavra_dir: PathBuf,
    /// The approver directory: the key approvals made through the server are signed with,
    /// and the trust root stored approvals are verified against.
    pub approver_dir: Option<PathBuf>,
    /// Where a request that names no working directory happens, and where the project's
    /// `.cavra/policy.yaml` is looked for.
    pub project: PathBuf,
    pub locator: Locator,
    pub packs: PackChoice,
    /// The organisation pack (`CAVRA_ORG_POLICY`): every decision is the stricter of it
    /// and the pack that decides (tighten-only).
    pub org_pack: Option<PathBuf>,
    /// Append decisions to the evidence log.
    pub record: bool,
    /// Headless: a require-approval decision opens an approval request.
    pub non_interactive: bool,
    /// This machine's name (hook actors are `<agent>@<host>`).
    pub host: String,
    pub log_format: LogFormat,
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// The version reported by `/version`.
    pub version: String,
}

/// Parses a listen address (`HOST:PORT`).
pub fn parse_listen(s: &str) -> Result<SocketAddr, ServerError> {
    use std::net::ToSocketAddrs as _;
    s.trim()
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ServerError::ListenAddress(s.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            Database::parse("/tmp/x.db").unwrap(),
            Database::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Database::parse("sqlite:///tmp/x.db").unwrap(),
            Database::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            Database::parse("postgres://root@127.0.0.1/cavra"),
            Err(ServerError::PostgresNotBuilt)
        ));
        assert!(Database::parse("postgres://x")
            .unwrap_err()
            .to_string()
            .contains("PostgreSQL is not built yet"));
        assert!(matches!(
            Database::parse("mysql://x"),
            Err(ServerError::UnsupportedDatabase(_))
        ));
        assert!(Database::parse("sqlite://").is_err());
    }

    #[test]
    fn config_files_and_listen_addresses() {
        let c = FileConfig::parse(
            "listen: 127.0.0.1:9000\nlog_format: json\nbody_limit_bytes: 1024\n",
            "c.yaml",
        )
        .unwrap();
        assert_eq!(c.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(c.body_limit_bytes, Some(1024));
        let bad = FileConfig::parse("listn: x\n", "c.yaml").unwrap_err();
        assert!(bad.to_string().contains("unknown setting `listn`"), "{bad}");
        assert!(FileConfig::parse("body_limit_bytes: -1\n", "c").is_err());
        assert!(FileConfig::parse("- a\n", "c").is_err());
        assert_eq!(parse_listen("127.0.0.1:0").unwrap().port(), 0);
        assert!(parse_listen("nowhere").is_err());
        assert_eq!(LogFormat::parse("JSON").unwrap(), LogFormat::Json);
        assert!(LogFormat::parse("xml").is_err());
    }
}
