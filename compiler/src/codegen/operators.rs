//! `pipeline.rs` operators: one specialized incremental operator per SQL statement.

use super::expr::{expr, Scope};
use super::join::{join_operator, JoinNames};
use super::names::ident;
use super::types::rust_type;
use super::union::union_operator;
use super::{Names, TableNames};
use crate::plan::{AggCall, AggFunc, Body, Expr, Pipeline, Statement, Ttl, WindowKind};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The operator struct of statement `index`, with its `Operator` impl (a join's is in `join.rs`).
pub fn operator(p: &Pipeline, names: &Names, index: usize, doc: &str) -> TokenStream {
    let statement = &p.statements[index];
    let (input, output) = (names.table(statement.input), &names.statements[index]);
    match &statement.body {
        Body::Union { branches } => {
            let branches: Vec<_> = branches
                .iter()
                .map(|&b| (names.table(b), p.columns(b)))
                .collect();
            union_operator(statement, doc, &branches, output)
        }
        Body::Join(join) => join_operator(
            statement,
            doc,
            join,
            &JoinNames {
                left: input,
                right: names.table(join.right),
                output,
                used: &p.used_join_columns(index),
                left_width: p.columns(statement.input).len(),
            },
        ),
        Body::Project { filter, outputs } => {
            project(statement, doc, input, output, filter.as_ref(), outputs)
        }
        Body::Aggregate {
            filter,
            keys,
            aggregates,
            outputs,
            having,
        } => aggregate(
            statement,
            doc,
            input,
            output,
            filter.as_ref(),
            keys,
            aggregates,
            outputs,
            having.as_ref(),
        ),
    }
}

fn signature(input: &TableNames, output: &TableNames) -> TokenStream {
    let (in_key, in_row) = (input.key_tokens(), format_ident!("{}", input.row_type));
    let (out_key, out_row) = (output.key_tokens(), format_ident!("{}", output.row_type));
    quote! {
        type InKey = #in_key;
        type In = #in_row;
        type OutKey = #out_key;
        type Out = #out_row;
    }
}

fn filter_check(filter: Option<&Expr>, scope: &Scope, on_false: TokenStream) -> TokenStream {
    match filter {
        Some(f) => {
            let f = expr(f, scope);
            quote!(if !expr::is_true(#f) { #on_false })
        }
        None => quote!(),
    }
}

fn project(
    statement: &Statement,
    doc: &str,
    input: &TableNames,
    output: &TableNames,
    filter: Option<&Expr>,
    outputs: &[Expr],
) -> TokenStream {
    let name = format_ident!("{}", output.op_type);
    let doc = super::doc(doc);
    let (in_row, out_row) = (
        format_ident!("{}", input.row_type),
        format_ident!("{}", output.row_type),
    );
    let scope = Scope {
        row_fields: &input.fields,
        windowed: statement.window.is_some(),
    };
    // Over TUMBLE a row is in one window (none without a time); HOP is refused by the binder.
    let window = statement.window.as_ref().map(|window| {
        let time = ident(&input.fields[window.time_column]);
        let size = match window.kind {
            WindowKind::Tumble { size_us } | WindowKind::Hop { size_us, .. } => duration(size_us),
        };
        quote! {
            let Some((window_start, window_end)) = windows::tumble(row.#time, #size).next() else {
                return Ok(None);
            };
        }
    });
    // A window's bounds may go unread; `SELECT 1 AS one FROM t` reads no column of its row.
    let mut read = std::collections::BTreeSet::new();
    filter
        .into_iter()
        .chain(outputs)
        .for_each(|e| e.collect_columns(&mut read));
    let allow = (window.is_some() || read.is_empty()).then(|| quote!(#[allow(unused_variables)]));
    let check = filter_check(filter, &scope, quote!(return Ok(None);));
    let fields = output.fields.iter().map(|f| ident(f));
    let values = outputs.iter().map(|e| expr(e, &scope));
    let signature = signature(input, output);
    let pass_key = if input.key_is_copy() {
        quote!(change.key)
    } else {
        quote!(change.key.clone())
    };
    let row_fn = quote! {
        /// The output row of one input row, or `None` when WHERE filters it out.
        #allow
        fn row(row: &#in_row) -> Result<Option<#out_row>, EvalError> {
            #window
            #check
            Ok(Some(#out_row { #( #fields: #values, )* }))
        }
    };
    let Some(ttl) = &statement.ttl else {
        return quote! {
            #doc
            #[derive(Default)]
            pub struct #name;

            impl #name {
                #row_fn
            }

            impl Operator for #name {
                #signature

                fn on_batch(&mut self, input: &[Delta<Self::InKey, Self::In>], out: &mut Vec<Delta<Self::OutKey, Self::Out>>) -> Result<(), EvalError> {
                    for change in input {
                        let old = match &change.old { Some(row) => Self::row(row)?, None => None };
                        let new = match &change.new { Some(row) => Self::row(row)?, None => None };
                        if old != new {
                            out.push(Delta { key: #pass_key, old, new });
                        }
                    }
                    Ok(())
                }
            }
        };
    };
    // Under TTL each output row is held until its input row expires, then deleted.
    let time = ident(&input.fields[ttl.time_column]);
    let (watermark_doc, watermark_new) = watermark(statement, ttl);
    let in_key = input.key_tokens();
    let state_name = &statement.name;
    quote! {
        #doc
        pub struct #name {
            /// Every output row, by when its input row expires.
            live: ExpiryIndex<#in_key, #out_row>,
            #watermark_doc
            ttl: Watermark,
        }

        impl Default for #name {
            fn default() -> Self {
                #name { live: ExpiryIndex::new(#state_name), ttl: #watermark_new }
            }
        }

        impl #name {
            #row_fn
        }

        impl Operator for #name {
            #signature

            fn on_batch(&mut self, input: &[Delta<Self::InKey, Self::In>], out: &mut Vec<Delta<Self::OutKey, Self::Out>>) -> Result<(), EvalError> {
                for change in input {
                    let (old_in, new_in) = self.ttl.admit(change.old.as_ref(), change.new.as_ref(), |row| row.#time);
                    let old = match old_in { Some(row) => Self::row(row)?, None => None };
                    let new = match new_in { Some(row) => Self::row(row)?, None => None };
                    if let (Some(row), Some(_)) = (old_in, &old) {
                        self.live.remove(row.#time, &change.key);
                    }
                    if let (Some(row), Some(result)) = (new_in, &new) {
                        self.live.insert(row.#time, #pass_key, result.clone());
                    }
                    if old != new {
                        out.push(Delta { key: #pass_key, old, new });
                    }
                }
                Ok(())
            }

            fn end_transaction(&mut self, out: &mut Vec<Delta<Self::OutKey, Self::Out>>) -> Result<(), EvalError> {
                if let Some(cutoff) = self.ttl.advance() {
                    for (key, row) in self.live.pop_expired(cutoff) {
                        out.push(Delta::delete(key, row));
                    }
                }
                Ok(())
            }

            fn checkpoint(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
                self.live.checkpoint(txn)?;
                self.ttl.checkpoint(txn)
            }

            fn restore(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
                self.live.restore(txn)?;
                self.ttl.restore(txn)
            }
        }
    }
}

/// The doc comment and constructor of a TTL'd statement's watermark.
fn watermark(statement: &Statement, ttl: &Ttl) -> (TokenStream, TokenStream) {
    let doc = super::doc(
        "The source's watermark: rows at or before it minus the TTL have expired, and later \
         changes to them are dropped as late.",
    );
    let (name, duration) = (&statement.name, duration(ttl.duration_us));
    (doc, quote!(Watermark::new(#name, #duration)))
}

/// The accumulator type of one aggregate call.
fn accumulator(call: &AggCall) -> TokenStream {
    let arg_ty = call.arg.as_ref().map(|a| rust_type(a.ty));
    let returned_ty = call.returned.as_ref().map(|r| rust_type(r.ty));
    let plain = match (call.func, &arg_ty) {
        (AggFunc::MaxValue, Some(t)) => quote!(MaxValue<#t, #returned_ty>),
        (AggFunc::MinValue, Some(t)) => quote!(MinValue<#t, #returned_ty>),
        (AggFunc::Count, _) => quote!(Count),
        (AggFunc::Sum, Some(t)) => quote!(Sum<#t>),
        (AggFunc::Avg, Some(t)) => quote!(Avg<#t>),
        (AggFunc::Min, Some(t)) => quote!(Min<#t>),
        (AggFunc::Max, Some(t)) => quote!(Max<#t>),
        (_, None) => quote!(Count),
    };
    match (call.distinct, arg_ty) {
        (true, Some(t)) => quote!(Distinct<#t, #plain>),
        _ => plain,
    }
}

#[allow(clippy::too_many_arguments)]
fn aggregate(
    statement: &Statement,
    doc: &str,
    input: &TableNames,
    output: &TableNames,
    filter: Option<&Expr>,
    keys: &[Expr],
    aggregates: &[AggCall],
    outputs: &[Expr],
    having: Option<&Expr>,
) -> TokenStream {
    let name = format_ident!("{}", output.op_type);
    let doc = super::doc(doc);
    let out_row = format_ident!("{}", output.row_type);
    let key_type = output.key_tokens();
    let scope = Scope {
        row_fields: &input.fields,
        windowed: statement.window.is_some(),
    };
    let accumulators: Vec<_> = aggregates.iter().map(accumulator).collect();
    let aggs_alias = format_ident!("{}Aggs", output.op_type);
    let aggs_type = quote!(#aggs_alias);
    let aggs_doc = super::doc(&format!(
        "The accumulators of `{}`, one per aggregate call.",
        statement.name
    ));
    let check = filter_check(filter, &scope, quote!(continue;));
    let key_values = keys.iter().map(|k| expr(k, &scope));
    let arg_names: Vec<_> = (0..aggregates.len())
        .map(|i| format_ident!("arg{}", i))
        .collect();
    let arg_values = aggregates.iter().zip(&arg_names).filter_map(|(call, n)| {
        call.arg.as_ref().map(|a| {
            let v = expr(a, &scope);
            match &call.returned {
                Some(r) => {
                    let r = expr(r, &scope);
                    quote!(let #n = (#v, #r);)
                }
                None => quote!(let #n = #v;),
            }
        })
    });
    let updates = aggregates
        .iter()
        .zip(&arg_names)
        .enumerate()
        .map(|(i, (call, n))| {
            let i = syn::Index::from(i);
            match (&call.func, &call.arg) {
                (AggFunc::Count, None) => quote!(aggs.#i.add_row(weight)?;),
                (AggFunc::Count, Some(_)) if !call.distinct => quote!(aggs.#i.add(&#n, weight)?;),
                (AggFunc::MaxValue | AggFunc::MinValue, _) => {
                    quote!(aggs.#i.add(#n.0, #n.1, weight)?;)
                }
                _ => quote!(aggs.#i.add(#n, weight)?;),
            }
        });
    let fields = output.fields.iter().map(|f| ident(f));
    let values = outputs.iter().map(|e| expr(e, &scope));
    let having_check = having.map(|h| {
        let h = expr(h, &scope);
        quote!(if !expr::is_true(#h) { return Ok(None); })
    });
    let constructor = if keys.is_empty() {
        quote!(GroupTable::global(Self::project))
    } else {
        quote!(GroupTable::new(Self::project))
    };
    let state_name = &statement.name;
    let signature = signature(input, output);
    let update = match &statement.ttl {
        Some(ttl) => {
            let time = ident(&input.fields[ttl.time_column]);
            quote!(self.groups.update_expiring(key, row.#time, weight, |aggs| {
                #( #updates )*
                Ok(())
            })?;)
        }
        // SELECT DISTINCT has no aggregates: the closure only counts the group's rows.
        None if aggregates.is_empty() => quote!(self.groups.update(key, weight, |_| Ok(()))?;),
        None => quote!(self.groups.update(key, weight, |aggs| {
            #( #updates )*
            Ok(())
        })?;),
    };
    // `SELECT COUNT(*) FROM t` reads no column of its rows.
    let mut read = std::collections::BTreeSet::new();
    filter
        .into_iter()
        .chain(keys)
        .chain(
            aggregates
                .iter()
                .flat_map(|a| a.arg.iter().chain(&a.returned)),
        )
        .for_each(|e| e.collect_columns(&mut read));
    let reads_row = !read.is_empty() || statement.window.is_some();
    let per_row = quote! {
        #check
        let key = (#( #key_values, )*);
        #( #arg_values )*
        #update
    };
    // Each input row counts once in every window it falls in.
    let per_row = match &statement.window {
        Some(window) => {
            let time = ident(&input.fields[window.time_column]);
            let windows = match window.kind {
                WindowKind::Tumble { size_us } => {
                    let size = duration(size_us);
                    quote!(windows::tumble(row.#time, #size))
                }
                WindowKind::Hop { hop_us, size_us } => {
                    let (hop, size) = (duration(hop_us), duration(size_us));
                    quote!(windows::hop(row.#time, #hop, #size))
                }
            };
            quote!(for (window_start, window_end) in #windows { #per_row })
        }
        None => per_row,
    };
    // Under TTL: late halves of changes are dropped, and groups expire with their rows.
    let (ttl_field, ttl_new, rows, end_transaction, ttl_checkpoint, ttl_restore) = match &statement
        .ttl
    {
        Some(ttl) => {
            let time = ident(&input.fields[ttl.time_column]);
            let (watermark_doc, watermark_new) = watermark(statement, ttl);
            (
                quote!(#watermark_doc ttl: Watermark,),
                quote!(ttl: #watermark_new,),
                quote! {
                    let (old, new) = self.ttl.admit(change.old.as_ref(), change.new.as_ref(), |row| row.#time);
                    for (row, weight) in ttl::weighted(old, new)
                },
                quote! {
                    fn end_transaction(&mut self, out: &mut Vec<Delta<Self::OutKey, Self::Out>>) -> Result<(), EvalError> {
                        self.groups.end_transaction(self.ttl.advance(), out)
                    }
                },
                quote!(self.ttl.checkpoint(txn)?;),
                quote!(self.ttl.restore(txn)?;),
            )
        }
        None => (
            quote!(),
            quote!(),
            if reads_row {
                quote!(for (row, weight) in change.weighted())
            } else {
                quote!(for (_, weight) in change.weighted())
            },
            quote!(),
            quote!(),
            quote!(),
        ),
    };
    // The one row of an aggregation without GROUP BY is never purged: it needs no expiry index.
    let constructor = match &statement.ttl {
        Some(_) if !keys.is_empty() => quote!(#constructor.expiring(#state_name)),
        _ => constructor,
    };
    quote! {
        #aggs_doc
        pub type #aggs_alias = (#( #accumulators, )*);

        #doc
        pub struct #name {
            groups: GroupTable<#key_type, #aggs_type, #out_row>,
            #ttl_field
        }

        impl Default for #name {
            fn default() -> Self {
                #name { groups: #constructor, #ttl_new }
            }
        }

        impl #name {
            /// The result row of one group (`None` when HAVING is not true).
            #[allow(unused_variables)]
            fn project(key: &#key_type, aggs: &#aggs_type) -> Result<Option<#out_row>, EvalError> {
                #having_check
                Ok(Some(#out_row { #( #fields: #values, )* }))
            }
        }

        impl Operator for #name {
            #signature

            fn on_batch(&mut self, input: &[Delta<Self::InKey, Self::In>], out: &mut Vec<Delta<Self::OutKey, Self::Out>>) -> Result<(), EvalError> {
                for change in input {
                    #rows {
                        #per_row
                    }
                }
                self.groups.drain_changes(out)
            }

            #end_transaction

            fn checkpoint(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
                #ttl_checkpoint
                self.groups.checkpoint(txn, #state_name)
            }

            fn restore(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
                #ttl_restore
                self.groups.restore(txn, #state_name)
            }
        }
    }
}

/// A window duration as readable code: `windows::hours(6)` rather than microseconds.
fn duration(micros: i64) -> TokenStream {
    const UNITS: [(&str, i64); 5] = [
        ("days", 86_400_000_000),
        ("hours", 3_600_000_000),
        ("minutes", 60_000_000),
        ("seconds", 1_000_000),
        ("milliseconds", 1_000),
    ];
    let (unit, size) = UNITS
        .iter()
        .find(|(_, size)| micros % size == 0)
        .copied()
        .unwrap_or(("milliseconds", 1_000));
    let unit = format_ident!("{}", unit);
    let n = proc_macro2::Literal::i64_unsuffixed(micros / size);
    quote!(windows::#unit(#n))
}
