//! Choosing how a query reads an endpoint: a primary key scan, a full scan with a bounded sort,
//! or a secondary index (a range scan for the filter, or an ordered scan that serves
//! `$order_by` and stops once the page is full).
//!
//! Plans only narrow what is read: every row read is still checked with the whole `$filter`,
//! so a plan is correct as long as its ranges hold every matching row.

use super::filter::{CmpOp, Filter};
use super::query::Query;
use crate::cache::index_key::{encode_value, prefix_end, NOT_NULL, NULL};
use crate::types::Value;
use std::collections::HashMap;

/// A half-open range of index keys `[lower, upper)`; `upper` `None`: unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub lower: Vec<u8>,
    pub upper: Option<Vec<u8>>,
}

impl KeyRange {
    /// Every key starting with `prefix`.
    pub fn prefixed(prefix: Vec<u8>) -> KeyRange {
        KeyRange {
            upper: prefix_end(&prefix),
            lower: prefix,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.upper.as_ref().is_some_and(|u| *u <= self.lower)
    }

    /// Raises the lower bound to `lower` if that is higher.
    pub fn raise(&mut self, lower: Vec<u8>) {
        if lower > self.lower {
            self.lower = lower;
        }
    }

    /// Lowers the upper bound to `upper` if that is lower.
    pub fn cap(&mut self, upper: Option<Vec<u8>>) {
        if let Some(upper) = upper {
            if self.upper.as_ref().is_none_or(|u| upper < *u) {
                self.upper = Some(upper);
            }
        }
    }
}

/// How a query reads the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Rows in primary key order, stopping at the page's end (no `$order_by`, no usable index).
    KeyOrder,
    /// Every row, kept in a bounded top-N by `$order_by` then primary key.
    FullSort,
    /// The entries of `index` in `ranges` (each matching row in one of them), rows kept in a
    /// bounded top-N by `$order_by` (or primary key).
    IndexFilter { index: usize, ranges: Vec<KeyRange> },
    /// The entries of `index` in `range`, in index order (reversed for a descending
    /// `$order_by`), which is the query's order: the first `$skip + $limit` matches are the
    /// page. `prefix` is the index key part fixed by equalities; the rest of each key is the
    /// sort values and the primary key.
    IndexOrder {
        index: usize,
        prefix: Vec<u8>,
        range: KeyRange,
        descending: bool,
    },
}

impl Plan {
    /// The secondary index the plan reads, if any.
    pub fn index(&self) -> Option<usize> {
        match self {
            Plan::KeyOrder | Plan::FullSort => None,
            Plan::IndexFilter { index, .. } | Plan::IndexOrder { index, .. } => Some(*index),
        }
    }
}

/// The top-level conjuncts of a filter that an index can use, by column.
#[derive(Default)]
struct Conditions {
    /// `column = value` (`$eq: null`, IS NULL, included).
    equal: HashMap<usize, Value>,
    /// `column IN (values)`, NULLs removed (they never match).
    any_of: HashMap<usize, Vec<Value>>,
    /// Comparisons `$lt/$lte/$gt/$gte` with a non-NULL value.
    ranges: HashMap<usize, Vec<(CmpOp, Value)>>,
}

impl Conditions {
    fn of(filter: Option<&Filter>) -> Conditions {
        let mut c = Conditions::default();
        if let Some(filter) = filter {
            c.add(filter);
        }
        c
    }

    fn add(&mut self, filter: &Filter) {
        match filter {
            Filter::And(parts) => parts.iter().for_each(|p| self.add(p)),
            Filter::Compare { field, op, value } => match op {
                CmpOp::Eq => {
                    self.equal.entry(*field).or_insert_with(|| value.clone());
                }
                CmpOp::Lt | CmpOp::Lte | CmpOp::Gt | CmpOp::Gte if !value.is_null() => {
                    self.ranges
                        .entry(*field)
                        .or_default()
                        .push((*op, value.clone()));
                }
                _ => {}
            },
            Filter::In { field, values } => {
                let values: Vec<Value> = values.iter().filter(|v| !v.is_null()).cloned().collect();
                self.any_of.entry(*field).or_insert(values);
            }
            Filter::Or(_) => {}
        }
    }

    /// The range of keys after `prefix` allowed by the comparisons on `column`; `None` if
    /// there are none.
    fn range_after(&self, prefix: &[u8], column: usize) -> Option<KeyRange> {
        let comparisons = self.ranges.get(&column)?;
        let at = |tag: u8| {
            let mut key = prefix.to_vec();
            key.push(tag);
            key
        };
        // Non-NULL values only: a comparison never matches NULL.
        let mut range = KeyRange {
            lower: at(NOT_NULL),
            upper: Some(at(NULL)),
        };
        for (op, value) in comparisons {
            let mut key = prefix.to_vec();
            if encode_value(value, &mut key).is_err() {
                continue;
            }
            match op {
                CmpOp::Gte => range.raise(key),
                CmpOp::Gt => match prefix_end(&key) {
                    Some(end) => range.raise(end),
                    None => range.cap(Some(key)),
                },
                CmpOp::Lt => range.cap(Some(key)),
                CmpOp::Lte => range.cap(prefix_end(&key)),
                _ => {}
            }
        }
        Some(range)
    }
}

