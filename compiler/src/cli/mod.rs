//! The `dozerc` command line: build | run | check | clean.

mod build;
mod clean;
mod paths;
mod run;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use build::build;
pub use paths::Paths;

#[derive(Parser, Debug)]
#[command(
    name = "dozerc",
    version,
    about = "Compiles a Dozer pipeline (dozer-config.yaml) into a Rust crate that serves live APIs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Emit the pipeline's crate (default: <home_dir>/build/<app_name>).
    Build {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
        /// Where to write the crate.
        #[arg(short, long)]
        out_dir: Option<PathBuf>,
    },
    /// Build the crate with cargo and run it in the foreground (Ctrl-C stops it cleanly).
    Run {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
        /// A fast debug build instead of an optimized one.
        #[arg(long)]
        dev: bool,
        /// Flags passed to the pipeline binary (after `--`), e.g. `-- --rest-port 9000`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Validate the config and SQL without emitting anything.
    Check {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
    },
    /// Remove the emitted crate and the cache (<home_dir>/build and <home_dir>/cache).
    Clean {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
    },
}

/// Runs a parsed command line; errors are already rendered for the terminal.
pub fn main(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Build { config, out_dir } => build::build(&config, out_dir.as_deref()).map(|_| ()),
        Command::Run { config, dev, args } => run::run(&config, dev, &args),
        Command::Check { config } => build::check(&config),
        Command::Clean { config } => clean::clean(&config),
    }
}
