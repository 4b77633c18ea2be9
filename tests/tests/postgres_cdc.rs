//! The e-commerce pipeline over Postgres: snapshot, then logical replication. After every
//! phase each endpoint must equal Postgres' own answer over the source table (GUIDE §3).

use dozer_e2e::cdc::{tail, Source};
use dozer_e2e::http::get_raw;
use dozer_e2e::pipeline::free_port;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

const CATCH_UP: Duration = Duration::from_secs(60);

/// Ends the pipeline's replication session from the server side.
fn terminate_walsender(source: &mut Source) -> anyhow::Result<()> {
    source.oracle.client.execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots \
         WHERE database = current_database() AND active_pid IS NOT NULL",
        &[],
    )?;
    Ok(())
}

#[test]
fn snapshot_then_20k_random_changes_equal_postgres() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_oracle", 3_000, 7)?;
    let home = tempfile::tempdir()?;
    let port = free_port();
    let mut running = source.start(home.path(), port)?;
    source.check(&running, CATCH_UP)?;

    let mut client = source.oracle.connect()?;
    for round in 0..4 {
        let started = Instant::now();
        let written = source.writer.write(&mut client, 5_000)?;
        if round == 2 {
            // The connection drops while the pipeline still works through a backlog, and the
            // process dies soon after reconnecting: the reconnect must not have acknowledged
            // what was not committed yet.
            terminate_walsender(&mut source)?;
            std::thread::sleep(Duration::from_millis(400));
            running.kill();
            running = source.start(home.path(), port)?;
        }
        source.check(&running, CATCH_UP)?;
        eprintln!(
            "round {round}: {written:?} caught up and equal {:?} after the writes started",
            started.elapsed()
        );
        if round == 1 {
            // The connection drops (the walsender is killed): the pipeline reconnects and
            // resumes without losing or repeating a transaction.
            terminate_walsender(&mut source)?;
        }
    }
    let written = source.writer.written;
    assert!(written.changes() >= 20_000, "{written:?}");
    assert!(written.rolled_back > 0 && written.key_updates > 0 && written.bulk_updates > 0);
    assert!(
        running
            .log_text()
            .contains("Postgres unavailable; retrying"),
        "the dropped connection was noticed and retried:\n{}",
        tail(&running.log_text(), 40)
    );
    Ok(())
}

#[test]
fn kill_9_at_random_moments_loses_and_doubles_nothing() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_crash", 2_000, 11)?;
    let home = tempfile::tempdir()?;
    let port = free_port();
    let mut running = source.start(home.path(), port)?;
    source.check(&running, CATCH_UP)?;

    // The writer keeps going while the pipeline is killed and restarted under it.
    let mut writer = std::mem::replace(&mut source.writer, dozer_e2e::cdc::ChangeWriter::new(0));
    writer.pause = Duration::from_millis(2);
    let mut client = source.oracle.connect()?;
    let writing = std::thread::spawn(move || -> anyhow::Result<_> {
        writer.write(&mut client, 12_000)?;
        Ok(writer)
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(rng.random_range(50..700)));
        running.kill();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        running = source.start(home.path(), port)?;
    }
    source.writer = writing.join().expect("writer thread")?;
    source.check(&running, CATCH_UP)?;
    // And once more after a last kill with everything written.
    running.kill();
    let running = source.start(home.path(), port)?;
    source.check(&running, CATCH_UP)?;
    // The log spans every run of this cache home: one snapshot, then only resumes.
    assert_eq!(
        running.log_text().matches("reading the snapshot").count(),
        1,
        "restarts resume from the stored position; they never snapshot again"
    );
    Ok(())
}

/// The cache commits so far (`/health`'s position).
fn commits(port: u16) -> anyhow::Result<u64> {
    let health = dozer_e2e::http::get(port, "/health")?;
    health["position"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no position in /health: {health}"))
}

#[test]
fn a_backlog_shares_commits_and_equals_postgres() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_group", 1_000, 13)?;
    let home = tempfile::tempdir()?;
    let port = free_port();
    let running = source.start(home.path(), port)?;
    source.check(&running, CATCH_UP)?;
    let before = commits(port)?;
    assert!(running.stop()?.success());

    // Written while the pipeline is down: on restart the reader hands transactions over far
    // faster than each can be committed, so waiting ones join the commit in progress.
    let mut client = source.oracle.connect()?;
    let committed = source.writer.written.committed;
    source.writer.write(&mut client, 3_000)?;
    let transactions = (source.writer.written.committed - committed) as u64;
    let running = source.start(home.path(), port)?;
    source.check(&running, CATCH_UP)?;
    let commits = commits(port)? - before;
    assert!(
        commits < transactions,
        "{transactions} upstream transactions took {commits} cache commits"
    );
    eprintln!("{transactions} upstream transactions in {commits} cache commits");
    Ok(())
}

