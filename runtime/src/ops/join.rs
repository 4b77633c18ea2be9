//! `HashJoin`: the state of an equi-join of two inputs (INNER, LEFT, RIGHT or FULL), with
//! net-change output and incremental checkpoints.
//!
//! Each side keeps its rows by primary key and by join key. A change on one side is matched
//! against the other side's current rows: Δ(A ⋈ B) = ΔA ⋈ B, then A' ⋈ ΔB, so a batch of one side
//! followed by a batch of the other (a self-join) is exact. Outer joins also emit the NULL-padded
//! row of an unmatched row, and swap it for the matches (and back) as matches come and go. A NULL
//! join key never matches, as in SQL.
//!
//! Generated join operators drive it: their key functions evaluate the ON equalities (and any
//! ON predicate over one side only, which makes a failing row match nothing).

use super::{FastMap, FastSet};
use crate::cache::{StateStore, StoreError};
use crate::expr::EvalError;
use crate::types::{Delta, FieldDef, TableKey, TypeError, Value};
use redb::WriteTransaction;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::hash::Hash;

/// Which unmatched rows an outer join keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

impl JoinKind {
    fn keeps_left(self) -> bool {
        matches!(self, JoinKind::Left | JoinKind::Full)
    }
    fn keeps_right(self) -> bool {
        matches!(self, JoinKind::Right | JoinKind::Full)
    }
}

/// The key of a joined row: the keys of the rows it joins (None on the padded side).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JoinKey<L, R>(pub Option<L>, pub Option<R>);

/// A joined result is keyed by the rows it joins, which are not columns of the result: its rows
/// are found by filters, not by id.
impl<L: TableKey, R: TableKey> TableKey for JoinKey<L, R> {
    fn parse_id(_id: &str, _key_fields: &[FieldDef]) -> Result<Self, TypeError> {
        Err(TypeError::new(
            "rows of a join result have no id of their own: find them with a filter on their columns",
        ))
    }
    fn values(&self) -> Vec<Value> {
        let left = self.0.iter().flat_map(TableKey::values);
        left.chain(self.1.iter().flat_map(TableKey::values))
            .collect()
    }
}

/// A joined row: the left and right rows (None on the padded side).
pub type Joined<L, R> = (Option<L>, Option<R>);

/// A change of the join's output.
pub type JoinChange<LK, L, RK, R> = Delta<JoinKey<LK, RK>, Joined<L, R>>;

/// A joined key's row before the batch and its latest row.
type BeforeAfter<L, R> = (Option<Joined<L, R>>, Option<Joined<L, R>>);

/// A row's join key: `Ok(None)` when it matches nothing (a NULL key part, or a failed ON
/// predicate over its side), `Err` when evaluating it fails.
pub type JoinKeyFn<T, JK> = fn(&T) -> Result<Option<JK>, EvalError>;

/// The keys of the rows sharing one join key. Most join keys have one row (a primary key on
/// the other side's foreign key), which then needs no set of its own.
enum RowKeys<K> {
    One(K),
    Many(FastSet<K>),
}

