//! Settings shared by every subcommand, resolved once from global flags and environment.

use std::io::IsTerminal;
use std::path::PathBuf;

/// Resolved global settings.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Machine-readable output requested.
    pub json: bool,
    /// Colour allowed (stdout is a TTY and NO_COLOR unset).
    pub color: bool,
    /// The project's CAVRA directory (`.cavra` by default).
    pub cavra_dir: PathBuf,
}

impl Ctx {
    pub fn new(json: bool, cavra_dir: Option<PathBuf>) -> Self {
        let color =
            !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let cavra_dir = cavra_dir
            .or_else(|| std::env::var_os("CAVRA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(".cavra"));
        Ctx {
            json,
            color,
            cavra_dir,
        }
    }
}
