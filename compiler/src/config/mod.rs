//! Loading `dozer-config.yaml`: the serde model, spans of its values, and
//! validation that needs no SQL.
//!
//! [`load`] / [`parse`] return a [`LoadedConfig`] that keeps the source file
//! and a path -> span index beside the model, so later phases (the SQL
//! compiler checking endpoint tables, for instance) can still point at the
//! exact YAML value with [`LoadedConfig::span_of`].

mod index;
mod model;
mod serde_error;
mod sql_text;
mod validate;

use std::path::{Path, PathBuf};

pub use model::*;
pub use sql_text::SqlText;

use crate::diagnostics::{CompileError, SourceFile, Span};
use index::{Seg, SpanIndex};

/// A configuration that parsed and validated, with its source.
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub file: SourceFile,
    /// Absolute directory of the config file; relative paths resolve here.
    pub dir: PathBuf,
    index: SpanIndex,
}

/// One step of a YAML path given to [`LoadedConfig::span_of`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathSeg<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A sequence position, from 0.
    Index(usize),
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path) -> Result<LoadedConfig, CompileError> {
    let file = SourceFile::read(path)?;
    let absolute = std::path::absolute(path)
        .map_err(|e| CompileError::new(format!("cannot resolve {}: {e}", path.display())))?;
    let dir = absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    parse(file, dir)
}

/// Parses and validates config text already in memory; `dir` is the
/// directory relative paths resolve against.
pub fn parse(file: SourceFile, dir: PathBuf) -> Result<LoadedConfig, CompileError> {
    let index = SpanIndex::build(&file.text);
    let config: Config =
        serde_norway::from_str(&file.text).map_err(|e| serde_error::convert(&file, &index, &e))?;
    let loaded = LoadedConfig {
        config,
        file,
        dir,
        index,
    };
    validate::validate(&loaded)?;
    Ok(loaded)
}

impl LoadedConfig {
    /// Span of the value at a YAML path, e.g.
    /// `[Key("endpoints"), Index(1), Key("table_name")]`; of the key itself
    /// when the value is a mapping or sequence; of the item's start (its tag
    /// or first key) for a collection inside a sequence. `None` if absent.
    pub fn span_of(&self, path: &[PathSeg]) -> Option<Span> {
        self.index.get(&owned(path)).map(|node| node.span)
    }

    /// The SQL text, able to map SQL positions to spans in the YAML file.
    pub fn sql(&self) -> Option<SqlText> {
        let text = self.config.sql.clone()?;
        let node = self.index.get(&[Seg::Key("sql".to_string())]);
        let (raw, style) = match node {
            Some(index::Node {
                raw: Some(raw),
                style: Some(style),
                ..
            }) => (*raw, *style),
            // Not indexable (e.g. an alias): positions fall on the key.
            _ => {
                let at = node.map_or(Span::new(0, 0), |n| n.span);
                (at, saphyr_parser::ScalarStyle::Plain)
            }
        };
        Some(SqlText::new(self.file.clone(), text, raw, style))
    }

    /// Dozer's home directory: `home_dir` (default `.dozer`) resolved
    /// against the config file's directory.
    pub fn home_dir(&self) -> PathBuf {
        self.resolve(self.config.home_dir.as_deref().unwrap_or(".dozer"))
    }

    /// `relative` resolved against the config file's directory; an absolute
    /// path is returned unchanged.
    pub fn resolve(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// An error pointing at the value at `path` (or at the start of the file
    /// when the path is absent, e.g. for a defaulted value).
    pub fn error_at(
        &self,
        path: &[PathSeg],
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> CompileError {
        let span = self.span_of(path).unwrap_or(Span::new(0, 0));
        CompileError::at(&self.file, span, message, label)
    }
}

fn owned(path: &[PathSeg]) -> Vec<Seg> {
    path.iter()
        .map(|seg| match seg {
            PathSeg::Key(k) => Seg::Key((*k).to_string()),
            PathSeg::Index(i) => Seg::Index(*i),
        })
        .collect()
}
