//! The driver: reads a source transaction, runs the pipeline's operators, and commits cache
//! rows, operator state and the source position in ONE redb write transaction.

mod args;
mod driver;
#[cfg(feature = "postgres")]
mod postgres;
mod progress;
mod run;

pub use args::Args;
pub use run::run;

use crate::api::EndpointApi;
use crate::cache::{Store, StoreError};
use crate::expr::EvalError;
use crate::sources::{PgConnectionSpec, SourceBatch, SourceError, SourceSpec};
use crate::types::{Delta, KeyedRecord, RecordId, SourceRecord, TypeError, Value};
use redb::WriteTransaction;
use std::sync::Arc;

/// Compile-time settings of a generated pipeline (from `dozer-config.yaml`).
#[derive(Clone, Copy)]
pub struct Settings {
    pub app_name: &'static str,
    /// Where the cache database lives (`home_dir`), absolute.
    pub home_dir: &'static str,
    pub rest_host: &'static str,
    pub rest_port: u16,
    pub grpc_host: &'static str,
    pub grpc_port: u16,
    /// How often file sources look for new files.
    pub poll_interval_ms: u64,
    /// Identifies the generated code; a cache written by other code is rebuilt.
    pub fingerprint: &'static str,
    /// `api.api_security: !Jwt <secret>`: the APIs need tokens signed with it. The
    /// `DOZER_JWT_SECRET` environment variable overrides it (see `api::auth::secret_from`).
    pub jwt_secret: Option<&'static str>,
}

