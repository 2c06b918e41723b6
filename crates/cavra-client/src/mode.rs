//! The hook in server mode: forward the event (with the project policy it is decided
//! under, [`project_policy`]), or — when the server cannot be asked —
//! decide with the server's last signed pack, say so in the answer, and queue the decision
//! for upload; after a call the server answered, refresh the cached pack when it is old
//! and upload what waits in the queue.

use crate::{Client, ClientError, HookAnswer};
use cavra_agents::{Adapter, Parsed};
use cavra_core::hooks::{AgentKind, Verdict, VerdictKind};
use cavra_runtime::sync::{
    OfflineDecision, OfflineUpload, ProjectPolicy, ServerCache, SyncError, VerifiedPack,
    MAX_PROJECT_POLICY, UPLOAD_BATCH,
};
use cavra_runtime::{Locator, PackChoice};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest `config.yaml` read.
const MAX_CONFIG: u64 = 64 << 10;

/// The `server:` settings of a CAVRA directory's `config.yaml` (`.cavra/config.yaml`):
///
/// ```yaml
/// server:
///   url: http://127.0.0.1:8700
///   token_file: ~/.config/cavra/agent.token   # relative to the file's directory, or ~/
///   timeout: 300ms
/// ```
///
/// No token itself: a repository's file must not hold a credential. Other top-level keys
/// are left to their own readers; unknown keys under `server` are errors.
#[derive(Debug, Default, PartialEq)]
pub struct ServerConfig {
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
    pub timeout: Option<String>,
}

impl ServerConfig {
    /// The settings of `cavra_dir/config.yaml`; none when the file does not exist.
    pub fn read(cavra_dir: &Path) -> Result<ServerConfig, String> {
        let path = cavra_dir.join("config.yaml");
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
        };
        let mut text = String::new();
        file.take(MAX_CONFIG.saturating_add(1))
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if text.len() as u64 > MAX_CONFIG {
            return Err(format!("`{}` is over {MAX_CONFIG} bytes", path.display()));
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Self::parse(&text, cavra_dir, home.as_deref())
            .map_err(|e| format!("`{}`: {e}", path.display()))
    }

    /// Parses a `config.yaml` text; relative `token_file`s are resolved against `base`, `~/`
    /// against `home`.
    pub fn parse(text: &str, base: &Path, home: Option<&Path>) -> Result<ServerConfig, String> {
        let (doc, _) = cavra_core::policy::yaml::parse(text)
            .map_err(|e| format!("line {}, column {}: {}", e.line, e.col, e.message))?;
        let server = match &doc {
            Value::Null => return Ok(Self::default()),
            Value::Object(m) => match m.get("server") {
                None | Some(Value::Null) => return Ok(Self::default()),
                Some(Value::Object(s)) => s,
                Some(_) => return Err("`server` must be a mapping".into()),
            },
            _ => return Err("the file must be a mapping".into()),
        };
        let mut out = Self::default();
        for (k, v) in server {
            let v = v
                .as_str()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("`server.{k}` must be a non-empty string"))?;
            match k.as_str() {
                "url" => out.url = Some(v.to_string()),
                "timeout" => out.timeout = Some(v.to_string()),
                "token_file" => {
                    out.token_file = Some(match (v.strip_prefix("~/"), home) {
                        (Some(rest), Some(h)) => h.join(rest),
                        (Some(_), None) => return Err("`server.token_file` starts with `~/` but HOME is not set".into()),
                        (None, _) => base.join(v),
                    })
                }
                "token" => return Err("`server.token`: a token is not kept in this file; put it in a file of its own (mode 0600) and name it with `server.token_file`".into()),
                other => return Err(format!("unknown key `server.{other}` (expected url, token_file, timeout)")),
            }
        }
        Ok(out)
    }
}

/// How old the cached pack may get before a call the server answered refreshes it.
pub const REFRESH_AFTER: Duration = Duration::from_secs(300);

