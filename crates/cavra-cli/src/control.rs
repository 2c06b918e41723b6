//! Who acts, at the command line. Control actions (approving, denying, breaking the glass,
//! releasing a session, changing registry trust, rotating keys, uninstalling hooks, pruning
//! or repairing evidence) need an authenticated person: an approver token (`--token`, or
//! the file named by `CAVRA_TOKEN_FILE`; checked by the runtime's `TokenAuth`), else a
//! confirmation typed on the controlling terminal (`/dev/tty`, never stdin) by the OS user
//! (from the real uid, not `$USER`). With neither, the action is refused before anything
//! changes. `--as` is only a display label recorded beside the authenticated identity.

use std::io::Read as _;
use std::path::PathBuf;

use cavra_runtime::authz::{approver_signer, label, Authenticator, TokenAuth};
pub use cavra_runtime::authz::{Authorized, ControlAction as Control};
use cavra_runtime::terminal::{self, no_terminal};
use cavra_runtime::RuntimeError;
use cavra_store::{AuthMethod, OffsetDateTime, Signer};

type Result<T> = std::result::Result<T, RuntimeError>;

/// The approver credential flag every control command takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthArgs {
    /// Approver token (`cavra keys approver issue`; with $CAVRA_SERVER your server token);
    /// default: $CAVRA_TOKEN_FILE's (server: $CAVRA_APPROVER_TOKEN_FILE's), else the tty.
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
        let identity = terminal::os_user(&std::env::temp_dir())?;
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

/// Authenticate the person behind `ctrl` (see [`ActorArgs`]), without a label.
pub fn authorize(ctrl: &Control, auth: &AuthArgs) -> Result<Authorized> {
    auth.person().authenticate(ctrl, OffsetDateTime::now_utc())
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

/// Asks the person on the controlling terminal to confirm `ctrl`
/// ([`cavra_runtime::terminal::confirm`]).
fn confirm_on_tty(ctrl: &Control, identity: &str, label: Option<&str>) -> Result<()> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    let tty = tty.map_err(|_| no_terminal(ctrl))?;
    let mut out = tty.try_clone().map_err(|_| no_terminal(ctrl))?;
    terminal::confirm_here(ctrl, identity, label, tty, &mut out)
}
