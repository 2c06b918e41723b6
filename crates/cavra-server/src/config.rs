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

impl ServerConfig {
    /// Where a person decides what this server holds for approval, as a held agent is
    /// told it: the public URL, else `http://` and the listen address.
    pub fn approval_channel(&self) -> cavra_runtime::ApprovalChannel {
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen));
        cavra_runtime::ApprovalChannel::Server { public_url }
    }
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
    /// A PostgreSQL database (`postgres://…`, `postgresql://…`): replicas share it.
    Postgres(String),
}

impl Database {
    /// A `--database` value: a path, `sqlite://PATH` or `sqlite:PATH`, or
    /// `postgres://…` / `postgresql://…` (refused when the build has no PostgreSQL).
    pub fn parse(url: &str) -> Result<Database, ServerError> {
        let u = url.trim();
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            if !cfg!(feature = "postgres") {
                return Err(ServerError::PostgresNotBuilt);
            }
            return Ok(Database::Postgres(u.to_string()));
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

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// The database for messages (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        match self {
            Database::Sqlite(p) => format!("sqlite://{}", p.display()),
            #[cfg(feature = "postgres")]
            Database::Postgres(u) => cavra_store::pg::redact_url(u),
            #[cfg(not(feature = "postgres"))]
            Database::Postgres(u) => u.clone(),
        }
    }
}

/// How people and machines authenticate on `/v1` (the config file's `auth:` section):
/// the server's own bearer tokens always; OIDC JWTs when `oidc` is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthSettings {
    /// The OIDC issuer whose JWTs are accepted (cavra-auth's `oidc:` shape, docs/auth.md).
    pub oidc: Option<cavra_auth::OidcConfig>,
    /// The approver RBAC file (cavra-store's `Rbac`, docs/approvals.md); default
    /// `<cavra_dir>/approvals/rbac.yaml` when it exists.
    pub rbac_file: Option<PathBuf>,
}

impl AuthSettings {
    /// The `auth:` section: `oidc` (a mapping) and `rbac_file` (a path, relative to the
    /// config file); anything else is an error. `path` is the config file.
    pub fn parse(v: &serde_json::Value, path: &str) -> Result<AuthSettings, ServerError> {
        let err = |detail: String| ServerError::Config {
            path: path.to_string(),
            detail,
        };
        let Some(map) = v.as_object() else {
            return Err(err("`auth` must be a mapping (oidc, rbac_file)".into()));
        };
        let file = Path::new(path);
        let mut a = AuthSettings::default();
        for (k, val) in map {
            match k.as_str() {
                "oidc" => {
                    let c = cavra_auth::OidcConfig::from_section(val.clone(), file).map_err(
                        |e| match e {
                            cavra_auth::AuthError::Config { detail, .. } => {
                                err(format!("auth.{detail}"))
                            }
                            other => err(format!("auth.oidc: {other}")),
                        },
                    )?;
                    a.oidc = Some(c);
                }
                "rbac_file" => {
                    let p = val
                        .as_str()
                        .filter(|p| !p.trim().is_empty())
                        .ok_or_else(|| err("`auth.rbac_file` must be a file path".into()))?;
                    a.rbac_file = Some(relative_to(file, Path::new(p)));
                }
                other => {
                    return Err(err(format!(
                        "unknown setting `auth.{other}` (known: auth.oidc, auth.rbac_file)"
                    )))
                }
            }
        }
        Ok(a)
    }
}

/// `p` as written, or against the directory of `file` when relative.
fn relative_to(file: &Path, p: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}

/// The values a config file may set (flags win over it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    pub listen: Option<String>,
    /// The URL people reach the server at (behind a proxy or load balancer): what a held
    /// agent is told to have a person approve at. Default: `http://` and the bound address.
    pub public_url: Option<String>,
    pub database: Option<String>,
    pub log_format: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub auth: AuthSettings,
    /// The `connectors:` section (docs/connectors.md).
    pub connectors: Option<crate::connectors::Settings>,
    /// The `posture:` section: the thresholds of `GET /v1/posture` (docs/posture.md).
    pub posture: cavra_runtime::posture::thresholds::Thresholds,
}

