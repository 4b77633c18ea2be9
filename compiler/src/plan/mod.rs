//! The logical plan: what the binder produces from SQL and codegen turns into Rust.
//!
//! A pipeline is a list of tables: sources first, then one result table per SQL statement, in
//! statement order (a statement reads a source or an earlier result, so the order is already
//! topological). Every table has typed columns and a primary key.

mod expr;
mod types;

pub use expr::{AggCall, AggFunc, BinaryOp, DateField, Expr, ExprKind, Func, Literal, TrimSide};
pub use types::SqlType;

use crate::diagnostics::Span;

/// A column of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// As the user spelled it (source header, schema key or SQL alias).
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
}

/// How the rows of a table are keyed.
#[derive(Clone, Debug, PartialEq)]
pub enum TableKey {
    /// A source row id (file and row number): projections of a source keep it.
    RecordId,
    /// A tuple of values (GROUP BY keys, or an aggregation's key carried through a projection);
    /// `columns[i]` is the output column holding key part `i`, when visible.
    Tuple {
        types: Vec<SqlType>,
        columns: Vec<Option<usize>>,
    },
    /// A join's rows (and projections of them) are keyed by the keys of the left and right rows
    /// they join, either missing on an outer join's NULL-padded side.
    Join(Box<TableKey>, Box<TableKey>),
    /// A UNION ALL's rows are keyed by their branch and their key in it.
    Union(Vec<TableKey>),
}

impl TableKey {
    /// Names of the primary key columns, if all are visible.
    pub fn column_names(&self, columns: &[Column]) -> Vec<String> {
        match self {
            TableKey::RecordId | TableKey::Join(..) | TableKey::Union(..) => Vec::new(),
            TableKey::Tuple { columns: cols, .. } => cols
                .iter()
                .flatten()
                .map(|&i| columns[i].name.clone())
                .collect(),
        }
    }
}

/// A source table as the catalog resolved it.
#[derive(Clone, Debug)]
pub struct SourceTable {
    pub name: String,
    pub columns: Vec<Column>,
    /// Absolute folder or glob of the files; for Postgres, `connection: schema.table` (shown in
    /// reports and doc comments).
    pub location: String,
    /// File name suffix (empty for Postgres).
    pub extension: String,
    /// The table's primary key as indexes into `columns` (empty for files, and for a Postgres
    /// table without a primary key, which can then only be aggregated).
    pub primary_key: Vec<usize>,
    /// Where the rows come from.
    pub kind: SourceKind,
}

impl SourceTable {
    /// File rows are keyed by row id; Postgres rows by their primary key.
    pub fn key(&self) -> TableKey {
        match self.kind {
            SourceKind::Files { .. } => TableKey::RecordId,
            SourceKind::Postgres { .. } => TableKey::Tuple {
                types: self
                    .primary_key
                    .iter()
                    .map(|&c| self.columns[c].ty)
                    .collect(),
                columns: self.primary_key.iter().map(|&c| Some(c)).collect(),
            },
        }
    }
}

/// Where a source's rows come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Files of a `!LocalStorage` connection (same values as `SourceTable::location`/`extension`).
    Files { location: String, extension: String },
    /// A table of a `!Postgres` connection; `replica_identity` is `default`, `full`, `nothing` or
    /// `index` (`pg_class.relreplident`).
    Postgres {
        connection: String,
        schema: String,
        table: String,
        replica_identity: String,
        /// How the generated pipeline connects (from the config, not the lock file).
        params: PgParams,
    },
}

/// Where a `!Postgres` connection points, as the generated pipeline connects to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PgParams {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    /// libpq's `sslmode`, normalised (`prefer` when the config says nothing).
    pub ssl_mode: String,
}

/// What a statement reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Source(usize),
    Statement(usize),
}

/// A time window in FROM: it adds `window_start` and `window_end` after the input's columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub kind: WindowKind,
    /// The input column holding the event time.
    pub time_column: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowKind {
    /// `TUMBLE`: `window_start` is the time truncated to a multiple of the size since the epoch.
    Tumble { size_us: i64 },
    /// `HOP`: every window `[s, s + size)` with `s` a multiple of the hop that holds the time.
    Hop { hop_us: i64, size_us: i64 },
}

/// `FROM TTL(rel, ts, 'duration')`: rows of the source expire once
/// `ts <= watermark - duration` (GUIDE §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttl {
    /// The source column holding each row's event time.
    pub time_column: usize,
    pub duration_us: i64,
}

