//! The `dozerc` binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dozerc::cli::Cli::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    match dozerc::cli::main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
