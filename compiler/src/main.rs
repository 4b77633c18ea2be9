//! The `dozerc` binary.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dozerc::cli::Cli::parse();
    match dozerc::cli::main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
