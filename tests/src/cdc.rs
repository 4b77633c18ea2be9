//! The e-commerce pipeline over a Postgres source (change data capture): the pipeline is built
//! once per test binary; each test gets a database of its own, points the pipeline at it with
//! `--connection`, and changes it with a seeded random writer. The same database is the oracle:
//! Postgres' own answer to the SELECTs over the table the pipeline reads.

use crate::ecommerce::QUERIES;
use crate::http::all_rows;
use crate::oracle::{assert_same, describe, Oracle};
use crate::pipeline::{build, BuiltPipeline, Running};
use postgres::Client;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// The source table: the sales columns plus a primary key.
pub const SOURCE_TABLE: &str = "CREATE TABLE sales_data (id bigint PRIMARY KEY, \
     InvoiceNo text, StockCode text, Description text, Quantity bigint, InvoiceDate timestamp, \
     UnitPrice numeric(12,2), CustomerID bigint, Country text); \
     ALTER TABLE sales_data REPLICA IDENTITY FULL";

/// The seed's first three statements over a `!Postgres` source; `{database}` is filled in.
/// Over TLS (`sslmode: require`): the machine's server offers it with a self-signed certificate.
pub const CONFIG: &str = r#"app_name: ecommerce_cdc
connections:
  - config: !Postgres
      user: postgres
      host: 127.0.0.1
      port: 5432
      database: {database}
      sslmode: require
    name: pg
sources:
  - name: sales_data
    table_name: sales_data
    connection: pg
sql: |
  SELECT CustomerID, SUM(Quantity*UnitPrice) AS LifetimeValue
  INTO customer_lifetime_value
  FROM sales_data
  GROUP BY CustomerID;

  SELECT StockCode, SUM(Quantity) AS BuyCount
  INTO bestsellers
  FROM sales_data
  GROUP BY StockCode;

  SELECT Country, SUM(Quantity * UnitPrice) AS TotalSales
  INTO sales_by_country
  FROM sales_data
  GROUP BY Country;

  SELECT Country, SUM(t.Quantity * t.UnitPrice) AS TotalSales, t.window_start AS day
  INTO daily_by_country
  FROM TUMBLE(sales_data, InvoiceDate, '1 DAY') t
  GROUP BY Country;

  SELECT COUNT(*) AS orders, SUM(t.Quantity) AS units, t.window_start, t.window_end
  INTO six_hourly_days
  FROM HOP(sales_data, InvoiceDate, '6 HOURS', '1 DAY') t;
endpoints:
  - name: customer_lifetime_value
    path: /clv
    table_name: customer_lifetime_value
  - name: bestsellers
    path: /bestsellers
    table_name: bestsellers
  - name: sales_by_country
    path: /sales_by_country
    table_name: sales_by_country
  - name: daily_by_country
    path: /daily_by_country
    table_name: daily_by_country
  - name: six_hourly_days
    path: /six_hourly_days
    table_name: six_hourly_days
"#;

/// Postgres' answers for every endpoint: the seed's three, and the windows computed with
/// `date_bin` (tumbling) and `generate_series` (the four 6-hour starts whose day holds a row).
const ORACLE: [(&str, &str); 5] = [
    QUERIES[0],
    QUERIES[1],
    QUERIES[2],
    (
        "/daily_by_country",
        "SELECT Country, SUM(Quantity * UnitPrice) AS TotalSales, \
         date_bin('1 day', InvoiceDate, timestamp '1970-01-01') AS day \
         FROM sales_data GROUP BY Country, 3",
    ),
    (
        "/six_hourly_days",
        "SELECT COUNT(*) AS orders, SUM(Quantity) AS units, s AS window_start, \
         s + interval '1 day' AS window_end FROM sales_data, generate_series( \
           date_bin('6 hours', InvoiceDate, timestamp '1970-01-01') - interval '18 hours', \
           date_bin('6 hours', InvoiceDate, timestamp '1970-01-01'), interval '6 hours') AS s \
         GROUP BY s",
    ),
];

