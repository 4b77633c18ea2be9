//! `endpoints.rs` of the emitted crate: what each endpoint serves, and its typed cache table.

use super::names::field_name;
use super::Names;
use crate::plan::Pipeline;
use heck::ToShoutySnakeCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn endpoints_file(p: &Pipeline, names: &Names) -> TokenStream {
    let mut items = Vec::new();
    let mut apis = Vec::new();
    let mut tables = Vec::new();
    for e in &p.endpoints {
        let table = names.table(e.table);
        let (row, key) = (format_ident!("{}", table.row_type), table.key_tokens());
        let decl = format_ident!("{}", e.name.to_shouty_snake_case().replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_"));
        let table_fn = format_ident!("{}_table", field_name(&e.name));
        let (name, path, table_name) = (&e.name, &e.path, p.table_name(e.table));
        let primary_key = p.key(e.table).column_names(p.columns(e.table));
        let doc = super::doc(&format!("`{path}`: serves `{table_name}`."));
        items.push(quote! {
            #doc
            pub const #decl: EndpointDecl = EndpointDecl {
                name: #name,
                path: #path,
                table_name: #table_name,
                fields: #row::FIELDS,
                primary_key: &[ #( #primary_key ),* ],
            };

            /// The cache table of this endpoint.
            pub fn #table_fn() -> EndpointTable<#key, #row> {
                EndpointTable::new(#decl.name)
            }
        });
        apis.push(quote!(Arc::new(TypedEndpoint::<#key, #row>::new(store.clone(), #decl))));
        tables.push(quote!(#table_fn().table_name().to_string()));
    }
    quote! {
        use crate::pipeline::*;
        use crate::records::*;
        use dozer_runtime::prelude::*;

        #( #items )*

        /// The API view of every endpoint.
        pub fn all(store: &Store) -> Vec<Arc<dyn EndpointApi>> {
            vec![ #( #apis ),* ]
        }

        /// The redb tables the endpoints read.
        pub fn table_names() -> Vec<String> {
            vec![ #( #tables ),* ]
        }
    }
}
