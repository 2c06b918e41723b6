//! The replay engine behind `cavra policy replay`: re-evaluate the requests recorded in the evidence log under
//! another pack and report what would change (newly blocked, newly allowed, approvals
//! added or removed), without appending anything to the log.
//!
//! The log is read segment by segment straight from the files (read-only: the log is not
//! opened for writing, no key is created, no lock is taken); each line is parsed with a
//! borrowing envelope so only `decision` records pay for deserializing their request.
//! Large segments are evaluated on all available cores with `std::thread::scope`; the
//! result is deterministic (counts are sums, examples are the first N in log order).

use crate::error::RuntimeError;
use crate::render::{push_line, short, Paint, Tone};
use cavra_core::guard::{evaluate, EvalEnv};
use cavra_core::policy::CompiledPack;
use cavra_core::{ActionRequest, Outcome};
use cavra_evidence::segments::{list_segments, SegmentData};
use cavra_evidence::time::OffsetDateTime;
use cavra_evidence::timeutil::{format_ts, parse_since, parse_ts};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;

/// The kinds of change, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The new decision blocks; the old one did not.
    NewlyBlocked,
    /// The old decision blocked; the new one lets the action proceed.
    NewlyAllowed,
    /// The new decision requires an approval; the old one did not (allowed or blocked).
    ApprovalsAdded,
    /// The old decision required an approval; the new one lets the action proceed.
    ApprovalsRemoved,
    /// Anything else (allow <-> shadow).
    Other,
}

impl Change {
    pub const ALL: [Change; 5] = [
        Change::NewlyBlocked,
        Change::NewlyAllowed,
        Change::ApprovalsAdded,
        Change::ApprovalsRemoved,
        Change::Other,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Change::NewlyBlocked => "newly_blocked",
            Change::NewlyAllowed => "newly_allowed",
            Change::ApprovalsAdded => "approvals_added",
            Change::ApprovalsRemoved => "approvals_removed",
            Change::Other => "other",
        }
    }

    /// The change in words, for a report.
    pub fn label(self) -> &'static str {
        match self {
            Change::NewlyBlocked => "newly blocked",
            Change::NewlyAllowed => "newly allowed",
            Change::ApprovalsAdded => "approvals added",
            Change::ApprovalsRemoved => "approvals removed",
            Change::Other => "other",
        }
    }

    /// The change's position in [`Change::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How restrictive an outcome is: allow < shadow < require_approval < block.
pub fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Allow | Outcome::BreakGlass => 0,
        Outcome::Shadow => 1,
        Outcome::RequireApproval => 2,
        Outcome::Block => 3,
    }
}

/// The kind of change from `old` to `new`, `None` when they are equal.
pub fn classify(old: Outcome, new: Outcome) -> Option<Change> {
    if old == new {
        return None;
    }
    Some(match (old, new) {
        (_, Outcome::Block) => Change::NewlyBlocked,
        (_, Outcome::RequireApproval) => Change::ApprovalsAdded,
        (Outcome::RequireApproval, _) => Change::ApprovalsRemoved,
        (Outcome::Block, _) => Change::NewlyAllowed,
        _ => Change::Other,
    })
}

/// Parses a recorded outcome (CAVRA names and the reference vocabulary).
pub fn parse_outcome(s: &str) -> Option<Outcome> {
    Some(match s {
        "allow" => Outcome::Allow,
        "block" => Outcome::Block,
        "require_approval" => Outcome::RequireApproval,
        "shadow" | "audit_only" => Outcome::Shadow,
        "break_glass" | "allow_with_attestation" => Outcome::BreakGlass,
        _ => return None,
    })
}

/// What the new decisions are compared with.
pub enum Baseline<'a> {
    /// The decision recorded in the log.
    Recorded,
    /// A fresh evaluation under this pack.
    Pack(&'a CompiledPack),
}

