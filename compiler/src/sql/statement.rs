//! Binding one `SELECT ... INTO table FROM input [WHERE] [GROUP BY] [HAVING];` statement.

use super::aggregate::{aggregate_name, AggregateScope};
use super::expr::{Binder, TableRef};
use super::join::Relation;
use super::{ttl, window, SqlSource};
use crate::diagnostics::closest;
use crate::diagnostics::CompileError;
use crate::plan::{
    Body, Column, Expr, ExprKind, Input, Pipeline, SourceKind, SqlType, Statement, TableKey, Ttl,
    Window, WindowKind,
};
use sqlparser::ast::{self, Spanned};

const SHAPE: &str =
    "write `SELECT ... INTO <table> FROM <table> [WHERE ...] [GROUP BY ...] [HAVING ...];`";

/// Binds one statement. Its WITH queries and derived tables are bound first, as hidden
/// statements (`<table>__<name>`) pushed into `pipeline`, which the statement then reads.
pub fn bind(
    src: &SqlSource,
    pipeline: &mut Pipeline,
    statement: &ast::Statement,
) -> Result<Statement, CompileError> {
    let ast::Statement::Query(query) = statement else {
        return Err(unsupported(
            src,
            statement.span(),
            "this kind of statement",
            &format!("only SELECT statements define pipeline tables; {SHAPE}"),
        ));
    };
    bind_query(src, pipeline, query, None, &[], None)
}

/// The first SELECT of a query body (the left-most branch of a UNION).
fn first_select(body: &ast::SetExpr) -> Option<&ast::Select> {
    match body {
        ast::SetExpr::Select(select) => Some(select),
        ast::SetExpr::SetOperation { left, .. } => first_select(left),
        ast::SetExpr::Query(query) => first_select(&query.body),
        _ => None,
    }
}

/// Postgres never runs a WITH query nothing reads; dozerc would keep it up to date (and stop
/// on its errors), so an unused one is refused. `input` is what the statement itself reads.
fn require_with_used(
    src: &SqlSource,
    query: &ast::Query,
    pipeline: &Pipeline,
    with: &Scope,
    input: Option<Input>,
) -> Result<(), CompileError> {
    for (cte, index) in with {
        let read = input == Some(Input::Statement(*index))
            || pipeline.statements[*index..]
                .iter()
                .any(|s| s.reads(Input::Statement(*index)));
        if !read {
            return Err(src
                .error(
                    query.span(),
                    format!("WITH query `{cte}` is not used"),
                    "unused",
                )
                .with_help("remove it: a pipeline keeps every query it is given up to date"));
        }
    }
    Ok(())
}

fn unsupported(
    src: &SqlSource,
    span: sqlparser::tokenizer::Span,
    what: &str,
    help: &str,
) -> CompileError {
    src.error(
        span,
        format!("{what} is not supported in a pipeline"),
        "not supported",
    )
    .with_help(help.to_string())
}

/// Tables a query may name besides sources and statements: its WITH queries and derived
/// tables, by name, as the hidden statements they were bound to.
pub(super) type Scope = [(String, usize)];

