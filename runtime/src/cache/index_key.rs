//! Order-preserving, self-delimiting encoding of values: the keys of secondary index tables
//! and the positions held by `$after` cursors.
//!
//! For values `a` and `b` of one column type, `encode(a) < encode(b)` as bytes exactly when
//! `a.sort_cmp(b)` is `Less` (the API's ascending order, NULL last), and the encodings are equal
//! exactly when `sort_cmp` says `Equal`. No encoding is a prefix of another of the same type, so
//! a composite key is the concatenation of its columns' encodings and compares column by column.
//!
//! Layout: a tag byte, [`NOT_NULL`] then the payload, or [`NULL`] alone (NULL sorts last).
//! Payloads:
//! - Int: big-endian with the sign bit flipped; UInt: big-endian; Date: days from CE as an
//!   Int-like `i32`; Timestamp: seconds (as Int) then nanoseconds (big-endian `u32`).
//! - Float: Postgres' order (`-0 = 0`, NaN above +infinity, all NaNs equal): the IEEE bits of
//!   the canonical value, negatives inverted, positives with the sign bit flipped.
//! - Boolean: one byte, 0 or 1.
//! - String, Text, Binary: the bytes with `00` escaped as `00 FF`, ended by `00 01` (UTF-8
//!   byte order is code point order, which is Rust's `String` order).
//! - Decimal: scale-insensitive, so `1.0` and `1.00` encode identically (they compare equal,
//!   so an index orders them by primary key, as the unindexed sort does). A sign byte (`00`
//!   negative, `01` zero, `02` positive); for a non-zero value `0.D × 10^E` (D the digits without
//!   leading or trailing zeros) the byte `E + 128`, the ASCII digits of D and a `00`
//!   terminator, all inverted for negative values so that larger magnitudes sort first.
//!
//! Json has no order and cannot be encoded ([`indexable`]).

use crate::types::{Decimal, FieldType, Value};

/// The tag of a non-NULL value.
pub const NOT_NULL: u8 = 0x01;
/// The tag of NULL: greater than every non-NULL value's tag, so NULLs sort last.
pub const NULL: u8 = 0x02;

/// A value that has no order encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} values cannot be indexed or used in a cursor")]
pub struct UnindexableValue(pub &'static str);

/// Whether columns of `ty` can be indexed (everything but Json, which has no order).
pub fn indexable(ty: FieldType) -> bool {
    ty != FieldType::Json
}

/// Appends the encoding of `value` to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), UnindexableValue> {
    if let Value::Null = value {
        out.push(NULL);
        return Ok(());
    }
    out.push(NOT_NULL);
    match value {
        Value::Null => {}
        Value::Int(v) => out.extend_from_slice(&flip_i64(*v)),
        Value::UInt(v) => out.extend_from_slice(&v.to_be_bytes()),
        Value::Float(v) => out.extend_from_slice(&float_bits(v.0).to_be_bytes()),
        Value::Decimal(d) => encode_decimal(d, out),
        Value::Boolean(b) => out.push(u8::from(*b)),
        Value::String(s) => encode_bytes(s.as_bytes(), out),
        Value::Binary(b) => encode_bytes(b, out),
        Value::Date(d) => {
            use chrono::Datelike;
            let days = d.num_days_from_ce();
            out.extend_from_slice(&((days as u32) ^ (1 << 31)).to_be_bytes());
        }
        Value::Timestamp(t) => {
            out.extend_from_slice(&flip_i64(t.timestamp()));
            out.extend_from_slice(&t.timestamp_subsec_nanos().to_be_bytes());
        }
        Value::Json(_) => return Err(UnindexableValue("Json")),
    }
    Ok(())
}

/// The encoding of several values, concatenated.
pub fn encode_values<'a>(
    values: impl IntoIterator<Item = &'a Value>,
) -> Result<Vec<u8>, UnindexableValue> {
    let mut out = Vec::new();
    for value in values {
        encode_value(value, &mut out)?;
    }
    Ok(out)
}

