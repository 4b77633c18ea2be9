//! Ordering results by `$order_by` while keeping memory bounded by the page, not the table.

use super::query::Query;
use crate::types::{Record, Value};
use std::cmp::Ordering;

/// Collects the first `keep` rows in `$order_by` order, then primary key byte order, holding
/// O(`keep`) rows instead of the whole table. The order is total (primary keys are unique),
/// so unstable sorts give exactly the stable result, whatever order rows arrive in: a full
/// scan (key order) and an index range scan (index order) keep the same rows.
pub struct TopRows<'q, T> {
    query: &'q Query,
    keep: usize,
    rows: Vec<Entry<T>>,
}

/// A row with its sort values and primary key bytes.
type Entry<T> = (Vec<Value>, Vec<u8>, T);

impl<'q, T: Record> TopRows<'q, T> {
    pub fn new(query: &'q Query, keep: usize) -> Self {
        TopRows {
            query,
            keep,
            rows: Vec::new(),
        }
    }

    /// Offers `row`, stored under primary key bytes `key`.
    pub fn push(&mut self, key: &[u8], row: T) {
        if self.keep == 0 {
            return;
        }
        self.rows
            .push((self.query.sort_key(&row), key.to_vec(), row));
        // Prune to `keep` once twice as many are held: amortised O(1) per row.
        if self.rows.len() >= self.keep.saturating_mul(2).max(64) {
            let query = self.query;
            self.rows
                .select_nth_unstable_by(self.keep - 1, |a, b| cmp_entry(query, a, b));
            self.rows.truncate(self.keep);
        }
    }

    /// The kept rows with their primary key bytes, sorted.
    pub fn into_sorted(mut self) -> Vec<(Vec<u8>, T)> {
        let query = self.query;
        self.rows.sort_unstable_by(|a, b| cmp_entry(query, a, b));
        self.rows.truncate(self.keep);
        self.rows
            .into_iter()
            .map(|(_, key, row)| (key, row))
            .collect()
    }
}

fn cmp_entry<T>(query: &Query, a: &Entry<T>, b: &Entry<T>) -> Ordering {
    query.cmp_keys(&a.0, &b.0).then_with(|| a.1.cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{row, Row};
    use super::*;
    use serde_json::{json, Value as Json};

    fn parse(json: Json) -> Query {
        Query::parse(&json, Row::FIELDS).unwrap()
    }

    fn sorted(query: Json, rows: Vec<Row>, keep: usize) -> Vec<i64> {
        let q = parse(query);
        let mut top = TopRows::new(&q, keep);
        for (i, r) in rows.into_iter().enumerate() {
            top.push(&(i as u64).to_be_bytes(), r);
        }
        top.into_sorted().into_iter().map(|(_, r)| r.n).collect()
    }

    #[test]
    fn sorts_with_nulls_last_ascending_and_ties_in_key_order() {
        let rows = vec![
            row(Some("UK"), 10, 1),
            row(None, 5, 2),
            row(Some("France"), 10, 3),
            row(Some("UK"), 7, 4),
        ];
        assert_eq!(
            sorted(json!({"$order_by": {"Country": "asc"}}), rows.clone(), 10),
            [3, 1, 4, 2]
        );
        assert_eq!(
            sorted(json!({"$order_by": {"Country": "desc"}}), rows.clone(), 10),
            [2, 1, 4, 3]
        );
        assert_eq!(
            sorted(
                json!({"$order_by": {"Country": "desc", "Total": "asc"}}),
                rows.clone(),
                10
            ),
            [2, 4, 1, 3]
        );
        assert_eq!(
            sorted(json!({"$order_by": {"Total": "desc"}}), rows.clone(), 2),
            [1, 3]
        );
        assert_eq!(
            sorted(json!({"$order_by": {"Total": "desc"}}), rows, 0),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn top_rows_prunes_without_changing_the_result() {
        // Many ties on `Total`: the result must be the stable sort, whatever pruning happened.
        let rows: Vec<Row> = (0..1000)
            .map(|i| row(Some("X"), (i * 7919) % 13, i))
            .collect();
        let q = parse(json!({"$order_by": {"Total": "desc"}}));
        let mut all = rows.clone();
        all.sort_by(|a, b| q.cmp_keys(&q.sort_key(a), &q.sort_key(b)));
        let expected: Vec<i64> = all.iter().take(40).map(|r| r.n).collect();
        assert_eq!(
            sorted(json!({"$order_by": {"Total": "desc"}}), rows, 40),
            expected
        );
    }
}
