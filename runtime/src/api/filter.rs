//! `$filter`: Dozer's filter language, checked against an endpoint's columns when the request
//! arrives (unknown fields and mistyped values are 400s naming the bad part, never silent
//! non-matches), then evaluated per row with SQL semantics.

use super::query::{resolve_field, show};
use super::ApiError;
use crate::types::{FieldDef, FieldType, Record, Value};
use serde_json::Value as Json;
use std::cmp::Ordering;

/// A parsed filter. Field names are resolved to column indexes at parse time, so evaluating a
/// row never looks a name up.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Every part matches (`{"$and": [...]}`, or several keys in one object). Empty: always.
    And(Vec<Filter>),
    /// Some part matches (`{"$or": [...]}`). Empty: never.
    Or(Vec<Filter>),
    /// `{"field": value}` (= `$eq`) or `{"field": {"$op": value}}`.
    Compare {
        field: usize,
        op: CmpOp,
        value: Value,
    },
    /// `{"field": {"$in": [value, ...]}}`.
    In { field: usize, values: Vec<Value> },
}

/// A comparison operator of `$filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

const OPERATORS: &str = "$eq, $ne, $lt, $lte, $gt, $gte or $in";

impl CmpOp {
    fn from_name(name: &str) -> Option<CmpOp> {
        Some(match name {
            "$eq" => CmpOp::Eq,
            "$ne" => CmpOp::Ne,
            "$lt" => CmpOp::Lt,
            "$lte" => CmpOp::Lte,
            "$gt" => CmpOp::Gt,
            "$gte" => CmpOp::Gte,
            _ => return None,
        })
    }

    /// SQL semantics: a comparison involving NULL does not match, except that `$eq: null`
    /// means `IS NULL` and `$ne: null` means `IS NOT NULL` (as in Dozer), since JSON has no
    /// other way to ask for them.
    fn test(self, left: &Value, right: &Value) -> bool {
        if right.is_null() {
            return match self {
                CmpOp::Eq => left.is_null(),
                CmpOp::Ne => !left.is_null(),
                _ => false,
            };
        }
        // JSON values only have equality; `sql_cmp` reports unequal ones as incomparable.
        if let (Value::Json(a), Value::Json(b)) = (left, right) {
            return match self {
                CmpOp::Eq => a == b,
                CmpOp::Ne => a != b,
                _ => false,
            };
        }
        match left.sql_cmp(right) {
            None => false,
            Some(order) => match self {
                CmpOp::Eq => order == Ordering::Equal,
                CmpOp::Ne => order != Ordering::Equal,
                CmpOp::Lt => order == Ordering::Less,
                CmpOp::Lte => order != Ordering::Greater,
                CmpOp::Gt => order == Ordering::Greater,
                CmpOp::Gte => order != Ordering::Less,
            },
        }
    }
}

impl Filter {
    /// Parses the value of `$filter` against `fields`.
    pub fn parse(json: &Json, fields: &[FieldDef]) -> Result<Filter, ApiError> {
        parse_filter(json, fields, "$filter")
    }

    /// Whether `row` satisfies the filter.
    pub fn matches(&self, row: &impl Record) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|f| f.matches(row)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(row)),
            Filter::Compare { field, op, value } => op.test(&row.field(*field), value),
            Filter::In { field, values } => {
                let left = row.field(*field);
                // `x IN (NULL)` is unknown in SQL, so a NULL in the list never matches.
                values
                    .iter()
                    .any(|v| !v.is_null() && CmpOp::Eq.test(&left, v))
            }
        }
    }
}

fn parse_filter(json: &Json, fields: &[FieldDef], path: &str) -> Result<Filter, ApiError> {
    let Json::Object(map) = json else {
        return Err(bad(format!(
            "{path}: expected an object such as {{\"field\": value}}, found {}",
            show(json)
        )));
    };
    let mut parts = Vec::with_capacity(map.len());
    for (key, value) in map {
        let key_path = format!("{path}.{key}");
        match key.as_str() {
            "$and" | "$or" => {
                let Json::Array(items) = value else {
                    return Err(bad(format!(
                        "{key_path}: expected an array of filters, found {}",
                        show(value)
                    )));
                };
                let subs = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_filter(item, fields, &format!("{key_path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(if key == "$and" {
                    Filter::And(subs)
                } else {
                    Filter::Or(subs)
                });
            }
            op if op.starts_with('$') => {
                return Err(bad(format!(
                    "{key_path}: unknown operator; expected a field name, $and or $or here"
                )));
            }
            name => {
                let index = resolve_field(fields, name, path)?;
                parts.push(parse_condition(index, &fields[index], value, &key_path)?);
            }
        }
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    })
}

