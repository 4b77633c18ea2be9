//! DuckDB (from PyPI) loading the same files and running the same four statements.

use super::{BatchRun, SEED_QUERIES};
use crate::env::{run, Env};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

const SCRIPT: &str = include_str!("duckdb_snapshot.py");

pub fn snapshot(env: &Env, files_glob: &Path, threads: usize) -> Result<BatchRun> {
    let queries: Vec<&str> = SEED_QUERIES.iter().map(|(_, q)| *q).collect();
    let out = run(
        Command::new(&env.python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(files_glob)
            .arg(threads.to_string())
            .arg(serde_json::to_string(&queries)?),
        "the DuckDB peer",
    )?;
    // The result is the last line (DuckDB may print progress before it).
    let last = out
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("the DuckDB peer printed {out}"))
}