/// A hook's server-mode settings: the client and the cache of its CAVRA directory.
#[derive(Debug)]
pub struct ServerMode {
    pub client: Client,
    pub cache: ServerCache,
}

impl ServerMode {
    /// Server mode for the CAVRA directory `cavra_dir`.
    /// Every call tells the server how many offline decisions wait in the queue
    /// (`X-Cavra-Queued`; not said when the queue cannot be read).
    pub fn new(client: Client, cavra_dir: &Path) -> ServerMode {
        let cache = ServerCache::new(cavra_dir);
        client.set_queued(cache.queue().len().ok());
        ServerMode { client, cache }
    }

    /// Server mode from the hook's settings: the server's URL, the file holding the agent
    /// token, the per-call timeout (a duration such as `300ms`; default
    /// [`crate::DEFAULT_TIMEOUT`]). A missing or bad setting is an error (fail closed).
    pub fn from_settings(
        url: &str,
        token_file: Option<&Path>,
        timeout: Option<&str>,
        cavra_dir: &Path,
    ) -> Result<ServerMode, String> {
        let file = token_file
            .ok_or("server mode is on (CAVRA_SERVER or `server.url` in .cavra/config.yaml) but no agent token file is named: set CAVRA_TOKEN_FILE or `server.token_file`")?;
        let token = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read CAVRA_TOKEN_FILE `{}`: {e}", file.display()))?;
        let timeout = match timeout {
            Some(t) => cavra_core::duration::parse(t)
                .map_err(|e| format!("CAVRA_SERVER_TIMEOUT `{t}`: {e}"))?,
            None => crate::DEFAULT_TIMEOUT,
        };
        let client = Client::new(url, &token, timeout).map_err(|e| e.to_string())?;
        Ok(ServerMode::new(client, cavra_dir))
    }

