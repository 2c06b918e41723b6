//! A person's `cavra approvals …`, `cavra sessions …` and `cavra repos …` through the server
//! (`CAVRA_SERVER=URL`): the server owns the approvals, the CLI only asks it. Each call
//! answers the document the local command prints (the runtime's `views::…_doc_of` of the
//! server's JSON), so both print the same text and the same `--json`.
//!
//! The person's credential is a server token of theirs (`cavra tokens issue --role
//! approver|admin|auditor`): the command's `--token`, else the file named by
//! `$CAVRA_APPROVER_TOKEN_FILE` — never `$CAVRA_TOKEN_FILE`, which holds the agent's token
//! in server mode. A server error (401, 403, 404, 409, 5xx), an unreachable server or a
//! timeout is an error naming it; nothing is printed as done.

use crate::{Client, ClientError};
use cavra_runtime::actions::{DecideRequest, ReleaseRequest, Verdict};
use cavra_runtime::views::{self, Block, Doc};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// How long a person's call may take (the server signs and records what it does).
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// The variable naming the file of the person's server token.
pub const APPROVER_TOKEN_FILE: &str = "CAVRA_APPROVER_TOKEN_FILE";
/// The largest token file read.
const MAX_TOKEN_FILE: u64 = 16 << 10;

/// A break-glass override asked of the server (`POST /v1/break-glass`): the server's
/// pack bounds its lifetime.
#[derive(Debug, Clone, Serialize)]
pub struct BreakGlass {
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub ttl: String,
}

/// The server, asked on a person's behalf.
#[derive(Debug)]
pub struct Remote {
    client: Client,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Remote {
    /// The server of `$CAVRA_SERVER`, when it is set, with the person's `token` (a
    /// command's `--token`), else the token in the file named by
    /// `$CAVRA_APPROVER_TOKEN_FILE`.
    pub fn from_env(token: Option<&str>) -> Result<Option<Remote>, ClientError> {
        let Some(url) = env("CAVRA_SERVER") else {
            return Ok(None);
        };
        let file = env(APPROVER_TOKEN_FILE);
        Remote::from_settings(&url, token, file.as_deref().map(Path::new)).map(Some)
    }

    /// The server at `url` with the person's `token`, else the token in `token_file`;
    /// neither is an error saying what to set.
    pub fn from_settings(
        url: &str,
        token: Option<&str>,
        token_file: Option<&Path>,
    ) -> Result<Remote, ClientError> {
        let token = match (token, token_file) {
            (Some(t), _) => t.to_string(),
            (None, Some(f)) => read_token(f)?,
            (None, None) => return Err(ClientError::Credential(format!(
                "CAVRA_SERVER is set, so this command asks the server at {url}, as a person: pass --token with your server token or set {APPROVER_TOKEN_FILE} to the file holding it (CAVRA_TOKEN_FILE is the agent's token and is not used here)"
            ))),
        };
        if token.trim().is_empty() {
            return Err(ClientError::Credential(
                "the person's server token is empty".into(),
            ));
        }
        let agent = concat!("cavra-cli/", env!("CARGO_PKG_VERSION"));
        let client = Client::with_agent(url, &token, CONTROL_TIMEOUT, agent)?;
        Ok(Remote { client })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        self.client.url()
    }

    /// `approvals list [--status S]`: `GET /v1/approvals`.
    pub fn approvals(&self, status: Option<&str>) -> Result<Doc, ClientError> {
        let query = status.map(|s| format!("?status={}", crate::encode(s)));
        let path = format!("/v1/approvals{}", query.unwrap_or_default());
        Ok(views::approvals_doc_of(self.client.get(&path)?))
    }

    /// `approvals show ID`: `GET /v1/approvals/{id}`.
    pub fn approval(&self, id: &str) -> Result<Doc, ClientError> {
        let path = format!("/v1/approvals/{}", crate::encode(id));
        Ok(views::approval_doc_of(self.client.get(&path)?))
    }

    /// `approvals approve|deny ID`: `POST /v1/approvals/{id}/approve|deny`.
    pub fn decide(&self, req: &DecideRequest) -> Result<Doc, ClientError> {
        let path = format!(
            "/v1/approvals/{}/{}",
            crate::encode(&req.id),
            req.verdict.as_str()
        );
        let mut body = json!({ "reason": req.reason });
        if let (Verdict::Approve, Some(n)) = (req.verdict, req.uses) {
            body["uses"] = n.into();
        }
        let done: Value = self.client.post(&path, &body)?;
        Ok(views::decided_doc_of(done, req.verdict))
    }

    /// `approvals break-glass`: `POST /v1/break-glass`.
    pub fn break_glass(&self, req: &BreakGlass) -> Result<Doc, ClientError> {
        Ok(views::break_glass_doc_of(
            self.client.post("/v1/break-glass", req)?,
        ))
    }

    /// `sessions list [--held]`: `GET /v1/sessions`.
    pub fn sessions(&self, held: bool) -> Result<Doc, ClientError> {
        let path = if held {
            "/v1/sessions?held=true"
        } else {
            "/v1/sessions"
        };
        Ok(views::sessions_doc_of(self.client.get(path)?))
    }

    /// `sessions show ID`: `GET /v1/sessions/{id}`.
    pub fn session(&self, id: &str) -> Result<Doc, ClientError> {
        let path = format!("/v1/sessions/{}", crate::encode(id));
        Ok(views::session_doc_of(self.client.get(&path)?))
    }

    /// `sessions release ID`: `POST /v1/sessions/{id}/release`.
    pub fn release(&self, req: &ReleaseRequest) -> Result<Doc, ClientError> {
        let path = format!("/v1/sessions/{}/release", crate::encode(&req.session_id));
        let body = json!({ "reason": req.reason });
        Ok(views::released_doc_of(self.client.post(&path, &body)?))
    }
}

impl Remote {
    /// `repos list`: `GET /v1/repositories`, one row per repository, the last seen first.
    pub fn repositories(&self) -> Result<Doc, ClientError> {
        Ok(repositories_doc_of(self.client.get("/v1/repositories")?))
    }

