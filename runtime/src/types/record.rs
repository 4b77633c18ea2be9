//! Typed rows. `dozerc` generates one struct per source table and per output table.

use super::{FieldDef, TypeError, Value};
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

/// A row of a source table, decoded from the dynamic values a connector produces.
pub trait SourceRecord: Record {
    /// `values` holds one value per field of [`Record::FIELDS`], in order.
    fn from_values(values: Vec<Value>) -> Result<Self, TypeError>;
}

/// A source row that carries its own key: the primary key of a Postgres table. Updates that
/// change the key become a delete of the old key and an insert of the new one.
pub trait KeyedRecord: SourceRecord {
    type Key: super::TableKey;
    fn key(&self) -> Self::Key;
}
