//! The typed cache table of one endpoint and its secondary indexes.
//!
//! Rows live in `endpoint/<name>`, keyed by the postcard bytes of the primary key. Each
//! secondary index is a table `index/<name>/<columns>` whose keys are the order-preserving
//! encoding of the indexed columns ([`super::index_key`]) followed by the row's primary key
//! bytes, with empty values: an index lists rows in column order, ties in primary key byte
//! order (the order of a plain key scan), and the row is one `get` away. Indexes are written in
//! the same write transaction as the rows, so a reader never sees them disagree.

use super::index_key::{encode_value, encoded_len, indexable};
use super::store::{decode, encode, RawTable, StoreError};
use crate::types::{Delta, FieldType, Record, TableKey};
use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction,
};
use std::marker::PhantomData;
use std::ops::{Bound, ControlFlow};
use std::sync::Arc;

/// One secondary index: its columns (indexes into the record's fields, in key order) and its
/// redb table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondaryIndex {
    pub columns: &'static [usize],
    pub table: String,
}

/// Rows of one endpoint keyed by the result table's primary key.
pub struct EndpointTable<K, T> {
    /// The endpoint's name (`endpoints[].name`).
    endpoint: String,
    /// The redb table's name.
    name: String,
    indexes: Arc<[SecondaryIndex]>,
    _types: PhantomData<fn() -> (K, T)>,
}

impl<K, T> Clone for EndpointTable<K, T> {
    fn clone(&self) -> Self {
        EndpointTable {
            endpoint: self.endpoint.clone(),
            name: self.name.clone(),
            indexes: self.indexes.clone(),
            _types: PhantomData,
        }
    }
}

/// A raw redb table opened for reading.
type ReadTable = ReadOnlyTable<&'static [u8], &'static [u8]>;

impl<K: TableKey, T: Record> EndpointTable<K, T> {
    /// The table of `endpoint`, without secondary indexes.
    pub fn new(endpoint: &str) -> Self {
        Self::with_indexes(endpoint, &[])
    }

