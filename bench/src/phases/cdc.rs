//! CDC throughput: a backlog of changes written to Postgres while the pipeline is stopped, then
//! read through logical replication into the cache, against `pg_recvlogical` reading the same
//! WAL through the same output plugin (pgoutput) into /dev/null: the physical limit. The
//! pipeline, caught up, then serves the freshness benchmark.

use super::compile::Pipelines;
use super::freshness;
use crate::env::{self, Env};
use crate::pipeline::{parse_lsn, served_sales_by_country, Pipeline};
use crate::report::{Report, Section};
use crate::scratch_db::ScratchDb;
use crate::stats::{ratio, thousands, verdict};
use crate::Sizes;
use anyhow::{ensure, Context, Result};
use postgres::Client;
use std::process::Command;
use std::time::Instant;

const TARGET: f64 = 0.8;
/// Changes per backlog transaction.
const BATCH: i64 = 1_000;

/// The backlog as written.
struct Backlog {
    changes: u64,
    transactions: u64,
    /// An LSN inside the last transaction: the pipeline has applied it once it reports this.
    last: u64,
    /// The server's WAL position after the last commit (pg_recvlogical's `--endpos`).
    end: String,
    wal_bytes: u64,
}

pub fn run(env: &Env, sizes: &Sizes, built: &Pipelines, report: &mut Report) -> Result<()> {
    let db = ScratchDb::create("cdc")?;
    println!("cdc: loading {} rows into Postgres", sizes.cdc_initial_rows);
    // The generator's table: id primary key, REPLICA IDENTITY FULL, as the example uses.
    env::run(
        env.datagen()
            .args(["postgres", "--url", &db.url(), "--rows"])
            .arg(sizes.cdc_initial_rows.to_string()),
        "loading sales into Postgres",
    )?;
    let flags = ["--connection".to_string(), format!("postgres={}", db.url())];
    let home = env.scratch("home-cdc")?;
    let mut pipeline = Pipeline::start(&built.postgres.binary, &home, &flags)?;
    // The snapshot is the first cache commit.
    pipeline.wait_until("the snapshot", sizes.timeout, |h| {
        h.position >= 1 && !h.postgres.is_empty()
    })?;
    pipeline.stop()?;

    let mut client = db.connect()?;
    // The peer's slot and publication, named after the run (slots are server-wide).
    let peer_slot = format!("bench_peer_{}", std::process::id());
    // Two statements, two transactions: a slot cannot be made after writes in the same one.
    client.batch_execute(&format!(
        "CREATE PUBLICATION {peer_slot} FOR TABLE sales_data"
    ))?;
    client.batch_execute(&format!(
        "SELECT pg_create_logical_replication_slot('{peer_slot}', 'pgoutput')"
    ))?;
    println!("cdc: writing a backlog of {} changes", sizes.cdc_changes);
    let backlog = write_backlog(&mut client, sizes.cdc_changes)?;

    println!("cdc: pg_recvlogical reads the backlog");
    let started = Instant::now();
    env::run_within(
        Command::new(&env.pg_recvlogical)
            .args(["-d", &db.conninfo(), "--slot", &peer_slot])
            .args([
                "--start",
                "--no-loop",
                "-P",
                "pgoutput",
                "-o",
                "proto_version=1",
            ])
            .args(["-o", &format!("publication_names={peer_slot}")])
            .args(["-E", &backlog.end, "-f", "/dev/null"]),
        "pg_recvlogical",
        sizes.timeout,
    )?;
    let peer_seconds = started.elapsed().as_secs_f64();

    println!("cdc: the pipeline reads the backlog");
    let mut pipeline = Pipeline::start(&built.postgres.binary, &home, &flags)?;
    let done = pipeline.wait_until("the backlog", sizes.timeout, |h| {
        h.postgres
            .values()
            .any(|lsn| parse_lsn(lsn).is_some_and(|l| l >= backlog.last))
    })?;
    let seconds = (done - pipeline.started).as_secs_f64();
    let stats = pipeline.stats();
    check_agreement(&pipeline, &mut client)?;

    let ours = backlog.changes as f64 / seconds;
    let theirs = backlog.changes as f64 / peer_seconds;
    let r = ratio(ours, theirs);
    let mut section = Section::new(
        "CDC throughput from Postgres",
        &[
            "reader",
            "changes",
            "seconds",
            "changes/s",
            "CPU s",
            "ratio (dozerc / peer)",
        ],
    );
    section.intro(format!(
        "The seed's pipeline over Postgres (`examples/ecommerce/dozer-config.postgres.yaml`) on \
         a table of {} rows, stopped while a backlog of {} changes is written: {} transactions \
         of up to {BATCH} rows, six in ten inserting, three updating (quantity, and the country \
         of every third row), one deleting; {} of WAL. dozerc: from process start until \
         `/health` reports the last transaction applied (every change through the four \
         statements into the redb cache, one cache commit per transaction). The peer reads the \
         same WAL from a slot made at the same point: `pg_recvlogical` with pgoutput, the same \
         publication and `--endpos`, into /dev/null.",
        thousands(sizes.cdc_initial_rows as f64),
        thousands(backlog.changes as f64),
        thousands(backlog.transactions as f64),
        crate::stats::mib(backlog.wal_bytes),
    ));
    section.row(vec![
        "dozerc pipeline".into(),
        thousands(backlog.changes as f64),
        format!("{seconds:.2}"),
        thousands(ours),
        format!("{:.2}", stats.cpu_seconds),
        format!("{r:.2}"),
    ]);
    section.row(vec![
        "pg_recvlogical to /dev/null (peer)".into(),
        thousands(backlog.changes as f64),
        format!("{peer_seconds:.2}"),
        thousands(theirs),
        "".into(),
        "".into(),
    ]);
    section.note(format!(
        "Target at least {TARGET}× pg_recvlogical: {} ({r:.2}×). After catching up, \
         `/sales_by_country` equalled Postgres's GROUP BY over the table (checked in the run).",
        verdict(r >= TARGET)
    ));
    report.add(section);

    freshness::run(sizes, &db, &pipeline, report)?;
    pipeline.stop()?;
    std::fs::remove_dir_all(&home)?;
    Ok(())
}

