//! The CLI table: destructive verbs of command-line tools as pack data (`cli:` in a pack),
//! help and dry-run invocations that do nothing, free-text options whose values are never a
//! command, SQL carried in a CLI's query option, and the rule for a CLI no entry knows.
//!
//! Each entry is parsed on its own terms (its value options, text options, single-dash long
//! options), so `gh pr create --title 'Add widget delete endpoint'` has the words `pr create`
//! and `gh search code 'gh repo delete'` the words `search code` plus an operand. The table
//! is indexed by program name: a command whose program has no entry costs one binary search.

use super::cli_index;
use super::command::CommandFacts;
use crate::glob::Glob;
use crate::model::{Effect, Severity};
use crate::policy::bundled::BundledCli;
use crate::policy::compile::CompiledPack;
use crate::policy::compile::{Matcher, Rule, SeverityRule};
use crate::policy::source::{
    CliSection, CliSource, CliTableSource, CliUnknownSource, CliVerbSource, OverrideSource,
    PackSource,
};
use crate::policy::PolicyError;
use cavra_shell::{Invocation, Stdin};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Longest subcommand path a row may name (words and `**`).
const MAX_PATH: usize = 8;
/// Upper bound for `max_depth`.
const MAX_DEPTH: usize = 8;

/// The compiled CLI table of a pack. Entries are compiled on first use (a hook call
/// touches a few programs; compiling all of them would cost more than the rest of the pack),
/// after the whole section was validated when the pack was compiled.
#[derive(Debug, Clone, Default)]
pub struct CliTable {
    index: CliIndex,
    /// Compiled entries, by position in the table's key order.
    cache: Box<[OnceLock<Option<Box<CliEntry>>>]>,
    /// The rule for CLIs no entry knows: compiled with the pack when it is validated, else
    /// (a bundled pack, validated by its tests) on first use, like the entries.
    unknown: OnceLock<Option<UnknownCli>>,
    group: String,
}

/// Program name (and alias), lowercased → position of its entry in the table's key order.
#[derive(Debug, Clone)]
enum CliIndex {
    /// A bundled pack's table as bundled (entries neither replaced nor added): its index
    /// and keys were built at build time.
    Bundled(&'static BundledCli),
    /// Any other table: its keys, and the index built when the pack was compiled.
    Built {
        names: Vec<String>,
        by_name: Vec<(String, usize)>,
    },
}

impl Default for CliIndex {
    fn default() -> Self {
        CliIndex::Built {
            names: Vec::new(),
            by_name: Vec::new(),
        }
    }
}

impl CliIndex {
    fn of(table: &CliTableSource) -> CliIndex {
        if let Some(b) = table.as_bundled() {
            return CliIndex::Bundled(b);
        }
        CliIndex::Built {
            names: table.keys().map(str::to_string).collect(),
            by_name: cli_index::build(table.iter().map(|(k, e)| (k, e.aliases()))),
        }
    }

    fn len(&self) -> usize {
        match self {
            CliIndex::Bundled(b) => b.names.len(),
            CliIndex::Built { names, .. } => names.len(),
        }
    }

    /// The key of the entry at `pos`.
    fn name(&self, pos: usize) -> Option<&str> {
        match self {
            CliIndex::Bundled(b) => b.names.get(pos).copied(),
            CliIndex::Built { names, .. } => names.get(pos).map(String::as_str),
        }
    }

    fn find(&self, program: &str) -> Option<usize> {
        match self {
            CliIndex::Bundled(b) => cli_index::find(b.index, program),
            CliIndex::Built { by_name, .. } => cli_index::find(by_name, program),
        }
    }
}

/// One program of the table.
#[derive(Debug, Clone)]
pub struct CliEntry {
    pub program: String,
    value_options: Vec<String>,
    boolean_flags: Vec<String>,
    all_boolean: bool,
    text_options: Vec<String>,
    sql_options: Vec<String>,
    confirm_flags: Vec<String>,
    help_flags: Vec<String>,
    help_words: Vec<String>,
    dry_run_flags: Vec<String>,
    dry_run_paths: Vec<(Vec<PathElem>, Vec<String>)>,
    anywhere: bool,
    long_single_dash: bool,
    max_depth: usize,
    pub rows: Vec<CliRow>,
}

/// One row: a subcommand path, its conditions and the rule it raises.
#[derive(Debug, Clone)]
pub struct CliRow {
    /// The path as written in the pack.
    pub path_text: String,
    path: Vec<PathElem>,
    flags_any: Vec<String>,
    flags_none: Vec<String>,
    options: Vec<(String, Vec<Glob>)>,
    operands: Vec<Glob>,
    sql_operands: bool,
    /// The rule raised when the row matches (confirmed, or the CLI does not prompt).
    pub rule: Rule,
    /// The rule raised without a confirm flag, when the row says so.
    pub unconfirmed: Option<Rule>,
}

#[derive(Debug, Clone)]
enum PathElem {
    Word(Glob),
    /// `**`: any number of group words (up to the entry's `max_depth`).
    Any,
}

/// The rule for CLIs without an entry. Its verbs, confirm flags and plain program names
/// are read from the pack's source where a command needs them (`judge`): copying them here
/// would cost every hook call more than the rest of the table.
#[derive(Debug, Clone)]
pub struct UnknownCli {
    max_depth: usize,
    /// The `except_programs` entries that are patterns (`*`, `?`, classes, braces); the
    /// plain names are compared as they are written.
    except_globs: Vec<Glob>,
    pub rule: Rule,
}

/// The characters that make a pattern a glob rather than a plain name (as `Glob` reads it).
const GLOB_SPECIAL: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

fn bad(ctx: &str, msg: impl std::fmt::Display) -> PolicyError {
    PolicyError::BadCompiled(format!("{ctx}: {msg}"))
}

fn effect_of(s: Option<&str>, default: Effect, ctx: &str) -> Result<Effect, PolicyError> {
    match s {
        None => Ok(default),
        Some(x) => Effect::parse(x).ok_or_else(|| bad(ctx, format!("unknown effect `{x}`"))),
    }
}

fn severity_of(s: Option<&str>, effect: Effect, ctx: &str) -> Result<Severity, PolicyError> {
    match s {
        Some(x) => Severity::parse(x).ok_or_else(|| bad(ctx, format!("unknown severity `{x}`"))),
        None => Ok(match effect {
            Effect::Block => Severity::High,
            Effect::RequireApproval => Severity::Medium,
            Effect::Allow => Severity::Low,
        }),
    }
}

fn path_of(path: &str, ctx: &str) -> Result<Vec<PathElem>, PolicyError> {
    let mut out = Vec::new();
    for w in path.split_whitespace() {
        out.push(if w == "**" {
            PathElem::Any
        } else {
            PathElem::Word(
                Glob::new_case_insensitive(w)
                    .map_err(|e| bad(ctx, format!("path `{path}`: {e}")))?,
            )
        });
    }
    if out.len() > MAX_PATH {
        return Err(bad(
            ctx,
            format!("path `{path}` has more than {MAX_PATH} words"),
        ));
    }
    Ok(out)
}

/// Default approver group for rows that ask.
fn rule(
    id: &str,
    effect: Effect,
    severity: Severity,
    reason: String,
    alternative: Option<String>,
    approver_group: &str,
) -> Rule {
    Rule {
        id: id.to_string(),
        effect,
        severity: SeverityRule::Fixed(severity),
        reason,
        alternative,
        approver_group: (effect == Effect::RequireApproval).then(|| approver_group.to_string()),
        controls: vec![],
        matcher: Matcher::Cli,
    }
}

/// What an entry gives its rows that do not say otherwise.
struct RowDefaults<'e> {
    rule: Option<&'e str>,
    effect: Option<&'e str>,
    severity: Option<&'e str>,
    reason: Option<&'e str>,
    alternative: Option<&'e str>,
}

