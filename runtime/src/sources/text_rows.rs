//! `TextRows`: a chunk of rows read from a file, as the text of the fields the pipeline reads,
//! before they are typed.
//!
//! The file connector does not know the pipeline's record types, so it hands over text; the
//! generated `SourceRecord::from_text` then parses each field straight into its typed struct.
//! A chunk keeps every field's bytes in one buffer (no allocation per row or per field), which
//! is most of what makes decoding cheap: typed values are made once, in their final place.

use super::files::SourceError;
use crate::types::{FieldDef, FieldValue, RecordId};
use std::sync::Arc;

/// The rows of one chunk of one file: for each row, the text of each field of the source
/// record (in field order, not file column order).
#[derive(Debug)]
pub struct TextRows {
    /// The file, for error messages.
    file: Arc<str>,
    /// The file's number within its table: the high half of every row's [`RecordId`].
    file_seq: u32,
    fields: &'static [FieldDef],
    /// The file column of each field (0-based), for error messages.
    columns: Arc<[usize]>,
    /// Every field's bytes, row after row.
    bytes: Vec<u8>,
    /// Where each field ends in `bytes`: `fields.len()` entries per row.
    ends: Vec<u32>,
    /// Each row's number in the file (1-based, the low half of its id) and its line.
    rows: Vec<(u32, u64)>,
}

/// A field that did not parse: which one, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: usize,
    pub message: String,
}

/// One row of a [`TextRows`] chunk, as `SourceRecord::from_text` reads it.
#[derive(Clone, Copy)]
pub struct TextRow<'a> {
    bytes: &'a [u8],
    /// This row's field ends, relative to the start of `bytes`.
    ends: &'a [u32],
    start: u32,
}

impl<'a> TextRow<'a> {
    /// Field `index` parsed as `T`; empty text is NULL.
    #[inline]
    pub fn get<T: FieldValue>(&self, index: usize) -> Result<Option<T>, FieldError> {
        let start = match index {
            0 => self.start,
            _ => self.ends[index - 1],
        } as usize;
        let text = &self.bytes[start..self.ends[index] as usize];
        if text.is_empty() {
            return Ok(None);
        }
        T::parse_bytes(text).map(Some).map_err(|e| FieldError {
            field: index,
            message: e.message,
        })
    }
}

impl TextRows {
    pub(crate) fn new(
        file: Arc<str>,
        file_seq: u32,
        fields: &'static [FieldDef],
        columns: Arc<[usize]>,
        capacity: usize,
    ) -> Self {
        TextRows {
            file,
            file_seq,
            fields,
            columns,
            bytes: Vec::with_capacity(capacity * 16 * fields.len()),
            ends: Vec::with_capacity(capacity * fields.len()),
            rows: Vec::with_capacity(capacity),
        }
    }

    /// A chunk with no rows (the empty batch a pipeline starts with).
    pub fn empty(fields: &'static [FieldDef]) -> Self {
        TextRows::new(Arc::from(""), 0, fields, Arc::from([]), 0)
    }

    /// Appends a row: the text of each field, in field order.
    pub(crate) fn push<'t>(
        &mut self,
        row_number: u32,
        line: u64,
        fields: impl Iterator<Item = &'t [u8]>,
    ) {
        for text in fields {
            self.bytes.extend_from_slice(text);
            self.ends.push(self.bytes.len() as u32);
        }
        self.rows.push((row_number, line));
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes of field text held.
    pub(crate) fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// Each row's id and text.
    pub fn iter(&self) -> impl Iterator<Item = (RecordId, TextRow<'_>)> + '_ {
        let width = self.fields.len();
        self.rows.iter().enumerate().map(move |(i, &(number, _))| {
            let ends = &self.ends[i * width..(i + 1) * width];
            let start = match i {
                0 => 0,
                _ => self.ends[i * width - 1],
            };
            let row = TextRow {
                bytes: &self.bytes,
                ends,
                start,
            };
            (RecordId::new(self.file_seq, number), row)
        })
    }

    /// The error of row `index` whose field did not parse, naming file, line and column.
    pub fn error(&self, index: usize, error: FieldError) -> SourceError {
        SourceError::Parse {
            file: self.file.to_string(),
            line: self.rows.get(index).map_or(0, |r| r.1),
            column: self.columns.get(error.field).map_or(0, |c| c + 1),
            field: self
                .fields
                .get(error.field)
                .map_or_else(String::new, |f| f.name.to_string()),
            message: error.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Decimal, FieldType};

    const FIELDS: &[FieldDef] = &[
        FieldDef::new("a", FieldType::String, true),
        FieldDef::new("b", FieldType::Int, true),
        FieldDef::new("c", FieldType::Decimal, true),
    ];

    #[test]
    fn fields_are_typed_where_they_are_read() {
        let mut rows = TextRows::new(Arc::from("f.csv"), 3, FIELDS, Arc::from([2, 0, 1]), 2);
        rows.push(1, 2, [&b"x"[..], b"7", b"1.50"].into_iter());
        rows.push(2, 3, [&b""[..], b"", b"2"].into_iter());
        let got: Vec<_> = rows
            .iter()
            .map(|(id, row)| {
                (
                    id,
                    row.get::<String>(0).unwrap(),
                    row.get::<i64>(1).unwrap(),
                    row.get::<Decimal>(2).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    RecordId::new(3, 1),
                    Some("x".into()),
                    Some(7),
                    Some(Decimal::new(150, 2))
                ),
                (RecordId::new(3, 2), None, None, Some(Decimal::new(2, 0))),
            ]
        );
    }

    #[test]
    fn a_bad_field_names_its_file_line_and_column() {
        let mut rows = TextRows::new(Arc::from("f.csv"), 1, FIELDS, Arc::from([2, 0, 1]), 1);
        rows.push(1, 9, [&b"x"[..], b"seven", b"1"].into_iter());
        let (_, row) = rows.iter().next().unwrap();
        let error = row.get::<i64>(1).unwrap_err();
        let message = rows.error(0, error).to_string();
        assert_eq!(message, "f.csv:9:1: column `b`: `seven` is not an Int");
    }
}
