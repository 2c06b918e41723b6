//! Approval routing (which approver group decides a request) and RBAC (who belongs to a
//! group and what they may do). Both are YAML files (JSON is accepted too, being YAML)
//! under `<cavra_dir>/approvals/`:
//!
//! - `routing.yaml`: `default_group` and an ordered list of `routes`; the first route
//!   whose criteria (`repo`, `target`/`path`, `rule_id`, `action_type`, `severity`, all
//!   globs, all optional) match the request gives its `group`.
//! - `rbac.yaml`: `groups: {<group>: {members: [...], permissions: [approve, deny,
//!   break_glass]}}`. When the file exists, only listed members with the permission may act.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::StoreError;
use crate::glob::glob_match;

/// One routing rule. Every present criterion must match (glob); absent ones match all.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default, alias = "path")]
    pub target: Option<String>,
    #[serde(default)]
    pub rule_id: Option<String>,
    #[serde(default)]
    pub action_type: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    /// The approver group for matching requests.
    pub group: String,
}

/// The routing file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    /// Group used when no route matches (else the engine's group is kept).
    #[serde(default)]
    pub default_group: Option<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// What routing looks at.
#[derive(Debug, Clone, Copy)]
pub struct RouteQuery<'a> {
    pub repo: Option<&'a str>,
    pub target: &'a str,
    pub rule_id: &'a str,
    pub action_type: &'a str,
    pub severity: &'a str,
}

fn crit(pattern: &Option<String>, value: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(p) => value.is_some_and(|v| glob_match(p, v)),
    }
}

impl Routing {
    /// The group for a request: first matching route, else `default_group`, else `None`.
    pub fn route(&self, q: &RouteQuery<'_>) -> Option<&str> {
        self.routes
            .iter()
            .find(|r| {
                crit(&r.repo, q.repo)
                    && crit(&r.target, Some(q.target))
                    && crit(&r.rule_id, Some(q.rule_id))
                    && crit(&r.action_type, Some(q.action_type))
                    && crit(&r.severity, Some(q.severity))
            })
            .map(|r| r.group.as_str())
            .or(self.default_group.as_deref())
    }

    /// Parse routing YAML/JSON text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Routing, StoreError> {
        let r: Routing = parse_config(text, path)?;
        for (i, route) in r.routes.iter().enumerate() {
            if route.group.trim().is_empty() {
                return Err(StoreError::Config {
                    path: path.to_path_buf(),
                    detail: format!("routes[{i}].group is empty"),
                });
            }
            // a pattern that is not a glob would silently never match: refuse the file
            for (field, pattern) in [
                ("repo", &route.repo),
                ("target", &route.target),
                ("rule_id", &route.rule_id),
                ("action_type", &route.action_type),
                ("severity", &route.severity),
            ] {
                if let Some(p) = pattern.as_deref().filter(|p| !p.is_empty()) {
                    if let Err(e) = cavra_core::glob::Glob::new(p) {
                        return Err(StoreError::Config {
                            path: path.to_path_buf(),
                            detail: format!("routes[{i}].{field}: {e}"),
                        });
                    }
                }
            }
        }
        Ok(r)
    }
}

/// An action an approver may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Approve,
    Deny,
    #[serde(alias = "break-glass")]
    BreakGlass,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Approve => "approve",
            Permission::Deny => "deny",
            Permission::BreakGlass => "break-glass",
        }
    }
}

/// One approver group in the RBAC file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupRbac {
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default = "default_permissions")]
    pub permissions: Vec<Permission>,
}

fn default_permissions() -> Vec<Permission> {
    vec![Permission::Approve, Permission::Deny]
}

/// The RBAC file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rbac {
    #[serde(default)]
    pub groups: BTreeMap<String, GroupRbac>,
}

impl Rbac {
    /// May `identity` take `perm` for requests of `group`?
    pub fn allows(&self, identity: &str, group: &str, perm: Permission) -> bool {
        self.groups.get(group).is_some_and(|g| {
            g.permissions.contains(&perm) && g.members.iter().any(|m| m == identity)
        })
    }

    /// May `identity` take `perm` in any group? (break-glass not tied to a request)
    pub fn allows_any(&self, identity: &str, perm: Permission) -> bool {
        self.groups
            .values()
            .any(|g| g.permissions.contains(&perm) && g.members.iter().any(|m| m == identity))
    }

    /// Parse RBAC YAML/JSON text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Rbac, StoreError> {
        parse_config(text, path)
    }
}

/// Routing and RBAC loaded together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApprovalConfig {
    pub routing: Option<Routing>,
    pub rbac: Option<Rbac>,
}