fn compile_row(
    program: &str,
    d: &RowDefaults<'_>,
    v: CliVerbSource,
    group: &str,
) -> Result<CliRow, PolicyError> {
    let ctx = format!("cli.table.{program} `{}`", v.path);
    let id = v.rule.as_deref().or(d.rule).ok_or_else(|| {
        bad(
            &ctx,
            "the row names no rule id (set `rule` on the row or the entry)",
        )
    })?;
    let eff = effect_of(v.effect.as_deref().or(d.effect), Effect::Block, &ctx)?;
    let sev = severity_of(v.severity.as_deref().or(d.severity), eff, &ctx)?;
    let reason = match (&v.reason, d.reason) {
        (Some(r), _) => r.clone(),
        (None, Some(r)) => r.to_string(),
        (None, None) => format!("`{program} {}` is guarded by the CLI table", v.path),
    };
    let alternative = v
        .alternative
        .clone()
        .or_else(|| d.alternative.map(str::to_string));
    let main = rule(id, eff, sev, reason.clone(), alternative.clone(), group);
    let unconfirmed = match v.unconfirmed.as_deref() {
        None => None,
        Some(u) => {
            let ue = effect_of(Some(u), eff, &ctx)?;
            let us = severity_of(None, ue, &ctx)?;
            Some(rule(id, ue, us.max(sev), reason, alternative, group))
        }
    };
    let mut options = Vec::new();
    for (name, vals) in v.options {
        let globs = vals
            .iter()
            .map(|g| Glob::new_case_insensitive(g).map_err(|x| bad(&ctx, x)))
            .collect::<Result<Vec<_>, _>>()?;
        options.push((name, globs));
    }
    Ok(CliRow {
        path: path_of(&v.path, &ctx)?,
        operands: v
            .operands
            .iter()
            .map(|g| Glob::text(g).map_err(|x| bad(&ctx, x)))
            .collect::<Result<_, _>>()?,
        path_text: v.path,
        flags_any: v.flags_any,
        flags_none: v.flags_none,
        options,
        sql_operands: v.sql_operands.unwrap_or(false),
        rule: main,
        unconfirmed,
    })
}

/// Compiles an entry, taking its lists (an entry is compiled once, from a copy of its own).
fn compile_entry(program: &str, e: CliSource, group: &str) -> Result<CliEntry, PolicyError> {
    let ctx = format!("cli.table.{program}");
    let CliSource {
        aliases: _,
        rule: d_rule,
        effect: d_effect,
        severity: d_severity,
        reason: d_reason,
        alternative: d_alternative,
        value_options,
        boolean_flags,
        mut text_options,
        sql_options,
        confirm_flags,
        help_flags,
        help_words,
        dry_run_flags,
        dry_run_paths: dry_paths,
        flags_position,
        long_single_dash,
        max_depth,
        verbs,
    } = e;
    let anywhere = match flags_position.as_deref() {
        None | Some("anywhere") => true,
        Some("before_operands") => false,
        Some(o) => return Err(bad(&ctx, format!("unknown flags_position `{o}`"))),
    };
    let max_depth = max_depth.unwrap_or(4);
    if max_depth > MAX_DEPTH {
        return Err(bad(&ctx, format!("max_depth above {MAX_DEPTH}")));
    }
    let mut dry_run_paths = Vec::new();
    for (p, flags) in dry_paths {
        dry_run_paths.push((path_of(&p, &ctx)?, flags));
    }
    text_options.extend(sql_options.iter().cloned());
    let defaults = RowDefaults {
        rule: d_rule.as_deref(),
        effect: d_effect.as_deref(),
        severity: d_severity.as_deref(),
        reason: d_reason.as_deref(),
        alternative: d_alternative.as_deref(),
    };
    let rows = verbs
        .into_iter()
        .map(|v| compile_row(program, &defaults, v, group))
        .collect::<Result<_, _>>()?;
    Ok(CliEntry {
        program: program.to_string(),
        value_options,
        all_boolean: boolean_flags.iter().any(|f| f == "*"),
        boolean_flags,
        text_options,
        sql_options,
        confirm_flags,
        help_flags: help_flags.unwrap_or_else(|| vec!["--help".into()]),
        help_words: match help_words {
            Some(mut w) => {
                w.iter_mut().for_each(|x| x.make_ascii_lowercase());
                w
            }
            None => vec!["help".into()],
        },
        dry_run_flags,
        dry_run_paths,
        anywhere,
        long_single_dash: long_single_dash.unwrap_or(false),
        max_depth,
        rows,
    })
}

fn compile_unknown(u: &CliUnknownSource, group: &str) -> Result<UnknownCli, PolicyError> {
    let ctx = "cli.unknown";
    let eff = effect_of(u.effect.as_deref(), Effect::RequireApproval, ctx)?;
    let sev = severity_of(u.severity.as_deref(), eff, ctx)?;
    let max_depth = u.max_depth.unwrap_or(3);
    if max_depth > MAX_DEPTH {
        return Err(bad(ctx, format!("max_depth above {MAX_DEPTH}")));
    }
    let mut except_globs = Vec::new();
    for g in &u.except_programs {
        if g.is_empty() {
            return Err(bad(ctx, "except_programs: empty pattern"));
        }
        if g.contains(GLOB_SPECIAL) {
            except_globs.push(Glob::new_case_insensitive(g).map_err(|e| bad(ctx, e))?);
        }
    }
    Ok(UnknownCli {
        max_depth,
        except_globs,
        rule: rule(
            &u.rule,
            eff,
            sev,
            u.reason.clone().unwrap_or_else(|| {
                "a destructive subcommand of a CLI CAVRA has no table entry for, run without a prompt"
                    .into()
            }),
            u.alternative.clone(),
            group,
        ),
    })
}

impl CliTable {
    /// Validates the `cli:` section and indexes it; `group` is the pack's default approver
    /// group, `overrides` and `controls` are applied to rows by rule id as to native rules.
    pub fn compile(
        section: Option<&CliSection>,
        group: &str,
        overrides: &[OverrideSource],
        controls: &BTreeMap<String, Vec<String>>,
        validate: bool,
    ) -> Result<CliTable, PolicyError> {
        let mut t = CliTable {
            group: group.to_string(),
            ..Default::default()
        };
        let Some(s) = section else { return Ok(t) };
        if validate {
            for (program, e) in &s.table {
                let parsed = e
                    .get()
                    .map_err(|x| bad(&format!("cli.table.{program}"), x))?;
                validate_entry(program, parsed, overrides)?;
            }
        }
        t.index = CliIndex::of(&s.table);
        t.cache = (0..t.index.len()).map(|_| OnceLock::new()).collect();
        if validate {
            let u = Self::compile_unknown_rule(s, group, overrides, controls)?;
            t.unknown = OnceLock::from(u);
        }
        Ok(t)
    }

