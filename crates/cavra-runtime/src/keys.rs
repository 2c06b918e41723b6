//! The documents of `cavra keys`: the evidence signing keys of a CAVRA directory
//! (`cavra_evidence::KeyStore`) and the approver key (`cavra_store::ApproverKey`). The front
//! end authorizes a change (terminal confirmation, admin token) before calling in here.

use crate::authz::ControlAction;
use crate::error::RuntimeError;
use crate::render::push_line;
use cavra_evidence::{KeyInfo, KeyStore, SigningMode};
use cavra_store::{approver, ApproverKey, ApproverTrust, OffsetDateTime, Role};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

type Result<T> = std::result::Result<T, RuntimeError>;

/// A new active evidence signing key (`keys generate`, `keys rotate`).
#[derive(Debug, Clone, Serialize)]
pub struct KeyChange {
    /// `generated` or `rotated`.
    pub result: &'static str,
    pub key_id: String,
    pub alg: &'static str,
    /// The key it replaces as the active one (kept, retired, for verification).
    pub previous_key_id: Option<String>,
    pub key_dir: PathBuf,
}

impl KeyChange {
    /// The sentence saying what changed.
    pub fn text(&self) -> String {
        let previous = self.previous_key_id.as_ref();
        let previous = previous.map(|o| format!("; previous key {o} kept for verification"));
        format!(
            "{} {} key {} in {} (private key file mode 0600){}",
            self.result,
            self.alg,
            self.key_id,
            self.key_dir.display(),
            previous.unwrap_or_default()
        )
    }
}

/// What a new key changes, for the confirmation shown before it is made.
fn key_change_summary(mode: SigningMode, rotate: bool) -> String {
    let m = mode.as_str();
    match rotate {
        true => {
            format!("rotate the {m} evidence signing key (the old one is kept for verification)")
        }
        false => format!("make a new {m} key the active evidence signing key"),
    }
}

/// Generating (with `rotate`: rotating) the `mode` key of `key_dir`, as the admin is asked
/// to confirm it.
pub fn key_action(key_dir: &Path, mode: SigningMode, rotate: bool) -> ControlAction {
    let verb = if rotate { "rotate" } else { "generate" };
    ControlAction::new(format!("cavra keys {verb}"), Role::Admin)
        .show("change", key_change_summary(mode, rotate))
        .show("keys", key_dir.display().to_string())
}

/// A change to the approver key: done by a person at the terminal only.
fn terminal_only(command: &str, change: &str) -> ControlAction {
    let mut action = ControlAction::new(command, Role::Admin).show("change", change);
    action.terminal_only = true;
    action
}

/// Creating the approver key pair in `dir`.
pub fn approver_init_action(dir: &Path) -> ControlAction {
    let change = "create the approver key pair (signs approvals and tokens)";
    terminal_only("cavra keys approver init", change).show("directory", dir.display().to_string())
}

/// Makes a new key the active one for its algorithm; with `rotate`, the previous one is
/// retired (kept for verification).
pub fn new_key(key_dir: &Path, mode: SigningMode, rotate: bool) -> Result<KeyChange> {
    let ks = KeyStore::new(key_dir);
    let key_error = |doing| move |source| RuntimeError::Key { doing, source };
    let (previous_key_id, key) = match rotate {
        true => ks.rotate(mode).map_err(key_error("rotating the key"))?,
        false => (
            None,
            ks.generate(mode).map_err(key_error("generating a key"))?,
        ),
    };
    Ok(KeyChange {
        result: if rotate { "rotated" } else { "generated" },
        key_id: key.key_id().to_string(),
        alg: mode.as_str(),
        previous_key_id,
        key_dir: key_dir.to_path_buf(),
    })
}

/// The keys of a key directory (`keys list`; ids, algorithms, public keys, never secrets).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct KeyList {
    #[serde(skip)]
    pub key_dir: PathBuf,
    pub keys: Vec<KeyInfo>,
}

/// Lists the keys of `key_dir`.
pub fn list(key_dir: &Path) -> Result<KeyList> {
    Ok(KeyList {
        key_dir: key_dir.to_path_buf(),
        keys: KeyStore::new(key_dir).list()?,
    })
}

impl KeyList {
    /// A line per key, the active ones starred.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.keys.is_empty() {
            let dir = self.key_dir.display();
            push_line!(
                out,
                "no keys in {dir} (one is generated on first use, or run `cavra keys generate`)"
            );
        }
        for k in &self.keys {
            let active = if k.active { "*" } else { " " };
            let retired = k.retired_at.as_ref().map(|r| format!(", retired {r}"));
            let public = k
                .public_key
                .as_ref()
                .map(|p| format!("\n    public key {p}"));
            let (retired, public) = (retired.unwrap_or_default(), public.unwrap_or_default());
            let (id, alg, at) = (&k.key_id, &k.alg, &k.created_at);
            push_line!(
                out,
                "{active} {id:<28} {alg:<12} created {at}{retired}{public}"
            );
        }
        out
    }
}

/// The approver key of an approver directory (`keys approver show`).
#[derive(Debug, Clone, Serialize)]
pub struct ApproverStatus {
    pub approver_dir: PathBuf,
    pub private_key: bool,
    pub public_key: bool,
    pub kid: Option<String>,
}

/// The approver key in `dir`, if any (an unreadable key counts as none).
pub fn approver_status(dir: &Path) -> ApproverStatus {
    let key = ApproverKey::load(dir).ok().flatten();
    ApproverStatus {
        approver_dir: dir.to_path_buf(),
        private_key: key.is_some(),
        public_key: ApproverTrust::load(dir).is_ok_and(|t| !t.is_empty()),
        kid: key.map(|k| k.kid().to_string()),
    }
}