/// The length of the encoded value of type `ty` at the start of `bytes`; `None` if the bytes
/// are not such an encoding (a forged or truncated cursor).
pub fn encoded_len(bytes: &[u8], ty: FieldType) -> Option<usize> {
    match *bytes.first()? {
        NULL => return Some(1),
        NOT_NULL => {}
        _ => return None,
    }
    let payload = &bytes[1..];
    let fixed = |n: usize| (payload.len() >= n).then_some(1 + n);
    match ty {
        FieldType::Int | FieldType::UInt | FieldType::Float => fixed(8),
        FieldType::Date => fixed(4),
        FieldType::Timestamp => fixed(12),
        FieldType::Boolean => match payload.first()? {
            0 | 1 => Some(2),
            _ => None,
        },
        FieldType::String | FieldType::Text | FieldType::Binary => {
            let mut i = 0;
            loop {
                match payload.get(i)? {
                    0 => match payload.get(i + 1)? {
                        0x01 => return Some(1 + i + 2),
                        0xFF => i += 2,
                        _ => return None,
                    },
                    _ => i += 1,
                }
            }
        }
        FieldType::Decimal => {
            let (end, digits) = match payload.first()? {
                0x01 => return Some(2),
                0x02 => (0x00, b'0'..=b'9'),
                0x00 => (0xFF, (0xFF - b'9')..=(0xFF - b'0')),
                _ => return None,
            };
            payload.get(1)?;
            let rest = &payload[2..];
            let n = rest.iter().position(|&b| b == end)?;
            rest[..n]
                .iter()
                .all(|b| digits.contains(b))
                .then_some(1 + 2 + n + 1)
        }
        FieldType::Json => None,
    }
}