/// Which records to replay.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub since: Option<OffsetDateTime>,
    pub session: Option<String>,
}

/// One example of a change.
#[derive(Debug, Clone)]
pub struct Example {
    pub record_id: String,
    pub seq: u64,
    pub timestamp: String,
    pub session_id: String,
    pub action: String,
    pub target: String,
    pub old: Outcome,
    pub old_rule: String,
    pub new: Outcome,
    pub new_rule: String,
}

impl Example {
    fn to_json(&self) -> Value {
        json!({
            "record_id": self.record_id,
            "seq": self.seq,
            "timestamp": self.timestamp,
            "session_id": self.session_id,
            "action": self.action,
            "target": self.target,
            "old": {"decision": self.old.as_str(), "rule_id": self.old_rule},
            "new": {"decision": self.new.as_str(), "rule_id": self.new_rule},
        })
    }
}

/// A record that could not be replayed, and why.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub segment: String,
    pub line: usize,
    pub record_id: Option<String>,
    pub reason: String,
}

/// The result of a replay.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Complete lines read from the log.
    pub scanned: u64,
    /// Records of other kinds (skipped).
    pub other_kinds: u64,
    /// Decision records outside `--since` / `--session`.
    pub filtered_out: u64,
    /// Decision records in scope (`evaluated + unreadable`).
    pub records: u64,
    pub evaluated: u64,
    pub unreadable: u64,
    pub unchanged: u64,
    /// Trailing incomplete lines (an interrupted write), not records.
    pub incomplete: u64,
    pub loosened: u64,
    pub tightened: u64,
    /// Counts by [`Change::index`].
    pub counts: [u64; 5],
    /// `transitions[rank(old)][rank(new)]`.
    pub transitions: [[u64; 4]; 4],
    /// First examples by [`Change::index`], in log order.
    pub examples: [Vec<Example>; 5],
    pub unreadable_examples: Vec<Unreadable>,
}

impl Tally {
    /// Adds `o` (a later part of the log), keeping at most `limit` examples per change.
    pub fn merge(&mut self, o: Tally, limit: usize) {
        self.scanned += o.scanned;
        self.other_kinds += o.other_kinds;
        self.filtered_out += o.filtered_out;
        self.records += o.records;
        self.evaluated += o.evaluated;
        self.unreadable += o.unreadable;
        self.unchanged += o.unchanged;
        self.incomplete += o.incomplete;
        self.loosened += o.loosened;
        self.tightened += o.tightened;
        for i in 0..5 {
            self.counts[i] += o.counts[i];
        }
        for (a, b) in self.transitions.iter_mut().zip(o.transitions) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (mine, theirs) in self.examples.iter_mut().zip(o.examples) {
            let room = limit.saturating_sub(mine.len());
            mine.extend(theirs.into_iter().take(room));
        }
        let room = limit.saturating_sub(self.unreadable_examples.len());
        self.unreadable_examples
            .extend(o.unreadable_examples.into_iter().take(room));
    }

    pub fn count(&self, c: Change) -> u64 {
        self.counts[c.index()]
    }
}

/// The envelope fields replay needs; the body stays raw until the kind is known.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    record_id: Cow<'a, str>,
    #[serde(default)]
    seq: u64,
    #[serde(borrow, default)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    body: &'a RawValue,
}

/// The decision body fields replay needs (see `decide::decision_record`).
#[derive(Deserialize)]
struct DecisionBody<'a> {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    cavra_decision: Option<String>,
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    enforced_decision: Option<String>,
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(borrow, default)]
    rule_ids: Option<&'a RawValue>,
    #[serde(borrow, default)]
    request: Option<&'a RawValue>,
}

