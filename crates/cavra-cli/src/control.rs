//! Control actions — approving, denying, breaking the glass, releasing a session, changing
//! registry trust, rotating keys, uninstalling hooks, pruning or repairing evidence — need
//! an authenticated person. This module is the one place that decides who that is:
//!
//! - an approver token (`--token TOKEN`, or the file named by `CAVRA_TOKEN_FILE`), verified
//!   against the approver public key (signature, expiry) and checked for the action's role;
//!   the identity is the token's subject; or
//! - a confirmation typed on the controlling terminal (`/dev/tty`, never stdin), after the
//!   action is shown; the identity is the OS user (from the process's real uid, not
//!   `$USER`).
//!
//! With neither, the action is refused before anything changes. `--as` is only a display
//! label recorded beside the authenticated identity.

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _, Result};
use cavra_store::{ApproverKey, ApproverTrust, AuthMethod, OffsetDateTime, Role, Signer};

/// The approver credential flag every control command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthArgs {
    /// Approver token (from `cavra keys approver issue`); default: the file named by
    /// $CAVRA_TOKEN_FILE, else a confirmation on the controlling terminal.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

/// What is about to be done, as shown to the person.
#[derive(Debug)]
pub struct Control {
    /// The command, e.g. `cavra approvals approve apr-…`.
    pub command: String,
    /// Lines shown before the question: what, target, requester, rule, …
    pub summary: Vec<(&'static str, String)>,
    /// The role a token must grant.
    pub role: Role,
    /// Only a person at the terminal may do this (tokens are not accepted).
    pub terminal_only: bool,
}

impl Control {
    pub fn new(command: impl Into<String>, role: Role) -> Control {
        Control {
            command: command.into(),
            summary: Vec::new(),
            role,
            terminal_only: false,
        }
    }

    pub fn show(mut self, key: &'static str, value: impl Into<String>) -> Control {
        self.summary.push((key, value.into()));
        self
    }
}

/// The authenticated person behind a control action.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// OS user name (terminal) or token subject.
    pub identity: String,
    pub method: AuthMethod,
    /// The `--as` display label.
    pub label: Option<String>,
}

impl Authorized {
    /// For evidence records: `{"identity", "method", "label"}`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "identity": self.identity,
            "method": self.method.as_str(),
            "label": self.label,
        })
    }

    /// The key that signs the records this action writes: the approver key. At the
    /// terminal it is created on first use (the person has just confirmed); a token
    /// needs it present.
    pub fn signer(&self, now: OffsetDateTime) -> Result<Signer> {
        let dir = approver_dir()?;
        let key = match ApproverKey::load(&dir)? {
            Some(k) => k,
            None if self.method == AuthMethod::Terminal => {
                let k = ApproverKey::init(&dir, now)?;
                eprintln!(
                    "cavra: created the approver key in `{}` (private key mode 0600); records you approve are signed with it",
                    dir.display()
                );
                k
            }
            None => bail!(
                "no approver signing key in `{}`: records must be signed by the approving identity; run the command where `cavra keys approver init` was run",
                dir.display()
            ),
        };
        Ok(Signer {
            key,
            method: self.method,
            label: self.label.clone(),
        })
    }
}

/// The approver directory, or an error saying how to set one.
pub fn approver_dir() -> Result<PathBuf> {
    cavra_store::approver_dir().ok_or_else(|| {
        anyhow!("no approver directory: set HOME, XDG_CONFIG_HOME or CAVRA_APPROVER_DIR")
    })
}

/// Largest token file read.
const MAX_TOKEN_FILE: u64 = 16 * 1024;

