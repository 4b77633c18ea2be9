//! SQL: parse the config's `sql` with sqlparser, then bind every `SELECT ... INTO` statement
//! to typed columns and expressions (the [`plan`](crate::plan)).
//!
//! Binding follows Postgres: identifiers are case-insensitive unless quoted, integer with
//! numeric is numeric, comparisons with NULL are NULL. Every error points at the SQL inside
//! the YAML file and says what to do.

mod aggregate;
mod coerce;
mod endpoints;
mod expr;
mod forms;
mod functions;
mod indexes;
mod interval;
mod join;
mod locate;
mod statement;
mod ttl;
mod union;
mod window;

pub use locate::SqlSource;

use crate::config::LoadedConfig;
use crate::diagnostics::CompileError;
use crate::plan::{Pipeline, SourceTable};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// Binds the SQL and endpoints of `cfg` over the resolved `sources`.
pub fn compile(cfg: &LoadedConfig, sources: Vec<SourceTable>) -> Result<Pipeline, CompileError> {
    let mut pipeline = Pipeline {
        app_name: cfg.config.app_name.clone(),
        sources,
        statements: Vec::new(),
        endpoints: Vec::new(),
    };
    if let Some(sql) = cfg.sql() {
        let source = SqlSource::new(sql);
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, source.text())
            .map_err(|e| source.parse_error(e))?;
        for ast in &parsed {
            let statement = statement::bind(&source, &mut pipeline, ast)?;
            pipeline.statements.push(statement);
        }
    }
    pipeline.endpoints = endpoints::bind(cfg, &pipeline)?;
    Ok(pipeline)
}
