//! Implicit conversions, as Postgres applies them: numeric promotion (Int → Decimal → Float),
//! untyped NULL taking the other side's type, and quoted literals read as the type they are
//! compared with (`InvoiceDate > '2011-01-01'`).

use crate::plan::{Expr, ExprKind, Literal, SqlType};

/// Converts `expr` to `target`, or says why it cannot.
pub fn coerce(expr: Expr, target: SqlType) -> Result<Expr, String> {
    if expr.ty == target || (expr.ty.is_text() && target.is_text()) {
        return Ok(Expr {
            ty: if expr.ty.is_text() { expr.ty } else { target },
            ..expr
        });
    }
    match &expr.kind {
        ExprKind::Literal(Literal::Null) => return Ok(Expr { ty: target, ..expr }),
        ExprKind::Literal(Literal::String(text)) => {
            let literal = parse_literal(text, target)?;
            return Ok(Expr {
                kind: ExprKind::Literal(literal),
                ty: target,
                ..expr
            });
        }
        _ => {}
    }
    // Numeric literals are converted now, so the binary never casts constants per row.
    match (&expr.kind, target) {
        (ExprKind::Literal(Literal::Int(i)), SqlType::Decimal) => {
            return Ok(Expr {
                kind: ExprKind::Literal(Literal::Decimal(i.to_string())),
                ty: target,
                ..expr
            });
        }
        (ExprKind::Literal(Literal::Int(i)), SqlType::Float) => {
            return Ok(Expr {
                kind: ExprKind::Literal(Literal::Float(*i as f64)),
                ty: target,
                ..expr
            });
        }
        _ => {}
    }
    if expr.ty.is_numeric()
        && target.is_numeric()
        && SqlType::numeric_union(expr.ty, target) == Some(target)
    {
        let nullable = expr.nullable;
        let span = expr.span;
        return Ok(Expr {
            kind: ExprKind::Cast(Box::new(expr)),
            ty: target,
            nullable,
            span,
        });
    }
    Err(format!(
        "{} value cannot be used as {}",
        expr.ty.with_article(),
        target
    ))
}

/// Reads a quoted literal as a value of `target`.
pub fn parse_literal(text: &str, target: SqlType) -> Result<Literal, String> {
    let bad = || format!("'{text}' is not a valid {target}");
    Ok(match target {
        SqlType::Int => Literal::Int(text.trim().parse().map_err(|_| bad())?),
        SqlType::UInt => {
            let v: u64 = text.trim().parse().map_err(|_| bad())?;
            Literal::Int(i64::try_from(v).map_err(|_| bad())?)
        }
        SqlType::Decimal => {
            text.trim()
                .parse::<rust_decimal::Decimal>()
                .map_err(|_| bad())?;
            Literal::Decimal(text.trim().to_string())
        }
        SqlType::Float => Literal::Float(text.trim().parse().map_err(|_| bad())?),
        SqlType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "on" => Literal::Boolean(true),
            "false" | "f" | "no" | "n" | "0" | "off" => Literal::Boolean(false),
            _ => return Err(bad()),
        },
        SqlType::Date => {
            let date =
                chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| bad())?;
            Literal::Date(chrono::Datelike::num_days_from_ce(&date))
        }
        SqlType::Timestamp => Literal::Timestamp(parse_timestamp(text.trim()).ok_or_else(bad)?),
        SqlType::String | SqlType::Text => Literal::String(text.to_string()),
        SqlType::Json | SqlType::Binary | SqlType::Null => {
            return Err(format!("{target} literals are not supported yet"))
        }
    })
}

/// ISO 8601, with or without an offset (none means UTC), to microseconds since the epoch.
fn parse_timestamp(t: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_micros());
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, f) {
            return Some(dt.timestamp_micros());
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, f) {
            return Some(n.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|n| n.and_utc().timestamp_micros())
}
