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
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.is_empty() || out.chars().all(|c| c == '_') {
        out = fallback.to_string();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Makes names unique by suffixing `_2`, `_3`, ...
#[derive(Default)]
pub struct UniqueNames {
    taken: HashSet<String>,
}

impl UniqueNames {
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_string());
    }

    pub fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&name) {
            name = format!("{base}_{n}");
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
        assert_eq!(field_names(["a", "A"].into_iter()), ["a", "a_2"]);
    }
}
