//! Evidence bundles: a directory or ZIP with the selected records, a signed manifest,
//! human summaries and an in-toto Statement v1 in a DSSE envelope.

use crate::canon::{canonical_json, sha256_hex};
use crate::error::{EvidenceError, Result};
use crate::keys::{Keyring, SigningKey, VerifyingKey};
use crate::log::for_each_record;
use crate::record::{record_sig_message, RawRecord, Record};
use crate::timeutil::{now_ts, parse_ts};
use crate::verify::{check_sig, VerifyReport};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use time::OffsetDateTime;

/// DSSE payload type of in-toto statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Predicate type of CAVRA evidence attestations.
pub const PREDICATE_TYPE: &str = "https://cavra.dev/attestation/evidence/v1";
/// Domain-separation prefix of the manifest signature.
pub const MANIFEST_SIG_PREFIX: &[u8] = b"CAVRA-MANIFEST-V1\n";
const PRODUCT_TAGLINE: &str = "Before the agent acts, CAVRA decides.";

/// Which records go in a bundle.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub session: Option<String>,
    pub since: Option<OffsetDateTime>,
}

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    v.extend_from_slice(payload);
    v
}

/// Sign an in-toto statement into a DSSE envelope.
pub fn dsse_envelope(statement: &Value, key: &SigningKey) -> Value {
    let payload = canonical_json(statement).into_bytes();
    let sig = key.sign(&pae(INTOTO_PAYLOAD_TYPE, &payload));
    json!({
        "payloadType": INTOTO_PAYLOAD_TYPE,
        "payload": B64.encode(&payload),
        "signatures": [{"keyid": key.key_id(), "sig": sig}],
    })
}

