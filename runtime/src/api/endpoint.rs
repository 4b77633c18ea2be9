//! The type-erased view of one endpoint that the REST server works with, and its
//! implementation over a typed cache table, with the typed [`TypedEndpoint::page`] and
//! [`TypedEndpoint::count_matching`] that gRPC serves.
//!
//! A query runs the plan [`plan::choose`] picks (a key scan, a full scan with a bounded sort,
//! or a secondary index) and reports how many rows or index entries it read, so that tests
//! and operators can see whether an index served it.

use super::cursor::Cursor;
use super::plan::{self, KeyRange, Plan};
use super::query::{Filter, Query};
use super::sort::TopRows;
use super::{ApiError, EndpointDecl};
use crate::cache::{EndpointSnapshot, EndpointTable, Store, StoreError};
use crate::types::{FieldDef, Record, TableKey};
use std::ops::ControlFlow;

/// One endpoint, as the APIs see it: rows as JSON text, keys as text. Object-safe so that the
/// server holds endpoints of different row and key types in one list. Rows are serialized
/// straight from their typed records into the response bytes (no `serde_json::Value` between).
///
/// Each call reads one redb snapshot (one read transaction), so a response reflects exactly
/// one committed state even while the pipeline keeps committing.
pub trait EndpointApi: Send + Sync + 'static {
    fn decl(&self) -> &EndpointDecl;
    /// The row whose primary key is `id` (comma-separated for a composite key), as a JSON
    /// object. A 400 if `id` does not parse as the key's types.
    fn get(&self, id: &str) -> Result<Option<Vec<u8>>, ApiError> {
        self.get_matching(id, None)
    }
    /// [`get`](Self::get), but a row that does not pass `filter` (a token's restriction) is
    /// `None`, as if absent.
    fn get_matching(&self, id: &str, filter: Option<&Filter>) -> Result<Option<Vec<u8>>, ApiError>;
    /// The rows matching `query`: filtered, ordered by `$order_by` then primary key, paged,
    /// as one JSON array, with the cursor of the next page and the rows read.
    fn query(&self, query: &Query) -> Result<JsonPage, ApiError>;
    /// The number of rows matching the query's filter (order and paging do not matter), and
    /// the number of rows or index entries read to count them.
    fn count(&self, query: &Query) -> Result<(u64, u64), ApiError>;
    /// Whether `query` reads at most about a page of rows (no filter, and an order the key or
    /// an index gives), so that a server may run it in place rather than on a blocking thread.
    fn is_bounded(&self, query: &Query) -> bool;
}

/// A page as REST sends it.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonPage {
    /// The rows, one JSON array.
    pub json: Vec<u8>,
    /// The `$after` of the next page: present when the page is full (it may then be empty).
    pub next_cursor: Option<String>,
    /// Rows, or secondary index entries, read to answer.
    pub scanned: u64,
}

/// Rows read by a bounded query: beyond this `$skip` plus `$limit`, it goes to a blocking thread.
const BOUNDED_ROWS: usize = 1_000;

/// One page of a query's results.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// The `$after` of the next page: present when the page is full (it may then be empty).
    pub next_cursor: Option<String>,
    /// Rows, or secondary index entries, read to answer.
    pub scanned: u64,
    /// The cache commit the page reflects (read in the same snapshot as the rows).
    pub commit: u64,
}

/// An endpoint over an [`EndpointTable`] of `T` rows keyed by `K`.
pub struct TypedEndpoint<K, T> {
    store: Store,
    table: EndpointTable<K, T>,
    decl: EndpointDecl,
    /// The primary key columns, in key order: what `K::parse_id` needs for their types.
    key_fields: Vec<FieldDef>,
    /// The columns of each secondary index the table maintains.
    index_columns: Vec<&'static [usize]>,
}

/// Rows read (with their primary key bytes) and how many reads it took.
struct Scan<'s, K, T> {
    snapshot: &'s EndpointSnapshot<K, T>,
    scanned: u64,
}

