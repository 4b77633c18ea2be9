//! How far a Postgres connection has been applied, shared by its reader task, the driver and
//! the API (which reports it and lets requests wait for it: read-your-writes).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// Positions (LSNs) of one Postgres connection. Both only move forward.
#[derive(Debug, Default)]
pub struct LsnProgress {
    /// The end of the last source transaction durably committed to the cache: the replication
    /// slot may be acknowledged up to here.
    committed: AtomicU64,
    /// Every change of the source up to here is visible in the cache: `committed`, or further
    /// when the server reported a later position with nothing of ours in between.
    applied: AtomicU64,
    changed: Notify,
    /// The server's WAL position as last reported to the reader (for the lag metrics).
    received: AtomicU64,
    /// Transactions received and not committed here yet: end LSN and commit time (µs since the
    /// epoch), oldest first.
    unapplied: Mutex<VecDeque<(u64, i64)>>,
}

impl LsnProgress {
    pub fn new(committed: u64) -> Self {
        LsnProgress {
            committed: AtomicU64::new(committed),
            applied: AtomicU64::new(committed),
            changed: Notify::new(),
            received: AtomicU64::new(committed),
            unapplied: Mutex::new(VecDeque::new()),
        }
    }

    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// After the cache commit of a source transaction ending at `lsn`.
    pub fn set_committed(&self, lsn: u64) {
        self.committed.fetch_max(lsn, Ordering::SeqCst);
        self.set_applied(lsn);
        let mut unapplied = self.unapplied.lock().unwrap_or_else(|e| e.into_inner());
        while unapplied.front().is_some_and(|&(end, _)| end <= lsn) {
            unapplied.pop_front();
        }
    }

    /// The server reported its WAL position `lsn`.
    pub fn set_received(&self, lsn: u64) {
        self.received.fetch_max(lsn, Ordering::Relaxed);
    }

    /// A transaction ending at `end`, committed upstream at `time_us`, was received.
    pub fn received_commit(&self, end: u64, time_us: i64) {
        self.set_received(end);
        let mut unapplied = self.unapplied.lock().unwrap_or_else(|e| e.into_inner());
        unapplied.push_back((end, time_us));
    }

    /// How far behind the server the cache is: WAL bytes received and not applied, and the age
    /// (seconds at `now_us`) of the oldest transaction received and not committed here.
    pub fn lag(&self, now_us: i64) -> (u64, f64) {
        let bytes = self
            .received
            .load(Ordering::Relaxed)
            .saturating_sub(self.applied());
        let unapplied = self.unapplied.lock().unwrap_or_else(|e| e.into_inner());
        let seconds = unapplied
            .front()
            .map_or(0.0, |&(_, time)| (now_us - time).max(0) as f64 / 1e6);
        (bytes, seconds)
    }

    /// Nothing of the source lies between the last commit and `lsn`.
    pub fn set_applied(&self, lsn: u64) {
        if self.applied.fetch_max(lsn, Ordering::SeqCst) < lsn {
            self.changed.notify_waiters();
        }
    }

    /// Returns once `applied() >= lsn`.
    pub async fn wait_applied(&self, lsn: u64) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change between the check and the await wakes us.
            changed.as_mut().enable();
            if self.applied() >= lsn {
                return;
            }
            changed.await;
        }
    }
}

/// Formats an LSN the way Postgres does (`16/B374D848`).
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xffff_ffff)
}

/// Parses Postgres' LSN notation (`16/B374D848`).
pub fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.trim().split_once('/')?;
    let valid = |p: &str| !p.is_empty() && p.len() <= 8;
    if !valid(hi) || !valid(lo) {
        return None;
    }
    let hi = u32::from_str_radix(hi, 16).ok()?;
    let lo = u32::from_str_radix(lo, 16).ok()?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn lsn_round_trip() {
        for lsn in [0, 1, 0x16_B374_D848, u64::MAX] {
            assert_eq!(parse_lsn(&format_lsn(lsn)), Some(lsn));
        }
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("0/2AFC3998"), Some(0x2AFC_3998));
        for bad in ["", "1", "/1", "1/", "x/1", "1/123456789", "-1/2"] {
            assert_eq!(parse_lsn(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn waiters_wake_when_the_position_passes_theirs() {
        let progress = Arc::new(LsnProgress::new(10));
        progress.wait_applied(5).await; // already there
        let waiter = tokio::spawn({
            let progress = progress.clone();
            async move { progress.wait_applied(30).await }
        });
        progress.set_committed(20);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "20 < 30: still waiting");
        progress.set_applied(30);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .unwrap();
        assert_eq!((progress.committed(), progress.applied()), (20, 30));
        progress.set_committed(25);
        assert_eq!(progress.applied(), 30, "never moves back");
    }

    #[test]
    fn lag_is_what_was_received_and_not_committed() {
        let progress = LsnProgress::new(10);
        assert_eq!(progress.lag(5_000_000), (0, 0.0));
        progress.received_commit(40, 1_000_000);
        progress.received_commit(60, 2_000_000);
        progress.set_received(70);
        assert_eq!(progress.lag(5_000_000), (60, 4.0));
        progress.set_committed(40);
        assert_eq!(progress.lag(5_000_000), (30, 3.0));
        progress.set_committed(60);
        progress.set_applied(70);
        assert_eq!(progress.lag(5_000_000), (0, 0.0));
    }
}