fn select(dir: &Path, sel: &Selection) -> Result<Vec<(Vec<u8>, Record)>> {
    let mut out = Vec::new();
    for_each_record(dir, |_, _, line, r| {
        let ok_session = sel
            .session
            .as_deref()
            .is_none_or(|s| r.session_id() == Some(s));
        let ok_time = match sel.since {
            None => true,
            Some(t) => parse_ts(&r.timestamp).map(|x| x >= t).unwrap_or(false),
        };
        if ok_session && ok_time {
            out.push((line.to_vec(), r));
        }
        Ok(true)
    })?;
    Ok(out)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn outcome(body: &Value) -> &str {
    match s(body, "cavra_decision") {
        "" => s(body, "decision"),
        x => x,
    }
}

fn md_cell(x: &str) -> String {
    x.replace('|', "\\|").replace('\n', " ")
}

/// Build the bundle files (name → bytes) for the log in `dir`.
pub fn build_bundle(
    dir: &Path,
    sel: &Selection,
    key: &SigningKey,
) -> Result<Vec<(String, Vec<u8>)>> {
    let recs = select(dir, sel)?;
    if recs.is_empty() {
        return Err(EvidenceError::Invalid(
            "no records match the selection".into(),
        ));
    }
    let created = now_ts();
    let decisions: Vec<&Value> = recs
        .iter()
        .filter(|(_, r)| r.kind == "decision")
        .map(|(_, r)| &r.body)
        .collect();
    let mut sessions: Vec<String> = recs
        .iter()
        .filter_map(|(_, r)| r.session_id().map(str::to_string))
        .collect();
    sessions.sort();
    sessions.dedup();
    let session_id = sel
        .session
        .clone()
        .unwrap_or_else(|| match sessions.as_slice() {
            [one] => one.clone(),
            _ => "multiple".to_string(),
        });
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut policies: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut controls: BTreeMap<String, (u64, BTreeMap<String, ()>)> = BTreeMap::new();
    for d in &decisions {
        *counts.entry(outcome(d).to_string()).or_default() += 1;
        let digest = s(d, "policy_digest").to_string();
        policies
            .entry(format!("{}|{}", s(d, "policy_pack"), digest))
            .or_insert((s(d, "policy_id").to_string(), digest));
        let mut add = |c: String| {
            let e = controls.entry(c).or_default();
            e.0 += 1;
            e.1.insert(s(d, "rule_id").to_string(), ());
        };
        match d.get("controls") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .for_each(|c| add(c.to_string())),
            Some(Value::Object(m)) => {
                for (fw, v) in m {
                    match v {
                        Value::Array(a) => a
                            .iter()
                            .filter_map(Value::as_str)
                            .for_each(|c| add(format!("{fw}: {c}"))),
                        Value::String(c) => add(format!("{fw}: {c}")),
                        _ => add(fw.clone()),
                    }
                }
            }
            Some(Value::String(c)) => add(c.clone()),
            _ => {}
        }
    }
    let first = recs
        .first()
        .map(|(_, r)| r.timestamp.clone())
        .unwrap_or_default();
    let last = recs
        .last()
        .map(|(_, r)| r.timestamp.clone())
        .unwrap_or_default();
    let summary = json!({
        "records": recs.len(),
        "decisions": decisions.len(),
        "outcomes": counts,
        "sessions": sessions,
        "first_timestamp": first,
        "last_timestamp": last,
        "first_seq": recs.first().map(|(_, r)| r.seq),
        "last_seq": recs.last().map(|(_, r)| r.seq),
        "policies": policies.values().map(|(id, dg)| json!({"policy_id": id, "policy_digest": dg})).collect::<Vec<_>>(),
        "signing_key_id": key.key_id(),
    });
    let evidence = json!({
        "product": "CAVRA",
        "tagline": PRODUCT_TAGLINE,
        "session_id": session_id,
        "created_at": created,
        "selection": {"session": sel.session, "since": sel.since.map(crate::timeutil::format_ts)},
        "summary": summary,
        "decisions": decisions,
        "records": recs.iter().map(|(_, r)| serde_json::to_value(r).unwrap_or(Value::Null)).collect::<Vec<_>>(),
    });
    let mut records_jsonl = Vec::new();
    for (l, _) in &recs {
        records_jsonl.extend_from_slice(l);
        records_jsonl.push(b'\n');
    }

    // pr-attestation.md
    let mut pr = String::new();
    let _ = writeln!(pr, "## CAVRA evidence attestation\n");
    let _ = writeln!(pr, "_{PRODUCT_TAGLINE}_\n");
    let _ = writeln!(
        pr,
        "- Session: `{session_id}`\n- Period: {first} → {last}\n- Records: {} (decisions: {})",
        recs.len(),
        decisions.len()
    );
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    let _ = writeln!(pr, "- Actions attempted: {}\n- Allowed: {}\n- Blocked: {}\n- Held for approval: {}\n- Shadow / break-glass: {} / {}",
        decisions.len(), n("allow") + n("allow_with_attestation"), n("block"), n("require_approval"), n("shadow"), n("break_glass"));
    let approved = recs.iter().filter(|(_, r)| r.kind == "approval").count();
    let _ = writeln!(pr, "- Approvals recorded: {approved}");
    let _ = writeln!(pr, "\n### Policy used\n");
    for (pack, (id, dg)) in &policies {
        let pack = pack.split('|').next().unwrap_or("");
        let _ = writeln!(pr, "- pack `{pack}`, policy `{id}`, digest `{dg}`");
    }
    let blocked: Vec<&&Value> = decisions
        .iter()
        .filter(|d| matches!(outcome(d), "block" | "require_approval"))
        .collect();
    if !blocked.is_empty() {
        let _ = writeln!(pr, "\n### Blocked or held actions\n\n| time | agent | action | target | decision | rule | reason |\n|---|---|---|---|---|---|---|");
        for d in blocked.iter().take(200) {
            let _ = writeln!(
                pr,
                "| {} | {} | {} | `{}` | {} | `{}` | {} |",
                md_cell(s(d, "timestamp")),
                md_cell(s(d, "agent_id")),
                md_cell(s(d, "action_type")),
                md_cell(s(d, "target")),
                md_cell(outcome(d)),
                md_cell(s(d, "rule_id")),
                md_cell(s(d, "reason"))
            );
        }
    }
    let _ = writeln!(
        pr,
        "\nSigned with key `{}`; verify with `cavra evidence verify <bundle>`.",
        key.key_id()
    );

    // compliance-mapping.md
    let mut cm = String::from("# Compliance mapping\n\nControls touched by the decisions in this bundle.\n\n| control | decisions | rules |\n|---|---|---|\n");
    for (c, (k, rules)) in &controls {
        let rules: Vec<String> = rules
            .keys()
            .filter(|r| !r.is_empty())
            .map(|r| format!("`{r}`"))
            .collect();
        let _ = writeln!(cm, "| {} | {k} | {} |", md_cell(c), rules.join(", "));
    }
    if controls.is_empty() {
        cm.push_str("| (no controls recorded) | 0 | |\n");
    }

    let siem = json!({
        "class_uid": 6003, "class_name": "API Activity", "category_uid": 6, "category_name": "Application Activity",
        "activity_id": 1, "activity_name": "Create", "type_uid": 600301, "severity_id": 1, "status_id": 1,
        "time": OffsetDateTime::now_utc().unix_timestamp() * 1000,
        "message": format!("CAVRA evidence bundle for session {session_id}: {} decisions", decisions.len()),
        "api": {"operation": "evidence.bundle"},
        "actor": {"app_name": "cavra"},
        "metadata": {"version": "1.1.0", "product": {"name": "CAVRA", "vendor_name": "CAVRA"}},
        "unmapped": summary,
    });
    let retention = json!({
        "product": "CAVRA",
        "retention_days": 365,
        "prune_command": "cavra evidence prune --older-than 365d",
        "tombstones": "pruning leaves a signed tombstone (tombstone.json) and a `tombstone` record",
        "immutable_storage": {"s3": "cavra evidence retention-plan --provider s3", "azure": "cavra evidence retention-plan --provider azure"},
        "legal_hold": false,
    });
    let public_keys = json!({"version": 1, "keys": [{"key_id": key.key_id(), "alg": key.mode().as_str(), "public_key": key.public_key_b64()}]});

    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "evidence.json".into(),
            serde_json::to_vec_pretty(&evidence).unwrap_or_default(),
        ),
        ("records.jsonl".into(), records_jsonl),
        ("pr-attestation.md".into(), pr.into_bytes()),
        ("compliance-mapping.md".into(), cm.into_bytes()),
        (
            "siem-event.json".into(),
            serde_json::to_vec_pretty(&siem).unwrap_or_default(),
        ),
        (
            "retention-policy.json".into(),
            serde_json::to_vec_pretty(&retention).unwrap_or_default(),
        ),
        (
            "public-keys.json".into(),
            serde_json::to_vec_pretty(&public_keys).unwrap_or_default(),
        ),
    ];
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": files.iter().map(|(n, b)| json!({"name": n, "digest": {"sha256": sha256_hex(b)}})).collect::<Vec<_>>(),
        "predicateType": PREDICATE_TYPE,
        "predicate": {"product": "CAVRA", "session_id": session_id, "created_at": created, "summary": summary},
    });
    files.push((
        "attestation.intoto.dsse.json".into(),
        serde_json::to_vec_pretty(&dsse_envelope(&statement, key)).unwrap_or_default(),
    ));
    let manifest = json!({
        "version": 1, "product": "CAVRA", "created_at": created,
        "files": files.iter().map(|(n, b)| json!({"path": n, "sha256": sha256_hex(b), "size": b.len()})).collect::<Vec<_>>(),
    });
    let mbytes = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let mut msg = MANIFEST_SIG_PREFIX.to_vec();
    msg.extend_from_slice(sha256_hex(&mbytes).as_bytes());
    let msig = json!({"key_id": key.key_id(), "alg": key.mode().as_str(), "manifest_sha256": sha256_hex(&mbytes), "signed_at": created, "sig": key.sign(&msg), "public_key": key.public_key_b64()});
    files.push(("manifest.json".into(), mbytes));
    files.push((
        "manifest.sig.json".into(),
        serde_json::to_vec_pretty(&msig).unwrap_or_default(),
    ));
    Ok(files)
}

