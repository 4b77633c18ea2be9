//! TTL (GUIDE §2) over five days of sales streamed as 15 files of 8 hours each, with stragglers
//! (some late, some not), rows without a time, and a country that comes and goes.
//!
//! The semantics are modelled here independently and simply: which rows each TTL'd statement
//! admits, which groups are live after every file, and from which rows a reborn group starts
//! again. The model only decides *which* rows count; Postgres computes *what* they add up to
//! (date_bin, SUM over numeric), and every endpoint must equal that after every file, across a
//! kill -9. Purges must reach the statement that reads daily_sales (they flow as deletes), and
//! every dropped late change must be counted in `/metrics`.

use dozer_e2e::http::{all_rows, get_text};
use dozer_e2e::oracle::{assert_same, Oracle};
use dozer_e2e::pipeline::{build, free_port, Running};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;

const CONFIG: &str = r#"app_name: ttl_oracle
connections:
  - name: files
    config: !LocalStorage
      details: { path: data }
      tables:
        - !Table
          name: sales_data
          config: !CSV
            path: sales
            extension: .csv
            schema: { InvoiceNo: String, Quantity: Int, InvoiceDate: Timestamp,
                      UnitPrice: Decimal, Country: String }
sources:
  - { name: sales_data, table_name: sales_data, connection: files }
sql: |
  SELECT SUM(t.Quantity * t.UnitPrice) as total_sales, t.window_start as start, t.window_end AS end
  INTO daily_sales
  FROM TTL(TUMBLE(sales_data, InvoiceDate, '1 DAY'), InvoiceDate, '1 DAY') t;

  SELECT COUNT(*) AS days, SUM(total_sales) AS total
  INTO tracked_days
  FROM daily_sales;

  SELECT Country, COUNT(*) AS orders, SUM(Quantity) AS units
  INTO country_recent
  FROM TTL(sales_data, InvoiceDate, '12 HOURS')
  GROUP BY Country;

  SELECT InvoiceNo, Quantity, InvoiceDate
  INTO recent_sales
  FROM TTL(sales_data, InvoiceDate, '6 HOURS')
  WHERE Quantity > 0;
endpoints:
  - { name: daily_sales, path: /daily_sales, table_name: daily_sales }
  - { name: tracked_days, path: /tracked_days, table_name: tracked_days }
  - { name: country_recent, path: /country_recent, table_name: country_recent }
  - { name: recent_sales, path: /recent_sales, table_name: recent_sales }
"#;

const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;
/// 2011-01-01 00:00:00 UTC in seconds.
const START: i64 = 1_293_840_000;
const FILES: usize = 15;
const ROWS_PER_FILE: usize = 300;
/// The file after which the pipeline is killed with SIGKILL and started again.
const KILL_AFTER: usize = 7;

struct Row {
    id: String,
    quantity: i64,
    /// Seconds since the epoch; None is an empty (NULL) time.
    time: Option<i64>,
    price: String,
    country: &'static str,
}

/// One TTL'd statement as GUIDE §2 defines it, recomputed from its rows.
struct Model {
    statement: &'static str,
    ttl: i64,
    /// The group of a row (None: the row is in no group, as a row without time in a window).
    group: fn(&Row) -> Option<String>,
    watermark: Option<i64>,
    /// Live groups and the rows (indexes) of their current incarnation.
    groups: BTreeMap<String, Vec<usize>>,
    late: u64,
}

impl Model {
    fn new(statement: &'static str, ttl: i64, group: fn(&Row) -> Option<String>) -> Model {
        Model {
            statement,
            ttl,
            group,
            watermark: None,
            groups: BTreeMap::new(),
            late: 0,
        }
    }

    fn expired(&self, time: Option<i64>) -> bool {
        matches!((time, self.watermark), (Some(t), Some(w)) if t <= w - self.ttl)
    }

