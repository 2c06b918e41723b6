//! Exports of the log to SIEM formats: OCSF (API Activity, class 6003), Splunk HEC,
//! Microsoft Sentinel (Logs Ingestion API rows), Datadog (Logs API v2), ArcSight CEF, JSONL.

use crate::error::{EvidenceError, Result};
use crate::record::Record;
use crate::timeutil::parse_ts;
use serde_json::{json, Value};

/// This machine's host name for exports: the kernel's (`/proc/sys/kernel/hostname`), else
/// `/etc/hostname`, else `$HOSTNAME`; `localhost` only when none of them is there.
pub fn host_name() -> String {
    let from_file = |p: &str| std::fs::read_to_string(p).ok();
    from_file("/proc/sys/kernel/hostname")
        .into_iter()
        .chain(from_file("/etc/hostname"))
        .chain(std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ocsf,
    SplunkHec,
    Sentinel,
    Datadog,
    Cef,
    Jsonl,
}

impl Format {
    /// Parse a format name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "ocsf" => Format::Ocsf,
            "splunk-hec" | "splunk" => Format::SplunkHec,
            "sentinel" => Format::Sentinel,
            "datadog" => Format::Datadog,
            "cef" => Format::Cef,
            "jsonl" => Format::Jsonl,
            _ => {
                return Err(EvidenceError::Invalid(format!(
                    "unknown export format `{s}` (expected ocsf, splunk-hec, sentinel, datadog, cef or jsonl)"
                )))
            }
        })
    }
}

fn st<'a>(b: &'a Value, k: &str) -> &'a str {
    b.get(k).and_then(Value::as_str).unwrap_or("")
}

fn outcome(b: &Value) -> &str {
    match st(b, "cavra_decision") {
        "" => st(b, "decision"),
        x => x,
    }
}

fn epoch_ms(ts: &str) -> i64 {
    parse_ts(ts)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

/// OCSF severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical, 0 Unknown.
fn ocsf_severity(sev: &str) -> (u8, &'static str) {
    match sev {
        "low" => (2, "Low"),
        "medium" => (3, "Medium"),
        "high" => (4, "High"),
        "critical" => (5, "Critical"),
        "" => (1, "Informational"),
        _ => (0, "Unknown"),
    }
}

/// One record as an OCSF 1.1 API Activity event (class_uid 6003) with the
/// security-control profile's `action_id`/`disposition_id`.
pub fn to_ocsf(r: &Record) -> Value {
    let b = &r.body;
    let (sev_id, sev) = ocsf_severity(st(b, "severity"));
    let out = outcome(b);
    let (action_id, action, disp_id, disp) = match out {
        "allow" | "allow_with_attestation" | "shadow" | "break_glass" => {
            (1, "Allowed", 1, "Allowed")
        }
        "block" => (2, "Denied", 2, "Blocked"),
        "require_approval" => (2, "Denied", 15, "Approval Required"),
        _ => (0, "Unknown", 0, "Unknown"),
    };
    let (status_id, status) = if r.kind == "decision" {
        if action_id == 2 {
            (2, "Failure")
        } else {
            (1, "Success")
        }
    } else {
        (1, "Success")
    };
    json!({
        "category_uid": 6, "category_name": "Application Activity",
        "class_uid": 6003, "class_name": "API Activity",
        "activity_id": 99, "activity_name": st(b, "action_type"),
        "type_uid": 600399, "type_name": "API Activity: Other",
        "time": epoch_ms(&r.timestamp),
        "severity_id": sev_id, "severity": sev,
        "status_id": status_id, "status": status,
        "action_id": action_id, "action": action,
        "disposition_id": disp_id, "disposition": disp,
        "message": st(b, "reason"),
        "api": {"operation": st(b, "requested_operation"), "service": {"name": st(b, "action_type")}},
        "actor": {"user": {"uid": st(b, "agent_id"), "name": st(b, "actor")}, "session": {"uid": st(b, "session_id")}},
        "src_endpoint": {"name": st(b, "agent_id")},
        "resources": [{"name": st(b, "target"), "type": st(b, "action_type")}],
        "policy": {"uid": st(b, "policy_id"), "name": st(b, "policy_pack"), "version": st(b, "policy_digest")},
        "metadata": {
            "version": "1.1.0", "uid": r.record_id, "correlation_uid": st(b, "correlation_id"),
            "log_name": "cavra-evidence", "sequence": r.seq,
            "product": {"name": "CAVRA", "vendor_name": "CAVRA", "version": env!("CARGO_PKG_VERSION")},
        },
        "unmapped": {"kind": r.kind, "rule_id": st(b, "rule_id"), "rule_ids": b.get("rule_ids"), "cavra_decision": out, "record_hash": r.hash, "body": b},
    })
}

/// Splunk HEC event envelope (`/services/collector/event`); one per line.
pub fn to_splunk_hec(r: &Record, host: &str) -> Value {
    let ms = epoch_ms(&r.timestamp);
    json!({
        "time": format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000)).parse::<f64>().unwrap_or(0.0),
        "host": host, "source": "cavra", "sourcetype": format!("cavra:{}", r.kind),
        "event": r,
        "fields": {"session_id": st(&r.body, "session_id"), "decision": outcome(&r.body), "rule_id": st(&r.body, "rule_id")},
    })
}

