//! What a hook in server mode (`CAVRA_SERVER`) keeps so it can decide when the server is
//! unreachable: the last pack the server sent, signed by the server's pack key
//! ([`SignedPack`]), pinned to the key seen first ([`ServerCache`]), and the decisions it
//! made offline, queued until a later call uploads them ([`OfflineQueue`]).
//!
//! Layout, under the CAVRA directory of the hook: `server/server.pub` (the pinned server
//! key), `server/pack.json` (the compiled pack, exactly the signed bytes),
//! `server/pack.sig.json` (its signature), `server/queue/<time>-<n>.json` (one offline
//! decision each). The directory is CAVRA's own: the self-protection rules keep agents out.

use cavra_core::policy::compile::CompiledPack;
use cavra_core::policy::signing::{self, PackSignature};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The most queued offline decisions kept; older ones are uploaded first, and a queue at
/// the cap refuses new entries (the local evidence log still holds every decision).
pub const MAX_QUEUE: usize = 10_000;
/// The most offline decisions one upload carries.
pub const UPLOAD_BATCH: usize = 200;
/// The most bytes of queue entries one upload carries (the server's default body limit is
/// 4 MiB): a batch ends before the entry that would pass it, and has at least one entry.
pub const UPLOAD_BYTES: usize = 2 << 20;
/// A queued decision over this many bytes (a hook event may be up to 4 MiB: a file written
/// whole) is uploaded with its event shortened ([`shortened_event`]): the whole event is
/// in the local evidence log, and the upload must fit the server's body limit.
pub const UPLOAD_ENTRY_BYTES: usize = 256 << 10;

/// Why the server cache or the offline queue could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A cache or queue file could not be read or written.
    #[error("cannot {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A cache or queue file is not the JSON expected.
    #[error("`{path}` is not a valid {what}: {detail}")]
    Malformed {
        what: &'static str,
        path: PathBuf,
        detail: String,
    },
    /// No pack has been cached from the server yet.
    #[error("no policy pack from the server is cached yet (the hook caches one on its first successful call)")]
    NoPack,
    /// The cached pack's signature does not verify against the pinned server key.
    #[error("the cached server pack does not verify: {0}")]
    BadSignature(String),
    /// The server sent a pack signed by another key than the pinned one.
    #[error("the server's pack key changed (pinned `{pinned}`, now `{sent}`); remove `{path}` to trust the new key")]
    KeyChanged {
        pinned: String,
        sent: String,
        path: PathBuf,
    },
    /// The pack the server sent does not load.
    #[error("the server's pack does not load")]
    Pack(#[source] cavra_core::policy::PolicyError),
    /// The offline queue is full.
    #[error("the offline queue `{0}` is full ({MAX_QUEUE} decisions); the decision is in the local evidence log only")]
    QueueFull(PathBuf),
}

type Result<T> = std::result::Result<T, SyncError>;

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SyncError + 'a {
    move |source| SyncError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// A compiled pack as the server sends it: the compiled JSON, byte for byte what was
/// signed, and the signature (`cavra-pack-signature/1` over the JSON's SHA-256 and the
/// pack's digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPack {
    /// The compiled pack (`cavra policy compile` JSON, compact).
    pub compiled: String,
    /// The signature of `compiled`.
    pub signature: PackSignature,
    /// When the server signed it (RFC 3339).
    pub issued_at: String,
}

impl SignedPack {
    /// Signs `pack` with the server's pack key.
    pub fn sign(pack: &CompiledPack, key: &SigningKey, issued_at: String) -> SignedPack {
        let compiled = pack.to_json_compact();
        let signature = signing::sign(&pack.id, compiled.as_bytes(), &pack.digest, key);
        SignedPack {
            compiled,
            signature,
            issued_at,
        }
    }

    /// Checks the signature against `key` (the bytes, the pack id and the key).
    pub fn verify(&self, key: &VerifyingKey) -> Result<()> {
        verify_bytes(&self.signature, self.compiled.as_bytes(), key)
    }

    /// The signing key this pack names (the key embedded in the signature).
    pub fn embedded_key(&self) -> Result<VerifyingKey> {
        decode_key(&self.signature.public_key)
    }
}