impl FileConfig {
    /// The config file at `path` ([`FileConfig::parse`]; none: the defaults), with
    /// `$CAVRA_APPROVAL_RBAC_FILE` (the reference's variable) as `auth.rbac_file` when the
    /// file sets none.
    pub fn load(path: Option<&Path>) -> Result<FileConfig, ServerError> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ServerError::Config {
                    path: p.display().to_string(),
                    detail: format!("cannot read it: {e}"),
                })?;
                FileConfig::parse(&text, &p.display().to_string())?
            }
            None => FileConfig::default(),
        };
        if c.auth.rbac_file.is_none() {
            c.auth.rbac_file = std::env::var_os("CAVRA_APPROVAL_RBAC_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
        }
        Ok(c)
    }

    /// The log format of `flag`, else of the file, else text.
    pub fn log_format(&self, flag: Option<&str>) -> Result<LogFormat, ServerError> {
        flag.or(self.log_format.as_deref())
            .map_or(Ok(LogFormat::Text), LogFormat::parse)
    }

    /// The public URL of `flag` (checked by [`public_url`]), else of the file.
    pub fn public_url(&self, flag: Option<&str>) -> Result<Option<String>, ServerError> {
        let Some(url) = flag else {
            return Ok(self.public_url.clone());
        };
        public_url(url).map(Some).map_err(ServerError::PublicUrl)
    }

    /// The request timeout of the file, else [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout_secs
            .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_secs)
    }

    /// Parses a config file (YAML or JSON): `listen`, `public_url`, `database`,
    /// `log_format`, `body_limit_bytes`, `request_timeout_secs`, `auth` ([`AuthSettings`]),
    /// `connectors`, `posture`;
    /// any other key is an error.
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
                "public_url" => c.public_url = Some(public_url(&text()?).map_err(err)?),
                "database" => c.database = Some(text()?),
                "log_format" => c.log_format = Some(text()?),
                "body_limit_bytes" => {
                    c.body_limit_bytes = Some(
                        usize::try_from(number()?)
                            .map_err(|_| err("`body_limit_bytes` is too large".into()))?,
                    )
                }
                "request_timeout_secs" => c.request_timeout_secs = Some(number()?),
                "auth" => c.auth = AuthSettings::parse(val, path)?,
                "connectors" => {
                    let base = Path::new(path).parent().unwrap_or(Path::new("."));
                    let env = |k: &str| std::env::var(k).ok();
                    let s = crate::connectors::Settings::parse(val, base, &env)
                        .map_err(|e| err(e.to_string()))?;
                    c.connectors = Some(s);
                }
                "posture" => {
                    c.posture = cavra_runtime::posture::thresholds::Thresholds::parse_section(val)
                        .map_err(err)?
                }
                other => {
                    return Err(err(format!(
                        "unknown setting `{other}` (known: listen, public_url, database, log_format, body_limit_bytes, request_timeout_secs, auth, connectors, posture)"
                    )))
                }
            }
        }
        Ok(c)
    }
}

/// A public URL: `http://` or `https://`, a host, maybe a path prefix; no query or
/// fragment. Returned without a trailing `/`.
pub fn public_url(url: &str) -> Result<String, String> {
    let u = url.trim().trim_end_matches('/');
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(['?', '#', ' ']) => {
            Ok(u.to_string())
        }
        _ => Err(format!(
            "`public_url` `{url}` is not an http(s) URL such as https://cavra.example.com"
        )),
    }
}

