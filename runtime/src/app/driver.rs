//! The ingestion loop, on its own thread: apply each source transaction atomically (file
//! sources: one new file; Postgres: one upstream transaction, or the snapshot), repeat until
//! asked to stop. A backlog shares commits: files found together, and Postgres transactions
//! that arrived whole while the one before was applied, commit together, so a hot key is
//! written once per commit rather than once per source transaction.

use super::progress::SnapshotBar;
use super::{DynPipeline, PipelineError};
use crate::cache::store::write_source_lsn;
use crate::cache::{Store, StoreError};
use crate::events::{ChangeFeed, CommitPosition};
use crate::sources::{format_lsn, FileSource, LsnProgress, RowChange, SourceBatch};
use redb::WriteTransaction;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the loop looks at `stop` while waiting for Postgres.
const WAKE_INTERVAL: Duration = Duration::from_millis(100);
/// Commits at least this large (or slow) are logged at info level; others at debug.
const NOTABLE_ROWS: usize = 10_000;
const NOTABLE_TIME: Duration = Duration::from_secs(1);
/// Source rows applied inside one transaction past which what they changed is written into it
/// before the transaction ends: memory stays bounded by this, not by the transaction's size.
const FLUSH_ROWS: usize = 1 << 19;
/// Rows of files found together past which no further file joins the commit.
const COMMIT_ROWS: usize = 1 << 20;
/// Rows of waiting Postgres transactions past which no further one joins the commit.
const GROUP_ROWS: usize = 1 << 16;
/// How long waiting Postgres transactions may keep joining a commit.
const GROUP_TIME: Duration = Duration::from_millis(50);

pub(crate) struct Driver {
    pub pipeline: Box<dyn DynPipeline>,
    /// Reloads the pipeline's state from the last commit.
    pub restore: fn(&WriteTransaction) -> Result<Box<dyn DynPipeline>, StoreError>,
    /// File sources with their source index.
    pub files: Vec<(usize, FileSource)>,
    /// Transactions read from Postgres connections, if the pipeline has any.
    pub postgres: Option<PostgresFeed>,
    pub store: Store,
    /// Each source's name, by source index (for the metrics).
    pub source_names: Vec<&'static str>,
    pub poll_interval: Duration,
    pub stop: Arc<AtomicBool>,
    /// Where committed endpoint changes go (gRPC `OnEvent`).
    pub feed: Arc<ChangeFeed>,
}

/// What the Postgres reader tasks send the driver (see `app::postgres`).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) enum Incoming {
    /// Changes of one upstream transaction of `connection` (or of its snapshot), each tagged
    /// with its source index. `end` is set on the last part: then the transaction is complete.
    Batch {
        connection: usize,
        changes: Vec<(usize, RowChange)>,
        end: Option<u64>,
    },
    /// The incomplete transaction of `connection` will not be completed (the connection
    /// broke): discard what was applied of it. It is delivered again after the reconnect.
    Abort { connection: usize },
    /// The reader cannot go on.
    Failed(PipelineError),
}

pub(crate) struct PostgresFeed {
    pub incoming: Receiver<Incoming>,
    /// Per connection: its name (the key of its stored position) and its progress.
    pub connections: Vec<(String, Arc<LsnProgress>)>,
}

/// A cache transaction holding Postgres transactions of one connection: complete ones waiting
/// to be committed together, or one being applied across several batches (never both: a
/// transaction that arrives in parts starts a commit of its own, so that if it is withdrawn,
/// nothing complete goes with it).
struct OpenTxn {
    connection: usize,
    txn: WriteTransaction,
    /// The end of the last complete Postgres transaction applied in it.
    complete_end: Option<u64>,
    /// Whether the last Postgres transaction in it is still incomplete.
    partial: bool,
    /// The sources the current Postgres transaction changed: each ends a transaction when it
    /// ends.
    sources: BTreeSet<usize>,
    rows: usize,
    /// Rows applied since the last flush.
    unflushed: usize,
    started: Instant,
}

