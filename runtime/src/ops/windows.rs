//! Which time windows a row falls in (GUIDE §2). `TUMBLE` is `HOP` with the hop equal to the
//! size. Windows are aligned to multiples of the hop since the Unix epoch; a row without a time
//! is in no window.

use crate::types::Timestamp;

/// `(window_start, window_end)` as the column values generated code uses.
pub type Bounds = (Option<Timestamp>, Option<Timestamp>);

/// The tumbling window of size `size_us` (microseconds) holding `time`.
pub fn tumble(time: Option<Timestamp>, size_us: i64) -> impl Iterator<Item = Bounds> {
    hop(time, size_us, size_us)
}

/// Every window `[s, s + size)` with `s` a multiple of `hop_us` that holds `time`, earliest
/// first. The compiler guarantees `hop_us` divides `size_us`, so there are `size / hop`.
pub fn hop(time: Option<Timestamp>, hop_us: i64, size_us: i64) -> impl Iterator<Item = Bounds> {
    let latest = time.map(|t| t.timestamp_micros().div_euclid(hop_us) * hop_us);
    let count = size_us / hop_us;
    latest.into_iter().flat_map(move |latest| {
        (0..count).rev().map(move |k| {
            let start = latest - k * hop_us;
            (micros(start), micros(start + size_us))
        })
    })
}

/// Durations in microseconds, as generated code spells window sizes (`windows::hours(6)`).
pub const fn milliseconds(n: i64) -> i64 {
    n * 1_000
}
pub const fn seconds(n: i64) -> i64 {
    n * 1_000_000
}
pub const fn minutes(n: i64) -> i64 {
    n * 60_000_000
}
pub const fn hours(n: i64) -> i64 {
    n * 3_600_000_000
}
pub const fn days(n: i64) -> i64 {
    n * 86_400_000_000
}

fn micros(us: i64) -> Option<Timestamp> {
    Timestamp::from_timestamp_micros(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<Timestamp> {
        Some(s.parse().unwrap())
    }

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn tumbling_windows_truncate_to_the_size_since_the_epoch() {
        let windows: Vec<_> = tumble(at("2011-03-04T10:30:00Z"), 24 * HOUR).collect();
        assert_eq!(
            windows,
            [(at("2011-03-04T00:00:00Z"), at("2011-03-05T00:00:00Z"))]
        );
        // A window's start belongs to it, its end to the next.
        let windows: Vec<_> = tumble(at("2011-03-05T00:00:00Z"), 24 * HOUR).collect();
        assert_eq!(windows[0].0, at("2011-03-05T00:00:00Z"));
        // Before the epoch too.
        let windows: Vec<_> = tumble(at("1969-12-31T23:00:00Z"), 24 * HOUR).collect();
        assert_eq!(windows[0].0, at("1969-12-31T00:00:00Z"));
        assert_eq!(tumble(None, HOUR).count(), 0, "no time, no window");
    }

    #[test]
    fn hopping_windows_are_every_window_holding_the_time() {
        let windows: Vec<_> = hop(at("2011-03-04T10:30:00Z"), 6 * HOUR, 24 * HOUR).collect();
        assert_eq!(
            windows,
            [
                (at("2011-03-03T12:00:00Z"), at("2011-03-04T12:00:00Z")),
                (at("2011-03-03T18:00:00Z"), at("2011-03-04T18:00:00Z")),
                (at("2011-03-04T00:00:00Z"), at("2011-03-05T00:00:00Z")),
                (at("2011-03-04T06:00:00Z"), at("2011-03-05T06:00:00Z")),
            ]
        );
    }
}
