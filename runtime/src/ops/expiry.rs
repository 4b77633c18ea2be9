//! `ExpiryIndex`: what a TTL'd operator holds, ordered by expiry time, so that evicting what a
//! new watermark expires touches only the expired entries.

use super::ttl::expiry_time;
use super::FastSet;
use crate::cache::{StateStore, StoreError};
use crate::types::{TableKey, Timestamp};
use redb::WriteTransaction;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::BTreeMap;

/// Entries `(expiry time µs, key) → V`, checkpointed incrementally into
/// `state/<statement>/expiry`.
///
/// Equal keys can differ in form (Decimal 1.0 and 1.00) and the state table is keyed by their
/// encoding, so the checkpoint deletes exactly the forms it removed and writes the forms it
/// holds: a key never survives in the table under an older form.
pub struct ExpiryIndex<K, V> {
    statement: &'static str,
    entries: BTreeMap<(i64, K), V>,
    /// Entries changed since the checkpoint (in any form).
    changed: FastSet<(i64, K)>,
    /// Entries removed since the checkpoint, in the form they were held in.
    removed: Vec<(i64, K)>,
    /// Entries added since the checkpoint where none was held: removing one of these again
    /// needs no delete from the table. Under time-ordered data most entries come and expire
    /// within one transaction, and would otherwise cost a redb delete each for nothing.
    fresh: FastSet<(i64, K)>,
}

