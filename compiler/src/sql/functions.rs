//! Binding of scalar functions and special forms (CASE, IN, BETWEEN, LIKE, SUBSTRING, TRIM,
//! POSITION, EXTRACT, CEIL/FLOOR, CAST): argument types, implicit conversions and result types
//! follow Postgres. Runtime semantics are in `runtime/src/expr/`.

use super::coerce::coerce;
use super::expr::{Binder, Hook};
use crate::diagnostics::CompileError;
use crate::plan::{BinaryOp, DateField, Expr, ExprKind, Func, Literal, SqlType, TrimSide};
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
    fn node(&self, e: &ast::Expr, kind: ExprKind, ty: SqlType, nullable: bool) -> Expr {
        Expr {
            kind,
            ty,
            nullable,
            span: self.src.span(e.span()),
        }
    }

    fn convert(
        &self,
        arg: Expr,
        to: SqlType,
        at: &ast::Expr,
        what: &str,
    ) -> Result<Expr, CompileError> {
        let from = arg.ty;
        coerce(arg, to).map_err(|m| {
            self.src
                .error(
                    at.span(),
                    format!(
                        "{what} must be {}, not {}",
                        to.with_article(),
                        from.with_article()
                    ),
                    "wrong type",
                )
                .with_help(m)
        })
    }

    /// The common type of several values (CASE branches, COALESCE arguments), as Postgres
    /// resolves it: numbers promote, text is text, otherwise all must be of one type.
    fn unify(
        &self,
        values: Vec<Expr>,
        at: &ast::Expr,
        what: &str,
    ) -> Result<(Vec<Expr>, SqlType), CompileError> {
        let mut ty = SqlType::Null;
        for v in &values {
            ty = if v.ty == ty {
                ty
            } else {
                SqlType::comparison_union(ty, v.ty).ok_or_else(|| {
                    self.src
                        .error(
                            at.span(),
                            format!(
                                "{what} mixes {} and {}",
                                ty.with_article(),
                                v.ty.with_article()
                            ),
                            "type mismatch",
                        )
                        .with_help("CAST the values to one type")
                })?
            };
        }
        let converted = values
            .into_iter()
            .map(|v| coerce(v, ty).map_err(|m| self.src.error(at.span(), m, "type mismatch")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((converted, ty))
    }

    pub(super) fn case(
        &self,
        e: &ast::Expr,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let operand = operand.map(|o| self.bind(o, hook)).transpose()?;
        let mut whens = Vec::new();
        let mut values = Vec::new();
        for c in conditions {
            let when = self.bind(&c.condition, hook)?;
            // `CASE x WHEN a` is `x = a`.
            let when = match &operand {
                Some(x) => self.comparison(&c.condition, x.clone(), BinaryOp::Eq, when)?,
                None => self.convert(when, SqlType::Boolean, &c.condition, "a WHEN condition")?,
            };
            whens.push(when);
            values.push(self.bind(&c.result, hook)?);
        }
        let has_else = else_result.is_some();
        if let Some(other) = else_result {
            values.push(self.bind(other, hook)?);
        }
        let (mut values, ty) = self.unify(values, e, "CASE")?;
        if ty == SqlType::Null {
            return Err(self
                .src
                .error(e.span(), "every branch of this CASE is NULL", "untyped")
                .with_help("CAST one of them, e.g. CAST(NULL AS NUMERIC)"));
        }
        let otherwise = has_else.then(|| values.pop()).flatten();
        let nullable = !has_else || values.iter().chain(&otherwise).any(|v| v.nullable);
        let branches = whens.into_iter().zip(values).collect();
        Ok(self.node(
            e,
            ExprKind::Case {
                branches,
                otherwise: otherwise.map(Box::new),
            },
            ty,
            nullable,
        ))
    }

    /// `l op r` for a comparison, with the usual conversions.
    fn comparison(
        &self,
        at: &ast::Expr,
        l: Expr,
        op: BinaryOp,
        r: Expr,
    ) -> Result<Expr, CompileError> {
        let op = match op {
            BinaryOp::Eq => ast::BinaryOperator::Eq,
            BinaryOp::GtEq => ast::BinaryOperator::GtEq,
            BinaryOp::LtEq => ast::BinaryOperator::LtEq,
            _ => ast::BinaryOperator::Eq,
        };
        self.binary(at, l, &op, r)
    }

    pub(super) fn in_list(
        &self,
        e: &ast::Expr,
        expr: &ast::Expr,
        list: &[ast::Expr],
        negated: bool,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let x = self.bind(expr, hook)?;
        let mut items = vec![x];
        for item in list {
            items.push(self.bind(item, hook)?);
        }
        let (mut items, _) = self.unify(items, e, "IN")?;
        let x = items.remove(0);
        let nullable = x.nullable || items.iter().any(|i| i.nullable);
        let node = self.node(
            e,
            ExprKind::InList {
                expr: Box::new(x),
                list: items,
                negated: false,
            },
            SqlType::Boolean,
            nullable,
        );
        Ok(self.negate_if(e, node, negated))
    }

    fn negate_if(&self, e: &ast::Expr, node: Expr, negated: bool) -> Expr {
        if !negated {
            return node;
        }
        let nullable = node.nullable;
        self.node(e, ExprKind::Not(Box::new(node)), SqlType::Boolean, nullable)
    }

    /// `x BETWEEN lo AND hi` is `x >= lo AND x <= hi`.
    pub(super) fn between(
        &self,
        e: &ast::Expr,
        expr: &ast::Expr,
        low: &ast::Expr,
        high: &ast::Expr,
        negated: bool,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let x = self.bind(expr, hook)?;
        let (lo, hi) = (self.bind(low, hook)?, self.bind(high, hook)?);
        let ge = self.comparison(e, x.clone(), BinaryOp::GtEq, lo)?;
        let le = self.comparison(e, x, BinaryOp::LtEq, hi)?;
        let both = self.binary(e, ge, &ast::BinaryOperator::And, le)?;
        Ok(self.negate_if(e, both, negated))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn like(
        &self,
        e: &ast::Expr,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        negated: bool,
        case_insensitive: bool,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let text = self.bind(expr, hook)?;
        let text = self.convert(text, SqlType::String, expr, "the left side of LIKE")?;
        let pattern_bound = self.bind(pattern, hook)?;
        let pattern_bound =
            self.convert(pattern_bound, SqlType::String, pattern, "a LIKE pattern")?;
        // Postgres' default escape is a backslash; ESCAPE '' turns escaping off.
        let escape = match escape {
            None => Some('\\'),
            Some(ast::Expr::Value(v)) => match &v.value {
                ast::Value::SingleQuotedString(s) if s.chars().count() <= 1 => s.chars().next(),
                _ => {
                    return Err(self
                        .src
                        .error(v.span(), "ESCAPE takes one character", "not one character")
                        .with_help("write ESCAPE '!' (or ESCAPE '' for none)"))
                }
            },
            Some(other) => {
                return Err(self.src.error(
                    other.span(),
                    "ESCAPE takes a quoted character",
                    "not a literal",
                ))
            }
        };
        let nullable = text.nullable || pattern_bound.nullable;
        let node = self.node(
            e,
            ExprKind::Like {
                expr: Box::new(text),
                pattern: Box::new(pattern_bound),
                escape,
                negated: false,
                case_insensitive,
            },
            SqlType::Boolean,
            nullable,
        );
        Ok(self.negate_if(e, node, negated))
    }

    fn call(
        &self,
        e: &ast::Expr,
        func: Func,
        args: Vec<Expr>,
        ty: SqlType,
        nullable: bool,
    ) -> Expr {
        self.node(e, ExprKind::Call { func, args }, ty, nullable)
    }

    fn text_arg(&self, arg: &ast::Expr, what: &str, hook: &mut Hook) -> Result<Expr, CompileError> {
        let bound = self.bind(arg, hook)?;
        self.convert(bound, SqlType::String, arg, what)
    }

    fn int_arg(&self, arg: &ast::Expr, what: &str, hook: &mut Hook) -> Result<Expr, CompileError> {
        let bound = self.bind(arg, hook)?;
        self.convert(bound, SqlType::Int, arg, what)
    }

    pub(super) fn substring(
        &self,
        e: &ast::Expr,
        expr: &ast::Expr,
        from: Option<&ast::Expr>,
        count: Option<&ast::Expr>,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let mut args = vec![self.text_arg(expr, "the string of SUBSTRING", hook)?];
        let start = match from {
            Some(f) => self.int_arg(f, "the start of SUBSTRING", hook)?,
            None => self.node(e, ExprKind::Literal(Literal::Int(1)), SqlType::Int, false),
        };
        args.push(start);
        if let Some(c) = count {
            args.push(self.int_arg(c, "the length of SUBSTRING", hook)?);
        }
        let nullable = args.iter().any(|a| a.nullable);
        Ok(self.call(e, Func::Substring, args, SqlType::String, nullable))
    }

    pub(super) fn trim(
        &self,
        e: &ast::Expr,
        expr: &ast::Expr,
        side: Option<&ast::TrimWhereField>,
        what: Option<&ast::Expr>,
        characters: Option<&[ast::Expr]>,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let side = match side {
            Some(ast::TrimWhereField::Leading) => TrimSide::Leading,
            Some(ast::TrimWhereField::Trailing) => TrimSide::Trailing,
            _ => TrimSide::Both,
        };
        let text = self.text_arg(expr, "the string of TRIM", hook)?;
        let chars = match (what, characters) {
            (Some(w), _) => self.text_arg(w, "the characters TRIM removes", hook)?,
            (None, Some([c])) => self.text_arg(c, "the characters TRIM removes", hook)?,
            (None, Some(_)) => {
                return Err(self.src.error(
                    e.span(),
                    "TRIM takes one string of characters",
                    "too many",
                ))
            }
            (None, None) => self.node(
                e,
                ExprKind::Literal(Literal::String(" ".into())),
                SqlType::String,
                false,
            ),
        };
        let nullable = text.nullable || chars.nullable;
        Ok(self.call(
            e,
            Func::Trim(side),
            vec![text, chars],
            SqlType::String,
            nullable,
        ))
    }

    pub(super) fn position(
        &self,
        e: &ast::Expr,
        needle: &ast::Expr,
        haystack: &ast::Expr,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let args = vec![
            self.text_arg(needle, "the substring of POSITION", hook)?,
            self.text_arg(haystack, "the string of POSITION", hook)?,
        ];
        let nullable = args.iter().any(|a| a.nullable);
        Ok(self.call(e, Func::Position, args, SqlType::Int, nullable))
    }

    pub(super) fn extract(
        &self,
        e: &ast::Expr,
        field: &ast::DateTimeField,
        expr: &ast::Expr,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let name = field.to_string();
        let field = DateField::from_name(name.trim_matches(['\'', '"'])).ok_or_else(|| {
            self.src
                .error(e.span(), format!("EXTRACT of `{name}` is not supported"), "unknown field")
                .with_help("fields: YEAR, QUARTER, MONTH, WEEK, DAY, HOUR, MINUTE, SECOND, MILLISECONDS, MICROSECONDS, DOW, ISODOW, DOY, EPOCH, DECADE, CENTURY, MILLENNIUM")
        })?;
        let arg = self.bind(expr, hook)?;
        let time_of_day = matches!(
            field,
            DateField::Hour
                | DateField::Minute
                | DateField::Second
                | DateField::Milliseconds
                | DateField::Microseconds
        );
        match arg.ty {
            SqlType::Timestamp => {}
            SqlType::Date if !time_of_day => {}
            SqlType::Date => {
                return Err(self
                    .src
                    .error(e.span(), format!("a Date has no {name}"), "not in a date")
                    .with_help("CAST the date to TIMESTAMP, or extract a date field"))
            }
            other => {
                return Err(self.src.error(
                    expr.span(),
                    format!(
                        "EXTRACT needs a Timestamp or a Date, not {}",
                        other.with_article()
                    ),
                    "not a time",
                ))
            }
        }
        let nullable = arg.nullable;
        Ok(self.call(
            e,
            Func::Extract(field),
            vec![arg],
            SqlType::Decimal,
            nullable,
        ))
    }

    /// `CEIL(x)` / `FLOOR(x)`.
    pub(super) fn ceil_floor(
        &self,
        e: &ast::Expr,
        expr: &ast::Expr,
        kind: &ast::CeilFloorKind,
        ceil: bool,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let name = if ceil { "CEIL" } else { "FLOOR" };
        if let ast::CeilFloorKind::DateTimeField(f) = kind {
            if !matches!(f, ast::DateTimeField::NoDateTime) {
                return Err(self
                    .src
                    .error(
                        e.span(),
                        format!("{name}(x TO field) is not supported"),
                        "not supported",
                    )
                    .with_help("use DATE_TRUNC('field', x)"));
            }
        }
        if let ast::CeilFloorKind::Scale(_) = kind {
            return Err(self
                .src
                .error(
                    e.span(),
                    format!("{name} takes one argument"),
                    "too many arguments",
                )
                .with_help("Postgres has no scale argument here; use ROUND(x, places)"));
        }
        let arg = self.bind(expr, hook)?;
        self.rounding(
            e,
            if ceil { Func::Ceil } else { Func::Floor },
            arg,
            expr,
            name,
        )
    }

    /// ABS, ROUND, CEIL, FLOOR of one number: integers round as doubles (Postgres picks the
    /// double precision function for them), except ABS, which keeps the type.
    fn rounding(
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
            (Func::Abs, _) => arg,
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
                let s = self.text_arg(args[0], "the argument of LENGTH", hook)?;
                let nullable = s.nullable;
                Ok(self.call(e, Func::Length, vec![s], SqlType::Int, nullable))
            }
            "upper" | "lower" => {
                arity(1..=1)?;
                let s = self.text_arg(args[0], "the argument", hook)?;
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
                    self.text_arg(args[0], "the string of REPLACE", hook)?,
                    self.text_arg(args[1], "what REPLACE looks for", hook)?,
                    self.text_arg(args[2], "what REPLACE puts instead", hook)?,
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
                let places = self.int_arg(args[1], "the places of ROUND", hook)?;
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
                let ts = self.convert(ts, SqlType::Timestamp, args[1], "the time of DATE_TRUNC")?;
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
                self.extract(e, &field, args[1], hook)
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
}
