//! The issuer's public keys: a JWKS parsed into verification keys ([`KeySet`]), and the
//! cache that fetches it — from a file, a URL, or the discovery document's `jwks_uri` —
//! keeps it for a TTL, and refreshes it at most once per interval when a token names a
//! `kid` it does not know (key rotation).

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::config::KeySource;
use crate::error::AuthError;
use crate::http;

/// At most this many keys are read from one JWKS.
pub const MAX_KEYS: usize = 100;

/// One verification key.
#[derive(Clone)]
pub struct VerifyKey {
    pub kid: Option<String>,
    pub alg: Algorithm,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// The usable keys of a JWKS: RSA (RS256, 2048 bits or more), P-256 (ES256) and Ed25519
/// (EdDSA) signing keys. Symmetric (`oct`) keys, encryption keys, other curves and
/// algorithms are skipped, never used.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyKey>,
    /// How many entries were skipped as unusable.
    pub skipped: usize,
}

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Found(&'a VerifyKey),
    /// No key with this kid (or, without a kid, none for the algorithm): refresh.
    Unknown,
    /// No kid and several keys for the algorithm.
    Ambiguous,
    /// The kid is known, for another algorithm.
    Mismatch,
}

impl KeySet {
    /// Parse a JWKS document (`{"keys": [...]}`); `source_name` is only used in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<KeySet, AuthError> {
        let bad = |detail: String| AuthError::BadKeySet {
            source_name: source_name.to_string(),
            detail,
        };
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let entries = doc
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| bad("no `keys` array".into()))?;
        if entries.len() > MAX_KEYS {
            return Err(bad(format!("{} keys (at most {MAX_KEYS})", entries.len())));
        }
        let mut set = KeySet::default();
        for entry in entries {
            // one odd entry (another kty, a curve we do not verify) does not void the set
            match serde_json::from_value::<Jwk>(entry.clone())
                .ok()
                .and_then(|jwk| usable(&jwk))
            {
                Some(k) => set.keys.push(k),
                None => set.skipped = set.skipped.saturating_add(1),
            }
        }
        if set.keys.is_empty() {
            return Err(bad(format!(
                "no usable signing key ({} skipped: only RSA ≥ 2048 bits, P-256 and Ed25519 signing keys are used)",
                set.skipped
            )));
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The kids of the set, in order (keys without a kid are left out).
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref()).collect()
    }

    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                let mut any = false;
                for k in named.by_ref() {
                    any = true;
                    if k.alg == alg {
                        return Lookup::Found(k);
                    }
                }
                if any {
                    Lookup::Mismatch
                } else {
                    Lookup::Unknown
                }
            }
            None => {
                let mut of_alg = self.keys.iter().filter(|k| k.alg == alg);
                match (of_alg.next(), of_alg.next()) {
                    (Some(k), None) => Lookup::Found(k),
                    (None, _) => Lookup::Unknown,
                    (Some(_), Some(_)) => Lookup::Ambiguous,
                }
            }
        }
    }
}

fn b64_len(s: &str) -> Option<usize> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .map(|b| b.len())
}

/// The verification key of one JWK, when CAVRA verifies with it.
fn usable(jwk: &Jwk) -> Option<VerifyKey> {
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    if let Some(ops) = &jwk.common.key_operations {
        if !ops.contains(&jsonwebtoken::jwk::KeyOperations::Verify) {
            return None;
        }
    }
    let (alg, declared_as) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(_) => (Algorithm::ES256, KeyAlgorithm::ES256),
        AlgorithmParameters::OctetKeyPair(_) => (Algorithm::EdDSA, KeyAlgorithm::EdDSA),
        // a shared secret in a public key set: never a verification key
        AlgorithmParameters::OctetKey(_) => return None,
    };
    if jwk.common.key_algorithm.is_some_and(|a| a != declared_as) {
        return None;
    }
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&p.n)
                .ok()?;
            let bits = n
                .iter()
                .position(|b| *b != 0)
                .map_or(0, |i| n.len().saturating_sub(i).saturating_mul(8));
            (bits >= 2048).then_some(())?;
            DecodingKey::from_rsa_components(&p.n, &p.e).ok()?
        }
        AlgorithmParameters::EllipticCurve(p) => {
            let ok = p.curve == EllipticCurve::P256
                && b64_len(&p.x) == Some(32)
                && b64_len(&p.y) == Some(32);
            ok.then_some(())?;
            DecodingKey::from_ec_components(&p.x, &p.y).ok()?
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            let ok = p.curve == EllipticCurve::Ed25519 && b64_len(&p.x) == Some(32);
            ok.then_some(())?;
            DecodingKey::from_ed_components(&p.x).ok()?
        }
        AlgorithmParameters::OctetKey(_) => return None,
    };
    Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    })
}

