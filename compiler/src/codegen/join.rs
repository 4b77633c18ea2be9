//! `pipeline.rs` join operators: one per `JOIN` of a statement, wrapping the runtime's
//! `HashJoin` with the generated key functions and the joined record.

use super::expr::{expr, Scope};
use super::names::ident;
use super::types::{is_copy, rust_type};
use super::TableNames;
use crate::plan::{Expr, Join, JoinKind, Statement};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Rust names of a join's two inputs and its output.
pub struct JoinNames<'a> {
    pub left: &'a TableNames,
    pub right: &'a TableNames,
    pub output: &'a TableNames,
    /// The output columns the joined record holds (what later statements read).
    pub used: &'a [usize],
    /// How many columns the left input has (right columns follow).
    pub left_width: usize,
}

/// The operator struct of one join statement, with inherent `on_batches`, `checkpoint` and
/// `restore` (a join has two inputs, so it is not an `Operator`).
pub fn join_operator(statement: &Statement, doc: &str, join: &Join, n: &JoinNames) -> TokenStream {
    let name = format_ident!("{}", n.output.op_type);
    let doc = super::doc(doc);
    let (left_row, right_row, out_row) = (
        format_ident!("{}", n.left.row_type),
        format_ident!("{}", n.right.row_type),
        format_ident!("{}", n.output.row_type),
    );
    let (left_key, right_key, out_key) = (
        n.left.key_tokens(),
        n.right.key_tokens(),
        n.output.key_tokens(),
    );
    let key_types = join.left_keys.iter().map(|k| rust_type(k.ty));
    let join_key = quote!((#( #key_types, )*));
    let left_key_fn = key_function(
        &format_ident!("left_key"),
        &left_row,
        &join_key,
        &join.left_keys,
        join.left_condition.as_ref(),
        &n.left.fields,
    );
    let right_key_fn = key_function(
        &format_ident!("right_key"),
        &right_row,
        &join_key,
        &join.right_keys,
        join.right_condition.as_ref(),
        &n.right.fields,
    );
    let fields = n.used.iter().map(|&c| ident(&n.output.fields[c]));
    let values = n.used.iter().map(|&c| {
        let (side, fields, column) = if c < n.left_width {
            (quote!(left), &n.left.fields, c)
        } else {
            (quote!(right), &n.right.fields, c - n.left_width)
        };
        let field = ident(&fields[column]);
        if is_copy(statement.columns[c].ty) {
            quote!(#side.and_then(|r| r.#field))
        } else {
            quote!(#side.and_then(|r| r.#field.clone()))
        }
    });
    let filter = join.filter.as_ref().map(|f| {
        let scope = Scope {
            row_fields: &n.output.fields,
            windowed: false,
        };
        let f = expr(f, &scope);
        quote! {
            if !expr::is_true(#f) {
                return Ok(None);
            }
        }
    });
    let row_doc = if filter.is_some() {
        "The joined row of a left and a right row (`None` when the ON condition over both sides is not true)."
    } else {
        "The joined row of a left and a right row (either missing on a NULL-padded side)."
    };
    let row_doc = super::doc(row_doc);
    // A side none of whose columns are read later is only matched, never copied.
    let reads = |left: bool| n.used.iter().any(|&c| (c < n.left_width) == left);
    let allow_unused = (!reads(true) || !reads(false)).then(|| quote!(#[allow(unused_variables)]));
    let kind = match join.kind {
        JoinKind::Inner => quote!(JoinKind::Inner),
        JoinKind::Left => quote!(JoinKind::Left),
        JoinKind::Right => quote!(JoinKind::Right),
        JoinKind::Full => quote!(JoinKind::Full),
    };
    let state_name = &statement.name;
    quote! {
        #doc
        pub struct #name {
            join: HashJoin<#join_key, #left_key, #left_row, #right_key, #right_row>,
        }

        impl Default for #name {
            fn default() -> Self {
                #name { join: HashJoin::new(#kind, Self::left_key, Self::right_key) }
            }
        }

        impl #name {
            #left_key_fn
            #right_key_fn

            #row_doc
            #allow_unused
            fn row(left: Option<&#left_row>, right: Option<&#right_row>) -> Result<Option<#out_row>, EvalError> {
                let row = #out_row { #( #fields: #values, )* };
                #filter
                Ok(Some(row))
            }

            /// Applies one batch of each input (either may be empty): one net change per joined row.
            pub fn on_batches(
                &mut self,
                left: &[Delta<#left_key, #left_row>],
                right: &[Delta<#right_key, #right_row>],
                out: &mut Vec<Delta<#out_key, #out_row>>,
            ) -> Result<(), EvalError> {
                let mut joined = Vec::new();
                self.join.apply(left, right, &mut joined)?;
                for change in joined {
                    let old = match &change.old { Some((l, r)) => Self::row(l.as_ref(), r.as_ref())?, None => None };
                    let new = match &change.new { Some((l, r)) => Self::row(l.as_ref(), r.as_ref())?, None => None };
                    if old != new {
                        out.push(Delta { key: change.key, old, new });
                    }
                }
                Ok(())
            }

            pub fn checkpoint(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
                self.join.checkpoint(txn, #state_name)
            }

            pub fn restore(&mut self, txn: &WriteTransaction) -> Result<(), StoreError> {
                self.join.restore(txn, #state_name)
            }
        }
    }
}

/// `fn left_key(row) -> Result<Option<(..)>, EvalError>`: the row's ON equality values, or
/// `None` when one is NULL or the ON condition over its side is not true (it matches nothing).
/// The condition is evaluated only for rows with a key, as Postgres evaluates it only for
/// candidate pairs.
fn key_function(
    name: &proc_macro2::Ident,
    row_type: &proc_macro2::Ident,
    join_key: &TokenStream,
    keys: &[Expr],
    condition: Option<&Expr>,
    fields: &[String],
) -> TokenStream {
    let scope = Scope {
        row_fields: fields,
        windowed: false,
    };
    let condition = condition.map(|c| {
        let c = expr(c, &scope);
        quote! {
            if !expr::is_true(#c) {
                return Ok(None);
            }
        }
    });
    let parts: Vec<_> = (0..keys.len()).map(|i| format_ident!("k{}", i)).collect();
    let values = keys.iter().map(|k| expr(k, &scope));
    let doc = super::doc(&format!(
        "The join key of a {} row: `None` when it matches nothing.",
        if name == "left_key" { "left" } else { "right" }
    ));
    quote! {
        #doc
        fn #name(row: &#row_type) -> Result<Option<#join_key>, EvalError> {
            let ( #( Some(#parts), )* ) = ( #( #values, )* ) else {
                return Ok(None);
            };
            #condition
            Ok(Some(( #( #parts, )* )))
        }
    }
}