/// The policy verdict recorded in a decision body: break-glass is replaced by the outcome
/// it overrode and an allow granted by an approval counts as the approval it needed, so the
/// comparison is between policies, not between policy plus store state.
fn recorded_outcome(b: &DecisionBody<'_>) -> Result<Outcome, String> {
    let name = b
        .cavra_decision
        .as_deref()
        .or(b.decision.as_deref())
        .ok_or_else(|| "the record holds no `cavra_decision`".to_string())?;
    let o = parse_outcome(name).ok_or_else(|| format!("unknown recorded decision `{name}`"))?;
    Ok(match o {
        Outcome::BreakGlass => b
            .enforced_decision
            .as_deref()
            .and_then(parse_outcome)
            .filter(|e| *e != Outcome::BreakGlass)
            .unwrap_or(Outcome::Block),
        Outcome::Allow
            if b.rule_ids
                .is_some_and(|r| r.get().contains("\"approval.granted\"")) =>
        {
            Outcome::RequireApproval
        }
        o => o,
    })
}

/// Everything one worker needs; shared read-only between threads.
pub struct Replayer<'a> {
    pub pack: &'a CompiledPack,
    pub baseline: Baseline<'a>,
    pub env: EvalEnv<'a>,
    pub filter: Filter,
    pub examples: usize,
    /// `filter.since` in the log's fixed-width timestamp format, for a text comparison.
    since_text: Option<String>,
}

impl<'a> Replayer<'a> {
    pub fn new(
        pack: &'a CompiledPack,
        baseline: Baseline<'a>,
        env: EvalEnv<'a>,
        filter: Filter,
        examples: usize,
    ) -> Self {
        let since_text = filter.since.map(format_ts);
        Replayer {
            pack,
            baseline,
            env,
            filter,
            examples,
            since_text,
        }
    }

    fn in_window(&self, ts: &str) -> Result<bool, String> {
        let (Some(since), Some(text)) = (self.filter.since, self.since_text.as_deref()) else {
            return Ok(true);
        };
        // the log writes fixed-width UTC timestamps that sort as text
        if ts.len() == text.len() && ts.ends_with('Z') && ts.as_bytes().get(10) == Some(&b'T') {
            return Ok(ts >= text);
        }
        let t = parse_ts(ts).map_err(|_| format!("record timestamp `{ts}` is not RFC 3339"))?;
        Ok(t >= since)
    }

    fn unreadable(&self, t: &mut Tally, seg: &str, line: usize, id: Option<&str>, reason: String) {
        t.records += 1;
        t.unreadable += 1;
        if t.unreadable_examples.len() < self.examples {
            t.unreadable_examples.push(Unreadable {
                segment: seg.to_string(),
                line,
                record_id: id.map(str::to_string),
                reason,
            });
        }
    }

