//! [`SetupError`]: every failure names the file it concerns. A file CAVRA cannot parse, or
//! whose shape it does not expect, is refused untouched ("CAVRA changed nothing"). The
//! underlying I/O error is part of the message (`cannot write `…`: <reason>`), so the text
//! reads the same however the front end prints it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("$HOME is not set; cannot find user-scope agent settings")]
    NoHome,
    #[error("GitHub Copilot CLI loads hooks from the repository's `.github/hooks/*.json` only; install with `--project` inside the repository")]
    CopilotUserScope,
    #[error("cannot find the path of the running cavra binary: {0}")]
    CurrentExe(String),
    #[error("`{}` is not valid JSON at line {line}, column {column}: {message}; fix or move the file, CAVRA changed nothing", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{}` must hold a JSON object at the top level; CAVRA changed nothing", path.display())]
    NotAnObject { path: PathBuf },
    /// `at` is ` at line L, column C` when the parser knows where.
    #[error("`{}` is not valid TOML{at}: {message}; fix or move the file, CAVRA changed nothing", path.display())]
    Toml {
        path: PathBuf,
        at: String,
        message: String,
    },
    /// A key CAVRA edits holds something else than it expects (`expected`: "a JSON object").
    #[error("`{key}` in `{}` is not {expected}; CAVRA changed nothing", path.display())]
    Shape {
        key: String,
        path: PathBuf,
        expected: String,
    },
    #[error("cannot {action} `{}`: {err}", path.display())]
    Io {
        action: IoAction,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("cannot back up `{}` to `{}`: {err}", from.display(), to.display())]
    Backup {
        from: PathBuf,
        to: PathBuf,
        err: std::io::Error,
    },
    #[error("cannot encode `{}`: {message}", path.display())]
    Encode { path: PathBuf, message: String },
}

/// What CAVRA was doing to a file when the I/O failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoAction {
    Read,
    Write,
    Replace,
    Remove,
    /// Creating the directory a settings file goes in.
    CreateDir,
    /// Creating the directory of a starter `.cavra/` file.
    Create,
}

impl std::fmt::Display for IoAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IoAction::Read => "read",
            IoAction::Write => "write",
            IoAction::Replace => "replace",
            IoAction::Remove => "remove",
            IoAction::CreateDir => "create directory",
            IoAction::Create => "create",
        })
    }
}

impl SetupError {
    pub(crate) fn io(
        action: IoAction,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |err| SetupError::Io {
            action,
            path: path.to_path_buf(),
            err,
        }
    }

    pub(crate) fn shape(
        key: impl Into<String>,
        path: &std::path::Path,
        expected: impl Into<String>,
    ) -> Self {
        SetupError::Shape {
            key: key.into(),
            path: path.to_path_buf(),
            expected: expected.into(),
        }
    }
}