    /// Server mode from the environment and the CAVRA directory's `config.yaml`
    /// ([`ServerConfig`]): `None` when neither `$CAVRA_SERVER` nor `server.url` is set; else
    /// [`ServerMode::from_settings`] of `$CAVRA_TOKEN_FILE` (else `server.token_file`) and
    /// `$CAVRA_SERVER_TIMEOUT` (else `server.timeout`). A variable wins over the file; a
    /// `config.yaml` that cannot be read or is not the schema is an error (fail closed).
    pub fn from_env(cavra_dir: &Path) -> Option<Result<ServerMode, String>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let config = match ServerConfig::read(cavra_dir) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        let url = var("CAVRA_SERVER").or(config.url)?;
        let file = var("CAVRA_TOKEN_FILE").map(PathBuf::from);
        let file = file.or(config.token_file);
        let timeout = var("CAVRA_SERVER_TIMEOUT").or(config.timeout);
        Some(ServerMode::from_settings(
            &url,
            file.as_deref(),
            timeout.as_deref(),
            cavra_dir,
        ))
    }

    /// Asks the server for the answer to `event` (the agent's hook event, as read), with
    /// the project policy the local hook would decide it with ([`project_policy`]: `choice`
    /// and `locator` are the local hook's). A policy that cannot be sent is
    /// [`ClientError::ProjectPolicy`] (fail closed: not a reason to decide offline).
    pub fn forward(
        &self,
        agent: AgentKind,
        event: &[u8],
        choice: &PackChoice,
        locator: &Locator,
    ) -> Result<HookAnswer, ClientError> {
        // a server that is down is found before anything is read for it (the offline
        // fallback then decides with what it reads itself); the call gets what the
        // check left of the timeout
        let left = self.client.check_reachable()?;
        let policy = project_policy(agent, event, choice, locator)?;
        self.client
            .hook_within(agent.as_str(), event, policy.as_ref(), left)
    }

    /// After an answered call: refresh the cached pack when it is missing or older than
    /// [`REFRESH_AFTER`], upload one batch of queued offline decisions. What fails is
    /// returned as warnings (the next call tries again).
    pub fn after_answer(&self) -> Vec<String> {
        self.after(None)
    }

    /// [`ServerMode::after_answer`] of `answer`: the cached pack is also refreshed when
    /// the floor the server names for the call's repository has another digest (a policy
    /// version published or rolled back there), and fetched for that repository.
    pub fn after(&self, answer: Option<&HookAnswer>) -> Vec<String> {
        let mut warnings = Vec::new();
        let repository = answer.and_then(|a| a.repository.as_deref());
        let changed = answer
            .and_then(|a| a.floor_digest.as_deref())
            .is_some_and(|d| self.cache.pack_digest().as_deref() != Some(d));
        if changed || self.cache.pack_age().is_none_or(|age| age > REFRESH_AFTER) {
            let fetched = self.client.pack_for(repository).map_err(|e| e.to_string());
            if let Err(e) = fetched.and_then(|p| self.cache.store(&p).map_err(|e| e.to_string())) {
                warnings.push(format!("could not refresh the cached server pack: {e}"));
            }
        }
        if let Err(e) = self.upload_queue() {
            warnings.push(format!("could not upload the offline decisions: {e}"));
        }
        warnings
    }

    /// Uploads the oldest batch of queued decisions, with the damaged entries met before
    /// them ([`cavra_runtime::sync::OfflineQueue::oldest`]); returns how many left the
    /// queue. A damaged entry leaves it only once the server says it recorded it.
    pub fn upload_queue(&self) -> Result<usize, String> {
        let queue = self.cache.queue();
        let batch = queue.oldest(UPLOAD_BATCH).map_err(|e| e.to_string())?;
        if batch.is_empty() {
            return Ok(0);
        }
        let (mut paths, decisions): (Vec<PathBuf>, Vec<OfflineDecision>) =
            batch.decisions.into_iter().unzip();
        let (damaged, unreadable): (Vec<PathBuf>, Vec<_>) = batch.unreadable.into_iter().unzip();
        // the upload says what it leaves in the queue
        let before = queue.len().ok();
        let leaving = paths.len() + damaged.len();
        self.client
            .set_queued(before.map(|n| n.saturating_sub(leaving)));
        let sent = self.client.upload(&OfflineUpload {
            decisions,
            unreadable,
        });
        let receipt = match sent {
            Ok(r) => r,
            Err(e) => {
                self.client.set_queued(before);
                return Err(e.to_string());
            }
        };
        let kept = !damaged.is_empty() && receipt.unreadable != damaged.len();
        if !kept {
            paths.extend(damaged.iter().cloned());
        }
        queue.remove(&paths).map_err(|e| e.to_string())?;
        if kept {
            return Err(format!(
                "{} damaged queue entries were not recorded by the server (an older version?); they stay in {}",
                damaged.len(),
                queue.dir().display()
            ));
        }
        Ok(paths.len())
    }

    /// The cached pack to decide with offline (verified against the pinned server key).
    pub fn offline_pack(&self) -> Result<VerifiedPack, SyncError> {
        self.cache.verified_pack()
    }

    /// Queues an offline decision for upload.
    pub fn queue(&self, d: &OfflineDecision) -> Result<(), SyncError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let queue = self.cache.queue();
        // counted when this call began (and kept up to date by an upload)
        match self.client.queued().and_then(|n| usize::try_from(n).ok()) {
            Some(n) => queue.push_counted(d, nanos, n),
            None => queue.push(d, nanos),
        }
        .map(|_| ())
    }
}