fn verify_bytes(sig: &PackSignature, compiled: &[u8], key: &VerifyingKey) -> Result<()> {
    signing::verify(
        sig,
        &sig.pack_id,
        compiled,
        &sig.digest,
        std::slice::from_ref(key),
    )
    .map(|_| ())
    .map_err(|e| SyncError::BadSignature(e.to_string()))
}

fn decode_key(b64: &str) -> Result<VerifyingKey> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| SyncError::BadSignature("the key is not an Ed25519 public key".into()))
}

fn encode_key(key: &VerifyingKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key.as_bytes())
}

/// The server's pack as verified from the cache.
#[derive(Debug, Clone)]
pub struct VerifiedPack {
    /// Where it is cached (for messages).
    pub path: PathBuf,
    /// The compiled pack's JSON, as signed.
    pub compiled: String,
    /// The pack digest the signature names.
    pub digest: String,
}

/// The server pack cache of one CAVRA directory.
#[derive(Debug, Clone)]
pub struct ServerCache {
    dir: PathBuf,
}

impl ServerCache {
    /// The cache under `<cavra_dir>/server`.
    pub fn new(cavra_dir: &Path) -> ServerCache {
        ServerCache {
            dir: cavra_dir.join("server"),
        }
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("server.pub")
    }
    /// Where the verified compiled pack is kept (a `--policy` file).
    pub fn pack_path(&self) -> PathBuf {
        self.dir.join("pack.json")
    }
    fn sig_path(&self) -> PathBuf {
        self.dir.join("pack.sig.json")
    }

    /// The offline queue beside the cache.
    pub fn queue(&self) -> OfflineQueue {
        OfflineQueue {
            dir: self.dir.join("queue"),
        }
    }

    /// The pinned server key, if one was pinned.
    pub fn pinned_key(&self) -> Result<Option<VerifyingKey>> {
        let p = self.key_path();
        match std::fs::read_to_string(&p) {
            Ok(s) => decode_key(&s).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &p)(e)),
        }
    }

    /// Keeps `pack` when it verifies: against the pinned key, or (first contact) against
    /// the key it names, which is then pinned. A pack that loads is required.
    pub fn store(&self, pack: &SignedPack) -> Result<()> {
        let sent = pack.embedded_key()?;
        match self.pinned_key()? {
            Some(pinned) if pinned != sent => {
                return Err(SyncError::KeyChanged {
                    pinned: signing::key_id(&pinned),
                    sent: signing::key_id(&sent),
                    path: self.key_path(),
                })
            }
            _ => {}
        }
        pack.verify(&sent)?;
        CompiledPack::from_json(&pack.compiled).map_err(SyncError::Pack)?;
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        if self.pinned_key()?.is_none() {
            write_atomic(&self.key_path(), encode_key(&sent).as_bytes())?;
        }
        let sig = serde_json::to_vec_pretty(&pack.signature).map_err(|e| SyncError::Malformed {
            what: "pack signature",
            path: self.sig_path(),
            detail: e.to_string(),
        })?;
        // the pack first, then its signature: a crash in between leaves a pair that does
        // not verify, which is refused like any tampering
        write_atomic(&self.pack_path(), pack.compiled.as_bytes())?;
        write_atomic(&self.sig_path(), &sig)
    }

    /// The cached pack (compiled JSON) and its digest, read once and checked against its
    /// signature by the pinned key: what is decided with is exactly what was verified.
    pub fn verified_pack(&self) -> Result<VerifiedPack> {
        let key = self.pinned_key()?.ok_or(SyncError::NoPack)?;
        let pack_path = self.pack_path();
        let compiled = match std::fs::read(&pack_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SyncError::NoPack),
            Err(e) => return Err(io("read", &pack_path)(e)),
        };
        let sig_path = self.sig_path();
        let sig_text = std::fs::read_to_string(&sig_path).map_err(io("read", &sig_path))?;
        let sig: PackSignature =
            serde_json::from_str(&sig_text).map_err(|e| SyncError::Malformed {
                what: "pack signature",
                path: sig_path.clone(),
                detail: e.to_string(),
            })?;
        verify_bytes(&sig, &compiled, &key)?;
        let compiled = String::from_utf8(compiled).map_err(|e| SyncError::Malformed {
            what: "cached pack",
            path: pack_path.clone(),
            detail: e.to_string(),
        })?;
        Ok(VerifiedPack {
            path: pack_path,
            compiled,
            digest: sig.digest,
        })
    }

    /// The digest the cached pack's signature names (None: nothing cached or unreadable).
    pub fn pack_digest(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.sig_path()).ok()?;
        serde_json::from_str::<PackSignature>(&text)
            .ok()
            .map(|s| s.digest)
    }

    /// How old the cached pack is (None: no pack cached, or its time is unreadable).
    pub fn pack_age(&self) -> Option<std::time::Duration> {
        let modified = std::fs::metadata(self.pack_path()).ok()?.modified().ok()?;
        modified.elapsed().ok()
    }
}

