//! Time windows in FROM: `TUMBLE(table, time_column, 'size')` and
//! `HOP(table, time_column, 'hop', 'size')`. They add `window_start` and `window_end` columns;
//! aggregating over them groups by both (GUIDE §2).

use super::SqlSource;
use crate::diagnostics::CompileError;
use crate::plan::{Column, SqlType, Window, WindowKind};
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

/// The columns a window adds to its relation.
pub const WINDOW_COLUMNS: [&str; 2] = ["window_start", "window_end"];

/// Parses the arguments of `TUMBLE(...)` or `HOP(...)` (the call is at `call`); `columns_of`
/// resolves the named table to its columns (or an error when it is unknown).
pub fn parse<'a>(
    src: &SqlSource,
    function: &str,
    call: Span,
    args: &'a [ast::FunctionArg],
    columns_of: impl FnOnce(&'a ast::Ident) -> Result<Vec<Column>, CompileError>,
) -> Result<Window, CompileError> {
    let hop = function.eq_ignore_ascii_case("HOP");
    let shape = if hop {
        "HOP(table, time_column, 'hop', 'size')"
    } else {
        "TUMBLE(table, time_column, 'size')"
    };
    let expected = if hop { 4 } else { 3 };
    if args.len() != expected {
        return Err(src
            .error(
                call,
                format!(
                    "{} takes {expected} arguments, found {}",
                    function.to_uppercase(),
                    args.len()
                ),
                "wrong number of arguments",
            )
            .with_help(format!(
                "write {shape}, e.g. TUMBLE(sales, InvoiceDate, '1 DAY')"
            )));
    }
    let table = identifier(src, &args[0], "the table to window", shape)?;
    let time = identifier(src, &args[1], "the time column", shape)?;
    let columns = columns_of(table)?;
    let time_column = time_column(src, &table.value, &columns, time, "a window")?;
    let size_arg = &args[expected - 1];
    let size = duration(src, size_arg)?;
    let kind = if hop {
        let hop = duration(src, &args[2])?;
        if hop > size || size % hop != 0 {
            return Err(src
                .error(
                    arg_span(&args[2]),
                    "the hop of a HOP window must divide its size",
                    "does not fit the size",
                )
                .with_help("every row then lands in exactly size / hop windows; e.g. HOP(sales, InvoiceDate, '6 HOURS', '1 DAY')"));
        }
        WindowKind::Hop {
            hop_us: hop,
            size_us: size,
        }
    } else {
        WindowKind::Tumble { size_us: size }
    };
    Ok(Window { kind, time_column })
}

/// The index of the column `time` of `table`, which must be a timestamp: the event time of
/// `what` ("a window", "TTL").
pub fn time_column(
    src: &SqlSource,
    table: &str,
    columns: &[Column],
    time: &ast::Ident,
    what: &str,
) -> Result<usize, CompileError> {
    let found = columns
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(&time.value))
        .ok_or_else(|| {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            let err = src.error(
                time.span,
                format!("`{table}` has no column `{}`", time.value),
                "unknown column",
            );
            if WINDOW_COLUMNS.iter().any(|w| w.eq_ignore_ascii_case(&time.value)) {
                err.with_help(format!(
                    "the time of {what} is a column of `{table}` itself, such as the one the window is over; its columns are: {}",
                    names.join(", ")
                ))
            } else {
                err.with_help(format!("its columns are: {}", names.join(", ")))
            }
        })?;
    if columns[found].ty != SqlType::Timestamp {
        return Err(src
            .error(
                time.span,
                format!(
                    "the time column of {what} must be a Timestamp; `{}` is {}",
                    columns[found].name,
                    columns[found].ty.with_article()
                ),
                "not a timestamp",
            )
            .with_help(format!(
                "declare it as Timestamp in the source's schema, or use another column for {what}"
            )));
    }
    Ok(found)
}

/// The two columns a window adds (never NULL: rows without a time are in no window).
pub fn columns() -> [Column; 2] {
    WINDOW_COLUMNS.map(|name| Column {
        name: name.to_string(),
        ty: SqlType::Timestamp,
        nullable: false,
    })
}

fn arg_span(arg: &ast::FunctionArg) -> sqlparser::tokenizer::Span {
    arg.span()
}

pub fn identifier<'a>(
    src: &SqlSource,
    arg: &'a ast::FunctionArg,
    what: &str,
    shape: &str,
) -> Result<&'a ast::Ident, CompileError> {
    match arg {
        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Identifier(ident))) => {
            Ok(ident)
        }
        _ => Err(src
            .error(
                arg.span(),
                format!("expected {what}, a plain name"),
                "not a name",
            )
            .with_help(format!("write {shape}"))),
    }
}

/// `'<n> MILLISECOND(S)|SECOND(S)|MINUTE(S)|HOUR(S)|DAY(S)'` in microseconds.
pub fn duration(src: &SqlSource, arg: &ast::FunctionArg) -> Result<i64, CompileError> {
    let bad = |found: &str| {
        src.error(arg.span(), format!("`{found}` is not a duration"), "bad duration")
            .with_help("write a quoted positive whole number and a unit: '1 DAY', '6 HOURS', '30 MINUTES', '10 SECONDS', '500 MILLISECONDS'")
    };
    let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Value(value))) = arg else {
        return Err(bad(&arg.to_string()));
    };
    let ast::Value::SingleQuotedString(text) = &value.value else {
        return Err(bad(&arg.to_string()));
    };
    parse_duration(text).ok_or_else(|| bad(text))
}

/// The duration in microseconds, if `text` is one.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let (number, unit) = (parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit.strip_suffix('S').unwrap_or(&unit);
    let micros: i64 = match unit {
        "MILLISECOND" => 1_000,
        "SECOND" => 1_000_000,
        "MINUTE" => 60_000_000,
        "HOUR" => 3_600_000_000,
        "DAY" => 86_400_000_000,
        _ => return None,
    };
    n.checked_mul(micros)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_in_every_unit_singular_or_plural_any_case() {
        assert_eq!(parse_duration("1 DAY"), Some(86_400_000_000));
        assert_eq!(parse_duration("6 hours"), Some(6 * 3_600_000_000));
        assert_eq!(parse_duration("30 Minute"), Some(30 * 60_000_000));
        assert_eq!(parse_duration("10 SECONDS"), Some(10_000_000));
        assert_eq!(parse_duration("500 milliseconds"), Some(500_000));
        for bad in [
            "",
            "DAY",
            "1",
            "0 DAY",
            "-1 DAY",
            "1.5 DAY",
            "1 WEEK",
            "1 DAY 2 HOURS",
            "1DAY",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
