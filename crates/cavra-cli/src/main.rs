//! The `cavra` binary: parse arguments, dispatch to one module per subcommand, map the
//! result to an exit code (0 ok/allow, 1 usage or error, 2 blocked or held).

use cavra_cli::{cmd, failclosed, output, timing, STARTED};
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

/// `cavra hook …`: never fails open. A panic, an argument error, an error out of `run` or a
/// decision past the watchdog's deadline all answer deny in the agent's protocol with exit 2
/// (see `failclosed`).
fn hook_main(args: &[String]) -> ! {
    let agent = failclosed::agent_from_args(args);
    failclosed::install_panic_hook(agent);
    failclosed::start_watchdog(agent);
    // the common forms are parsed by hand: building clap's parser costs more than a whole
    // decision; anything unusual goes through clap
    let h = match cmd::HookCli::parse_fast(args) {
        Some(h) => h,
        None => match cmd::HookCli::try_parse_from(args) {
            Ok(h) => h,
            Err(e) => {
                use clap::error::ErrorKind;
                if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                    // shown to the person who asked; still exit 2, so that a hook configured
                    // with `--help` never reads as "proceed"
                    let _ = e.print();
                    std::process::exit(failclosed::EXIT_BLOCK);
                }
                let (why, _) = output::split_usage_error(&e.render().to_string());
                failclosed::fail_closed(
                    agent,
                    &format!("CAVRA failed closed: the hook command line is invalid ({why}); the action was not allowed"),
                );
            }
        },
    };
    timing("arguments parsed");
    match h.run() {
        Ok(code) if code == 0 || code == failclosed::EXIT_BLOCK => std::process::exit(code),
        Ok(code) => failclosed::fail_closed(
            agent,
            &format!(
                "CAVRA failed closed: the hook ended with code {code}; the action was not allowed"
            ),
        ),
        Err(err) => failclosed::fail_closed(
            agent,
            &format!("CAVRA failed closed: {err:#}; the action was not allowed"),
        ),
    }
}

fn main() {
    let _ = STARTED.set(std::time::Instant::now());
    let args: Vec<String> = std::env::args().collect();
    if is_hook_call(&args) {
        hook_main(&args);
    }
    // a closed stdout (`cavra … | head`) ends the process quietly instead of panicking
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info.to_string();
        if msg.contains("Broken pipe") || msg.contains("failed printing to stdout") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    // `--json` anywhere before `--`: errors are JSON on stdout too, with the same exit codes
    let json = args
        .iter()
        .skip(1)
        .take_while(|a| a.as_str() != "--")
        .any(|a| a == "--json");
    let cli = match cmd::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                std::process::exit(0);
            }
            if json {
                let (message, hint) = output::split_usage_error(&e.render().to_string());
                println!("{}", output::json_error("usage", &message, hint.as_deref()));
            } else {
                let _ = e.print();
            }
            std::process::exit(output::EXIT_ERROR);
        }
    };
    let code = match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if json {
                println!("{}", output::json_error("error", &format!("{err:#}"), None));
            } else {
                eprintln!("cavra: error: {err:#}");
            }
            output::EXIT_ERROR
        }
    };
    std::process::exit(code);
}
