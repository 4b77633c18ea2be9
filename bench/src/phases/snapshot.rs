//! Snapshot throughput: the seed's four statements over generated sales in CSV files, from
//! start-up until every file is applied and committed, against DuckDB and Postgres loading the
//! same files and running the same statements. The pipeline at the resident size then serves
//! the reads benchmark, and its cache is measured for the memory benchmark.

use super::compile::Pipelines;
use super::{memory, reads};
use crate::env::{self, Env};
use crate::peers::{self, BatchRun};
use crate::pipeline::{served_sales_by_country, Pipeline, ProcStats};
use crate::report::{Report, Section};
use crate::stats::{ratio, thousands, verdict};
use crate::Sizes;
use anyhow::{ensure, Context, Result};
use std::path::PathBuf;

/// Targets (issue 7): rows per CPU-second through all four statements, and the ratio to DuckDB.
const PER_CORE_TARGET: f64 = 1_000_000.0;
const DUCKDB_RATIO_TARGET: f64 = 0.3;
/// A file is one source transaction; 100,000 rows per file.
const ROWS_PER_FILE: u64 = 100_000;

/// One size's figures.
struct Run {
    rows: u64,
    seconds: f64,
    stats: ProcStats,
    duckdb: BatchRun,
    postgres: BatchRun,
}

pub fn run(env: &Env, sizes: &Sizes, built: &Pipelines, report: &mut Report) -> Result<()> {
    let mut runs = Vec::new();
    // Reads and memory, reported after the snapshot they ran on.
    let mut later = Vec::new();
    for &rows in &sizes.snapshot_rows {
        let files = generate(env, rows)?;
        println!("snapshot of {rows} rows: the pipeline");
        files.warm()?;
        let home = env.scratch(&format!("home-snapshot-{rows}"))?;
        let mut pipeline = Pipeline::start(
            &built.files.binary,
            &home,
            &[
                "--source".into(),
                format!("sales_data={}", files.dir.display()),
            ],
        )?;
        let count = files.paths.len() as u64;
        let done = pipeline.wait_until("every file to be committed", sizes.timeout, |h| {
            h.files
                .get("sales_data")
                .is_some_and(|&files| files >= count)
        })?;
        let seconds = (done - pipeline.started).as_secs_f64();
        let stats = pipeline.stats();
        println!("snapshot of {rows} rows: DuckDB and Postgres");
        files.warm()?;
        let duckdb = peers::duckdb::snapshot(env, &files.dir.join("*.csv"), 1)?;
        files.warm()?;
        let postgres = peers::postgres_batch::snapshot(&files.paths)?;
        check_agreement(&pipeline, &duckdb, &postgres)?;
        if rows == sizes.resident_rows {
            later.push(reads::run(env, sizes, &pipeline)?);
            let cache = home.join("cache").join("ecommerce.redb");
            pipeline.stop()?;
            later.push(memory::run(&cache, rows, &stats, &duckdb, &postgres)?);
        } else {
            pipeline.stop()?;
        }
        std::fs::remove_dir_all(&home)?;
        runs.push(Run {
            rows,
            seconds,
            stats,
            duckdb,
            postgres,
        });
    }
    report.add(section(&runs));
    for section in later {
        report.add(section);
    }
    Ok(())
}

fn section(runs: &[Run]) -> Section {
    let mut section = Section::new(
        "Snapshot throughput from files",
        &[
            "rows",
            "engine",
            "seconds",
            "rows/s",
            "CPU s",
            "rows per CPU-second",
            "ratio (dozerc / peer)",
        ],
    );
    section.intro(
        "The seed's four statements verbatim (`examples/ecommerce/dozer-config.yaml`: three \
         GROUP BYs and the TTL'd daily TUMBLE) over sales from `ecommerce-datagen`, in CSV files \
         of at most 100,000 rows (one source transaction each; files found together share a cache \
         commit of up to 2^20 rows). dozerc: from process start until `/health` reports every \
         file committed to the redb cache. DuckDB (one thread) and \
         Postgres (parallel query off) load the same files and run the same statements, \
         `daily_sales` as a plain GROUP BY day, fetching every result row; their time is load \
         plus queries. Each engine starts with the files in the page cache (read once just \
         before). CPU seconds are the process's user plus system time (`/proc`).",
    );
    for run in runs {
        let ours = run.rows as f64 / run.seconds;
        let duck = run.rows as f64 / run.duckdb.seconds();
        let pg = run.rows as f64 / run.postgres.seconds();
        let pg_queries = run.rows as f64 / run.postgres.query_seconds;
        let rows = thousands(run.rows as f64);
        section.row(vec![
            rows.clone(),
            "dozerc pipeline".into(),
            format!("{:.2}", run.seconds),
            thousands(ours),
            format!("{:.2}", run.stats.cpu_seconds),
            thousands(run.rows as f64 / run.stats.cpu_seconds),
            "".into(),
        ]);
        section.row(vec![
            rows.clone(),
            "DuckDB, 1 thread: load + queries".into(),
            format!("{:.2}", run.duckdb.seconds()),
            thousands(duck),
            "".into(),
            "".into(),
            format!("{:.2}", ratio(ours, duck)),
        ]);
        section.row(vec![
            rows.clone(),
            "Postgres: COPY + queries".into(),
            format!("{:.2}", run.postgres.seconds()),
            thousands(pg),
            "".into(),
            "".into(),
            format!("{:.2}", ratio(ours, pg)),
        ]);
        section.row(vec![
            rows,
            "Postgres: queries alone, table loaded".into(),
            format!("{:.2}", run.postgres.query_seconds),
            thousands(pg_queries),
            "".into(),
            "".into(),
            format!("{:.2}", ratio(ours, pg_queries)),
        ]);
    }
    for run in runs {
        let per_core = run.rows as f64 / run.stats.cpu_seconds;
        let vs_duck = ratio(
            run.rows as f64 / run.seconds,
            run.rows as f64 / run.duckdb.seconds(),
        );
        section.note(format!(
            "{} rows. Target at least {} rows per CPU-second: {} ({}). Target at least {DUCKDB_RATIO_TARGET}× \
             DuckDB: {} ({vs_duck:.2}×).",
            thousands(run.rows as f64),
            thousands(PER_CORE_TARGET),
            verdict(per_core >= PER_CORE_TARGET),
            thousands(per_core),
            verdict(vs_duck >= DUCKDB_RATIO_TARGET),
        ));
    }
    section.note(
        "The three engines agreed on every statement's result row count and on every \
         `sales_by_country` total (checked in the run).",
    );
    section
}

