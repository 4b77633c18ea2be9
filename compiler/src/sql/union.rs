//! Binding `UNION ALL` and `UNION`: each branch is bound as a hidden statement
//! `<table>__union<n>`, read by one union statement (`Body::Union`); UNION then keeps the
//! distinct rows, grouping the union by every column.

use super::statement::{bind_query, Scope};
use super::SqlSource;
use crate::diagnostics::CompileError;
use crate::plan::{Body, Column, Expr, ExprKind, Input, Pipeline, SqlType, Statement, TableKey};
use sqlparser::ast::{self, Spanned};

/// Binds the set operation of `query` as statement `name` (not pushed; its branches are).
pub fn bind(
    src: &SqlSource,
    pipeline: &mut Pipeline,
    query: &ast::Query,
    name: &str,
    hidden: bool,
    scope: &Scope,
) -> Result<Statement, CompileError> {
    let mut branch_count = 0;
    let mut binder = UnionBinder {
        src,
        query,
        root: name,
        scope,
        branch_count: &mut branch_count,
        first_branch: None,
    };
    binder.set(pipeline, &query.body, name, hidden)
}

struct UnionBinder<'a> {
    src: &'a SqlSource,
    /// The statement's query: its text and span for the hidden statements.
    query: &'a ast::Query,
    root: &'a str,
    scope: &'a Scope,
    branch_count: &'a mut usize,
    /// The first branch bound: later branches take its column types for bare NULLs.
    first_branch: Option<usize>,
}

impl UnionBinder<'_> {
    fn set(
        &mut self,
        pipeline: &mut Pipeline,
        set: &ast::SetExpr,
        name: &str,
        hidden: bool,
    ) -> Result<Statement, CompileError> {
        let src = self.src;
        let all = union_quantifier(src, set)?;
        // `a UNION ALL b UNION ALL c` is one union of three branches.
        let mut parts = Vec::new();
        let mut rest = set;
        while let ast::SetExpr::SetOperation { left, right, .. } = rest {
            if union_quantifier(src, rest)? != all {
                break;
            }
            parts.push(&**right);
            rest = left;
        }
        parts.push(rest);
        parts.reverse();
        let mut branches = Vec::new();
        for part in parts {
            let statement = self.branch(pipeline, part)?;
            pipeline.statements.push(statement);
            let index = pipeline.statements.len() - 1;
            self.first_branch.get_or_insert(index);
            branches.push(Input::Statement(index));
        }
        let columns = union_columns(src, pipeline, &branches, set)?;
        let union_all = Statement {
            name: if all {
                name.to_string()
            } else {
                format!("{name}__all")
            },
            sql: src.lines_of(self.query.span()),
            line: src.config_line(self.query.span()),
            input: branches[0],
            window: None,
            ttl: None,
            hidden: hidden || !all,
            columns: columns.clone(),
            key: TableKey::Union(branches.iter().map(|&b| pipeline.key(b)).collect()),
            body: Body::Union { branches },
            span: src.span(set.span()),
        };
        if all {
            return Ok(union_all);
        }
        // UNION: one row per distinct row of the UNION ALL, keyed by all of its columns.
        if let Some(c) = columns.iter().find(|c| !c.ty.is_orderable()) {
            return Err(src
                .error(
                    set.span(),
                    format!(
                        "UNION cannot compare {} column `{}`",
                        c.ty.with_article(),
                        c.name
                    ),
                    "not comparable",
                )
                .with_help("use UNION ALL, or select a field of it with ->>"));
        }
        let span = union_all.span;
        pipeline.statements.push(union_all);
        let column = |i: usize, kind: ExprKind| Expr {
            kind,
            ty: columns[i].ty,
            nullable: columns[i].nullable,
            span,
        };
        Ok(Statement {
            name: name.to_string(),
            sql: src.lines_of(self.query.span()),
            line: src.config_line(self.query.span()),
            input: Input::Statement(pipeline.statements.len() - 1),
            window: None,
            ttl: None,
            hidden,
            key: TableKey::Tuple {
                types: columns.iter().map(|c| c.ty).collect(),
                columns: (0..columns.len()).map(Some).collect(),
            },
            body: Body::Aggregate {
                filter: None,
                keys: (0..columns.len())
                    .map(|i| column(i, ExprKind::Column(i)))
                    .collect(),
                aggregates: Vec::new(),
                outputs: (0..columns.len())
                    .map(|i| column(i, ExprKind::GroupKey(i)))
                    .collect(),
                having: None,
            },
            columns,
            span,
        })
    }

    /// One branch, bound as hidden statement `<table>__union<n>`.
    fn branch(
        &mut self,
        pipeline: &mut Pipeline,
        part: &ast::SetExpr,
    ) -> Result<Statement, CompileError> {
        *self.branch_count += 1;
        let name = format!("{}__union{}", self.root, self.branch_count);
        let first = self
            .first_branch
            .map(|i| pipeline.statements[i].columns.clone());
        let first = first.as_deref();
        match part {
            ast::SetExpr::SetOperation { .. } => self.set(pipeline, part, &name, true),
            ast::SetExpr::Select(select) => {
                // The first SELECT carries the statement's INTO; the branch itself has none.
                let mut select = select.clone();
                if self.first_branch.is_none() {
                    select.into = None;
                }
                let query = ast::Query {
                    with: None,
                    body: Box::new(ast::SetExpr::Select(select)),
                    ..self.query.clone()
                };
                bind_query(self.src, pipeline, &query, Some(name), self.scope, first)
            }
            ast::SetExpr::Query(query) => {
                bind_query(self.src, pipeline, query, Some(name), self.scope, first)
            }
            other => Err(self
                .src
                .error(
                    other.span(),
                    "a UNION branch must be a SELECT",
                    "not a SELECT",
                )
                .with_help("write each branch as `SELECT ... FROM ...`")),
        }
    }
}

