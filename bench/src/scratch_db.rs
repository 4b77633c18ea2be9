//! A Postgres database of the run's own on 127.0.0.1:5432, dropped (with its replication slots)
//! when done.

use anyhow::{Context, Result};
use postgres::{Client, NoTls};

pub const SERVER: &str = "host=127.0.0.1 port=5432 user=postgres";

pub struct ScratchDb {
    pub name: String,
}

impl ScratchDb {
    pub fn create(purpose: &str) -> Result<ScratchDb> {
        let name = format!("dozer_bench_{purpose}_{}", std::process::id());
        let mut admin = admin()?;
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
        if let Ok(mut admin) = admin() {
            let _ = drop_database(&mut admin, &self.name);
        }
    }
}

fn admin() -> Result<Client> {
    Client::connect(&format!("{SERVER} dbname=postgres"), NoTls)
        .context("connecting to Postgres on 127.0.0.1:5432")
}

fn drop_database(admin: &mut Client, name: &str) -> Result<()> {
    admin.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1 AND NOT active",
        &[&name],
    )?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    Ok(())
}
