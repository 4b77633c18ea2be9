//! SQL scalar semantics for generated expressions, following Postgres: three-valued logic,
//! NULL propagation, checked integer arithmetic, exact decimals.
//!
//! Every SQL expression compiles to a Rust expression of type `Option<T>` (`None` is NULL);
//! operators that can fail (overflow, division by zero) return `Result<Option<T>, EvalError>`.

mod cast;
mod json;
mod math;
mod text;
mod time;

pub use cast::{bool_text, cast, text_of, Cast, ToText};
pub use json::{json_get, json_get_text, jsonb_text, JsonKey};
pub use math::{abs, ceil, floor, round, round_to, Rounding};
pub use text::{
    concat_all, length, like, lower, position, replace, substring, trim, upper, TrimSide,
};
pub use time::{
    add_interval, date_add_days, date_diff, date_trunc, extract, extract_date, DateField,
};

use crate::types::{Decimal, Float};

/// A runtime SQL error. It stops the pipeline, as Postgres would abort the statement.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("{0} out of range")]
    Overflow(&'static str),
    #[error("division by zero")]
    DivisionByZero,
    #[error("{0}")]
    Invalid(String),
}

/// WHERE and HAVING keep a row only when the condition is TRUE (not NULL).
#[inline]
pub fn is_true(v: Option<bool>) -> bool {
    v == Some(true)
}

#[inline]
pub fn and(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

#[inline]
pub fn or(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

#[inline]
pub fn not(a: Option<bool>) -> Option<bool> {
    a.map(|v| !v)
}

#[inline]
pub fn is_null<T>(a: &Option<T>) -> Option<bool> {
    Some(a.is_none())
}

macro_rules! comparison {
    ($name:ident, $op:tt) => {
        #[inline]
        pub fn $name<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Option<bool> {
            Some(a? $op b?)
        }
    };
}
comparison!(eq, ==);
comparison!(ne, !=);
comparison!(lt, <);
comparison!(le, <=);
comparison!(gt, >);
comparison!(ge, >=);

/// Checked arithmetic of one numeric type.
pub trait Arith: Sized {
    fn add(self, rhs: Self) -> Result<Self, EvalError>;
    fn sub(self, rhs: Self) -> Result<Self, EvalError>;
    fn mul(self, rhs: Self) -> Result<Self, EvalError>;
    fn div(self, rhs: Self) -> Result<Self, EvalError>;
    fn rem(self, rhs: Self) -> Result<Self, EvalError>;
    fn neg(self) -> Result<Self, EvalError>;
}

macro_rules! integer_arith {
    ($ty:ty, $name:literal) => {
        impl Arith for $ty {
            fn add(self, rhs: Self) -> Result<Self, EvalError> {
                self.checked_add(rhs).ok_or(EvalError::Overflow($name))
            }
            fn sub(self, rhs: Self) -> Result<Self, EvalError> {
                self.checked_sub(rhs).ok_or(EvalError::Overflow($name))
            }
            fn mul(self, rhs: Self) -> Result<Self, EvalError> {
                self.checked_mul(rhs).ok_or(EvalError::Overflow($name))
            }
            fn div(self, rhs: Self) -> Result<Self, EvalError> {
                if rhs == 0 {
                    return Err(EvalError::DivisionByZero);
                }
                self.checked_div(rhs).ok_or(EvalError::Overflow($name))
            }
            fn rem(self, rhs: Self) -> Result<Self, EvalError> {
                if rhs == 0 {
                    return Err(EvalError::DivisionByZero);
                }
                Ok(self.checked_rem(rhs).unwrap_or(0))
            }
            fn neg(self) -> Result<Self, EvalError> {
                (0 as $ty)
                    .checked_sub(self)
                    .ok_or(EvalError::Overflow($name))
            }
        }
    };
}
integer_arith!(i64, "Int");
integer_arith!(u64, "UInt");

impl Arith for Decimal {
    fn add(self, rhs: Self) -> Result<Self, EvalError> {
        self.checked_add(rhs).ok_or(EvalError::Overflow("Decimal"))
    }
    fn sub(self, rhs: Self) -> Result<Self, EvalError> {
        self.checked_sub(rhs).ok_or(EvalError::Overflow("Decimal"))
    }
    fn mul(self, rhs: Self) -> Result<Self, EvalError> {
        self.checked_mul(rhs).ok_or(EvalError::Overflow("Decimal"))
    }
    fn div(self, rhs: Self) -> Result<Self, EvalError> {
        if rhs.is_zero() {
            return Err(EvalError::DivisionByZero);
        }
        self.checked_div(rhs).ok_or(EvalError::Overflow("Decimal"))
    }
    fn rem(self, rhs: Self) -> Result<Self, EvalError> {
        if rhs.is_zero() {
            return Err(EvalError::DivisionByZero);
        }
        self.checked_rem(rhs).ok_or(EvalError::Overflow("Decimal"))
    }
    fn neg(self) -> Result<Self, EvalError> {
        Ok(-self)
    }
}

impl Arith for Float {
    fn add(self, rhs: Self) -> Result<Self, EvalError> {
        Ok(Float(self.0 + rhs.0))
    }
    fn sub(self, rhs: Self) -> Result<Self, EvalError> {
        Ok(Float(self.0 - rhs.0))
    }
    fn mul(self, rhs: Self) -> Result<Self, EvalError> {
        Ok(Float(self.0 * rhs.0))
    }
    fn div(self, rhs: Self) -> Result<Self, EvalError> {
        if rhs.0 == 0.0 {
            return Err(EvalError::DivisionByZero);
        }
        Ok(Float(self.0 / rhs.0))
    }
    fn rem(self, rhs: Self) -> Result<Self, EvalError> {
        if rhs.0 == 0.0 {
            return Err(EvalError::DivisionByZero);
        }
        Ok(Float(self.0 % rhs.0))
    }
    fn neg(self) -> Result<Self, EvalError> {
        Ok(Float(-self.0))
    }
}

macro_rules! binary_arith {
    ($name:ident) => {
        #[inline]
        pub fn $name<T: Arith>(a: Option<T>, b: Option<T>) -> Result<Option<T>, EvalError> {
            match (a, b) {
                (Some(a), Some(b)) => a.$name(b).map(Some),
                _ => Ok(None),
            }
        }
    };
}
binary_arith!(add);
binary_arith!(sub);
binary_arith!(mul);
binary_arith!(div);
binary_arith!(rem);

#[inline]
pub fn neg<T: Arith>(a: Option<T>) -> Result<Option<T>, EvalError> {
    a.map(Arith::neg).transpose()
}

/// `a || b` on strings (NULL if either is NULL, as in Postgres).
pub fn concat(a: Option<String>, b: Option<String>) -> Option<String> {
    let mut a = a?;
    a.push_str(&b?);
    Some(a)
}

/// `CAST(x AS INT|SMALLINT)`: `x` when it fits a `bits`-bit signed integer.
pub fn int_range(x: Option<i64>, bits: u32) -> Result<Option<i64>, EvalError> {
    let limit = 1i64 << (bits - 1);
    match x {
        Some(v) if v < -limit || v >= limit => Err(EvalError::Overflow(if bits == 16 {
            "smallint"
        } else {
            "integer"
        })),
        other => Ok(other),
    }
}

/// `NULLIF(a, b)`: NULL when `a = b`, else `a`.
pub fn nullif<T: PartialEq>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) if a == b => None,
        (a, _) => a,
    }
}

