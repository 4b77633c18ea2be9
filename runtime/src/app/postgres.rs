//! One reader task per Postgres connection: snapshot, then the replication stream, handed to the
//! driver thread transaction by transaction; reconnects with backoff after outages.
//!
//! Exactly-once across reconnects: the task remembers the end of the last *complete*
//! transaction it handed over (the driver commits everything it receives, in order, or the
//! process stops), waits until the driver has committed it, and reopens the source from there,
//! so transactions already handed over are skipped by the source and nothing uncommitted is
//! ever acknowledged. A transaction interrupted half-way is discarded by the driver
//! ([`Incoming::Abort`]) and delivered again whole.

use super::driver::Incoming;
use super::progress::SnapshotBar;
use super::PipelineError;
use crate::sources::postgres::{PgBatch, PgSource, PgSourceError};
use crate::sources::{LsnProgress, PgConnectionSpec, PgTableSpec, RowChange};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard};

const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How often snapshot progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Reads one connection.
pub(crate) struct ConnectionReader {
    pub index: usize,
    pub spec: PgConnectionSpec,
    pub slot: String,
    /// The connection's tables with their source index.
    pub tables: Vec<(usize, PgTableSpec)>,
    /// The end of the last transaction the cache holds (`None`: never snapshotted).
    pub resume_from: Option<u64>,
    pub progress: Arc<LsnProgress>,
    pub out: SyncSender<Incoming>,
    /// Held from the first to the last batch of a transaction, so that transactions of
    /// different connections never interleave in the driver.
    pub turn: Arc<Mutex<()>>,
    pub stop: Arc<AtomicBool>,
}

/// How a session ended.
enum Ended {
    Stopped,
    Failed(PgSourceError),
}

impl ConnectionReader {
    /// Runs until stopped; a non-transient failure is sent to the driver.
    pub async fn run(mut self) {
        let mut retry = FIRST_RETRY;
        loop {
            let delivered_before = self.resume_from;
            match self.session().await {
                Ended::Stopped => return,
                Ended::Failed(error) if error.is_transient() => {
                    if self.resume_from != delivered_before {
                        retry = FIRST_RETRY; // it worked for a while: a new outage
                    }
                    tracing::warn!(
                        connection = self.spec.name.as_str(),
                        error = %error,
                        retry_in_ms = retry.as_millis() as u64,
                        "Postgres unavailable; retrying"
                    );
                    if sleep_unless_stopped(retry, &self.stop).await {
                        return;
                    }
                    retry = (retry * 2).min(MAX_RETRY);
                    if !self.wait_until_committed().await {
                        return;
                    }
                }
                Ended::Failed(error) => {
                    let error = PipelineError::Postgres {
                        connection: self.spec.name.clone(),
                        error,
                    };
                    let _ = self.send(Incoming::Failed(error));
                    return;
                }
            }
        }
    }

    /// Waits until the driver has committed every transaction handed over (false: stopped).
    /// A new session acknowledges its start position to the server and reports the server's
    /// idle position as applied; both are only true once the backlog in the channel is
    /// committed, or a crash now could lose it and a read-your-writes wait could pass it.
    async fn wait_until_committed(&self) -> bool {
        let Some(handed_over) = self.resume_from else {
            return !self.stop.load(Ordering::Relaxed); // nothing handed over: a new snapshot
        };
        while self.progress.committed() < handed_over {
            if sleep_unless_stopped(Duration::from_millis(20), &self.stop).await {
                return false;
            }
        }
        true
    }

