//! Binding of scalar functions called by name (COALESCE, UPPER, ROUND, DATE_TRUNC, ...) and of
//! CAST: argument types, conversions and result types follow Postgres. Runtime semantics are in
//! `runtime/src/expr/`.

use super::coerce::coerce;
use super::expr::{Binder, Hook};
use crate::diagnostics::CompileError;
use crate::plan::{DateField, Expr, ExprKind, Func, Literal, SqlType};
use sqlparser::ast::{self, Spanned};

/// Functions that read the clock or a random source: a pipeline must compute the same result
/// from the same changes, so they are refused.
const NONDETERMINISTIC: [&str; 8] = [
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "random",
    "clock_timestamp",
];

const SUPPORTED: &str = "COALESCE, NULLIF, LENGTH, UPPER, LOWER, CONCAT, SUBSTRING, TRIM, \
    REPLACE, POSITION, ABS, ROUND, CEIL, FLOOR, EXTRACT, DATE_TRUNC, and the aggregates SUM, \
    COUNT, AVG, MIN, MAX";

impl Binder<'_> {
    /// ABS, ROUND, CEIL, FLOOR of one number: integers round as doubles (Postgres picks the
    /// double precision function for them), except ABS, which keeps the type.
    pub(super) fn rounding(
        &self,
        e: &ast::Expr,
        func: Func,
        arg: Expr,
        at: &ast::Expr,
        name: &str,
    ) -> Result<Expr, CompileError> {
        if !arg.ty.is_numeric() && arg.ty != SqlType::Null {
            return Err(self.src.error(
                at.span(),
                format!("{name} needs a number, not {}", arg.ty.with_article()),
                "not a number",
            ));
        }
        let arg = match (func, arg.ty) {
            (Func::Abs, SqlType::Int | SqlType::UInt) => arg,
            (_, SqlType::Int | SqlType::UInt | SqlType::Null) => {
                coerce(arg, SqlType::Float).map_err(|m| self.src.error(at.span(), m, "here"))?
            }
            _ => arg,
        };
        let (ty, nullable) = (arg.ty, arg.nullable);
        Ok(self.call(e, func, vec![arg], ty, nullable))
    }

    /// A call by name: `f(args)`.
    pub(super) fn function(
        &self,
        e: &ast::Expr,
        f: &ast::Function,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let name = f.name.to_string().to_ascii_lowercase();
        if NONDETERMINISTIC.contains(&name.as_str()) {
            return Err(self
                .src
                .error(e.span(), format!("`{}` depends on when the pipeline runs", f.name), "not deterministic")
                .with_help("a pipeline computes each result from the changes alone, so replaying them gives the same answer: use a time column of the source (see TTL for expiring old rows), or filter by time in the API"));
        }
        if f.over.is_some() {
            return Err(self
                .src
                .error(e.span(), format!("window function `{}` (OVER) is not supported", f.name), "not supported")
                .with_help("a pipeline keeps one result row per key: aggregate with GROUP BY, or over TUMBLE/HOP windows"));
        }
        let args: Vec<&ast::Expr> = match &f.args {
            ast::FunctionArguments::List(list) => list
                .args
                .iter()
                .map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => Ok(x),
                    other => Err(self
                        .src
                        .error(other.span(), "expected a value", "not supported")),
                })
                .collect::<Result<_, _>>()?,
            ast::FunctionArguments::None => Vec::new(),
            ast::FunctionArguments::Subquery(_) => {
                return Err(self
                    .src
                    .error(e.span(), "subqueries are not supported", "subquery"))
            }
        };
        let arity = |n: std::ops::RangeInclusive<usize>| -> Result<(), CompileError> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                let expected = if n.start() == n.end() {
                    n.start().to_string()
                } else {
                    format!("{} to {}", n.start(), n.end())
                };
                Err(self.src.error(
                    e.span(),
                    format!(
                        "{} takes {expected} arguments, found {}",
                        f.name,
                        args.len()
                    ),
                    "wrong number of arguments",
                ))
            }
        };
        match name.as_str() {
            "coalesce" => {
                arity(1..=usize::MAX)?;
                let bound = args
                    .iter()
                    .map(|a| self.bind(a, hook))
                    .collect::<Result<Vec<_>, _>>()?;
                let (bound, ty) = self.unify(bound, e, "COALESCE")?;
                let nullable = bound.iter().all(|a| a.nullable);
                Ok(self.call(e, Func::Coalesce, bound, ty, nullable))
            }
            "nullif" => {
                arity(2..=2)?;
                let (a, b) = (self.bind(args[0], hook)?, self.bind(args[1], hook)?);
                let (bound, ty) = self.unify(vec![a, b], e, "NULLIF")?;
                Ok(self.call(e, Func::NullIf, bound, ty, true))
            }
            "length" | "char_length" | "character_length" => {
                arity(1..=1)?;
                let s = self.typed_arg(SqlType::String, args[0], "the argument of LENGTH", hook)?;
                let nullable = s.nullable;
                Ok(self.call(e, Func::Length, vec![s], SqlType::Int, nullable))
            }
            "upper" | "lower" => {
                arity(1..=1)?;
                let s = self.typed_arg(SqlType::String, args[0], "the argument", hook)?;
                let nullable = s.nullable;
                let func = if name == "upper" {
                    Func::Upper
                } else {
                    Func::Lower
                };
                Ok(self.call(e, func, vec![s], SqlType::String, nullable))
            }
            "concat" => {
                arity(1..=usize::MAX)?;
                let bound = args
                    .iter()
                    .map(|a| {
                        let v = self.bind(a, hook)?;
                        // An untyped NULL prints nothing; give it a type that prints.
                        let v = if v.ty == SqlType::Null {
                            coerce(v, SqlType::String)
                                .map_err(|m| self.src.error(a.span(), m, "here"))?
                        } else {
                            v
                        };
                        if matches!(v.ty, SqlType::Json | SqlType::Binary) {
                            return Err(self.src.error(
                                a.span(),
                                format!("CONCAT cannot print {} value", v.ty.with_article()),
                                "not printable",
                            ));
                        }
                        Ok(v)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.call(e, Func::Concat, bound, SqlType::String, false))
            }
            "substring" | "substr" => {
                arity(2..=3)?;
                self.substring(e, args[0], Some(args[1]), args.get(2).copied(), hook)
            }
            "btrim" | "ltrim" | "rtrim" => {
                arity(1..=2)?;
                let side = match name.as_str() {
                    "ltrim" => ast::TrimWhereField::Leading,
                    "rtrim" => ast::TrimWhereField::Trailing,
                    _ => ast::TrimWhereField::Both,
                };
                self.trim(e, args[0], Some(&side), args.get(1).copied(), None, hook)
            }
            "replace" => {
                arity(3..=3)?;
                let bound = vec![
                    self.typed_arg(SqlType::String, args[0], "the string of REPLACE", hook)?,
                    self.typed_arg(SqlType::String, args[1], "what REPLACE looks for", hook)?,
                    self.typed_arg(SqlType::String, args[2], "what REPLACE puts instead", hook)?,
                ];
                let nullable = bound.iter().any(|a| a.nullable);
                Ok(self.call(e, Func::Replace, bound, SqlType::String, nullable))
            }
            "strpos" => {
                arity(2..=2)?;
                self.position(e, args[1], args[0], hook)
            }
            "abs" | "ceil" | "ceiling" | "floor" => {
                arity(1..=1)?;
                let func = match name.as_str() {
                    "abs" => Func::Abs,
                    "floor" => Func::Floor,
                    _ => Func::Ceil,
                };
                let arg = self.bind(args[0], hook)?;
                self.rounding(e, func, arg, args[0], &name.to_uppercase())
            }
            "round" => {
                arity(1..=2)?;
                let x = self.bind(args[0], hook)?;
                if args.len() == 1 {
                    return self.rounding(e, Func::Round, x, args[0], "ROUND");
                }
                if x.ty == SqlType::Float {
                    return Err(self
                        .src
                        .error(
                            args[0].span(),
                            "ROUND(x, places) needs a Decimal; this is a Float",
                            "a Float",
                        )
                        .with_help("CAST it to NUMERIC first, as Postgres requires"));
                }
                let x = self.convert(x, SqlType::Decimal, args[0], "the value of ROUND")?;
                let places = self.typed_arg(SqlType::Int, args[1], "the places of ROUND", hook)?;
                let nullable = x.nullable || places.nullable;
                Ok(self.call(e, Func::Round, vec![x, places], SqlType::Decimal, nullable))
            }
            "date_trunc" => {
                arity(2..=2)?;
                let unit = match args[0] {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => DateField::from_name(s),
                        _ => None,
                    },
                    _ => None,
                };
                let unit = unit
                    .filter(|u| !matches!(u, DateField::Dow | DateField::IsoDow | DateField::Doy | DateField::Epoch))
                    .ok_or_else(|| self.src.error(args[0].span(), "DATE_TRUNC needs a quoted unit", "bad unit").with_help("one of 'microseconds', 'milliseconds', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year', 'decade', 'century', 'millennium'"))?;
                let ts = self.bind(args[1], hook)?;
                // A Date is truncated as its midnight, as Postgres does.
                let ts = match ts.ty {
                    SqlType::Date => self.explicit_cast(args[1], ts, SqlType::Timestamp)?,
                    _ => self.convert(ts, SqlType::Timestamp, args[1], "the time of DATE_TRUNC")?,
                };
                let nullable = ts.nullable;
                Ok(self.call(
                    e,
                    Func::DateTrunc(unit),
                    vec![ts],
                    SqlType::Timestamp,
                    nullable,
                ))
            }
            "date_part" => {
                arity(2..=2)?;
                let field = match args[0] {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => {
                            Some(ast::DateTimeField::Custom(ast::Ident::new(s.clone())))
                        }
                        _ => None,
                    },
                    _ => None,
                }
                .ok_or_else(|| {
                    self.src.error(
                        args[0].span(),
                        "DATE_PART needs a quoted field",
                        "bad field",
                    )
                })?;
                // Unlike EXTRACT, DATE_PART is double precision.
                let numeric = self.extract(e, &field, args[1], hook)?;
                self.explicit_cast(e, numeric, SqlType::Float)
            }
            _ => Err(self
                .src
                .error(
                    e.span(),
                    format!("unknown or unsupported function `{}`", f.name),
                    "not supported",
                )
                .with_help(format!("supported functions: {SUPPORTED}"))),
        }
    }

    /// `CAST(x AS type)`: the implicit conversions, plus those Postgres allows explicitly.
    pub(super) fn explicit_cast(
        &self,
        e: &ast::Expr,
        arg: Expr,
        target: SqlType,
    ) -> Result<Expr, CompileError> {
        let from = arg.ty;
        if from == target || (from.is_text() && target.is_text()) || from == SqlType::Null {
            return coerce(arg, target).map_err(|m| self.src.error(e.span(), m, "this cast"));
        }
        if let ExprKind::Literal(Literal::String(_)) = arg.kind {
            return coerce(arg, target).map_err(|m| self.src.error(e.span(), m, "this cast"));
        }
        use SqlType::*;
        let allowed = match (from, target) {
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (_, String | Text) => !matches!(from, Json | Binary),
            (String | Text, Int | UInt | Decimal | Float | Boolean | Date | Timestamp) => true,
            (Int, Boolean) | (Boolean, Int) => true,
            (Timestamp, Date) | (Date, Timestamp) => true,
            _ => false,
        };
        if !allowed {
            return Err(self.src.error(e.span(), format!("cannot cast {} to {target}", from.with_article()), "unsupported cast").with_help("casts go between numbers, to and from text, between Int and Boolean, and between Date and Timestamp"));
        }
        let nullable = arg.nullable;
        let span = arg.span;
        Ok(Expr {
            kind: ExprKind::Cast(Box::new(arg)),
            ty: if target == Text { String } else { target },
            nullable,
            span,
        })
    }

    /// Checks that an integer fits `bits` bits, as CAST to INT (32) or SMALLINT (16) does.
    pub(super) fn int_range(&self, e: &ast::Expr, value: Expr, bits: u8) -> Expr {
        let nullable = value.nullable;
        self.call(
            e,
            Func::IntRange { bits },
            vec![value],
            SqlType::Int,
            nullable,
        )
    }

    /// `json -> key` and `json ->> key` (`text` is the latter): the key is a field name (text) or
    /// an array position (an integer).
    pub(super) fn json_access(
        &self,
        e: &ast::Expr,
        json: Expr,
        key: Expr,
        text: bool,
        key_at: &ast::Expr,
    ) -> Result<Expr, CompileError> {
        let op = if text { "->>" } else { "->" };
        if json.ty != SqlType::Json {
            return Err(self
                .src
                .error(
                    e.span(),
                    format!("`{op}` reads a Json value, not {}", json.ty.with_article()),
                    "not JSON",
                )
                .with_help("declare the column as Json (Postgres json or jsonb)"));
        }
        let key = match key.ty {
            t if t.is_text() => key,
            SqlType::Int | SqlType::UInt => {
                coerce(key, SqlType::Int).map_err(|m| self.src.error(key_at.span(), m, "here"))?
            }
            SqlType::Null => coerce(key, SqlType::String)
                .map_err(|m| self.src.error(key_at.span(), m, "here"))?,
            other => {
                return Err(self.src.error(
                    key_at.span(),
                    format!(
                        "a JSON key is a field name or a position, not {}",
                        other.with_article()
                    ),
                    "bad key",
                ))
            }
        };
        let (func, ty) = if text {
            (Func::JsonGetText, SqlType::String)
        } else {
            (Func::JsonGet, SqlType::Json)
        };
        Ok(self.call(e, func, vec![json, key], ty, true))
    }
}