/// The pipeline, built once per test binary against a scratch database (which fixes the
/// table's schema in the lock file); tests point it at their own databases.
pub fn pipeline() -> &'static BuiltPipeline {
    static BUILT: OnceLock<BuiltPipeline> = OnceLock::new();
    BUILT.get_or_init(|| {
        let built = (|| -> anyhow::Result<BuiltPipeline> {
            let schema = Oracle::new("cdc_build")?;
            let mut client = schema.connect()?;
            client.batch_execute(SOURCE_TABLE)?;
            let out = crate::workspace_root()
                .join("target")
                .join("e2e")
                .join("cdc");
            std::fs::create_dir_all(&out)?;
            let config = out.join("dozer-config.yaml");
            std::fs::write(&config, CONFIG.replace("{database}", schema.name()))?;
            // Always introspect: a lock file from an earlier run names another database.
            let _ = std::fs::remove_file(out.join("dozer-config.lock"));
            build(&config, &out.join("build"))
        })();
        built.unwrap_or_else(|e| panic!("cannot build the CDC pipeline: {e:#}"))
    })
}

/// A source database of the test's own with `rows` initial sales, and its change writer.
pub struct Source {
    pub oracle: Oracle,
    pub writer: ChangeWriter,
}

impl Source {
    pub fn new(tag: &str, rows: usize, seed: u64) -> anyhow::Result<Source> {
        let mut oracle = Oracle::new(tag)?;
        oracle.client.batch_execute(SOURCE_TABLE)?;
        let mut writer = ChangeWriter::new(seed);
        writer.insert_initial(&mut oracle.client, rows)?;
        Ok(Source { oracle, writer })
    }

    /// Starts the pipeline on this database, its cache in `home`.
    pub fn start(&self, home: &Path, port: u16) -> anyhow::Result<Running> {
        let url = format!(
            "pg=host=127.0.0.1 port=5432 user=postgres dbname={}",
            self.oracle.name()
        );
        Running::start_args(
            &pipeline().binary,
            home,
            port,
            &["--connection".into(), url],
        )
    }

    /// The server's WAL insert position: every commit so far ends at or before it, even those
    /// made with `synchronous_commit = off` (whose WAL may not be written yet).
    pub fn current_lsn(&mut self) -> anyhow::Result<String> {
        let row = self
            .oracle
            .client
            .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])?;
        Ok(row.get(0))
    }

    /// Waits (read-your-writes) until the pipeline applied everything committed so far, then
    /// compares every endpoint with Postgres.
    pub fn check(&mut self, running: &Running, timeout: Duration) -> anyhow::Result<()> {
        let lsn = self.current_lsn()?;
        crate::http::wait_for_position(running.port, &lsn, timeout).map_err(|e| {
            anyhow::anyhow!("{e}\npipeline log:\n{}", tail(&running.log_text(), 60))
        })?;
        for (path, sql) in ORACLE {
            assert_same(path, &all_rows(running.port, path)?, self.oracle.rows(sql)?)?;
        }
        Ok(())
    }
}

/// The last `lines` lines of a log.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What a writer did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub inserts: usize,
    pub updates: usize,
    pub key_updates: usize,
    pub deletes: usize,
    /// Statements that updated many rows, and how many rows they updated (not in `changes`).
    pub bulk_updates: usize,
    pub bulk_rows: usize,
    pub committed: usize,
    pub rolled_back: usize,
}

impl Written {
    /// Single-row changes committed.
    pub fn changes(&self) -> usize {
        self.inserts + self.updates + self.key_updates + self.deletes
    }
}

const COUNTRIES: [&str; 7] = [
    "United Kingdom",
    "France",
    "Germany",
    "EIRE",
    "Spain",
    "Côte d'Ivoire",
    "Netherlands",
];