    /// The section's rule for unknown CLIs with the pack's overrides and controls applied;
    /// `None` when there is none or an override disables it.
    fn compile_unknown_rule(
        s: &CliSection,
        group: &str,
        overrides: &[OverrideSource],
        controls: &BTreeMap<String, Vec<String>>,
    ) -> Result<Option<UnknownCli>, PolicyError> {
        let Some(u) = s.unknown.as_deref() else {
            return Ok(None);
        };
        let mut u = compile_unknown(u, group)?;
        let keep = Self::finish_rule(&mut u.rule, overrides, controls);
        Ok(keep.then_some(u))
    }

    /// The rule for unknown CLIs (`src` is the source the table was compiled from).
    pub fn unknown<'a>(&'a self, src: &'a PackSource) -> Option<&'a UnknownCli> {
        self.unknown
            .get_or_init(|| {
                let s = src.cli.as_ref()?;
                // validated when the pack was compiled (see `entry_at`)
                Self::compile_unknown_rule(s, &self.group, &src.overrides, &src.controls)
                    .ok()
                    .flatten()
            })
            .as_ref()
    }

    /// Applies the pack's overrides and controls; false when the rule is disabled.
    fn finish_rule(
        r: &mut Rule,
        overrides: &[OverrideSource],
        controls: &BTreeMap<String, Vec<String>>,
    ) -> bool {
        for o in overrides.iter().filter(|o| o.id == r.id) {
            if o.disabled == Some(true) {
                return false;
            }
            if let Some(e) = o.effect.as_deref().and_then(Effect::parse) {
                r.effect = e;
            }
            if let Some(s) = o.severity.as_deref().and_then(Severity::parse) {
                r.severity = SeverityRule::Fixed(s);
            }
            if let Some(g) = &o.approver_group {
                r.approver_group = Some(g.clone());
            }
        }
        crate::policy::compile::apply_controls(r, controls);
        true
    }

    fn entry_at<'a>(&'a self, idx: usize, src: &'a PackSource) -> Option<&'a CliEntry> {
        let cell = self.cache.get(idx)?;
        cell.get_or_init(|| {
            let name = self.index.name(idx)?;
            let e = src.cli.as_ref()?.table.get(name)?.to_source().ok()?;
            // validated when the pack was compiled; a failure here leaves the program
            // without an entry only if validation and compilation disagree
            let mut entry = compile_entry(name, e, &self.group).ok()?;
            // overrides and controls are the pack's, read from its source
            let (o, c) = (&src.overrides, &src.controls);
            entry.rows.retain_mut(|row| {
                let keep = Self::finish_rule(&mut row.rule, o, c);
                if let Some(u) = row.unconfirmed.as_mut() {
                    Self::finish_rule(u, o, c);
                }
                keep
            });
            Some(Box::new(entry))
        })
        .as_deref()
    }

    /// Every entry, compiled (for listings).
    pub fn entries<'a>(&'a self, src: &'a PackSource) -> Vec<&'a CliEntry> {
        (0..self.index.len())
            .filter_map(|i| self.entry_at(i, src))
            .collect()
    }

    /// The entry for a (lowercased) program name.
    pub fn entry<'a>(&'a self, program: &str, src: &'a PackSource) -> Option<&'a CliEntry> {
        self.entry_at(self.index.find(program)?, src)
    }

    /// Does the table have an entry for this program (without compiling it)?
    pub fn knows(&self, program: &str) -> bool {
        self.index.find(program).is_some()
    }

    pub fn is_empty(&self, src: &PackSource) -> bool {
        self.index.len() == 0 && self.unknown(src).is_none()
    }
}

fn has_special(p: &str) -> bool {
    p.contains(['*', '?', '[', '{', '\\'])
}

/// Checks what `compile_entry` would reject, without building anything.
fn validate_entry(
    program: &str,
    e: &CliSource,
    overrides: &[OverrideSource],
) -> Result<(), PolicyError> {
    let ctx = format!("cli.table.{program}");
    match e.flags_position.as_deref() {
        None | Some("anywhere") | Some("before_operands") => {}
        Some(o) => return Err(bad(&ctx, format!("unknown flags_position `{o}`"))),
    }
    if e.max_depth.is_some_and(|d| d > MAX_DEPTH) {
        return Err(bad(&ctx, format!("max_depth above {MAX_DEPTH}")));
    }
    let eff = effect_of(e.effect.as_deref(), Effect::Block, &ctx)?;
    severity_of(e.severity.as_deref(), eff, &ctx)?;
    let check_path = |p: &str| -> Result<(), PolicyError> {
        let words: Vec<&str> = p.split_whitespace().collect();
        if words.len() > MAX_PATH {
            return Err(bad(
                &ctx,
                format!("path `{p}` has more than {MAX_PATH} words"),
            ));
        }
        for w in words.iter().filter(|w| **w != "**" && has_special(w)) {
            Glob::new_case_insensitive(w).map_err(|x| bad(&ctx, format!("path `{p}`: {x}")))?;
        }
        Ok(())
    };
    for p in e.dry_run_paths.keys() {
        check_path(p)?;
    }
    for v in &e.verbs {
        let rctx = format!("{ctx} `{}`", v.path);
        let id = v.rule.as_deref().or(e.rule.as_deref()).ok_or_else(|| {
            bad(
                &rctx,
                "the row names no rule id (set `rule` on the row or the entry)",
            )
        })?;
        let eff = effect_of(
            v.effect.as_deref().or(e.effect.as_deref()),
            Effect::Block,
            &rctx,
        )?;
        severity_of(v.severity.as_deref().or(e.severity.as_deref()), eff, &rctx)?;
        if let Some(u) = v.unconfirmed.as_deref() {
            effect_of(Some(u), eff, &rctx)?;
        }
        check_path(&v.path)?;
        for g in v.options.values().flatten().filter(|g| has_special(g)) {
            Glob::new_case_insensitive(g).map_err(|x| bad(&rctx, x))?;
        }
        for g in v.operands.iter().filter(|g| has_special(g)) {
            Glob::text(g).map_err(|x| bad(&rctx, x))?;
        }
        for g in v.options.values().flatten().chain(&v.operands) {
            if g.is_empty() {
                return Err(bad(&rctx, "empty pattern"));
            }
        }
        for o in overrides.iter().filter(|o| o.id == id) {
            if let Some(x) = o.effect.as_deref() {
                effect_of(Some(x), eff, &format!("override `{}`", o.id))?;
            }
        }
    }
    Ok(())
}

