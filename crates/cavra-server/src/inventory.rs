//! `/v1/repositories`: the repository inventory — every repository that sent a decision
//! (a hook call, `POST /v1/decisions`, an upload of offline decisions), its agents, the
//! pack in force, hook health (last decision, offline decisions uploaded, the binary's
//! version from `X-Cavra-Version`, the offline decisions waiting in its queue from
//! `X-Cavra-Queued`) and the calls where its project pack would have been
//! looser than the server's floor (the floor decided; the attempt is reported here).
//! Each call records one sighting (one upsert) after it is decided; a failure to record
//! is logged and never changes the decision.

use crate::state::AppState;
use axum::http::HeaderMap;
use cavra_store::RepoSighting;

/// The header a `cavra` binary names its version in.
pub const VERSION_HEADER: &str = "x-cavra-version";

/// The header a hook in server mode names the offline decisions waiting in its queue in
/// (on a hook call: what it holds; on an upload: what the upload leaves).
pub const QUEUED_HEADER: &str = "x-cavra-queued";
/// The largest queue count kept (a larger one is a bad value, ignored).
const MAX_QUEUED: i64 = 1 << 40;

/// What a calling binary says of itself, kept in the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientReport {
    /// `X-Cavra-Version`.
    pub version: Option<String>,
    /// `X-Cavra-Queued`.
    pub queued: Option<i64>,
}

/// The caller's [`ClientReport`] from its headers.
pub fn client_report(headers: &HeaderMap) -> ClientReport {
    ClientReport {
        version: client_version(headers),
        queued: client_queued(headers),
    }
}

/// The queue count a caller named (`X-Cavra-Queued`): decimal digits only, at most
/// [`MAX_QUEUED`]; anything else (a sign, a fraction, text, two headers) is ignored. It
/// is reported, never used to decide.
pub fn client_queued(headers: &HeaderMap) -> Option<i64> {
    let mut all = headers.get_all(QUEUED_HEADER).iter();
    let v = all.next()?;
    if all.next().is_some() {
        return None;
    }
    let v = v.to_str().ok()?.trim();
    if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<i64>().ok().filter(|n| *n <= MAX_QUEUED)
}

/// The version a caller named (`X-Cavra-Version`), when it is printable text.
pub fn client_version(headers: &HeaderMap) -> Option<String> {
    headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The repository of a call whose working directory is `cwd`: the repository containing
/// it when the server sees one there, else `cwd` as the caller sent it, else the server's
/// project.
pub fn repository_of(s: &AppState, cwd: Option<&str>) -> String {
    let Some(cwd) = cwd.map(str::trim).filter(|c| !c.is_empty()) else {
        return s.config.project.display().to_string();
    };
    let loc = s.config.locator.locate(Some(cwd));
    loc.repo_root
        .map_or_else(|| cwd.to_string(), |r| r.display().to_string())
}

/// Record `seen` (one upsert on a kept store); a failure is logged, not returned.
pub fn record(s: &AppState, seen: &RepoSighting) {
    let now = time::OffsetDateTime::now_utc();
    let r = s.with_lookup_store(|st| Ok(st.record_repository(seen, now)?));
    if let Err(e) = r {
        tracing::warn!(repository = %seen.path, error = %e.body.message, "could not update the repository inventory");
    }
}

/// A JSON document (the server answers JSON only).
fn doc(json: serde_json::Value) -> cavra_runtime::views::Doc {
    cavra_runtime::views::Doc {
        json,
        text: Vec::new(),
    }
}

get_list!(
    /// Every repository that has sent a decision, the last seen first: its agents, the
    /// pack in force, hook health and loosening attempts.
    list_repositories,
    "/v1/repositories",
    "repositories",
    |s| {
        let all = s.store(false)?.list_repositories()?;
        Ok(doc(serde_json::Value::Array(
            all.iter().map(cavra_store::Repository::json).collect(),
        )))
    }
);

get_one!(
    /// One repository of the inventory.
    get_repository,
    "/v1/repositories/{id}",
    "repositories",
    "The repository id (`repo-` and 16 hex digits)",
    |s, id| {
        s.store(false)?
            .repository(&id)?
            .map(|r| doc(r.json()))
            .ok_or_else(|| {
                crate::error::ApiError::not_found(format!("no repository `{id}`"))
                    .hint("GET /v1/repositories lists them")
            })
    }
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_count_is_digits_or_ignored() {
        let q = |vals: &[&str]| {
            let mut h = HeaderMap::new();
            for v in vals {
                h.append(QUEUED_HEADER, v.parse().unwrap());
            }
            client_queued(&h)
        };
        assert_eq!(q(&[]), None);
        assert_eq!(q(&["2"]), Some(2));
        assert_eq!(q(&[" 0 "]), Some(0));
        assert_eq!(q(&["007"]), Some(7));
        for bad in [
            "-1",
            "+1",
            "1.5",
            "two",
            "",
            "1e3",
            "99999999999999999999",
            "0x10",
        ] {
            assert_eq!(q(&[bad]), None, "{bad}");
        }
        assert_eq!(q(&["1", "2"]), None, "two headers");
        assert_eq!(q(&[&(MAX_QUEUED + 1).to_string()]), None);
        let mut h = HeaderMap::new();
        h.insert(QUEUED_HEADER, "3".parse().unwrap());
        h.insert(VERSION_HEADER, "0.1.0".parse().unwrap());
        assert_eq!(
            client_report(&h),
            ClientReport {
                version: Some("0.1.0".into()),
                queued: Some(3)
            }
        );
    }
}
