//! Expressions as Rust: every SQL expression becomes a Rust expression of type `Option<T>`
//! (`None` is NULL). Fallible operators end in `?` inside functions returning
//! `Result<_, EvalError>`.

use super::names::ident;
use super::types::{is_copy, rust_type};
use crate::plan::{BinaryOp, Expr, ExprKind, Literal, SqlType};
use proc_macro2::TokenStream;
use quote::quote;

/// What names refer to where an expression is evaluated.
pub struct Scope<'a> {
    /// Field names of the input record, bound to `row`.
    pub row_fields: &'a [String],
    /// Over a window: column indexes from `row_fields.len()` on are `window_start` and
    /// `window_end`, bound to variables of those names.
    pub windowed: bool,
}

/// Rust code computing `e` as an `Option<T>`.
pub fn expr(e: &Expr, scope: &Scope) -> TokenStream {
    match &e.kind {
        ExprKind::Column(i) if scope.windowed && *i >= scope.row_fields.len() => {
            if *i == scope.row_fields.len() {
                quote!(window_start)
            } else {
                quote!(window_end)
            }
        }
        ExprKind::Column(i) => {
            let field = ident(&scope.row_fields[*i]);
            if is_copy(e.ty) {
                quote!(row.#field)
            } else {
                quote!(row.#field.clone())
            }
        }
        ExprKind::Literal(literal) => self::literal(literal, e.ty),
        ExprKind::Binary { op, left, right } => {
            // Text is compared borrowed (`Option<&str>`): no allocation per row.
            let (l, r) = if op.is_comparison() && left.ty.is_text() {
                (borrowed_text(left, scope), borrowed_text(right, scope))
            } else {
                (expr(left, scope), expr(right, scope))
            };
            match op {
                BinaryOp::Add => quote!(expr::add(#l, #r)?),
                BinaryOp::Sub => quote!(expr::sub(#l, #r)?),
                BinaryOp::Mul => quote!(expr::mul(#l, #r)?),
                BinaryOp::Div => quote!(expr::div(#l, #r)?),
                BinaryOp::Rem => quote!(expr::rem(#l, #r)?),
                BinaryOp::Eq => quote!(expr::eq(#l, #r)),
                BinaryOp::NotEq => quote!(expr::ne(#l, #r)),
                BinaryOp::Lt => quote!(expr::lt(#l, #r)),
                BinaryOp::LtEq => quote!(expr::le(#l, #r)),
                BinaryOp::Gt => quote!(expr::gt(#l, #r)),
                BinaryOp::GtEq => quote!(expr::ge(#l, #r)),
                BinaryOp::And => quote!(expr::and(#l, #r)),
                BinaryOp::Or => quote!(expr::or(#l, #r)),
                BinaryOp::Concat => quote!(expr::concat(#l, #r)),
            }
        }
        ExprKind::Negate(inner) => {
            let inner = expr(inner, scope);
            quote!(expr::neg(#inner)?)
        }
        ExprKind::Not(inner) => {
            let inner = expr(inner, scope);
            quote!(expr::not(#inner))
        }
        ExprKind::IsNull {
            expr: inner,
            negated,
        } => {
            let inner = expr(inner, scope);
            if *negated {
                quote!(Some(#inner.is_some()))
            } else {
                quote!(Some(#inner.is_none()))
            }
        }
        ExprKind::Cast(inner) => {
            let (from, to) = (rust_type(inner.ty), rust_type(e.ty));
            let inner = expr(inner, scope);
            quote!(expr::cast::<#from, #to>(#inner)?)
        }
        ExprKind::GroupKey(i) => {
            let i = syn::Index::from(*i);
            if is_copy(e.ty) {
                quote!(key.#i)
            } else {
                quote!(key.#i.clone())
            }
        }
        ExprKind::Aggregate(i) => {
            let i = syn::Index::from(*i);
            quote!(aggs.#i.value()?)
        }
    }
}

/// A text expression as `Option<&str>`, borrowing columns, keys and literals.
fn borrowed_text(e: &Expr, scope: &Scope) -> TokenStream {
    match &e.kind {
        ExprKind::Column(i) => {
            let field = ident(&scope.row_fields[*i]);
            quote!(row.#field.as_deref())
        }
        ExprKind::GroupKey(i) => {
            let i = syn::Index::from(*i);
            quote!(key.#i.as_deref())
        }
        ExprKind::Literal(Literal::String(s)) => quote!(Some(#s)),
        ExprKind::Literal(Literal::Null) => quote!(None::<&str>),
        _ => {
            let owned = expr(e, scope);
            quote!((#owned).as_deref())
        }
    }
}

fn literal(literal: &Literal, ty: SqlType) -> TokenStream {
    match literal {
        Literal::Null => {
            let t = rust_type(ty);
            quote!(None::<#t>)
        }
        Literal::Int(v) if ty == SqlType::UInt => {
            let v = *v as u64;
            quote!(Some(#v))
        }
        Literal::Int(v) => quote!(Some(#v)),
        Literal::Decimal(text) => {
            // Parsed at build time, so the binary never parses text per row.
            let d: rust_decimal::Decimal = text.parse().unwrap_or_default();
            let mantissa = proc_macro2::Literal::i128_unsuffixed(d.mantissa());
            let scale = proc_macro2::Literal::u32_unsuffixed(d.scale());
            quote!(Some(Decimal::from_i128_with_scale(#mantissa, #scale)))
        }
        Literal::Float(v) => quote!(Some(Float(#v))),
        Literal::Boolean(b) => quote!(Some(#b)),
        Literal::String(s) => quote!(Some(String::from(#s))),
        Literal::Timestamp(micros) => quote!(Timestamp::from_timestamp_micros(#micros)),
        Literal::Date(days) => quote!(Date::from_num_days_from_ce_opt(#days)),
    }
}
