//! `TTL(rel, ts, 'duration')` in FROM: `rel` is a source, or a TUMBLE/HOP window over one.
//! Rows expire once `ts <= watermark - duration`, where the watermark is the highest `ts` the
//! source has delivered (GUIDE §2).

use super::window;
use super::SqlSource;
use crate::diagnostics::CompileError;
use crate::plan::{Input, Pipeline, Ttl, Window};
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

const SHAPE: &str =
    "TTL(table, time_column, 'duration') or TTL(TUMBLE(...), time_column, 'duration')";

/// What `TTL(...)` reads: its source, the window it wraps (if any) and the TTL itself.
pub struct TtlRelation {
    pub input: Input,
    pub window: Option<Window>,
    pub ttl: Ttl,
}

/// Parses `TTL(...)` (the call is at `call`); `resolve` finds a named table.
pub fn parse(
    src: &SqlSource,
    pipeline: &Pipeline,
    call: Span,
    args: &[ast::FunctionArg],
    resolve: impl Fn(&ast::Ident) -> Result<Input, CompileError>,
) -> Result<TtlRelation, CompileError> {
    let [relation, time, duration] = args else {
        return Err(src
            .error(
                call,
                format!("TTL takes 3 arguments, found {}", args.len()),
                "wrong number of arguments",
            )
            .with_help(format!(
                "write {SHAPE}, e.g. TTL(sales, InvoiceDate, '1 DAY')"
            )));
    };
    let (input, window) = match relation {
        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Identifier(table))) => {
            (resolve(table)?, None)
        }
        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Function(f)))
            if is_window(&f.name.to_string()) =>
        {
            let ast::FunctionArguments::List(list) = &f.args else {
                return Err(src
                    .error(f.span(), "expected the window's arguments", "no arguments")
                    .with_help(format!("write {SHAPE}")));
            };
            let mut input = None;
            let window = window::parse(src, &f.name.to_string(), f.span(), &list.args, |table| {
                let found = resolve(table)?;
                input = Some(found);
                Ok(pipeline.columns(found).to_vec())
            })?;
            let input = input.ok_or_else(|| {
                CompileError::new("internal: the windowed table was not resolved")
            })?;
            (input, Some(window))
        }
        other => {
            return Err(src
                .error(
                    other.span(),
                    "expected a table, or a TUMBLE(...) or HOP(...) window over one",
                    "not a table",
                )
                .with_help(format!("write {SHAPE}")))
        }
    };
    let Input::Source(source) = input else {
        return Err(src
            .error(
                relation.span(),
                format!(
                    "TTL reads a source, and `{}` is the result of a statement",
                    pipeline.table_name(input)
                ),
                "not a source",
            )
            .with_help("a TTL's watermark is the event time its source delivers: apply the TTL in the statement that reads the source"));
    };
    let time = window::identifier(src, time, "the time column", SHAPE)?;
    let table = &pipeline.sources[source];
    let time_column = window::time_column(src, &table.name, &table.columns, time, "TTL")?;
    let duration_us = window::duration(src, duration)?;
    Ok(TtlRelation {
        input,
        window,
        ttl: Ttl {
            time_column,
            duration_us,
        },
    })
}

/// Whether `function` is a window table function (`TUMBLE` or `HOP`).
pub fn is_window(function: &str) -> bool {
    ["TUMBLE", "HOP"]
        .iter()
        .any(|f| f.eq_ignore_ascii_case(function))
}
