//! `GroupTable`: the state of one GROUP BY, with net-change output and incremental checkpoints.

use super::expiry::ExpiryIndex;
use super::{FastMap, FastSet};
use crate::cache::{StateStore, StoreError};
use crate::expr::EvalError;
use crate::types::{Delta, TableKey, Timestamp};
use redb::WriteTransaction;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Computes a group's output row from its key and accumulators; `None` hides the group
/// (HAVING was not true).
pub type Project<K, A, O> = fn(&K, &A) -> Result<Option<O>, EvalError>;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Group<A> {
    /// Rows currently in the group (COUNT(*)); the group disappears at zero.
    rows: i64,
    aggs: A,
}

/// The groups of one aggregation: key `K`, accumulators `A` (a tuple of [`Sum`](super::Sum),
/// [`Count`](super::Count), ...), output rows `O`.
pub struct GroupTable<K, A, O> {
    groups: FastMap<K, Group<A>>,
    /// Output row of each group touched in the current batch, as it was before the batch.
    touched: FastMap<K, Option<O>>,
    /// Groups changed since the last checkpoint.
    dirty: FastSet<K>,
    project: Project<K, A, O>,
    /// Without GROUP BY there is one group, and it exists even over no rows (as in Postgres).
    global: bool,
    /// Over a TTL'd relation: when each group's rows expire.
    expiry: Option<GroupExpiry<K>>,
}

/// The rows of each group by expiry time, and how many of each group's rows have not expired.
/// A group is purged when its last row expires (GUIDE §2).
struct GroupExpiry<K> {
    index: ExpiryIndex<K, i64>,
    live: FastMap<K, i64>,
    /// Set by [`GroupTable::end_transaction`]: the next checkpoint is the transaction's last.
    ended: bool,
}

/// Pending expiry entries past which a checkpoint in the middle of a transaction writes them
/// anyway, bounding memory. Below it they wait for the transaction's end: with time-ordered data
/// most entries come and expire within one transaction, and then never reach the table.
const EXPIRY_FLUSH_AT: usize = 1 << 20;

impl<K, A, O> GroupTable<K, A, O>
where
    K: TableKey,
    A: Default + Serialize + DeserializeOwned,
    O: Clone + PartialEq,
{
    pub fn new(project: Project<K, A, O>) -> Self {
        GroupTable {
            groups: FastMap::default(),
            touched: FastMap::default(),
            dirty: FastSet::default(),
            project,
            global: false,
            expiry: None,
        }
    }

    /// Groups over `TTL(...)`: rows are added with [`update_expiring`](Self::update_expiring)
    /// and [`expire`](Self::expire) purges the groups whose rows have all expired.
    pub fn expiring(mut self, statement: &'static str) -> Self {
        self.expiry = Some(GroupExpiry {
            index: ExpiryIndex::new(statement),
            live: FastMap::default(),
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
        table.touched.insert(K::default(), None);
        table.dirty.insert(K::default());
        table
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn output_of(&self, key: &K) -> Result<Option<O>, EvalError> {
        match self.groups.get(key) {
            Some(group) if group.rows != 0 || self.global => (self.project)(key, &group.aggs),
            None if self.global => (self.project)(key, &A::default()),
            _ => Ok(None),
        }
    }

    /// Adds one input row (weight +1) or retracts one (weight -1) from the group `key`.
    pub fn update(
        &mut self,
        key: K,
        weight: i64,
        apply: impl FnOnce(&mut A) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        if !self.touched.contains_key(&key) {
            let canonical = self.canonical(&key);
            let before = self.output_of(&canonical)?;
            self.touched.insert(canonical.clone(), before);
            self.dirty.insert(canonical);
        }
        let group = self.groups.entry(key).or_default();
        group.rows += weight;
        apply(&mut group.aggs)
    }

    /// Equal keys can differ in form (Decimal 1.0 and 1.00, Float -0 and 0): the stored key
    /// stays the group's identity, so cache and state rows are always found again.
    fn canonical(&self, key: &K) -> K {
        self.groups
            .get_key_value(key)
            .map_or_else(|| key.clone(), |(k, _)| k.clone())
    }

    /// [`update`](Self::update) for a row of a TTL'd relation whose TTL column is `time`.
    pub fn update_expiring(
        &mut self,
        key: K,
        time: Option<Timestamp>,
        weight: i64,
        apply: impl FnOnce(&mut A) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let canonical = self.canonical(&key);
        if let Some(expiry) = &mut self.expiry {
            expiry.index.add(time, &canonical, weight);
            match expiry.live.get_mut(&canonical) {
                Some(live) => {
                    *live += weight;
                    if *live == 0 {
                        expiry.live.remove(&canonical);
                    }
                }
                None => {
                    expiry.live.insert(canonical.clone(), weight);
                }
            }
        }
        self.update(canonical, weight, apply)
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
    /// result value; the one group of an aggregation without GROUP BY is never purged.
    fn expire(&mut self, cutoff: i64, out: &mut Vec<Delta<K, O>>) -> Result<(), EvalError> {
        let Some(expiry) = &mut self.expiry else {
            return Ok(());
        };
        let mut purged = Vec::new();
        for (key, rows) in expiry.index.pop_expired(cutoff) {
            let live = expiry.live.entry(key.clone()).or_insert(0);
            *live -= rows;
            if *live <= 0 {
                expiry.live.remove(&key);
                purged.push(key);
            }
        }
        if self.global {
            return Ok(());
        }
        for key in purged {
            let before = self.output_of(&key)?;
            if self.groups.remove(&key).is_some() {
                self.dirty.insert(key.clone());
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
        for (key, before) in touched {
            // Under TTL, a group whose live rows were all retracted holds only expired rows: every
            // row it came from has expired, so it is purged now.
            if let Some(expiry) = &self.expiry {
                if !self.global && !expiry.live.contains_key(&key) {
                    self.groups.remove(&key);
                }
            }
            let after = self.output_of(&key)?;
            if self.global {
                // The one group of a global aggregate always exists (and is checkpointed, so
                // a restart knows its row was emitted).
                self.groups.entry(key.clone()).or_default();
            } else if self.groups.get(&key).is_some_and(|g| g.rows == 0) {
                self.groups.remove(&key);
            }
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
            let mut store = StateStore::open(txn, statement)?;
            let dirty: Vec<K> = self.dirty.drain().collect();
            store.write_sorted(dirty.iter().map(|key| (key, self.groups.get(key))))?;
        }
        if let Some(expiry) = &mut self.expiry {
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
        self.groups = store.load_all::<K, Group<A>>()?.into_iter().collect();
        if let Some(expiry) = &mut self.expiry {
            expiry.index.restore(txn)?;
            expiry.live.clear();
            for (key, rows) in expiry.index.iter() {
                *expiry.live.entry(key.clone()).or_insert(0) += rows;
            }
        }
        if self.global && !self.groups.is_empty() {
            // The global row was emitted before the restart: nothing is pending.
            self.touched.clear();
            self.dirty.clear();
        }
        Ok(())
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
        assert_eq!(expiry.live.get(&uk), Some(&1));
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