/// An invocation parsed on its table entry's terms. It is made once per simple command
/// (`parse`, kept in the command's facts) and read by the operand matchers, `judge` and
/// `sql_texts`.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Why the invocation does nothing (`help`, `dry run`), if it does nothing.
    harmless: Option<&'static str>,
    /// Positional words, lowercased for path matching.
    words: Vec<String>,
    /// The same, as written.
    raw_words: Vec<String>,
    /// The words without those right after a bare option the entry does not know, which
    /// may be that option's value (`--filter delete`). Rows match either list, so neither
    /// a missing value option nor a missing boolean flag in the table hides a verb.
    strict_words: Vec<String>,
    strict_raw: Vec<String>,
    /// Every flag (long ones lowercased, `--x=v` as `--x`, clusters expanded and raw).
    flags: Vec<String>,
    /// Flags that count for help and dry run (see `harmless_flag`).
    harmless_candidates: Vec<(String, Option<String>)>,
    /// Options and their values.
    options: Vec<(String, String)>,
}

fn is_short(want: &str) -> bool {
    want.len() == 2 && want.starts_with('-')
}

/// Flag comparison: single-letter flags are case-sensitive, long ones are not.
fn same_flag(have: &str, want: &str) -> bool {
    if is_short(want) {
        have == want
    } else {
        have.eq_ignore_ascii_case(want)
    }
}

fn listed(list: &[String], flag: &str) -> bool {
    list.iter().any(|x| same_flag(flag, x))
}

/// A dry-run flag given an explicit negative value (`--dry-run=none`) is not a dry run.
fn negative(v: Option<&str>) -> bool {
    v.is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "none" | "false" | "0" | "no" | "off"
        )
    })
}

impl CliEntry {
    fn takes_value(&self, name: &str) -> bool {
        listed(&self.value_options, name) || listed(&self.text_options, name)
    }

    /// Flags the entry knows not to take a value, so a help flag after them counts.
    fn known_boolean(&self, name: &str) -> bool {
        self.all_boolean
            || listed(&self.boolean_flags, name)
            || listed(&self.confirm_flags, name)
            || listed(&self.help_flags, name)
            || listed(&self.dry_run_flags, name)
            || self.dry_run_paths.iter().any(|(_, f)| listed(f, name))
            || self
                .rows
                .iter()
                .any(|r| listed(&r.flags_any, name) || listed(&r.flags_none, name))
    }

    fn parse(&self, inv: &Invocation) -> Parsed {
        let mut p = self.parse_args(inv);
        p.harmless = self.harmless(&p);
        p
    }

    /// The facts' parse of their invocation (see `parse`), or one made here for facts
    /// made without it.
    fn parsed<'f>(&self, facts: &'f CommandFacts<'_>) -> Cow<'f, Parsed> {
        match &facts.table_args {
            Some(p) => Cow::Borrowed(p),
            None => Cow::Owned(self.parse(facts.inv)),
        }
    }

    fn parse_args(&self, inv: &Invocation) -> Parsed {
        let mut p = Parsed::default();
        let argv = inv.argv.get(1..).unwrap_or(&[]);
        let mut i = 0usize;
        let mut end = false;
        // whether the previous token may have been an option waiting for its value
        let mut prev_open = false;
        let mut seen_operand = false;
        while let Some(a) = argv.get(i) {
            i = i.saturating_add(1);
            let v = a.value.as_str();
            if end || !v.starts_with('-') || v == "-" || a.dynamic {
                p.words.push(v.to_ascii_lowercase());
                p.raw_words.push(v.to_string());
                if !prev_open {
                    p.strict_words.push(v.to_ascii_lowercase());
                    p.strict_raw.push(v.to_string());
                }
                seen_operand = true;
                prev_open = false;
                continue;
            }
            if v == "--" {
                end = true;
                continue;
            }
            let counts = !prev_open && (self.anywhere || !seen_operand);
            if v.starts_with("--") || self.long_single_dash {
                let (name, val) = match v.split_once('=') {
                    Some((n, x)) => (n.to_ascii_lowercase(), Some(x.to_string())),
                    None => (v.to_ascii_lowercase(), None),
                };
                if counts {
                    p.harmless_candidates.push((name.clone(), val.clone()));
                }
                prev_open = false;
                match val {
                    Some(x) => p.options.push((name.clone(), x)),
                    None if self.takes_value(&name) => {
                        if let Some(next) = argv.get(i) {
                            p.options.push((name.clone(), next.value.clone()));
                            i = i.saturating_add(1);
                        }
                    }
                    None => prev_open = !self.known_boolean(&name),
                }
                p.flags.push(name);
                continue;
            }
            // short option or cluster
            if self.takes_value(v) {
                if let Some(next) = argv.get(i) {
                    p.options.push((v.to_string(), next.value.clone()));
                    i = i.saturating_add(1);
                }
                p.flags.push(v.to_string());
                prev_open = false;
                continue;
            }
            p.flags.push(v.to_string());
            let body = v.get(1..).unwrap_or("");
            let mut open = false;
            for (k, c) in body.char_indices() {
                let f = format!("-{c}");
                if counts {
                    p.harmless_candidates.push((f.clone(), None));
                }
                let value_here = self.takes_value(&f);
                p.flags.push(f.clone());
                if value_here {
                    let rest = body.get(k.saturating_add(c.len_utf8())..).unwrap_or("");
                    if !rest.is_empty() {
                        p.options.push((f, rest.to_string()));
                    } else if let Some(next) = argv.get(i) {
                        p.options.push((f, next.value.clone()));
                        i = i.saturating_add(1);
                    }
                    break;
                }
                open = !self.known_boolean(&f);
            }
            prev_open = open;
        }
        p
    }

    fn has_flag(p: &Parsed, want: &[String]) -> bool {
        want.iter().any(|w| p.flags.iter().any(|f| same_flag(f, w)))
    }

    /// Why this invocation does nothing: `help` or `dry run`.
    fn harmless(&self, p: &Parsed) -> Option<&'static str> {
        if p.words.first().is_some_and(|w| self.help_words.contains(w)) {
            return Some("help");
        }
        let cand = |list: &[String], dry: bool| {
            p.harmless_candidates
                .iter()
                .any(|(f, v)| listed(list, f) && !(dry && negative(v.as_deref())))
        };
        if cand(&self.help_flags, false) {
            return Some("help");
        }
        if cand(&self.dry_run_flags, true) {
            return Some("dry run");
        }
        for (path, flags) in &self.dry_run_paths {
            if match_path(path, &p.words, self.max_depth).is_some() && cand(flags, true) {
                return Some("dry run");
            }
        }
        None
    }
}

/// Matches `path` at the start of `words`; returns how many words it took.
fn match_path(path: &[PathElem], words: &[String], budget: usize) -> Option<usize> {
    let Some((first, rest)) = path.split_first() else {
        return Some(0);
    };
    match first {
        PathElem::Word(g) => {
            let w = words.first()?;
            if !g.matches(w) {
                return None;
            }
            let tail = words.get(1..).unwrap_or(&[]);
            match_path(rest, tail, budget).map(|n| n.saturating_add(1))
        }
        PathElem::Any => {
            // fewest group words first; only words shaped like subcommands are group words
            for skip in 0..=budget.min(words.len()) {
                if words
                    .get(..skip)
                    .is_some_and(|ws| ws.iter().all(|w| subcommand_like(w)))
                {
                    let tail = words.get(skip..).unwrap_or(&[]);
                    if let Some(n) = match_path(rest, tail, budget.saturating_sub(skip)) {
                        return Some(n.saturating_add(skip));
                    }
                }
            }
            None
        }
    }
}

