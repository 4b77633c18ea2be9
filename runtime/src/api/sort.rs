//! Ordering results by `$order_by` while keeping memory bounded by the page, not the table.

use super::query::Query;
use crate::types::{Record, Value};
use std::cmp::Ordering;

/// Collects the first `keep` rows in `$order_by` order from rows visited in primary key order,
/// holding O(`keep`) rows instead of the whole table. Each row's arrival number breaks ties, so
/// the order is total: unstable sorts give exactly the stable result (ties in key order).
pub struct TopRows<'q, T> {
    query: &'q Query,
    keep: usize,
    rows: Vec<(Vec<Value>, u64, T)>,
    seen: u64,
}

impl<'q, T: Record> TopRows<'q, T> {
    pub fn new(query: &'q Query, keep: usize) -> Self {
        TopRows {
            query,
            keep,
            rows: Vec::new(),
            seen: 0,
        }
    }

    pub fn push(&mut self, row: T) {
        if self.keep == 0 {
            return;
        }
        self.rows.push((self.query.sort_key(&row), self.seen, row));
        self.seen += 1;
        // Prune to `keep` once twice as many are held: amortised O(1) per row.
        if self.rows.len() >= self.keep.saturating_mul(2).max(64) {
            let query = self.query;
            self.rows
                .select_nth_unstable_by(self.keep - 1, |a, b| cmp_entry(query, a, b));
            self.rows.truncate(self.keep);
        }
    }

    /// The kept rows, sorted.
    pub fn into_sorted(mut self) -> Vec<T> {
        let query = self.query;
        self.rows.sort_unstable_by(|a, b| cmp_entry(query, a, b));
        self.rows.truncate(self.keep);
        self.rows.into_iter().map(|(_, _, row)| row).collect()
    }
}

fn cmp_entry<T>(query: &Query, a: &(Vec<Value>, u64, T), b: &(Vec<Value>, u64, T)) -> Ordering {
    query.cmp_keys(&a.0, &b.0).then(a.1.cmp(&b.1))
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
        rows.into_iter().for_each(|r| top.push(r));
        top.into_sorted().into_iter().map(|r| r.n).collect()
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
