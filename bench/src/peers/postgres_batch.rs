//! Postgres loading the same files (COPY) and running the same four statements, in one
//! backend with parallel query off: one thread, as the other engines get.

use super::{BatchRun, SEED_QUERIES};
use crate::scratch_db::ScratchDb;
use anyhow::Result;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

const TABLE: &str = "CREATE TABLE sales_data (InvoiceNo text, StockCode text, Description text, \
    Quantity bigint, InvoiceDate timestamp, UnitPrice numeric, CustomerID bigint, Country text)";

pub fn snapshot(files: &[PathBuf]) -> Result<BatchRun> {
    let db = ScratchDb::create("snapshot")?;
    let mut client = db.connect()?;
    client.batch_execute(TABLE)?;
    client.batch_execute("SET max_parallel_workers_per_gather = 0")?;
    let started = Instant::now();
    for file in files {
        let mut writer = client.copy_in("COPY sales_data FROM STDIN (FORMAT csv, HEADER true)")?;
        writer.write_all(&std::fs::read(file)?)?;
        writer.finish()?;
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut result_rows = Vec::new();
    let mut sales_by_country = Vec::new();
    for (name, query) in SEED_QUERIES {
        // Every value as text, so fetching costs the same whatever the column types.
        let rows = client.simple_query(query)?;
        let data: Vec<_> = rows
            .iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .collect();
        result_rows.push(data.len() as u64);
        if name == "sales_by_country" {
            for row in data {
                sales_by_country.push((
                    row.get(0).unwrap_or_default().to_string(),
                    row.get(1).unwrap_or_default().to_string(),
                ));
            }
        }
    }
    let query_seconds = started.elapsed().as_secs_f64();
    let table_bytes: i64 = client
        .query_one("SELECT pg_total_relation_size('sales_data')", &[])?
        .get(0);
    Ok(BatchRun {
        load_seconds,
        query_seconds,
        result_rows,
        sales_by_country,
        peak_rss_bytes: 0,
        table_bytes: table_bytes.max(0) as u64,
    })
}