    /// `repos show ID`: `GET /v1/repositories/{id}`.
    pub fn repository(&self, id: &str) -> Result<Doc, ClientError> {
        let path = format!("/v1/repositories/{}", crate::encode(id));
        Ok(repository_doc_of(self.client.get(&path)?))
    }
}

/// A field of an inventory document as text (`-` when absent or null).
fn text_of(v: &Value, k: &str) -> String {
    match v.get(k) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) if s.is_empty() => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn agents_of(v: &Value) -> String {
    let names: Vec<&str> = v
        .get("agents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("agent").and_then(Value::as_str))
        .collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(",")
    }
}

/// `repos list` of the server's `GET /v1/repositories` document.
pub fn repositories_doc_of(json: Value) -> Doc {
    const HEADERS: &[&str] = &[
        "REPOSITORY",
        "PATH",
        "AGENTS",
        "PACK",
        "DECISIONS",
        "QUEUED",
        "UPLOADED",
        "VERSION",
        "LAST SEEN",
    ];
    let rows = json
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                text_of(r, "id"),
                text_of(r, "path"),
                agents_of(r),
                text_of(r, "pack_id"),
                text_of(r, "decisions"),
                text_of(r, "offline_queued"),
                text_of(r, "offline_uploaded"),
                text_of(r, "client_version"),
                text_of(r, "last_seen"),
            ]
        })
        .collect();
    Doc {
        json,
        text: vec![Block::Table {
            headers: HEADERS,
            rows,
            empty: "no repositories (none has sent a decision)",
        }],
    }
}