/// One `SELECT ... INTO` statement, bound and typed.
#[derive(Clone, Debug)]
pub struct Statement {
    /// The output table name as written after INTO.
    pub name: String,
    /// The statement's SQL text (for doc comments) and where it starts in the config.
    pub sql: String,
    pub line: usize,
    pub input: Input,
    /// `FROM TUMBLE(...)` / `FROM HOP(...)`: column indexes at and after the input's column
    /// count are `window_start` and `window_end`.
    pub window: Option<Window>,
    /// `FROM TTL(...)`, around the source or its window; the input is then a source.
    pub ttl: Option<Ttl>,
    /// A WITH query or a subquery in FROM (`<table>__<name>`): only its statement reads it.
    pub hidden: bool,
    pub columns: Vec<Column>,
    pub key: TableKey,
    pub body: Body,
    pub span: Span,
}

/// The computation of a statement.
#[derive(Clone, Debug)]
pub enum Body {
    /// `left [INNER | LEFT | RIGHT | FULL] JOIN right ON ...`, the statement's input being the
    /// left side: the left input's columns, then the right input's.
    Join(Join),
    /// `branch UNION ALL branch ...`: every row of every branch (each a hidden statement
    /// `<table>__union<n>` with the same number of columns; the statement's input is the first),
    /// converted to the statement's column types.
    Union { branches: Vec<Input> },
    /// `SELECT exprs FROM t [WHERE filter]`: one output row per input row.
    Project {
        filter: Option<Expr>,
        outputs: Vec<Expr>,
    },
    /// `SELECT ... FROM t [WHERE filter] [GROUP BY keys] [HAVING having]`.
    /// `outputs` and `having` are over `ExprKind::GroupKey` and `ExprKind::Aggregate`.
    Aggregate {
        filter: Option<Expr>,
        keys: Vec<Expr>,
        aggregates: Vec<AggCall>,
        outputs: Vec<Expr>,
        having: Option<Expr>,
    },
}

/// One join of two inputs on equalities (a hidden statement `<table>__join<n>`; a chain of
/// joins is a chain of them, each the left input of the next).
#[derive(Clone, Debug)]
pub struct Join {
    pub kind: JoinKind,
    pub right: Input,
    /// The ON equalities `left_keys[i] = right_keys[i]`, over the left input's columns and the
    /// right input's columns respectively (each pair of one type).
    pub left_keys: Vec<Expr>,
    pub right_keys: Vec<Expr>,
    /// ON conditions over one side only: a row failing its side's condition matches nothing
    /// (and is NULL-padded if its side is kept).
    pub left_condition: Option<Expr>,
    pub right_condition: Option<Expr>,
    /// ON conditions over both sides besides the equalities, for INNER joins only: a filter on
    /// the joined rows, over the statement's columns.
    pub filter: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

impl JoinKind {
    /// Whether the left side's columns can be NULL-padded (RIGHT and FULL joins).
    pub fn pads_left(self) -> bool {
        matches!(self, JoinKind::Right | JoinKind::Full)
    }

    /// Whether the right side's columns can be NULL-padded (LEFT and FULL joins).
    pub fn pads_right(self) -> bool {
        matches!(self, JoinKind::Left | JoinKind::Full)
    }
}

impl Statement {
    /// The tables the statement reads: its input, and a join's right input.
    pub fn inputs(&self) -> Box<dyn Iterator<Item = Input> + '_> {
        match &self.body {
            Body::Join(join) => Box::new([self.input, join.right].into_iter()),
            Body::Union { branches } => Box::new(branches.iter().copied()),
            _ => Box::new(std::iter::once(self.input)),
        }
    }

    /// Whether the statement reads `table`.
    pub fn reads(&self, table: Input) -> bool {
        self.inputs().any(|i| i == table)
    }
}

/// An endpoint, resolved to the table it serves.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub path: String,
    pub table: Input,
    /// Secondary indexes of its cache: per index, column numbers of `table` in key order.
    pub indexes: Vec<Vec<usize>>,
}

/// The whole bound pipeline.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub app_name: String,
    pub sources: Vec<SourceTable>,
    pub statements: Vec<Statement>,
    pub endpoints: Vec<Endpoint>,
}