/// The value of one field key: a plain value (`$eq`) or an object of operators.
fn parse_condition(
    index: usize,
    field: &FieldDef,
    json: &Json,
    path: &str,
) -> Result<Filter, ApiError> {
    // A Json column compared to an object is an equality test unless the object uses operators.
    let operators = match json {
        Json::Object(map)
            if field.ty != FieldType::Json || map.keys().any(|k| k.starts_with('$')) =>
        {
            map
        }
        _ => {
            return Ok(Filter::Compare {
                field: index,
                op: CmpOp::Eq,
                value: parse_value(json, field, path)?,
            })
        }
    };
    if operators.is_empty() {
        return Err(bad(format!(
            "{path}: empty condition; expected an operator: {OPERATORS}"
        )));
    }
    let mut parts = Vec::with_capacity(operators.len());
    for (name, value) in operators {
        let op_path = format!("{path}.{name}");
        if name == "$in" {
            let Json::Array(items) = value else {
                return Err(bad(format!(
                    "{op_path}: expected an array of values, found {}",
                    show(value)
                )));
            };
            let values = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_value(item, field, &format!("{op_path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            parts.push(Filter::In {
                field: index,
                values,
            });
            continue;
        }
        let op = CmpOp::from_name(name)
            .ok_or_else(|| bad(format!("{op_path}: unknown operator; expected {OPERATORS}")))?;
        if field.ty == FieldType::Json && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            return Err(bad(format!(
                "{op_path}: Json values have no order; use $eq, $ne or $in"
            )));
        }
        parts.push(Filter::Compare {
            field: index,
            op,
            value: parse_value(value, field, &op_path)?,
        });
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    })
}

