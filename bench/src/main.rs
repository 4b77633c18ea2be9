//! The benchmark harness (issue 7): the seed's pipeline measured against peers in one run.
//!
//! `cargo run --release -p dozer-bench` runs every benchmark at full size and rewrites the
//! generated part of BENCHMARKS.md. `--quick` runs them at small sizes and writes its report
//! under `target/bench/`; CI runs it so the harness never rots. Figures from a quick run mean
//! little. Each phase lives in `phases/`, each peer in `peers/`.

mod env;
mod peers;
mod phases;
mod pipeline;
mod report;
mod scratch_db;
mod stats;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "dozer-bench",
    about = "Benchmarks the seed pipeline against DuckDB, Postgres, pg_recvlogical and a bare axum server",
    after_help = "Examples:\n  \
        cargo run --release -p dozer-bench                 # full run, rewrites BENCHMARKS.md\n  \
        cargo run -p dozer-bench -- --quick                # small sizes (what CI runs)\n  \
        cargo run --release -p dozer-bench -- --only files # snapshot, reads and memory only"
)]
struct Cli {
    /// Small sizes and short runs: proves the harness works; the figures mean little.
    #[arg(long)]
    quick: bool,
    /// Where the report goes (default: BENCHMARKS.md; target/bench/quick.md with --quick or
    /// --only).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run only these groups (comma-separated). Pipelines are built whatever is chosen.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Group>,
    #[command(subcommand)]
    command: Option<Internal>,
}

/// Groups of benchmarks that share a running pipeline.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
pub enum Group {
    /// The compile loop: cold build, rebuild after a one-line SQL edit.
    Compile,
    /// Snapshot throughput from files, then reads and memory on the 1M-row cache.
    Files,
    /// CDC throughput from Postgres, then freshness at two change rates.
    Postgres,
}

#[derive(Subcommand)]
enum Internal {
    /// The reads peer: a bare axum server answering every request with a fixed body.
    ServeFixed {
        #[arg(long)]
        port: u16,
        /// Body of `GET /{endpoint}/{key}`.
        #[arg(long)]
        point: PathBuf,
        /// Body of `GET /{endpoint}`.
        #[arg(long)]
        page: PathBuf,
    },
}

/// How much work each benchmark does.
pub struct Sizes {
    pub quick: bool,
    /// Rows of generated sales per snapshot run.
    pub snapshot_rows: Vec<u64>,
    /// The snapshot size whose running pipeline serves the reads and memory benchmarks.
    pub resident_rows: u64,
    /// Rows in Postgres before the CDC backlog is written.
    pub cdc_initial_rows: u64,
    /// Changes in the CDC backlog (transactions of 1,000).
    pub cdc_changes: u64,
    /// Changes per second of the freshness runs.
    pub freshness_rates: Vec<u64>,
    pub freshness_seconds: f64,
    pub read_seconds: u64,
    /// Whether the first pipeline build starts from an empty target directory.
    pub cold_build: bool,
    /// How long any one wait (a snapshot, a backlog, pg_recvlogical) may take before the run
    /// fails, so a stuck run never eats CI's time.
    pub timeout: Duration,
}

impl Sizes {
    fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                quick,
                snapshot_rows: vec![20_000],
                resident_rows: 20_000,
                cdc_initial_rows: 2_000,
                cdc_changes: 20_000,
                freshness_rates: vec![1_000, 10_000],
                freshness_seconds: 1.0,
                read_seconds: 1,
                cold_build: false,
                timeout: Duration::from_secs(300),
            }
        } else {
            Sizes {
                quick,
                snapshot_rows: vec![1_000_000, 10_000_000],
                resident_rows: 1_000_000,
                cdc_initial_rows: 100_000,
                cdc_changes: 1_000_000,
                freshness_rates: vec![1_000, 10_000],
                freshness_seconds: 10.0,
                read_seconds: 10,
                cold_build: true,
                timeout: Duration::from_secs(3600),
            }
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Internal::ServeFixed { port, point, page }) = cli.command {
        return peers::fixed_server::serve(port, &point, &page);
    }
    let sizes = Sizes::new(cli.quick);
    let env = env::Env::prepare(&sizes)?;
    let wanted = |g: Group| cli.only.is_empty() || cli.only.contains(&g);
    let mut report = report::Report::new(&env, &sizes)?;

    let built = phases::compile::run(&env, &sizes, &mut report, wanted(Group::Compile))?;
    if wanted(Group::Files) {
        phases::snapshot::run(&env, &sizes, &built, &mut report)?;
    }
    if wanted(Group::Postgres) {
        phases::cdc::run(&env, &sizes, &built, &mut report)?;
    }

    // A partial run never overwrites the full report's other sections.
    let out = cli.out.unwrap_or_else(|| {
        if cli.quick || !cli.only.is_empty() {
            env.root.join("target").join("bench").join("quick.md")
        } else {
            env.root.join("BENCHMARKS.md")
        }
    });
    report.write(&out)?;
    println!("report written to {}", out.display());
    Ok(())
}
