//! Dynamic values: used where types are only known at run time (source decoding, API filters).
//! The per-row pipeline itself works on typed structs.

use super::{Date, Decimal, FieldType, Float, Json, Timestamp};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One SQL value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Int(i64),
    UInt(u64),
    Float(Float),
    Decimal(Decimal),
    Boolean(bool),
    /// `String` and `Text` columns.
    String(String),
    Date(Date),
    Timestamp(Timestamp),
    Json(Json),
    Binary(Vec<u8>),
}

/// A value that does not fit the declared type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TypeError {
    pub message: String,
}

impl TypeError {
    pub fn new(message: impl Into<String>) -> Self {
        TypeError {
            message: message.into(),
        }
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Parses text (a CSV field, a URL segment) as a value of `ty`. Empty text is not NULL here:
    /// callers decide what means NULL.
    pub fn parse(text: &str, ty: FieldType) -> Result<Value, TypeError> {
        Ok(match ty {
            FieldType::Int => Value::Int(i64::parse_text(text)?),
            FieldType::UInt => Value::UInt(u64::parse_text(text)?),
            FieldType::Float => Value::Float(Float::parse_text(text)?),
            FieldType::Decimal => Value::Decimal(Decimal::parse_text(text)?),
            FieldType::Boolean => Value::Boolean(bool::parse_text(text)?),
            FieldType::String | FieldType::Text => Value::String(text.to_string()),
            FieldType::Date => Value::Date(Date::parse_text(text)?),
            FieldType::Timestamp => Value::Timestamp(Timestamp::parse_text(text)?),
            FieldType::Json => Value::Json(Json::parse_text(text)?),
            FieldType::Binary => Value::Binary(Vec::<u8>::parse_text(text)?),
        })
    }

    /// Converts a JSON value (from an API request) to a value of `ty`.
    pub fn from_json(json: &serde_json::Value, ty: FieldType) -> Result<Value, TypeError> {
        use serde_json::Value as J;
        let mismatch = || TypeError::new(format!("expected a {ty} value, found {json}"));
        Ok(match (json, ty) {
            (J::Null, _) => Value::Null,
            (_, FieldType::Json) => Value::Json(json.clone()),
            (J::String(s), _) => Value::parse(s, ty)?,
            (J::Number(n), FieldType::Int) => Value::Int(n.as_i64().ok_or_else(mismatch)?),
            (J::Number(n), FieldType::UInt) => Value::UInt(n.as_u64().ok_or_else(mismatch)?),
            (J::Number(n), FieldType::Float) => {
                Value::Float(Float(n.as_f64().ok_or_else(mismatch)?))
            }
            (J::Number(n), FieldType::Decimal) => {
                Value::Decimal(Decimal::parse_text(&n.to_string())?)
            }
            (J::Bool(b), FieldType::Boolean) => Value::Boolean(*b),
            _ => return Err(mismatch()),
        })
    }

    /// SQL comparison of two non-NULL values of the same type; `None` when either is NULL or
    /// the types differ.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Int(a), Int(b)) => Some(a.cmp(b)),
            (UInt(a), UInt(b)) => Some(a.cmp(b)),
            (Float(a), Float(b)) => Some(a.cmp(b)),
            (Decimal(a), Decimal(b)) => Some(a.cmp(b)),
            (Boolean(a), Boolean(b)) => Some(a.cmp(b)),
            (String(a), String(b)) => Some(a.cmp(b)),
            (Date(a), Date(b)) => Some(a.cmp(b)),
            (Timestamp(a), Timestamp(b)) => Some(a.cmp(b)),
            (Binary(a), Binary(b)) => Some(a.cmp(b)),
            (Json(a), Json(b)) => (a == b).then_some(Ordering::Equal),
            _ => None,
        }
    }

    /// Total order for sorting API results: NULLs last (as Postgres sorts ascending).
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        match (self.is_null(), other.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.sql_cmp(other).unwrap_or(Ordering::Equal),
        }
    }
}