/// `repos show` of the server's `GET /v1/repositories/{id}` document.
pub fn repository_doc_of(json: Value) -> Doc {
    let f = |k| text_of(&json, k);
    let fields = vec![
        ("id", f("id")),
        ("path", f("path")),
        ("agents", agents_of(&json)),
        ("first_seen", f("first_seen")),
        ("last_seen", f("last_seen")),
        ("pack", format!("{} {}", f("pack_id"), f("pack_digest"))),
        ("decisions", f("decisions")),
        ("last_decision_at", f("last_decision_at")),
        ("offline_queued", f("offline_queued")),
        ("queued_reported_at", f("queued_reported_at")),
        ("offline_uploaded", f("offline_uploaded")),
        ("last_upload_at", f("last_upload_at")),
        ("client_version", f("client_version")),
        ("loosen_attempts", f("loosen_attempts")),
        ("last_loosen_at", f("last_loosen_at")),
        ("last_loosen_reason", f("last_loosen_reason")),
    ];
    Doc {
        json,
        text: vec![Block::Fields { width: 18, fields }],
    }
}

/// The token in `file` (trimmed; at most 16 KiB read).
pub(crate) fn read_token(file: &Path) -> Result<String, ClientError> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_TOKEN_FILE).read_to_string(&mut text))
        .map_err(|e| {
            ClientError::Credential(format!(
                "cannot read {APPROVER_TOKEN_FILE} `{}`: {e}",
                file.display()
            ))
        })?;
    Ok(text.trim().to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_persons_credential_is_required_and_never_the_agents() {
        let url = "http://127.0.0.1:8700";
        let e = Remote::from_settings(url, None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--token") && e.contains(APPROVER_TOKEN_FILE),
            "{e}"
        );
        assert!(e.contains("CAVRA_TOKEN_FILE is the agent's token"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = Remote::from_settings(url, None, Some(&missing)).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
        let blank = dir.path().join("blank");
        std::fs::write(&blank, "\n").unwrap();
        assert!(Remote::from_settings(url, None, Some(&blank)).is_err());
        let file = dir.path().join("t");
        std::fs::write(&file, "cavra_t_file\n").unwrap();
        let r = Remote::from_settings(url, None, Some(&file)).unwrap();
        assert_eq!(r.client.token, "cavra_t_file");
        // the command line's token wins over the file
        let r = Remote::from_settings(url, Some("cavra_t_flag"), Some(&file)).unwrap();
        assert_eq!(r.client.token, "cavra_t_flag");
        assert!(matches!(
            Remote::from_settings("https://x", Some("t"), None),
            Err(ClientError::BadUrl(_))
        ));
    }

    #[test]
    fn the_inventory_reads_as_a_table_and_as_fields() {
        let r = json!({"id": "repo-1", "path": "/src/a", "agents": [{"agent": "codex"}, {"agent": "claude-code"}],
            "pack_id": "p", "decisions": 3, "offline_queued": null, "offline_uploaded": 2,
            "client_version": "0.1.0", "last_seen": "2026-12-02T00:00:00Z"});
        let plain = cavra_runtime::render::plain;
        let list = repositories_doc_of(json!([r.clone()])).render(&plain);
        assert!(list.contains("QUEUED"), "{list}");
        let row = list.lines().nth(1).unwrap();
        for cell in [
            "repo-1",
            "/src/a",
            "codex,claude-code",
            " 3 ",
            " - ",
            " 2 ",
            "0.1.0",
        ] {
            assert!(row.contains(cell), "{cell} not in {row}");
        }
        let empty = repositories_doc_of(json!([])).render(&plain);
        assert!(empty.contains("no repositories"), "{empty}");
        let one = repository_doc_of(r.clone());
        assert_eq!(one.json, r);
        let text = one.render(&plain);
        assert!(text.contains("offline_queued     -\n"), "{text}");
        assert!(text.contains("offline_uploaded   2\n"), "{text}");
    }

    #[test]
    fn ids_are_one_encoded_path_segment() {
        assert_eq!(crate::encode("apr-1_a~"), "apr-1_a~");
        assert_eq!(crate::encode("../x y?z"), "%2E%2E%2Fx%20y%3Fz");
        assert_eq!(crate::encode("é"), "%C3%A9");
    }

    #[test]
    fn an_unreachable_server_is_an_error_naming_it() {
        let r = Remote::from_settings("http://127.0.0.1:1", Some("t"), None).unwrap();
        let e = r.approvals(None).unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    }
}