    /// Replays one log line (`line_no` is 1-based, for reporting).
    pub fn line(&self, t: &mut Tally, seg: &str, line_no: usize, line: &[u8]) {
        t.scanned += 1;
        let env: Envelope<'_> = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(e) => {
                return self.unreadable(
                    t,
                    seg,
                    line_no,
                    None,
                    format!("not a valid record envelope: {e}"),
                );
            }
        };
        if env.kind != "decision" {
            t.other_kinds += 1;
            return;
        }
        let id = Some(env.record_id.as_ref());
        match self.in_window(&env.timestamp) {
            Ok(true) => {}
            Ok(false) => {
                t.filtered_out += 1;
                return;
            }
            Err(e) => return self.unreadable(t, seg, line_no, id, e),
        }
        let mut body: DecisionBody<'_> = match serde_json::from_str(env.body.get()) {
            Ok(b) => b,
            Err(e) => return self.unreadable(t, seg, line_no, id, format!("decision body: {e}")),
        };
        if let Some(s) = &self.filter.session {
            if body.session_id.as_deref() != Some(s.as_str()) {
                t.filtered_out += 1;
                return;
            }
        }
        let Some(raw) = body.request else {
            return self.unreadable(t, seg, line_no, id, "the record holds no `request`".into());
        };
        let req: ActionRequest = match serde_json::from_str(raw.get()) {
            Ok(r) => r,
            Err(e) => return self.unreadable(t, seg, line_no, id, format!("request: {e}")),
        };
        let (old, old_rule) = match &self.baseline {
            Baseline::Recorded => match recorded_outcome(&body) {
                Ok(o) => (o, body.rule_id.take().unwrap_or_default()),
                Err(e) => return self.unreadable(t, seg, line_no, id, e),
            },
            Baseline::Pack(p) => {
                let d = evaluate(p, &req, &self.env);
                (d.decision, d.rule_id)
            }
        };
        let new = evaluate(self.pack, &req, &self.env);
        t.records += 1;
        t.evaluated += 1;
        t.transitions[rank(old) as usize][rank(new.decision) as usize] += 1;
        let Some(change) = classify(old, new.decision) else {
            t.unchanged += 1;
            return;
        };
        match rank(new.decision).cmp(&rank(old)) {
            std::cmp::Ordering::Less => t.loosened += 1,
            std::cmp::Ordering::Greater => t.tightened += 1,
            std::cmp::Ordering::Equal => {}
        }
        t.counts[change.index()] += 1;
        let ex = &mut t.examples[change.index()];
        if ex.len() < self.examples {
            ex.push(Example {
                record_id: env.record_id.into_owned(),
                seq: env.seq,
                timestamp: env.timestamp.into_owned(),
                session_id: body.session_id.unwrap_or_default(),
                action: new.action_type,
                target: req.target,
                old,
                old_rule,
                new: new.decision,
                new_rule: new.rule_id,
            });
        }
    }

    /// Replays lines `range` of a segment.
    fn lines(&self, sd: &SegmentData, seg: &str, range: std::ops::Range<usize>) -> Tally {
        let mut t = Tally::default();
        for i in range {
            self.line(&mut t, seg, i + 1, sd.line(i));
        }
        t
    }

    /// Replays one segment, split across `threads` workers when it is large.
    pub fn segment(
        &self,
        sd: &SegmentData,
        seg: &str,
        threads: usize,
    ) -> Result<Tally, RuntimeError> {
        let n = sd.lines.len();
        let mut total = if threads <= 1 || n < 2048 {
            self.lines(sd, seg, 0..n)
        } else {
            let chunk = n.div_ceil(threads);
            let parts: Vec<Option<Tally>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|k| {
                        let range = (k * chunk).min(n)..((k + 1) * chunk).min(n);
                        s.spawn(move || self.lines(sd, seg, range))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().ok()).collect()
            });
            let mut total = Tally::default();
            for p in parts {
                let Some(p) = p else {
                    return Err(RuntimeError::ReplayWorker(seg.to_string()));
                };
                total.merge(p, self.examples);
            }
            total
        };
        if sd.partial.is_some() {
            total.incomplete += 1;
        }
        Ok(total)
    }
}

fn pack_json(p: &CompiledPack) -> Value {
    json!({"id": p.id, "version": p.version, "digest": p.digest})
}

/// The filters as the caller wrote them, for the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filters<'a> {
    pub since: Option<&'a str>,
    pub session: Option<&'a str>,
}

