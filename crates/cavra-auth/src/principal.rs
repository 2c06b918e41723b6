//! Who a request comes from, once authenticated: [`Principal`], with its CAVRA roles and
//! the repositories it may act on, built from an OIDC token's groups by [`RoleMap`] (or
//! from one of the server's own bearer tokens by [`Principal::token`]).

use std::collections::{BTreeMap, BTreeSet};

use cavra_store::{Permission, Rbac};
use serde::{Deserialize, Serialize};

/// A CAVRA role. `admin` holds every other role's rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Approver,
    Auditor,
    Agent,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Approver, Role::Auditor, Role::Agent];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Agent => "agent",
        }
    }

    /// `admin|approver|auditor|agent`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the principal was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A JWT from the configured OIDC issuer, verified against its JWKS.
    Oidc,
    /// One of the server's own bearer tokens (`cavra tokens issue`).
    Token,
}

/// The repositories a principal may act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Repositories {
    /// No repository limit (no `repositories:` mapping, an admin, a server token).
    All,
    /// Only repositories matching one of these globs (`acme/*`); empty: none.
    Only(Vec<String>),
}

/// An authenticated identity, what the server's role checks look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The token's `sub` (or the server token's name).
    pub subject: String,
    /// The token's `email`, unless the token says `email_verified: false`.
    pub email: Option<String>,
    /// The `iss` of an OIDC token.
    pub issuer: Option<String>,
    pub roles: BTreeSet<Role>,
    /// The IdP groups of the token (sorted, deduplicated).
    pub groups: Vec<String>,
    pub repositories: Repositories,
    pub method: AuthMethod,
}

impl Principal {
    /// The principal of one of the server's own bearer tokens: one role, no repository
    /// limit, no groups.
    pub fn token(subject: &str, role: Role) -> Principal {
        Principal {
            subject: subject.to_string(),
            email: None,
            issuer: None,
            roles: BTreeSet::from([role]),
            groups: Vec::new(),
            repositories: Repositories::All,
            method: AuthMethod::Token,
        }
    }

    /// The identity approvals record and self-approval is checked against: the email when
    /// there is one, else the subject.
    pub fn identity(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }

    /// Does the principal hold `role` (directly, or by being an admin)?
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role) || self.roles.contains(&Role::Admin)
    }

    /// May the principal act on repository `repo` (`owner/name`)?
    pub fn may_access_repo(&self, repo: &str) -> bool {
        match &self.repositories {
            Repositories::All => true,
            Repositories::Only(patterns) => patterns.iter().any(|p| {
                // patterns were checked when the config loaded; a bad one matches nothing
                cavra_core::glob::Glob::new(p).is_ok_and(|g| g.matches(repo))
            }),
        }
    }

    /// May the principal take `perm` for requests routed to the approver `group` of the
    /// RBAC file (cavra-store's `Rbac`, docs/approvals.md)? Yes when the group has the
    /// permission and the principal is a member: listed by identity (email or subject) in
    /// `members`, or holding an IdP group of the same name. The role check (`approver`)
    /// is the caller's, as is the requester-is-not-the-approver rule (the store's).
    pub fn may_decide(&self, rbac: &Rbac, group: &str, perm: Permission) -> bool {
        let by_identity = rbac.allows(&self.subject, group, perm)
            || self
                .email
                .as_deref()
                .is_some_and(|e| rbac.allows(e, group, perm));
        let by_idp_group = self.groups.iter().any(|g| g == group)
            && rbac
                .groups
                .get(group)
                .is_some_and(|g| g.permissions.contains(&perm));
        by_identity || by_idp_group
    }

    /// The RBAC file as the store's rules should see it for this principal: every RBAC
    /// group named like one of the principal's IdP groups lists the principal's identity
    /// among its `members`, so the store's check ([`Rbac::allows`] on
    /// [`Principal::identity`]) gives the same answer as [`Principal::may_decide`].
    /// Nothing else changes: permissions, other groups and other members stay as written.
    pub fn rbac_view(&self, rbac: &Rbac) -> Rbac {
        let mut out = rbac.clone();
        let identity = self.identity().to_string();
        for (name, group) in out.groups.iter_mut() {
            if self.groups.iter().any(|g| g == name) && !group.members.contains(&identity) {
                group.members.push(identity.clone());
            }
        }
        out
    }
}

