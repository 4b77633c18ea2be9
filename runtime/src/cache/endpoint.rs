//! The typed cache table of one endpoint.

use super::store::{decode, encode, RawTable, StoreError};
use crate::types::{Delta, Record, TableKey};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use std::marker::PhantomData;
use std::ops::ControlFlow;

/// Rows of one endpoint keyed by the result table's primary key.
pub struct EndpointTable<K, T> {
    /// The endpoint's name (`endpoints[].name`).
    endpoint: String,
    /// The redb table's name.
    name: String,
    _types: PhantomData<fn() -> (K, T)>,
}

impl<K, T> Clone for EndpointTable<K, T> {
    fn clone(&self) -> Self {
        EndpointTable {
            endpoint: self.endpoint.clone(),
            name: self.name.clone(),
            _types: PhantomData,
        }
    }
}

impl<K: TableKey, T: Record> EndpointTable<K, T> {
    pub fn new(endpoint: &str) -> Self {
        EndpointTable {
            endpoint: endpoint.to_string(),
            name: format!("endpoint/{endpoint}"),
            _types: PhantomData,
        }
    }

    /// The redb table name.
    pub fn table_name(&self) -> &str {
        &self.name
    }

    /// Writes one batch of net changes, and stages them for the change feed's subscribers
    /// (published once `txn` commits).
    pub fn apply(&self, txn: &WriteTransaction, changes: &[Delta<K, T>]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        crate::events::stage(&self.endpoint, changes);
        let mut table = txn.open_table(RawTable::new(&self.name))?;
        for change in changes {
            let key = encode(&change.key)?;
            match &change.new {
                Some(row) => {
                    let row = encode(row)?;
                    table.insert(key.as_slice(), row.as_slice())?;
                }
                None => {
                    // Remove only the row this delete retracts. Inside one transaction another
                    // row may already have taken the key (a DEFERRABLE primary key swapped:
                    // delete 1, insert 2, delete 2, insert 3); its later insert must survive
                    // the delete of the row that held the key before.
                    let stored = match table.get(key.as_slice())? {
                        Some(bytes) => Some(decode::<T>(bytes.value())?),
                        None => None,
                    };
                    let retracted = match (&change.old, &stored) {
                        (Some(old), Some(stored)) => old == stored,
                        _ => true,
                    };
                    if retracted {
                        table.remove(key.as_slice())?;
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fixtures::{row, Row};

    #[test]
    fn a_delete_removes_only_the_row_it_retracts() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::cache::Store::open(&dir.path().join("t.redb")).unwrap();
        let table = EndpointTable::<(Option<i64>,), Row>::new("t");
        store
            .create_tables(&[table.table_name().to_string()])
            .unwrap();
        let (one, two) = (row(Some("one"), 1, 1), row(Some("two"), 2, 2));
        let txn = store.begin_write().unwrap();
        table
            .apply(
                &txn,
                &[
                    Delta::insert((Some(1),), one.clone()),
                    Delta::insert((Some(2),), two.clone()),
                ],
            )
            .unwrap();
        txn.commit().unwrap();

        // UPDATE t SET id = id + 1 under a deferred key, in WAL order.
        let txn = store.begin_write().unwrap();
        table
            .apply(
                &txn,
                &[
                    Delta::delete((Some(1),), one.clone()),
                    Delta::insert((Some(2),), one.clone()),
                    Delta::delete((Some(2),), two.clone()),
                    Delta::insert((Some(3),), two.clone()),
                ],
            )
            .unwrap();
        txn.commit().unwrap();
        let read = store.begin_read().unwrap();
        assert_eq!(table.get(&read, &(Some(1),)).unwrap(), None);
        assert_eq!(table.get(&read, &(Some(2),)).unwrap(), Some(one));
        assert_eq!(table.get(&read, &(Some(3),)).unwrap(), Some(two));
    }
}
