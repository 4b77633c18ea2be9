//! The catalog: the schema of every source, resolved at build time.
//!
//! For CSV tables the columns come from the header of the first file, typed by the config's
//! `schema` where given and otherwise inferred from a sample of rows. `dozerc build` prints the
//! result so inferred types are never a surprise.
//!
//! For Postgres tables the columns, primary key and replica identity come from the database's
//! catalog ([`postgres`]), pinned in the lock file beside the config ([`lock`]).

mod infer;
// Postgres sources and their lock file.
pub mod lock;
pub mod postgres;

use crate::config::{ConnectionConfig, LoadedConfig, PathSeg, TableFormat};
use crate::diagnostics::CompileError;
use crate::plan::{Column, SourceKind, SourceTable, SqlType};
use std::path::{Path, PathBuf};

/// How a column's type was decided (for the build report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeOrigin {
    Declared,
    Inferred,
}

/// A resolved source with the origin of each column type.
#[derive(Clone, Debug)]
pub struct ResolvedSource {
    pub table: SourceTable,
    pub origins: Vec<TypeOrigin>,
}

/// Rows sampled per file to infer column types.
const SAMPLE_ROWS: usize = 1000;

/// How to resolve sources.
#[derive(Clone, Copy, Debug, Default)]
pub struct CatalogOptions {
    /// Introspect every Postgres source even when the lock file has it (`--refresh-schema`).
    pub refresh_schema: bool,
}

/// Resolves every source of the config, using the lock file for Postgres sources.
pub fn resolve(cfg: &LoadedConfig) -> Result<Vec<ResolvedSource>, CompileError> {
    resolve_with(cfg, CatalogOptions::default())
}

/// Resolves every source of the config. Postgres sources come from the lock file when it has a
/// matching entry (and `refresh_schema` is off), else from the database; the lock file is then
/// rewritten (only if its content changed) with one entry per Postgres source.
pub fn resolve_with(
    cfg: &LoadedConfig,
    options: CatalogOptions,
) -> Result<Vec<ResolvedSource>, CompileError> {
    let lock_path = lock::lock_path(cfg);
    let has_postgres = cfg.config.sources.iter().any(|s| {
        cfg.config
            .connections
            .iter()
            .any(|c| c.name == s.connection && matches!(c.config, ConnectionConfig::Postgres(_)))
    });
    let old_lock = match (has_postgres, options.refresh_schema) {
        (false, _) => lock::empty(),
        (true, false) => lock::read(&lock_path)?,
        // A refresh rewrites the file, so a broken one is no obstacle.
        (true, true) => lock::read(&lock_path).unwrap_or_else(|_| lock::empty()),
    };
    let mut new_lock = lock::empty();
    let mut resolved = Vec::new();
    for index in 0..cfg.config.sources.len() {
        resolved.push(resolve_source(
            cfg,
            index,
            &old_lock,
            &mut new_lock,
            options,
        )?);
    }
    if has_postgres {
        lock::write(&lock_path, &new_lock)?;
    }
    Ok(resolved)
}

fn error_at(cfg: &LoadedConfig, path: &[PathSeg], message: String, label: &str) -> CompileError {
    match cfg.span_of(path) {
        Some(span) => CompileError::at(&cfg.file, span, message, label),
        None => CompileError::new(message),
    }
}

