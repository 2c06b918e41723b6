//! The policy pack source format (what a YAML file holds), a superset of the reference
//! CAVRA format. See `docs/policy-format.md` and `schemas/policy-pack.schema.json`.

use super::bundled::BundledCli;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One or many strings (`inherits: a` or `inherits: [a, b]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::None => vec![],
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
    pub fn is_none(&self) -> bool {
        matches!(self, OneOrMany::None)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Reference word for inheritance.
    #[serde(default, skip_serializing_if = "OneOrMany::is_none")]
    pub inherits: OneOrMany,
    /// CAVRA word for inheritance (same meaning as `inherits`).
    #[serde(default, skip_serializing_if = "OneOrMany::is_none")]
    pub extends: OneOrMany,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_read: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_write: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_approval_write: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_approval_read: Vec<String>,
    /// Patterns exempted from the block/approval lists (e.g. `.env.example`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_insensitive: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require_approval: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GitSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pull_request: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_direct_push_to_protected_branch: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_human_reviewer: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_ai_attestation: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protected_branches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct McpSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowlist_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_unknown_servers: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_servers: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub risk_scoring: BTreeMap<String, String>,
}

/// Pack-wide defaults (CAVRA extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// What a command no rule speaks for gets: `allow` or `require_approval`
    /// (the reference behaviour, and the default when a pack has a `commands.allow` list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<String>,
    /// Effect for a command the parser cannot analyse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unparseable_command: Option<String>,
    /// Effect for a server no list or registry knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_unknown_server: Option<String>,
    /// Default approver group for approvals without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_group: Option<String>,
    /// Directories treated as scratch space (not "outside the repository").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temp_dirs: Vec<String>,
    /// Approval validity for approvals this pack asks for, e.g. `1h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_ttl: Option<String>,
    /// Longest break-glass override a person may record under this pack, e.g. `4h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_break_glass_ttl: Option<String>,
    /// Headless: require-approval blocks with an approval id instead of asking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_interactive: Option<bool>,
    /// What a command that runs a script CAVRA could not read gets (`allow` notes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninspected_script: Option<String>,
    /// Put a session on hold after repeated or critical blocked attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationSource>,
}

/// Session escalation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EscalationSource {
    /// Blocks within `window` that put the session on hold (e.g. 5).
    pub max_blocks: u32,
    /// The window, e.g. `10m`.
    pub window: String,
    /// Any critical-severity attempt puts the session on hold.
    #[serde(default)]
    pub hold_on_critical: bool,
}

/// A native rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleSource {
    pub id: String,
    pub effect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    #[serde(rename = "match")]
    pub matcher: MatchSource,
}

