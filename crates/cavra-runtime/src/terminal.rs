//! The person at the terminal, for a front end that asks them (the CLI): who they are —
//! the OS user from the process's real uid, never `$USER`/`$LOGNAME`, which the caller
//! controls — and their confirmation of a [`ControlAction`], over a terminal the front end
//! opens (`/dev/tty`, never stdin).

use std::io::{BufRead as _, Read, Write};
use std::path::Path;

use crate::authz::ControlAction;
use crate::error::RuntimeError;

type Result<T> = std::result::Result<T, RuntimeError>;

fn refused(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Refused(message.into())
}

/// The refusal of `ctrl` when no terminal can ask a person to confirm it.
pub fn no_terminal(ctrl: &ControlAction) -> RuntimeError {
    refused(format!(
        "`{}` is a control action and needs a person: run it yourself at your own terminal (it asks you to confirm there), or pass an approver credential (`--token TOKEN`, or a token file named by CAVRA_TOKEN_FILE, issued with `cavra keys approver issue`); no terminal is attached, so nothing was changed",
        ctrl.command
    ))
}

/// Asks `identity` (shown as `label`) to confirm `ctrl`: the prompt
/// ([`ControlAction::prompt`]) to `out`, one answer line (at most 256 bytes) from `input`;
/// `y` or `yes` confirms. Anything else, or a terminal that fails, is a refusal.
pub fn confirm(
    ctrl: &ControlAction,
    identity: &str,
    label: Option<&str>,
    input: impl Read,
    out: &mut impl Write,
) -> Result<()> {
    let prompt = ctrl.prompt(identity, label);
    out.write_all(prompt.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|_| no_terminal(ctrl))?;
    let mut line = String::new();
    let read = std::io::BufReader::new(input.take(256)).read_line(&mut line);
    read.map_err(|_| no_terminal(ctrl))?;
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
/// owner of a file this process creates in `tmp`) and `/etc/passwd`.
pub fn os_user(tmp: &Path) -> Result<String> {
    let uid = uid_from_proc()
        .or_else(|| uid_from_file(tmp))
        .ok_or_else(|| refused("cannot determine the OS user of this process"))?;
    Ok(user_name(uid).unwrap_or_else(|| format!("uid:{uid}")))
}

fn uid_from_proc() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    uid.split_whitespace().next()?.parse().ok()
}

#[cfg(unix)]
fn uid_from_file(tmp: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let p = tmp.join(format!(".cavra-uid-{}-{nanos}", std::process::id()));
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
fn uid_from_file(_: &Path) -> Option<u32> {
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
    use cavra_store::Role;

    #[test]
    fn os_user_comes_from_the_uid_not_the_environment() {
        let u = os_user(&std::env::temp_dir()).unwrap_or_default();
        assert!(!u.is_empty());
        // $USER is not consulted: the answer is the same whatever it says
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert!(uid_from_file(&std::env::temp_dir()).is_some());
    }

    #[test]
    fn only_y_or_yes_confirms() {
        let ctrl = ControlAction::new("cavra x", Role::Admin);
        let mut out = Vec::new();
        assert!(confirm(&ctrl, "alice", None, &b" YES\n"[..], &mut out).is_ok());
        let out = String::from_utf8_lossy(&out).to_string();
        assert!(out.starts_with("CAVRA control action: cavra x\n") && out.ends_with("confirmed\n"));
        for answer in ["n\n", "", "yess\n"] {
            let e = confirm(&ctrl, "alice", None, answer.as_bytes(), &mut Vec::new());
            let e = e.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                e.contains("was not confirmed at the terminal"),
                "{answer:?}: {e}"
            );
        }
    }

    #[test]
    fn a_failing_terminal_refuses() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("gone"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let ctrl = ControlAction::new("cavra x", Role::Admin);
        let e = confirm(&ctrl, "a", None, &b"y\n"[..], &mut Broken).err();
        let e = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("no terminal is attached"), "{e}");
    }
}
