//! Reading one CSV file (RFC 4180, UTF-8) into chunks of field text ([`TextRows`]), which the
//! generated code types straight into its source records.

use super::files::SourceError;
use super::text_rows::TextRows;
use crate::types::FieldDef;
use std::path::Path;
use std::sync::Arc;

/// Rows handed to the pipeline at a time: memory stays bounded however large a file is.
pub const CHUNK_ROWS: usize = 32_768;
/// Bytes of field text past which a chunk is handed over before it has [`CHUNK_ROWS`] rows.
const CHUNK_BYTES: usize = 64 << 20;

/// Reads every row of `path` as an insert, handing them to `on_chunk` [`CHUNK_ROWS`] at a time;
/// returns the number of rows. The caller applies all chunks inside one write transaction and
/// commits only after the last, so a bad row anywhere leaves nothing of the file applied.
pub(crate) fn read_csv<E: From<SourceError>>(
    path: &Path,
    file_seq: u32,
    fields: &'static [FieldDef],
    mut on_chunk: impl FnMut(TextRows) -> Result<(), E>,
) -> Result<u64, E> {
    let file_name: Arc<str> = Arc::from(path.display().to_string());
    let io_error = |source: std::io::Error| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| csv_error(&file_name, e))?;
    let header = reader
        .headers()
        .map_err(|e| csv_error(&file_name, e))?
        .clone();
    let columns: Arc<[usize]> = map_columns(&file_name, &header, fields)?.into();
    let chunk = |capacity| {
        TextRows::new(
            file_name.clone(),
            file_seq,
            fields,
            columns.clone(),
            capacity,
        )
    };

    let mut rows = chunk(CHUNK_ROWS);
    let mut total: u64 = 0;
    let mut record = csv::ByteRecord::new();
    let mut row_number: u32 = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) if e.is_io_error() => return Err(io_error(e.into()).into()),
            Err(e) => return Err(csv_error(&file_name, e).into()),
        }
        row_number += 1;
        let line = record.position().map_or(0, |p| p.line());
        rows.push(
            row_number,
            line,
            columns.iter().map(|&c| record.get(c).unwrap_or_default()),
        );
        if rows.len() == CHUNK_ROWS || rows.byte_len() >= CHUNK_BYTES {
            total += rows.len() as u64;
            on_chunk(std::mem::replace(&mut rows, chunk(CHUNK_ROWS)))?;
        }
    }
    total += rows.len() as u64;
    if !rows.is_empty() {
        on_chunk(rows)?;
    }
    Ok(total)
}

/// For each declared field, the index of its column in this file's header (case-insensitive).
fn map_columns(
    file: &str,
    header: &csv::StringRecord,
    fields: &[FieldDef],
) -> Result<Vec<usize>, SourceError> {
    fields
        .iter()
        .map(|field| {
            header
                .iter()
                .position(|h| header_name(h) == field.name)
                .or_else(|| {
                    header
                        .iter()
                        .position(|h| header_name(h).eq_ignore_ascii_case(field.name))
                })
                .ok_or_else(|| SourceError::MissingColumn {
                    file: file.to_string(),
                    column: field.name.to_string(),
                    header: header.iter().collect::<Vec<_>>().join(", "),
                })
        })
        .collect()
}

/// A header cell as a column name: trimmed, without the byte order mark spreadsheet exports
/// put before the first one.
fn header_name(cell: &str) -> &str {
    cell.trim_start_matches('\u{feff}').trim()
}

fn csv_error(file: &str, e: csv::Error) -> SourceError {
    let (line, message) = match e.kind() {
        csv::ErrorKind::Utf8 { pos, err } => (
            pos.as_ref().map_or(0, |p| p.line()),
            format!("invalid UTF-8 in field {}", err.field() + 1),
        ),
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => (
            pos.as_ref().map_or(0, |p| p.line()),
            format!("found {len} fields where the header has {expected_len}"),
        ),
        _ => (0, e.to_string()),
    };
    SourceError::Malformed {
        file: file.to_string(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Decimal, FieldType, RecordId};

    const FIELDS: &[FieldDef] = &[
        FieldDef::new("Description", FieldType::String, true),
        FieldDef::new("Quantity", FieldType::Int, true),
        FieldDef::new("UnitPrice", FieldType::Decimal, true),
    ];

    type Row = (Option<String>, Option<i64>, Option<Decimal>);

    /// Every row of the file, typed as the generated `from_text` would type it.
    fn read_all(
        path: &Path,
        seq: u32,
        fields: &'static [FieldDef],
    ) -> Result<Vec<(RecordId, Row)>, SourceError> {
        let mut all = Vec::new();
        read_csv(path, seq, fields, |chunk| {
            for (i, (id, row)) in chunk.iter().enumerate() {
                let typed = (|| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))()
                    .map_err(|e| chunk.error(i, e))?;
                all.push((id, typed));
            }
            Ok::<(), SourceError>(())
        })?;
        Ok(all)
    }

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("a.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_quoted_fields_nulls_and_reordered_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "quantity,Description,UnitPrice\n3,\"GLASS, \"\"STAR\"\"\nHOLDER\",2.55\n,x,\n",
        );
        let rows = read_all(&path, 1, FIELDS).unwrap();
        assert_eq!(
            rows,
            [
                (
                    RecordId::new(1, 1),
                    (
                        Some("GLASS, \"STAR\"\nHOLDER".into()),
                        Some(3),
                        Some(Decimal::new(255, 2))
                    )
                ),
                (RecordId::new(1, 2), (Some("x".into()), None, None)),
            ]
        );
    }

    #[test]
    fn large_files_arrive_in_bounded_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("Description,Quantity,UnitPrice\n");
        for i in 0..(CHUNK_ROWS + 10) {
            text.push_str(&format!("d,{i},1.5\n"));
        }
        let path = write(dir.path(), &text);
        let mut sizes = Vec::new();
        let total = read_csv(&path, 1, FIELDS, |chunk| {
            sizes.push(chunk.len());
            Ok::<(), SourceError>(())
        })
        .unwrap();
        assert_eq!(sizes, [CHUNK_ROWS, 10]);
        assert_eq!(total, CHUNK_ROWS as u64 + 10);
    }

    #[test]
    fn a_bad_value_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "Description,Quantity,UnitPrice\na,1,2\nb,three,2\n",
        );
        let err = read_all(&path, 1, FIELDS).unwrap_err().to_string();
        assert!(err.contains("a.csv:3:2"), "{err}");
        assert!(err.contains("`three` is not an Int"), "{err}");
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "\u{feff}Description,Quantity,UnitPrice\nx,1,2\n",
        );
        let rows = read_all(&path, 1, FIELDS).unwrap();
        assert_eq!(rows[0].1 .0.as_deref(), Some("x"));
    }

    #[test]
    fn a_missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "Description,Quantity\na,1\n");
        let err = read_all(&path, 1, FIELDS).unwrap_err().to_string();
        assert!(err.contains("no column `UnitPrice`"), "{err}");
    }
}
