//! `TTL(rel, ts, duration)`: event-time expiry (GUIDE §2).
//!
//! The watermark of a TTL'd relation is the highest `ts` its source has delivered. It advances
//! only when a source transaction ends (a snapshot or a file counts as one), so the order of
//! rows inside a transaction never matters. A row with `ts <= watermark - duration` has
//! expired: a change that retracts such a row, or adds one, is late and dropped.

use crate::cache::{StateStore, StoreError};
use crate::metrics;
use crate::types::Timestamp;
use redb::WriteTransaction;

/// The watermark of one TTL'd statement, with its count of late changes.
#[derive(Debug)]
pub struct Watermark {
    statement: &'static str,
    ttl_us: i64,
    /// The highest event time (µs) of every committed transaction.
    committed: Option<i64>,
    /// The highest event time (µs) of the transaction being applied.
    pending: Option<i64>,
    /// Late changes dropped since the pipeline's first start (checkpointed).
    late_total: u64,
    /// Late changes of the transaction being applied (logged when it ends).
    late_in_txn: u64,
    dirty: bool,
}

/// The expiry time of a row whose TTL column is NULL: it never expires.
pub const NEVER: i64 = i64::MAX;

/// A row's TTL time as the expiry index orders it.
pub fn expiry_time(time: Option<Timestamp>) -> i64 {
    time.map_or(NEVER, |t| t.timestamp_micros())
}

impl Watermark {
    pub fn new(statement: &'static str, ttl_us: i64) -> Self {
        Watermark {
            statement,
            ttl_us,
            committed: None,
            pending: None,
            late_total: 0,
            late_in_txn: 0,
            dirty: false,
        }
    }

    /// Rows at or before this time (µs) have expired.
    pub fn cutoff(&self) -> Option<i64> {
        self.committed.map(|w| w.saturating_sub(self.ttl_us))
    }

    fn has_expired(&self, time: Option<Timestamp>) -> bool {
        match self.cutoff() {
            Some(cutoff) => expiry_time(time) <= cutoff,
            None => false,
        }
    }

    /// Splits one source change into the halves that are not late: an expired `old` row is no
    /// longer held anywhere, and an expired `new` row must not enter. Each dropped half counts as
    /// one late change. Observes the event time of `new` for the next watermark.
    pub fn admit<'a, T>(
        &mut self,
        old: Option<&'a T>,
        new: Option<&'a T>,
        time: impl Fn(&T) -> Option<Timestamp>,
    ) -> (Option<&'a T>, Option<&'a T>) {
        let old = match old {
            Some(row) if self.has_expired(time(row)) => {
                self.late_in_txn += 1;
                None
            }
            other => other,
        };
        let new = match new {
            Some(row) => {
                let t = time(row);
                if self.has_expired(t) {
                    self.late_in_txn += 1;
                    None
                } else {
                    if let Some(t) = t {
                        let t = t.timestamp_micros();
                        self.pending = Some(self.pending.map_or(t, |p| p.max(t)));
                    }
                    Some(row)
                }
            }
            None => None,
        };
        (old, new)
    }

    /// Ends a source transaction: the watermark takes in its event times. Returns the new cutoff
    /// when it moved (then rows at or before it must be evicted), and logs dropped late changes.
    pub fn advance(&mut self) -> Option<i64> {
        if self.late_in_txn > 0 {
            self.late_total += self.late_in_txn;
            self.dirty = true;
            metrics::set_late_changes(self.statement, self.late_total);
            tracing::warn!(
                statement = self.statement,
                late = self.late_in_txn,
                total = self.late_total,
                watermark = %self.describe(),
                "dropped late changes: their rows are older than the TTL allows"
            );
            self.late_in_txn = 0;
        }
        let pending = self.pending.take()?;
        if self.committed.is_some_and(|c| c >= pending) {
            return None;
        }
        self.committed = Some(pending);
        self.dirty = true;
        self.cutoff()
    }

    fn describe(&self) -> String {
        self.committed
            .and_then(Timestamp::from_timestamp_micros)
            .map_or_else(|| "none".to_string(), |t| t.to_rfc3339())
    }

    fn table(statement: &str) -> String {
        format!("{statement}/watermark")
    }

    pub fn checkpoint(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        if std::mem::take(&mut self.dirty) {
            StateStore::open(txn, &Self::table(self.statement))?
                .put(&(), &(self.committed, self.late_total))?;
        }
        Ok(())
    }

    pub fn restore(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
        let saved = StateStore::open(txn, &Self::table(self.statement))?
            .load_all::<(), (Option<i64>, u64)>()?;
        let (committed, late_total) = saved.into_iter().next().map_or((None, 0), |(_, v)| v);
        self.committed = committed;
        self.late_total = late_total;
        self.pending = None;
        self.late_in_txn = 0;
        self.dirty = false;
        metrics::set_late_changes(self.statement, late_total);
        Ok(())
    }
}

/// The rows of a change with their weights, as [`Delta::weighted`](crate::types::Delta) gives
/// them, for the halves [`Watermark::admit`] let through.
pub fn weighted<'a, T>(
    old: Option<&'a T>,
    new: Option<&'a T>,
) -> impl Iterator<Item = (&'a T, i64)> {
    old.map(|r| (r, -1)).into_iter().chain(new.map(|r| (r, 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;

    fn at(day: i64) -> Option<Timestamp> {
        Timestamp::from_timestamp_micros(day * DAY)
    }

    #[test]
    fn the_watermark_moves_only_when_a_transaction_ends() {
        let mut w = Watermark::new("t", DAY);
        let (rows, early) = ([at(10), at(3)], at(1));
        for row in &rows {
            assert!(w.admit(None, Some(row), |r| *r).1.is_some());
        }
        // Inside the transaction nothing has expired yet, whatever the order of its rows.
        assert!(w.admit(None, Some(&early), |r| *r).1.is_some());
        assert_eq!(
            w.advance(),
            Some(9 * DAY),
            "watermark 10 days, cutoff a day before"
        );
        // Now day 9 and earlier are late, in both halves of a change.
        let (d2, d9, d10, d12, null) = (at(2), at(9), at(10), at(12), None);
        assert_eq!(w.admit(Some(&d9), Some(&d12), |r| *r), (None, Some(&d12)));
        assert_eq!(w.admit(Some(&d10), Some(&d2), |r| *r), (Some(&d10), None));
        assert!(
            w.admit(None, Some(&null), |r| *r).1.is_some(),
            "NULL never expires"
        );
        assert_eq!(w.advance(), Some(11 * DAY));
        assert_eq!(w.late_total, 2);
        assert_eq!(w.advance(), None, "an empty transaction moves nothing");
    }
}
