//! Dozer's query language: `{"$filter": …, "$order_by": …, "$limit": n, "$skip": n}` plus
//! `"$after": cursor` for stable pagination, parsed
//! and validated against an endpoint's columns before any row is read, and the ordering of
//! results (`$order_by`, then primary key order).

pub use super::filter::{CmpOp, Filter};
use super::ApiError;
use crate::types::{FieldDef, FieldType, Record, Value};
use serde_json::Value as Json;
use std::cmp::Ordering;

/// Rows returned when a request gives no `$limit` (Dozer's default).
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `$limit` accepted: a bound on the memory and time of one request.
pub const MAX_LIMIT: usize = 10_000;

/// A parsed query. Field names are resolved to column indexes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    pub filter: Option<Filter>,
    pub order_by: Vec<OrderBy>,
    /// `None`: [`DEFAULT_LIMIT`]. Never above [`MAX_LIMIT`].
    pub limit: Option<usize>,
    pub skip: usize,
    /// `$after`: the cursor of the previous page (decoded by the endpoint, which knows its key).
    pub after: Option<String>,
}

/// One `$order_by` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderBy {
    /// Column index.
    pub field: usize,
    pub descending: bool,
}

impl Query {
    /// Parses a request body. Empty (or whitespace, or `null`) means "everything, first page",
    /// so that `curl -X POST .../query` works without a body.
    pub fn from_body(body: &[u8], fields: &[FieldDef]) -> Result<Query, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Query::default());
        }
        let json: Json = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("request body is not JSON: {e}")))?;
        Query::parse(&json, fields)
    }

    /// Parses a query already decoded as JSON.
    pub fn parse(json: &Json, fields: &[FieldDef]) -> Result<Query, ApiError> {
        let map = match json {
            Json::Null => return Ok(Query::default()),
            Json::Object(map) => map,
            other => {
                return Err(ApiError::bad_request(format!(
                    "the query must be a JSON object with keys $filter, $order_by, $limit, $skip, $after; found {}",
                    show(other)
                )))
            }
        };
        let mut query = Query::default();
        for (key, value) in map {
            match key.as_str() {
                // `null` means "not given", for clients that always send every key.
                "$filter" | "$order_by" | "$limit" | "$skip" | "$after" if value.is_null() => {}
                "$filter" => query.filter = Some(Filter::parse(value, fields)?),
                "$order_by" => query.order_by = parse_order_by(value, fields)?,
                "$limit" => query.limit = Some(check_limit(count(value, "$limit")?, "$limit")?),
                "$skip" => query.skip = count(value, "$skip")?,
                "$after" => match value {
                    Json::String(cursor) => query.after = Some(cursor.clone()),
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "$after: expected the cursor string of a previous response's x-dozer-next-cursor header, found {}",
                            show(other)
                        )))
                    }
                },
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown key `{other}` in query; expected $filter, $order_by, $limit, $skip, $after"
                    )))
                }
            }
        }
        Ok(query)
    }

    /// ANDs `filter` into the query, so that only rows passing both are seen (a token's
    /// restriction on top of the request's own `$filter`).
    pub fn restrict(&mut self, filter: Filter) {
        self.filter = Some(match self.filter.take() {
            None => filter,
            Some(Filter::And(mut parts)) => {
                parts.push(filter);
                Filter::And(parts)
            }
            Some(own) => Filter::And(vec![own, filter]),
        });
    }

    /// The number of rows to return.
    pub fn limit_or_default(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// Whether `row` passes `$filter`.
    pub fn matches(&self, row: &impl Record) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(row))
    }

    /// The values `row` is sorted by.
    pub fn sort_key(&self, row: &impl Record) -> Vec<Value> {
        self.order_by.iter().map(|o| row.field(o.field)).collect()
    }

    /// Compares two sort keys: NULLs last ascending and first descending (as Postgres does).
    pub fn cmp_keys(&self, a: &[Value], b: &[Value]) -> Ordering {
        for ((order, x), y) in self.order_by.iter().zip(a).zip(b) {
            let o = x.sort_cmp(y);
            let o = if order.descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

/// Checks a limit against [`MAX_LIMIT`]; `what` names it in the message (`$limit`, `limit`).
pub fn check_limit(limit: usize, what: &str) -> Result<usize, ApiError> {
    if limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "{what}: {limit} is above the maximum of {MAX_LIMIT} rows per request; page through results with $after (or $skip)"
        )));
    }
    Ok(limit)
}