impl Pipeline {
    pub fn columns(&self, input: Input) -> &[Column] {
        match input {
            Input::Source(i) => &self.sources[i].columns,
            Input::Statement(i) => &self.statements[i].columns,
        }
    }

    pub fn key(&self, input: Input) -> TableKey {
        match input {
            Input::Source(i) => self.sources[i].key(),
            Input::Statement(i) => self.statements[i].key.clone(),
        }
    }

    pub fn table_name(&self, input: Input) -> &str {
        match input {
            Input::Source(i) => &self.sources[i].name,
            Input::Statement(i) => &self.statements[i].name,
        }
    }

    /// The columns of source `source` the pipeline reads, in column order: the generated
    /// record holds only these, so unused columns are never decoded.
    pub fn used_source_columns(&self, source: usize) -> Vec<usize> {
        let mut used = self.used_columns(Input::Source(source));
        // Postgres rows are keyed by their primary key: always decoded.
        used.extend(self.sources[source].primary_key.iter().copied());
        if used.is_empty() {
            // COUNT(*) alone still needs one column to read rows; keep the first.
            used.insert(0);
        }
        used.into_iter().collect()
    }

    /// The columns of a join's result that its filter and later statements read: its record
    /// holds only these.
    pub fn used_join_columns(&self, statement: usize) -> Vec<usize> {
        match &self.statements[statement].body {
            Body::Join(join) => self
                .join_columns_read(statement, join)
                .into_iter()
                .collect(),
            _ => (0..self.statements[statement].columns.len()).collect(),
        }
    }

    /// The columns of `table` that the statements reading it use (all of them when an
    /// endpoint serves it).
    fn used_columns(&self, table: Input) -> std::collections::BTreeSet<usize> {
        let width = self.columns(table).len();
        if self.endpoints.iter().any(|e| e.table == table) {
            return (0..width).collect();
        }
        let mut used = std::collections::BTreeSet::new();
        for (index, statement) in self.statements.iter().enumerate() {
            if let Body::Union { branches } = &statement.body {
                if branches.contains(&table) {
                    used.extend(0..width);
                }
                continue;
            }
            if statement.input == table {
                match &statement.body {
                    Body::Project { filter, outputs } => {
                        filter
                            .iter()
                            .chain(outputs)
                            .for_each(|e| e.collect_columns(&mut used));
                    }
                    Body::Aggregate {
                        filter,
                        keys,
                        aggregates,
                        ..
                    } => {
                        filter
                            .iter()
                            .chain(keys)
                            .chain(aggregates.iter().filter_map(|a| a.arg.as_ref()))
                            .chain(aggregates.iter().filter_map(|a| a.returned.as_ref()))
                            .for_each(|e| e.collect_columns(&mut used));
                    }
                    Body::Union { .. } => {}
                    Body::Join(join) => {
                        join.left_keys
                            .iter()
                            .chain(&join.left_condition)
                            .for_each(|e| e.collect_columns(&mut used));
                        used.extend(self.join_columns_read(index, join).range(..width));
                    }
                }
                // Window columns are not input columns; the time column they come from is.
                used.retain(|&c| c < width);
                used.extend(statement.window.as_ref().map(|w| w.time_column));
                used.extend(statement.ttl.as_ref().map(|t| t.time_column));
            }
            if let Body::Join(join) = &statement.body {
                if join.right == table {
                    join.right_keys
                        .iter()
                        .chain(&join.right_condition)
                        .for_each(|e| e.collect_columns(&mut used));
                    let left_width = self.columns(statement.input).len();
                    used.extend(
                        self.join_columns_read(index, join)
                            .range(left_width..)
                            .map(|c| c - left_width),
                    );
                }
            }
        }
        used
    }

    /// The columns of join statement `index` that its filter and the statements after it read.
    fn join_columns_read(&self, index: usize, join: &Join) -> std::collections::BTreeSet<usize> {
        let mut used = self.used_columns(Input::Statement(index));
        if let Some(filter) = &join.filter {
            filter.collect_columns(&mut used);
        }
        used
    }

    /// Statements that (transitively) read source `source`, in execution order.
    pub fn downstream_of(&self, source: usize) -> Vec<usize> {
        let mut affected = Vec::new();
        for (i, statement) in self.statements.iter().enumerate() {
            let reads = statement.inputs().any(|input| match input {
                Input::Source(s) => s == source,
                Input::Statement(s) => affected.contains(&s),
            });
            if reads {
                affected.push(i);
            }
        }
        affected
    }
}
