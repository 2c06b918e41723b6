//! The `cavra` binary: parse arguments, dispatch to one module per subcommand, map the
//! result to an exit code (0 ok/allow, 1 usage or error, 2 blocked or held).

mod agents;
mod cmd;
mod ctx;
mod decide;
mod output;
mod packs;

use clap::Parser;

/// Is this a `cavra [--cavra-dir D] [--json] hook …` call? The hook runs on every tool call
/// of every agent, so it skips building the full command-line parser.
fn is_hook_call(args: &[String]) -> bool {
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--cavra-dir" => i += 2,
            "--json" => i += 1,
            a if a.starts_with("--cavra-dir=") => i += 1,
            a => return a == "hook",
        }
    }
    false
}

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

fn main() {
    let _ = STARTED.set(std::time::Instant::now());
    // a closed stdout (`cavra … | head`) ends the process quietly instead of panicking
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.to_string();
        if msg.contains("Broken pipe") || msg.contains("failed printing to stdout") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let args: Vec<String> = std::env::args().collect();
    if is_hook_call(&args) {
        // the common forms are parsed by hand: building clap's parser costs more than a
        // whole decision; anything unusual goes through clap
        if let Some(h) =
            cmd::HookCli::parse_fast(&args).or_else(|| cmd::HookCli::try_parse_from(&args).ok())
        {
            timing("arguments parsed");
            let code = match h.run() {
                Ok(code) => code,
                Err(err) => {
                    eprintln!("cavra: error: {err:#}");
                    2
                }
            };
            std::process::exit(code);
        }
    }
    let cli = match cmd::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let _ = e.print();
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => 1,
            };
            std::process::exit(code);
        }
    };
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("cavra: error: {err:#}");
            1
        }
    };
    std::process::exit(code);
}