    /// The table of `endpoint` with one secondary index per entry of `indexes` (column numbers
    /// of `T`, in key order). Entries naming no column, a missing column or a Json column are
    /// ignored: the compiler never emits them.
    pub fn with_indexes(endpoint: &str, indexes: &'static [&'static [usize]]) -> Self {
        let valid = |columns: &'static [usize]| {
            !columns.is_empty()
                && columns
                    .iter()
                    .all(|&c| T::FIELDS.get(c).is_some_and(|f| indexable(f.ty)))
        };
        debug_assert!(
            indexes.iter().all(|c| valid(c)),
            "bad index of `{endpoint}`"
        );
        let indexes = indexes
            .iter()
            .filter(|c| valid(c))
            .map(|columns| {
                let names: Vec<&str> = columns.iter().map(|&c| T::FIELDS[c].name).collect();
                SecondaryIndex {
                    columns,
                    table: format!("index/{endpoint}/{}", names.join(",")),
                }
            })
            .collect();
        EndpointTable {
            endpoint: endpoint.to_string(),
            name: format!("endpoint/{endpoint}"),
            indexes,
            _types: PhantomData,
        }
    }

    /// The redb table name of the rows.
    pub fn table_name(&self) -> &str {
        &self.name
    }

    /// Every redb table this endpoint uses: the rows', then one per index (to create at start).
    pub fn table_names(&self) -> Vec<String> {
        std::iter::once(self.name.clone())
            .chain(self.indexes.iter().map(|i| i.table.clone()))
            .collect()
    }

    pub fn indexes(&self) -> &[SecondaryIndex] {
        &self.indexes
    }

    /// The key of `row` (whose primary key encodes as `key`) in index `index`.
    fn index_key(
        &self,
        index: &SecondaryIndex,
        key: &[u8],
        row: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::with_capacity(16 * index.columns.len() + key.len());
        for &column in index.columns {
            encode_value(&row.field(column), &mut out)?;
        }
        out.extend_from_slice(key);
        Ok(out)
    }

    /// Writes one batch of net changes, rows and index entries alike, and stages them for the
    /// change feed's subscribers (published once `txn` commits).
    pub fn apply(&self, txn: &WriteTransaction, changes: &[Delta<K, T>]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        // What subscribers are told is what this writes: the row each change replaced or
        // removed, and nothing for a delete that retracts no stored row.
        let staging = crate::events::wants(&self.endpoint);
        let mut written = Vec::new();
        let mut table = txn.open_table(RawTable::new(&self.name))?;
        let mut index_tables = self
            .indexes
            .iter()
            .map(|i| txn.open_table(RawTable::new(&i.table)))
            .collect::<Result<Vec<_>, _>>()?;
        let indexed = !self.indexes.is_empty();
        // In key order, which redb writes much faster than the hash order changes come in; a
        // stable sort keeps each key's changes in their order.
        let mut sorted = changes
            .iter()
            .map(|change| Ok((encode(&change.key)?, change)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, change) in sorted {
            match &change.new {
                Some(row) => {
                    let bytes = encode(row)?;
                    let replaced = table.insert(key.as_slice(), bytes.as_slice())?;
                    let old = match replaced {
                        Some(old) if indexed || staging => Some(decode::<T>(old.value())?),
                        _ => None,
                    };
                    self.reindex(&mut index_tables, &key, old.as_ref(), Some(row))?;
                    if staging && old.as_ref() != Some(row) {
                        written.push(Delta {
                            key: change.key.clone(),
                            old,
                            new: Some(row.clone()),
                        });
                    }
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
                        self.reindex(&mut index_tables, &key, stored.as_ref(), None)?;
                        if let (true, Some(stored)) = (staging, stored) {
                            written.push(Delta::delete(change.key.clone(), stored));
                        }
                    }
                }
            }
        }
        if staging {
            crate::events::stage(&self.endpoint, &written);
        }
        Ok(())
    }

    /// Moves the index entries of the row at `key` from `old` to `new`.
    fn reindex(
        &self,
        tables: &mut [redb::Table<'_, &'static [u8], &'static [u8]>],
        key: &[u8],
        old: Option<&T>,
        new: Option<&T>,
    ) -> Result<(), StoreError> {
        for (index, table) in self.indexes.iter().zip(tables) {
            let old = old.map(|r| self.index_key(index, key, r)).transpose()?;
            let new = new.map(|r| self.index_key(index, key, r)).transpose()?;
            if old == new {
                continue;
            }
            if let Some(old) = old {
                table.remove(old.as_slice())?;
            }
            if let Some(new) = new {
                table.insert(new.as_slice(), [].as_slice())?;
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

    /// Opens the rows and, if a plan reads one, index `index` in `txn`, once per request
    /// (opening a table is a lookup of its own, so the others stay closed).
    pub fn snapshot(
        &self,
        txn: &ReadTransaction,
        index: Option<usize>,
    ) -> Result<EndpointSnapshot<K, T>, StoreError> {
        let indexes = self
            .indexes
            .iter()
            .enumerate()
            .map(|(i, table)| match index == Some(i) {
                true => txn.open_table(RawTable::new(&table.table)).map(Some),
                false => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(EndpointSnapshot {
            rows: txn.open_table(RawTable::new(&self.name))?,
            indexes,
            table: self.clone(),
        })
    }
}

/// The tables of an endpoint as one read transaction sees them: what query plans read.
/// Keys are handled as bytes (the postcard primary key, or an index key), since plans
/// compare and resume at byte positions.
pub struct EndpointSnapshot<K, T> {
    rows: ReadTable,
    /// The index the snapshot was opened for, at its position (the others are `None`).
    indexes: Vec<Option<ReadTable>>,
    table: EndpointTable<K, T>,
}

/// An iterator over index keys (or row entries) in a byte range, either direction.
pub type RawRange = redb::Range<'static, &'static [u8], &'static [u8]>;

impl<K: TableKey, T: Record> EndpointSnapshot<K, T> {
    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self.rows.len()?)
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    pub fn indexes(&self) -> &[SecondaryIndex] {
        self.table.indexes()
    }

    /// The row stored under primary key bytes `key`.
    pub fn row(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.rows.get(key)? {
            Some(row) => Ok(Some(decode(row.value())?)),
            None => Ok(None),
        }
    }

    /// Visits rows whose key bytes are after `after` (all rows if `None`), in key order, until
    /// `visit` breaks.
    pub fn scan_rows(
        &self,
        after: Option<&[u8]>,
        mut visit: impl FnMut(&[u8], T) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let lower = match after {
            Some(key) => Bound::Excluded(key),
            None => Bound::Unbounded,
        };
        for entry in self.rows.range::<&[u8]>((lower, Bound::Unbounded))? {
            let (k, v) = entry?;
            if visit(k.value(), decode(v.value())?).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The entries of index `index` with keys in `[lower, upper)` (`upper` `None`: unbounded).
    pub fn index_range(
        &self,
        index: usize,
        lower: &[u8],
        upper: Option<&[u8]>,
    ) -> Result<RawRange, StoreError> {
        let upper = upper.map_or(Bound::Unbounded, Bound::Excluded);
        let table = self
            .indexes
            .get(index)
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                StoreError::State(format!(
                    "index {index} of {} was not opened",
                    self.table.name
                ))
            })?;
        Ok(table.range::<&[u8]>((Bound::Included(lower), upper))?)
    }

    /// Splits an index key of `index` into its encoded column values and the primary key
    /// bytes; `None` if it is not such a key.
    pub fn split_index_key<'k>(&self, index: usize, key: &'k [u8]) -> Option<(&'k [u8], &'k [u8])> {
        let types = self.table.indexes[index]
            .columns
            .iter()
            .map(|&c| T::FIELDS[c].ty);
        let len = values_len(key, types)?;
        Some(key.split_at(len))
    }
}

/// The length of the encoded values of `types` at the start of `bytes`.
pub fn values_len(bytes: &[u8], types: impl IntoIterator<Item = FieldType>) -> Option<usize> {
    let mut at = 0;
    for ty in types {
        at += encoded_len(bytes.get(at..)?, ty)?;
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fixtures::{row, Row};

    #[test]
    fn a_delete_removes_only_the_row_it_retracts() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::cache::Store::open(&dir.path().join("t.redb")).unwrap();
        let table = EndpointTable::<(Option<i64>,), Row>::with_indexes("t", &[&[0], &[2, 1]]);
        store.create_tables(&table.table_names()).unwrap();
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
        let feed = crate::events::ChangeFeed::new();
        let mut subscriber = feed.subscribe("t");
        feed.begin();
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
        feed.publish(crate::events::CommitPosition {
            commit: 2,
            source: "pg".into(),
            offset: "0/2".into(),
        });
        // Subscribers are told what was written: key 2 changed from `two` to `one`, and the
        // delete that retracted nothing is not an event.
        let committed = subscriber.receiver.try_recv().unwrap();
        let events = committed.changes.as_ref().unwrap();
        let events = events
            .downcast_ref::<Vec<Delta<(Option<i64>,), Row>>>()
            .unwrap();
        let expected = [
            Delta::delete((Some(1),), one.clone()),
            Delta {
                key: (Some(2),),
                old: Some(two.clone()),
                new: Some(one.clone()),
            },
            Delta::insert((Some(3),), two.clone()),
        ];
        assert_eq!(events.as_slice(), expected.as_slice());
        let read = store.begin_read().unwrap();
        assert_eq!(table.get(&read, &(Some(1),)).unwrap(), None);
        assert_eq!(table.get(&read, &(Some(2),)).unwrap(), Some(one));
        assert_eq!(table.get(&read, &(Some(3),)).unwrap(), Some(two));
        assert_indexes_match_rows(&table, &read);
    }

    /// Every index holds exactly one entry per row, made from the row's current values.
    fn assert_indexes_match_rows<K: TableKey, T: Record>(
        table: &EndpointTable<K, T>,
        read: &ReadTransaction,
    ) {
        let rows = read.open_table(RawTable::new(table.table_name())).unwrap();
        for index in table.indexes() {
            let mut expected: Vec<Vec<u8>> = rows
                .iter()
                .unwrap()
                .map(|e| {
                    let (k, v) = e.unwrap();
                    let row: T = decode(v.value()).unwrap();
                    table.index_key(index, k.value(), &row).unwrap()
                })
                .collect();
            expected.sort();
            let stored: Vec<Vec<u8>> = read
                .open_table(RawTable::new(&index.table))
                .unwrap()
                .iter()
                .unwrap()
                .map(|e| e.unwrap().0.value().to_vec())
                .collect();
            assert_eq!(stored, expected, "{}", index.table);
        }
    }

    #[test]
    fn indexes_follow_inserts_updates_and_deletes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let dir = tempfile::tempdir().unwrap();
        let store = crate::cache::Store::open(&dir.path().join("t.redb")).unwrap();
        let table = EndpointTable::<(i64,), Row>::with_indexes("t", &[&[0], &[1], &[0, 1]]);
        assert_eq!(
            table.table_names(),
            [
                "endpoint/t",
                "index/t/Country",
                "index/t/Total",
                "index/t/Country,Total"
            ]
        );
        store.create_tables(&table.table_names()).unwrap();
        let mut model = std::collections::BTreeMap::new();
        for _ in 0..30 {
            let txn = store.begin_write().unwrap();
            let mut changes = Vec::new();
            for _ in 0..20 {
                let n = rng.random_range(0..40);
                let old: Option<Row> = model.get(&n).cloned();
                let delete = rng.random_ratio(1, 3);
                if let (Some(old), true) = (&old, delete) {
                    changes.push(Delta::delete((n,), old.clone()));
                    model.remove(&n);
                } else {
                    let country = ["A", "B", "C"][rng.random_range(0..3)];
                    let new = row(Some(country), rng.random_range(0..5), n);
                    changes.push(Delta {
                        key: (n,),
                        old,
                        new: Some(new.clone()),
                    });
                    model.insert(n, new);
                }
            }
            table.apply(&txn, &changes).unwrap();
            txn.commit().unwrap();
            let read = store.begin_read().unwrap();
            assert_eq!(table.len(&read).unwrap(), model.len() as u64);
            assert_indexes_match_rows(&table, &read);
        }
    }
}