    /// Applies one file (one transaction): late rows are dropped, the others join their group
    /// (a purged group starts again), then the watermark advances and emptied groups go.
    fn apply(&mut self, rows: &[Row], file: std::ops::Range<usize>) {
        for i in file.clone() {
            if self.expired(rows[i].time) {
                self.late += 1;
                continue;
            }
            if let Some(group) = (self.group)(&rows[i]) {
                self.groups.entry(group).or_default().push(i);
            }
        }
        let newest = file.filter_map(|i| rows[i].time).max();
        self.watermark = self.watermark.max(newest);
        let groups = std::mem::take(&mut self.groups);
        self.groups = groups
            .into_iter()
            .filter(|(_, members)| members.iter().any(|&i| !self.expired(rows[i].time)))
            .collect();
    }

    fn counted(&self) -> BTreeSet<usize> {
        self.groups.values().flatten().copied().collect()
    }
}

fn day_of(row: &Row) -> Option<String> {
    row.time.map(|t| t.div_euclid(DAY).to_string())
}

fn generate(rng: &mut StdRng) -> Vec<Row> {
    let mut rows = Vec::new();
    for file in 0..FILES {
        let base = START + file as i64 * 8 * HOUR;
        for i in 0..ROWS_PER_FILE {
            let roll: f64 = rng.random();
            let mut country = ["UK", "FR", "DE"][rng.random_range(0..3)];
            let time = if roll < 0.02 {
                None
            } else if roll < 0.10 {
                // A straggler from up to 40 hours back: late for some TTLs, not for others.
                Some(base - rng.random_range(0..40 * HOUR))
            } else {
                // Iceland buys only every fifth file: its group expires in between.
                if file % 5 == 0 && rng.random_bool(0.2) {
                    country = "IS";
                }
                Some(base + rng.random_range(0..8 * HOUR))
            };
            rows.push(Row {
                id: format!("f{file}-{i}"),
                quantity: rng.random_range(-3..20),
                time,
                price: format!(
                    "{}.{:02}",
                    rng.random_range(0..40),
                    rng.random_range(0..100)
                ),
                country,
            });
        }
    }
    rows
}

fn timestamp(seconds: i64) -> String {
    let (days, rest) = (seconds.div_euclid(DAY), seconds.rem_euclid(DAY));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / HOUR,
        rest % HOUR / 60,
        rest % 60
    )
}

fn csv(rows: &[Row]) -> String {
    let mut text = String::from("InvoiceNo,Quantity,InvoiceDate,UnitPrice,Country\n");
    for r in rows {
        let time = r.time.map(timestamp).unwrap_or_default();
        let _ = writeln!(
            text,
            "{},{},{time},{},{}",
            r.id, r.quantity, r.price, r.country
        );
    }
    text
}

/// Loads every row into Postgres, and which rows each statement counts.
fn load(oracle: &mut Oracle, rows: &[Row], models: &[&Model]) -> anyhow::Result<()> {
    let mut sql = String::from("TRUNCATE sales; TRUNCATE counted;");
    for chunk in rows.chunks(500) {
        sql.push_str("INSERT INTO sales VALUES ");
        let values: Vec<String> = chunk
            .iter()
            .map(|r| {
                let time = r
                    .time
                    .map_or("NULL".to_string(), |t| format!("'{}'", timestamp(t)));
                format!(
                    "('{}', {}, {time}, {}, '{}')",
                    r.id, r.quantity, r.price, r.country
                )
            })
            .collect();
        sql.push_str(&values.join(","));
        sql.push(';');
    }
    for model in models {
        let counted: Vec<String> = model
            .counted()
            .iter()
            .map(|&i| format!("('{}', '{}')", model.statement, rows[i].id))
            .collect();
        if !counted.is_empty() {
            let _ = write!(sql, "INSERT INTO counted VALUES {};", counted.join(","));
        }
    }
    oracle.client.batch_execute(&sql)?;
    Ok(())
}

const DAILY: &str = "SELECT SUM(Quantity * UnitPrice) AS total_sales, \
     date_bin('1 day', InvoiceDate, timestamp '1970-01-01') AS start, \
     date_bin('1 day', InvoiceDate, timestamp '1970-01-01') + interval '1 day' AS \"end\" \
     FROM sales JOIN counted c ON c.id = InvoiceNo AND c.stmt = 'daily_sales' GROUP BY 2, 3";