impl ApprovalConfig {
    /// Load `<cavra_dir>/approvals/routing.{yaml,yml,json}` and `rbac.{yaml,yml,json}`;
    /// absent files mean "no routing" / "no RBAC". A malformed file is an error.
    pub fn load(cavra_dir: &Path) -> Result<ApprovalConfig, StoreError> {
        let dir = cavra_dir.join("approvals");
        let routing = match find(&dir, "routing") {
            Some(p) => Some(Routing::parse(&read(&p)?, &p)?),
            None => None,
        };
        let rbac = match find(&dir, "rbac") {
            Some(p) => Some(Rbac::parse(&read(&p)?, &p)?),
            None => None,
        };
        Ok(ApprovalConfig { routing, rbac })
    }
}

fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["yaml", "yml", "json"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .find(|p| p.exists())
}

fn read(path: &Path) -> Result<String, StoreError> {
    std::fs::read_to_string(path).map_err(|e| StoreError::Config {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Parse YAML (or JSON) into a typed config, with the file path in every error.
pub(crate) fn parse_config<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, StoreError> {
    let cfg_err = |detail: String| StoreError::Config {
        path: path.to_path_buf(),
        detail,
    };
    // the workspace's one YAML loader: caps on size, nesting and alias expansion
    let (value, _) = cavra_core::policy::yaml::parse(text)
        .map_err(|e| cfg_err(format!("line {}, column {}: {}", e.line, e.col, e.message)))?;
    let value = match value {
        serde_json::Value::Null => serde_json::Value::Object(serde_json::Map::new()),
        v => v,
    };
    if !value.is_object() {
        return Err(cfg_err("expected a mapping at the top level".into()));
    }
    serde_json::from_value(value).map_err(|e| cfg_err(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn routing_first_match_wins_and_default() {
        let text = r#"
default_group: Repository Owners
routes:
  - rule_id: "filesystem.write.*"
    path: "infra/**"
    group: Platform Security
  - repo: "acme/*"
    group: Acme Owners
"#;
        let r = Routing::parse(text, Path::new("routing.yaml")).expect("valid routing");
        let q = |repo, target, rule| RouteQuery {
            repo,
            target,
            rule_id: rule,
            action_type: "write_file",
            severity: "high",
        };
        assert_eq!(
            r.route(&q(
                None,
                "infra/x/main.tf",
                "filesystem.write.require_approval"
            )),
            Some("Platform Security")
        );
        assert_eq!(
            r.route(&q(
                Some("acme/web"),
                "src/a.rs",
                "filesystem.write.require_approval"
            )),
            Some("Acme Owners")
        );
        assert_eq!(
            r.route(&q(None, "src/a.rs", "commands.default.require_approval")),
            Some("Repository Owners")
        );
    }

    #[test]
    fn malformed_files_are_clear_errors() {
        // regression (core glob): a malformed pattern is a config error, not a dead route
        let e = Routing::parse(
            "routes:\n  - target: \"infra/[abc\"\n    group: Platform\n",
            Path::new("r.yaml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("routes[0].target"), "{e}");
        let e = Routing::parse("routes: [ {group: }", Path::new("r.yaml")).unwrap_err();
        assert!(e.to_string().contains("r.yaml"), "{e}");
        let e = Routing::parse("routes:\n  - grp: x\n", Path::new("r.yaml")).unwrap_err();
        assert!(e.to_string().contains("grp"), "{e}");
        let e = Rbac::parse(
            "groups:\n  A:\n    permissions: [fly]\n",
            Path::new("b.yaml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("fly"), "{e}");
        let e = Rbac::parse("- a\n- b\n", Path::new("b.yaml")).unwrap_err();
        assert!(e.to_string().contains("mapping"), "{e}");
    }

    #[test]
    fn rbac_membership_and_permissions() {
        let text = r#"{"groups": {"Platform Security": {"members": ["alice"], "permissions": ["approve", "break_glass"]}, "Owners": {"members": ["bob"]}}}"#;
        let r = Rbac::parse(text, Path::new("rbac.json")).expect("valid rbac");
        assert!(r.allows("alice", "Platform Security", Permission::Approve));
        assert!(!r.allows("alice", "Platform Security", Permission::Deny));
        assert!(!r.allows("bob", "Platform Security", Permission::Approve));
        assert!(r.allows("bob", "Owners", Permission::Deny));
        assert!(r.allows_any("alice", Permission::BreakGlass));
        assert!(!r.allows_any("bob", Permission::BreakGlass));
    }
}
