//! The e-commerce example end to end: emit, build, run on files, and compare every endpoint
//! with Postgres running the same SELECTs over the same rows (GUIDE §3).

use dozer_e2e::ecommerce::{derived_sales, sample_csv, Scratch, QUERIES, SALES_TABLE};
use dozer_e2e::http::all_rows;
use dozer_e2e::oracle::{assert_same, Oracle};
use dozer_e2e::pipeline::free_port;
use std::time::{Duration, Instant};

fn check_all(oracle: &mut Oracle, port: u16) -> anyhow::Result<()> {
    for (path, sql) in QUERIES {
        assert_same(path, &all_rows(port, path)?, oracle.rows(sql)?)?;
    }
    Ok(())
}

fn all_match(oracle: &mut Oracle, port: u16) -> bool {
    check_all(oracle, port).is_ok()
}

#[test]
fn endpoints_equal_postgres_and_follow_new_files() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    scratch.add_file("sales-0001.csv", &std::fs::read(sample_csv())?)?;
    let mut oracle = Oracle::new("ecommerce_files")?;
    oracle.client.batch_execute(SALES_TABLE)?;
    oracle.copy_csv("sales_data", &sample_csv())?;

    let running = scratch.start(free_port())?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;
    check_all(&mut oracle, running.port)?;

    // A new file is new data: every endpoint moves to the new correct values.
    let second = derived_sales(&sample_csv(), 2500)?;
    let second_path = scratch.dir.path().join("second.csv");
    std::fs::write(&second_path, &second)?;
    oracle.copy_csv("sales_data", &second_path)?;
    let dropped = Instant::now();
    scratch.add_file("sales-0002.csv", &second)?;
    running.wait_until(Duration::from_secs(1), || running.position() >= 2)?;
    check_all(&mut oracle, running.port)?;
    eprintln!(
        "second file visible on every endpoint after {:?}",
        dropped.elapsed()
    );
    Ok(())
}

#[test]
fn restarts_resume_without_reingesting() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    scratch.add_file("sales-0001.csv", &std::fs::read(sample_csv())?)?;
    let mut oracle = Oracle::new("ecommerce_restart")?;
    oracle.client.batch_execute(SALES_TABLE)?;
    oracle.copy_csv("sales_data", &sample_csv())?;

    let port = free_port();
    let running = scratch.start(port)?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;
    let before: Vec<_> = QUERIES
        .iter()
        .map(|(p, _)| all_rows(port, p))
        .collect::<Result<_, _>>()?;
    let status = running.stop()?;
    assert!(status.success(), "a clean shutdown exits 0, got {status}");

    // Same results after a restart, and the file was not ingested again (position unchanged,
    // sums not doubled).
    let running = scratch.start(port)?;
    assert_eq!(running.position(), 1);
    let after: Vec<_> = QUERIES
        .iter()
        .map(|(p, _)| all_rows(port, p))
        .collect::<Result<_, _>>()?;
    assert_eq!(before, after);
    check_all(&mut oracle, port)?;

    // kill -9 after a new file: on restart it is applied exactly once.
    let second = derived_sales(&sample_csv(), 1000)?;
    let second_path = scratch.dir.path().join("second.csv");
    std::fs::write(&second_path, &second)?;
    oracle.copy_csv("sales_data", &second_path)?;
    scratch.add_file("sales-0002.csv", &second)?;
    running.wait_until(Duration::from_secs(10), || running.position() >= 2)?;
    let mut running = running;
    running.kill();
    let running = scratch.start(port)?;
    assert_eq!(running.position(), 2);
    running.wait_until(Duration::from_secs(10), || all_match(&mut oracle, port))?;
    check_all(&mut oracle, port)?;
    Ok(())
}
