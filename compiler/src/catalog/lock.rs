//! The lock file: the introspected schema of every Postgres source, pinned beside the config.
//!
//! `dozer-config.yaml` locks into `dozer-config.lock` (the config's stem + `.lock`), pretty JSON
//! with a fixed key order so it diffs well and can be committed. A build uses an entry when it
//! matches the source (same connection, server, schema and table) without connecting; otherwise,
//! or with `refresh_schema`, it introspects the database and rewrites the file. An entry holds the
//! whole table, so changing a source's `columns:` selection needs no connection.

use super::{ResolvedSource, TypeOrigin};
use crate::config::LoadedConfig;
use crate::config::PathSeg::{Index, Key};
use crate::diagnostics::{closest, CompileError};
use crate::plan::{Column, PgParams, SourceKind, SourceTable, SqlType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The lock file's format version.
const VERSION: u32 = 1;

/// The whole lock file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: u32,
    /// One entry per Postgres source, by source name (sorted, so the file is deterministic).
    pub sources: BTreeMap<String, LockEntry>,
}

/// One Postgres table as introspected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The connection's name in the config.
    pub connection: String,
    /// `host:port/database` (never the password): a changed server invalidates the entry.
    pub server: String,
    pub schema: String,
    pub table: String,
    /// Every column of the table, in `attnum` order.
    pub columns: Vec<LockColumn>,
    /// Primary key column names, in key order (empty when the table has none).
    pub primary_key: Vec<String>,
    /// `default`, `full`, `nothing` or `index`.
    pub replica_identity: String,
}

/// One column of a locked table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockColumn {
    pub name: String,
    /// The SQL type name (`Int`, `String`, ...), or null when the Postgres type is not supported.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// The Postgres type as `format_type` spells it, e.g. `numeric(10,2)`.
    pub pg_type: String,
    pub nullable: bool,
}

impl LockEntry {
    /// Whether this entry describes the table a source reads.
    pub fn matches(&self, connection: &str, server: &str, schema: &str, table: &str) -> bool {
        self.connection == connection
            && self.server == server
            && self.schema == schema
            && self.table == table
    }