#[test]
fn kill_9_during_the_snapshot_starts_it_over() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_snapshot_crash", 0, 12)?;
    let mut client = source.oracle.connect()?;
    source.writer.insert_generated(&mut client, 300_000)?;
    let home = tempfile::tempdir()?;
    let port = free_port();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for run in 1..=3 {
        let mut running = source.start(home.path(), port)?;
        // Kill inside the snapshot: once this run has started reading it, at a random moment
        // (a 300k-row snapshot takes far longer than the 50 ms window).
        running.wait_until(Duration::from_secs(30), || {
            running.log_text().matches("reading the snapshot").count() >= run
        })?;
        std::thread::sleep(Duration::from_millis(rng.random_range(0..50)));
        running.kill();
    }
    let running = source.start(home.path(), port)?;
    source.writer.write(&mut client, 1_000)?;
    source.check(&running, CATCH_UP)?;
    // The log spans all runs: the killed runs were inside the snapshot (started, never
    // completed), and only the last one completed it.
    let log = running.log_text();
    let (started, completed) = (
        log.matches("reading the snapshot").count(),
        log.matches("snapshot read").count(),
    );
    assert!(
        started == 4 && completed == 1,
        "{started} snapshots started, {completed} completed"
    );
    Ok(())
}

#[test]
fn a_read_that_waits_for_the_writers_position_sees_the_write() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_ryw", 100, 3)?;
    let home = tempfile::tempdir()?;
    let running = source.start(home.path(), free_port())?;
    source.check(&running, CATCH_UP)?;

    for round in 0..20i64 {
        // A new customer buys 3 items at 2.50 (plus one more per round).
        let customer = 900_000 + round;
        source.oracle.client.execute(
            "INSERT INTO sales_data VALUES ($1, 'RYW', 'S000', 'x', $2, now(), 2.50, $3, 'France')",
            &[&(1_000_000 + round), &(3 + round), &customer],
        )?;
        let lsn = source.current_lsn()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut reply = agent
            .get(&format!("http://127.0.0.1:{}/clv/{customer}", running.port))
            .header("x-dozer-wait-for", &lsn)
            .call()?;
        let position = reply
            .headers()
            .get("x-dozer-position")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let status = reply.status().as_u16();
        let body: serde_json::Value = reply.body_mut().read_json()?;
        assert_eq!(status, 200, "customer {customer} after {lsn}: {body}");
        let expected = rust_decimal::Decimal::new(250 * (3 + round), 2);
        let served: rust_decimal::Decimal = body["LifetimeValue"].as_str().unwrap_or("").parse()?;
        assert_eq!(served, expected, "{body}");
        assert!(
            position.contains(" pg="),
            "x-dozer-position names the connection: {position}"
        );
    }

    // The configuration says `sslmode: require`: the replication session is encrypted.
    let encrypted: bool = source
        .oracle
        .client
        .query_one(
            "SELECT s.ssl FROM pg_replication_slots r JOIN pg_stat_ssl s ON s.pid = r.active_pid \
             WHERE r.database = current_database()",
            &[],
        )?
        .get(0);
    assert!(encrypted, "the replication session uses TLS");

    // A position from the future times out with 504, saying how far the pipeline got.
    let (status, body) = {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut reply = agent
            .get(&format!("http://127.0.0.1:{}/clv", running.port))
            .header("x-dozer-wait-for", "FF/0")
            .header("x-dozer-wait-timeout-ms", "100")
            .call()?;
        (reply.status().as_u16(), reply.body_mut().read_to_string()?)
    };
    assert_eq!(status, 504, "{body}");
    assert!(get_raw(running.port, "/health")?.0 == 200);
    Ok(())
}