    /// One connection's life: open, then hand batches over until stopped or broken.
    async fn session(&mut self) -> Ended {
        let tables = self.tables.iter().map(|(_, t)| t.clone()).collect();
        let mut source =
            match PgSource::open(&self.spec, &self.slot, tables, self.resume_from).await {
                Ok(source) => source,
                Err(e) => return Ended::Failed(e),
            };
        source.report_to(self.progress.clone());
        let mut snapshot = source
            .in_snapshot()
            .then(|| SnapshotProgress::new(&self.spec.name, source.snapshot_estimate()));
        if snapshot.is_some() {
            tracing::info!(
                connection = self.spec.name.as_str(),
                slot = self.slot.as_str(),
                "reading the snapshot"
            );
        }
        let mut turn: Option<OwnedMutexGuard<()>> = None;
        loop {
            let batch = match source.next_batch(&self.stop).await {
                Ok(Some(batch)) => batch,
                Ok(None) => return self.end(turn, Ended::Stopped),
                Err(e) => return self.end(turn, Ended::Failed(e)),
            };
            if turn.is_none() {
                turn = Some(self.turn.clone().lock_owned().await);
            }
            let PgBatch { changes, end } = batch;
            if let Some(progress) = snapshot.as_mut() {
                progress.add(changes.len(), end.is_some());
            }
            let changes = changes
                .into_iter()
                .map(|c| {
                    let source = self.tables[c.table].0;
                    (
                        source,
                        RowChange {
                            old: c.old,
                            new: c.new,
                        },
                    )
                })
                .collect();
            let batch = Incoming::Batch {
                connection: self.index,
                changes,
                end,
            };
            if self.send(batch).is_err() {
                return Ended::Stopped; // the driver is gone
            }
            if let Some(end) = end {
                self.resume_from = Some(end);
                snapshot = None;
                turn = None;
            }
        }
    }

    /// Ends a session; an incomplete transaction is withdrawn first.
    fn end(&self, turn: Option<OwnedMutexGuard<()>>, ended: Ended) -> Ended {
        if turn.is_some() {
            let _ = self.send(Incoming::Abort {
                connection: self.index,
            });
        }
        ended
    }

    /// Hands a message to the driver thread (blocking while it is busy: backpressure).
    fn send(&self, message: Incoming) -> Result<(), ()> {
        tokio::task::block_in_place(|| self.out.send(message)).map_err(|_| ())
    }
}

/// Logs snapshot progress: rows, rows/s and, with an estimate of the total, the time left.
struct SnapshotProgress {
    /// The terminal's bar (drawn only on a terminal; the log lines below stay either way).
    bar: Option<SnapshotBar>,
    connection: String,
    estimate: Option<u64>,
    rows: u64,
    started: Instant,
    last_report: Instant,
}

impl SnapshotProgress {
    fn new(connection: &str, estimate: Option<u64>) -> Self {
        let now = Instant::now();
        SnapshotProgress {
            bar: Some(SnapshotBar::rows(connection, estimate)),
            connection: connection.to_string(),
            estimate,
            rows: 0,
            started: now,
            last_report: now,
        }
    }

    fn add(&mut self, rows: usize, done: bool) {
        self.rows += rows as u64;
        if let Some(bar) = self.bar.as_mut() {
            bar.add(rows as u64, rows as u64);
        }
        if done {
            if let Some(bar) = self.bar.take() {
                bar.done();
            }
        }
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = self.rows as f64 / elapsed;
        if done {
            tracing::info!(
                connection = self.connection.as_str(),
                rows = self.rows,
                rows_per_s = rate as u64,
                elapsed_ms = (elapsed * 1000.0) as u64,
                "snapshot read"
            );
        } else if self.last_report.elapsed() >= PROGRESS_EVERY {
            self.last_report = Instant::now();
            let eta_s = self
                .estimate
                .filter(|&total| total > self.rows && rate > 0.0)
                .map(|total| ((total - self.rows) as f64 / rate).ceil() as u64);
            tracing::info!(
                connection = self.connection.as_str(),
                rows = self.rows,
                of_about = self.estimate,
                rows_per_s = rate as u64,
                eta_s,
                "snapshot in progress"
            );
        }
    }
}

/// Sleeps `total` unless `stop` is set first; returns whether it was.
async fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) -> bool {
    let deadline = Instant::now() + total;
    while Instant::now() < deadline {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.load(Ordering::Relaxed)
}