/// The stable JSON report.
pub fn report_json(
    pack: &CompiledPack,
    against: Option<&CompiledPack>,
    filters: &Filters<'_>,
    log: &std::path::Path,
    t: &Tally,
) -> Value {
    let mut changes = serde_json::Map::new();
    let mut examples = serde_json::Map::new();
    for c in Change::ALL {
        changes.insert(c.key().into(), json!(t.count(c)));
        examples.insert(
            c.key().into(),
            Value::Array(t.examples[c.index()].iter().map(Example::to_json).collect()),
        );
    }
    let names = ["allow", "shadow", "require_approval", "block"];
    let mut transitions = serde_json::Map::new();
    for (i, row) in t.transitions.iter().enumerate() {
        for (j, n) in row.iter().enumerate() {
            if i != j && *n > 0 {
                transitions.insert(format!("{}->{}", names[i], names[j]), json!(n));
            }
        }
    }
    json!({
        "pack": pack_json(pack),
        "against": against.map(pack_json),
        "compared_to": if against.is_some() { "pack" } else { "recorded" },
        "log": log,
        "filters": {"since": filters.since, "session": filters.session},
        "scanned": t.scanned,
        "other_kinds": t.other_kinds,
        "filtered_out": t.filtered_out,
        "incomplete": t.incomplete,
        "records": t.records,
        "evaluated": t.evaluated,
        "unreadable": t.unreadable,
        "unchanged": t.unchanged,
        "loosened": t.loosened,
        "tightened": t.tightened,
        "changes": changes,
        "transitions": transitions,
        "examples": examples,
        "unreadable_examples": t.unreadable_examples.iter().map(|u| json!({
            "segment": u.segment, "line": u.line, "record_id": u.record_id, "reason": u.reason,
        })).collect::<Vec<_>>(),
    })
}

/// What `cavra policy replay` (and a server's replay endpoint) asks for.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// The pack to replay under: an id (bundled or in `policy_dirs`) or a pack file.
    pub pack: String,
    /// Compare with this pack instead of the recorded decisions.
    pub against: Option<String>,
    pub policy_dirs: Vec<std::path::PathBuf>,
    /// Only records at or after this time (RFC 3339, a date or a duration ago).
    pub since: Option<String>,
    /// Only records of this session.
    pub session: Option<String>,
    /// Examples kept per kind of change.
    pub examples: usize,
    /// An MCP trust registry file for MCP tool calls.
    pub registry: Option<std::path::PathBuf>,
    /// The CAVRA directory whose evidence log is replayed.
    pub cavra_dir: std::path::PathBuf,
    /// Worker threads for a large segment (at least 1).
    pub threads: usize,
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct ReplayReport {
    pub pack: CompiledPack,
    pub against: Option<CompiledPack>,
    /// The log directory read.
    pub log: std::path::PathBuf,
    pub since: Option<String>,
    pub session: Option<String>,
    pub tally: Tally,
}

impl ReplayReport {
    /// The stable JSON report (`cavra policy replay --json`).
    pub fn to_json(&self) -> Value {
        let filters = Filters {
            since: self.since.as_deref(),
            session: self.session.as_deref(),
        };
        report_json(
            &self.pack,
            self.against.as_ref(),
            &filters,
            &self.log,
            &self.tally,
        )
    }
}

