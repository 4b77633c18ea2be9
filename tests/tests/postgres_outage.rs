//! Postgres restarts while the pipeline streams from it: the pipeline retries with backoff,
//! resumes from its stored position and ends equal to Postgres. Its own test binary, because
//! the restart cuts every connection of the server: cargo runs test binaries one at a time.

use dozer_e2e::cdc::{tail, Source};
use dozer_e2e::pipeline::free_port;
use std::process::Command;
use std::time::{Duration, Instant};

/// Restarts the machine's Postgres cluster and waits until it accepts connections.
fn restart_postgres() -> anyhow::Result<()> {
    let version = std::fs::read_dir("/etc/postgresql")?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .min()
        .ok_or_else(|| anyhow::anyhow!("no Postgres cluster under /etc/postgresql"))?;
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()?;
    anyhow::ensure!(status.success(), "pg_ctlcluster restart failed: {status}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready = Command::new("pg_isready")
            .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
            .status()?;
        if ready.success() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    anyhow::bail!("Postgres did not come back within 60 s")
}

#[test]
fn a_postgres_restart_mid_stream_is_retried_and_resumed() -> anyhow::Result<()> {
    let mut source = Source::new("cdc_outage", 2_000, 13)?;
    let home = tempfile::tempdir()?;
    let running = source.start(home.path(), free_port())?;
    source.check(&running, Duration::from_secs(60))?;

    let mut client = source.oracle.connect()?;
    source.writer.write(&mut client, 3_000)?;
    // The pipeline is most likely still streaming those changes when the server goes down.
    restart_postgres()?;
    source.oracle.client = source.oracle.connect()?;
    let mut client = source.oracle.connect()?;
    source.writer.write(&mut client, 3_000)?;
    source.check(&running, Duration::from_secs(90))?;
    let log = running.log_text();
    assert!(
        log.contains("Postgres unavailable; retrying"),
        "the outage was noticed and retried:\n{}",
        tail(&log, 40)
    );
    Ok(())
}
