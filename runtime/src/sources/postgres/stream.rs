//! [`PgSource`]: open (steps 1, 2 and 5 of the module docs), then the snapshot batches, then the
//! replication stream grouped into transactions (step 3), with acknowledgements (step 4).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pg_walstream::{
    CancellationToken, ChangeEvent, EventType, LogicalReplicationStream, ReplicationError,
    ReplicationStreamConfig,
};
use tokio_postgres::Client;

use super::decode::{check_columns, RowDecoder};
use super::snapshot::{create_slot_and_import, SnapshotReader};
use crate::sources::LsnProgress;

use super::{
    setup, PgBatch, PgChange, PgConnectionSpec, PgSourceError, PgTableSpec, MAX_BATCH_ROWS,
};

/// How often a wait for replication data wakes up to look at `stop` and idle acknowledgements.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long to retry starting replication while a previous session still holds the slot.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A Postgres table set read as snapshot + logical replication. See the module docs.
pub struct PgSource {
    conn: PgConnectionSpec,
    slot: String,
    decoders: Vec<RowDecoder>,
    primary_keys: Vec<Option<Vec<usize>>>,
    /// `schema.table` → spec index.
    by_name: HashMap<String, usize>,
    /// Present until the last snapshot batch has been returned.
    snapshot: Option<SnapshotReader>,
    /// Present once streaming started.
    stream: Option<LogicalReplicationStream>,
    /// Where streaming starts; transactions ending at or before it are skipped.
    start_lsn: u64,
    /// The open transaction, if any.
    txn: Option<OpenTxn>,
    /// The `end` of the last complete transaction returned, and the highest acknowledgement.
    delivered: u64,
    acked: u64,
    poll: CancellationToken,
    stopped: bool,
    /// Where the caller's commits are read from (acknowledged while streaming) and idle
    /// positions reported to.
    progress: Option<Arc<LsnProgress>>,
    /// The planner's row estimate of the tables, when a snapshot is to be read.
    snapshot_estimate: Option<u64>,
}

type Row = Vec<crate::types::Value>;

struct OpenTxn {
    skip: bool,
    changes: Vec<PgChange>,
}

