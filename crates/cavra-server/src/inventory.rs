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
    s.config
        .locator
        .repo_root_of(Some(cwd))
        .map_or_else(|| cwd.to_string(), |r| r.display().to_string())
}

/// [`repository_of`] `cwd` for a request located at `loc`: when `cwd` is where `loc`
/// was resolved (the request's working directory) or the repository found there, the
/// answer is `loc`'s, not looked for on disk again.
pub fn repository_at(s: &AppState, cwd: Option<&str>, loc: &cavra_runtime::Location) -> String {
    let same = |p: &std::path::Path| cwd.is_some_and(|c| c.trim() == c && p.to_str() == Some(c));
    match &loc.repo_root {
        // a repository root contains `.git`: the repository containing it is itself
        Some(r) if same(r) => r.display().to_string(),
        None if same(&loc.cwd) => loc.cwd.display().to_string(),
        _ => repository_of(s, cwd),
    }
}

/// Record `seen`; a failure is logged, not returned. A sighting of decisions only (what
/// every `POST /v1/decisions` and hook call makes) waits in [`Pending`] and is written
/// with the others of its repository, agent, pack and version, counted, at most
/// [`FLUSH_EVERY`] later (two upserts per decision were the largest part of a decision's
/// store work); any other sighting (uploads, loosening attempts) is written at once,
/// after what waits, so the order of sightings is kept.
pub fn record(s: &AppState, seen: &RepoSighting) {
    let now = time::OffsetDateTime::now_utc();
    let decisions_only = seen.decisions > 0 && seen.uploaded == 0 && seen.loosened.is_none();
    if decisions_only {
        if s.inventory.add(seen, now) {
            flush(s);
        }
        return;
    }
    flush(s);
    write(s, std::slice::from_ref(&(seen.clone(), now)));
}

/// Writes the sightings that wait (before the inventory is read, every [`FLUSH_EVERY`]
/// and when the server stops).
pub fn flush(s: &AppState) {
    let batch = s.inventory.take();
    if !batch.is_empty() {
        write(s, &batch);
    }
}

fn write(s: &AppState, batch: &[(RepoSighting, time::OffsetDateTime)]) {
    for (seen, at) in batch {
        let r = s.with_lookup_store(|st| Ok(st.record_repository(seen, *at)?));
        if let Err(e) = r {
            tracing::warn!(repository = %seen.path, error = %e.body.message, "could not update the repository inventory");
        }
    }
}

/// How long a decision sighting waits at most before it is written (the inventory's
/// staleness for another replica; this server writes what waits before it reads).
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Sightings that wait at most (distinct repository, agent, pack and version).
const PENDING_MAX: usize = 512;

/// What a decision sighting is counted under.
type PendingKey = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Decision sightings not written yet: one per repository, agent, pack and version, its
/// decisions counted, stamped with the last one's time (an upsert of the sum at the last
/// time leaves the row as the upserts one by one would: counts added, last seen and
/// pack the latest; a repository seen for the first time has that time as its first
/// seen, at most [`FLUSH_EVERY`] late).
#[derive(Debug, Default)]
pub struct Pending {
    inner: std::sync::Mutex<PendingInner>,
}

#[derive(Debug, Default)]
struct PendingInner {
    /// When the oldest waiting sighting was added.
    since: Option<std::time::Instant>,
    /// The sighting and its order of last use.
    entries: std::collections::HashMap<PendingKey, (RepoSighting, time::OffsetDateTime, u64)>,
    next: u64,
}

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, PendingInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts `seen` (decisions only) at `now`; whether what waits is due to be written
    /// (the oldest waited [`FLUSH_EVERY`], or [`PENDING_MAX`] wait).
    pub fn add(&self, seen: &RepoSighting, now: time::OffsetDateTime) -> bool {
        let key = (
            seen.path.clone(),
            seen.agent.clone(),
            seen.pack_id.clone(),
            seen.pack_digest.clone(),
            seen.client_version.clone(),
        );
        let mut p = self.lock();
        let order = p.next;
        p.next = p.next.wrapping_add(1);
        let since = *p.since.get_or_insert_with(std::time::Instant::now);
        let e = p.entries.entry(key).or_insert_with(|| {
            (
                RepoSighting {
                    decisions: 0,
                    ..seen.clone()
                },
                now,
                order,
            )
        });
        e.0.decisions = e.0.decisions.saturating_add(seen.decisions);
        // the hook's latest report of its offline queue, stamped with the latest time
        if seen.offline_queued.is_some() {
            e.0.offline_queued = seen.offline_queued;
        }
        e.1 = now;
        e.2 = order;
        p.entries.len() >= PENDING_MAX || since.elapsed() >= FLUSH_EVERY
    }

    /// What waits, in the order of the sightings' last use; empties it.
    pub fn take(&self) -> Vec<(RepoSighting, time::OffsetDateTime)> {
        let mut p = self.lock();
        p.since = None;
        let mut all: Vec<_> = p.entries.drain().map(|(_, v)| v).collect();
        drop(p);
        all.sort_by_key(|e| e.2);
        all.into_iter().map(|(s, t, _)| (s, t)).collect()
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
        flush(s);
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
        flush(s);
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

    fn seen(path: &str, pack: &str) -> RepoSighting {
        RepoSighting {
            path: path.into(),
            agent: Some("bot".into()),
            pack_id: Some(pack.into()),
            decisions: 1,
            ..Default::default()
        }
    }

    #[test]
    fn pending_sightings_are_counted_and_kept_in_the_order_of_last_use() {
        let p = Pending::default();
        let t = |s| time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
        assert!(!p.add(&seen("/a", "x"), t(1)));
        assert!(!p.add(&seen("/b", "x"), t(2)));
        assert!(!p.add(&seen("/a", "y"), t(3)));
        assert!(!p.add(&seen("/a", "x"), t(4)));
        let all = p.take();
        let got: Vec<_> = all
            .iter()
            .map(|(s, at)| (s.path.as_str(), s.pack_id.as_deref(), s.decisions, *at))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/b", Some("x"), 1, t(2)),
                ("/a", Some("y"), 1, t(3)),
                ("/a", Some("x"), 2, t(4)),
            ],
            "the last pack used is written last"
        );
        assert!(p.take().is_empty(), "taken once");
        // the latest queue report is kept
        let q = |n: Option<i64>| RepoSighting {
            offline_queued: n,
            ..seen("/q", "x")
        };
        assert!(!p.add(&q(Some(3)), t(5)));
        assert!(!p.add(&q(None), t(6)));
        assert!(!p.add(&q(Some(1)), t(7)));
        let all = p.take();
        assert_eq!(all.len(), 1);
        assert_eq!(
            (all[0].0.offline_queued, all[0].0.decisions, all[0].1),
            (Some(1), 3, t(7))
        );
    }

    #[test]
    fn pending_sightings_are_due_when_there_are_many() {
        let p = Pending::default();
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let due: Vec<bool> = (0..PENDING_MAX)
            .map(|i| p.add(&seen(&format!("/r{i}"), "x"), now))
            .collect();
        assert!(!due[..PENDING_MAX - 1].iter().any(|d| *d));
        assert!(due[PENDING_MAX - 1]);
        assert_eq!(p.take().len(), PENDING_MAX);
    }
}