/// Inserts, updates and deletes in transactions of [`BATCH`] rows until `target` changes.
fn write_backlog(client: &mut Client, target: u64) -> Result<Backlog> {
    let start_lsn: String = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])?
        .get(0);
    let (mut deleted_below, mut update_from) = (1i64, 1i64);
    let (mut changes, mut transactions, mut last) = (0u64, 0u64, 0u64);
    let mut serial = 0i64;
    while changes < target {
        let mut txn = client.transaction()?;
        let n = match transactions % 10 {
            0..=5 => {
                let first = serial;
                serial += BATCH;
                txn.execute(
                    "INSERT INTO sales_data (invoiceno, stockcode, description, quantity, invoicedate, unitprice, customerid, country)
                     SELECT 'B' || g, 'S' || (g % 4000), 'bench item', 1 + g % 7,
                            timestamp '2011-06-01' + (g % 86400) * interval '1 second',
                            1.25 + (g % 100) * 0.1, 12346 + g % 5942,
                            (ARRAY['United Kingdom','France','Germany','Spain','EIRE'])[1 + g % 5]
                     FROM generate_series($1::bigint, $2::bigint - 1) g",
                    &[&first, &serial],
                )?
            }
            6..=8 => {
                let top: i64 = txn
                    .query_one("SELECT coalesce(max(id), 0) FROM sales_data", &[])?
                    .get(0);
                if update_from + BATCH > top {
                    update_from = deleted_below;
                }
                let from = update_from;
                update_from += BATCH;
                txn.execute(
                    "UPDATE sales_data SET quantity = quantity + 1,
                            country = CASE WHEN id % 3 = 0 THEN 'France' ELSE country END
                     WHERE id >= $1 AND id < $2",
                    &[&from, &(from + BATCH)],
                )?
            }
            _ => {
                let from = deleted_below;
                deleted_below += BATCH;
                update_from = update_from.max(deleted_below);
                txn.execute(
                    "DELETE FROM sales_data WHERE id >= $1 AND id < $2",
                    &[&from, &(from + BATCH)],
                )?
            }
        };
        changes += n;
        transactions += 1;
        if changes >= target {
            let lsn: String = txn
                .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])?
                .get(0);
            last = parse_lsn(&lsn).context("an LSN")?;
        }
        txn.commit()?;
    }
    let end: String = client
        .query_one("SELECT pg_current_wal_lsn()::text", &[])?
        .get(0);
    let wal_bytes = parse_lsn(&end).unwrap_or(0) - parse_lsn(&start_lsn).unwrap_or(0);
    Ok(Backlog {
        changes,
        transactions,
        last,
        end,
        wal_bytes,
    })
}

/// The pipeline's `/sales_by_country` must equal Postgres's own GROUP BY.
fn check_agreement(pipeline: &Pipeline, client: &mut Client) -> Result<()> {
    let rows = client.simple_query(
        "SELECT country, (SUM(quantity * unitprice))::text FROM sales_data GROUP BY country",
    )?;
    let mut expected: Vec<(String, f64)> = rows
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => Some((
                r.get(0).unwrap_or_default().to_string(),
                r.get(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN),
            )),
            _ => None,
        })
        .collect();
    let mut ours: Vec<(String, f64)> = served_sales_by_country(pipeline)?
        .into_iter()
        .map(|(country, total)| (country, total.parse().unwrap_or(f64::NAN)))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    ours.sort_by(|a, b| a.0.cmp(&b.0));
    let same = ours.len() == expected.len()
        && ours
            .iter()
            .zip(&expected)
            .all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() <= 1e-6 * b.1.abs().max(1.0));
    ensure!(same, "after the backlog, /sales_by_country differs from Postgres:\n ours {ours:?}\n Postgres {expected:?}");
    Ok(())
}
