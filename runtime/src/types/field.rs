//! Field types (Dozer's list) and field declarations.

use serde::Serialize;

/// The column types a pipeline can carry (Dozer's list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum FieldType {
    Int,
    UInt,
    Float,
    Decimal,
    Boolean,
    String,
    Text,
    Date,
    Timestamp,
    Json,
    Binary,
}

impl FieldType {
    pub const ALL: [FieldType; 11] = [
        FieldType::Int,
        FieldType::UInt,
        FieldType::Float,
        FieldType::Decimal,
        FieldType::Boolean,
        FieldType::String,
        FieldType::Text,
        FieldType::Date,
        FieldType::Timestamp,
        FieldType::Json,
        FieldType::Binary,
    ];

    /// The name used in configs and messages (`Int`, `Decimal`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Int => "Int",
            FieldType::UInt => "UInt",
            FieldType::Float => "Float",
            FieldType::Decimal => "Decimal",
            FieldType::Boolean => "Boolean",
            FieldType::String => "String",
            FieldType::Text => "Text",
            FieldType::Date => "Date",
            FieldType::Timestamp => "Timestamp",
            FieldType::Json => "Json",
            FieldType::Binary => "Binary",
        }
    }

    /// Parses a type name case-insensitively.
    pub fn from_name(name: &str) -> Option<FieldType> {
        FieldType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One column of a record: its name as the user spelled it, its type and whether it may be NULL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FieldDef {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub nullable: bool,
}

impl FieldDef {
    pub const fn new(name: &'static str, ty: FieldType, nullable: bool) -> Self {
        FieldDef { name, ty, nullable }
    }
}