/// A Rust type that stores one SQL column type. Nullable columns are `Option<T>`.
pub trait FieldValue: Clone + Sized {
    const TYPE: FieldType;
    fn into_value(self) -> Value;
    fn from_value(value: Value) -> Result<Self, TypeError>;
    fn parse_text(text: &str) -> Result<Self, TypeError>;
    /// Parses the bytes of a text field (a CSV field) as [`parse_text`](Self::parse_text) does.
    fn parse_bytes(bytes: &[u8]) -> Result<Self, TypeError> {
        parse_utf8(bytes).and_then(Self::parse_text)
    }
}

macro_rules! field_value {
    ($ty:ty, $variant:ident, $field_type:ident) => {
        impl FieldValue for $ty {
            const TYPE: FieldType = FieldType::$field_type;
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
            fn from_value(value: Value) -> Result<Self, TypeError> {
                match value {
                    Value::$variant(v) => Ok(v),
                    other => Err(TypeError::new(format!(
                        "expected a {} value, found {:?}",
                        FieldType::$field_type,
                        other
                    ))),
                }
            }
            fn parse_text(text: &str) -> Result<Self, TypeError> {
                parse::$variant(text)
            }
            fn parse_bytes(bytes: &[u8]) -> Result<Self, TypeError> {
                match fast::$variant(bytes) {
                    Some(value) => Ok(value),
                    None => parse_utf8(bytes).and_then(parse::$variant),
                }
            }
        }
    };
}

/// Text bytes as `str`, or the error naming them.
fn parse_utf8(bytes: &[u8]) -> Result<&str, TypeError> {
    std::str::from_utf8(bytes).map_err(|_| {
        TypeError::new(format!(
            "`{}` is not valid UTF-8",
            String::from_utf8_lossy(bytes)
        ))
    })
}

