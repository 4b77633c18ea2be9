//! A Postgres database of the run's own on 127.0.0.1:5432 (`dozer_bench_<purpose>_<pid>`),
//! dropped with its replication slots when done. Databases left by runs that were killed are
//! dropped at the next run's start, so their slots never pin WAL for long.

use anyhow::{bail, Context, Result};
use postgres::{Client, NoTls};
use std::time::{Duration, Instant};

pub const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";
const PREFIX: &str = "dozer_bench_";

pub struct ScratchDb {
    pub name: String,
}

impl ScratchDb {
    pub fn create(purpose: &str) -> Result<ScratchDb> {
        let name = format!("{PREFIX}{purpose}_{}", std::process::id());
        let mut admin = admin()?;
        drop_abandoned(&mut admin)?;
        drop_database(&mut admin, &name)?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .with_context(|| format!("creating database {name}"))?;
        Ok(ScratchDb { name })
    }

    pub fn connect(&self) -> Result<Client> {
        Client::connect(&self.conninfo(), NoTls)
            .with_context(|| format!("connecting to {}", self.name))
    }

    pub fn conninfo(&self) -> String {
        format!("{SERVER} dbname={}", self.name)
    }

    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:5432/{}", self.name)
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let dropped = admin().and_then(|mut admin| drop_database(&mut admin, &self.name));
        if let Err(e) = dropped {
            eprintln!("could not drop database {}: {e:#}", self.name);
        }
    }
}

fn admin() -> Result<Client> {
    Client::connect(&format!("{SERVER} dbname=postgres"), NoTls)
        .context("connecting to Postgres on 127.0.0.1:5432")
}

/// Drops the databases of earlier runs whose process is gone.
fn drop_abandoned(admin: &mut Client) -> Result<()> {
    let rows = admin.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'dozer\\_bench\\_%'",
        &[],
    )?;
    for row in rows {
        let name: String = row.get(0);
        let pid = name.rsplit('_').next().and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            drop_database(admin, &name)?;
        }
    }
    Ok(())
}

/// Ends the walsenders of the database's replication slots, drops the slots, then the database.
/// A slot's walsender may outlive the pipeline that used it by a moment: retried until gone.
fn drop_database(admin: &mut Client, name: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        admin.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots \
             WHERE database = $1 AND active_pid IS NOT NULL",
            &[&name],
        )?;
        let dropped = admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
             WHERE database = $1 AND NOT active",
            &[&name],
        );
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_replication_slots WHERE database = $1",
                &[&name],
            )?
            .get(0);
        if left == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("replication slots of {name} would not go: {dropped:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    Ok(())
}