fn count(json: &Json, what: &str) -> Result<usize, ApiError> {
    json.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{what}: expected a non-negative integer, found {}",
                show(json)
            ))
        })
}

/// `{"a": "asc", "b": "desc"}` (key order is the sort order: serde_json's `preserve_order`) or
/// `[{"a": "asc"}, {"b": "desc"}]` for clients whose JSON objects are unordered.
fn parse_order_by(json: &Json, fields: &[FieldDef]) -> Result<Vec<OrderBy>, ApiError> {
    let mut out = Vec::new();
    let mut add = |map: &serde_json::Map<String, Json>, path: &str| -> Result<(), ApiError> {
        for (name, direction) in map {
            out.push(order_entry(name, direction, fields, path)?);
        }
        Ok(())
    };
    match json {
        Json::Object(map) => add(map, "$order_by")?,
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("$order_by[{i}]");
                let Json::Object(map) = item else {
                    return Err(ApiError::bad_request(format!(
                        "{path}: expected an object such as {{\"field\": \"asc\"}}, found {}",
                        show(item)
                    )));
                };
                add(map, &path)?;
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "$order_by: expected an object such as {{\"field\": \"asc\"}}, found {}",
                show(other)
            )))
        }
    }
    Ok(out)
}

fn order_entry(
    name: &str,
    direction: &Json,
    fields: &[FieldDef],
    path: &str,
) -> Result<OrderBy, ApiError> {
    let field = resolve_field(fields, name, path)?;
    let entry_path = format!("{path}.{name}");
    let descending = match direction.as_str().map(str::to_ascii_lowercase).as_deref() {
        Some("asc") => false,
        Some("desc") => true,
        _ => {
            return Err(ApiError::bad_request(format!(
                "{entry_path}: expected \"asc\" or \"desc\", found {}",
                show(direction)
            )))
        }
    };
    if fields[field].ty == FieldType::Json {
        return Err(ApiError::bad_request(format!(
            "{entry_path}: Json columns cannot be sorted"
        )));
    }
    Ok(OrderBy { field, descending })
}