/// The cache's timing and fetching knobs.
#[derive(Debug, Clone)]
pub struct CachePolicy {
    pub ttl: Duration,
    pub min_refresh_interval: Duration,
    pub http_timeout: Duration,
    /// The issuer a discovery document must name.
    pub issuer: String,
}

#[derive(Debug)]
struct Loaded {
    keys: Arc<KeySet>,
    at: Instant,
}

#[derive(Debug, Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_error: Option<AuthError>,
    /// The discovery document's `jwks_uri`, once found.
    jwks_uri: Option<String>,
    fetches: u64,
}

/// The issuer's keys, fetched on first use, kept for `ttl`, refreshed at most once per
/// `min_refresh_interval` (for an unknown kid, or when the TTL is up). A failed refresh
/// keeps the keys already held (and is not retried before the interval is over). Shared by
/// threads: lookups read a snapshot; one thread at a time fetches.
#[derive(Debug)]
pub struct KeyCache {
    source: KeySource,
    policy: CachePolicy,
    loaded: RwLock<Option<Loaded>>,
    refresh: Mutex<RefreshState>,
}

fn elapsed(since: Instant, now: Instant) -> Duration {
    now.checked_duration_since(since).unwrap_or(Duration::ZERO)
}

impl KeyCache {
    pub fn new(source: KeySource, policy: CachePolicy) -> KeyCache {
        KeyCache {
            source,
            policy,
            loaded: RwLock::new(None),
            refresh: Mutex::new(RefreshState::default()),
        }
    }

    /// How many times the keys were fetched (or the file read), successfully or not.
    pub fn fetches(&self) -> u64 {
        self.refresh.lock().map_or(0, |s| s.fetches)
    }

    fn snapshot(&self) -> Option<(Arc<KeySet>, Instant)> {
        self.loaded
            .read()
            .ok()
            .and_then(|l| l.as_ref().map(|l| (l.keys.clone(), l.at)))
    }

    fn store(&self, keys: Arc<KeySet>, at: Instant) {
        if let Ok(mut l) = self.loaded.write() {
            *l = Some(Loaded { keys, at });
        }
    }

    /// The keys to verify with at `now`: the cached set while it is fresh, else a fetched
    /// one (or the stale set, when fetching fails or was tried too recently).
    pub fn current(&self, now: Instant) -> Result<Arc<KeySet>, AuthError> {
        if let Some((keys, at)) = self.snapshot() {
            if elapsed(at, now) < self.policy.ttl {
                return Ok(keys);
            }
        }
        self.refresh_if(now, |held| match held {
            Some((_, at)) => elapsed(*at, now) >= self.policy.ttl,
            None => true,
        })
    }

    /// A token named a kid `seen` does not have: refresh once (rate limited) and return
    /// the set to look again in (the same set when no refresh was allowed).
    pub fn refresh_for_unknown(
        &self,
        seen: &Arc<KeySet>,
        now: Instant,
    ) -> Result<Arc<KeySet>, AuthError> {
        // refresh unless another thread already replaced the set we looked in
        self.refresh_if(now, |held| {
            held.as_ref().is_none_or(|(k, _)| Arc::ptr_eq(k, seen))
        })
    }

    /// Force a fetch now (start-up check), regardless of the interval.
    pub fn refresh_now(&self, now: Instant) -> Result<Arc<KeySet>, AuthError> {
        let mut st = self
            .refresh
            .lock()
            .map_err(|_| self.fetch_error("key cache lock poisoned".into()))?;
        self.fetch_into(&mut st, now)
    }

    fn refresh_if(
        &self,
        now: Instant,
        needed: impl Fn(&Option<(Arc<KeySet>, Instant)>) -> bool,
    ) -> Result<Arc<KeySet>, AuthError> {
        let mut st = self
            .refresh
            .lock()
            .map_err(|_| self.fetch_error("key cache lock poisoned".into()))?;
        // re-read under the lock: another thread may have fetched meanwhile
        let held = self.snapshot();
        if !needed(&held) {
            if let Some((keys, _)) = held {
                return Ok(keys);
            }
        }
        let too_soon = st
            .last_attempt
            .is_some_and(|t| elapsed(t, now) < self.policy.min_refresh_interval);
        if too_soon {
            return match (held, &st.last_error) {
                (Some((keys, _)), _) => Ok(keys),
                (None, Some(e)) => Err(e.clone()),
                (None, None) => Err(self.fetch_error("no keys yet".into())),
            };
        }
        match self.fetch_into(&mut st, now) {
            Ok(keys) => Ok(keys),
            // a failing issuer: keep verifying with the keys held
            Err(e) => held.map(|(k, _)| k).ok_or(e),
        }
    }

