//! Resolving an endpoint's secondary indexes (`endpoints[].index.secondary`) against the
//! columns of the table it serves, which are only known once the SQL is bound.
//!
//! Defaults follow Dozer: every column of an indexable type (all but Json) gets a
//! single-column index, unless listed in `skip_default`; `create` adds `!SortedInverted`
//! indexes over one or more columns. `!FullText` is refused (not supported yet).

use crate::config::{Endpoint as EndpointConfig, IndexKind, LoadedConfig, PathSeg};
use crate::diagnostics::{closest, CompileError};
use crate::plan::Column;
use crate::plan::SqlType;

/// The indexes of endpoint number `position` over `columns` of `table`: per index, its
/// column numbers in key order. Defaults first (in column order), then `create` entries
/// (a created index equal to a default one is the same index).
pub fn resolve(
    cfg: &LoadedConfig,
    position: usize,
    endpoint: &EndpointConfig,
    table: &str,
    columns: &[Column],
) -> Result<Vec<Vec<usize>>, CompileError> {
    let secondary = endpoint
        .index
        .as_ref()
        .and_then(|i| i.secondary.clone())
        .unwrap_or_default();
    let base = [
        PathSeg::Key("endpoints"),
        PathSeg::Index(position),
        PathSeg::Key("index"),
        PathSeg::Key("secondary"),
    ];
    let error = |path: &[PathSeg], message: String, label: &str| {
        let full = [&base[..], path].concat();
        match cfg.span_of(&full) {
            Some(span) => CompileError::at(&cfg.file, span, message, label),
            None => CompileError::new(message),
        }
    };
    let find = |name: &str, path: &[PathSeg]| -> Result<usize, CompileError> {
        columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                let err = error(
                    path,
                    format!(
                        "endpoint `{}` indexes unknown column `{name}` of `{table}`",
                        endpoint.name
                    ),
                    "no such column",
                );
                match closest(name, names.iter().copied()) {
                    Some(near) => err.with_help(format!(
                        "did you mean `{near}`? Columns of `{table}`: {}",
                        names.join(", ")
                    )),
                    None => err.with_help(format!("columns of `{table}`: {}", names.join(", "))),
                }
            })
    };

    let mut skipped = vec![false; columns.len()];
    for (i, name) in secondary.skip_default.iter().enumerate() {
        let path = [PathSeg::Key("skip_default"), PathSeg::Index(i)];
        skipped[find(name, &path)?] = true;
    }
    let mut indexes: Vec<Vec<usize>> = columns
        .iter()
        .enumerate()
        .filter(|(i, c)| indexable(c.ty) && !skipped[*i])
        .map(|(i, _)| vec![i])
        .collect();

    // Where each created index was declared, for duplicate errors.
    let mut created: Vec<(Vec<usize>, usize)> = Vec::new();
    for (k, entry) in secondary.create.iter().enumerate() {
        let at = |rest: &[PathSeg<'static>]| {
            [
                &[
                    PathSeg::Key("create"),
                    PathSeg::Index(k),
                    PathSeg::Key("index"),
                ][..],
                rest,
            ]
            .concat()
        };
        let fields = match &entry.index {
            IndexKind::FullText(full_text) => {
                return Err(error(
                    &at(&[]),
                    format!(
                        "endpoint `{}`: full-text indexes are not supported yet (on `{}`)",
                        endpoint.name, full_text.field
                    ),
                    "!FullText",
                )
                .with_help(format!(
                    "remove this index; `!SortedInverted {{ fields: [{}] }}` serves equality and range filters and sorting",
                    full_text.field
                )));
            }
            IndexKind::SortedInverted(sorted) => &sorted.fields,
        };
        if fields.is_empty() {
            return Err(error(
                &at(&[PathSeg::Key("fields")]),
                format!(
                    "endpoint `{}`: an index needs at least one field",
                    endpoint.name
                ),
                "no fields",
            )
            .with_help("list the columns to index in order, e.g. `fields: [country, total]`"));
        }
        let mut index = Vec::with_capacity(fields.len());
        for (m, name) in fields.iter().enumerate() {
            let path = at(&[PathSeg::Key("fields"), PathSeg::Index(m)]);
            let column = find(name, &path)?;
            let ty = columns[column].ty;
            if !indexable(ty) {
                return Err(error(
                    &path,
                    format!(
                        "endpoint `{}` indexes column `{}`, whose type {} has no order",
                        endpoint.name, columns[column].name, ty.name()
                    ),
                    "cannot be indexed",
                )
                .with_help(format!(
                    "{} columns cannot be indexed or sorted; remove `{name}` from this index (filters with $eq still work, by scanning)",
                    ty.name()
                )));
            }
            if index.contains(&column) {
                return Err(error(
                    &path,
                    format!(
                        "endpoint `{}`: column `{}` appears twice in one index",
                        endpoint.name, columns[column].name
                    ),
                    "repeated column",
                )
                .with_help("list each column once"));
            }
            index.push(column);
        }
        if let Some((_, first)) = created.iter().find(|(other, _)| *other == index) {
            let names: Vec<&str> = index.iter().map(|&c| columns[c].name.as_str()).collect();
            let first_path = [
                &base[..],
                &[
                    PathSeg::Key("create"),
                    PathSeg::Index(*first),
                    PathSeg::Key("index"),
                ],
            ]
            .concat();
            let line = cfg
                .span_of(&first_path)
                .map(|span| cfg.file.line_col(span.start).0);
            let where_ = match line {
                Some(line) => format!("create[{first}] on line {line}"),
                None => format!("create[{first}]"),
            };
            return Err(error(
                &at(&[]),
                format!(
                    "endpoint `{}` declares the index [{}] twice",
                    endpoint.name,
                    names.join(", ")
                ),
                "duplicate index",
            )
            .with_help(format!(
                "the same index is already declared at {where_}; remove one"
            )));
        }
        created.push((index.clone(), k));
        if !indexes.contains(&index) {
            indexes.push(index);
        }
    }
    Ok(indexes)
}

/// Whether a column of `ty` can be indexed: Json has no order, and an untyped NULL no type.
fn indexable(ty: SqlType) -> bool {
    !matches!(ty, SqlType::Json | SqlType::Null)
}
