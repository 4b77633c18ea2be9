//! The APIs over the cache: REST (axum) with Dozer's routes and query language, the OpenAPI
//! document, and optional JWT security shared by REST and gRPC ([`auth`]). The gRPC services
//! (crate `grpc`) read through the typed [`TypedEndpoint::page`] and
//! [`TypedEndpoint::count_matching`].

pub mod auth;
mod cursor;
mod endpoint;
mod error;
mod filter;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod index_tests;
mod openapi;
mod page_cache;
mod plan;
mod position;
mod query;
mod rest;
mod sort;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;
mod token;

pub use auth::Auth;
pub use endpoint::{EndpointApi, JsonPage, Page, TypedEndpoint};
pub use error::ApiError;
pub use position::{POSITION_HEADER, WAIT_FOR_HEADER, WAIT_TIMEOUT_HEADER};
pub use query::{CmpOp, Filter, OrderBy, Query, DEFAULT_LIMIT, MAX_LIMIT};
pub use rest::{bind, router, serve, ApiState, NEXT_CURSOR_HEADER, ROWS_SCANNED_HEADER};

use crate::types::FieldDef;

/// What the generated crate declares about one endpoint.
#[derive(Clone, Copy, Debug)]
pub struct EndpointDecl {
    /// `endpoints[].name`.
    pub name: &'static str,
    /// `endpoints[].path`, starting with `/`.
    pub path: &'static str,
    /// The result table served.
    pub table_name: &'static str,
    /// The table's columns.
    pub fields: &'static [FieldDef],
    /// Names of the primary key columns (empty when the key is a hidden record id).
    pub primary_key: &'static [&'static str],
    /// Secondary indexes: per index, its columns (indexes into `fields`) in key order.
    /// `endpoints[].index.secondary` in the config; by default one per indexable column.
    pub indexes: &'static [&'static [usize]],
}