impl PgSource {
    /// Prepares publication `<slot>_pub` for the tables (created if missing), checks every table
    /// (exists, has the declared columns, has `REPLICA IDENTITY FULL`), then: with
    /// `resume_from: None` (never snapshotted) drops any stale slot of that name, creates the
    /// slot and prepares the snapshot read; with `Some(lsn)` requires the slot and streams from
    /// `lsn`.
    pub async fn open(
        conn: &PgConnectionSpec,
        slot: &str,
        tables: Vec<PgTableSpec>,
        resume_from: Option<u64>,
    ) -> Result<Self, PgSourceError> {
        setup::check_slot_name(slot)?;
        let client = setup::connect(conn).await?;
        let mut primary_keys = Vec::with_capacity(tables.len());
        for spec in &tables {
            primary_keys.push(setup::check_table(&client, spec).await?);
        }
        setup::ensure_publication(&client, &format!("{slot}_pub"), &tables).await?;
        let snapshot_estimate = match resume_from {
            None => setup::estimated_rows(&client, &tables).await,
            Some(_) => None,
        };
        let by_name = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.qualified_name(), i))
            .collect();
        let decoders: Vec<RowDecoder> = tables.into_iter().map(RowDecoder::new).collect();

        let (snapshot, start_lsn) = match resume_from {
            Some(lsn) => {
                if !setup::slot_exists(&client, slot).await? {
                    return Err(PgSourceError::MissingSlot {
                        slot: slot.to_string(),
                    });
                }
                (None, lsn)
            }
            None => {
                setup::drop_slot(&client, slot).await?;
                let reader = setup::connect(conn).await?;
                let point = create_slot_and_import(conn, slot, &reader).await?;
                (Some(SnapshotReader::new(reader, point)), point)
            }
        };
        Ok(PgSource {
            conn: conn.clone(),
            slot: slot.to_string(),
            decoders,
            primary_keys,
            by_name,
            snapshot,
            stream: None,
            start_lsn,
            txn: None,
            delivered: start_lsn,
            acked: resume_from.unwrap_or(0),
            poll: expired_token(),
            stopped: false,
            progress: None,
            snapshot_estimate,
        })
    }

    /// Shares positions with the caller: while streaming, the source acknowledges whatever
    /// `progress.committed()` says is durably committed (within [`POLL_INTERVAL`]), and when
    /// idle it raises `progress.applied()` to the server's position.
    pub fn report_to(&mut self, progress: Arc<LsnProgress>) {
        self.progress = Some(progress);
    }

    /// Roughly how many rows the snapshot will deliver (for progress reports), when known.
    pub fn snapshot_estimate(&self) -> Option<u64> {
        self.snapshot_estimate
    }

    /// Whether the next batches come from the snapshot.
    pub fn in_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// The primary key of table `table` as positions into its fields (from `pg_index`); `None`
    /// when the table has no primary key or the pipeline does not read all its columns.
    pub fn primary_key(&self, table: usize) -> Option<&[usize]> {
        self.primary_keys.get(table)?.as_deref()
    }

    /// The next batch: the snapshot batches first (up to [`MAX_BATCH_ROWS`] changes each), then
    /// one batch per streamed transaction (large ones split, `end: None` on all but the last).
    /// Waits for data; returns `Ok(None)` once `stop` is true (checked while waiting; a partly
    /// received transaction is dropped, it is delivered again after a restart). After `Ok(None)`
    /// the source is finished.
    pub async fn next_batch(
        &mut self,
        stop: &AtomicBool,
    ) -> Result<Option<PgBatch>, PgSourceError> {
        if self.stopped {
            return Ok(None);
        }
        if let Some(reader) = &mut self.snapshot {
            let batch = reader.next_batch(&self.decoders).await?;
            if batch.end.is_some() {
                self.snapshot = None;
            }
            return Ok(Some(batch));
        }
        if self.stream.is_none() {
            self.stream = Some(self.start_stream().await?);
        }
        loop {
            if self.poll.is_cancelled() {
                if stop.load(Ordering::SeqCst) {
                    self.stopped = true;
                    self.txn = None;
                    return Ok(None);
                }
                if let Some(committed) = self.progress.as_ref().map(|p| p.committed()) {
                    if committed > self.acked {
                        self.ack(committed).await?;
                    }
                }
                self.ack_idle_position().await?;
                self.poll = CancellationToken::new();
                let token = self.poll.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(POLL_INTERVAL).await;
                    token.cancel();
                });
            }
            let Some(stream) = self.stream.as_mut() else {
                return Err(PgSourceError::Protocol(
                    "the replication stream is gone".into(),
                ));
            };
            let event = match stream.next_event(&self.poll).await {
                Ok(event) => event,
                Err(e) if e.is_cancelled() => continue,
                Err(e) => return Err(replication_error(e)),
            };
            if let Some(progress) = &self.progress {
                progress.set_received(stream.current_lsn());
            }
            if let Some(batch) = self.handle(event)? {
                return Ok(Some(batch));
            }
        }
    }

    /// Acknowledges that everything up to `lsn` is durably committed by the caller: the slot may
    /// release the WAL before it.
    pub async fn ack(&mut self, lsn: u64) -> Result<(), PgSourceError> {
        self.acked = self.acked.max(lsn);
        if let Some(stream) = &mut self.stream {
            stream.shared_lsn_feedback.update_applied_lsn(self.acked);
            stream.shared_lsn_feedback.update_flushed_lsn(self.acked);
            stream.send_feedback().await.map_err(replication_error)?;
        }
        Ok(())
    }

    /// Starts replication at `start_lsn`, waiting while a previous session releases the slot.
    async fn start_stream(&mut self) -> Result<LogicalReplicationStream, PgSourceError> {
        let url = setup::replication_url(&self.conn);
        // Also proves the slot still exists: `start` would otherwise create a new one.
        let admin: Client = setup::connect(&self.conn).await?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            setup::wait_slot_released(&admin, &self.slot).await?;
            let config = ReplicationStreamConfig::builder(&self.slot, format!("{}_pub", self.slot))
                .with_protocol_version(1)
                .with_feedback_interval(Duration::from_secs(1));
            let mut stream = LogicalReplicationStream::new(&url, config)
                .await
                .map_err(|e| PgSourceError::Connect {
                    target: setup::target(&self.conn),
                    message: e.to_string(),
                })?;
            match stream.start(Some(self.start_lsn)).await {
                Ok(()) => {
                    if self.acked > 0 {
                        stream.shared_lsn_feedback.update_applied_lsn(self.acked);
                        stream.shared_lsn_feedback.update_flushed_lsn(self.acked);
                    }
                    return Ok(stream);
                }
                Err(e)
                    if e.to_string().contains("is active for PID") && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) if e.to_string().contains("does not exist") => {
                    return Err(PgSourceError::MissingSlot {
                        slot: self.slot.clone(),
                    })
                }
                Err(e) => return Err(replication_error(e)),
            }
        }
    }

    /// When idle (no open transaction, everything delivered is acknowledged), acknowledges the
    /// server's last reported position: nothing of the publication commits at or below it that
    /// was not already delivered (module docs, step 4).
    async fn ack_idle_position(&mut self) -> Result<(), PgSourceError> {
        if self.txn.is_some() || self.acked < self.delivered {
            return Ok(());
        }
        let Some(stream) = &mut self.stream else {
            return Ok(());
        };
        let position = stream.current_lsn();
        if position > self.acked {
            self.acked = position;
            self.delivered = self.delivered.max(position);
            stream.shared_lsn_feedback.update_applied_lsn(position);
            stream.shared_lsn_feedback.update_flushed_lsn(position);
            stream.send_feedback().await.map_err(replication_error)?;
            if let Some(progress) = &self.progress {
                progress.set_applied(position);
            }
        }
        Ok(())
    }

    /// Feeds one event into the transaction being assembled; returns a batch when one is ready.
    fn handle(&mut self, event: ChangeEvent) -> Result<Option<PgBatch>, PgSourceError> {
        match event.event_type {
            EventType::Begin { final_lsn, .. } => {
                if self.txn.is_some() {
                    return Err(PgSourceError::Protocol(
                        "Begin inside an open transaction".into(),
                    ));
                }
                // Positions are record boundaries: a commit record starting before the start
                // position also ends at or before it (module docs, step 5).
                let skip = final_lsn.value() < self.start_lsn;
                self.txn = Some(OpenTxn {
                    skip,
                    changes: Vec::new(),
                });
                Ok(None)
            }
            EventType::Commit {
                end_lsn,
                commit_timestamp,
                ..
            } => {
                let Some(txn) = self.txn.take() else {
                    return Err(PgSourceError::Protocol("Commit without Begin".into()));
                };
                let end = end_lsn.value();
                if txn.skip {
                    return Ok(None);
                }
                if end <= self.start_lsn {
                    return Err(PgSourceError::Protocol(format!(
                        "transaction ending at {} was not skipped although streaming starts at {}",
                        super::format_lsn(end),
                        super::format_lsn(self.start_lsn)
                    )));
                }
                self.delivered = end;
                if let Some(progress) = &self.progress {
                    progress.received_commit(end, commit_timestamp.timestamp_micros());
                }
                Ok(Some(PgBatch {
                    changes: txn.changes,
                    end: Some(end),
                }))
            }
            EventType::Relation {
                namespace,
                relation_name,
                columns,
                ..
            } => {
                let name = format!("{namespace}.{relation_name}");
                if let Some(&i) = self.by_name.get(&name) {
                    let spec = self.decoders[i].spec();
                    check_columns(spec, columns.iter().map(|c| (c.name.as_ref(), c.type_id)))?;
                }
                Ok(None)
            }
            EventType::Truncate { tables, .. } => {
                if let Some(table) = tables
                    .iter()
                    .find(|t| self.by_name.contains_key(t.as_ref()))
                {
                    return Err(PgSourceError::Truncate {
                        table: table.to_string(),
                    });
                }
                Ok(None)
            }
            EventType::Insert {
                schema,
                table,
                data,
                ..
            } => self.push(&schema, &table, |d| Ok((None, Some(d.row(&data, None)?)))),
            EventType::Update {
                schema,
                table,
                old_data,
                new_data,
                ..
            } => self.push(&schema, &table, |d| {
                let Some(old_data) = &old_data else {
                    return Err(PgSourceError::ReplicaIdentity {
                        table: d.spec().qualified_name(),
                        fix: format!(
                            "ALTER TABLE {} REPLICA IDENTITY FULL;",
                            d.spec().qualified_name()
                        ),
                    });
                };
                let old = d.row(old_data, None)?;
                let new = d.row(&new_data, Some(&old))?;
                Ok((Some(old), Some(new)))
            }),
            EventType::Delete {
                schema,
                table,
                old_data,
                ..
            } => self.push(&schema, &table, |d| {
                Ok((Some(d.row(&old_data, None)?), None))
            }),
            EventType::StreamStart { .. }
            | EventType::StreamStop
            | EventType::StreamCommit { .. }
            | EventType::StreamAbort { .. } => Err(PgSourceError::Protocol(
                "streamed in-progress transactions are not expected with protocol version 1".into(),
            )),
            _ => Ok(None),
        }
    }

    /// Decodes one row change of the open transaction; splits the transaction when it is large.
    fn push(
        &mut self,
        schema: &str,
        table: &str,
        decode: impl FnOnce(&RowDecoder) -> Result<(Option<Row>, Option<Row>), PgSourceError>,
    ) -> Result<Option<PgBatch>, PgSourceError> {
        let Some(txn) = self.txn.as_mut() else {
            return Err(PgSourceError::Protocol(format!(
                "a change of {schema}.{table} outside a transaction"
            )));
        };
        if txn.skip {
            return Ok(None);
        }
        let Some(&index) = self.by_name.get(&format!("{schema}.{table}")) else {
            return Ok(None); // not one of ours
        };
        let (old, new) = decode(&self.decoders[index])?;
        txn.changes.push(PgChange {
            table: index,
            old,
            new,
        });
        if txn.changes.len() >= MAX_BATCH_ROWS {
            let changes = std::mem::take(&mut txn.changes);
            return Ok(Some(PgBatch { changes, end: None }));
        }
        Ok(None)
    }
}

/// A token that is already cancelled, so the first wait arms a fresh timer.
fn expired_token() -> CancellationToken {
    let token = CancellationToken::new();
    token.cancel();
    token
}

fn replication_error(e: ReplicationError) -> PgSourceError {
    let message = e.to_string();
    // The server invalidated the slot (for example max_slot_wal_keep_size): its history is gone.
    if message.contains("can no longer get changes from replication slot")
        || message.contains("has been invalidated")
    {
        return PgSourceError::SlotLost(message);
    }
    PgSourceError::Replication(message)
}
