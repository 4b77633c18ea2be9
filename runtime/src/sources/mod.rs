//! Source connectors. Each turns an external system into transactions of row changes with a
//! position that is committed together with their effects.

mod csv_file;
mod files;
#[cfg(feature = "postgres")]
pub mod postgres;

pub use files::{CsvTableSpec, FileSource, IngestedFile, SourceError};

/// One source transaction as connectors deliver it: dynamic rows keyed by source row id.
pub type SourceChanges = Vec<crate::types::Delta<crate::types::RecordId, Vec<crate::types::Value>>>;
