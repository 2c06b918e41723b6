//! Settings shared by every subcommand, resolved once from global flags and environment,
//! and the process's one [`Runtime`] (its evidence writers stay open until exit).

use cavra_runtime::{LogSink, Runtime};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use cavra_runtime::{Location, Locator};

/// Resolved global settings.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Machine-readable output requested.
    pub json: bool,
    /// Colour allowed (stdout is a TTY and NO_COLOR unset).
    pub color: bool,
    /// The project's CAVRA directory (`.cavra` by default).
    pub cavra_dir: PathBuf,
    /// It was named (`--cavra-dir`, `$CAVRA_DIR`), not found from the project.
    pub explicit_dir: bool,
    /// Decisions are appended to the evidence log (`$CAVRA_NO_EVIDENCE` unset).
    pub evidence: bool,
    /// One store file for every CAVRA directory (`$CAVRA_DB`), else `<cavra_dir>/cavra.db`.
    pub db_file: Option<PathBuf>,
    runtime: Arc<Mutex<Runtime>>,
}

impl Ctx {
    pub fn new(json: bool, cavra_dir: Option<PathBuf>) -> Self {
        let color =
            !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let explicit_dir = cavra_dir.is_some() || std::env::var_os("CAVRA_DIR").is_some();
        // default: the project's CAVRA directory, found by walking up to the repository
        // root as git finds `.git` (so a subdirectory uses the project's `.cavra`)
        let cavra_dir = cavra_dir
            .or_else(|| std::env::var_os("CAVRA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| locate(None).project_cavra_dir);
        let db_file = std::env::var_os("CAVRA_DB")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        // the store: rows verified against the approver key outside the repository; the
        // signed evidence log with its environment overrides
        let stores = cavra_store::SqliteOpener {
            db_file: db_file.clone(),
            trust_dir: cavra_store::approver_dir(),
            options: Default::default(),
        };
        let sink = LogSink::new(cavra_evidence::LogConfig::for_cavra_dir);
        Ctx {
            json,
            color,
            cavra_dir,
            explicit_dir,
            evidence: std::env::var_os("CAVRA_NO_EVIDENCE").is_none(),
            db_file,
            runtime: Arc::new(Mutex::new(
                Runtime::new(stores, sink).with_org_pack_file(
                    std::env::var_os("CAVRA_ORG_POLICY")
                        .filter(|v| !v.is_empty())
                        .map(PathBuf::from),
                ),
            )),
        }
    }

    /// The same settings for the CAVRA directory `dir` (same runtime).
    pub fn at(&self, dir: PathBuf) -> Ctx {
        let mut c = self.clone();
        c.cavra_dir = dir;
        c
    }

    /// The store file of this CAVRA directory.
    pub fn db_path(&self) -> PathBuf {
        cavra_store::db_path(&self.cavra_dir, self.db_file.as_deref())
    }

    /// The process's runtime, shared (for a front end that keeps it, such as the MCP
    /// server).
    pub fn shared_runtime(&self) -> Arc<Mutex<Runtime>> {
        Arc::clone(&self.runtime)
    }

    /// The process's runtime.
    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        // a panic while deciding ends the process (fail closed); a poisoned lock is only
        // seen by code that runs after it, which may still record
        self.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// This machine's name (`$HOSTNAME`, else `/etc/hostname`, else `local`): actors are
/// `<agent>@<host>`.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// Locations are resolved against this process's working directory and `$HOME`.
pub fn locator() -> Locator {
    Locator {
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        home: std::env::var("HOME").ok().filter(|h| !h.is_empty()),
    }
}

/// Where an action with working directory `cwd` happens (see [`Locator::locate`]).
pub fn locate(cwd: Option<&str>) -> Location {
    locator().locate(cwd)
}

/// [`locate`] for a path.
pub fn locate_path(cwd: Option<&Path>) -> Location {
    locator().locate_path(cwd)
}

/// The project's store ([`Ctx::db_path`]; `$CAVRA_BUSY_TIMEOUT_MS`), verified against the
/// approver key outside the repository; with the approval configuration of the CAVRA
/// directory when `with_config`.
pub fn open_store(ctx: &Ctx, with_config: bool) -> anyhow::Result<cavra_store::Store> {
    let opts = cavra_store::OpenOptions::from_env()?;
    let mut store = cavra_store::Store::open_with(ctx.db_path(), opts)?;
    if let Some(dir) = cavra_store::approver_dir() {
        store = store.with_trust_dir(dir);
    }
    if with_config {
        let config = cavra_store::ApprovalConfig::load(&ctx.cavra_dir)?;
        Ok(store.with_config(config))
    } else {
        Ok(store)
    }
}

/// The CAVRA directory for a hook call: `--cavra-dir`/`$CAVRA_DIR`, else `<project>/.cavra`.
pub fn hook_ctx(ctx: &Ctx, project: &Path) -> Ctx {
    if ctx.explicit_dir {
        ctx.clone()
    } else {
        ctx.at(project.join(".cavra"))
    }
}

/// The CAVRA directory for a call at `loc`: `--cavra-dir`/`$CAVRA_DIR`, else the project's
/// CAVRA directory found from the call's working directory.
pub fn ctx_at(ctx: &Ctx, explicit: bool, loc: &Location) -> Ctx {
    if explicit {
        ctx.clone()
    } else {
        ctx.at(loc.project_cavra_dir.clone())
    }
}

/// The project directory for `init`/`uninstall`/`doctor`
/// ([`cavra_runtime::locate::project_root`] of `dir`, else of the current directory).
pub fn project_root(dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let base = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    Ok(cavra_runtime::locate::project_root(&base)?)
}

/// What `cavra-setup` needs of this process: `$HOME`, `$PATH` and the running binary.
pub fn host() -> cavra_setup::Host {
    cavra_setup::Host {
        home: std::env::var_os("HOME").map(PathBuf::from),
        path: std::env::var_os("PATH"),
        exe: std::env::current_exe().map_err(|e| e.to_string()),
    }
}
