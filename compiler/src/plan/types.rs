//! SQL types as the compiler sees them, and Postgres' rules for combining them.

use std::fmt;

/// A column or expression type (Dozer's list), plus `Null` for an untyped NULL literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SqlType {
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
    Null,
}

impl SqlType {
    pub const NAMES: [&'static str; 11] = [
        "Int",
        "UInt",
        "Float",
        "Decimal",
        "Boolean",
        "String",
        "Text",
        "Date",
        "Timestamp",
        "Json",
        "Binary",
    ];

    pub fn from_name(name: &str) -> Option<SqlType> {
        use SqlType::*;
        [
            Int, UInt, Float, Decimal, Boolean, String, Text, Date, Timestamp, Json, Binary,
        ]
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    pub fn name(self) -> &'static str {
        match self {
            SqlType::Int => "Int",
            SqlType::UInt => "UInt",
            SqlType::Float => "Float",
            SqlType::Decimal => "Decimal",
            SqlType::Boolean => "Boolean",
            SqlType::String => "String",
            SqlType::Text => "Text",
            SqlType::Date => "Date",
            SqlType::Timestamp => "Timestamp",
            SqlType::Json => "Json",
            SqlType::Binary => "Binary",
            SqlType::Null => "NULL",
        }
    }

    /// The type name with its article, for messages: "an Int", "a Decimal".
    pub fn with_article(self) -> String {
        let article = if matches!(self, SqlType::Int | SqlType::UInt) {
            "an"
        } else {
            "a"
        };
        format!("{article} {}", self.name())
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            SqlType::Int | SqlType::UInt | SqlType::Float | SqlType::Decimal
        )
    }

    pub fn is_text(self) -> bool {
        matches!(self, SqlType::String | SqlType::Text)
    }

    /// Values of this type can be ordered (MIN, MAX, <, GROUP BY keys).
    pub fn is_orderable(self) -> bool {
        !matches!(self, SqlType::Json)
    }

    /// The common type of two numeric operands, as Postgres promotes them:
    /// integer with numeric is numeric (exact), anything with a double is a double.
    pub fn numeric_union(a: SqlType, b: SqlType) -> Option<SqlType> {
        use SqlType::*;
        Some(match (a, b) {
            (Null, t) | (t, Null) if t.is_numeric() => t,
            (Float, t) | (t, Float) if t.is_numeric() => Float,
            (Decimal, t) | (t, Decimal) if t.is_numeric() => Decimal,
            (UInt, UInt) => UInt,
            (Int, Int) | (Int, UInt) | (UInt, Int) => Int,
            _ => return None,
        })
    }

    /// The common type for comparison or equality.
    pub fn comparison_union(a: SqlType, b: SqlType) -> Option<SqlType> {
        if let Some(t) = SqlType::numeric_union(a, b) {
            return Some(t);
        }
        match (a, b) {
            (SqlType::Null, t) | (t, SqlType::Null) => Some(t),
            (x, y) if x.is_text() && y.is_text() => Some(SqlType::String),
            (x, y) if x == y && x.is_orderable() => Some(x),
            _ => None,
        }
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
