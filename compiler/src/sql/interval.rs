//! Date and time arithmetic: `t ± INTERVAL '...'`, `date ± n` and `date - date`.

use super::coerce::coerce;
use super::expr::{Binder, Hook};
use crate::diagnostics::CompileError;
use crate::plan::{Expr, ExprKind, Func, SqlType};
use sqlparser::ast::{self, Spanned};

impl Binder<'_> {
    /// `t ± INTERVAL '...'` on a Timestamp or a Date (a Date becomes a Timestamp, as in
    /// Postgres).
    pub(super) fn interval_arith(
        &self,
        e: &ast::Expr,
        time: &ast::Expr,
        interval: &ast::Interval,
        negate: bool,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let (months, micros) = parse_interval(interval).ok_or_else(|| {
            self.src
                .error(interval.value.span(), format!("`{interval}` is not an interval dozerc can read"), "bad interval")
                .with_help("write a quoted amount and unit, e.g. INTERVAL '1 day', INTERVAL '2 hours 30 minutes', INTERVAL '1 month'")
        })?;
        let (months, micros) = if negate {
            (-months, -micros)
        } else {
            (months, micros)
        };
        let bound = self.bind(time, hook)?;
        let bound = match bound.ty {
            SqlType::Timestamp => bound,
            SqlType::Date => self.explicit_cast(time, bound, SqlType::Timestamp)?,
            other => {
                return Err(self.src.error(
                    time.span(),
                    format!(
                        "an INTERVAL is added to a Timestamp or a Date, not {}",
                        other.with_article()
                    ),
                    "not a time",
                ))
            }
        };
        let nullable = bound.nullable;
        Ok(self.call(
            e,
            Func::AddInterval { months, micros },
            vec![bound],
            SqlType::Timestamp,
            nullable,
        ))
    }

    /// `date ± n` (days) and `date - date` (days between), or None for other operands.
    pub(super) fn date_arith(
        &self,
        e: &ast::Expr,
        l: &Expr,
        op: &ast::BinaryOperator,
        r: &Expr,
    ) -> Option<Result<Expr, CompileError>> {
        use ast::BinaryOperator::{Minus, Plus};
        let int = |t: SqlType| matches!(t, SqlType::Int | SqlType::UInt);
        let nullable = l.nullable || r.nullable;
        match (l.ty, op, r.ty) {
            (SqlType::Date, Plus | Minus, t) if int(t) => {
                let days = match coerce(r.clone(), SqlType::Int) {
                    Ok(d) => d,
                    Err(m) => return Some(Err(self.src.error(e.span(), m, "here"))),
                };
                let days = if matches!(op, Minus) {
                    let span = days.span;
                    Expr {
                        kind: ExprKind::Negate(Box::new(days)),
                        ty: SqlType::Int,
                        nullable: r.nullable,
                        span,
                    }
                } else {
                    days
                };
                Some(Ok(self.call(
                    e,
                    Func::DateAddDays,
                    vec![l.clone(), days],
                    SqlType::Date,
                    nullable,
                )))
            }
            (t, Plus, SqlType::Date) if int(t) => self.date_arith(e, r, op, l),
            (SqlType::Date, Minus, SqlType::Date) => Some(Ok(self.call(
                e,
                Func::DateDiff,
                vec![l.clone(), r.clone()],
                SqlType::Int,
                nullable,
            ))),
            _ => None,
        }
    }
}

/// `INTERVAL '<n> unit [<n> unit ...]'` (or `INTERVAL 'n' UNIT`) as (months, microseconds).
fn parse_interval(interval: &ast::Interval) -> Option<(i32, i64)> {
    let ast::Expr::Value(v) = interval.value.as_ref() else {
        return None;
    };
    let ast::Value::SingleQuotedString(text) = &v.value else {
        return None;
    };
    if interval.last_field.is_some() {
        return None;
    }
    let text = match &interval.leading_field {
        Some(field) => format!("{text} {field}"),
        None => text.clone(),
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        return None;
    }
    let (mut months, mut micros) = (0i64, 0i64);
    for pair in words.chunks(2) {
        let unit = pair[1].to_ascii_lowercase();
        // Postgres' spellings, singular or plural.
        let per: (i64, i64) = match unit.as_str() {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" => (0, 1),
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => (0, 1_000),
            "second" | "seconds" | "s" | "sec" | "secs" => (0, 1_000_000),
            "minute" | "minutes" | "m" | "min" | "mins" => (0, 60_000_000),
            "hour" | "hours" | "h" | "hr" | "hrs" => (0, 3_600_000_000),
            "day" | "days" | "d" => (0, 86_400_000_000),
            "week" | "weeks" | "w" => (0, 7 * 86_400_000_000),
            "month" | "months" | "mon" | "mons" => (1, 0),
            "year" | "years" | "y" | "yr" | "yrs" => (12, 0),
            _ => return None,
        };
        if per.1 == 1_000_000 {
            // Seconds may have a fraction.
            let seconds: rust_decimal::Decimal = pair[0].parse().ok()?;
            let us = seconds.checked_mul(rust_decimal::Decimal::from(1_000_000))?;
            micros =
                micros.checked_add(rust_decimal::prelude::ToPrimitive::to_i64(&us.trunc())?)?;
            continue;
        }
        let n: i64 = pair[0].parse().ok()?;
        months = months.checked_add(n.checked_mul(per.0)?)?;
        micros = micros.checked_add(n.checked_mul(per.1)?)?;
    }
    Some((i32::try_from(months).ok()?, micros))
}
