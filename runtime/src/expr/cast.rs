//! CAST: numeric promotions (implicit) and the explicit conversions Postgres allows, with its
//! rounding, its accepted spellings and its text forms.

use super::EvalError;
use crate::types::{Date, Decimal, Float, Timestamp};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::RoundingStrategy;

/// Implicit and explicit numeric casts (Postgres' numeric promotion: Int → Decimal → Float).
pub trait Cast<U>: Sized {
    fn cast(self) -> Result<U, EvalError>;
}

#[inline]
pub fn cast<T: Cast<U>, U>(a: Option<T>) -> Result<Option<U>, EvalError> {
    a.map(Cast::cast).transpose()
}

impl Cast<Decimal> for i64 {
    fn cast(self) -> Result<Decimal, EvalError> {
        Ok(Decimal::from(self))
    }
}
impl Cast<Decimal> for u64 {
    fn cast(self) -> Result<Decimal, EvalError> {
        Ok(Decimal::from(self))
    }
}
impl Cast<Float> for i64 {
    fn cast(self) -> Result<Float, EvalError> {
        Ok(Float(self as f64))
    }
}
impl Cast<Float> for u64 {
    fn cast(self) -> Result<Float, EvalError> {
        Ok(Float(self as f64))
    }
}
impl Cast<Float> for Decimal {
    fn cast(self) -> Result<Float, EvalError> {
        Ok(Float(self.to_f64().unwrap_or(f64::NAN)))
    }
}
impl Cast<i64> for u64 {
    fn cast(self) -> Result<i64, EvalError> {
        i64::try_from(self).map_err(|_| EvalError::Overflow("Int"))
    }
}
impl Cast<Decimal> for Float {
    fn cast(self) -> Result<Decimal, EvalError> {
        Decimal::try_from(self.0).map_err(|_| EvalError::Overflow("Decimal"))
    }
}

fn invalid(ty: &str, text: &str) -> EvalError {
    EvalError::Invalid(format!("invalid input syntax for type {ty}: \"{text}\""))
}

impl Cast<i64> for Decimal {
    fn cast(self) -> Result<i64, EvalError> {
        self.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
            .to_i64()
            .ok_or(EvalError::Overflow("Int"))
    }
}
impl Cast<i64> for Float {
    fn cast(self) -> Result<i64, EvalError> {
        let r = self.0.round_ties_even();
        if r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64 {
            Ok(r as i64)
        } else {
            Err(EvalError::Overflow("Int"))
        }
    }
}
impl Cast<u64> for i64 {
    fn cast(self) -> Result<u64, EvalError> {
        u64::try_from(self).map_err(|_| EvalError::Overflow("UInt"))
    }
}
impl Cast<i64> for bool {
    fn cast(self) -> Result<i64, EvalError> {
        Ok(i64::from(self))
    }
}
impl Cast<bool> for i64 {
    fn cast(self) -> Result<bool, EvalError> {
        Ok(self != 0)
    }
}
impl Cast<Date> for Timestamp {
    fn cast(self) -> Result<Date, EvalError> {
        Ok(self.date_naive())
    }
}
impl Cast<Timestamp> for Date {
    fn cast(self) -> Result<Timestamp, EvalError> {
        self.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or(EvalError::Overflow("Timestamp"))
    }
}

impl Cast<i64> for String {
    fn cast(self) -> Result<i64, EvalError> {
        self.trim().parse().map_err(|_| invalid("integer", &self))
    }
}
impl Cast<u64> for String {
    fn cast(self) -> Result<u64, EvalError> {
        self.trim()
            .parse()
            .map_err(|_| invalid("unsigned integer", &self))
    }
}
impl Cast<Decimal> for String {
    fn cast(self) -> Result<Decimal, EvalError> {
        let t = self.trim();
        t.parse()
            .or_else(|_| Decimal::from_scientific(t))
            .map_err(|_| invalid("numeric", &self))
    }
}
impl Cast<Float> for String {
    fn cast(self) -> Result<Float, EvalError> {
        let t = self.trim();
        let v = match t.to_ascii_lowercase().as_str() {
            "nan" => f64::NAN,
            "infinity" | "+infinity" | "inf" => f64::INFINITY,
            "-infinity" | "-inf" => f64::NEG_INFINITY,
            _ => t.parse().map_err(|_| invalid("double precision", &self))?,
        };
        Ok(Float(v))
    }
}
impl Cast<bool> for String {
    fn cast(self) -> Result<bool, EvalError> {
        match self.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => Ok(true),
            "f" | "false" | "n" | "no" | "off" | "0" => Ok(false),
            _ => Err(invalid("boolean", &self)),
        }
    }
}
impl Cast<Date> for String {
    fn cast(self) -> Result<Date, EvalError> {
        Date::parse_from_str(self.trim(), "%Y-%m-%d").map_err(|_| invalid("date", &self))
    }
}
impl Cast<Timestamp> for String {
    fn cast(self) -> Result<Timestamp, EvalError> {
        let t = self.trim();
        if let Ok(ts) = chrono::DateTime::parse_from_rfc3339(t) {
            return Ok(ts.to_utc());
        }
        for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
            if let Ok(ts) = chrono::DateTime::parse_from_str(t, format) {
                return Ok(ts.to_utc());
            }
        }
        for format in [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, format) {
                return Ok(n.and_utc());
            }
        }
        Date::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| n.and_utc())
            .ok_or_else(|| invalid("timestamp", &self))
    }
}

