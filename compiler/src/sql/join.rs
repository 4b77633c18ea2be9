//! Binding `FROM a JOIN b ON ... [JOIN c ON ...]`: each JOIN becomes a hidden statement
//! `<table>__join<n>` whose body is a [`Join`], the left input of the next one; the statement
//! then reads the last.

use super::expr::{Binder, TableRef};
use super::SqlSource;
use crate::diagnostics::CompileError;
use crate::plan::{
    BinaryOp, Body, Expr, ExprKind, Input, Join, JoinKind, Pipeline, SourceKind, SqlType,
    Statement, TableKey,
};
use sqlparser::ast::{self, Spanned};
use std::collections::BTreeSet;

/// A table of FROM as resolved: what it reads, and its name and alias for qualifiers.
pub struct Relation {
    pub input: Input,
    pub name: String,
    pub alias: Option<String>,
}

/// Binds the joins of `from` (whose first relation is `first`), pushing one hidden statement
/// per JOIN. Returns the last one and the tables its columns come from, in order.
pub fn bind(
    src: &SqlSource,
    pipeline: &mut Pipeline,
    statement: &str,
    query: &ast::Query,
    from: &ast::TableWithJoins,
    resolve: &dyn Fn(&Pipeline, &ast::TableFactor) -> Result<Relation, CompileError>,
) -> Result<(Input, Vec<TableRef>), CompileError> {
    let first = resolve(pipeline, &from.relation)?;
    require_key(src, pipeline, &first, from.relation.span())?;
    let mut input = first.input;
    let mut tables = vec![TableRef {
        name: first.name,
        alias: first.alias,
        columns: 0..pipeline.columns(input).len(),
    }];
    for (n, join) in from.joins.iter().enumerate() {
        let (kind, on) = kind_and_condition(src, join)?;
        let right = resolve(pipeline, &join.relation)?;
        require_key(src, pipeline, &right, join.relation.span())?;
        let qualifier = right.alias.as_ref().unwrap_or(&right.name);
        if tables.iter().any(|t| {
            t.alias
                .as_ref()
                .unwrap_or(&t.name)
                .eq_ignore_ascii_case(qualifier)
        }) {
            return Err(src
                .error(
                    join.relation.span(),
                    format!("`{qualifier}` appears twice in FROM"),
                    "name taken",
                )
                .with_help(format!(
                    "give each an alias, e.g. `FROM {0} a JOIN {0} b ON a.id = b.parent_id`",
                    right.name
                )));
        }
        let left_width = pipeline.columns(input).len();
        let mut columns = pipeline.columns(input).to_vec();
        columns.extend_from_slice(pipeline.columns(right.input));
        tables.push(TableRef {
            name: right.name,
            alias: right.alias,
            columns: left_width..columns.len(),
        });
        let binder = Binder {
            src,
            tables: &tables,
            columns: &columns,
        };
        let body = split_condition(&binder, on, kind, left_width)?;
        let body = Join {
            right: right.input,
            ..body
        };
        // NULL-padded sides: every column of a side an outer join may pad can be NULL.
        for (i, column) in columns.iter_mut().enumerate() {
            let padded = if i < left_width {
                kind.pads_left()
            } else {
                kind.pads_right()
            };
            column.nullable |= padded;
        }
        let name = format!("{statement}__join{}", n + 1);
        if pipeline
            .statements
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&name))
        {
            return Err(src
                .error(
                    join.span(),
                    format!("this join would be stored as `{name}`, which is already a table"),
                    "name taken",
                )
                .with_help("rename the table of that name"));
        }
        pipeline.statements.push(Statement {
            name,
            sql: src.lines_of(query.span()),
            line: src.config_line(query.span()),
            input,
            window: None,
            ttl: None,
            hidden: true,
            columns,
            key: TableKey::Join(
                Box::new(pipeline.key(input)),
                Box::new(pipeline.key(right.input)),
            ),
            body: Body::Join(body),
            span: src.span(join.span()),
        });
        input = Input::Statement(pipeline.statements.len() - 1);
    }
    Ok((input, tables))
}

/// The join kind and its ON condition; other forms are refused with what to write instead.
fn kind_and_condition<'j>(
    src: &SqlSource,
    join: &'j ast::Join,
) -> Result<(JoinKind, &'j ast::Expr), CompileError> {
    use ast::JoinOperator as J;
    let (kind, constraint) = match &join.join_operator {
        J::Join(c) | J::Inner(c) => (JoinKind::Inner, c),
        J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, c),
        J::Right(c) | J::RightOuter(c) => (JoinKind::Right, c),
        J::FullOuter(c) => (JoinKind::Full, c),
        J::CrossJoin(_) => {
            return Err(src
                .error(join.span(), "CROSS JOIN is not supported in a pipeline", "not supported")
                .with_help("every change would be matched against every row of the other side; join on an equality: `JOIN t ON a.x = t.x`"))
        }
        _ => {
            return Err(src
                .error(join.span(), "this kind of join is not supported in a pipeline", "not supported")
                .with_help("use [INNER] JOIN, LEFT, RIGHT or FULL [OUTER] JOIN with ON; for a semi-join, join a subquery with SELECT DISTINCT of the key"))
        }
    };
    match constraint {
        ast::JoinConstraint::On(on) => Ok((kind, on)),
        ast::JoinConstraint::Using(..) | ast::JoinConstraint::UsingAlias(..) => Err(src
            .error(
                join.span(),
                "JOIN ... USING is not supported",
                "not supported",
            )
            .with_help("write the equalities with ON: `JOIN t ON a.id = t.id`")),
        ast::JoinConstraint::Natural => Err(src
            .error(
                join.span(),
                "NATURAL JOIN is not supported",
                "not supported",
            )
            .with_help("name the columns: `JOIN t ON a.id = t.id`")),
        ast::JoinConstraint::None => Err(src
            .error(join.span(), "this JOIN has no ON condition", "no condition")
            .with_help("add the equalities that match rows: `JOIN t ON a.id = t.a_id`")),
    }
}