/// `x IN (list)`: TRUE when an element equals `x`; otherwise NULL if `x` or an element is NULL,
/// else FALSE.
pub fn in_list<T: PartialEq>(
    x: Option<T>,
    list: impl IntoIterator<Item = Option<T>>,
) -> Option<bool> {
    let x = x?;
    let mut saw_null = false;
    for item in list {
        match item {
            Some(v) if v == x => return Some(true),
            Some(_) => {}
            None => saw_null = true,
        }
    }
    if saw_null {
        None
    } else {
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_valued_logic() {
        assert_eq!(and(None, Some(false)), Some(false));
        assert_eq!(and(None, Some(true)), None);
        assert_eq!(or(None, Some(true)), Some(true));
        assert_eq!(or(None, Some(false)), None);
        assert_eq!(not(None), None);
        assert_eq!(eq(Some(1), None), None);
        assert!(!is_true(None));
    }

    #[test]
    fn integer_times_decimal_is_exact() {
        let q: Option<Decimal> = cast(Some(3i64)).unwrap();
        let total = mul(q, Some(Decimal::new(255, 2))).unwrap();
        assert_eq!(total.unwrap().to_string(), "7.65");
    }

    #[test]
    fn overflow_and_division_by_zero_are_errors() {
        assert_eq!(
            add(Some(i64::MAX), Some(1)),
            Err(EvalError::Overflow("Int"))
        );
        assert_eq!(div(Some(1i64), Some(0)), Err(EvalError::DivisionByZero));
        assert_eq!(div(Some(7i64), Some(2)), Ok(Some(3)));
        assert_eq!(add(None, Some(1i64)), Ok(None));
    }
}
