//! Typed rows. `dozerc` generates one struct per source table and per output table.

use super::{FieldDef, TypeError, Value};
use crate::sources::{FieldError, TextRow};
use serde::{de::DeserializeOwned, Serialize};
use std::fmt::Debug;

/// A typed row. Serialized with serde: postcard in redb, JSON in the REST API.
pub trait Record:
    Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The columns, in order.
    const FIELDS: &'static [FieldDef];
    /// The value of column `index` (for API filters and sorting, not for the pipeline).
    fn field(&self, index: usize) -> Value;
}

/// A row of a source table, decoded from what a connector produces.
pub trait SourceRecord: Record {
    /// `values` holds one value per field of [`Record::FIELDS`], in order (Postgres).
    fn from_values(values: Vec<Value>) -> Result<Self, TypeError>;
    /// `row` holds the text of each field of [`Record::FIELDS`], in order (files); each field is
    /// parsed straight into its place.
    fn from_text(row: &TextRow<'_>) -> Result<Self, FieldError>;
}

/// A source row that carries its own key: the primary key of a Postgres table. Updates that
/// change the key become a delete of the old key and an insert of the new one.
pub trait KeyedRecord: SourceRecord {
    type Key: super::TableKey;
    fn key(&self) -> Self::Key;
}