/// Writes the files of a bundle as a ZIP to `w` (`name` names it in errors); returns
/// the writer (an in-memory bundle: `std::io::Cursor<Vec<u8>>`).
pub fn zip_bundle<W: Write + std::io::Seek>(
    w: W,
    files: &[(String, Vec<u8>)],
    name: &Path,
) -> Result<W> {
    let mut z = zip::ZipWriter::new(w);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o644);
    for (n, b) in files {
        z.start_file(n.as_str(), opts)
            .map_err(|e| EvidenceError::Invalid(format!("zip: {e}")))?;
        z.write_all(b).map_err(|e| EvidenceError::io(name, e))?;
    }
    z.finish()
        .map_err(|e| EvidenceError::Invalid(format!("zip: {e}")))
}

/// Write files to a directory, or to a ZIP when `out` ends in `.zip`.
pub fn write_bundle(out: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
    {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| EvidenceError::io(parent, e))?;
        }
        let f = fs::File::create(out).map_err(|e| EvidenceError::io(out, e))?;
        zip_bundle(f, files, out)?;
        return Ok(());
    }
    fs::create_dir_all(out).map_err(|e| EvidenceError::io(out, e))?;
    for (n, b) in files {
        let p = out.join(n);
        fs::write(&p, b).map_err(|e| EvidenceError::io(&p, e))?;
    }
    Ok(())
}

