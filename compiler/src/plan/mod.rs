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
}

impl TableKey {
    /// Names of the primary key columns, if all are visible.
    pub fn column_names(&self, columns: &[Column]) -> Vec<String> {
        match self {
            TableKey::RecordId => Vec::new(),
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

/// An endpoint, resolved to the table it serves.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub name: String,
    pub path: String,
    pub table: Input,
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
    /// record holds only these, so unused columns are never decoded. An endpoint serving the
    /// source itself reads all of them.
    pub fn used_source_columns(&self, source: usize) -> Vec<usize> {
        let all = || (0..self.sources[source].columns.len()).collect();
        if self
            .endpoints
            .iter()
            .any(|e| e.table == Input::Source(source))
        {
            return all();
        }
        let mut used = std::collections::BTreeSet::new();
        for statement in self
            .statements
            .iter()
            .filter(|s| s.input == Input::Source(source))
        {
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
            }
        }
        // Window columns are not source columns; the time column they come from is.
        let columns = self.sources[source].columns.len();
        used.retain(|&c| c < columns);
        for statement in self
            .statements
            .iter()
            .filter(|s| s.input == Input::Source(source))
        {
            if let Some(window) = &statement.window {
                used.insert(window.time_column);
            }
            if let Some(ttl) = &statement.ttl {
                used.insert(ttl.time_column);
            }
        }
        // Postgres rows are keyed by their primary key: always decoded.
        used.extend(self.sources[source].primary_key.iter().copied());
        if used.is_empty() {
            // COUNT(*) alone still needs one column to read rows; keep the first.
            used.insert(0);
        }
        used.into_iter().collect()
    }

    /// Statements that (transitively) read source `source`, in execution order.
    pub fn downstream_of(&self, source: usize) -> Vec<usize> {
        let mut affected = Vec::new();
        for (i, statement) in self.statements.iter().enumerate() {
            let reads = match statement.input {
                Input::Source(s) => s == source,
                Input::Statement(s) => affected.contains(&s),
            };
            if reads {
                affected.push(i);
            }
        }
        affected
    }
}