/// One decision made offline, as queued and uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineDecision {
    /// When the hook decided (RFC 3339).
    pub decided_at: String,
    /// The agent whose hook decided.
    pub agent: String,
    /// The verdict: allow, ask or deny.
    pub verdict: String,
    /// The verdict's reason, as the agent was told.
    pub reason: String,
    /// Why the server was not asked.
    pub offline_because: String,
    /// The digest of the pack that decided.
    pub pack_digest: String,
    /// The hook event as the agent sent it.
    pub event: Value,
}

/// An upload of offline decisions (`POST /v1/sync/evidence`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfflineUpload {
    pub decisions: Vec<OfflineDecision>,
    /// Queue entries that do not parse (a hook stopped while it wrote one): sent as they
    /// are, so that the server's evidence holds what is left of the decision and says it
    /// is damaged. Absent when there are none (a server from before reads the upload as
    /// it always did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableEntry>,
}

/// A queue entry that does not parse as an [`OfflineDecision`], untouched for
/// [`UNREADABLE_AFTER`] (no hook is still writing it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnreadableEntry {
    /// The entry's file name in the queue (when it was queued, and by which process).
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The SHA-256 of its bytes (hex).
    pub sha256: String,
    /// Its bytes as text (invalid UTF-8 replaced), the first [`MAX_UNREADABLE_CONTENT`].
    pub content: String,
    /// Why it is not a decision.
    pub error: String,
}

/// How long a queue entry that does not parse is left for the hook writing it, before it
/// is taken as damaged and uploaded as an [`UnreadableEntry`].
pub const UNREADABLE_AFTER: std::time::Duration = std::time::Duration::from_secs(30);
/// The most of a damaged entry's bytes an upload carries.
pub const MAX_UNREADABLE_CONTENT: usize = 64 * 1024;

/// The oldest entries of a queue ([`OfflineQueue::oldest`]).
#[derive(Debug, Default)]
pub struct QueueBatch {
    /// Decisions, oldest first, with their files.
    pub decisions: Vec<(PathBuf, OfflineDecision)>,
    /// Entries that do not parse and have not been touched for [`UNREADABLE_AFTER`].
    pub unreadable: Vec<(PathBuf, UnreadableEntry)>,
}

impl QueueBatch {
    /// Nothing to upload.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty() && self.unreadable.is_empty()
    }
}

/// The content type of a hook event sent with its project policy ([`HookEnvelope`]) to
/// `POST /v1/hooks/{agent}` (a bare event is `application/json`).
pub const HOOK_ENVELOPE_TYPE: &str = "application/vnd.cavra.hook+json";
/// The largest project policy a hook sends (and a server compiles), in bytes.
pub const MAX_PROJECT_POLICY: usize = 256 * 1024;

/// The project policy a hook in server mode sends with an event: the file the local hook
/// would decide the event with, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectPolicy {
    /// Where it is on the developer's machine (named in errors).
    pub path: String,
    /// Its YAML source.
    pub text: String,
}

/// A hook event with the project policy it is decided under (`{"event": …,
/// "project_policy": {"path": …, "text": …}}`, [`HOOK_ENVELOPE_TYPE`]): the server
/// decides with the project's pack, tightened by its floor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookEnvelope {
    /// The agent's hook event, as the agent wrote it.
    pub event: Value,
    /// The project policy; none: the server decides with its own pack.
    #[serde(default)]
    pub project_policy: Option<ProjectPolicy>,
}