/// Read a bundle (directory or ZIP) into name → bytes.
pub fn read_bundle(path: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    if path.is_dir() {
        for e in fs::read_dir(path).map_err(|e| EvidenceError::io(path, e))? {
            let e = e.map_err(|e| EvidenceError::io(path, e))?;
            if e.path().is_file() {
                let b = fs::read(e.path()).map_err(|x| EvidenceError::io(&e.path(), x))?;
                out.insert(e.file_name().to_string_lossy().to_string(), b);
            }
        }
        return Ok(out);
    }
    let f = fs::File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    let mut z = zip::ZipArchive::new(f)
        .map_err(|e| EvidenceError::corrupt(path, format!("not a ZIP bundle: {e}")))?;
    for i in 0..z.len() {
        let mut ent = z
            .by_index(i)
            .map_err(|e| EvidenceError::corrupt(path, format!("zip entry {i}: {e}")))?;
        let mut b = Vec::new();
        ent.read_to_end(&mut b)
            .map_err(|e| EvidenceError::io(path, e))?;
        out.insert(ent.name().to_string(), b);
    }
    Ok(out)
}

/// Verify a bundle: manifest digests, manifest signature, DSSE envelope and subjects,
/// and each record's hash, signature and chain links. Without a keyring the keys in
/// `public-keys.json` are used (integrity, not origin: noted in the report).
pub fn verify_bundle(path: &Path, keyring: Option<&Keyring>) -> Result<VerifyReport> {
    let files = read_bundle(path)?;
    let mut rep = VerifyReport {
        kind: "bundle".into(),
        path: path.display().to_string(),
        ..Default::default()
    };
    let p = |n: &str| path.join(n);
    let own;
    let ring = match keyring {
        Some(k) => k,
        None => {
            let mut r = Keyring::new("public keys shipped inside the bundle (integrity only: pass --trust-root to check origin)");
            if let Some(b) = files.get("public-keys.json") {
                if let Ok(v) = serde_json::from_slice::<Value>(b) {
                    for k in v["keys"].as_array().into_iter().flatten() {
                        if let Some(Ok(vk)) =
                            k["public_key"].as_str().map(VerifyingKey::ed25519_from_b64)
                        {
                            r.insert(vk);
                        }
                    }
                }
            }
            own = r;
            &own
        }
    };
    rep.trust = ring.source.clone();
    let Some(mbytes) = files.get("manifest.json") else {
        rep.issue(
            "missing_file",
            "manifest.json is missing",
            Some(&p("manifest.json")),
            None,
            None,
            None,
        );
        rep.ok = false;
        return Ok(rep);
    };
    let manifest: Value = match serde_json::from_slice(mbytes) {
        Ok(v) => v,
        Err(e) => {
            rep.issue(
                "bad_manifest",
                format!("not JSON: {e}"),
                Some(&p("manifest.json")),
                None,
                None,
                None,
            );
            return Ok(rep);
        }
    };
    let mut listed = BTreeMap::new();
    for (i, f) in manifest["files"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = s(f, "path").to_string();
        listed.insert(name.clone(), ());
        match files.get(&name) {
            None => rep.issue(
                "missing_file",
                format!("manifest lists `{name}` but it is missing"),
                Some(&p(&name)),
                None,
                None,
                None,
            ),
            Some(b) => {
                if sha256_hex(b) != s(f, "sha256") {
                    rep.issue("digest_mismatch", format!("sha256 of `{name}` differs from manifest.json files[{i}].sha256: the file was changed"), Some(&p(&name)), None, None, Some("sha256"));
                }
            }
        }
    }
    for name in files.keys() {
        if name != "manifest.json" && name != "manifest.sig.json" && !listed.contains_key(name) {
            rep.issue(
                "unlisted_file",
                format!("`{name}` is not in the manifest"),
                Some(&p(name)),
                None,
                None,
                None,
            );
        }
    }
    match files
        .get("manifest.sig.json")
        .map(|b| serde_json::from_slice::<Value>(b))
    {
        Some(Ok(sig)) => {
            let mut msg = MANIFEST_SIG_PREFIX.to_vec();
            msg.extend_from_slice(sha256_hex(mbytes).as_bytes());
            match check_sig(
                ring,
                s(&sig, "key_id"),
                s(&sig, "alg"),
                s(&sig, "signed_at"),
                &msg,
                s(&sig, "sig"),
            ) {
                Ok(()) => rep.signatures_verified += 1,
                Err((m, f)) => rep.issue(
                    "bad_manifest_signature",
                    m,
                    Some(&p("manifest.sig.json")),
                    None,
                    None,
                    Some(f),
                ),
            }
        }
        _ => rep.issue(
            "missing_file",
            "manifest.sig.json is missing or not JSON",
            Some(&p("manifest.sig.json")),
            None,
            None,
            None,
        ),
    }
    // DSSE
    let dp = p("attestation.intoto.dsse.json");
    match files
        .get("attestation.intoto.dsse.json")
        .map(|b| serde_json::from_slice::<Value>(b))
    {
        Some(Ok(env)) => {
            let payload = B64.decode(s(&env, "payload")).unwrap_or_default();
            let pt = s(&env, "payloadType");
            if pt != INTOTO_PAYLOAD_TYPE {
                rep.issue(
                    "bad_attestation",
                    format!("payloadType `{pt}` is not `{INTOTO_PAYLOAD_TYPE}`"),
                    Some(&dp),
                    None,
                    None,
                    Some("payloadType"),
                );
            }
            let sigs = env["signatures"].as_array().cloned().unwrap_or_default();
            if sigs.is_empty() {
                rep.issue(
                    "bad_attestation",
                    "no signatures",
                    Some(&dp),
                    None,
                    None,
                    Some("signatures"),
                );
            }
            // signed when the bundle was made: the statement's `created_at` (checked
            // against a trust-root key's validity window)
            let signed_at = serde_json::from_slice::<Value>(&payload)
                .ok()
                .and_then(|st| st["predicate"]["created_at"].as_str().map(str::to_string))
                .unwrap_or_default();
            for sg in &sigs {
                let kid = s(sg, "keyid");
                let alg = ring.get(kid).map(|k| k.mode.as_str()).unwrap_or("ed25519");
                match check_sig(ring, kid, alg, &signed_at, &pae(pt, &payload), s(sg, "sig")) {
                    Ok(()) => rep.signatures_verified += 1,
                    Err((m, f)) => rep.issue(
                        "bad_attestation_signature",
                        m,
                        Some(&dp),
                        None,
                        None,
                        Some(f),
                    ),
                }
            }
            match serde_json::from_slice::<Value>(&payload) {
                Ok(st) => {
                    if s(&st, "_type") != "https://in-toto.io/Statement/v1" {
                        rep.issue(
                            "bad_attestation",
                            "payload is not an in-toto Statement v1",
                            Some(&dp),
                            None,
                            None,
                            Some("_type"),
                        );
                    }
                    for sub in st["subject"].as_array().into_iter().flatten() {
                        let n = s(sub, "name");
                        if files.get(n).map(|b| sha256_hex(b))
                            != Some(s(&sub["digest"], "sha256").to_string())
                        {
                            rep.issue(
                                "bad_attestation",
                                format!("subject `{n}` digest does not match the file"),
                                Some(&dp),
                                None,
                                None,
                                Some("subject"),
                            );
                        }
                    }
                }
                Err(e) => rep.issue(
                    "bad_attestation",
                    format!("payload is not JSON: {e}"),
                    Some(&dp),
                    None,
                    None,
                    Some("payload"),
                ),
            }
        }
        _ => rep.issue(
            "missing_file",
            "attestation.intoto.dsse.json is missing or not JSON",
            Some(&dp),
            None,
            None,
            None,
        ),
    }
    // records
    let rp = p("records.jsonl");
    if let Some(b) = files.get("records.jsonl") {
        let sd = crate::segments::SegmentData::from_bytes(rp.clone(), b.clone());
        let mut prev: Option<(u64, String)> = None;
        for i in 0..sd.lines.len() {
            let ln = Some(i + 1);
            match RawRecord::parse(sd.line(i)) {
                Err(e) => rep.issue("unparsable_record", e, Some(&rp), ln, None, None),
                Ok(r) => {
                    if r.unsigned().hash() != r.hash {
                        rep.issue(
                            "hash_mismatch",
                            "content does not match its hash",
                            Some(&rp),
                            ln,
                            Some(r.seq),
                            Some("hash"),
                        );
                    }
                    match check_sig(
                        ring,
                        &r.key_id,
                        &r.alg,
                        &r.timestamp,
                        &record_sig_message(&r.hash),
                        &r.sig,
                    ) {
                        Ok(()) => rep.signatures_verified += 1,
                        Err((m, f)) => {
                            rep.issue("bad_signature", m, Some(&rp), ln, Some(r.seq), Some(f))
                        }
                    }
                    if let Some((ps, ph)) = &prev {
                        if r.seq <= *ps {
                            rep.issue(
                                "duplicate_or_reordered",
                                format!("seq {} after seq {ps}", r.seq),
                                Some(&rp),
                                ln,
                                Some(r.seq),
                                Some("seq"),
                            );
                        } else if r.seq == ps + 1 && r.prev_hash != *ph {
                            rep.issue(
                                "chain_broken",
                                "prev_hash does not match the previous record",
                                Some(&rp),
                                ln,
                                Some(r.seq),
                                Some("prev_hash"),
                            );
                        }
                    }
                    prev = Some((r.seq, r.hash.clone()));
                    rep.records += 1;
                    rep.first_seq = rep.first_seq.or(Some(r.seq));
                    rep.last_seq = Some(r.seq);
                }
            }
        }
        if sd.partial.is_some() {
            rep.issue(
                "incomplete_tail",
                "records.jsonl ends in an incomplete record",
                Some(&rp),
                Some(sd.lines.len() + 1),
                None,
                None,
            );
        }
    }
    if !ring.is_trust_root && keyring.is_none() {
        rep.notes
            .push("keys came from the bundle itself: this proves integrity, not origin".into());
    }
    rep.ok = rep.issues.is_empty();
    Ok(rep)
}
