//! `dozer-runtime`: everything generic that a pipeline emitted by `dozerc` links against.
//!
//! Generated crates hold what is specific to one pipeline (record structs, the expressions of
//! each SQL statement, the wiring); this crate holds the machinery they share:
//!
//! * [`types`]: SQL values, field types, records, keys and the change model ([`types::Delta`]).
//! * [`expr`]: SQL scalar semantics (three-valued logic, checked arithmetic, casts).
//! * [`ops`]: incremental operator building blocks (group tables, aggregates with retractions).
//! * [`sources`]: connectors (local CSV files; Postgres logical replication with feature
//!   `postgres`).
//! * [`cache`]: the redb database holding endpoint rows, operator state and source positions.
//! * [`api`]: the REST server, its query language and the OpenAPI document.
//! * [`grpc`]: the gRPC server: each endpoint's typed service (generated), the common service,
//!   health, reflection and gRPC-Web.
//! * [`events`]: the feed of committed endpoint changes behind gRPC `OnEvent`.
//! * [`metrics`]: process-wide counters served at `GET /metrics`.
//! * [`app`]: the driver loop that ties a source transaction to one atomic commit.

pub mod api;
pub mod app;
pub mod cache;
pub mod events;
pub mod expr;
pub mod grpc;
pub mod metrics;
pub mod ops;
pub mod sources;
pub mod types;

/// Every process linking the runtime (each generated pipeline) allocates with mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Re-exports so that generated crates depend on `dozer-runtime` alone.
pub mod reexports {
    pub use chrono;
    pub use redb;
    pub use rust_decimal;
    pub use serde;
    pub use serde_json;
}

/// What generated code imports with `use dozer_runtime::prelude::*;`.
pub mod prelude {
    pub use crate::api::{EndpointApi, EndpointDecl, TypedEndpoint};
    pub use crate::app::{decode_batch, decode_rows, PipelineError, Settings};
    pub use crate::cache::{ChangeBuffer, EndpointTable, StateStore};
    pub use crate::cache::{Store, StoreError};
    pub use crate::expr::{self, EvalError};
    pub use crate::ops::{
        ttl, windows, Avg, Count, Distinct, ExpiryIndex, GroupTable, HashJoin, JoinKey, JoinKind,
        Joined, Max, MaxValue, Min, MinValue, Operator, Sum, UnionKey, Watermark,
    };
    pub use crate::reexports::serde::{Deserialize, Serialize};
    pub use crate::sources::{
        CsvTableSpec, FieldError, PgConnectionSpec, PgTableSpec, SourceBatch, SourceSpec, TextRow,
    };
    pub use crate::types::{
        Date, Decimal, Delta, FieldDef, FieldType, FieldValue, Float, Json, KeyedRecord, Record,
        RecordId, SourceRecord, TableKey, Timestamp, TypeError, Value,
    };
    pub use redb::WriteTransaction;
    pub use std::sync::Arc;
}
