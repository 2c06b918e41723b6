//! The `cavra` binary: parse arguments, dispatch to one module per subcommand, map the
//! result to an exit code (0 ok/allow, 1 usage or error, 2 blocked or held).

mod cmd;
mod ctx;
mod decide;
mod output;
mod packs;

use clap::Parser;

fn main() {
    let cli = match cmd::Cli::try_parse() {
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