/// Binds a query: the statement itself (`hidden` is None: it must have INTO) or one of its
/// WITH queries or derived tables (`hidden` names it; it must not have INTO).
///
/// A later branch of a UNION gets the first branch's columns as `union_first`: as in Postgres,
/// its columns need no names, and a bare NULL takes the first branch's type.
pub(super) fn bind_query(
    src: &SqlSource,
    pipeline: &mut Pipeline,
    query: &ast::Query,
    hidden: Option<String>,
    outer: &Scope,
    union_first: Option<&[Column]>,
) -> Result<Statement, CompileError> {
    let unsupported = |span, what: &str, help: &str| unsupported(src, span, what, help);
    if let Some(order) = &query.order_by {
        return Err(unsupported(
            order.span(),
            "ORDER BY",
            "results are served unordered; sort in the API with `$order_by`",
        ));
    }
    if let Some(limit) = &query.limit_clause {
        return Err(unsupported(
            limit.span(),
            "LIMIT/OFFSET",
            "page through results in the API with `$limit` and `$skip`",
        ));
    }
    // A UNION's INTO is in its first SELECT.
    let Some(select) = first_select(&query.body) else {
        return Err(unsupported(
            query.body.span(),
            "this query form (VALUES, ...)",
            SHAPE,
        ));
    };
    let distinct = match &select.distinct {
        None | Some(ast::Distinct::All) => false,
        Some(ast::Distinct::Distinct) => true,
        Some(ast::Distinct::On(_)) => {
            return Err(unsupported(
                select.span(),
                "SELECT DISTINCT ON",
                "use GROUP BY with MIN/MAX of the other columns",
            ))
        }
    };
    let is_hidden = hidden.is_some();
    let name = match hidden {
        Some(name) => {
            if let Some(into) = &select.into {
                return Err(src
                    .error(
                        into.span(),
                        "a query inside a statement has no INTO",
                        "INTO",
                    )
                    .with_help("only the outer SELECT names the statement's result"));
            }
            let taken = pipeline
                .sources
                .iter()
                .map(|s| &s.name)
                .chain(pipeline.statements.iter().map(|s| &s.name));
            if taken.into_iter().any(|t| t.eq_ignore_ascii_case(&name)) {
                return Err(src
                    .error(
                        query.span(),
                        format!("this query would be stored as `{name}`, which is already a table"),
                        "name taken",
                    )
                    .with_help("rename the WITH query or the subquery's alias"));
            }
            name
        }
        None => output_name(src, select, pipeline)?,
    };
    let mut scope = outer.to_vec();
    if let Some(with) = &query.with {
        if with.recursive {
            return Err(unsupported(
                with.span(),
                "WITH RECURSIVE",
                "a pipeline's tables are computed once per change, not iterated; write the steps as statements",
            ));
        }
        for cte in &with.cte_tables {
            if !cte.alias.columns.is_empty() {
                return Err(src
                    .error(
                        cte.alias.span(),
                        "column names after a WITH name are not supported",
                        "column list",
                    )
                    .with_help("name the columns with AS inside the query"));
            }
            let cte_name = cte.alias.name.value.clone();
            let hidden = bind_query(
                src,
                pipeline,
                &cte.query,
                Some(format!("{name}__{cte_name}")),
                &scope,
                None,
            )?;
            pipeline.statements.push(hidden);
            scope.push((cte_name, pipeline.statements.len() - 1));
        }
    }
    if let ast::SetExpr::SetOperation { .. } = query.body.as_ref() {
        let statement = super::union::bind(src, pipeline, query, &name, is_hidden, &scope)?;
        require_with_used(src, query, pipeline, &scope[outer.len()..], None)?;
        return Ok(statement);
    }
    let [from] = select.from.as_slice() else {
        let span = select.from.get(1).map_or(select.span(), |f| f.span());
        return Err(src
            .error(
                span,
                "a statement's FROM names one table or one chain of JOINs",
                "here",
            )
            .with_help("join the tables with `JOIN ... ON a.x = b.x` instead of listing them"));
    };
    // Subqueries in FROM are bound first, as hidden statements, then read by their alias. Each
    // sees only the WITH queries (not its sibling subqueries, as in Postgres without LATERAL),
    // and an alias names only its subquery, never a table elsewhere in FROM.
    let relations = std::iter::once(&from.relation).chain(from.joins.iter().map(|j| &j.relation));
    let mut derived: Vec<(String, usize)> = Vec::new();
    for relation in relations {
        if let ast::TableFactor::Derived {
            subquery, alias, ..
        } = relation
        {
            let Some(alias) = alias else {
                return Err(src
                    .error(
                        subquery.span(),
                        "a subquery in FROM needs a name",
                        "no alias",
                    )
                    .with_help("write `FROM (SELECT ...) AS s`"));
            };
            if !alias.columns.is_empty() {
                return Err(src
                    .error(
                        alias.span(),
                        "column names after a subquery's alias are not supported",
                        "column list",
                    )
                    .with_help("name the columns with AS inside the subquery"));
            }
            let hidden = bind_query(
                src,
                pipeline,
                subquery,
                Some(format!("{name}__{}", alias.name.value)),
                &scope,
                None,
            )?;
            pipeline.statements.push(hidden);
            derived.push((alias.name.value.clone(), pipeline.statements.len() - 1));
        }
    }
    let From {
        input,
        tables,
        window,
        ttl,
    } = if from.joins.is_empty() {
        input_table(src, from, pipeline, &scope, &derived)?
    } else {
        let resolve = |pipeline: &Pipeline, relation: &ast::TableFactor| {
            plain_relation(src, pipeline, &scope, &derived, relation)?.ok_or_else(|| {
                src.error(relation.span(), "a joined table must be a table, a WITH query or a subquery", "not supported")
                    .with_help("TUMBLE, HOP and TTL read one table: apply them in a WITH query and join its result, or window the join's result in a later statement")
            })
        };
        let (input, tables) = super::join::bind(src, pipeline, &name, query, from, &resolve)?;
        From {
            input,
            tables,
            window: None,
            ttl: None,
        }
    };
    let pipeline: &Pipeline = pipeline;
    require_with_used(src, query, pipeline, &scope[outer.len()..], Some(input))?;
    // A window's relation: the input's columns, then window_start and window_end.
    let mut columns = pipeline.columns(input).to_vec();
    let input_columns = columns.len();
    if window.is_some() {
        columns.extend(window::columns());
    }
    let columns = columns.as_slice();
    let binder = Binder {
        src,
        tables: &tables,
        columns,
    };

    let filter = select
        .selection
        .as_ref()
        .map(|w| bind_condition(&binder, w, "WHERE"))
        .transpose()?;
    let group_by = match &select.group_by {
        ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs.clone(),
        other => {
            return Err(unsupported(
                select.span(),
                &format!("`{other}`"),
                "GROUP BY a list of expressions",
            ))
        }
    };
    let mut aggregated = !group_by.is_empty()
        || select.having.is_some()
        || select.projection.iter().any(has_aggregate);
    // An aggregation's rows are distinct already (every GROUP BY key is selected); without one,
    // SELECT DISTINCT groups by the selected expressions.
    let mut group_by = group_by;
    if distinct && !aggregated {
        for item in &select.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => group_by.push(e.clone()),
                other => {
                    return Err(src
                        .error(
                            other.span(),
                            "SELECT DISTINCT * is not supported",
                            "wildcard",
                        )
                        .with_help("list the columns: SELECT DISTINCT a, b FROM ..."))
                }
            }
        }
        aggregated = true;
    }

    let (items, body, key) = if aggregated {
        let mut scope = AggregateScope {
            keys: Vec::new(),
            aggregates: Vec::new(),
        };
        for g in &group_by {
            let key = binder.bind_row(g, "GROUP BY")?;
            if !key.ty.is_orderable() {
                return Err(src.error(
                    g.span(),
                    format!("cannot GROUP BY {} value", key.ty.with_article()),
                    "not groupable",
                ));
            }
            scope.keys.push(key);
        }
        // Aggregating over a window groups by the window too (GUIDE §2), written or not.
        if window.is_some() {
            for column in [input_columns, input_columns + 1] {
                if !scope
                    .keys
                    .iter()
                    .any(|k| k.kind == ExprKind::Column(column))
                {
                    scope.keys.push(Expr {
                        kind: ExprKind::Column(column),
                        ty: SqlType::Timestamp,
                        nullable: false,
                        span: src.span(select.span()),
                    });
                }
            }
        }
        let mut items = Vec::new();
        for item in &select.projection {
            let (e, alias) = select_item(src, item, "aggregations")?;
            items.push((
                scope.bind(&binder, e)?,
                branch_column_name(&binder, e, alias, union_first, items.len())?,
                e.span(),
            ));
        }
        let having = select
            .having
            .as_ref()
            .map(|h| scope.bind(&binder, h))
            .transpose()?;
        if let Some(h) = &having {
            if h.ty != SqlType::Boolean {
                return Err(src
                    .error(
                        select.having.as_ref().map_or(select.span(), |h| h.span()),
                        "HAVING needs a Boolean condition",
                        "not a condition",
                    )
                    .with_help("compare an aggregate, e.g. `HAVING COUNT(*) > 5`"));
            }
        }
        let key_columns = (0..scope.keys.len())
            .map(|i| {
                let at = items.iter().position(|(e, _, _)| e.kind == ExprKind::GroupKey(i));
                if i >= group_by.len() {
                    // An implicit window key: part of the result's key even when not selected.
                    return Ok(at);
                }
                at.map(Some).ok_or_else(|| {
                    src.error(group_by[i].span(), format!("GROUP BY `{}` is not in the SELECT list", group_by[i]), "not selected")
                        .with_help(format!("add `{}` to the SELECT list: dozerc serves it as part of the result's primary key (Postgres would allow leaving it out)", group_by[i]))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key = TableKey::Tuple {
            types: scope.keys.iter().map(|k| k.ty).collect(),
            columns: key_columns,
        };
        let outputs = items.iter().map(|(e, _, _)| e.clone()).collect();
        let body = Body::Aggregate {
            filter,
            keys: scope.keys,
            aggregates: scope.aggregates,
            outputs,
            having,
        };
        (items, body, key)
    } else {
        let mut items = Vec::new();
        for item in &select.projection {
            match item {
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    let selected = match item {
                        ast::SelectItem::QualifiedWildcard(
                            ast::SelectItemQualifiedWildcardKind::ObjectName(table),
                            _,
                        ) => match table.0.as_slice() {
                            [ast::ObjectNamePart::Identifier(qualifier)] => binder
                                .qualifier(qualifier)?
                                .into_iter()
                                .flat_map(|t| t.columns)
                                .collect(),
                            _ => {
                                return Err(src.error(
                                    item.span(),
                                    format!("`{item}` names no table of FROM"),
                                    "write `t.*`",
                                ))
                            }
                        },
                        ast::SelectItem::QualifiedWildcard(..) => {
                            return Err(src.error(
                                item.span(),
                                format!("`{item}` is not supported"),
                                "write `t.*`",
                            ))
                        }
                        _ => (0..columns.len()).collect::<Vec<_>>(),
                    };
                    for i in selected {
                        let c = &columns[i];
                        let e = Expr {
                            kind: ExprKind::Column(i),
                            ty: c.ty,
                            nullable: c.nullable,
                            span: src.span(item.span()),
                        };
                        items.push((e, c.name.clone(), item.span()));
                    }
                }
                _ => {
                    let (e, alias) = select_item(src, item, "pipelines")?;
                    items.push((
                        binder.bind_row(e, "the SELECT list of a statement without GROUP BY")?,
                        branch_column_name(&binder, e, alias, union_first, items.len())?,
                        e.span(),
                    ));
                }
            }
        }
        // A tumbling window puts a row in exactly one window (none without a time), so each
        // row keeps its key; a hopping one would repeat it size / hop times under one key.
        if let Some(Window {
            kind: WindowKind::Hop { .. },
            ..
        }) = &window
        {
            return Err(src
                .error(
                    select.span(),
                    "a HOP window without aggregation is not supported",
                    "no aggregate",
                )
                .with_help("each row would appear once per window it falls in; aggregate over the window (SELECT COUNT(*), t.window_start FROM HOP(...) t), or select over TUMBLE(...) for one window per row"));
        }
        if let Input::Source(source) = input {
            let source = &pipeline.sources[source];
            if matches!(source.kind, SourceKind::Postgres { .. }) && source.primary_key.is_empty() {
                let from = select
                    .from
                    .first()
                    .map_or(select.span(), |f| f.relation.span());
                return Err(src
                    .error(
                        from,
                        format!(
                            "`{}` has no primary key, so its rows cannot be served one by one: identical rows would merge",
                            source.name
                        ),
                        "table without primary key",
                    )
                    .with_help(
                        "add a primary key to the table (then dozerc build --refresh-schema), or aggregate it with GROUP BY",
                    ));
            }
        }
        let key = match pipeline.key(input) {
            key @ (TableKey::RecordId | TableKey::Join(..) | TableKey::Union(..)) => key,
            TableKey::Tuple {
                types,
                columns: in_cols,
            } => {
                let out_cols = in_cols
                    .iter()
                    .map(|c| {
                        c.and_then(|c| {
                            items
                                .iter()
                                .position(|(e, _, _)| e.kind == ExprKind::Column(c))
                        })
                    })
                    .collect();
                TableKey::Tuple {
                    types,
                    columns: out_cols,
                }
            }
        };
        let outputs = items.iter().map(|(e, _, _)| e.clone()).collect();
        (items, Body::Project { filter, outputs }, key)
    };

    let (items, body) = match union_first {
        Some(first) => type_bare_nulls(items, body, first),
        None => (items, body),
    };
    let mut out_columns: Vec<Column> = Vec::new();
    for (e, name, span) in &items {
        if out_columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(name))
        {
            return Err(src
                .error(
                    *span,
                    format!("column `{name}` appears twice in the result"),
                    "duplicate name",
                )
                .with_help("give one of them another name with AS"));
        }
        if e.ty == SqlType::Null {
            return Err(src
                .error(*span, "a bare NULL has no type", "untyped")
                .with_help("CAST it, e.g. CAST(NULL AS NUMERIC)"));
        }
        out_columns.push(Column {
            name: name.clone(),
            ty: e.ty,
            nullable: e.nullable,
        });
    }
    Ok(Statement {
        name,
        sql: src.lines_of(query.span()),
        line: src.config_line(query.span()),
        input,
        window,
        ttl,
        hidden: is_hidden,
        columns: out_columns,
        key,
        body,
        span: src.span(query.span()),
    })
}

pub(super) fn bind_condition(
    binder: &Binder,
    e: &ast::Expr,
    place: &str,
) -> Result<Expr, CompileError> {
    let bound = binder.bind_row(e, place)?;
    if bound.ty != SqlType::Boolean && bound.ty != SqlType::Null {
        return Err(binder
            .src
            .error(
                e.span(),
                format!(
                    "{place} needs a Boolean condition, found {} value",
                    bound.ty.with_article()
                ),
                "not a condition",
            )
            .with_help("compare it, e.g. `Quantity > 0`"));
    }
    Ok(Expr {
        ty: SqlType::Boolean,
        ..bound
    })
}

fn output_name(
    src: &SqlSource,
    select: &ast::Select,
    pipeline: &Pipeline,
) -> Result<String, CompileError> {
    let into = select.into.as_ref().ok_or_else(|| {
        src.error(select.span(), "this SELECT has no INTO", "every statement names its result").with_help("add `INTO <table>` after the SELECT list, e.g. `SELECT ... INTO sales_by_country FROM ...`")
    })?;
    let name = match into.targets.as_slice() {
        [ast::Expr::Identifier(ident)] => ident.value.clone(),
        _ => return Err(src.error(into.span(), "INTO takes one table name", "here")),
    };
    let taken = pipeline
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .chain(pipeline.statements.iter().map(|s| s.name.as_str()));
    for existing in taken {
        if existing.eq_ignore_ascii_case(&name) {
            return Err(src
                .error(
                    into.span(),
                    format!("table `{name}` is already defined"),
                    "duplicate table",
                )
                .with_help("give each statement's result its own name"));
        }
    }
    Ok(name)
}

/// What FROM reads: a table, a table function over one, or a chain of joins.
struct From {
    input: Input,
    /// The tables named in FROM, for qualified names (one unless FROM joins).
    tables: Vec<TableRef>,
    window: Option<Window>,
    ttl: Option<Ttl>,
}

/// FROM without joins: a table, or a window or TTL over one.
fn input_table(
    src: &SqlSource,
    from: &ast::TableWithJoins,
    pipeline: &Pipeline,
    scope: &Scope,
    derived: &Scope,
) -> Result<From, CompileError> {
    let one_table = |input: Input, name: String, alias: Option<String>, window: Option<Window>| {
        let mut width = pipeline.columns(input).len();
        if window.is_some() {
            width += 2;
        }
        vec![TableRef {
            name,
            alias,
            columns: 0..width,
        }]
    };
    if let Some(relation) = plain_relation(src, pipeline, scope, derived, &from.relation)? {
        return Ok(From {
            input: relation.input,
            tables: one_table(relation.input, relation.name, relation.alias, None),
            window: None,
            ttl: None,
        });
    }
    let ast::TableFactor::Table {
        name, alias, args, ..
    } = &from.relation
    else {
        return Err(src
            .error(
                from.relation.span(),
                "FROM must name a table",
                "not a table",
            )
            .with_help(
                "FROM reads a source, an earlier statement's table, a WITH query or a subquery",
            ));
    };
    let alias = alias.as_ref().map(|a| a.name.value.clone());
    let args = args.as_ref().map(|a| a.args.as_slice()).unwrap_or_default();
    let function = name.to_string();
    let resolve = |table: &ast::Ident| {
        resolve_table(
            src,
            pipeline,
            scope,
            &table.value,
            table.quote_style.is_some(),
            table.span,
        )
    };
    if function.eq_ignore_ascii_case("TTL") {
        let relation = ttl::parse(src, pipeline, from.relation.span(), args, resolve)?;
        let name = pipeline.table_name(relation.input).to_string();
        return Ok(From {
            input: relation.input,
            tables: one_table(relation.input, name, alias, relation.window.clone()),
            window: relation.window,
            ttl: Some(relation.ttl),
        });
    }
    if !ttl::is_window(&function) {
        return Err(src
            .error(
                from.relation.span(),
                format!("table function `{function}` is not supported"),
                "not supported",
            )
            .with_help("the table functions are TUMBLE(table, time, 'size'), HOP(table, time, 'hop', 'size') and TTL(table or window, time, 'duration')"));
    }
    let mut input = None;
    let window = window::parse(src, &function, from.relation.span(), args, |table| {
        let found = resolve(table)?;
        input = Some(found);
        Ok(pipeline.columns(found).to_vec())
    })?;
    let input =
        input.ok_or_else(|| CompileError::new("internal: the windowed table was not resolved"))?;
    let name = pipeline.table_name(input).to_string();
    Ok(From {
        input,
        tables: one_table(input, name, alias, Some(window.clone())),
        window: Some(window),
        ttl: None,
    })
}

/// A table named in FROM without a table function: a source, an earlier result, a WITH query
/// or a subquery (bound already, listed in `derived` by alias). `None` for a table function.
fn plain_relation(
    src: &SqlSource,
    pipeline: &Pipeline,
    scope: &Scope,
    derived: &Scope,
    relation: &ast::TableFactor,
) -> Result<Option<Relation>, CompileError> {
    match relation {
        ast::TableFactor::Derived {
            alias: Some(alias), ..
        } => {
            let name = alias.name.value.clone();
            let input = resolve_table(src, pipeline, derived, &name, true, alias.span())?;
            Ok(Some(Relation {
                input,
                name,
                alias: None,
            }))
        }
        ast::TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => {
            if let Some(alias) = alias.as_ref().filter(|a| !a.columns.is_empty()) {
                return Err(src
                    .error(
                        alias.span(),
                        "column names after a table's alias are not supported",
                        "column list",
                    )
                    .with_help("refer to the table's own column names, or rename them with AS in a subquery"));
            }
            let quoted = matches!(name.0.last(), Some(ast::ObjectNamePart::Identifier(i)) if i.quote_style.is_some());
            let input =
                resolve_table(src, pipeline, scope, &name.to_string(), quoted, name.span())?;
            // A WITH query is named as written, not by its hidden table's name.
            let table = match input {
                Input::Statement(i) if pipeline.statements[i].hidden => {
                    name.to_string().trim_matches('"').to_string()
                }
                _ => pipeline.table_name(input).to_string(),
            };
            Ok(Some(Relation {
                input,
                name: table,
                alias: alias.as_ref().map(|a| a.name.value.clone()),
            }))
        }
        _ => Ok(None),
    }
}

/// The source or earlier result named `text` (as written; `quoted` names match exactly).
fn resolve_table(
    src: &SqlSource,
    pipeline: &Pipeline,
    scope: &Scope,
    text: &str,
    quoted: bool,
    span: sqlparser::tokenizer::Span,
) -> Result<Input, CompileError> {
    let table_text = text.trim_matches('"');
    let same = |candidate: &str| {
        if quoted {
            candidate == table_text
        } else {
            candidate.eq_ignore_ascii_case(table_text)
        }
    };
    // WITH names shadow tables, innermost first.
    if let Some((_, i)) = scope.iter().rev().find(|(name, _)| same(name)) {
        return Ok(Input::Statement(*i));
    }
    if let Some(i) = pipeline.sources.iter().position(|s| same(&s.name)) {
        return Ok(Input::Source(i));
    }
    if let Some(i) = pipeline
        .statements
        .iter()
        .position(|s| !s.hidden && same(&s.name))
    {
        return Ok(Input::Statement(i));
    }
    let names: Vec<&str> = pipeline
        .sources
        .iter()
        .map(|s| s.name.as_str())
        .chain(
            pipeline
                .statements
                .iter()
                .filter(|s| !s.hidden)
                .map(|s| s.name.as_str()),
        )
        .chain(scope.iter().map(|(name, _)| name.as_str()))
        .collect();
    let err = src.error(
        span,
        format!("unknown table `{table_text}`"),
        "not a source or an earlier result",
    );
    Err(match closest(table_text, names.iter().copied()) {
        Some(near) => err.with_help(format!(
            "did you mean `{near}`? Known tables: {}",
            names.join(", ")
        )),
        None => err.with_help(format!(
            "known tables: {} (a statement may only read sources and tables defined above it)",
            names.join(", ")
        )),
    })
}

fn select_item<'s>(
    src: &SqlSource,
    item: &'s ast::SelectItem,
    what: &str,
) -> Result<(&'s ast::Expr, Option<&'s ast::Ident>), CompileError> {
    match item {
        ast::SelectItem::UnnamedExpr(e) => Ok((e, None)),
        ast::SelectItem::ExprWithAlias { expr, alias } => Ok((expr, Some(alias))),
        _ => Err(src
            .error(
                item.span(),
                format!("`{item}` is not supported in {what}"),
                "not supported",
            )
            .with_help("list the columns or expressions")),
    }
}

