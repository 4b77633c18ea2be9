//! TUMBLE and HOP windows over the e-commerce sales (aggregated, and a projection over TUMBLE),
//! compared with Postgres computing the same windows with `date_bin` and `generate_series`
//! (GUIDE §3), after the first file and after a second one moves them.

use dozer_e2e::ecommerce::{derived_sales, sample_csv, SALES_TABLE};
use dozer_e2e::http::all_rows;
use dozer_e2e::oracle::{assert_same, Oracle};
use dozer_e2e::pipeline::{build, free_port, Running};
use std::time::Duration;

const CONFIG: &str = r#"app_name: windows_oracle
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
            schema: { InvoiceNo: String, StockCode: String, Description: String, Quantity: Int,
                      InvoiceDate: Timestamp, UnitPrice: Decimal, CustomerID: Int, Country: String }
sources:
  - { name: sales_data, table_name: sales_data, connection: files }
sql: |
  SELECT SUM(t.Quantity * t.UnitPrice) as total_sales, t.window_start as start, t.window_end AS end
  INTO daily_sales
  FROM TUMBLE(sales_data, InvoiceDate, '1 DAY') t;

  SELECT Country, COUNT(*) AS orders, SUM(t.Quantity) AS units, t.window_start, t.window_end
  INTO country_hops
  FROM HOP(sales_data, InvoiceDate, '6 HOURS', '1 DAY') t
  WHERE t.Quantity > 0
  GROUP BY Country;

  SELECT InvoiceNo, Quantity, t.window_start AS day, t.window_end
  INTO daily_lines
  FROM TUMBLE(sales_data, InvoiceDate, '1 DAY') t
  WHERE t.window_start >= '2011-03-01';
endpoints:
  - { name: daily_sales, path: /daily_sales, table_name: daily_sales }
  - { name: country_hops, path: /country_hops, table_name: country_hops }
  - { name: daily_lines, path: /daily_lines, table_name: daily_lines }
"#;

/// The same windows in Postgres: tumbling with `date_bin`, hopping with `generate_series` over
/// the four 6-hour-aligned starts whose day-long window holds the time.
const QUERIES: [(&str, &str); 3] = [
    (
        "/daily_sales",
        "SELECT SUM(Quantity * UnitPrice) AS total_sales, \
         date_bin('1 day', InvoiceDate, timestamp '1970-01-01') AS start, \
         date_bin('1 day', InvoiceDate, timestamp '1970-01-01') + interval '1 day' AS \"end\" \
         FROM sales_data GROUP BY 2, 3",
    ),
    (
        "/country_hops",
        "SELECT Country, COUNT(*) AS orders, SUM(Quantity) AS units, s AS window_start, \
         s + interval '1 day' AS window_end \
         FROM sales_data, generate_series( \
           date_bin('6 hours', InvoiceDate, timestamp '1970-01-01') - interval '18 hours', \
           date_bin('6 hours', InvoiceDate, timestamp '1970-01-01'), interval '6 hours') AS s \
         WHERE Quantity > 0 GROUP BY Country, s",
    ),
    (
        "/daily_lines",
        "SELECT InvoiceNo, Quantity, date_bin('1 day', InvoiceDate, timestamp '1970-01-01') AS day, \
         date_bin('1 day', InvoiceDate, timestamp '1970-01-01') + interval '1 day' AS window_end \
         FROM sales_data WHERE date_bin('1 day', InvoiceDate, timestamp '1970-01-01') >= '2011-03-01'",
    ),
];

fn check(oracle: &mut Oracle, port: u16) -> anyhow::Result<()> {
    for (path, sql) in QUERIES {
        let served = all_rows(port, path)?;
        anyhow::ensure!(served.len() > 10, "{path}: only {} windows", served.len());
        assert_same(path, &served, oracle.rows(sql)?)?;
    }
    Ok(())
}

#[test]
fn tumbling_and_hopping_windows_equal_postgres() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("data/sales"))?;
    std::fs::copy(sample_csv(), dir.path().join("data/sales/sales-0001.csv"))?;
    let config = dir.path().join("dozer-config.yaml");
    std::fs::write(&config, CONFIG)?;
    let built = build(&config, &dir.path().join("build"))?;

    let mut oracle = Oracle::new("windows")?;
    oracle.client.batch_execute(SALES_TABLE)?;
    oracle.copy_csv("sales_data", &sample_csv())?;
    let running = Running::start(&built.binary, &dir.path().join("home"), free_port())?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;
    check(&mut oracle, running.port)?;

    // A second file: windows grow, new ones appear, returns shrink some.
    let second = derived_sales(&sample_csv(), 3000)?;
    let second_path = dir.path().join("second.csv");
    std::fs::write(&second_path, &second)?;
    oracle.copy_csv("sales_data", &second_path)?;
    std::fs::rename(&second_path, dir.path().join("data/sales/sales-0002.csv"))?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 2)?;
    check(&mut oracle, running.port)?;
    Ok(())
}
