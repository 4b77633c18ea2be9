//! Freshness: commit-to-visible latency through REST. A writer commits a transaction to
//! Postgres every 10 ms (rate/100 inserted sales rows each), the last row of each with a
//! CustomerID never used before. From the moment the commit is acknowledged, a watcher polls
//! `GET /clv/{that id}` until it answers 200: the change has gone through replication, the
//! four statements and the cache commit, and is served. The peer, in the same run on the same
//! transactions, is a second watcher polling Postgres itself for the row (`SELECT ... WHERE
//! id = $1` on another connection): the floor of this way of measuring.

use crate::pipeline::{http_agent, Pipeline};
use crate::report::{Report, Section};
use crate::scratch_db::ScratchDb;
use crate::stats::{percentile, thousands, verdict};
use crate::Sizes;
use anyhow::{ensure, Result};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Target (issue 7): p99 under 25 ms at 10,000 changes/s.
const P99_TARGET_MS: f64 = 25.0;
const TICK: Duration = Duration::from_millis(10);
const POLL: Duration = Duration::from_micros(500);
/// CustomerIDs of the watched rows start here, far above the generator's.
const FIRST_WATCHED_ID: i64 = 1_000_000;

/// A committed transaction to watch for.
#[derive(Clone, Copy)]
struct Committed {
    customer_id: i64,
    row_id: i64,
    at: Instant,
}

struct Measured {
    rate: u64,
    achieved: f64,
    ours_ms: Vec<f64>,
    floor_ms: Vec<f64>,
}

pub fn run(sizes: &Sizes, db: &ScratchDb, pipeline: &Pipeline, report: &mut Report) -> Result<()> {
    let mut measured = Vec::new();
    let mut next_id = FIRST_WATCHED_ID;
    for &rate in &sizes.freshness_rates {
        println!("freshness at {rate} changes/s");
        measured.push(measure(
            db,
            pipeline,
            rate,
            sizes.freshness_seconds,
            &mut next_id,
        )?);
    }
    let mut section = Section::new(
        "Freshness: commit to visible through REST",
        &[
            "changes/s asked",
            "changes/s written",
            "transactions",
            "dozerc p50 ms",
            "dozerc p99 ms",
            "dozerc max ms",
            "floor p50 / p99 ms (peer)",
        ],
    );
    section.intro(format!(
        "The streaming pipeline of the CDC benchmark. A writer commits a transaction to Postgres \
         every 10 ms ({} s per rate, rate/100 inserted rows each); the last row of each carries \
         a new CustomerID. Latency is from the commit's acknowledgement to the first \
         `GET /clv/{{CustomerID}}` answering 200 (polled every 0.5 ms): replication, the four \
         statements, the cache commit and the REST read. The peer, on the same transactions at \
         the same time, polls Postgres for the row from another connection: the floor of the \
         method.",
        sizes.freshness_seconds
    ));
    for m in &measured {
        section.row(vec![
            thousands(m.rate as f64),
            thousands(m.achieved),
            thousands(m.ours_ms.len() as f64),
            format!("{:.2}", percentile(&m.ours_ms, 50.0)),
            format!("{:.2}", percentile(&m.ours_ms, 99.0)),
            format!("{:.2}", percentile(&m.ours_ms, 100.0)),
            format!(
                "{:.2} / {:.2}",
                percentile(&m.floor_ms, 50.0),
                percentile(&m.floor_ms, 99.0)
            ),
        ]);
    }
    if let Some(top) = measured.iter().find(|m| m.rate == 10_000) {
        let p99 = percentile(&top.ours_ms, 99.0);
        section.note(format!(
            "Target p99 under {P99_TARGET_MS:.0} ms at 10,000 changes/s: {} ({p99:.2} ms). \
             Dozer reported 30–50 ms on average.",
            verdict(p99 < P99_TARGET_MS)
        ));
    }
    report.add(section);
    Ok(())
}

fn measure(
    db: &ScratchDb,
    pipeline: &Pipeline,
    rate: u64,
    seconds: f64,
    next_id: &mut i64,
) -> Result<Measured> {
    let rows_per_tick = (rate as i64 / 100).max(1);
    let (to_ours, ours_rx) = mpsc::channel::<Committed>();
    let (to_floor, floor_rx) = mpsc::channel::<Committed>();
    let url = pipeline.url("/clv");
    let ours = std::thread::spawn(move || watch_rest(&url, ours_rx));
    let mut floor_client = db.connect()?;
    let floor = std::thread::spawn(move || watch_postgres(&mut floor_client, floor_rx));

    let mut writer = db.connect()?;
    let insert = writer.prepare(
        "WITH ins AS (
            INSERT INTO sales_data (invoiceno, stockcode, description, quantity, invoicedate, unitprice, customerid, country)
            SELECT 'F' || g, 'S' || (g % 4000), 'fresh item', 1 + g % 7, localtimestamp, 2.55,
                   CASE WHEN g = $2 THEN $1::bigint ELSE 12346 + g % 5942 END, 'United Kingdom'
            FROM generate_series(1, $2::bigint) g
            RETURNING id, customerid)
         SELECT id FROM ins WHERE customerid = $1::bigint",
    )?;
    let started = Instant::now();
    let mut tick = started;
    let mut written = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        let customer_id = *next_id;
        *next_id += 1;
        let row = writer.query_one(&insert, &[&customer_id, &rows_per_tick])?;
        let committed = Committed {
            customer_id,
            row_id: row.get(0),
            at: Instant::now(),
        };
        written += rows_per_tick as u64;
        let _ = to_ours.send(committed);
        let _ = to_floor.send(committed);
        tick += TICK;
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let achieved = written as f64 / started.elapsed().as_secs_f64();
    drop((to_ours, to_floor));
    let ours_ms = ours
        .join()
        .map_err(|_| anyhow::anyhow!("the REST watcher panicked"))??;
    let floor_ms = floor
        .join()
        .map_err(|_| anyhow::anyhow!("the Postgres watcher panicked"))??;
    ensure!(!ours_ms.is_empty(), "no transaction was watched");
    Ok(Measured {
        rate,
        achieved,
        ours_ms,
        floor_ms,
    })
}

/// Milliseconds from each commit until `GET {url}/{customer_id}` answers 200.
fn watch_rest(url: &str, commits: mpsc::Receiver<Committed>) -> Result<Vec<f64>> {
    let http = http_agent();
    let mut latencies = Vec::new();
    for c in commits {
        let deadline = c.at + Duration::from_secs(30);
        loop {
            let status = http
                .get(&format!("{url}/{}", c.customer_id))
                .call()?
                .status();
            if status == 200 {
                break;
            }
            ensure!(
                status == 404,
                "GET {url}/{} answered {status}",
                c.customer_id
            );
            ensure!(
                Instant::now() < deadline,
                "row {} not served after 30 s",
                c.customer_id
            );
            std::thread::sleep(POLL);
        }
        latencies.push(c.at.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(latencies)
}

/// Milliseconds from each commit until another Postgres connection sees the row.
fn watch_postgres(
    client: &mut postgres::Client,
    commits: mpsc::Receiver<Committed>,
) -> Result<Vec<f64>> {
    let select = client.prepare("SELECT 1 FROM sales_data WHERE id = $1")?;
    let mut latencies = Vec::new();
    for c in commits {
        while client.query_opt(&select, &[&c.row_id])?.is_none() {
            ensure!(
                c.at.elapsed() < Duration::from_secs(30),
                "row {} not visible",
                c.row_id
            );
            std::thread::sleep(POLL);
        }
        latencies.push(c.at.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(latencies)
}