fn check(oracle: &mut Oracle, port: u16, after: usize) -> anyhow::Result<()> {
    let queries = [
        ("/daily_sales", DAILY.to_string()),
        (
            "/tracked_days",
            format!("SELECT COUNT(*) AS days, SUM(total_sales) AS total FROM ({DAILY}) d"),
        ),
        (
            "/country_recent",
            "SELECT Country, COUNT(*) AS orders, SUM(Quantity) AS units FROM sales \
             JOIN counted c ON c.id = InvoiceNo AND c.stmt = 'country_recent' GROUP BY Country"
                .to_string(),
        ),
        (
            "/recent_sales",
            "SELECT InvoiceNo, Quantity, InvoiceDate FROM sales \
             JOIN counted c ON c.id = InvoiceNo AND c.stmt = 'recent_sales' WHERE Quantity > 0"
                .to_string(),
        ),
    ];
    for (path, sql) in queries {
        let served = all_rows(port, path)?;
        assert_same(
            &format!("{path} after file {after}"),
            &served,
            oracle.rows(&sql)?,
        )?;
    }
    Ok(())
}

/// `dozer_late_changes_total` per statement, from `/metrics`.
fn late_changes(port: u16) -> anyhow::Result<BTreeMap<String, u64>> {
    let text = get_text(port, "/metrics")?;
    let mut counts = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix("dozer_late_changes_total{statement=\"") else {
            continue;
        };
        let (statement, value) = rest
            .split_once("\"} ")
            .ok_or_else(|| anyhow::anyhow!("bad metrics line {line:?}"))?;
        counts.insert(statement.to_string(), value.trim().parse()?);
    }
    Ok(counts)
}

#[test]
fn ttl_keeps_exactly_the_live_windows_and_purges_the_rest() -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(0x7711);
    let rows = generate(&mut rng);
    let dir = tempfile::tempdir()?;
    let sales = dir.path().join("data/sales");
    std::fs::create_dir_all(&sales)?;
    let config = dir.path().join("dozer-config.yaml");
    std::fs::write(&config, CONFIG)?;
    let built = build(&config, &dir.path().join("build"))?;

    let mut oracle = Oracle::new("ttl")?;
    oracle.client.batch_execute(
        "CREATE TABLE sales (InvoiceNo text, Quantity bigint, InvoiceDate timestamp, \
         UnitPrice numeric, Country text); CREATE TABLE counted (stmt text, id text)",
    )?;
    let mut daily = Model::new("daily_sales", DAY, day_of);
    let mut country = Model::new("country_recent", 12 * HOUR, |r| Some(r.country.to_string()));
    let mut recent = Model::new("recent_sales", 6 * HOUR, |r| Some(r.id.clone()));

    let home = dir.path().join("home");
    let port = free_port();
    let mut running = Running::start(&built.binary, &home, port)?;
    let (mut max_days, mut iceland_gone, mut iceland_returned) = (0, false, false);
    for file in 0..FILES {
        let range = file * ROWS_PER_FILE..(file + 1) * ROWS_PER_FILE;
        let tmp = dir.path().join("next.csv");
        std::fs::write(&tmp, csv(&rows[range.clone()]))?;
        std::fs::rename(&tmp, sales.join(format!("sales-{file:04}.csv")))?;
        for model in [&mut daily, &mut country, &mut recent] {
            model.apply(&rows, range.clone());
        }
        let seen: Vec<usize> = (0..(file + 1) * ROWS_PER_FILE).collect();
        load(
            &mut oracle,
            &rows[..seen.len()],
            &[&daily, &country, &recent],
        )?;
        running.wait_until(Duration::from_secs(30), || running.position() > file as u64)?;
        check(&mut oracle, port, file)?;

        let late = late_changes(port)?;
        for model in [&daily, &country, &recent] {
            let counted = late.get(model.statement).copied().unwrap_or(0);
            anyhow::ensure!(
                counted == model.late,
                "{}: /metrics counts {counted} late changes after file {file}, expected {}",
                model.statement,
                model.late
            );
        }
        max_days = max_days.max(daily.groups.len());
        let iceland = country.groups.contains_key("IS");
        iceland_gone |= file > 0 && !iceland;
        iceland_returned |= iceland_gone && iceland;
        if file == KILL_AFTER {
            running.kill();
            running = Running::start(&built.binary, &home, port)?;
            check(&mut oracle, port, file)?;
        }
    }

    // The run exercised what it claims to: late rows for every TTL, windows kept within a
    // couple of days out of five, and a group that expired and came back.
    anyhow::ensure!(daily.late > 0 && country.late > daily.late && recent.late > country.late);
    anyhow::ensure!(
        max_days <= 3 && daily.groups.len() < 5,
        "daily_sales kept {max_days} windows"
    );
    anyhow::ensure!(iceland_returned, "IS never came back after expiring");
    eprintln!(
        "late changes: daily {}, country {}, recent {}; live windows at most {max_days}",
        daily.late, country.late, recent.late
    );
    let log = running.log_text();
    anyhow::ensure!(
        log.contains("dropped late changes"),
        "late changes are logged:\n{log}"
    );
    Ok(())
}