    fn fetch_error(&self, detail: String) -> AuthError {
        AuthError::Fetch {
            url: self.source.describe(),
            detail,
        }
    }

    fn fetch_into(&self, st: &mut RefreshState, now: Instant) -> Result<Arc<KeySet>, AuthError> {
        st.last_attempt = Some(now);
        st.fetches = st.fetches.saturating_add(1);
        match self.fetch(st) {
            Ok(set) => {
                st.last_error = None;
                let keys = Arc::new(set);
                self.store(keys.clone(), now);
                Ok(keys)
            }
            Err(e) => {
                st.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn fetch(&self, st: &mut RefreshState) -> Result<KeySet, AuthError> {
        let timeout = self.policy.http_timeout;
        match &self.source {
            KeySource::File(path) => {
                let name = path.display().to_string();
                let text = read_capped(path).map_err(|detail| AuthError::Fetch {
                    url: name.clone(),
                    detail,
                })?;
                KeySet::parse(&text, &name)
            }
            KeySource::Url(url) => KeySet::parse(&http::get(url, timeout)?, url),
            KeySource::Discovery(url) => {
                let jwks_uri = match st.jwks_uri.clone() {
                    Some(u) => u,
                    None => {
                        let u = discover(url, &self.policy.issuer, timeout)?;
                        st.jwks_uri = Some(u.clone());
                        u
                    }
                };
                let got =
                    http::get(&jwks_uri, timeout).and_then(|text| KeySet::parse(&text, &jwks_uri));
                if got.is_err() {
                    // the issuer may have moved its keys: discover again next time
                    st.jwks_uri = None;
                }
                got
            }
        }
    }
}

fn read_capped(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    f.take(http::MAX_BODY.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > http::MAX_BODY {
        return Err(format!("larger than {} bytes", http::MAX_BODY));
    }
    Ok(text)
}

/// The `jwks_uri` of the discovery document at `url`, which must name `issuer`.
pub fn discover(url: &str, issuer: &str, timeout: Duration) -> Result<String, AuthError> {
    let bad = |detail: String| AuthError::BadKeySet {
        source_name: url.to_string(),
        detail,
    };
    let text = http::get(url, timeout)?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let found = doc.get("issuer").and_then(|v| v.as_str()).unwrap_or("");
    if found != issuer {
        return Err(bad(format!(
            "the discovery document names issuer `{found}`, not `{issuer}`"
        )));
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no `jwks_uri`".into()))?;
    if !(jwks_uri.starts_with("http://") || jwks_uri.starts_with("https://")) {
        return Err(bad(format!(
            "`jwks_uri` `{jwks_uri}` is not an http(s) URL"
        )));
    }
    Ok(jwks_uri.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ec(kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&[1; 32]), "y": b64(&[2; 32])})
    }

    fn okp(kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&[3; 32])})
    }

    fn rsa(kid: &str, bytes: usize) -> serde_json::Value {
        let mut n = vec![0xC5u8; bytes];
        n.insert(0, 0); // a leading zero does not count as a bit
        serde_json::json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": b64(&[1, 0, 1])})
    }

    fn set(keys: Vec<serde_json::Value>) -> Result<KeySet, AuthError> {
        KeySet::parse(&serde_json::json!({ "keys": keys }).to_string(), "test")
    }