/// Whether a set operation is UNION ALL (true) or UNION (false); others are refused.
fn union_quantifier(src: &SqlSource, set: &ast::SetExpr) -> Result<bool, CompileError> {
    let ast::SetExpr::SetOperation {
        op, set_quantifier, ..
    } = set
    else {
        return Ok(true);
    };
    if *op != ast::SetOperator::Union {
        return Err(src
            .error(set.span(), format!("{op} is not supported in a pipeline"), "not supported")
            .with_help("for rows of one query that (do not) match another, LEFT JOIN them and filter on `IS [NOT] NULL`"));
    }
    match set_quantifier {
        ast::SetQuantifier::All => Ok(true),
        ast::SetQuantifier::Distinct | ast::SetQuantifier::None => Ok(false),
        other => Err(src
            .error(
                set.span(),
                format!("UNION {other} is not supported"),
                "not supported",
            )
            .with_help("use UNION or UNION ALL, with columns matched by position")),
    }
}

/// The union's columns: the first branch's names; each type the common type of the branches'
/// (numbers promote as in Postgres); nullable if any branch's is.
fn union_columns(
    src: &SqlSource,
    pipeline: &Pipeline,
    branches: &[Input],
    set: &ast::SetExpr,
) -> Result<Vec<Column>, CompileError> {
    let mut columns = pipeline.columns(branches[0]).to_vec();
    for (n, &branch) in branches.iter().enumerate().skip(1) {
        let other = pipeline.columns(branch);
        if other.len() != columns.len() {
            return Err(src
                .error(
                    set.span(),
                    format!(
                        "UNION branches select different numbers of columns: {} in the first, {} in branch {}",
                        columns.len(),
                        other.len(),
                        n + 1
                    ),
                    "column counts differ",
                )
                .with_help("select the same columns in each branch, in the same order"));
        }
        for (column, theirs) in columns.iter_mut().zip(other) {
            let ty = if column.ty == theirs.ty {
                Some(column.ty)
            } else {
                SqlType::comparison_union(column.ty, theirs.ty)
            };
            let Some(ty) = ty else {
                return Err(src
                    .error(
                        set.span(),
                        format!(
                            "UNION column `{}` is {} in the first branch and {} in branch {}",
                            column.name,
                            column.ty.with_article(),
                            theirs.ty.with_article(),
                            n + 1
                        ),
                        "types differ",
                    )
                    .with_help("CAST one of them so that the branches agree"));
            };
            column.ty = ty;
            column.nullable |= theirs.nullable;
        }
    }
    Ok(columns)
}
