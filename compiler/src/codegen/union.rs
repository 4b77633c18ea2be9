//! `pipeline.rs` UNION ALL operators: each branch's changes, re-keyed by branch and converted
//! to the statement's column types.

use super::expr::{expr, Scope};
use super::names::ident;
use super::types::rust_type;
use super::TableNames;
use crate::plan::{Column, Expr, ExprKind, Statement};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The operator struct of a UNION ALL statement over `branches` (their names and columns), with
/// inherent `on_batches` taking one batch per branch (it holds no state).
pub fn union_operator(
    statement: &Statement,
    doc: &str,
    branches: &[(&TableNames, &[Column])],
    output: &TableNames,
) -> TokenStream {
    let name = format_ident!("{}", output.op_type);
    let doc = super::doc(doc);
    let (out_key, out_row) = (output.key_tokens(), format_ident!("{}", output.row_type));
    let fields: Vec<_> = output.fields.iter().map(|f| ident(f)).collect();
    let mut converters = Vec::new();
    let mut params = Vec::new();
    let mut loops = Vec::new();
    for (i, (branch, columns)) in branches.iter().enumerate() {
        let (key, row) = (branch.key_tokens(), format_ident!("{}", branch.row_type));
        let convert = format_ident!("from_branch_{}", i + 1);
        let scope = Scope {
            row_fields: &branch.fields,
            windowed: false,
        };
        let values = columns
            .iter()
            .zip(&statement.columns)
            .enumerate()
            .map(|(c, (from, to))| {
                let column = Expr {
                    kind: ExprKind::Column(c),
                    ty: from.ty,
                    nullable: from.nullable,
                    span: statement.span,
                };
                // Branches agree on each column's type up to numeric promotion (Int to Decimal, ...).
                let same = rust_type(from.ty).to_string() == rust_type(to.ty).to_string();
                let column = if same {
                    column
                } else {
                    Expr {
                        span: column.span,
                        nullable: column.nullable,
                        kind: ExprKind::Cast(Box::new(column)),
                        ty: to.ty,
                    }
                };
                expr(&column, &scope)
            });
        let fields = &fields;
        let doc = super::doc(&format!("A row of branch {} as a row of the union.", i + 1));
        converters.push(quote! {
            #doc
            fn #convert(row: &#row) -> Result<#out_row, EvalError> {
                Ok(#out_row { #( #fields: #values, )* })
            }
        });
        let param = format_ident!("branch_{}", i + 1);
        params.push(quote!(#param: &[Delta<#key, #row>]));
        let wrap = branch_key(i, branches.len(), quote!(change.key.clone()));
        loops.push(quote! {
            for change in #param {
                let old = change.old.as_ref().map(Self::#convert).transpose()?;
                let new = change.new.as_ref().map(Self::#convert).transpose()?;
                out.push(Delta { key: #wrap, old, new });
            }
        });
    }
    quote! {
        #doc
        #[derive(Default)]
        pub struct #name;

        impl #name {
            #( #converters )*

            /// Applies one batch of each branch (empty for a branch that did not change).
            pub fn on_batches(&mut self, #( #params, )* out: &mut Vec<Delta<#out_key, #out_row>>) -> Result<(), EvalError> {
                #( #loops )*
                Ok(())
            }

            pub fn checkpoint(&mut self, _txn: &WriteTransaction) -> Result<(), StoreError> {
                Ok(())
            }

            pub fn restore(&mut self, _txn: &WriteTransaction) -> Result<(), StoreError> {
                Ok(())
            }
        }
    }
}

/// The union key of branch `i` of `n` around its own key: `First(k)`, `Rest(First(k))`, ...,
/// and the last branch `Rest(Rest(k))` (see `key_type`).
fn branch_key(i: usize, n: usize, key: TokenStream) -> TokenStream {
    let mut wrapped = if i + 1 == n {
        key
    } else {
        quote!(UnionKey::First(#key))
    };
    for _ in 0..i {
        wrapped = quote!(UnionKey::Rest(#wrapped));
    }
    wrapped
}