/// The queue of offline decisions: one file each, named so that a listing sorts them in
/// the order they were made.
#[derive(Debug, Clone)]
pub struct OfflineQueue {
    dir: PathBuf,
}

impl OfflineQueue {
    /// A queue in `dir`.
    pub fn at(dir: PathBuf) -> OfflineQueue {
        OfflineQueue { dir }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entries(&self) -> Result<Vec<PathBuf>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("list", &self.dir)(e)),
        };
        // the names sort by time (zero-padded nanoseconds first): compared as bytes, not
        // as paths component by component (every hook call of a long queue lists it)
        let mut names: Vec<std::ffi::OsString> = rd
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .filter(|n| is_entry(n))
            .collect();
        names.sort_unstable();
        Ok(names.into_iter().map(|n| self.dir.join(n)).collect())
    }

    /// How many decisions wait (counted, not sorted).
    pub fn len(&self) -> Result<usize> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io("list", &self.dir)(e)),
        };
        Ok(rd
            .filter_map(|e| e.ok())
            .filter(|e| is_entry(&e.file_name()))
            .count())
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Queues `d`.
    pub fn push(&self, d: &OfflineDecision, now_nanos: u128) -> Result<PathBuf> {
        self.push_counted(d, now_nanos, self.len()?)
    }

    /// [`OfflineQueue::push`] into a queue of `len` decisions, counted earlier in this
    /// process (the hook counts its queue once per call: a queue of thousands is not
    /// listed twice; decisions pushed meanwhile by other hooks may take it a few past
    /// [`MAX_QUEUE`]).
    pub fn push_counted(
        &self,
        d: &OfflineDecision,
        now_nanos: u128,
        len: usize,
    ) -> Result<PathBuf> {
        if len >= MAX_QUEUE {
            return Err(SyncError::QueueFull(self.dir.clone()));
        }
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let body = serde_json::to_vec(d).map_err(|e| SyncError::Malformed {
            what: "offline decision",
            path: self.dir.clone(),
            detail: e.to_string(),
        })?;
        let path = self
            .dir
            .join(format!("{now_nanos:039}-{}.json", std::process::id()));
        // one file per decision, written where it stays (no rename: a new name in the
        // directory is all a push costs). A reader that lists it half-written cannot parse
        // it and leaves it for the next upload ([`OfflineQueue::oldest`]).
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &body))
            .map_err(io("write", &path))?;
        Ok(path)
    }

    /// The oldest `max` decisions with their files, and up to `max` damaged entries met
    /// before them. A file that does not parse is left alone while it is recent (another
    /// hook may still be writing it) and does not count against `max`; one untouched for
    /// [`UNREADABLE_AFTER`] is returned as unreadable, to be uploaded as it is (never
    /// skipped for ever, and never in the way of the decisions behind it).
    pub fn oldest(&self, max: usize) -> Result<QueueBatch> {
        let mut out = QueueBatch::default();
        let now = std::time::SystemTime::now();
        // the bytes the batch carries so far (entries as stored: the upload's size)
        let mut carried = 0usize;
        for p in self.entries()? {
            if out.decisions.len() >= max || carried >= UPLOAD_BYTES {
                break;
            }
            let bytes = match std::fs::read(&p) {
                Ok(b) => b,
                // taken by another hook's upload meanwhile
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    if out.unreadable.len() < max {
                        out.unreadable
                            .push((p.clone(), unreadable(&p, &[], e.to_string())));
                    }
                    continue;
                }
            };
            // what the entry adds to the upload: a shortened or damaged one is measured as
            // it is sent (its text escaped), a decision as it is stored
            let fits = |carried: usize, size: usize, out: &QueueBatch| {
                let first = out.decisions.is_empty() && out.unreadable.is_empty();
                first || carried.saturating_add(size) <= UPLOAD_BYTES
            };
            let error = match serde_json::from_slice::<OfflineDecision>(&bytes) {
                Ok(mut d) => {
                    let mut size = bytes.len();
                    if size > UPLOAD_ENTRY_BYTES {
                        d.event = shortened_event(&bytes);
                        size = serde_json::to_vec(&d).map_or(UPLOAD_ENTRY_BYTES, |b| b.len());
                    }
                    if !fits(carried, size, &out) {
                        break;
                    }
                    carried = carried.saturating_add(size);
                    out.decisions.push((p, d));
                    continue;
                }
                Err(e) => e.to_string(),
            };
            let settled = std::fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= UNREADABLE_AFTER);
            if settled && out.unreadable.len() < max {
                let u = unreadable(&p, &bytes, error);
                let size = serde_json::to_vec(&u).map_or(UPLOAD_ENTRY_BYTES, |b| b.len());
                if !fits(carried, size, &out) {
                    break;
                }
                carried = carried.saturating_add(size);
                out.unreadable.push((p.clone(), u));
            }
        }
        Ok(out)
    }

    /// Drops decisions the server has acknowledged.
    pub fn remove(&self, paths: &[PathBuf]) -> Result<()> {
        for p in paths {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("remove", p)(e)),
            }
        }
        Ok(())
    }
}