/// Finds a column by name: exactly, else case-insensitively (SQL identifiers are
/// case-insensitive, and users type `country` for `Country`). `context` names where the name
/// appeared, for the error.
pub(super) fn resolve_field(
    fields: &[FieldDef],
    name: &str,
    context: &str,
) -> Result<usize, ApiError> {
    fields
        .iter()
        .position(|f| f.name == name)
        .or_else(|| {
            fields
                .iter()
                .position(|f| f.name.eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| {
            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            ApiError::bad_request(format!(
                "unknown field `{name}` in {context}; fields are: {}",
                names.join(", ")
            ))
        })
}

/// A JSON value for a message, shortened so a huge request does not make a huge error.
pub(super) fn show(json: &Json) -> String {
    const MAX: usize = 80;
    let text = json.to_string();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::Row;
    use super::*;
    use serde_json::json;

    fn parse(json: Json) -> Query {
        Query::parse(&json, Row::FIELDS).unwrap()
    }

    fn error(json: Json) -> String {
        Query::parse(&json, Row::FIELDS).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_key() {
        let q = parse(
            json!({"$filter": {"n": 1}, "$order_by": {"total": "desc", "Country": "ASC"}, "$limit": 5, "$skip": 10}),
        );
        assert!(q.filter.is_some());
        let expected = [
            OrderBy {
                field: 1,
                descending: true,
            },
            OrderBy {
                field: 0,
                descending: false,
            },
        ];
        assert_eq!(q.order_by, expected, "object keys keep their order");
        assert_eq!((q.limit, q.skip), (Some(5), 10));
        let q = parse(json!({"$order_by": [{"n": "desc"}, {"Total": "asc"}]}));
        assert_eq!(
            q.order_by,
            [
                OrderBy {
                    field: 2,
                    descending: true
                },
                OrderBy {
                    field: 1,
                    descending: false
                }
            ]
        );
        assert_eq!(parse(json!({})), Query::default());
        assert_eq!(
            parse(json!({"$filter": null, "$limit": null})),
            Query::default()
        );
        assert_eq!(parse(json!({})).limit_or_default(), DEFAULT_LIMIT);
        assert_eq!(parse(json!({"$limit": 10000})).limit, Some(MAX_LIMIT));
    }

    #[test]
    fn restrict_ands_filters() {
        let uk = Filter::parse(&json!({"Country": "UK"}), Row::FIELDS).unwrap();
        let big = Filter::parse(&json!({"n": {"$gt": 1}}), Row::FIELDS).unwrap();
        let mut q = Query::default();
        q.restrict(uk.clone());
        assert_eq!(q.filter.as_ref(), Some(&uk));
        q.restrict(big.clone());
        // Then both, in one `And` that a further restriction would join.
        let Some(Filter::And(parts)) = &q.filter else {
            panic!("{:?}", q.filter)
        };
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], big);
        let mut q = parse(json!({"$filter": {"$or": [{"n": 1}, {"n": 2}]}}));
        let own = q.filter.clone().unwrap();
        q.restrict(uk.clone());
        assert_eq!(q.filter, Some(Filter::And(vec![own, uk])));
    }

    #[test]
    fn bodies_may_be_empty_but_not_malformed() {
        assert_eq!(
            Query::from_body(b"", Row::FIELDS).unwrap(),
            Query::default()
        );
        assert_eq!(
            Query::from_body(b" \n", Row::FIELDS).unwrap(),
            Query::default()
        );
        assert_eq!(
            Query::from_body(b"null", Row::FIELDS).unwrap(),
            Query::default()
        );
        let e = Query::from_body(b"{\"$limit\": ", Row::FIELDS)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("request body is not JSON: EOF while parsing"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(
            error(json!({"$limt": null})),
            "unknown key `$limt` in query; expected $filter, $order_by, $limit, $skip, $after"
        );
        assert_eq!(
            error(json!([1])),
            "the query must be a JSON object with keys $filter, $order_by, $limit, $skip, $after; found [1]"
        );
        assert_eq!(
            error(json!({"$limit": 10001})),
            "$limit: 10001 is above the maximum of 10000 rows per request; page through results with $after (or $skip)"
        );
        assert_eq!(
            error(json!({"$limit": -1})),
            "$limit: expected a non-negative integer, found -1"
        );
        assert_eq!(
            error(json!({"$after": 3})),
            "$after: expected the cursor string of a previous response's x-dozer-next-cursor header, found 3"
        );
        assert_eq!(
            error(json!({"$skip": "3"})),
            "$skip: expected a non-negative integer, found \"3\""
        );
        assert_eq!(
            error(json!({"$order_by": {"Foo": "asc"}})),
            "unknown field `Foo` in $order_by; fields are: Country, Total, n"
        );
        assert_eq!(
            error(json!({"$order_by": [{"n": "asc"}, {"Foo": "asc"}]})),
            "unknown field `Foo` in $order_by[1]; fields are: Country, Total, n"
        );
        assert_eq!(
            error(json!({"$order_by": {"n": "up"}})),
            "$order_by.n: expected \"asc\" or \"desc\", found \"up\""
        );
        assert_eq!(
            error(json!({"$order_by": [{"n": "asc"}, "Total"]})),
            "$order_by[1]: expected an object such as {\"field\": \"asc\"}, found \"Total\""
        );
        assert_eq!(
            error(json!({"$order_by": "n"})),
            "$order_by: expected an object such as {\"field\": \"asc\"}, found \"n\""
        );
        assert_eq!(
            error(json!({"$filter": {"Quantity": 1}})),
            "unknown field `Quantity` in $filter; fields are: Country, Total, n"
        );
        let json_fields = &[FieldDef::new("doc", FieldType::Json, true)];
        let e = Query::parse(&json!({"$order_by": {"doc": "asc"}}), json_fields).unwrap_err();
        assert_eq!(
            e.to_string(),
            "$order_by.doc: Json columns cannot be sorted"
        );
    }
}
