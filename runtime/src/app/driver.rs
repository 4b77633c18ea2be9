//! The ingestion loop, on its own thread: poll sources, apply each new file as one atomic
//! commit, repeat until asked to stop.

use super::{Pipeline, PipelineError};
use crate::cache::{store::bump_position, Store};
use crate::sources::FileSource;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct Driver<P: Pipeline> {
    pub pipeline: P,
    pub sources: Vec<FileSource>,
    pub store: Store,
    pub poll_interval: Duration,
    pub stop: Arc<AtomicBool>,
}

impl<P: Pipeline> Driver<P> {
    /// Runs until `stop` is set (returns Ok) or an error stops the pipeline.
    pub fn run(mut self) -> Result<(), PipelineError> {
        if self.store.position()? == 0 {
            // Before the first source transaction: results over no input (global aggregates).
            // This commit does not advance the position; repeating it is a no-op.
            let txn = self.store.begin_write()?;
            self.pipeline.initialize(&txn)?;
            txn.commit().map_err(crate::cache::StoreError::from)?;
        }
        while !self.stop.load(Ordering::Relaxed) {
            let applied = self.poll_once()?;
            if applied == 0 {
                sleep_unless_stopped(self.poll_interval, &self.stop);
            }
        }
        Ok(())
    }

    /// Applies every new file of every source; returns how many were applied.
    fn poll_once(&mut self) -> Result<usize, PipelineError> {
        let mut applied = 0;
        for index in 0..self.sources.len() {
            for path in self.sources[index].new_files()? {
                if self.stop.load(Ordering::Relaxed) {
                    return Ok(applied);
                }
                let started = Instant::now();
                // One transaction per file, fed chunk by chunk. If anything fails the
                // transaction is dropped uncommitted and the error stops the process, so the
                // in-memory operator state it touched is discarded with it.
                let txn = self.store.begin_write()?;
                let pipeline = &mut self.pipeline;
                let (seq, rows) =
                    self.sources[index].read(&path, |chunk| pipeline.apply(index, chunk, &txn))?;
                self.sources[index].mark_ingested(&txn, &path, seq, rows)?;
                let position = bump_position(&txn)?;
                txn.commit().map_err(crate::cache::StoreError::from)?;
                applied += 1;
                tracing::info!(
                    source = self.sources[index].spec().source,
                    file = %path.display(),
                    rows,
                    position,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "ingested"
                );
            }
        }
        Ok(applied)
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(20);
    let deadline = Instant::now() + total;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(deadline.saturating_duration_since(Instant::now())));
    }
}
