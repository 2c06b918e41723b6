//! The `cavra` command line as a library: the binary (`src/main.rs`) parses arguments and
//! dispatches here; the fuzz targets (`fuzz/`) drive the agent adapters directly.

pub mod args;
pub mod cmd;
pub mod control;
pub mod ctx;
pub mod failclosed;
pub mod output;
pub mod packs;

/// When the process entered `main` (for `CAVRA_TIMING=1` phase timings on stderr).
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Prints a phase timing to stderr when `CAVRA_TIMING` is set.
pub fn timing(phase: &str) {
    if std::env::var_os("CAVRA_TIMING").is_some() {
        if let Some(t) = STARTED.get() {
            eprintln!("timing: {phase} at {:?} since main", t.elapsed());
        }
    }
}