/// Every engine must have computed the same thing, or the speeds compare nothing.
fn check_agreement(pipeline: &Pipeline, duckdb: &BatchRun, postgres: &BatchRun) -> Result<()> {
    let paths = ["/clv", "/bestsellers", "/sales_by_country"];
    for (i, path) in paths.iter().enumerate() {
        let (status, body) = pipeline.post(&format!("{path}/count"), "{}")?;
        ensure!(status == 200, "{path}/count answered {status}: {body}");
        let served: u64 = serde_json::from_str::<serde_json::Value>(&body)?
            .as_u64()
            .with_context(|| format!("{path}/count answered {body}"))?;
        ensure!(
            served == duckdb.result_rows[i] && served == postgres.result_rows[i],
            "{path}: the pipeline serves {served} rows, DuckDB computed {}, Postgres {}",
            duckdb.result_rows[i],
            postgres.result_rows[i]
        );
    }
    let mut ours: Vec<(String, String)> = served_sales_by_country(pipeline)?
        .into_iter()
        .map(|(country, total)| (country, normalize(&total)))
        .collect();
    for (peer, rows) in [
        ("DuckDB", &duckdb.sales_by_country),
        ("Postgres", &postgres.sales_by_country),
    ] {
        let mut theirs: Vec<(String, String)> = rows
            .iter()
            .map(|(c, v)| (c.clone(), normalize(v)))
            .collect();
        theirs.sort();
        ours.sort();
        ensure!(
            ours == theirs,
            "sales_by_country differs from {peer}:\n ours {ours:?}\n {peer} {theirs:?}"
        );
    }
    Ok(())
}

/// A decimal without trailing zeros, so `12.50` and `12.5` compare equal.
fn normalize(decimal: &str) -> String {
    if decimal.contains('.') {
        decimal
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        decimal.to_string()
    }
}

/// Generated sales files, kept between runs (the generator is deterministic).
struct Files {
    dir: PathBuf,
    paths: Vec<PathBuf>,
}

impl Files {
    /// Reads every file once, so that each engine reads them from the page cache rather than
    /// the first one paying for the disk.
    fn warm(&self) -> Result<()> {
        for path in &self.paths {
            std::io::copy(&mut std::fs::File::open(path)?, &mut std::io::sink())?;
        }
        Ok(())
    }
}

fn generate(env: &Env, rows: u64) -> Result<Files> {
    let count = rows.div_ceil(ROWS_PER_FILE).max(2);
    let dir = env.work.join(format!("sales-{rows}"));
    let marker = dir.join(format!(".complete-{count}"));
    if !marker.exists() {
        println!("generating {rows} sales rows in {count} files");
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        env::run(
            env.datagen()
                .args([
                    "--rows",
                    &rows.to_string(),
                    "--files",
                    &count.to_string(),
                    "--out",
                ])
                .arg(&dir),
            "ecommerce-datagen",
        )?;
        std::fs::write(&marker, "")?;
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    ensure!(
        paths.len() as u64 == count,
        "expected {count} files in {}",
        dir.display()
    );
    Ok(Files { dir, paths })
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_compare_without_trailing_zeros() {
        assert_eq!(super::normalize("12.50"), "12.5");
        assert_eq!(super::normalize("12.00"), "12");
        assert_eq!(super::normalize("1200"), "1200");
    }
}
