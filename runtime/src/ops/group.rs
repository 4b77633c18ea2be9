//! `GroupTable`: the state of one GROUP BY, with net-change output and incremental checkpoints.
//!
//! Per input row it costs one hash of the group key and one probe: the group's slot records
//! whether the current batch already touched it and whether its state awaits a checkpoint, so
//! the side lists (groups touched, groups to write) take a key only the first time.

use super::expiry::ExpiryIndex;
use crate::cache::{StateStore, StoreError};
use crate::expr::EvalError;
use crate::types::{Delta, TableKey, Timestamp};
use hashbrown::hash_table::{Entry, HashTable};
use redb::WriteTransaction;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::hash::BuildHasher;

/// Computes a group's output row from its key and accumulators; `None` hides the group
/// (HAVING was not true).
pub type Project<K, A, O> = fn(&K, &A) -> Result<Option<O>, EvalError>;

/// What a checkpoint stores of a group.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Group<A> {
    /// Rows currently in the group (COUNT(*)); the group disappears at zero.
    rows: i64,
    aggs: A,
}

/// A group in memory.
struct Slot<A> {
    group: Group<A>,
    /// The batch that last touched the group (see [`GroupTable::batch`]).
    batch: u64,
    /// Whether its key is in [`GroupTable::dirty`].
    dirty: bool,
    /// Under TTL: how many of its rows have not expired. The group is purged at zero.
    live: i64,
}

impl<A: Default> Slot<A> {
    fn new(group: Group<A>) -> Self {
        Slot {
            group,
            batch: 0,
            dirty: false,
            live: 0,
        }
    }
}

/// The groups of one aggregation: key `K`, accumulators `A` (a tuple of [`Sum`](super::Sum),
/// [`Count`](super::Count), ...), output rows `O`.
pub struct GroupTable<K, A, O> {
    groups: HashTable<(K, Slot<A>)>,
    /// Seeded per process: group keys come from the data (see [`super::FastMap`]).
    hasher: foldhash::fast::RandomState,
    /// The current batch: a slot whose `batch` differs was not touched by it yet.
    batch: u64,
    /// The groups touched by the current batch, each once, with its output row before it.
    touched: Vec<(K, Option<O>)>,
    /// Groups changed since the last checkpoint, removed ones included (a key may repeat).
    dirty: Vec<K>,
    project: Project<K, A, O>,
    /// Without GROUP BY there is one group, and it exists even over no rows (as in Postgres).
    global: bool,
    /// Over a TTL'd relation: when each group's rows expire.
    expiry: Option<GroupExpiry<K>>,
}

/// The rows of each group by expiry time. A group is purged when its last row expires
/// (GUIDE §2); how many of its rows are live is in its slot.
struct GroupExpiry<K> {
    index: ExpiryIndex<K, i64>,
    /// Set by [`GroupTable::end_transaction`]: the next checkpoint is the transaction's last.
    ended: bool,
}

/// Pending expiry entries past which a checkpoint in the middle of a transaction writes them
/// anyway, bounding memory. Below it they wait for the transaction's end: with time-ordered data
/// most entries come and expire within one transaction, and then never reach the table.
const EXPIRY_FLUSH_AT: usize = 1 << 20;

/// The output row of a group (`None`: no group) under `project`.
fn output<K, A: Default, O>(
    project: Project<K, A, O>,
    global: bool,
    key: &K,
    group: Option<&Group<A>>,
) -> Result<Option<O>, EvalError> {
    match group {
        Some(group) if group.rows != 0 || global => project(key, &group.aggs),
        None if global => project(key, &A::default()),
        _ => Ok(None),
    }
}