/// Starts the pipeline expecting it to stop by itself with an error (perhaps before it serves);
/// returns its log.
fn start_expecting_failure(
    source: &Source,
    home: &std::path::Path,
    port: u16,
    extra: &[&str],
) -> anyhow::Result<String> {
    let mut args = vec![
        "--connection".to_string(),
        format!(
            "pg=host=127.0.0.1 port=5432 user=postgres dbname={}",
            source.oracle.name()
        ),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    match dozer_e2e::pipeline::Running::start_args(
        &dozer_e2e::cdc::pipeline().binary,
        home,
        port,
        &args,
    ) {
        Err(e) => Ok(format!("{e:#}")),
        Ok(mut running) => exits_with_error(&mut running),
    }
}

/// Waits for the pipeline to stop by itself; returns its log.
fn exits_with_error(running: &mut dozer_e2e::pipeline::Running) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = running.try_exit()? {
            anyhow::ensure!(
                !status.success(),
                "exited with success:\n{}",
                running.log_text()
            );
            return Ok(running.log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("the pipeline kept running:\n{}", running.log_text())
}

#[test]
fn a_table_without_replica_identity_full_is_refused_with_the_fix() -> anyhow::Result<()> {
    let source = Source::new("cdc_identity", 10, 1)?;
    source
        .oracle
        .connect()?
        .batch_execute("ALTER TABLE sales_data REPLICA IDENTITY DEFAULT")?;
    let home = tempfile::tempdir()?;
    let log = start_expecting_failure(&source, home.path(), free_port(), &[])?;
    assert!(
        log.contains("must have REPLICA IDENTITY FULL")
            && log.contains("ALTER TABLE public.sales_data REPLICA IDENTITY FULL;"),
        "{log}"
    );
    Ok(())
}

#[test]
fn a_dropped_column_stops_the_pipeline_and_asks_for_a_rebuild() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_schema", 200, 2)?;
    let home = tempfile::tempdir()?;
    let mut running = source.start(home.path(), free_port())?;
    source.check(&running, CATCH_UP)?;
    // A column the pipeline does not read may come and go.
    let mut client = source.oracle.connect()?;
    client.batch_execute("ALTER TABLE sales_data ADD COLUMN note text")?;
    source.writer.write(&mut client, 300)?;
    source.check(&running, CATCH_UP)?;
    // One it reads may not.
    client.batch_execute(
        "ALTER TABLE sales_data DROP COLUMN Country; \
         INSERT INTO sales_data (id, Quantity) VALUES (-1, 1)",
    )?;
    let log = exits_with_error(&mut running)?;
    assert!(
        log.contains("column `country` is missing") && log.contains("rebuild the pipeline"),
        "{log}"
    );
    Ok(())
}

#[test]
fn a_lost_slot_is_reported_and_resnapshot_recovers() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_slot", 500, 4)?;
    let home = tempfile::tempdir()?;
    let port = free_port();
    let running = source.start(home.path(), port)?;
    source.check(&running, CATCH_UP)?;
    assert!(running.stop()?.success());

    source.oracle.client.batch_execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
         WHERE database = current_database()",
    )?;
    let mut client = source.oracle.connect()?;
    source.writer.write(&mut client, 200)?;
    let log = start_expecting_failure(&source, home.path(), port, &[])?;
    assert!(
        log.contains("does not exist, so the source cannot resume")
            && log.contains("restart the pipeline with --resnapshot"),
        "{log}"
    );

    let url = format!(
        "pg=host=127.0.0.1 port=5432 user=postgres dbname={}",
        source.oracle.name()
    );
    let running = dozer_e2e::pipeline::Running::start_args(
        &dozer_e2e::cdc::pipeline().binary,
        home.path(),
        port,
        &["--connection".into(), url, "--resnapshot".into()],
    )?;
    source.check(&running, CATCH_UP)?;
    Ok(())
}

#[test]
fn truncate_stops_the_pipeline_with_what_to_do() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_truncate", 100, 5)?;
    let home = tempfile::tempdir()?;
    let mut running = source.start(home.path(), free_port())?;
    source.check(&running, CATCH_UP)?;
    source.oracle.client.batch_execute("TRUNCATE sales_data")?;
    let log = exits_with_error(&mut running)?;
    assert!(
        log.contains("TRUNCATE of public.sales_data cannot be applied as row changes")
            && log.contains("restart the pipeline with --resnapshot"),
        "{log}"
    );
    // Nothing after the last good transaction was committed: what is served is still the
    // state before the TRUNCATE, and a resnapshot serves the empty table.
    let port = free_port();
    let url = format!(
        "pg=host=127.0.0.1 port=5432 user=postgres dbname={}",
        source.oracle.name()
    );
    let running = dozer_e2e::pipeline::Running::start_args(
        &dozer_e2e::cdc::pipeline().binary,
        home.path(),
        port,
        &["--connection".into(), url, "--resnapshot".into()],
    )?;
    source.check(&running, CATCH_UP)?;
    Ok(())
}

#[test]
fn dozerc_clean_drops_the_replication_slot() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_clean", 50, 6)?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("dozer-config.yaml");
    std::fs::write(
        &config,
        dozer_e2e::cdc::CONFIG.replace("{database}", source.oracle.name()),
    )?;
    // The pipeline's cache where the config puts it (`.dozer` beside the config).
    let home = dir.path().join(".dozer");
    let running = source.start(&home, free_port())?;
    source.check(&running, CATCH_UP)?;
    assert!(running.stop()?.success());
    let slots = |source: &mut Source| -> anyhow::Result<i64> {
        Ok(source
            .oracle
            .client
            .query_one(
                "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()",
                &[],
            )?
            .get(0))
    };
    assert_eq!(slots(&mut source)?, 1);

    dozerc::cli::clean(&config).map_err(anyhow::Error::msg)?;
    assert_eq!(slots(&mut source)?, 0, "the slot is dropped with the cache");
    assert!(!home.join("cache").exists());
    Ok(())
}
