//! `ExpiryIndex`: what a TTL'd operator holds, ordered by expiry time, so that evicting what a
//! new watermark expires touches only the expired entries.

use super::ttl::expiry_time;
use crate::cache::{StateStore, StoreError};
use crate::types::{TableKey, Timestamp};
use redb::WriteTransaction;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Entries `(expiry time µs, key) → V`, checkpointed incrementally into
/// `state/<statement>/expiry`.
pub struct ExpiryIndex<K, V> {
    statement: &'static str,
    entries: BTreeMap<(i64, K), V>,
    dirty: HashSet<(i64, K)>,
}

impl<K: TableKey, V: Serialize + DeserializeOwned> ExpiryIndex<K, V> {
    pub fn new(statement: &'static str) -> Self {
        ExpiryIndex {
            statement,
            entries: BTreeMap::new(),
            dirty: HashSet::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn insert(&mut self, time: Option<Timestamp>, key: K, value: V) {
        let id = (expiry_time(time), key);
        self.dirty.insert(id.clone());
        self.entries.insert(id, value);
    }

    pub fn remove(&mut self, time: Option<Timestamp>, key: &K) -> Option<V> {
        let id = (expiry_time(time), key.clone());
        let removed = self.entries.remove(&id);
        self.dirty.insert(id);
        removed
    }

    /// Removes and returns every entry expiring at or before `cutoff`, earliest first.
    pub fn pop_expired(&mut self, cutoff: i64) -> Vec<(K, V)> {
        let mut expired = Vec::new();
        while let Some(first) = self.entries.first_entry() {
            if first.key().0 > cutoff {
                break;
            }
            let ((time, key), value) = first.remove_entry();
            self.dirty.insert((time, key.clone()));
            expired.push((key, value));
        }
        expired
    }

    fn table(&self) -> String {
        format!("{}/expiry", self.statement)
    }

    pub fn checkpoint(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        let mut store = StateStore::open(txn, &self.table())?;
        for id in self.dirty.drain() {
            match self.entries.get(&id) {
                Some(value) => store.put(&id, value)?,
                None => store.remove(&id)?,
            }
        }
        Ok(())
    }

    pub fn restore(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        let store = StateStore::open(txn, &self.table())?;
        self.entries = store.load_all::<(i64, K), V>()?.into_iter().collect();
        self.dirty.clear();
        Ok(())
    }

    /// Every entry, in expiry order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|((_, k), v)| (k, v))
    }
}

impl<K: TableKey> ExpiryIndex<K, i64> {
    /// Adds `weight` to the number of rows of `key` expiring at `time`; an entry at zero is
    /// dropped.
    pub fn add(&mut self, time: Option<Timestamp>, key: K, weight: i64) {
        let id = (expiry_time(time), key);
        let count = self.entries.entry(id.clone()).or_insert(0);
        *count += weight;
        if *count == 0 {
            self.entries.remove(&id);
        }
        self.dirty.insert(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(us: i64) -> Option<Timestamp> {
        Timestamp::from_timestamp_micros(us)
    }

    #[test]
    fn pops_exactly_what_expires_in_expiry_order() {
        let mut index: ExpiryIndex<(i64,), i64> = ExpiryIndex::new("t");
        index.add(at(30), (1,), 1);
        index.add(at(10), (2,), 1);
        index.add(at(10), (2,), 1);
        index.add(at(20), (3,), 1);
        index.add(at(20), (3,), -1);
        index.add(None, (4,), 1);
        assert_eq!(index.len(), 3, "a count back at zero is no entry");
        assert_eq!(index.pop_expired(9), vec![]);
        assert_eq!(index.pop_expired(30), vec![((2,), 2), ((1,), 1)]);
        assert_eq!(
            index.pop_expired(i64::MAX - 1),
            vec![],
            "NULL never expires"
        );
        assert_eq!(index.len(), 1);
    }
}