/// The project policy of a hook event: the pack file the local hook would decide its tool
/// calls with (the `--policy` file, else the `.cavra/policy.yaml` governing the event's
/// working directory, found as [`cavra_runtime::Runtime::decide_call`] finds it), as
/// text. None for an event that is not a pre-action event (or does not parse: the server
/// refuses it as the local hook would), for a `--pack` id and for a project without a
/// policy. A file over [`MAX_PROJECT_POLICY`] bytes, or unreadable, is an error.
pub fn project_policy(
    agent: AgentKind,
    event: &[u8],
    choice: &PackChoice,
    locator: &Locator,
) -> Result<Option<ProjectPolicy>, ClientError> {
    let Ok(value) = cavra_agents::parse_payload(event) else {
        return Ok(None);
    };
    let Ok(Parsed::Tool(tool_use)) = Adapter::new(agent).parse(&value) else {
        return Ok(None);
    };
    let Some(call) = tool_use.calls.first() else {
        return Ok(None);
    };
    let loc = locator.locate(call.cwd.as_deref());
    let cavra = locator.pack_cavra_dir(&loc);
    let Some(file) = cavra_runtime::packs::chosen_file(choice, Some(&cavra)) else {
        return Ok(None);
    };
    let refused = |why: String| {
        ClientError::ProjectPolicy(format!(
            "CAVRA cannot send the project policy `{}` to its server: {why}; the action was not allowed",
            file.display()
        ))
    };
    let mut text = String::new();
    std::fs::File::open(&file)
        .and_then(|f| {
            f.take(MAX_PROJECT_POLICY as u64 + 1)
                .read_to_string(&mut text)
        })
        .map_err(|e| refused(format!("it cannot be read ({e})")))?;
    if text.len() > MAX_PROJECT_POLICY {
        return Err(refused(format!(
            "it is larger than {} KiB",
            MAX_PROJECT_POLICY / 1024
        )));
    }
    Ok(Some(ProjectPolicy {
        path: file.display().to_string(),
        text,
    }))
}

/// The verdict as the agent is told it offline: the reason says the server was not asked.
pub fn offline_verdict(v: Verdict, because: &str) -> Verdict {
    let note = format!("(decided offline by CAVRA's cached server policy: {because})");
    Verdict {
        reason: if v.reason.is_empty() {
            note
        } else {
            format!("{} {note}", v.reason)
        },
        kind: v.kind,
    }
}

