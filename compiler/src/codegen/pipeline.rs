//! `pipeline.rs` of the emitted crate: the operators and the `Pipeline` that wires
//! sources → operators → endpoint tables.

use super::names::ident;
use super::{key_alias, operators, Names};
use crate::plan::{Body, Input, PgParams, Pipeline, SourceKind};
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
        items.push(operators::operator(p, names, i, &doc));
    }

    let op_fields: Vec<_> = names.statements.iter().map(|n| ident(&n.var)).collect();
    let op_types: Vec<_> = names
        .statements
        .iter()
        .map(|n| format_ident!("{}", n.op_type))
        .collect();
    let connections = postgres_connections(p);
    let source_specs = p.sources.iter().zip(&names.sources).map(|(s, n)| {
        let (name, row) = (&s.name, format_ident!("{}", n.row_type));
        match &s.kind {
            SourceKind::Files { .. } => {
                let (location, extension) = (&s.location, &s.extension);
                quote!(SourceSpec::Files(CsvTableSpec { source: #name, location: #location, extension: #extension, fields: #row::FIELDS }))
            }
            SourceKind::Postgres { connection, schema, table, .. } => {
                let index = proc_macro2::Literal::usize_unsuffixed(
                    connections.iter().position(|(c, _)| c == connection).unwrap_or_default(),
                );
                quote!(SourceSpec::Postgres { connection: #index, table: PgTableSpec { source: #name, schema: #schema, table: #table, fields: #row::FIELDS } })
            }
        }
    });
    let apply_arms = (0..p.sources.len()).map(|i| {
        let method = format_ident!("apply_{}", names.sources[i].var);
        let (name, row) = (
            &p.sources[i].name,
            format_ident!("{}", names.sources[i].row_type),
        );
        let decode = match p.sources[i].kind {
            SourceKind::Files { .. } => quote!(decode_batch),
            SourceKind::Postgres { .. } => quote!(decode_rows),
        };
        let i = proc_macro2::Literal::usize_unsuffixed(i);
        quote!(#i => self.#method(#decode::<#row>(#name, changes)?),)
    });
    let connections_fn = (!connections.is_empty()).then(|| {
        quote! {
            fn connections() -> Vec<PgConnectionSpec> {
                crate::connections::all()
            }
        }
    });
    let per_source = (0..p.sources.len()).map(|i| apply_source(p, names, i));
    let ends: Vec<(usize, TokenStream)> = (0..p.sources.len())
        .filter_map(|i| end_source(p, names, i).map(|end| (i, end)))
        .collect();
    let end_fn = (!ends.is_empty()).then(|| {
        let arms = ends.iter().map(|(i, _)| {
            let method = format_ident!("end_{}", names.sources[*i].var);
            let i = proc_macro2::Literal::usize_unsuffixed(*i);
            quote!(#i => self.#method(),)
        });
        quote! {
            fn end_transaction(&mut self, source: usize) -> Result<(), PipelineError> {
                match source {
                    #( #arms )*
                    _ => Ok(()),
                }
            }
        }
    });
    let end_methods = ends.iter().map(|(_, end)| end);
    let staged = staged_struct(p, names);
    let flush = flush_fn(p, names);

    quote! {
        use crate::endpoints;
        use crate::records::*;
        use dozer_runtime::prelude::*;
        use dozer_runtime::{app, metrics};

        #( #items )*

        #staged

        /// Every operator of the pipeline, in statement order, and the endpoint changes of the
        /// transaction being applied.
        #[derive(Default)]
        pub struct Pipeline {
            #( #op_fields: #op_types, )*
            staged: Staged,
        }

        impl app::Pipeline for Pipeline {
            fn sources() -> Vec<SourceSpec> {
                Vec::from([ #( #source_specs ),* ])
            }

            #connections_fn

            fn tables() -> Vec<String> {
                endpoints::table_names()
            }

            fn endpoints(store: &Store) -> Vec<Arc<dyn EndpointApi>> {
                endpoints::all(store)
            }

            fn grpc(ctx: &dozer_runtime::grpc::GrpcContext) -> dozer_runtime::grpc::GrpcServices {
                crate::grpc::services(ctx)
            }

            fn restore(txn: &WriteTransaction) -> Result<Self, StoreError> {
                let mut pipeline = Pipeline::default();
                #( pipeline.#op_fields.restore(txn)?; )*
                Ok(pipeline)
            }

            fn apply(&mut self, source: usize, changes: SourceBatch) -> Result<(), PipelineError> {
                match source {
                    #( #apply_arms )*
                    _ => Ok(()),
                }
            }

            #end_fn

            #flush
        }

        impl Pipeline {
            #( #per_source )*
            #( #end_methods )*
        }
    }
}

/// `apply_<source>`: runs the statements downstream of one source and stages the changes of
/// every table an endpoint serves (written by `flush` when the transaction commits).
fn apply_source(p: &Pipeline, names: &Names, source: usize) -> TokenStream {
    let src = &names.sources[source];
    let method = format_ident!("apply_{}", src.var);
    let input_var = ident(&src.var);
    let row = format_ident!("{}", src.row_type);
    let key = src.key_tokens();
    let doc = super::doc(&format!(
        "Applies one batch of source `{}` to every statement that depends on it.",
        p.sources[source].name
    ));
    let mut body = Vec::new();
    let mut changed = vec![Input::Source(source)];
    for s in p.downstream_of(source) {
        let out = ident(&names.statements[s].var);
        let step = step(p, names, s, &changed);
        body.push(quote! {
            let mut #out = Vec::new();
            #step
        });
        changed.push(Input::Statement(s));
    }
    let stage = stage_changes(p, names, &changed);
    quote! {
        #doc
        fn #method(&mut self, #input_var: Vec<Delta<#key, #row>>) -> Result<(), PipelineError> {
            #( #body )*
            #stage
            Ok(())
        }
    }
}

/// Moves the changes of each table in `changed` that an endpoint serves into the buffer `flush`
/// writes from (after every statement that reads them has run).
fn stage_changes(p: &Pipeline, names: &Names, changed: &[Input]) -> TokenStream {
    let stages = changed
        .iter()
        .filter(|&&table| p.endpoints.iter().any(|e| e.table == table))
        .map(|&table| {
            let var = ident(&names.table(table).var);
            quote!(self.staged.#var.extend(#var);)
        });
    quote!(#( #stages )*)
}

/// The tables endpoints serve, each once, in source then statement order.
fn served_tables(p: &Pipeline) -> Vec<Input> {
    let sources = (0..p.sources.len()).map(Input::Source);
    let statements = (0..p.statements.len()).map(Input::Statement);
    sources
        .chain(statements)
        .filter(|&table| p.endpoints.iter().any(|e| e.table == table))
        .collect()
}

/// `Staged`: one change buffer per table an endpoint serves.
fn staged_struct(p: &Pipeline, names: &Names) -> TokenStream {
    let fields = served_tables(p).into_iter().map(|table| {
        let n = names.table(table);
        let (var, key, row) = (
            ident(&n.var),
            n.key_tokens(),
            format_ident!("{}", n.row_type),
        );
        quote!(#var: ChangeBuffer<#key, #row>,)
    });
    quote! {
        /// The changes of the transaction being applied to each table an endpoint serves, net
        /// per key: written once when it commits, however many batches it came in.
        #[derive(Default)]
        struct Staged {
            #( #fields )*
        }
    }
}

/// `flush`: before each commit, every operator writes its changed state and every staged
/// table its endpoints.
fn flush_fn(p: &Pipeline, names: &Names) -> TokenStream {
    let checkpoints = names.statements.iter().map(|n| {
        let op = ident(&n.var);
        quote!(self.#op.checkpoint(txn)?;)
    });
    let writes = served_tables(p).into_iter().map(|table| {
        let var = ident(&names.table(table).var);
        let apply = write_endpoints(p, names, table, &var);
        quote! {
            if !self.staged.#var.is_empty() {
                let #var = self.staged.#var.drain();
                #apply
            }
        }
    });
    quote! {
        fn flush(&mut self, txn: &WriteTransaction) -> Result<(), PipelineError> {
            #( #checkpoints )*
            #( #writes )*
            Ok(())
        }
    }
}

/// One statement applying the changes of the tables in `changed` (each held in a variable named
/// after it) into its own variable.
fn step(p: &Pipeline, names: &Names, s: usize, changed: &[Input]) -> TokenStream {
    let statement = &p.statements[s];
    let out = ident(&names.statements[s].var);
    let name = &statement.name;
    let changes = |table: Input| {
        if changed.contains(&table) {
            let var = ident(&names.table(table).var);
            quote!(&#var)
        } else {
            quote!(&[])
        }
    };
    // The changes read, for the statement's metrics.
    let inputs: Vec<Input> = statement.inputs().filter(|i| changed.contains(i)).collect();
    let rows_in = match inputs.is_empty() {
        true => quote!(0),
        false => {
            let vars = inputs.iter().map(|&i| ident(&names.table(i).var));
            quote!(#( #vars.len() )+*)
        }
    };
    let apply = match &statement.body {
        Body::Union { branches } => {
            let batches = branches.iter().map(|&b| changes(b));
            quote! {
                self.#out.on_batches(#( #batches, )* &mut #out).map_err(PipelineError::eval(#name))?;
            }
        }
        Body::Join(join) => {
            let (left, right) = (changes(statement.input), changes(join.right));
            quote! {
                self.#out.on_batches(#left, #right, &mut #out).map_err(PipelineError::eval(#name))?;
            }
        }
        _ => {
            let input = changes(statement.input);
            quote! {
                self.#out.on_batch(#input, &mut #out).map_err(PipelineError::eval(#name))?;
            }
        }
    };
    quote! {
        #apply
        metrics::statement_batch(#name, #rows_in, #out.len());
    }
}

/// `end_<source>`, if statements read `source` under TTL: when a transaction of the source ends,
/// they advance their watermark and purge what expired, and the purges flow downstream.
fn end_source(p: &Pipeline, names: &Names, source: usize) -> Option<TokenStream> {
    let mut expiring = Vec::new();
    let mut body = Vec::new();
    for s in p.downstream_of(source) {
        let statement = &p.statements[s];
        let out = ident(&names.statements[s].var);
        let name = &statement.name;
        let step = if matches!(statement.input, Input::Source(_)) && statement.ttl.is_some() {
            quote! {
                self.#out.end_transaction(&mut #out).map_err(PipelineError::eval(#name))?;
                metrics::statement_batch(#name, 0, #out.len());
            }
        } else if statement.inputs().any(|i| expiring.contains(&i)) {
            step(p, names, s, &expiring)
        } else {
            continue;
        };
        expiring.push(Input::Statement(s));
        body.push(quote! {
            let mut #out = Vec::new();
            #step
        });
    }
    if expiring.is_empty() {
        return None;
    }
    let stage = stage_changes(p, names, &expiring);
    let method = format_ident!("end_{}", names.sources[source].var);
    let doc = super::doc(&format!(
        "Ends one transaction of source `{}`: its TTL'd statements purge what expired, and \
         the purges flow on to the statements and endpoints that read them.",
        p.sources[source].name
    ));
    Some(quote! {
        #doc
        fn #method(&mut self) -> Result<(), PipelineError> {
            #( #body )*
            #stage
            Ok(())
        }
    })
}

/// `connections.rs` of the emitted crate, for pipelines with Postgres sources: where each
/// connection points. Kept out of the code fingerprint, so a new password or host keeps the
/// cache (a moved server without the slot is reported at startup).
pub fn connections_file(p: &Pipeline) -> Option<TokenStream> {
    let connections = postgres_connections(p);
    if connections.is_empty() {
        return None;
    }
    let specs = connections.iter().map(|(name, params)| {
        let PgParams {
            host,
            port,
            user,
            password,
            database,
            ssl_mode,
        } = params;
        let port = proc_macro2::Literal::u16_unsuffixed(*port);
        let password = match password {
            Some(p) => quote!(Some(#p.to_string())),
            None => quote!(None),
        };
        quote!(PgConnectionSpec {
            name: #name.to_string(),
            host: #host.to_string(),
            port: #port,
            user: #user.to_string(),
            password: #password,
            database: #database.to_string(),
            ssl_mode: #ssl_mode.to_string(),
        })
    });
    Some(quote! {
        use dozer_runtime::prelude::*;

        /// The `!Postgres` connections of the config, in the order sources name them
        /// (`--connection NAME=URL` overrides one at startup).
        pub fn all() -> Vec<PgConnectionSpec> {
            Vec::from([ #( #specs ),* ])
        }
    })
}

/// The Postgres connections the sources read, in order of first use, with their parameters.
fn postgres_connections(p: &Pipeline) -> Vec<(String, PgParams)> {
    let mut connections: Vec<(String, PgParams)> = Vec::new();
    for source in &p.sources {
        if let SourceKind::Postgres {
            connection, params, ..
        } = &source.kind
        {
            if !connections.iter().any(|(c, _)| c == connection) {
                connections.push((connection.clone(), params.clone()));
            }
        }
    }
    connections
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
