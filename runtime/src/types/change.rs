//! The change model: every table is keyed, and a change replaces the row under one key.

/// The net change of one key within one batch: `old` is the row before, `new` the row after.
///
/// `old: None` is an insert, `new: None` a delete, both `Some` an update. Operators emit at most
/// one `Delta` per key per batch, so downstream work is proportional to what changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Delta<K, T> {
    pub key: K,
    pub old: Option<T>,
    pub new: Option<T>,
}

impl<K, T> Delta<K, T> {
    pub fn insert(key: K, row: T) -> Self {
        Delta {
            key,
            old: None,
            new: Some(row),
        }
    }

    pub fn delete(key: K, row: T) -> Self {
        Delta {
            key,
            old: Some(row),
            new: None,
        }
    }

    /// The rows of this change with their weights: the old row retracted (-1), the new one added (+1).
    pub fn weighted(&self) -> impl Iterator<Item = (&T, i64)> {
        self.old
            .iter()
            .map(|row| (row, -1))
            .chain(self.new.iter().map(|row| (row, 1)))
    }
}