/// What a native rule matches: exactly one of the keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MatchSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileMatchSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandMatchSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitMatchSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpMatchSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkMatchSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileMatchSource {
    /// `read`, `write`, `delete` (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// Path classes: `outside_repo`, `system`, `home`, `root`, `temp`, `repo`, `device`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CommandMatchSource {
    /// Program names (globs over the basename), e.g. `[rm, unlink]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub program: Vec<String>,
    /// Subcommand word sequences (space separated globs), e.g. `["iam create-*"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcommand: Vec<String>,
    /// Subcommand word sequences none of which may start the subcommand: the rule matches a
    /// command that has a subcommand outside this list (an allow-list turned around, so an
    /// unknown or future subcommand matches). A command with no subcommand never matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcommand_none: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags_any: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags_all: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags_none: Vec<String>,
    /// Globs over any remaining argument (text mode).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args_any: Vec<String>,
    /// Globs over the positional operands only (after the subcommand; option values are
    /// not operands), e.g. `host:path` of `scp`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operands_any: Vec<String>,
    /// Globs no argument may match for the rule to apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args_none: Vec<String>,
    /// Path classes of path arguments: `root`, `home`, `system`, `outside_repo`,
    /// `repo_root`, `dotgit`, `unknown`, `device`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_class: Vec<String>,
    /// Where standard input comes from: `download`, `decoder`, `any_pipe`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdin: Vec<String>,
    /// Globs over the programs earlier in the pipeline that feed standard input
    /// (`env | curl -d @- …` has `env`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdin_from: Vec<String>,
    /// Globs over arguments the shell expands at run time (`echo "$TOKEN"`, not
    /// `echo '$TOKEN'`, which prints the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expanded_args_any: Vec<String>,
    /// SQL statement kinds found in inline SQL: `drop`, `truncate`, `delete_without_where`,
    /// `update_without_where`, `alter`, `grant`, `flush`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql: Vec<String>,
    /// Globs over the normalized text of the simple command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text: Vec<String>,
    /// Matches a shell or `eval` fed code CAVRA cannot see (e.g. `bash -c "$(curl …)"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_exec: Option<bool>,
    /// Matches when the program name itself is computed at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_program: Option<bool>,
    /// Matches a command that runs a file downloaded earlier in the same command line
    /// (`curl -o f URL && sh f`, `wget URL; chmod +x x; ./x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_download: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct GitMatchSource {
    /// `push`, `delete_ref`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub op: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_with_lease: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<bool>,
    /// The destination branch is not known (e.g. `git push -f` with no refspec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_unknown: Option<bool>,
    /// A push to a remote added or re-pointed on the same command line, or to a URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_remote: Option<bool>,
    /// Uncommitted work in the working tree is discarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discards_work: Option<bool>,
    /// An existing ref is overwritten or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overwrites_ref: Option<bool>,
    /// The subcommand is only known at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcommand_dynamic: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct McpMatchSource {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool: Vec<String>,
    /// Argument name → value globs; the rule matches when any named argument matches.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Vec<String>>,
    /// Matches when a branch-like argument names a protected branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_branch_arg: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NetworkMatchSource {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemes: Vec<String>,
}

/// What a program does with its arguments (CAVRA extension, extends the built-in table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProgramSource {
    /// Options that take a value (`-C`, `--namespace`), so the value is not a positional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_options: Vec<String>,
    /// How many leading positionals form the subcommand (git 1, aws 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcommand_depth: Option<usize>,
    /// Options are single-dash words (`-auto-approve`), not clusters of letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_single_dash: Option<bool>,
    /// What positional arguments are: `read`, `write`, `delete`, `copy` (all but last
    /// read, last written), `move`, `none`, `read_after_first` (grep: pattern then files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    /// Options whose value is a file that is read (`-d @f` is handled for curl).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_options: Vec<String>,
    /// Options whose value is a file that is written (`-o`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write_options: Vec<String>,
    /// What the positional arguments are for one subcommand (`gist create: read`,
    /// `release upload: read_after_first`), overriding `args`; keys are the subcommand
    /// words joined by a space.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subcommand_args: BTreeMap<String, String>,
    /// Options that carry inline SQL (`-c` for psql).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql_options: Vec<String>,
    /// Is this program a downloader (its stdout carries remote content)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloader: Option<bool>,
    /// Is this program a decoder (base64 -d, xxd -r)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoder: Option<bool>,
    /// Does the program execute its stdin as code (sh, bash, python, iex)?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<bool>,
}

/// A wrapper program to look through (CAVRA extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WrapperSource {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options_with_value: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_positionals: Option<usize>,
}

/// A change to an inherited rule (overlay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OverrideSource {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// A policy test case (inline `tests:` or a test file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCaseSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub action: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    pub expect: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

/// A whole pack, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PackSource {
    pub metadata: Metadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<Filesystem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Commands>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Defaults>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<OverrideSource>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub programs: BTreeMap<String, ProgramSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wrappers: Vec<WrapperSource>,
    /// The CLI table: destructive verbs of command-line tools, help and dry-run flags,
    /// free-text options (CAVRA extension, see `docs/commands.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<CliSection>,
    /// Rule-id prefix → control ids (OWASP LLM, NIST AI RMF, SOC 2, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub controls: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestCaseSource>,
}

/// The CLI table (`cli:` in a pack): per program, which subcommand paths are destructive and
/// which flags make an invocation harmless (help, dry run); plus the rule for CLIs the table
/// does not know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CliSection {
    /// Program name → its entry. A child pack's entry replaces the parent's.
    #[serde(default, skip_serializing_if = "CliTableSource::is_empty")]
    pub table: CliTableSource,
    /// A destructive-looking subcommand of a CLI no table entry or program spec knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<CliUnknown>,
}

