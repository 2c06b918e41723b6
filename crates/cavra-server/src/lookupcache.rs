//! What a replica has looked up in the store recently and reads on every request: the
//! server tokens (by the SHA-256 of the token), the registered agents (by id), the open
//! policy rollout assignments and whether any break-glass override is active (most often
//! none is: a block then needs no look for one), so that a decision does not read the store
//! for each of them every time. A cached answer never outlives a change to the store:
//! - **SQLite**: every request first reads `PRAGMA data_version` on a connection of the
//!   cache's own ([`cavra_store::DataVersion`]); any commit by another connection — a
//!   `cavra tokens revoke` or `cavra registry agents block` in another process included —
//!   changes it and empties the cache, so the very next request reads the store again.
//! - **PostgreSQL**: a token revocation, an agent's registration, status change or removal,
//!   a rollout assignment's start or end and a break-glass override recorded `NOTIFY
//!   cavra_lookups` in their transaction, and the replica's listener (the connection that
//!   follows the decision log) empties the cache when it hears it; while that connection is
//!   lost the cache is not used at all. (A cached "no break-glass is active" that a new
//!   override has not reached yet errs on the strict side: for those milliseconds the
//!   override is not yet honoured on that replica.)
//! - Either way an entry is used for at most [`LOOKUP_CACHE_TTL`] (the backstop for a
//!   change the replica could not hear of, such as a row edited by hand in PostgreSQL).
//!
//! Only active tokens are cached (an unknown token is looked up every time, so a token
//! issued a moment ago works at once), and the expiry of a cached token is checked on
//! every request against the cached row, as the store checks it. An agent that is not
//! registered is cached as such (registering it is a change).
//!
//! An entry is stamped with the generation the cache was at *before* its row was read: a
//! change that lands between that look and the read empties the cache under a newer
//! generation, and an entry of an older generation is neither stored nor used.

use cavra_store::{AgentRecord, ApiToken, Assignment};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached token is used at most.
pub const LOOKUP_CACHE_TTL: Duration = Duration::from_secs(1);
/// Tokens (and agents) cached at most (when full, that map starts over).
const MAX_ENTRIES: usize = 1024;

thread_local! {
    /// The cache (by address) and generation of the request this thread serves.
    static CHECKED: std::cell::Cell<Option<(usize, Option<u64>)>> =
        const { std::cell::Cell::new(None) };
}

/// What tells the cache that the tokens may have changed.
enum Watch {
    /// SQLite: `PRAGMA data_version` on a connection of the cache's own.
    DataVersion(Mutex<cavra_store::DataVersion>),
    /// PostgreSQL: the listener calls [`LookupCache::changed`], [`LookupCache::lost`] and
    /// [`LookupCache::listening`].
    Notified,
}

/// See the module documentation.
pub struct LookupCache {
    watch: Watch,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Advanced by every change seen; entries of another generation are not used.
    generation: u64,
    /// The last `data_version` read (SQLite).
    version: Option<i64>,
    /// False while changes cannot be heard (PostgreSQL: the listener is reconnecting).
    live: bool,
    entries: HashMap<String, Entry>,
    agents: HashMap<String, Cached<Option<AgentRecord>>>,
    assignments: Option<Cached<Vec<Assignment>>>,
    /// Whether any break-glass record is active.
    break_glass: Option<Cached<bool>>,
}

struct Entry {
    token: ApiToken,
    generation: u64,
    cached: Instant,
}

struct Cached<T> {
    value: T,
    generation: u64,
    cached: Instant,
}

impl<T: Clone> Cached<T> {
    fn fresh(&self, generation: u64) -> Option<T> {
        (self.generation == generation && self.cached.elapsed() < LOOKUP_CACHE_TTL)
            .then(|| self.value.clone())
    }
}

impl std::fmt::Debug for LookupCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupCache").finish_non_exhaustive()
    }
}

