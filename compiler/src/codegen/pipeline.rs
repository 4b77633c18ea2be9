//! `pipeline.rs` of the emitted crate: the operators and the `Pipeline` that wires
//! sources → operators → endpoint tables.

use super::names::ident;
use super::{key_alias, operators, Names};
use crate::plan::{Input, Pipeline};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn pipeline_file(p: &Pipeline, names: &Names, config_name: &str) -> TokenStream {
    let mut items = Vec::new();
    for (i, statement) in p.statements.iter().enumerate() {
        let doc = format!(
            "```sql\n{}\n```\n({config_name}, line {})",
            statement.sql.trim(),
            statement.line
        );
        let output = &names.statements[i];
        items.push(key_alias(
            output,
            &format!("Primary key of `{}`.", statement.name),
        ));
        items.push(operators::operator(
            statement,
            &doc,
            names.table(statement.input),
            output,
        ));
    }

    let op_fields: Vec<_> = names.statements.iter().map(|n| ident(&n.var)).collect();
    let op_types: Vec<_> = names
        .statements
        .iter()
        .map(|n| format_ident!("{}", n.op_type))
        .collect();
    let source_specs = p.sources.iter().zip(&names.sources).map(|(s, n)| {
        let (name, location, extension, row) = (&s.name, &s.location, &s.extension, format_ident!("{}", n.row_type));
        quote!(CsvTableSpec { source: #name, location: #location, extension: #extension, fields: #row::FIELDS })
    });
    let apply_arms = (0..p.sources.len()).map(|i| {
        let method = format_ident!("apply_{}", names.sources[i].var);
        let (name, row) = (
            &p.sources[i].name,
            format_ident!("{}", names.sources[i].row_type),
        );
        let i = proc_macro2::Literal::usize_unsuffixed(i);
        quote!(#i => self.#method(decode_batch::<#row>(#name, changes)?, txn),)
    });
    let per_source = (0..p.sources.len()).map(|i| apply_source(p, names, i));

    quote! {
        use crate::endpoints;
        use crate::records::*;
        use dozer_runtime::app;
        use dozer_runtime::prelude::*;

        #( #items )*

        /// Every operator of the pipeline, in statement order.
        #[derive(Default)]
        pub struct Pipeline {
            #( #op_fields: #op_types, )*
        }

        impl app::Pipeline for Pipeline {
            fn sources() -> Vec<CsvTableSpec> {
                Vec::from([ #( #source_specs ),* ])
            }

            fn tables() -> Vec<String> {
                endpoints::table_names()
            }

            fn endpoints(store: &Store) -> Vec<Arc<dyn EndpointApi>> {
                endpoints::all(store)
            }

            fn restore(txn: &WriteTransaction) -> Result<Self, StoreError> {
                let mut pipeline = Pipeline::default();
                #( pipeline.#op_fields.restore(txn)?; )*
                Ok(pipeline)
            }

            fn apply(&mut self, source: usize, changes: SourceChanges, txn: &WriteTransaction) -> Result<(), PipelineError> {
                match source {
                    #( #apply_arms )*
                    _ => Ok(()),
                }
            }
        }

        impl Pipeline {
            #( #per_source )*
        }
    }
}

/// `apply_<source>`: runs the statements downstream of one source and writes their endpoints.
fn apply_source(p: &Pipeline, names: &Names, source: usize) -> TokenStream {
    let src = &names.sources[source];
    let method = format_ident!("apply_{}", src.var);
    let input_var = ident(&src.var);
    let row = format_ident!("{}", src.row_type);
    let doc = super::doc(&format!(
        "Applies one transaction of source `{}` to every statement that depends on it.",
        p.sources[source].name
    ));
    let mut body = Vec::new();
    body.push(write_endpoints(p, names, Input::Source(source), &input_var));
    for s in p.downstream_of(source) {
        let statement = &p.statements[s];
        let out = ident(&names.statements[s].var);
        let input = ident(&names.table(statement.input).var);
        let name = &statement.name;
        body.push(quote! {
            let mut #out = Vec::new();
            self.#out.on_batch(&#input, &mut #out).map_err(PipelineError::eval(#name))?;
            self.#out.checkpoint(txn)?;
        });
        body.push(write_endpoints(p, names, Input::Statement(s), &out));
    }
    quote! {
        #doc
        #[allow(unused_variables)]
        fn #method(&mut self, #input_var: Vec<Delta<RecordId, #row>>, txn: &WriteTransaction) -> Result<(), PipelineError> {
            #( #body )*
            Ok(())
        }
    }
}

fn write_endpoints(
    p: &Pipeline,
    names: &Names,
    table: Input,
    changes: &proc_macro2::Ident,
) -> TokenStream {
    let writes = p
        .endpoints
        .iter()
        .zip(&names.endpoints)
        .filter(|(e, _)| e.table == table)
        .map(|(_, n)| {
            let table_fn = format_ident!("{}", n.table_fn);
            quote!(endpoints::#table_fn().apply(txn, &#changes)?;)
        });
    quote!(#( #writes )*)
}