impl<K: Eq + Hash + Clone> RowKeys<K> {
    fn iter(&self) -> impl Iterator<Item = &K> {
        let (one, many) = match self {
            RowKeys::One(k) => (Some(k), None),
            RowKeys::Many(keys) => (None, Some(keys.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    fn insert(&mut self, key: K) {
        match self {
            RowKeys::One(k) if *k == key => {}
            RowKeys::One(k) => *self = RowKeys::Many(FastSet::from_iter([k.clone(), key])),
            RowKeys::Many(keys) => {
                keys.insert(key);
            }
        }
    }

    /// Removes `key`; true when no key is left.
    fn remove(&mut self, key: &K) -> bool {
        match self {
            RowKeys::One(k) => k == key,
            RowKeys::Many(keys) => {
                keys.remove(key);
                keys.is_empty()
            }
        }
    }
}

/// The rows of one side, by primary key and by join key.
struct Side<K, JK, T> {
    rows: FastMap<K, T>,
    by_join: FastMap<JK, RowKeys<K>>,
    key_of: JoinKeyFn<T, JK>,
    dirty: FastSet<K>,
}

impl<K: TableKey, JK: Eq + Hash + Clone, T: Clone> Side<K, JK, T> {
    fn new(key_of: JoinKeyFn<T, JK>) -> Self {
        Side {
            rows: FastMap::default(),
            by_join: FastMap::default(),
            key_of,
            dirty: FastSet::default(),
        }
    }

    /// The rows joining `jk`.
    fn matches(&self, jk: &Option<JK>) -> Vec<(K, T)> {
        let Some(jk) = jk else { return Vec::new() };
        self.by_join
            .get(jk)
            .into_iter()
            .flat_map(RowKeys::iter)
            .filter_map(|k| self.rows.get(k).map(|row| (k.clone(), row.clone())))
            .collect()
    }

    fn has_matches(&self, jk: &Option<JK>) -> bool {
        jk.as_ref().and_then(|jk| self.by_join.get(jk)).is_some()
    }

    fn insert(&mut self, key: K, row: T, jk: Option<JK>) {
        if let Some(jk) = jk {
            match self.by_join.entry(jk) {
                Entry::Occupied(mut keys) => keys.get_mut().insert(key.clone()),
                Entry::Vacant(slot) => {
                    slot.insert(RowKeys::One(key.clone()));
                }
            }
        }
        self.dirty.insert(key.clone());
        self.rows.insert(key, row);
    }

    fn remove(&mut self, key: &K, jk: &Option<JK>) {
        if let Some(jk) = jk {
            if let Some(keys) = self.by_join.get_mut(jk) {
                if keys.remove(key) {
                    self.by_join.remove(jk);
                }
            }
        }
        self.dirty.insert(key.clone());
        self.rows.remove(key);
    }
}

impl<K: TableKey, JK: Eq + Hash + Clone, T: Clone + Serialize + DeserializeOwned> Side<K, JK, T> {
    fn checkpoint(&mut self, store: &mut StateStore<'_>) -> Result<(), StoreError> {
        let rows = &self.rows;
        store.write_sorted(self.dirty.iter().map(|key| (key, rows.get(key))))?;
        self.dirty.clear();
        Ok(())
    }

    fn restore(&mut self, store: &StateStore<'_>) -> Result<(), StoreError> {
        self.rows.clear();
        self.by_join.clear();
        self.dirty.clear();
        for (key, row) in store.load_all::<K, T>()? {
            // The key evaluated when the row was applied, so it evaluates again.
            let jk = (self.key_of)(&row).map_err(|e| StoreError::State(e.to_string()))?;
            self.insert(key, row, jk);
        }
        self.dirty.clear();
        Ok(())
    }
}

/// Output changes of the batch being applied: per joined key, the row before the batch and the
/// latest row, so that a batch emits one net change per key.
struct Pending<LK, L, RK, R> {
    changes: FastMap<JoinKey<LK, RK>, BeforeAfter<L, R>>,
}

impl<LK: TableKey, L: Clone + PartialEq, RK: TableKey, R: Clone + PartialEq> Pending<LK, L, RK, R> {
    fn retract(&mut self, key: JoinKey<LK, RK>, row: Joined<L, R>) {
        self.changes
            .entry(key)
            .and_modify(|(_, new)| *new = None)
            .or_insert((Some(row), None));
    }

    fn add(&mut self, key: JoinKey<LK, RK>, row: Joined<L, R>) {
        match self.changes.get_mut(&key) {
            Some((_, new)) => *new = Some(row),
            None => {
                self.changes.insert(key, (None, Some(row)));
            }
        }
    }

    fn drain(&mut self, out: &mut Vec<JoinChange<LK, L, RK, R>>) {
        for (key, (old, new)) in self.changes.drain() {
            if old != new {
                out.push(Delta { key, old, new });
            }
        }
    }
}

/// The state of `left ⋈ right ON left_key(l) = right_key(r)`.
pub struct HashJoin<JK, LK, L, RK, R> {
    kind: JoinKind,
    left: Side<LK, JK, L>,
    right: Side<RK, JK, R>,
    pending: Pending<LK, L, RK, R>,
}

impl<JK, LK, L, RK, R> HashJoin<JK, LK, L, RK, R>
where
    JK: Eq + Hash + Clone,
    LK: TableKey,
    RK: TableKey,
    L: Clone + PartialEq + Serialize + DeserializeOwned,
    R: Clone + PartialEq + Serialize + DeserializeOwned,
{
    /// `left_key`/`right_key` give a row's join key, or None when it matches nothing.
    pub fn new(kind: JoinKind, left_key: JoinKeyFn<L, JK>, right_key: JoinKeyFn<R, JK>) -> Self {
        HashJoin {
            kind,
            left: Side::new(left_key),
            right: Side::new(right_key),
            pending: Pending {
                changes: FastMap::default(),
            },
        }
    }

    /// Applies one batch of each input (either may be empty; a self-join gets the same batch on
    /// both sides) and appends one net change per joined key.
    pub fn apply(
        &mut self,
        left: &[Delta<LK, L>],
        right: &[Delta<RK, R>],
        out: &mut Vec<JoinChange<LK, L, RK, R>>,
    ) -> Result<(), EvalError> {
        let applied = self.on_left(left).and_then(|()| self.on_right(right));
        if applied.is_err() {
            // The transaction is abandoned; the state is restored from the last checkpoint.
            self.pending.changes.clear();
        }
        applied?;
        self.pending.drain(out);
        Ok(())
    }

    fn on_left(&mut self, input: &[Delta<LK, L>]) -> Result<(), EvalError> {
        let (keeps_left, keeps_right) = (self.kind.keeps_left(), self.kind.keeps_right());
        for change in input {
            if let Some(old) = &change.old {
                let jk = (self.left.key_of)(old)?;
                let matches = self.right.matches(&jk);
                self.left.remove(&change.key, &jk);
                if matches.is_empty() {
                    if keeps_left {
                        self.pending.retract(
                            JoinKey(Some(change.key.clone()), None),
                            (Some(old.clone()), None),
                        );
                    }
                } else {
                    let orphaned = keeps_right && !self.left.has_matches(&jk);
                    for (rk, r) in matches {
                        self.pending.retract(
                            JoinKey(Some(change.key.clone()), Some(rk.clone())),
                            (Some(old.clone()), Some(r.clone())),
                        );
                        if orphaned {
                            self.pending.add(JoinKey(None, Some(rk)), (None, Some(r)));
                        }
                    }
                }
            }
            if let Some(new) = &change.new {
                let jk = (self.left.key_of)(new)?;
                let matches = self.right.matches(&jk);
                if matches.is_empty() {
                    if keeps_left {
                        self.pending.add(
                            JoinKey(Some(change.key.clone()), None),
                            (Some(new.clone()), None),
                        );
                    }
                } else {
                    let adopted = keeps_right && !self.left.has_matches(&jk);
                    for (rk, r) in matches {
                        if adopted {
                            self.pending
                                .retract(JoinKey(None, Some(rk.clone())), (None, Some(r.clone())));
                        }
                        self.pending.add(
                            JoinKey(Some(change.key.clone()), Some(rk)),
                            (Some(new.clone()), Some(r)),
                        );
                    }
                }
                self.left.insert(change.key.clone(), new.clone(), jk);
            }
        }
        Ok(())
    }

    fn on_right(&mut self, input: &[Delta<RK, R>]) -> Result<(), EvalError> {
        let (keeps_left, keeps_right) = (self.kind.keeps_left(), self.kind.keeps_right());
        for change in input {
            if let Some(old) = &change.old {
                let jk = (self.right.key_of)(old)?;
                let matches = self.left.matches(&jk);
                self.right.remove(&change.key, &jk);
                if matches.is_empty() {
                    if keeps_right {
                        self.pending.retract(
                            JoinKey(None, Some(change.key.clone())),
                            (None, Some(old.clone())),
                        );
                    }
                } else {
                    let orphaned = keeps_left && !self.right.has_matches(&jk);
                    for (lk, l) in matches {
                        self.pending.retract(
                            JoinKey(Some(lk.clone()), Some(change.key.clone())),
                            (Some(l.clone()), Some(old.clone())),
                        );
                        if orphaned {
                            self.pending.add(JoinKey(Some(lk), None), (Some(l), None));
                        }
                    }
                }
            }
            if let Some(new) = &change.new {
                let jk = (self.right.key_of)(new)?;
                let matches = self.left.matches(&jk);
                if matches.is_empty() {
                    if keeps_right {
                        self.pending.add(
                            JoinKey(None, Some(change.key.clone())),
                            (None, Some(new.clone())),
                        );
                    }
                } else {
                    let adopted = keeps_left && !self.right.has_matches(&jk);
                    for (lk, l) in matches {
                        if adopted {
                            self.pending
                                .retract(JoinKey(Some(lk.clone()), None), (Some(l.clone()), None));
                        }
                        self.pending.add(
                            JoinKey(Some(lk), Some(change.key.clone())),
                            (Some(l), Some(new.clone())),
                        );
                    }
                }
                self.right.insert(change.key.clone(), new.clone(), jk);
            }
        }
        Ok(())
    }

    /// Writes the rows changed since the last checkpoint into `state/<statement>/left` and
    /// `.../right`.
    pub fn checkpoint(
        &mut self,
        txn: &WriteTransaction,
        statement: &str,
    ) -> Result<(), StoreError> {
        self.left
            .checkpoint(&mut StateStore::open(txn, &format!("{statement}/left"))?)?;
        self.right
            .checkpoint(&mut StateStore::open(txn, &format!("{statement}/right"))?)
    }

    /// Loads both sides saved by [`checkpoint`](Self::checkpoint).
    pub fn restore(&mut self, txn: &WriteTransaction, statement: &str) -> Result<(), StoreError> {
        self.left
            .restore(&StateStore::open(txn, &format!("{statement}/left"))?)?;
        self.right
            .restore(&StateStore::open(txn, &format!("{statement}/right"))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// Rows `(join key, value)` keyed by an id; a join key of -1 stands for NULL.
    type Row = (i64, i64);
    type Key = (Option<i64>,);
    type Join = HashJoin<i64, Key, Row, Key, Row>;
    type Out = BTreeMap<JoinKey<Key, Key>, Joined<Row, Row>>;
    type Changes = Vec<JoinChange<Key, Row, Key, Row>>;

    fn join_key(row: &Row) -> Result<Option<i64>, EvalError> {
        Ok((row.0 >= 0).then_some(row.0))
    }

    fn matches(l: &Row, r: &Row) -> bool {
        l.0 >= 0 && l.0 == r.0
    }

    /// Applies output changes to a materialized result, checking each retraction matches.
    fn apply(result: &mut Out, out: Changes) {
        for d in out {
            match (&d.old, result.get(&d.key)) {
                (Some(old), Some(held)) => assert_eq!(old, held, "retracts what it emitted"),
                (None, None) => {}
                (old, held) => panic!("{:?}: old {old:?}, held {held:?}", d.key),
            }
            match d.new {
                Some(new) => result.insert(d.key, new),
                None => result.remove(&d.key),
            };
        }
    }

    /// The join recomputed from scratch, as SQL defines it.
    fn expected(kind: JoinKind, left: &BTreeMap<Key, Row>, right: &BTreeMap<Key, Row>) -> Out {
        let mut out = Out::new();
        for (lk, l) in left {
            let mut matched = false;
            for (rk, r) in right {
                if matches(l, r) {
                    matched = true;
                    out.insert(JoinKey(Some(*lk), Some(*rk)), (Some(*l), Some(*r)));
                }
            }
            if !matched && kind.keeps_left() {
                out.insert(JoinKey(Some(*lk), None), (Some(*l), None));
            }
        }
        if kind.keeps_right() {
            for (rk, r) in right {
                let matched = left.values().any(|l| matches(l, r));
                if !matched {
                    out.insert(JoinKey(None, Some(*rk)), (None, Some(*r)));
                }
            }
        }
        out
    }

    /// A random batch of inserts, updates (sometimes of the join key) and deletes of one side.
    fn batch(rng: &mut StdRng, rows: &mut BTreeMap<Key, Row>) -> Vec<Delta<Key, Row>> {
        let mut changes = Vec::new();
        for _ in 0..rng.random_range(1..6) {
            let key = (Some(rng.random_range(0..12)),);
            let row = (rng.random_range(-1..4), rng.random_range(0..3));
            let delta = match (rows.get(&key).copied(), rng.random_range(0..3)) {
                (None, _) => Delta::insert(key, row),
                (Some(old), 0) => Delta::delete(key, old),
                (Some(old), _) => Delta {
                    key,
                    old: Some(old),
                    new: Some(row),
                },
            };
            match delta.new {
                Some(new) => rows.insert(key, new),
                None => rows.remove(&key),
            };
            changes.push(delta);
        }
        changes
    }

    #[test]
    fn every_kind_equals_the_join_recomputed_after_random_changes() {
        for kind in [
            JoinKind::Inner,
            JoinKind::Left,
            JoinKind::Right,
            JoinKind::Full,
        ] {
            let mut rng = StdRng::seed_from_u64(7);
            let mut join: Join = HashJoin::new(kind, join_key, join_key);
            let (mut left, mut right, mut result) = (BTreeMap::new(), BTreeMap::new(), Out::new());
            for step in 0..400 {
                let mut out = Vec::new();
                match rng.random_range(0..3) {
                    0 => join.apply(&batch(&mut rng, &mut left), &[], &mut out),
                    1 => join.apply(&[], &batch(&mut rng, &mut right), &mut out),
                    _ => {
                        let l = batch(&mut rng, &mut left);
                        join.apply(&l, &batch(&mut rng, &mut right), &mut out)
                    }
                }
                .unwrap();
                let keys: FastSet<_> = out.iter().map(|d| d.key.clone()).collect();
                assert_eq!(
                    keys.len(),
                    out.len(),
                    "{kind:?}: one change per key per batch"
                );
                apply(&mut result, out);
                assert_eq!(
                    result,
                    expected(kind, &left, &right),
                    "{kind:?} after step {step}"
                );
            }
        }
    }

    #[test]
    fn a_self_join_batch_on_both_sides_is_exact() {
        let mut join: Join = HashJoin::new(JoinKind::Full, join_key, join_key);
        let mut rng = StdRng::seed_from_u64(11);
        let (mut rows, mut result) = (BTreeMap::new(), Out::new());
        for _ in 0..200 {
            let changes = batch(&mut rng, &mut rows);
            let mut out = Vec::new();
            join.apply(&changes, &changes, &mut out).unwrap();
            let keys: FastSet<_> = out.iter().map(|d| d.key.clone()).collect();
            assert_eq!(keys.len(), out.len(), "one change per key per batch");
            apply(&mut result, out);
            assert_eq!(result, expected(JoinKind::Full, &rows, &rows));
        }
    }

    #[test]
    fn state_survives_a_checkpoint_and_restore() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::cache::Store::open(&dir.path().join("j.redb")).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let mut join: Join = HashJoin::new(JoinKind::Left, join_key, join_key);
        let (mut left, mut right, mut result) = (BTreeMap::new(), BTreeMap::new(), Out::new());
        for round in 0..30 {
            let mut out = Vec::new();
            let l = batch(&mut rng, &mut left);
            join.apply(&l, &batch(&mut rng, &mut right), &mut out)
                .unwrap();
            apply(&mut result, out);
            let txn = store.begin_write().unwrap();
            join.checkpoint(&txn, "j").unwrap();
            txn.commit().unwrap();
            if round % 7 == 6 {
                let txn = store.begin_write().unwrap();
                join = HashJoin::new(JoinKind::Left, join_key, join_key);
                join.restore(&txn, "j").unwrap();
                txn.abort().unwrap();
            }
            assert_eq!(result, expected(JoinKind::Left, &left, &right));
        }
    }
}