fn resolve_source(
    cfg: &LoadedConfig,
    index: usize,
    old_lock: &lock::Lock,
    new_lock: &mut lock::Lock,
    options: CatalogOptions,
) -> Result<ResolvedSource, CompileError> {
    let source = &cfg.config.sources[index];
    let here = [
        PathSeg::Key("sources"),
        PathSeg::Index(index),
        PathSeg::Key("connection"),
    ];
    let (conn_index, connection) = cfg
        .config
        .connections
        .iter()
        .enumerate()
        .find(|(_, c)| c.name == source.connection)
        .ok_or_else(|| {
            error_at(
                cfg,
                &here,
                format!("unknown connection `{}`", source.connection),
                "not a connection",
            )
        })?;
    let local = match &connection.config {
        ConnectionConfig::LocalStorage(local) => local,
        // Postgres: introspected (or read from the lock file) in catalog/postgres.rs.
        ConnectionConfig::Postgres(pg) => {
            let (resolved, entry) =
                postgres::resolve(cfg, index, conn_index, pg, old_lock, options.refresh_schema)?;
            new_lock.sources.insert(source.name.clone(), entry);
            return Ok(resolved);
        }
    };
    let (table_index, spec) = local
        .tables
        .iter()
        .enumerate()
        .find_map(|(i, t)| (t.spec().name == source.table_name).then_some((i, t.spec())))
        .ok_or_else(|| {
            error_at(
                cfg,
                &[
                    PathSeg::Key("sources"),
                    PathSeg::Index(index),
                    PathSeg::Key("table_name"),
                ],
                format!(
                    "connection `{}` has no table `{}`",
                    connection.name, source.table_name
                ),
                "unknown table",
            )
        })?;
    let TableFormat::CSV(csv) = &spec.config;
    let table_path = [
        PathSeg::Key("connections"),
        PathSeg::Index(conn_index),
        PathSeg::Key("config"),
        PathSeg::Key("tables"),
        PathSeg::Index(table_index),
        PathSeg::Key("config"),
        PathSeg::Key("path"),
    ];
    let base = cfg.resolve(&local.details.path);
    let location = base.join(&csv.path);
    let extension = csv.extension().to_string();
    let files = list_files(&location, &extension);
    let location_text = location.display().to_string();
    if files.is_empty() && csv.schema.is_none() {
        let reason = if location.is_dir() || is_glob(&location_text) {
            "has no files"
        } else {
            "does not exist"
        };
        return Err(error_at(
            cfg,
            &table_path,
            format!(
                "{location_text} {reason}, so the columns of `{}` are unknown",
                spec.name
            ),
            "no data here",
        )
        .with_help("add at least one file, or declare the columns under `schema:`"));
    }

    let mut columns: Vec<Column> = Vec::new();
    let mut origins = Vec::new();
    if let Some(first) = files.first() {
        let (header, types) = infer::infer_file(first, SAMPLE_ROWS).map_err(|e| {
            error_at(
                cfg,
                &table_path,
                format!("cannot read {}: {e}", first.display()),
                "reading this table",
            )
        })?;
        for (name, inferred) in header.into_iter().zip(types) {
            let declared = csv
                .schema
                .as_ref()
                .and_then(|s| s.iter().find(|(k, _)| k.eq_ignore_ascii_case(&name)));
            let (ty, origin) = match declared {
                Some((_, ty)) => (parse_type(cfg, &table_path, ty)?, TypeOrigin::Declared),
                None => (inferred, TypeOrigin::Inferred),
            };
            columns.push(Column {
                name,
                ty,
                nullable: true,
            });
            origins.push(origin);
        }
        if let Some(schema) = &csv.schema {
            for key in schema.keys() {
                if !columns.iter().any(|c| c.name.eq_ignore_ascii_case(key)) {
                    return Err(error_at(
                        cfg,
                        &table_path,
                        format!(
                            "`schema` names column `{key}`, which {} does not have",
                            first.display()
                        ),
                        "this table",
                    )
                    .with_help(format!(
                        "the header has: {}",
                        columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    } else if let Some(schema) = &csv.schema {
        for (name, ty) in schema {
            columns.push(Column {
                name: name.clone(),
                ty: parse_type(cfg, &table_path, ty)?,
                nullable: true,
            });
            origins.push(TypeOrigin::Declared);
        }
    }

    if let Some(selected) = &source.columns {
        let mut picked = Vec::new();
        let mut picked_origins = Vec::new();
        for name in selected {
            let Some(i) = columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(name))
            else {
                return Err(error_at(
                    cfg,
                    &[
                        PathSeg::Key("sources"),
                        PathSeg::Index(index),
                        PathSeg::Key("columns"),
                    ],
                    format!("table `{}` has no column `{name}`", spec.name),
                    "unknown column",
                )
                .with_help(format!(
                    "its columns are: {}",
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            picked.push(columns[i].clone());
            picked_origins.push(origins[i]);
        }
        columns = picked;
        origins = picked_origins;
    }

    Ok(ResolvedSource {
        table: SourceTable {
            name: source.name.clone(),
            columns,
            location: location_text.clone(),
            extension: extension.clone(),
            primary_key: Vec::new(),
            kind: SourceKind::Files {
                location: location_text,
                extension,
            },
        },
        origins,
    })
}

fn parse_type(cfg: &LoadedConfig, at: &[PathSeg], name: &str) -> Result<SqlType, CompileError> {
    SqlType::from_name(name).ok_or_else(|| {
        error_at(
            cfg,
            at,
            format!("unknown column type `{name}`"),
            "in this table's schema",
        )
        .with_help(format!("use one of: {}", SqlType::NAMES.join(", ")))
    })
}

fn is_glob(location: &str) -> bool {
    location.contains(['*', '?', '['])
}

/// The files of a table, in name order: every file with `extension` in a folder, or a glob.
pub fn list_files(location: &Path, extension: &str) -> Vec<PathBuf> {
    let wanted = extension.trim_start_matches('.');
    let mut files: Vec<PathBuf> = if location.is_dir() {
        std::fs::read_dir(location)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == wanted))
                    .collect()
            })
            .unwrap_or_default()
    } else if is_glob(&location.display().to_string()) {
        glob::glob(&location.display().to_string())
            .map(|paths| {
                paths
                    .filter_map(Result::ok)
                    .filter(|p| p.is_file())
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    files.sort();
    files
}