/// Seeded random transactions over `sales_data`: inserts; updates of amounts and of the group
/// columns (moving rows between groups), some of the primary key itself; deletes; occasional
/// statements touching many rows; transactions of 1 to 12 changes, some rolled back. Groups are
/// few, so they empty out and come back.
pub struct ChangeWriter {
    rng: StdRng,
    next_id: i64,
    /// Ids of the rows that exist (committed).
    live: Vec<i64>,
    pub written: Written,
    /// Slept between transactions (to spread a stream over time).
    pub pause: Duration,
}

impl ChangeWriter {
    pub fn new(seed: u64) -> Self {
        ChangeWriter {
            rng: StdRng::seed_from_u64(seed),
            next_id: 1,
            live: Vec::new(),
            written: Written::default(),
            pause: Duration::ZERO,
        }
    }

    /// Inserts `rows` rows in one statement, server-side (fast, for large snapshots).
    pub fn insert_generated(&mut self, client: &mut Client, rows: i64) -> anyhow::Result<()> {
        let first = self.next_id;
        let last = first + rows - 1;
        client.execute(
            "INSERT INTO sales_data SELECT g, 'INV' || g, 'S' || lpad((g % 40)::text, 3, '0'), \
             'bulk', g % 45 - 5, timestamp '2011-03-01 10:30' + (g % 28) * interval '1 day', \
             ((g * 37) % 5000 + 1) / 100.0, CASE WHEN g % 10 = 0 THEN NULL ELSE 1000 + g % 150 END, \
             (ARRAY['United Kingdom','France','Germany','EIRE','Spain','Côte d''Ivoire','Netherlands'])[g % 7 + 1] \
             FROM generate_series($1::bigint, $2::bigint) g",
            &[&first, &last],
        )?;
        self.live.extend(first..=last);
        self.next_id = last + 1;
        Ok(())
    }

    /// Inserts `rows` rows in one transaction.
    pub fn insert_initial(&mut self, client: &mut Client, rows: usize) -> anyhow::Result<()> {
        let mut txn = client.transaction()?;
        for _ in 0..rows {
            let id = self.next_id;
            self.next_id += 1;
            self.insert(&mut txn, id)?;
            self.live.push(id);
        }
        txn.commit()?;
        Ok(())
    }

    /// Commits (or rolls back) transactions until `changes` row changes were committed.
    pub fn write(&mut self, client: &mut Client, changes: usize) -> anyhow::Result<Written> {
        client.batch_execute("SET synchronous_commit = off")?;
        let target = self.written.changes() + changes;
        while self.written.changes() < target {
            self.transaction(client)?;
            std::thread::sleep(self.pause);
        }
        Ok(self.written)
    }

    fn transaction(&mut self, client: &mut Client) -> anyhow::Result<()> {
        let size = self.rng.random_range(1..=12);
        let rollback = self.rng.random_bool(0.05);
        let mut live = self.live.clone();
        let mut next_id = self.next_id;
        let mut done = Written::default();
        let mut txn = client.transaction()?;
        for _ in 0..size {
            let roll: f64 = self.rng.random();
            if live.is_empty() || roll < 0.45 {
                let id = next_id;
                next_id += 1;
                self.insert(&mut txn, id)?;
                live.push(id);
                done.inserts += 1;
            } else if roll < 0.75 {
                let id = live[self.rng.random_range(0..live.len())];
                self.update(&mut txn, id)?;
                done.updates += 1;
            } else if roll < 0.82 {
                // A new primary key: a delete and an insert for the pipeline.
                let at = self.rng.random_range(0..live.len());
                let new_id = next_id;
                next_id += 1;
                txn.execute(
                    "UPDATE sales_data SET id = $1, Quantity = Quantity + 1 WHERE id = $2",
                    &[&new_id, &live[at]],
                )?;
                live[at] = new_id;
                done.key_updates += 1;
            } else if roll < 0.998 {
                let at = self.rng.random_range(0..live.len());
                txn.execute("DELETE FROM sales_data WHERE id = $1", &[&live[at]])?;
                live.swap_remove(at);
                done.deletes += 1;
            } else {
                // One statement, many rows.
                let country = COUNTRIES[self.rng.random_range(0..COUNTRIES.len())];
                let touched = txn.execute(
                    "UPDATE sales_data SET Quantity = Quantity + 1 WHERE Country = $1",
                    &[&country],
                )?;
                done.bulk_rows += touched as usize;
                done.bulk_updates += 1;
            }
        }
        if rollback {
            txn.rollback()?;
            self.written.rolled_back += 1;
        } else {
            txn.commit()?;
            self.live = live;
            self.next_id = next_id;
            self.written.inserts += done.inserts;
            self.written.updates += done.updates;
            self.written.key_updates += done.key_updates;
            self.written.deletes += done.deletes;
            self.written.bulk_updates += done.bulk_updates;
            self.written.bulk_rows += done.bulk_rows;
            self.written.committed += 1;
        }
        Ok(())
    }

