//! `endpoints.rs` of the emitted crate: what each endpoint serves, and its typed cache table.

use super::Names;
use crate::plan::{Pipeline, TableKey};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

pub fn endpoints_file(p: &Pipeline, names: &Names) -> TokenStream {
    let mut items = Vec::new();
    let mut apis = Vec::new();
    let mut tables = Vec::new();
    for (e, n) in p.endpoints.iter().zip(&names.endpoints) {
        let table = names.table(e.table);
        let (row, key) = (format_ident!("{}", table.row_type), table.key_tokens());
        let (decl, table_fn) = (format_ident!("{}", n.decl), format_ident!("{}", n.table_fn));
        let (name, path, table_name) = (&e.name, &e.path, p.table_name(e.table));
        let primary_key = p.key(e.table).column_names(p.columns(e.table));
        let doc = super::doc(&format!("`{path}`: serves `{table_name}`."));
        let indexes = e.indexes.iter().map(|columns| {
            let columns = columns.iter().map(|&c| Literal::usize_unsuffixed(c));
            quote!(&[ #( #columns ),* ])
        });
        items.push(quote! {
            #doc
            pub const #decl: EndpointDecl = EndpointDecl {
                name: #name,
                path: #path,
                table_name: #table_name,
                fields: #row::FIELDS,
                primary_key: &[ #( #primary_key ),* ],
                indexes: &[ #( #indexes ),* ],
            };

            /// The cache table of this endpoint, with its secondary indexes.
            pub fn #table_fn() -> EndpointTable<#key, #row> {
                EndpointTable::with_indexes(#decl.name, #decl.indexes)
            }
        });
        apis.push(quote!(Arc::new(TypedEndpoint::<#key, #row>::new(store.clone(), #decl))));
        tables.push(quote!(#table_fn().table_names()));
    }
    // Import only what is used, so the crate builds without warnings.
    let uses_key_aliases = p
        .endpoints
        .iter()
        .any(|e| names.table(e.table).key != TableKey::RecordId);
    let pipeline_use = uses_key_aliases.then(|| {
        quote!(
            use crate::pipeline::*;
        )
    });
    let records_use = (!p.endpoints.is_empty()).then(|| {
        quote!(
            use crate::records::*;
        )
    });
    let store_param = if p.endpoints.is_empty() {
        quote!(_store)
    } else {
        quote!(store)
    };
    quote! {
        #pipeline_use
        #records_use
        use dozer_runtime::prelude::*;

        #( #items )*

        /// The API view of every endpoint.
        pub fn all(#store_param: &Store) -> Vec<Arc<dyn EndpointApi>> {
            Vec::from([ #( #apis as Arc<dyn EndpointApi> ),* ])
        }

        /// The redb tables the endpoints read: rows and secondary indexes.
        pub fn table_names() -> Vec<String> {
            Vec::<Vec<String>>::from([ #( #tables ),* ]).concat()
        }
    }
}
