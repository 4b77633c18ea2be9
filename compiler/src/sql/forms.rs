//! Binding of SQL's special forms: CASE, IN, BETWEEN, LIKE/ILIKE, SUBSTRING, TRIM, POSITION,
//! EXTRACT and CEIL/FLOOR, with the argument conversions and result types Postgres gives them.
//! Runtime semantics are in `runtime/src/expr/`.

use super::coerce::coerce;
use super::expr::{Binder, Hook};
use crate::diagnostics::CompileError;
use crate::plan::{BinaryOp, DateField, Expr, ExprKind, Func, Literal, SqlType, TrimSide};
use sqlparser::ast::{self, Spanned};

impl Binder<'_> {
    pub(super) fn node(&self, e: &ast::Expr, kind: ExprKind, ty: SqlType, nullable: bool) -> Expr {
        Expr {
            kind,
            ty,
            nullable,
            span: self.src.span(e.span()),
        }
    }

    pub(super) fn convert(
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
    pub(super) fn unify(
        &self,
        values: Vec<Expr>,
        at: &ast::Expr,
        what: &str,
    ) -> Result<(Vec<Expr>, SqlType), CompileError> {
        // A quoted literal takes the type of the other values, as in Postgres
        // (`COALESCE(day, '2024-01-01')` is a Date); only literals together are text.
        let is_text_literal = |v: &Expr| matches!(v.kind, ExprKind::Literal(Literal::String(_)));
        let typed: Vec<&Expr> = values.iter().filter(|v| !is_text_literal(v)).collect();
        let basis: Vec<&Expr> = if typed.iter().all(|v| v.ty == SqlType::Null) {
            values.iter().collect()
        } else {
            typed
        };
        let mut ty = SqlType::Null;
        for v in basis {
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
    pub(super) fn comparison(
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

    pub(super) fn negate_if(&self, e: &ast::Expr, node: Expr, negated: bool) -> Expr {
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

    pub(super) fn call(
        &self,
        e: &ast::Expr,
        func: Func,
        args: Vec<Expr>,
        ty: SqlType,
        nullable: bool,
    ) -> Expr {
        self.node(e, ExprKind::Call { func, args }, ty, nullable)
    }

    /// Binds an argument and converts it to `ty` (`what` names it in the error).
    pub(super) fn typed_arg(
        &self,
        ty: SqlType,
        arg: &ast::Expr,
        what: &str,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let bound = self.bind(arg, hook)?;
        self.convert(bound, ty, arg, what)
    }

    pub(super) fn substring(
        &self,
        e: &ast::Expr,
        expr: &ast::Expr,
        from: Option<&ast::Expr>,
        count: Option<&ast::Expr>,
        hook: &mut Hook,
    ) -> Result<Expr, CompileError> {
        let mut args =
            vec![self.typed_arg(SqlType::String, expr, "the string of SUBSTRING", hook)?];
        let start = match from {
            Some(ast::Expr::Value(v)) if matches!(v.value, ast::Value::SingleQuotedString(_)) => {
                // Postgres reads `SUBSTRING(s FROM 'text')` as a regular expression.
                return Err(self
                    .src
                    .error(
                        v.span(),
                        "SUBSTRING with a pattern is not supported",
                        "a pattern",
                    )
                    .with_help("give the start as a number: SUBSTRING(s FROM 2 FOR 3)"));
            }
            Some(f) => self.typed_arg(SqlType::Int, f, "the start of SUBSTRING", hook)?,
            None => self.node(e, ExprKind::Literal(Literal::Int(1)), SqlType::Int, false),
        };
        args.push(start);
        if let Some(c) = count {
            args.push(self.typed_arg(SqlType::Int, c, "the length of SUBSTRING", hook)?);
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
        let text = self.typed_arg(SqlType::String, expr, "the string of TRIM", hook)?;
        let chars = match (what, characters) {
            (Some(w), _) => {
                self.typed_arg(SqlType::String, w, "the characters TRIM removes", hook)?
            }
            (None, Some([c])) => {
                self.typed_arg(SqlType::String, c, "the characters TRIM removes", hook)?
            }
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
            self.typed_arg(SqlType::String, needle, "the substring of POSITION", hook)?,
            self.typed_arg(SqlType::String, haystack, "the string of POSITION", hook)?,
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
}
