//! Operator state tables: one per stateful operator, written incrementally at each commit.

use super::store::{decode, encode, RawTable, StoreError};
use redb::{ReadableTable, Table, WriteTransaction};
use serde::{de::DeserializeOwned, Serialize};

/// The state table of one operator, open inside a write transaction.
pub struct StateStore<'txn> {
    table: Table<'txn, &'static [u8], &'static [u8]>,
}

impl<'txn> StateStore<'txn> {
    pub fn open(txn: &'txn WriteTransaction, operator: &str) -> Result<Self, StoreError> {
        let name = format!("state/{operator}");
        Ok(StateStore {
            table: txn.open_table(RawTable::new(&name))?,
        })
    }

    pub fn put<K: Serialize, V: Serialize>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), StoreError> {
        let (k, v) = (encode(key)?, encode(value)?);
        self.table.insert(k.as_slice(), v.as_slice())?;
        Ok(())
    }

    /// Writes many changes at once (`None` removes the key), in key order: redb then fills
    /// its pages in sequence instead of touching a random page per entry.
    pub fn write_sorted<'a, K: Serialize + 'a, V: Serialize + 'a>(
        &mut self,
        changes: impl Iterator<Item = (&'a K, Option<&'a V>)>,
    ) -> Result<(), StoreError> {
        let mut encoded = Vec::new();
        for (key, value) in changes {
            encoded.push((encode(key)?, value.map(encode).transpose()?));
        }
        encoded.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, value) in encoded {
            match value {
                Some(value) => {
                    self.table.insert(key.as_slice(), value.as_slice())?;
                }
                None => {
                    self.table.remove(key.as_slice())?;
                }
            }
        }
        Ok(())
    }

    pub fn remove<K: Serialize>(&mut self, key: &K) -> Result<(), StoreError> {
        let k = encode(key)?;
        self.table.remove(k.as_slice())?;
        Ok(())
    }

    pub fn load_all<K: DeserializeOwned, V: DeserializeOwned>(
        &self,
    ) -> Result<Vec<(K, V)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.table.iter()? {
            let (k, v) = entry?;
            out.push((decode(k.value())?, decode(v.value())?));
        }
        Ok(out)
    }
}
