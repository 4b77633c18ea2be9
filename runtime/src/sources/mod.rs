//! Source connectors. Each turns an external system into transactions of row changes with a
//! position that is committed together with their effects.

mod csv_file;
mod files;

pub use files::{CsvTableSpec, FileSource, IngestedFile, SourceError};