    /// The source as the plan sees it: the entry's columns, selected by `columns:` and typed.
    pub fn to_resolved(
        &self,
        cfg: &LoadedConfig,
        index: usize,
    ) -> Result<ResolvedSource, CompileError> {
        let source = &cfg.config.sources[index];
        let qualified = format!("{}.{}", self.schema, self.table);
        let picked: Vec<&LockColumn> = match &source.columns {
            None => self.columns.iter().collect(),
            Some(selected) => {
                let mut picked = Vec::new();
                for name in selected {
                    let found = self.columns.iter().find(|c| c.name == *name).or_else(|| {
                        self.columns
                            .iter()
                            .find(|c| c.name.eq_ignore_ascii_case(name))
                    });
                    let Some(column) = found else {
                        let names: Vec<&str> =
                            self.columns.iter().map(|c| c.name.as_str()).collect();
                        let mut err = cfg.error_at(
                            &[Key("sources"), Index(index), Key("columns")],
                            format!("table `{qualified}` has no column `{name}`"),
                            "unknown column",
                        );
                        if let Some(near) = closest(name, names.iter().copied()) {
                            err = err.with_help(format!("did you mean `{near}`?"));
                        }
                        return Err(err
                            .with_help(format!("its columns are: {}", names.join(", ")))
                            .with_help(
                                "if the table changed since it was locked: dozerc build \
                                 --refresh-schema",
                            ));
                    };
                    picked.push(column);
                }
                picked
            }
        };
        let mut columns = Vec::new();
        for column in picked {
            let Some(ty_name) = &column.ty else {
                return Err(cfg
                    .error_at(
                        &[Key("sources"), Index(index), Key("table_name")],
                        format!(
                            "column `{}` of `{qualified}` has Postgres type `{}`, which dozerc does \
                             not support",
                            column.name, column.pg_type
                        ),
                        "this table",
                    )
                    .with_help(format!("supported Postgres types: {}", super::postgres::SUPPORTED))
                    .with_help(
                        "leave the column out with `columns:`, or change its type in the database \
                         (e.g. ALTER COLUMN ... TYPE text)",
                    ));
            };
            let ty = SqlType::from_name(ty_name).ok_or_else(|| {
                CompileError::new(format!(
                    "the lock file gives column `{}` of `{qualified}` the unknown type `{ty_name}`",
                    column.name
                ))
                .with_help("rewrite it from the database: dozerc build --refresh-schema")
            })?;
            columns.push(Column {
                name: column.name.clone(),
                ty,
                nullable: column.nullable,
            });
        }
        // Rows are keyed by the primary key, so the pipeline reads all its columns. A table
        // without one can only be aggregated (the SQL compiler refuses projections of it).
        let mut primary_key = Vec::new();
        for key in &self.primary_key {
            let Some(position) = columns.iter().position(|c| c.name == *key) else {
                return Err(cfg
                    .error_at(
                        &[Key("sources"), Index(index), Key("columns")],
                        format!("`columns` leaves out `{key}`, part of the primary key of `{qualified}`"),
                        "primary key column missing",
                    )
                    .with_help(format!(
                        "add `{key}` to the list: rows are keyed by the primary key ({})",
                        self.primary_key.join(", ")
                    )));
            };
            primary_key.push(position);
        }
        let origins = vec![TypeOrigin::Declared; columns.len()];
        Ok(ResolvedSource {
            table: SourceTable {
                name: source.name.clone(),
                columns,
                location: format!("{}: {qualified}", self.connection),
                extension: String::new(),
                primary_key,
                kind: SourceKind::Postgres {
                    connection: self.connection.clone(),
                    schema: self.schema.clone(),
                    table: self.table.clone(),
                    replica_identity: self.replica_identity.clone(),
                    // Filled in from the config's connection by the caller.
                    params: PgParams::default(),
                },
            },
            origins,
        })
    }
}

/// Where the lock file of a config lives: beside it, named after its stem.
pub fn lock_path(cfg: &LoadedConfig) -> PathBuf {
    let stem = cfg
        .file
        .path
        .file_stem()
        .map_or_else(|| "dozer-config".into(), |s| s.to_string_lossy());
    let dir = cfg
        .file
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| cfg.dir.clone(), Path::to_path_buf);
    dir.join(format!("{stem}.lock"))
}

/// The lock at `path`, empty when the file does not exist.
pub fn read(path: &Path) -> Result<Lock, CompileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(empty()),
        Err(e) => {
            return Err(CompileError::new(format!(
                "cannot read lock file {}: {e}",
                path.display()
            )))
        }
    };
    let lock: Lock = serde_json::from_str(&text).map_err(|e| {
        CompileError::new(format!("lock file {} is not valid: {e}", path.display()))
            .with_help("delete it, or rewrite it from the database: dozerc build --refresh-schema")
    })?;
    if lock.version != VERSION {
        return Err(CompileError::new(format!(
            "lock file {} has version {}, this dozerc writes version {VERSION}",
            path.display(),
            lock.version
        ))
        .with_help("rewrite it from the database: dozerc build --refresh-schema"));
    }
    Ok(lock)
}

/// Writes `lock` to `path` unless the file already holds exactly that text.
pub fn write(path: &Path, lock: &Lock) -> Result<(), CompileError> {
    let mut text = serde_json::to_string_pretty(lock)
        .map_err(|e| CompileError::new(format!("cannot encode lock file: {e}")))?;
    text.push('\n');
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
        .map_err(|e| CompileError::new(format!("cannot write lock file {}: {e}", path.display())))
}

/// A new, empty lock.
pub fn empty() -> Lock {
    Lock {
        version: VERSION,
        sources: BTreeMap::new(),
    }
}
