//! Code generation: the bound [`Pipeline`] becomes a standalone Rust crate.
//!
//! The emitted crate holds only what is specific to this pipeline: record structs
//! (`records.rs`), one operator per statement and the wiring (`pipeline.rs`), endpoint
//! declarations (`endpoints.rs`) and `main.rs`. Everything generic is in `dozer-runtime`.
//! Rust is built with `quote!` and formatted with prettyplease; `Cargo.toml` comes from a tera
//! template.

mod crate_files;
mod endpoints;
mod expr;
mod grpc;
mod join;
mod names;
mod operators;
mod pipeline;
mod records;
mod types;
mod union;

pub use crate_files::{crate_name, generate, write_crate, CrateOptions, GeneratedCrate};

use crate::plan::{Input, Pipeline, SqlType, TableKey};
use names::{field_names, type_name, UniqueNames};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Rust names chosen for one table (source or statement result).
pub struct TableNames {
    /// The record struct, e.g. `SalesData` or `CustomerLifetimeValueRow`.
    pub row_type: String,
    /// The operator struct of a statement, e.g. `CustomerLifetimeValue`.
    pub op_type: String,
    /// The key type alias (`CustomerLifetimeValueKey`) or `RecordId`.
    pub key_type: String,
    /// Snake-case variable/field name, e.g. `customer_lifetime_value`.
    pub var: String,
    /// Field names of the record struct.
    pub fields: Vec<String>,
    pub key: TableKey,
}

impl TableNames {
    /// Whether the key type is `Copy` (then it is passed on without `.clone()`).
    pub fn key_is_copy(&self) -> bool {
        match &self.key {
            TableKey::RecordId => true,
            TableKey::Tuple { types, .. } => types.iter().all(|t| types::is_copy(*t)),
            TableKey::Join(..) | TableKey::Union(..) => false,
        }
    }

    pub fn key_tokens(&self) -> TokenStream {
        let k = format_ident!("{}", self.key_type);
        quote!(#k)
    }
}

/// Rust names chosen for one endpoint.
pub struct EndpointNames {
    /// The `EndpointDecl` constant, e.g. `CUSTOMER_LIFETIME_VALUE`.
    pub decl: String,
    /// The function returning its cache table, e.g. `customer_lifetime_value_table`.
    pub table_fn: String,
}

/// Names for every table of the pipeline (sources first, then statements) and every endpoint.
pub struct Names {
    pub sources: Vec<TableNames>,
    pub statements: Vec<TableNames>,
    pub endpoints: Vec<EndpointNames>,
}

impl Names {
    pub fn new(p: &Pipeline) -> Names {
        let mut types = UniqueNames::types().reserving(names::RESERVED_TYPES);
        let mut vars = UniqueNames::default().reserving(names::RESERVED_VARS);
        let sources = p
            .sources
            .iter()
            .map(|s| {
                let row_type = types.unique(type_name(&s.name));
                let key = s.key();
                TableNames {
                    key_type: match key {
                        TableKey::RecordId => "RecordId".to_string(),
                        _ => types.unique(format!("{row_type}Key")),
                    },
                    row_type,
                    op_type: String::new(),
                    var: vars.unique(names::field_name(&s.name)),
                    fields: field_names(s.columns.iter().map(|c| c.name.as_str())),
                    key,
                }
            })
            .collect();
        let statements = p
            .statements
            .iter()
            .map(|s| {
                let base = type_name(&s.name);
                TableNames {
                    row_type: types.unique(format!("{base}Row")),
                    op_type: types.unique(base.clone()),
                    key_type: match s.key {
                        TableKey::RecordId => "RecordId".to_string(),
                        _ => types.unique(format!("{base}Key")),
                    },
                    var: vars.unique(names::field_name(&s.name)),
                    fields: field_names(s.columns.iter().map(|c| c.name.as_str())),
                    key: s.key.clone(),
                }
            })
            .collect();
        let mut consts = UniqueNames::default();
        let mut fns = UniqueNames::default().reserving(&["all", "table_names"]);
        let endpoints = p
            .endpoints
            .iter()
            .map(|e| EndpointNames {
                decl: consts.unique(names::field_name(&e.name).to_ascii_uppercase()),
                table_fn: fns.unique(format!("{}_table", names::field_name(&e.name))),
            })
            .collect();
        Names {
            sources,
            statements,
            endpoints,
        }
    }

    pub fn table(&self, input: Input) -> &TableNames {
        match input {
            Input::Source(i) => &self.sources[i],
            Input::Statement(i) => &self.statements[i],
        }
    }
}

/// `type XKey = (Option<A>, Option<B>);` for a tuple-keyed table, `JoinKey<..>` for a join's.
pub fn key_alias(names: &TableNames, doc: &str) -> TokenStream {
    if names.key == TableKey::RecordId {
        return quote!();
    }
    let alias = format_ident!("{}", names.key_type);
    let key = key_type(&names.key);
    let doc = self::doc(doc);
    quote! {
        #doc
        pub type #alias = #key;
    }
}

/// The Rust type of a table key.
fn key_type(key: &TableKey) -> TokenStream {
    match key {
        TableKey::RecordId => quote!(RecordId),
        TableKey::Tuple { types, .. } => {
            let parts = types.iter().map(|t: &SqlType| {
                let t = types::rust_type(*t);
                quote!(Option<#t>)
            });
            quote!((#( #parts, )*))
        }
        TableKey::Join(left, right) => {
            let (left, right) = (key_type(left), key_type(right));
            quote!(JoinKey<#left, #right>)
        }
        TableKey::Union(branches) => match branches.as_slice() {
            [] => quote!(()),
            [last] => key_type(last),
            [first, rest @ ..] => {
                let (first, rest) = (key_type(first), key_type(&TableKey::Union(rest.to_vec())));
                quote!(UnionKey<#first, #rest>)
            }
        },
    }
}

/// Doc comment attributes, one `///` line per line of `text`.
pub fn doc(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| format!(" {l}"));
    quote!(#( #[doc = #lines] )*)
}

/// The full name of each endpoint's typed gRPC service (`dozer.generated.<module>.<Service>`),
/// in endpoint order.
pub fn grpc_service_names(p: &Pipeline) -> Vec<String> {
    grpc::GrpcNames::new(p)
        .iter()
        .map(|n| format!("{}.{}", n.package(), n.service))
        .collect()
}
