//! Source connectors. Each turns an external system into transactions of row changes with a
//! position that is committed together with their effects.

mod csv_file;
mod files;
mod pg_spec;
#[cfg(feature = "postgres")]
pub mod pg_tls;
#[cfg(feature = "postgres")]
pub mod postgres;
mod progress;
mod text_rows;

pub use files::{CsvTableSpec, FileSource, IngestedFile, SourceError};
pub use pg_spec::{PgConnectionSpec, PgTableSpec};
pub use progress::{format_lsn, parse_lsn, LsnProgress};
pub use text_rows::{FieldError, TextRow, TextRows};

use crate::types::Value;

/// One row change of a keyed source (Postgres): insert (`old` is `None`), delete (`new` is
/// `None`) or update. The key comes from the row itself (its primary key columns).
#[derive(Clone, Debug, PartialEq)]
pub struct RowChange {
    pub old: Option<Vec<Value>>,
    pub new: Option<Vec<Value>>,
}

/// The changes of one source within one source transaction.
#[derive(Debug)]
pub enum SourceBatch {
    /// From files: inserts, each row with its row id, as text the pipeline types.
    Files(TextRows),
    /// From a table with a primary key.
    Rows(Vec<RowChange>),
}

impl SourceBatch {
    pub fn len(&self) -> usize {
        match self {
            SourceBatch::Files(rows) => rows.len(),
            SourceBatch::Rows(changes) => changes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A source of a generated pipeline, in source index order.
#[derive(Clone, Debug)]
pub enum SourceSpec {
    Files(CsvTableSpec),
    /// A table read through connection `connection` (an index into the pipeline's
    /// `connections()`).
    Postgres {
        connection: usize,
        table: PgTableSpec,
    },
}

impl SourceSpec {
    /// The source's name in the config.
    pub fn name(&self) -> &'static str {
        match self {
            SourceSpec::Files(spec) => spec.source,
            SourceSpec::Postgres { table, .. } => table.source,
        }
    }

    /// An empty batch of this source's kind.
    pub fn empty_batch(&self) -> SourceBatch {
        match self {
            SourceSpec::Files(spec) => SourceBatch::Files(TextRows::empty(spec.fields)),
            SourceSpec::Postgres { .. } => SourceBatch::Rows(Vec::new()),
        }
    }
}