/// Splits an ON condition into its equalities between the sides, conditions over one side,
/// and (INNER only) conditions over both.
fn split_condition(
    binder: &Binder,
    on: &ast::Expr,
    kind: JoinKind,
    left_width: usize,
) -> Result<Join, CompileError> {
    let src = binder.src;
    let side = |e: &Expr| {
        let mut columns = BTreeSet::new();
        e.collect_columns(&mut columns);
        let left = columns.iter().any(|&c| c < left_width);
        let right = columns.iter().any(|&c| c >= left_width);
        (left, right)
    };
    let to_right = |mut e: Expr| {
        e.map_columns(&|c| c - left_width);
        e
    };
    let mut join = Join {
        kind,
        right: Input::Source(0),
        left_keys: Vec::new(),
        right_keys: Vec::new(),
        left_condition: None,
        right_condition: None,
        filter: None,
    };
    for on in conjuncts(on) {
        let part = super::statement::bind_condition(binder, on, "ON")?;
        if let ExprKind::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } = &part.kind
        {
            let pair = match (side(left), side(right)) {
                ((true, false), (false, true)) => Some((left, right)),
                ((false, true), (true, false)) => Some((right, left)),
                _ => None,
            };
            if let Some((l, r)) = pair {
                if !l.ty.is_orderable() {
                    return Err(src
                        .error(
                            on.span(),
                            format!("cannot join on {} value", l.ty.with_article()),
                            "not comparable",
                        )
                        .with_help(
                            "join on a column of another type, or on a field extracted with ->>",
                        ));
                }
                join.left_keys.push((**l).clone());
                join.right_keys.push(to_right((**r).clone()));
                continue;
            }
        }
        match side(&part) {
            (_, false) => join.left_condition = and(join.left_condition.take(), part),
            (false, true) => {
                join.right_condition = and(join.right_condition.take(), to_right(part))
            }
            (true, true) if kind == JoinKind::Inner => join.filter = and(join.filter.take(), part),
            (true, true) => {
                return Err(src
                    .error(
                        on.span(),
                        "an outer join's ON may only compare the two sides with `=`",
                        "not supported",
                    )
                    .with_help(format!(
                        "keep `{on}` out of ON: filter a subquery of one side, or use an INNER JOIN"
                    )))
            }
        }
    }
    if join.left_keys.is_empty() {
        return Err(src
            .error(on.span(), "a join needs an equality between its two sides", "no equality")
            .with_help("match rows with `=`, e.g. `ON o.customer_id = c.id`: dozerc keeps each side indexed by it"));
    }
    Ok(join)
}

/// The parts of an AND chain.
fn conjuncts(e: &ast::Expr) -> Vec<&ast::Expr> {
    match e {
        ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            let mut parts = conjuncts(left);
            parts.extend(conjuncts(right));
            parts
        }
        ast::Expr::Nested(inner) => conjuncts(inner),
        _ => vec![e],
    }
}

fn and(acc: Option<Expr>, e: Expr) -> Option<Expr> {
    Some(match acc {
        None => e,
        Some(acc) => Expr {
            span: acc.span,
            kind: ExprKind::Binary {
                op: BinaryOp::And,
                left: Box::new(acc),
                right: Box::new(e),
            },
            ty: SqlType::Boolean,
            nullable: true,
        },
    })
}

/// A joined table needs a key per row: a Postgres table without a primary key has none.
fn require_key(
    src: &SqlSource,
    pipeline: &Pipeline,
    relation: &Relation,
    span: sqlparser::tokenizer::Span,
) -> Result<(), CompileError> {
    if let Input::Source(source) = relation.input {
        let source = &pipeline.sources[source];
        if matches!(source.kind, SourceKind::Postgres { .. }) && source.primary_key.is_empty() {
            return Err(src
                .error(
                    span,
                    format!("`{}` has no primary key, so its rows cannot be joined one by one", source.name),
                    "table without primary key",
                )
                .with_help("add a primary key to the table (then dozerc build --refresh-schema), or join a GROUP BY subquery of it"));
        }
    }
    Ok(())
}
