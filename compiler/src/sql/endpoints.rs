//! Resolving endpoints to the tables they serve, checking their declared primary keys and
//! resolving their secondary indexes (`super::indexes`).

use crate::config::{LoadedConfig, PathSeg};
use crate::diagnostics::closest;
use crate::diagnostics::CompileError;
use crate::plan::{Endpoint, Input, Pipeline, SourceKind, TableKey};

pub fn bind(cfg: &LoadedConfig, pipeline: &Pipeline) -> Result<Vec<Endpoint>, CompileError> {
    let mut endpoints = Vec::new();
    for (index, endpoint) in cfg.config.endpoints.iter().enumerate() {
        let at = |key: &'static str| {
            cfg.span_of(&[
                PathSeg::Key("endpoints"),
                PathSeg::Index(index),
                PathSeg::Key(key),
            ])
        };
        let error = |key: &'static str, message: String, label: &str| match at(key) {
            Some(span) => CompileError::at(&cfg.file, span, message, label),
            None => CompileError::new(message),
        };
        let wanted = endpoint.table_name.as_str();
        let table = pipeline
            .statements
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(wanted))
            .map(Input::Statement)
            .or_else(|| {
                pipeline
                    .sources
                    .iter()
                    .position(|s| s.name.eq_ignore_ascii_case(wanted))
                    .map(Input::Source)
            });
        let Some(table) = table else {
            let names: Vec<&str> = pipeline
                .statements
                .iter()
                .map(|s| s.name.as_str())
                .chain(pipeline.sources.iter().map(|s| s.name.as_str()))
                .collect();
            let err = error(
                "table_name",
                format!(
                    "endpoint `{}` serves unknown table `{wanted}`",
                    endpoint.name
                ),
                "no such table",
            );
            return Err(match closest(wanted, names.iter().copied()) {
                Some(near) => err.with_help(format!(
                    "did you mean `{near}`? Tables: {}",
                    names.join(", ")
                )),
                None => err.with_help(format!(
                    "tables are created by `SELECT ... INTO <table>` in `sql`; known: {}",
                    names.join(", ")
                )),
            });
        };
        if let Input::Source(source) = table {
            let source = &pipeline.sources[source];
            if matches!(source.kind, SourceKind::Postgres { .. }) && source.primary_key.is_empty() {
                return Err(error(
                    "table_name",
                    format!(
                        "endpoint `{}` serves `{}`, which has no primary key, so its rows cannot be served one by one: identical rows would merge",
                        endpoint.name, source.name
                    ),
                    "table without primary key",
                )
                .with_help(
                    "add a primary key to the table (then dozerc build --refresh-schema), or serve an aggregation of it",
                ));
            }
        }
        if let Some(index_cfg) = &endpoint.index {
            let declared = &index_cfg.primary_key;
            if !declared.is_empty() {
                let derived = pipeline.key(table).column_names(pipeline.columns(table));
                let agrees = declared.len() == derived.len()
                    && declared
                        .iter()
                        .all(|d| derived.iter().any(|k| k.eq_ignore_ascii_case(d)));
                if !agrees {
                    let derived_text = match pipeline.key(table) {
                        TableKey::RecordId => "the source row id (file and row number)".to_string(),
                        TableKey::Join(..) => "the keys of the rows it joins, which are not its columns".to_string(),
                        TableKey::Union(..) => "the branch of the UNION ALL and the key of the row in it, which are not its columns".to_string(),
                        TableKey::Tuple { types, .. } if types.is_empty() => "nothing: it has exactly one row (an aggregation without GROUP BY)".to_string(),
                        TableKey::Tuple { columns, .. } if columns.iter().any(Option::is_none) => {
                            "a key that is not among its columns (it reads a grouped table without selecting all of its GROUP BY columns)".to_string()
                        }
                        TableKey::Tuple { .. } => format!("[{}]", derived.join(", ")),
                    };
                    let at = cfg.span_of(&[
                        PathSeg::Key("endpoints"),
                        PathSeg::Index(index),
                        PathSeg::Key("index"),
                        PathSeg::Key("primary_key"),
                    ]);
                    let message = format!("endpoint `{}` declares primary key [{}], but `{}` is keyed by {derived_text}", endpoint.name, declared.join(", "), pipeline.table_name(table));
                    let err = match at {
                        Some(span) => {
                            CompileError::at(&cfg.file, span, message, "disagrees with the SQL")
                        }
                        None => CompileError::new(message),
                    };
                    return Err(err
                        .with_help("the primary key of a result is its GROUP BY columns (or the source key for projections); fix `index.primary_key` or remove it"));
                }
            }
        }
        let indexes = super::indexes::resolve(
            cfg,
            index,
            endpoint,
            pipeline.table_name(table),
            pipeline.columns(table),
        )?;
        endpoints.push(Endpoint {
            name: endpoint.name.clone(),
            path: endpoint.path.clone(),
            table,
            indexes,
        });
    }
    Ok(endpoints)
}
