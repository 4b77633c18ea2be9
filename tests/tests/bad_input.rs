//! Bad input at run time: each gets one clear message and no panic.

use dozer_e2e::ecommerce::{pipeline, sample_csv, Scratch, QUERIES, SALES_TABLE};
use dozer_e2e::http::all_rows;
use dozer_e2e::oracle::{assert_same, Oracle};
use dozer_e2e::pipeline::{free_port, run_expecting_failure};
use std::time::{Duration, Instant};

#[test]
fn a_port_in_use_is_named() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let output = run_expecting_failure(
        &pipeline().binary,
        &scratch.home(),
        port,
        &[("sales_data", &scratch.sales_dir())],
    )?;
    assert!(
        output.contains(&format!("127.0.0.1:{port}"))
            && output.contains("in use")
            && output.contains("api.rest.port"),
        "{output}"
    );
    assert!(!output.contains("panicked"), "{output}");
    Ok(())
}

#[test]
fn a_missing_data_folder_is_named() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    let missing = scratch.dir.path().join("no-such-folder");
    let output = run_expecting_failure(
        &pipeline().binary,
        &scratch.home(),
        free_port(),
        &[("sales_data", &missing)],
    )?;
    assert!(
        output.contains("no-such-folder") && output.contains("does not exist"),
        "{output}"
    );
    Ok(())
}

#[test]
fn a_bad_csv_row_stops_the_pipeline_with_nothing_half_applied() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    scratch.add_file("sales-0001.csv", &std::fs::read(sample_csv())?)?;
    let port = free_port();
    let mut running = scratch.start(port)?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;

    // Row 3 of the new file has a Quantity that is not an Int.
    let bad = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n\
               1,A,x,1,2011-01-01T10:00:00,1.00,1,France\n\
               2,B,y,lots,2011-01-01T10:00:00,1.00,1,France\n";
    scratch.add_file("sales-0002.csv", bad.as_bytes())?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = running.try_exit()? {
            break status;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the pipeline kept running after a bad row"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let log = running.log_text();
    assert!(
        log.contains("sales-0002.csv:3:4")
            && log.contains("`Quantity`")
            && log.contains("`lots` is not an Int"),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");

    // Fix the data (remove the bad file): the first row of the bad file was never applied.
    std::fs::remove_file(scratch.sales_dir().join("sales-0002.csv"))?;
    let running = scratch.start(port)?;
    assert_eq!(running.position(), 1);
    let mut oracle = Oracle::new("ecommerce_badrow")?;
    oracle.client.batch_execute(SALES_TABLE)?;
    oracle.copy_csv("sales_data", &sample_csv())?;
    for (path, sql) in QUERIES {
        assert_same(path, &all_rows(port, path)?, oracle.rows(sql)?)?;
    }
    Ok(())
}