impl<K, A, O> GroupTable<K, A, O>
where
    K: TableKey,
    A: Default + Serialize + DeserializeOwned,
    O: Clone + PartialEq,
{
    pub fn new(project: Project<K, A, O>) -> Self {
        GroupTable {
            groups: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            batch: 1,
            touched: Vec::new(),
            dirty: Vec::new(),
            project,
            global: false,
            expiry: None,
        }
    }

    /// Groups over `TTL(...)`: rows are added with [`update_expiring`](Self::update_expiring)
    /// and [`end_transaction`](Self::end_transaction) purges the groups whose rows have all
    /// expired.
    pub fn expiring(mut self, statement: &'static str) -> Self {
        self.expiry = Some(GroupExpiry {
            index: ExpiryIndex::new(statement),
            ended: false,
        });
        self
    }

    /// An aggregation without GROUP BY: exactly one output row, whatever the input.
    ///
    /// Its row is emitted by the first batch (an empty one at the pipeline's first start, see
    /// [`Pipeline::initialize`](crate::app::Pipeline)) unless [`restore`](Self::restore) finds
    /// it already emitted.
    pub fn global(project: Project<K, A, O>) -> Self
    where
        K: Default,
    {
        let mut table = GroupTable {
            global: true,
            ..Self::new(project)
        };
        table.touched.push((K::default(), None));
        table.dirty.push(K::default());
        table
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn find(&self, key: &K) -> Option<&Group<A>> {
        let hash = self.hasher.hash_one(key);
        self.groups
            .find(hash, |(k, _)| k == key)
            .map(|(_, slot)| &slot.group)
    }

    /// The slot of group `key` (made if new), noted as touched by this batch and changed since
    /// the last checkpoint. Returns the key as stored: equal keys can differ in form (Decimal
    /// 1.0 and 1.00, Float -0 and 0), and the stored form stays the group's identity so cache
    /// and state rows are always found again.
    fn touch(&mut self, key: K) -> Result<&mut (K, Slot<A>), EvalError> {
        let hash = self.hasher.hash_one(&key);
        let hasher = &self.hasher;
        let entry = self
            .groups
            .entry(hash, |(k, _)| *k == key, |(k, _)| hasher.hash_one(k));
        let entry = match entry {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert((key, Slot::new(Group::default()))).into_mut(),
        };
        let (stored, slot) = (&entry.0, &mut entry.1);
        if slot.batch != self.batch {
            slot.batch = self.batch;
            let before = match slot.group.rows {
                0 if !self.global => None,
                _ => output(self.project, self.global, stored, Some(&slot.group))?,
            };
            self.touched.push((stored.clone(), before));
        }
        if !slot.dirty {
            slot.dirty = true;
            self.dirty.push(stored.clone());
        }
        Ok(entry)
    }

    /// Adds one input row (weight +1) or retracts one (weight -1) from the group `key`.
    pub fn update(
        &mut self,
        key: K,
        weight: i64,
        apply: impl FnOnce(&mut A) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let (_, slot) = self.touch(key)?;
        slot.group.rows += weight;
        apply(&mut slot.group.aggs)
    }

    /// [`update`](Self::update) for a row of a TTL'd relation whose TTL column is `time`.
    pub fn update_expiring(
        &mut self,
        key: K,
        time: Option<Timestamp>,
        weight: i64,
        apply: impl FnOnce(&mut A) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let expiring = self.expiry.is_some();
        let (stored, slot) = self.touch(key)?;
        slot.group.rows += weight;
        apply(&mut slot.group.aggs)?;
        if expiring {
            slot.live += weight;
            let stored = stored.clone();
            if let Some(expiry) = &mut self.expiry {
                expiry.index.add(time, &stored, weight);
            }
        }
        Ok(())
    }

    /// Ends a transaction of the TTL'd source: evicts what the new watermark's `cutoff` expires
    /// (if it moved), and lets the next [`checkpoint`](Self::checkpoint) write the expiry index.
    /// Every transaction that updates a TTL'd group table ends here before it commits (the
    /// generated `end_<source>` of each source it reads), so nothing pending is ever left out
    /// of a commit.
    pub fn end_transaction(
        &mut self,
        cutoff: Option<i64>,
        out: &mut Vec<Delta<K, O>>,
    ) -> Result<(), EvalError> {
        if let Some(expiry) = &mut self.expiry {
            expiry.ended = true;
        }
        match cutoff {
            Some(cutoff) => self.expire(cutoff, out),
            None => Ok(()),
        }
    }

    /// Evicts the rows that expire at or before `cutoff` (µs) and purges every group left
    /// without a live row: its result row is deleted (a Delete in `out`). Expiry never changes a
    /// result value; the one group of an aggregation without GROUP BY is never purged. Runs
    /// between batches (after [`drain_changes`](Self::drain_changes)).
    fn expire(&mut self, cutoff: i64, out: &mut Vec<Delta<K, O>>) -> Result<(), EvalError> {
        debug_assert!(self.touched.is_empty(), "expire runs between batches");
        let Some(expiry) = &mut self.expiry else {
            return Ok(());
        };
        for (key, rows) in expiry.index.pop_expired(cutoff) {
            let hash = self.hasher.hash_one(&key);
            let Ok(entry) = self.groups.find_entry(hash, |(k, _)| *k == key) else {
                continue;
            };
            let slot = &mut entry.into_mut().1;
            slot.live -= rows;
            if slot.live > 0 || self.global {
                continue;
            }
            let Ok(entry) = self.groups.find_entry(hash, |(k, _)| *k == key) else {
                continue;
            };
            let ((key, slot), _) = entry.remove();
            let before = output(self.project, self.global, &key, Some(&slot.group))?;
            if !slot.dirty {
                self.dirty.push(key.clone());
            }
            if let Some(row) = before {
                out.push(Delta::delete(key, row));
            }
        }
        Ok(())
    }

    /// Emits one net change per group touched since the last call, dropping empty groups.
    pub fn drain_changes(&mut self, out: &mut Vec<Delta<K, O>>) -> Result<(), EvalError> {
        let touched = std::mem::take(&mut self.touched);
        self.batch += 1;
        let expiring = self.expiry.is_some();
        for (key, before) in touched {
            let hash = self.hasher.hash_one(&key);
            let after = match self.groups.find_entry(hash, |(k, _)| *k == key) {
                Ok(entry) => {
                    let slot = &entry.get().1;
                    // An empty group goes; so does, under TTL, a group whose live rows were all
                    // retracted: it holds only expired rows, so every row it came from expired.
                    let gone =
                        !self.global && (slot.group.rows == 0 || (expiring && slot.live <= 0));
                    if gone {
                        entry.remove();
                        None
                    } else {
                        output(self.project, self.global, &key, Some(&slot.group))?
                    }
                }
                Err(_) => {
                    if self.global {
                        // The one group of a global aggregate always exists (and is
                        // checkpointed, so a restart knows its row was emitted).
                        let hasher = &self.hasher;
                        let mut slot = Slot::new(Group::default());
                        slot.dirty = true;
                        self.groups
                            .insert_unique(hash, (key.clone(), slot), |(k, _)| hasher.hash_one(k));
                    }
                    output(self.project, self.global, &key, None)?
                }
            };
            if before != after {
                out.push(Delta {
                    key,
                    old: before,
                    new: after,
                });
            }
        }
        Ok(())
    }

    /// Writes the groups changed since the last checkpoint into `state/<statement>` (same
    /// transaction as the cache rows and the source position).
    pub fn checkpoint(
        &mut self,
        txn: &WriteTransaction,
        statement: &str,
    ) -> Result<(), StoreError> {
        if !self.dirty.is_empty() {
            let dirty = std::mem::take(&mut self.dirty);
            for key in &dirty {
                let hash = self.hasher.hash_one(key);
                if let Some((_, slot)) = self.groups.find_mut(hash, |(k, _)| k == key) {
                    slot.dirty = false;
                }
            }
            let mut store = StateStore::open(txn, statement)?;
            store.write_sorted(dirty.iter().map(|key| (key, self.find(key))))?;
        }
        if let Some(expiry) = &mut self.expiry {
            if !expiry.ended && expiry.index.pending() >= EXPIRY_FLUSH_AT {
                expiry.index.compact();
            }
            if expiry.ended || expiry.index.pending() >= EXPIRY_FLUSH_AT {
                expiry.index.checkpoint(txn)?;
                expiry.ended = false;
            }
        }
        Ok(())
    }

    /// Loads every group saved by [`checkpoint`](Self::checkpoint).
    pub fn restore(&mut self, txn: &WriteTransaction, statement: &str) -> Result<(), StoreError> {
        let store = StateStore::open(txn, statement)?;
        let hasher = &self.hasher;
        self.groups.clear();
        for (key, group) in store.load_all::<K, Group<A>>()? {
            let hash = hasher.hash_one(&key);
            self.groups
                .insert_unique(hash, (key, Slot::new(group)), |(k, _)| hasher.hash_one(k));
        }
        if let Some(expiry) = &mut self.expiry {
            expiry.index.restore(txn)?;
            for (key, rows) in expiry.index.iter() {
                let hash = hasher.hash_one(key);
                if let Some((_, slot)) = self.groups.find_mut(hash, |(k, _)| k == key) {
                    slot.live += rows;
                }
            }
        }
        if self.global && !self.groups.is_empty() {
            // The global row was emitted before the restart: nothing is pending.
            self.touched.clear();
            self.dirty.clear();
        }
        Ok(())
    }

    /// Rows of group `key` that have not expired (tests).
    #[cfg(test)]
    fn live_rows(&self, key: &K) -> Option<i64> {
        let hash = self.hasher.hash_one(key);
        self.groups
            .find(hash, |(k, _)| k == key)
            .map(|(_, slot)| slot.live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Sum;
    use crate::types::Timestamp;

    type Key = (Option<String>,);
    fn project(key: &Key, aggs: &(Sum<i64>,)) -> Result<Option<(Key, Option<i64>)>, EvalError> {
        Ok(Some((key.clone(), aggs.0.value()?)))
    }

    #[test]
    fn emits_one_net_change_per_group() {
        let mut t: GroupTable<Key, (Sum<i64>,), _> = GroupTable::new(project);
        let uk = (Some("UK".to_string()),);
        for q in [1, 2, 3] {
            t.update(uk.clone(), 1, |(s,)| s.add(Some(q), 1)).unwrap();
        }
        let mut out = Vec::new();
        t.drain_changes(&mut out).unwrap();
        assert_eq!(out, vec![Delta::insert(uk.clone(), (uk.clone(), Some(6)))]);

        // Adding and retracting the same row inside one batch is no change at all.
        t.update(uk.clone(), 1, |(s,)| s.add(Some(4), 1)).unwrap();
        t.update(uk.clone(), -1, |(s,)| s.add(Some(4), -1)).unwrap();
        let mut out = Vec::new();
        t.drain_changes(&mut out).unwrap();
        assert!(out.is_empty());

        for q in [1, 2, 3] {
            t.update(uk.clone(), -1, |(s,)| s.add(Some(q), -1)).unwrap();
        }
        t.drain_changes(&mut out).unwrap();
        assert_eq!(out, vec![Delta::delete(uk.clone(), (uk, Some(6)))]);
        assert!(t.is_empty());
    }

    #[test]
    fn a_global_aggregate_has_a_row_before_any_input() {
        fn project(_: &(), aggs: &(Sum<i64>,)) -> Result<Option<Option<i64>>, EvalError> {
            Ok(Some(aggs.0.value()?))
        }
        let mut t: GroupTable<(), (Sum<i64>,), _> = GroupTable::global(project);
        let mut out = Vec::new();
        t.drain_changes(&mut out).unwrap();
        assert_eq!(
            out,
            vec![Delta::insert((), None)],
            "SUM over no rows is one NULL row"
        );
        out.clear();
        t.update((), 1, |(s,)| s.add(Some(5), 1)).unwrap();
        t.update((), -1, |(s,)| s.add(Some(5), -1)).unwrap();
        t.update((), 1, |(s,)| s.add(Some(7), 1)).unwrap();
        t.drain_changes(&mut out).unwrap();
        assert_eq!(
            out,
            vec![Delta {
                key: (),
                old: Some(None),
                new: Some(Some(7))
            }]
        );
        out.clear();
        t.update((), -1, |(s,)| s.add(Some(7), -1)).unwrap();
        t.drain_changes(&mut out).unwrap();
        assert_eq!(
            out,
            vec![Delta {
                key: (),
                old: Some(Some(7)),
                new: Some(None)
            }],
            "the row stays"
        );
    }

    #[test]
    fn a_group_is_purged_when_its_last_live_row_expires() {
        let mut t: GroupTable<Key, (Sum<i64>,), _> = GroupTable::new(project).expiring("g");
        let at = |us| Timestamp::from_timestamp_micros(us);
        let (uk, fr) = ((Some("UK".to_string()),), (Some("FR".to_string()),));
        for (key, time, q) in [(&uk, 10, 1), (&uk, 30, 2), (&fr, 20, 5), (&fr, 25, 6)] {
            t.update_expiring(key.clone(), at(time), 1, |(s,)| s.add(Some(q), 1))
                .unwrap();
        }
        // FR's later row is deleted while live: FR now lives only as long as its row at 20.
        t.update_expiring(fr.clone(), at(25), -1, |(s,)| s.add(Some(6), -1))
            .unwrap();
        let mut out = Vec::new();
        t.drain_changes(&mut out).unwrap();
        out.clear();

        t.expire(20, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Delta::delete(fr.clone(), (fr, Some(5)))],
            "FR's rows have all expired; UK keeps its value although its row at 10 expired"
        );
        out.clear();
        t.expire(29, &mut out).unwrap();
        assert!(out.is_empty());
        t.expire(30, &mut out).unwrap();
        assert_eq!(out, vec![Delta::delete(uk.clone(), (uk, Some(3)))]);
        assert!(t.is_empty());
    }

    #[test]
    fn the_expiry_index_is_written_when_the_transaction_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::cache::Store::open(&dir.path().join("t.redb")).unwrap();
        let at = |us| Timestamp::from_timestamp_micros(us);
        let uk = (Some("UK".to_string()),);
        let mut t: GroupTable<Key, (Sum<i64>,), _> = GroupTable::new(project).expiring("g");
        let mut out = Vec::new();
        let txn = store.begin_write().unwrap();
        // One transaction of two chunks: the first chunk's entries expire by its end.
        t.update_expiring(uk.clone(), at(10), 1, |(s,)| s.add(Some(1), 1))
            .unwrap();
        t.drain_changes(&mut out).unwrap();
        t.checkpoint(&txn, "g").unwrap();
        assert_eq!(
            t.expiry.as_ref().unwrap().index.pending(),
            1,
            "held back mid-transaction"
        );
        t.update_expiring(uk.clone(), at(30), 1, |(s,)| s.add(Some(2), 1))
            .unwrap();
        t.drain_changes(&mut out).unwrap();
        t.checkpoint(&txn, "g").unwrap();
        t.end_transaction(Some(20), &mut out).unwrap();
        t.checkpoint(&txn, "g").unwrap();
        assert_eq!(
            t.expiry.as_ref().unwrap().index.pending(),
            0,
            "written at the end"
        );
        txn.commit().unwrap();

        let mut restored: GroupTable<Key, (Sum<i64>,), _> = GroupTable::new(project).expiring("g");
        let txn = store.begin_write().unwrap();
        restored.restore(&txn, "g").unwrap();
        txn.abort().unwrap();
        let expiry = restored.expiry.as_ref().unwrap();
        assert_eq!(
            expiry.index.iter().collect::<Vec<_>>(),
            vec![(&uk, &1)],
            "only the live row"
        );
        assert_eq!(restored.live_rows(&uk), Some(1));
        out.clear();
        restored.end_transaction(Some(30), &mut out).unwrap();
        assert_eq!(out, vec![Delta::delete(uk.clone(), (uk, Some(3)))]);
    }

    #[test]
    fn a_group_left_with_only_expired_rows_after_a_delete_is_purged() {
        let mut t: GroupTable<Key, (Sum<i64>,), _> = GroupTable::new(project).expiring("g");
        let at = |us| Timestamp::from_timestamp_micros(us);
        let uk = (Some("UK".to_string()),);
        t.update_expiring(uk.clone(), at(10), 1, |(s,)| s.add(Some(1), 1))
            .unwrap();
        t.update_expiring(uk.clone(), at(30), 1, |(s,)| s.add(Some(2), 1))
            .unwrap();
        let mut out = Vec::new();
        t.drain_changes(&mut out).unwrap();
        t.expire(20, &mut out).unwrap();
        out.clear();
        // The live row goes; the one left expired at 20.
        t.update_expiring(uk.clone(), at(30), -1, |(s,)| s.add(Some(2), -1))
            .unwrap();
        t.drain_changes(&mut out).unwrap();
        assert_eq!(out, vec![Delta::delete(uk.clone(), (uk, Some(3)))]);
        assert!(t.is_empty());
    }

    #[test]
    fn equal_keys_of_another_form_update_the_same_group() {
        use crate::types::Decimal;
        type DKey = (Option<Decimal>,);
        fn project(
            key: &DKey,
            aggs: &(Sum<i64>,),
        ) -> Result<Option<(DKey, Option<i64>)>, EvalError> {
            Ok(Some((*key, aggs.0.value()?)))
        }
        let mut t: GroupTable<DKey, (Sum<i64>,), _> = GroupTable::new(project);
        let (one, one_00) = ((Some(Decimal::new(10, 1)),), (Some(Decimal::new(100, 2)),));
        t.update(one, 1, |(s,)| s.add(Some(1), 1)).unwrap();
        let mut out = Vec::new();
        t.drain_changes(&mut out).unwrap();
        out.clear();
        t.update(one_00, 1, |(s,)| s.add(Some(2), 1)).unwrap();
        t.drain_changes(&mut out).unwrap();
        // The change is keyed by the stored form `1.0`, so the cache row is updated in place.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key.0.map(|d| d.to_string()), Some("1.0".to_string()));
        assert_eq!(out[0].new.as_ref().map(|r| r.1), Some(Some(3)));
    }
}
