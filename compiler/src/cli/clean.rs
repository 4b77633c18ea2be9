//! `dozerc clean`: remove the emitted crate and the cache, and drop the Postgres replication
//! slots the cache was built from (a slot left behind keeps the server's WAL forever).

use crate::config::{ConnectionConfig, LoadedConfig};
use crate::diagnostics::render;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

/// The runtime's table of connection name -> slot name (`runtime/src/cache/store.rs`).
const SLOTS: TableDefinition<&str, &str> = TableDefinition::new("replication_slot");

pub fn clean(config: &Path) -> Result<(), String> {
    let loaded = crate::config::load(config).map_err(|e| render(&e))?;
    let home = loaded.home_dir();
    let database = home
        .join("cache")
        .join(format!("{}.redb", loaded.config.app_name));
    if database.exists() {
        for (connection, slot) in stored_slots(&database)? {
            drop_slot(&loaded, &connection, &slot);
        }
    }
    for dir in [home.join("build"), home.join("cache")] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
            println!("removed {}", dir.display());
        }
    }
    Ok(())
}

/// The slots recorded in a pipeline's cache database.
fn stored_slots(database: &Path) -> Result<Vec<(String, String)>, String> {
    let db = redb::Database::open(database).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => format!(
            "{} is in use: stop the pipeline before cleaning",
            database.display()
        ),
        other => format!("cannot open {}: {other}", database.display()),
    })?;
    let read = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", database.display());
    let txn = db.begin_read().map_err(|e| read(&e))?;
    let table = match txn.open_table(SLOTS) {
        Ok(table) => table,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(read(&e)),
    };
    let mut slots = Vec::new();
    for entry in table.iter().map_err(|e| read(&e))? {
        let (connection, slot) = entry.map_err(|e| read(&e))?;
        slots.push((connection.value().to_string(), slot.value().to_string()));
    }
    Ok(slots)
}

/// Drops the slot and its publication; a failure is reported with the SQL to run by hand, and
/// does not stop the clean.
fn drop_slot(loaded: &LoadedConfig, connection: &str, slot: &str) {
    let manual = format!(
        "SELECT pg_drop_replication_slot('{slot}'); DROP PUBLICATION IF EXISTS {slot}_pub;"
    );
    let Some(index) =
        loaded.config.connections.iter().position(|c| {
            c.name == connection && matches!(c.config, ConnectionConfig::Postgres(_))
        })
    else {
        eprintln!(
            "warning: the cache used replication slot `{slot}` of connection `{connection}`, which \
             the config no longer has; drop it on that server: {manual}"
        );
        return;
    };
    let result = crate::catalog::postgres::connect(loaded, index)
        .map_err(|e| e.message().to_string())
        .and_then(|(mut client, server)| {
            let dropped = client
                .query(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                     WHERE slot_name = $1",
                    &[&slot],
                )
                .map_err(|e| e.to_string())?;
            client
                .batch_execute(&format!("DROP PUBLICATION IF EXISTS \"{slot}_pub\""))
                .map_err(|e| e.to_string())?;
            Ok((server, !dropped.is_empty()))
        });
    match result {
        Ok((server, true)) => println!("dropped replication slot {slot} on {server}"),
        Ok((_, false)) => {}
        Err(e) => eprintln!(
            "warning: cannot drop replication slot `{slot}` of connection `{connection}` ({e}); \
             drop it when the server is reachable: {manual}"
        ),
    }
}