fn parse_value(json: &Json, field: &FieldDef, path: &str) -> Result<Value, ApiError> {
    Value::from_json(json, field.ty).map_err(|e| {
        let hint = if json.is_array() {
            " (use {\"$in\": [...]} to match any of several values)"
        } else {
            ""
        };
        bad(format!("{path}: {e}{hint}"))
    })
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{row, Row};
    use super::*;
    use crate::types::FieldType;
    use serde_json::json;

    fn rows() -> Vec<Row> {
        vec![
            row(Some("UK"), 10, 1),
            row(Some("France"), 20, 2),
            row(None, 30, 3),
            row(Some("Spain"), 40, 4),
        ]
    }

    /// The `n` of the rows matching `filter`.
    fn select(filter: serde_json::Value) -> Vec<i64> {
        let f = Filter::parse(&filter, Row::FIELDS).unwrap();
        rows()
            .into_iter()
            .filter(|r| f.matches(r))
            .map(|r| r.n)
            .collect()
    }

    fn error(filter: serde_json::Value) -> String {
        Filter::parse(&filter, Row::FIELDS).unwrap_err().to_string()
    }

    #[test]
    fn equality_and_comparisons() {
        assert_eq!(select(json!({"Country": "UK"})), [1]);
        assert_eq!(
            select(json!({"country": {"$eq": "UK"}})),
            [1],
            "names are case-insensitive"
        );
        assert_eq!(select(json!({"Total": {"$gt": 15, "$lte": "30"}})), [2, 3]);
        assert_eq!(
            select(json!({"n": {"$gte": 2}, "Total": {"$lt": 40}})),
            [2, 3]
        );
        assert_eq!(select(json!({})), [1, 2, 3, 4]);
    }

    #[test]
    fn nulls_follow_sql_except_explicit_null() {
        assert_eq!(select(json!({"Country": null})), [3]);
        assert_eq!(select(json!({"Country": {"$eq": null}})), [3]);
        assert_eq!(select(json!({"Country": {"$ne": null}})), [1, 2, 4]);
        // NULL <> 'UK' is unknown in SQL: the NULL row is not a match.
        assert_eq!(select(json!({"Country": {"$ne": "UK"}})), [2, 4]);
        assert_eq!(select(json!({"Country": {"$lt": "V"}})), [1, 2, 4]);
        assert_eq!(select(json!({"Country": {"$gt": null}})), Vec::<i64>::new());
        assert_eq!(select(json!({"Country": {"$in": ["UK", null]}})), [1]);
    }

    #[test]
    fn in_and_or_nest() {
        assert_eq!(select(json!({"n": {"$in": [1, 4, 9]}})), [1, 4]);
        assert_eq!(select(json!({"n": {"$in": []}})), Vec::<i64>::new());
        let f = json!({"$or": [{"Country": "UK"}, {"$and": [{"n": {"$gt": 2}}, {"Country": {"$ne": null}}]}]});
        assert_eq!(select(f), [1, 4]);
        assert_eq!(select(json!({"$or": []})), Vec::<i64>::new());
        assert_eq!(select(json!({"$and": []})), [1, 2, 3, 4]);
        assert_eq!(
            select(json!({"$or": [{"n": 1}, {"n": 2}], "Total": 20})),
            [2]
        );
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(
            error(json!({"Foo": 1})),
            "unknown field `Foo` in $filter; fields are: Country, Total, n"
        );
        assert_eq!(
            error(json!({"$or": [{"n": 1}, {"Foo": 1}]})),
            "unknown field `Foo` in $filter.$or[1]; fields are: Country, Total, n"
        );
        assert_eq!(
            error(json!({"$or": [{"n": 1}, {"Country": {"$gtx": "A"}}]})),
            "$filter.$or[1].Country.$gtx: unknown operator; expected $eq, $ne, $lt, $lte, $gt, $gte or $in"
        );
        assert_eq!(error(json!({"n": "abc"})), "$filter.n: `abc` is not an Int");
        assert_eq!(
            error(json!({"n": {"$lt": 1.5}})),
            "$filter.n.$lt: expected a Int value, found 1.5"
        );
        assert_eq!(
            error(json!({"n": {"$in": [1, true]}})),
            "$filter.n.$in[1]: expected a Int value, found true"
        );
        assert_eq!(
            error(json!({"n": {"$in": 1}})),
            "$filter.n.$in: expected an array of values, found 1"
        );
        assert_eq!(
            error(json!({"n": [1, 2]})),
            "$filter.n: expected a Int value, found [1,2] (use {\"$in\": [...]} to match any of several values)"
        );
        assert_eq!(
            error(json!({"n": {}})),
            format!("$filter.n: empty condition; expected an operator: {OPERATORS}")
        );
        assert_eq!(
            error(json!({"$not": {}})),
            "$filter.$not: unknown operator; expected a field name, $and or $or here"
        );
        assert_eq!(
            error(json!({"$and": {}})),
            "$filter.$and: expected an array of filters, found {}"
        );
        assert_eq!(
            error(json!([1])),
            "$filter: expected an object such as {\"field\": value}, found [1]"
        );
        assert_eq!(
            error(json!({"$and": [{"n": 1}, 7]})),
            "$filter.$and[1]: expected an object such as {\"field\": value}, found 7"
        );
    }

    #[test]
    fn json_columns_compare_by_equality() {
        let fields = &[FieldDef::new("doc", FieldType::Json, true)];
        let f = Filter::parse(&json!({"doc": {"a": 1}}), fields).unwrap();
        assert_eq!(
            f,
            Filter::Compare {
                field: 0,
                op: CmpOp::Eq,
                value: Value::Json(json!({"a": 1}))
            }
        );
        assert!(CmpOp::Ne.test(&Value::Json(json!(1)), &Value::Json(json!(2))));
        let e = Filter::parse(&json!({"doc": {"$gt": 1}}), fields).unwrap_err();
        assert_eq!(
            e.to_string(),
            "$filter.doc.$gt: Json values have no order; use $eq, $ne or $in"
        );
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = json!("x".repeat(200));
        assert!(show(&long).ends_with("...") && show(&long).len() < 100);
    }
}