/// IdP groups → roles and repositories (the `roles:` and `repositories:` of the `oidc:`
/// section).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleMap {
    roles: BTreeMap<Role, BTreeSet<String>>,
    repositories: Option<BTreeMap<String, Vec<String>>>,
}

impl RoleMap {
    pub fn new(
        roles: &BTreeMap<Role, Vec<String>>,
        repositories: Option<&BTreeMap<String, Vec<String>>>,
    ) -> RoleMap {
        RoleMap {
            roles: roles
                .iter()
                .map(|(r, gs)| (*r, gs.iter().cloned().collect()))
                .collect(),
            repositories: repositories.cloned(),
        }
    }

    /// The roles granted by these groups.
    pub fn roles_of(&self, groups: &[String]) -> BTreeSet<Role> {
        self.roles
            .iter()
            .filter(|(_, gs)| groups.iter().any(|g| gs.contains(g)))
            .map(|(r, _)| *r)
            .collect()
    }

    /// The repositories of these groups (admins and a config without `repositories:`:
    /// all).
    pub fn repositories_of(&self, groups: &[String], roles: &BTreeSet<Role>) -> Repositories {
        let Some(map) = &self.repositories else {
            return Repositories::All;
        };
        if roles.contains(&Role::Admin) {
            return Repositories::All;
        }
        let patterns: BTreeSet<String> = groups
            .iter()
            .filter_map(|g| map.get(g))
            .flatten()
            .cloned()
            .collect();
        Repositories::Only(patterns.into_iter().collect())
    }

