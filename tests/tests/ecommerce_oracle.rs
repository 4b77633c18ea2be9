//! The e-commerce example end to end: emit, build, run on files, and compare every endpoint
//! with Postgres running the same SELECTs over the same rows (GUIDE §3).

use dozer_e2e::ecommerce::{derived_sales, sample_csv, Scratch, QUERIES, SALES_TABLE};
use dozer_e2e::http::all_rows;
use dozer_e2e::oracle::{assert_same, Oracle};
use dozer_e2e::pipeline::free_port;
use dozer_e2e::python::{generate_stubs, script_command};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
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

/// `examples/python-client`, the README's gRPC example, against the e-commerce pipeline: its
/// answers equal REST's, and it sees the changes a new file makes.
#[test]
fn the_python_example_client_queries_and_follows() -> anyhow::Result<()> {
    let scratch = Scratch::new()?;
    scratch.add_file("sales-0001.csv", &std::fs::read(sample_csv())?)?;
    let running = scratch.start(free_port())?;
    running.wait_until(Duration::from_secs(30), || running.position() >= 1)?;
    let stubs = scratch.dir.path().join("stubs");
    generate_stubs(&dozer_e2e::ecommerce::pipeline().crate_dir, &stubs)?;
    let script = dozer_e2e::workspace_root().join("examples/python-client/client.py");
    let address = format!("127.0.0.1:{}", running.grpc_port);
    let mut child = script_command(&stubs, &script, &["--address", &address, "--follow", "20"])?
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut output = Vec::new();
    for line in lines.by_ref() {
        let line = line?;
        let following = line.starts_with("following");
        output.push(line);
        if following {
            break;
        }
    }
    // Before the new file: the five best customers as REST orders them, and the countries.
    let (status, best) = dozer_e2e::http::post_raw(
        running.port,
        "/clv/query",
        r#"{"$order_by": {"LifetimeValue": "desc"}, "$limit": 5}"#,
    )?;
    anyhow::ensure!(status == 200, "{best}");
    let expected: Vec<String> = best
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let id = r["CustomerID"]
                .as_i64()
                .map_or("(none)".to_string(), |i| i.to_string());
            format!("  {id}: {}", r["LifetimeValue"].as_str().unwrap_or("?"))
        })
        .collect();
    let countries = all_rows(running.port, "/sales_by_country")?.len();
    scratch.add_file("sales-0002.csv", &derived_sales(&sample_csv(), 500)?)?;
    for line in lines.by_ref() {
        let line = line?;
        let change = line.contains("(commit 2, sales_data sales-0002.csv)");
        output.push(line);
        if change {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = output.join("\n");

    let printed: Vec<&str> = output
        .iter()
        .skip_while(|l| *l != "best customers:")
        .skip(1)
        .take(5)
        .map(String::as_str)
        .collect();
    assert_eq!(printed, expected, "{text}");
    assert!(text.contains(&format!("countries: {countries}")), "{text}");
    assert!(
        output.iter().any(|l| l.starts_with("day ")),
        "daily_sales through the common service: {text}"
    );
    assert!(
        text.contains("(commit 2, sales_data sales-0002.csv)"),
        "a change of the new file: {text}"
    );
    Ok(())
}