/// At most this many ranges from `$in` lists: beyond, a scan is cheaper than the seeks.
const MAX_RANGES: usize = 1024;

/// Chooses the plan of `query` over an endpoint with `indexes` (column numbers per index).
pub fn choose(query: &Query, indexes: &[&[usize]]) -> Plan {
    let conditions = Conditions::of(query.filter.as_ref());
    let filter = indexes
        .iter()
        .enumerate()
        .filter_map(|(i, columns)| filter_ranges(&conditions, columns).map(|(s, r)| (s, i, r)))
        .max_by_key(|(score, i, _)| (*score, std::cmp::Reverse(*i)));
    let order = if query.order_by.is_empty() {
        None
    } else {
        indexes
            .iter()
            .enumerate()
            .filter_map(|(i, columns)| order_scan(query, &conditions, i, columns))
            .max_by_key(|(score, index, _)| (*score, std::cmp::Reverse(*index)))
    };
    // An ordered scan stops at the page's end, but reads rows outside the filter until then:
    // prefer it unless another index narrows the filter more (pins more columns, or as many
    // and ranges the next one).
    match (order, filter) {
        (Some((score, _, plan)), filter) if filter.as_ref().is_none_or(|f| score >= f.0) => plan,
        (_, Some((_, index, ranges))) => Plan::IndexFilter { index, ranges },
        (Some((_, _, plan)), None) => plan,
        (None, None) if query.order_by.is_empty() => Plan::KeyOrder,
        (None, None) => Plan::FullSort,
    }
}

/// The ranges of index `columns` holding every row the conditions allow, and how well they
/// narrow: (columns pinned by `=`/`$in`, whether the next has a range). `None` if the index
/// does not help.
fn filter_ranges(c: &Conditions, columns: &[usize]) -> Option<((usize, bool), Vec<KeyRange>)> {
    let mut prefixes = vec![Vec::new()];
    let mut pinned = 0;
    for column in columns {
        let values: Vec<&Value> = if let Some(v) = c.equal.get(column) {
            vec![v]
        } else if let Some(vs) = c.any_of.get(column) {
            vs.iter().collect()
        } else {
            break;
        };
        if prefixes.len() * values.len().max(1) > MAX_RANGES {
            break;
        }
        let mut next = Vec::with_capacity(prefixes.len() * values.len());
        for prefix in &prefixes {
            for value in &values {
                let mut key = prefix.clone();
                if encode_value(value, &mut key).is_err() {
                    return None;
                }
                next.push(key);
            }
        }
        // `$in` lists may repeat a value: one range each.
        next.sort();
        next.dedup();
        prefixes = next;
        pinned += 1;
    }
    let ranged = columns
        .get(pinned)
        .is_some_and(|c2| c.ranges.contains_key(c2));
    if pinned == 0 && !ranged {
        return None;
    }
    let ranges = prefixes
        .into_iter()
        .map(|prefix| match columns.get(pinned) {
            Some(&next) if ranged => c
                .range_after(&prefix, next)
                .unwrap_or_else(|| KeyRange::prefixed(prefix)),
            _ => KeyRange::prefixed(prefix),
        })
        .filter(|r| !r.is_empty())
        .collect();
    Some(((pinned, ranged), ranges))
}