impl Driver {
    /// Runs until `stop` is set (returns Ok) or an error stops the pipeline.
    pub fn run(mut self) -> Result<(), PipelineError> {
        if self.store.position()? == 0 {
            // Before the first source transaction: results over no input (global aggregates).
            // This commit does not advance the position; repeating it is a no-op.
            let txn = self.store.begin_write()?;
            self.pipeline.initialize()?;
            self.pipeline.flush(&txn)?;
            self.store.commit_unpositioned(txn)?;
            self.feed.discard();
        }
        let mut open: Option<OpenTxn> = None;
        // A message taken off the feed to see whether a backlog waits; handled next.
        let mut waiting: Option<Incoming> = None;
        let mut next_file_poll = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            // Files are read between Postgres transactions, never inside one.
            if open.is_none() && !self.files.is_empty() && Instant::now() >= next_file_poll {
                let applied = self.poll_files()?;
                if applied == 0 {
                    next_file_poll = Instant::now() + self.poll_interval;
                }
            }
            let wait = if self.files.is_empty() || open.is_some() {
                WAKE_INTERVAL
            } else {
                next_file_poll.saturating_duration_since(Instant::now())
            };
            let Some(feed) = &self.postgres else {
                sleep_unless_stopped(wait, &self.stop);
                continue;
            };
            let message = match waiting.take() {
                Some(message) => Ok(message),
                None => feed.incoming.recv_timeout(wait.min(WAKE_INTERVAL)),
            };
            match message {
                Ok(message) => self.handle(message, &mut open, &mut waiting)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    return Err(PipelineError::Internal(
                        "every Postgres reader stopped".into(),
                    ));
                }
            }
        }
        // Complete transactions are committed; an incomplete one is dropped uncommitted: it is
        // read again after a restart.
        if let Some(open) = open.filter(|open| !open.partial) {
            self.commit_postgres(open)?;
        }
        Ok(())
    }

    fn handle(
        &mut self,
        message: Incoming,
        open: &mut Option<OpenTxn>,
        waiting: &mut Option<Incoming>,
    ) -> Result<(), PipelineError> {
        // Complete transactions waiting for their commit go first when what comes cannot join
        // them: another connection's, or a transaction arriving in parts (it may be withdrawn).
        let joins = |open: &OpenTxn| match &message {
            Incoming::Batch {
                connection,
                end: Some(_),
                ..
            } => *connection == open.connection,
            _ => false,
        };
        if let Some(current) = open.take_if(|open| !open.partial && !joins(open)) {
            self.commit_postgres(current)?;
        }
        match message {
            Incoming::Failed(error) => Err(error),
            Incoming::Abort { connection } => {
                if let Some(txn) = open.take() {
                    if txn.connection != connection {
                        return Err(interleaved(txn.connection, connection));
                    }
                    txn.txn.abort().map_err(StoreError::from)?;
                    self.feed.discard();
                    // Operators already absorbed part of the dropped transaction: reload
                    // their state from the last commit.
                    let txn = self.store.begin_write()?;
                    self.pipeline = (self.restore)(&txn)?;
                    txn.abort().map_err(StoreError::from)?;
                    tracing::info!(
                        connection = self.connection_name(connection),
                        "discarded an incomplete transaction; it is read again"
                    );
                }
                Ok(())
            }
            Incoming::Batch {
                connection,
                changes,
                end,
            } => {
                if let Some(txn) = open.as_ref() {
                    if txn.connection != connection {
                        return Err(interleaved(txn.connection, connection));
                    }
                }
                let current = match open.take() {
                    Some(current) => current,
                    None => OpenTxn {
                        connection,
                        txn: {
                            self.feed.begin();
                            self.store.begin_write()?
                        },
                        complete_end: None,
                        partial: true,
                        sources: BTreeSet::new(),
                        rows: 0,
                        unflushed: 0,
                        started: Instant::now(),
                    },
                };
                let current = open.insert(current);
                current.rows += changes.len();
                // Sources are independent operator inputs, so applying a transaction source by
                // source (each in its own order) gives the same results as interleaving.
                let mut by_source: BTreeMap<usize, Vec<RowChange>> = BTreeMap::new();
                for (source, change) in changes {
                    by_source.entry(source).or_default().push(change);
                }
                for (source, rows) in by_source {
                    current.sources.insert(source);
                    current.unflushed += rows.len();
                    if let Some(name) = self.source_names.get(source) {
                        crate::metrics::add_source_rows(name, rows.len());
                    }
                    self.pipeline.apply(source, SourceBatch::Rows(rows))?;
                }
                if current.unflushed >= FLUSH_ROWS {
                    self.pipeline.flush(&current.txn)?;
                    current.unflushed = 0;
                }
                let Some(end) = end else {
                    current.partial = true;
                    return Ok(());
                };
                // The upstream transaction is complete: its sources end a transaction (TTL
                // watermarks move only here).
                for source in std::mem::take(&mut current.sources) {
                    self.pipeline.end_transaction(source)?;
                }
                current.partial = false;
                current.complete_end = Some(end);
                // A backlog joins this commit: the next message is already here.
                let roomy = current.rows < GROUP_ROWS && current.started.elapsed() < GROUP_TIME;
                let next = match (&self.postgres, roomy) {
                    (Some(feed), true) => feed.incoming.try_recv().ok(),
                    _ => None,
                };
                match next {
                    Some(next) => *waiting = Some(next),
                    None => {
                        if let Some(current) = open.take() {
                            self.commit_postgres(current)?;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Commits the complete Postgres transactions `open` holds.
    fn commit_postgres(&mut self, open: OpenTxn) -> Result<(), PipelineError> {
        let Some(feed) = &self.postgres else {
            return Err(PipelineError::Internal("no Postgres feed".into()));
        };
        let (name, progress) = &feed.connections[open.connection];
        let Some(end) = open.complete_end.filter(|_| !open.partial) else {
            return Err(PipelineError::Internal(
                "a commit of an incomplete Postgres transaction".into(),
            ));
        };
        self.pipeline.flush(&open.txn)?;
        write_source_lsn(&open.txn, name, end)?;
        let position = self.store.commit(open.txn)?;
        crate::metrics::observe_commit(open.started.elapsed().as_secs_f64());
        self.feed.publish(CommitPosition {
            commit: position,
            source: name.clone(),
            offset: format_lsn(end),
        });
        progress.set_committed(end);
        let elapsed = open.started.elapsed();
        if open.rows >= NOTABLE_ROWS || elapsed >= NOTABLE_TIME {
            tracing::info!(
                connection = name.as_str(),
                rows = open.rows,
                lsn = %format_lsn(end),
                position,
                elapsed_ms = elapsed.as_millis() as u64,
                "committed"
            );
        } else {
            tracing::debug!(connection = name.as_str(), rows = open.rows, lsn = %format_lsn(end), position, "committed");
        }
        Ok(())
    }

    fn connection_name(&self, connection: usize) -> &str {
        self.postgres
            .as_ref()
            .and_then(|f| f.connections.get(connection))
            .map_or("?", |(name, _)| name.as_str())
    }

    /// Applies every new file of every file source; returns how many were applied.
    ///
    /// Each file is one source transaction (its TTL'd statements end a transaction after it),
    /// but files found together are committed together, up to [`COMMIT_ROWS`] rows a commit: a
    /// backlog then costs one write per changed key and commit rather than per file. Every file
    /// is still all in one commit or not at all.
    fn poll_files(&mut self) -> Result<usize, PipelineError> {
        let mut applied = 0;
        for (index, source) in self.files.iter_mut() {
            let name = source.spec().source;
            let mut ready = source.new_files()?.into_iter().peekable();
            let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
            let total: u64 = ready.clone().map(|p| size(&p)).sum();
            let mut bar = (total > 0).then(|| SnapshotBar::files(name, total));
            while ready.peek().is_some() && !self.stop.load(Ordering::Relaxed) {
                report_pending(name, ready.clone());
                let started = Instant::now();
                // If anything fails the transaction is dropped uncommitted and the error stops
                // the process, so the in-memory operator state it touched is discarded with it.
                self.feed.begin();
                let txn = self.store.begin_write()?;
                let pipeline = &mut self.pipeline;
                let (mut files, mut rows, mut unflushed) = (Vec::new(), 0, 0);
                while let Some(path) = ready.next_if(|_| rows < COMMIT_ROWS) {
                    let (seq, file_rows) = source.read(&path, |chunk| {
                        unflushed += chunk.len();
                        pipeline.apply(*index, SourceBatch::Files(chunk))?;
                        if unflushed >= FLUSH_ROWS {
                            pipeline.flush(&txn)?;
                            unflushed = 0;
                        }
                        Ok::<(), PipelineError>(())
                    })?;
                    pipeline.end_transaction(*index)?;
                    source.mark_ingested(&txn, &path, seq, file_rows)?;
                    crate::metrics::add_source_rows(name, file_rows as usize);
                    if let Some(bar) = bar.as_mut() {
                        bar.add(file_rows, size(&path));
                    }
                    rows += file_rows as usize;
                    files.push(path);
                    if self.stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                pipeline.flush(&txn)?;
                let position = self.store.commit(txn)?;
                crate::metrics::observe_commit(started.elapsed().as_secs_f64());
                let last = files.last().and_then(|p| p.file_name());
                self.feed.publish(CommitPosition {
                    commit: position,
                    source: source.spec().source.to_string(),
                    offset: last
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                });
                crate::metrics::set_files_ingested(source.spec().source, source.ingested_files());
                applied += files.len();
                report_pending(name, ready.clone());
                for path in &files {
                    tracing::info!(source = source.spec().source, file = %path.display(), position, "ingested");
                }
                tracing::info!(
                    source = source.spec().source,
                    files = files.len(),
                    rows,
                    position,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "committed"
                );
            }
            if let Some(bar) = bar {
                bar.done();
            }
        }
        crate::metrics::set_files_caught_up();
        Ok(applied)
    }
}

/// Reports the files of `source` found and not committed yet: their bytes and the age of the
/// oldest (the source's lag).
fn report_pending(source: &'static str, files: impl Iterator<Item = std::path::PathBuf>) {
    let (mut bytes, mut oldest) = (0, 0.0f64);
    for path in files {
        if let Ok(meta) = std::fs::metadata(&path) {
            bytes += meta.len();
            let age = meta.modified().ok().and_then(|m| m.elapsed().ok());
            oldest = oldest.max(age.map_or(0.0, |a| a.as_secs_f64()));
        }
    }
    crate::metrics::set_files_pending(source, bytes, oldest);
}

fn interleaved(open: usize, incoming: usize) -> PipelineError {
    PipelineError::Internal(format!(
        "a transaction of connection {incoming} arrived inside one of connection {open}"
    ))
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(20);
    let deadline = Instant::now() + total;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(deadline.saturating_duration_since(Instant::now())));
    }
}