impl std::fmt::Debug for Settings {
    /// Every setting but the secret, which logs must never show.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("app_name", &self.app_name)
            .field("home_dir", &self.home_dir)
            .field("rest_host", &self.rest_host)
            .field("rest_port", &self.rest_port)
            .field("grpc_host", &self.grpc_host)
            .field("grpc_port", &self.grpc_port)
            .field("poll_interval_ms", &self.poll_interval_ms)
            .field("fingerprint", &self.fingerprint)
            .field("jwt_secret", &self.jwt_secret.map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// What `dozerc` generates for one pipeline.
pub trait Pipeline: Sized + Send + 'static {
    /// Every source, in source index order.
    fn sources() -> Vec<SourceSpec>;
    /// The Postgres connections the sources name, by index.
    fn connections() -> Vec<PgConnectionSpec> {
        Vec::new()
    }
    /// Every redb table the pipeline reads or writes (endpoint and state tables).
    fn tables() -> Vec<String>;
    /// The API view of every endpoint.
    fn endpoints(store: &Store) -> Vec<Arc<dyn EndpointApi>>;
    /// Every endpoint's typed gRPC service, and the descriptors of the protos they serve.
    fn grpc(_ctx: &crate::grpc::GrpcContext) -> crate::grpc::GrpcServices {
        crate::grpc::GrpcServices::new(&[])
    }
    /// Rebuilds operator state from the last commit.
    fn restore(txn: &WriteTransaction) -> Result<Self, StoreError>;
    /// Runs an empty batch from every source once, at the very first start, so results that
    /// exist over no input (an aggregation without GROUP BY) are served before any data.
    fn initialize(&mut self) -> Result<(), PipelineError> {
        for (index, source) in Self::sources().iter().enumerate() {
            self.apply(index, source.empty_batch())?;
        }
        Ok(())
    }

    /// Applies one batch of a source transaction (a transaction may come in several): runs
    /// every operator downstream of `source` in memory and stages the endpoint changes.
    fn apply(&mut self, source: usize, changes: SourceBatch) -> Result<(), PipelineError>;

    /// Ends one transaction of `source`, after its last [`apply`](Self::apply): TTL'd
    /// statements advance their watermark and purge what expired (GUIDE §2).
    fn end_transaction(&mut self, _source: usize) -> Result<(), PipelineError> {
        Ok(())
    }

    /// Writes what the transactions applied since the last call changed (operator state and
    /// endpoint rows) into `txn`, the write transaction that commits them with the source
    /// position. Called once before every commit.
    fn flush(&mut self, txn: &WriteTransaction) -> Result<(), PipelineError>;
}

/// A [`Pipeline`] behind a pointer: what the driver calls per batch. Everything past
/// [`run`]'s first line works on this and on [`PipelineDef`], so the servers, the driver and
/// the sources are compiled once in this crate rather than again in every generated one.
pub(crate) trait DynPipeline: Send {
    fn initialize(&mut self) -> Result<(), PipelineError>;
    fn apply(&mut self, source: usize, changes: SourceBatch) -> Result<(), PipelineError>;
    fn end_transaction(&mut self, source: usize) -> Result<(), PipelineError>;
    fn flush(&mut self, txn: &WriteTransaction) -> Result<(), PipelineError>;
}

impl<P: Pipeline> DynPipeline for P {
    fn initialize(&mut self) -> Result<(), PipelineError> {
        Pipeline::initialize(self)
    }
    fn apply(&mut self, source: usize, changes: SourceBatch) -> Result<(), PipelineError> {
        Pipeline::apply(self, source, changes)
    }
    fn end_transaction(&mut self, source: usize) -> Result<(), PipelineError> {
        Pipeline::end_transaction(self, source)
    }
    fn flush(&mut self, txn: &WriteTransaction) -> Result<(), PipelineError> {
        Pipeline::flush(self, txn)
    }
}

/// The associated functions of a [`Pipeline`], as plain function pointers.
#[derive(Clone, Copy)]
pub(crate) struct PipelineDef {
    pub sources: fn() -> Vec<SourceSpec>,
    pub connections: fn() -> Vec<PgConnectionSpec>,
    pub tables: fn() -> Vec<String>,
    pub endpoints: fn(&Store) -> Vec<Arc<dyn EndpointApi>>,
    pub grpc: fn(&crate::grpc::GrpcContext) -> crate::grpc::GrpcServices,
    pub restore: fn(&WriteTransaction) -> Result<Box<dyn DynPipeline>, StoreError>,
}

impl PipelineDef {
    pub fn of<P: Pipeline>() -> Self {
        PipelineDef {
            sources: P::sources,
            connections: P::connections,
            tables: P::tables,
            endpoints: P::endpoints,
            grpc: P::grpc,
            restore: |txn| Ok(Box::new(P::restore(txn)?)),
        }
    }
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
    #[cfg(feature = "postgres")]
    #[error("Postgres connection `{connection}`: {error}")]
    Postgres {
        connection: String,
        error: crate::sources::postgres::PgSourceError,
    },
    #[error("this pipeline reads Postgres, but dozer-runtime was built without its `postgres` feature; rebuild with `dozerc build`")]
    PostgresNotBuilt,
    #[error("internal error: {0}")]
    Internal(String),
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

/// Types a batch of a file source into records keyed by row id.
pub fn decode_batch<T: SourceRecord>(
    source_name: &'static str,
    batch: SourceBatch,
) -> Result<Vec<Delta<RecordId, T>>, PipelineError> {
    let SourceBatch::Files(rows) = batch else {
        return Err(PipelineError::Internal(format!(
            "source `{source_name}` received rows without row ids"
        )));
    };
    let mut deltas = Vec::with_capacity(rows.len());
    for (i, (id, text)) in rows.iter().enumerate() {
        let row = T::from_text(&text).map_err(|e| rows.error(i, e))?;
        deltas.push(Delta::insert(id, row));
    }
    Ok(deltas)
}

/// Decodes a batch of a keyed source (Postgres) into typed records keyed by their primary key.
/// An update that changes the key is a delete of the old key and an insert of the new one.
pub fn decode_rows<T: KeyedRecord>(
    source_name: &'static str,
    batch: SourceBatch,
) -> Result<Vec<Delta<T::Key, T>>, PipelineError> {
    let SourceBatch::Rows(changes) = batch else {
        return Err(PipelineError::Internal(format!(
            "source `{source_name}` received file rows"
        )));
    };
    let mut deltas = Vec::with_capacity(changes.len());
    for change in changes {
        let old = decode_row::<T>(source_name, change.old)?;
        let new = decode_row::<T>(source_name, change.new)?;
        match (old, new) {
            (Some(old), Some(new)) => {
                let (old_key, new_key) = (old.key(), new.key());
                if old_key == new_key {
                    deltas.push(Delta {
                        key: new_key,
                        old: Some(old),
                        new: Some(new),
                    });
                } else {
                    deltas.push(Delta::delete(old_key, old));
                    deltas.push(Delta::insert(new_key, new));
                }
            }
            (Some(old), None) => deltas.push(Delta::delete(old.key(), old)),
            (None, Some(new)) => deltas.push(Delta::insert(new.key(), new)),
            (None, None) => {}
        }
    }
    Ok(deltas)
}

fn decode_row<T: SourceRecord>(
    source_name: &'static str,
    values: Option<Vec<Value>>,
) -> Result<Option<T>, PipelineError> {
    values
        .map(T::from_values)
        .transpose()
        .map_err(PipelineError::decode(source_name))
}