/// A page being filled: skips `$skip` rows, then keeps rows until `limit`.
struct PageFill<T> {
    to_skip: usize,
    limit: usize,
    rows: Vec<(Vec<u8>, T)>,
}

impl<T> PageFill<T> {
    fn new(query: &Query, limit: usize) -> Self {
        PageFill {
            to_skip: query.skip,
            limit,
            rows: Vec::new(),
        }
    }

    fn offer(&mut self, key: &[u8], row: T) -> ControlFlow<()> {
        if self.to_skip > 0 {
            self.to_skip -= 1;
        } else {
            self.rows.push((key.to_vec(), row));
        }
        if self.rows.len() >= self.limit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

impl<K: TableKey, T: Record> Scan<'_, K, T> {
    /// Visits rows in primary key order after `after` (key bytes).
    fn rows(
        &mut self,
        after: Option<&[u8]>,
        mut visit: impl FnMut(&[u8], T) -> ControlFlow<()>,
    ) -> Result<(), ApiError> {
        let scanned = &mut self.scanned;
        self.snapshot.scan_rows(after, |key, row| {
            *scanned += 1;
            visit(key, row)
        })?;
        Ok(())
    }

    /// Visits the rows of index `index`'s entries in `range`, in index order. Returns whether
    /// `visit` stopped the scan.
    fn index(
        &mut self,
        index: usize,
        range: &KeyRange,
        mut visit: impl FnMut(&[u8], T) -> ControlFlow<()>,
    ) -> Result<bool, ApiError> {
        if range.is_empty() {
            return Ok(false);
        }
        let entries = self
            .snapshot
            .index_range(index, &range.lower, range.upper.as_deref())?;
        for entry in entries {
            let (key, _) = entry.map_err(StoreError::from)?;
            self.scanned += 1;
            let key = key.value();
            let (_, primary) = self
                .snapshot
                .split_index_key(index, key)
                .ok_or_else(|| ApiError::internal("a secondary index entry is malformed"))?;
            // The index is written with the rows: a missing row would be a bug, not a match.
            let Some(row) = self.snapshot.row(primary)? else {
                continue;
            };
            if visit(primary, row).is_break() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The row stored under primary key bytes `key` (read through an index entry: it exists).
    fn row(&mut self, key: &[u8]) -> Result<Option<T>, ApiError> {
        Ok(self.snapshot.row(key)?)
    }
}

impl<K: TableKey, T: Record> TypedEndpoint<K, T> {
    pub fn new(store: Store, decl: EndpointDecl) -> Self {
        // Queries are parsed against `decl.fields` and evaluated with `T::field`: they must agree.
        debug_assert_eq!(
            decl.fields,
            T::FIELDS,
            "endpoint `{}`: declared fields differ from the record's",
            decl.name
        );
        let key_fields = decl
            .primary_key
            .iter()
            .filter_map(|name| {
                decl.fields
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(name))
                    .copied()
            })
            .collect();
        let table = EndpointTable::with_indexes(decl.name, decl.indexes);
        TypedEndpoint {
            index_columns: table.indexes().iter().map(|i| i.columns).collect(),
            table,
            store,
            decl,
            key_fields,
        }
    }

    fn to_json<R: serde::Serialize + ?Sized>(&self, rows: &R) -> Result<Vec<u8>, ApiError> {
        let mut json = Vec::with_capacity(4096);
        serde_json::to_writer(&mut json, rows)
            .map(|()| json)
            .map_err(|e| {
                ApiError::internal(format!(
                    "cannot serialize a row of endpoint `{}`: {e}",
                    self.decl.name
                ))
            })
    }

    /// The plan `query` runs with (for tests and diagnostics).
    pub(crate) fn plan(&self, query: &Query) -> Plan {
        plan::choose(query, &self.index_columns)
    }

    /// The rows matching `query`, in its order, one page: `$limit` rows after `$skip` or after
    /// the `$after` cursor.
    pub fn page(&self, query: &Query) -> Result<Page<T>, ApiError> {
        self.page_reading_commit(query, true)
    }

    /// [`page`](Self::page), reading the commit it reflects only when asked (`commit` is 0
    /// otherwise): REST reports the position from memory instead, and the read costs a table
    /// lookup per request.
    fn page_reading_commit(&self, query: &Query, commit: bool) -> Result<Page<T>, ApiError> {
        let limit = query.limit_or_default();
        let after = self.cursor(query)?;
        let plan = self.plan(query);
        let txn = self.store.begin_read()?;
        let snapshot = self.table.snapshot(&txn, plan.index())?;
        let mut scan = Scan {
            snapshot: &snapshot,
            scanned: 0,
        };
        let rows = if limit == 0 {
            Vec::new()
        } else {
            match plan {
                Plan::KeyOrder => in_key_order(&mut scan, query, after.as_ref(), limit)?,
                Plan::FullSort => {
                    let mut top = TopRows::new(query, query.skip.saturating_add(limit));
                    scan.rows(None, |key, row| {
                        offer_sorted(&mut top, query, after.as_ref(), key, row);
                        ControlFlow::Continue(())
                    })?;
                    top.into_sorted().into_iter().skip(query.skip).collect()
                }
                Plan::IndexFilter { index, ranges } => {
                    let mut top = TopRows::new(query, query.skip.saturating_add(limit));
                    for range in &ranges {
                        scan.index(index, range, |key, row| {
                            offer_sorted(&mut top, query, after.as_ref(), key, row);
                            ControlFlow::Continue(())
                        })?;
                    }
                    top.into_sorted().into_iter().skip(query.skip).collect()
                }
                Plan::IndexOrder {
                    index,
                    prefix,
                    range,
                    descending,
                } => {
                    let mut fill = PageFill::new(query, limit);
                    let scan_order = IndexOrder {
                        index,
                        prefix: &prefix,
                        range,
                    };
                    if descending {
                        scan_order.descending(&mut scan, query, after.as_ref(), &mut fill)?;
                    } else {
                        scan_order.ascending(&mut scan, query, after.as_ref(), &mut fill)?;
                    }
                    fill.rows
                }
            }
        };
        crate::metrics::add_rows_scanned(scan.scanned);
        let next_cursor = match rows.last() {
            Some((key, row)) if rows.len() >= limit => {
                Some(Cursor::after_row(query, key, row)?.encode(self.decl.name))
            }
            _ => None,
        };
        Ok(Page {
            rows: rows.into_iter().map(|(_, row)| row).collect(),
            next_cursor,
            scanned: scan.scanned,
            commit: match commit {
                true => crate::cache::store::position_in(&txn)?,
                false => 0,
            },
        })
    }

    /// The number of rows matching `query`'s filter, and the rows or index entries read.
    pub fn count_matching(&self, query: &Query) -> Result<(u64, u64), ApiError> {
        let filter_only = Query {
            filter: query.filter.clone(),
            ..Query::default()
        };
        let plan = self.plan(&filter_only);
        let txn = self.store.begin_read()?;
        let snapshot = self.table.snapshot(&txn, plan.index())?;
        let Some(filter) = &query.filter else {
            return Ok((snapshot.len()?, 0));
        };
        let mut scan = Scan {
            snapshot: &snapshot,
            scanned: 0,
        };
        let mut n = 0u64;
        let mut count = |_: &[u8], row: T| {
            n += u64::from(filter.matches(&row));
            ControlFlow::Continue(())
        };
        match plan {
            Plan::IndexFilter { index, ranges } => {
                for range in &ranges {
                    scan.index(index, range, &mut count)?;
                }
            }
            _ => scan.rows(None, &mut count)?,
        }
        crate::metrics::add_rows_scanned(scan.scanned);
        Ok((n, scan.scanned))
    }

    /// The decoded `$after` of `query`, checked against it.
    fn cursor(&self, query: &Query) -> Result<Option<Cursor>, ApiError> {
        let Some(text) = &query.after else {
            return Ok(None);
        };
        if query.skip > 0 {
            return Err(ApiError::bad_request(
                "$after and $skip cannot be combined: the cursor already says where the page starts; drop $skip",
            ));
        }
        let valid_key = |bytes: &[u8]| {
            postcard::take_from_bytes::<K>(bytes).is_ok_and(|(_, rest)| rest.is_empty())
        };
        Cursor::decode(text, self.decl.name, self.decl.fields, query, valid_key).map(Some)
    }
}

/// Offers a row read by a full or index range scan to a top-N, if it matches and comes after
/// the cursor.
fn offer_sorted<T: Record>(
    top: &mut TopRows<'_, T>,
    query: &Query,
    after: Option<&Cursor>,
    key: &[u8],
    row: T,
) {
    if !query.matches(&row) {
        return;
    }
    if let Some(cursor) = after {
        if !cursor.is_before(&query.sort_key(&row), key) {
            return;
        }
    }
    top.push(key, row);
}

/// Rows in key order, stopping as soon as the page is full: a page of a huge table costs the
/// page (plus the skipped and non-matching rows), not the table.
fn in_key_order<K: TableKey, T: Record>(
    scan: &mut Scan<'_, K, T>,
    query: &Query,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, T)>, ApiError> {
    let mut fill = PageFill::new(query, limit);
    scan.rows(after.map(|c| c.key.as_slice()), |key, row| {
        if query.matches(&row) {
            fill.offer(key, row)
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(fill.rows)
}

/// An ordered scan of an index whose keys are `prefix` (the columns fixed by equalities), the
/// sort values and the primary key.
struct IndexOrder<'p> {
    index: usize,
    prefix: &'p [u8],
    range: KeyRange,
}

impl IndexOrder<'_> {
    /// The cursor's index key: `prefix`, its sort values, its primary key.
    fn cursor_key(&self, cursor: &Cursor) -> Vec<u8> {
        [self.prefix, &cursor.values, &cursor.key].concat()
    }

    fn ascending<K: TableKey, T: Record>(
        mut self,
        scan: &mut Scan<'_, K, T>,
        query: &Query,
        after: Option<&Cursor>,
        fill: &mut PageFill<T>,
    ) -> Result<(), ApiError> {
        if let Some(cursor) = after {
            // The smallest key after the cursor's.
            let mut lower = self.cursor_key(cursor);
            lower.push(0);
            self.range.raise(lower);
        }
        scan.index(self.index, &self.range, |key, row| {
            if query.matches(&row) {
                fill.offer(key, row)
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(())
    }

    /// Descending sort values, but rows tying on them in ascending primary key order (as the
    /// unindexed sort has them): walk the index backwards, holding each group of entries with
    /// equal sort values and emitting it reversed. A group larger than [`GROUP_BUFFER`] is
    /// read forwards instead, so memory stays bounded whatever the ties.
    fn descending<K: TableKey, T: Record>(
        self,
        scan: &mut Scan<'_, K, T>,
        query: &Query,
        after: Option<&Cursor>,
        fill: &mut PageFill<T>,
    ) -> Result<(), ApiError> {
        let mut visit = |key: &[u8], row: T| {
            if query.matches(&row) {
                fill.offer(key, row)
            } else {
                ControlFlow::Continue(())
            }
        };
        let lower = self.range.lower.clone();
        let mut upper = self.range.upper.clone();
        // The part of one group in the range, forwards, from `first` if given.
        let group_range = |group: &[u8], first: Option<Vec<u8>>, upper: &Option<Vec<u8>>| {
            let mut range = KeyRange::prefixed(group.to_vec());
            range.raise(lower.clone());
            if let Some(first) = first {
                range.raise(first);
            }
            range.cap(upper.clone());
            range
        };
        if let Some(cursor) = after {
            // The rest of the cursor's group, then the groups before it.
            let group = [self.prefix, &cursor.values].concat();
            let mut first = self.cursor_key(cursor);
            first.push(0);
            if scan.index(
                self.index,
                &group_range(&group, Some(first), &upper),
                &mut visit,
            )? {
                return Ok(());
            }
            if upper.as_ref().is_none_or(|u| group < *u) {
                upper = Some(group);
            }
        }
        'walk: loop {
            if upper.as_ref().is_some_and(|u| *u <= lower) {
                return Ok(());
            }
            let entries = scan
                .snapshot
                .index_range(self.index, &lower, upper.as_deref())?
                .rev();
            let mut group: Vec<u8> = Vec::new();
            let mut held: Vec<Vec<u8>> = Vec::new();
            for entry in entries {
                let (key, _) = entry.map_err(StoreError::from)?;
                scan.scanned += 1;
                let (values, primary) = scan
                    .snapshot
                    .split_index_key(self.index, key.value())
                    .ok_or_else(|| ApiError::internal("a secondary index entry is malformed"))?;
                if values != group.as_slice() {
                    if emit_reversed(scan, &mut held, &mut visit)? {
                        return Ok(());
                    }
                    group = values.to_vec();
                }
                if held.len() == GROUP_BUFFER {
                    // A big group: read it forwards, then go on below it.
                    held.clear();
                    if scan.index(self.index, &group_range(&group, None, &upper), &mut visit)? {
                        return Ok(());
                    }
                    upper = Some(group);
                    continue 'walk;
                }
                held.push(primary.to_vec());
            }
            emit_reversed(scan, &mut held, &mut visit)?;
            return Ok(());
        }
    }
}

/// Entries of one group a descending scan holds before reading the group forwards instead.
#[cfg(not(test))]
const GROUP_BUFFER: usize = 256;
/// Small in tests, so that randomized tests take both paths.
#[cfg(test)]
const GROUP_BUFFER: usize = 4;

/// Visits the rows of `held` (primary keys read backwards) in ascending key order, emptying
/// it. Returns whether `visit` stopped.
fn emit_reversed<K: TableKey, T: Record>(
    scan: &mut Scan<'_, K, T>,
    held: &mut Vec<Vec<u8>>,
    visit: &mut impl FnMut(&[u8], T) -> ControlFlow<()>,
) -> Result<bool, ApiError> {
    for key in held.drain(..).rev() {
        if let Some(row) = scan.row(&key)? {
            if visit(&key, row).is_break() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

impl<K: TableKey, T: Record> EndpointApi for TypedEndpoint<K, T> {
    fn decl(&self) -> &EndpointDecl {
        &self.decl
    }

    fn get_matching(&self, id: &str, filter: Option<&Filter>) -> Result<Option<Vec<u8>>, ApiError> {
        let key = K::parse_id(id, &self.key_fields).map_err(|e| {
            let names: Vec<&str> = self.key_fields.iter().map(|f| f.name).collect();
            let key = if names.is_empty() {
                "a record id".to_string()
            } else {
                names.join(", ")
            };
            ApiError::bad_request(format!("id `{id}` (key: {key}): {e}"))
        })?;
        let txn = self.store.begin_read()?;
        self.table
            .get(&txn, &key)?
            .filter(|row| filter.is_none_or(|f| f.matches(row)))
            .map(|row| self.to_json(&row))
            .transpose()
    }

    fn query(&self, query: &Query) -> Result<JsonPage, ApiError> {
        let page = self.page_reading_commit(query, false)?;
        Ok(JsonPage {
            json: self.to_json(&page.rows)?,
            next_cursor: page.next_cursor,
            scanned: page.scanned,
        })
    }

    fn is_bounded(&self, query: &Query) -> bool {
        query.filter.is_none()
            && query.skip.saturating_add(query.limit_or_default()) <= BOUNDED_ROWS
            && matches!(self.plan(query), Plan::KeyOrder | Plan::IndexOrder { .. })
    }

    fn count(&self, query: &Query) -> Result<(u64, u64), ApiError> {
        self.count_matching(query)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{sample_rows, store_with_rows, Key, Row, DECL};
    use super::*;
    use serde_json::json;

    fn endpoint(dir: &std::path::Path) -> TypedEndpoint<Key, Row> {
        TypedEndpoint::new(store_with_rows(dir, &sample_rows()), DECL)
    }

    fn ns(page: JsonPage) -> Vec<i64> {
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&page.json).unwrap();
        rows.iter().map(|r| r["n"].as_i64().unwrap()).collect()
    }

    fn parsed(row: Option<Vec<u8>>) -> Option<serde_json::Value> {
        row.map(|bytes| serde_json::from_slice(&bytes).unwrap())
    }

    fn query(json: serde_json::Value) -> Query {
        Query::parse(&json, DECL.fields).unwrap()
    }

    #[test]
    fn gets_by_id_including_null_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ep = endpoint(dir.path());
        assert_eq!(
            parsed(ep.get("UK").unwrap()),
            Some(json!({"Country": "UK", "Total": "10", "n": 1}))
        );
        assert_eq!(parsed(ep.get("null").unwrap()).unwrap()["n"], 3);
        assert_eq!(ep.get("Narnia").unwrap(), None);
        let big = Filter::parse(&json!({"n": {"$gt": 1}}), DECL.fields).unwrap();
        assert_eq!(ep.get_matching("UK", Some(&big)).unwrap(), None);
        assert_eq!(
            parsed(ep.get_matching("FR", Some(&big)).unwrap()).unwrap()["n"],
            2
        );
    }

    #[test]
    fn queries_in_key_order_or_sorted_with_paging() {
        let dir = tempfile::tempdir().unwrap();
        let ep = endpoint(dir.path());
        // Keys are `(Option<String>,)`: None sorts first, then by name.
        assert_eq!(ns(ep.query(&Query::default()).unwrap()), [3, 4, 2, 1]);
        assert_eq!(
            ns(ep.query(&query(json!({"$skip": 1, "$limit": 2}))).unwrap()),
            [4, 2]
        );
        assert_eq!(
            ns(ep.query(&query(json!({"$limit": 0}))).unwrap()),
            Vec::<i64>::new()
        );
        let sorted = query(json!({"$order_by": {"Total": "desc"}, "$skip": 1, "$limit": 2}));
        assert_eq!(
            ns(ep.query(&sorted).unwrap()),
            [4, 2],
            "ties stay in key order"
        );
        let filtered =
            query(json!({"$filter": {"Total": {"$gte": 20}}, "$order_by": {"n": "desc"}}));
        assert_eq!(ns(ep.query(&filtered).unwrap()), [4, 3, 2]);
        assert_eq!(
            ns(ep.query(&query(json!({"$skip": 10}))).unwrap()),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn ids_that_do_not_parse_are_bad_requests() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_rows(dir.path(), &sample_rows());
        let decl = EndpointDecl {
            primary_key: &["n"],
            ..DECL
        };
        let ep = TypedEndpoint::<(i64,), Row>::new(store.clone(), decl);
        let e = ep.get("abc").unwrap_err();
        assert_eq!(e.to_string(), "id `abc` (key: n): `abc` is not an Int");
        let ep = TypedEndpoint::<crate::types::RecordId, Row>::new(
            store,
            EndpointDecl {
                primary_key: &[],
                ..DECL
            },
        );
        let e = ep.get("x").unwrap_err().to_string();
        assert!(e.starts_with("id `x` (key: a record id): "), "{e}");
    }

    #[test]
    fn counts_only_filter_matches() {
        let dir = tempfile::tempdir().unwrap();
        let ep = endpoint(dir.path());
        assert_eq!(ep.count(&query(json!({"$limit": 1}))).unwrap().0, 4);
        assert_eq!(
            ep.count(&query(json!({"$filter": {"Total": 20}, "$limit": 1})))
                .unwrap()
                .0,
            2
        );
    }
}