/// Everything the server runs with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The URL people reach the server at ([`public_url`]); `None`: `http://` and the
    /// bound address, filled in by [`crate::Server::bind`].
    pub public_url: Option<String>,
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
    /// Bearer tokens and, when configured, OIDC.
    pub auth: AuthSettings,
    /// Where evidence records are delivered (docs/connectors.md).
    pub connectors: Option<crate::connectors::Settings>,
    /// The thresholds of the posture findings (docs/posture.md).
    pub posture: cavra_runtime::posture::thresholds::Thresholds,
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
        assert_eq!(Database::parse("/x.db").unwrap().kind(), "sqlite");
        assert!(matches!(
            Database::parse("mysql://x"),
            Err(ServerError::UnsupportedDatabase(_))
        ));
        assert!(Database::parse("sqlite://").is_err());
        let Ok(pg) = Database::parse("postgres://root:hunter2@127.0.0.1/cavra") else {
            // built without PostgreSQL: refused, and saying so
            let e = Database::parse("postgres://x").unwrap_err().to_string();
            assert!(e.contains("built without PostgreSQL"), "{e}");
            return;
        };
        assert_eq!(pg.kind(), "postgres");
        assert_eq!(pg.describe(), "postgres://root@127.0.0.1/cavra");
        assert_eq!(
            Database::parse("postgresql://db/cavra").unwrap(),
            Database::Postgres("postgresql://db/cavra".into())
        );
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
        assert_eq!(c.auth, AuthSettings::default());
    }

    #[test]
    fn the_auth_section() {
        let c = FileConfig::parse(
            "auth:\n  rbac_file: rbac.yaml\n  oidc:\n    issuer: http://idp\n    audience: cavra\n    jwks_file: keys/jwks.json\n    roles: {approver: [sec]}\n",
            "/etc/cavra/server.yaml",
        )
        .unwrap();
        assert_eq!(
            c.auth.rbac_file,
            Some(PathBuf::from("/etc/cavra/rbac.yaml"))
        );
        let o = c.auth.oidc.unwrap();
        assert_eq!(o.issuer, "http://idp");
        assert_eq!(
            o.jwks_file,
            Some(PathBuf::from("/etc/cavra/keys/jwks.json"))
        );
        for (text, want) in [
            ("auth: x\n", "`auth` must be a mapping"),
            ("auth: {rbac: x}\n", "unknown setting `auth.rbac`"),
            ("auth: {rbac_file: ''}\n", "auth.rbac_file"),
            (
                "auth: {oidc: {issuer: x, audience: a}}\n",
                "auth.oidc: exactly one of",
            ),
            (
                "auth: {oidc: {issuer: x, audience: a, jwks_file: j, algorithms: [HS256]}}\n",
                "HS256",
            ),
        ] {
            let e = FileConfig::parse(text, "c.yaml").unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        assert!(LogFormat::parse("xml").is_err());
    }

    #[test]
    fn the_posture_section_sets_the_thresholds() {
        let c = FileConfig::parse(
            "posture:\n  approval_sla: 1h\n  key_max_age: 30d\n  block_threshold: 10\n",
            "c.yaml",
        )
        .unwrap();
        assert_eq!(c.posture.approval_sla_secs, Some(3600));
        assert_eq!(c.posture.key_max_age_days, Some(30));
        assert_eq!(c.posture.block_threshold, Some(10));
        assert_eq!(
            FileConfig::parse("listen: x\n", "c.yaml").unwrap().posture,
            Default::default()
        );
        for (text, want) in [
            ("posture: {block_threshold: 0}\n", "posture.block_threshold"),
            ("posture: {sla: 4h}\n", "unknown setting `sla`"),
            ("posture: 4h\n", "`posture` must be a mapping"),
        ] {
            let e = FileConfig::parse(text, "c.yaml").unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("c.yaml"), "{text}: {e}");
        }
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            public_url("https://cavra.example.com/").unwrap(),
            "https://cavra.example.com"
        );
        assert_eq!(
            public_url("http://10.0.0.5:8700/cavra").unwrap(),
            "http://10.0.0.5:8700/cavra"
        );
        for bad in [
            "cavra.example.com",
            "ftp://x",
            "https://",
            "https:///x",
            "https://x?y",
        ] {
            assert!(public_url(bad).is_err(), "{bad}");
        }
        let c = FileConfig::parse("public_url: https://c.example/\n", "c.yaml").unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://c.example"));
        assert_eq!(
            c.public_url(None).unwrap().as_deref(),
            Some("https://c.example")
        );
        let flag = c.public_url(Some("http://127.0.0.1:9")).unwrap();
        assert_eq!(flag.as_deref(), Some("http://127.0.0.1:9"), "the flag wins");
        assert!(c.public_url(Some("nope")).is_err());
        assert!(FileConfig::parse("public_url: x\n", "c.yaml").is_err());
        let mut sc = ServerConfig {
            listen: parse_listen("127.0.0.1:8700").unwrap(),
            public_url: None,
            database: Database::Sqlite("x.db".into()),
            cavra_dir: "d".into(),
            approver_dir: None,
            project: "p".into(),
            locator: Locator {
                cwd: "/".into(),
                home: None,
            },
            packs: PackChoice::default(),
            org_pack: None,
            record: false,
            non_interactive: true,
            host: "h".into(),
            log_format: LogFormat::Text,
            body_limit: 1,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            version: "0".into(),
            auth: AuthSettings::default(),
            connectors: None,
            posture: Default::default(),
        };
        let url = |c: &ServerConfig| c.approval_channel().url("apr-1").unwrap();
        assert_eq!(url(&sc), "http://127.0.0.1:8700/approvals/apr-1");
        sc.public_url = Some("https://c.example".into());
        assert_eq!(url(&sc), "https://c.example/approvals/apr-1");
        let told = sc
            .approval_channel()
            .person_must_approve("apr-1", Some("Owners"));
        assert!(
            told.contains("ask a person to approve it at https://c.example/approvals/apr-1"),
            "{told}"
        );
        assert!(told.contains("group `Owners`"), "{told}");
    }
}