/// A word that can be a subcommand: lowercase letters, digits, `-`, `_`, `:`.
fn subcommand_like(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && w.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | ':'))
}

/// Standard input is not the terminal: a prompt would be answered (or fail) unseen.
fn stdin_fed(inv: &Invocation) -> bool {
    !matches!(inv.stdin, Stdin::Inherit)
}

impl CliRow {
    /// The words the row matched (as written), if it matches.
    fn matches<'a>(&self, e: &CliEntry, p: &'a Parsed) -> Option<&'a [String]> {
        self.matches_words(e, p, &p.words, &p.raw_words)
            .or_else(|| self.matches_words(e, p, &p.strict_words, &p.strict_raw))
    }

    fn matches_words<'a>(
        &self,
        e: &CliEntry,
        p: &Parsed,
        words: &[String],
        raw: &'a [String],
    ) -> Option<&'a [String]> {
        let n = match_path(&self.path, words, e.max_depth)?;
        if !self.flags_any.is_empty() && !CliEntry::has_flag(p, &self.flags_any) {
            return None;
        }
        if CliEntry::has_flag(p, &self.flags_none) {
            return None;
        }
        if !self.options.is_empty()
            && !self.options.iter().any(|(name, globs)| {
                p.options
                    .iter()
                    .any(|(k, v)| same_flag(k, name) && globs.iter().any(|g| g.matches(v)))
            })
        {
            return None;
        }
        if !self.operands.is_empty() {
            let ops = raw.get(n..).unwrap_or(&[]);
            if !ops
                .iter()
                .any(|o| self.operands.iter().any(|g| g.matches(o)))
            {
                return None;
            }
        }
        raw.get(..n)
    }
}

/// What the table says about one simple command.
#[derive(Debug, Default)]
pub struct CliVerdict<'p> {
    /// The invocation only prints help or is a dry run: no command rule applies to it.
    pub harmless: Option<&'static str>,
    /// Rules raised by rows (or by the rule for unknown CLIs), with what matched.
    pub hits: Vec<(&'p Rule, String)>,
}

/// Looks the command up in the pack's CLI table.
pub fn judge<'p>(pack: &'p CompiledPack, facts: &CommandFacts<'_>) -> CliVerdict<'p> {
    let table = &pack.cli;
    let mut out = CliVerdict::default();
    let inv = facts.inv;
    if inv.dynamic_program || facts.program.is_empty() {
        return out;
    }
    if let Some(e) = table.entry(&facts.program, &pack.normalized.pack) {
        let p = e.parsed(facts);
        out.harmless = p.harmless;
        if out.harmless.is_some() {
            return out;
        }
        let confirmed = CliEntry::has_flag(&p, &e.confirm_flags) || stdin_fed(inv);
        // rows with `sql_operands` only feed the SQL rules (see `sql_texts`)
        for row in e.rows.iter().filter(|r| !r.sql_operands) {
            if let Some(matched) = row.matches(e, &p) {
                let words = matched.join(" ");
                let r = match (&row.unconfirmed, confirmed) {
                    (Some(u), false) => u,
                    _ => &row.rule,
                };
                out.hits.push((r, format!("`{} {words}`", e.program)));
            }
        }
        return out;
    }
    // programs CAVRA knows otherwise (built-in or pack program specs) have their own rules
    // a script named by path is judged by its content (`scripts.rs`), not by its words
    // (checked first: the rule is compiled on first use)
    if facts.spec.is_some() || facts.program.contains(['/', '\\']) {
        return out;
    }
    let Some(u) = table.unknown(&pack.normalized.pack) else {
        return out;
    };
    // the lists of the rule come from the source the table was compiled from
    let Some(src) = pack
        .normalized
        .pack
        .cli
        .as_ref()
        .and_then(|c| c.unknown.as_deref())
    else {
        return out;
    };
    if u.excepts(src, &facts.program) {
        return out;
    }
    judge_unknown(u, src, facts, &mut out);
    out
}

impl UnknownCli {
    /// Is `program` one of the rule's `except_programs` (`src` is the rule's source)?
    fn excepts(&self, src: &CliUnknownSource, program: &str) -> bool {
        src.except_programs
            .iter()
            .any(|p| p.eq_ignore_ascii_case(program) && !p.contains(GLOB_SPECIAL))
            || self.except_globs.iter().any(|g| g.matches(program))
    }
}

fn judge_unknown<'p>(
    u: &'p UnknownCli,
    src: &CliUnknownSource,
    facts: &CommandFacts<'_>,
    out: &mut CliVerdict<'p>,
) {
    let inv = facts.inv;
    let mut words = Vec::new();
    let mut flags: Vec<&str> = Vec::new();
    for a in inv.argv.iter().skip(1) {
        let v = a.value.as_str();
        if v == "--" {
            break;
        }
        if v.starts_with('-') && v != "-" && !a.dynamic {
            let name = v.split_once('=').map_or(v, |(n, _)| n);
            flags.push(name);
        } else if words.len() < u.max_depth {
            words.push(v);
        }
    }
    let help = flags.iter().any(|f| {
        matches!(
            f.to_ascii_lowercase().as_str(),
            "--help" | "-h" | "-?" | "--dry-run" | "--dryrun" | "--what-if" | "--whatif"
        )
    }) || words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("help"));
    if help {
        // no prompt for a help or dry run; other rules (file accesses) still apply
        return;
    }
    let confirmed = flags
        .iter()
        .any(|f| src.confirm_flags.iter().any(|c| same_flag(f, c)))
        || stdin_fed(inv);
    if !confirmed {
        return;
    }
    let verb = words
        .iter()
        .take_while(|w| subcommand_like(&w.to_ascii_lowercase()))
        .find(|w| is_verb(&src.verbs, &w.to_ascii_lowercase()));
    if let Some(w) = verb {
        out.hits.push((&u.rule, format!("`{} {w}`", facts.program)));
    }
}

/// `delete`, `delete-bucket`, `db:drop`, `force_delete` are verbs; `deleted` is not
/// (`word` is lowercased; the verbs are compared without regard to ASCII case).
fn is_verb(verbs: &[String], word: &str) -> bool {
    let parts: Vec<&str> = word.split([':', '-', '_', '.']).collect();
    let first = parts.first().copied().unwrap_or("");
    let last = parts.last().copied().unwrap_or("");
    verbs.iter().any(|v| {
        v.eq_ignore_ascii_case(word)
            || v.eq_ignore_ascii_case(first)
            || v.eq_ignore_ascii_case(last)
    })
}

/// `inv` parsed on the terms of the program's table entry, if it has one.
pub fn parse(pack: &CompiledPack, program: &str, inv: &Invocation) -> Option<Parsed> {
    pack.cli
        .entry(program, &pack.normalized.pack)
        .map(|e| e.parse(inv))
}