/// A row for a Sentinel custom table through the Logs Ingestion API (`TimeGenerated` +
/// flat columns).
pub fn to_sentinel(r: &Record) -> Value {
    let b = &r.body;
    json!({
        "TimeGenerated": r.timestamp, "RecordId": r.record_id, "Seq": r.seq, "Kind": r.kind,
        "SessionId": st(b, "session_id"), "AgentId": st(b, "agent_id"), "Actor": st(b, "actor"),
        "ActionType": st(b, "action_type"), "Target": st(b, "target"), "Decision": outcome(b),
        "RuleId": st(b, "rule_id"), "Severity": st(b, "severity"), "Reason": st(b, "reason"),
        "PolicyId": st(b, "policy_id"), "PolicyDigest": st(b, "policy_digest"), "RecordHash": r.hash,
        "Body": b,
    })
}

/// A Datadog Logs API v2 entry.
pub fn to_datadog(r: &Record, host: &str) -> Value {
    let b = &r.body;
    let status = match outcome(b) {
        "block" => "error",
        "require_approval" => "warn",
        _ => "info",
    };
    json!({
        "ddsource": "cavra", "service": "cavra", "hostname": host,
        "ddtags": format!("kind:{},decision:{},session:{}", r.kind, outcome(b), st(b, "session_id")),
        "message": format!("{} {} {}: {}", outcome(b), st(b, "action_type"), st(b, "target"), st(b, "reason")),
        "status": status, "timestamp": epoch_ms(&r.timestamp),
        "cavra": r,
    })
}

/// CEF header field escaping: `\` and `|`.
pub fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// CEF extension value escaping: `\`, `=`, newlines.
pub fn cef_ext(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// One ArcSight CEF:0 line.
pub fn to_cef(r: &Record) -> String {
    let b = &r.body;
    let sev = match st(b, "severity") {
        "low" => 3,
        "medium" => 5,
        "high" => 8,
        "critical" => 10,
        _ => 1,
    };
    let sig_id = match st(b, "rule_id") {
        "" => r.kind.as_str(),
        x => x,
    };
    let name = format!("{} {}", outcome(b), st(b, "action_type"));
    let mut ext = vec![
        ("rt", epoch_ms(&r.timestamp).to_string()),
        ("act", outcome(b).to_string()),
        ("suser", st(b, "agent_id").to_string()),
        ("msg", st(b, "reason").to_string()),
        ("externalId", r.record_id.clone()),
        ("cs1Label", "session_id".into()),
        ("cs1", st(b, "session_id").into()),
        ("cs2Label", "target".into()),
        ("cs2", st(b, "target").into()),
        ("cs3Label", "policy_digest".into()),
        ("cs3", st(b, "policy_digest").into()),
        ("cs4Label", "record_hash".into()),
        ("cs4", r.hash.clone()),
        ("cn1Label", "seq".into()),
        ("cn1", r.seq.to_string()),
    ];
    ext.retain(|(_, v)| !v.is_empty());
    let ext: Vec<String> = ext
        .iter()
        .map(|(k, v)| format!("{k}={}", cef_ext(v)))
        .collect();
    format!(
        "CEF:0|CAVRA|CAVRA|{}|{}|{}|{}|{}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(sig_id),
        cef_header(name.trim()),
        sev,
        ext.join(" ")
    )
}

/// Render records in `fmt`. JSON-array formats (sentinel, datadog) produce one array;
/// the others one event per line.
pub fn export(records: &[Record], fmt: Format, host: &str) -> String {
    let mut out = String::new();
    match fmt {
        Format::Sentinel | Format::Datadog => {
            let arr: Vec<Value> = records
                .iter()
                .map(|r| {
                    if fmt == Format::Sentinel {
                        to_sentinel(r)
                    } else {
                        to_datadog(r, host)
                    }
                })
                .collect();
            out = serde_json::to_string(&arr).unwrap_or_default();
            out.push('\n');
        }
        _ => {
            for r in records {
                let line = match fmt {
                    Format::Ocsf => to_ocsf(r).to_string(),
                    Format::SplunkHec => to_splunk_hec(r, host).to_string(),
                    Format::Cef => to_cef(r),
                    _ => r.to_line(),
                };
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}
