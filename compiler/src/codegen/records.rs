//! `records.rs` of the emitted crate: one typed struct per source and per result table.

use super::names::ident;
use super::types::{field_type, is_copy, rust_type};
use super::TableNames;
use crate::plan::{Column, SourceTable, TableKey};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// A record struct with its `Record` impl (and `SourceRecord` for sources).
pub fn record(
    type_name: &str,
    doc: &str,
    columns: &[Column],
    fields: &[String],
    is_source: bool,
) -> TokenStream {
    let name = format_ident!("{}", type_name);
    let doc = super::doc(doc);
    let field_idents: Vec<_> = fields.iter().map(|f| ident(f)).collect();
    let declarations = columns.iter().zip(&field_idents).map(|(c, f)| {
        let ty = rust_type(c.ty);
        let sql_name = &c.name;
        let field_doc = super::doc(&format!(
            "`{}`: {}{}",
            c.name,
            c.ty,
            if c.nullable { "" } else { ", never NULL" }
        ));
        quote! {
            #field_doc
            #[serde(rename = #sql_name)]
            pub #f: Option<#ty>,
        }
    });
    let defs = columns.iter().map(|c| {
        let (n, t, nullable) = (&c.name, field_type(c.ty), c.nullable);
        quote!(FieldDef::new(#n, #t, #nullable))
    });
    let indexes = (0..columns.len()).map(proc_macro2::Literal::usize_unsuffixed);
    let getters = columns.iter().zip(&field_idents).map(|(c, f)| {
        if is_copy(c.ty) {
            quote!(self.#f.into_value())
        } else {
            quote!(self.#f.clone().into_value())
        }
    });
    let indexes_again = (0..columns.len()).map(proc_macro2::Literal::usize_unsuffixed);
    let source_impl = is_source.then(|| {
        quote! {
            impl SourceRecord for #name {
                fn from_values(values: Vec<Value>) -> Result<Self, TypeError> {
                    let mut values = values.into_iter();
                    let mut next = || values.next().ok_or_else(|| TypeError::new("too few values for the record"));
                    Ok(#name { #( #field_idents: FieldValue::from_value(next()?)?, )* })
                }

                fn from_text(row: &TextRow<'_>) -> Result<Self, FieldError> {
                    Ok(#name { #( #field_idents: row.get(#indexes_again)?, )* })
                }
            }
        }
    });
    quote! {
        #doc
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(crate = "dozer_runtime::reexports::serde")]
        pub struct #name {
            #( #declarations )*
        }

        impl Record for #name {
            const FIELDS: &'static [FieldDef] = &[ #( #defs ),* ];

            fn field(&self, index: usize) -> Value {
                match index {
                    #( #indexes => #getters, )*
                    _ => Value::Null,
                }
            }
        }

        #source_impl
    }
}

/// For a source keyed by its primary key (Postgres): the key alias and `KeyedRecord`.
pub fn keyed_record(names: &TableNames, table: &SourceTable) -> TokenStream {
    let TableKey::Tuple { types, columns } = &names.key else {
        return quote!();
    };
    let doc = if types.is_empty() {
        format!(
            "`{}` has no primary key: its rows are only aggregated, never served one by one.",
            table.name
        )
    } else {
        format!("Primary key of source `{}`.", table.name)
    };
    let alias = super::key_alias(names, &doc);
    let (row, key) = (
        format_ident!("{}", names.row_type),
        format_ident!("{}", names.key_type),
    );
    let parts = types.iter().zip(columns).flat_map(|(ty, column)| {
        let field = ident(&names.fields[(*column)?]);
        Some(if is_copy(*ty) {
            quote!(self.#field)
        } else {
            quote!(self.#field.clone())
        })
    });
    let body = if types.is_empty() {
        quote!()
    } else {
        quote!((#( #parts, )*))
    };
    quote! {
        #alias

        impl KeyedRecord for #row {
            type Key = #key;
            fn key(&self) -> #key {
                #body
            }
        }
    }
}