const PG_CONFIG: &str = r#"app_name: ttl_postgres
connections:
  - name: shop
    config: !Postgres { user: postgres, host: 127.0.0.1, port: 5432, database: {db} }
sources:
  - { name: events, table_name: events, connection: shop }
sql: |
  SELECT SUM(t.amount) AS total, t.window_start AS start
  INTO daily
  FROM TTL(TUMBLE(events, at, '1 DAY'), at, '1 DAY') t;

  SELECT id, amount, at INTO recent FROM TTL(events, at, '1 DAY');
endpoints:
  - { name: daily, path: /daily, table_name: daily }
  - { name: recent, path: /recent, table_name: recent }
"#;

fn pg_lsn(oracle: &mut Oracle) -> anyhow::Result<String> {
    Ok(oracle
        .client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])?
        .get(0))
}

/// Served rows as sorted `field=value` strings, for hand-written expectations.
fn served(port: u16, path: &str) -> anyhow::Result<Vec<String>> {
    let mut rows: Vec<String> = all_rows(port, path)?
        .iter()
        .map(|row| {
            let mut fields: Vec<String> = row
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_string)))
                .collect();
            fields.sort();
            fields.join(" ")
        })
        .collect();
    rows.sort();
    Ok(rows)
}

/// Over Postgres: the whole snapshot is one transaction (its rows are never late to each other),
/// each upstream transaction moves the watermark once, late halves of updates are dropped while
/// their other halves apply, deletes of live rows retract (a group left with only expired rows is
/// purged), and the watermark survives a restart.
#[test]
fn ttl_over_postgres_follows_transactions() -> anyhow::Result<()> {
    use dozer_e2e::http::wait_for_position;
    let mut oracle = Oracle::new("ttl_pg")?;
    oracle.client.batch_execute(
        "CREATE TABLE events (id int PRIMARY KEY, amount numeric, at timestamp); \
         ALTER TABLE events REPLICA IDENTITY FULL; \
         INSERT INTO events VALUES (1, 10, '2024-01-01 06:00'), (2, 20, '2024-01-02 12:00'), \
                                   (3, 5, '2024-01-01 23:00');",
    )?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("dozer-config.yaml");
    std::fs::write(&config, PG_CONFIG.replace("{db}", oracle.name()))?;
    let built = build(&config, &dir.path().join("build"))?;
    let home = dir.path().join("home");
    let port = free_port();
    let mut running = Some(Running::start(&built.binary, &home, port)?);

    let mut step = |sql: &str, daily: &[&str], recent: &[&str], late: u64| -> anyhow::Result<()> {
        if !sql.is_empty() {
            oracle.client.batch_execute(sql)?;
        }
        let lsn = pg_lsn(&mut oracle)?;
        wait_for_position(port, &lsn, Duration::from_secs(30))?;
        let context = format!("after `{sql}`");
        for (path, expected) in [("/daily", daily), ("/recent", recent)] {
            let rows = served(port, path)?;
            anyhow::ensure!(
                rows == expected,
                "{context}: {path} serves {rows:?}, expected {expected:?}"
            );
        }
        let counts = late_changes(port)?;
        for statement in ["daily", "recent"] {
            let n = counts.get(statement).copied().unwrap_or(0);
            anyhow::ensure!(
                n == late,
                "{context}: {statement} counted {n} late changes, expected {late}"
            );
        }
        Ok(())
    };
    // Snapshot: watermark 01-02 12:00, cutoff 01-01 12:00. Row 1 (01-01 06:00) was admitted
    // with the snapshot, then expired: it leaves `recent`; day 1 keeps it, as row 3 is live.
    step(
        "",
        &[
            "start=2024-01-01T00:00:00Z total=15",
            "start=2024-01-02T00:00:00Z total=20",
        ],
        &[
            "amount=20 at=2024-01-02T12:00:00Z id=2",
            "amount=5 at=2024-01-01T23:00:00Z id=3",
        ],
        0,
    )?;
    // An insert before the cutoff, and an update of an expired row (both halves): all late.
    step(
        "BEGIN; INSERT INTO events VALUES (4, 7, '2024-01-01 08:00'); \
         UPDATE events SET amount = 100 WHERE id = 1; COMMIT;",
        &[
            "start=2024-01-01T00:00:00Z total=15",
            "start=2024-01-02T00:00:00Z total=20",
        ],
        &[
            "amount=20 at=2024-01-02T12:00:00Z id=2",
            "amount=5 at=2024-01-01T23:00:00Z id=3",
        ],
        3,
    )?;
    // A new day: cutoff 01-02 00:30, so day 1's last row expires and day 1 is purged.
    step(
        "INSERT INTO events VALUES (5, 30, '2024-01-03 00:30')",
        &[
            "start=2024-01-02T00:00:00Z total=20",
            "start=2024-01-03T00:00:00Z total=30",
        ],
        &[
            "amount=20 at=2024-01-02T12:00:00Z id=2",
            "amount=30 at=2024-01-03T00:30:00Z id=5",
        ],
        3,
    )?;
    // The watermark and the expiry state survive a kill -9.
    if let Some(mut old) = running.take() {
        old.kill();
    }
    running = Some(Running::start(&built.binary, &home, port)?);
    step(
        "INSERT INTO events VALUES (6, 1, '2024-01-01 23:30')",
        &[
            "start=2024-01-02T00:00:00Z total=20",
            "start=2024-01-03T00:00:00Z total=30",
        ],
        &[
            "amount=20 at=2024-01-02T12:00:00Z id=2",
            "amount=30 at=2024-01-03T00:30:00Z id=5",
        ],
        4,
    )?;
    // Deleting a live row retracts it; moving a row into expired time applies only its delete.
    step(
        "DELETE FROM events WHERE id = 2",
        &["start=2024-01-03T00:00:00Z total=30"],
        &["amount=30 at=2024-01-03T00:30:00Z id=5"],
        4,
    )?;
    step(
        "UPDATE events SET at = '2024-01-01 10:00' WHERE id = 5",
        &[],
        &[],
        5,
    )?;
    // A group left with only expired rows when its last live row is deleted is purged then.
    step(
        "INSERT INTO events VALUES (7, 7, '2024-01-05 01:00'), (8, 8, '2024-01-05 23:00')",
        &["start=2024-01-05T00:00:00Z total=15"],
        &[
            "amount=7 at=2024-01-05T01:00:00Z id=7",
            "amount=8 at=2024-01-05T23:00:00Z id=8",
        ],
        5,
    )?;
    step(
        "INSERT INTO events VALUES (9, 9, '2024-01-06 12:00')",
        &[
            "start=2024-01-05T00:00:00Z total=15",
            "start=2024-01-06T00:00:00Z total=9",
        ],
        &[
            "amount=8 at=2024-01-05T23:00:00Z id=8",
            "amount=9 at=2024-01-06T12:00:00Z id=9",
        ],
        5,
    )?;
    step(
        "DELETE FROM events WHERE id = 8",
        &["start=2024-01-06T00:00:00Z total=9"],
        &["amount=9 at=2024-01-06T12:00:00Z id=9"],
        5,
    )?;
    drop(running);
    Ok(())
}