    #[test]
    fn usable_keys_are_kept_and_the_rest_skipped() {
        let s = set(vec![
            ec("a"),
            okp("b"),
            rsa("c", 256),
            rsa("small", 128),
            serde_json::json!({"kty": "oct", "kid": "hmac", "k": b64(b"secret")}),
            serde_json::json!({"kty": "EC", "crv": "P-384", "kid": "p384", "x": b64(&[1; 48]), "y": b64(&[2; 48])}),
            serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc", "x": b64(&[1; 32]), "y": b64(&[2; 32])}),
            serde_json::json!({"kty": "RSA", "kid": "ps", "alg": "PS256", "n": b64(&[0xC5; 256]), "e": "AQAB"}),
            serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "short", "x": b64(&[1; 31]), "y": b64(&[2; 32])}),
            serde_json::json!({"kty": "weird"}),
            serde_json::json!(17),
        ])
        .unwrap();
        assert_eq!(s.kids(), vec!["a", "b", "c"]);
        assert_eq!(s.skipped, 8);
    }

    #[test]
    fn bad_sets_are_errors() {
        for text in ["", "[]", "{\"keys\": 3}", "{}", "{\"keys\": []}"] {
            let e = KeySet::parse(text, "jwks.json").unwrap_err();
            assert!(matches!(e, AuthError::BadKeySet { .. }), "{text}: {e}");
        }
        let hmac_only = set(vec![serde_json::json!({"kty": "oct", "k": "c2VjcmV0"})]);
        assert!(hmac_only.unwrap_err().to_string().contains("no usable"));
        let many: Vec<_> = (0..=MAX_KEYS).map(|i| ec(&i.to_string())).collect();
        assert!(set(many).unwrap_err().to_string().contains("at most"));
    }

    #[test]
    fn lookup_by_kid_and_alg() {
        let s = set(vec![ec("a"), okp("b"), rsa("c", 256)]).unwrap();
        assert!(matches!(
            s.lookup(Some("a"), Algorithm::ES256),
            Lookup::Found(_)
        ));
        assert!(matches!(
            s.lookup(Some("a"), Algorithm::RS256),
            Lookup::Mismatch
        ));
        assert!(matches!(
            s.lookup(Some("z"), Algorithm::ES256),
            Lookup::Unknown
        ));
        // no kid: the one key of the algorithm, if there is exactly one
        assert!(matches!(s.lookup(None, Algorithm::EdDSA), Lookup::Found(_)));
        let two = set(vec![ec("a"), ec("a2")]).unwrap();
        assert!(matches!(
            two.lookup(None, Algorithm::ES256),
            Lookup::Ambiguous
        ));
        assert!(matches!(
            two.lookup(None, Algorithm::EdDSA),
            Lookup::Unknown
        ));
    }

    /// A 5-minute TTL and a 30-second refresh interval.
    fn policy() -> CachePolicy {
        CachePolicy {
            ttl: Duration::from_secs(300),
            min_refresh_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(1),
            issuer: "x".into(),
        }
    }

    #[test]
    fn a_file_source_is_cached_and_refreshed_within_limits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let write = |keys: Vec<serde_json::Value>| {
            std::fs::write(&path, serde_json::json!({ "keys": keys }).to_string()).unwrap()
        };
        write(vec![ec("a")]);
        let cache = KeyCache::new(KeySource::File(path.clone()), policy());
        let t0 = Instant::now();
        let k = cache.current(t0).unwrap();
        assert_eq!(k.kids(), vec!["a"]);
        write(vec![ec("a"), ec("b")]);
        // fresh: no re-read
        assert_eq!(
            cache.current(t0 + Duration::from_secs(10)).unwrap().kids(),
            vec!["a"]
        );
        assert_eq!(cache.fetches(), 1);
        // unknown kid within the interval: no refresh
        let again = cache
            .refresh_for_unknown(&k, t0 + Duration::from_secs(10))
            .unwrap();
        assert!(Arc::ptr_eq(&again, &k));
        assert_eq!(cache.fetches(), 1);
        // after it: one refresh
        let t1 = t0 + Duration::from_secs(31);
        let k2 = cache.refresh_for_unknown(&k, t1).unwrap();
        assert_eq!(k2.kids(), vec!["a", "b"]);
        assert_eq!(cache.fetches(), 2);
        // a second thread that looked in the old set gets the new one without a fetch
        let k3 = cache
            .refresh_for_unknown(&k, t1 + Duration::from_secs(60))
            .unwrap();
        assert!(Arc::ptr_eq(&k2, &k3));
        assert_eq!(cache.fetches(), 2);
        // TTL up and the file broken: the stale keys are kept
        std::fs::write(&path, "not json").unwrap();
        let t2 = t1 + Duration::from_secs(301);
        assert_eq!(cache.current(t2).unwrap().kids(), vec!["a", "b"]);
        assert_eq!(cache.fetches(), 3);
        // and the broken file is not re-read before the interval is over
        let _ = cache.current(t2 + Duration::from_secs(1)).unwrap();
        assert_eq!(cache.fetches(), 3);
    }

    #[test]
    fn a_missing_file_fails_and_is_not_retried_at_once() {
        let cache = KeyCache::new(KeySource::File("/nonexistent/jwks.json".into()), policy());
        let t0 = Instant::now();
        let e = cache.current(t0).unwrap_err();
        assert!(matches!(e, AuthError::Fetch { .. }), "{e}");
        assert!(!e.is_credential_error());
        let e2 = cache.current(t0 + Duration::from_secs(1)).unwrap_err();
        assert_eq!(e, e2);
        assert_eq!(cache.fetches(), 1);
        let _ = cache.current(t0 + Duration::from_secs(31)).unwrap_err();
        assert_eq!(cache.fetches(), 2);
    }
}
