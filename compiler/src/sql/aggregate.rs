//! Binding the SELECT list and HAVING of an aggregation: aggregate calls become
//! `ExprKind::Aggregate`, GROUP BY expressions become `ExprKind::GroupKey`, and any other
//! column is an error (as in Postgres).

use super::expr::Binder;
use crate::diagnostics::CompileError;
use crate::plan::{AggCall, AggFunc, Expr, ExprKind, SqlType};
use sqlparser::ast::{self, Spanned};

/// The aggregate function a call names, if it is one.
pub fn aggregate_name(f: &ast::Function) -> Option<AggFunc> {
    match f.name.0.as_slice() {
        [ast::ObjectNamePart::Identifier(ident)] => AggFunc::from_name(&ident.value),
        _ => None,
    }
}

/// Group keys and the aggregate calls collected so far.
pub struct AggregateScope {
    pub keys: Vec<Expr>,
    pub aggregates: Vec<AggCall>,
}

impl AggregateScope {
    /// Binds an output or HAVING expression of the aggregation.
    pub fn bind(&mut self, binder: &Binder, e: &ast::Expr) -> Result<Expr, CompileError> {
        let mut hook = |b: &Binder, e: &ast::Expr| -> Option<Result<Expr, CompileError>> {
            if let ast::Expr::Function(f) = e {
                if let Some(func) = aggregate_name(f) {
                    return Some(self.aggregate(b, e, f, func));
                }
            }
            // An expression equal to a GROUP BY key is that key.
            if let Ok(row_expr) = b.bind_row(e, "GROUP BY") {
                if let Some(i) = self.keys.iter().position(|k| *k == row_expr) {
                    let key = &self.keys[i];
                    return Some(Ok(Expr {
                        kind: ExprKind::GroupKey(i),
                        ty: key.ty,
                        nullable: key.nullable,
                        span: row_expr.span,
                    }));
                }
                if matches!(
                    e,
                    ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
                ) {
                    return Some(Err(b
                        .src
                        .error(e.span(), format!("column `{e}` must appear in GROUP BY or be used in an aggregate function"), "not grouped")
                        .with_help(format!("add `{e}` to GROUP BY, or aggregate it, e.g. MAX({e})"))));
                }
            }
            None
        };
        binder.bind(e, &mut hook)
    }

    fn aggregate(
        &mut self,
        b: &Binder,
        e: &ast::Expr,
        f: &ast::Function,
        func: AggFunc,
    ) -> Result<Expr, CompileError> {
        let name = f.name.to_string().to_ascii_uppercase();
        if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
            return Err(b.src.error(e.span(), format!("{name} with OVER, FILTER or WITHIN GROUP is not supported"), "not supported")
                .with_help("window functions are not supported in pipelines; use GROUP BY (or TUMBLE/HOP windows)"));
        }
        let ast::FunctionArguments::List(list) = &f.args else {
            return Err(b
                .src
                .error(e.span(), format!("{name} needs one argument"), "here"));
        };
        if !list.clauses.is_empty() {
            return Err(b
                .src
                .error(
                    e.span(),
                    format!("{name}(... ORDER BY/LIMIT) is not supported"),
                    "not supported",
                )
                .with_help("an aggregate's value does not depend on the order of its rows"));
        }
        let distinct = matches!(
            list.duplicate_treatment,
            Some(ast::DuplicateTreatment::Distinct)
        );
        let pair = matches!(func, AggFunc::MaxValue | AggFunc::MinValue);
        let mut returned = None;
        let arg = match list.args.as_slice() {
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)]
                if func == AggFunc::Count && !distinct =>
            {
                None
            }
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] if !pair => {
                Some(b.bind_row(arg, "aggregate arguments")?)
            }
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg)), ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(value))]
                if pair && !distinct =>
            {
                let value = b.bind_row(value, "aggregate arguments")?;
                if !value.ty.is_orderable() || value.ty == SqlType::Null {
                    return Err(b.src.error(e.span(), format!("{name} cannot return {} value", value.ty.with_article()), "not comparable").with_help("ties are broken by the greatest returned value, so it must be comparable; CAST a NULL to a type"));
                }
                returned = Some(value);
                Some(b.bind_row(arg, "aggregate arguments")?)
            }
            _ if pair => {
                return Err(b
                    .src
                    .error(e.span(), format!("{name} takes two arguments"), "here")
                    .with_help(format!(
                        "{name}(x, y) returns y of the row with the {} x",
                        if func == AggFunc::MaxValue {
                            "greatest"
                        } else {
                            "least"
                        }
                    )))
            }
            _ => {
                return Err(b.src.error(
                    e.span(),
                    format!("{name} takes exactly one argument"),
                    "here",
                ))
            }
        };
        let ty = match &returned {
            Some(value) => Some(value.ty),
            None => result_type(func, arg.as_ref()),
        }
        .filter(|_| {
            !pair
                || arg
                    .as_ref()
                    .is_some_and(|a| a.ty.is_orderable() && a.ty != SqlType::Null)
        })
        .ok_or_else(|| {
            let arg_ty = arg.as_ref().map_or(SqlType::Null, |a| a.ty);
            b.src
                .error(
                    e.span(),
                    format!("{name} cannot take {} argument", arg_ty.with_article()),
                    "type mismatch",
                )
                .with_help(match func {
                    AggFunc::Sum | AggFunc::Avg => {
                        "SUM and AVG need a number (Int, UInt, Decimal, Float)"
                    }
                    _ => "MIN, MAX, MAX_VALUE and MIN_VALUE need a value that can be ordered",
                })
        })?;
        if distinct && arg.as_ref().is_some_and(|a| !a.ty.is_orderable()) {
            return Err(b.src.error(
                e.span(),
                format!("{name}(DISTINCT ...) needs values that can be compared"),
                "not comparable",
            ));
        }
        // MIN and MAX of the distinct values are MIN and MAX.
        let distinct = distinct && matches!(func, AggFunc::Count | AggFunc::Sum | AggFunc::Avg);
        let call = AggCall {
            func,
            arg,
            returned,
            distinct,
            ty,
        };
        let index = match self.aggregates.iter().position(|c| *c == call) {
            Some(i) => i,
            None => {
                self.aggregates.push(call);
                self.aggregates.len() - 1
            }
        };
        let nullable = func != AggFunc::Count;
        Ok(Expr {
            kind: ExprKind::Aggregate(index),
            ty,
            nullable,
            span: b.src.span(e.span()),
        })
    }
}

/// The result type of an aggregate, following Postgres (AVG of integers is numeric).
fn result_type(func: AggFunc, arg: Option<&Expr>) -> Option<SqlType> {
    let arg_ty = arg.map(|a| a.ty);
    match (func, arg_ty) {
        (AggFunc::Count, _) => Some(SqlType::Int),
        (AggFunc::Sum, Some(t)) if t.is_numeric() => Some(t),
        (AggFunc::Avg, Some(SqlType::Int | SqlType::UInt | SqlType::Decimal)) => {
            Some(SqlType::Decimal)
        }
        (AggFunc::Avg, Some(SqlType::Float)) => Some(SqlType::Float),
        (AggFunc::Min | AggFunc::Max, Some(t)) if t.is_orderable() && t != SqlType::Null => Some(t),
        _ => None,
    }
}