/// The event of a queued decision too large to upload whole ([`UPLOAD_ENTRY_BYTES`]):
/// `{"shortened_for_upload": {"bytes": …, "sha256": …, "head": …}}` — the entry's size and
/// SHA-256 (to match it with the hook's local evidence, which holds the whole event) and
/// its first [`MAX_UNREADABLE_CONTENT`] bytes as text.
pub fn shortened_event(entry: &[u8]) -> Value {
    let head = &entry[..entry.len().min(MAX_UNREADABLE_CONTENT)];
    serde_json::json!({"shortened_for_upload": {
        "bytes": entry.len(),
        "sha256": cavra_evidence::canon::sha256_hex(entry),
        "head": String::from_utf8_lossy(head),
    }})
}

/// What an upload says of the damaged entry `path` (its bytes, and why they do not parse).
fn unreadable(path: &Path, bytes: &[u8], error: String) -> UnreadableEntry {
    let head = &bytes[..bytes.len().min(MAX_UNREADABLE_CONTENT)];
    UnreadableEntry {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        bytes: bytes.len() as u64,
        sha256: cavra_evidence::canon::sha256_hex(bytes),
        content: String::from_utf8_lossy(head).into_owned(),
        error,
    }
}

/// A queued decision's file name (`*.json`; a write in progress is `*.tmpPID`).
fn is_entry(name: &std::ffi::OsStr) -> bool {
    let b = name.as_encoded_bytes();
    b.len() > 5 && b.ends_with(b".json")
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("rename", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn decision(decided_at: &str) -> OfflineDecision {
        OfflineDecision {
            decided_at: decided_at.into(),
            agent: "claude-code".into(),
            verdict: "deny".into(),
            reason: "r".into(),
            offline_because: "down".into(),
            pack_digest: "d".into(),
            event: serde_json::json!({}),
        }
    }

    fn pack() -> CompiledPack {
        cavra_core::policy::bundled::compiled(cavra_core::policy::bundled::DEFAULT_PACK)
            .expect("baseline")
    }

    #[test]
    fn the_signed_pack_is_compact_and_loads_back_as_the_same_pack() {
        let p = pack();
        let signed = SignedPack::sign(&p, &key(1), "2026-12-01T00:00:00Z".into());
        assert!(!signed.compiled.contains('\n'), "compact: one line");
        assert!(signed.compiled.len() < p.to_json().len() * 2 / 3);
        let back = CompiledPack::from_json(&signed.compiled).expect("loads");
        assert_eq!(back.digest, p.digest);
        assert_eq!(back.to_json(), p.to_json());
        signed.verify(&key(1).verifying_key()).expect("verifies");
    }

    #[test]
    fn a_signed_pack_is_pinned_on_first_contact_and_verifies() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = ServerCache::new(dir.path());
        assert!(matches!(cache.verified_pack(), Err(SyncError::NoPack)));
        let signed = SignedPack::sign(&pack(), &key(1), "2026-12-01T00:00:00Z".into());
        cache.store(&signed).expect("stored");
        let v = cache.verified_pack().expect("verifies");
        assert_eq!(v.compiled, std::fs::read_to_string(&v.path).expect("read"));
        let loaded = CompiledPack::from_json(&v.compiled).expect("loads");
        assert_eq!(loaded.digest, pack().digest);
        assert_eq!(v.digest, pack().digest);
    }

    #[test]
    fn another_key_is_refused_once_one_is_pinned() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = ServerCache::new(dir.path());
        cache
            .store(&SignedPack::sign(&pack(), &key(1), String::new()))
            .expect("first");
        let other = SignedPack::sign(&pack(), &key(2), String::new());
        assert!(matches!(
            cache.store(&other),
            Err(SyncError::KeyChanged { .. })
        ));
    }

    #[test]
    fn a_tampered_cached_pack_does_not_verify() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = ServerCache::new(dir.path());
        cache
            .store(&SignedPack::sign(&pack(), &key(1), String::new()))
            .expect("stored");
        let p = cache.pack_path();
        let text = std::fs::read_to_string(&p).expect("read");
        std::fs::write(&p, text.replacen("block", "allow", 1)).expect("write");
        assert!(matches!(
            cache.verified_pack(),
            Err(SyncError::BadSignature(_))
        ));
    }

    #[test]
    fn a_pack_whose_bytes_do_not_match_its_signature_is_not_stored() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = ServerCache::new(dir.path());
        let mut signed = SignedPack::sign(&pack(), &key(1), String::new());
        signed.compiled.push(' ');
        assert!(matches!(
            cache.store(&signed),
            Err(SyncError::BadSignature(_))
        ));
        assert!(!cache.pack_path().exists());
    }

    #[test]
    fn the_queue_keeps_order_and_forgets_what_was_uploaded() {
        let dir = tempfile::tempdir().expect("tmp");
        let q = ServerCache::new(dir.path()).queue();
        assert!(q.is_empty().expect("empty"));
        let d = decision;
        q.push(&d("b"), 2).expect("push");
        q.push(&d("a"), 1).expect("push");
        let got = q.oldest(10).expect("list").decisions;
        let order: Vec<&str> = got.iter().map(|(_, d)| d.decided_at.as_str()).collect();
        assert_eq!(order, ["a", "b"]);
        q.remove(&[got[0].0.clone()]).expect("remove");
        assert_eq!(q.len().expect("len"), 1);
        // a file still being written (or broken) is not listed as a decision, and is left
        std::fs::write(dir.path().join("server/queue/0-1.json"), "{\"decided_at\"").expect("w");
        std::fs::write(dir.path().join("server/queue/0-1.tmp7"), "{}").expect("w");
        let batch = q.oldest(10).expect("list");
        assert_eq!(batch.decisions.len(), 1);
        assert!(
            batch.unreadable.is_empty(),
            "recent: another hook may write it"
        );
        assert_eq!(
            q.len().expect("len"),
            2,
            "counted: what is named as a decision"
        );
        // a full queue refuses the push, counted now or earlier in the call
        assert!(matches!(
            q.push_counted(&d("c"), 3, MAX_QUEUE),
            Err(SyncError::QueueFull(_))
        ));
        q.push_counted(&d("c"), 3, MAX_QUEUE - 1)
            .expect("below the limit");
        assert_eq!(q.len().expect("len"), 3);
    }

    #[test]
    fn a_damaged_entry_is_uploaded_as_it_is_and_never_stands_in_the_way() {
        let dir = tempfile::tempdir().expect("dir");
        let q = OfflineQueue::at(dir.path().join("queue"));
        let d = decision("t");
        // three entries a hook stopped writing, long ago, before one decision
        let old = std::time::SystemTime::now() - UNREADABLE_AFTER * 2;
        for n in 1..=3u8 {
            let p = dir.path().join(format!("queue/{n:039}-9.json"));
            std::fs::create_dir_all(p.parent().expect("dir")).expect("mkdir");
            std::fs::write(&p, b"{\"decided_at\":\"2026-").expect("w");
            let f = std::fs::File::options().write(true).open(&p).expect("open");
            f.set_modified(old).expect("mtime");
        }
        q.push(&d, 10).expect("push");
        // a batch of two still reaches the decision behind the three
        let batch = q.oldest(2).expect("list");
        assert_eq!(batch.decisions.len(), 1, "{batch:?}");
        assert_eq!(batch.unreadable.len(), 2, "at most the batch size");
        let (path, u) = &batch.unreadable[0];
        assert!(path.ends_with(format!("{:039}-9.json", 1)), "{path:?}");
        assert_eq!(u.file, format!("{:039}-9.json", 1));
        assert_eq!(u.content, "{\"decided_at\":\"2026-");
        assert_eq!(u.bytes, 20);
        assert_eq!(
            u.sha256,
            cavra_evidence::canon::sha256_hex(b"{\"decided_at\":\"2026-")
        );
        assert!(u.error.contains("EOF"), "{}", u.error);
        // the upload carries them; a server from before ignores the member it lacks
        let up = OfflineUpload {
            decisions: vec![d.clone()],
            unreadable: vec![u.clone()],
        };
        let v = serde_json::to_value(&up).expect("json");
        assert_eq!(v["unreadable"][0]["file"], u.file);
        let plain = serde_json::to_value(OfflineUpload {
            decisions: vec![d],
            unreadable: vec![],
        })
        .expect("json");
        assert!(plain.get("unreadable").is_none(), "{plain}");
    }

    #[test]
    fn an_upload_stays_under_the_body_limit_and_a_huge_event_is_shortened() {
        let dir = tempfile::tempdir().expect("dir");
        let q = OfflineQueue::at(dir.path().join("queue"));
        // a file written whole (3 MiB) between decisions of 1 MiB each
        let with = |n: usize| {
            let mut d = decision("t");
            d.event = serde_json::json!({"tool_input": {"content": "x".repeat(n)}});
            d
        };
        q.push(&with(3 << 20), 1).expect("push");
        for t in 2..6 {
            q.push(&with(200 << 10), t).expect("push");
        }
        let batch = q.oldest(UPLOAD_BATCH).expect("list");
        let up = OfflineUpload {
            decisions: batch.decisions.into_iter().map(|(_, d)| d).collect(),
            unreadable: vec![],
        };
        let body = serde_json::to_vec(&up).expect("json");
        assert!(body.len() <= UPLOAD_BYTES + 4096, "{}", body.len());
        assert_eq!(
            up.decisions.len(),
            5,
            "all fit once the huge one is shortened"
        );
        let short = &up.decisions[0].event["shortened_for_upload"];
        assert!(short["bytes"].as_u64().expect("bytes") > 3 << 20, "{short}");
        assert_eq!(short["sha256"].as_str().map(str::len), Some(64));
        assert_eq!(
            up.decisions[1].event["tool_input"]["content"]
                .as_str()
                .map(str::len),
            Some(200 << 10)
        );
        // entries that together pass the budget go in the next batches
        for t in 6..20 {
            q.push(&with(200 << 10), t).expect("push");
        }
        let batch = q.oldest(UPLOAD_BATCH).expect("list");
        let sent: Vec<OfflineDecision> = batch.decisions.into_iter().map(|(_, d)| d).collect();
        let bytes = serde_json::to_vec(&sent).expect("json").len();
        assert!(bytes <= UPLOAD_BYTES + 4096, "{bytes}");
        assert!(sent.len() < 19, "{}", sent.len());
    }

    #[test]
    fn damaged_entries_are_measured_as_they_are_sent() {
        let dir = tempfile::tempdir().expect("dir");
        let q = OfflineQueue::at(dir.path().join("queue"));
        std::fs::create_dir_all(q.dir()).expect("mkdir");
        // 100 damaged entries of 64 KiB of control characters: each sent escaped (`\u0001`)
        let old = std::time::SystemTime::now() - UNREADABLE_AFTER * 2;
        for n in 0..100u32 {
            let p = q.dir().join(format!("{n:039}-9.json"));
            std::fs::write(&p, vec![1u8; 64 << 10]).expect("w");
            let f = std::fs::File::options().write(true).open(&p).expect("open");
            f.set_modified(old).expect("mtime");
        }
        let batch = q.oldest(UPLOAD_BATCH).expect("list");
        let up = OfflineUpload {
            decisions: vec![],
            unreadable: batch.unreadable.into_iter().map(|(_, u)| u).collect(),
        };
        let body = serde_json::to_vec(&up).expect("json");
        assert!(!up.unreadable.is_empty());
        assert!(body.len() <= UPLOAD_BYTES + 4096, "{}", body.len());
    }
}
