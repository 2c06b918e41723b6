//! Who acts: a control action (approve, deny, break-glass, release, a registry change, a key
//! or hook change) needs an authenticated person. The front end authenticates them through
//! an [`Authenticator`] — an approver token ([`TokenAuth`], what a server accepts), or a
//! confirmation on the controlling terminal (the CLI's) — after the action is described to
//! them as a [`ControlAction`]. With neither, the action is refused before anything changes.

use std::path::{Path, PathBuf};

use cavra_store::{
    ApproverKey, ApproverTrust, AuthMethod, OffsetDateTime, Role, Signer, StoreError, TokenError,
};
use serde_json::Value;

use crate::control::Person;
use crate::error::RuntimeError;

type Result<T> = std::result::Result<T, RuntimeError>;

/// What is about to be done, as shown to the person before they confirm it.
#[derive(Debug, Clone)]
pub struct ControlAction {
    /// The `cavra` command that does it, e.g. `cavra approvals approve apr-…`.
    pub command: String,
    /// Lines shown before the question: what, target, requester, rule, …
    pub summary: Vec<(&'static str, String)>,
    /// The role a token must grant.
    pub role: Role,
    /// Only a person at the terminal may do this (tokens are not accepted).
    pub terminal_only: bool,
}

impl ControlAction {
    pub fn new(command: impl Into<String>, role: Role) -> ControlAction {
        ControlAction {
            command: command.into(),
            summary: Vec::new(),
            role,
            terminal_only: false,
        }
    }

    /// Adds a summary line.
    pub fn show(mut self, key: &'static str, value: impl Into<String>) -> ControlAction {
        self.summary.push((key, value.into()));
        self
    }

    /// The question put to `identity` (the OS user) at the terminal: the action, its
    /// summary (control characters escaped, so a crafted target cannot redraw it) and who
    /// confirms.
    pub fn prompt(&self, identity: &str, label: Option<&str>) -> String {
        let mut text = format!("CAVRA control action: {}\n", self.command);
        let width = self.summary.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let width = width.max(8);
        for (k, v) in &self.summary {
            text.push_str(&format!("  {k:<width$}  {}\n", one_line(v)));
        }
        let shown = label
            .map(|l| format!(", shown as `{l}`"))
            .unwrap_or_default();
        text.push_str(&format!(
            "  {:<width$}  {identity} (the OS user at this terminal){shown}\n",
            "approver"
        ));
        text.push_str("Confirm? Type y or yes: ");
        text
    }
}

/// `s` on one line, at most 400 characters, control characters escaped.
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

/// The authenticated person behind a control action.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// OS user name (terminal) or token subject.
    pub identity: String,
    pub method: AuthMethod,
    /// A display label recorded beside the identity (`--as`).
    pub label: Option<String>,
}

impl Authorized {
    /// For evidence records: `{"identity", "method", "label"}`.
    pub fn json(&self) -> Value {
        serde_json::json!({
            "identity": self.identity,
            "method": self.method.as_str(),
            "label": self.label,
        })
    }

    /// The person as a registry change records them.
    pub fn person(&self) -> Person {
        Person {
            identity: self.identity.clone(),
            authenticated: self.json(),
        }
    }
}

/// Authenticates the person behind a control action; implemented by each front end.
pub trait Authenticator {
    /// The person who is to do `action`, or a refusal (nothing has changed yet).
    fn authenticate(&self, action: &ControlAction, now: OffsetDateTime) -> Result<Authorized>;
    /// The key that signs the records `who`'s action writes.
    fn signer(&self, who: &Authorized, now: OffsetDateTime) -> Result<Signer>;
}

/// A display label: trimmed, `None` when empty.
pub fn label(raw: Option<&str>) -> Option<String> {
    raw.map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

/// An approver token, verified against the approver public key in `approver_dir`
/// (signature, expiry) and checked for the action's role; the identity is its subject.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub token: String,
    pub approver_dir: PathBuf,
    pub label: Option<String>,
}