/// `cli.unknown` as written, read through `Deref`. A bundled pack's is a static built by
/// generated code (`build.rs`) the first time it is read, so loading a bundled pack neither
/// parses nor builds it; equality, serialization (and so the digest) are the rule's.
#[derive(Clone)]
pub struct CliUnknown(UnknownRepr);

#[derive(Clone)]
enum UnknownRepr {
    Owned(Box<CliUnknownSource>),
    Bundled(&'static std::sync::LazyLock<CliUnknownSource>),
}

impl CliUnknown {
    /// A bundled pack's rule, as `build.rs` writes it.
    pub(crate) fn bundled(u: &'static std::sync::LazyLock<CliUnknownSource>) -> Self {
        CliUnknown(UnknownRepr::Bundled(u))
    }
}

impl std::ops::Deref for CliUnknown {
    type Target = CliUnknownSource;

    fn deref(&self) -> &CliUnknownSource {
        match &self.0 {
            UnknownRepr::Owned(u) => u,
            UnknownRepr::Bundled(u) => u,
        }
    }
}

impl From<CliUnknownSource> for CliUnknown {
    fn from(u: CliUnknownSource) -> Self {
        CliUnknown(UnknownRepr::Owned(Box::new(u)))
    }
}

impl std::fmt::Debug for CliUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl PartialEq for CliUnknown {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Serialize for CliUnknown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for CliUnknown {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CliUnknownSource::deserialize(d).map(CliUnknown::from)
    }
}

/// The CLI table as written: program name → entry, in key order (a map).
///
/// A bundled pack's table stays the static one `build.rs` made (keys, entries and index by
/// program name) until a change (a child pack's entry) turns it into a map of its own, so
/// loading a bundled pack builds nothing per entry. Iteration, equality and serialization
/// are those of the map either way (the pack digest does not see the difference).
#[derive(Debug, Clone, Default)]
pub struct CliTableSource {
    /// The bundled table this is, unchanged; `map` is then empty.
    bundled: Option<&'static BundledCli>,
    map: BTreeMap<String, CliEntrySource>,
}

impl CliTableSource {
    /// A bundled pack's table, as built.
    pub(crate) fn from_bundled(t: &'static BundledCli) -> Self {
        CliTableSource {
            bundled: Some(t),
            map: BTreeMap::new(),
        }
    }

    /// The bundled table this table is, while nothing changed it.
    pub(crate) fn as_bundled(&self) -> Option<&'static BundledCli> {
        self.bundled
    }