/// The smallest byte string greater than every string that starts with `prefix`; `None` when
/// there is none (the prefix is empty or all `FF`): the range is unbounded above.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn flip_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn float_bits(v: f64) -> u64 {
    let canonical = if v.is_nan() {
        0x7FF8_0000_0000_0000
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    };
    if canonical & (1 << 63) != 0 {
        !canonical
    } else {
        canonical ^ (1 << 63)
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

fn encode_decimal(d: &Decimal, out: &mut Vec<u8>) {
    if d.is_zero() {
        out.push(0x01);
        return;
    }
    let negative = d.is_sign_negative();
    let digits = d.mantissa().unsigned_abs().to_string();
    // value = 0.<digits> × 10^(len - scale); trailing zeros do not change it.
    let exponent = digits.len() as i64 - i64::from(d.scale());
    let significant = digits.trim_end_matches('0');
    let start = out.len();
    out.push(if negative { 0x00 } else { 0x02 });
    // |exponent| ≤ 29 for any rust_decimal value, so the byte never wraps.
    out.push((exponent + 128) as u8);
    out.extend_from_slice(significant.as_bytes());
    out.push(0x00);
    if negative {
        for b in &mut out[start + 1..] {
            *b = 0xFF - *b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Date, Float, Timestamp};
    use chrono::TimeZone;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::cmp::Ordering;

    fn enc(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(v, &mut out).unwrap();
        out
    }

    fn random_value(rng: &mut StdRng, ty: FieldType) -> Value {
        if rng.random_ratio(1, 10) {
            return Value::Null;
        }
        match ty {
            FieldType::Int => Value::Int(match rng.random_range(0..4) {
                0 => rng.random(),
                1 => rng.random_range(-5..5),
                2 => *[i64::MIN, i64::MAX, 0, -1]
                    .get(rng.random_range(0..4))
                    .unwrap(),
                _ => rng.random_range(-1000..1000),
            }),
            FieldType::UInt => Value::UInt(if rng.random() {
                rng.random()
            } else {
                rng.random_range(0..10)
            }),
            FieldType::Float => Value::Float(Float(match rng.random_range(0..6) {
                0 => f64::NAN,
                1 => -0.0,
                2 => *[f64::INFINITY, f64::NEG_INFINITY, 0.0, f64::MIN_POSITIVE]
                    .get(rng.random_range(0..4))
                    .unwrap(),
                3 => f64::from_bits(rng.random()),
                _ => rng.random_range(-100.0..100.0),
            })),
            FieldType::Decimal => {
                let mantissa: i128 = match rng.random_range(0..3) {
                    0 => rng.random_range(-2000..2000),
                    1 => rng.random::<i64>() as i128,
                    _ => rng.random_range(-(1i128 << 95)..(1i128 << 95)),
                };
                let scale = rng.random_range(0..=28);
                Value::Decimal(Decimal::from_i128_with_scale(mantissa, scale))
            }
            FieldType::Boolean => Value::Boolean(rng.random()),
            FieldType::String | FieldType::Text => {
                let len = rng.random_range(0..5);
                let alphabet = ['\0', '\u{1}', 'a', 'b', 'é', '\u{ffff}', 'z'];
                Value::String(
                    (0..len)
                        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                        .collect(),
                )
            }
            FieldType::Binary => {
                let len = rng.random_range(0..5);
                let alphabet = [0u8, 1, 0xFE, 0xFF, 7];
                Value::Binary(
                    (0..len)
                        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                        .collect(),
                )
            }
            FieldType::Date => Value::Date(
                Date::from_num_days_from_ce_opt(rng.random_range(-100_000..1_000_000)).unwrap(),
            ),
            FieldType::Timestamp => {
                let secs = rng.random_range(-5_000_000_000i64..5_000_000_000);
                let nanos = rng.random_range(0..1_000_000_000);
                let ts: Timestamp = chrono::Utc.timestamp_opt(secs, nanos).unwrap();
                Value::Timestamp(ts)
            }
            FieldType::Json => unreachable!(),
        }
    }

    const TYPES: [FieldType; 10] = [
        FieldType::Int,
        FieldType::UInt,
        FieldType::Float,
        FieldType::Decimal,
        FieldType::Boolean,
        FieldType::String,
        FieldType::Text,
        FieldType::Date,
        FieldType::Timestamp,
        FieldType::Binary,
    ];

    #[test]
    fn byte_order_is_sort_order_for_every_type() {
        let mut rng = StdRng::seed_from_u64(7);
        for ty in TYPES {
            for _ in 0..3000 {
                let (a, b) = (random_value(&mut rng, ty), random_value(&mut rng, ty));
                let (ea, eb) = (enc(&a), enc(&b));
                assert_eq!(ea.cmp(&eb), a.sort_cmp(&b), "{ty}: {a:?} vs {b:?}");
                assert_eq!(encoded_len(&ea, ty), Some(ea.len()), "{ty}: {a:?}");
                // Self-delimiting: the length is found with anything after it.
                let mut longer = ea.clone();
                longer.extend_from_slice(&eb);
                assert_eq!(encoded_len(&longer, ty), Some(ea.len()), "{ty}: {a:?}");
            }
        }
    }

    #[test]
    fn composite_keys_compare_column_by_column() {
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..5000 {
            let (t1, t2) = (
                TYPES[rng.random_range(0..TYPES.len())],
                TYPES[rng.random_range(0..TYPES.len())],
            );
            let a = [random_value(&mut rng, t1), random_value(&mut rng, t2)];
            let b = [random_value(&mut rng, t1), random_value(&mut rng, t2)];
            let expected = a[0].sort_cmp(&b[0]).then(a[1].sort_cmp(&b[1]));
            let (ea, eb) = (encode_values(&a).unwrap(), encode_values(&b).unwrap());
            assert_eq!(ea.cmp(&eb), expected, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn decimals_ignore_scale() {
        let d = |s: &str| Value::Decimal(s.parse().unwrap());
        assert_eq!(enc(&d("1.0")), enc(&d("1.00")));
        assert_eq!(enc(&d("1")), enc(&d("1.000")));
        assert_eq!(enc(&d("-0.0")), enc(&d("0")));
        assert_eq!(enc(&d("100")), enc(&d("100.00")));
        let ordered = [
            "-1000", "-999.5", "-10", "-1.5", "-1", "-0.105", "-0.1", "-0.00001", "0", "0.00001",
            "0.1", "0.105", "1", "1.5", "10", "999.5", "1000",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(
                enc(&d(pair[0])).cmp(&enc(&d(pair[1]))),
                Ordering::Less,
                "{pair:?}"
            );
        }
    }

    #[test]
    fn nulls_sort_last_and_json_is_refused() {
        assert!(enc(&Value::Int(i64::MAX)) < enc(&Value::Null));
        assert!(enc(&Value::String("\u{10ffff}".into())) < enc(&Value::Null));
        assert_eq!(
            encode_value(&Value::Json(serde_json::json!(1)), &mut Vec::new()),
            Err(UnindexableValue("Json"))
        );
        assert!(!indexable(FieldType::Json) && indexable(FieldType::Decimal));
    }

    #[test]
    fn malformed_encodings_are_detected() {
        assert_eq!(encoded_len(&[], FieldType::Int), None);
        assert_eq!(encoded_len(&[7], FieldType::Int), None);
        assert_eq!(encoded_len(&[NOT_NULL, 1, 2], FieldType::Int), None);
        assert_eq!(
            encoded_len(&[NOT_NULL, b'a', 0, 7], FieldType::String),
            None
        );
        assert_eq!(encoded_len(&[NOT_NULL, b'a'], FieldType::String), None);
        assert_eq!(encoded_len(&[NOT_NULL, 2], FieldType::Boolean), None);
        assert_eq!(
            encoded_len(&[NOT_NULL, 0x02, 128, b'x', 0], FieldType::Decimal),
            None
        );
        assert_eq!(encoded_len(&[NULL], FieldType::Json), Some(1));
        assert_eq!(encoded_len(&[NOT_NULL], FieldType::Json), None);
    }

    #[test]
    fn prefix_ends_bound_every_extension() {
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(&[]), None);
    }
}
