//! The type-erased view of one endpoint that the REST server (and later gRPC) works with, and
//! its implementation over a typed cache table.

use super::query::{Filter, Query};
use super::sort::TopRows;
use super::{ApiError, EndpointDecl};
use crate::cache::{EndpointTable, Store};
use crate::types::{FieldDef, Record, TableKey};
use std::ops::ControlFlow;

/// One endpoint, as the APIs see it: rows as JSON, keys as text. Object-safe so that the
/// server holds endpoints of different row and key types in one list.
///
/// Each call reads one redb snapshot (one read transaction), so a response reflects exactly
/// one committed state even while the pipeline keeps committing.
pub trait EndpointApi: Send + Sync + 'static {
    fn decl(&self) -> &EndpointDecl;
    /// The row whose primary key is `id` (comma-separated for a composite key). A 400 if `id`
    /// does not parse as the key's types.
    fn get(&self, id: &str) -> Result<Option<serde_json::Value>, ApiError> {
        self.get_matching(id, None)
    }
    /// [`get`](Self::get), but a row that does not pass `filter` (a token's restriction) is
    /// `None`, as if absent.
    fn get_matching(
        &self,
        id: &str,
        filter: Option<&Filter>,
    ) -> Result<Option<serde_json::Value>, ApiError>;
    /// The rows matching `query`: filtered, ordered by `$order_by` then primary key, paged.
    fn query(&self, query: &Query) -> Result<Vec<serde_json::Value>, ApiError>;
    /// The number of rows matching the query's filter (order and paging do not matter).
    fn count(&self, query: &Query) -> Result<u64, ApiError>;
}

/// An endpoint over an [`EndpointTable`] of `T` rows keyed by `K`.
pub struct TypedEndpoint<K, T> {
    store: Store,
    table: EndpointTable<K, T>,
    decl: EndpointDecl,
    /// The primary key columns, in key order: what `K::parse_id` needs for their types.
    key_fields: Vec<FieldDef>,
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
        TypedEndpoint {
            table: EndpointTable::new(decl.name),
            store,
            decl,
            key_fields,
        }
    }

    fn to_json(&self, row: &T) -> Result<serde_json::Value, ApiError> {
        serde_json::to_value(row).map_err(|e| {
            ApiError::internal(format!(
                "cannot serialize a row of endpoint `{}`: {e}",
                self.decl.name
            ))
        })
    }

    /// Rows in key order, stopping as soon as the page is full: a page of a huge table costs
    /// the page (plus the skipped and non-matching rows), not the table.
    fn page_in_key_order(&self, query: &Query, limit: usize) -> Result<Vec<T>, ApiError> {
        let mut rows = Vec::new();
        if limit == 0 {
            return Ok(rows);
        }
        let txn = self.store.begin_read()?;
        let mut to_skip = query.skip;
        self.table.scan(&txn, |_, row| {
            if !query.matches(&row) {
                return ControlFlow::Continue(());
            }
            if to_skip > 0 {
                to_skip -= 1;
                return ControlFlow::Continue(());
            }
            rows.push(row);
            if rows.len() >= limit {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        Ok(rows)
    }

    /// Sorting needs every matching row, but only the first `skip + limit` are kept.
    fn page_sorted(&self, query: &Query, limit: usize) -> Result<Vec<T>, ApiError> {
        let mut top = TopRows::new(query, query.skip.saturating_add(limit));
        let txn = self.store.begin_read()?;
        self.table.scan(&txn, |_, row| {
            if query.matches(&row) {
                top.push(row);
            }
            ControlFlow::Continue(())
        })?;
        Ok(top.into_sorted().into_iter().skip(query.skip).collect())
    }
}

impl<K: TableKey, T: Record> EndpointApi for TypedEndpoint<K, T> {
    fn decl(&self) -> &EndpointDecl {
        &self.decl
    }

    fn get_matching(
        &self,
        id: &str,
        filter: Option<&Filter>,
    ) -> Result<Option<serde_json::Value>, ApiError> {
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

    fn query(&self, query: &Query) -> Result<Vec<serde_json::Value>, ApiError> {
        let limit = query.limit_or_default();
        let rows = if query.order_by.is_empty() {
            self.page_in_key_order(query, limit)?
        } else {
            self.page_sorted(query, limit)?
        };
        rows.iter().map(|row| self.to_json(row)).collect()
    }

    fn count(&self, query: &Query) -> Result<u64, ApiError> {
        let txn = self.store.begin_read()?;
        let Some(filter) = &query.filter else {
            return Ok(self.table.len(&txn)?);
        };
        let mut n = 0u64;
        self.table.scan(&txn, |_, row| {
            n += u64::from(filter.matches(&row));
            ControlFlow::Continue(())
        })?;
        Ok(n)
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

    fn ns(rows: Vec<serde_json::Value>) -> Vec<i64> {
        rows.iter().map(|r| r["n"].as_i64().unwrap()).collect()
    }

    fn query(json: serde_json::Value) -> Query {
        Query::parse(&json, DECL.fields).unwrap()
    }

    #[test]
    fn gets_by_id_including_null_keys() {
        let dir = tempfile::tempdir().unwrap();
        let ep = endpoint(dir.path());
        assert_eq!(
            ep.get("UK").unwrap(),
            Some(json!({"Country": "UK", "Total": "10", "n": 1}))
        );
        assert_eq!(ep.get("null").unwrap().unwrap()["n"], 3);
        assert_eq!(ep.get("Narnia").unwrap(), None);
        let big = Filter::parse(&json!({"n": {"$gt": 1}}), DECL.fields).unwrap();
        assert_eq!(ep.get_matching("UK", Some(&big)).unwrap(), None);
        assert_eq!(ep.get_matching("FR", Some(&big)).unwrap().unwrap()["n"], 2);
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
        assert_eq!(ep.count(&query(json!({"$limit": 1}))).unwrap(), 4);
        assert_eq!(
            ep.count(&query(json!({"$filter": {"Total": 20}, "$limit": 1})))
                .unwrap(),
            2
        );
    }
}
