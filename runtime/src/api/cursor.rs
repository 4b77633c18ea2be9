//! `$after` cursors: where the previous page of a query ended, so the next page starts right
//! after it whatever was inserted or deleted in between.
//!
//! A cursor is a position in the query's total order (`$order_by`, then primary key bytes):
//! the last row's sort values in the order-preserving encoding of
//! [`crate::cache::index_key`] and its primary key bytes. It also records the `$order_by` it
//! was made for (a position in one order means nothing in another) and a checksum over the
//! endpoint's name, so a cursor of another endpoint or a mistyped one is refused, not
//! misread. On the wire it is base64url without padding: opaque to clients.

use super::query::{OrderBy, Query};
use super::ApiError;
use crate::cache::index_key::{encode_value, encoded_len};
use crate::types::{FieldDef, Record, Value};
use std::cmp::Ordering;

const VERSION: u8 = 1;

/// A decoded cursor: the position just after the last row of a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The `$order_by` it was made for.
    pub order: Vec<OrderBy>,
    /// The encoded sort values, one slice per `order` entry, concatenated.
    pub values: Vec<u8>,
    /// Where each sort value ends in `values`.
    pub ends: Vec<usize>,
    /// The row's primary key bytes.
    pub key: Vec<u8>,
}

impl Cursor {
    /// The cursor after `row` (stored under primary key bytes `key`) in `query`'s order.
    pub fn after_row(query: &Query, key: &[u8], row: &impl Record) -> Result<Cursor, ApiError> {
        let mut values = Vec::new();
        let mut ends = Vec::new();
        for value in query.sort_key(row) {
            encode_value(&value, &mut values)
                .map_err(|e| ApiError::internal(format!("cannot make a cursor: {e}")))?;
            ends.push(values.len());
        }
        Ok(Cursor {
            order: query.order_by.clone(),
            values,
            ends,
            key: key.to_vec(),
        })
    }

    /// The text form, for the client.
    pub fn encode(&self, endpoint: &str) -> String {
        let mut bytes = vec![VERSION, self.order.len() as u8];
        for o in &self.order {
            bytes.extend_from_slice(&(o.field as u16).to_be_bytes());
            bytes.push(u8::from(o.descending));
        }
        bytes.extend_from_slice(&self.values);
        bytes.extend_from_slice(&self.key);
        let sum = checksum(endpoint, &bytes);
        bytes.extend_from_slice(&sum.to_be_bytes());
        base64url::encode(&bytes)
    }

    /// Parses the `$after` of `query` for an endpoint with `fields`; `valid_key` tells whether
    /// bytes are a primary key of the endpoint. Errors are 400s naming the problem.
    pub fn decode(
        text: &str,
        endpoint: &str,
        fields: &[FieldDef],
        query: &Query,
        valid_key: impl Fn(&[u8]) -> bool,
    ) -> Result<Cursor, ApiError> {
        let garbage = || {
            ApiError::bad_request(format!(
                "$after: `{}` is not a cursor of endpoint `{endpoint}`; send the x-dozer-next-cursor of a previous response unchanged",
                shorten(text)
            ))
        };
        let bytes = base64url::decode(text).ok_or_else(garbage)?;
        let (body, sum) = bytes.split_last_chunk::<4>().ok_or_else(garbage)?;
        if checksum(endpoint, body) != u32::from_be_bytes(*sum) {
            return Err(garbage());
        }
        let [version, n, rest @ ..] = body else {
            return Err(garbage());
        };
        if *version != VERSION {
            return Err(garbage());
        }
        let n = usize::from(*n);
        let mut order = Vec::with_capacity(n);
        let mut at = 0;
        for _ in 0..n {
            let entry = rest.get(at..at + 3).ok_or_else(garbage)?;
            let field = usize::from(u16::from_be_bytes([entry[0], entry[1]]));
            if field >= fields.len() || entry[2] > 1 {
                return Err(garbage());
            }
            order.push(OrderBy {
                field,
                descending: entry[2] == 1,
            });
            at += 3;
        }
        if order != query.order_by {
            return Err(ApiError::bad_request(format!(
                "$after: this cursor continues a query with $order_by {}, but this query has $order_by {}; send the same $order_by as the request that returned the cursor",
                describe(&order, fields),
                describe(&query.order_by, fields)
            )));
        }
        let rest = &rest[at..];
        let mut ends = Vec::with_capacity(n);
        let mut len = 0;
        for o in &order {
            len += encoded_len(&rest[len..], fields[o.field].ty).ok_or_else(garbage)?;
            ends.push(len);
        }
        let (values, key) = rest.split_at(len);
        if !valid_key(key) {
            return Err(garbage());
        }
        Ok(Cursor {
            order,
            values: values.to_vec(),
            ends,
            key: key.to_vec(),
        })
    }