impl ReplayReport {
    /// The text report of `cavra policy replay`.
    pub fn text(&self, paint: Paint<'_>) -> String {
        let (p, t, mut out) = (&self.pack, &self.tally, String::new());
        let vs = self
            .against
            .as_ref()
            .map_or("the recorded decisions".into(), |a| {
                format!("{} {} ({})", a.id, a.version, short(&a.digest))
            });
        let id = paint(Tone::Strong, &p.id);
        push_line!(
            out,
            "replay {id} {} ({}) against {vs}",
            p.version,
            short(&p.digest)
        );
        push_line!(
            out,
            "  log {}: {} decision records in scope ({} filtered out, {} other records skipped)",
            self.log.display(),
            t.records,
            t.filtered_out,
            t.other_kinds
        );
        let unreadable = match t.unreadable {
            0 => "0".into(),
            n => paint(Tone::StrongBad, &n.to_string()),
        };
        push_line!(
            out,
            "  evaluated {}, unchanged {}, unreadable {unreadable}",
            t.evaluated,
            t.unchanged
        );
        if t.incomplete > 0 {
            push_line!(out, "  {} incomplete trailing line(s) ignored (interrupted write; run `cavra evidence verify`)", t.incomplete);
        }
        push_line!(out, "\n  {:<20} {:>8}", "CHANGE", "COUNT");
        for ch in Change::ALL {
            push_line!(out, "  {:<20} {:>8}", ch.label(), t.count(ch));
        }
        for ch in Change::ALL {
            let (ex, n) = (&t.examples[ch.index()], t.count(ch));
            if ex.is_empty() {
                continue;
            }
            let first = match ex.len() as u64 {
                shown if shown < n => format!(", first {shown}"),
                _ => String::new(),
            };
            push_line!(out, "\n{} ({n}{first}):", ch.label());
            for e in ex {
                let old_rule = if e.old_rule.is_empty() {
                    "-"
                } else {
                    &e.old_rule
                };
                let tone = if rank(e.new) < rank(e.old) {
                    Tone::StrongBad
                } else {
                    Tone::Strong
                };
                let (old, new) = (e.old.as_str(), paint(tone, e.new.as_str()));
                push_line!(
                    out,
                    "  {} `{}`: {old} ({old_rule}) -> {new} ({})  [session {}, {}]",
                    e.action,
                    e.target,
                    e.new_rule,
                    e.session_id,
                    e.record_id
                );
            }
        }
        if !t.unreadable_examples.is_empty() {
            push_line!(out, "\nunreadable ({}):", t.unreadable);
            for u in &t.unreadable_examples {
                let id = u.record_id.as_deref().map(|r| format!(" {r}"));
                let id = id.unwrap_or_default();
                push_line!(out, "  {}:{}{id}: {}", u.segment, u.line, u.reason);
            }
        }
        if t.loosened > 0 {
            let what = format!(
                "{} decision(s) become less restrictive under {}",
                t.loosened, p.id
            );
            push_line!(out, "\n{}", paint(Tone::StrongBad, &what));
        }
        out
    }
}

/// Replays the evidence log of `opts.cavra_dir` under `opts.pack`, read-only.
pub fn run(opts: &ReplayOptions) -> Result<ReplayReport, RuntimeError> {
    let log = cavra_evidence::LogConfig::for_cavra_dir(&opts.cavra_dir).dir;
    run_log(opts, log)
}

/// [`run`] over the log directory `log` instead of the CAVRA directory's (the server's
/// export of the replicas' log in PostgreSQL).
pub fn run_log(
    opts: &ReplayOptions,
    log: std::path::PathBuf,
) -> Result<ReplayReport, RuntimeError> {
    let load = |flag: &'static str, spec: &str| {
        crate::packs::load_spec(spec, &opts.policy_dirs).map_err(|e| RuntimeError::ReplayPack {
            flag,
            spec: spec.to_string(),
            source: Box::new(e),
        })
    };
    let pack = load("--pack", &opts.pack)?;
    run_compiled(opts, pack, log)
}

