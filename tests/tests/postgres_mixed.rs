//! One pipeline reading two Postgres connections and a folder of CSV files at once: each
//! connection's transactions are committed whole (never interleaved with the other's or with a
//! file), positions are per connection, and every endpoint equals Postgres.

use dozer_e2e::cdc::{ChangeWriter, SOURCE_TABLE};
use dozer_e2e::ecommerce::{sample_csv, SALES_TABLE};
use dozer_e2e::http::{all_rows, wait_for_position};
use dozer_e2e::oracle::{assert_same, Oracle};
use dozer_e2e::pipeline::{build, free_port, Running};
use std::time::Duration;

const CONFIG: &str = r#"app_name: mixed_sources
connections:
  - name: east
    config: !Postgres { user: postgres, host: 127.0.0.1, port: 5432, database: {east} }
  - name: west
    config: !Postgres { user: postgres, host: 127.0.0.1, port: 5432, database: {west} }
  - name: files
    config: !LocalStorage
      details: { path: data }
      tables:
        - !Table
          name: returns
          config: !CSV
            path: returns
            extension: .csv
            schema: { InvoiceNo: String, StockCode: String, Description: String, Quantity: Int,
                      InvoiceDate: Timestamp, UnitPrice: Decimal, CustomerID: Int, Country: String }
sources:
  - { name: east_sales, table_name: sales_data, connection: east }
  - { name: west_sales, table_name: sales_data, connection: west }
  - { name: returns, table_name: returns, connection: files }
sql: |
  SELECT Country, SUM(Quantity * UnitPrice) AS TotalSales INTO east_by_country
  FROM east_sales GROUP BY Country;

  SELECT StockCode, SUM(Quantity) AS BuyCount INTO west_bestsellers
  FROM west_sales GROUP BY StockCode;

  SELECT Country, COUNT(*) AS lines INTO returns_by_country
  FROM returns GROUP BY Country;
endpoints:
  - { name: east, path: /east, table_name: east_by_country }
  - { name: west, path: /west, table_name: west_bestsellers }
  - { name: returns, path: /returns, table_name: returns_by_country }
"#;

const EAST: &str =
    "SELECT Country, SUM(Quantity * UnitPrice) AS TotalSales FROM sales_data GROUP BY Country";
const WEST: &str = "SELECT StockCode, SUM(Quantity) AS BuyCount FROM sales_data GROUP BY StockCode";
const RETURNS: &str = "SELECT Country, COUNT(*) AS lines FROM returns GROUP BY Country";

fn lsn(oracle: &mut Oracle) -> anyhow::Result<String> {
    Ok(oracle
        .client
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])?
        .get(0))
}

#[test]
fn two_postgres_connections_and_files_in_one_pipeline() -> anyhow::Result<()> {
    let mut east = Oracle::new("mixed_east")?;
    let mut west = Oracle::new("mixed_west")?;
    east.client.batch_execute(SOURCE_TABLE)?;
    // West's table has no primary key: it can still be aggregated (REPLICA IDENTITY FULL
    // identifies the rows changed).
    west.client
        .batch_execute(&SOURCE_TABLE.replace("id bigint PRIMARY KEY", "id bigint"))?;
    // The file source's oracle lives in the east database.
    east.client
        .batch_execute(&SALES_TABLE.replace("sales_data", "returns"))?;

    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("data/returns"))?;
    let config = dir.path().join("dozer-config.yaml");
    std::fs::write(
        &config,
        CONFIG
            .replace("{east}", east.name())
            .replace("{west}", west.name()),
    )?;
    let built = build(&config, &dir.path().join("build"))?;

    let (mut east_writer, mut west_writer) = (ChangeWriter::new(21), ChangeWriter::new(22));
    east_writer.insert_initial(&mut east.client, 500)?;
    west_writer.insert_initial(&mut west.client, 700)?;
    let home = dir.path().join("home");
    let running = Running::start(&built.binary, &home, free_port())?;

    // Both connections change at once while a file arrives.
    let mut east_client = east.connect()?;
    let mut west_client = west.connect()?;
    let east_thread = std::thread::spawn(move || east_writer.write(&mut east_client, 4_000));
    let west_thread = std::thread::spawn(move || west_writer.write(&mut west_client, 4_000));
    std::fs::copy(sample_csv(), dir.path().join("data/returns/r-1.csv"))?;
    east.copy_csv("returns", &sample_csv())?;
    east_thread.join().expect("east writer")?;
    west_thread.join().expect("west writer")?;

    let target = format!("east={}, west={}", lsn(&mut east)?, lsn(&mut west)?);
    wait_for_position(running.port, &target, Duration::from_secs(60))?;
    running.wait_until(Duration::from_secs(30), || {
        all_rows(running.port, "/returns")
            .map(|r| !r.is_empty())
            .unwrap_or(false)
    })?;
    assert_same("/east", &all_rows(running.port, "/east")?, east.rows(EAST)?)?;
    assert_same("/west", &all_rows(running.port, "/west")?, west.rows(WEST)?)?;
    assert_same(
        "/returns",
        &all_rows(running.port, "/returns")?,
        east.rows(RETURNS)?,
    )?;
    let health = ureq::get(&format!("http://127.0.0.1:{}/health", running.port)).call()?;
    let position = health
        .headers()
        .get("x-dozer-position")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        position.contains(" east=") && position.contains(" west="),
        "{position}"
    );
    Ok(())
}