    /// The encoded sort value of `order` entry `i`.
    fn value(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.values[start..self.ends[i]]
    }

    /// Whether the row with sort values `sort_key` and primary key bytes `key` comes after
    /// this position in the query's order.
    pub fn is_before(&self, sort_key: &[Value], key: &[u8]) -> bool {
        let mut encoded = Vec::new();
        for (i, (value, order)) in sort_key.iter().zip(&self.order).enumerate() {
            encoded.clear();
            if encode_value(value, &mut encoded).is_err() {
                return true;
            }
            let o = encoded.as_slice().cmp(self.value(i));
            let o = if order.descending { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o == Ordering::Greater;
            }
        }
        key > self.key.as_slice()
    }
}

/// `{"a": "asc", "b": "desc"}`, for messages.
fn describe(order: &[OrderBy], fields: &[FieldDef]) -> String {
    if order.is_empty() {
        return "(none: primary key order)".to_string();
    }
    let parts: Vec<String> = order
        .iter()
        .map(|o| {
            let dir = if o.descending { "desc" } else { "asc" };
            format!("\"{}\": \"{dir}\"", fields[o.field].name)
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// FNV-1a over the endpoint name and the cursor: catches typos and cursors of other
/// endpoints (it is not a signature: a cursor grants nothing a query could not ask for).
fn checksum(endpoint: &str, bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811C_9DC5;
    for &b in endpoint.as_bytes().iter().chain([0u8].iter()).chain(bytes) {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// RFC 4648 base64url without padding.
mod base64url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let digits = text
            .bytes()
            .map(|c| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32))
            .collect::<Option<Vec<u32>>>()?;
        if digits.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(digits.len() * 3 / 4);
        for chunk in digits.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, d)| n | (d << (18 - 6 * i)));
            let bytes = n.to_be_bytes();
            out.extend_from_slice(&bytes[1..chunk.len()]);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{row, Row};
    use super::*;
    use serde_json::json;

    fn query(json: serde_json::Value) -> Query {
        Query::parse(&json, Row::FIELDS).unwrap()
    }

    #[test]
    fn base64url_round_trips() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            let text = base64url::encode(&bytes);
            assert!(text
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
            assert_eq!(base64url::decode(&text), Some(bytes));
        }
        assert_eq!(base64url::encode(b"hello"), "aGVsbG8");
        assert_eq!(base64url::decode("a"), None);
        assert_eq!(base64url::decode("a+b/"), None);
    }

    #[test]
    fn cursors_round_trip_and_check_their_query() {
        let q = query(json!({"$order_by": {"Total": "desc", "Country": "asc"}}));
        let r = row(Some("UK"), 10, 1);
        let cursor = Cursor::after_row(&q, b"key", &r).unwrap();
        let text = cursor.encode("sales");
        let back = Cursor::decode(&text, "sales", Row::FIELDS, &q, |_| true).unwrap();
        assert_eq!(back, cursor);

        let other = query(json!({"$order_by": {"Total": "asc"}}));
        let e = Cursor::decode(&text, "sales", Row::FIELDS, &other, |_| true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "$after: this cursor continues a query with $order_by {\"Total\": \"desc\", \"Country\": \"asc\"}, but this query has $order_by {\"Total\": \"asc\"}; send the same $order_by as the request that returned the cursor"
        );
        let e = Cursor::decode(&text, "orders", Row::FIELDS, &q, |_| true).unwrap_err();
        assert!(
            e.to_string()
                .contains("is not a cursor of endpoint `orders`"),
            "{e}"
        );
        let e = Cursor::decode(&text, "sales", Row::FIELDS, &q, |_| false).unwrap_err();
        assert!(e.to_string().starts_with("$after: `"), "{e}");
        for garbage in ["", "!!", "AAAA", &text[1..], &format!("{text}A")] {
            assert!(Cursor::decode(garbage, "sales", Row::FIELDS, &q, |_| true).is_err());
        }
    }

    #[test]
    fn positions_compare_in_query_order() {
        let q = query(json!({"$order_by": {"Total": "desc"}}));
        let cursor = Cursor::after_row(&q, &[5], &row(Some("UK"), 10, 1)).unwrap();
        let total = |t: i64| vec![Value::Decimal(t.into())];
        assert!(cursor.is_before(&total(9), &[0]), "lower totals come later");
        assert!(!cursor.is_before(&total(11), &[9]));
        assert!(cursor.is_before(&total(10), &[6]), "ties: by key");
        assert!(!cursor.is_before(&total(10), &[5]), "strictly after");
        assert!(
            !cursor.is_before(&[Value::Null], &[9]),
            "NULLs come first descending"
        );
    }
}
