//! A person's `cavra policy publish` and `cavra rollout …` through the server
//! (docs/rollout.md): drafts, reviews, assignments, promotion and rollback of pack
//! versions are the server's; the CLI asks it and prints its documents (text, or the
//! server's JSON under `--json`).
//!
//! The person's credential is a server token of theirs: `--token-file FILE`, else the file
//! named by `$CAVRA_APPROVER_TOKEN_FILE`, else `$CAVRA_TOKEN_FILE`. The server checks the
//! role (drafting, assigning, promoting and rolling back take admin; approving admin or
//! approver, never the draft's author).

use crate::control::CONTROL_TIMEOUT;
use crate::{Client, ClientError};
use cavra_runtime::views::{Block, Doc};
use serde::Serialize;
use serde_json::{json, Value};
use std::path::Path;

/// Where a version goes (`POST /v1/rollouts/{id}/assign`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Assign {
    pub all: bool,
    pub repositories: Vec<String>,
    pub labels: Vec<String>,
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_for: Option<String>,
}

/// The server, asked about policy versions on a person's behalf.
#[derive(Debug)]
pub struct Rollouts {
    client: Client,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Rollouts {
    /// The server at `server` (else `$CAVRA_SERVER`) with the token in `token_file` (else
    /// `$CAVRA_APPROVER_TOKEN_FILE`, else `$CAVRA_TOKEN_FILE`).
    pub fn from_settings(
        server: Option<&str>,
        token_file: Option<&Path>,
    ) -> Result<Rollouts, ClientError> {
        let url = server.map(str::to_string).or_else(|| env("CAVRA_SERVER")).ok_or_else(|| {
            ClientError::Credential(
                "policy versions are published through a CAVRA server: pass --server URL or set CAVRA_SERVER".into(),
            )
        })?;
        let file = token_file
            .map(Path::to_path_buf)
            .or_else(|| env(crate::control::APPROVER_TOKEN_FILE).map(Into::into))
            .or_else(|| env("CAVRA_TOKEN_FILE").map(Into::into))
            .ok_or_else(|| {
                ClientError::Credential(format!(
                    "name your server token: --token-file FILE, or set {} or CAVRA_TOKEN_FILE",
                    crate::control::APPROVER_TOKEN_FILE
                ))
            })?;
        let token = crate::control::read_token(&file)?;
        if token.is_empty() {
            return Err(ClientError::Credential(format!(
                "the token file `{}` is empty",
                file.display()
            )));
        }
        let agent = concat!("cavra-cli/", env!("CARGO_PKG_VERSION"));
        Ok(Rollouts {
            client: Client::with_agent(&url, &token, CONTROL_TIMEOUT, agent)?,
        })
    }

    /// `policy publish FILE`: `POST /v1/policies/drafts`.
    pub fn publish(
        &self,
        name: &str,
        source: &str,
        since: Option<&str>,
    ) -> Result<Doc, ClientError> {
        let mut body = json!({"source": source, "name": name});
        if let Some(s) = since {
            body["since"] = s.into();
        }
        Ok(version_doc(self.client.post("/v1/policies/drafts", &body)?))
    }

    /// `rollout list`: `GET /v1/rollouts`.
    pub fn list(&self) -> Result<Doc, ClientError> {
        Ok(list_doc(self.client.get("/v1/rollouts")?))
    }

    /// `rollout show ID`: `GET /v1/rollouts/{id}`.
    pub fn show(&self, id: &str) -> Result<Doc, ClientError> {
        let path = format!("/v1/rollouts/{}", crate::encode(id));
        Ok(version_doc(self.client.get(&path)?))
    }

    /// `rollout shadow ID`: `GET /v1/rollouts/{id}/shadow`.
    pub fn shadow(&self, id: &str) -> Result<Doc, ClientError> {
        let path = format!("/v1/rollouts/{}/shadow", crate::encode(id));
        Ok(shadow_doc(self.client.get(&path)?))
    }

    /// `rollout approve|reject|promote ID`: `POST /v1/rollouts/{id}/<verb>`.
    pub fn review(&self, id: &str, verb: &str, reason: Option<&str>) -> Result<Doc, ClientError> {
        let path = format!("/v1/rollouts/{}/{verb}", crate::encode(id));
        let body = match reason {
            Some(r) => json!({"reason": r}),
            None => json!({}),
        };
        Ok(version_doc(self.client.post(&path, &body)?))
    }

    /// `rollout assign ID`: `POST /v1/rollouts/{id}/assign`.
    pub fn assign(&self, id: &str, a: &Assign) -> Result<Doc, ClientError> {
        let path = format!("/v1/rollouts/{}/assign", crate::encode(id));
        Ok(version_doc(self.client.post(&path, a)?))
    }

    /// `rollout rollback --to ID`: `POST /v1/rollouts/rollback`.
    pub fn rollback(&self, to: &str, reason: Option<&str>) -> Result<Doc, ClientError> {
        let body = json!({"to": to, "reason": reason});
        Ok(version_doc(
            self.client.post("/v1/rollouts/rollback", &body)?,
        ))
    }
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn targets(v: &Value) -> String {
    let all: Vec<String> = v["assignments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["ended_at"].is_null())
                .map(|x| {
                    let t = text(x, "target");
                    match text(x, "target_kind").as_str() {
                        "all" => format!("all ({})", text(x, "mode")),
                        k => format!("{k} {t} ({})", text(x, "mode")),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if all.is_empty() {
        "-".into()
    } else {
        all.join(", ")
    }
}

/// One version as the server answers it: fields, the replay's changes, the history.
pub fn version_doc(v: Value) -> Doc {
    let changes = v["replay"]["changes"].as_object().map(|c| {
        c.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let replay = match (&changes, v["replay"]["error"].as_str()) {
        (Some(c), _) => c.clone(),
        (None, Some(e)) => format!("not run: {e}"),
        (None, None) => "-".into(),
    };
    let mut text_blocks = vec![Block::Fields {
        width: 12,
        fields: vec![
            ("id", text(&v, "id")),
            (
                "pack",
                format!("{} v{}", text(&v, "pack_id"), text(&v, "version")),
            ),
            ("state", text(&v, "state")),
            ("digest", text(&v, "digest")),
            ("author", text(&v, "author")),
            ("reviewed by", text(&v, "reviewed_by")),
            ("assigned", targets(&v)),
            ("replay", replay),
        ],
    }];
    if v["replay"]["loosened"].as_u64().is_some_and(|n| n > 0) {
        text_blocks.push(Block::Alert(format!(
            "{} recorded decision(s) become less restrictive under this version",
            v["replay"]["loosened"]
        )));
    }
    if let Some(rolled) = v["rolled_back"].as_array().filter(|r| !r.is_empty()) {
        let ids: Vec<String> = rolled
            .iter()
            .map(|r| r.as_str().unwrap_or("?").to_string())
            .collect();
        text_blocks.push(Block::Line(format!("rolled back: {}", ids.join(", "))));
    }
    let rows: Vec<Vec<String>> = v["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|s| {
                    vec![
                        text(s, "at"),
                        text(s, "step"),
                        text(s, "actor"),
                        text(s, "evidence_record"),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    text_blocks.push(Block::Table {
        headers: &["AT", "STEP", "BY", "EVIDENCE"],
        rows,
        empty: "no history",
    });
    Doc {
        json: v,
        text: text_blocks,
    }
}

/// Every version: one row each.
pub fn list_doc(v: Value) -> Doc {
    let rows = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    vec![
                        text(x, "id"),
                        text(x, "state"),
                        text(x, "author"),
                        text(x, "reviewed_by"),
                        targets(x),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    Doc {
        json: v,
        text: vec![Block::Table {
            headers: &["ID", "STATE", "AUTHOR", "REVIEWED BY", "ASSIGNED"],
            rows,
            empty: "no policy versions",
        }],
    }
}

/// A shadow report: counts and examples.
pub fn shadow_doc(v: Value) -> Doc {
    let mut blocks = vec![Block::Line(format!(
        "{} in shadow: {} decision(s) compared, {} would have changed",
        text(&v, "version_id"),
        text(&v, "decisions"),
        text(&v, "changed")
    ))];
    let mut rows = Vec::new();
    if let Some(ex) = v["examples"].as_object() {
        for (kind, list) in ex {
            for e in list.as_array().into_iter().flatten() {
                rows.push(vec![
                    kind.clone(),
                    text(e, "action"),
                    text(e, "target"),
                    format!("{} -> {}", text(e, "enforced"), text(e, "shadow")),
                    text(e, "shadow_rule"),
                ]);
            }
        }
    }
    blocks.push(Block::Table {
        headers: &["CHANGE", "ACTION", "TARGET", "VERDICT", "RULE"],
        rows,
        empty: "no change",
    });
    Doc {
        json: v,
        text: blocks,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_server_and_the_token_file_are_required() {
        let dir = tempfile::tempdir().unwrap();
        let e = Rollouts::from_settings(Some("http://127.0.0.1:1"), Some(&dir.path().join("none")))
            .unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
        let f = dir.path().join("t");
        std::fs::write(&f, "cavra_t_x\n").unwrap();
        let r = Rollouts::from_settings(Some("http://127.0.0.1:1"), Some(&f)).unwrap();
        let e = r.list().unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
        assert!(Rollouts::from_settings(Some("https://x"), Some(&f)).is_err());
    }

    #[test]
    fn documents_render_the_server_answers() {
        let v = json!({"id": "pv-org-2", "pack_id": "org", "version": 2, "state": "active",
            "assignments": [{"target_kind": "label", "target": "prod", "mode": "enforce", "ended_at": null}],
            "replay": {"changes": {"newly_blocked": 3}, "loosened": 1},
            "history": [{"at": "t", "step": "drafted", "actor": "alice", "evidence_record": "r1"}]});
        let d = version_doc(v);
        let out = d.render(&|_, s| s.to_string());
        assert!(out.contains("label prod (enforce)"), "{out}");
        assert!(out.contains("newly_blocked 3"), "{out}");
        assert!(out.contains("less restrictive"), "{out}");
        assert!(out.contains("drafted") && out.contains("r1"), "{out}");
    }
}
