//! Steps 1 and 2 of the module docs: create the slot, import its exported snapshot into an
//! ordinary session, and read the tables through cursors in bounded batches.

use pg_walstream::PgReplicationConnection;
use tokio_postgres::{Client, SimpleQueryMessage};

use super::decode::RowDecoder;
use super::setup::{query_error, replication_url, target};
use super::{
    parse_lsn, quote_ident, quoted_table, PgBatch, PgChange, PgConnectionSpec, PgSourceError,
    MAX_BATCH_ROWS,
};

/// Creates the slot and imports its snapshot into `client`, which is left inside the
/// snapshot's read-only transaction. Returns the consistent point.
pub(super) async fn create_slot_and_import(
    conn: &PgConnectionSpec,
    slot: &str,
    client: &Client,
) -> Result<u64, PgSourceError> {
    let url = replication_url(conn);
    let replication_error = |e: pg_walstream::ReplicationError| PgSourceError::Connect {
        target: target(conn),
        message: e.to_string(),
    };
    // The replication session must stay idle until the snapshot is imported: its next command
    // would end the exported snapshot.
    let mut replication = PgReplicationConnection::connect(&url).map_err(replication_error)?;
    let created = replication
        .exec(&format!(
            "CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput (SNAPSHOT 'export')"
        ))
        .map_err(|e| PgSourceError::Replication(format!("creating slot {slot}: {e}")))?;
    // Columns: slot_name, consistent_point, snapshot_name, output_plugin.
    let point = created.get_value(0, 1).unwrap_or_default();
    let consistent_point = parse_lsn(&point).ok_or_else(|| {
        PgSourceError::Protocol(format!(
            "CREATE_REPLICATION_SLOT returned consistent point `{point}`"
        ))
    })?;
    let snapshot = created.get_value(0, 2).unwrap_or_default();
    if snapshot.is_empty() || !snapshot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(PgSourceError::Protocol(format!(
            "CREATE_REPLICATION_SLOT returned snapshot name `{snapshot}`"
        )));
    }
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"
        ))
        .await
        .map_err(query_error(format!("importing the snapshot of slot {slot}")))?;
    // The importing transaction now holds the snapshot; the replication session can go.
    drop(replication);
    Ok(consistent_point)
}

/// Reads the tables inside the imported snapshot, one cursor per table.
pub(super) struct SnapshotReader {
    client: Client,
    consistent_point: u64,
    /// The table being read, and whether its cursor is open.
    table: usize,
    cursor_open: bool,
}

impl SnapshotReader {
    pub fn new(client: Client, consistent_point: u64) -> Self {
        SnapshotReader {
            client,
            consistent_point,
            table: 0,
            cursor_open: false,
        }
    }

    /// The next batch; `end` is the consistent point on the last one, after which the snapshot
    /// transaction is committed and the reader is done.
    pub async fn next_batch(&mut self, decoders: &[RowDecoder]) -> Result<PgBatch, PgSourceError> {
        let mut changes = Vec::new();
        while let Some(decoder) = decoders.get(self.table) {
            let spec = decoder.spec();
            let cursor = format!("dozer_snapshot_{}", self.table);
            let context = format!("reading the snapshot of {}", spec.qualified_name());
            if !self.cursor_open {
                let columns: Vec<String> =
                    spec.fields.iter().map(|f| quote_ident(f.name)).collect();
                let select = if columns.is_empty() {
                    "NULL".to_string()
                } else {
                    columns.join(", ")
                };
                self.client
                    .batch_execute(&format!(
                        "DECLARE {cursor} NO SCROLL CURSOR FOR SELECT {select} FROM {}",
                        quoted_table(spec)
                    ))
                    .await
                    .map_err(query_error(&context))?;
                self.cursor_open = true;
            }
            let want = MAX_BATCH_ROWS - changes.len();
            let messages = self
                .client
                .simple_query(&format!("FETCH FORWARD {want} FROM {cursor}"))
                .await
                .map_err(query_error(&context))?;
            let before = changes.len();
            for message in &messages {
                let SimpleQueryMessage::Row(row) = message else {
                    continue;
                };
                let mut values = Vec::with_capacity(spec.fields.len());
                for position in 0..spec.fields.len() {
                    let text = row.try_get(position).map_err(query_error(&context))?;
                    values.push(decoder.value(position, text)?);
                }
                changes.push(PgChange {
                    table: self.table,
                    old: None,
                    new: Some(values),
                });
            }
            if changes.len() - before < want {
                // This table is exhausted.
                self.client
                    .batch_execute(&format!("CLOSE {cursor}"))
                    .await
                    .map_err(query_error(&context))?;
                self.cursor_open = false;
                self.table += 1;
            }
            if changes.len() >= MAX_BATCH_ROWS {
                return Ok(PgBatch { changes, end: None });
            }
        }
        self.client
            .batch_execute("COMMIT")
            .await
            .map_err(query_error("ending the snapshot transaction"))?;
        Ok(PgBatch {
            changes,
            end: Some(self.consistent_point),
        })
    }
}
