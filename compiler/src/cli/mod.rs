//! The `dozerc` command line: build | run | check | clean | token.

mod build;
mod clean;
mod live;
mod paths;
mod run;
mod token;

use crate::catalog::CatalogOptions;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

pub use build::build;
pub use clean::clean;
pub use paths::Paths;
pub use token::{parse_ttl, Grant};

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
    /// Serve a live page (default http://127.0.0.1:4555) showing the pipeline as a graph with
    /// live row counts, its sources, each endpoint's rows and an API explorer; rebuild and
    /// restart the pipeline whenever the config is saved.
    Live {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
        /// Where the page is served.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 4555)]
        port: u16,
        /// Debug builds of the pipeline: quicker rebuilds, slower pipelines.
        #[arg(long)]
        dev: bool,
        /// Read Postgres source schemas from the database again instead of the lock file.
        #[arg(long)]
        refresh_schema: bool,
    },
    /// Remove the emitted crate and the cache (<home_dir>/build and <home_dir>/cache).
    Clean {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
    },
    /// Print a bearer token for the pipeline's APIs, signed with `api.api_security` (or
    /// DOZER_JWT_SECRET when set). Without --endpoint it grants every endpoint.
    Token {
        #[arg(short, long, default_value = "dozer-config.yaml")]
        config: PathBuf,
        /// An endpoint the token may read (by `endpoints[].name`); repeat for several.
        #[arg(long = "endpoint", value_name = "NAME")]
        endpoints: Vec<String>,
        /// A `$filter` (JSON object) every row of the preceding --endpoint must pass.
        #[arg(long = "filter", value_name = "JSON", requires = "endpoints")]
        filters: Vec<String>,
        /// How long the token is valid: 90s, 30m, 12h, 7d, 2w.
        #[arg(long, default_value = token::DEFAULT_TTL)]
        ttl: String,
        /// Each --endpoint with its --filter, paired by position (see [`Cli::try_parse_args`]).
        #[arg(skip)]
        grants: Vec<Grant>,
    },
}

impl Cli {
    /// Parses a command line (with the program name first). Unlike [`Parser::parse`], pairs
    /// each `--filter` of `dozerc token` with the `--endpoint` before it, which needs the
    /// arguments' positions.
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let (Command::Token { grants, .. }, Some(("token", sub))) =
            (&mut cli.command, matches.subcommand())
        {
            *grants = pair_grants(sub)?;
        }
        Ok(cli)
    }
}

/// `--endpoint a --filter F --endpoint b`: a with F, b unfiltered.
fn pair_grants(matches: &clap::ArgMatches) -> Result<Vec<Grant>, clap::Error> {
    let with_positions = |id: &str| -> Vec<(usize, String)> {
        match (matches.indices_of(id), matches.get_many::<String>(id)) {
            (Some(at), Some(values)) => at.zip(values.cloned()).collect(),
            _ => Vec::new(),
        }
    };
    let mut grants: Vec<(usize, Grant)> = with_positions("endpoints")
        .into_iter()
        .map(|(at, endpoint)| {
            let grant = Grant {
                endpoint,
                filter: None,
            };
            (at, grant)
        })
        .collect();
    let conflict =
        |message: String| Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message);
    for (at, filter) in with_positions("filters") {
        let Some((_, grant)) = grants.iter_mut().rev().find(|(e, _)| *e < at) else {
            return Err(conflict(format!(
                "--filter {filter} comes before any --endpoint; write it after the endpoint it restricts"
            )));
        };
        if grant.filter.is_some() {
            return Err(conflict(format!(
                "--endpoint {} has two --filter; combine them into one (`$and`, `$or`)",
                grant.endpoint
            )));
        }
        grant.filter = Some(filter);
    }
    Ok(grants.into_iter().map(|(_, grant)| grant).collect())
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
        Command::Live {
            config,
            host,
            port,
            dev,
            refresh_schema,
        } => live::live(live::LiveOptions {
            config,
            host,
            port,
            dev,
            catalog: CatalogOptions { refresh_schema },
        }),
        Command::Clean { config } => clean::clean(&config),
        Command::Token {
            config,
            endpoints,
            filters,
            ttl,
            grants,
        } => {
            // Built by `Parser::parse` rather than `Cli::try_parse_args`: no positions. Never
            // let that widen the token to every endpoint or drop a filter.
            let grants = if grants.len() == endpoints.len() {
                grants
            } else if filters.is_empty() {
                endpoints
                    .into_iter()
                    .map(|endpoint| Grant {
                        endpoint,
                        filter: None,
                    })
                    .collect()
            } else {
                return Err("internal error: --filter given without positions; parse the command line with `Cli::try_parse_args`".to_string());
            };
            token::token(&config, &grants, &ttl)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(args: &[&str]) -> Result<Vec<Grant>, String> {
        let line = ["dozerc", "token"].iter().chain(args);
        match Cli::try_parse_args(line) {
            Ok(Cli {
                command: Command::Token { grants, .. },
            }) => Ok(grants),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    fn grant(endpoint: &str, filter: Option<&str>) -> Grant {
        Grant {
            endpoint: endpoint.to_string(),
            filter: filter.map(str::to_string),
        }
    }

    #[test]
    fn token_filters_pair_with_the_endpoint_before_them() {
        assert_eq!(grants(&[]), Ok(vec![]));
        assert_eq!(
            grants(&[
                "--endpoint",
                "a",
                "--filter",
                "{}",
                "--endpoint",
                "b",
                "--ttl",
                "1h"
            ]),
            Ok(vec![grant("a", Some("{}")), grant("b", None)])
        );
        assert_eq!(
            grants(&[
                "--endpoint",
                "a",
                "--endpoint",
                "b",
                "--filter",
                "{\"x\": 1}"
            ]),
            Ok(vec![grant("a", None), grant("b", Some("{\"x\": 1}"))])
        );
        let e = grants(&["--filter", "{}", "--endpoint", "a"]).unwrap_err();
        assert!(e.contains("comes before any --endpoint"), "{e}");
        let e = grants(&["--endpoint", "a", "--filter", "{}", "--filter", "{}"]).unwrap_err();
        assert!(e.contains("--endpoint a has two --filter"), "{e}");
        let e = grants(&["--filter", "{}"]).unwrap_err();
        assert!(e.contains("--endpoint"), "{e}");
    }
}
