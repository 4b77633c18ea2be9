//! The `dozerc` command line: build | run | check | clean.

mod build;
mod clean;
mod paths;
mod run;

use crate::catalog::CatalogOptions;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub use build::build;
pub use clean::clean;
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
        /// Read Postgres source schemas from the database again instead of the lock file.
        #[arg(long)]
        refresh_schema: bool,
    },
    /// Build the crate with cargo and run it in the foreground (Ctrl-C stops it cleanly).
    Run {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
        /// A fast debug build instead of an optimized one.
        #[arg(long)]
        dev: bool,
        /// Read Postgres source schemas from the database again instead of the lock file.
        #[arg(long)]
        refresh_schema: bool,
        /// Flags passed to the pipeline binary (after `--`), e.g. `-- --rest-port 9000`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Validate the config and SQL without emitting anything.
    Check {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
        /// Read Postgres source schemas from the database again instead of the lock file.
        #[arg(long)]
        refresh_schema: bool,
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
        Command::Build {
            config,
            out_dir,
            refresh_schema,
        } => build::build_with(
            &config,
            out_dir.as_deref(),
            CatalogOptions { refresh_schema },
        )
        .map(|_| ()),
        Command::Run {
            config,
            dev,
            refresh_schema,
            args,
        } => run::run(&config, dev, CatalogOptions { refresh_schema }, &args),
        Command::Check {
            config,
            refresh_schema,
        } => build::check(&config, CatalogOptions { refresh_schema }),
        Command::Clean { config } => clean::clean(&config),
    }
}