impl Authenticator for TokenAuth {
    fn authenticate(&self, action: &ControlAction, now: OffsetDateTime) -> Result<Authorized> {
        if action.terminal_only {
            return Err(RuntimeError::Refused(format!(
                "`{}` is done by a person at their own terminal; an approver token is not accepted for it",
                action.command
            )));
        }
        let trust = ApproverTrust::load(&self.approver_dir)?;
        let claims = trust
            .verify_token(self.token.trim(), now)
            .map_err(StoreError::from)?;
        if !claims.grants(action.role) {
            return Err(StoreError::from(TokenError::MissingRole {
                subject: claims.sub.clone(),
                role: action.role.as_str(),
                roles: claims.roles.join(", "),
            })
            .into());
        }
        Ok(Authorized {
            identity: claims.sub.trim().to_string(),
            method: AuthMethod::Token,
            label: self.label.clone(),
        })
    }

    fn signer(&self, who: &Authorized, now: OffsetDateTime) -> Result<Signer> {
        Ok(approver_signer(&self.approver_dir, who, now)?.0)
    }
}

/// The key that signs the records `who`'s action writes: the approver key in `dir`. For a
/// person confirmed at the terminal it is created on first use (they have just confirmed;
/// the flag says it was created); a token needs it present.
pub fn approver_signer(
    dir: &Path,
    who: &Authorized,
    now: OffsetDateTime,
) -> Result<(Signer, bool)> {
    let (key, created) = match ApproverKey::load(dir)? {
        Some(k) => (k, false),
        None if who.method == AuthMethod::Terminal => (ApproverKey::init(dir, now)?, true),
        None => return Err(RuntimeError::NoSigningKey(dir.to_path_buf())),
    };
    let signer = Signer {
        key,
        method: who.method,
        label: who.label.clone(),
    };
    Ok((signer, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    #[test]
    fn prompt_text_escapes_control_characters() {
        assert_eq!(one_line("a\x1b[2Jb\n"), "a\\u{1b}[2Jb\\n");
        let p = ControlAction::new("cavra x", Role::Admin)
            .show("target", "t\x1b[2J")
            .prompt("alice", Some("Al"));
        assert_eq!(
            p,
            "CAVRA control action: cavra x\n  target    t\\u{1b}[2J\n  approver  alice (the OS user at this terminal), shown as `Al`\nConfirm? Type y or yes: "
        );
    }

    #[test]
    fn a_token_is_checked_for_the_role_and_refused_for_terminal_only_actions() {
        let dir = tempfile::tempdir().unwrap();
        let key = ApproverKey::init(dir.path(), now()).unwrap();
        let token = key
            .issue_token(
                "bob",
                &[Role::Release],
                now(),
                std::time::Duration::from_secs(600),
            )
            .unwrap();
        let auth = TokenAuth {
            token,
            approver_dir: dir.path().to_path_buf(),
            label: label(Some("  ")),
        };
        let release = ControlAction::new("cavra sessions release s1", Role::Release);
        let who = auth.authenticate(&release, now()).unwrap();
        assert_eq!(
            (who.identity.as_str(), who.method),
            ("bob", AuthMethod::Token)
        );
        assert_eq!(who.label, None);
        let approve = ControlAction::new("cavra approvals approve a", Role::Approve);
        let e = auth.authenticate(&approve, now()).unwrap_err().to_string();
        assert!(e.contains("approve"), "{e}");
        let init = ControlAction {
            terminal_only: true,
            ..ControlAction::new("cavra keys approver init", Role::Admin)
        };
        let e = auth.authenticate(&init, now()).unwrap_err().to_string();
        assert!(e.contains("an approver token is not accepted"), "{e}");
        assert!(!approver_signer(dir.path(), &who, now()).unwrap().1);
    }

    #[test]
    fn only_a_person_at_the_terminal_gets_a_new_approver_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut who = Authorized {
            identity: "bob".into(),
            method: AuthMethod::Token,
            label: None,
        };
        assert!(matches!(
            approver_signer(dir.path(), &who, now()),
            Err(RuntimeError::NoSigningKey(_))
        ));
        who.method = AuthMethod::Terminal;
        assert!(approver_signer(dir.path(), &who, now()).unwrap().1);
        assert!(!approver_signer(dir.path(), &who, now()).unwrap().1);
    }
}