impl Parsed {
    /// The positional words as written (values of the entry's value options removed).
    pub fn operands(&self) -> &[String] {
        &self.raw_words
    }
}

/// Is this access one of the invocation's redirections or its `< file`?
pub fn is_redirect_access(inv: &Invocation, a: &super::command::FileAccess) -> bool {
    inv.redirects.iter().any(|r| r.target.value == a.written)
        || matches!(&inv.stdin, Stdin::File(f) if f.value == a.written)
}

/// SQL a table entry carries in its query options (`snow sql -q`) or operands (`bq query`).
pub fn sql_texts(pack: &CompiledPack, facts: &CommandFacts<'_>) -> Vec<String> {
    if !pack.cli.knows(&facts.program) {
        return vec![];
    }
    let Some(e) = pack.cli.entry(&facts.program, &pack.normalized.pack) else {
        return vec![];
    };
    let p = e.parsed(facts);
    if p.harmless.is_some() {
        return vec![];
    }
    let mut out: Vec<String> = p
        .options
        .iter()
        .filter(|(k, _)| listed(&e.sql_options, k))
        .map(|(_, v)| v.clone())
        .collect();
    for row in e.rows.iter().filter(|r| r.sql_operands) {
        if let Some(n) = match_path(&row.path, &p.words, e.max_depth) {
            let ops = p.raw_words.get(n..).unwrap_or(&[]);
            if !ops.is_empty() {
                out.push(ops.join(" "));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(t: &mut CliTableSource, k: String, v: CliSource) {
        t.insert(k, v.into());
    }

    fn section() -> CliSection {
        let mut s = CliSection::default();
        insert(
            &mut s.table,
            "gh".into(),
            CliSource {
                rule: Some("git.hosting.admin".into()),
                value_options: vec!["-R".into(), "--repo".into(), "-X".into(), "--method".into()],
                text_options: vec!["--title".into(), "-t".into(), "--body".into()],
                confirm_flags: vec!["--yes".into(), "-y".into()],
                help_flags: Some(vec!["--help".into(), "-h".into()]),
                verbs: vec![
                    CliVerbSource {
                        path: "repo delete".into(),
                        ..Default::default()
                    },
                    CliVerbSource {
                        path: "api".into(),
                        options: [
                            ("--method".into(), vec!["delete".into()]),
                            ("-X".into(), vec!["DELETE".into()]),
                        ]
                        .into_iter()
                        .collect(),
                        ..Default::default()
                    },
                    CliVerbSource {
                        path: "release delete".into(),
                        unconfirmed: Some("require_approval".into()),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        );
        insert(
            &mut s.table,
            "gcloud".into(),
            CliSource {
                rule: Some("commands.cloud.gcloud".into()),
                verbs: vec![CliVerbSource {
                    path: "** delete".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        s.unknown = Some(
            CliUnknownSource {
                rule: "commands.cli.unknown_destructive".into(),
                verbs: vec!["delete".into(), "drop".into(), "destroy".into()],
                confirm_flags: vec!["--yes".into(), "-y".into(), "--force".into()],
                except_programs: vec!["conda".into()],
                ..Default::default()
            }
            .into(),
        );
        s
    }

    fn verdict(cmd: &str) -> (Option<&'static str>, Vec<(String, Effect)>) {
        let mut pack = crate::policy::bundled::compiled(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline");
        pack.cli = CliTable::compile(Some(&section()), "Owners", &[], &Default::default(), true)
            .expect("compiles");
        pack.normalized.pack.cli = Some(section());
        with_facts(&pack, cmd, |f| {
            let v = judge(&pack, &f);
            (
                v.harmless,
                v.hits
                    .iter()
                    .map(|(r, _)| (r.id.clone(), r.effect))
                    .collect(),
            )
        })
    }

    /// `f` of the facts of the last simple command of `cmd` under `pack`.
    fn with_facts<T>(pack: &CompiledPack, cmd: &str, f: impl FnOnce(CommandFacts<'_>) -> T) -> T {
        let a = cavra_shell::analyze(cmd, &Default::default());
        let ctx = crate::paths::PathContext::default();
        let an = super::super::command::Analyzer {
            pack,
            ctx: &ctx,
            branch: None,
            git_line: Default::default(),
        };
        let inv = a.invocations.last().expect("a command");
        f(an.facts(inv, &a.invocations))
    }

    fn ids(cmd: &str) -> Vec<String> {
        verdict(cmd).1.into_iter().map(|(i, _)| i).collect()
    }

    type Seen = (Option<&'static str>, Vec<(String, String)>, Vec<String>);

    /// What `judge` and `sql_texts` make of `f`.
    fn seen(pack: &CompiledPack, f: &CommandFacts<'_>) -> Seen {
        let v = judge(pack, f);
        let hits = v.hits.iter().map(|(r, w)| (r.id.clone(), w.clone()));
        (v.harmless, hits.collect(), sql_texts(pack, f))
    }

    #[test]
    fn the_facts_parse_once_and_judge_as_a_parse_of_their_own() {
        let pack = crate::policy::bundled::compiled(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline");
        let cases = [
            ("gh repo delete acme/app --yes", false, true, false),
            ("gh repo delete acme/app --help", true, false, false),
            ("git clean -n -fd", true, false, false),
            ("cargo test -p core", false, false, false),
            ("snow sql -q 'drop table t'", false, false, true),
            ("bq query 'DROP TABLE d.t'", false, false, true),
            ("ls -la", false, false, false),
        ];
        for (cmd, harmless, hit, sql) in cases {
            let (parsed, known, once, again) = with_facts(&pack, cmd, |mut f| {
                let (parsed, known) = (f.table_args.is_some(), pack.cli.knows(&f.program));
                let once = seen(&pack, &f);
                // facts made without the parse: each reader parses, to the same answer
                f.table_args = None;
                (parsed, known, once, seen(&pack, &f))
            });
            assert_eq!(parsed, known, "{cmd}");
            assert_eq!(
                (once.0.is_some(), !once.1.is_empty(), !once.2.is_empty()),
                (harmless, hit, sql),
                "{cmd}: {once:?}"
            );
            assert_eq!(again, once, "{cmd}");
        }
    }

    #[test]
    fn rows_match_the_subcommand_path_not_free_text() {
        assert_eq!(ids("gh repo delete x --yes"), vec!["git.hosting.admin"]);
        assert_eq!(ids("gh -R o/r repo delete x"), vec!["git.hosting.admin"]);
        assert!(ids("gh pr create --title 'Add widget repo delete endpoint'").is_empty());
        assert!(ids("gh search code 'gh repo delete'").is_empty());
        assert!(ids("gh repo view delete").is_empty());
    }

    #[test]
    fn option_values_select_rows() {
        assert_eq!(ids("gh api -X DELETE repos/o/r"), vec!["git.hosting.admin"]);
        assert_eq!(ids("gh api -XDELETE repos/o/r"), vec!["git.hosting.admin"]);
        assert_eq!(
            ids("gh api --method=delete repos/o/r"),
            vec!["git.hosting.admin"]
        );
        assert!(ids("gh api -X GET repos/o/r").is_empty());
        assert!(ids("gh api repos/o/r/pulls").is_empty());
    }

    #[test]
    fn any_group_words() {
        assert_eq!(
            ids("gcloud projects delete p"),
            vec!["commands.cloud.gcloud"]
        );
        assert_eq!(
            ids("gcloud compute instances delete vm-1 --zone z"),
            vec!["commands.cloud.gcloud"]
        );
        assert!(ids("gcloud compute instances describe delete-me").is_empty());
        assert!(ids("gcloud compute instances list --filter=delete").is_empty());
        // a bare option the entry does not know: its value or a word, either way
        assert_eq!(
            ids("gcloud --unknown p projects delete x"),
            vec!["commands.cloud.gcloud"]
        );
        assert_eq!(
            ids("gh --unknown v repo delete x"),
            vec!["git.hosting.admin"]
        );
        assert_eq!(ids("gh repo --unknown delete x"), vec!["git.hosting.admin"]);
    }

    #[test]
    fn help_and_dry_run_are_harmless_wherever_the_flag_sits() {
        assert_eq!(verdict("gh repo delete x --yes --help").0, Some("help"));
        assert_eq!(verdict("gh --help repo delete x").0, Some("help"));
        assert_eq!(verdict("gh help repo delete").0, Some("help"));
        assert_eq!(verdict("gh repo delete -h").0, Some("help"));
        // a help flag that may be the value of an unknown option does not count
        assert_eq!(verdict("gh api -X DELETE x --jq --help").0, None);
        assert_eq!(
            ids("gh api -X DELETE x --jq --help"),
            vec!["git.hosting.admin"]
        );
        // after `--` it is an operand
        assert_eq!(verdict("gh repo delete x -- --help").0, None);
        // unknown CLIs
        assert!(ids("mycli delete thing --yes --help").is_empty());
    }

    #[test]
    fn unconfirmed_rows_ask_less() {
        assert_eq!(
            verdict("gh release delete v1 --yes").1,
            vec![("git.hosting.admin".to_string(), Effect::Block)]
        );
        assert_eq!(
            verdict("gh release delete v1").1,
            vec![("git.hosting.admin".to_string(), Effect::RequireApproval)]
        );
        // stdin fed by a pipe answers the prompt
        assert_eq!(
            verdict("yes | gh release delete v1").1,
            vec![("git.hosting.admin".to_string(), Effect::Block)]
        );
    }

    #[test]
    fn unknown_clis_ask_for_non_interactive_destructive_verbs() {
        assert_eq!(
            ids("mycli delete thing --yes"),
            vec!["commands.cli.unknown_destructive"]
        );
        assert_eq!(
            ids("mycli db:drop -y"),
            vec!["commands.cli.unknown_destructive"]
        );
        assert_eq!(
            ids("mycli delete-bucket b --force"),
            vec!["commands.cli.unknown_destructive"]
        );
        assert!(ids("mycli delete thing").is_empty(), "it prompts");
        assert!(ids("mycli deleted --yes").is_empty());
        assert!(ids("mycli list --yes").is_empty());
        assert!(ids("conda remove -y numpy").is_empty());
        assert!(ids("mycli create 'delete me' --yes").is_empty());
        // programs CAVRA knows have their own rules
        assert!(ids("cargo remove serde --yes").is_empty());
    }

    #[test]
    fn is_verb_segments() {
        let v = vec!["delete".to_string(), "drop".to_string()];
        assert!(is_verb(&v, "delete"));
        assert!(is_verb(&v, "delete-bucket"));
        assert!(is_verb(&v, "db:drop"));
        assert!(is_verb(&v, "force_delete"));
        assert!(!is_verb(&v, "deleted"));
        assert!(!is_verb(&v, "dropbox"));
    }

    #[test]
    fn bad_rows_are_errors() {
        let mut s = CliSection::default();
        insert(
            &mut s.table,
            "x".into(),
            CliSource {
                verbs: vec![CliVerbSource {
                    path: "a".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        assert!(
            CliTable::compile(Some(&s), "g", &[], &Default::default(), true).is_err(),
            "no rule id"
        );
        let mut s2 = CliSection::default();
        insert(
            &mut s2.table,
            "x".into(),
            CliSource {
                rule: Some("r".into()),
                verbs: vec![CliVerbSource {
                    path: "a b c d e f g h i".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        assert!(
            CliTable::compile(Some(&s2), "g", &[], &Default::default(), true).is_err(),
            "path too long"
        );
    }

    use crate::model::Outcome;

    fn child(yaml: &str) -> crate::policy::CompiledPack {
        let src = crate::policy::parse_pack("child.yaml", yaml).expect("parses");
        crate::policy::compile::compile(src, &crate::policy::BundledResolver).expect("compiles")
    }

    fn decide(pack: &crate::policy::CompiledPack, cmd: &str) -> (Outcome, String) {
        let req = crate::model::ActionRequest {
            action: Some(crate::model::ActionType::ExecuteCommand),
            target: cmd.into(),
            cwd: Some("/home/dev/app".into()),
            repo_root: Some("/home/dev/app".into()),
            home: Some("/home/dev".into()),
            ..Default::default()
        };
        let d = crate::guard::evaluate(pack, &req, &Default::default());
        (d.decision, d.rule_id)
    }

    #[test]
    fn packs_inherit_override_and_extend_the_table() {
        let base = crate::policy::bundled::compiled(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline");
        assert_eq!(decide(&base, "gh repo delete x --yes").0, Outcome::Block);
        // an override by rule id reaches table rows
        let p = child(
            "metadata: {id: cavra-child, extends: cavra-coding-baseline}\noverrides:\n  - {id: git.hosting.admin, effect: require_approval}\n",
        );
        assert_eq!(
            decide(&p, "gh repo delete x --yes"),
            (Outcome::RequireApproval, "git.hosting.admin".into())
        );
        let p = child(
            "metadata: {id: cavra-child, extends: cavra-coding-baseline}\noverrides:\n  - {id: git.hosting.admin, disabled: true}\n",
        );
        assert_eq!(decide(&p, "gh repo delete x --yes").0, Outcome::Allow);
        // a child adds a CLI by adding rows; the parent's entries stay
        let p = child(concat!(
            "metadata: {id: cavra-child, extends: cavra-coding-baseline}\n",
            "cli:\n  table:\n    deployctl:\n      rule: deploy.destroy\n",
            "      value_options: [--env]\n      verbs:\n        - {path: \"env destroy\"}\n",
        ));
        assert_eq!(
            decide(&p, "deployctl --env prod env destroy"),
            (Outcome::Block, "deploy.destroy".into())
        );
        assert_eq!(decide(&p, "deployctl env list").0, Outcome::Allow);
        assert_eq!(decide(&p, "deployctl env destroy --help").0, Outcome::Allow);
        assert_eq!(decide(&p, "gh repo delete x --yes").0, Outcome::Block);
        // controls by rule-id prefix reach table rows
        let entries = base.cli.entries(&base.normalized.pack);
        let r = entries
            .iter()
            .flat_map(|e| e.rows.iter())
            .map(|row| &row.rule)
            .find(|r| r.id == "commands.cloud.gcloud")
            .expect("a gcloud row");
        assert!(!r.controls.is_empty(), "commands.cloud controls apply");
    }

    /// The index `build.rs` wrote for a bundled table is the one `CliTable` builds for any
    /// other table, and a bundled table is used as is only while it is unchanged.
    #[test]
    fn the_build_time_index_is_the_run_time_one() {
        for (id, _) in crate::policy::bundled::PACKS {
            let p = crate::policy::bundled::compiled(id).expect("bundled pack compiles");
            let table = &p.normalized.pack.cli.as_ref().expect("cli section").table;
            let built = cli_index::build(table.iter().map(|(k, e)| (k, e.aliases())));
            match &p.cli.index {
                CliIndex::Bundled(b) => {
                    let fixed: Vec<(String, usize)> =
                        b.index.iter().map(|(n, i)| (n.to_string(), *i)).collect();
                    assert_eq!(fixed, built, "{id}");
                    assert_eq!(b.names, table.keys().collect::<Vec<_>>());
                }
                CliIndex::Built { .. } => panic!("{id}: the bundled table is not used as is"),
            }
            // every bundled pack inherits the baseline's table unchanged
            assert!(p.cli.knows("git") && p.cli.knows("oc") && p.cli.knows("podman"));
            assert!(!p.cli.knows("ls"));
        }
        // a child that replaces an entry gets an index of its own: `oc` was the baseline
        // kubectl entry's alias, the child's entry has none
        let p = child(concat!(
            "metadata: {id: cavra-child, extends: cavra-coding-baseline}\n",
            "cli:\n  table:\n    kubectl:\n      rule: commands.k8s\n",
            "      verbs:\n        - {path: nuke}\n",
        ));
        assert!(matches!(p.cli.index, CliIndex::Built { .. }));
        assert!(p.cli.knows("kubectl") && p.cli.knows("podman") && !p.cli.knows("oc"));
        assert_eq!(
            decide(&p, "kubectl nuke"),
            (Outcome::Block, "commands.k8s".into())
        );
        assert_eq!(decide(&p, "oc nuke").0, Outcome::Allow);
        let base = crate::policy::bundled::compiled(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline");
        assert_ne!(decide(&base, "oc delete ns prod").0, Outcome::Allow);
        // the same entries under the index built at run time decide the same
        let mut built = base.clone();
        let table = &built
            .normalized
            .pack
            .cli
            .as_ref()
            .expect("cli section")
            .table;
        built.cli.index = CliIndex::Built {
            names: table.keys().map(str::to_string).collect(),
            by_name: cli_index::build(table.iter().map(|(k, e)| (k, e.aliases()))),
        };
        built.cli.cache = (0..built.cli.index.len())
            .map(|_| OnceLock::new())
            .collect();
        for cmd in [
            "oc delete ns prod",
            "podman system prune -af",
            "git status",
            "git push --force origin main",
            "cargo yank --version 1.0.0",
            "terragrunt destroy",
            "gh repo delete x --yes",
        ] {
            assert_eq!(decide(&built, cmd), decide(&base, cmd), "{cmd}");
        }
    }

    /// A bundled pack's source holds the static table until something changes it; the same
    /// entries as a map are the same table (lookup, equality, serialization).
    #[test]
    fn a_bundled_table_is_its_static_until_changed() {
        let src = crate::policy::bundled::source(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline source");
        let t = &src.cli.as_ref().expect("cli section").table;
        let b = t.as_bundled().expect("the static table");
        assert_eq!(t.len(), b.names.len());
        assert!(t.len() > 40, "{}", t.len());
        let copy: CliTableSource = t.iter().map(|(k, e)| (k.to_string(), e.clone())).collect();
        assert!(copy.as_bundled().is_none());
        assert_eq!(copy, *t);
        assert_eq!(*t, copy);
        assert_eq!(
            serde_json::to_string(&copy).expect("serializes"),
            serde_json::to_string(t).expect("serializes")
        );
        for k in t.keys() {
            assert!(t.contains_key(k), "{k}");
            assert_eq!(t.get(k), copy.get(k), "{k}");
        }
        assert!(t.get("ls").is_none() && !copy.contains_key("ls"));
        assert!(t.get("").is_none() && t.get("zzz").is_none());
        // a change makes it a map of its own, the other entries unchanged
        let mut changed = t.clone();
        assert_eq!(changed, *t);
        changed.insert("zz-tool".into(), CliSource::default().into());
        assert!(changed.as_bundled().is_none());
        assert_eq!(changed.len(), t.len() + 1);
        assert_ne!(changed, *t);
        assert!(t.keys().all(|k| changed.get(k) == t.get(k)));
        let old = changed.insert("gh".into(), CliSource::default().into());
        assert_eq!(old.as_ref(), t.get("gh"));
    }

    /// The rule for unknown CLIs of a bundled pack, compiled on first use, is the one a
    /// validated compile builds with the pack, and decides the same.
    #[test]
    fn the_unknown_rule_compiled_on_first_use_is_the_validated_one() {
        let fast = crate::policy::bundled::compiled(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline");
        let src = crate::policy::bundled::source(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline source");
        let slow = crate::policy::compile::compile(src, &crate::policy::BundledResolver)
            .expect("compiles");
        assert!(
            fast.cli.unknown.get().is_none(),
            "not compiled with the pack"
        );
        assert!(slow.cli.unknown.get().is_some(), "compiled with the pack");
        assert_eq!(decide(&fast, "ls -la"), decide(&slow, "ls -la"));
        assert!(
            fast.cli.unknown.get().is_none(),
            "`ls` has a spec: no rule compiled"
        );
        let cmd = "mytool delete everything --yes";
        assert_eq!(
            decide(&fast, cmd).1,
            "commands.cli.unknown_destructive",
            "{cmd}"
        );
        assert_eq!(decide(&fast, cmd), decide(&slow, cmd));
        for cmd in [
            "mytool build --out dist",
            "mytool purge cache",
            "conda remove x -y",
        ] {
            assert_eq!(decide(&fast, cmd), decide(&slow, cmd), "{cmd}");
        }
        let (a, b) = (
            fast.cli.unknown(&fast.normalized.pack).expect("rule"),
            slow.cli.unknown(&slow.normalized.pack).expect("rule"),
        );
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn policy_diff_reports_table_changes() {
        let base = crate::policy::bundled::compiled(crate::policy::bundled::DEFAULT_PACK)
            .expect("baseline");
        let p = child(concat!(
            "metadata: {id: cavra-child, extends: cavra-coding-baseline}\n",
            "cli:\n  table:\n    gh:\n      rule: git.hosting.admin\n      verbs: []\n",
        ));
        let d = crate::policy::diff::diff(&base, &p);
        assert!(d.loosens, "{:?}", d.settings);
        assert!(d
            .settings
            .iter()
            .any(|s| s.contains("cli.table.gh: row `repo delete`")));
        let d = crate::policy::diff::diff(&base, &base);
        assert!(!d.loosens && d.settings.iter().all(|s| !s.starts_with("cli")));
    }
}
