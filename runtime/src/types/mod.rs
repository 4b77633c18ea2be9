//! The data model shared by every pipeline: values, field types, records, keys and changes.

mod change;
mod field;
mod float;
mod key;
mod record;
mod value;

pub use change::Delta;
pub use field::{FieldDef, FieldType};
pub use float::Float;
pub use key::{RecordId, TableKey};
pub use record::{KeyedRecord, Record, SourceRecord};
pub use value::{FieldValue, TypeError, Value};

/// Exact decimal (`NUMERIC`): never a float.
pub type Decimal = rust_decimal::Decimal;
/// `TIMESTAMP`: always normalised to UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
/// `DATE`.
pub type Date = chrono::NaiveDate;
/// `JSON`.
pub type Json = serde_json::Value;