    fn insert(&mut self, txn: &mut postgres::Transaction, id: i64) -> anyhow::Result<()> {
        let stock = format!("S{:03}", self.rng.random_range(0..40));
        let quantity: i64 = self.rng.random_range(-5..=40);
        let price = cents(self.rng.random_range(1..=5000));
        let customer: Option<i64> = self
            .rng
            .random_bool(0.9)
            .then(|| self.rng.random_range(1000..1150));
        let country = COUNTRIES[self.rng.random_range(0..COUNTRIES.len())];
        let time = self.random_time();
        txn.execute(
            "INSERT INTO sales_data VALUES ($1, $2, $3, $4, $5, \
             $6::text::timestamp, $7::text::numeric, $8, $9)",
            &[
                &id,
                &format!("INV{id}"),
                &stock,
                &format!("item {stock}"),
                &quantity,
                &time,
                &price,
                &customer,
                &country,
            ],
        )
        .map_err(|e| anyhow::anyhow!("insert: {}", describe(&e)))?;
        Ok(())
    }

    fn update(&mut self, txn: &mut postgres::Transaction, id: i64) -> anyhow::Result<()> {
        match self.rng.random_range(0..6) {
            5 => {
                // Another time: the row moves to other windows.
                let time = self.random_time();
                txn.execute(
                    "UPDATE sales_data SET InvoiceDate = $1::text::timestamp WHERE id = $2",
                    &[&time, &id],
                )?
            }
            0 => {
                let quantity: i64 = self.rng.random_range(-5..=40);
                txn.execute(
                    "UPDATE sales_data SET Quantity = $1 WHERE id = $2",
                    &[&quantity, &id],
                )?
            }
            1 => {
                let price = cents(self.rng.random_range(1..=5000));
                txn.execute(
                    "UPDATE sales_data SET UnitPrice = $1::text::numeric WHERE id = $2",
                    &[&price, &id],
                )?
            }
            2 => {
                let country = COUNTRIES[self.rng.random_range(0..COUNTRIES.len())];
                txn.execute(
                    "UPDATE sales_data SET Country = $1 WHERE id = $2",
                    &[&country, &id],
                )?
            }
            3 => {
                let stock = format!("S{:03}", self.rng.random_range(0..40));
                txn.execute(
                    "UPDATE sales_data SET StockCode = $1 WHERE id = $2",
                    &[&stock, &id],
                )?
            }
            _ => {
                let customer: Option<i64> = self
                    .rng
                    .random_bool(0.8)
                    .then(|| self.rng.random_range(1000..1150));
                txn.execute(
                    "UPDATE sales_data SET CustomerID = $1 WHERE id = $2",
                    &[&customer, &id],
                )?
            }
        };
        Ok(())
    }
}

impl ChangeWriter {
    /// A time in March 2011 as timestamp text, to the minute.
    fn random_time(&mut self) -> String {
        let (day, hour, minute) = (
            self.rng.random_range(1..=28),
            self.rng.random_range(0..24),
            self.rng.random_range(0..60),
        );
        format!("2011-03-{day:02} {hour:02}:{minute:02}:00")
    }
}

/// A price as exact decimal text (`12.34`).
fn cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}
