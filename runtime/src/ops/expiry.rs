//! `ExpiryIndex`: what a TTL'd operator holds, ordered by expiry time, so that evicting what a
//! new watermark expires touches only the expired entries.

use super::ttl::expiry_time;
use crate::cache::{StateStore, StoreError};
use crate::types::{TableKey, Timestamp};
use redb::WriteTransaction;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::btree_map::{self, BTreeMap};

/// One entry and what the table knows of it.
struct Held<V> {
    value: V,
    /// Whether the table holds the entry (so removing it needs a delete).
    stored: bool,
    /// Whether it changed since the checkpoint (so its id is in `changed`).
    changed: bool,
}

/// Entries `(expiry time µs, key) → V`, checkpointed incrementally into
/// `state/<statement>/expiry`.
///
/// Equal keys can differ in form (Decimal 1.0 and 1.00) and the state table is keyed by their
/// encoding, so the checkpoint deletes exactly the forms it removed and writes the forms it
/// holds: a key never survives in the table under an older form. Under time-ordered data most
/// entries come and expire between two checkpoints: they never reach the table and cost no
/// delete.
pub struct ExpiryIndex<K, V> {
    statement: &'static str,
    entries: BTreeMap<(i64, K), Held<V>>,
    /// Entries changed since the checkpoint, as held (an id may repeat, or be gone since).
    changed: Vec<(i64, K)>,
    /// Stored entries removed since the checkpoint, in the form they were held in.
    removed: Vec<(i64, K)>,
}

impl<K: TableKey, V: Serialize + DeserializeOwned> ExpiryIndex<K, V> {
    pub fn new(statement: &'static str) -> Self {
        ExpiryIndex {
            statement,
            entries: BTreeMap::new(),
            changed: Vec::new(),
            removed: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Changes the next checkpoint will write (an upper bound until [`compact`](Self::compact)).
    pub fn pending(&self) -> usize {
        self.changed.len() + self.removed.len()
    }

    /// Forgets the changed entries that are gone since: what [`pending`](Self::pending) then
    /// counts is what the checkpoint would write.
    pub fn compact(&mut self) {
        let entries = &self.entries;
        self.changed
            .retain(|id| entries.get(id).is_some_and(|held| held.changed));
    }

    pub fn insert(&mut self, time: Option<Timestamp>, key: K, value: V) {
        match self.entries.entry((expiry_time(time), key)) {
            btree_map::Entry::Occupied(mut entry) => {
                let held = entry.get_mut();
                held.value = value;
                if !held.changed {
                    held.changed = true;
                    self.changed.push(entry.key().clone());
                }
            }
            btree_map::Entry::Vacant(entry) => {
                self.changed.push(entry.key().clone());
                entry.insert(Held {
                    value,
                    stored: false,
                    changed: true,
                });
            }
        }
    }

    pub fn remove(&mut self, time: Option<Timestamp>, key: &K) -> Option<V> {
        let id = (expiry_time(time), key.clone());
        let (held_id, held) = self.entries.remove_entry(&id)?;
        if held.stored {
            self.removed.push(held_id);
        }
        Some(held.value)
    }

    /// Removes and returns every entry expiring at or before `cutoff`, earliest first.
    pub fn pop_expired(&mut self, cutoff: i64) -> Vec<(K, V)> {
        let mut expired = Vec::new();
        while let Some(first) = self.entries.first_entry() {
            if first.key().0 > cutoff {
                break;
            }
            let ((time, key), held) = first.remove_entry();
            if held.stored {
                self.removed.push((time, key.clone()));
            }
            expired.push((key, held.value));
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
        let mut changed = std::mem::take(&mut self.changed);
        // Only what is still held, once: the form held is the one written.
        changed.retain(|id| match self.entries.get_mut(id) {
            Some(held) if held.changed => {
                held.changed = false;
                held.stored = true;
                true
            }
            _ => false,
        });
        store.write_sorted(
            changed
                .iter()
                .filter_map(|id| self.entries.get_key_value(id))
                .map(|(held_id, held)| (held_id, Some(&held.value))),
        )?;
        Ok(())
    }

    pub fn restore(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        let store = StateStore::open(txn, &self.table())?;
        self.entries = store
            .load_all::<(i64, K), V>()?
            .into_iter()
            .map(|(id, value)| {
                let held = Held {
                    value,
                    stored: true,
                    changed: false,
                };
                (id, held)
            })
            .collect();
        self.changed.clear();
        self.removed.clear();
        Ok(())
    }

    /// Every entry, in expiry order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|((_, k), held)| (k, &held.value))
    }
}

impl<K: TableKey> ExpiryIndex<K, i64> {
    /// Adds `weight` to the number of rows of `key` expiring at `time`; an entry at zero is
    /// dropped.
    pub fn add(&mut self, time: Option<Timestamp>, key: &K, weight: i64) {
        match self.entries.entry((expiry_time(time), key.clone())) {
            btree_map::Entry::Occupied(mut entry) => {
                let held = entry.get_mut();
                held.value += weight;
                if held.value == 0 {
                    let (held_id, held) = entry.remove_entry();
                    if held.stored {
                        self.removed.push(held_id);
                    }
                } else if !held.changed {
                    held.changed = true;
                    self.changed.push(entry.key().clone());
                }
            }
            btree_map::Entry::Vacant(entry) => {
                self.changed.push(entry.key().clone());
                entry.insert(Held {
                    value: weight,
                    stored: false,
                    changed: true,
                });
            }
        }
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