impl<K: TableKey, V: Serialize + DeserializeOwned> ExpiryIndex<K, V> {
    pub fn new(statement: &'static str) -> Self {
        ExpiryIndex {
            statement,
            entries: BTreeMap::new(),
            changed: FastSet::default(),
            removed: Vec::new(),
            fresh: FastSet::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Changes the next checkpoint will write.
    pub fn pending(&self) -> usize {
        self.changed.len() + self.removed.len()
    }

    pub fn insert(&mut self, time: Option<Timestamp>, key: K, value: V) {
        let id = (expiry_time(time), key);
        match self.entries.get_mut(&id) {
            Some(held) => *held = value,
            None => {
                self.entries.insert(id.clone(), value);
                self.fresh.insert(id.clone());
            }
        }
        self.changed.insert(id);
    }

    pub fn remove(&mut self, time: Option<Timestamp>, key: &K) -> Option<V> {
        let id = (expiry_time(time), key.clone());
        let (held, value) = self.entries.remove_entry(&id)?;
        self.forget(held);
        Some(value)
    }

    /// Notes that `held` is gone: the checkpoint deletes it unless it never reached the table.
    fn forget(&mut self, held: (i64, K)) {
        self.changed.remove(&held);
        if !self.fresh.remove(&held) {
            self.removed.push(held);
        }
    }

    /// Removes and returns every entry expiring at or before `cutoff`, earliest first.
    pub fn pop_expired(&mut self, cutoff: i64) -> Vec<(K, V)> {
        let mut expired = Vec::new();
        while let Some(first) = self.entries.first_entry() {
            if first.key().0 > cutoff {
                break;
            }
            let ((time, key), value) = first.remove_entry();
            self.forget((time, key.clone()));
            expired.push((key, value));
        }
        expired
    }

    fn table(&self) -> String {
        format!("{}/expiry", self.statement)
    }

    pub fn checkpoint(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if self.changed.is_empty() && self.removed.is_empty() {
            return Ok(());
        }
        let mut store = StateStore::open(txn, &self.table())?;
        // Removals first: a key removed and added again in another form ends up in its new one.
        // Each pass in key order, which redb writes much faster than hash order.
        let removed = std::mem::take(&mut self.removed);
        store.write_sorted(removed.iter().map(|id| (id, None::<&V>)))?;
        let changed: Vec<(i64, K)> = self.changed.drain().collect();
        store.write_sorted(
            changed
                .iter()
                .filter_map(|id| self.entries.get_key_value(id))
                .map(|(held, value)| (held, Some(value))),
        )?;
        self.fresh.clear();
        Ok(())
    }

    pub fn restore(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        let store = StateStore::open(txn, &self.table())?;
        self.entries = store.load_all::<(i64, K), V>()?.into_iter().collect();
        self.changed.clear();
        self.removed.clear();
        self.fresh.clear();
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
    pub fn add(&mut self, time: Option<Timestamp>, key: &K, weight: i64) {
        let id = (expiry_time(time), key.clone());
        match self.entries.get_mut(&id) {
            Some(count) => {
                *count += weight;
                if *count == 0 {
                    if let Some((held, _)) = self.entries.remove_entry(&id) {
                        self.forget(held);
                    }
                    return;
                }
            }
            None => {
                self.entries.insert(id.clone(), weight);
                self.fresh.insert(id.clone());
            }
        }
        self.changed.insert(id);
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
        index.add(at(30), &(1,), 1);
        index.add(at(10), &(2,), 1);
        index.add(at(10), &(2,), 1);
        index.add(at(20), &(3,), 1);
        index.add(at(20), &(3,), -1);
        index.add(None, &(4,), 1);
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

    #[test]
    fn only_entries_that_reached_the_table_are_deleted_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::cache::Store::open(&dir.path().join("t.redb")).unwrap();
        let mut index: ExpiryIndex<(i64,), i64> = ExpiryIndex::new("t");
        let commit = |index: &mut ExpiryIndex<_, i64>| {
            let txn = store.begin_write().unwrap();
            index.checkpoint(&txn).unwrap();
            txn.commit().unwrap();
        };
        index.add(at(10), &(1,), 1);
        commit(&mut index);
        // Within one transaction: two entries come, and both they and the stored one expire.
        index.add(at(20), &(2,), 1);
        index.add(at(30), &(3,), 1);
        index.add(at(30), &(3,), -1);
        assert_eq!(index.pop_expired(20), vec![((1,), 1), ((2,), 1)]);
        assert_eq!(
            index.removed,
            vec![(10, (1,))],
            "only the stored entry needs a delete"
        );
        index.add(at(40), &(4,), 1);
        commit(&mut index);

        let mut restored: ExpiryIndex<(i64,), i64> = ExpiryIndex::new("t");
        let txn = store.begin_write().unwrap();
        restored.restore(&txn).unwrap();
        txn.abort().unwrap();
        assert_eq!(restored.iter().collect::<Vec<_>>(), vec![(&(4,), &1)]);
    }

    #[test]
    fn a_key_held_in_another_form_leaves_no_ghost_after_a_restore() {
        use crate::types::Decimal;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::cache::Store::open(&dir.path().join("t.redb")).unwrap();
        let (one, one_00) = ((Some(Decimal::new(10, 1)),), (Some(Decimal::new(100, 2)),));
        let mut index: ExpiryIndex<(Option<Decimal>,), i64> = ExpiryIndex::new("t");
        let commit = |index: &mut ExpiryIndex<_, i64>| {
            let txn = store.begin_write().unwrap();
            index.checkpoint(&txn).unwrap();
            txn.commit().unwrap();
        };
        index.insert(at(100), one, 1);
        commit(&mut index);
        // The same key in another form (an update keeping the primary key 1.0 as 1.00) moves.
        assert_eq!(index.remove(at(100), &one_00), Some(1));
        index.insert(at(500), one_00, 2);
        commit(&mut index);

        let mut restored: ExpiryIndex<(Option<Decimal>,), i64> = ExpiryIndex::new("t");
        let txn = store.begin_write().unwrap();
        restored.restore(&txn).unwrap();
        txn.abort().unwrap();
        assert_eq!(restored.len(), 1);
        assert_eq!(restored.pop_expired(200), vec![]);
        assert_eq!(restored.pop_expired(500).len(), 1);
    }
}