impl ApproverStatus {
    /// Where the key lives and its id.
    pub fn text(&self) -> String {
        let key = self
            .kid
            .as_ref()
            .map(|k| format!("{k} (private key present)"));
        let key = key.unwrap_or_else(|| "none (`cavra keys approver init`)".into());
        let dir = self.approver_dir.display();
        format!("approver directory  {dir}\nkey                 {key}\n")
    }
}

/// Refuses when `dir` holds an approver key already (it is never replaced): checked before
/// a person is asked to confirm creating one.
pub fn ensure_no_approver_key(dir: &Path) -> Result<()> {
    match [approver::KEY_FILE, approver::PUB_FILE]
        .iter()
        .any(|f| dir.join(f).exists())
    {
        true => Err(RuntimeError::ApproverKeyExists(dir.to_path_buf())),
        false => Ok(()),
    }
}

/// A token request checked before it is confirmed: roles and lifetime parsed, the approver
/// key loaded.
pub struct TokenRequest {
    pub subject: String,
    pub roles: Vec<Role>,
    pub ttl: Duration,
    key: ApproverKey,
}

impl TokenRequest {
    /// Parses the roles and the lifetime (`8h`) and loads the approver key of `dir`.
    pub fn new(dir: &Path, subject: &str, roles: &[String], ttl: &str) -> Result<TokenRequest> {
        let roles = roles
            .iter()
            .map(|r| Role::parse(r))
            .collect::<std::result::Result<_, _>>()?;
        let ttl = cavra_store::parse_duration(ttl)?;
        let key = ApproverKey::load(dir)?
            .ok_or_else(|| RuntimeError::NoApproverKey(dir.to_path_buf()))?;
        Ok(TokenRequest {
            subject: subject.to_string(),
            roles,
            ttl,
            key,
        })
    }

    /// The role names, comma-separated.
    pub fn role_names(&self) -> String {
        let names: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
        names.join(", ")
    }

    /// Issuing this token.
    pub fn action(&self) -> ControlAction {
        let change = "issue an approver token (a credential: keep it secret)";
        terminal_only("cavra keys approver issue", change)
            .show("subject", self.subject.clone())
            .show("roles", self.role_names())
            .show("ttl", format!("{}s", self.ttl.as_secs()))
    }

    /// Issues the token, valid from `now`.
    pub fn issue(&self, now: OffsetDateTime) -> Result<String> {
        Ok(self
            .key
            .issue_token(&self.subject, &self.roles, now, self.ttl)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn approver_key_changes_are_for_a_person_at_the_terminal() {
        let d = tempfile::tempdir().unwrap();
        let a = approver_init_action(d.path());
        assert!(a.terminal_only && a.command == "cavra keys approver init");
        assert_eq!(a.summary[1].0, "directory");
        ApproverKey::init(d.path(), OffsetDateTime::now_utc()).unwrap();
        let roles = ["approve".to_string(), "admin".to_string()];
        let t = TokenRequest::new(d.path(), "bob", &roles, "1h").unwrap();
        let a = t.action();
        assert!(a.terminal_only);
        let shown: Vec<&str> = a.summary.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(shown[1..], ["bob", "approve, admin", "3600s"]);
        let k = key_action(d.path(), SigningMode::Ed25519, true);
        assert!(!k.terminal_only && k.command == "cavra keys rotate");
        assert!(k.summary[0].1.starts_with("rotate the "), "{:?}", k.summary);
    }

    #[test]
    fn a_rotated_key_names_the_one_it_retires() {
        let d = tempfile::tempdir().unwrap();
        assert!(list(d.path()).unwrap().text().starts_with("no keys in "));
        let g = new_key(d.path(), SigningMode::Ed25519, false).unwrap();
        assert_eq!(
            (g.result, g.previous_key_id.as_deref()),
            ("generated", None)
        );
        let r = new_key(d.path(), SigningMode::Ed25519, true).unwrap();
        assert_eq!(r.previous_key_id.as_deref(), Some(g.key_id.as_str()));
        assert!(r
            .text()
            .ends_with(&format!("previous key {} kept for verification", g.key_id)));
        let l = list(d.path()).unwrap();
        assert_eq!(
            serde_json::to_value(&l).unwrap().as_array().unwrap().len(),
            2
        );
        assert!(
            l.text().contains(&format!("* {}", r.key_id)),
            "{}",
            l.text()
        );
    }

    #[test]
    fn approver_keys_are_never_replaced_and_tokens_need_one() {
        let d = tempfile::tempdir().unwrap();
        let s = approver_status(d.path());
        assert!(!s.private_key && !s.public_key && s.kid.is_none());
        let e = TokenRequest::new(d.path(), "ann", &["approve".into()], "8h")
            .err()
            .unwrap();
        assert!(e.to_string().contains("cavra keys approver init"), "{e}");
        ensure_no_approver_key(d.path()).unwrap();
        let k = ApproverKey::init(d.path(), OffsetDateTime::now_utc()).unwrap();
        assert!(ensure_no_approver_key(d.path()).is_err());
        assert_eq!(approver_status(d.path()).kid.as_deref(), Some(k.kid()));
        let t =
            TokenRequest::new(d.path(), "ann", &["approve".into(), "deny".into()], "8h").unwrap();
        assert_eq!(t.role_names(), "approve, deny");
        assert!(t
            .issue(OffsetDateTime::now_utc())
            .unwrap()
            .starts_with(approver::TOKEN_PREFIX));
        assert!(TokenRequest::new(d.path(), "ann", &["root".into()], "8h").is_err());
    }
}
