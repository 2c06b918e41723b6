//! The build's identity, as `cavra version --json` prints it.

use serde::{Deserialize, Serialize};

/// What this binary is and how it was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub name: String,
    pub version: String,
    /// `git rev-parse HEAD` of the source, `unknown` when built without git.
    pub git_commit: String,
    /// The cargo profile (`debug` or `release`).
    pub profile: String,
    /// The target triple.
    pub target: String,
    pub rustc: String,
    /// The cargo features of the binary that are on.
    pub features: Vec<String>,
}

impl BuildInfo {
    /// This build, with the binary's features (cavra-cli's, which this crate cannot see).
    pub fn current(features: &[&str]) -> Self {
        BuildInfo {
            name: "cavra".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("CAVRA_GIT_COMMIT").into(),
            profile: env!("CAVRA_BUILD_PROFILE").into(),
            target: env!("CAVRA_BUILD_TARGET").into(),
            rustc: env!("CAVRA_RUSTC").into(),
            features: features.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// One line per field.
    pub fn text(&self) -> String {
        let features = match self.features.is_empty() {
            true => "(none)".to_string(),
            false => self.features.join(", "),
        };
        format!(
            "{} {}\ncommit   {}\nprofile  {}\ntarget   {}\nrustc    {}\nfeatures {features}\n",
            self.name, self.version, self.git_commit, self.profile, self.target, self.rustc
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_build_is_described() {
        let b = BuildInfo::current(&["postgres"]);
        assert_eq!(b.version, env!("CARGO_PKG_VERSION"));
        assert!(
            b.git_commit == "unknown"
                || (b.git_commit.len() == 40
                    && b.git_commit.bytes().all(|c| c.is_ascii_hexdigit())),
            "{}",
            b.git_commit
        );
        assert!(
            ["debug", "release"].contains(&b.profile.as_str()),
            "{}",
            b.profile
        );
        assert!(b.target.contains('-'), "{}", b.target);
        assert!(b.rustc.starts_with("rustc "), "{}", b.rustc);
        assert!(b.text().contains("features postgres\n"), "{}", b.text());
        let back: BuildInfo = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back, b);
    }
}
