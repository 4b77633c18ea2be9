//! The typed cache table of one endpoint.

use super::store::{decode, encode, RawTable, StoreError};
use crate::types::{Delta, Record, TableKey};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use std::marker::PhantomData;
use std::ops::ControlFlow;

/// Rows of one endpoint keyed by the result table's primary key.
pub struct EndpointTable<K, T> {
    name: String,
    _types: PhantomData<fn() -> (K, T)>,
}

impl<K, T> Clone for EndpointTable<K, T> {
    fn clone(&self) -> Self {
        EndpointTable {
            name: self.name.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: TableKey, T: Record> EndpointTable<K, T> {
    pub fn new(endpoint: &str) -> Self {
        EndpointTable {
            name: format!("endpoint/{endpoint}"),
            _types: PhantomData,
        }
    }

    /// The redb table name.
    pub fn table_name(&self) -> &str {
        &self.name
    }

    /// Writes one batch of net changes.
    pub fn apply(&self, txn: &WriteTransaction, changes: &[Delta<K, T>]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut table = txn.open_table(RawTable::new(&self.name))?;
        for change in changes {
            let key = encode(&change.key)?;
            match &change.new {
                Some(row) => {
                    let row = encode(row)?;
                    table.insert(key.as_slice(), row.as_slice())?;
                }
                None => {
                    table.remove(key.as_slice())?;
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, txn: &ReadTransaction, key: &K) -> Result<Option<T>, StoreError> {
        let table = txn.open_table(RawTable::new(&self.name))?;
        let key = encode(key)?;
        match table.get(key.as_slice())? {
            Some(row) => Ok(Some(decode(row.value())?)),
            None => Ok(None),
        }
    }

    pub fn len(&self, txn: &ReadTransaction) -> Result<u64, StoreError> {
        let table = txn.open_table(RawTable::new(&self.name))?;
        Ok(table.len()?)
    }

    /// Visits rows in key order until `visit` breaks.
    pub fn scan(
        &self,
        txn: &ReadTransaction,
        mut visit: impl FnMut(K, T) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let table = txn.open_table(RawTable::new(&self.name))?;
        for entry in table.iter()? {
            let (k, v) = entry?;
            if visit(decode(k.value())?, decode(v.value())?).is_break() {
                break;
            }
        }
        Ok(())
    }
}
