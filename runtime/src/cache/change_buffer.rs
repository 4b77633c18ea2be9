//! `ChangeBuffer`: the changes of one result table within one source transaction, held until
//! the transaction commits and then written to its endpoints once.
//!
//! Operators emit one net change per key per batch, but a transaction arrives in many batches
//! (chunks of a file, parts of a Postgres transaction), and a group touched by every batch would
//! otherwise be written, re-indexed and staged as an event once per batch. Buffering makes cache
//! writes proportional to the keys a transaction changed, not to its batches.

use crate::ops::FastMap;
use crate::types::{Delta, TableKey};

/// What one key went through since the last drain.
enum Net<T> {
    /// Changes that continue each other (each one's `old` is the previous one's `new`): the
    /// first `old` and the last `new` are the whole story.
    Chain { old: Option<T>, new: Option<T> },
    /// Changes that do not chain, kept in order: a deferred primary key swapped inside one
    /// Postgres transaction can insert a key before the delete of the row that held it, and
    /// the cache table resolves that only when applied in order.
    Log(Vec<(Option<T>, Option<T>)>),
}

pub struct ChangeBuffer<K, T> {
    changes: FastMap<K, Net<T>>,
}

impl<K, T> Default for ChangeBuffer<K, T> {
    fn default() -> Self {
        ChangeBuffer {
            changes: FastMap::default(),
        }
    }
}

impl<K: TableKey, T: PartialEq> ChangeBuffer<K, T> {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Adds one batch of changes, in order.
    pub fn extend(&mut self, changes: Vec<Delta<K, T>>) {
        for Delta { key, old, new } in changes {
            match self.changes.get_mut(&key) {
                None => {
                    self.changes.insert(key, Net::Chain { old, new });
                }
                Some(Net::Chain { new: last, .. }) if *last == old => *last = new,
                Some(net @ Net::Chain { .. }) => {
                    let Net::Chain {
                        old: first,
                        new: last,
                    } = std::mem::replace(net, Net::Log(Vec::new()))
                    else {
                        unreachable!("matched a chain")
                    };
                    *net = Net::Log(vec![(first, last), (old, new)]);
                }
                Some(Net::Log(log)) => log.push((old, new)),
            }
        }
    }

    /// Every buffered change, one per key where they chain (none where a key came back to its
    /// first row), and empties the buffer. Keys come in no particular order; each key's changes
    /// stay in order.
    pub fn drain(&mut self) -> Vec<Delta<K, T>> {
        let mut out = Vec::with_capacity(self.changes.len());
        for (key, net) in self.changes.drain() {
            match net {
                Net::Chain { old, new } => {
                    if old != new {
                        out.push(Delta { key, old, new });
                    }
                }
                Net::Log(log) => out.extend(log.into_iter().map(|(old, new)| Delta {
                    key: key.clone(),
                    old,
                    new,
                })),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Buffer = ChangeBuffer<(i64,), &'static str>;

    fn sorted(mut changes: Vec<Delta<(i64,), &'static str>>) -> Vec<Delta<(i64,), &'static str>> {
        changes.sort_by_key(|d| d.key);
        changes
    }

    #[test]
    fn chained_changes_net_out_per_key() {
        let mut buffer = Buffer::default();
        buffer.extend(vec![
            Delta::insert((1,), "a"),
            Delta {
                key: (2,),
                old: Some("x"),
                new: Some("y"),
            },
            Delta {
                key: (3,),
                old: Some("p"),
                new: Some("q"),
            },
        ]);
        buffer.extend(vec![
            Delta {
                key: (1,),
                old: Some("a"),
                new: Some("b"),
            },
            Delta::delete((2,), "y"),
            Delta {
                key: (3,),
                old: Some("q"),
                new: Some("p"),
            },
        ]);
        assert_eq!(
            sorted(buffer.drain()),
            [Delta::insert((1,), "b"), Delta::delete((2,), "x")],
            "key 3 came back to where it started: no change"
        );
        assert!(buffer.is_empty());
    }

    #[test]
    fn changes_that_do_not_chain_stay_in_order() {
        // A deferred key swap: key 2 receives row `one` before row `two` leaves it.
        let mut buffer = Buffer::default();
        buffer.extend(vec![Delta::delete((1,), "one"), Delta::insert((2,), "one")]);
        buffer.extend(vec![Delta::delete((2,), "two"), Delta::insert((3,), "two")]);
        assert_eq!(
            sorted(buffer.drain()),
            [
                Delta::delete((1,), "one"),
                Delta::insert((2,), "one"),
                Delta::delete((2,), "two"),
                Delta::insert((3,), "two"),
            ]
        );
    }
}
