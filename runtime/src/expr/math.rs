//! Numeric functions with Postgres' rounding: numeric rounds half away from zero, double
//! precision half to even.

use super::EvalError;
use crate::types::{Decimal, Float};
use rust_decimal::RoundingStrategy;

/// Numbers `ABS`, `ROUND`, `CEIL` and `FLOOR` apply to.
pub trait Rounding: Sized {
    fn abs(self) -> Result<Self, EvalError>;
    fn round(self) -> Self;
    fn ceil(self) -> Self;
    fn floor(self) -> Self;
}

impl Rounding for i64 {
    fn abs(self) -> Result<Self, EvalError> {
        self.checked_abs().ok_or(EvalError::Overflow("Int"))
    }
    fn round(self) -> Self {
        self
    }
    fn ceil(self) -> Self {
        self
    }
    fn floor(self) -> Self {
        self
    }
}

impl Rounding for u64 {
    fn abs(self) -> Result<Self, EvalError> {
        Ok(self)
    }
    fn round(self) -> Self {
        self
    }
    fn ceil(self) -> Self {
        self
    }
    fn floor(self) -> Self {
        self
    }
}

impl Rounding for Decimal {
    fn abs(self) -> Result<Self, EvalError> {
        Ok(Decimal::abs(&self))
    }
    fn round(self) -> Self {
        self.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
    }
    fn ceil(self) -> Self {
        // Numeric has no negative zero: CEIL(-0.5) is 0.
        let c = Decimal::ceil(&self);
        if c.is_zero() {
            Decimal::ZERO
        } else {
            c
        }
    }
    fn floor(self) -> Self {
        Decimal::floor(&self)
    }
}

impl Rounding for Float {
    fn abs(self) -> Result<Self, EvalError> {
        Ok(Float(self.0.abs()))
    }
    fn round(self) -> Self {
        Float(self.0.round_ties_even())
    }
    fn ceil(self) -> Self {
        Float(self.0.ceil())
    }
    fn floor(self) -> Self {
        Float(self.0.floor())
    }
}

pub fn abs<T: Rounding>(a: Option<T>) -> Result<Option<T>, EvalError> {
    a.map(Rounding::abs).transpose()
}

pub fn round<T: Rounding>(a: Option<T>) -> Option<T> {
    a.map(Rounding::round)
}

pub fn ceil<T: Rounding>(a: Option<T>) -> Option<T> {
    a.map(Rounding::ceil)
}

pub fn floor<T: Rounding>(a: Option<T>) -> Option<T> {
    a.map(Rounding::floor)
}

/// `ROUND(x, places)` on a decimal: half away from zero, with exactly `places` decimal places
/// (a negative number rounds to tens, hundreds, ...), as Postgres.
pub fn round_to(x: Option<Decimal>, places: Option<i64>) -> Result<Option<Decimal>, EvalError> {
    let (Some(x), Some(places)) = (x, places) else {
        return Ok(None);
    };
    if places >= 0 {
        let places = places.min(28) as u32;
        let mut rounded = x.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(places);
        return Ok(Some(rounded));
    }
    let power = Decimal::from_i128_with_scale(10i128.pow(places.unsigned_abs().min(28) as u32), 0);
    let scaled = x
        .checked_div(power)
        .ok_or(EvalError::Overflow("Decimal"))?
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    scaled
        .checked_mul(power)
        .map(Some)
        .ok_or(EvalError::Overflow("Decimal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn rounding_follows_postgres() {
        assert_eq!(round(Some(d("-2.5"))), Some(d("-3")));
        assert_eq!(round(Some(Float(2.5))), Some(Float(2.0)));
        assert_eq!(
            round_to(Some(d("2.5")), Some(2))
                .unwrap()
                .unwrap()
                .to_string(),
            "2.50"
        );
        assert_eq!(
            round_to(Some(d("1.005")), Some(2)).unwrap(),
            Some(d("1.01"))
        );
        assert_eq!(
            round_to(Some(d("1250")), Some(-2)).unwrap(),
            Some(d("1300"))
        );
        assert_eq!(ceil(Some(d("-1.5"))), Some(d("-1")));
        assert_eq!(floor(Some(Float(-1.5))), Some(Float(-2.0)));
        assert!(abs(Some(i64::MIN)).is_err());
    }
}
