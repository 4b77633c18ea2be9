//! Expressions as Rust: every SQL expression becomes a Rust expression of type `Option<T>`
//! (`None` is NULL). Fallible operators end in `?` inside functions returning
//! `Result<_, EvalError>`.

use super::names::ident;
use super::types::{is_copy, rust_type};
use crate::plan::{BinaryOp, Expr, ExprKind, Func, Literal, SqlType, TrimSide};
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
        ExprKind::Case {
            branches,
            otherwise,
        } => {
            let conditions = branches.iter().map(|(w, _)| expr(w, scope));
            let values = branches.iter().map(|(_, v)| expr(v, scope));
            let otherwise = match otherwise {
                Some(o) => expr(o, scope),
                None => {
                    let t = rust_type(e.ty);
                    quote!(None::<#t>)
                }
            };
            quote!({ #( if expr::is_true(#conditions) { #values } else )* { #otherwise } })
        }
        ExprKind::Call { func, args } => call(*func, args, e, scope),
        ExprKind::InList {
            expr: x,
            list,
            negated,
        } => {
            let x = expr(x, scope);
            let items = list.iter().map(|i| expr(i, scope));
            let test = quote!(expr::in_list(#x, [#( #items ),*]));
            if *negated {
                quote!(expr::not(#test))
            } else {
                test
            }
        }
        ExprKind::Like {
            expr: x,
            pattern,
            escape,
            negated,
            case_insensitive,
        } => {
            let (x, pattern) = (borrowed_text(x, scope), borrowed_text(pattern, scope));
            let escape = match escape {
                Some(c) => quote!(Some(#c)),
                None => quote!(None),
            };
            let test = quote!(expr::like(#x, #pattern, #escape, #case_insensitive)?);
            if *negated {
                quote!(expr::not(#test))
            } else {
                test
            }
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

/// A scalar function call.
fn call(func: Func, args: &[Expr], e: &Expr, scope: &Scope) -> TokenStream {
    let a: Vec<TokenStream> = args.iter().map(|x| expr(x, scope)).collect();
    match func {
        // Later arguments are evaluated only when the earlier ones are NULL.
        Func::Coalesce => {
            let mut code = a.last().cloned().unwrap_or_else(|| {
                let t = rust_type(e.ty);
                quote!(None::<#t>)
            });
            for value in a.iter().rev().skip(1) {
                code = quote!(match #value { Some(v) => Some(v), None => #code });
            }
            code
        }
        Func::NullIf => {
            let (x, y) = (&a[0], &a[1]);
            quote!(expr::nullif(#x, #y))
        }
        Func::Length => call1(quote!(expr::length), &a),
        Func::Upper => call1(quote!(expr::upper), &a),
        Func::Lower => call1(quote!(expr::lower), &a),
        Func::Concat => {
            let parts = args.iter().zip(&a).map(|(arg, code)| match arg.ty {
                SqlType::Boolean => quote!(expr::bool_text(#code)),
                _ => quote!(expr::text_of(#code)),
            });
            quote!(expr::concat_all([#( #parts ),*]))
        }
        Func::Substring => {
            let (s, start) = (&a[0], &a[1]);
            let count = match a.get(2) {
                Some(c) => quote!(Some(#c)),
                None => quote!(None),
            };
            quote!(expr::substring(#s, #start, #count)?)
        }
        Func::Trim(side) => {
            let (s, chars) = (&a[0], &a[1]);
            let side = match side {
                TrimSide::Both => quote!(expr::TrimSide::Both),
                TrimSide::Leading => quote!(expr::TrimSide::Leading),
                TrimSide::Trailing => quote!(expr::TrimSide::Trailing),
            };
            quote!(expr::trim(#s, #chars, #side))
        }
        Func::Replace => {
            let (s, from, to) = (&a[0], &a[1], &a[2]);
            quote!(expr::replace(#s, #from, #to))
        }
        Func::Position => {
            let (needle, haystack) = (&a[0], &a[1]);
            quote!(expr::position(#needle, #haystack))
        }
        Func::Abs => {
            let x = &a[0];
            quote!(expr::abs(#x)?)
        }
        Func::Round if a.len() == 2 => {
            let (x, places) = (&a[0], &a[1]);
            quote!(expr::round_to(#x, #places)?)
        }
        Func::Round => call1(quote!(expr::round), &a),
        Func::Ceil => call1(quote!(expr::ceil), &a),
        Func::Floor => call1(quote!(expr::floor), &a),
        Func::Extract(field) => {
            let field = quote::format_ident!("{}", field.variant());
            let x = &a[0];
            if args[0].ty == SqlType::Date {
                quote!(expr::extract_date(expr::DateField::#field, #x))
            } else {
                quote!(expr::extract(expr::DateField::#field, #x))
            }
        }
        Func::DateTrunc(field) => {
            let field = quote::format_ident!("{}", field.variant());
            let x = &a[0];
            quote!(expr::date_trunc(expr::DateField::#field, #x)?)
        }
        Func::AddInterval { months, micros } => {
            let x = &a[0];
            quote!(expr::add_interval(#x, #months, #micros)?)
        }
        Func::DateAddDays => {
            let (d, n) = (&a[0], &a[1]);
            quote!(expr::date_add_days(#d, #n)?)
        }
        Func::DateDiff => {
            let (x, y) = (&a[0], &a[1]);
            quote!(expr::date_diff(#x, #y))
        }
        Func::JsonGet => {
            let (j, k) = (&a[0], &a[1]);
            quote!(expr::json_get(#j, #k))
        }
        Func::JsonGetText => {
            let (j, k) = (&a[0], &a[1]);
            quote!(expr::json_get_text(#j, #k))
        }
        Func::IntRange { bits } => {
            let x = &a[0];
            let bits = u32::from(bits);
            quote!(expr::int_range(#x, #bits)?)
        }
    }
}

fn call1(function: TokenStream, args: &[TokenStream]) -> TokenStream {
    let x = &args[0];
    quote!(#function(#x))
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
