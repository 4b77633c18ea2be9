//! Text values to [`Value`]s, column names to record positions, and the check that a table's
//! columns (from the catalog at open, from `Relation` messages while streaming) still match the
//! pipeline's declaration.

use std::collections::HashMap;

use pg_walstream::{ColumnValue, RowData};

use super::{PgSourceError, PgTableSpec};
use crate::types::{FieldType, Value};

/// Type OIDs of the built-in types the field types accept.
mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const JSONB: u32 = 3802;
}

/// Whether a column of Postgres type `type_oid` can be read as `ty`. Every type has a text form,
/// so `String`/`Text` accept all of them.
pub(super) fn type_accepts(ty: FieldType, type_oid: u32) -> bool {
    use oid::*;
    let ints = [INT2, INT4, INT8];
    match ty {
        FieldType::String | FieldType::Text => true,
        FieldType::Int | FieldType::UInt => ints.contains(&type_oid),
        FieldType::Decimal => type_oid == NUMERIC || ints.contains(&type_oid),
        FieldType::Float => {
            [FLOAT4, FLOAT8, NUMERIC].contains(&type_oid) || ints.contains(&type_oid)
        }
        FieldType::Boolean => type_oid == BOOL,
        FieldType::Date => type_oid == DATE,
        FieldType::Timestamp => [TIMESTAMP, TIMESTAMPTZ, DATE].contains(&type_oid),
        FieldType::Json => [JSON, JSONB].contains(&type_oid),
        FieldType::Binary => type_oid == BYTEA,
    }
}

/// Checks the table's columns (name, type OID) against the spec: every declared field must exist
/// with a compatible type; extra columns are fine (they are not read).
pub(super) fn check_columns<'a>(
    spec: &PgTableSpec,
    columns: impl IntoIterator<Item = (&'a str, u32)>,
) -> Result<(), PgSourceError> {
    let by_name: HashMap<&str, u32> = columns.into_iter().collect();
    let mut problems = Vec::new();
    for field in spec.fields {
        match by_name.get(field.name) {
            None => problems.push(format!("column `{}` is missing", field.name)),
            Some(&type_oid) if !type_accepts(field.ty, type_oid) => problems.push(format!(
                "column `{}` has type oid {type_oid}, which cannot be read as {}",
                field.name, field.ty
            )),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PgSourceError::SchemaChanged {
            table: spec.qualified_name(),
            message: problems.join(", "),
        })
    }
}

/// Decodes rows of one table into record order.
#[derive(Debug)]
pub(super) struct RowDecoder {
    spec: PgTableSpec,
    positions: HashMap<&'static str, usize>,
}

impl RowDecoder {
    pub fn new(spec: PgTableSpec) -> Self {
        let positions = spec
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name, i))
            .collect();
        RowDecoder { spec, positions }
    }

    pub fn spec(&self) -> &PgTableSpec {
        &self.spec
    }

    /// One value from its text form (`None` is SQL NULL).
    pub fn value(&self, position: usize, text: Option<&str>) -> Result<Value, PgSourceError> {
        let Some(field) = self.spec.fields.get(position) else {
            return Err(PgSourceError::Protocol(format!(
                "column index {position} out of range for {}",
                self.spec.qualified_name()
            )));
        };
        let Some(text) = text else {
            return Ok(Value::Null);
        };
        Value::parse(text, field.ty).map_err(|e| self.decode_error(field.name, text, e.to_string()))
    }

    fn decode_error(&self, column: &str, value: &str, message: String) -> PgSourceError {
        PgSourceError::Decode {
            table: self.spec.qualified_name(),
            column: column.to_string(),
            value: value.to_string(),
            message,
        }
    }

    /// A row of a replication message in record order. Columns absent from `data` (unchanged
    /// TOASTed values of an update) are taken from `base`; without a base they are an error.
    pub fn row(&self, data: &RowData, base: Option<&[Value]>) -> Result<Vec<Value>, PgSourceError> {
        let mut row: Vec<Option<Value>> = match base {
            Some(base) => base.iter().cloned().map(Some).collect(),
            None => vec![None; self.spec.fields.len()],
        };
        for (name, column) in data.iter() {
            let Some(&position) = self.positions.get(name.as_ref()) else {
                continue; // a column the pipeline does not read
            };
            let value = match column {
                ColumnValue::Null => Value::Null,
                ColumnValue::Text(bytes) => {
                    let text = std::str::from_utf8(bytes).map_err(|e| {
                        self.decode_error(name, &String::from_utf8_lossy(bytes), e.to_string())
                    })?;
                    self.value(position, Some(text))?
                }
                ColumnValue::Binary(_) => {
                    return Err(self.decode_error(
                        name,
                        "<binary>",
                        "binary-format values are not supported (the stream uses text)".into(),
                    ))
                }
            };
            if let Some(slot) = row.get_mut(position) {
                *slot = Some(value);
            }
        }
        row.into_iter()
            .zip(self.spec.fields)
            .map(|(value, field)| {
                value.ok_or_else(|| PgSourceError::Protocol(format!(
                    "a change of {} has no value for column `{}` (unchanged TOAST value without an old row?)",
                    self.spec.qualified_name(),
                    field.name
                )))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FieldDef;

    const FIELDS: &[FieldDef] = &[
        FieldDef::new("id", FieldType::Int, false),
        FieldDef::new("ts", FieldType::Timestamp, true),
        FieldDef::new("flag", FieldType::Boolean, true),
    ];

    fn decoder() -> RowDecoder {
        RowDecoder::new(PgTableSpec {
            source: "s",
            schema: "public",
            table: "t",
            fields: FIELDS,
        })
    }

    #[test]
    fn postgres_text_forms_parse() {
        let d = decoder();
        assert_eq!(d.value(2, Some("t")).unwrap(), Value::Boolean(true));
        assert_eq!(d.value(2, Some("f")).unwrap(), Value::Boolean(false));
        let ts = d
            .value(1, Some("2024-02-29 13:45:56.123456+05:30"))
            .unwrap();
        assert_eq!(
            ts,
            Value::parse("2024-02-29T08:15:56.123456Z", FieldType::Timestamp).unwrap()
        );
        assert_eq!(d.value(1, None).unwrap(), Value::Null);
        let err = d.value(1, Some("infinity")).unwrap_err().to_string();
        assert!(err.contains("`ts`") && err.contains("infinity"), "{err}");
    }

    #[test]
    fn rows_merge_missing_columns_onto_the_old_row() {
        let d = decoder();
        let mut data = RowData::new();
        data.push("flag".into(), ColumnValue::text("t"));
        data.push("id".into(), ColumnValue::text("7"));
        data.push("extra".into(), ColumnValue::text("ignored"));
        let old = vec![Value::Int(7), Value::Null, Value::Boolean(false)];
        let row = d.row(&data, Some(&old)).unwrap();
        assert_eq!(row, vec![Value::Int(7), Value::Null, Value::Boolean(true)]);
        assert!(d.row(&data, None).is_err());
    }

    #[test]
    fn column_checks_name_the_problem() {
        let spec = decoder().spec().clone();
        assert!(check_columns(&spec, [("id", 20), ("ts", 1184), ("flag", 16), ("x", 25)]).is_ok());
        let err = check_columns(&spec, [("id", 25), ("ts", 1114)])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`id` has type oid 25") && err.contains("`flag` is missing"),
            "{err}"
        );
    }
}