/// Parsers straight from bytes for the shapes files hold most often; `None` leaves the text to
/// the general parsers (which accept or reject it).
#[allow(non_snake_case)]
mod fast {
    /// `[-+]?[0-9]{1,18}`: cannot overflow.
    pub fn Int(b: &[u8]) -> Option<i64> {
        let (negative, digits) = match b {
            [b'-', rest @ ..] => (true, rest),
            [b'+', rest @ ..] => (false, rest),
            _ => (false, b),
        };
        if digits.is_empty() || digits.len() > 18 {
            return None;
        }
        let mut n: i64 = 0;
        for &c in digits {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(if negative { -n } else { n })
    }
    pub fn Timestamp(b: &[u8]) -> Option<super::Timestamp> {
        super::iso::fast_timestamp(b)
    }
    pub fn String(b: &[u8]) -> Option<std::string::String> {
        std::string::String::from_utf8(b.to_vec()).ok()
    }
    pub fn UInt(_: &[u8]) -> Option<u64> {
        None
    }
    pub fn Float(_: &[u8]) -> Option<super::Float> {
        None
    }
    pub fn Decimal(_: &[u8]) -> Option<super::Decimal> {
        None
    }
    pub fn Boolean(_: &[u8]) -> Option<bool> {
        None
    }
    pub fn Date(_: &[u8]) -> Option<super::Date> {
        None
    }
    pub fn Json(_: &[u8]) -> Option<super::Json> {
        None
    }
    pub fn Binary(_: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

field_value!(i64, Int, Int);
field_value!(u64, UInt, UInt);
field_value!(Float, Float, Float);
field_value!(Decimal, Decimal, Decimal);
field_value!(bool, Boolean, Boolean);
field_value!(String, String, String);
field_value!(Date, Date, Date);
field_value!(Timestamp, Timestamp, Timestamp);
field_value!(Json, Json, Json);
field_value!(Vec<u8>, Binary, Binary);

/// `Option<T>` is the nullable form of every field type.
impl<T: FieldValue> FieldValue for Option<T> {
    const TYPE: FieldType = T::TYPE;
    fn into_value(self) -> Value {
        self.map_or(Value::Null, T::into_value)
    }
    fn from_value(value: Value) -> Result<Self, TypeError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
    fn parse_text(text: &str) -> Result<Self, TypeError> {
        if text.eq_ignore_ascii_case("null") {
            Ok(None)
        } else {
            T::parse_text(text).map(Some)
        }
    }
}

/// A fast path for the ISO 8601 timestamps files usually hold.
mod iso {
    use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};

    fn digits(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    }

    /// `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±HH:MM]`; `None` means "not this shape": the caller
    /// falls back to the general parsers, so anything unusual still parses (or errors) there.
    pub fn fast_timestamp(b: &[u8]) -> Option<super::super::Timestamp> {
        if b.len() < 19
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let date = NaiveDate::from_ymd_opt(
            digits(&b[0..4])? as i32,
            digits(&b[5..7])?,
            digits(&b[8..10])?,
        )?;
        let (mut rest, mut nanos) = (&b[19..], 0u32);
        if let Some(fraction) = rest.strip_prefix(b".") {
            let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 || len > 9 {
                return None;
            }
            nanos = digits(&fraction[..len])? * 10u32.pow(9 - len as u32);
            rest = &fraction[len..];
        }
        let offset_seconds: i32 = match rest {
            [] | [b'Z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let minutes = digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?;
                let seconds = i32::try_from(minutes * 60).ok()?;
                if *sign == b'-' {
                    -seconds
                } else {
                    seconds
                }
            }
            _ => return None,
        };
        let time = NaiveTime::from_hms_nano_opt(
            digits(&b[11..13])?,
            digits(&b[14..16])?,
            digits(&b[17..19])?,
            nanos,
        )?;
        let utc = date.and_time(time) - chrono::Duration::seconds(i64::from(offset_seconds));
        Some(Utc.from_utc_datetime(&utc))
    }
}

/// Text parsers, one per value variant (named after it so the macro above can find them).
#[allow(non_snake_case)]
mod parse {
    use super::*;

    pub fn Int(text: &str) -> Result<i64, TypeError> {
        text.trim()
            .parse()
            .map_err(|_| TypeError::new(format!("`{text}` is not an Int")))
    }
    pub fn UInt(text: &str) -> Result<u64, TypeError> {
        text.trim()
            .parse()
            .map_err(|_| TypeError::new(format!("`{text}` is not a UInt")))
    }
    pub fn Float(text: &str) -> Result<super::Float, TypeError> {
        let t = text.trim();
        let v = match t.to_ascii_lowercase().as_str() {
            "nan" => f64::NAN,
            "infinity" | "inf" => f64::INFINITY,
            "-infinity" | "-inf" => f64::NEG_INFINITY,
            _ => t
                .parse()
                .map_err(|_| TypeError::new(format!("`{text}` is not a Float")))?,
        };
        Ok(super::Float(v))
    }
    pub fn Decimal(text: &str) -> Result<super::Decimal, TypeError> {
        let t = text.trim();
        t.parse::<super::Decimal>()
            .or_else(|_| super::Decimal::from_scientific(t))
            .map_err(|_| TypeError::new(format!("`{text}` is not a Decimal")))
    }
    pub fn Boolean(text: &str) -> Result<bool, TypeError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" => Ok(true),
            "false" | "f" | "no" | "n" | "0" => Ok(false),
            _ => Err(TypeError::new(format!(
                "`{text}` is not a Boolean (use true or false)"
            ))),
        }
    }
    pub fn String(text: &str) -> Result<std::string::String, TypeError> {
        Ok(text.to_string())
    }
    pub fn Date(text: &str) -> Result<super::Date, TypeError> {
        super::Date::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| TypeError::new(format!("`{text}` is not a Date (expected YYYY-MM-DD)")))
    }
    /// ISO 8601 with or without an offset; no offset means UTC.
    pub fn Timestamp(text: &str) -> Result<super::Timestamp, TypeError> {
        let t = text.trim();
        // The common shapes without chrono's format interpreter, which dominated CSV decoding.
        if let Some(ts) = super::iso::fast_timestamp(t.as_bytes()) {
            return Ok(ts);
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(dt.with_timezone(&Utc));
        }
        for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
            if let Ok(dt) = DateTime::parse_from_str(t, format) {
                return Ok(dt.with_timezone(&Utc));
            }
        }
        for format in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
                return Ok(Utc.from_utc_datetime(&naive));
            }
        }
        if let Ok(date) = super::Date::parse_from_str(t, "%Y-%m-%d") {
            return Ok(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default()));
        }
        Err(TypeError::new(format!(
            "`{text}` is not a Timestamp (expected ISO 8601, e.g. 2010-12-01T08:26:00 or 2010-12-01T08:26:00+01:00)"
        )))
    }
    pub fn Json(text: &str) -> Result<super::Json, TypeError> {
        serde_json::from_str(text).map_err(|e| TypeError::new(format!("not valid JSON: {e}")))
    }
    /// Binary as Postgres' hex format (`\x0102`) or plain hex.
    pub fn Binary(text: &str) -> Result<Vec<u8>, TypeError> {
        let hex = text.trim().strip_prefix("\\x").unwrap_or(text.trim());
        if !hex.len().is_multiple_of(2) {
            return Err(TypeError::new(format!(
                "`{text}` is not hex-encoded Binary"
            )));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&hex[i..i + 2], 16)
                    .map_err(|_| TypeError::new(format!("`{text}` is not hex-encoded Binary")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_without_offset_are_utc() {
        let a = Timestamp::parse_text("2010-12-01T08:26:00").unwrap();
        let b = Timestamp::parse_text("2010-12-01T09:26:00+01:00").unwrap();
        let c = Timestamp::parse_text("2010-12-01 08:26:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn the_fast_timestamp_path_agrees_with_chrono() {
        for text in [
            "2010-12-01T08:26:00",
            "2010-12-01 08:26:00",
            "2010-12-01T08:26:00.5",
            "2010-12-01T08:26:00.123456789Z",
            "2010-12-01T08:26:00+05:30",
            "2010-12-01 08:26:00-01:00",
            "2024-02-29T23:59:59Z",
        ] {
            let fast =
                iso::fast_timestamp(text.as_bytes()).unwrap_or_else(|| panic!("{text}: not fast"));
            let general = chrono::DateTime::parse_from_rfc3339(&text.replacen(' ', "T", 1))
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_else(|_| {
                    Utc.from_utc_datetime(
                        &NaiveDateTime::parse_from_str(
                            text,
                            if text.contains('T') {
                                "%Y-%m-%dT%H:%M:%S%.f"
                            } else {
                                "%Y-%m-%d %H:%M:%S%.f"
                            },
                        )
                        .unwrap(),
                    )
                });
            assert_eq!(fast, general, "{text}");
        }
        // Not the fast shape: left to the general parsers (which accept or reject them).
        for text in [
            "2010-12-01",
            "2010-12-01T08:26",
            "2010-02-30T08:26:00",
            "2010-12-01T08:26:00+0530",
            "x010-12-01T08:26:00",
        ] {
            assert!(iso::fast_timestamp(text.as_bytes()).is_none(), "{text}");
        }
        assert!(Timestamp::parse_text("2010-12-01T08:26").is_ok());
        assert!(Timestamp::parse_text("2010-02-30T08:26:00").is_err());
    }

    #[test]
    fn bytes_parse_as_text_does() {
        for text in [
            "0",
            "-12",
            "+7",
            " 42 ",
            "999999999999999999",
            "9223372036854775807",
            "1e3",
            "x",
            "",
        ] {
            assert_eq!(
                i64::parse_bytes(text.as_bytes()),
                i64::parse_text(text),
                "{text:?}"
            );
        }
        for text in [
            "2010-12-01T08:26:00",
            " 2010-12-01 08:26:00 ",
            "2010-12-01",
            "nope",
        ] {
            assert_eq!(
                Timestamp::parse_bytes(text.as_bytes()),
                Timestamp::parse_text(text),
                "{text:?}"
            );
        }
        assert_eq!(String::parse_bytes(" a ".as_bytes()), Ok(" a ".to_string()));
        let error = String::parse_bytes(&[0x61, 0xff]).unwrap_err();
        assert!(error.message.contains("not valid UTF-8"), "{error}");
    }

    #[test]
    fn decimals_are_exact() {
        let d = Decimal::parse_text("2.55").unwrap();
        assert_eq!(d.to_string(), "2.55");
        assert!(Decimal::parse_text("abc").is_err());
    }

    #[test]
    fn json_requests_convert_to_typed_values() {
        let v = Value::from_json(&serde_json::json!(12), FieldType::Decimal).unwrap();
        assert_eq!(v, Value::Decimal(Decimal::new(12, 0)));
        assert!(Value::from_json(&serde_json::json!("x"), FieldType::Int).is_err());
        assert!(Value::from_json(&serde_json::json!(true), FieldType::Int).is_err());
    }
}