    pub fn len(&self) -> usize {
        match self.bundled {
            Some(b) => b.names.len(),
            None => self.map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(program, entry)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CliEntrySource)> + '_ {
        let fixed = self
            .bundled
            .into_iter()
            .flat_map(|b| b.names.iter().copied().zip(b.sources.iter()));
        fixed.chain(self.map.iter().map(|(k, v)| (k.as_str(), v)))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn get(&self, program: &str) -> Option<&CliEntrySource> {
        match self.bundled {
            Some(b) => b
                .names
                .binary_search(&program)
                .ok()
                .and_then(|i| b.sources.get(i)),
            None => self.map.get(program),
        }
    }

    pub fn contains_key(&self, program: &str) -> bool {
        self.get(program).is_some()
    }

    /// Adds or replaces the entry for `program` (a bundled table becomes a map of its own).
    pub fn insert(&mut self, program: String, e: CliEntrySource) -> Option<CliEntrySource> {
        if let Some(b) = self.bundled.take() {
            self.map = b
                .names
                .iter()
                .zip(b.sources.iter())
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect();
        }
        self.map.insert(program, e)
    }
}

impl<'a> IntoIterator for &'a CliTableSource {
    type Item = (&'a str, &'a CliEntrySource);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a CliEntrySource)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl FromIterator<(String, CliEntrySource)> for CliTableSource {
    fn from_iter<I: IntoIterator<Item = (String, CliEntrySource)>>(it: I) -> Self {
        CliTableSource {
            bundled: None,
            map: it.into_iter().collect(),
        }
    }
}

impl PartialEq for CliTableSource {
    fn eq(&self, other: &Self) -> bool {
        if let (Some(a), Some(b)) = (self.bundled, other.bundled) {
            if std::ptr::eq(a, b) {
                return true;
            }
        }
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for CliTableSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for CliTableSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(CliTableSource {
            bundled: None,
            map: BTreeMap::deserialize(d)?,
        })
    }
}

/// One program of the CLI table as written, read on first use.
///
/// A hook call touches a few programs of a table of dozens, so an entry is kept as its JSON
/// text until [`CliEntrySource::get`] parses it; a bundled pack's entries are statics made
/// at build time (aliases, JSON text and a constructor of the entry, see `build.rs`).
/// Packs from files are parsed in full when they load (`parse_pack` reports a bad entry
/// with its position); the lazy form is what the bundled packs' fast path uses. Equality,
/// serialization (and so the pack digest) go through the parsed entry: identical to a
/// plain [`CliSource`].
#[derive(Debug, Default)]
pub struct CliEntrySource {
    raw: Option<RawEntry>,
    parsed: std::sync::OnceLock<Result<CliSource, String>>,
}

/// A bundled entry's JSON text and the function generated from it.
#[cfg(test)]
pub(crate) type BundledParts = (&'static str, fn() -> CliSource);

/// The JSON text of an entry not parsed yet.
#[derive(Debug, Clone)]
enum RawEntry {
    /// An entry of a bundled pack's table (made at build time): its aliases, its JSON text
    /// and the function that builds it (generated from that text).
    Bundled {
        aliases: &'static [&'static str],
        json: &'static str,
        build: fn() -> CliSource,
    },
    Owned(Box<serde_json::value::RawValue>),
}

impl RawEntry {
    fn text(&self) -> &str {
        match self {
            RawEntry::Bundled { json, .. } => json,
            RawEntry::Owned(r) => r.get(),
        }
    }
}

impl CliEntrySource {
    /// An entry of a bundled pack's table, as `build.rs` writes it (a `static`).
    pub(crate) const fn bundled(
        aliases: &'static [&'static str],
        json: &'static str,
        build: fn() -> CliSource,
    ) -> Self {
        CliEntrySource {
            raw: Some(RawEntry::Bundled {
                aliases,
                json,
                build,
            }),
            parsed: std::sync::OnceLock::new(),
        }
    }

    /// A bundled entry's JSON text and constructor (for the test that compares them).
    #[cfg(test)]
    pub(crate) fn bundled_parts(&self) -> Option<BundledParts> {
        match &self.raw {
            Some(RawEntry::Bundled { json, build, .. }) => Some((json, *build)),
            _ => None,
        }
    }

    fn parse_raw(&self) -> Result<CliSource, String> {
        match &self.raw {
            // built by code generated from the entry's JSON at build time (no parsing)
            Some(RawEntry::Bundled { build, .. }) => Ok(build()),
            Some(r) => serde_json::from_str(r.text()).map_err(|e| e.to_string()),
            None => Ok(CliSource::default()),
        }
    }

    /// The entry, parsed (once); the error says why it is not a valid entry.
    pub fn get(&self) -> Result<&CliSource, &str> {
        self.parsed
            .get_or_init(|| self.parse_raw())
            .as_ref()
            .map_err(String::as_str)
    }

    /// The entry as a value of its own: a copy when it was parsed already, else parsed
    /// (and not kept: compiling it is its only use on the hook's path).
    pub(crate) fn to_source(&self) -> Result<CliSource, String> {
        match self.parsed.get() {
            Some(p) => p.clone(),
            None => self.parse_raw(),
        }
    }

    /// Other names of the program (without parsing the entry, for a bundled pack); an entry
    /// that does not parse has none (loading the pack reports it).
    pub fn aliases(&self) -> impl Iterator<Item = &str> + '_ {
        let (fixed, parsed): (&[&str], &[String]) = match &self.raw {
            Some(RawEntry::Bundled { aliases, .. }) => (aliases, &[]),
            _ => (
                &[],
                self.get().map(|e| e.aliases.as_slice()).unwrap_or_default(),
            ),
        };
        fixed
            .iter()
            .copied()
            .chain(parsed.iter().map(String::as_str))
    }
}