/// [`run_log`] under the compiled `pack` (a draft's: `opts.pack` is not read).
pub fn run_compiled(
    opts: &ReplayOptions,
    pack: CompiledPack,
    log: std::path::PathBuf,
) -> Result<ReplayReport, RuntimeError> {
    let load = |flag: &'static str, spec: &str| {
        crate::packs::load_spec(spec, &opts.policy_dirs).map_err(|e| RuntimeError::ReplayPack {
            flag,
            spec: spec.to_string(),
            source: Box::new(e),
        })
    };
    let against = opts
        .against
        .as_deref()
        .map(|a| load("--against", a))
        .transpose()?;
    let registry = opts
        .registry
        .as_deref()
        .map(crate::load_registry)
        .transpose()?;
    let since = opts.since.as_deref().map(parse_since).transpose();
    let since = since.map_err(RuntimeError::Since)?;
    if !log.is_dir() {
        return Err(RuntimeError::NoEvidenceLog(log));
    }
    let segments = list_segments(&log).map_err(|source| RuntimeError::ListLog {
        path: log.clone(),
        source,
    })?;
    let baseline = match &against {
        Some(a) => Baseline::Pack(a),
        None => Baseline::Recorded,
    };
    let env = EvalEnv {
        registry: registry.as_ref(),
        ..Default::default()
    };
    let filter = Filter {
        since,
        session: opts.session.clone(),
    };
    let replayer = Replayer::new(&pack, baseline, env, filter, opts.examples);
    let mut tally = Tally::default();
    for (_, path) in &segments {
        let sd = SegmentData::read(path).map_err(|source| RuntimeError::ReadSegment {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tally.merge(replayer.segment(&sd, &name, opts.threads)?, opts.examples);
    }
    Ok(ReplayReport {
        pack,
        against,
        log,
        since: opts.since.clone(),
        session: opts.session.clone(),
        tally,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use cavra_core::policy::bundled;
    use cavra_core::ActionType;

    #[test]
    fn classify_covers_every_transition() {
        use Outcome::*;
        assert_eq!(classify(Allow, Allow), None);
        assert_eq!(classify(Allow, Block), Some(Change::NewlyBlocked));
        assert_eq!(classify(RequireApproval, Block), Some(Change::NewlyBlocked));
        assert_eq!(classify(Shadow, Block), Some(Change::NewlyBlocked));
        assert_eq!(classify(Block, Allow), Some(Change::NewlyAllowed));
        assert_eq!(classify(Block, Shadow), Some(Change::NewlyAllowed));
        assert_eq!(
            classify(Allow, RequireApproval),
            Some(Change::ApprovalsAdded)
        );
        assert_eq!(
            classify(Block, RequireApproval),
            Some(Change::ApprovalsAdded)
        );
        assert_eq!(
            classify(RequireApproval, Allow),
            Some(Change::ApprovalsRemoved)
        );
        assert_eq!(
            classify(RequireApproval, Shadow),
            Some(Change::ApprovalsRemoved)
        );
        assert_eq!(classify(Allow, Shadow), Some(Change::Other));
        assert!(rank(Block) > rank(RequireApproval));
        assert!(rank(RequireApproval) > rank(Shadow));
        assert!(rank(Shadow) > rank(Allow));
    }

    #[test]
    fn recorded_outcome_undoes_overrides() {
        let b: DecisionBody<'_> =
            serde_json::from_str(r#"{"cavra_decision":"break_glass","enforced_decision":"block"}"#)
                .unwrap();
        assert_eq!(recorded_outcome(&b), Ok(Outcome::Block));
        let b: DecisionBody<'_> = serde_json::from_str(
            r#"{"cavra_decision":"allow","rule_ids":["approval.granted","files.x"]}"#,
        )
        .unwrap();
        assert_eq!(recorded_outcome(&b), Ok(Outcome::RequireApproval));
        let b: DecisionBody<'_> = serde_json::from_str(r#"{"decision":"audit_only"}"#).unwrap();
        assert_eq!(recorded_outcome(&b), Ok(Outcome::Shadow));
        let b: DecisionBody<'_> = serde_json::from_str(r#"{"cavra_decision":"maybe"}"#).unwrap();
        assert!(recorded_outcome(&b).is_err());
        let b: DecisionBody<'_> = serde_json::from_str("{}").unwrap();
        assert!(recorded_outcome(&b).is_err());
    }

    fn line(kind: &str, ts: &str, body: Value) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"kind": kind, "record_id": "ev-1", "seq": 1, "timestamp": ts, "body": body}),
        )
        .unwrap()
    }

    #[test]
    fn lines_are_counted_filtered_and_compared() {
        let strict = bundled::compiled("cavra-strict").unwrap();
        let mut req = ActionRequest::new(ActionType::ExecuteCommand, "npm publish");
        req.session_id = "s1".into();
        let r = Replayer::new(
            &strict,
            Baseline::Recorded,
            EvalEnv::default(),
            Filter::default(),
            1,
        );
        let mut t = Tally::default();
        let body =
            json!({"session_id": "s1", "cavra_decision": "allow", "rule_id": "x", "request": req});
        r.line(
            &mut t,
            "seg",
            1,
            &line("decision", "2025-01-01T00:00:00.000000Z", body.clone()),
        );
        r.line(
            &mut t,
            "seg",
            2,
            &line("decision", "2025-01-01T00:00:00.000000Z", body.clone()),
        );
        r.line(
            &mut t,
            "seg",
            3,
            &line("checkpoint", "2025-01-01T00:00:00.000000Z", json!({})),
        );
        r.line(&mut t, "seg", 4, b"{not json");
        r.line(
            &mut t,
            "seg",
            5,
            &line(
                "decision",
                "2025-01-01T00:00:00.000000Z",
                json!({"cavra_decision": "allow", "request": {"target": 3}}),
            ),
        );
        assert_eq!(
            (
                t.scanned,
                t.other_kinds,
                t.records,
                t.evaluated,
                t.unreadable
            ),
            (5, 1, 4, 2, 2)
        );
        assert_eq!(t.count(Change::NewlyBlocked), 2);
        assert_eq!(
            t.examples[Change::NewlyBlocked.index()].len(),
            1,
            "limited to --examples"
        );
        assert_eq!(t.loosened, 0);
        assert_eq!(t.tightened, 2);
        assert_eq!(t.unreadable_examples.len(), 1);
        assert_eq!(t.unreadable_examples[0].line, 4);

        let since = parse_ts("2025-06-01T00:00:00Z").unwrap();
        let r = Replayer::new(
            &strict,
            Baseline::Recorded,
            EvalEnv::default(),
            Filter {
                since: Some(since),
                session: Some("s1".into()),
            },
            5,
        );
        let mut t = Tally::default();
        r.line(
            &mut t,
            "seg",
            1,
            &line("decision", "2025-01-01T00:00:00.000000Z", body.clone()),
        );
        r.line(
            &mut t,
            "seg",
            2,
            &line("decision", "2025-07-01T00:00:00.000000Z", body.clone()),
        );
        r.line(
            &mut t,
            "seg",
            3,
            &line("decision", "2025-07-01T00:00:00+02:00", body.clone()),
        );
        let mut other = body.clone();
        other["session_id"] = json!("s2");
        r.line(
            &mut t,
            "seg",
            4,
            &line("decision", "2025-07-01T00:00:00.000000Z", other),
        );
        assert_eq!((t.filtered_out, t.evaluated), (2, 2));
    }

    #[test]
    fn parallel_segments_match_sequential() {
        let strict = bundled::compiled("cavra-strict").unwrap();
        let base = bundled::compiled("cavra-coding-baseline").unwrap();
        let mut data = Vec::new();
        for i in 0..3000 {
            let req = if i % 3 == 0 {
                ActionRequest::new(ActionType::ExecuteCommand, "npm publish")
            } else {
                ActionRequest::new(ActionType::ReadFile, format!("src/f{i}.rs"))
            };
            data.extend(line(
                "decision",
                "2025-01-01T00:00:00.000000Z",
                json!({"cavra_decision": "allow", "request": req}),
            ));
            data.push(b'\n');
        }
        let sd = SegmentData::from_bytes("seg".into(), data);
        let r = Replayer::new(
            &strict,
            Baseline::Pack(&base),
            EvalEnv::default(),
            Filter::default(),
            3,
        );
        let a = r.segment(&sd, "seg", 1).unwrap();
        let b = r.segment(&sd, "seg", 2).unwrap();
        assert_eq!(a.evaluated, 3000);
        assert_eq!(a.counts, b.counts);
        assert_eq!(a.transitions, b.transitions);
        let ids = |t: &Tally| {
            t.examples[Change::NewlyBlocked.index()]
                .iter()
                .map(|e| e.target.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.count(Change::NewlyBlocked), 1000);
    }
}
