//! Memory: resident memory after the snapshot, and bytes per row of the redb cache, split into
//! served rows (`endpoint/*`), their secondary indexes (`index/*`) and operator state
//! (`state/*`), read from redb's own table statistics once the pipeline has stopped. The peers
//! are the same run's DuckDB (peak resident memory) and Postgres (the loaded table's bytes).

use crate::peers::BatchRun;
use crate::pipeline::ProcStats;
use crate::report::Section;
use crate::stats::{mib, thousands};
use anyhow::{Context, Result};
use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};
use std::path::Path;

/// Rows and bytes of one kind of table.
#[derive(Default)]
struct Usage {
    tables: usize,
    rows: u64,
    bytes: u64,
}

impl Usage {
    fn per_row(&self) -> String {
        if self.rows == 0 {
            "n/a".into()
        } else {
            format!("{:.0}", self.bytes as f64 / self.rows as f64)
        }
    }
}

pub fn run(
    cache: &Path,
    source_rows: u64,
    stats: &ProcStats,
    duckdb: &BatchRun,
    postgres: &BatchRun,
) -> Result<Section> {
    let db = redb::Database::open(cache).with_context(|| format!("opening {}", cache.display()))?;
    let txn = db.begin_read()?;
    let (mut served, mut indexes, mut state) =
        (Usage::default(), Usage::default(), Usage::default());
    for handle in txn.list_tables()? {
        let name = handle.name().to_string();
        let usage = if name.starts_with("endpoint/") {
            &mut served
        } else if name.starts_with("index/") {
            &mut indexes
        } else if name.starts_with("state/") {
            &mut state
        } else {
            continue;
        };
        let table = txn.open_untyped_table(handle)?;
        let s = table.stats()?;
        usage.tables += 1;
        usage.rows += table.len()?;
        usage.bytes += s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
    }
    let file_bytes = std::fs::metadata(cache)?.len();

    let mut section = Section::new(
        "Memory and cache size",
        &["what", "rows", "bytes", "bytes per row"],
    );
    section.intro(format!(
        "After the {} row snapshot: the pipeline's resident memory (VmRSS, and the peak VmHWM) once \
         every file was committed, and its redb cache file by kind of table (redb's stored, \
         metadata and fragmented bytes per table). Rows of `index/*` tables are index entries. \
         The peers are from the same run: DuckDB's peak resident memory while loading and \
         querying, and Postgres's `pg_total_relation_size` of the loaded table.",
        thousands(source_rows as f64)
    ));
    let row = |what: &str, rows: u64, bytes: u64, per_row: String| {
        vec![
            what.to_string(),
            thousands(rows as f64),
            mib(bytes),
            per_row,
        ]
    };
    section.row(row(
        "dozerc resident memory at the end of the snapshot",
        source_rows,
        stats.rss_bytes,
        "".into(),
    ));
    section.row(row(
        "dozerc peak resident memory",
        source_rows,
        stats.peak_rss_bytes,
        "".into(),
    ));
    section.row(row(
        &format!("cached rows served ({} endpoint tables)", served.tables),
        served.rows,
        served.bytes,
        served.per_row(),
    ));
    section.row(row(
        &format!("their secondary index entries ({} tables)", indexes.tables),
        indexes.rows,
        indexes.bytes,
        indexes.per_row(),
    ));
    section.row(row(
        &format!("operator state ({} tables)", state.tables),
        state.rows,
        state.bytes,
        state.per_row(),
    ));
    section.row(row(
        "the whole cache file",
        source_rows,
        file_bytes,
        format!(
            "{:.1} per source row",
            file_bytes as f64 / source_rows as f64
        ),
    ));
    section.row(row(
        "DuckDB peak resident memory (peer)",
        source_rows,
        duckdb.peak_rss_bytes,
        "".into(),
    ));
    section.row(row(
        "Postgres table, loaded (peer)",
        source_rows,
        postgres.table_bytes,
        format!(
            "{:.0} per source row",
            postgres.table_bytes as f64 / source_rows as f64
        ),
    ));
    section.note(
        "The served rows are the four results (customers, products, countries, the two live \
         days); the source rows are not kept, as no statement needs them. Resident memory \
         includes redb's page cache.",
    );
    Ok(section)
}