impl LookupCache {
    /// A cache checked against the SQLite database `version` watches.
    pub fn data_version(version: cavra_store::DataVersion) -> LookupCache {
        LookupCache::with(Watch::DataVersion(Mutex::new(version)), true)
    }

    /// A cache emptied by notifications (PostgreSQL), live from the start (its listener
    /// is connected and listening before the server serves).
    pub fn notified() -> LookupCache {
        LookupCache::with(Watch::Notified, true)
    }

    fn with(watch: Watch, live: bool) -> LookupCache {
        LookupCache {
            watch,
            inner: Mutex::new(Inner {
                generation: 0,
                version: None,
                live,
                entries: HashMap::new(),
                agents: HashMap::new(),
                assignments: None,
                break_glass: None,
            }),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` (one request, on this thread) with the generation checked once, now: the
    /// lookups of the request (its token, its agent, the assignments) use that generation
    /// instead of each reading `PRAGMA data_version` again. A change committed before the
    /// request began is seen by it; one committed while it runs is seen by the next.
    pub fn in_request<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<(usize, Option<u64>)>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CHECKED.set(self.0);
            }
        }
        let checked = self.check();
        let _restore = Restore(CHECKED.replace(Some((self.key(), checked))));
        f()
    }

    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The generation to look up and store under: the one checked at the start of the
    /// request this thread serves ([`LookupCache::in_request`]), else checked now; `None`:
    /// the cache cannot be trusted at the moment (the data version cannot be read, the
    /// listener is lost), so the store is asked.
    pub fn generation(&self) -> Option<u64> {
        match CHECKED.get() {
            Some((key, checked)) if key == self.key() => checked,
            _ => self.check(),
        }
    }

    /// The generation, checked now.
    fn check(&self) -> Option<u64> {
        let version = match &self.watch {
            Watch::DataVersion(v) => Some(
                v.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get()
                    .ok()?,
            ),
            Watch::Notified => None,
        };
        let mut g = self.inner();
        if version.is_some() && g.version != version {
            g.version = version;
            g.advance();
        }
        g.live.then_some(g.generation)
    }

    /// The token cached under `hash` in `generation` for less than [`LOOKUP_CACHE_TTL`].
    /// It may have expired since: the caller checks [`ApiToken::active`].
    pub fn get(&self, hash: &str, generation: u64) -> Option<ApiToken> {
        let g = self.inner();
        g.entries
            .get(hash)
            .filter(|e| {
                g.live && e.generation == generation && e.cached.elapsed() < LOOKUP_CACHE_TTL
            })
            .map(|e| e.token.clone())
    }

    /// Keep `token`, read from the store after [`LookupCache::generation`] gave
    /// `generation`; dropped when the cache has moved on since.
    pub fn put(&self, hash: String, token: ApiToken, generation: u64) {
        let mut g = self.inner();
        if !g.live || g.generation != generation {
            return;
        }
        if g.entries.len() >= MAX_ENTRIES && !g.entries.contains_key(&hash) {
            g.entries.clear();
        }
        g.entries.insert(
            hash,
            Entry {
                token,
                generation,
                cached: Instant::now(),
            },
        );
    }

    /// The registered agent `id` (`None`: not registered): cached in the current
    /// generation, else `read` from the store and kept.
    pub fn agent<E>(
        &self,
        id: &str,
        read: impl FnOnce() -> Result<Option<AgentRecord>, E>,
    ) -> Result<Option<AgentRecord>, E> {
        self.cached_or_read(
            |g| g.agents.get(id),
            read,
            |g, c| {
                if g.agents.len() >= MAX_ENTRIES && !g.agents.contains_key(id) {
                    g.agents.clear();
                }
                g.agents.insert(id.to_string(), c);
            },
        )
    }

    /// The open rollout assignments (`RolloutStore::list_assignments(false)`): cached in
    /// the current generation, else `read` from the store and kept.
    pub fn assignments<E>(
        &self,
        read: impl FnOnce() -> Result<Vec<Assignment>, E>,
    ) -> Result<Vec<Assignment>, E> {
        self.cached_or_read(
            |g| g.assignments.as_ref(),
            read,
            |g, c| g.assignments = Some(c),
        )
    }

    /// Whether any break-glass record is active (`DecisionStore::any_active_break_glass`):
    /// cached in the current generation, else `read` from the store and kept.
    pub fn break_glass<E>(&self, read: impl FnOnce() -> Result<bool, E>) -> Result<bool, E> {
        self.cached_or_read(
            |g| g.break_glass.as_ref(),
            read,
            |g, c| g.break_glass = Some(c),
        )
    }

    /// What `get` finds cached in the current generation, else `read` (kept by `keep`
    /// unless the cache moved on or cannot be trusted meanwhile).
    fn cached_or_read<T: Clone, E>(
        &self,
        get: impl FnOnce(&Inner) -> Option<&Cached<T>>,
        read: impl FnOnce() -> Result<T, E>,
        keep: impl FnOnce(&mut Inner, Cached<T>),
    ) -> Result<T, E> {
        let Some(generation) = self.generation() else {
            return read();
        };
        if let Some(v) = get(&self.inner()).and_then(|c| c.fresh(generation)) {
            return Ok(v);
        }
        let value = read()?;
        let mut g = self.inner();
        if g.live && g.generation == generation {
            let cached = Cached {
                value: value.clone(),
                generation,
                cached: Instant::now(),
            };
            keep(&mut g, cached);
        }
        Ok(value)
    }

    /// The store changed: forget everything cached.
    pub fn changed(&self) {
        self.inner().advance();
    }

    /// Changes cannot be heard from now on: forget everything and use nothing until
    /// [`LookupCache::listening`].
    pub fn lost(&self) {
        let mut g = self.inner();
        g.live = false;
        g.advance();
    }

    /// Changes are heard again (what changed while they were not is not known: forget
    /// everything).
    pub fn listening(&self) {
        let mut g = self.inner();
        g.advance();
        g.live = true;
    }

    /// Tokens cached now (for tests).
    pub fn len(&self) -> usize {
        self.inner().entries.len()
    }

    /// Nothing cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The runtimes' agent lookups (`apply_agent_registry`) go through the cache.
impl cavra_runtime::Lookups for LookupCache {
    fn agent(
        &self,
        id: &str,
        read: &mut dyn FnMut() -> Result<Option<AgentRecord>, cavra_runtime::RuntimeError>,
    ) -> Result<Option<AgentRecord>, cavra_runtime::RuntimeError> {
        LookupCache::agent(self, id, read)
    }

    fn break_glass_active(
        &self,
        read: &mut dyn FnMut() -> Result<bool, cavra_runtime::RuntimeError>,
    ) -> Result<bool, cavra_runtime::RuntimeError> {
        LookupCache::break_glass(self, read)
    }
}

impl Inner {
    fn advance(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.entries.clear();
        self.agents.clear();
        self.assignments = None;
        self.break_glass = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cavra_store::{ApiRole, OffsetDateTime, Store};

    fn token(id: &str) -> ApiToken {
        ApiToken {
            id: id.into(),
            name: "bot".into(),
            role: ApiRole::Agent,
            created_at: OffsetDateTime::UNIX_EPOCH,
            created_by: "root".into(),
            expires_at: None,
            revoked_at: None,
            revoked_by: None,
        }
    }

    #[test]
    fn whether_a_break_glass_is_active_is_read_once_until_a_change() {
        let c = LookupCache::notified();
        let reads = std::cell::Cell::new(0);
        let read = |v: bool| {
            reads.set(reads.get() + 1);
            Ok::<_, ()>(v)
        };
        assert!(!c.break_glass(|| read(false)).unwrap());
        assert!(!c.break_glass(|| read(true)).unwrap(), "cached");
        assert_eq!(reads.get(), 1);
        // a break-glass recorded (NOTIFY): read again, and the new answer kept
        c.changed();
        assert!(c.break_glass(|| read(true)).unwrap());
        assert!(c.break_glass(|| read(false)).unwrap(), "cached");
        assert_eq!(reads.get(), 2);
        // changes cannot be heard: the store is asked every time
        c.lost();
        assert!(!c.break_glass(|| read(false)).unwrap());
        assert!(c.break_glass(|| read(true)).unwrap());
        assert_eq!(reads.get(), 4);
    }

    #[test]
    fn notified_cache_forgets_on_every_signal() {
        let c = LookupCache::notified();
        let g = c.generation().unwrap();
        c.put("h1".into(), token("tok-1"), g);
        assert_eq!(c.get("h1", g).unwrap().id, "tok-1");
        assert!(c.get("h2", g).is_none());
        // a revocation heard: nothing of before is used
        c.changed();
        assert!(c.get("h1", g).is_none());
        assert!(c.is_empty());
        let g2 = c.generation().unwrap();
        assert_ne!(g, g2);
        // a row read before the change is not stored after it
        c.put("h1".into(), token("tok-1"), g);
        assert!(c.is_empty());
        c.put("h1".into(), token("tok-1"), g2);
        assert!(c.get("h1", g2).is_some());
        // the listener lost: nothing is used or stored until it listens again
        c.lost();
        assert_eq!(c.generation(), None);
        assert!(c.get("h1", g2).is_none());
        c.put("h1".into(), token("tok-1"), g2);
        assert!(c.is_empty());
        c.listening();
        let g3 = c.generation().unwrap();
        assert!(c.get("h1", g3).is_none(), "what was cached before is gone");
    }

    fn agent(id: &str, status: cavra_store::AgentStatus) -> AgentRecord {
        AgentRecord {
            agent_id: id.into(),
            vendor: None,
            kind: None,
            owner: None,
            risk_tier: None,
            profile: "builder".into(),
            status,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn agents_and_assignments_are_read_once_per_generation() {
        use cavra_store::AgentStatus;
        let c = LookupCache::notified();
        let reads = std::cell::Cell::new(0);
        let read = |a: Option<AgentRecord>| {
            reads.set(reads.get() + 1);
            Ok::<_, ()>(a)
        };
        assert_eq!(c.agent("bot", || read(None)), Ok(None));
        assert_eq!(c.agent("bot", || read(None)), Ok(None), "absence is cached");
        assert_eq!(reads.get(), 1);
        c.changed();
        let blocked = c.agent("bot", || read(Some(agent("bot", AgentStatus::Blocked))));
        assert_eq!(blocked.unwrap().unwrap().status, AgentStatus::Blocked);
        assert_eq!(reads.get(), 2, "a change: read again");
        assert_eq!(
            c.agent("bot", || read(None)).unwrap().unwrap().status,
            AgentStatus::Blocked
        );
        assert_eq!(reads.get(), 2);
        // a failed read is not cached
        assert_eq!(
            c.agent("other", || Err::<Option<AgentRecord>, ()>(())),
            Err(())
        );
        assert_eq!(c.agent("other", || read(None)), Ok(None));
        assert_eq!(reads.get(), 3);

        let n = std::cell::Cell::new(0);
        let list = || {
            n.set(n.get() + 1);
            Ok::<_, ()>(Vec::new())
        };
        assert!(c.assignments(list).unwrap().is_empty());
        assert!(c.assignments(list).unwrap().is_empty());
        assert_eq!(n.get(), 1);
        c.changed();
        let _ = c.assignments(list);
        assert_eq!(n.get(), 2);
        // while changes cannot be heard, every lookup reads the store
        c.lost();
        let _ = c.assignments(list);
        let _ = c.assignments(list);
        assert_eq!(n.get(), 4);
        let _ = c.agent("bot", || read(None));
        let _ = c.agent("bot", || read(None));
        assert_eq!(reads.get(), 5);
    }

    #[test]
    fn sqlite_registry_changes_of_other_connections_empty_the_cache() {
        use cavra_store::{AgentStatus, NewAgent};
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("c.db");
        let now = OffsetDateTime::now_utc();
        let s = Store::open(&db).unwrap();
        let c = LookupCache::data_version(cavra_store::DataVersion::open(&db).unwrap());
        assert_eq!(c.agent("ci-bot", || s.agent("ci-bot")).unwrap(), None);
        let mut other = Store::open(&db).unwrap();
        other
            .add_agent(
                NewAgent {
                    agent_id: "ci-bot".into(),
                    vendor: None,
                    kind: None,
                    owner: None,
                    risk_tier: None,
                    profile: "builder".into(),
                    status: AgentStatus::Pending,
                },
                now,
            )
            .unwrap();
        let a = c.agent("ci-bot", || s.agent("ci-bot")).unwrap();
        assert_eq!(a.map(|a| a.status), Some(AgentStatus::Pending));
        other
            .set_agent_status("ci-bot", AgentStatus::Blocked, now)
            .unwrap();
        let a = c.agent("ci-bot", || s.agent("ci-bot")).unwrap();
        assert_eq!(a.map(|a| a.status), Some(AgentStatus::Blocked));
    }

    #[test]
    fn a_request_checks_the_data_version_once_and_the_next_request_sees_a_change() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("c.db");
        let now = OffsetDateTime::now_utc();
        let mut s = Store::open(&db).unwrap();
        let t = s
            .issue_api_token("bot", ApiRole::Agent, None, "root", now)
            .unwrap();
        let c = LookupCache::data_version(cavra_store::DataVersion::open(&db).unwrap());
        let mut other = Store::open(&db).unwrap();
        c.in_request(|| {
            let g = c.generation().unwrap();
            c.put("h".into(), t.record.clone(), g);
            other.revoke_api_token(&t.record.id, "root", now).unwrap();
            // committed while the request runs: this request keeps its generation
            assert_eq!(c.generation(), Some(g));
            // nested requests and other caches check on their own
            let c2 = LookupCache::data_version(cavra_store::DataVersion::open(&db).unwrap());
            assert!(c2.generation().is_some());
        });
        // the next request sees the revocation
        c.in_request(|| {
            let g = c.generation().unwrap();
            assert!(c.get("h", g).is_none());
        });
        // outside a request every look checks
        let g = c.generation().unwrap();
        c.put("h".into(), t.record.clone(), g);
        let u = s
            .issue_api_token("bot2", ApiRole::Agent, None, "root", now)
            .unwrap();
        other.revoke_api_token(&u.record.id, "root", now).unwrap();
        assert_ne!(c.generation(), Some(g));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let c = LookupCache::notified();
        let g = c.generation().unwrap();
        for i in 0..MAX_ENTRIES + 10 {
            c.put(format!("h{i}"), token("tok"), g);
        }
        assert!(c.len() <= MAX_ENTRIES);
        assert!(c.get(&format!("h{}", MAX_ENTRIES + 9), g).is_some());
    }

    #[test]
    fn sqlite_commits_of_other_connections_empty_the_cache() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("c.db");
        let now = OffsetDateTime::now_utc();
        let mut s = Store::open(&db).unwrap();
        let t = s
            .issue_api_token("bot", ApiRole::Agent, None, "root", now)
            .unwrap();
        let c = LookupCache::data_version(cavra_store::DataVersion::open(&db).unwrap());
        let g = c.generation().unwrap();
        assert_eq!(c.generation(), Some(g), "nothing committed: the same");
        c.put("h".into(), t.record.clone(), g);
        assert!(c.get("h", c.generation().unwrap()).is_some());
        // another connection (here: another store; in the tests of the binary: another
        // process) revokes
        let mut other = Store::open(&db).unwrap();
        other.revoke_api_token(&t.record.id, "root", now).unwrap();
        let g2 = c.generation().unwrap();
        assert_ne!(g, g2);
        assert!(c.get("h", g2).is_none());
        assert!(c.is_empty());
    }
}