fn token_from(auth: &AuthArgs) -> Result<Option<String>> {
    if let Some(t) = &auth.token {
        return Ok(Some(t.trim().to_string()));
    }
    let Some(path) = std::env::var_os("CAVRA_TOKEN_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_TOKEN_FILE).read_to_string(&mut text))
        .with_context(|| {
            format!(
                "cannot read the token file `{}` (CAVRA_TOKEN_FILE)",
                path.display()
            )
        })?;
    Ok(Some(text.trim().to_string()))
}

/// Authenticate the person behind `ctrl`: by token if one is given, else at the terminal.
/// Refuses (an error; nothing has changed yet) when neither works.
pub fn authorize(ctrl: &Control, auth: &AuthArgs, label: Option<&str>) -> Result<Authorized> {
    let label = label
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string);
    let now = OffsetDateTime::now_utc();
    if let Some(token) = token_from(auth)? {
        if ctrl.terminal_only {
            bail!(
                "`{}` is done by a person at their own terminal; an approver token is not accepted for it",
                ctrl.command
            );
        }
        let trust = ApproverTrust::load(&approver_dir()?)?;
        let claims = trust
            .verify_token(&token, now)
            .map_err(cavra_store::StoreError::from)?;
        if !claims.grants(ctrl.role) {
            return Err(
                cavra_store::StoreError::from(cavra_store::TokenError::MissingRole {
                    subject: claims.sub.clone(),
                    role: ctrl.role.as_str(),
                    roles: claims.roles.join(", "),
                })
                .into(),
            );
        }
        return Ok(Authorized {
            identity: claims.sub.trim().to_string(),
            method: AuthMethod::Token,
            label,
        });
    }
    let identity = os_user()?;
    confirm_on_tty(ctrl, &identity, label.as_deref())?;
    Ok(Authorized {
        identity,
        method: AuthMethod::Terminal,
        label,
    })
}

/// The refusal when there is no controlling terminal.
fn no_terminal(ctrl: &Control) -> anyhow::Error {
    anyhow!(
        "`{}` is a control action and needs a person: run it yourself at your own terminal (it asks you to confirm there), or pass an approver credential (`--token TOKEN`, or a token file named by CAVRA_TOKEN_FILE, issued with `cavra keys approver issue`); no terminal is attached, so nothing was changed",
        ctrl.command
    )
}

fn confirm_on_tty(ctrl: &Control, identity: &str, label: Option<&str>) -> Result<()> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| no_terminal(ctrl))?;
    let mut out = tty.try_clone().map_err(|_| no_terminal(ctrl))?;
    let mut text = format!("CAVRA control action: {}\n", ctrl.command);
    let width = ctrl
        .summary
        .iter()
        .map(|(k, _)| k.len())
        .max()
        .unwrap_or(0)
        .max(8);
    for (k, v) in &ctrl.summary {
        text.push_str(&format!("  {k:<width$}  {}\n", one_line(v)));
    }
    text.push_str(&format!(
        "  {:<width$}  {identity} (the OS user at this terminal){}\n",
        "approver",
        label
            .map(|l| format!(", shown as `{l}`"))
            .unwrap_or_default()
    ));
    text.push_str("Confirm? Type y or yes: ");
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|_| no_terminal(ctrl))?;
    let mut line = String::new();
    std::io::BufReader::new(tty.take(256))
        .read_line(&mut line)
        .map_err(|_| no_terminal(ctrl))?;
    let answer = line.trim().to_ascii_lowercase();
    if answer == "y" || answer == "yes" {
        let _ = out.write_all(b"confirmed\n");
        Ok(())
    } else {
        let _ = out.write_all(b"not confirmed; nothing was changed\n");
        bail!(
            "`{}` was not confirmed at the terminal; nothing was changed",
            ctrl.command
        )
    }
}

/// Control characters would let a crafted target redraw the prompt: shown escaped.
fn one_line(s: &str) -> String {
    let mut out = String::new();
    for c in cavra_core::text::truncate_chars(s, 400).chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The OS user running this process, from the real uid (`/proc/self/status`, else the
/// owner of a file this process creates) and `/etc/passwd` — never `$USER`/`$LOGNAME`,
/// which the caller controls.
pub fn os_user() -> Result<String> {
    let uid = uid_from_proc()
        .or_else(uid_from_file)
        .ok_or_else(|| anyhow!("cannot determine the OS user of this process"))?;
    Ok(user_name(uid).unwrap_or_else(|| format!("uid:{uid}")))
}

fn uid_from_proc() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

#[cfg(unix)]
fn uid_from_file() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let p = std::env::temp_dir().join(format!(".cavra-uid-{}-{nanos}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .ok()?;
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
        let name = f.next()?;
        let _pw = f.next()?;
        let u: u32 = f.next()?.parse().ok()?;
        (u == uid && !name.is_empty()).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_text_escapes_control_characters() {
        assert_eq!(one_line("a\x1b[2Jb\n"), "a\\u{1b}[2Jb\\n");
    }

    #[test]
    fn os_user_comes_from_the_uid_not_the_environment() {
        let u = os_user().unwrap_or_default();
        assert!(!u.is_empty());
        // $USER is not consulted: the answer is the same whatever it says
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }
}