/// A column's name, or in a later UNION branch (whose names do not matter) `column<n>`.
fn branch_column_name(
    binder: &Binder,
    e: &ast::Expr,
    alias: Option<&ast::Ident>,
    union_first: Option<&[Column]>,
    index: usize,
) -> Result<String, CompileError> {
    match (output_column_name(binder, e, alias), union_first) {
        (Err(_), Some(_)) => Ok(format!("column{}", index + 1)),
        (name, _) => name,
    }
}

type Item = (Expr, String, sqlparser::tokenizer::Span);

/// In a later UNION branch a bare NULL output takes the type of the first branch's column.
fn type_bare_nulls(mut items: Vec<Item>, mut body: Body, first: &[Column]) -> (Vec<Item>, Body) {
    let outputs = match &mut body {
        Body::Project { outputs, .. } | Body::Aggregate { outputs, .. } => Some(outputs),
        _ => None,
    };
    if let Some(outputs) = outputs {
        for (i, ((e, _, _), output)) in items.iter_mut().zip(outputs.iter_mut()).enumerate() {
            if let (SqlType::Null, Some(column)) = (e.ty, first.get(i)) {
                e.ty = column.ty;
                output.ty = column.ty;
            }
        }
    }
    (items, body)
}

/// The result column's name: the alias, a column's own name, or the function name (as Postgres).
fn output_column_name(
    binder: &Binder,
    e: &ast::Expr,
    alias: Option<&ast::Ident>,
) -> Result<String, CompileError> {
    if let Some(alias) = alias {
        return Ok(alias.value.clone());
    }
    let column_name = |ident: &ast::Ident| {
        super::expr::find_column(binder.columns, ident).map(|i| binder.columns[i].name.clone())
    };
    let name = match e {
        ast::Expr::Identifier(ident) => column_name(ident),
        ast::Expr::CompoundIdentifier(parts) => parts.last().and_then(column_name),
        ast::Expr::Function(f) => Some(f.name.to_string().to_ascii_lowercase()),
        _ => None,
    };
    name.ok_or_else(|| {
        binder
            .src
            .error(e.span(), "this result column needs a name", "unnamed")
            .with_help(format!("add an alias: `{e} AS some_name`"))
    })
}

fn has_aggregate(item: &ast::SelectItem) -> bool {
    let e = match item {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return false,
    };
    contains_aggregate(e)
}

fn contains_aggregate(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Function(f) => aggregate_name(f).is_some(),
        ast::Expr::BinaryOp { left, right, .. } => {
            contains_aggregate(left) || contains_aggregate(right)
        }
        ast::Expr::UnaryOp { expr, .. }
        | ast::Expr::Nested(expr)
        | ast::Expr::IsNull(expr)
        | ast::Expr::IsNotNull(expr) => contains_aggregate(expr),
        ast::Expr::Cast { expr, .. } => contains_aggregate(expr),
        _ => false,
    }
}