/// The text form of a value, as Postgres prints it (`CAST(x AS TEXT)`, `CONCAT`). Timestamps are
/// UTC and printed without an offset, as a `timestamp` column.
pub trait ToText {
    fn to_text(&self) -> String;
}

impl ToText for String {
    fn to_text(&self) -> String {
        self.clone()
    }
}
impl ToText for i64 {
    fn to_text(&self) -> String {
        self.to_string()
    }
}
impl ToText for u64 {
    fn to_text(&self) -> String {
        self.to_string()
    }
}
impl ToText for Decimal {
    fn to_text(&self) -> String {
        self.to_string()
    }
}
impl ToText for bool {
    fn to_text(&self) -> String {
        if *self { "true" } else { "false" }.to_string()
    }
}
impl ToText for Date {
    fn to_text(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}
impl ToText for Timestamp {
    fn to_text(&self) -> String {
        let t = self.naive_utc();
        let mut text = t.format("%Y-%m-%d %H:%M:%S").to_string();
        let micros = t.and_utc().timestamp_subsec_micros();
        if micros != 0 {
            let fraction = format!("{micros:06}");
            text.push('.');
            text.push_str(fraction.trim_end_matches('0'));
        }
        text
    }
}
impl ToText for Float {
    /// Shortest round-trip digits; exponent form below 1e-4 and from 1e15, as `float8out`.
    fn to_text(&self) -> String {
        let v = self.0;
        if v.is_nan() {
            return "NaN".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
        }
        if v == 0.0 {
            return if v.is_sign_negative() { "-0" } else { "0" }.into();
        }
        let scientific = format!("{v:e}");
        let exponent: i32 = scientific
            .split_once('e')
            .and_then(|(_, e)| e.parse().ok())
            .unwrap_or(0);
        if (-4..15).contains(&exponent) {
            return format!("{v}");
        }
        match scientific.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => scientific,
        }
    }
}

impl<T: ToText> Cast<String> for T {
    fn cast(self) -> Result<String, EvalError> {
        Ok(self.to_text())
    }
}

/// A Boolean as `CONCAT` prints it: `t` or `f` (Postgres' `boolout`; a CAST gives `true`).
pub fn bool_text(v: Option<bool>) -> Option<String> {
    v.map(|b| if b { "t" } else { "f" }.to_string())
}

/// The text of an optional value (`CONCAT` skips NULLs).
pub fn text_of<T: ToText>(v: Option<T>) -> Option<String> {
    v.map(|v| v.to_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_casts_follow_postgres() {
        assert_eq!(Cast::<i64>::cast(Decimal::new(25, 1)), Ok(3));
        assert_eq!(Cast::<i64>::cast(Decimal::new(-25, 1)), Ok(-3));
        assert_eq!(Cast::<i64>::cast(Float(2.5)), Ok(2));
        assert_eq!(Cast::<i64>::cast(" 42 ".to_string()), Ok(42));
        assert!(Cast::<i64>::cast("4x".to_string()).is_err());
        assert_eq!(Cast::<bool>::cast("Yes".to_string()), Ok(true));
        assert_eq!(Float(1e20).to_text(), "1e+20");
        assert_eq!(Float(0.00001).to_text(), "1e-05");
        assert_eq!(Float(1.5).to_text(), "1.5");
        assert_eq!(Float(123456.25).to_text(), "123456.25");
        assert_eq!(Float(999999999999999.9).to_text(), "999999999999999.9");
        let offset: Timestamp = Cast::cast("2024-01-01 10:00:00+02".to_string()).unwrap();
        assert_eq!(offset.to_text(), "2024-01-01 08:00:00");
        let ts: Timestamp = "2011-01-01T10:00:00.5Z".parse().unwrap();
        assert_eq!(ts.to_text(), "2011-01-01 10:00:00.5");
    }
}