    /// The principal of a verified OIDC token.
    pub fn principal(
        &self,
        subject: String,
        email: Option<String>,
        issuer: String,
        groups: Vec<String>,
    ) -> Principal {
        let groups: Vec<String> = groups
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let roles = self.roles_of(&groups);
        let repositories = self.repositories_of(&groups, &roles);
        Principal {
            subject,
            email,
            issuer: Some(issuer),
            roles,
            groups,
            repositories,
            method: AuthMethod::Oidc,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::path::Path;

    fn map(with_repos: bool) -> RoleMap {
        let roles = BTreeMap::from([
            (Role::Admin, vec!["cavra-admins".to_string()]),
            (
                Role::Approver,
                vec!["platform-security".to_string(), "web-owners".to_string()],
            ),
            (Role::Auditor, vec!["auditors".to_string()]),
            (Role::Agent, vec!["ci-bots".to_string()]),
        ]);
        let repos = BTreeMap::from([
            ("platform-security".to_string(), vec!["**".to_string()]),
            (
                "web-owners".to_string(),
                vec!["acme/web".to_string(), "acme/web-*".to_string()],
            ),
        ]);
        RoleMap::new(&roles, with_repos.then_some(&repos))
    }

    fn p(groups: &[&str], with_repos: bool) -> Principal {
        map(with_repos).principal(
            "u1".into(),
            Some("carol@example.com".into()),
            "https://idp".into(),
            groups.iter().map(|g| g.to_string()).collect(),
        )
    }

    #[test]
    fn groups_map_to_roles() {
        let carol = p(&["web-owners", "auditors", "web-owners", "unrelated"], true);
        assert_eq!(carol.roles, BTreeSet::from([Role::Approver, Role::Auditor]));
        assert_eq!(carol.groups, vec!["auditors", "unrelated", "web-owners"]);
        assert!(carol.has_role(Role::Approver) && !carol.has_role(Role::Admin));
        assert!(!carol.has_role(Role::Agent));
        assert_eq!(carol.method, AuthMethod::Oidc);
        assert_eq!(carol.identity(), "carol@example.com");

        let bot = p(&["ci-bots"], true);
        assert_eq!(bot.roles, BTreeSet::from([Role::Agent]));
        assert!(!bot.has_role(Role::Approver), "an agent never approves");

        let admin = p(&["cavra-admins"], true);
        assert!(Role::ALL.iter().all(|r| admin.has_role(*r)));

        assert!(p(&["nobody"], true).roles.is_empty());
        assert!(p(&[], true).roles.is_empty());
    }

    #[test]
    fn groups_map_to_repositories() {
        let carol = p(&["web-owners"], true);
        assert!(carol.may_access_repo("acme/web"));
        assert!(carol.may_access_repo("acme/web-admin"));
        assert!(!carol.may_access_repo("acme/payments"));
        assert!(!carol.may_access_repo("acme/web/extra"));
        let sec = p(&["platform-security"], true);
        assert!(sec.may_access_repo("acme/payments"));
        let admin = p(&["cavra-admins"], true);
        assert_eq!(admin.repositories, Repositories::All);
        let none = p(&["auditors"], true);
        assert_eq!(none.repositories, Repositories::Only(vec![]));
        assert!(!none.may_access_repo("acme/web"));
        // no `repositories:` mapping: no limit
        assert!(p(&["auditors"], false).may_access_repo("acme/web"));
    }

    fn rbac() -> Rbac {
        Rbac::parse(
            r#"
groups:
  Platform Security:
    members: [alice@example.com]
    permissions: [approve, deny, break_glass]
  web-owners:
    permissions: [approve]
"#,
            Path::new("rbac.yaml"),
        )
        .unwrap()
    }

    #[test]
    fn rbac_membership_by_identity_or_idp_group() {
        let rbac = rbac();
        let mut alice = p(&[], true);
        alice.email = Some("alice@example.com".into());
        assert!(alice.may_decide(&rbac, "Platform Security", Permission::BreakGlass));
        assert!(!alice.may_decide(&rbac, "web-owners", Permission::Approve));
        let carol = p(&["web-owners"], true);
        assert!(carol.may_decide(&rbac, "web-owners", Permission::Approve));
        assert!(!carol.may_decide(&rbac, "web-owners", Permission::Deny));
        assert!(!carol.may_decide(&rbac, "Platform Security", Permission::Approve));
        assert!(!carol.may_decide(&rbac, "no such group", Permission::Approve));
        // the subject counts as an identity too
        let mut bob = p(&[], true);
        bob.subject = "alice@example.com".into();
        bob.email = None;
        assert!(bob.may_decide(&rbac, "Platform Security", Permission::Approve));
    }

    #[test]
    fn the_rbac_view_agrees_with_may_decide() {
        let rbac = rbac();
        let carol = p(&["web-owners", "unrelated"], true);
        let view = carol.rbac_view(&rbac);
        assert!(view.allows("carol@example.com", "web-owners", Permission::Approve));
        assert!(!view.allows("carol@example.com", "web-owners", Permission::Deny));
        assert!(!view.allows(
            "carol@example.com",
            "Platform Security",
            Permission::Approve
        ));
        assert!(
            !view.groups.contains_key("unrelated"),
            "no group is invented"
        );
        for (group, perm) in [
            ("web-owners", Permission::Approve),
            ("web-owners", Permission::Deny),
            ("Platform Security", Permission::Approve),
        ] {
            assert_eq!(
                view.allows(carol.identity(), group, perm),
                carol.may_decide(&rbac, group, perm),
                "{group} {perm:?}"
            );
        }
        // others are untouched
        assert!(view.allows("alice@example.com", "Platform Security", Permission::Deny));
        assert!(!view.allows("mallory@example.com", "web-owners", Permission::Approve));
        // a principal with no IdP group sees the file as written
        assert_eq!(p(&[], true).rbac_view(&rbac), rbac);
    }

    #[test]
    fn server_tokens_and_role_names() {
        let t = Principal::token("ci", Role::Agent);
        assert_eq!(t.method, AuthMethod::Token);
        assert_eq!(t.identity(), "ci");
        assert!(t.has_role(Role::Agent) && !t.has_role(Role::Approver));
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["method"], "token");
        assert_eq!(json["roles"][0], "agent");
        assert_eq!(json["repositories"], "all");
    }
}
