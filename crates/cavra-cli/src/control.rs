//! Who acts, at the command line. Control actions (approving, denying, breaking the glass,
//! releasing a session, changing registry trust, rotating keys, uninstalling hooks, pruning
//! or repairing evidence) need an authenticated person: an approver token (`--token`, or
//! the file named by `CAVRA_TOKEN_FILE`; checked by the runtime's `TokenAuth`), else a
//! confirmation typed on the controlling terminal (`/dev/tty`, never stdin) by the OS user
//! (from the real uid, not `$USER`). With neither, the action is refused before anything
//! changes. `--as` is only a display label recorded beside the authenticated identity.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::PathBuf;

use cavra_runtime::authz::{approver_signer, label, Authenticator, TokenAuth};
pub use cavra_runtime::authz::{Authorized, ControlAction as Control};
use cavra_runtime::RuntimeError;
use cavra_store::{AuthMethod, OffsetDateTime, Signer};

type Result<T> = std::result::Result<T, RuntimeError>;

/// The approver credential flag every control command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthArgs {
    /// Approver token (from `cavra keys approver issue`); default: the file named by
    /// $CAVRA_TOKEN_FILE, else a confirmation on the controlling terminal.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// The person's credential and display label.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ActorArgs {
    /// A display label for the person (the recorded identity is the authenticated one).
    #[arg(long = "as", value_name = "LABEL")]
    pub identity: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl AuthArgs {
    /// The person behind this credential, without a label.
    pub fn person(&self) -> ActorArgs {
        let auth = self.clone();
        ActorArgs {
            identity: None,
            auth,
        }
    }
}

/// The command line's [`Authenticator`]: a token if one is given, else the terminal.
impl Authenticator for ActorArgs {
    fn authenticate(&self, ctrl: &Control, now: OffsetDateTime) -> Result<Authorized> {
        let label = label(self.identity.as_deref());
        if let Some(token) = token_from(&self.auth)? {
            let approver_dir = approver_dir()?;
            return TokenAuth {
                token,
                approver_dir,
                label,
            }
            .authenticate(ctrl, now);
        }
        let identity = os_user()?;
        confirm_on_tty(ctrl, &identity, label.as_deref())?;
        let method = AuthMethod::Terminal;
        Ok(Authorized {
            identity,
            method,
            label,
        })
    }

    fn signer(&self, who: &Authorized, now: OffsetDateTime) -> Result<Signer> {
        let dir = approver_dir()?;
        let (signer, created) = approver_signer(&dir, who, now)?;
        if created {
            eprintln!(
                "cavra: created the approver key in `{}` (private key mode 0600); records you approve are signed with it",
                dir.display()
            );
        }
        Ok(signer)
    }
}

/// Authenticate the person behind `ctrl` (see [`ActorArgs`]).
pub fn authorize(ctrl: &Control, auth: &AuthArgs, label: Option<&str>) -> Result<Authorized> {
    let (identity, auth) = (label.map(str::to_string), auth.clone());
    ActorArgs { identity, auth }.authenticate(ctrl, OffsetDateTime::now_utc())
}

/// The approver directory, or an error saying how to set one.
pub fn approver_dir() -> Result<PathBuf> {
    cavra_store::approver_dir().ok_or_else(|| {
        refused("no approver directory: set HOME, XDG_CONFIG_HOME or CAVRA_APPROVER_DIR")
    })
}

fn refused(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Refused(message.into())
}

/// `--token`, else the file named by `$CAVRA_TOKEN_FILE` (at most 16 KiB read).
fn token_from(auth: &AuthArgs) -> Result<Option<String>> {
    if let Some(t) = &auth.token {
        return Ok(Some(t.trim().to_string()));
    }
    let Some(path) = std::env::var_os("CAVRA_TOKEN_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let (path, mut text) = (PathBuf::from(path), String::new());
    let read = std::fs::File::open(&path).and_then(|f| f.take(16 << 10).read_to_string(&mut text));
    let p = path.display();
    read.map_err(|e| {
        refused(format!(
            "cannot read the token file `{p}` (CAVRA_TOKEN_FILE): {e}"
        ))
    })?;
    Ok(Some(text.trim().to_string()))
}

fn confirm_on_tty(ctrl: &Control, identity: &str, label: Option<&str>) -> Result<()> {
    let no_terminal = |_| {
        refused(format!(
        "`{}` is a control action and needs a person: run it yourself at your own terminal (it asks you to confirm there), or pass an approver credential (`--token TOKEN`, or a token file named by CAVRA_TOKEN_FILE, issued with `cavra keys approver issue`); no terminal is attached, so nothing was changed",
        ctrl.command
    ))
    };
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let tty = tty.map_err(no_terminal)?;
    let mut out = tty.try_clone().map_err(no_terminal)?;
    let prompt = ctrl.prompt(identity, label);
    out.write_all(prompt.as_bytes())
        .and_then(|()| out.flush())
        .map_err(no_terminal)?;
    let mut line = String::new();
    let read = std::io::BufReader::new(tty.take(256)).read_line(&mut line);
    read.map_err(no_terminal)?;
    if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        let _ = out.write_all(b"confirmed\n");
        return Ok(());
    }
    let _ = out.write_all(b"not confirmed; nothing was changed\n");
    Err(refused(format!(
        "`{}` was not confirmed at the terminal; nothing was changed",
        ctrl.command
    )))
}

/// The OS user running this process, from the real uid (`/proc/self/status`, else the
/// owner of a file this process creates) and `/etc/passwd` — never `$USER`/`$LOGNAME`,
/// which the caller controls.
pub fn os_user() -> Result<String> {
    let uid = uid_from_proc()
        .or_else(uid_from_file)
        .ok_or_else(|| refused("cannot determine the OS user of this process"))?;
    Ok(user_name(uid).unwrap_or_else(|| format!("uid:{uid}")))
}

fn uid_from_proc() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    uid.split_whitespace().next()?.parse().ok()
}

#[cfg(unix)]
fn uid_from_file() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let p = std::env::temp_dir().join(format!(".cavra-uid-{}-{nanos}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p);
    file.ok()?;
    let uid = std::fs::metadata(&p).ok().map(|m| m.uid());
    let _ = std::fs::remove_file(&p);
    uid
}

#[cfg(not(unix))]
fn uid_from_file() -> Option<u32> {
    None
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let (name, _pw, u) = (f.next()?, f.next()?, f.next()?.parse::<u32>().ok()?);
        (u == uid && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_user_comes_from_the_uid_not_the_environment() {
        let u = os_user().unwrap_or_default();
        assert!(!u.is_empty());
        // $USER is not consulted: the answer is the same whatever it says
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
