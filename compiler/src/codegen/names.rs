//! Rust names for SQL names: snake_case fields, UpperCamelCase types, never a clash.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};
use std::collections::HashSet;

/// A Rust identifier for a SQL name, snake_case (`CustomerID` → `customer_id`).
pub fn field_name(sql: &str) -> String {
    sanitize(&sql.to_snake_case(), "field")
}

/// A Rust type name for a SQL table name (`customer_lifetime_value` → `CustomerLifetimeValue`).
pub fn type_name(sql: &str) -> String {
    sanitize(&sql.to_upper_camel_case(), "Table")
}

fn sanitize(name: &str, fallback: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '_') {
        out = fallback.to_string();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    // Keywords that cannot be raw identifiers (`r#self` is not allowed).
    if matches!(out.as_str(), "self" | "Self" | "super" | "crate") {
        out.push('_');
    }
    out
}

/// Makes names unique by suffixing `_2`, `_3`, ... (`2`, `3`, ... for type names, which stay
/// UpperCamelCase).
#[derive(Default)]
pub struct UniqueNames {
    taken: HashSet<String>,
    camel: bool,
}

impl UniqueNames {
    /// For UpperCamelCase type names.
    pub fn types() -> Self {
        UniqueNames {
            taken: HashSet::new(),
            camel: true,
        }
    }

    /// Reserves every name in `names`.
    pub fn reserving(mut self, names: &[&str]) -> Self {
        for name in names {
            self.reserve(name);
        }
        self
    }

    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    pub fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = if self.camel {
                format!("{base}{n}")
            } else {
                format!("{base}_{n}")
            };
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

/// An identifier token, raw (`r#type`) when the name is a Rust keyword.
pub fn ident(name: &str) -> Ident {
    if syn::parse_str::<Ident>(name).is_ok() {
        Ident::new(name, Span::call_site())
    } else {
        Ident::new_raw(name, Span::call_site())
    }
}

/// snake_case field names for a list of columns, unique within the struct.
pub fn field_names<'a>(columns: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut names = UniqueNames::default();
    columns.map(|c| names.unique(field_name(c))).collect()
}

/// Type names generated code imports (runtime prelude, std prelude, serde): a table must not
/// shadow them.
pub const RESERVED_TYPES: &[&str] = &[
    "Pipeline",
    "Staged",
    "ChangeBuffer",
    "Avg",
    "Count",
    "GroupTable",
    "HashJoin",
    "UnionKey",
    "JoinKey",
    "JoinKind",
    "Joined",
    "Distinct",
    "ExpiryIndex",
    "MaxValue",
    "MinValue",
    "Watermark",
    "Max",
    "Min",
    "Operator",
    "Sum",
    "EndpointTable",
    "StateStore",
    "EvalError",
    "EndpointApi",
    "EndpointDecl",
    "TypedEndpoint",
    "PipelineError",
    "Settings",
    "Store",
    "StoreError",
    "CsvTableSpec",
    "TextRow",
    "FieldError",
    "SourceBatch",
    "SourceSpec",
    "PgTableSpec",
    "PgConnectionSpec",
    "KeyedRecord",
    "WriteTransaction",
    "Arc",
    "Date",
    "Decimal",
    "Delta",
    "FieldDef",
    "FieldType",
    "FieldValue",
    "Float",
    "Json",
    "Record",
    "RecordId",
    "SourceRecord",
    "TableKey",
    "Timestamp",
    "TypeError",
    "Value",
    "Deserialize",
    "Serialize",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Vec",
    "String",
    "Box",
    "Default",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "Sized",
    "Fn",
    "FnMut",
    "FnOnce",
    "Drop",
    "Iterator",
    "IntoIterator",
    "ToString",
    "ToOwned",
    "From",
    "Into",
    "PartialEq",
    "Eq",
    "Ord",
    "PartialOrd",
    "Debug",
    "Hash",
];

/// Local names and modules generated code uses: a table's variable must not shadow them.
pub const RESERVED_VARS: &[&str] = &[
    "txn",
    "source",
    "changes",
    "store",
    "input",
    "out",
    "change",
    "row",
    "key",
    "aggs",
    "weight",
    "old",
    "new",
    "pipeline",
    "staged",
    "endpoints",
    "records",
    "app",
    "metrics",
    "expr",
    "std",
    "core",
    "dozer_runtime",
    "windows",
    "window_start",
    "window_end",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_rust_identifiers() {
        assert_eq!(field_name("CustomerID"), "customer_id");
        assert_eq!(field_name("Unit Price"), "unit_price");
        assert_eq!(field_name("1st"), "_1st");
        assert_eq!(type_name("sales_by_country"), "SalesByCountry");
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(field_name("self"), "self_");
        assert_eq!(type_name("self"), "Self_");
        assert_eq!(field_names(["a", "A"].into_iter()), ["a", "a_2"]);
    }
}
