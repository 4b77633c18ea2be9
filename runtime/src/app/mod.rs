//! The driver: reads a source transaction, runs the pipeline's operators, and commits cache
//! rows, operator state and the source position in ONE redb write transaction.

mod args;
mod driver;
mod run;

pub use args::Args;
pub use run::run;

use crate::api::EndpointApi;
use crate::cache::{Store, StoreError};
use crate::expr::EvalError;
use crate::sources::{CsvTableSpec, SourceChanges, SourceError};
use crate::types::{Delta, RecordId, TypeError, Value};
use redb::WriteTransaction;
use std::sync::Arc;

/// Compile-time settings of a generated pipeline (from `dozer-config.yaml`).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub app_name: &'static str,
    /// Where the cache database lives (`home_dir`), absolute.
    pub home_dir: &'static str,
    pub rest_host: &'static str,
    pub rest_port: u16,
    /// How often file sources look for new files.
    pub poll_interval_ms: u64,
    /// Identifies the generated code; a cache written by other code is rebuilt.
    pub fingerprint: &'static str,
}

/// What `dozerc` generates for one pipeline.
pub trait Pipeline: Sized + Send + 'static {
    /// The file sources, in source index order.
    fn sources() -> Vec<CsvTableSpec>;
    /// Every redb table the pipeline reads or writes (endpoint and state tables).
    fn tables() -> Vec<String>;
    /// The API view of every endpoint.
    fn endpoints(store: &Store) -> Vec<Arc<dyn EndpointApi>>;
    /// Rebuilds operator state from the last commit.
    fn restore(txn: &WriteTransaction) -> Result<Self, StoreError>;
    /// Runs an empty batch from every source once, at the very first start, so results that
    /// exist over no input (an aggregation without GROUP BY) are served before any data.
    fn initialize(&mut self, txn: &WriteTransaction) -> Result<(), PipelineError> {
        for source in 0..Self::sources().len() {
            self.apply(source, Vec::new(), txn)?;
        }
        Ok(())
    }

    /// Applies one source transaction: runs every operator downstream of `source`, writes the
    /// endpoint changes and the changed operator state into `txn`.
    fn apply(
        &mut self,
        source: usize,
        changes: SourceChanges,
        txn: &WriteTransaction,
    ) -> Result<(), PipelineError>;
}

/// Why the pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("in `{statement}`: {error}")]
    Eval {
        statement: &'static str,
        error: EvalError,
    },
    #[error("a row of source `{source_name}` does not match its schema: {error}")]
    Decode {
        source_name: &'static str,
        error: TypeError,
    },
}

impl PipelineError {
    /// Adapts an [`EvalError`] of one statement (used by generated code with `map_err`).
    pub fn eval(statement: &'static str) -> impl Fn(EvalError) -> PipelineError {
        move |error| PipelineError::Eval { statement, error }
    }

    /// Adapts a decoding error of one source (used by generated code with `map_err`).
    pub fn decode(source_name: &'static str) -> impl Fn(TypeError) -> PipelineError {
        move |error| PipelineError::Decode { source_name, error }
    }
}

/// Decodes a batch of dynamic source rows into typed records.
pub fn decode_batch<T: crate::types::SourceRecord>(
    source_name: &'static str,
    changes: SourceChanges,
) -> Result<Vec<Delta<RecordId, T>>, PipelineError> {
    let decode = |values: Option<Vec<Value>>| {
        values
            .map(T::from_values)
            .transpose()
            .map_err(PipelineError::decode(source_name))
    };
    changes
        .into_iter()
        .map(|d| {
            Ok(Delta {
                key: d.key,
                old: decode(d.old)?,
                new: decode(d.new)?,
            })
        })
        .collect()
}