/// An ordered scan of index `index` serving `$order_by`: the index's columns are some
/// columns fixed by `=` followed by exactly the `$order_by` columns, all in one direction (so
/// that rows tying on the sort values follow primary key order, as in the index). Returns how
/// well it narrows the filter (as [`filter_ranges`] scores), the index and the plan.
fn order_scan(
    query: &Query,
    c: &Conditions,
    index: usize,
    columns: &[usize],
) -> Option<((usize, bool), usize, Plan)> {
    let descending = query.order_by[0].descending;
    if query.order_by.iter().any(|o| o.descending != descending) {
        return None;
    }
    let fixed = columns.len().checked_sub(query.order_by.len())?;
    let sorted = columns[fixed..]
        .iter()
        .zip(&query.order_by)
        .all(|(column, o)| *column == o.field);
    if !sorted {
        return None;
    }
    let mut prefix = Vec::new();
    for column in &columns[..fixed] {
        encode_value(c.equal.get(column)?, &mut prefix).ok()?;
    }
    let first = columns[fixed];
    let ranged = c.equal.contains_key(&first) || c.ranges.contains_key(&first);
    let range = match c.equal.get(&first) {
        Some(value) => {
            let mut key = prefix.clone();
            encode_value(value, &mut key).ok()?;
            KeyRange::prefixed(key)
        }
        None => c
            .range_after(&prefix, first)
            .unwrap_or_else(|| KeyRange::prefixed(prefix.clone())),
    };
    Some((
        (fixed, ranged),
        index,
        Plan::IndexOrder {
            index,
            prefix,
            range,
            descending,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Row;
    use super::*;
    use crate::types::Record;
    use serde_json::json;

    fn plan(query: serde_json::Value, indexes: &[&[usize]]) -> Plan {
        choose(&Query::parse(&query, Row::FIELDS).unwrap(), indexes)
    }

    fn enc(values: &[Value]) -> Vec<u8> {
        crate::cache::index_key::encode_values(values).unwrap()
    }

    #[test]
    fn without_a_usable_index_plans_scan() {
        assert_eq!(plan(json!({}), &[&[0]]), Plan::KeyOrder);
        assert_eq!(plan(json!({"$filter": {"n": 1}}), &[&[0]]), Plan::KeyOrder);
        assert_eq!(
            plan(json!({"$filter": {"$or": [{"Country": "UK"}]}}), &[&[0]]),
            Plan::KeyOrder,
            "a disjunction is not a conjunct"
        );
        assert_eq!(
            plan(
                json!({"$order_by": {"n": "asc", "Total": "desc"}}),
                &[&[2, 1]]
            ),
            Plan::FullSort,
            "mixed directions"
        );
        assert_eq!(
            plan(json!({"$order_by": {"n": "asc"}}), &[&[2, 1]]),
            Plan::FullSort,
            "ties would follow Total, not the primary key"
        );
    }

    #[test]
    fn filters_become_ranges() {
        let uk = enc(&[Value::String("UK".into())]);
        assert_eq!(
            plan(json!({"$filter": {"Country": "UK", "n": 3}}), &[&[2], &[0]]),
            Plan::IndexFilter {
                index: 0,
                ranges: vec![KeyRange::prefixed(enc(&[Value::Int(3)]))]
            },
            "equal scores: the first index"
        );
        let Plan::IndexFilter { index, ranges } = plan(
            json!({"$filter": {"Country": "UK", "n": {"$gt": 3}}}),
            &[&[2], &[0, 2]],
        ) else {
            panic!()
        };
        assert_eq!(index, 1, "pins a column and ranges the next");
        let mut lower = uk.clone();
        lower.extend(prefix_end(&enc(&[Value::Int(3)])).unwrap());
        let mut upper = uk.clone();
        upper.push(NULL);
        assert_eq!(
            ranges,
            [KeyRange {
                lower,
                upper: Some(upper)
            }]
        );
        let Plan::IndexFilter { ranges, .. } =
            plan(json!({"$filter": {"n": {"$in": [2, 1, 2, null]}}}), &[&[2]])
        else {
            panic!()
        };
        assert_eq!(ranges.len(), 2, "sorted, deduplicated, NULL dropped");
        let Plan::IndexFilter { ranges, .. } =
            plan(json!({"$filter": {"n": {"$gt": 5, "$lt": 3}}}), &[&[2]])
        else {
            panic!()
        };
        assert!(ranges.is_empty(), "contradictory bounds read nothing");
    }

    #[test]
    fn orders_become_ordered_scans() {
        assert_eq!(
            plan(json!({"$order_by": {"n": "desc"}}), &[&[0], &[2]]),
            Plan::IndexOrder {
                index: 1,
                prefix: vec![],
                range: KeyRange {
                    lower: vec![],
                    upper: None
                },
                descending: true
            }
        );
        let Plan::IndexOrder { index, prefix, .. } = plan(
            json!({"$filter": {"Country": "UK"}, "$order_by": {"Total": "asc"}}),
            &[&[0], &[1], &[0, 1]],
        ) else {
            panic!()
        };
        assert_eq!((index, prefix), (2, enc(&[Value::String("UK".into())])));
        assert!(
            matches!(
                plan(
                    json!({"$filter": {"Country": "UK"}, "$order_by": {"Total": "asc"}}),
                    &[&[0], &[1]],
                ),
                Plan::IndexFilter { index: 0, .. }
            ),
            "a pinned filter beats an ordered scan that pins nothing"
        );
        assert!(matches!(
            plan(
                json!({"$filter": {"Total": {"$gt": 1}}, "$order_by": {"Total": "asc"}}),
                &[&[1]],
            ),
            Plan::IndexOrder { index: 0, .. }
        ));
        let _ = Row::FIELDS;
    }
}
