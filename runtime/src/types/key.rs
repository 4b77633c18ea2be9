//! Primary keys of tables: GROUP BY tuples for aggregations, source row ids for projections.

use super::{FieldDef, FieldValue, TypeError, Value};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::Hash;

/// A table's primary key. Encoded with postcard as the redb key of cache and state tables.
pub trait TableKey:
    Clone + Debug + Eq + Ord + Hash + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Parses the `{id}` of `GET /{path}/{id}`: one value, or comma-separated values for a
    /// composite key. `key_fields` are the key columns, for their types.
    fn parse_id(id: &str, key_fields: &[FieldDef]) -> Result<Self, TypeError>;
    /// The key columns as values, in order.
    fn values(&self) -> Vec<Value>;
}

/// The key of a row read from a file: the file's sequence number in its table and the row's
/// number in the file, packed as `file << 32 | row`. Projections and filters keep it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordId(pub u64);

impl RecordId {
    pub fn new(file: u32, row: u32) -> Self {
        RecordId((u64::from(file) << 32) | u64::from(row))
    }
}

impl TableKey for RecordId {
    fn parse_id(id: &str, _key_fields: &[FieldDef]) -> Result<Self, TypeError> {
        id.parse()
            .map(RecordId)
            .map_err(|_| TypeError::new(format!("`{id}` is not a record id (an unsigned integer)")))
    }
    fn values(&self) -> Vec<Value> {
        vec![Value::UInt(self.0)]
    }
}

impl TableKey for () {
    fn parse_id(_id: &str, _key_fields: &[FieldDef]) -> Result<Self, TypeError> {
        Ok(())
    }
    fn values(&self) -> Vec<Value> {
        Vec::new()
    }
}

fn split_id(id: &str, expected: usize) -> Result<Vec<&str>, TypeError> {
    let parts: Vec<&str> = if expected == 1 {
        vec![id]
    } else {
        id.split(',').collect()
    };
    if parts.len() != expected {
        return Err(TypeError::new(format!(
            "this endpoint's key has {expected} columns: give them comma-separated, found `{id}`"
        )));
    }
    Ok(parts)
}

macro_rules! tuple_key {
    ($n:expr; $($name:ident : $idx:tt),+) => {
        impl<$($name),+> TableKey for ($($name,)+)
        where
            $($name: FieldValue + Debug + Eq + Ord + Hash + Serialize + DeserializeOwned + Send + Sync + 'static),+
        {
            fn parse_id(id: &str, _key_fields: &[FieldDef]) -> Result<Self, TypeError> {
                let parts = split_id(id, $n)?;
                Ok(($($name::parse_text(parts[$idx])?,)+))
            }
            fn values(&self) -> Vec<Value> {
                vec![$(self.$idx.clone().into_value()),+]
            }
        }
    };
}

tuple_key!(1; A: 0);
tuple_key!(2; A: 0, B: 1);
tuple_key!(3; A: 0, B: 1, C: 2);
tuple_key!(4; A: 0, B: 1, C: 2, D: 3);
tuple_key!(5; A: 0, B: 1, C: 2, D: 3, E: 4);
tuple_key!(6; A: 0, B: 1, C: 2, D: 3, E: 4, F: 5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_composite_ids() {
        let k = <(Option<i64>,)>::parse_id("17850", &[]).unwrap();
        assert_eq!(k, (Some(17850),));
        let k = <(Option<i64>,)>::parse_id("null", &[]).unwrap();
        assert_eq!(k, (None,));
        let k = <(Option<String>, Option<i64>)>::parse_id("UK,3", &[]).unwrap();
        assert_eq!(k, (Some("UK".to_string()), Some(3)));
        assert!(<(Option<i64>, Option<i64>)>::parse_id("1", &[]).is_err());
    }
}