/// The queue entry of an offline verdict.
pub fn offline_decision(
    agent: &str,
    v: &Verdict,
    because: &str,
    pack_digest: &str,
    event: Value,
) -> OfflineDecision {
    OfflineDecision {
        decided_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        agent: agent.to_string(),
        verdict: match v.kind {
            VerdictKind::Allow => "allow",
            VerdictKind::NoOpinion => "no_opinion",
            VerdictKind::Ask => "ask",
            VerdictKind::Deny => "deny",
        }
        .to_string(),
        reason: v.reason.clone(),
        offline_because: because.to_string(),
        pack_digest: pack_digest.to_string(),
        event,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_errors_naming_the_setting() {
        let dir = tempfile::tempdir().expect("tmp");
        let url = "http://127.0.0.1:8700";
        let no_file = ServerMode::from_settings(url, None, None, dir.path()).unwrap_err();
        assert!(no_file.contains("CAVRA_TOKEN_FILE"), "{no_file}");
        let missing = dir.path().join("nope");
        let unreadable =
            ServerMode::from_settings(url, Some(&missing), None, dir.path()).unwrap_err();
        assert!(unreadable.contains("cannot read"), "{unreadable}");
        let token = dir.path().join("t");
        std::fs::write(&token, "cavra_t_x\n").expect("write");
        let bad_time =
            ServerMode::from_settings(url, Some(&token), Some("soon"), dir.path()).unwrap_err();
        assert!(bad_time.contains("CAVRA_SERVER_TIMEOUT"), "{bad_time}");
        let bad_url =
            ServerMode::from_settings("https://x", Some(&token), None, dir.path()).unwrap_err();
        assert!(bad_url.contains("http://HOST:PORT"), "{bad_url}");
        assert!(ServerMode::from_settings(url, Some(&token), Some("1s"), dir.path()).is_ok());
    }

    #[test]
    fn the_config_file_names_the_server_and_the_token_file() {
        let base = Path::new("/repo/.cavra");
        let home = Path::new("/home/dev");
        let c = ServerConfig::parse(
            "server:\n  url: http://127.0.0.1:8700\n  token_file: ~/.config/cavra/agent.token\n  timeout: 250ms\n",
            base,
            Some(home),
        )
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("http://127.0.0.1:8700"));
        assert_eq!(
            c.token_file.as_deref(),
            Some(Path::new("/home/dev/.config/cavra/agent.token"))
        );
        assert_eq!(c.timeout.as_deref(), Some("250ms"));
        let rel = ServerConfig::parse("server:\n  token_file: agent.token\n", base, None).unwrap();
        assert_eq!(
            rel.token_file.as_deref(),
            Some(Path::new("/repo/.cavra/agent.token"))
        );
        // other settings and an empty file are no server settings
        assert_eq!(
            ServerConfig::parse("", base, None).unwrap(),
            ServerConfig::default()
        );
        assert_eq!(
            ServerConfig::parse("other: 1\n", base, None).unwrap(),
            ServerConfig::default()
        );
        for (text, says) in [
            ("server: http://x\n", "`server` must be a mapping"),
            ("server:\n  urll: http://x\n", "unknown key `server.urll`"),
            (
                "server:\n  token: cavra_t_x\n",
                "a token is not kept in this file",
            ),
            (
                "server:\n  url: 8700\n",
                "`server.url` must be a non-empty string",
            ),
            ("server:\n  token_file: ~/t\n", "HOME is not set"),
            ("- a\n", "must be a mapping"),
            ("server: {url: [\n", "line "),
        ] {
            let e = ServerConfig::parse(text, base, None).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_config_file_turns_server_mode_on_and_a_bad_one_fails_closed() {
        let dir = tempfile::tempdir().expect("tmp");
        // no file, no variable (the test runner has no CAVRA_SERVER): local mode
        if std::env::var_os("CAVRA_SERVER").is_some() {
            return;
        }
        assert!(ServerMode::from_env(dir.path()).is_none());
        std::fs::write(dir.path().join("agent.token"), "cavra_t_x\n").unwrap();
        std::fs::write(
            dir.path().join("config.yaml"),
            "server:\n  url: http://127.0.0.1:9\n  token_file: agent.token\n",
        )
        .unwrap();
        assert!(matches!(ServerMode::from_env(dir.path()), Some(Ok(_))));
        std::fs::write(
            dir.path().join("config.yaml"),
            "server:\n  url: http://127.0.0.1:9\n",
        )
        .unwrap();
        let e = ServerMode::from_env(dir.path()).unwrap().unwrap_err();
        assert!(e.contains("server.token_file"), "{e}");
        std::fs::write(dir.path().join("config.yaml"), "server: [").unwrap();
        let e = ServerMode::from_env(dir.path()).unwrap().unwrap_err();
        assert!(e.contains("config.yaml"), "{e}");
    }

    #[test]
    fn the_project_policy_sent_is_the_one_the_local_hook_would_decide_with() {
        let tmp = tempfile::tempdir().expect("tmp");
        let project = tmp.path().join("proj");
        let sub = project.join("src");
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::create_dir_all(project.join(".git")).expect("mkdir");
        let locator = Locator {
            cwd: tmp.path().to_path_buf(),
            home: None,
        };
        let choice = PackChoice::default();
        let event = |cwd: &Path, name: &str| {
            serde_json::json!({"hook_event_name": name, "session_id": "s", "cwd": cwd,
                "tool_name": "Bash", "tool_input": {"command": "make"}})
            .to_string()
        };
        let find = |ev: &str, choice: &PackChoice| {
            project_policy(AgentKind::ClaudeCode, ev.as_bytes(), choice, &locator)
        };
        // no project policy: nothing sent
        let pre = event(&sub, "PreToolUse");
        assert_eq!(find(&pre, &choice).unwrap(), None);
        // the project's policy, found from a subdirectory up to the repository root
        let file = project.join(".cavra").join("policy.yaml");
        std::fs::create_dir_all(file.parent().unwrap()).expect("mkdir");
        std::fs::write(&file, "rules: []\n").expect("write");
        let sent = find(&pre, &choice).unwrap().expect("a policy");
        assert_eq!(sent.path, file.display().to_string());
        assert_eq!(sent.text, "rules: []\n");
        // not a pre-action event, not an event at all, or a pack id: nothing sent
        assert_eq!(find(&event(&sub, "PostToolUse"), &choice).unwrap(), None);
        assert_eq!(find("not json", &choice).unwrap(), None);
        let by_id = PackChoice {
            pack: Some("cavra-strict".into()),
            ..Default::default()
        };
        assert_eq!(find(&pre, &by_id).unwrap(), None);
        // too large: an error naming the file (the hook fails closed)
        let big = format!("# {}\n", "x".repeat(MAX_PROJECT_POLICY));
        std::fs::write(&file, big).expect("write");
        let err = find(&pre, &choice).unwrap_err();
        assert!(matches!(err, ClientError::ProjectPolicy(_)), "{err}");
        assert!(err.to_string().contains("larger than 256 KiB"), "{err}");
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
        // unreadable (a directory where the --policy file should be): an error too
        let dir_choice = PackChoice {
            policy: Some(sub.clone()),
            ..Default::default()
        };
        let err = find(&pre, &dir_choice).unwrap_err();
        assert!(err.to_string().contains("cannot be read"), "{err}");
    }

    #[test]
    fn the_offline_answer_names_the_reason_and_keeps_the_verdict() {
        let v = offline_verdict(Verdict::deny("blocked: rm -rf /"), "server down");
        assert_eq!(v.kind, VerdictKind::Deny);
        assert!(v.reason.starts_with("blocked: rm -rf /"), "{}", v.reason);
        assert!(v.reason.contains("decided offline"), "{}", v.reason);
        assert!(v.reason.contains("server down"), "{}", v.reason);
    }

    /// A server that answers each of `answers` to one request, in turn, with 200 and that
    /// JSON body; its URL.
    fn answering(answers: &'static [&'static str]) -> String {
        use std::io::{BufRead as _, Read as _, Write as _};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        std::thread::spawn(move || {
            for body in answers {
                let Ok((c, _)) = l.accept() else { return };
                let mut r = std::io::BufReader::new(c);
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut sent = vec![0; len];
                let _ = r.read_exact(&mut sent);
                let _ = write!(
                    r.get_mut(),
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    #[test]
    fn a_damaged_entry_leaves_the_queue_only_once_the_server_says_it_recorded_it() {
        let tmp = tempfile::tempdir().unwrap();
        // a server from before damaged entries were uploaded, then one that records them
        let url = answering(&[r#"{"accepted":1}"#, r#"{"accepted":0,"unreadable":1}"#]);
        let client = Client::new(&url, "t", Duration::from_secs(10)).unwrap();
        let mode = ServerMode::new(client, tmp.path());
        let queue = mode.cache.queue();
        let damaged = queue.dir().join(format!("{:039}-9.json", 1));
        std::fs::create_dir_all(queue.dir()).unwrap();
        std::fs::write(&damaged, "{\"decided_at\":").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&damaged)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - cavra_runtime::sync::UNREADABLE_AFTER * 2)
            .unwrap();
        let d = offline_decision(
            "claude-code",
            &Verdict::deny("blocked"),
            "server down",
            "digest",
            serde_json::json!({}),
        );
        mode.queue(&d).unwrap();
        assert_eq!(queue.len().unwrap(), 2);
        let e = mode
            .upload_queue()
            .expect_err("the damaged entry was not recorded");
        assert!(e.contains("not recorded by the server"), "{e}");
        assert!(damaged.is_file(), "kept for a server that records it");
        assert_eq!(
            queue.len().unwrap(),
            1,
            "the decision was recorded and left"
        );
        assert_eq!(mode.upload_queue(), Ok(1));
        assert!(!damaged.exists());
        assert!(queue.is_empty().unwrap());
    }
}
