//! Every SQL feature of the foundation, compared with Postgres: each statement becomes a
//! Postgres view (so statements reading earlier results are checked too) and each endpoint must
//! equal `SELECT * FROM <view>`, before any data, after the snapshot and after a second file changes groups.

use dozer_e2e::ecommerce::{derived_sales, sample_csv, Scratch};
use dozer_e2e::http::all_rows;
use dozer_e2e::oracle::{assert_same, Oracle};
use dozer_e2e::pipeline::{build, free_port, Running};
use dozer_e2e::statements::{sql_block, statements};
use dozer_e2e::workspace_root;
use std::time::Duration;

/// Postgres `integer` for the Int columns: SUM(integer) is bigint there, like our SUM(Int).
const TABLE: &str =
    "CREATE TABLE sales_data (InvoiceNo text, StockCode text, Description text, Quantity integer, \
     InvoiceDate timestamp, UnitPrice numeric, CustomerID integer, Country text)";

const ENDPOINTS: [(&str, &str); 6] = [
    ("/clv", "customer_lifetime_value"),
    ("/country_stats", "country_stats"),
    ("/clv_summary", "clv_summary"),
    ("/big_spenders", "big_spenders"),
    ("/returns", "returns"),
    ("/code_math", "code_math"),
];

fn check(oracle: &mut Oracle, port: u16) -> anyhow::Result<()> {
    for (path, view) in ENDPOINTS {
        assert_same(
            path,
            &all_rows(port, path)?,
            oracle.rows(&format!("SELECT * FROM {view}"))?,
        )?;
    }
    Ok(())
}

#[test]
fn every_statement_equals_postgres() -> anyhow::Result<()> {
    let fixture = workspace_root()
        .join("tests")
        .join("fixtures")
        .join("sql_features");
    let config = fixture.join("dozer-config.yaml");
    let built = build(
        &config,
        &workspace_root()
            .join("target")
            .join("e2e")
            .join("sql_features"),
    )?;

    let mut oracle = Oracle::new("sql_features")?;
    oracle.client.batch_execute(TABLE)?;
    for (name, select) in statements(&sql_block(&std::fs::read_to_string(&config)?)) {
        oracle
            .client
            .batch_execute(&format!("CREATE VIEW {name} AS {select}"))?;
    }

    // No data yet: the aggregation without GROUP BY already has its one row, as in Postgres.
    let scratch = Scratch::new()?;
    let running = Running::start_with(
        &built.binary,
        &scratch.home(),
        free_port(),
        &[("sales_data", &scratch.sales_dir())],
    )?;
    running.wait_until(Duration::from_secs(10), || {
        all_rows(running.port, "/clv_summary").is_ok_and(|rows| rows.len() == 1)
    })?;
    check(&mut oracle, running.port)?;

    oracle.copy_csv("sales_data", &sample_csv())?;
    scratch.add_file("sales-0001.csv", &std::fs::read(sample_csv())?)?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;
    check(&mut oracle, running.port)?;

    // A second file updates existing groups: chained statements see retractions of old rows.
    let second = derived_sales(&sample_csv(), 4000)?;
    let second_path = scratch.dir.path().join("second.csv");
    std::fs::write(&second_path, &second)?;
    oracle.copy_csv("sales_data", &second_path)?;
    scratch.add_file("sales-0002.csv", &second)?;
    running.wait_until(Duration::from_secs(10), || running.position() >= 2)?;
    check(&mut oracle, running.port)?;
    Ok(())
}
