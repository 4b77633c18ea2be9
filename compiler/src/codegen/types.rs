//! SQL types as Rust types and runtime field types.

use crate::plan::SqlType;
use proc_macro2::TokenStream;
use quote::quote;

/// The Rust type storing a non-NULL value of `ty` (nullable values are `Option<T>`).
pub fn rust_type(ty: SqlType) -> TokenStream {
    match ty {
        SqlType::Int => quote!(i64),
        SqlType::UInt => quote!(u64),
        SqlType::Float => quote!(Float),
        SqlType::Decimal => quote!(Decimal),
        SqlType::Boolean => quote!(bool),
        SqlType::String | SqlType::Text => quote!(String),
        SqlType::Date => quote!(Date),
        SqlType::Timestamp => quote!(Timestamp),
        SqlType::Json => quote!(Json),
        SqlType::Binary => quote!(Vec<u8>),
        // An untyped NULL never reaches a record field (the binder rejects it).
        SqlType::Null => quote!(()),
    }
}

/// The `FieldType` variant of `ty`.
pub fn field_type(ty: SqlType) -> TokenStream {
    let variant = crate::codegen::names::ident(ty.name());
    quote!(FieldType::#variant)
}

/// Values of these types are `Copy` in Rust: read them without `.clone()`.
pub fn is_copy(ty: SqlType) -> bool {
    !matches!(
        ty,
        SqlType::String | SqlType::Text | SqlType::Json | SqlType::Binary
    )
}