impl From<CliSource> for CliEntrySource {
    fn from(e: CliSource) -> Self {
        CliEntrySource {
            raw: None,
            parsed: std::sync::OnceLock::from(Ok(e)),
        }
    }
}

impl Clone for CliEntrySource {
    fn clone(&self) -> Self {
        CliEntrySource {
            raw: self.raw.clone(),
            parsed: self.parsed.clone(),
        }
    }
}

impl PartialEq for CliEntrySource {
    fn eq(&self, other: &Self) -> bool {
        match (self.get(), other.get()) {
            (Ok(a), Ok(b)) => a == b,
            (Err(a), Err(b)) => {
                a == b
                    && self.raw.as_ref().map(RawEntry::text)
                        == other.raw.as_ref().map(RawEntry::text)
            }
            _ => false,
        }
    }
}

impl Serialize for CliEntrySource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.get() {
            Ok(e) => e.serialize(s),
            Err(e) => Err(serde::ser::Error::custom(format!(
                "CLI-table entry is not valid: {e}"
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for CliEntrySource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(CliEntrySource {
            raw: Some(RawEntry::Owned(
                Box::<serde_json::value::RawValue>::deserialize(d)?,
            )),
            parsed: std::sync::OnceLock::new(),
        })
    }
}

/// One program of the CLI table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CliSource {
    /// Other names of the same program (`flyctl` for `fly`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Defaults of the rows: rule id, effect, severity, reason, alternative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
    /// Options that take a value, so the value is not a subcommand word or operand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_options: Vec<String>,
    /// Flags known to take no value (`*`: every option not in `value_options`), so a help
    /// or dry-run flag right after one counts (`git push --force --help`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub boolean_flags: Vec<String>,
    /// Options whose value is free text (title, message, body, query): never a command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_options: Vec<String>,
    /// Options whose value is SQL, analysed like `psql -c` (`snow sql -q`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sql_options: Vec<String>,
    /// Flags that answer a prompt (`--yes`, `--force`); rows may ask less without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirm_flags: Vec<String>,
    /// Flags that only print help (default `--help`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_flags: Option<Vec<String>>,
    /// First words that only print help (default `help`: `gh help repo delete`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_words: Option<Vec<String>>,
    /// Flags that make any subcommand a dry run (`-n` for rsync).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run_flags: Vec<String>,
    /// Subcommand path → flags that make that subcommand a dry run (`clean: [-n]` for git).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dry_run_paths: BTreeMap<String, Vec<String>>,
    /// Where help and dry-run flags count: `anywhere` (default; the program parses all
    /// options first) or `before_operands` (getopt that stops at the first operand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags_position: Option<String>,
    /// Options are single-dash words (`-auto-approve`), not clusters of letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_single_dash: Option<bool>,
    /// How many leading words may form a group path before a verb (`**`), default 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// The destructive (or otherwise guarded) subcommands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verbs: Vec<CliVerbSource>,
}

/// One row of the CLI table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CliVerbSource {
    /// Subcommand words, space separated globs; `**` stands for any group words
    /// (`"** delete"` is `projects delete` and `compute instances delete`).
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
    /// The row applies only with one of these flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags_any: Vec<String>,
    /// The row does not apply with any of these flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags_none: Vec<String>,
    /// Option → value globs (case-insensitive); the row applies when one matches
    /// (`--method: [DELETE]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Vec<String>>,
    /// Globs over the operands after the path; one must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operands: Vec<String>,
    /// The operands after the path are SQL, analysed like `psql -c` (`bq query`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_operands: Option<bool>,
    /// Effect when no confirm flag is given and standard input is the terminal (the CLI
    /// prompts); default: the row's effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<String>,
}

/// The rule for CLIs without a table entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CliUnknownSource {
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
    /// Destructive verbs; a subcommand word is one, or starts or ends with one
    /// (`delete-bucket`, `db:drop`).
    pub verbs: Vec<String>,
    /// Flags that mean "run without asking"; one must be present (or stdin is not a
    /// terminal).
    pub confirm_flags: Vec<String>,
    /// How many leading words are looked at, default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// Programs the rule does not apply to (package managers: `conda remove -y`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_programs: Vec<String>,
}
